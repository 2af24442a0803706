"""OUA scoring from extracted labels: a hand-computed case with exact TP/FP/FN/P/R/F1."""

from __future__ import annotations

import numpy as np
import pytest

from pet2rep.metrics.clinical import (
    NOT_MENTIONED,
    ce_scores,
    coverage,
    oua_counts,
    oua_summary,
    primary_state,
)

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
    total = sum(oua_counts(h, r) for h, r in zip(HYPS, REFS))
    assert total.tolist() == [[2, 2, 1], [1, 1, 0], [0, 1, 1]]
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
    assert out["ce_precision"] == pytest.approx(1 / 3)
    assert out["ce_recall"] == pytest.approx(5 / 9)
    assert out["ce_f1"] == pytest.approx(26 / 63)
    assert out["coverage"] == pytest.approx(8 / 57)
    assert out["coverage_reference"] == pytest.approx(6 / 57)


def test_per_organ_and_confusion() -> None:
    out = oua_summary(HYPS, REFS)
    liver = out["per_organ"]["liver"]
    assert (liver["tp"], liver["fp"], liver["fn"], liver["support"]) == (2, 1, 0, 2)
    assert liver["precision"] == pytest.approx(2 / 3) and liver["recall"] == pytest.approx(1.0)
    assert out["per_organ"]["lung"]["fn"] == 1 and out["per_organ"]["lung"]["f1"] == 0.0
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
    counts = np.array([[3, 1, 2], [0, 0, 0], [0, 0, 0]])
    ce = ce_scores(counts)
    assert float(ce["ce_precision"]) == pytest.approx(0.75)
    assert float(ce["ce_recall"]) == pytest.approx(0.6)
    assert float(ce["ce_f1"]) == pytest.approx(2 * 0.75 * 0.6 / 1.35)
    # a state with only false positives is kept (and drags the macro average down)
    ce2 = ce_scores(np.array([[3, 1, 2], [0, 4, 0], [0, 0, 0]]))
    assert float(ce2["ce_precision"]) == pytest.approx(0.375)
    # nothing anywhere: 0, not NaN
    assert float(ce_scores(np.zeros((3, 3)))["ce_f1"]) == 0.0


def test_vectorised_over_draws() -> None:
    batch = np.stack([np.array([[3, 1, 2], [0, 0, 0], [0, 0, 0]]), np.array([[2, 2, 1], [1, 1, 0], [0, 1, 1]])])
    ce = ce_scores(batch)
    assert ce["ce_f1"].shape == (2,)
    assert ce["ce_f1"][1] == pytest.approx(26 / 63)


def test_unknown_organs_and_states_ignored_and_helpers() -> None:
    c = oua_counts({"heart": ["increased"], "liver": ["weird", "increased"]}, {"liver": ["increased"]})
    assert c.tolist() == [[1, 0, 0], [0, 0, 0], [0, 0, 0]]
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
