"""Run folders: resumable generation, torn lines, one failing study, Ctrl-C, backends from model cards."""

from __future__ import annotations

import json

import pytest

from pet2rep.backends import base
from pet2rep.backends.base import Backend, Generation, load_backend, load_card
from pet2rep.cli import main
from pet2rep.errors import InputError
from pet2rep.prompts.build import make_record
from pet2rep.prompts.dataset import write_dataset
from pet2rep.runs import read_prediction_records, run_model


@pytest.fixture()
def dataset(tmp_path):
    recs = [make_record(f"s{i:02d}", [f"slice_prompt/s{i:02d}_90_coronal.jpg"], "zh", f"报告{i}。肝脏FDG摄取增高。")
            for i in range(7)]
    return write_dataset(recs, tmp_path / "ds")


class Flaky(Backend):
    """A real backend class (registered like any other) that answers in batches and fails on chosen studies."""

    calls = 0
    fixed: set[str] = set()  # studies whose fault has gone away (a transient fault, not a card change)
    needs_images = False

    def __init__(self, card):
        super().__init__(card)
        self.fail_ids = set(card.get("fail_ids", [])) - Flaky.fixed
        self.interrupt_after = card.get("interrupt_after")
        self.batch = card.get("batch_size") or 8

    def generate(self, requests):
        for start in range(0, len(requests), self.batch):
            batch = requests[start:start + self.batch]
            Flaky.calls += 1
            if self.interrupt_after is not None and Flaky.calls > self.interrupt_after:
                raise KeyboardInterrupt
            if any(r.id in self.fail_ids for r in batch):
                raise RuntimeError(f"boom on {sorted(self.fail_ids)}\nsecond line")
            yield from (Generation(r.id, f"answer {r.id}") for r in batch)


@pytest.fixture()
def flaky_card(tmp_path, monkeypatch):
    monkeypatch.setitem(base.BACKENDS, "flaky", f"{__name__}:Flaky")
    Flaky.calls = 0
    Flaky.fixed = set()
    card = tmp_path / "flaky.yaml"
    card.write_text("name: flaky\nbackend: flaky\nfail_ids: [s03]\n", encoding="utf-8")
    return card


def test_oracle_run_writes_benchmark_records(dataset, tmp_path):
    pred = run_model(dataset, "oracle", tmp_path / "run", batch_size=3, progress=False)
    recs = read_prediction_records(pred)
    assert [r["subject_id"] for r in recs] == [f"s{i:02d}" for i in range(7)]
    assert all(r["llm_output"] == [r["ground_truth"]] and r["error"] is None for r in recs)
    info = json.loads((tmp_path / "run" / "run.json").read_text())
    assert info["status"] == "complete" and info["n_records"] == 7 and len(info["dataset_sha256"]) == 64


def test_resume_skips_done_and_repairs_torn_line(dataset, tmp_path):
    run = tmp_path / "run"
    run_model(dataset, "oracle", run, limit=3, progress=False)
    with open(run / "predictions.jsonl", "a", encoding="utf-8") as fh:
        fh.write('{"subject_id": "s03", "llm_out')  # crash mid-write
    run_model(dataset, "oracle", run, progress=False)
    ids = [r["subject_id"] for r in read_prediction_records(run / "predictions.jsonl")]
    assert ids == [f"s{i:02d}" for i in range(7)]
    assert (run / "predictions.jsonl").read_text().count("\n") == 7


def test_one_bad_study_never_stops_a_run(dataset, tmp_path, flaky_card):
    pred = run_model(dataset, str(flaky_card), tmp_path / "run", batch_size=4, progress=False)
    recs = {r["subject_id"]: r for r in read_prediction_records(pred)}
    assert len(recs) == 7
    assert recs["s03"]["error"] == "RuntimeError: boom on ['s03']" and recs["s03"]["llm_output"] == [""]
    assert recs["s02"]["llm_output"] == ["answer s02"] and recs["s02"]["error"] is None
    # retry the failed one after the cause is gone
    Flaky.fixed = {"s03"}
    run_model(dataset, str(flaky_card), tmp_path / "run", retry_errors=True, progress=False)
    recs = {r["subject_id"]: r for r in read_prediction_records(pred)}
    assert len(recs) == 7 and recs["s03"]["llm_output"] == ["answer s03"]


