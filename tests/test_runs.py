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
from pet2rep.runs import read_predictions, run_model


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
    recs = read_predictions(pred)
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
    ids = [r["subject_id"] for r in read_predictions(run / "predictions.jsonl")]
    assert ids == [f"s{i:02d}" for i in range(7)]
    assert (run / "predictions.jsonl").read_text().count("\n") == 7


def test_one_bad_study_never_stops_a_run(dataset, tmp_path, flaky_card):
    pred = run_model(dataset, str(flaky_card), tmp_path / "run", batch_size=4, progress=False)
    recs = {r["subject_id"]: r for r in read_predictions(pred)}
    assert len(recs) == 7
    assert recs["s03"]["error"] == "RuntimeError: boom on ['s03']" and recs["s03"]["llm_output"] == [""]
    assert recs["s02"]["llm_output"] == ["answer s02"] and recs["s02"]["error"] is None
    # retry the failed one after the cause is gone
    Flaky.fixed = {"s03"}
    run_model(dataset, str(flaky_card), tmp_path / "run", retry_errors=True, progress=False)
    recs = {r["subject_id"]: r for r in read_predictions(pred)}
    assert len(recs) == 7 and recs["s03"]["llm_output"] == ["answer s03"]


def test_ctrl_c_keeps_what_was_written(dataset, tmp_path, flaky_card):
    flaky_card.write_text("name: flaky\nbackend: flaky\ninterrupt_after: 1\n", encoding="utf-8")
    with pytest.raises(KeyboardInterrupt):
        run_model(dataset, str(flaky_card), tmp_path / "run", batch_size=2, progress=False)
    assert [r["subject_id"] for r in read_predictions(tmp_path / "run" / "predictions.jsonl")] == ["s00", "s01"]
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
    assert len(read_predictions(tmp_path / "r" / "predictions.jsonl")) == 7
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
    recs = read_predictions(pred)
    assert [r["subject_id"] for r in recs] == [f"s{i:02d}" for i in range(7)]
    assert [r["subject_id"] for r in recs if r["error"]] == ["s03"]
    run_model(dataset, str(flaky_card), tmp_path / "run", retry_errors=True, progress=False)
    assert Flaky.calls == calls + 1  # only s03, one batch
    recs = read_predictions(pred)
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
        read_predictions(pred, repair=True)
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
    assert [r["subject_id"] for r in read_predictions(pred)] == [f"s{i:02d}" for i in range(7)]
