"""`pet2rep demo`: flags over pet2rep.demo.run_demo (the whole pipeline on a small synthetic cohort, offline)."""

from __future__ import annotations

import argparse

from ..demo import DEFAULT_MODELS, run_demo
from ..errors import InputError
from .flags import flag_names

# run_demo's (and its model runs') parameters as the user gives them
FLAGS = {"n": "-n", "seed": "--seed", "models": "--models", "model": "--models", "lang": "--lang",
         "max_new_tokens": "--max-new-tokens", "batch_size": "--batch-size", "base_url": "--base-url"}


def configure_parser(p: argparse.ArgumentParser) -> None:
    p.add_argument("--out", required=True, help="demo folder to write")
    p.add_argument("-n", type=int, default=20, help="number of synthetic studies (default 20)")
    p.add_argument("--seed", type=int, default=0, help="cohort seed (default 0)")
    p.add_argument("--lang", choices=("zh", "en"), default="zh", help="prompt and report language (default zh)")
    p.add_argument("--models", default=",".join(DEFAULT_MODELS),
                   help=f"comma list of model SPECs: card names, card .yaml files, hf:PATH_OR_ID, vllm:PATH_OR_ID, "
                        f"openai:MODEL (default {','.join(DEFAULT_MODELS)})")
    p.add_argument("--max-new-tokens", type=int, metavar="N", help="new tokens per report for model runs")
    p.add_argument("--batch-size", type=int, metavar="N", help="hf: requests per forward pass")
    p.add_argument("--base-url", metavar="URL", help="openai: the chat-completions endpoint's base URL")


def run_cli(args: argparse.Namespace) -> int:
    models = tuple(m.strip() for m in args.models.split(",") if m.strip())
    if args.max_new_tokens is not None and args.max_new_tokens < 1:
        raise InputError(f"--max-new-tokens {args.max_new_tokens}: must be >= 1")
    if args.batch_size is not None and args.batch_size < 1:
        raise InputError(f"--batch-size {args.batch_size}: must be at least 1")
    gen = {"max_new_tokens": args.max_new_tokens} if args.max_new_tokens else None
    with flag_names(FLAGS):
        md = run_demo(args.out, n=args.n, seed=args.seed, lang=args.lang, models=models, generation=gen,
                      batch_size=args.batch_size, base_url=args.base_url)
    print(md.read_text(encoding="utf-8"))
    viewer = md.parent / "viewer" / "index.html"
    if viewer.is_file():
        print(f"open {viewer.resolve().as_uri()}  (the case viewer; figures in {md.parent / 'plots'})")
    else:
        print(f"open {md}  (install 'pet2rep[viz]' for the figures and the case viewer)")
    return 0
