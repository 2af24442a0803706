"""`pet2rep evaluate` / `pet2rep compare` end to end on real files, checked against pycocoevalcap."""

from __future__ import annotations

import json
import random
import re
from pathlib import Path

import numpy as np
import pytest

from pet2rep.cli import main
from pet2rep.errors import InputError
from pet2rep.metrics.evaluate import evaluate_predictions, score_pairs
from pet2rep.metrics.stats import CORPUS_METRICS, corpus_scores

TOP_KEYS = ("bleu_1", "bleu_2", "bleu_3", "bleu_4", "meteor", "rouge_l", "cider",
            "ce_precision", "ce_recall", "ce_f1", "overall", "n")
SUBS = [("增高", "未见异常"), ("未见异常", "增高"), ("左", "右"), ("右", "左"), ("轻度", "明显"), ("正常", "异常")]


def _sentences(text: str) -> list[str]:
    return [s for s in re.split(r"(?<=[。；\n])", text) if s.strip()]


def perturb(text: str, rng: random.Random, rate: float) -> str:
    out = []
    for s in _sentences(text):
        if rng.random() < rate * 0.4:
            continue
        if rng.random() < rate:
            a, b = rng.choice(SUBS)
            s = s.replace(a, b, 1)
        out.append(s)
    return "".join(out)


