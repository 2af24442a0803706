"""What a reader study can show: one item per (study, run), with the run's report and the images its model saw.

Built once when ``review serve`` starts, from RUNS_DIR/<run>/run.json (``model``, ``dataset``) and
RUNS_DIR/<run>/predictions.jsonl. The images are those the dataset record lists, looked up as the run looked
them up (prompts.dataset.resolve_image). Every image path is resolved here, once: an image that resolves
(symbolic links followed) outside its dataset folder, is not a regular file, or is not a PNG/JPEG/WebP/GIF
is left out with a warning. The web app serves only files from this table, by position, never a path
taken from a request.
"""

from __future__ import annotations

import json
import os
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

from ..errors import InputError
from ..io import is_valid_id

IMAGE_TYPES = {".png": "image/png", ".jpg": "image/jpeg", ".jpeg": "image/jpeg", ".webp": "image/webp",
               ".gif": "image/gif"}


@dataclass
class CatalogItem:
    run: str
    model: str
    study: str
    text: str
    reference: str | None
    images: list[Path] = field(default_factory=list)


def media_type(path: Path) -> str | None:
    return IMAGE_TYPES.get(path.suffix.lower())


def _inside(path: Path, root: Path) -> bool:
    return path == root or root in path.parents


def safe_image(root: Path, rel: str) -> Path | None:
    """The real path of dataset image `rel` when it is a regular image file inside `root`, else None."""
    if not rel or "\0" in rel:
        return None
    if os.path.isabs(rel) or rel.startswith(("/", "\\")):
        return None
    real_root = root.resolve()
    for cand in (root / rel, root / Path(rel).name):
        try:
            real = cand.resolve(strict=True)
        except (OSError, RuntimeError):
            continue
        if not _inside(real, real_root) or not real.is_file() or media_type(real) is None:
            return None
        return real
    return None


def _output_text(rec: dict) -> str:
    out = rec.get("llm_output")
    if isinstance(out, list):
        out = out[0] if out else ""
    return out if isinstance(out, str) else ""


def build_catalog(runs_dir: str | os.PathLike, *, models: Sequence[str] | None = None,
                  dataset: str | os.PathLike | None = None,
                  warn: Callable[[str], None] | None = None) -> list[CatalogItem]:
    """Items of every run folder under `runs_dir` (or of the runs named in `models`).

    Images come from the dataset each run.json names, or from `dataset` (a dataset file or folder) for every
    run, e.g. when the runs were made on another machine."""
    from ..prompts.dataset import dataset_file, read_dataset
    from ..runs import PREDICTIONS, RUN_JSON, read_prediction_records

    say = warn or (lambda msg: None)
    root = Path(runs_dir)
    if not root.is_dir():
        raise InputError(f"runs_dir={root}: not a folder of run folders")
    runs = sorted(p for p in root.iterdir() if p.is_dir() and (p / PREDICTIONS).is_file())
    if models:
        wanted = list(dict.fromkeys(models))
        missing = [m for m in wanted if not (root / m / PREDICTIONS).is_file()]
        if missing:
            raise InputError(f"{root}: no run folder with {PREDICTIONS} for models={', '.join(missing)}")
        runs = [root / m for m in wanted]
    if not runs:
        raise InputError(f"{root}: no run folders (a run folder holds {PREDICTIONS} and {RUN_JSON})")
    override = dataset_file(dataset) if dataset is not None else None
    items: list[CatalogItem] = []
    datasets: dict[Path, dict[str, tuple[list[Path], str | None]]] = {}
    for run in runs:
        if not is_valid_id(run.name):
            say(f"{run}: run folder name is not a plain name; skipped")
            continue
        try:
            info = json.loads((run / RUN_JSON).read_text(encoding="utf-8"))
            if not isinstance(info, dict):
                raise ValueError("not an object")
            dataset = override or Path(info["dataset"])
        except (OSError, ValueError, KeyError, TypeError):
            say(f"{run / RUN_JSON}: missing or without 'dataset'; run skipped (its images cannot be found; "
                f"--dataset names one for every run)")
            continue
        if dataset not in datasets:
            try:
                records = read_dataset(dataset)
            except InputError as exc:
                say(f"{run.name}: {exc}; run skipped (--dataset names the dataset when it has moved)")
                continue
            table: dict[str, tuple[list[Path], str | None]] = {}
            for rec in records:
                paths = []
                for rel in rec.images:
                    real = safe_image(dataset.parent, rel)
                    if real is None:
                        say(f"{dataset}: study {rec.patient_id}: image '{rel}' left out (missing, not an image, "
                            f"or outside {dataset.parent})")
                    else:
                        paths.append(real)
                table[rec.patient_id] = (paths, rec.answer)
            datasets[dataset] = table
        table = datasets[dataset]
        model = str(info.get("model") or run.name)
        seen: set[str] = set()
        for rec in read_prediction_records(run / PREDICTIONS):
            sid = str(rec.get("subject_id"))
            if rec.get("error") or sid in seen:
                continue
            if sid not in table:
                say(f"{run.name}: study {sid} is not in the dataset {dataset}; skipped")
                continue
            seen.add(sid)
            paths, answer = table[sid]
            ref = rec.get("ground_truth") if isinstance(rec.get("ground_truth"), str) else answer
            items.append(CatalogItem(run.name, model, sid, _output_text(rec), ref, list(paths)))
    if not items:
        raise InputError(f"{root}: no reports to review (no run with answered studies and a readable dataset)")
    return items


def study_subset(items: list[CatalogItem], n: int, seed: str) -> list[CatalogItem]:
    """The items of `n` studies drawn at random (the same for every reviewer). The draw is a seeded shuffle
    of the sorted study ids, so a larger `n` later keeps the first `n` studies and adds more."""
    import random

    studies = sorted({c.study for c in items})
    random.Random(f"studies:{seed}").shuffle(studies)
    keep = set(studies[:n])
    return [c for c in items if c.study in keep]
