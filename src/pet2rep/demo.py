"""The whole pipeline (`pet2rep demo`) on a small synthetic cohort, offline.

    DIR/studies/<id>/            synth: PET (SUV) + CT NIfTI, study.json, reports, labels
    DIR/dataset/                 prompts.jsonl + slice_prompt/<id>/*.jpg (fused coronal 90/100/110)
    DIR/runs/<model>/            predictions.jsonl, run.json, metrics.json, per_sample.jsonl
    DIR/leaderboard.{md,csv,tex}
    DIR/plots/*.{png,svg}        the paper's figures (needs matplotlib: pip install 'pet2rep[viz]')
    DIR/viewer/index.html        the case viewer: open it in a browser (needs jinja2)
"""

from __future__ import annotations

import re
import sys
import time
from pathlib import Path

DEFAULT_MODELS = ("template", "oracle")


def run_demo(out: str | Path, *, n: int = 20, seed: int = 0, lang: str = "zh",
             models: tuple[str, ...] = DEFAULT_MODELS, progress: bool = True,
             generation: dict | None = None, **runtime: object) -> Path:
    """Run synth → render → prompts → generate → evaluate → leaderboard; returns the leaderboard.md path.

    `models` are SPECs (card names, card files, hf:/vllm:/openai: specs); `generation` and `runtime`
    (batch_size, base_url, ...) go to every model run.
    """
    from .backends.base import load_card
    from .errors import InputError, out_folder
    from .ingest.synth import synth_cohort
    from .metrics.evaluate import evaluate_predictions
    from .prompts.build import build_dataset
    from .publish.leaderboard import write_leaderboard
    from .runs import run_model

    if n < 1:
        raise InputError(f"n={n}: need at least one study")
    if seed < 0:
        raise InputError(f"seed={seed}: must be >= 0")
    if not models:
        raise InputError("models=: give at least one model card, e.g. template,oracle")
    cards = [load_card(m) for m in models]  # unknown models fail now, not after synth
    names = [c["name"] for c in cards]
    for name in names:
        if not re.fullmatch(r"[A-Za-z0-9][A-Za-z0-9._@+-]*", name):
            raise InputError(f"model name '{name}': not usable as a run folder name (letters, digits, ._@+-)")
    if len(set(names)) != len(names):
        raise InputError(f"models=: the same model twice ({', '.join(names)})")
    out = out_folder(out)
    t0 = time.perf_counter()

    def step(msg: str) -> None:
        print(f"[{time.perf_counter() - t0:6.1f}s] {msg}", file=sys.stderr, flush=True)

    step(f"synth: {n} studies (seed {seed})")
    studies = synth_cohort(out / "studies", n=n, seed=seed, progress=progress)
    step("render + prompts: fused coronal slices 90/100/110")
    dataset, errors = build_dataset(studies, out / "dataset", lang=lang, progress=progress)
    for line in errors:
        print(line, file=sys.stderr)
    for card, name in zip(cards, names):
        run_dir = out / "runs" / name
        step(f"generate: {name}")
        # a demo run always starts afresh: a run left by an earlier demo (other -n, seed or language) is stale
        pred = run_model(dataset, card, run_dir, progress=progress, restart=True, generation=generation,
                         warn=lambda msg: print(f"pet2rep demo: {msg}", file=sys.stderr), **runtime)
        step(f"evaluate: {name}")
        evaluate_predictions(pred, run_dir, lang=lang)
    written = write_leaderboard(out / "runs", out, only=names)
    step(f"leaderboard: {written['md']}")
    publish_results(out, names, step)
    return written["md"]


def publish_results(out: Path, names: list[str], step) -> Path | None:
    """Figures into DIR/plots and the case viewer into DIR/viewer (skipped, with a line, without the viz
    extra); returns the viewer's index.html."""
    import importlib.util

    from .publish.plots import write_plots
    from .publish.view import write_site

    quiet = lambda msg: None  # noqa: E731 - the demo's own runs: nothing to warn about but missing sizes
    if importlib.util.find_spec("matplotlib") is not None:
        write_plots(out / "runs", out / "plots", only=names, warn=quiet)
        step(f"plots: {out / 'plots'}")
    else:
        step("plots: skipped (pip install 'pet2rep[viz]' for matplotlib)")
    if importlib.util.find_spec("jinja2") is None:
        step("viewer: skipped (pip install 'pet2rep[viz]' for jinja2)")
        return None
    index = write_site(out / "runs", out / "viewer", only=names, warn=quiet)
    step(f"viewer: {index}")
    return index

