"""`pet2rep view RUNS_DIR --out DIR`: a static case viewer that opens from the file system (no server).

    DIR/index.html             leaderboard, figures, and the list of studies with filters (model, failure mode,
                               organ, "template beats model"); the list is drawn by assets/viewer.js from
    DIR/data/index.js          one compact record per study (loaded as a script: file:// forbids fetch)
    DIR/studies/<id>.html      one page per study: the images the model saw, the reference report and every
                               model's report side by side, organ statements highlighted, a per-organ ✓/✗ grid
    DIR/img/<id>/…             copies of the images (file names checked, paths kept under DIR)
    DIR/plots/…                the figures of `pet2rep plots` (when matplotlib is installed)

Colours. Each organ statement the extractor finds in a model's report (`pet2rep.metrics.uptake.extract_statements`:
its span) is coloured from that run's per_sample.jsonl labels, so the page shows what the score counted: green
when the model's states for that organ equal the reference's, red when they differ, grey when the reference
states nothing for that organ. The ✓/✗ grid uses the same rule (✗ also where the model misses an organ the
reference states).

Every text from a run (reports, model names, failure details) is untrusted: the pages are Jinja2 templates with
autoescaping, the list is built with DOM text nodes, and study pages carry a Content-Security-Policy without
scripts.
"""

from __future__ import annotations

import json
import math
import os
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import quote

from ..errors import InputError, out_folder
from ..io import atomic_write_text, copy_file, id_problem, safe_join
from ..organs import ORGANS, STATES
from .results import RunResult, Warn, is_finite, load_runs, size_warning, template_run

FAILURE_MODES: tuple[str, ...] = ("empty", "refusal", "template_ignored", "invented_demographics", "truncated",
                                  "wrong_language", "error", "missing_prediction")
MAX_SHOWN_CHARS = 50_000  # a report longer than this is shown cut (a repetition loop), with a note
MAX_SCORED_CHARS = 20_000  # as evaluate: statements are read from the part that was scored
IMAGE_SUFFIXES = (".jpg", ".jpeg", ".png", ".gif", ".webp", ".bmp")
ASSETS = ("viewer.css", "viewer.js")
# organ verdict of one model on one study, as the grid, the highlights and index.js use them
OK, BAD, MISSED, EXTRA = "ok", "bad", "missed", "extra"


# ----------------------------------------------------------------------------------------------- verdicts


def organ_verdicts(hyp: dict[str, list[str]], ref: dict[str, list[str]]) -> dict[str, str]:
    """{organ: ok | bad | missed | extra} for the organs either side states (per_sample.jsonl labels)."""
    out = {}
    for organ in ORGANS:
        h, r = hyp.get(organ), ref.get(organ)
        if r:
            out[organ] = OK if h and sorted(h) == sorted(r) else (BAD if h else MISSED)
        elif h:
            out[organ] = EXTRA
    return out


def highlight_class(organs: Iterable[str], verdicts: dict[str, str]) -> str:
    """The colour class of a stretch of a model's report stating `organs`: red (any organ wrong) over green
    (an organ right) over grey (the reference states none of them)."""
    v = [verdicts.get(o, EXTRA) for o in organs]
    if any(x in (BAD, MISSED) for x in v):
        return "bad"
    if any(x == OK for x in v):
        return "ok"
    return "nr"


@dataclass
class Segment:
    """A stretch of a report: plain text, or a highlighted statement (`cls` set, `organs` it states)."""

    text: str
    cls: str = ""
    organs: list[str] = field(default_factory=list)
    title: str = ""


