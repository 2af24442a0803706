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


def test_evaluate_non_utf8_line_is_named_and_skipped_the_rest_scored(tmp_path, capsys):
    pred = tmp_path / "p.jsonl"
    pred.write_bytes((json.dumps(_pred("a", REF_A, REF_A), ensure_ascii=False) + "\n").encode()
                     + (json.dumps(_pred("b", REF_B, REF_B), ensure_ascii=False) + "\n").encode("gbk")
                     + (json.dumps(_pred("c", REF_C, REF_C)) + "\n").encode())
    out = tmp_path / "o"
    assert main(["evaluate", str(pred), "--out", str(out), *FAST]) == 1
    err = _err(capsys)
    assert err[0].startswith(f"{pred}:2: not UTF-8 text (byte 0x") and "re-save the file as UTF-8" in err[0], err
    assert "1 malformed line(s) skipped" in err, err
    m = json.loads((out / "metrics.json").read_text(encoding="utf-8"))
    assert m["n"] == 2 and m["input"]["predictions"]["n_malformed"] == 1
    assert [json.loads(x)["id"] for x in (out / "per_sample.jsonl").read_text(encoding="utf-8").splitlines()] == [
        "a", "c"]


def test_evaluate_many_malformed_lines_print_ten_and_count_all(tmp_path, capsys):
    pred = _jsonl(tmp_path / "p.jsonl", [_pred("a", REF_A, REF_A)] + [f"garbage {i}" for i in range(2500)])
    out = tmp_path / "o"
    assert main(["evaluate", str(pred), "--out", str(out), *FAST]) == 1
    err = _err(capsys)
    assert len(err) == 12, err[:15]
    assert err[0] == f"{pred}:2: invalid JSON (Expecting value at column 1)" and err[9].startswith(f"{pred}:11: ")
    assert err[10].startswith(f"{pred}: more malformed lines follow; only the first 10 are shown")
    assert err[11] == "2500 malformed line(s) skipped"
    inp = json.loads((out / "metrics.json").read_text(encoding="utf-8"))["input"]["predictions"]
    assert inp["n_malformed"] == 2500 and len(inp["malformed"]) == 1000  # all counted, the first 1,000 listed


def test_evaluate_file_that_is_not_jsonl_is_one_line(tmp_path, capsys):
    """A metrics.json, a JSON array, gzip, UTF-16, one deeply nested line: one line saying what the file is."""
    good = _jsonl(tmp_path / "good.jsonl", [_pred("a", REF_A, REF_A), _pred("b", REF_B, REF_B)])
    scored = tmp_path / "scored"
    assert main(["evaluate", str(good), "--out", str(scored), *FAST]) == 0
    capsys.readouterr()
    metrics = scored / "metrics.json"
    arr = tmp_path / "arr.json"
    arr.write_text(json.dumps([_pred("a", REF_A, REF_A)], indent=2), encoding="utf-8")
    gz = tmp_path / "p.jsonl.gz"
    import gzip

    gz.write_bytes(gzip.compress(good.read_bytes()))
    u16 = tmp_path / "u16.jsonl"
    u16.write_bytes(good.read_text(encoding="utf-8").encode("utf-16"))
    deep = tmp_path / "deep.jsonl"
    deep.write_text("[" * 100_000 + "]" * 100_000 + "\n", encoding="utf-8")
    cases = [
        (metrics, f"{metrics}: one JSON object over", "it looks like a metrics.json (evaluate's output): give the "
         "predictions.jsonl or the run folder"),
        (arr, f"{arr}: one JSON array over", "write one object per line"),
        (gz, f"{gz}: a gzip file, not a JSONL file", ""),
        (u16, f"{u16}: UTF-16 text, not a JSONL file", "re-save it as UTF-8"),
        (deep, f"{deep}: no line is a prediction record (1 malformed line(s); line 1: JSON nested too deeply", ""),
    ]
    for path, head, tail in cases:
        out = tmp_path / f"o_{path.name}"
        assert main(["evaluate", str(path), "--out", str(out), *FAST]) == 2, path
        err = _err(capsys)
        assert len(err) == 1 and head in err[0] and tail in err[0] and "Traceback" not in err[0], err
        assert not out.exists()
    # one deeply nested line among good ones: named and skipped
    mixed = _jsonl(tmp_path / "mixed.jsonl", [_pred("a", REF_A, REF_A), '{"a": ' * 50_000 + "1" + "}" * 50_000,
                                              _pred("b", REF_B, REF_B)])
    assert main(["evaluate", str(mixed), "--out", str(tmp_path / "om"), *FAST]) == 1
    assert f"{mixed}:2: JSON nested too deeply (not a record)" in _err(capsys)


