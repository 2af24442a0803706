"""`pet2rep plots`: flags over pet2rep.publish.plots.write_plots."""

from __future__ import annotations

import argparse
import sys

from ..errors import InputError
from ..publish.plots import FORMATS, write_plots


def configure_parser(p: argparse.ArgumentParser) -> None:
    p.add_argument("runs", help="folder holding run folders (each with metrics.json and per_sample.jsonl)")
    p.add_argument("--out", required=True, help="folder to write the figures into")
    p.add_argument("--format", default="png,svg", help="comma list of png, svg (default: both)")


def run_cli(args: argparse.Namespace) -> int:
    formats = tuple(f.strip() for f in args.format.split(",") if f.strip())
    bad = [f for f in formats if f not in FORMATS]
    if bad or not formats:
        raise InputError(f"--format {args.format!r}: give png, svg or both")
    _require("matplotlib", "plots")
    skipped: list[str] = []

    def warn(msg: str) -> None:
        if msg.startswith("skipped "):
            skipped.append(msg)
        print(f"pet2rep plots: {msg}", file=sys.stderr)

    written = write_plots(args.runs, args.out, formats=formats, warn=warn)
    for paths in written.values():
        print("wrote " + ", ".join(str(p) for p in paths))
    return 1 if skipped else 0


def _require(module: str, command: str) -> None:
    import importlib.util

    if importlib.util.find_spec(module) is None:
        raise InputError(f"pet2rep {command} needs {module}: pip install 'pet2rep[viz]'")