def segments(text: str, lang: str | None, verdicts: dict[str, str] | None,
             labels: dict[str, list[str]], ref_labels: dict[str, list[str]] | None = None) -> list[Segment]:
    """`text` cut into plain and highlighted stretches at the extractor's statement spans.

    `verdicts` None: a reference report (class "ref"); else a model report coloured by `highlight_class`.
    Overlapping statements are split into pieces, each naming every organ stated over it.
    """
    from ..metrics.uptake import extract_statements

    scored = text[:MAX_SCORED_CHARS]
    try:
        stmts = extract_statements(scored, lang if lang in ("zh", "en") else "auto")
    except Exception:  # noqa: BLE001 - a viewer never dies on one text; the report is shown unhighlighted
        stmts = []
    shown = text[:MAX_SHOWN_CHARS]
    cuts = {0, len(shown)}
    spans = []
    for st in stmts:
        a, b = max(0, int(st.span[0])), min(len(shown), int(st.span[1]))
        if a < b and st.organ in ORGANS:
            spans.append((a, b, st.organ))
            cuts.update((a, b))
    bounds = sorted(cuts)
    out: list[Segment] = []
    for a, b in zip(bounds, bounds[1:]):
        organs = sorted({o for (x, y, o) in spans if x <= a and b <= y}, key=ORGANS.index)
        piece = shown[a:b]
        if not organs:
            if out and not out[-1].cls:
                out[-1].text += piece
            else:
                out.append(Segment(piece))
            continue
        if verdicts is None:
            cls = "ref"
            title = "; ".join(f"{o}: {', '.join(labels.get(o) or ['-'])}" for o in organs)
        else:
            cls = highlight_class(organs, verdicts)
            title = "; ".join(f"{o}: model {', '.join(labels.get(o) or ['-'])} / reference "
                              f"{', '.join((ref_labels or {}).get(o) or ['not stated'])}" for o in organs)
        out.append(Segment(piece, cls, organs, title))
    return out


def study_scores(row: dict[str, Any], ce_states: str) -> dict[str, float]:
    """One study's BLEU-4, METEOR, ROUGE-L, CE-P/R/F1 (from its own uptake counts) and their Overall (%)."""
    import numpy as np

    from ..metrics.clinical import ce_scores
    from ..metrics.stats import overall_score

    out = {k: float(row[k]) if is_finite(row.get(k)) else 0.0 for k in ("bleu_4", "meteor", "rouge_l")}
    oua = ((row.get("stats") or {}).get("oua") or {}) if isinstance(row.get("stats"), dict) else {}
    try:
        counts = np.asarray([[int(x) for x in oua.get(s, (0, 0, 0))] for s in STATES], dtype=np.float64)
        ce = ce_scores(counts, ce_states)
        out.update({k: float(v) for k, v in ce.items()})
    except (TypeError, ValueError):
        out.update({"ce_precision": 0.0, "ce_recall": 0.0, "ce_f1": 0.0})
    out["overall"] = float(overall_score(out))
    return out


# ----------------------------------------------------------------------------------------------- inputs


@dataclass
class RunData:
    """What the viewer reads of one run: outputs and references by id, per-sample rows by id, dataset."""

    run: RunResult
    rows: dict[str, dict[str, Any]]
    outputs: dict[str, str]
    refs: dict[str, str]
    dataset: Path | None


def _read_run(run: RunResult, say: Warn) -> RunData:
    from ..metrics.predictions import read_predictions

    rows = {r["id"]: r for r in run.per_sample()}
    if not rows:
        say(f"warning: {run.name}: no per_sample.jsonl beside {run.metrics_path}; its reports are not shown")
    outputs: dict[str, str] = {}
    refs: dict[str, str] = {}
    pred = run.predictions_path
    if pred is None:
        say(f"warning: {run.name}: its predictions file was not found; its reports are not shown")
    else:
        preds, _ = read_predictions(pred)
        for p in preds:
            outputs[p.id] = p.hyp
            if p.ref:
                refs[p.id] = p.ref
    return RunData(run, rows, outputs, refs, run.dataset_path)


class _Datasets:
    """Prompt datasets read once each, by resolved path: {id: PromptRecord} and the folder images live in."""

    def __init__(self, say: Warn) -> None:
        self.say = say
        self.cache: dict[Path, tuple[Path, dict[str, Any]]] = {}

    def get(self, path: Path | None) -> tuple[Path, dict[str, Any]] | None:
        if path is None:
            return None
        from ..prompts.dataset import dataset_file, read_dataset

        try:
            file = dataset_file(path).resolve()
        except InputError as exc:
            self.say(f"warning: {exc}; images not shown")
            return None
        if file not in self.cache:
            try:
                recs = {r.patient_id: r for r in read_dataset(file)}
            except InputError as exc:
                self.say(f"warning: {exc}; images not shown")
                recs = {}
            self.cache[file] = (file.parent, recs)
        return self.cache[file]


