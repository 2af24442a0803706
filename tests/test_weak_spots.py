"""Weak spots of evaluate, compare and leaderboard (issue 13), each through the real CLI on real files:
nothing is dropped, kept or shown silently; what is skipped is named on stderr and gives exit code 1."""

from __future__ import annotations

import json
import math
from pathlib import Path

import pytest

from pet2rep.cli import main

REF_A = "肝脏形态正常，FDG摄取未见异常。右肺上叶见结节，FDG摄取增高，SUVmax约5.1。"
REF_B = "脾脏大小正常，FDG摄取未见异常。纵隔淋巴结FDG摄取增高。"
REF_C = "The liver shows normal FDG uptake. A nodule in the right upper lobe shows increased uptake."
FAST = ["--bootstrap", "0", "--workers", "1"]


def _jsonl(path: Path, rows: list) -> Path:
    path.write_text("".join((r if isinstance(r, str) else json.dumps(r, ensure_ascii=False)) + "\n" for r in rows),
                    encoding="utf-8")
    return path


def _err(capsys) -> list[str]:
    err = capsys.readouterr().err.replace("\r", "\n")
    return [ln for ln in err.splitlines() if ln.strip() and "%|" not in ln]


def _pred(sid: str, out: str, ref: str | None = None) -> dict:
    row = {"subject_id": sid, "llm_output": out}
    if ref is not None:
        row["ground_truth"] = ref
    return row


# ------------------------------------------------------------------------------------------ evaluate


def test_evaluate_duplicate_ids_are_named_and_exit_1(tmp_path, capsys):
    pred = _jsonl(tmp_path / "p.jsonl", [_pred("a", REF_A, REF_A), _pred("b", REF_B, REF_B),
                                         _pred("a", REF_A, REF_A), _pred("b", REF_B, REF_B)])
    out = tmp_path / "o"
    assert main(["evaluate", str(pred), "--out", str(out), *FAST]) == 1
    err = _err(capsys)
    assert any(f"{pred}:3: duplicate subject_id 'a' (same as line 1); ignored" in ln for ln in err), err
    assert any(f"{pred}:4: duplicate subject_id 'b' (same as line 2); ignored" in ln for ln in err), err
    assert any(ln.startswith("2 duplicate id line(s) ignored, the first line of each id kept") for ln in err), err
    assert not any("conflict" in ln for ln in err), err
    m = json.loads((out / "metrics.json").read_text(encoding="utf-8"))
    assert m["n"] == 2 and m["input"]["predictions"]["n_duplicates"] == 2
    assert m["input"]["predictions"]["conflicts"] == []


def test_evaluate_duplicate_with_different_text_is_a_conflict_first_kept(tmp_path, capsys):
    pred = _jsonl(tmp_path / "p.jsonl", [_pred("a", REF_A, REF_A), _pred("a", "完全不同的输出。", REF_A),
                                         _pred("b", REF_B, REF_B)])
    out = tmp_path / "o"
    assert main(["evaluate", str(pred), "--out", str(out), *FAST]) == 1
    err = _err(capsys)
    want = (f"{pred}:2: duplicate subject_id 'a' conflicts with line 1 (different llm_output); line 1 is kept, "
            "this line ignored")
    assert want in err, err
    assert any("(1 with a different text: conflicts)" in ln for ln in err), err
    m = json.loads((out / "metrics.json").read_text(encoding="utf-8"))
    assert m["input"]["predictions"]["conflicts"] == [want]
    rows = [json.loads(x) for x in (out / "per_sample.jsonl").read_text(encoding="utf-8").splitlines()]
    assert [r["id"] for r in rows] == ["a", "b"]
    assert rows[0]["rouge_l"] == pytest.approx(1.0)  # the first line (identical to its reference) was scored


def test_evaluate_duplicate_reference_conflict_is_named(tmp_path, capsys):
    refs = _jsonl(tmp_path / "refs.jsonl", [{"patient_id": "a", "answer": REF_A}, {"patient_id": "b", "answer": REF_B},
                                            {"patient_id": "a", "answer": REF_B}])
    pred = _jsonl(tmp_path / "p.jsonl", [_pred("a", REF_A), _pred("b", REF_B)])
    assert main(["evaluate", str(pred), "--out", str(tmp_path / "o"), "--refs", str(refs), *FAST]) == 1
    err = _err(capsys)
    assert any(f"{refs}:3: duplicate patient_id 'a' conflicts with line 1 (different answer); line 1 is kept"
               in ln for ln in err), err