def test_evaluate_lang_that_disagrees_with_the_data_is_refused(tmp_path, capsys):
    """--lang zh on English reports: refused in one line instead of a metrics.json that says zh while the
    English reports were read with the Chinese lexicon; --lang en on the same file is scored and recorded."""
    pred = _jsonl(tmp_path / "en.jsonl", [_pred(f"e{i}", REF_C, REF_C) for i in range(3)])
    out = tmp_path / "o"
    assert main(["evaluate", str(pred), "--out", str(out), "--lang", "zh", *FAST]) == 2
    err = _err(capsys)
    assert err == ["pet2rep evaluate: error: --lang zh, but 3 of 3 reference(s) are written in en (first: id 'e0'); "
                   "--lang zh sets the language of every sample; leave it out (auto: each report in its own "
                   "language) or give the language they are in"], err
    assert not out.exists()
    assert main(["evaluate", str(pred), "--out", str(out), "--lang", "en", *FAST]) == 0
    m = json.loads((out / "metrics.json").read_text(encoding="utf-8"))
    assert m["lang"] == "en" and "oua-en-" in m["signatures"]["oua"] and "oua-zh-" not in m["signatures"]["oua"]
    assert m["ce_f1"] > 0.5  # the English uptake statements were read
    # a record that says its own language (pet2rep's predictions) disagreeing with --lang
    tagged = _jsonl(tmp_path / "tagged.jsonl", [_pred("a", REF_A, REF_A) | {"lang": "zh"},
                                                _pred("b", REF_B, REF_B) | {"lang": "en"}])
    assert main(["evaluate", str(tagged), "--out", str(tmp_path / "o2"), "--lang", "zh", *FAST]) == 2
    err = _err(capsys)
    assert len(err) == 1 and f"1 of 2 record(s) say lang 'en' (first: subject_id 'b', {tagged}:2)" in err[0], err
    assert main(["evaluate", str(tagged), "--out", str(tmp_path / "o2"), *FAST]) == 0  # auto: each its own


# ------------------------------------------------------------------------------------------ generate


def test_generate_refuses_image_paths_outside_the_dataset_folder(tmp_path, seed_demo, capsys):
    """'..', an absolute path and a symbolic link out of the dataset folder: each study fails with a line naming
    its record, the run goes on, and no file outside the folder is read."""
    import shutil

    ds = tmp_path / "ds"
    ds.mkdir()
    for img in seed_demo.glob("*.jpg"):
        shutil.copy(img, ds / img.name)
    secret = tmp_path / "outside" / "secret.jpg"
    secret.parent.mkdir()
    shutil.copy(next(seed_demo.glob("*.jpg")), secret)
    (ds / "link.jpg").symlink_to(secret)
    base = json.loads((seed_demo / "prompt_qwen25vl.jsonl").read_text(encoding="utf-8").splitlines()[0])
    cases = {"ok": base["prompt_image_fuse"], "dotdot": ["../outside/secret.jpg"] * 3, "abs": [str(secret)] * 3,
             "link": ["link.jpg"] * 3, "devzero": ["/dev/zero"] * 3, "long": ["ab " * 100_000] * 3}
    _jsonl(ds / "prompts.jsonl", [base | {"patient_id": pid, "prompt_image_fuse": imgs} for pid, imgs in cases.items()])
    run = tmp_path / "run"
    assert main(["generate", str(ds), "--model", "template", "--out", str(run)]) == 1
    err = _err(capsys)
    want = {
        "dotdot": (2, "image '../outside/secret.jpg' resolves outside the dataset folder"),
        "abs": (3, f"image '{secret}' is an absolute path"),
        "link": (4, "image 'link.jpg' resolves outside the dataset folder"),
        "devzero": (5, "image '/dev/zero' is an absolute path"),
        "long": (6, "image 'ab ab"),
    }
    for pid, (line, text) in want.items():
        assert sum(ln.startswith(f"pet2rep generate: error: {ds / 'prompts.jsonl'}:{line}: study '{pid}': {text}")
                   and ln.endswith("refused, this study fails") for ln in err) == 1, (pid, err)
    recs = {r["subject_id"]: r for r in map(json.loads, (run / "predictions.jsonl").read_text().splitlines())}
    assert recs["ok"]["error"] is None and recs["ok"]["llm_output"][0]
    for pid, (_, text) in want.items():
        assert recs[pid]["error"].startswith(text) and recs[pid]["error"].endswith("; refused"), recs[pid]
        assert recs[pid]["llm_output"] == [""]
    info = json.loads((run / "run.json").read_text(encoding="utf-8"))
    assert info["status"] == "complete" and info["n_errors"] == 5
    assert "is too long for a file path" in recs["long"]["error"] and len(recs["long"]["error"]) < 600
    assert all(len(ln) < 1200 for ln in err), [len(ln) for ln in err]
    assert sorted(p.name for p in tmp_path.iterdir()) == ["ds", "outside", "run"]


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


