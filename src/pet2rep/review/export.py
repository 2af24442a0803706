"""Export of a reader study: the ratings unblinded, agreement between reviewers, per-model means.

    OUT/ratings.csv           one row per rating: reviewer, run, model, study, the three scores, comment, when the
                              item was first shown and rated (and the seconds between), edits
    OUT/agreement.json        Cohen's weighted kappa (quadratic weights) per pair of reviewers and criterion,
                              Krippendorff's alpha per criterion (ordinal metric; interval given too),
                              each with the number of items it rests on
    OUT/model_ratings.json    {"criteria": [...], "models": {RUN: {CRITERION: {mean, low, high, n}}}}, read by
                              ``pet2rep leaderboard --review OUT``
    OUT/model_ratings.csv     the same, one row per run

The 95% intervals are percentile bootstrap intervals over studies: studies are resampled with replacement
(all ratings of a resampled study go with it, whoever gave them), `n_boot` times (2,000 by default) with a
fixed seed, so the same ratings always give the same intervals. Reviewers are not resampled: the interval
speaks for other studies rated by these reviewers.
"""

from __future__ import annotations

import csv
import io
import itertools
import math
import os
import zlib
from collections import defaultdict
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np

from ..errors import out_folder
from ..io import atomic_write_json, atomic_write_text
from .store import CRITERIA, Store

SCALE = (1, 2, 3, 4, 5)
KAPPA_METHOD = ("Cohen's weighted kappa with quadratic weights w_ij = (i-j)^2, over the items both reviewers "
                "rated; null where undefined (no variation in either reviewer's ratings)")
ALPHA_METHOD = ("Krippendorff's alpha over all reviewers, ordinal metric (the primary figure; the interval "
                "metric is given too), values 1-5; items rated by fewer than two reviewers do not count; "
                "null where undefined (all pairable ratings equal)")
INTERVAL_METHOD = ("95% percentile bootstrap over studies (studies resampled with replacement, all their "
                   "ratings kept together), {n_boot} resamples, seed {seed}")


# ---------------------------------------------------------------------------------------- statistics


def weighted_kappa(a: Sequence[int], b: Sequence[int], categories: Sequence[int] = SCALE) -> float | None:
    """Cohen's kappa of two raters' paired ratings with quadratic weights; None when undefined."""
    a_arr, b_arr = np.asarray(a), np.asarray(b)
    if a_arr.shape != b_arr.shape or a_arr.ndim != 1:
        raise ValueError("weighted_kappa: two equally long sequences of ratings")
    if a_arr.size == 0:
        return None
    cats = np.asarray(categories)
    index = {int(c): i for i, c in enumerate(cats)}
    k = len(cats)
    observed = np.zeros((k, k))
    for x, y in zip(a_arr.tolist(), b_arr.tolist()):
        observed[index[int(x)], index[int(y)]] += 1
    observed /= observed.sum()
    expected = np.outer(observed.sum(axis=1), observed.sum(axis=0))
    weights = (cats[:, None] - cats[None, :]).astype(float) ** 2
    denom = float((weights * expected).sum())
    if denom == 0.0:
        return None
    return 1.0 - float((weights * observed).sum()) / denom


def krippendorff_alpha(data: Any, level: str = "ordinal", values: Sequence[float] = SCALE) -> float | None:
    """Krippendorff's alpha of a raters x units array (NaN = no rating) at the `level` "ordinal",
    "interval" or "nominal"; None when undefined (fewer than two pairable values, or no variation)."""
    matrix = np.asarray(data, dtype=float)
    if matrix.ndim != 2:
        raise ValueError("krippendorff_alpha: a 2-D raters x units array")
    vals = np.asarray(values, dtype=float)
    v = len(vals)
    coincidence = np.zeros((v, v))
    for unit in matrix.T:
        present = unit[~np.isnan(unit)]
        m = present.size
        if m < 2:
            continue
        idx = np.searchsorted(vals, present)
        if np.any(idx >= v) or np.any(vals[np.minimum(idx, v - 1)] != present):
            raise ValueError(f"krippendorff_alpha: a value outside {list(values)}")
        counts = np.bincount(idx, minlength=v).astype(float)
        coincidence += (np.outer(counts, counts) - np.diag(counts)) / (m - 1)
    n_c = coincidence.sum(axis=1)
    n = n_c.sum()
    if n < 2:
        return None
    if level == "nominal":
        delta = 1.0 - np.eye(v)
    elif level == "interval":
        delta = (vals[:, None] - vals[None, :]) ** 2
    elif level == "ordinal":
        cum = np.cumsum(n_c)
        delta = np.zeros((v, v))
        for c in range(v):
            for k in range(v):
                lo, hi = min(c, k), max(c, k)
                between = cum[hi] - (cum[lo - 1] if lo > 0 else 0.0)
                delta[c, k] = (between - (n_c[c] + n_c[k]) / 2.0) ** 2
    else:
        raise ValueError(f"krippendorff_alpha: level must be nominal, ordinal or interval, not {level!r}")
    d_o = float((coincidence * delta).sum())
    d_e = float((np.outer(n_c, n_c) * delta).sum()) / (n - 1)
    if d_e == 0.0:
        return None
    return 1.0 - d_o / d_e


