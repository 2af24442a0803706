"""Bad input through the real CLI: one clear line naming the file/field and the problem, exit code 2 (1 when a
command over many items skipped some), never a traceback; Ctrl-C in `generate` loses nothing and resumes."""

from __future__ import annotations

import argparse
import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest

from pet2rep.cli import COMMANDS, command_functions, main
from pet2rep.prompts.build import make_record
from pet2rep.prompts.dataset import write_dataset
from pet2rep.study import Study, Volume, save_nifti, write_study

REPORT_ZH = "肝脏形态正常，FDG摄取未见异常。右肺上叶见结节，FDG摄取增高，SUVmax约5.1。"


def _affine(shape, zooms=(4.0, 4.0, 3.0)) -> np.ndarray:
    aff = np.diag(list(zooms) + [1.0])
    aff[:3, 3] = -(np.asarray(shape) - 1) / 2 * np.asarray(zooms)
    return aff


def _study(root: Path, name: str) -> Path:
    """A tiny but complete study folder: PET (SUV), CT (HU), a zh report."""
    shape = (16, 12, 20)
    pet = np.ones(shape, np.float32)
    pet[8, 6, 10] = 12.0
    ct = np.full(shape, 40, np.int16)
    study = Study(study_id=name, pet=Volume(pet, _affine(shape)), ct=Volume(ct, _affine(shape)),
                  reports={"zh": REPORT_ZH})
    return write_study(study, root / name)


def _err_lines(capsys) -> list[str]:
    err = capsys.readouterr().err.replace("\r", "\n")
    return [ln for ln in err.splitlines() if ln.strip() and "%|" not in ln]


def _one_error(capsys, *needles: str) -> str:
    lines = _err_lines(capsys)
    assert len(lines) == 1, lines
    line = lines[0]
    assert "error:" in line and "Traceback" not in line, line
    for n in needles:
        assert n in line, (n, line)
    return line


@pytest.fixture()
def studies(tmp_path) -> Path:
    root = tmp_path / "studies"
    _study(root, "s1")
    _study(root, "s2")
    return root


@pytest.fixture()
def dataset(tmp_path) -> Path:
    recs = [make_record(f"s{i:02d}", [f"slice_prompt/s{i:02d}_90_coronal.jpg"], "zh", REPORT_ZH) for i in range(6)]
    return write_dataset(recs, tmp_path / "ds")


# ------------------------------------------------------------------------------------------ every command


def test_out_that_is_a_file_is_one_line_for_every_command(tmp_path, studies, dataset, capsys):
    afile = tmp_path / "afile"
    afile.write_text("x")
    pet, ct = studies / "s1" / "pet_suv.nii.gz", studies / "s1" / "ct.nii.gz"
    pred = tmp_path / "p.jsonl"
    pred.write_text(json.dumps({"subject_id": "a", "llm_output": ["肝脏"], "ground_truth": "肝脏"}) + "\n")
    run = tmp_path / "runs" / "r"
    run.mkdir(parents=True)
    assert main(["evaluate", str(pred), "--out", str(run), "--bootstrap", "0", "--workers", "1"]) == 0
    capsys.readouterr()
    calls = [
        ["ingest", "--pet-nifti", str(pet), "--ct-nifti", str(ct), "--out", str(afile)],
        ["synth", "--out", str(afile), "-n", "1"],
        ["render", str(studies / "s1"), "--out", str(afile)],
        ["prompts", str(studies), "--out", str(afile)],
        ["generate", str(dataset), "--model", "template", "--out", str(afile)],
        ["evaluate", str(pred), "--out", str(afile)],
        ["leaderboard", str(tmp_path / "runs"), "--out", str(afile)],
        ["demo", "--out", str(afile), "-n", "1"],
    ]
    for argv in calls:
        assert main(argv) == 2, argv
        _one_error(capsys, str(afile), "not a folder")
    assert afile.read_text() == "x"
    # below a file: the generic file-system error handler names the path, no traceback
    assert main(["ingest", "--pet-nifti", str(pet), "--ct-nifti", str(ct), "--out", str(afile / "sub")]) == 2
    _one_error(capsys, str(afile / "sub"), "is a file, not a folder")
    assert main(["compare", str(run), str(run), "--json", str(afile / "x.json")]) == 2
    lines = _err_lines(capsys)
    assert lines[-1] == f"pet2rep compare: error: {afile}: exists and is not a folder " \
                        "(give a folder path, or remove the file)"


