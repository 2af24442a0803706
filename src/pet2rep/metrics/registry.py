"""The metrics of `pet2rep evaluate`, as registered objects (as sacrebleu and torchmetrics do it).

A :class:`Metric` knows four things: the sufficient statistics of one hypothesis/reference pair (a row of
numbers), the corpus scores from statistics summed over pairs (vectorised over many sums at once, so a bootstrap
draw or a paired-test swap is one weighted sum and one call), the per-sample scores, and its signature. Every
stage that deals with metrics iterates over :data:`METRICS`: `evaluate` computes and writes the statistics,
:mod:`pet2rep.metrics.stats` turns summed statistics into scores for the point estimate, the bootstrap and the
paired tests, `compare` reads them back from ``per_sample.jsonl`` and checks the signatures, and the leaderboard
and the figures take their columns (:data:`SCORES`). Adding a metric means writing one class here (or in its own
module, registered with :func:`register`) and its test.

The statistic layouts are those ``per_sample.jsonl`` has always held: BLEU's n-gram counts and lengths
(``stats.bleu``), METEOR's 24 match statistics (``stats.meteor``), the OUA TP/FP/FN of the four uptake states
(``stats.oua``); a metric whose corpus score is the mean of per-sample scores (ROUGE-L, CIDEr-D) has the row
[score, 1], so that its weighted sum is (sum of weighted scores, sum of weights) and the mean is their ratio.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from pet2rep.organs import STATES


@dataclass(frozen=True)
class Score:
    """One corpus score a metric reports (a key of metrics.json)."""

    key: str
    title: str  # column title in tables and figures
    digits: int = 3
    higher_is_better: bool = True
    in_table: bool = True  # a column of the leaderboard's table (else the CSV only)
    in_overall: bool = False  # one of the parts of PET2Rep's Overall


@dataclass
class Pair:
    """What a metric may read of one scored pair (tokens, uptake labels, reference-side tables)."""

    hyp_tokens: list[str]
    ref_tokens: list[str]
    hyp_labels: Mapping[str, Sequence[str]] = field(default_factory=dict)
    ref_labels: Mapping[str, Sequence[str]] = field(default_factory=dict)
    tables: dict[str, Any] = field(default_factory=dict)  # e.g. "meteor": its reference-side tables


@dataclass(frozen=True)
class Options:
    """Scoring options a metric's statistics, scores or signature may depend on."""

    segmenter: str | None = None
    tokenizer: str = ""  # the tokenizer signature
    lang: str = "auto"
    meteor_impl: str = "native"
    ce_states: str = "all"


class Metric:
    """Base class: sufficient statistics per pair, corpus scores from summed statistics, signature."""

    name: str = ""  # key of its statistics and of its signature in metrics.json
    scores: tuple[Score, ...] = ()
    width: int | None = None  # statistics per pair (None: fixed by the implementation)
    per_set: bool = False  # statistics need the whole set (CIDEr-D's document frequencies)
    same_signature: bool = True  # `compare` refuses two runs whose signatures of this metric differ

    def chunk_stats(self, pairs: Sequence[Pair], opts: Options) -> np.ndarray:
        """(len(pairs), width) statistics of a chunk of pairs (default: one pair at a time)."""
        rows = [np.asarray(self.pair_stats(p, opts), dtype=np.float64) for p in pairs]
        return np.stack(rows) if rows else np.zeros((0, self.width or 0))

    def pair_stats(self, pair: Pair, opts: Options) -> np.ndarray:
        """Sufficient statistics of one pair."""
        raise NotImplementedError

    def set_stats(self, hyps: Sequence[list[str]], refs: Sequence[list[str]], opts: Options) -> np.ndarray:
        """(n, width) statistics of a whole set (metrics with ``per_set``)."""
        raise NotImplementedError

    def corpus(self, sums: np.ndarray, opts: Options) -> dict[str, np.ndarray]:
        """{score key: (B,)} from (B, width) summed statistics."""
        raise NotImplementedError

    def per_sample(self, stats: np.ndarray, opts: Options) -> dict[str, np.ndarray]:
        """{score key: (n,)} per-sample scores from (n, width) statistics (default: each row as a corpus)."""
        return self.corpus(stats, opts)

    def signature(self, opts: Options) -> str:
        raise NotImplementedError

    # per_sample.jsonl: how a pair's statistics are written into its row and read back (compare)
    def record(self, row: dict[str, Any], stats_row: np.ndarray | list, scores: Mapping[str, float]) -> None:
        """Write the per-sample scores and ``stats[name]`` into a per_sample.jsonl row (a list `stats_row` is taken
        as already converted by :func:`num_rows`)."""
        row.update({k: float(v) for k, v in scores.items()})
        row.setdefault("stats", {})[self.name] = stats_row if isinstance(stats_row, list) else _num_list(stats_row)

    def from_record(self, row: Mapping[str, Any], check: Callable[[Any, str], float]) -> list[float]:
        """The statistics row of a per_sample.jsonl row; `check(value, what)` validates one number."""
        return [check(x, f"a {self.title()} statistic") for x in row["stats"][self.name]]

    def title(self) -> str:
        return self.scores[0].title.split("-")[0] if self.scores else self.name

    def higher_is_better(self) -> bool:
        return all(s.higher_is_better for s in self.scores)


