"""`pet2rep models`: the packaged model cards as a table (or JSON), over pet2rep.backends.models."""

from __future__ import annotations

import argparse
import json
import sys

from ..backends.base import BACKENDS
from ..backends.models import list_models, models_table


def configure_parser(p: argparse.ArgumentParser) -> None:
    p.add_argument("--backend", choices=sorted(BACKENDS), help="only the cards of this backend")
    p.add_argument("--json", action="store_true", help="print the rows as JSON")
    p.epilog = ("Run any card with --model NAME; hf:NAME or vllm:NAME runs an open model's card on the other "
                "engine. hf:PATH_OR_ID and vllm:PATH_OR_ID need no card.")


def run_cli(args: argparse.Namespace) -> int:
    rows = list_models(args.backend)
    if args.json:
        print(json.dumps(rows, ensure_ascii=False, indent=2))
    elif rows:
        print(models_table(rows))
    else:
        print(f"no packaged cards for backend {args.backend}", file=sys.stderr)
    return 0
