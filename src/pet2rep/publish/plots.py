"""`pet2rep plots RUNS_DIR --out DIR`: the paper's figures from scored runs, as PNG and SVG.

    metrics.{png,svg}          BLEU-4, METEOR, ROUGE-L, CE-P, CE-R, CE-F1 and Overall per model, 95% intervals
    organ_f1.{png,svg}         per-organ x model CE-F1 heat map (grey: the organ has no support and no prediction)
    overall_vs_size.{png,svg}  Overall against model size (billions of parameters, from the model cards)
    failures.{png,svg}         failure modes per model, stacked
    lengths.{png,svg}          report length (tokens) per model against the references

matplotlib is imported here only (Agg backend, no pyplot: no global state, no display needed). Each figure is
built by a function returning a matplotlib Figure, so tests can inspect bars and cells.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from ..errors import out_folder
from ..io import atomic_open
from ..metrics.registry import overall_parts, score_of
from ..organs import ORGANS
from .results import RunResult, Warn, is_finite, is_num, load_runs, size_warning

BAR_METRICS: tuple[tuple[str, str], ...] = tuple((k, score_of(k).title) for k in overall_parts())
FAILURE_ORDER: tuple[str, ...] = ("empty", "refusal", "template_ignored", "invented_demographics", "truncated",
                                  "wrong_language", "error", "missing_prediction")
FORMATS = ("png", "svg")
PLOTS = ("metrics", "organ_f1", "overall_vs_size", "failures", "lengths")


def _figure(width: float, height: float):
    import matplotlib

    matplotlib.use("Agg", force=False)
    from matplotlib.figure import Figure

    fig = Figure(figsize=(width, height), dpi=110, layout="constrained")
    return fig


def _colors(n: int) -> list[Any]:
    from matplotlib import colormaps

    cmap = colormaps["tab10" if n <= 10 else "tab20"]
    return [cmap(i % cmap.N) for i in range(n)]


def _val(r: RunResult, key: str) -> float:
    v = r.metrics.get(key)
    return float(v) if is_finite(v) else float("nan")


def metric_bars(runs: list[RunResult]):
    """Small multiples: one panel per metric (BLEU-4, METEOR, ROUGE-L, CE-P, CE-R, CE-F1, then Overall in
    percent), one horizontal bar per model with its 95% bootstrap interval; the template baseline in orange,
    the oracle in grey. Each of ``fig.axes`` holds one BarContainer with one bar per model (runs order, top down)."""
    n = len(runs)
    panels = [*BAR_METRICS, ("overall", "Overall (%)")]
    fig = _figure(max(9.0, 1.6 * len(panels)), max(2.8, 1.2 + 0.24 * n))
    axes = fig.subplots(1, len(panels), sharey=True)
    y = list(range(n))
    colors = ["#ff7f0e" if r.is_template else "#9e9e9e" if r.is_oracle else "#1f77b4" for r in runs]
    for ax, (key, title) in zip(axes, panels):
        vals = [_val(r, key) for r in runs]
        ax.barh(y, vals, 0.7, xerr=_yerr([r.ci(key) for r in runs], vals), color=colors, capsize=1.5,
                error_kw={"elinewidth": 0.7, "ecolor": "#333333"})
        ax.set_xlim(0, 100 if key == "overall" else 1.0)
        ax.set_title(title, fontsize=9)
        ax.tick_params(axis="x", labelsize=7)
        ax.grid(axis="x", linewidth=0.4, alpha=0.5)
    axes[0].set_yticks(y, [r.label for r in runs], fontsize=8)
    axes[0].invert_yaxis()  # best first, at the top
    fig.suptitle("Metrics per model (bars: value; whiskers: bootstrap 95% interval)", fontsize=10)
    return fig


def _yerr(cis: list[tuple[float, float] | None], vals: list[float]):
    """Asymmetric error bars (2, k) from intervals; 0 where an interval is missing or not finite."""
    import numpy as np

    lo, hi = [], []
    for ci, v in zip(cis, vals):
        ok = ci is not None and all(is_finite(c) for c in ci) and is_finite(v)
        lo.append(max(0.0, v - ci[0]) if ok else 0.0)  # type: ignore[index]
        hi.append(max(0.0, ci[1] - v) if ok else 0.0)  # type: ignore[index]
    return np.asarray([lo, hi])


def organ_matrix(runs: list[RunResult]):
    """(organs x models) CE-F1 from metrics.json's per_organ; NaN where an organ has no support and no
    prediction (or the run has no per_organ)."""
    import numpy as np

    mat = np.full((len(ORGANS), len(runs)), np.nan)
    for j, r in enumerate(runs):
        po = r.metrics.get("per_organ")
        if not isinstance(po, dict):
            continue
        for i, organ in enumerate(ORGANS):
            row = po.get(organ)
            if not isinstance(row, dict):
                continue
            has = any(is_num(row.get(k)) and row.get(k) > 0 for k in ("tp", "fp", "fn", "support"))
            if has and is_finite(row.get("f1")):
                mat[i, j] = float(row["f1"])
    return mat


def organ_heatmap(runs: list[RunResult]):
    """Per-organ x model CE-F1 heat map; ``fig.axes[0].images[0].get_array()`` is the (organs x models) grid."""
    import numpy as np
    from matplotlib import colormaps

    mat = organ_matrix(runs)
    n = len(runs)
    fig = _figure(max(5.0, 2.6 + 0.45 * n), 6.2)
    ax = fig.add_subplot()
    cmap = colormaps["viridis"].with_extremes(bad="#d9d9d9")
    im = ax.imshow(np.ma.masked_invalid(mat), cmap=cmap, vmin=0, vmax=1, aspect="auto", interpolation="nearest")
    ax.set_yticks(range(len(ORGANS)), [o.replace("_", " ") for o in ORGANS], fontsize=8)
    ax.set_xticks(range(n), [r.label for r in runs], rotation=60, ha="right", fontsize=8)
    if n <= 12:
        for i in range(mat.shape[0]):
            for j in range(n):
                if np.isfinite(mat[i, j]):
                    ax.text(j, i, f"{mat[i, j]:.2f}", ha="center", va="center", fontsize=6,
                            color="white" if mat[i, j] < 0.6 else "black")
    ax.set_title("CE-F1 per organ (grey: no statement on either side)")
    fig.colorbar(im, ax=ax, shrink=0.6, label="CE-F1")
    return fig


def overall_vs_size(runs: list[RunResult]):
    """Overall against model size (log scale) for the runs whose card gives a size; None when none does."""
    sized = [r for r in runs if r.size_b is not None and is_finite(r.metrics.get("overall"))]
    if not sized:
        return None
    fig = _figure(6.0, 4.2)
    ax = fig.add_subplot()
    xs = [r.size_b for r in sized]
    ys = [_val(r, "overall") for r in sized]
    ax.errorbar(xs, ys, yerr=_yerr([r.ci("overall") for r in sized], ys), fmt="o", capsize=2, color="#1f77b4",
                ecolor="#7f7f7f", elinewidth=0.8)
    for r, x, y in zip(sized, xs, ys):
        ax.annotate(r.label, (x, y), textcoords="offset points", xytext=(4, 4), fontsize=7)
    ax.set_xscale("log")
    ax.set_xlabel("model size (billions of parameters, from the model card)")
    ax.set_ylabel("Overall (%)")
    tmpl = next((r for r in runs if r.is_template and is_finite(r.metrics.get("overall"))), None)
    if tmpl is not None:
        ax.axhline(_val(tmpl, "overall"), color="#d62728", linestyle="--", linewidth=1,
                   label=f"{tmpl.label} (no model)")
        ax.legend(fontsize=8, frameon=False)
    unsized = [r.label for r in runs if r.size_b is None and not (r.is_template or r.is_oracle)]
    title = "Overall vs model size"
    if unsized:
        title += f"\n(no size in the card: {', '.join(unsized[:6])}{' …' if len(unsized) > 6 else ''})"
    ax.set_title(title, fontsize=9)
    return fig


def failure_counts(runs: list[RunResult]) -> tuple[list[str], list[list[int]]]:
    """(modes, counts[mode][run]) from metrics.json's failures.counts; modes in FAILURE_ORDER, then others."""
    per_run = []
    modes: list[str] = []
    for r in runs:
        f = r.metrics.get("failures")
        counts = f.get("counts") if isinstance(f, dict) else None
        counts = counts if isinstance(counts, dict) else {}
        per_run.append({k: int(v) for k, v in counts.items() if is_finite(v)})
        for k in counts:
            if k not in modes:
                modes.append(k)
    modes = [m for m in FAILURE_ORDER if m in modes] + [m for m in modes if m not in FAILURE_ORDER]
    return modes, [[c.get(m, 0) for c in per_run] for m in modes]