class MeanOfScores(Metric):
    """A metric whose corpus score is the mean of its per-sample scores; the statistics row is [score, 1]."""

    width = 2

    def pair_score(self, pair: Pair, opts: Options) -> float:
        raise NotImplementedError

    def pair_stats(self, pair: Pair, opts: Options) -> np.ndarray:
        return np.array([self.pair_score(pair, opts), 1.0])

    def corpus(self, sums: np.ndarray, opts: Options) -> dict[str, np.ndarray]:
        s = np.asarray(sums, dtype=np.float64)
        n = s[:, 1]
        return {self.scores[0].key: np.divide(s[:, 0], n, out=np.zeros(len(s)), where=n > 0)}

    def record(self, row: dict[str, Any], stats_row: np.ndarray, scores: Mapping[str, float]) -> None:
        row[self.scores[0].key] = float(stats_row[0])  # the per-sample score is the statistic

    def from_record(self, row: Mapping[str, Any], check: Callable[[Any, str], float]) -> list[float]:
        key = self.scores[0].key
        return [check(row[key], key), 1.0]


class Bleu(Metric):
    """BLEU-1..4 (pycocoevalcap's corpus BLEU: clipped n-gram counts and lengths summed, closest ref length)."""

    name = "bleu"
    scores = (Score("bleu_1", "BLEU-1"), Score("bleu_2", "BLEU-2", in_table=False),
              Score("bleu_3", "BLEU-3", in_table=False), Score("bleu_4", "BLEU-4", in_overall=True))

    per_set = True  # (per-pair statistics, computed over the whole set so that CIDEr-D's n-gram table serves both)

    def pair_stats(self, pair: Pair, opts: Options) -> np.ndarray:
        from pet2rep.metrics.nlg import bleu_stats

        return bleu_stats(pair.hyp_tokens, pair.ref_tokens).astype(np.float64)

    def chunk_stats(self, pairs: Sequence[Pair], opts: Options) -> np.ndarray:
        return self.set_stats([p.hyp_tokens for p in pairs], [p.ref_tokens for p in pairs], opts)

    def set_stats(self, hyps: Sequence[list[str]], refs: Sequence[list[str]], opts: Options) -> np.ndarray:
        from pet2rep.metrics.nlg import bleu_stats_batch

        return bleu_stats_batch(hyps, refs).astype(np.float64)

    def corpus(self, sums: np.ndarray, opts: Options) -> dict[str, np.ndarray]:
        from pet2rep.metrics.nlg import bleu_scores

        b = np.asarray(bleu_scores(np.asarray(sums, dtype=np.float64)), dtype=np.float64)[:, :4]
        return {s.key: b[:, k] for k, s in enumerate(self.scores)}

    def per_sample(self, stats: np.ndarray, opts: Options) -> dict[str, np.ndarray]:
        from pet2rep.metrics.nlg import bleu_per_sample

        b = np.asarray(bleu_per_sample(stats), dtype=np.float64).reshape(len(stats), -1)
        return {s.key: b[:, k] for k, s in enumerate(self.scores)}

    def signature(self, opts: Options) -> str:
        from pet2rep.metrics.nlg import bleu_signature

        return bleu_signature(4, opts.segmenter)


