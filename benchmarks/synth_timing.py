"""Benchmark: how long `pet2rep synth` takes per study, against the 3 s/study budget.

Run:  python benchmarks/synth_timing.py [-n 20] [--seed 3] [--repeats 1]

Times, best of N:

  anatomy    build_anatomy alone (the phantom's paint operations from data/phantom.yaml)
  phantom    synth_phantom in memory: grids, painting, lesions, noise and blur, reports
  cohort     the command line end to end: `pet2rep synth --out DIR -n N --seed S --quiet` (writes NIfTI)

Target (formerly asserted in tests/test_synth.py, now here because unit tests are not timed): a 20-study
cohort in under 60 s, i.e. under 3 s per study, on one core.
"""

from __future__ import annotations

import argparse
import tempfile
import time
from pathlib import Path

import numpy as np

BUDGET_S_PER_STUDY = 3.0  # 20 studies in 60 s


def _best(fn, repeats: int) -> float:
    best = float("inf")
    for _ in range(repeats):
        t0 = time.perf_counter()
        fn()
        best = min(best, time.perf_counter() - t0)
    return best


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("-n", type=int, default=20, help="studies in the cohort (default 20)")
    ap.add_argument("--seed", type=int, default=3, help="cohort seed (default 3)")
    ap.add_argument("--repeats", type=int, default=1, help="best of this many runs (default 1)")
    args = ap.parse_args(argv)

    from pet2rep.cli import main as cli_main
    from pet2rep.ingest.synth import _demographics, build_anatomy, study_seed, synth_phantom

    seeds = [study_seed(args.seed, i) for i in range(args.n)]

    def anatomy() -> None:
        for s in seeds:
            rng = np.random.default_rng(s)
            build_anatomy(rng, _demographics(rng), 0.0)

    def phantom() -> None:
        for i, s in enumerate(seeds):
            synth_phantom(f"synth_{i:03d}", s)

    def cohort() -> None:
        with tempfile.TemporaryDirectory() as d:
            rc = cli_main(["synth", "--out", str(Path(d) / "cohort"), "-n", str(args.n), "--seed", str(args.seed),
                           "--quiet"])
            assert rc == 0

    rows = [("anatomy", _best(anatomy, args.repeats)), ("phantom", _best(phantom, args.repeats)),
            ("cohort", _best(cohort, args.repeats))]
    print(f"\n{args.n}-study synthetic cohort (seed {args.seed}), best of {args.repeats}; "
          f"budget {BUDGET_S_PER_STUDY:.1f} s/study ({BUDGET_S_PER_STUDY * args.n:.0f} s)")
    print(f"{'stage':<10} {'total s':>9} {'s/study':>9} {'x budget':>9}")
    for name, dt in rows:
        per = dt / args.n
        print(f"{name:<10} {dt:>9.2f} {per:>9.3f} {per / BUDGET_S_PER_STUDY:>9.2f}")
    ok = rows[-1][1] / args.n < BUDGET_S_PER_STUDY
    print("cohort within budget" if ok else "cohort OVER budget")
    return 0 if ok else 1


if __name__ == "__main__":
    raise SystemExit(main())