def _image_name(k: int, src: str, taken: set[str]) -> str:
    """A safe file name for the k-th image of a study: its own name when it is a plain id, else image<k>."""
    base = Path(src).name
    suffix = Path(base).suffix.lower()
    if suffix not in IMAGE_SUFFIXES:
        suffix = ".img"
    name = base if id_problem(base) is None and Path(base).suffix.lower() in IMAGE_SUFFIXES else f"image{k}{suffix}"
    while name in taken:
        name = f"{k}_{name}"
    taken.add(name)
    return name


def _image_source(root: Path, rel: str) -> Path | None:
    """The image file a dataset record names, only when it is an image file inside the dataset folder (after
    resolving ``..`` and symbolic links): the site is meant to be shared, so nothing else is copied into it."""
    from ..prompts.dataset import resolve_image

    if not isinstance(rel, str) or "\0" in rel or Path(rel).suffix.lower() not in IMAGE_SUFFIXES:
        return None
    try:
        src = resolve_image(root, rel)
        if src is None or not src.is_file():
            return None
        real, base = src.resolve(), root.resolve()
    except (OSError, ValueError):
        return None
    return src if base in real.parents else None


# ----------------------------------------------------------------------------------------------- site


def _env():
    import jinja2

    env = jinja2.Environment(loader=jinja2.PackageLoader("pet2rep.publish", "templates"),
                             autoescape=True, undefined=jinja2.StrictUndefined, trim_blocks=True,
                             lstrip_blocks=True)
    env.filters["url"] = lambda s: quote(str(s), safe="")
    env.filters["num"] = _num
    return env


def _num(v: Any, digits: int = 3) -> str:
    if not isinstance(v, (int, float)) or isinstance(v, bool):
        return "–"
    return f"{v:.{digits}f}" if math.isfinite(v) else str(float(v))


def _asset(name: str) -> str:
    from importlib.resources import files

    return (files("pet2rep.publish") / "templates" / name).read_text(encoding="utf-8")


def _board(runs: list[RunResult], say: Warn) -> tuple[list[str], list[dict[str, Any]], list[str]]:
    """(header, rows, notes) of the index's leaderboard: the same rows, numbers, † marks and notes as
    `pet2rep leaderboard`."""
    from .leaderboard import COLUMNS, Layout, add_significance, load_rows, row_cells, table_notes

    rows = load_rows([r.metrics_path for r in runs], [])
    add_significance(rows, warn=say)
    layout = Layout(rows)
    out = []
    for row in rows:
        cells = row_cells(row, layout)
        split = []
        for k, cell in enumerate(cells[1:], start=1):
            value, _, ci = cell.partition(" [") if k <= len(COLUMNS) else (cell, "", "")
            split.append({"value": value, "ci": f"[{ci}" if ci else ""})
        out.append({"name": row["run"], "label": cells[0], "cells": split, "template": row["template"]})
    return layout.header()[1:], out, table_notes(rows, layout)


def write_site(runs_dir: str | os.PathLike, out: str | os.PathLike, *, warn: Warn | None = None,
               only: list[str] | None = None, plots: bool = True) -> Path:
    """Write the case viewer for the runs under `runs_dir` into `out`; returns the path of index.html."""
    say = warn or (lambda _m: None)
    runs = load_runs(runs_dir, say, only=only)
    msg = size_warning(runs)
    if msg:
        say(msg)
    out = out_folder(out)
    out.mkdir(parents=True, exist_ok=True)
    env = _env()
    data = [_read_run(r, say) for r in runs]
    tmpl = template_run(runs)
    t_idx = runs.index(tmpl) if tmpl is not None else None
    ids = _study_ids(data, runs_dir, say)
    _write_assets(out)

    labels = [r.label for r in runs]
    pages = _StudyPages(out, data, _Datasets(say), env.get_template("study.html"), ids, labels)
    index_studies = [pages.write(k) for k in range(len(ids))]
    _remove_stale_pages(out, ids)
    if pages.missing_images:
        say(f"warning: {pages.missing_images} image(s) named by the datasets were not found (or are not image "
            "files inside the dataset folder); shown as missing")

    _write_index_data(out, {"models": labels, "runs": [r.name for r in runs], "template": t_idx,
                            "organs": list(ORGANS), "modes": list(FAILURE_MODES), "studies": index_studies})
    figures = []
    if plots:
        figures = _plots(runs_dir, runs, out / "plots", say)
    header, board, notes = _board(runs, say)
    html = env.get_template("index.html").render(
        header=header, board=board, notes=notes, figures=figures, n_studies=len(ids), organs=ORGANS, modes=FAILURE_MODES,
        labels=labels, template=labels[t_idx] if t_idx is not None else None,
        size_warning=msg,
    )
    atomic_write_text(out / "index.html", html)
    return out / "index.html"