@pytest.fixture(scope="module")
def corpus(demo_record) -> dict:
    """Ten references made from the demo report and two systems of different quality."""
    rng = random.Random(0)
    answer = demo_record["answer"]
    refs = [perturb(answer, rng, 0.3) for _ in range(30)]
    good = [perturb(r, rng, 0.1) for r in refs]
    bad = [perturb(r, rng, 0.9)[: len(r) // 3] for r in refs]
    return {"refs": refs, "good": good, "bad": bad, "prompt": demo_record["prompt_user_text"]}


def write_jsonl(path: Path, rows: list) -> Path:
    path.write_text("".join((r if isinstance(r, str) else json.dumps(r, ensure_ascii=False)) + "\n"
                            for r in rows), encoding="utf-8")
    return path


def coco(hyps: list[str], refs: list[str]) -> dict[str, float]:
    """pycocoevalcap Bleu + Rouge + Cider (+ Meteor through the jar when Java is there)."""
    import contextlib
    import io

    from pycocoevalcap.bleu.bleu import Bleu
    from pycocoevalcap.cider.cider import Cider
    from pycocoevalcap.rouge.rouge import Rouge

    from pet2rep.metrics.tokenize import tokenize

    res = {i: [" ".join(tokenize(h))] for i, h in enumerate(hyps)}
    gts = {i: [" ".join(tokenize(r))] for i, r in enumerate(refs)}
    out: dict[str, float] = {}
    with contextlib.redirect_stdout(io.StringIO()):
        b, _ = Bleu(4).compute_score(gts, res)
    out.update({f"bleu_{k + 1}": b[k] for k in range(4)})
    out["rouge_l"], _ = Rouge().compute_score(gts, res)
    out["cider"], _ = Cider().compute_score(gts, res)
    return out


def test_metrics_json_against_pycocoevalcap(tmp_path: Path, corpus: dict) -> None:
    hyps = [h[:400] for h in corpus["good"][:12]]
    refs = [r[:450] for r in corpus["refs"][:12]]
    rows = [{"subject_id": f"p{i}", "llm_output": [h], "ground_truth": r} for i, (h, r) in enumerate(zip(hyps, refs))]
    pred = write_jsonl(tmp_path / "pred.jsonl", rows)
    m = evaluate_predictions(pred, tmp_path / "out", lang="zh", bootstrap=200, workers=1)
    on_disk = json.loads((tmp_path / "out" / "metrics.json").read_text(encoding="utf-8"))
    assert on_disk["n"] == 12 and m["n"] == 12
    for k in TOP_KEYS:
        assert isinstance(on_disk[k], (int, float)), k
    for k in ("ci", "signatures", "per_state", "per_organ", "confusion", "coverage", "failures", "lang",
              "source", "timing"):
        assert k in on_disk, k
    ref = coco(hyps, refs)
    for k, v in ref.items():
        assert on_disk[k] == pytest.approx(v, rel=1e-6, abs=1e-9), k
    parts = [on_disk[k] for k in ("bleu_4", "meteor", "rouge_l", "ce_precision", "ce_recall", "ce_f1")]
    assert on_disk["overall"] == pytest.approx(100 * sum(parts) / 6)
    assert 0 < on_disk["meteor"] < 1
    for k in CORPUS_METRICS:
        lo, hi = on_disk["ci"][k]
        assert lo <= on_disk[k] + 1e-9 <= hi + 2e-9, k
    assert set(on_disk["signatures"]) >= {"bleu", "meteor", "rouge_l", "cider", "oua", "tokenizer", "bootstrap"}
    assert on_disk["lang"] == "zh"
    assert set(on_disk["per_organ"]) and set(on_disk["per_state"]) == {"increased", "decreased", "absent", "normal"}
    assert on_disk["ce_states"] == "all"
    assert on_disk["signatures"]["oua"].startswith("CE|states:4(increased,decreased,absent,normal)|avg:macro|")


def test_per_sample_recomputes_corpus(tmp_path: Path, corpus: dict) -> None:
    from pet2rep.metrics.compare import load_run

    rows = [{"subject_id": f"p{i}", "llm_output": h, "ground_truth": r}
            for i, (h, r) in enumerate(zip(corpus["good"][:8], corpus["refs"][:8]))]
    pred = write_jsonl(tmp_path / "pred.jsonl", rows)
    m = evaluate_predictions(pred, tmp_path / "out", bootstrap=0, workers=1)
    lines = (tmp_path / "out" / "per_sample.jsonl").read_text(encoding="utf-8").splitlines()
    assert len(lines) == 8
    rec = json.loads(lines[0])
    for k in ("id", "bleu_1", "bleu_4", "meteor", "rouge_l", "cider", "stats", "labels", "failures"):
        assert k in rec, k
    assert set(rec["stats"]) == {"bleu", "meteor", "oua"} and set(rec["labels"]) == {"hyp", "ref"}
    assert list(rec["stats"]["oua"]) == ["increased", "decreased", "absent", "normal"]
    again = corpus_scores(load_run(tmp_path / "out"))
    for k in CORPUS_METRICS:
        assert again[k] == pytest.approx(m[k], rel=1e-12, abs=1e-12), k
    assert m["ci"] == {}
    # the three-state option: same per-sample counts, its own numbers, recomputed the same way
    old = evaluate_predictions(pred, tmp_path / "old", bootstrap=0, workers=1, ce_states="abnormal")
    assert old["ce_states"] == "abnormal" and old["signatures"]["oua"] != m["signatures"]["oua"]
    assert old["signatures"]["oua"].startswith("CE|states:3(increased,decreased,absent)|")
    assert old["per_state"]["normal"]["in_macro"] is False
    again = corpus_scores(load_run(tmp_path / "old", "abnormal"))
    for k in CORPUS_METRICS:
        assert again[k] == pytest.approx(old[k], rel=1e-12, abs=1e-12), k
    assert all(old[k] == m[k] for k in ("bleu_4", "meteor", "rouge_l"))


@pytest.mark.slow
def test_meteor_matches_jar(tmp_path: Path, corpus: dict) -> None:
    from pet2rep.metrics import meteor_jar

    if meteor_jar.find_java() is None:
        pytest.skip("no Java for the METEOR jar")
    from pet2rep.metrics.tokenize import tokenize

    hyps, refs = [h[:300] for h in corpus["good"][:4]], [r[:300] for r in corpus["refs"][:4]]
    m, _ = score_pairs(hyps, refs, lang="zh", bootstrap=0, workers=1)
    from pet2rep.metrics.meteor import meteor_corpus

    toks_h, toks_r = [tokenize(h) for h in hyps], [tokenize(r) for r in refs]
    # the pipeline reports exactly the native METEOR of these tokens ...
    assert m["meteor"] == pytest.approx(meteor_corpus(toks_h, toks_r)[0], rel=1e-12)
    # ... which follows pycocoevalcap's jar (its own tests hold the tight tolerance)
    score, _, _ = meteor_jar.meteor_jar_corpus(toks_h, toks_r)
    assert m["meteor"] == pytest.approx(float(score), abs=0.02)


def test_score_pairs_workers_agree(corpus: dict, monkeypatch) -> None:
    from pet2rep.metrics import evaluate

    monkeypatch.setattr(evaluate, "PARALLEL_MIN_CHARS", 0)  # a small set too goes through the process pool
    hyps, refs = corpus["good"][:20] + [""], corpus["refs"][:20] + [corpus["refs"][0]]
    m1, ps1 = score_pairs(hyps, refs, lang="zh", bootstrap=100, workers=1)
    m2, ps2 = score_pairs(hyps, refs, lang="zh", bootstrap=100, workers=2)
    for k in (*CORPUS_METRICS, "coverage"):
        assert m1[k] == pytest.approx(m2[k], rel=1e-12), k
    assert m1["ci"] == m2["ci"]
    assert [p["failures"] for p in ps1] == [p["failures"] for p in ps2]
    assert ps1[-1]["failures"][:1] == ["empty"]
    # the references are cached between calls; a cold cache gives the same numbers
    assert corpus["refs"][0] in evaluate._REF_CACHE
    evaluate._REF_CACHE.clear()
    m3, ps3 = score_pairs(hyps, refs, lang="zh", bootstrap=100, workers=2)
    assert all(m3[k] == m1[k] for k in CORPUS_METRICS) and ps3 == ps1


def test_benchmark_format_string_and_list(tmp_path: Path, corpus: dict) -> None:
    h, r = corpus["good"][0], corpus["refs"][0]
    as_str = write_jsonl(tmp_path / "a.jsonl", [{"subject_id": "x", "llm_output": h, "ground_truth": r,
                                                  "extra": 1}])
    as_list = write_jsonl(tmp_path / "b.jsonl", [{"subject_id": "x", "llm_output": [h, "另一个输出"],
                                                   "ground_truth": r}])
    warns: list[str] = []
    ma = evaluate_predictions(as_str, tmp_path / "oa", bootstrap=0, workers=1, warn=warns.append)
    mb = evaluate_predictions(as_list, tmp_path / "ob", bootstrap=0, workers=1, warn=warns.append)
    for k in CORPUS_METRICS:
        assert ma[k] == mb[k], k
    assert mb["input"]["multiple_outputs"] == 1 and ma["input"]["multiple_outputs"] == 0
    assert any("several outputs" in w for w in warns)
    rec = json.loads((tmp_path / "ob" / "per_sample.jsonl").read_text(encoding="utf-8"))
    assert any("first is scored" in n for n in rec["notes"])


def test_pet2rep_prediction_records(tmp_path: Path, corpus: dict) -> None:
    rows = [
        {"subject_id": "a", "llm_output": [corpus["good"][0]], "ground_truth": corpus["refs"][0], "model": "m",
         "lang": "zh", "finish_reason": "stop", "error": None, "latency_s": 1.2, "prompt_tokens": 10,
         "completion_tokens": 20, "prompt_user_text": corpus["prompt"]},
        {"subject_id": "b", "llm_output": [""], "ground_truth": corpus["refs"][1], "model": "m", "lang": "zh",
         "finish_reason": None, "error": "timeout after 60 s", "prompt_user_text": corpus["prompt"]},
        {"subject_id": "c", "llm_output": ["患者男，65岁。" + corpus["good"][2][:200]], "ground_truth": corpus["refs"][2],
         "model": "m", "lang": "zh", "finish_reason": "length", "prompt_user_text": corpus["prompt"]},
        {"subject_id": "d", "llm_output": ["The liver shows increased FDG uptake. The spleen is normal."],
         "ground_truth": corpus["refs"][3], "model": "m", "lang": "zh", "finish_reason": "stop"},
        {"subject_id": "e", "llm_output": ["抱歉，我无法根据这些图像生成报告。"], "ground_truth": corpus["refs"][4],
         "model": "m", "finish_reason": "stop"},
    ]
    pred = write_jsonl(tmp_path / "p.jsonl", rows)
    m = evaluate_predictions(pred, tmp_path / "o", bootstrap=0, workers=1)
    ps = {json.loads(x)["id"]: json.loads(x) for x in (tmp_path / "o" / "per_sample.jsonl").read_text().splitlines()}
    assert "error" in ps["b"]["failures"] and "empty" in ps["b"]["failures"]
    assert "truncated" in ps["c"]["failures"] and "invented_demographics" in ps["c"]["failures"]
    assert "error" not in ps["a"]["failures"] and "empty" not in ps["a"]["failures"]
    assert ps["d"]["failures"] == ["template_ignored", "wrong_language"] and ps["d"]["lang"] == "en"
    assert "refusal" in ps["e"]["failures"] and "template_ignored" in ps["e"]["failures"]
    assert ps["e"]["failure_details"]["template_organs"]["covered"] == 0
    assert "wrong_language" not in ps["a"]["failures"] and "template_ignored" not in ps["a"]["failures"]
    assert m["failures"]["counts"]["error"] == 1 and m["failures"]["counts"]["empty"] == 1
    assert m["model"] == "m"


def test_refs_join_missing_and_extra(tmp_path: Path, corpus: dict, demo_record: dict) -> None:
    ds = []
    for i in range(4):
        rec = dict(demo_record)
        rec["patient_id"] = f"s{i}"
        rec["answer"] = corpus["refs"][i]
        ds.append(rec)
    refs = write_jsonl(tmp_path / "ds.jsonl", ds)
    preds = write_jsonl(tmp_path / "p.jsonl", [
        {"subject_id": "s0", "llm_output": [corpus["good"][0]], "ground_truth": "ignored"},
        {"subject_id": "s1", "llm_output": [corpus["good"][1]]},
        {"subject_id": "zz", "llm_output": ["无关"], "ground_truth": "x"},
    ])
    warns: list[str] = []
    m = evaluate_predictions(preds, tmp_path / "o", refs_path=refs, bootstrap=0, workers=1, warn=warns.append)
    assert m["n"] == 4
    assert m["ids"]["missing_predictions"] == ["s2", "s3"]
    assert m["ids"]["without_reference"] == ["zz"]
    assert any("s2, s3" in w and "scored as empty" in w for w in warns)
    assert any("zz" in w and "excluded" in w for w in warns)
    ps = [json.loads(x) for x in (tmp_path / "o" / "per_sample.jsonl").read_text().splitlines()]
    assert [p["id"] for p in ps] == ["s0", "s1", "s2", "s3"]
    assert ps[2]["missing_prediction"] and "empty" in ps[2]["failures"]
    assert m["failures"]["counts"]["missing_prediction"] == 2
    # the reference came from the dataset, not from the prediction's ground_truth
    direct, _ = score_pairs([corpus["good"][0]], [corpus["refs"][0]], bootstrap=0, workers=1)
    assert ps[0]["rouge_l"] == pytest.approx(direct["rouge_l"])


def test_malformed_lines_reported_with_line_numbers(tmp_path: Path, corpus: dict) -> None:
    good = {"subject_id": "a", "llm_output": corpus["good"][0], "ground_truth": corpus["refs"][0]}
    pred = write_jsonl(tmp_path / "p.jsonl", [
        good,
        "{not json",
        "",
        '["a list"]',
        {"llm_output": "x", "ground_truth": "y"},
        {"subject_id": "b", "llm_output": 5, "ground_truth": "y"},
        {"subject_id": "a", "llm_output": "dup", "ground_truth": "y"},
        {"subject_id": "c", "llm_output": None, "ground_truth": corpus["refs"][1]},
        {"subject_id": "d", "ground_truth": corpus["refs"][2]},
    ])
    warns: list[str] = []
    m = evaluate_predictions(pred, tmp_path / "o", bootstrap=0, workers=1, warn=warns.append)
    assert m["n"] == 3  # "a", "c" (null output) and "d" (no output field): the last two scored as empty
    bad = m["input"]["predictions"]["malformed"]
    assert [int(x.split(":")[1]) for x in bad] == [2, 4, 5, 6]
    assert all(x.startswith(f"{pred}:") for x in bad)
    assert "invalid JSON" in bad[0]
    assert any(":7: duplicate subject_id 'a'" in w for w in warns)
    assert any(w.startswith("4 malformed line(s) skipped") for w in warns), warns
    assert m["failures"]["counts"]["empty"] == 2
    assert any(":9: subject_id 'd' has no llm_output" in x for x in m["input"]["predictions"]["notes"])


def test_non_utf8_line_is_named_and_skipped(tmp_path: Path, capsys) -> None:
    """One GBK line among UTF-8 ones: named (file, line, byte) and skipped, the rest scored, exit 1 (issue 13)."""
    pred = tmp_path / "p.jsonl"
    pred.write_bytes(b'{"subject_id": "a", "llm_output": "ok", "ground_truth": "ok"}\n'
                     + '{"subject_id": "b", "llm_output": "肝脏"}\n'.encode("gbk"))
    m = evaluate_predictions(pred, tmp_path / "o", bootstrap=0, workers=1, warn=lambda _m: None)
    assert m["n"] == 1 and m["input"]["predictions"]["n_malformed"] == 1
    assert "p.jsonl:2: not UTF-8 text (byte 0xb8 at column 36" in m["input"]["predictions"]["malformed"][0]
    rc = main(["evaluate", str(pred), "--out", str(tmp_path / "o")])
    err = capsys.readouterr().err.strip().splitlines()
    assert rc == 1 and f"{pred}:2: not UTF-8 text" in err[0] and err[1] == "1 malformed line(s) skipped", err
    assert main(["evaluate", str(tmp_path / "missing.jsonl"), "--out", str(tmp_path / "o")]) == 2


def test_empty_file_and_all_empty_outputs(tmp_path: Path, corpus: dict) -> None:
    pred = write_jsonl(tmp_path / "p.jsonl", [])
    m = evaluate_predictions(pred, tmp_path / "o", workers=1)
    assert m["n"] == 0 and m["overall"] == 0.0
    pred = write_jsonl(tmp_path / "q.jsonl", [{"subject_id": str(i), "llm_output": ["  "], "ground_truth": r}
                                              for i, r in enumerate(corpus["refs"][:3])])
    m = evaluate_predictions(pred, tmp_path / "o2", bootstrap=50, workers=1)
    assert m["failures"]["counts"]["empty"] == 3 and m["bleu_4"] < 1e-6 and m["rouge_l"] == 0.0


def test_cli_evaluate_and_compare(tmp_path: Path, corpus: dict, capsys) -> None:
    refs = corpus["refs"]
    pa = write_jsonl(tmp_path / "a.jsonl", [{"subject_id": f"s{i}", "llm_output": [h], "ground_truth": r}
                                            for i, (h, r) in enumerate(zip(corpus["bad"], refs))])
    pb = write_jsonl(tmp_path / "b.jsonl", [{"subject_id": f"s{i}", "llm_output": [h], "ground_truth": r}
                                            for i, (h, r) in enumerate(zip(corpus["good"], refs))])
    assert main(["evaluate", str(pa), "--out", str(tmp_path / "A"), "--bootstrap", "100", "--workers", "1"]) == 0
    out = capsys.readouterr().out
    assert "bleu_4" in out and "signatures:" in out and "overall" in out
    assert main(["evaluate", str(pb), "--out", str(tmp_path / "B" / "eval"), "--lang", "zh",
                 "--bootstrap", "100", "--workers", "2"]) == 0
    capsys.readouterr()
    for test in ("bootstrap", "ar"):
        js = tmp_path / f"cmp_{test}.json"
        assert main(["compare", str(tmp_path / "A"), str(tmp_path / "B"), "--test", test, "--n", "300",
                     "--json", str(js)]) == 0
        table = capsys.readouterr().out
        assert "95% CI of delta" in table
        res = json.loads(js.read_text())
        assert res["n_shared"] == 30
        for k in ("bleu_4", "rouge_l", "overall"):
            assert res["metrics"][k]["delta"] > 0 and res["metrics"][k]["p"] < 0.05, (test, k)
        same = tmp_path / f"same_{test}.json"
        assert main(["compare", str(tmp_path / "A"), str(tmp_path / "A"), "--test", test, "--n", "200",
                     "--json", str(same)]) == 0
        capsys.readouterr()
        same_metrics = json.loads(same.read_text())["metrics"]
        assert {"bleu_4", "rouge_l", "overall"} <= set(same_metrics)  # `all` below is not vacuous
        assert all(r["p"] == pytest.approx(1.0) and r["delta"] == 0.0 for r in same_metrics.values())


def test_compare_mismatched_ids(tmp_path: Path, corpus: dict, capsys) -> None:
    refs = corpus["refs"][:6]
    pa = write_jsonl(tmp_path / "a.jsonl", [{"subject_id": f"s{i}", "llm_output": h, "ground_truth": r}
                                            for i, (h, r) in enumerate(zip(corpus["good"], refs))])
    pb = write_jsonl(tmp_path / "b.jsonl", [{"subject_id": f"s{i + 2}", "llm_output": h, "ground_truth": r}
                                            for i, (h, r) in enumerate(zip(corpus["good"][2:], refs[2:]))]
                     + [{"subject_id": "extra", "llm_output": "x", "ground_truth": "y"}])
    evaluate_predictions(pa, tmp_path / "A", bootstrap=0, workers=1)
    evaluate_predictions(pb, tmp_path / "B", bootstrap=0, workers=1)
    from pet2rep.metrics.compare import compare_runs

    res = compare_runs(tmp_path / "A", tmp_path / "B", n=100)
    assert res["n_shared"] == 4 and res["only_a"] == ["s0", "s1"] and res["only_b"] == ["extra"]
    # shared samples are the same outputs: no difference (CIDEr-D differs: its df come from each full set)
    assert {"bleu_4", "rouge_l", "meteor", "ce_f1", "overall"} <= set(res["metrics"])  # not vacuous
    assert all(abs(r["delta"]) < 1e-12 for k, r in res["metrics"].items() if k != "cider")
    assert main(["compare", str(tmp_path / "A"), str(tmp_path / "nowhere")]) == 2
    assert "no such run directory" in capsys.readouterr().err


def test_oua_hand_case_through_pipeline() -> None:
    """Known statements -> known labels -> exact counts (uses the uptake extractor on plain sentences)."""
    from pet2rep.metrics.uptake import extract_uptake

    refs = ["肝脏FDG摄取增高。肺FDG摄取增高。", "脾脏FDG摄取未见异常。"]
    hyps = ["肝脏FDG摄取增高。肺FDG摄取未见异常。", "脾脏FDG摄取增高。"]
    labels = [(extract_uptake(h, lang="zh"), extract_uptake(r, lang="zh")) for h, r in zip(hyps, refs)]
    # the plain reading of these sentences; a skip here would hide the hand case below
    assert labels == [({"liver": ["increased"], "lung": ["normal"]}, {"liver": ["increased"], "lung": ["increased"]}),
                      ({"spleen": ["increased"]}, {"spleen": ["normal"]})], labels
    m, ps = score_pairs(hyps, refs, lang="zh", bootstrap=0, workers=1)
    inc, nor = m["per_state"]["increased"], m["per_state"]["normal"]
    assert (inc["tp"], inc["fp"], inc["fn"]) == (1, 1, 1)
    # normal: the lung is called normal (reference: increased), the normal spleen is called increased
    assert (nor["tp"], nor["fp"], nor["fn"]) == (0, 1, 1) and nor["in_macro"]
    assert not m["per_state"]["decreased"]["in_macro"] and not m["per_state"]["absent"]["in_macro"]
    # four states, two in the macro: increased 0.5/0.5 and normal 0/0
    assert m["ce_precision"] == pytest.approx(0.25) and m["ce_recall"] == pytest.approx(0.25)
    assert m["ce_f1"] == pytest.approx(0.25)
    assert ps[0]["stats"]["oua"]["increased"] == [1, 0, 1]
    assert ps[0]["stats"]["oua"]["normal"] == [0, 1, 0] and ps[1]["stats"]["oua"]["normal"] == [0, 0, 1]
    # increased alone (the three-state option): 0.5 each, as before the four-state CE
    old, _ = score_pairs(hyps, refs, lang="zh", bootstrap=0, workers=1, ce_states="abnormal")
    assert (old["ce_precision"], old["ce_recall"], old["ce_f1"]) == pytest.approx((0.5, 0.5, 0.5))
    assert np.isclose(m["coverage"], (2 / 19 + 1 / 19) / 2)


def test_prediction_without_reference_is_listed_and_excluded(tmp_path: Path, corpus: dict) -> None:
    pred = write_jsonl(tmp_path / "p.jsonl", [
        {"subject_id": "a", "llm_output": [corpus["good"][0]], "ground_truth": corpus["refs"][0]},
        {"subject_id": "b", "llm_output": [corpus["good"][1]], "ground_truth": None},
        {"subject_id": "c", "llm_output": [corpus["good"][2]]},
    ])
    warns: list[str] = []
    m = evaluate_predictions(pred, tmp_path / "o", bootstrap=0, workers=1, warn=warns.append)
    assert m["n"] == 1 and m["ids"]["without_reference"] == ["b", "c"]
    assert any("2 prediction(s) without a reference (excluded): b, c" in w for w in warns)


def test_oracle_with_cached_references_in_worker_pool(corpus: dict) -> None:
    """Regression: when every text is already tokenised (an oracle scored after the references were cached),
    the parallel path must not start an empty pool (it raised 'max_workers must be greater than 0')."""
    refs = (corpus["refs"] * 3)[:40]
    score_pairs(list(refs), refs, lang="zh", bootstrap=0, workers=2)  # caches the reference texts
    m, ps = score_pairs(list(refs), refs, lang="zh", bootstrap=0, workers=2)
    assert len(ps) == 40
    assert m["bleu_4"] == pytest.approx(1.0) and m["rouge_l"] == pytest.approx(1.0)


def test_compare_uses_the_runs_ce_definition(tmp_path: Path, corpus: dict, capsys) -> None:
    """compare applies the CE definition the runs were scored with, to the point and to every resample."""
    from pet2rep.metrics.compare import compare_runs

    refs = corpus["refs"][:10]
    pa = write_jsonl(tmp_path / "a.jsonl", [{"subject_id": f"s{i}", "llm_output": h, "ground_truth": r}
                                            for i, (h, r) in enumerate(zip(corpus["bad"], refs))])
    pb = write_jsonl(tmp_path / "b.jsonl", [{"subject_id": f"s{i}", "llm_output": h, "ground_truth": r}
                                            for i, (h, r) in enumerate(zip(corpus["good"], refs))])
    ma = evaluate_predictions(pa, tmp_path / "A", bootstrap=0, workers=1)
    mb = evaluate_predictions(pb, tmp_path / "B", bootstrap=0, workers=1)
    res = compare_runs(tmp_path / "A", tmp_path / "B", n=100)
    assert res["ce_states"] == "all" and res["ce_signature"] == mb["signatures"]["oua"].rsplit("|oua-", 1)[0]
    for k in ("ce_precision", "ce_recall", "ce_f1"):
        assert res["metrics"][k]["a"] == pytest.approx(ma[k], rel=1e-12)
        assert res["metrics"][k]["b"] == pytest.approx(mb[k], rel=1e-12)
    for run, out in ((pa, "A3"), (pb, "B3")):
        assert main(["evaluate", str(run), "--out", str(tmp_path / out), "--bootstrap", "0", "--workers", "1",
                     "--ce-states", "abnormal"]) == 0
    capsys.readouterr()
    m3 = json.loads((tmp_path / "B3" / "metrics.json").read_text(encoding="utf-8"))
    res3 = compare_runs(tmp_path / "A3", tmp_path / "B3", n=100)
    assert res3["ce_states"] == "abnormal" and res3["metrics"]["ce_f1"]["b"] == pytest.approx(m3["ce_f1"])
    with pytest.raises(InputError, match="--ce-states"):
        compare_runs(tmp_path / "A", tmp_path / "B3", n=10)
    mixed = compare_runs(tmp_path / "A", tmp_path / "B3", n=10, ce_states="all")
    assert mixed["metrics"]["ce_f1"]["b"] == pytest.approx(mb["ce_f1"])  # same outputs, the definition applied
    # per_sample.jsonl written before the four-state CE (no normal counts): only the abnormal definition
    legacy = tmp_path / "legacy"
    legacy.mkdir()
    rows = [json.loads(x) for x in (tmp_path / "A3" / "per_sample.jsonl").read_text(encoding="utf-8").splitlines()]
    for r in rows:
        del r["stats"]["oua"]["normal"]
    write_jsonl(legacy / "per_sample.jsonl", rows)
    with pytest.raises(InputError, match="without 'normal' counts"):
        compare_runs(legacy, tmp_path / "A3", n=10, ce_states="all")
    same = compare_runs(legacy, tmp_path / "A3", n=10, ce_states="abnormal")
    assert all(abs(r["delta"]) < 1e-12 for r in same["metrics"].values())


def test_a_megabyte_output_is_cut_for_scoring_and_flagged(tmp_path, capsys):
    """A model stuck in a repetition loop (1 MB of output): scored on its first MAX_SCORED_CHARS characters,
    flagged `truncated_for_scoring`, the other studies scored as usual (bounded time and memory)."""
    import json as _json

    from pet2rep.cli import main
    from pet2rep.metrics.evaluate import MAX_SCORED_CHARS

    ref = "肝脏FDG摄取增高。脾脏FDG摄取未见异常。"
    loop = "肝脏FDG摄取增高。" * (1_000_000 // 10)
    pred = tmp_path / "pred.jsonl"
    pred.write_text("".join(_json.dumps({"subject_id": sid, "llm_output": [hyp], "ground_truth": ref},
                                        ensure_ascii=False) + "\n"
                            for sid, hyp in (("loop", loop), ("ok", ref))), encoding="utf-8")
    assert main(["evaluate", str(pred), "--out", str(tmp_path / "m"), "--bootstrap", "0", "--workers", "1"]) == 0
    rows = {r["id"]: r for r in map(_json.loads, (tmp_path / "m" / "per_sample.jsonl").read_text().splitlines())}
    assert rows["loop"]["truncated_for_scoring"] is True and "truncated_for_scoring" not in rows["ok"]
    assert rows["loop"]["n_tokens"]["hyp"] <= MAX_SCORED_CHARS and rows["ok"]["bleu_4"] == pytest.approx(1.0)
    metrics = _json.loads((tmp_path / "m" / "metrics.json").read_text())
    assert metrics["n"] == 2 and metrics["n_truncated_for_scoring"] == 1


@pytest.mark.parametrize("argv", [["evaluate", "/dev/zero", "--out", "OUT"], ["uptake", "/dev/zero"],
                                  ["uptake", "--eval", "/dev/zero"]])
def test_endless_or_huge_input_is_refused_not_read_into_memory(tmp_path, capsys, argv, monkeypatch):
    """/dev/zero never ends: refused after MAX_INPUT_BYTES in one line; a regular file over the limit is refused
    before a byte is read (the limit lowered here so the test stays small)."""
    from pet2rep import errors
    from pet2rep.cli import main

    monkeypatch.setattr(errors, "MAX_INPUT_BYTES", 1 << 20)
    argv = [str(tmp_path / "o") if a == "OUT" else a for a in argv]
    assert main(argv) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "/dev/zero: larger than 1,048,576 bytes" in err[0], err
    big = tmp_path / "big.jsonl"
    big.write_bytes(b"x" * ((1 << 20) + 1))
    assert main(["evaluate", str(big), "--out", str(tmp_path / "o2")]) == 2
    assert "big.jsonl: larger than 1,048,576 bytes" in capsys.readouterr().err


def test_chunks_cover_every_sample_once_largest_first():
    """Worker chunks: contiguous, every sample once, largest first (a third of what is left per worker, at most 512),
    none under 16 samples but the last, so the workers finish together."""
    from pet2rep.metrics.evaluate import _chunks

    for n, workers in ((1, 2), (16, 2), (100, 2), (565, 2), (565, 8), (5000, 2), (100_000, 4)):
        ch = _chunks(n, workers)
        assert ch[0][0] == 0 and ch[-1][1] == n and all(a[1] == b[0] for a, b in zip(ch, ch[1:]))
        sizes = [b - a for a, b in ch]
        assert sizes[:-1] == sorted(sizes[:-1], reverse=True) and max(sizes) <= 512 and sizes[-1] <= sizes[0]
        assert all(s >= 16 for s in sizes[:-1])
    assert [b - a for a, b in _chunks(565, 2)][:3] == [95, 79, 66]


def test_metrics_json_says_how_far_ce_can_be_trusted(tmp_path: Path, corpus: dict, capsys) -> None:
    """metrics.json's `ce_validation` is the extractor's pooled first-run figure on new clinician text in the run's
    language (data/uptake_validation.yaml), `evaluate` prints it in one line, an English run gets the English figure,
    and the file's figures are the ones the README quotes (both written from benchmarks/uptake_generalization.py)."""
    import re

    import yaml

    from pet2rep.cli import main as cli_main
    from pet2rep.metrics.clinical import ce_validation

    table = yaml.safe_load((Path(__file__).parents[1] / "src/pet2rep/data/uptake_validation.yaml").read_text("utf-8"))
    rows = [{"subject_id": f"p{i}", "llm_output": [h[:300]], "ground_truth": r[:300]}
            for i, (h, r) in enumerate(zip(corpus["good"][:3], corpus["refs"][:3]))]
    pred = write_jsonl(tmp_path / "pred.jsonl", rows)
    assert cli_main(["evaluate", str(pred), "--out", str(tmp_path / "zh"), "--bootstrap", "0", "--workers", "1"]) == 0
    out = capsys.readouterr().out
    on_disk = json.loads((tmp_path / "zh" / "metrics.json").read_text(encoding="utf-8"))
    assert on_disk["lang"] == "zh" and on_disk["ce_validation"] == table["zh"]
    assert f"micro-F1 {table['zh']['first_run_micro_f1']:.3f}" in out and "Chinese clinician-written texts" in out
    en = [{"subject_id": "e0", "llm_output": ["Intense FDG uptake in a right upper lobe nodule."],
           "ground_truth": "Increased FDG uptake in the right lung nodule, SUVmax 8."}]
    m = evaluate_predictions(write_jsonl(tmp_path / "en.jsonl", en), tmp_path / "en", bootstrap=0, workers=1)
    assert m["lang"] == "en" and m["ce_validation"]["first_run_micro_f1"] == table["en"]["first_run_micro_f1"] < 0.95
    assert ce_validation("auto") is None and ce_validation("fr") is None
    readme = (Path(__file__).parents[1] / "README.md").read_text(encoding="utf-8")
    pooled = re.search(r"\*\*en ([0-9.]+)\*\* \((\d+) texts, (\d+)\s+labels; normal recall ([0-9.]+)\) and \*\*zh ([0-9.]+)"
                       r"\*\* \((\d+) texts, (\d+) labels; normal recall ([0-9.]+)\)", readme)
    assert pooled, "the README's pooled first-run sentence moved"
    for lang, (f1, texts, labels, nr) in (("en", pooled.groups()[:4]), ("zh", pooled.groups()[4:])):
        e = table[lang]
        assert (e["first_run_micro_f1"], e["texts"], e["labels"], e["normal_recall"]) == (
            float(f1), int(texts), int(labels), float(nr)), lang