def bootstrap_mean(values_by_study: dict[str, list[int]], n_boot: int = 2000,
                   seed: int | Sequence[int] = 0) -> tuple[float, float, float, int]:
    """(mean, low, high, n): the mean of all ratings and its 95% percentile bootstrap interval over studies."""
    studies = sorted(values_by_study)
    sums = np.array([sum(values_by_study[s]) for s in studies], dtype=float)
    counts = np.array([len(values_by_study[s]) for s in studies], dtype=float)
    n = int(counts.sum())
    if n == 0:
        return math.nan, math.nan, math.nan, 0
    mean = float(sums.sum() / n)
    if len(studies) < 2 or n_boot < 1:
        return mean, mean, mean, n
    rng = np.random.default_rng(seed)
    draws = rng.integers(0, len(studies), size=(n_boot, len(studies)))
    means = sums[draws].sum(axis=1) / counts[draws].sum(axis=1)
    low, high = np.percentile(means, [2.5, 97.5])
    return mean, float(low), float(high), n


# ---------------------------------------------------------------------------------------- export


def agreement(ratings: list[dict[str, Any]]) -> dict[str, Any]:
    """agreement.json's content from export rows (reviewer, run, study, criteria...)."""
    reviewers = sorted({r["reviewer"] for r in ratings})
    items = sorted({(r["run"], r["study"]) for r in ratings})
    by: dict[tuple[str, tuple[str, str]], dict[str, Any]] = {(r["reviewer"], (r["run"], r["study"])): r
                                                             for r in ratings}
    pairs = []
    for a, b in itertools.combinations(reviewers, 2):
        both = [it for it in items if (a, it) in by and (b, it) in by]
        entry: dict[str, Any] = {"a": a, "b": b, "n_items": len(both)}
        for c in CRITERIA:
            xa = [by[(a, it)][c] for it in both]
            xb = [by[(b, it)][c] for it in both]
            kappa = weighted_kappa(xa, xb)
            entry[c] = None if kappa is None else round(kappa, 6)
            entry[f"{c}_exact_agreement"] = (round(sum(x == y for x, y in zip(xa, xb)) / len(both), 6)
                                             if both else None)
        pairs.append(entry)
    alpha: dict[str, Any] = {}
    r_index = {r: i for i, r in enumerate(reviewers)}
    i_index = {it: j for j, it in enumerate(items)}
    for c in CRITERIA:
        matrix = np.full((len(reviewers), len(items)), np.nan)
        for r in ratings:
            matrix[r_index[r["reviewer"]], i_index[(r["run"], r["study"])]] = r[c]
        rated = (~np.isnan(matrix)).sum(axis=0)
        pairable = rated >= 2
        ordinal = krippendorff_alpha(matrix, "ordinal") if len(items) else None
        interval = krippendorff_alpha(matrix, "interval") if len(items) else None
        alpha[c] = {"ordinal": None if ordinal is None else round(ordinal, 6),
                    "interval": None if interval is None else round(interval, 6),
                    "n_items": int(pairable.sum()), "n_ratings": int(rated[pairable].sum())}
    return {"criteria": list(CRITERIA), "scale": [SCALE[0], SCALE[-1]], "n_reviewers": len(reviewers),
            "n_items": len(items), "n_ratings": len(ratings),
            "kappa": {"method": KAPPA_METHOD, "pairs": pairs},
            "alpha": {"method": ALPHA_METHOD, **alpha}}


