"""Organ uptake assessment (OUA): clinical-efficacy (CE) scores from extracted uptake labels.

For each study, key organ o and uptake state c in (increased, decreased, absent, normal): y_ref = 1 when the
reference states c for o, y_hyp = 1 when the model output does (labels from
:func:`pet2rep.metrics.uptake.extract_uptake`). TP/FP/FN are summed over studies x organs per state, and
per-state precision P_c, recall R_c and F1 follow (0 where a ratio is 0/0).

The CE scores follow one of two definitions (``ce_states``):

``all`` (default; it reproduces the paper's table)
    The states in the macro are the four states that have support or predictions (TP + FP + FN > 0): a state
    with support but no prediction scores P = R = 0 and stays in; a state with neither is left out, so an
    oracle still scores 1. CE-P and CE-R are the means of P_c and R_c over those states, and CE-F1 is the
    harmonic mean of CE-P and CE-R, 2·CE-P·CE-R / (CE-P + CE-R).
``abnormal`` (pet2rep's earlier definition, the paper's own wording of CE)
    The same macro over increased / decreased / absent only, with CE-F1 the mean of the per-state F1.

Why four states: the paper's fixed-template baseline (a normal report for every study) has CE-P 0.228,
CE-R 0.222, CE-F1 0.225. Over the abnormal states alone an all-normal report scores 0 by construction. Over
all four, normal with P 0.912 and R 0.888 (F1 0.900) and three abnormal states with support but no
prediction give 0.912/4 = 0.228, 0.888/4 = 0.222 and 0.900/4 = 0.225.

Why CE-F1 is the harmonic mean of CE-P and CE-R: on the six rows of the paper's table we can read (template
0.228/0.222/0.225; Qwen2.5-VL-7B 0.228/0.202/0.214; MedGemma-4B 0.236/0.225/0.230; Lingshu-32B
0.233/0.207/0.219; GPT-4o 0.254/0.073/0.113; Gemini 2.5 Pro 0.239/0.031/0.055) CE-F1 is the harmonic mean of
CE-P and CE-R to the third decimal in every row. The mean of per-state F1 is never above that harmonic mean
(the harmonic mean is concave and homogeneous) and equals it only when all states with TP > 0 have the same
P_c : R_c ratio (a state with TP = 0 sits at P = R = 0 and does not break the equality). In the template row
only normal has TP > 0, so the two readings coincide (0.900/4 both ways) and that row cannot tell them apart.
A row can only tell them apart when two or more states have TP > 0; the only row where the published numbers
force that is GPT-4o: its CE-P 0.254 is above 0.25, the most normal alone can give with four states in the
macro (the template row's divisor of 4 shows that all four have support in the paper's references), so an
abnormal state has TP > 0. There the mean of per-state F1 would reach 0.113 only if every state with TP > 0
had P_c : R_c close to 0.254 : 0.073 ≈ 3.5. The paper publishes no per-state values, so no row can be checked
decisively; the harmonic mean reproduces every row by construction, so it is the default.

Everything reduces to a per-study count array of shape (4 states, 3) = [[TP, FP, FN], ...] in ``STATES``
order (increased, decreased, absent, normal) so corpus scores, bootstrap intervals and paired tests come from
sums of those arrays followed by :func:`ce_scores`; the ``abnormal`` definition reads the rows of its states.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from functools import lru_cache
from importlib import resources
from typing import Any

import numpy as np

from pet2rep.organs import ABNORMAL_STATES, ORGANS, STATES

NOT_MENTIONED = "not mentioned"
CONFUSION_STATES: tuple[str, ...] = (*STATES, NOT_MENTIONED)
# When one organ carries several states (e.g. one liver lesion hot, another cold), the confusion table
# uses the first of these as the organ's state.
_PRIORITY: tuple[str, ...] = ("increased", "decreased", "absent", "normal")
_ORGAN_INDEX = {o: i for i, o in enumerate(ORGANS)}
_STATE_INDEX = {s: i for i, s in enumerate(STATES)}

Labels = Mapping[str, Sequence[str]]


@dataclass(frozen=True)
class CEDefinition:
    """Which states enter the CE macro average, and how CE-F1 is formed."""

    name: str
    states: tuple[str, ...]
    f1: str  # "harmonic": 2·CE-P·CE-R / (CE-P + CE-R); "mean": mean of the per-state F1

    def signature(self) -> str:
        f1 = "harmonic-of-ce-p-ce-r" if self.f1 == "harmonic" else "mean-of-state-f1"
        return (f"CE|states:{len(self.states)}({','.join(self.states)})|avg:macro|"
                f"in-macro:states-with-support-or-predictions|f1:{f1}")


CE_DEFINITIONS: dict[str, CEDefinition] = {
    "all": CEDefinition("all", STATES, "harmonic"),
    "abnormal": CEDefinition("abnormal", ABNORMAL_STATES, "mean"),
}
CE_STATES: tuple[str, ...] = tuple(CE_DEFINITIONS)
DEFAULT_CE_STATES = "all"


def ce_definition(ce_states: str = DEFAULT_CE_STATES) -> CEDefinition:
    """The CE definition named `ce_states` ("all" or "abnormal"); ValueError for another name."""
    try:
        return CE_DEFINITIONS[ce_states]
    except KeyError:
        raise ValueError(f"unknown CE states {ce_states!r}; choose {' or '.join(CE_STATES)}") from None


def ce_signature(ce_states: str = DEFAULT_CE_STATES) -> str:
    """E.g. ``CE|states:4(increased,decreased,absent,normal)|avg:macro|...|f1:harmonic-of-ce-p-ce-r``."""
    return ce_definition(ce_states).signature()


def label_matrix(labels: Labels | None) -> np.ndarray:
    """Boolean (19 organs, 4 states) matrix, states in ``STATES`` order: True where the report states that."""
    m = np.zeros((len(ORGANS), len(STATES)), dtype=bool)
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
    """Per-organ counts for one study: int array (19 organs, 4 states, 3) holding [TP, FP, FN]."""
    h, r = label_matrix(hyp), label_matrix(ref)
    return np.stack([h & r, h & ~r, ~h & r], axis=-1).astype(np.int64)


def oua_counts(hyp: Labels | None, ref: Labels | None) -> np.ndarray:
    """Per-state counts for one study: int array (4 states, 3) holding [TP, FP, FN] summed over organs."""
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


def _state_rows(counts: np.ndarray, d: CEDefinition) -> np.ndarray:
    """The rows of (..., k states, 3) counts that definition `d` averages over."""
    k = counts.shape[-2]
    if k == len(d.states):
        return counts
    if k == len(STATES):  # four-state counts, a definition over fewer states: take those rows
        return counts[..., [_STATE_INDEX[s] for s in d.states], :]
    raise ValueError(f"CE counts have {k} states; the {d.name!r} definition needs {len(STATES)}")


def ce_scores(counts: np.ndarray, ce_states: str = DEFAULT_CE_STATES) -> dict[str, np.ndarray]:
    """CE-precision/recall/F1 from summed counts of shape (..., 4 states, 3); vectorised over `...`.

    States are averaged as the module docstring says: those with TP + FP + FN > 0 are in the macro (a state
    with support but no prediction at P = R = 0), the others are left out; with none left the scores are 0.
    ``ce_states="abnormal"`` also takes (..., 3, 3) counts over increased/decreased/absent.
    """
    d = ce_definition(ce_states)
    c = _state_rows(np.asarray(counts, dtype=np.float64), d)
    p, r, f = prf(c)
    used = c.sum(axis=-1) > 0
    n_used = used.sum(axis=-1)

    def macro(x: np.ndarray) -> np.ndarray:
        return _safe_div((x * used).sum(axis=-1), n_used)

    ce_p, ce_r = macro(p), macro(r)
    ce_f1 = _safe_div(2 * ce_p * ce_r, ce_p + ce_r) if d.f1 == "harmonic" else macro(f)
    return {"ce_precision": ce_p, "ce_recall": ce_r, "ce_f1": ce_f1}


def per_state_table(counts: np.ndarray, ce_states: str = DEFAULT_CE_STATES) -> dict[str, dict[str, float]]:
    """{state: {precision, recall, f1, tp, fp, fn, support, predicted, in_macro}} from summed (4, 3) counts.

    Every state is listed; `in_macro` says whether it enters the CE average of definition `ce_states`.
    Legacy (3, 3) counts list the three abnormal states.
    """
    c = np.asarray(counts, dtype=np.int64)
    states = STATES if c.shape[0] == len(STATES) else ABNORMAL_STATES
    averaged = set(ce_definition(ce_states).states)
    p, r, f = prf(c)
    out: dict[str, dict[str, float]] = {}
    for i, s in enumerate(states):
        tp, fp, fn = (int(x) for x in c[i])
        out[s] = {"precision": float(p[i]), "recall": float(r[i]), "f1": float(f[i]), "tp": tp, "fp": fp,
                  "fn": fn, "support": tp + fn, "predicted": tp + fp,
                  "in_macro": bool(s in averaged and tp + fp + fn > 0)}
    return out


def per_organ_table(counts: np.ndarray, ce_states: str = DEFAULT_CE_STATES) -> dict[str, dict[str, float]]:
    """{organ: {precision, recall, f1, tp, fp, fn, support}} pooled over the states of definition `ce_states`.

    `counts` is the (19, 4, 3) per-organ array summed over studies.
    """
    c = _state_rows(np.asarray(counts, dtype=np.int64), ce_definition(ce_states))
    pooled = c.sum(axis=1)  # (19, 3)
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


def oua_summary(hyps: Sequence[Labels | None], refs: Sequence[Labels | None],
                ce_states: str = DEFAULT_CE_STATES) -> dict[str, Any]:
    """All OUA outputs for a set of studies: CE scores, per-state, per-organ, confusion, coverage."""
    organ = np.zeros((len(ORGANS), len(STATES), 3), dtype=np.int64)
    cov_h: list[float] = []
    cov_r: list[float] = []
    for h, r in zip(hyps, refs):
        organ += organ_counts(h, r)
        cov_h.append(coverage(h))
        cov_r.append(coverage(r))
    states = organ.sum(axis=0)
    ce = {k: float(v) for k, v in ce_scores(states, ce_states).items()}
    return {
        **ce,
        "ce_states": ce_states,
        "per_state": per_state_table(states, ce_states),
        "per_organ": per_organ_table(organ, ce_states),
        "confusion": confusion_table(hyps, refs),
        "coverage": float(np.mean(cov_h)) if cov_h else 0.0,
        "coverage_reference": float(np.mean(cov_r)) if cov_r else 0.0,
    }


def ce_validation(lang: str | None) -> dict[str, Any] | None:
    """How the organ-uptake extractor did on new clinician-written text in `lang` (its pooled first runs on held-out
    sets; ``data/uptake_validation.yaml``), or None for a language without such figures."""
    if lang not in ("zh", "en"):
        return None
    entry = _validation_table().get(lang)
    return dict(entry) if entry else None


@lru_cache(maxsize=1)
def _validation_table() -> dict[str, Any]:
    import yaml

    text = resources.files("pet2rep.data").joinpath("uptake_validation.yaml").read_text(encoding="utf-8")
    return yaml.safe_load(text) or {}


def ce_validation_line(entry: dict[str, Any] | None, lang: str | None) -> str | None:
    """One line saying how far CE can be trusted in this language (for `pet2rep evaluate`'s summary)."""
    if not entry:
        return None
    name = {"zh": "Chinese", "en": "English"}.get(lang or "", lang)
    return (f"CE rests on the uptake extractor: micro-F1 {entry['first_run_micro_f1']:.3f} (normal recall "
            f"{entry['normal_recall']:.3f}) on {entry['texts']} {name} clinician-written texts it was never tuned on "
            f"(first runs, held-out sets {entry['held_out_sets']}); check a run's statements with `pet2rep uptake`")
