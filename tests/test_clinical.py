"""OUA scoring from extracted labels: hand-computed cases with exact TP/FP/FN/P/R/F1, and the paper's CE row."""

from __future__ import annotations

import numpy as np
import pytest

from pet2rep.metrics.clinical import (
    NOT_MENTIONED,
    ce_scores,
    ce_signature,
    coverage,
    oua_counts,
    oua_summary,
    primary_state,
)
from pet2rep.organs import STATES

# Three studies with known extracted labels (hyp = model output, ref = reference report).
REFS = [
    {"liver": ["increased"], "lung": ["increased"], "kidney": ["absent"]},
    {"liver": ["decreased"], "stomach": ["increased"]},
    {"brain": ["normal"]},
]
HYPS = [
    {"liver": ["increased"], "lung": ["normal"], "bone": ["increased"]},
    {"liver": ["decreased", "increased"], "stomach": ["increased"], "brain": ["normal"]},
    {"kidney": ["absent"], "spleen": ["decreased"]},
]


def test_hand_computed_counts_and_scores() -> None:
    # increased: TP s1 liver, s2 stomach; FP s1 bone, s2 liver; FN s1 lung
    # decreased: TP s2 liver; FP s3 spleen
    # absent:    FP s3 kidney; FN s1 kidney
    # normal:    FP s1 lung (the reference says increased), s2 brain; FN s3 brain
    total = sum(oua_counts(h, r) for h, r in zip(HYPS, REFS))
    assert total.tolist() == [[2, 2, 1], [1, 1, 0], [0, 1, 1], [0, 2, 1]]
    out = oua_summary(HYPS, REFS)
    ps = out["per_state"]
    assert ps["increased"]["precision"] == pytest.approx(0.5)
    assert ps["increased"]["recall"] == pytest.approx(2 / 3)
    assert ps["increased"]["f1"] == pytest.approx(4 / 7)
    assert ps["increased"]["support"] == 3 and ps["increased"]["predicted"] == 4
    assert ps["decreased"]["precision"] == pytest.approx(0.5)
    assert ps["decreased"]["recall"] == pytest.approx(1.0)
    assert ps["decreased"]["f1"] == pytest.approx(2 / 3)
    assert (ps["absent"]["tp"], ps["absent"]["fp"], ps["absent"]["fn"]) == (0, 1, 1)
    assert ps["absent"]["f1"] == 0.0
    assert (ps["normal"]["tp"], ps["normal"]["fp"], ps["normal"]["fn"]) == (0, 2, 1)
    assert all(ps[s]["in_macro"] for s in STATES)
    # default (four states): P = (1/2 + 1/2 + 0 + 0) / 4, R = (2/3 + 1 + 0 + 0) / 4, F1 = 2PR / (P + R)
    assert out["ce_precision"] == pytest.approx(1 / 4)
    assert out["ce_recall"] == pytest.approx(5 / 12)
    assert out["ce_f1"] == pytest.approx(5 / 16)
    # the three abnormal states only, CE-F1 the mean of the per-state F1 (the earlier definition)
    old = oua_summary(HYPS, REFS, ce_states="abnormal")
    assert old["ce_precision"] == pytest.approx(1 / 3)
    assert old["ce_recall"] == pytest.approx(5 / 9)
    assert old["ce_f1"] == pytest.approx((4 / 7 + 2 / 3 + 0) / 3) and old["ce_f1"] == pytest.approx(26 / 63)
    assert old["per_state"]["normal"]["in_macro"] is False and old["per_state"]["increased"]["in_macro"]
    assert out["coverage"] == pytest.approx(8 / 57)
    assert out["coverage_reference"] == pytest.approx(6 / 57)


