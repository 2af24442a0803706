"""Leaderboard: scored runs tabulated as markdown, CSV and LaTeX, in the paper's column order.

Every metric is shown with its bootstrap 95% interval (metrics.json's ``ci``), followed by the model size (from
the model card), output tokens and seconds per study (run.json / predictions), the failure-mode counts, and,
with ``--review``, the reader study's ratings. The template baseline is a row whenever its run is there; each
other row is marked (†) where it is not significantly better than the template on Overall (paired test of
`pet2rep compare` on the studies both runs share). LaTeX uses booktabs and sets the best value of each metric
column in bold (the oracle, a check of the scorer, is not a contender). Markdown and CSV hold the same numbers.
"""

from __future__ import annotations

import csv
import io
import json
import math
import os
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

from ..errors import InputError, out_folder
from ..io import atomic_write_text
from ..metrics.registry import SCORES, score_of, table_scores
from .results import is_finite, read_json_object, run_dir_of, scored_runs, size_b

# (metrics.json key, column title, digits) of the registered metrics' table scores, Overall last; the paper reports
# 0-1 scores with 3 decimals, Overall in %.
COLUMNS: tuple[tuple[str, str, int], ...] = tuple((s.key, s.title, s.digits) for s in table_scores())
FAILURE_ORDER: tuple[str, ...] = ("empty", "refusal", "template_ignored", "invented_demographics", "truncated",
                                  "wrong_language", "error", "missing_prediction")
FAILURE_TITLES = {"empty": "Empty", "refusal": "Refusal", "template_ignored": "Tmpl. ignored",
                  "invented_demographics": "Invented", "truncated": "Truncated", "wrong_language": "Wrong lang.",
                  "error": "Error", "missing_prediction": "Missing"}
# (row key, column title, digits) of the cost columns, shown when some run has the value
COST_COLUMNS: tuple[tuple[str, str, int], ...] = (
    ("size_b", "Size (B)", 1),
    ("output_tokens", "Out tok/study", 0),
    ("s_per_study", "s/study", 2),
)
# metrics.json's other corpus metrics: in the CSV only (after the table's columns)
EXTRA_METRICS: tuple[str, ...] = tuple(s.key for s in SCORES if not s.in_table)
SIG_TESTS = {"ar": "paired approximate randomisation", "bootstrap": "paired bootstrap resampling"}
SIG_LEVEL = 0.05
DAGGER = "†"

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


def load_rows(paths: list[Path], skipped: list[str] | None = None) -> list[dict[str, Any]]:
    """One row per run: its name, the metric values with their intervals, cost and failure counts, best first.

    A metrics.json that cannot be read raises InputError, or, with `skipped`, is left out and its one-line
    reason appended there.
    """
    rows = []
    for path in paths:
        try:
            m = read_json_object(path, "metrics.json")
        except InputError as exc:
            if skipped is None:
                raise
            skipped.append(str(exc))
            continue
        run = run_dir_of(path)
        info = _run_json(run) or (m["run"] if isinstance(m.get("run"), dict) else {})
        card = info.get("card") if isinstance(info.get("card"), dict) else {}
        row: dict[str, Any] = {"model": m.get("model") or run.name, "n": m.get("n"), "run": run.name,
                               "dir": run, "per_sample": path.with_name("per_sample.jsonl")}
        if not isinstance(row["model"], str):
            row["model"] = run.name
        for key, _, _ in COLUMNS:
            row[key] = m.get(key)
        cis = m.get("ci") if isinstance(m.get("ci"), dict) else {}
        row["ci"] = {k: _pair(cis.get(k)) for k in (*[c[0] for c in COLUMNS], *EXTRA_METRICS) if _pair(cis.get(k))}
        for k in EXTRA_METRICS:
            row[k] = m.get(k)
        row["overall_ci"] = row["ci"].get("overall")
        row["failures"] = _failure_total(m.get("failures"))
        row["failure_counts"] = _failure_counts(m.get("failures"))
        row["ce_states"] = ce_states_of(m)
        val = m.get("ce_validation")
        row["ce_validation"] = (m.get("lang"), val) if isinstance(val, dict) else None
        backend = card.get("backend") if isinstance(card.get("backend"), str) else None
        row["template"] = backend == "template" or (backend is None and run.name == "template")
        row["oracle"] = backend == "oracle" or (backend is None and run.name == "oracle")
        row["size_b"] = size_b(card)
        row.update(_cost(run, info, m))
        row["sig"] = None
        row["review"] = {}
        rows.append(row)
    # best Overall first; a missing or non-finite Overall (nan, inf) goes last
    rows.sort(key=lambda r: -r["overall"] if is_finite(r["overall"]) else math.inf)
    return rows