def test_ctrl_c_keeps_what_was_written(dataset, tmp_path, flaky_card):
    flaky_card.write_text("name: flaky\nbackend: flaky\ninterrupt_after: 1\n", encoding="utf-8")
    with pytest.raises(KeyboardInterrupt):
        run_model(dataset, str(flaky_card), tmp_path / "run", batch_size=2, progress=False)
    assert [r["subject_id"] for r in read_prediction_records(tmp_path / "run" / "predictions.jsonl")] == ["s00", "s01"]
    assert json.loads((tmp_path / "run" / "run.json").read_text())["status"] == "interrupted"


def test_cards_and_errors(tmp_path):
    assert load_card("template")["backend"] == "template"
    assert load_backend("oracle").name == "oracle"
    with pytest.raises(InputError, match="unknown model 'nope'"):
        load_card("nope")
    bad = tmp_path / "bad.yaml"
    bad.write_text("name: x\n", encoding="utf-8")
    with pytest.raises(InputError, match="needs 'name' and 'backend'"):
        load_card(str(bad))


def test_generate_cli(dataset, tmp_path, capsys):
    assert main(["generate", str(dataset.parent), "--model", "oracle", "--out", str(tmp_path / "r")]) == 0
    assert len(read_prediction_records(tmp_path / "r" / "predictions.jsonl")) == 7
    assert main(["generate", str(tmp_path / "missing"), "--model", "oracle", "--out", str(tmp_path / "r2")]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert err[-1].startswith("pet2rep generate: error:") and "no such dataset" in err[-1]


def test_errors_kept_without_retry_flag_and_dropped_with_it(dataset, tmp_path, flaky_card):
    """Resume without --retry-errors calls the backend for nothing; with it, the failed line is replaced."""
    pred = run_model(dataset, str(flaky_card), tmp_path / "run", batch_size=4, progress=False)
    calls = Flaky.calls
    Flaky.fixed = {"s03"}  # the cause is gone
    run_model(dataset, str(flaky_card), tmp_path / "run", progress=False)
    assert Flaky.calls == calls  # every study has a record: nothing generated
    recs = read_prediction_records(pred)
    assert [r["subject_id"] for r in recs] == [f"s{i:02d}" for i in range(7)]
    assert [r["subject_id"] for r in recs if r["error"]] == ["s03"]
    run_model(dataset, str(flaky_card), tmp_path / "run", retry_errors=True, progress=False)
    assert Flaky.calls == calls + 1  # only s03, one batch
    recs = read_prediction_records(pred)
    ids = [r["subject_id"] for r in recs]
    assert sorted(ids) == [f"s{i:02d}" for i in range(7)] and ids[-1] == "s03"  # the failed line is gone
    assert all(r["error"] is None for r in recs) and pred.read_text(encoding="utf-8").count("\n") == 7


def test_bad_line_in_the_middle_is_an_error_not_a_torn_tail(dataset, tmp_path):
    """Only the last line may be torn; a bad line earlier is refused and nothing is cut off."""
    run = tmp_path / "run"
    run_model(dataset, "oracle", run, limit=3, progress=False)
    pred = run / "predictions.jsonl"
    lines = pred.read_text(encoding="utf-8").splitlines(keepends=True)
    pred.write_text(lines[0] + '{"subject_id": "s01", "llm_out\n' + lines[2], encoding="utf-8")
    before = pred.read_bytes()
    with pytest.raises(InputError, match=r"predictions.jsonl:2: invalid JSON"):
        read_prediction_records(pred, repair=True)
    with pytest.raises(InputError, match=r"predictions.jsonl:2: invalid JSON"):
        run_model(dataset, "oracle", run, progress=False)
    assert pred.read_bytes() == before


def test_resume_after_crash_just_before_the_final_newline(dataset, tmp_path):
    """A crash can cut the file right after a complete record's '}': resuming must not glue the next one on."""
    run = tmp_path / "run"
    run_model(dataset, "oracle", run, limit=2, progress=False)
    pred = run / "predictions.jsonl"
    pred.write_bytes(pred.read_bytes().rstrip(b"\n"))
    run_model(dataset, "oracle", run, progress=False)
    assert [r["subject_id"] for r in read_prediction_records(pred)] == [f"s{i:02d}" for i in range(7)]


# ------------------------------------------------------------------------------ resume key, shards, merge


def test_resume_refused_when_generation_settings_change(dataset, tmp_path, capsys):
    run = tmp_path / "run"
    argv = ["generate", str(dataset), "--model", "template", "--out", str(run), "--limit", "2"]
    assert main([*argv, "--max-new-tokens", "64"]) == 0
    assert main([*argv, "--max-new-tokens", "65"]) == 2
    err = capsys.readouterr().err.strip().splitlines()[-1]
    assert "was run with other generation settings" in err and '"max_new_tokens": 64' in err
    assert main([*argv, "--preset", "paper"]) == 2  # T 0.7, top-k 50, 1,024 tokens: another run
    # throughput flags are not part of the key: resuming with another batch size is fine
    assert main([*argv, "--max-new-tokens", "64", "--batch-size", "3"]) == 0
    info = json.loads((run / "run.json").read_text())
    assert info["generation"]["max_new_tokens"] == 64 and info["batch_size"] == 3 and len(info["resume_key"]) == 64


def test_generation_config_layers_card_preset_flags(tmp_path):
    from pet2rep.backends.base import resolve_generation

    card = {"name": "c", "backend": "template", "generation": {"max_new_tokens": 300, "stop": "END"}}
    cfg = resolve_generation(card)
    assert (cfg.max_new_tokens, cfg.temperature, cfg.stop, cfg.greedy) == (300, 0.0, ("END",), True)
    cfg = resolve_generation(card, "paper")
    assert (cfg.max_new_tokens, cfg.temperature, cfg.top_k, cfg.greedy) == (1024, 0.7, 50, False)
    cfg = resolve_generation(card, "paper", {"temperature": 0.2, "seed": 3, "top_p": None})
    assert (cfg.temperature, cfg.top_k, cfg.seed, cfg.top_p) == (0.2, 50, 3, 1.0)
    with pytest.raises(InputError, match="unknown setting"):
        resolve_generation({"name": "c", "generation": {"max_tokens": 5}})
    with pytest.raises(InputError, match="top_p 1.5"):
        resolve_generation(card, None, {"top_p": 1.5})


def test_bad_generation_flags_are_one_line_errors(dataset, tmp_path, capsys):
    for flags, needle in ((["--max-new-tokens", "0"], "--max-new-tokens 0: must be >= 1"),
                          (["--temperature", "-1"], "--temperature -1: must be >= 0"),
                          (["--top-p", "0"], "--top-p 0: must be > 0"),
                          (["--top-p", "2"], "--top-p 2: must be <= 1"),
                          (["--timeout", "nan"], "--timeout nan: must be > 0"),
                          (["--concurrency", "0"], "--concurrency 0: must be >= 1"),
                          (["--shard", "4/4"], "shard '4/4': INDEX must be 0..COUNT-1"),
                          (["--shard", "x"], "shard 'x': expected INDEX/COUNT")):
        assert main(["generate", str(dataset), "--model", "template", "--out", str(tmp_path / "r"), *flags]) == 2
        err = capsys.readouterr().err.strip().splitlines()
        assert len(err) == 1 and needle in err[0], (flags, err)
    assert not (tmp_path / "r").exists()


def test_shards_then_merge_equal_one_run(dataset, tmp_path, capsys):
    whole = tmp_path / "whole"
    assert main(["generate", str(dataset), "--model", "oracle", "--out", str(whole)]) == 0
    for i in range(3):
        assert main(["generate", str(dataset), "--model", "oracle", "--out", str(tmp_path / f"s{i}"),
                     "--shard", f"{i}/3"]) == 0
    shard0 = [r["subject_id"] for r in read_prediction_records(tmp_path / "s0" / "predictions.jsonl")]
    assert shard0 == ["s00", "s03", "s06"]
    # a shard folder cannot be resumed as another shard
    assert main(["generate", str(dataset), "--model", "oracle", "--out", str(tmp_path / "s0"),
                 "--shard", "1/3"]) == 2
    assert "was run with another shard" in capsys.readouterr().err
    merged = tmp_path / "merged"
    assert main(["merge", str(tmp_path / "s2"), str(tmp_path / "s0"), str(tmp_path / "s1"),
                 "--out", str(merged)]) == 0
    strip = ("latency_s",)
    got = [{k: v for k, v in r.items() if k not in strip} for r in read_prediction_records(merged / "predictions.jsonl")]
    want = [{k: v for k, v in r.items() if k not in strip} for r in read_prediction_records(whole / "predictions.jsonl")]
    assert got == want  # dataset order, every study once
    info = json.loads((merged / "run.json").read_text())
    assert info["status"] == "complete" and info["shard"] is None and len(info["merged_from"]) == 3
    assert info["resume_key"] == json.loads((whole / "run.json").read_text())["resume_key"]
    # the merged folder resumes like an unsharded run: nothing left to do
    assert main(["generate", str(dataset), "--model", "oracle", "--out", str(merged)]) == 0
    assert "7 predictions (0 new, 7 resumed)" in capsys.readouterr().out


def test_merge_refuses_overlaps_mismatches_and_warns_on_missing_shards(dataset, tmp_path, capsys):
    for i in range(2):
        assert main(["generate", str(dataset), "--model", "oracle", "--out", str(tmp_path / f"s{i}"),
                     "--shard", f"{i}/2"]) == 0
    assert main(["generate", str(dataset), "--model", "template", "--out", str(tmp_path / "t1"),
                 "--shard", "1/2"]) == 0
    assert main(["generate", str(dataset), "--model", "oracle", "--out", str(tmp_path / "g1"),
                 "--shard", "1/2", "--max-new-tokens", "10"]) == 0
    assert main(["generate", str(dataset), "--model", "oracle", "--out", str(tmp_path / "other3"),
                 "--shard", "1/3"]) == 0
    capsys.readouterr()
    cases = (
        (["s0", "s0"], "shard 0/2 again"),
        (["s0", "t1"], "a run of 'template', but"),
        (["s0", "g1"], "different generation"),
        (["s0", "other3"], "split the dataset differently"),
        (["s0", "nowhere"], "not a run folder"),
    )
    for names, needle in cases:
        out = tmp_path / ("m-" + "-".join(names))
        assert main(["merge", *[str(tmp_path / n) for n in names], "--out", str(out)]) == 2, names
        assert needle in capsys.readouterr().err, names
        assert not (out / "predictions.jsonl").exists()
    # an overlapping study (the same record in two folders) is refused
    s1 = tmp_path / "s1" / "predictions.jsonl"
    s1.write_text(s1.read_text() + (tmp_path / "s0" / "predictions.jsonl").read_text().splitlines()[0] + "\n")
    assert main(["merge", str(tmp_path / "s0"), str(tmp_path / "s1"), "--out", str(tmp_path / "m")]) == 2
    assert "is also in another shard" in capsys.readouterr().err
    # a missing shard: merged with a warning, status partial, exit 1
    assert main(["merge", str(tmp_path / "s0"), "--out", str(tmp_path / "m0")]) == 1
    assert "shard(s) 1/2 missing" in capsys.readouterr().err
    assert json.loads((tmp_path / "m0" / "run.json").read_text())["status"] == "partial"


def test_evaluate_takes_a_run_folder(dataset, tmp_path, capsys):
    run = tmp_path / "run"
    assert main(["generate", str(dataset), "--model", "template", "--out", str(run)]) == 0
    assert main(["evaluate", str(run), "--bootstrap", "0", "--workers", "1"]) == 0
    metrics = json.loads((run / "metrics.json").read_text())
    assert metrics["n"] == 7 and metrics["run"]["model"] == "template"
    assert metrics["run"]["generation"]["max_new_tokens"] == 1024
    assert main(["evaluate", str(run / "predictions.jsonl"), "--bootstrap", "0"]) == 2
    assert "--out is needed" in capsys.readouterr().err
    assert main(["evaluate", str(tmp_path), "--bootstrap", "0"]) == 2
    assert "without predictions.jsonl" in capsys.readouterr().err


def test_backend_that_raises_midway_only_unanswered_are_retried(dataset, tmp_path, monkeypatch):
    """A backend that answers 3 studies, then raises: those 3 are not asked again (a paid API answers once)."""
    asked: list[list[str]] = []

    class Midway(Backend):
        needs_images = False

        def generate(self, requests):
            asked.append([r.id for r in requests])
            for i, r in enumerate(requests):
                if len(requests) > 1 and i == 3:
                    raise ConnectionError("lost the server")
                if r.id == "s05":
                    raise ValueError("s05 is cursed")
                yield Generation(r.id, f"answer {r.id}", completion_tokens=2)

    pred = run_model(dataset, {"name": "midway", "backend": "midway"}, tmp_path / "run", progress=False,
                     backend_factory=Midway)
    assert asked[0] == [f"s{i:02d}" for i in range(7)]
    assert asked[1:] == [[f"s{i:02d}"] for i in range(3, 7)]  # the answered three never again
    recs = {r["subject_id"]: r for r in read_prediction_records(pred)}
    assert len(recs) == 7 and recs["s05"]["error"] == "ValueError: s05 is cursed"
    assert all(recs[s]["llm_output"] == [f"answer {s}"] for s in recs if s != "s05")
    info = json.loads((tmp_path / "run" / "run.json").read_text())
    assert info["completion_tokens_new"] == 12 and info["n_errors"] == 1


def test_disk_full_mid_write_leaves_no_torn_record(dataset, tmp_path, monkeypatch):
    """ENOSPC on the third record: the file keeps two whole records; a re-run completes the rest."""
    import errno
    import os as _os

    from pet2rep import runs

    real_write = _os.write
    calls = {"n": 0}

    def full_disk(fd, data):
        calls["n"] += 1
        if calls["n"] == 3:
            real_write(fd, bytes(data)[:10])  # a partial write, then the device is full
            raise OSError(errno.ENOSPC, "No space left on device")
        return real_write(fd, data)

    monkeypatch.setattr(runs.os, "write", full_disk)
    with pytest.raises(OSError):
        run_model(dataset, "oracle", tmp_path / "run", progress=False)
    pred = tmp_path / "run" / "predictions.jsonl"
    assert pred.read_text().count("\n") == 2 and pred.read_text().endswith("\n")
    assert json.loads((tmp_path / "run" / "run.json").read_text())["status"] == "failed"
    monkeypatch.setattr(runs.os, "write", real_write)
    run_model(dataset, "oracle", tmp_path / "run", progress=False)
    assert [r["subject_id"] for r in read_prediction_records(pred)] == [f"s{i:02d}" for i in range(7)]


def test_resume_refused_when_the_model_files_changed(dataset, tmp_path, capsys):
    """Same card and settings, but the backend resolves another model revision: refused, run.json kept."""

    class Versioned(Backend):
        needs_images = False
        revision = "rev-a"

        def generate(self, requests):
            yield from (Generation(r.id, f"{Versioned.revision} {r.id}") for r in requests)

        def describe(self):
            return {"backend": "versioned", "revision": Versioned.revision}

    card = {"name": "versioned", "backend": "versioned"}
    run = tmp_path / "run"
    run_model(dataset, card, run, limit=3, progress=False, backend_factory=Versioned)
    before = (run / "run.json").read_bytes()
    Versioned.revision = "rev-b"
    with pytest.raises(InputError, match="model revision rev-a, but the model now resolves to rev-b"):
        run_model(dataset, card, run, progress=False, backend_factory=Versioned)
    assert (run / "run.json").read_bytes() == before
    assert len(read_prediction_records(run / "predictions.jsonl")) == 3
    Versioned.revision = "rev-a"
    run_model(dataset, card, run, progress=False, backend_factory=Versioned)
    assert len(read_prediction_records(run / "predictions.jsonl")) == 7


def test_generate_on_deeply_nested_json_and_unknown_backend_is_one_line(tmp_path, capsys):
    """100k nested brackets in a dataset line and a card naming no backend: one line, exit 2, no run folder."""
    deep = tmp_path / "deep.jsonl"
    deep.write_text("[" * 100_000 + "]" * 100_000 + "\n")
    assert main(["generate", str(deep), "--model", "template", "--out", str(tmp_path / "r1")]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "deep.jsonl:1: JSON nested too deeply" in err[0]
    card = tmp_path / "nb.yaml"
    card.write_text("name: x\nbackend: nosuch\n")
    assert main(["generate", str(deep), "--model", str(card), "--out", str(tmp_path / "r2")]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "unknown backend 'nosuch'" in err[0]
    assert not (tmp_path / "r1").exists() and not (tmp_path / "r2").exists()


def test_throughput_leaves_model_loading_out(dataset, tmp_path):
    """A backend that takes 0.5 s to load: run.json's load_s holds it, studies/h is over generation only."""
    import time as _time

    class SlowToLoad(Backend):
        needs_images = False

        def __init__(self, card):
            super().__init__(card)
            _time.sleep(0.5)

        def generate(self, requests):
            for r in requests:
                _time.sleep(0.01)
                yield Generation(r.id, "x", completion_tokens=4)

    run_model(dataset, {"name": "slow", "backend": "slow"}, tmp_path / "run", progress=False,
              backend_factory=SlowToLoad)
    info = json.loads((tmp_path / "run" / "run.json").read_text())
    assert info["load_s"] >= 0.5 and info["wall_s"] >= info["load_s"]
    gen_s = info["wall_s"] - info["load_s"]
    assert info["studies_per_hour"] == pytest.approx(7 / gen_s * 3600, rel=0.01)
    assert info["studies_per_hour"] > 7 / info["wall_s"] * 3600 * 1.5  # loading would have more than halved it
