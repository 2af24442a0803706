"""Scored runs as the publish stage reads them: metrics.json, run.json, per_sample.jsonl and predictions.

One loader for the leaderboard, the plots and the case viewer, so all three agree on which runs there are,
what each is called (its run folder's name), which one is the template baseline and how big each model is.
"""

from __future__ import annotations

import json
import math
import re
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ..errors import InputError

Warn = Callable[[str], None]

# the paper's fixed normal-report baseline and the reference-echoing sanity check (pet2rep.backends.baselines)
TEMPLATE_BACKEND = "template"
ORACLE_BACKEND = "oracle"
_SIZE_RE = re.compile(r"^\s*([0-9]+(?:\.[0-9]+)?)\s*([BbMm])\s*$")


def is_num(x: Any) -> bool:
    return isinstance(x, (int, float)) and not isinstance(x, bool)


def is_finite(x: Any) -> bool:
    return is_num(x) and math.isfinite(x)


def find_metrics(runs_dir: Path) -> list[Path]:
    """metrics.json of every run under `runs_dir` (RUN/metrics.json or RUN/eval/metrics.json), by folder name."""
    found = []
    for run in sorted(p for p in runs_dir.iterdir() if p.is_dir() and not p.name.startswith(".")):
        for cand in (run / "metrics.json", run / "eval" / "metrics.json"):
            if cand.exists():
                found.append(cand)
                break
    return found


def run_dir_of(metrics_path: Path) -> Path:
    return metrics_path.parent.parent if metrics_path.parent.name == "eval" else metrics_path.parent


def scored_runs(runs_dir: Path, only: list[str] | None = None) -> list[Path]:
    """metrics.json of the scored runs under `runs_dir` (those named in `only`, when given); InputError naming
    the folder when it is missing, a file, a scored run itself, or holds none."""
    if not runs_dir.exists():
        raise InputError(f"{runs_dir}: no such folder")
    if not runs_dir.is_dir():
        raise InputError(f"{runs_dir}: is a file; expected a folder of run folders")
    paths = find_metrics(runs_dir)
    if only is not None:
        keep = set(only)
        paths = [p for p in paths if run_dir_of(p).name in keep]
    if not paths:
        if (runs_dir / "metrics.json").is_file() or (runs_dir / "eval" / "metrics.json").is_file():
            raise InputError(f"{runs_dir}: is itself a scored run; give the folder that holds the run folders "
                             f"(e.g. {runs_dir.parent})")
        raise InputError(f"{runs_dir}: no scored runs (no */metrics.json); run 'pet2rep evaluate' first")
    return paths


def read_json_object(path: Path, what: str) -> dict[str, Any]:
    """A JSON object from `path`; a one-line InputError when it cannot be read or is not an object."""
    try:
        obj = json.loads(path.read_text(encoding="utf-8"))
        if not isinstance(obj, dict):
            raise ValueError(f"expected a JSON object, got {type(obj).__name__}")
    except (OSError, ValueError, RecursionError) as exc:
        reason = exc.strerror if isinstance(exc, OSError) and exc.strerror else str(exc) or type(exc).__name__
        raise InputError(f"{path}: invalid {what} ({' '.join(reason.split())})") from None
    return obj


def size_b(card: dict[str, Any] | None) -> float | None:
    """Model size in billions of parameters from a card: `params_b`, else `size` such as "7B" or "500M"."""
    if not isinstance(card, dict):
        return None
    p = card.get("params_b")
    if is_finite(p) and p > 0:
        return float(p)
    m = _SIZE_RE.match(str(card.get("size") or ""))
    if m:
        val = float(m.group(1)) * (1.0 if m.group(2) in "Bb" else 1e-3)
        return val if val > 0 else None
    return None