def model_ratings(ratings: list[dict[str, Any]], n_boot: int = 2000, seed: int = 0) -> dict[str, Any]:
    """model_ratings.json's content: per run folder and criterion, mean, 95% interval and number of ratings."""
    grouped: dict[str, dict[str, dict[str, list[int]]]] = defaultdict(lambda: {c: defaultdict(list) for c in CRITERIA})
    for r in ratings:
        for c in CRITERIA:
            grouped[r["run"]][c][r["study"]].append(int(r[c]))
    models: dict[str, Any] = {}
    for run in sorted(grouped):
        entry = {}
        for c in CRITERIA:
            # the same seed for every criterion of a run (same resampled studies); runs differ by name only
            mean, low, high, n = bootstrap_mean(dict(grouped[run][c]), n_boot, [seed, zlib.crc32(run.encode())])
            entry[c] = {"mean": round(mean, 6), "low": round(low, 6), "high": round(high, 6), "n": n}
        models[run] = entry
    return {"criteria": list(CRITERIA), "models": models}


def _cell(value: Any) -> Any:
    """A CSV cell; text starting with = + - @ (a formula in a spreadsheet) gets a leading apostrophe."""
    if isinstance(value, str) and value[:1] in ("=", "+", "-", "@", "\t", "\r"):
        return "'" + value
    return value


def _csv(header: Sequence[str], rows: list[Sequence[Any]]) -> str:
    buf = io.StringIO()
    w = csv.writer(buf, lineterminator="\n")
    w.writerow(header)
    for row in rows:
        w.writerow([_cell(v) for v in row])
    return buf.getvalue()


RATING_COLUMNS = ("reviewer", "reviewer_revoked", "run", "model", "study", "position", *CRITERIA, "comment",
                  "shown", "created", "updated", "seconds_to_rate", "edits")


def _seconds(start: str | None, end: str | None) -> int | str:
    """Whole seconds from `start` to `end` (ISO times); empty when either is missing."""
    from datetime import datetime

    if not start or not end:
        return ""
    return max(0, round((datetime.fromisoformat(end) - datetime.fromisoformat(start)).total_seconds()))


def export_study(db: str | os.PathLike, out: str | os.PathLike, *, n_boot: int = 2000,
                 seed: int = 0) -> dict[str, Any]:
    """Write the four export files into `out`; returns {paths, counts}."""
    store = Store(db)
    ratings = store.all_ratings()
    out = out_folder(out)
    out.mkdir(parents=True, exist_ok=True)
    paths = {name: out / name for name in ("ratings.csv", "agreement.json", "model_ratings.json",
                                           "model_ratings.csv")}
    for r in ratings:
        r["reviewer_revoked"] = int(r["reviewer_revoked"])
        r["seconds_to_rate"] = _seconds(r["shown"], r["created"])
    atomic_write_text(paths["ratings.csv"], _csv(RATING_COLUMNS, [[r[k] for k in RATING_COLUMNS] for r in ratings]))
    agree = agreement(ratings)
    agree["interval_method"] = INTERVAL_METHOD.format(n_boot=n_boot, seed=seed)
    atomic_write_json(paths["agreement.json"], agree)
    per_model = model_ratings(ratings, n_boot=n_boot, seed=seed)
    atomic_write_json(paths["model_ratings.json"], per_model)
    model_of = {r["run"]: r["model"] for r in ratings}
    header = ["run", "model"] + [f"{c}_{k}" for c in CRITERIA for k in ("mean", "low", "high", "n")]
    rows = [[run, model_of[run]] + [per_model["models"][run][c][k] for c in CRITERIA
                                    for k in ("mean", "low", "high", "n")]
            for run in per_model["models"]]
    atomic_write_text(paths["model_ratings.csv"], _csv(header, rows))
    store.close()
    return {"paths": paths, "n_ratings": len(ratings), "n_reviewers": agree["n_reviewers"],
            "n_items": agree["n_items"], "n_models": len(per_model["models"])}


def read_model_ratings(path: str | os.PathLike) -> dict[str, Any]:
    """model_ratings.json of an export folder (or the file itself)."""
    import json

    p = Path(path)
    if p.is_dir():
        p = p / "model_ratings.json"
    return json.loads(p.read_text(encoding="utf-8"))
