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

import contextlib
import functools
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from pet2rep.metrics.registry import METRICS, MeanOfScores, Options, overall_parts, score_keys

CORPUS_METRICS: tuple[str, ...] = score_keys()  # the scores of the metrics registered at import, then "overall"
OVERALL_PARTS: tuple[str, ...] = overall_parts()
BLOCK = 250  # bootstrap draws per matrix product (bounds memory for large sets)


def overall_score(values: dict[str, Any]) -> Any:
    """PET2Rep "overall": mean of BLEU-4, METEOR, ROUGE-L, CE-P, CE-R, CE-F1, in percent."""
    return sum(np.asarray(values[k], dtype=np.float64) for k in OVERALL_PARTS) / len(OVERALL_PARTS) * 100.0


@dataclass(init=False)
class SampleStats:
    """Per-sample sufficient statistics of one scored run, rows in `ids` order.

    ``stats[name]`` is the (n, width) statistics matrix of registered metric `name`
    (:data:`pet2rep.metrics.registry.METRICS`). The built-in metrics may also be given by keyword, in the
    layouts evaluate has always used: ``bleu`` (n, kb), ``meteor`` (n, 24), ``rouge_l`` and ``cider`` (n,)
    per-sample scores, ``oua`` (n, 4, 3) TP/FP/FN per uptake state; they read back the same way.
    """

    ids: list[str]
    stats: dict[str, np.ndarray]
    ce_states: str  # the CE definition (pet2rep.metrics.clinical.CE_DEFINITIONS)
    extra: dict[str, Any]

    def __init__(self, ids: Sequence[str], bleu: Any = None, meteor: Any = None, rouge_l: Any = None,
                 cider: Any = None, oua: Any = None, ce_states: str = "all", extra: dict[str, Any] | None = None,
                 stats: dict[str, np.ndarray] | None = None) -> None:
        self.ids = list(ids)
        self.ce_states = ce_states
        self.extra = {} if extra is None else extra
        self.stats = dict(stats or {})
        n = len(self.ids)
        for name, v in (("bleu", bleu), ("meteor", meteor), ("rouge_l", rouge_l), ("cider", cider), ("oua", oua)):
            if v is None:
                continue
            a = np.asarray(v, dtype=np.float64).reshape(n, -1)
            if isinstance(METRICS[name], MeanOfScores) and a.shape[1] == 1:
                a = np.concatenate([a, np.ones((n, 1))], axis=1)  # a per-sample score: the row [score, 1]
            self.stats[name] = a

    def __len__(self) -> int:
        return len(self.ids)

    @property
    def options(self) -> Options:
        return Options(ce_states=self.ce_states)

    @property
    def bleu(self) -> np.ndarray:
        return self.stats["bleu"]

    @property
    def meteor(self) -> np.ndarray:
        return self.stats["meteor"]

    @property
    def rouge_l(self) -> np.ndarray:
        return self.stats["rouge_l"][:, 0]

    @property
    def cider(self) -> np.ndarray:
        return self.stats["cider"][:, 0]

    @property
    def oua(self) -> np.ndarray:
        return self.stats["oua"].reshape(len(self), -1, 3)

    def take(self, idx: Sequence[int]) -> SampleStats:
        """The rows `idx` (in that order)."""
        ix = np.asarray(idx, dtype=np.int64)
        return SampleStats([self.ids[i] for i in ix], ce_states=self.ce_states,
                           stats={k: v[ix] for k, v in self.stats.items()})


def scores_from_weights(s: SampleStats, w: np.ndarray) -> dict[str, np.ndarray]:
    """Corpus scores for each row of the weight matrix `w` (B, n): {metric: (B,)}.

    Each registered metric's statistics are summed with the weights (one matrix product) and its corpus
    formula applied to every row; then Overall.
    """
    w = np.asarray(w, dtype=np.float64)
    opts = s.options
    out: dict[str, np.ndarray] = {}
    for name, metric in METRICS.items():
        if name in s.stats:
            out.update(metric.corpus(w @ s.stats[name], opts))
    out["overall"] = overall_score(out)
    return out


def corpus_scores(s: SampleStats) -> dict[str, float]:
    """Point estimates of every corpus metric."""
    if len(s) == 0:
        return dict.fromkeys(score_keys(), 0.0)
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


@functools.lru_cache(maxsize=1)
def _openblas() -> tuple[Callable[[], int], Callable[[int], None]] | None:
    """(get, set) of the thread count of the OpenBLAS that numpy loaded; None where it cannot be found (not Linux,
    another BLAS)."""
    import ctypes

    try:
        with open("/proc/self/maps", encoding="utf-8") as f:
            paths = {ln.split()[-1] for ln in f if "openblas" in ln.lower()}
    except OSError:
        return None
    for path in sorted(paths, key=lambda x: ("numpy" not in x, x)):  # numpy's own first
        try:
            lib = ctypes.CDLL(path)
        except OSError:
            continue
        for prefix, suffix in (("scipy_openblas", "64_"), ("scipy_openblas", ""), ("openblas", "64_"), ("openblas", "")):
            get = getattr(lib, f"{prefix}_get_num_threads{suffix}", None)
            put = getattr(lib, f"{prefix}_set_num_threads{suffix}", None)
            if get is not None and put is not None:
                get.restype, get.argtypes = ctypes.c_int, []
                put.restype, put.argtypes = None, [ctypes.c_int]
                return get, put
    return None


@contextlib.contextmanager
def one_blas_thread() -> Iterator[None]:
    """numpy's BLAS on one thread inside the block (restored after).

    The resampling products are small ((250 draws x n) times (n x a few columns)); waking BLAS threads for each costs
    more than the product, and on a busy machine ten times more. The numbers are the same: threads split the
    output matrix, not the sums.
    """
    blas = _openblas()
    before = blas[0]() if blas is not None else 1
    if before <= 1:
        yield
        return
    blas[1](1)
    try:
        yield
    finally:
        blas[1](before)


def bootstrap_draws(s: SampleStats, n: int = 1000, seed: int = 12345) -> dict[str, np.ndarray]:
    """Scores of `n` bootstrap resamples of the studies: {metric: (n,)}."""
    rng = np.random.default_rng(seed)
    with one_blas_thread():
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
    with one_blas_thread():
        for w in _draw_blocks(rng, n, m):
            bs_a.append(scores_from_weights(a, w))
            bs_b.append(scores_from_weights(b, w))
    keys = [k for k in score_keys() if k in point_a]
    cat_a = {k: np.concatenate([x[k] for x in bs_a]) for k in keys}
    cat_b = {k: np.concatenate([x[k] for x in bs_b]) for k in keys}
    if test == "ar":
        ar_a: list[dict[str, np.ndarray]] = []
        ar_b: list[dict[str, np.ndarray]] = []
        done = 0
        with one_blas_thread():
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
        shuf_a = {k: np.concatenate([x[k] for x in ar_a]) for k in keys}
        shuf_b = {k: np.concatenate([x[k] for x in ar_b]) for k in keys}
    out: dict[str, dict[str, Any]] = {}
    for k in keys:
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
    both = SampleStats(a.ids + b.ids, ce_states=a.ce_states,
                       stats={k: np.concatenate([a.stats[k], b.stats[k]]) for k in a.stats if k in b.stats})
    return scores_from_weights(both, np.concatenate([wa, wb], axis=1))