@dataclass
class RunResult:
    """One scored run: `name` is its folder's name (the id used everywhere in publish)."""

    name: str
    dir: Path
    metrics_path: Path
    metrics: dict[str, Any]
    info: dict[str, Any] = field(default_factory=dict)  # run.json, else metrics.json's "run", else {}
    _per_sample: list[dict[str, Any]] | None = field(default=None, repr=False)

    @property
    def label(self) -> str:
        """The model name shown in tables and plots (metrics.json's model, else the folder name)."""
        m = self.metrics.get("model")
        return m if isinstance(m, str) and m else self.name

    @property
    def card(self) -> dict[str, Any]:
        card = self.info.get("card")
        if not isinstance(card, dict):
            run = self.metrics.get("run")
            card = run.get("card") if isinstance(run, dict) else None
        return card if isinstance(card, dict) else {}

    @property
    def backend(self) -> str | None:
        b = self.card.get("backend")
        return b if isinstance(b, str) else None

    @property
    def is_template(self) -> bool:
        return self.backend == TEMPLATE_BACKEND or (self.backend is None and self.name == TEMPLATE_BACKEND)

    @property
    def is_oracle(self) -> bool:
        return self.backend == ORACLE_BACKEND or (self.backend is None and self.name == ORACLE_BACKEND)

    @property
    def size_b(self) -> float | None:
        return size_b(self.card)

    @property
    def n(self) -> int | None:
        n = self.metrics.get("n")
        return n if isinstance(n, int) and not isinstance(n, bool) else None

    def ci(self, key: str) -> tuple[float, float] | None:
        ci = self.metrics.get("ci")
        v = ci.get(key) if isinstance(ci, dict) else None
        if isinstance(v, (list, tuple)) and len(v) == 2 and all(is_num(x) for x in v):
            return float(v[0]), float(v[1])
        return None

    @property
    def per_sample_path(self) -> Path:
        return self.metrics_path.with_name("per_sample.jsonl")

    def per_sample(self) -> list[dict[str, Any]]:
        """The rows of per_sample.jsonl (read once); [] when the file is missing. A bad line: InputError."""
        if self._per_sample is None:
            rows: list[dict[str, Any]] = []
            path = self.per_sample_path
            if path.is_file():
                from ..metrics.predictions import read_lines

                for lineno, line in read_lines(path):
                    if not line.strip():
                        continue
                    try:
                        r = json.loads(line)
                    except ValueError as exc:
                        raise InputError(f"{path}:{lineno}: invalid JSON ({exc})") from None
                    if not isinstance(r, dict) or not isinstance(r.get("id"), str):
                        raise InputError(f"{path}:{lineno}: not a per-sample record (no 'id')")
                    rows.append(r)
            self._per_sample = rows
        return self._per_sample

    @property
    def predictions_path(self) -> Path | None:
        """The predictions JSONL this run was scored from (RUN/predictions.jsonl, else metrics.json's source)."""
        for cand in (self.dir / "predictions.jsonl", self.metrics.get("source")):
            if cand and Path(cand).is_file():
                return Path(cand)
        return None

    @property
    def dataset_path(self) -> Path | None:
        """The prompt dataset the run was generated from (run.json's dataset), when it is still there."""
        for cand in (self.info.get("dataset"), self.metrics.get("references")):
            if isinstance(cand, str) and cand and Path(cand).exists():
                return Path(cand)
        return None


def load_runs(runs_dir: str | Path, warn: Warn | None = None, only: list[str] | None = None,
              skipped: list[str] | None = None) -> list[RunResult]:
    """Every scored run under `runs_dir`, best Overall first (non-finite or missing Overall last).

    A metrics.json that cannot be read is left out with one line through `warn` (and appended to `skipped`);
    when none can be read, or there are none, InputError.
    """
    paths = scored_runs(Path(runs_dir), only)
    runs: list[RunResult] = []
    bad: list[str] = []
    for path in paths:
        try:
            m = read_json_object(path, "metrics.json")
        except InputError as exc:
            bad.append(str(exc))
            if warn is not None:
                warn(f"skipped {exc}")
            continue
        rdir = run_dir_of(path)
        info: dict[str, Any] = {}
        if (rdir / "run.json").is_file():
            try:
                info = read_json_object(rdir / "run.json", "run.json")
            except InputError as exc:
                if warn is not None:
                    warn(f"warning: {exc}; its model card and timings are not used")
        if not info and isinstance(m.get("run"), dict):
            info = m["run"]
        runs.append(RunResult(rdir.name, rdir, path, m, info))
    if skipped is not None:
        skipped.extend(bad)
    if not runs:
        raise InputError(f"{runs_dir}: no readable metrics.json ({len(bad)} invalid, first: {bad[0]})")
    runs.sort(key=lambda r: -r.metrics["overall"] if is_finite(r.metrics.get("overall")) else math.inf)
    return runs


def size_warning(runs: list[RunResult]) -> str | None:
    """The leaderboard's warning when the runs were scored on different numbers of studies."""
    sizes = {r.n for r in runs if r.n is not None}
    if len(sizes) > 1:
        by_n = ", ".join(f"{r.label}: {r.n}" for r in runs)
        return (f"warning: the runs were scored on different numbers of studies ({by_n}); "
                "their scores are not comparable")
    return None


def template_run(runs: list[RunResult]) -> RunResult | None:
    """The template baseline among `runs` (its card's backend is "template"), if any."""
    return next((r for r in runs if r.is_template), None)
