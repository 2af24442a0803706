"""Stages working together: synthetic ground truth vs the uptake extractor, and the demo end to end."""

from __future__ import annotations

import json

import pytest

from pet2rep.ingest.synth import synth_cohort
from pet2rep.metrics.uptake import extract_uptake
from pet2rep.study import read_study


@pytest.fixture(scope="module")
def cohort(tmp_path_factory):
    return [read_study(p, arrays=False) for p in synth_cohort(tmp_path_factory.mktemp("c"), n=12, seed=7, progress=False)]


@pytest.mark.parametrize("lang", ["zh", "en"])
def test_extractor_recovers_synthetic_ground_truth(cohort, lang):
    """Synthetic reports come with known labels; the OUA extractor must read them back from the text."""
    tp = fp = fn = 0
    abnormal = 0
    for study in cohort:
        truth = {(o, s) for o, states in study.labels.items() for s in states}
        got = {(o, s) for o, states in extract_uptake(study.report(lang), lang).items() for s in states}
        abnormal += sum(s != "normal" for _, s in truth)
        tp += len(truth & got)
        fp += len(got - truth)
        fn += len(truth - got)
    assert abnormal >= 5  # the cohort has lesions to find
    assert 2 * tp / (2 * tp + fp + fn) >= 0.98, (tp, fp, fn)


def test_demo_end_to_end(tmp_path):
    """`pet2rep demo`: every stage's files, the oracle at the ceiling, the template below it."""
    from pet2rep.cli import main

    assert main(["demo", "--out", str(tmp_path)]) == 0  # exactly what `make demo` runs: 20 studies
    board = (tmp_path / "leaderboard.md").read_text(encoding="utf-8")
    assert "| oracle |" in board and "| template |" in board
    assert board.index("| oracle |") < board.index("| template |")  # best first
    assert len(list((tmp_path / "dataset" / "slice_prompt").glob("*/*_coronal.jpg"))) == 60
    oracle = json.loads((tmp_path / "runs" / "oracle" / "metrics.json").read_text(encoding="utf-8"))
    template = json.loads((tmp_path / "runs" / "template" / "metrics.json").read_text(encoding="utf-8"))
    for key in ("bleu_1", "bleu_4", "rouge_l", "ce_f1"):
        assert oracle[key] == pytest.approx(1.0), key
    assert oracle["meteor"] > 0.99 and oracle["overall"] > 99.0
    assert oracle["n"] == template["n"] == 20
    assert 0 < template["bleu_4"] < 1
    # the fixed normal report states only normal uptake: the abnormal states, which the references have, score 0
    # and CE is normal's P/R/F1 divided by the four states in the macro (as the paper's template row)
    ps = template["per_state"]
    assert all(ps[s]["predicted"] == 0 and ps[s]["support"] > 0 for s in ("increased", "decreased", "absent"))
    assert ps["normal"]["tp"] > 0 and all(ps[s]["in_macro"] for s in ps)
    assert template["ce_precision"] == pytest.approx(ps["normal"]["precision"] / 4)
    assert template["ce_recall"] == pytest.approx(ps["normal"]["recall"] / 4)
    assert template["ce_f1"] == pytest.approx(ps["normal"]["f1"] / 4) and template["ce_f1"] > 0.1
    for name in ("template", "oracle"):
        run = tmp_path / "runs" / name
        assert (run / "predictions.jsonl").exists() and (run / "per_sample.jsonl").exists()
