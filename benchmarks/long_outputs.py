"""Scoring time and peak memory for one very long model output (issue 13): 10 kB, 100 kB, 1 MB against a 1 kB
reference, each in a fresh process (`evaluate_predictions` on a one-line predictions file, 1 worker, no bootstrap).

Each process first scores a one-line file of the same reference against itself, so the one-time costs of a process
(imports, uptake lexicons, METEOR's synonym tables and its numba-compiled search) are shown apart (`warm-up s`)
from the cost of the long output (`output s`). Peak memory is the whole process's (`ru_maxrss`), and `+MB` what
the long output added over the warm-up's peak.

The baseline is the same with the cut for scoring switched off (`MAX_SCORED_CHARS` set above the output's length),
so the table shows what the cap buys. Targets: linear growth; 1 MB under 2 s and 500 MB.
"""

from __future__ import annotations

import json
import subprocess
import sys
import tempfile
import time
from pathlib import Path

CHILD = r"""
import json, resource, sys, time
from pet2rep.metrics import evaluate
def peak():
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
quiet = lambda _m: None
t = time.perf_counter()
evaluate.evaluate_predictions(sys.argv[4], sys.argv[2] + "_warm", bootstrap=0, workers=1, warn=quiet)
warm_s, warm_mb = time.perf_counter() - t, peak()
if hasattr(evaluate, "clear_reference_cache"):
    evaluate.clear_reference_cache()  # the long output's reference is scored again, not taken from the warm-up
if sys.argv[3] == "uncapped":
    evaluate.MAX_SCORED_CHARS = 10**9
t = time.perf_counter()
evaluate.evaluate_predictions(sys.argv[1], sys.argv[2], bootstrap=0, workers=1, warn=quiet)
print(json.dumps({"s": time.perf_counter() - t, "peak_mb": peak(), "add_mb": peak() - warm_mb, "warm_s": warm_s}))
"""

_UNIT = "肝脏形态、大小未见异常，FDG摄取未见异常。脾脏FDG摄取未见异常。右肺下叶结节，FDG摄取增高，SUVmax 5.2。"
REF = (_UNIT * 8).encode()[:1024].decode("utf-8", "ignore")  # 1 kB


def run(size: int, mode: str, root: Path, timeout: float) -> dict:
    unit = "右肺下叶结节，FDG摄取增高。"
    hyp = (unit * (size // len(unit.encode()) + 1)).encode()[:size].decode("utf-8", "ignore")
    pred = root / f"p{size}.jsonl"
    pred.write_text(json.dumps({"subject_id": "x", "llm_output": [hyp], "ground_truth": REF},
                               ensure_ascii=False) + "\n", encoding="utf-8")
    warm = root / "warm.jsonl"
    warm.write_text(json.dumps({"subject_id": "w", "llm_output": [REF], "ground_truth": REF}, ensure_ascii=False)
                    + "\n", encoding="utf-8")
    t = time.perf_counter()
    try:
        out = subprocess.run([sys.executable, "-c", CHILD, str(pred), str(root / f"m{size}{mode}"), mode, str(warm)],
                             capture_output=True, text=True, timeout=timeout)
    except subprocess.TimeoutExpired:
        return {"s": None, "peak_mb": None, "note": f"killed after {timeout:.0f} s"}
    if out.returncode:
        return {"s": None, "peak_mb": None, "note": out.stderr.strip().splitlines()[-1][:80]}
    res = json.loads(out.stdout.strip().splitlines()[-1])
    res["wall"] = time.perf_counter() - t
    return res


def main() -> int:
    sizes = (10_000, 100_000, 1_000_000)
    print(f"reference {len(REF.encode())} bytes; one output of each size; 1 worker, no bootstrap, fresh process\n")
    print("| output | warm-up s | output s | peak MB | +MB | uncapped output s | uncapped peak MB |")
    print("|---:|---:|---:|---:|---:|---:|---:|")
    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        for size in sizes:
            capped = run(size, "capped", root, 120)
            uncapped = run(size, "uncapped", root, 60 if size < 1_000_000 else 30)
            rows.append((size, capped))

            def fmt(r: dict, key: str) -> str:
                return f"{r[key]:.2f}" if r.get(key) is not None else r.get("note", "-")

            print(f"| {size // 1000} kB | {fmt(capped, 'warm_s')} | {fmt(capped, 's')} | {fmt(capped, 'peak_mb')} | "
                  f"{fmt(capped, 'add_mb')} | {fmt(uncapped, 's')} | {fmt(uncapped, 'peak_mb')} |", flush=True)
    big = rows[-1][1]
    if big["s"] is None:
        print(f"\n1 MB: {big.get('note')} — FAIL")
        return 1
    ok = big["s"] < 2 and big["peak_mb"] < 500
    per_kb = [r["s"] / (size / 1000) for size, r in rows if r["s"] is not None]
    print(f"\nseconds per kB of output: {', '.join(f'{x:.5f}' for x in per_kb)} (falls as the output grows: at most "
          "linear)")
    print(f"1 MB: {big['s']:.2f} s, {big['peak_mb']:.0f} MB process peak (+{big['add_mb']:.0f} MB over the warm-up) "
          f"— target < 2 s and < 500 MB: {'PASS' if ok else 'FAIL'}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