def failure_stack(runs: list[RunResult]):
    """Failure modes stacked per model (outputs flagged; one output can have several modes).
    ``fig.axes[0].containers`` holds one BarContainer per mode with one bar per model."""
    import numpy as np

    modes, counts = failure_counts(runs)
    n = len(runs)
    fig = _figure(max(5.5, 2.5 + 0.45 * n), 4.2)
    ax = fig.add_subplot()
    bottom = np.zeros(n)
    colors = _colors(max(len(modes), 1))
    for k, (mode, row) in enumerate(zip(modes, counts)):
        ax.bar(range(n), row, 0.7, bottom=bottom, label=mode.replace("_", " "), color=colors[k])
        bottom += np.asarray(row, dtype=float)
    ax.set_xticks(range(n), [r.label for r in runs], rotation=60, ha="right", fontsize=8)
    ax.set_ylabel("outputs flagged")
    ns = {r.n for r in runs if r.n is not None}
    ax.set_title("Failure modes per model" + (f" (of {ns.pop()} studies)" if len(ns) == 1 else ""))
    if not bottom.any():
        ax.text(0.5, 0.5, "no failure flagged", transform=ax.transAxes, ha="center", va="center", color="#555")
        ax.set_ylim(0, 1)
    if modes:
        ax.legend(fontsize=7, frameon=False, loc="upper left", bbox_to_anchor=(1.0, 1.0))
    return fig


