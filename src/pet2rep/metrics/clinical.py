"""Organ uptake assessment (OUA): clinical-efficacy scores from extracted uptake labels.

For each study, key organ o and abnormal state c in (increased, decreased, absent): y_ref = 1 when the
reference states c for o, y_hyp = 1 when the model output does (labels from
:func:`pet2rep.metrics.uptake.extract_uptake`). TP/FP/FN are summed over studies x organs per state;
per-state precision/recall/F1 follow, and CE-precision/recall/F1 are their macro average over the states
that have support or predictions (a state with neither is left out; with none left, the scores are 0).

Everything reduces to a per-study count array of shape (3 states, 3) = [[TP, FP, FN], ...] so corpus
scores, bootstrap intervals and paired tests come from sums of those arrays.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np

from pet2rep.organs import ABNORMAL_STATES, ORGANS, STATES

NOT_MENTIONED = "not mentioned"
CONFUSION_STATES: tuple[str, ...] = (*STATES, NOT_MENTIONED)
# When one organ carries several states (e.g. one liver lesion hot, another cold), the confusion table
# uses the first of these as the organ's state.
_PRIORITY: tuple[str, ...] = ("increased", "decreased", "absent", "normal")
_ORGAN_INDEX = {o: i for i, o in enumerate(ORGANS)}
_STATE_INDEX = {s: i for i, s in enumerate(ABNORMAL_STATES)}

Labels = Mapping[str, Sequence[str]]


def label_matrix(labels: Labels | None) -> np.ndarray:
    """Boolean (19 organs, 3 abnormal states) matrix: True where the report states that uptake."""
    m = np.zeros((len(ORGANS), len(ABNORMAL_STATES)), dtype=bool)
    for organ, states in (labels or {}).items():
        oi = _ORGAN_INDEX.get(organ)
        if oi is None:
            continue
        for s in states or ():
            si = _STATE_INDEX.get(s)
            if si is not None:
                m[oi, si] = True
    return m


def organ_counts(hyp: Labels | None, ref: Labels | None) -> np.ndarray:
    """Per-organ counts for one study: int array (19 organs, 3 states, 3) holding [TP, FP, FN]."""
    h, r = label_matrix(hyp), label_matrix(ref)
    return np.stack([h & r, h & ~r, ~h & r], axis=-1).astype(np.int64)


def oua_counts(hyp: Labels | None, ref: Labels | None) -> np.ndarray:
    """Per-state counts for one study: int array (3 states, 3) holding [TP, FP, FN] summed over organs."""
    return organ_counts(hyp, ref).sum(axis=0)


def _safe_div(num: np.ndarray, den: np.ndarray) -> np.ndarray:
    num = np.asarray(num, dtype=np.float64)
    den = np.asarray(den, dtype=np.float64)
    out = np.zeros(np.broadcast(num, den).shape, dtype=np.float64)
    np.divide(num, den, out=out, where=den > 0)
    return out


def prf(counts: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Precision, recall, F1 from [..., 3] arrays of [TP, FP, FN] (0 where undefined)."""
    c = np.asarray(counts, dtype=np.float64)
    tp, fp, fn = c[..., 0], c[..., 1], c[..., 2]
    p = _safe_div(tp, tp + fp)
    r = _safe_div(tp, tp + fn)
    f = _safe_div(2 * p * r, p + r)
    return p, r, f


def ce_scores(counts: np.ndarray) -> dict[str, np.ndarray]:
    """Macro CE-precision/recall/F1 from summed counts of shape (..., 3 states, 3); vectorised over `...`.

    A state with no support and no predictions (TP + FP + FN = 0) is left out of the average.
    """
    c = np.asarray(counts, dtype=np.float64)
    p, r, f = prf(c)
    used = c.sum(axis=-1) > 0
    n_used = used.sum(axis=-1)

    def macro(x: np.ndarray) -> np.ndarray:
        return _safe_div((x * used).sum(axis=-1), n_used)

    return {"ce_precision": macro(p), "ce_recall": macro(r), "ce_f1": macro(f)}