def _pair(v: Any) -> tuple[float, float] | None:
    if isinstance(v, (list, tuple)) and len(v) == 2 and all(_is_num(x) for x in v):
        return float(v[0]), float(v[1])
    return None


def _run_json(run: Path) -> dict[str, Any] | None:
    try:
        return read_json_object(run / "run.json", "run.json") if (run / "run.json").is_file() else None
    except InputError:
        return None


def _cost(run: Path, info: dict[str, Any], m: dict[str, Any]) -> dict[str, Any]:
    """Prompt and output tokens per study (from the predictions) and generation seconds per study (run.json)."""
    prompt, output = [], []
    pred = run / "predictions.jsonl"
    if pred.is_file():
        try:
            with open(pred, encoding="utf-8") as fh:
                for line in fh:
                    try:
                        r = json.loads(line)
                    except ValueError:
                        continue
                    if isinstance(r, dict):
                        if is_finite(r.get("prompt_tokens")):
                            prompt.append(r["prompt_tokens"])
                        if is_finite(r.get("completion_tokens")):
                            output.append(r["completion_tokens"])
        except (OSError, UnicodeDecodeError):
            pass
    sph = info.get("studies_per_hour")
    s = 3600.0 / sph if is_finite(sph) and sph > 0 else None
    if s is None and is_finite(info.get("wall_s")) and is_finite(info.get("n_predictions")) and info["n_predictions"]:
        s = float(info["wall_s"]) / float(info["n_predictions"])
    return {"prompt_tokens": sum(prompt) / len(prompt) if prompt else None,
            "output_tokens": sum(output) / len(output) if output else None, "s_per_study": s}


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


def _failure_counts(failures: Any) -> dict[str, int]:
    counts = failures.get("counts") if isinstance(failures, dict) else None
    if not isinstance(counts, dict):
        return {}
    return {str(k): int(v) for k, v in counts.items() if is_finite(v)}


def _fmt(value: Any, digits: int) -> str:
    """The value to `digits` decimals; nan and inf as "nan", "inf", "-inf"; "–" when missing or not a number."""
    if not _is_num(value):
        return "–"
    return f"{value:.{digits}f}" if math.isfinite(value) else str(float(value))


def _ci_text(ci: tuple[float, float] | None, digits: int) -> str:
    return f"[{_fmt(ci[0], digits)}, {_fmt(ci[1], digits)}]" if ci else ""


# ------------------------------------------------------------------------------------------- layout


class Layout:
    """Which optional columns the tables have: cost columns some run fills, failure modes some run shows,
    the review criteria given."""

    def __init__(self, rows: list[dict[str, Any]], criteria: Sequence[str] = ()) -> None:
        self.cost = [c for c in COST_COLUMNS if any(_is_num(r.get(c[0])) for r in rows)]
        seen = {k for r in rows for k, v in r["failure_counts"].items() if v}
        self.modes = [m for m in FAILURE_ORDER if m in seen] + sorted(seen - set(FAILURE_ORDER))
        self.criteria = list(criteria)

    def header(self) -> list[str]:
        return (["Model"] + [t for _, t, _ in COLUMNS] + [t for _, t, _ in self.cost]
                + [FAILURE_TITLES.get(m, m) for m in self.modes]
                + [f"Reader {c}" for c in self.criteria] + ["n", "Failures"])