def _study_ids(data: list[RunData], runs_dir: Any, say: Warn) -> list[str]:
    """Every study id scored by some run, in the order the runs list them, less the ids that cannot name a
    page (the first five said); InputError when none is left."""
    ids: list[str] = []
    seen: set[str] = set()
    for d in data:
        for sid in d.rows:
            if sid not in seen:
                seen.add(sid)
                ids.append(sid)
    bad_ids = [s for s in ids if id_problem(s) is not None]
    for s in bad_ids[:5]:
        say(f"warning: study id {s!r} {id_problem(s)}; it cannot name a page and is left out")
    ids = [s for s in ids if id_problem(s) is None]
    if not ids:
        raise InputError(f"{runs_dir}: no study to show (no per_sample.jsonl rows); run 'pet2rep evaluate' first")
    return ids


def _write_assets(out: Path) -> None:
    """The viewer's stylesheet and script, and the studies/ and data/ folders."""
    for name in ASSETS:
        (out / "assets").mkdir(exist_ok=True)
        atomic_write_text(out / "assets" / name, _asset(name))
    (out / "studies").mkdir(exist_ok=True)
    (out / "data").mkdir(exist_ok=True)


def _remove_stale_pages(out: Path, ids: list[str]) -> None:
    """Delete the pages of studies an earlier run of view wrote that are not shown now."""
    keep = {f"{sid}.html" for sid in ids}
    for stale in (out / "studies").glob("*.html"):
        if stale.name not in keep and stale.is_file() and not stale.is_symlink():
            stale.unlink()


def _write_index_data(out: Path, index: dict[str, Any]) -> None:
    """data/index.js: the study list, loaded as a script (file:// forbids fetch)."""
    atomic_write_text(out / "data" / "index.js",
                      "window.PET2REP_INDEX = " + json.dumps(index, ensure_ascii=True, separators=(",", ":"),
                                                             allow_nan=False) + ";\n")


@dataclass
class _ModelColumn:
    """One model's column on a study page and its entries in index.js."""

    model: dict[str, Any]
    fail_mask: int = -1
    wrong_mask: int = 0
    overall: float | None = None
    verdicts: dict[str, str] = field(default_factory=dict)


def _model_column(d: RunData, sid: str) -> _ModelColumn:
    """What run `d` said about study `sid`: its report in segments, failures, scores and organ verdicts."""
    row = d.rows.get(sid)
    if row is None:
        return _ModelColumn({"label": d.run.label, "missing": True})
    lab = row.get("labels") or {}
    hyp, ref = lab.get("hyp") or {}, lab.get("ref") or {}
    verdicts = organ_verdicts(hyp, ref)
    text = d.outputs.get(sid, "")
    no_text = sid not in d.outputs
    fails = [m for m in row.get("failures") or [] if isinstance(m, str)]
    scores = study_scores(row, str(d.run.metrics.get("ce_states") or "all"))
    model = {
        "label": d.run.label, "missing": False, "failures": fails,
        "details": _details(row.get("failure_details")) if fails else [],
        "segments": segments(text, row.get("lang"), verdicts, hyp, ref),
        "cut": max(0, len(text) - MAX_SHOWN_CHARS), "empty": not text.strip() and not no_text,
        "no_text": no_text,
        "scores": scores, "template": d.run.is_template,
    }
    return _ModelColumn(
        model,
        fail_mask=sum(1 << FAILURE_MODES.index(m) for m in fails if m in FAILURE_MODES),
        wrong_mask=sum(1 << ORGANS.index(o) for o, v in verdicts.items() if v in (BAD, MISSED)),
        overall=round(scores["overall"], 2), verdicts=verdicts)


