"""`pet2rep synth`: flags over pet2rep.ingest.synth.synth_cohort."""

from __future__ import annotations

import argparse
import json
import time

from ..errors import InputError, out_folder


def configure_parser(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--out", required=True, help="output folder (one sub-folder per study)")
    parser.add_argument("-n", type=int, default=20, help="number of studies (default 20)")
    parser.add_argument("--seed", type=int, default=0, help="cohort seed (default 0)")
    parser.add_argument("--langs", default="zh,en", help="report languages, comma-separated (default zh,en)")
    parser.add_argument("--quiet", action="store_true", help="no progress bar")


def run_cli(args: argparse.Namespace) -> int:
    from ..ingest.synth import synth_cohort

    langs = tuple(v.strip() for v in args.langs.split(",") if v.strip())
    bad = [v for v in langs if v not in ("zh", "en")]
    if bad or not langs:
        raise InputError(f"--langs {args.langs!r}: " + (f"unsupported language(s) {', '.join(bad)}; " if bad else "")
                         + "use zh and/or en, comma-separated")
    if args.n < 1:
        raise InputError(f"-n: need at least one study, got {args.n}")
    if args.seed < 0:
        raise InputError(f"--seed {args.seed}: must be >= 0")
    out_folder(args.out)
    t0 = time.perf_counter()
    paths = synth_cohort(args.out, n=args.n, seed=args.seed, langs=langs, progress=not args.quiet)
    n_les = 0
    n_normal = 0
    for p in paths:
        k = len(json.loads((p / "study.json").read_text(encoding="utf-8"))["lesions"])
        n_les += k
        n_normal += k == 0
    dt = time.perf_counter() - t0
    print(
        f"synth: wrote {len(paths)} studies to {args.out} (seed {args.seed}; {n_les} lesions; "
        f"lesion-free: {n_normal}; langs {','.join(langs)}) in {dt:.1f} s"
    )
    return 0