def test_evaluate_prediction_without_reference_is_counted_and_exit_1(tmp_path, capsys):
    refs = _jsonl(tmp_path / "refs.jsonl", [{"patient_id": "a", "answer": REF_A}, {"patient_id": "b", "answer": REF_B}])
    pred = _jsonl(tmp_path / "p.jsonl", [_pred("a", REF_A), _pred("b", REF_B), _pred("x", REF_C), _pred("y", REF_C)])
    out = tmp_path / "o"
    assert main(["evaluate", str(pred), "--out", str(out), "--refs", str(refs), *FAST]) == 1
    err = _err(capsys)
    assert "2 prediction(s) without a reference (excluded): x, y" in err, err
    m = json.loads((out / "metrics.json").read_text(encoding="utf-8"))
    assert m["n"] == 2 and m["ids"]["without_reference"] == ["x", "y"]
    # without --refs: a prediction without ground_truth is named the same way
    pred2 = _jsonl(tmp_path / "p2.jsonl", [_pred("a", REF_A, REF_A), _pred("z", REF_C)])
    assert main(["evaluate", str(pred2), "--out", str(tmp_path / "o2"), *FAST]) == 1
    assert "1 prediction(s) without a reference (excluded): z" in _err(capsys)


def test_evaluate_clean_input_still_exits_0(tmp_path, capsys):
    pred = _jsonl(tmp_path / "p.jsonl", [_pred("a", REF_A, REF_A), _pred("b", REF_C, REF_C)])
    assert main(["evaluate", str(pred), "--out", str(tmp_path / "o"), *FAST]) == 0
    assert _err(capsys) == []


def test_evaluate_empty_reference_is_excluded_and_named(tmp_path, capsys):
    refs = _jsonl(tmp_path / "refs.jsonl", [
        {"patient_id": "a", "answer": REF_A}, {"patient_id": "b", "answer": REF_B},
        {"patient_id": "e1", "answer": ""}, {"patient_id": "e2", "answer": None},  # prompts writes null
        {"patient_id": "e3", "answer": " 。，\n"},  # nothing a token is made of
    ])
    pred = _jsonl(tmp_path / "p.jsonl", [_pred("a", REF_A), _pred("b", "肝脏未见异常。"), _pred("e1", ""),
                                         _pred("e2", "")])
    out = tmp_path / "o"
    assert main(["evaluate", str(pred), "--out", str(out), "--refs", str(refs), *FAST]) == 1
    err = _err(capsys)
    assert "3 sample(s) with an empty reference (nothing to score against; excluded): e1, e2, e3" in err, err
    m = json.loads((out / "metrics.json").read_text(encoding="utf-8"))
    assert m["n"] == 2 and m["ids"]["empty_reference"] == ["e1", "e2", "e3"]
    assert m["ids"]["missing_predictions"] == [] and m["failures"]["counts"]["missing_prediction"] == 0
    rows = [json.loads(x) for x in (out / "per_sample.jsonl").read_text(encoding="utf-8").splitlines()]
    assert [r["id"] for r in rows] == ["a", "b"]
    assert m["rouge_l"] < 1.0  # the empty pair (ROUGE-L 1.0 on both sides empty) is not averaged in


def test_evaluate_all_references_empty_is_refused(tmp_path, capsys):
    pred = _jsonl(tmp_path / "p.jsonl", [_pred("a", "", ""), _pred("b", "x", "  ")])
    out = tmp_path / "o"
    assert main(["evaluate", str(pred), "--out", str(out), *FAST]) == 2
    err = _err(capsys)
    assert len(err) == 1 and "every reference is empty" in err[0] and "'a'" in err[0], err
    assert not out.exists()


# ------------------------------------------------------------------------------------------ compare


def _scored(tmp_path: Path, name: str, rows: list[dict]) -> Path:
    pred = _jsonl(tmp_path / f"{name}.jsonl", rows)
    run = tmp_path / "runs" / name
    assert main(["evaluate", str(pred), "--out", str(run), *FAST]) == 0
    return run