def _review_text(r: dict[str, Any], crit: str) -> str:
    v = r["review"].get(crit)
    if not v or not v.get("n"):
        return "–"
    return f"{_fmt(v['mean'], 2)} [{_fmt(v['low'], 2)}, {_fmt(v['high'], 2)}]"


def _name(r: dict[str, Any]) -> str:
    sig = r.get("sig")
    return str(r["model"]) + (f" {DAGGER}" if sig is not None and not sig["better"] else "")


def row_cells(row: dict[str, Any], layout: Layout | None = None) -> list[str]:
    """The markdown cells of a row: every metric with its interval, then cost, failures, review, n, Failures."""
    layout = layout or Layout([row])
    cells = [_name(row)]
    for k, _, d in COLUMNS:
        ci = _ci_text(row["ci"].get(k), d)
        cells.append(_fmt(row[k], d) + (f" {ci}" if ci else ""))
    cells += [_fmt(row.get(k), d) for k, _, d in layout.cost]
    cells += [str(row["failure_counts"].get(m, 0)) if row["failure_counts"] else "–" for m in layout.modes]
    cells += [_review_text(row, c) for c in layout.criteria]
    cells.append("" if row["n"] is None else str(row["n"]))
    cells.append("" if row["failures"] is None else str(row["failures"]))
    return cells


def ce_note(rows: list[dict[str, Any]]) -> str:
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


def _sig_note(rows: list[dict[str, Any]]) -> str | None:
    tested = [r for r in rows if r.get("sig") is not None]
    if not tested:
        return None
    s = tested[0]["sig"]
    tmpl = next(r for r in rows if r.get("template"))
    return (f"{DAGGER} not significantly better than the template baseline ({tmpl['model']}) on Overall: "
            f"{SIG_TESTS[s['test']]} ({s['trials']:,} trials, seed {s['seed']}, two-sided p < {SIG_LEVEL} and a "
            f"higher Overall needed) on the studies both runs share, as in pet2rep compare --test {s['test']}.")


def _trust_note(rows: list[dict[str, Any]]) -> str | None:
    """How far CE can be trusted in the runs' languages (metrics.json "ce_validation"), one clause per language."""
    langs = {}
    for r in rows:
        if r.get("ce_validation"):
            lang, val = r["ce_validation"]
            langs.setdefault(lang, val)
    parts = []
    for lang, val in sorted(langs.items(), key=lambda kv: str(kv[0])):
        try:
            parts.append(f"{lang} micro-F1 {float(val['first_run_micro_f1']):.3f} over {int(val['texts'])} texts")
        except (KeyError, TypeError, ValueError):
            continue
    if not parts:
        return None
    return ("CE rests on the uptake extractor, whose first runs on clinician-written text it was never tuned on "
            f"gave {'; '.join(parts)}: CE differences within that error deserve a look at the statements "
            "(pet2rep uptake --statements).")


def table_notes(rows: list[dict[str, Any]], layout: Layout) -> list[str]:
    notes = []
    if layout.cost:
        notes.append("Size: billions of parameters from the model card; Out tok/study: mean output tokens per "
                     "study; s/study: generation seconds per study (model loading excluded).")
    if layout.modes:
        notes.append("Failure-mode columns count the outputs flagged with each mode (an output can have several); "
                     "Failures counts the outputs with any.")
    if layout.criteria:
        notes.append("Reader columns: mean rating with its bootstrap 95% interval over studies (reader study).")
    sig = _sig_note(rows)
    if sig:
        notes.append(sig)
    trust = _trust_note(rows)
    if trust:
        notes.append(trust)
    # last, as before: the line that says what CE means
    notes.append("Overall = mean of BLEU-4, METEOR, ROUGE-L, CE-P, CE-R, CE-F1 in percent; bootstrap 95% "
                 f"intervals in brackets. {ce_note(rows)}")
    return notes


