"""Leaderboard: scored runs tabulated as markdown, CSV and LaTeX, in the paper's column order."""

from __future__ import annotations

import argparse
import csv
import io
import json
import math
import os
import sys
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

from ..errors import InputError, out_folder
from ..io import atomic_write_text

# (metrics.json key, column title, digits); the paper reports 0-1 scores with 3 decimals, Overall in %.
COLUMNS: tuple[tuple[str, str, int], ...] = (
    ("bleu_1", "BLEU-1", 3),
    ("bleu_4", "BLEU-4", 3),
    ("meteor", "METEOR", 3),
    ("rouge_l", "ROUGE-L", 3),
    ("cider", "CIDEr", 3),
    ("ce_precision", "CE-P", 3),
    ("ce_recall", "CE-R", 3),
    ("ce_f1", "CE-F1", 3),
    ("overall", "Overall", 1),
)

# What each CE definition (metrics.json "ce_states", `pet2rep evaluate --ce-states`) averages, for the note.
CE_NOTES = {
    "all": "macro over the four uptake states (increased/decreased/absent/normal) that have support or "
           "predictions, CE-F1 = harmonic mean of CE-P and CE-R (as in the paper's table)",
    "abnormal": "macro over increased/decreased/absent, CE-F1 = mean of the per-state F1",
}


def ce_states_of(m: dict[str, Any]) -> str | None:
    """The CE definition a metrics.json was scored with; "abnormal" for files from before the four-state CE."""
    if isinstance(m.get("ce_states"), str):
        return m["ce_states"]
    sigs = m.get("signatures")
    sig = str(sigs.get("oua", "")) if isinstance(sigs, dict) else ""
    return "abnormal" if "states:increased,decreased,absent|" in sig else None


def find_metrics(runs_dir: Path) -> list[Path]:
    """metrics.json of every run under `runs_dir` (RUN/metrics.json or RUN/eval/metrics.json)."""
    found = []
    for run in sorted(p for p in runs_dir.iterdir() if p.is_dir()):
        for cand in (run / "metrics.json", run / "eval" / "metrics.json"):
            if cand.exists():
                found.append(cand)
                break
    return found


def _run_dir(metrics_path: Path) -> Path:
    return metrics_path.parent.parent if metrics_path.parent.name == "eval" else metrics_path.parent


def load_rows(paths: list[Path], skipped: list[str] | None = None) -> list[dict[str, Any]]:
    """One row per run: its name, the metric values, the Overall CI and failure count, best first.

    A metrics.json that cannot be read raises InputError, or, with `skipped`, is left out and its one-line
    reason appended there.
    """
    rows = []
    for path in paths:
        try:
            m = json.loads(path.read_text(encoding="utf-8"))
            if not isinstance(m, dict):
                raise ValueError(f"expected a JSON object, got {type(m).__name__}")
        except (OSError, ValueError, RecursionError) as exc:
            reason = exc.strerror if isinstance(exc, OSError) and exc.strerror else str(exc) or type(exc).__name__
            msg = f"{path}: invalid metrics.json ({' '.join(reason.split())})"
            if skipped is None:
                raise InputError(msg) from None
            skipped.append(msg)
            continue
        run = _run_dir(path)
        row: dict[str, Any] = {"model": m.get("model") or run.name, "n": m.get("n")}
        for key, _, _ in COLUMNS:
            row[key] = m.get(key)
        ci = (m.get("ci") or {}).get("overall") if isinstance(m.get("ci"), dict) else None
        row["overall_ci"] = (ci if isinstance(ci, (list, tuple)) and len(ci) == 2
                             and all(_is_num(x) for x in ci) else None)
        row["failures"] = _failure_total(m.get("failures"))
        row["ce_states"] = ce_states_of(m)
        rows.append(row)
    # best Overall first; a missing or non-finite Overall (nan, inf) goes last
    rows.sort(key=lambda r: -r["overall"] if _is_num(r["overall"]) and math.isfinite(r["overall"]) else math.inf)
    return rows


def _is_num(x: Any) -> bool:
    return isinstance(x, (int, float)) and not isinstance(x, bool)