class Meteor(Metric):
    """METEOR 1.5 (the jar's statistics rows; corpus score from their sums with aggregate chunks)."""

    name = "meteor"
    scores = (Score("meteor", "METEOR", in_overall=True),)

    def pair_stats(self, pair: Pair, opts: Options) -> np.ndarray:
        from pet2rep.metrics.meteor import meteor_stats

        return meteor_stats(pair.hyp_tokens, pair.tables.get("meteor") or pair.ref_tokens)

    def corpus(self, sums: np.ndarray, opts: Options) -> dict[str, np.ndarray]:
        from pet2rep.metrics.meteor import meteor_from_stats_batch

        return {"meteor": np.asarray(meteor_from_stats_batch(sums), dtype=np.float64).reshape(len(sums))}

    def per_sample(self, stats: np.ndarray, opts: Options) -> dict[str, np.ndarray]:
        from pet2rep.metrics.meteor import meteor_segment_batch

        return {"meteor": meteor_segment_batch(stats)}

    def signature(self, opts: Options) -> str:
        from pet2rep.metrics.meteor import METEOR_TAG, meteor_signature

        sig = str(meteor_signature())
        sig = sig if "tok:" in sig else f"{sig}|{opts.tokenizer}"
        return sig.replace(METEOR_TAG, "v:1.5-jar") if opts.meteor_impl == "jar" else sig


class RougeL(MeanOfScores):
    """ROUGE-L F (beta 1.2), mean over samples."""

    name = "rouge_l"
    scores = (Score("rouge_l", "ROUGE-L", in_overall=True),)
    per_set = True  # (per-pair scores, computed over the whole set: a compiled LCS on the n-gram table's token ids)

    def pair_score(self, pair: Pair, opts: Options) -> float:
        from pet2rep.metrics.nlg import rouge_l

        return float(rouge_l(pair.hyp_tokens, pair.ref_tokens))

    def set_stats(self, hyps: Sequence[list[str]], refs: Sequence[list[str]], opts: Options) -> np.ndarray:
        from pet2rep.metrics.nlg import rouge_l_set

        out = np.ones((len(hyps), 2))
        out[:, 0] = rouge_l_set(hyps, refs)
        return out

    def signature(self, opts: Options) -> str:
        from pet2rep.metrics.nlg import rouge_signature

        return rouge_signature(segmenter=opts.segmenter)


class CiderD(MeanOfScores):
    """CIDEr-D: per-sample scores with document frequencies from the whole set's references."""

    name = "cider"
    scores = (Score("cider", "CIDEr"),)
    per_set = True

    def set_stats(self, hyps: Sequence[list[str]], refs: Sequence[list[str]], opts: Options) -> np.ndarray:
        from pet2rep.metrics.nlg import cider_d

        out = np.ones((len(hyps), 2))
        if hyps:
            out[:, 0] = np.asarray(cider_d(hyps, refs)[1], dtype=np.float64).reshape(len(hyps))
        return out

    def signature(self, opts: Options) -> str:
        from pet2rep.metrics.nlg import cider_signature

        return cider_signature(segmenter=opts.segmenter) + "|bootstrap:per-sample-scores-df-fixed-on-full-set"