@dataclass
class _StudyPages:
    """Writes studies/<id>.html (and copies its images) one study at a time; counts the images not found."""

    out: Path
    data: list[RunData]
    datasets: _Datasets
    template: Any
    ids: list[str]
    labels: list[str]
    missing_images: int = 0

    def write(self, k: int) -> list[Any]:
        """Write the page of the k-th study; returns its index.js record [id, fail masks, wrong masks, overall]."""
        sid, data = self.ids[k], self.data
        ref_text = next((d.refs[sid] for d in data if sid in d.refs), None)
        groups, ref_text = self._image_groups(sid, ref_text)
        image_groups = self._copy_images(sid, groups)
        ref_row = next((d.rows[sid] for d in data if sid in d.rows), {})
        ref_labels = (ref_row.get("labels") or {}).get("ref") or {}
        ref_lang = ref_row.get("expected_lang")
        columns = [_model_column(d, sid) for d in data]
        grid: dict[str, list[str | None]] = {}
        for j, col in enumerate(columns):
            for organ, v in col.verdicts.items():
                grid.setdefault(organ, [None] * len(data))[j] = v
        grid_rows = [{"organ": o, "ref": ", ".join(ref_labels.get(o) or []) or "not stated",
                      "cells": grid[o]} for o in ORGANS if o in grid]
        ids = self.ids
        page = self.template.render(
            sid=sid, prev_id=ids[k - 1] if k else None, next_id=ids[k + 1] if k + 1 < len(ids) else None,
            ref_segments=segments(ref_text or "", ref_lang, None, ref_labels) if ref_text else [],
            ref_missing=ref_text is None, image_groups=image_groups, models=[c.model for c in columns],
            grid=grid_rows, labels=self.labels, position=k + 1, total=len(ids),
        )
        atomic_write_text(safe_join(self.out, "studies", f"{sid}.html"), page)
        return [sid, [c.fail_mask for c in columns], [c.wrong_mask for c in columns], [c.overall for c in columns]]

    def _image_groups(self, sid: str, ref_text: str | None) -> tuple[list[dict[str, Any]], str | None]:
        """The study's images grouped by the dataset each run was generated from (the models that saw each
        group), and the reference text, taken from a dataset's answer when no run had one."""
        groups: dict[tuple[str, ...], dict[str, Any]] = {}
        for d in self.data:
            ds = self.datasets.get(d.dataset)
            if ds is None or sid not in ds[1]:
                continue
            root, recs = ds
            rec = recs[sid]
            if ref_text is None and rec.answer:
                ref_text = rec.answer
            key = tuple(rec.images)
            g = groups.setdefault(key, {"root": root, "images": list(rec.images), "models": []})
            g["models"].append(d.run.label)
        return list(groups.values()), ref_text

    def _copy_images(self, sid: str, groups: list[dict[str, Any]]) -> list[dict[str, Any]]:
        """Copy each group's images under img/<id>/ and describe them for the page (src None: not found)."""
        image_groups = []
        taken: set[str] = set()
        for g in groups:
            shown = []
            for j, rel in enumerate(g["images"]):
                src = _image_source(g["root"], rel)
                if src is None:
                    self.missing_images += 1
                    shown.append({"src": None, "name": Path(str(rel)).name})
                    continue
                name = _image_name(j, rel, taken)
                dst = safe_join(self.out, "img", sid, name)
                dst.parent.mkdir(parents=True, exist_ok=True)
                copy_file(src, dst)
                shown.append({"src": f"../img/{quote(sid, safe='')}/{quote(name, safe='')}", "name": Path(rel).name})
            image_groups.append({"images": shown, "models": g["models"],
                                 "all": len(groups) == 1 and len(g["models"]) == len(self.data)})
        return image_groups


def _details(details: Any) -> list[str]:
    if not isinstance(details, dict):
        return []
    out = []
    for k, v in details.items():
        if v in (None, [], "", {}):
            continue
        out.append(f"{k}: {v if isinstance(v, str) else json.dumps(v, ensure_ascii=False)}"[:300])
    return out


def _plots(runs_dir: Any, runs: list[RunResult], where: Path, say: Warn) -> list[dict[str, str]]:
    import importlib.util

    if importlib.util.find_spec("matplotlib") is None:
        say("warning: matplotlib is not installed, so the index has no figures (pip install 'pet2rep[viz]')")
        return []
    from .plots import write_plots

    written = write_plots(runs_dir, where, runs=runs, warn=lambda m: None if "different numbers" in m else say(m))
    titles = {"metrics": "Metrics per model", "organ_f1": "CE-F1 per organ", "overall_vs_size": "Overall vs size",
              "failures": "Failure modes", "lengths": "Report lengths"}
    return [{"name": titles.get(name, name), "png": f"plots/{name}.png", "svg": f"plots/{name}.svg"}
            for name in written]