def non_finite(row: dict[str, Any]) -> list[str]:
    """The metric columns of a row whose value is nan or ±inf, as ``key=value``."""
    out = [f"{k}={row[k]}" for k, _, _ in COLUMNS if _is_num(row[k]) and not math.isfinite(row[k])]
    ci = row.get("overall_ci")
    if ci and not all(math.isfinite(x) for x in ci):
        out.append(f"overall_ci=[{ci[0]}, {ci[1]}]")
    return out


def _failure_total(failures: Any) -> int | None:
    """Outputs with at least one failure flag, if the scorer reported it (else the sum of the counts)."""
    if not isinstance(failures, dict):
        return None
    if isinstance(failures.get("any"), (int, float)):
        return int(failures["any"])
    counts = failures.get("counts", failures)
    vals = [v for v in counts.values() if isinstance(v, (int, float))] if isinstance(counts, dict) else []
    return int(sum(vals)) if vals else None


def _fmt(value: Any, digits: int) -> str:
    """The value to `digits` decimals; nan and inf as "nan", "inf", "-inf"; "–" when missing or not a number."""
    if not _is_num(value):
        return "–"
    return f"{value:.{digits}f}" if math.isfinite(value) else str(float(value))


def _cells(row: dict[str, Any]) -> list[str]:
    cells = [str(row["model"])] + [_fmt(row[k], d) for k, _, d in COLUMNS]
    if row["overall_ci"]:
        lo, hi = row["overall_ci"]
        cells[-1] += f" [{lo:.1f}, {hi:.1f}]"
    cells.append("" if row["n"] is None else str(row["n"]))
    cells.append("" if row["failures"] is None else str(row["failures"]))
    return cells


HEADER = ["Model"] + [title for _, title, _ in COLUMNS] + ["n", "Failures"]


def _ce_note(rows: list[dict[str, Any]]) -> str:
    kinds = {r.get("ce_states") if r.get("ce_states") in CE_NOTES else None for r in rows}
    if len(kinds) == 1:
        (kind,) = kinds
        return (f"CE = organ uptake assessment, {CE_NOTES[kind]}." if kind else
                "CE = organ uptake assessment (its definition is not recorded in these metrics.json).")
    parts = [f"{', '.join(str(r['model']) for r in rows if r.get('ce_states') == k)}: {CE_NOTES[k]}"
             for k in sorted(k for k in kinds if k)]
    if None in kinds:
        parts.append(f"{', '.join(str(r['model']) for r in rows if r.get('ce_states') not in CE_NOTES)}: "
                     "definition not recorded")
    return ("CE = organ uptake assessment under different definitions, so CE and Overall are not comparable "
            "between these rows (" + "; ".join(parts) + ").")


def to_markdown(rows: list[dict[str, Any]]) -> str:
    lines = ["| " + " | ".join(HEADER) + " |", "|" + "|".join(["---"] + ["---:"] * (len(HEADER) - 1)) + "|"]
    lines += ["| " + " | ".join(_cells(r)) + " |" for r in rows]
    note = ("\nOverall = mean of BLEU-4, METEOR, ROUGE-L, CE-P, CE-R, CE-F1 in percent, with its bootstrap 95% "
            f"interval. {_ce_note(rows)}\n")
    return "\n".join(lines) + "\n" + note


def to_csv(rows: list[dict[str, Any]]) -> str:
    buf = io.StringIO()
    w = csv.writer(buf, lineterminator="\n")
    keys = [k for k, _, _ in COLUMNS]
    w.writerow(["model", *keys, "overall_lo", "overall_hi", "n", "failures", "ce_states"])
    for r in rows:
        lo, hi = r["overall_ci"] or ("", "")
        w.writerow([r["model"], *[("" if r[k] is None else r[k]) for k in keys], lo, hi, r["n"], r["failures"],
                    r.get("ce_states") or ""])
    return buf.getvalue()


def to_latex(rows: list[dict[str, Any]]) -> str:
    def esc(s: str) -> str:
        return s.replace("_", r"\_").replace("%", r"\%").replace("&", r"\&")

    cols = "l" + "r" * (len(HEADER) - 1)
    out = [r"\begin{tabular}{" + cols + "}", r"\toprule", " & ".join(HEADER) + r" \\", r"\midrule"]
    out += [" & ".join(esc(c) for c in _cells(r)) + r" \\" for r in rows]
    out += [r"\bottomrule", r"\end{tabular}", ""]
    return "\n".join(out)