def test_compare_refuses_runs_scored_with_different_settings(tmp_path, capsys):
    rows = [_pred(f"s{i}", REF_A[: 20 + i], REF_A) for i in range(4)]
    pred = _jsonl(tmp_path / "p.jsonl", rows)
    runs = {}
    for name, extra in (("auto", []), ("zh", ["--lang", "zh"]), ("jieba", ["--segmenter", "jieba"])):
        runs[name] = tmp_path / name
        assert main(["evaluate", str(pred), "--out", str(runs[name]), *FAST, *extra]) == 0
    capsys.readouterr()
    # --lang zh and auto read Chinese with the same lexicon: comparable
    assert main(["compare", str(runs["auto"]), str(runs["zh"]), "--n", "20"]) == 0
    capsys.readouterr()
    assert main(["compare", str(runs["auto"]), str(runs["jieba"]), "--n", "20"]) == 2
    err = _err(capsys)
    assert len(err) == 1 and "were scored with different tokenizer settings" in err[0] and "seg:jieba" in err[0], err
    # a run scored with another uptake lexicon (an older pet2rep): its metrics.json says so
    old = tmp_path / "old"
    old.mkdir()
    (old / "per_sample.jsonl").write_bytes((runs["zh"] / "per_sample.jsonl").read_bytes())
    m = json.loads((runs["zh"] / "metrics.json").read_text(encoding="utf-8"))
    sig = m["signatures"]["oua"]
    zh_lex = next(p for p in sig.rsplit("|", 1)[-1].split("+") if p.startswith("oua-zh-"))
    m["signatures"]["oua"] = sig.replace(zh_lex, zh_lex.rsplit("-", 1)[0] + "-000000000000")
    (old / "metrics.json").write_text(json.dumps(m), encoding="utf-8")
    assert main(["compare", str(runs["auto"]), str(old), "--n", "20", "--json", str(tmp_path / "c.json")]) == 2
    err = _err(capsys)
    assert len(err) == 1 and "were scored with different uptake lexicons for zh" in err[0], err
    assert zh_lex in err[0] and "-000000000000" in err[0] and not (tmp_path / "c.json").exists()


def test_compare_names_an_unreadable_metrics_json_and_still_compares(tmp_path, capsys):
    pred = _jsonl(tmp_path / "p.jsonl", [_pred(f"s{i}", REF_A[: 20 + i], REF_A) for i in range(3)])
    a, b = tmp_path / "a", tmp_path / "b"
    for run in (a, b):
        assert main(["evaluate", str(pred), "--out", str(run), *FAST]) == 0
    (b / "metrics.json").write_text('{"signatures": ', encoding="utf-8")
    capsys.readouterr()
    assert main(["compare", str(a), str(b), "--n", "20"]) == 0
    cap = capsys.readouterr()
    assert _err_of(cap) == [f"pet2rep compare: warning: {b / 'metrics.json'}: unreadable (JSONDecodeError); the two "
                            "runs' scoring settings were not compared"]
    assert "3 shared samples" in cap.out


def test_compare_refuses_per_sample_statistics_that_are_not_counts(tmp_path, capsys):
    pred = _jsonl(tmp_path / "p.jsonl", [_pred(f"s{i}", REF_A[: 20 + i], REF_A) for i in range(3)])
    a, b = tmp_path / "a", tmp_path / "b"
    for run in (a, b):
        assert main(["evaluate", str(pred), "--out", str(run), *FAST]) == 0
    rows = (b / "per_sample.jsonl").read_text(encoding="utf-8").splitlines()
    for field, value, needle in (("rouge_l", "1e400", "rouge_l is Infinity"), ("cider", "-1", "cider is -1"),
                                 ("rouge_l", '"0.5"', "rouge_l is \"0.5\""), ("cider", "true", "cider is true")):
        row = json.loads(rows[1])
        row[field] = "__v__"
        bad = rows[:1] + [json.dumps(row).replace('"__v__"', value)] + rows[2:]
        (b / "per_sample.jsonl").write_text("\n".join(bad) + "\n", encoding="utf-8")
        capsys.readouterr()
        assert main(["compare", str(a), str(b), "--n", "20"]) == 2
        err = _err_of(capsys.readouterr())
        assert len(err) == 1 and f"{b / 'per_sample.jsonl'}:2: not a pet2rep per-sample record" in err[0], err
        assert needle in err[0] and "expected a number >= 0" in err[0], err


