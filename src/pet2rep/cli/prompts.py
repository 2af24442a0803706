"""`pet2rep prompts`: flags over pet2rep.prompts.build.build_dataset."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from ..prompts.build import LANGS, build_dataset
from ..study import study_folders
from .flags import as_flags, flag_names
from .values import parse_list

FLAGS = {"slices": "--slices", "fractions": "--fractions", "mode": "--mode", "lang": "--lang"}


def configure_parser(p: argparse.ArgumentParser) -> None:
    p.add_argument("studies", help="a study folder or a folder of study folders")
    p.add_argument("--out", required=True, help="dataset folder to write (prompts.jsonl + slice_prompt/)")
    p.add_argument("--lang", choices=LANGS, default="zh", help="template and reference language (default zh)")
    p.add_argument("--mode", choices=("fused", "separate"), default="fused", help="view mode (default fused)")
    sel = p.add_mutually_exclusive_group()
    sel.add_argument("--slices", metavar="I,J,K",
                     help="coronal PET-grid indices (default 90,100,110, the benchmark's)")
    sel.add_argument("--fractions", metavar="F,G,H",
                     help="coronal positions as fractions of the body's A-P extent, e.g. 0.4,0.5,0.6")
    p.add_argument("--format", choices=("jpg", "png"), default="jpg", help="image format (default jpg)")


def run_cli(args: argparse.Namespace) -> int:
    with flag_names(FLAGS):
        return _build(args)


def _build(args: argparse.Namespace) -> int:
    slices = parse_list(args.slices, int, "--slices")
    fractions = parse_list(args.fractions, float, "--fractions")
    studies = study_folders(args.studies, args.out, "prompts")
    out = Path(args.out)
    path, errors = build_dataset(
        studies, out, lang=args.lang, mode=args.mode, slices=slices, fractions=fractions, fmt=args.format,
        on_error=(lambda line: print(f"pet2rep prompts: {as_flags(line, FLAGS)}", file=sys.stderr))
        if len(studies) > 1 else None,
        on_warning=lambda line: print(f"pet2rep prompts: warning: {as_flags(line, FLAGS)}", file=sys.stderr),
    )
    if errors:
        print(f"pet2rep prompts: {len(errors)} of {len(studies)} studies failed", file=sys.stderr)
    print(f"wrote {path} ({len(studies) - len(errors)} records, {len(errors)} failed)")
    return 1 if errors else 0