def to_markdown(rows: list[dict[str, Any]], layout: Layout | None = None) -> str:
    layout = layout or Layout(rows)
    header = layout.header()
    lines = ["| " + " | ".join(header) + " |", "|" + "|".join(["---"] + ["---:"] * (len(header) - 1)) + "|"]
    lines += ["| " + " | ".join(row_cells(r, layout)) + " |" for r in rows]
    return "\n".join(lines) + "\n\n" + "\n\n".join(table_notes(rows, layout)) + "\n"


def _csv_value(v: Any) -> Any:
    return "" if v is None else v


def to_csv(rows: list[dict[str, Any]], layout: Layout | None = None) -> str:
    """Every number of the tables at full precision; the first columns are the historical ones."""
    layout = layout or Layout(rows)
    buf = io.StringIO()
    w = csv.writer(buf, lineterminator="\n")
    keys = [k for k, _, _ in COLUMNS]
    ci_keys = [k for k in keys if k != "overall"]
    modes = list(FAILURE_ORDER) + sorted({m for r in rows for m in r["failure_counts"]} - set(FAILURE_ORDER))
    review = [f"review_{c}_{p}" for c in layout.criteria for p in ("mean", "low", "high", "n")]
    w.writerow(["model", *keys, "overall_lo", "overall_hi", "n", "failures", "ce_states",
                *[f"{k}_{e}" for k in ci_keys for e in ("lo", "hi")], "size_b", "prompt_tokens_per_study",
                "output_tokens_per_study", "s_per_study", *[f"fail_{m}" for m in modes], "template", "run",
                "p_vs_template", "better_than_template", "sig_test", *review,
                *[f"{k}{e}" for k in EXTRA_METRICS for e in ("", "_lo", "_hi")]])
    for r in rows:
        lo, hi = r["overall_ci"] or ("", "")
        cis = []
        for k in ci_keys:
            cis += list(r["ci"].get(k) or ("", ""))
        sig = r.get("sig")
        rev = []
        for c in layout.criteria:
            v = r["review"].get(c) or {}
            rev += [_csv_value(v.get(p)) for p in ("mean", "low", "high", "n")]
        w.writerow([r["model"], *[_csv_value(r[k]) for k in keys], lo, hi, r["n"], r["failures"],
                    r.get("ce_states") or "", *cis, _csv_value(r["size_b"]), _csv_value(r["prompt_tokens"]),
                    _csv_value(r["output_tokens"]), _csv_value(r["s_per_study"]),
                    *[r["failure_counts"].get(m, "") if r["failure_counts"] else "" for m in modes],
                    "yes" if r.get("template") else "", r.get("run", ""),
                    "" if sig is None else sig["p"], "" if sig is None else ("yes" if sig["better"] else "no"),
                    "" if sig is None else sig["test"], *rev,
                    *[x for k in EXTRA_METRICS for x in (_csv_value(r.get(k)), *(r["ci"].get(k) or ("", "")))]])
    return buf.getvalue()


_TEX = {"\\": r"\textbackslash{}", "&": r"\&", "%": r"\%", "$": r"\$", "#": r"\#", "_": r"\_", "{": r"\{",
        "}": r"\}", "~": r"\textasciitilde{}", "^": r"\textasciicircum{}", "<": r"\textless{}",
        ">": r"\textgreater{}"}


def tex_escape(s: str) -> str:
    return "".join(_TEX.get(ch, ch) for ch in s)


def _best(rows: list[dict[str, Any]]) -> dict[str, float]:
    """The best finite value of each metric column among the contenders (not the oracle): the highest, or the
    lowest for a score whose registry entry says lower is better."""
    best = {}
    for k, _, d in COLUMNS:
        vals = [round(r[k], d) for r in rows if not r.get("oracle") and is_finite(r[k])]
        if vals:
            best[k] = max(vals) if score_of(k).higher_is_better else min(vals)
    return best


