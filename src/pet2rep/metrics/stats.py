"""Corpus scores from per-sample sufficient statistics; bootstrap intervals and paired tests.

Every corpus metric is a function of column sums (BLEU n-gram matches/totals and lengths, METEOR match
statistics, OUA TP/FP/FN per uptake state) or of a mean of per-sample scores (ROUGE-L, CIDEr-D). Resampling
studies is therefore a weight matrix W (draws x studies, W[b, i] = how often study i is drawn) times
the per-sample statistic matrix, followed by the corpus formula applied to each row: one pass, no
re-scoring. The CE scores of every draw use the definition the point estimate uses (``SampleStats.ce_states``):
the draw's TP/FP/FN are summed per state first, then :func:`pet2rep.metrics.clinical.ce_scores` applies.

CIDEr-D is approximated in resampling: per-sample scores are computed once with document frequencies
from the full set and only their mean is resampled (the signature says so).

Paired tests follow sacrebleu's: paired bootstrap resampling (Koehn 2004) with the centred statistic
|d_b| - mean|d| compared to the observed |d|, and approximate randomisation with per-sample swaps;
p = (count + 1) / (trials + 1). Counts use ``>=`` so that a system compared with itself gets p = 1.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np

CORPUS_METRICS: tuple[str, ...] = (
    "bleu_1", "bleu_2", "bleu_3", "bleu_4", "meteor", "rouge_l", "cider",
    "ce_precision", "ce_recall", "ce_f1", "overall",
)
OVERALL_PARTS: tuple[str, ...] = ("bleu_4", "meteor", "rouge_l", "ce_precision", "ce_recall", "ce_f1")
BLOCK = 250  # bootstrap draws per matrix product (bounds memory for large sets)


def overall_score(values: dict[str, Any]) -> Any:
    """PET2Rep "overall": mean of BLEU-4, METEOR, ROUGE-L, CE-P, CE-R, CE-F1, in percent."""
    return sum(np.asarray(values[k], dtype=np.float64) for k in OVERALL_PARTS) / len(OVERALL_PARTS) * 100.0


@dataclass
class SampleStats:
    """Per-sample sufficient statistics of one scored run, rows in `ids` order."""

    ids: list[str]
    bleu: np.ndarray  # (n, kb) BLEU statistics (pet2rep.metrics.nlg.bleu_stats layout)
    meteor: np.ndarray  # (n, km) METEOR statistics (pet2rep.metrics.meteor.meteor_stats layout)
    rouge_l: np.ndarray  # (n,)
    cider: np.ndarray  # (n,) CIDEr-D per sample (df from the full set)
    oua: np.ndarray  # (n, 4, 3) [TP, FP, FN] per uptake state (pet2rep.organs.STATES order)
    ce_states: str = "all"  # the CE definition (pet2rep.metrics.clinical.CE_DEFINITIONS)
    extra: dict[str, Any] = field(default_factory=dict)

    def __len__(self) -> int:
        return len(self.ids)

    def take(self, idx: Sequence[int]) -> SampleStats:
        """The rows `idx` (in that order)."""
        ix = np.asarray(idx, dtype=np.int64)
        return SampleStats([self.ids[i] for i in ix], self.bleu[ix], self.meteor[ix], self.rouge_l[ix],
                           self.cider[ix], self.oua[ix], self.ce_states)


def _rows(fn: Callable[[np.ndarray], Any], sums: np.ndarray) -> np.ndarray:
    return np.asarray([np.asarray(fn(row), dtype=np.float64) for row in sums], dtype=np.float64)


def bleu_batch(sums: np.ndarray) -> np.ndarray:
    """BLEU-1..4 for each row of summed BLEU statistics: (B, kb) -> (B, 4)."""
    from pet2rep.metrics.nlg import bleu_scores

    return np.asarray(bleu_scores(np.asarray(sums, dtype=np.float64)), dtype=np.float64)[:, :4]


def meteor_batch(sums: np.ndarray) -> np.ndarray:
    """Corpus METEOR for each row of summed METEOR statistics: (B, km) -> (B,)."""
    from pet2rep.metrics import meteor

    batch = getattr(meteor, "meteor_from_stats_batch", None)
    if batch is not None:
        return np.asarray(batch(sums), dtype=np.float64).reshape(len(sums))
    return _rows(meteor.meteor_from_stats, sums).reshape(len(sums))


def scores_from_weights(s: SampleStats, w: np.ndarray) -> dict[str, np.ndarray]:
    """Corpus scores for each row of the weight matrix `w` (B, n): {metric: (B,)}."""
    from pet2rep.metrics.clinical import ce_scores

    w = np.asarray(w, dtype=np.float64)
    tot = w.sum(axis=1)
    tot[tot == 0] = 1.0
    out: dict[str, np.ndarray] = {}
    bleu = bleu_batch(w @ s.bleu)
    for k in range(4):
        out[f"bleu_{k + 1}"] = bleu[:, k]
    out["meteor"] = meteor_batch(w @ s.meteor)
    out["rouge_l"] = (w @ s.rouge_l) / tot
    out["cider"] = (w @ s.cider) / tot
    oua = (w @ s.oua.reshape(len(s), -1)).reshape(len(w), *s.oua.shape[1:])
    out.update(ce_scores(oua, s.ce_states))
    out["overall"] = overall_score(out)
    return out


def corpus_scores(s: SampleStats) -> dict[str, float]:
    """Point estimates of every corpus metric."""
    if len(s) == 0:
        return dict.fromkeys(CORPUS_METRICS, 0.0)
    return {k: float(v[0]) for k, v in scores_from_weights(s, np.ones((1, len(s)))).items()}


def _weights(idx: np.ndarray, n: int) -> np.ndarray:
    """Draw-count matrix (B, n) from a (B, n) index matrix."""
    b = idx.shape[0]
    flat = (np.arange(b, dtype=np.int64)[:, None] * n + idx).ravel()
    return np.bincount(flat, minlength=b * n).reshape(b, n).astype(np.float64)


def _draw_blocks(rng: np.random.Generator, n_draws: int, n: int):
    done = 0
    while done < n_draws:
        b = min(BLOCK, n_draws - done)
        yield _weights(rng.integers(0, n, size=(b, n)), n)
        done += b


def bootstrap_draws(s: SampleStats, n: int = 1000, seed: int = 12345) -> dict[str, np.ndarray]:
    """Scores of `n` bootstrap resamples of the studies: {metric: (n,)}."""
    rng = np.random.default_rng(seed)
    parts: list[dict[str, np.ndarray]] = [scores_from_weights(s, w) for w in _draw_blocks(rng, n, len(s))]
    return {k: np.concatenate([p[k] for p in parts]) for k in parts[0]} if parts else {}


def percentile_ci(draws: np.ndarray, level: float = 0.95) -> list[float]:
    """Percentile interval [lo, hi] of the draws."""
    a = (1.0 - level) / 2.0
    lo, hi = np.percentile(np.asarray(draws, dtype=np.float64), [100 * a, 100 * (1 - a)])
    return [float(lo), float(hi)]


def bootstrap_ci(s: SampleStats, n: int = 1000, seed: int = 12345, level: float = 0.95) -> dict[str, list[float]]:
    """95% percentile bootstrap intervals for every corpus metric ({} when n <= 0 or no samples)."""
    if n <= 0 or len(s) == 0:
        return {}
    return {k: percentile_ci(v, level) for k, v in bootstrap_draws(s, n, seed).items()}


def bootstrap_signature(n: int, seed: int) -> str:
    return (f"bootstrap:percentile-95|draws:{n}|seed:{seed}|resample:studies"
            "|cider:per-sample-scores-df-fixed-on-full-set")


def _p_value(stat: np.ndarray, observed: float) -> float:
    return float((np.sum(stat >= observed - 1e-12) + 1) / (len(stat) + 1))


def paired_test(a: SampleStats, b: SampleStats, *, test: str = "bootstrap", n: int = 1000,
                seed: int = 12345) -> dict[str, dict[str, Any]]:
    """Paired significance test of B vs A on aligned samples (same ids, same order).

    Returns {metric: {"a", "b", "delta" (B - A), "ci" (95% bootstrap interval of the delta), "p"}}.
    """
    if a.ids != b.ids:
        raise ValueError("paired_test needs both runs aligned on the same ids")
    if a.ce_states != b.ce_states:
        raise ValueError(f"paired_test needs one CE definition (A: {a.ce_states!r}, B: {b.ce_states!r})")
    if test not in ("bootstrap", "ar"):
        raise ValueError(f"unknown test {test!r}; choose bootstrap or ar")
    m = len(a)
    point_a, point_b = corpus_scores(a), corpus_scores(b)
    rng = np.random.default_rng(seed)
    # Paired bootstrap: the same resampled studies for both systems.
    bs_a: list[dict[str, np.ndarray]] = []
    bs_b: list[dict[str, np.ndarray]] = []
    for w in _draw_blocks(rng, n, m):
        bs_a.append(scores_from_weights(a, w))
        bs_b.append(scores_from_weights(b, w))
    cat_a = {k: np.concatenate([x[k] for x in bs_a]) for k in CORPUS_METRICS}
    cat_b = {k: np.concatenate([x[k] for x in bs_b]) for k in CORPUS_METRICS}
    if test == "ar":
        ar_a: list[dict[str, np.ndarray]] = []
        ar_b: list[dict[str, np.ndarray]] = []
        done = 0
        while done < n:
            t = min(BLOCK, n - done)
            swap = rng.integers(0, 2, size=(t, m)).astype(np.float64)
            keep = 1.0 - swap
            # Pseudo-system X takes A's sample where keep, B's where swap; Y the opposite.
            x = _mix(a, b, keep, swap)
            y = _mix(a, b, swap, keep)
            ar_a.append(x)
            ar_b.append(y)
            done += t
        shuf_a = {k: np.concatenate([x[k] for x in ar_a]) for k in CORPUS_METRICS}
        shuf_b = {k: np.concatenate([x[k] for x in ar_b]) for k in CORPUS_METRICS}
    out: dict[str, dict[str, Any]] = {}
    for k in CORPUS_METRICS:
        delta = point_b[k] - point_a[k]
        d = cat_b[k] - cat_a[k]
        observed = abs(delta)
        if test == "bootstrap":
            ad = np.abs(d)
            p = _p_value(ad - ad.mean(), observed)
        else:
            p = _p_value(np.abs(shuf_a[k] - shuf_b[k]), observed)
        out[k] = {"a": point_a[k], "b": point_b[k], "delta": delta, "ci": percentile_ci(d), "p": p}
    return out


def _mix(a: SampleStats, b: SampleStats, wa: np.ndarray, wb: np.ndarray) -> dict[str, np.ndarray]:
    """Scores of pseudo-systems taking sample i from A with weight wa[t, i] and from B with wb[t, i]."""
    both = SampleStats(a.ids + b.ids, np.concatenate([a.bleu, b.bleu]), np.concatenate([a.meteor, b.meteor]),
                       np.concatenate([a.rouge_l, b.rouge_l]), np.concatenate([a.cider, b.cider]),
                       np.concatenate([a.oua, b.oua]), a.ce_states)
    return scores_from_weights(both, np.concatenate([wa, wb], axis=1))