def test_every_option_has_help_text():
    for name in COMMANDS:
        parser = argparse.ArgumentParser(prog=f"pet2rep {name}")
        command_functions(name)[0](parser)
        for action in parser._actions:
            if action.option_strings and action.dest != "help":
                assert action.help, f"pet2rep {name} {action.option_strings[0]} has no help text"


def test_broken_pipe_is_quiet(tmp_path):
    """`pet2rep uptake --statements big.txt | head -1`: no BrokenPipeError traceback."""
    big = tmp_path / "big.txt"
    big.write_text(REPORT_ZH * 400, encoding="utf-8")
    proc = subprocess.Popen([sys.executable, "-m", "pet2rep", "uptake", "--lang", "zh", "--statements", str(big)],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    proc.stdout.readline()
    proc.stdout.close()
    err = proc.stderr.read().decode()
    proc.wait(timeout=120)
    assert "Traceback" not in err and "BrokenPipe" not in err, err


# ------------------------------------------------------------------------------------------ study folders


def test_bad_files_in_a_study_folder_are_named(tmp_path, capsys):
    root = tmp_path / "studies"
    good = _study(root, "good")
    badrep = _study(root, "badrep")
    (badrep / "report.zh.txt").write_bytes("肝脏".encode("gbk"))
    badlab = _study(root, "badlab")
    (badlab / "labels.json").write_text("{oops", encoding="utf-8")
    listjson = _study(root, "listjson")
    (listjson / "study.json").write_text("[]", encoding="utf-8")
    (root / "notes").mkdir()  # a folder without study.json among the studies
    assert main(["render", str(badrep), "--out", str(tmp_path / "v1")]) == 2
    _one_error(capsys, str(badrep / "report.zh.txt"), "not UTF-8")
    assert main(["prompts", str(badlab), "--out", str(tmp_path / "d1")]) == 2
    line = _one_error(capsys, str(badlab / "labels.json"), "invalid JSON")  # one study: its problem, one line
    assert line.startswith(f"pet2rep prompts: error: {badlab}: ") and line.endswith("; no prompt written")
    assert main(["render", str(listjson), "--out", str(tmp_path / "v2")]) == 2
    _one_error(capsys, str(listjson / "study.json"), "expected a JSON object")
    # a folder of studies: the bad ones are reported one line each, the good one is written, exit code 1
    assert main(["prompts", str(root), "--out", str(tmp_path / "d2")]) == 1
    lines = _err_lines(capsys)
    for folder in (badrep, badlab, listjson):
        assert sum(str(folder) in ln for ln in lines) == 1, (folder, lines)
    assert any(ln.endswith(f"{root / 'notes'}: skipped (no study.json)") for ln in lines), lines
    assert lines[-1] == "pet2rep prompts: 3 of 4 studies failed"
    recs = (tmp_path / "d2" / "prompts.jsonl").read_text(encoding="utf-8").splitlines()
    assert [json.loads(r)["patient_id"] for r in recs] == [good.name]
    # a folder that is neither a study nor holds any
    assert main(["render", str(root / "notes"), "--out", str(tmp_path / "v3")]) == 2
    _one_error(capsys, str(root / "notes"), "not a study folder (no study.json)")
    assert main(["render", str(good / "study.json"), "--out", str(tmp_path / "v4")]) == 2
    _one_error(capsys, "is a file; expected a study folder")


def test_render_bad_options(tmp_path, studies, capsys):
    s1 = str(studies / "s1")
    for extra, needle in ((["--prefix", "a/b"], "--prefix 'a/b': must be a plain file-name prefix"),
                          (["--size", "100000x100000"], "at most 8192x8192"),
                          (["--slices", "1.5"], "--slices '1.5': expected comma-separated whole numbers"),
                          (["--slices", "2,4,99"], "coronal slice index 99 out of range 0..11")):
        assert main(["render", s1, "--out", str(tmp_path / "v"), *extra]) == 2
        _one_error(capsys, needle)


def test_prompts_bad_slices_and_no_clobber(tmp_path, studies, capsys):
    out = tmp_path / "ds"
    assert main(["prompts", str(studies), "--out", str(out), "--slices", "x"]) == 2
    _one_error(capsys, "--slices 'x': expected comma-separated whole numbers")
    assert main(["prompts", str(studies), "--out", str(out), "--slices", "2,4,6"]) == 0
    before = (out / "prompts.jsonl").read_bytes()
    capsys.readouterr()
    assert main(["prompts", str(studies), "--out", str(out), "--slices", "2,4,99"]) == 2
    lines = _err_lines(capsys)
    assert sum("out of range" in ln for ln in lines) == 2
    assert lines[-1] == (f"pet2rep prompts: error: all 2 studies failed, no prompt written; "
                         f"{out / 'prompts.jsonl'} left unchanged")
    assert (out / "prompts.jsonl").read_bytes() == before


# ------------------------------------------------------------------------------------------ ingest, synth


def test_nifti_scan_before_injection_is_refused_before_writing(tmp_path, capsys):
    shape = (8, 8, 8)
    pet = tmp_path / "PET.nii.gz"
    ct = tmp_path / "CT.nii.gz"
    save_nifti(Volume(np.full(shape, 5000.0, np.float32), _affine(shape)), pet)
    save_nifti(Volume(np.zeros(shape, np.int16), _affine(shape)), ct)
    out = tmp_path / "study"
    argv = ["ingest", "--pet-nifti", str(pet), "--ct-nifti", str(ct), "--pet-units", "bqml", "--weight", "70",
            "--dose", "370", "--injection-time", "11:00", "--scan-time", "10:00", "--out", str(out)]
    assert main(argv) == 2
    _one_error(capsys, "scan time 10:00:00 is before the injection time 11:00:00", "23.0 h")
    assert not out.exists()
    assert main(argv[:-6] + ["--out", str(out)]) == 2  # Bq/ml without the facts: nothing written either
    _one_error(capsys, "PET in Bq/ml needs injection time, scan time")
    assert not out.exists()
    argv[argv.index("11:00")] = "23:30"
    argv[argv.index("10:00")] = "00:30"  # across midnight, one hour: fine
    assert main(argv) == 0
    assert json.loads((out / "study.json").read_text())["uptake_time_s"] == 3600.0


def test_synth_bad_seed_and_langs(tmp_path, capsys):
    assert main(["synth", "--out", str(tmp_path / "s"), "-n", "1", "--seed", "-1"]) == 2
    _one_error(capsys, "--seed -1: must be >= 0")
    assert main(["synth", "--out", str(tmp_path / "s"), "-n", "1", "--langs", "zh,xx"]) == 2
    _one_error(capsys, "--langs 'zh,xx': unsupported language(s) xx")


# ------------------------------------------------------------------------------------------ generate


def test_generate_bad_options_and_cards(tmp_path, dataset, capsys):
    out = str(tmp_path / "run")
    empty = tmp_path / "empty.jsonl"
    empty.write_text("")
    bad_card = tmp_path / "bad.yaml"
    bad_card.write_text("name: [x\n")
    for argv, needle in (
        ([str(dataset), "--model", "template", "--batch-size", "0"], "--batch-size 0: must be at least 1"),
        ([str(dataset), "--model", "template", "--limit", "-1"], "--limit -1: must be at least 1"),
        ([str(empty), "--model", "template"], f"{empty}: no records (the dataset is empty)"),
        ([str(dataset), "--model", str(tmp_path / "nosuch.yaml")], "nosuch.yaml: no such model card file"),
        ([str(dataset), "--model", str(bad_card)], f"{bad_card}: invalid YAML at line 2"),
    ):
        assert main(["generate", *argv, "--out", out]) == 2, argv
        _one_error(capsys, needle)
    assert not Path(out).exists()


def test_generate_refuses_to_mix_models_or_datasets(tmp_path, dataset, capsys):
    run = tmp_path / "run"
    assert main(["generate", str(dataset), "--model", "template", "--out", str(run), "--limit", "2"]) == 0
    out = capsys.readouterr().out
    assert out.strip() == f"wrote {run / 'predictions.jsonl'}: 2 predictions (2 new, 0 resumed), 0 with an error"
    assert main(["generate", str(dataset), "--model", "oracle", "--out", str(run)]) == 2
    _one_error(capsys, f"{run}: holds a run of model 'template', not 'oracle'", "--restart")
    other = write_dataset([make_record("x1", ["a.jpg"], "zh", "答案")], tmp_path / "other")
    assert main(["generate", str(other), "--model", "template", "--out", str(run)]) == 2
    _one_error(capsys, f"{run}: was run on another dataset")
    lines = (run / "predictions.jsonl").read_text().splitlines()
    assert len(lines) == 2  # nothing was added or lost
    assert main(["generate", str(dataset), "--model", "template", "--out", str(run)]) == 0  # same: resumes
    assert "6 predictions (4 new, 2 resumed)" in capsys.readouterr().out
    assert main(["generate", str(dataset), "--model", "oracle", "--out", str(run), "--restart"]) == 0
    recs = [json.loads(x) for x in (run / "predictions.jsonl").read_text().splitlines()]
    assert len(recs) == 6 and {r["model"] for r in recs} == {"oracle"}


def test_generate_warns_once_about_missing_images(tmp_path, seed_demo, capsys):
    jsonl = tmp_path / "released" / "prompt_qwen25vl.jsonl"
    jsonl.parent.mkdir()
    jsonl.write_bytes((seed_demo / "prompt_qwen25vl.jsonl").read_bytes())  # without its images
    assert main(["generate", str(jsonl.parent), "--model", "template", "--out", str(tmp_path / "r")]) == 0
    lines = [ln for ln in _err_lines(capsys) if "warning" in ln]
    assert len(lines) == 1 and "3 image(s) of 1 record(s) not found" in lines[0] and "demo_001" in lines[0]
    # the released layout (images next to the JSONL, not under slice_prompt/) is found: no warning
    assert main(["generate", str(seed_demo), "--model", "template", "--out", str(tmp_path / "r2")]) == 0
    assert not [ln for ln in _err_lines(capsys) if "warning" in ln]


# A backend that answers BLOCK_AFTER requests, then waits until it is interrupted (no BLOCK_AFTER: answers all):
# the interrupt always lands after exactly that many answers, whatever the machine's speed.
SLOW_RUNNER = '''
import os, sys, time
from pet2rep.backends import base
from pet2rep.backends.base import Backend, Generation

DONE = [0]

class Slow(Backend):
    needs_images = False
    def generate(self, reqs):
        block_after = int(os.environ.get("BLOCK_AFTER") or 0)
        for r in reqs:
            while block_after and DONE[0] >= block_after:
                time.sleep(0.05)  # waits for SIGINT
            DONE[0] += 1
            yield Generation(r.id, "answer " + r.id)

sys.modules["slowmod"] = sys.modules[__name__]
base.BACKENDS["slow"] = "slowmod:Slow"
from pet2rep.cli import main
sys.exit(main(sys.argv[1:]))
'''


def test_ctrl_c_mid_generate_then_resume(tmp_path):
    """A real SIGINT while generating: exit 130, one line, nothing written lost; the re-run completes it."""
    recs = [make_record(f"s{i:02d}", ["a.jpg"], "zh", REPORT_ZH) for i in range(24)]
    ds = write_dataset(recs, tmp_path / "ds")
    runner = tmp_path / "runner.py"
    runner.write_text(SLOW_RUNNER)
    card = tmp_path / "slow.yaml"
    card.write_text("name: slow\nbackend: slow\n")
    run = tmp_path / "run"
    argv = [sys.executable, str(runner), "generate", str(ds), "--model", str(card), "--out", str(run),
            "--batch-size", "2"]
    env = {**os.environ, "PYTHONUNBUFFERED": "1"}
    proc = subprocess.Popen(argv, stdout=subprocess.PIPE, stderr=subprocess.PIPE, env={**env, "BLOCK_AFTER": "4"})
    pred = run / "predictions.jsonl"
    deadline = time.time() + 120  # a state that will be reached (the backend then blocks), not a race
    while time.time() < deadline and (not pred.exists() or pred.read_bytes().count(b"\n") < 4):
        time.sleep(0.05)
    proc.send_signal(signal.SIGINT)
    _, err = proc.communicate(timeout=60)
    err = err.decode()
    assert proc.returncode == 130, err
    assert "Traceback" not in err
    assert "pet2rep generate: interrupted; files already written are kept; run the same command again to resume" in err
    done = [json.loads(x)["subject_id"] for x in pred.read_text().splitlines()]
    assert done == [f"s{i:02d}" for i in range(4)]  # exactly the answers given before the interrupt
    assert json.loads((run / "run.json").read_text())["status"] == "interrupted"
    res = subprocess.run(argv, capture_output=True, text=True, env=env, timeout=120)
    assert res.returncode == 0, res.stderr
    assert f"24 predictions ({24 - len(done)} new, {len(done)} resumed)" in res.stdout
    ids = [json.loads(x)["subject_id"] for x in pred.read_text().splitlines()]
    assert ids == [f"s{i:02d}" for i in range(24)]
    assert json.loads((run / "run.json").read_text())["status"] == "complete"


# ------------------------------------------------------------------------------------------ evaluate


def _jsonl(path: Path, rows: list) -> Path:
    path.write_text("".join((r if isinstance(r, str) else json.dumps(r, ensure_ascii=False)) + "\n" for r in rows),
                    encoding="utf-8")
    return path


def test_evaluate_nothing_to_score_is_an_error(tmp_path, dataset, capsys):
    out = tmp_path / "o"
    empty = _jsonl(tmp_path / "empty.jsonl", [])
    mismatch = _jsonl(tmp_path / "mm.jsonl", [{"subject_id": "other1", "llm_output": ["x"]}])
    no_ref = _jsonl(tmp_path / "noref.jsonl", [{"subject_id": "s00", "llm_output": ["x"]}])
    for argv, needle in (
        ([str(empty)], f"{empty}: no prediction records (the file is empty)"),
        ([str(mismatch), "--refs", str(dataset)],
         f"no subject_id of {mismatch} matches a patient_id of {dataset} (e.g. 'other1' vs 's00')"),
        ([str(dataset)], f"{dataset}: no line has an llm_output field"),
        ([str(no_ref)], f"{no_ref}: no prediction has a ground_truth; give the references with --refs"),
    ):
        assert main(["evaluate", *argv, "--out", str(out), "--bootstrap", "0", "--workers", "1"]) == 2, argv
        _one_error(capsys, needle)
    assert not out.exists()
    # --refs also takes the dataset folder, like `generate`
    assert main(["evaluate", str(no_ref), "--refs", str(dataset.parent), "--out", str(out), "--bootstrap", "0",
                 "--workers", "1"]) == 0
    assert json.loads((out / "metrics.json").read_text())["n"] == 6


def test_evaluate_skipped_lines_give_exit_code_1(tmp_path, capsys):
    pred = _jsonl(tmp_path / "p.jsonl", [
        {"subject_id": "a", "llm_output": [REPORT_ZH], "ground_truth": REPORT_ZH},
        '{"subject_id": "b", "llm_out',
        {"subject_id": "c", "ground_truth": REPORT_ZH},
    ])
    assert main(["evaluate", str(pred), "--out", str(tmp_path / "o"), "--bootstrap", "0", "--workers", "1"]) == 1
    lines = _err_lines(capsys)
    assert any(ln.startswith(f"{pred}:2: invalid JSON") for ln in lines), lines
    assert any(ln.startswith("1 prediction(s) without an llm_output field") and f"{pred}:3" in ln for ln in lines)
    assert json.loads((tmp_path / "o" / "metrics.json").read_text())["n"] == 2


def test_evaluate_jieba_missing_is_one_line(tmp_path, monkeypatch, capsys):
    import importlib.util

    real = importlib.util.find_spec
    monkeypatch.setattr(importlib.util, "find_spec", lambda name, *a: None if name == "jieba" else real(name, *a))
    pred = _jsonl(tmp_path / "p.jsonl", [{"subject_id": "a", "llm_output": ["肝"], "ground_truth": "肝"}])
    assert main(["evaluate", str(pred), "--out", str(tmp_path / "o"), "--segmenter", "jieba"]) == 2
    _one_error(capsys, "--segmenter jieba needs the jieba package", "pet2rep[zh]")


# ------------------------------------------------------------------------------------------ compare, leaderboard


def test_compare_and_leaderboard_bad_inputs(tmp_path, capsys):
    pred = _jsonl(tmp_path / "p.jsonl", [{"subject_id": "a", "llm_output": ["肝脏"], "ground_truth": "肝脏"}])
    runs = tmp_path / "runs"
    assert main(["evaluate", str(pred), "--out", str(runs / "a"), "--bootstrap", "0", "--workers", "1"]) == 0
    capsys.readouterr()
    empty = _jsonl(tmp_path / "empty.jsonl", [])
    for argv, needle in (
        ([str(runs / "a"), str(empty)], f"{empty}: no per-sample records (the file is empty)"),
        ([str(runs / "a"), str(pred)], f"{pred}:1: this is a predictions file, not a per_sample.jsonl"),
        ([str(runs / "a"), str(runs / "a"), "--json", str(runs)], f"{runs}: --json is a folder"),
    ):
        assert main(["compare", *argv]) == 2, argv
        _one_error(capsys, needle)
    assert main(["leaderboard", str(runs / "a")]) == 2
    _one_error(capsys, f"{runs / 'a'}: is itself a scored run; give the folder that holds the run folders")
    assert main(["leaderboard", str(runs), "--format", ""]) == 2
    _one_error(capsys, "--format: give at least one of md, csv, tex")
    (runs / "b").mkdir()
    (runs / "b" / "metrics.json").write_text("[]")
    # one broken metrics.json beside a good one is skipped with one line and the rest tabulated (exit 1)
    assert main(["leaderboard", str(runs)]) == 1
    lines = _err_lines(capsys)
    assert lines == [f"pet2rep leaderboard: skipped {runs / 'b' / 'metrics.json'}: invalid metrics.json "
                     "(expected a JSON object, got list)"], lines
    assert "| a |" in (runs / "leaderboard.md").read_text(encoding="utf-8")


# ------------------------------------------------------------------------------------------ demo


def test_demo_checks_options_before_any_work(tmp_path, capsys):
    for argv, needle in ((["-n", "0"], "-n 0: need at least one study"),
                         (["--seed", "-1"], "--seed -1: must be >= 0"),
                         (["--models", ""], "--models: give at least one model card"),
                         (["--models", "template,nosuch"], "unknown model 'nosuch'")):
        assert main(["demo", "--out", str(tmp_path / "d"), *argv]) == 2, argv
        _one_error(capsys, needle)
        assert not (tmp_path / "d").exists()


def test_demo_rerun_with_other_settings_is_not_stale(tmp_path, capsys):
    """A second demo into the same folder (fewer studies, other language, fewer models) scores only itself."""
    out = tmp_path / "d"
    assert main(["demo", "--out", str(out), "-n", "2", "--lang", "en"]) == 0
    assert main(["demo", "--out", str(out), "-n", "1", "--lang", "zh", "--models", "template"]) == 0
    md = (out / "leaderboard.md").read_text(encoding="utf-8")
    rows = [ln for ln in md.splitlines() if ln.startswith("| ") and not ln.startswith("| Model")]
    assert len(rows) == 1 and rows[0].startswith("| template |") and rows[0].split("|")[-3].strip() == "1"
    recs = [json.loads(x) for x in (out / "runs" / "template" / "predictions.jsonl").read_text().splitlines()]
    assert len(recs) == 1 and recs[0]["lang"] == "zh"


def test_leaderboard_warns_when_runs_scored_on_different_sets(tmp_path, capsys):
    runs = tmp_path / "runs"
    one = _jsonl(tmp_path / "one.jsonl", [{"subject_id": "a", "llm_output": ["肝脏"], "ground_truth": "肝脏"}])
    two = _jsonl(tmp_path / "two.jsonl", [{"subject_id": i, "llm_output": ["肝脏"], "ground_truth": "肝脏"}
                                          for i in ("a", "b")])
    for name, pred in (("m1", one), ("m2", two)):
        assert main(["evaluate", str(pred), "--out", str(runs / name), "--bootstrap", "0", "--workers", "1"]) == 0
    capsys.readouterr()
    assert main(["leaderboard", str(runs), "--format", "md"]) == 0
    warn = [ln for ln in _err_lines(capsys) if "warning" in ln]
    assert len(warn) == 1 and "different numbers of studies" in warn[0] and "m1: 1" in warn[0] and "m2: 2" in warn[0]