def per_state_table(counts: np.ndarray) -> dict[str, dict[str, float]]:
    """{state: {precision, recall, f1, tp, fp, fn, support, predicted}} from summed (3, 3) counts."""
    c = np.asarray(counts, dtype=np.int64)
    p, r, f = prf(c)
    out: dict[str, dict[str, float]] = {}
    for i, s in enumerate(ABNORMAL_STATES):
        tp, fp, fn = (int(x) for x in c[i])
        out[s] = {"precision": float(p[i]), "recall": float(r[i]), "f1": float(f[i]), "tp": tp, "fp": fp,
                  "fn": fn, "support": tp + fn, "predicted": tp + fp, "in_macro": bool(tp + fp + fn > 0)}
    return out


def per_organ_table(counts: np.ndarray) -> dict[str, dict[str, float]]:
    """{organ: {precision, recall, f1, tp, fp, fn, support}} pooled over the 3 abnormal states.

    `counts` is the (19, 3, 3) per-organ array summed over studies.
    """
    pooled = np.asarray(counts, dtype=np.int64).sum(axis=1)  # (19, 3)
    p, r, f = prf(pooled)
    out: dict[str, dict[str, float]] = {}
    for i, organ in enumerate(ORGANS):
        tp, fp, fn = (int(x) for x in pooled[i])
        out[organ] = {"precision": float(p[i]), "recall": float(r[i]), "f1": float(f[i]), "tp": tp,
                      "fp": fp, "fn": fn, "support": tp + fn}
    return out


def primary_state(states: Sequence[str] | None) -> str:
    """One state for an organ's label list (priority increased > decreased > absent > normal)."""
    if states:
        for s in _PRIORITY:
            if s in states:
                return s
    return NOT_MENTIONED


def confusion_table(hyps: Sequence[Labels | None], refs: Sequence[Labels | None]) -> dict[str, dict]:
    """Per organ: {reference state: {predicted state: count}}, states including "not mentioned"."""
    idx = {s: i for i, s in enumerate(CONFUSION_STATES)}
    k = len(CONFUSION_STATES)
    table = np.zeros((len(ORGANS), k, k), dtype=np.int64)
    for h, r in zip(hyps, refs):
        h, r = h or {}, r or {}
        for oi, organ in enumerate(ORGANS):
            table[oi, idx[primary_state(r.get(organ))], idx[primary_state(h.get(organ))]] += 1
    return {
        organ: {rs: {hs: int(table[oi, ri, hi]) for hi, hs in enumerate(CONFUSION_STATES)}
                for ri, rs in enumerate(CONFUSION_STATES)}
        for oi, organ in enumerate(ORGANS)
    }


def mentioned_organs(labels: Labels | None) -> list[str]:
    """Key organs the report speaks about (any uptake state, normal included)."""
    return [o for o in ORGANS if (labels or {}).get(o)]


def coverage(labels: Labels | None) -> float:
    """Share of the 19 key organs the report speaks about."""
    return len(mentioned_organs(labels)) / len(ORGANS)


def oua_summary(hyps: Sequence[Labels | None], refs: Sequence[Labels | None]) -> dict[str, Any]:
    """All OUA outputs for a set of studies: CE scores, per-state, per-organ, confusion, coverage."""
    organ = np.zeros((len(ORGANS), len(ABNORMAL_STATES), 3), dtype=np.int64)
    cov_h: list[float] = []
    cov_r: list[float] = []
    for h, r in zip(hyps, refs):
        organ += organ_counts(h, r)
        cov_h.append(coverage(h))
        cov_r.append(coverage(r))
    states = organ.sum(axis=0)
    ce = {k: float(v) for k, v in ce_scores(states).items()}
    return {
        **ce,
        "per_state": per_state_table(states),
        "per_organ": per_organ_table(organ),
        "confusion": confusion_table(hyps, refs),
        "coverage": float(np.mean(cov_h)) if cov_h else 0.0,
        "coverage_reference": float(np.mean(cov_r)) if cov_r else 0.0,
    }