def to_latex(rows: list[dict[str, Any]], layout: Layout | None = None) -> str:
    layout = layout or Layout(rows)
    header = layout.header()
    best = _best(rows)
    out = [r"% pet2rep leaderboard; needs \usepackage{booktabs}",
           r"\begin{tabular}{" + "l" + "r" * (len(header) - 1) + "}", r"\toprule",
           " & ".join(tex_escape(h) for h in header) + r" \\", r"\midrule"]
    for r in rows:
        name = tex_escape(str(r["model"]))
        if r.get("sig") is not None and not r["sig"]["better"]:
            name += r"$^\dagger$"
        cells = [name]
        for k, _, d in COLUMNS:
            v = _fmt(r[k], d)
            if k in best and is_finite(r[k]) and not r.get("oracle") and round(r[k], d) == best[k]:
                v = r"\textbf{" + v + "}"
            ci = _ci_text(r["ci"].get(k), d)
            cells.append(v + (r" {\scriptsize " + ci + "}" if ci else ""))
        cells += [_fmt(r.get(k), d) for k, _, d in layout.cost]
        cells += [str(r["failure_counts"].get(m, 0)) if r["failure_counts"] else "–" for m in layout.modes]
        cells += [_review_text(r, c) for c in layout.criteria]
        cells += ["" if r["n"] is None else str(r["n"]), "" if r["failures"] is None else str(r["failures"])]
        out.append(" & ".join(cells) + r" \\")
    out.append(r"\bottomrule")
    for note in table_notes(rows, layout):
        text = tex_escape(note).replace(DAGGER, r"$^\dagger$")
        out.append(r"\multicolumn{" + str(len(header)) + r"}{@{}p{\linewidth}@{}}{\footnotesize " + text + r"} \\")
    out += [r"\end{tabular}", ""]
    return "\n".join(out)


WRITERS = {"md": to_markdown, "csv": to_csv, "tex": to_latex}


# ------------------------------------------------------------------------------------------- extras


def add_significance(rows: list[dict[str, Any]], test: str = "ar", trials: int = 1000, seed: int = 12345,
                     warn: Callable[[str], None] | None = None) -> None:
    """Mark each row against the template row: `sig` = {p, delta, better, test, trials, seed} (Overall)."""
    from ..metrics.compare import compare_runs

    tmpl = next((r for r in rows if r.get("template")), None)
    if tmpl is None or not tmpl["per_sample"].is_file():
        return
    for r in rows:
        if r is tmpl or not r["per_sample"].is_file():
            continue
        try:
            res = compare_runs(tmpl["per_sample"], r["per_sample"], test=test, n=trials, seed=seed,
                               ce_states=tmpl.get("ce_states") if tmpl.get("ce_states") in CE_NOTES else None)
        except InputError as exc:
            if warn is not None:
                warn(f"warning: {r['model']}: not tested against the template ({exc})")
            continue
        ov = res["metrics"]["overall"]
        r["sig"] = {"p": ov["p"], "delta": ov["delta"], "better": bool(ov["delta"] > 0 and ov["p"] < SIG_LEVEL),
                    "test": test, "trials": trials, "seed": seed, "n_shared": res["n_shared"]}


REVIEW_FILE = "model_ratings.json"


