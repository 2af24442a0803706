"""The metric registry (issue 11): every stage iterates over it, and a new metric is one class.

The built-in metrics are checked against the formulas they replace; a metric added from outside the package
(a module that registers one class) is then followed through the real CLI — `evaluate` (metrics.json score,
interval and signature; per_sample.jsonl value), `compare` and `leaderboard` — in a fresh interpreter.
"""

from __future__ import annotations

import json
import math
import subprocess
import sys
import textwrap
from pathlib import Path

import numpy as np
import pytest

from pet2rep.metrics.registry import (
    METRICS,
    SCORES,
    Options,
    Pair,
    overall_parts,
    register,
)
from pet2rep.metrics.stats import CORPUS_METRICS, OVERALL_PARTS, SampleStats, corpus_scores


def test_registry_holds_the_papers_metrics_in_order() -> None:
    assert list(METRICS) == ["bleu", "meteor", "rouge_l", "cider", "oua"]
    assert CORPUS_METRICS == ("bleu_1", "bleu_2", "bleu_3", "bleu_4", "meteor", "rouge_l", "cider",
                              "ce_precision", "ce_recall", "ce_f1", "overall")
    assert OVERALL_PARTS == overall_parts() == ("bleu_4", "meteor", "rouge_l", "ce_precision", "ce_recall", "ce_f1")
    assert all(s.higher_is_better for s in SCORES)
    with pytest.raises(ValueError, match="already registered"):
        register(METRICS["bleu"])


def test_mean_of_scores_is_a_ratio_of_sums() -> None:
    """ROUGE-L/CIDEr rows are [score, 1]: any weighting gives the weighted mean, and no weight gives 0."""
    scores = np.array([0.2, 0.5, 0.9])
    s = SampleStats(["a", "b", "c"], rouge_l=scores, cider=scores * 2)
    assert s.stats["rouge_l"].tolist() == [[0.2, 1.0], [0.5, 1.0], [0.9, 1.0]]
    w = np.array([[2.0, 0.0, 1.0], [0.0, 0.0, 0.0]])
    got = METRICS["rouge_l"].corpus(w @ s.stats["rouge_l"], Options())["rouge_l"]
    assert got.tolist() == pytest.approx([(2 * 0.2 + 0.9) / 3, 0.0])
    assert s.rouge_l.tolist() == scores.tolist() and s.cider.tolist() == pytest.approx((scores * 2).tolist())


def test_oua_per_sample_and_record_round_trip() -> None:
    pair = Pair([], [], {"liver": ["increased"], "lung": ["normal"]}, {"liver": ["increased"], "bone": ["increased"]})
    m = METRICS["oua"]
    row = m.pair_stats(pair, Options())
    assert row.reshape(4, 3)[0].tolist() == [1, 0, 1] and row.reshape(4, 3)[3].tolist() == [0, 1, 0]
    rec: dict = {}
    m.record(rec, row, {})
    assert rec == {"stats": {"oua": {"increased": [1, 0, 1], "decreased": [0, 0, 0], "absent": [0, 0, 0],
                                     "normal": [0, 1, 0]}}}
    assert m.from_record(rec, lambda v, what: float(v)) == row.tolist()
    ce = m.corpus(row[None, :], Options())
    # four-state macro over the states with support or predictions (increased and normal): P (1 + 0)/2, R (0.5 + 0)/2
    assert float(ce["ce_precision"][0]) == pytest.approx(0.5) and float(ce["ce_recall"][0]) == pytest.approx(0.25)


def test_meteor_segment_batch_equals_the_scalar_segment_score() -> None:
    from pet2rep.metrics.meteor import meteor_segment, meteor_segment_batch, meteor_stats

    rng = np.random.default_rng(5)
    words = "the liver lung node uptake increased normal no focal mild bone".split()
    rows = []
    for _ in range(40):
        ref = list(rng.choice(words, size=int(rng.integers(1, 30))))
        hyp = list(rng.choice(words, size=int(rng.integers(0, 30))))
        rows.append(meteor_stats(hyp, ref))
    batch = meteor_segment_batch(np.stack(rows))
    assert batch.tolist() == pytest.approx([meteor_segment(r) for r in rows], abs=1e-12)
    assert len({round(x, 6) for x in batch}) > 10  # not a constant


def test_corpus_scores_equal_the_formulas_they_replace() -> None:
    from pet2rep.metrics.clinical import ce_scores
    from pet2rep.metrics.meteor import meteor_from_stats
    from pet2rep.metrics.nlg import bleu_scores

    rng = np.random.default_rng(2)
    n = 25
    bleu = rng.integers(0, 30, size=(n, 10)).astype(float)
    bleu[:, 0] += 40  # hypothesis lengths
    meteor = np.abs(rng.normal(5, 3, size=(n, 24))).round()
    oua = rng.integers(0, 3, size=(n, 4, 3))
    s = SampleStats([str(i) for i in range(n)], bleu, meteor, rng.random(n), rng.random(n), oua)
    got = corpus_scores(s)
    assert [got[f"bleu_{k + 1}"] for k in range(4)] == pytest.approx(list(bleu_scores(bleu.sum(0)[None])[0][:4]))
    assert got["meteor"] == pytest.approx(meteor_from_stats(meteor))
    assert got["rouge_l"] == pytest.approx(s.rouge_l.mean()) and got["cider"] == pytest.approx(s.cider.mean())
    ce = ce_scores(oua.sum(0))
    assert got["ce_f1"] == pytest.approx(float(ce["ce_f1"]))


