"""`pet2rep generate` and `pet2rep merge`: argument parsing and flag names over pet2rep.runs."""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

from ..errors import InputError
from .flags import as_flags, flag_names

# flag -> (GenerationConfig field, type, lowest allowed value, strictly greater?)
GEN_FLAGS = {
    "max_new_tokens": ("--max-new-tokens", 1, False),
    "temperature": ("--temperature", 0.0, False),
    "top_p": ("--top-p", 0.0, True),
    "top_k": ("--top-k", 0, False),
    "seed": ("--seed", 0, False),
}
RUNTIME_FLAGS = {
    "concurrency": ("--concurrency", 1, False),
    "rpm": ("--rpm", 0.0, True),
    "timeout": ("--timeout", 0.0, True),
    "max_retries": ("--max-retries", 0, False),
    "tensor_parallel": ("--tensor-parallel", 1, False),
}

# run_model's / merge_runs' parameters as the user gives them (library errors name them as `name=`)
FLAGS = {
    "model": "--model", "out": "--out", "restart": "--restart", "retry_errors": "--retry-errors", "limit": "--limit",
    "batch_size": "--batch-size", "shard": "--shard", "preset": "--preset", "base_url": "--base-url",
    **{key: flag for key, (flag, _, _) in {**GEN_FLAGS, **RUNTIME_FLAGS}.items()},
}


def configure_parser(p: argparse.ArgumentParser) -> None:
    p.add_argument("dataset", help="a PET2Rep dataset folder or JSONL file")
    p.add_argument("--model", required=True, metavar="SPEC",
                   help="a packaged card (see `pet2rep models`), a card .yaml, hf:PATH_OR_HF_ID, "
                        "vllm:PATH_OR_HF_ID_OR_CARD, or openai:MODEL (with --base-url)")
    p.add_argument("--out", required=True, help="run folder (resumed if it holds the same run)")
    g = p.add_argument_group("generation (card defaults < --preset < these flags; greedy by default)")
    g.add_argument("--preset", choices=("paper", "greedy"),
                   help="paper: the benchmark's sampling (T 0.7, top-k 50, 1,024 new tokens)")
    g.add_argument("--max-new-tokens", type=int, metavar="N", help="new tokens per report (default 1024)")
    g.add_argument("--temperature", type=float, metavar="T", help="0 = greedy (default)")
    g.add_argument("--top-p", type=float, metavar="P", help="nucleus sampling mass (default 1.0)")
    g.add_argument("--top-k", type=int, metavar="K", help="top-k sampling (default 0: off)")
    g.add_argument("--seed", type=int, metavar="S", help="sampling seed")
    r = p.add_argument_group("throughput (do not change the answers; not part of the resume key)")
    r.add_argument("--batch-size", type=int, metavar="N",
                   help="hf: requests per forward pass (default: card, else 8; halved on out-of-memory)")
    r.add_argument("--concurrency", type=int, metavar="N", help="openai: requests in flight (default 8)")
    r.add_argument("--rpm", type=float, metavar="N", help="openai: at most N requests per minute")
    r.add_argument("--timeout", type=float, metavar="S", help="openai: seconds per request (default 120)")
    r.add_argument("--max-retries", type=int, metavar="N",
                   help="openai: retries on 429/5xx/timeouts/malformed answers (default 5)")
    r.add_argument("--base-url", metavar="URL", help="openai: the chat-completions endpoint's base URL")
    r.add_argument("--tensor-parallel", type=int, metavar="N", help="vllm: GPUs per model (default: card, else 1)")
    p.add_argument("--shard", metavar="I/N", help="only shard I of N (0-based: records I, I+N, ...); join with merge")
    p.add_argument("--limit", type=int, metavar="N", help="only the first N records (of the shard)")
    p.add_argument("--retry-errors", action="store_true", help="re-run studies whose prediction has an error")
    p.add_argument("--restart", action="store_true",
                   help="discard the run folder's predictions and start again (instead of resuming)")


def _checked_flags(args: argparse.Namespace, table: dict) -> dict:
    """The flags of `table` that were given, each checked against its lowest value (one-line errors)."""
    out = {}
    for key, (flag, low, strict) in table.items():
        value = getattr(args, key)
        if value is None:
            continue
        if value != value or value < low or (strict and value == low) or value == float("inf"):
            raise InputError(f"{flag} {value:g}: must be {'>' if strict else '>='} {low:g}")
        out[key] = value
    return out


def run_cli(args: argparse.Namespace) -> int:
    with flag_names(FLAGS):
        return _generate(args)


def _generate(args: argparse.Namespace) -> int:
    from ..runs import RUN_JSON, run_model

    generation = _checked_flags(args, GEN_FLAGS)
    if generation.get("top_p", 0) > 1:
        raise InputError(f"--top-p {args.top_p:g}: must be <= 1")
    runtime = _checked_flags(args, RUNTIME_FLAGS)
    path = run_model(args.dataset, args.model, args.out, batch_size=args.batch_size, limit=args.limit,
                     retry_errors=args.retry_errors, restart=args.restart, preset=args.preset,
                     generation=generation, shard=args.shard, base_url=args.base_url,
                     warn=lambda msg: print(f"pet2rep generate: {as_flags(msg, FLAGS)}", file=sys.stderr), **runtime)
    info = json.loads((Path(args.out) / RUN_JSON).read_text(encoding="utf-8"))
    n, new, err = info.get("n_predictions"), info.get("n_new"), info.get("n_errors")
    speed = ""
    if info.get("studies_per_hour") and info.get("completion_tokens_new"):  # a model, not a baseline
        speed = f"; {info['studies_per_hour']:g} studies/h"
        if info.get("output_tokens_per_s"):
            speed += f", {info['output_tokens_per_s']:g} output tokens/s"
    print(f"wrote {path}: {n} prediction{'' if n == 1 else 's'} ({new} new, {n - new} resumed), "
          f"{err} with an error" + speed
          + ("; see their 'error' field, re-run with --retry-errors" if err else ""))
    return 1 if info.get("n_errors_new") else 0


def configure_merge_parser(p: argparse.ArgumentParser) -> None:
    p.add_argument("runs", nargs="+", metavar="RUN_DIR", help="the shard run folders (generate --shard I/N)")
    p.add_argument("--out", required=True, metavar="RUN_DIR", help="the merged run folder to write (new)")


def run_merge_cli(args: argparse.Namespace) -> int:
    from ..runs import merge_runs

    warned: list[str] = []

    def warn(msg: str) -> None:
        warned.append(msg)
        print(f"pet2rep merge: {msg}", file=sys.stderr)

    with flag_names(FLAGS):
        path = merge_runs(args.runs, args.out, warn=warn)
    n = sum(1 for line in path.read_text(encoding="utf-8").splitlines() if line.strip())
    print(f"wrote {path}: {n} prediction{'' if n == 1 else 's'} from {len(args.runs)} run "
          f"folder{'s' if len(args.runs) > 1 else ''}")
    return 1 if warned else 0