def test_per_organ_and_confusion() -> None:
    out = oua_summary(HYPS, REFS)
    liver = out["per_organ"]["liver"]
    assert (liver["tp"], liver["fp"], liver["fn"], liver["support"]) == (2, 1, 0, 2)
    assert liver["precision"] == pytest.approx(2 / 3) and liver["recall"] == pytest.approx(1.0)
    assert out["per_organ"]["lung"]["fn"] == 1 and out["per_organ"]["lung"]["f1"] == 0.0
    # per organ pools the states of the CE definition: brain is normal-only
    assert (out["per_organ"]["brain"]["fp"], out["per_organ"]["brain"]["fn"]) == (1, 1)
    brain_old = oua_summary(HYPS, REFS, ce_states="abnormal")["per_organ"]["brain"]
    assert (brain_old["tp"], brain_old["fp"], brain_old["fn"]) == (0, 0, 0)
    conf = out["confusion"]["liver"]
    assert conf["increased"]["increased"] == 1
    assert conf["decreased"]["increased"] == 1  # several states: increased wins (priority)
    assert conf[NOT_MENTIONED][NOT_MENTIONED] == 1
    assert out["confusion"]["lung"]["increased"]["normal"] == 1
    assert out["confusion"]["brain"]["normal"][NOT_MENTIONED] == 1
    assert out["confusion"]["brain"][NOT_MENTIONED]["normal"] == 1
    # every study is counted once per organ
    assert sum(sum(row.values()) for row in conf.values()) == 3


def test_state_without_support_or_predictions_is_left_out() -> None:
    counts = np.array([[3, 1, 2], [0, 0, 0], [0, 0, 0], [0, 0, 0]])
    for ce_states in ("all", "abnormal"):
        ce = ce_scores(counts, ce_states)
        assert float(ce["ce_precision"]) == pytest.approx(0.75)
        assert float(ce["ce_recall"]) == pytest.approx(0.6)
        assert float(ce["ce_f1"]) == pytest.approx(2 * 0.75 * 0.6 / 1.35)  # one state: both F1 readings agree
    # a state with only false positives is kept (and drags the macro average down)
    ce2 = ce_scores(np.array([[3, 1, 2], [0, 4, 0], [0, 0, 0], [0, 0, 0]]))
    assert float(ce2["ce_precision"]) == pytest.approx(0.375)
    # nothing anywhere: 0, not NaN
    assert float(ce_scores(np.zeros((4, 3)))["ce_f1"]) == 0.0
    assert float(ce_scores(np.zeros((3, 3)), "abnormal")["ce_f1"]) == 0.0


def test_state_with_support_but_no_prediction_scores_zero_in_the_macro() -> None:
    # increased perfect; normal has 10 references and no prediction: it is in the macro at P = R = 0
    counts = np.array([[5, 0, 0], [0, 0, 0], [0, 0, 0], [0, 0, 10]])
    ce = ce_scores(counts)
    assert (float(ce["ce_precision"]), float(ce["ce_recall"]), float(ce["ce_f1"])) == (0.5, 0.5, 0.5)
    # the abnormal-only definition does not see normal: a perfect 1
    assert float(ce_scores(counts, "abnormal")["ce_f1"]) == 1.0


def test_oracle_scores_one() -> None:
    """hyp == ref: every state with support has P = R = 1; states with neither are left out."""
    for refs in (REFS, [{"liver": ["normal"]}, {"lung": ["normal"], "bone": ["normal"]}]):
        out = oua_summary(refs, refs)
        assert (out["ce_precision"], out["ce_recall"], out["ce_f1"]) == (1.0, 1.0, 1.0)
    assert oua_summary(REFS, REFS, ce_states="abnormal")["ce_f1"] == 1.0


def test_paper_template_row() -> None:
    """The fixed normal template: normal P 0.912, R 0.888; three abnormal states with support, no prediction.

    Four-state macro: 0.912/4 = 0.228, 0.888/4 = 0.222, F1 0.900/4 = 0.225, the paper's row; with its NLG
    numbers (0.315, 0.148, 0.511) Overall is 27.5. Over the abnormal states alone it would be 0.
    """
    from pet2rep.metrics.stats import overall_score

    tp = 4218  # P = 4218/4625 = 0.912, R = 4218/4750 = 0.888 exactly
    counts = np.array([[0, 0, 300], [0, 0, 40], [0, 0, 25], [tp, 4625 - tp, 4750 - tp]])
    p, r = 0.912, 0.888
    ce = {k: float(v) for k, v in ce_scores(counts).items()}
    assert ce["ce_precision"] == pytest.approx(p / 4) and round(ce["ce_precision"], 3) == 0.228
    assert ce["ce_recall"] == pytest.approx(r / 4) and round(ce["ce_recall"], 3) == 0.222
    assert ce["ce_f1"] == pytest.approx(2 * p * r / (p + r) / 4) and round(ce["ce_f1"], 3) == 0.225
    # one state predicted: the mean of per-state F1 gives the same row (this row cannot tell them apart)
    f1_normal = 2 * p * r / (p + r)
    assert round(f1_normal, 3) == 0.900 and ce["ce_f1"] == pytest.approx(f1_normal / 4)
    vals = {"bleu_4": 0.315, "meteor": 0.148, "rouge_l": 0.511, **{k: round(v, 3) for k, v in ce.items()}}
    assert round(float(overall_score(vals)), 1) == 27.5
    assert round(float(overall_score({**vals, **ce})), 1) == 27.5  # unrounded CE too
    assert all(float(v) == 0.0 for v in ce_scores(counts, "abnormal").values())


