"""`pet2rep leaderboard`: flags over pet2rep.publish.leaderboard.write_leaderboard."""

from __future__ import annotations

import argparse
import sys

from ..errors import InputError
from ..publish.leaderboard import SIG_TESTS, WRITERS, write_leaderboard
from .flags import as_flags, flag_names

# write_leaderboard's parameters as the user gives them
FLAGS = {"formats": "--format", "review": "--review", "sig_test": "--test", "sig_trials": "--trials", "out": "--out",
         "ce_states": "--ce-states"}  # named in advice about evaluate


def configure_parser(p: argparse.ArgumentParser) -> None:
    p.add_argument("runs", help="folder holding run folders (each with metrics.json or eval/metrics.json)")
    p.add_argument("--out", help="where to write leaderboard.* (default: the runs folder)")
    p.add_argument("--format", default="md,csv,tex", help="comma list of md, csv, tex (default: all three)")
    p.add_argument("--review", metavar="EXPORT_DIR",
                   help="reader-study export folder: adds its model_ratings.json (mean [low, high] per criterion)")
    p.add_argument("--test", choices=(*SIG_TESTS, "none"), default="ar",
                   help="paired test of each run against the template baseline on Overall (default ar: "
                        "approximate randomisation; none: no test)")
    p.add_argument("--trials", type=int, default=1000, help="trials of the paired test (default 1000)")


def run_cli(args: argparse.Namespace) -> int:
    formats = tuple(f.strip() for f in args.format.split(",") if f.strip())
    bad = [f for f in formats if f not in WRITERS]
    if bad:
        raise InputError(f"unknown format(s) {', '.join(bad)} (choose from md, csv, tex)")
    if args.trials < 1:
        raise InputError(f"--trials {args.trials}: must be >= 1")
    skipped: list[str] = []

    def warn(msg: str) -> None:
        print(f"pet2rep leaderboard: {as_flags(msg, FLAGS)}", file=sys.stderr)

    with flag_names(FLAGS):
        written = write_leaderboard(args.runs, args.out or args.runs, formats, skipped=skipped, warn=warn,
                                    review=args.review, sig_test=None if args.test == "none" else args.test,
                                    sig_trials=args.trials)
    if "md" in written:
        print(written["md"].read_text(encoding="utf-8"))
    print("wrote " + ", ".join(str(p) for p in written.values()))
    return 1 if skipped else 0  # some metrics.json could not be read (each named on stderr)