def report_lengths(runs: list[RunResult]) -> tuple[list[str], list[list[int]]]:
    """(labels, lengths): tokens of each model's outputs, then "reference" (each study's reference once)."""
    labels, data = [], []
    refs: dict[str, int] = {}
    for r in runs:
        lens = []
        for row in r.per_sample():
            nt = row.get("n_tokens")
            if isinstance(nt, dict):
                if is_num(nt.get("hyp")):
                    lens.append(int(nt["hyp"]))
                if is_num(nt.get("ref")):
                    refs.setdefault(row["id"], int(nt["ref"]))
        labels.append(r.label)
        data.append(lens)
    labels.append("reference")
    data.append(list(refs.values()))
    return labels, data


def length_boxes(runs: list[RunResult]):
    """Box plots of report length per model and for the references; ``fig.axes[0]`` has one box per label."""
    labels, data = report_lengths(runs)
    fig = _figure(max(5.5, 2.5 + 0.45 * len(labels)), 4.2)
    ax = fig.add_subplot()
    shown = [d if d else [float("nan")] for d in data]
    bp = ax.boxplot(shown, patch_artist=True, widths=0.6, showfliers=True,
                    flierprops={"markersize": 2, "alpha": 0.5})
    for k, box in enumerate(bp["boxes"]):
        box.set_facecolor("#d62728" if k == len(labels) - 1 else "#9ecae1")
    ax.set_xticks(range(1, len(labels) + 1), labels, rotation=60, ha="right", fontsize=8)
    ax.set_ylabel("report length (tokens: CJK characters and words)")
    ax.set_title("Report length per model vs the references")
    return fig


BUILDERS = {
    "metrics": metric_bars,
    "organ_f1": organ_heatmap,
    "overall_vs_size": overall_vs_size,
    "failures": failure_stack,
    "lengths": length_boxes,
}


def save_figure(fig: Any, path: Path, fmt: str) -> None:
    """Write `fig` to `path` atomically, without a date (the same runs give the same SVG)."""
    meta = {"Date": None} if fmt == "svg" else {}
    with atomic_open(path, "wb") as fh:
        fig.savefig(fh, format=fmt, metadata=meta)


def write_plots(runs_dir: str | Path, out: str | Path, *, runs: list[RunResult] | None = None,
                formats: tuple[str, ...] = FORMATS, warn: Warn | None = None,
                only: list[str] | None = None) -> dict[str, list[Path]]:
    """Draw every figure for the runs under `runs_dir` into `out`; {plot name: [files]}.

    Runs scored on different numbers of studies are drawn with the leaderboard's warning; a figure that cannot
    be drawn (no model card gives a size) is skipped with a warning.
    """
    say = warn or (lambda _m: None)
    if runs is None:
        runs = load_runs(runs_dir, say, only=only)
    msg = size_warning(runs)
    if msg:
        say(msg)
    out = out_folder(out)
    out.mkdir(parents=True, exist_ok=True)
    import matplotlib

    written: dict[str, list[Path]] = {}
    with matplotlib.rc_context({"svg.hashsalt": "pet2rep", "font.size": 9}):
        for name, build in BUILDERS.items():
            fig = build(runs)
            if fig is None:
                say(f"warning: {name}: no model card gives a size (params_b or size); figure not drawn")
                continue
            paths = []
            for fmt in formats:
                path = out / f"{name}.{fmt}"
                save_figure(fig, path, fmt)
                paths.append(path)
            written[name] = paths
    return written