def _err_of(cap) -> list[str]:
    return [ln for ln in cap.err.splitlines() if ln.strip()]


def test_merge_names_a_shard_whose_last_line_is_cut(tmp_path, seed_demo, capsys):
    import shutil

    ds = tmp_path / "ds"
    ds.mkdir()
    for img in seed_demo.glob("*.jpg"):
        shutil.copy(img, ds / img.name)
    base = json.loads((seed_demo / "prompt_qwen25vl.jsonl").read_text(encoding="utf-8").splitlines()[0])
    _jsonl(ds / "prompts.jsonl", [base | {"patient_id": f"p{i}"} for i in range(4)])
    shards = [tmp_path / f"s{k}" for k in range(2)]
    for k, sh in enumerate(shards):
        assert main(["generate", str(ds), "--model", "template", "--out", str(sh), "--shard", f"{k}/2"]) == 0
    pred = shards[1] / "predictions.jsonl"
    raw = pred.read_bytes()
    pred.write_bytes(raw[: len(raw) - 40])  # the last record cut mid-line, as a crash leaves it
    capsys.readouterr()
    assert main(["merge", *map(str, shards), "--out", str(tmp_path / "m")]) == 1
    err = _err_of(capsys.readouterr())
    assert err == [f"pet2rep merge: warning: {pred}: its last line is cut short (a crash while writing?) and left "
                   "out; run generate on that shard again to answer the study"], err
    merged = (tmp_path / "m" / "predictions.jsonl").read_text(encoding="utf-8").splitlines()
    assert [json.loads(r)["subject_id"] for r in merged] == ["p0", "p1", "p2"]


def test_merge_refuses_a_damaged_shard_field_and_keeps_messages_short(tmp_path, seed_demo, capsys):
    import shutil

    ds = tmp_path / "ds"
    ds.mkdir()
    for img in seed_demo.glob("*.jpg"):
        shutil.copy(img, ds / img.name)
    base = json.loads((seed_demo / "prompt_qwen25vl.jsonl").read_text(encoding="utf-8").splitlines()[0])
    _jsonl(ds / "prompts.jsonl", [base | {"patient_id": f"p{i}"} for i in range(2)])
    shards = [tmp_path / f"s{k}" for k in range(2)]
    for k, sh in enumerate(shards):
        assert main(["generate", str(ds), "--model", "template", "--out", str(sh), "--shard", f"{k}/2"]) == 0
    info_path = shards[1] / "run.json"
    good = json.loads(info_path.read_text(encoding="utf-8"))
    for shard in ("x", {"index": 1, "count": 10**12}, {"index": 3, "count": 2}, {"index": True, "count": 2}):
        info_path.write_text(json.dumps(good | {"shard": shard}), encoding="utf-8")
        capsys.readouterr()
        assert main(["merge", *map(str, shards), "--out", str(tmp_path / "m")]) == 2
        err = _err_of(capsys.readouterr())
        assert len(err) == 1 and f"{info_path}: 'shard' is " in err[0] and "expected null or" in err[0], err
    info_path.write_text(json.dumps(good | {"model": "重复" * 300_000}), encoding="utf-8")
    assert main(["merge", *map(str, shards), "--out", str(tmp_path / "m")]) == 2
    err = _err_of(capsys.readouterr())
    assert len(err) == 1 and len(err[0]) < 400 and "a run of '重复重复" in err[0] and "...'" in err[0], err
    assert not (tmp_path / "m").exists()
    # any error line quoting a megabyte of input is cut by the CLI
    assert main(["generate", str(ds), "--model", "x" * 100_000, "--out", str(tmp_path / "r")]) == 2
    err = _err_of(capsys.readouterr())
    assert len(err) == 1 and len(err[0]) < 1100 and err[0].endswith("more characters)"), err[0][-200:]


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
