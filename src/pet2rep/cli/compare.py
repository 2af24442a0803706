"""`pet2rep compare`: flags over pet2rep.metrics.compare.compare_runs."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from ..errors import InputError
from ..io import atomic_write_json
from ..metrics.compare import compare_runs, format_table
from .flags import as_flags, flag_names

# compare_runs' parameters as the user gives them
FLAGS = {"test": "--test", "n": "--n", "seed": "--seed", "ce_states": "--ce-states"}


def configure_parser(parser: argparse.ArgumentParser) -> None:
    """Arguments of `pet2rep compare`."""
    parser.add_argument("run_a", metavar="RUN_A", help="scored run (folder with per_sample.jsonl or eval/)")
    parser.add_argument("run_b", metavar="RUN_B", help="scored run to compare against RUN_A")
    parser.add_argument("--test", choices=("bootstrap", "ar"), default="bootstrap",
                        help="paired bootstrap resampling (default) or approximate randomisation")
    parser.add_argument("--n", type=int, default=1000, help="resamples / trials (default 1000)")
    parser.add_argument("--seed", type=int, default=12345, help="random seed (default 12345)")
    parser.add_argument("--json", metavar="FILE", help="also write the result as JSON")
    parser.add_argument("--ce-states", choices=("all", "abnormal"), default=None,
                        help="CE definition for both runs (default: the one they were scored with, see "
                             "'pet2rep evaluate --ce-states')")


def run_cli(args: argparse.Namespace) -> int:
    """Run `pet2rep compare`."""
    if args.n < 1:
        raise InputError("--n must be >= 1")
    if args.json and Path(args.json).is_dir():
        raise InputError(f"{args.json}: --json is a folder, expected a file name")
    with flag_names(FLAGS):
        result = compare_runs(args.run_a, args.run_b, test=args.test, n=args.n, seed=args.seed,
                              ce_states=args.ce_states,
                              warn=lambda msg: print(f"pet2rep compare: {as_flags(msg, FLAGS)}", file=sys.stderr))
    print(format_table(result))
    left_out = 0
    for key, run in (("only_a", args.run_a), ("only_b", args.run_b)):
        ids = result[key]
        if ids:
            left_out += len(ids)
            more = f", ... and {len(ids) - 20} more" if len(ids) > 20 else ""
            print(f"pet2rep compare: warning: {len(ids)} sample(s) only in {run} (left out of the comparison): "
                  f"{', '.join(ids[:20])}{more}", file=sys.stderr)
    if args.json:
        out = Path(args.json)
        out.parent.mkdir(parents=True, exist_ok=True)
        atomic_write_json(out, result)
        print(f"wrote {out}")
    return 1 if left_out else 0  # compared on the shared ids; the others are named on stderr