def test_compare_names_ids_missing_from_one_run(tmp_path, capsys):
    refs = [REF_A, REF_B, REF_C, REF_A + REF_B]
    a = _scored(tmp_path, "a", [_pred(f"s{i}", r, r) for i, r in enumerate(refs)])
    b = _scored(tmp_path, "b", [_pred(f"s{i}", "肝脏未见异常。", r) for i, r in enumerate(refs[1:], start=1)]
                + [_pred("extra", REF_C, REF_C)])
    capsys.readouterr()
    assert main(["compare", str(a), str(b), "--n", "50"]) == 1
    cap = capsys.readouterr()
    err = [ln for ln in cap.err.splitlines() if ln.strip()]
    assert f"pet2rep compare: warning: 1 sample(s) only in {a} (left out of the comparison): s0" in err, err
    assert f"pet2rep compare: warning: 1 sample(s) only in {b} (left out of the comparison): extra" in err, err
    assert "3 shared samples" in cap.out
    # the same ids on both sides: nothing on stderr, exit 0
    assert main(["compare", str(a), str(a), "--n", "50"]) == 0
    assert capsys.readouterr().err.strip() == ""


# ------------------------------------------------------------------------------------------ leaderboard


def _metrics(path: Path, overall: float, **extra) -> None:
    m = {"bleu_1": 0.5, "bleu_4": 0.2, "meteor": 0.3, "rouge_l": 0.4, "cider": 0.1, "ce_precision": 0.2,
         "ce_recall": 0.2, "ce_f1": 0.2, "overall": overall, "n": 10, "ce_states": "all", **extra}
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(m), encoding="utf-8")  # json.dumps writes NaN / Infinity as Python reads them


def test_leaderboard_skips_a_broken_metrics_json_and_goes_on(tmp_path, capsys):
    runs = tmp_path / "runs"
    _metrics(runs / "good1" / "metrics.json", 30.0)
    _metrics(runs / "good2" / "eval" / "metrics.json", 20.0)
    (runs / "broken").mkdir()
    (runs / "broken" / "metrics.json").write_text('{"overall": 1', encoding="utf-8")
    (runs / "list").mkdir()
    (runs / "list" / "metrics.json").write_text("[]", encoding="utf-8")
    (runs / "binary").mkdir()
    (runs / "binary" / "metrics.json").write_bytes(b"\xff\xfe\x00garbage")
    out = tmp_path / "lb"
    assert main(["leaderboard", str(runs), "--out", str(out)]) == 1
    err = _err(capsys)
    assert len(err) == 3, err
    for name in ("broken", "list", "binary"):
        assert sum(f"pet2rep leaderboard: skipped {runs / name / 'metrics.json'}: invalid metrics.json (" in ln
                   for ln in err) == 1, (name, err)
    assert all("Traceback" not in ln for ln in err)
    md = (out / "leaderboard.md").read_text(encoding="utf-8")
    body = [ln for ln in md.splitlines() if ln.startswith("| good")]
    assert [ln.split(" | ")[0] for ln in body] == ["| good1", "| good2"]
    assert (out / "leaderboard.csv").is_file() and (out / "leaderboard.tex").is_file()


def test_leaderboard_all_broken_is_refused(tmp_path, capsys):
    runs = tmp_path / "runs"
    (runs / "broken").mkdir(parents=True)
    (runs / "broken" / "metrics.json").write_text("{", encoding="utf-8")
    assert main(["leaderboard", str(runs), "--out", str(tmp_path / "lb")]) == 2
    err = _err(capsys)
    assert any("no readable metrics.json (1 invalid" in ln for ln in err), err
    assert not (tmp_path / "lb").exists()


def test_leaderboard_shows_nan_and_inf_as_such_and_warns(tmp_path, capsys):
    runs = tmp_path / "runs"
    _metrics(runs / "finite" / "metrics.json", 25.0)
    _metrics(runs / "nanrun" / "metrics.json", math.nan, rouge_l=math.inf, model="nanrun")
    out = tmp_path / "lb"
    assert main(["leaderboard", str(runs), "--out", str(out)]) == 0
    err = _err(capsys)
    assert err == ["pet2rep leaderboard: warning: nanrun: non-finite value(s) rouge_l=inf, overall=nan, "
                   "shown as nan/inf"], err
    md = (out / "leaderboard.md").read_text(encoding="utf-8")
    rows = [ln for ln in md.splitlines() if ln.startswith("| finite") or ln.startswith("| nanrun")]
    assert rows[0].startswith("| finite") and rows[1].startswith("| nanrun")  # non-finite Overall sorts last
    cells = [c.strip() for c in rows[1].strip("|").split("|")]
    assert cells[4] == "inf" and cells[9] == "nan" and "–" not in cells
    csv_text = (out / "leaderboard.csv").read_text(encoding="utf-8")
    assert "nanrun,0.5,0.2,0.3,inf,0.1,0.2,0.2,0.2,nan," in csv_text
    assert "inf" in (out / "leaderboard.tex").read_text(encoding="utf-8")