class OrganUptake(Metric):
    """Organ uptake assessment: CE-P/R/F1 from TP/FP/FN per uptake state (:mod:`pet2rep.metrics.clinical`)."""

    name = "oua"
    scores = (Score("ce_precision", "CE-P", in_overall=True), Score("ce_recall", "CE-R", in_overall=True),
              Score("ce_f1", "CE-F1", in_overall=True))
    width = len(STATES) * 3
    same_signature = False  # compare checks the lexicons of the languages both runs share instead

    def pair_stats(self, pair: Pair, opts: Options) -> np.ndarray:
        from pet2rep.metrics.clinical import oua_counts

        return oua_counts(pair.hyp_labels, pair.ref_labels).reshape(-1)

    def corpus(self, sums: np.ndarray, opts: Options) -> dict[str, np.ndarray]:
        from pet2rep.metrics.clinical import ce_scores

        s = np.asarray(sums, dtype=np.float64)
        return ce_scores(s.reshape(len(s), len(STATES), 3), opts.ce_states)

    def signature(self, opts: Options) -> str:
        from pet2rep.metrics import uptake
        from pet2rep.metrics.clinical import ce_signature

        langs = ("zh", "en") if opts.lang == "auto" else (opts.lang,)
        return f"{ce_signature(opts.ce_states)}|" + "+".join(str(uptake.lexicon_signature(lg)) for lg in langs)

    def record(self, row: dict[str, Any], stats_row: np.ndarray, scores: Mapping[str, float]) -> None:
        c = [int(x) for x in (stats_row.tolist() if isinstance(stats_row, np.ndarray) else stats_row)]
        row.setdefault("stats", {})[self.name] = {st: c[3 * k : 3 * k + 3] for k, st in enumerate(STATES)}

    def from_record(self, row: Mapping[str, Any], check: Callable[[Any, str], float]) -> list[float]:
        st = row["stats"][self.name]
        return [check(x, "an uptake count") for s in STATES for x in st[s]]


METRICS: dict[str, Metric] = {}


def register(metric: Metric) -> Metric:
    """Add a metric to the registry (its name must be new)."""
    if not metric.name or metric.name in METRICS:
        raise ValueError(f"metric name {metric.name!r} is empty or already registered")
    METRICS[metric.name] = metric
    _refresh()
    return metric


def _refresh() -> None:
    SCORES[:] = [s for m in METRICS.values() for s in m.scores]


SCORES: list[Score] = []
for _m in (Bleu(), Meteor(), RougeL(), CiderD(), OrganUptake()):
    register(_m)
OVERALL = Score("overall", "Overall", digits=1)


def score_keys() -> tuple[str, ...]:
    """Every corpus score key, then "overall" (metrics.json's order)."""
    return (*(s.key for s in SCORES), OVERALL.key)


def overall_parts() -> tuple[str, ...]:
    """The scores PET2Rep's Overall averages (BLEU-4, METEOR, ROUGE-L, CE-P, CE-R, CE-F1)."""
    return tuple(s.key for s in SCORES if s.in_overall)


def table_scores() -> tuple[Score, ...]:
    """The leaderboard's metric columns, Overall last."""
    return (*(s for s in SCORES if s.in_table), OVERALL)


def score_of(key: str) -> Score:
    """The Score with this key (Overall included); KeyError for an unknown one."""
    for s in (*SCORES, OVERALL):
        if s.key == key:
            return s
    raise KeyError(key)


def num_rows(m: np.ndarray) -> list[list[float | int]]:
    """The rows of a statistics matrix as JSON numbers (whole values as ints), converted in one pass."""
    a = np.asarray(m, dtype=np.float64)
    if a.size and bool(np.all(a == np.rint(a))) and float(np.abs(a).max()) < 2**53:
        return a.astype(np.int64).tolist()
    return [_num_list(row) for row in a.tolist()]


def _num_list(a: np.ndarray | list[float | int]) -> list[float | int]:
    return [int(x) if float(x).is_integer() else float(x) for x in np.asarray(a).tolist()]


__all__ = ["METRICS", "OVERALL", "SCORES", "Metric", "MeanOfScores", "Options", "Pair", "Score", "overall_parts",
           "register", "score_keys", "score_of", "table_scores"]