def read_review(export_dir: str | os.PathLike) -> tuple[list[str], dict[str, dict[str, dict[str, Any]]]]:
    """(criteria, {run folder: {criterion: {mean, low, high, n}}}) from a reader-study export's
    model_ratings.json; a one-line InputError naming the field when it is not in that format."""
    path = Path(export_dir) / REVIEW_FILE
    if not Path(export_dir).is_dir():
        raise InputError(f"review={export_dir}: no such folder (give the folder 'pet2rep review export' wrote)")
    if not path.is_file():
        raise InputError(f"{path}: no such file (run the reader study's export into {export_dir} first)")
    obj = read_json_object(path, REVIEW_FILE)
    crit = obj.get("criteria")
    if not isinstance(crit, list) or not crit or not all(isinstance(c, str) and c for c in crit):
        raise InputError(f"{path}: 'criteria' must be a non-empty list of names")
    models = obj.get("models")
    if not isinstance(models, dict):
        raise InputError(f"{path}: 'models' must be an object {{run folder: {{criterion: {{mean, low, high, n}}}}}}")
    out: dict[str, dict[str, dict[str, Any]]] = {}
    for run, entry in models.items():
        if not isinstance(entry, dict):
            raise InputError(f"{path}: models.{run}: must be an object of criteria")
        out[run] = {}
        for c in crit:
            v = entry.get(c)
            if v is None:
                continue
            if not isinstance(v, dict):
                raise InputError(f"{path}: models.{run}.{c}: must be an object {{mean, low, high, n}}")
            for key in ("mean", "low", "high"):
                if v.get(key) is not None and not _is_num(v.get(key)):
                    raise InputError(f"{path}: models.{run}.{c}.{key}: not a number ({v.get(key)!r})")
            n = v.get("n", 0)
            if not isinstance(n, int) or isinstance(n, bool) or n < 0:
                raise InputError(f"{path}: models.{run}.{c}.n: not a count ({n!r})")
            out[run][c] = {"mean": v.get("mean"), "low": v.get("low"), "high": v.get("high"), "n": n}
    return crit, out


def write_leaderboard(runs_dir: str | os.PathLike, out: str | os.PathLike,
                      formats: tuple[str, ...] = ("md", "csv", "tex"),
                      only: Sequence[str] | None = None,
                      warn: Callable[[str], None] | None = None,
                      skipped: list[str] | None = None, *,
                      review: str | os.PathLike | None = None,
                      sig_test: str | None = "ar", sig_trials: int = 1000) -> dict[str, Path]:
    """Write leaderboard.{md,csv,tex} for the runs under `runs_dir` into folder `out`.

    `only` keeps the run folders with these names (e.g. the models of one demo). `warn` is told when the
    runs were scored on different numbers of studies (their scores are then not comparable), of each
    metrics.json that cannot be read (left out; also appended to `skipped`) and of nan/inf values (shown as such).
    `review` is a reader-study export folder (model_ratings.json); `sig_test` the paired test against the
    template ("ar", "bootstrap", or None for none).
    """
    runs_dir, out = Path(runs_dir), Path(out)
    paths = scored_runs(runs_dir, only)
    if not formats:
        raise InputError("formats=: give at least one of md, csv, tex")
    criteria: list[str] = []
    ratings: dict[str, dict[str, dict[str, Any]]] = {}
    if review is not None:
        criteria, ratings = read_review(review)
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
             "not comparable (score them again under one definition: evaluate's ce_states=all or ce_states=abnormal)")
    if sig_test is not None:
        if sig_test not in SIG_TESTS:
            raise InputError(f"sig_test={sig_test}: choose ar or bootstrap")
        add_significance(rows, sig_test, sig_trials, warn=warn)
    if review is not None:
        names = {r["run"] for r in rows}
        for r in rows:
            r["review"] = ratings.get(r["run"], {})
        unknown = sorted(set(ratings) - names)
        if unknown and warn is not None:
            warn(f"warning: {review}/{REVIEW_FILE}: rated run(s) not among the runs here: {', '.join(unknown)}")
    layout = Layout(rows, criteria)
    out_folder(out)
    out.mkdir(parents=True, exist_ok=True)
    written = {}
    for fmt in formats:
        path = out / f"leaderboard.{fmt}"
        atomic_write_text(path, WRITERS[fmt](rows, layout))
        written[fmt] = path
    return written