PLUGIN = '''
"""A metric added from outside pet2rep: |log length ratio| of hypothesis to reference tokens (lower is better)."""
import math

from pet2rep.metrics.registry import MeanOfScores, Score, register


class LengthGap(MeanOfScores):
    name = "length_gap"
    scores = (Score("length_gap", "Len. gap", digits=3, higher_is_better=False),)

    def pair_score(self, pair, opts):
        return abs(math.log((len(pair.hyp_tokens) + 1) / (len(pair.ref_tokens) + 1)))

    def signature(self, opts):
        return "length-gap|abs-log-ratio|v:1|" + opts.tokenizer


register(LengthGap())
'''


def test_a_registered_metric_flows_through_evaluate_compare_and_leaderboard(tmp_path: Path, demo_record) -> None:
    (tmp_path / "length_gap_metric.py").write_text(PLUGIN, encoding="utf-8")
    ref = demo_record["answer"]
    sents = [s for s in ref.split("。") if s.strip()]
    systems = {"short": ["。".join(sents[: 2 + i % 3]) + "。" for i in range(8)],
               "full": [ref if i % 2 else "。".join(sents[:-1]) + "。" for i in range(8)]}
    runs = tmp_path / "runs"
    for name, hyps in systems.items():
        rows = [{"subject_id": f"s{i}", "llm_output": [h], "ground_truth": ref} for i, h in enumerate(hyps)]
        (tmp_path / f"{name}.jsonl").write_text("".join(json.dumps(r, ensure_ascii=False) + "\n" for r in rows),
                                                encoding="utf-8")
    script = textwrap.dedent(f"""
        import sys
        sys.path.insert(0, {str(tmp_path)!r})
        import length_gap_metric  # noqa: F401 - registers the metric
        from pet2rep.cli import main
        for name in ("short", "full"):
            assert main(["evaluate", {str(tmp_path)!r} + f"/{{name}}.jsonl", "--out", {str(runs)!r} + f"/{{name}}",
                         "--bootstrap", "200", "--workers", "1", "--no-cache"]) == 0
        assert main(["compare", {str(runs / "short")!r}, {str(runs / "full")!r}, "--n", "200",
                     "--json", {str(tmp_path / "cmp.json")!r}]) == 0
        assert main(["leaderboard", {str(runs)!r}, "--format", "csv,tex", "--test", "none"]) == 0
    """)
    proc = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=600)
    assert proc.returncode == 0, proc.stderr[-3000:]

    from pet2rep.metrics.tokenize import tokenize

    rtok = len(tokenize(ref))
    for name, hyps in systems.items():
        m = json.loads((runs / name / "metrics.json").read_text(encoding="utf-8"))
        want = [abs(math.log((len(tokenize(h)) + 1) / (rtok + 1))) for h in hyps]
        assert m["length_gap"] == pytest.approx(sum(want) / len(want), rel=1e-12)
        lo, hi = m["ci"]["length_gap"]
        assert lo <= m["length_gap"] <= hi
        assert m["signatures"]["length_gap"].startswith("length-gap|abs-log-ratio|v:1|tok:")
        per = [json.loads(x) for x in (runs / name / "per_sample.jsonl").read_text(encoding="utf-8").splitlines()]
        assert [r["length_gap"] for r in per] == pytest.approx(want, rel=1e-12)
        assert m["overall"] == pytest.approx(sum(m[k] for k in OVERALL_PARTS) / 6 * 100)  # Overall unchanged
    cmp = json.loads((tmp_path / "cmp.json").read_text(encoding="utf-8"))["metrics"]["length_gap"]
    short = json.loads((runs / "short" / "metrics.json").read_text(encoding="utf-8"))["length_gap"]
    full = json.loads((runs / "full" / "metrics.json").read_text(encoding="utf-8"))["length_gap"]
    assert cmp["delta"] == pytest.approx(full - short) and full < short
    header = (runs / "leaderboard.csv").read_text(encoding="utf-8").splitlines()[0]
    assert "length_gap" in header
    tex = (runs / "leaderboard.tex").read_text(encoding="utf-8")
    assert "Len. gap" in tex
    # lower is better: the bold value of the column is the smaller one (the "full" run's)
    assert f"\\textbf{{{full:.3f}}}" in tex and f"\\textbf{{{short:.3f}}}" not in tex
