"""`pet2rep view`: flags over pet2rep.publish.view.write_site."""

from __future__ import annotations

import argparse
import sys

from ..errors import InputError
from ..publish.view import write_site


def configure_parser(p: argparse.ArgumentParser) -> None:
    p.add_argument("runs", help="folder holding run folders (each with metrics.json, per_sample.jsonl, "
                               "predictions.jsonl and run.json)")
    p.add_argument("--out", required=True, help="folder to write the site into (open DIR/index.html)")
    p.add_argument("--no-plots", action="store_true", help="leave the figures out of the index")


def run_cli(args: argparse.Namespace) -> int:
    import importlib.util

    if importlib.util.find_spec("jinja2") is None:
        raise InputError("pet2rep view needs jinja2: pip install 'pet2rep[viz]'")
    skipped: list[str] = []

    def warn(msg: str) -> None:
        if msg.startswith("skipped "):
            skipped.append(msg)
        print(f"pet2rep view: {msg}", file=sys.stderr)

    index = write_site(args.runs, args.out, warn=warn, plots=not args.no_plots)
    print(f"open {index.resolve().as_uri()}")
    return 1 if skipped else 0
