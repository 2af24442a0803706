"""`pet2rep evaluate`: flags over pet2rep.metrics.evaluate.evaluate_predictions."""

from __future__ import annotations

import argparse
from pathlib import Path

from ..errors import InputError, out_folder
from ..metrics.evaluate import (
    LANGS,
    METEOR_IMPLS,
    METRICS_FILE,
    PER_SAMPLE_FILE,
    evaluate_predictions,
    format_summary,
)
from ..metrics.tokenize import check_segmenter_available
from .flags import flag_names

# evaluate_predictions' parameters as the user gives them
FLAGS = {"lang": "--lang", "refs_path": "--refs", "bootstrap": "--bootstrap", "seed": "--seed",
         "segmenter": "--segmenter", "workers": "--workers", "meteor_impl": "--meteor", "ce_states": "--ce-states",
         "out_dir": "--out"}


def configure_parser(parser: argparse.ArgumentParser) -> None:
    """Arguments of `pet2rep evaluate`."""
    parser.add_argument("predictions", metavar="RUN_DIR|PRED.jsonl",
                        help="a run folder (from `pet2rep generate`) or a predictions file (benchmark or pet2rep "
                             "format)")
    parser.add_argument("--out", metavar="DIR",
                        help="output folder for metrics.json and per_sample.jsonl (default: the run folder; "
                             "required for a predictions file)")
    parser.add_argument("--lang", choices=LANGS, default="auto", help="expected report language (default: auto)")
    parser.add_argument("--refs", metavar="DATASET.jsonl",
                        help="PET2Rep dataset (JSONL file or dataset folder) to take references from by id")
    parser.add_argument("--bootstrap", type=int, default=1000, metavar="N",
                        help="bootstrap draws for the 95%% intervals (default 1000; 0: off)")
    parser.add_argument("--seed", type=int, default=12345, help="bootstrap seed (default 12345)")
    parser.add_argument("--segmenter", choices=("none", "jieba"), default=None,
                        help="Chinese word segmenter (default: one token per character; jieba needs "
                             "pip install 'pet2rep[zh]')")
    parser.add_argument("--workers", type=int, default=None, metavar="N",
                        help="worker processes (default: number of CPUs)")
    parser.add_argument("--meteor", choices=METEOR_IMPLS, default="native",
                        help="METEOR from the native port (default) or the METEOR 1.5 jar itself (needs Java)")
    parser.add_argument("--ce-states", choices=("all", "abnormal"), default="all",
                        help="CE definition: macro over all four uptake states with CE-F1 the harmonic mean of "
                             "CE-P and CE-R (default; reproduces the paper's table), or over increased/decreased/"
                             "absent only with CE-F1 the mean of the per-state F1")
    parser.add_argument("--no-cache", action="store_true",
                        help="do not read or write the reference cache ($PET2REP_CACHE or ~/.cache/pet2rep: "
                             "tokens, uptake labels and METEOR tables of references, reused across runs)")


def run_cli(args: argparse.Namespace) -> int:
    """Run `pet2rep evaluate`."""
    if args.bootstrap < 0:
        raise InputError("--bootstrap must be >= 0")
    if args.workers is not None and args.workers < 1:
        raise InputError("--workers must be >= 1")

    check_segmenter_available(None if args.segmenter in (None, "none") else args.segmenter)
    pred = Path(args.predictions)
    if pred.is_dir():
        if not (pred / "predictions.jsonl").is_file():
            raise InputError(f"{pred}: a folder without predictions.jsonl (not a run folder)")
        if args.out is None:
            args.out = str(pred)
        args.predictions = str(pred / "predictions.jsonl")
    elif args.out is None:
        raise InputError(f"{pred}: --out is needed when scoring a predictions file (a run folder defaults to itself)")
    out = out_folder(args.out)
    with flag_names(FLAGS):
        metrics = evaluate_predictions(
            args.predictions, args.out, lang=args.lang, refs_path=args.refs, bootstrap=args.bootstrap,
            seed=args.seed, segmenter=args.segmenter, workers=args.workers, meteor_impl=args.meteor,
            require_samples=True, ce_states=args.ce_states, cache=not args.no_cache,
        )
    print(format_summary(metrics))
    print(f"wrote {out / METRICS_FILE} and {out / PER_SAMPLE_FILE}")
    inp = metrics.get("input", {})
    skipped = sum(len(inp.get(k, {}).get(f, [])) for k in ("predictions", "references")
                  for f in ("malformed", "duplicates"))
    ids = metrics.get("ids", {})
    skipped += len(ids.get("without_reference", [])) + len(ids.get("empty_reference", []))
    # scored, but some lines or samples were skipped (each named on stderr)
    return 1 if skipped else 0