WRITERS = {"md": to_markdown, "csv": to_csv, "tex": to_latex}


def write_leaderboard(runs_dir: str | os.PathLike, out: str | os.PathLike,
                      formats: tuple[str, ...] = ("md", "csv", "tex"),
                      only: Sequence[str] | None = None,
                      warn: Callable[[str], None] | None = None,
                      skipped: list[str] | None = None) -> dict[str, Path]:
    """Write leaderboard.{md,csv,tex} for the runs under `runs_dir` into folder `out`.

    `only` keeps the run folders with these names (e.g. the models of one demo). `warn` is told when the
    runs were scored on different numbers of studies (their scores are then not comparable), of each
    metrics.json that cannot be read (left out; also appended to `skipped`) and of nan/inf values (shown as such).
    """
    runs_dir, out = Path(runs_dir), Path(out)
    if not runs_dir.exists():
        raise InputError(f"{runs_dir}: no such folder")
    if not runs_dir.is_dir():
        raise InputError(f"{runs_dir}: is a file; expected a folder of run folders")
    if not formats:
        raise InputError("--format: give at least one of md, csv, tex")
    paths = find_metrics(runs_dir)
    if only is not None:
        keep = set(only)
        paths = [p for p in paths if _run_dir(p).name in keep]
    if not paths:
        if (runs_dir / "metrics.json").is_file() or (runs_dir / "eval" / "metrics.json").is_file():
            raise InputError(f"{runs_dir}: is itself a scored run; give the folder that holds the run folders "
                             f"(e.g. {runs_dir.parent})")
        raise InputError(f"{runs_dir}: no scored runs (no */metrics.json); run 'pet2rep evaluate' first")
    bad: list[str] = []
    rows = load_rows(paths, bad if warn is not None or skipped is not None else None)
    for msg in bad:
        if warn is not None:
            warn(f"skipped {msg}")
    if skipped is not None:
        skipped.extend(bad)
    if not rows:
        raise InputError(f"{runs_dir}: no readable metrics.json ({len(bad)} invalid, first: {bad[0]})")
    for r in rows:
        odd = non_finite(r)
        if odd and warn is not None:
            warn(f"warning: {r['model']}: non-finite value(s) {', '.join(odd)}, shown as nan/inf")
    sizes = {r["n"] for r in rows if isinstance(r["n"], int)}
    if len(sizes) > 1 and warn is not None:
        by_n = ", ".join(f"{r['model']}: {r['n']}" for r in rows)
        warn(f"warning: the runs were scored on different numbers of studies ({by_n}); "
             "their scores are not comparable")
    ce_kinds = {r["ce_states"] for r in rows}
    if len(ce_kinds) > 1 and warn is not None:
        by_ce = ", ".join(f"{r['model']}: {r['ce_states'] or 'unknown'}" for r in rows)
        warn(f"warning: the runs were scored with different CE definitions ({by_ce}); their CE and Overall are "
             "not comparable (score them again with one --ce-states)")
    out_folder(out)
    out.mkdir(parents=True, exist_ok=True)
    written = {}
    for fmt in formats:
        path = out / f"leaderboard.{fmt}"
        atomic_write_text(path, WRITERS[fmt](rows))
        written[fmt] = path
    return written


def configure_parser(p: argparse.ArgumentParser) -> None:
    p.add_argument("runs", help="folder holding run folders (each with metrics.json or eval/metrics.json)")
    p.add_argument("--out", help="where to write leaderboard.* (default: the runs folder)")
    p.add_argument("--format", default="md,csv,tex", help="comma list of md, csv, tex (default: all three)")


def run_cli(args: argparse.Namespace) -> int:
    formats = tuple(f.strip() for f in args.format.split(",") if f.strip())
    bad = [f for f in formats if f not in WRITERS]
    if bad:
        raise InputError(f"unknown format(s) {', '.join(bad)} (choose from md, csv, tex)")
    skipped: list[str] = []
    written = write_leaderboard(args.runs, args.out or args.runs, formats, skipped=skipped,
                                warn=lambda msg: print(f"pet2rep leaderboard: {msg}", file=sys.stderr))
    if "md" in written:
        print(written["md"].read_text(encoding="utf-8"))
    print("wrote " + ", ".join(str(p) for p in written.values()))
    return 1 if skipped else 0  # some metrics.json could not be read (each named on stderr)