def test_f1_is_the_harmonic_mean_of_ce_p_and_ce_r() -> None:
    """With two states predicted at different P : R ratios the readings differ; the default is 2PR/(P+R)."""
    # normal P 0.9 R 0.3; increased P 0.2 R 0.8; decreased and absent support only
    counts = np.array([[8, 32, 2], [0, 0, 5], [0, 0, 5], [9, 1, 21]])
    p, r, f = (0.9 + 0.2) / 4, (0.3 + 0.8) / 4, (2 * 0.9 * 0.3 / 1.2 + 2 * 0.2 * 0.8 / 1.0) / 4
    ce = ce_scores(counts)
    assert float(ce["ce_precision"]) == pytest.approx(p) and float(ce["ce_recall"]) == pytest.approx(r)
    assert float(ce["ce_f1"]) == pytest.approx(2 * p * r / (p + r))
    assert f < 2 * p * r / (p + r) - 0.05  # the mean of per-state F1 is lower (it never exceeds the harmonic mean)
    # the paper's rows: CE-F1 = 2PR/(P+R) to the third decimal in each (template, Qwen2.5-VL-7B, MedGemma-4B,
    # Lingshu-32B, GPT-4o, Gemini 2.5 Pro)
    rows = [(0.228, 0.222, 0.225), (0.228, 0.202, 0.214), (0.236, 0.225, 0.230), (0.233, 0.207, 0.219),
            (0.254, 0.073, 0.113), (0.239, 0.031, 0.055)]
    for rp, rr, rf in rows:
        assert round(2 * rp * rr / (rp + rr), 3) == rf


def test_three_state_option_has_its_own_signature() -> None:
    assert ce_signature() == ce_signature("all")
    assert ce_signature().startswith("CE|states:4(increased,decreased,absent,normal)|avg:macro|")
    assert ce_signature().endswith("f1:harmonic-of-ce-p-ce-r")
    assert ce_signature("abnormal").startswith("CE|states:3(increased,decreased,absent)|avg:macro|")
    assert ce_signature("abnormal").endswith("f1:mean-of-state-f1")
    with pytest.raises(ValueError, match="unknown CE states"):
        ce_signature("normal")


def test_vectorised_over_draws() -> None:
    batch = np.stack([np.array([[3, 1, 2], [0, 0, 0], [0, 0, 0], [0, 0, 0]]),
                      np.array([[2, 2, 1], [1, 1, 0], [0, 1, 1], [0, 2, 1]])])
    for ce_states, f1 in (("all", 5 / 16), ("abnormal", 26 / 63)):
        ce = ce_scores(batch, ce_states)
        assert ce["ce_f1"].shape == (2,)
        assert ce["ce_f1"][1] == pytest.approx(f1)
        assert ce["ce_f1"][0] == pytest.approx(2 * 0.75 * 0.6 / 1.35)


def test_unknown_organs_and_states_ignored_and_helpers() -> None:
    c = oua_counts({"heart": ["increased"], "liver": ["weird", "increased"]}, {"liver": ["increased"]})
    assert c.tolist() == [[1, 0, 0], [0, 0, 0], [0, 0, 0], [0, 0, 0]]
    assert oua_counts(None, None).sum() == 0
    assert primary_state([]) == NOT_MENTIONED and primary_state(["normal", "absent"]) == "absent"
    assert coverage({"liver": ["normal"], "lung": [], "heart": ["increased"]}) == pytest.approx(1 / 19)


def test_primary_state_full_priority_order() -> None:
    """increased > decreased > absent > normal, whatever the order of the list."""
    assert primary_state(["normal", "absent", "decreased", "increased"]) == "increased"
    assert primary_state(["normal", "absent", "decreased"]) == "decreased"
    assert primary_state(["absent", "decreased"]) == "decreased"
    assert primary_state(["normal", "absent"]) == "absent"
    assert primary_state(["normal"]) == "normal"
    assert primary_state(None) == NOT_MENTIONED
