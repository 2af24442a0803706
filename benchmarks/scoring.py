"""Scoring speed and agreement: pet2rep's whole suite vs pycocoevalcap (Bleu + Meteor + Rouge + Cider).

Builds realistic Chinese report pairs of about 1,000 characters from the public demo reference
(``answer`` of ../shared/seed-demo/prompt_qwen25vl.jsonl), the structured template inside its prompt, and
synthetic reports when ``pet2rep.ingest.synth`` can make them, perturbed by sentence shuffles, deletions,
duplications and substitutions. Then, in one run:

  (a) pycocoevalcap Bleu(4) + Meteor + Rouge + Cider on N pairs (tokenised with pet2rep's tokenizer,
      space-joined), ms per pair;
  (b) pet2rep's whole suite (BLEU-1..4, METEOR, ROUGE-L, CIDEr-D, OUA, failure modes; with and without the
      1,000-draw bootstrap) on the same pairs, ms per pair, the speed-up, and the agreement of the numbers;
  (c) the full-benchmark load: 30 models x 565 studies = 16,950 pairs, scored as 30 runs with 2 workers.

Usage: python benchmarks/scoring.py [--n 200] [--models 30] [--studies 565] [--workers 2] [--skip-coco]
"""

from __future__ import annotations

import argparse
import contextlib
import io
import json
import random
import re
import sys
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
SEED_DEMO = next((p for p in (REPO.parent / "shared" / "seed-demo", Path("/work/shared/seed-demo"))
                  if (p / "prompt_qwen25vl.jsonl").exists()), REPO.parent / "shared" / "seed-demo")

SUBSTITUTIONS = [
    ("摄取增高", "摄取未见异常"), ("摄取未见异常", "摄取增高"), ("代谢增高", "代谢未见异常"), ("未见异常", "轻度增高"),
    ("左", "右"), ("右", "左"), ("轻度", "明显"), ("稍", "明显"), ("正常", "欠规则"), ("增厚", "变薄"),
    ("未见", "可见"), ("减低", "增高"), ("缺失", "减低"), ("结节", "肿块"), ("淋巴结", "结节影"),
]


def load_seed(seed_demo: Path | None = None) -> tuple[str, str, str]:
    """(reference answer, template text, full user prompt) of the public demo case."""
    path = (seed_demo or SEED_DEMO) / "prompt_qwen25vl.jsonl"
    rec = json.loads(path.read_text(encoding="utf-8").splitlines()[0])
    user = rec["prompt_user_text"]
    marker = "严格按照以下格式输出："
    template = user.split(marker, 1)[1].strip() if marker in user else user
    return rec["answer"], template, user


def synth_reports(n: int, seed: int = 3) -> list[str]:
    """Reports with random lesions from pet2rep's synthetic-cohort wording, when that module is there."""
    try:
        import numpy as np

        from pet2rep.ingest import synth
    except Exception:  # noqa: BLE001 - optional source of texts
        return []
    try:
        ph = synth.phrases()
        rng = np.random.default_rng(seed)
        site_keys = list(ph["sites"])
        kinds = []
        for kind, spec in ph["kinds"].items():
            hints = [h.split("_")[0] for h in spec["sites"]]
            sites = [k for k in site_keys if any(k.startswith(h) for h in hints)]
            if sites:
                kinds.append((kind, spec, sites))
        out = []
        for _ in range(n):
            sex = "M" if rng.random() < 0.5 else "F"
            lesions = []
            for _ in range(int(rng.integers(0, 5))):
                kind, spec, sites = kinds[int(rng.integers(len(kinds)))]
                if spec.get("sex") not in (None, sex):
                    continue
                d = float(rng.uniform(*spec["diameter_mm"]))
                les = synth.Lesion(kind=kind, organ=spec["organ"], state=spec["state"], center=np.zeros(3),
                                   radii=np.array([d / 2, d / 2.6, d / 2]), site=sites[int(rng.integers(len(sites)))],
                                   side="right", level=f"T{int(rng.integers(1, 13))}")
                lo, hi = spec.get("suv_max", (0.0, 0.0))
                les.suv_max = float(rng.uniform(lo, hi))
                lesions.append(les)
            out.append(synth.render_report("zh", sex, lesions, rng))
        return out
    except Exception as exc:  # noqa: BLE001 - the benchmark still runs on the demo texts
        print(f"(synthetic reports unavailable: {type(exc).__name__}: {exc})", file=sys.stderr)
        return []


def sentences(text: str) -> list[str]:
    return [s for s in re.split(r"(?<=[。；！？\n])", text) if s.strip()]


def perturb(text: str, rng: random.Random, rate: float) -> str:
    """Sentence deletions, duplications, local shuffles and clinical word substitutions."""
    out = []
    sents = sentences(text)
    for s in sents:
        r = rng.random()
        if r < rate * 0.3:
            continue  # deletion
        if rng.random() < rate:
            a, b = rng.choice(SUBSTITUTIONS)
            s = s.replace(a, b, 1)
        out.append(s)
        if r > 1 - rate * 0.1:
            out.append(rng.choice(sents))  # duplication / insertion
    for _ in range(int(len(out) * rate * 0.5)):  # local shuffles
        i = rng.randrange(max(1, len(out) - 1))
        if i + 1 < len(out):
            out[i], out[i + 1] = out[i + 1], out[i]
    return "".join(out)


def build_pairs(n_studies: int, n_models: int, seed: int = 7,
                seed_demo: Path | None = None) -> tuple[list[str], list[list[str]], str]:
    """References for n_studies and, per model, one hypothesis per study."""
    answer, template, user = load_seed(seed_demo)
    rng = random.Random(seed)
    synth = synth_reports(60)
    sources = [answer, answer, template] + synth
    refs = []
    for _ in range(n_studies):
        base = rng.choice(sources)
        ref = perturb(base, rng, 0.25)
        while len(ref) < 900:  # keep them about 1,000 characters
            ref += rng.choice(sentences(answer))
        refs.append(ref[:1300])
    models = []
    for m in range(n_models):
        rate = 0.1 + 0.6 * (m / max(1, n_models - 1))
        hyps = []
        for ref in refs:
            u = rng.random()
            if u < 0.01:
                hyps.append("")
            elif u < 0.02:
                hyps.append("抱歉，我无法根据提供的图像生成诊断报告，请咨询专业医生。")
            elif u < 0.35:
                hyps.append(perturb(template, rng, rate * 0.5))  # template-following model
            else:
                hyps.append(perturb(ref, rng, rate))
        models.append(hyps)
    return refs, models, user


def coco_scores(hyps: list[str], refs: list[str]) -> tuple[dict[str, float], float]:
    """pycocoevalcap Bleu(4), Meteor, Rouge, Cider on space-joined pet2rep tokens; (scores, seconds)."""
    from pycocoevalcap.bleu.bleu import Bleu
    from pycocoevalcap.cider.cider import Cider
    from pycocoevalcap.meteor.meteor import Meteor
    from pycocoevalcap.rouge.rouge import Rouge

    from pet2rep.metrics.tokenize import tokenize

    meteor = Meteor()  # JVM start-up is kept out of the timing (conservative for the speed-up)
    t0 = time.perf_counter()
    res = {i: [" ".join(tokenize(h))] for i, h in enumerate(hyps)}
    gts = {i: [" ".join(tokenize(r))] for i, r in enumerate(refs)}
    out: dict[str, float] = {}
    with contextlib.redirect_stdout(io.StringIO()):
        b, _ = Bleu(4).compute_score(gts, res)
        for k in range(4):
            out[f"bleu_{k + 1}"] = float(b[k])
        out["meteor"], _ = meteor.compute_score(gts, res)
        out["rouge_l"], _ = Rouge().compute_score(gts, res)
        out["cider"], _ = Cider().compute_score(gts, res)
    del meteor
    return {k: float(v) for k, v in out.items()}, time.perf_counter() - t0


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--n", type=int, default=200, help="pairs for the pycocoevalcap comparison")
    ap.add_argument("--models", type=int, default=30)
    ap.add_argument("--studies", type=int, default=565)
    ap.add_argument("--workers", type=int, default=2)
    ap.add_argument("--skip-coco", action="store_true", help="skip pycocoevalcap (no Java)")
    ap.add_argument("--seed-demo", type=Path, default=None, help=f"folder of prompt_qwen25vl.jsonl ({SEED_DEMO})")
    args = ap.parse_args(argv)

    from pet2rep.metrics.evaluate import clear_reference_cache, score_pairs

    refs, models, prompt = build_pairs(args.studies, args.models, seed_demo=args.seed_demo)
    n = min(args.n, len(refs))
    # (a)/(b): N pairs from the middle model
    hyps_n, refs_n = models[len(models) // 2][:n], refs[:n]
    chars = sum(len(x) for x in hyps_n + refs_n) / (2 * n)
    print(f"pairs: N={n}, mean length {chars:.0f} characters; full load {args.models} x {args.studies}")

    coco, coco_s = ({}, float("nan")) if args.skip_coco else coco_scores(hyps_n, refs_n)
    score_pairs(hyps_n[:4], refs_n[:4], prompts=[prompt] * 4, lang="zh", workers=1, bootstrap=10)  # warm-up
    runs = {}
    for label, workers, boot in (("pet2rep 1 worker, no bootstrap", 1, 0),
                                 ("pet2rep 1 worker, bootstrap 1000", 1, 1000),
                                 (f"pet2rep {args.workers} workers, bootstrap 1000", args.workers, 1000)):
        clear_reference_cache()  # every variant scores its references from scratch
        t0 = time.perf_counter()
        m, _ = score_pairs(hyps_n, refs_n, prompts=[prompt] * n, lang="zh", workers=workers, bootstrap=boot)
        runs[label] = (m, time.perf_counter() - t0)

    print()
    print(f"{'scorer':<38}{'ms/pair':>10}{'speed-up':>10}")
    print("-" * 58)
    if coco:
        print(f"{'pycocoevalcap Bleu+Meteor+Rouge+Cider':<38}{1000 * coco_s / n:>10.2f}{'1.0x':>10}")
    for label, (_, sec) in runs.items():
        sp = f"{coco_s / sec:.0f}x" if coco else "-"
        print(f"{label:<38}{1000 * sec / n:>10.2f}{sp:>10}")

    ours = next(iter(runs.values()))[0]
    if coco:
        print()
        print(f"{'metric':<10}{'pycocoevalcap':>15}{'pet2rep':>12}{'|diff|':>12}")
        print("-" * 49)
        for k in ("bleu_1", "bleu_2", "bleu_3", "bleu_4", "meteor", "rouge_l", "cider"):
            print(f"{k:<10}{coco[k]:>15.6f}{ours[k]:>12.6f}{abs(coco[k] - ours[k]):>12.2e}")
    print(f"(OUA on the same pairs: CE-P {ours['ce_precision']:.3f} CE-R {ours['ce_recall']:.3f} "
          f"CE-F1 {ours['ce_f1']:.3f}; failures {ours['failures']['counts']})")

    # (c) full load: one call over all 16,950 pairs; 30 runs of 565 as separate `pet2rep evaluate` processes
    # would score them (reference cache cleared before each run); and 30 runs in one process (the
    # references' tokens/labels are cached after the first run, as when the demo scores many models)
    total = args.models * len(refs)
    all_h = [h for hyps in models for h in hyps]
    clear_reference_cache()
    t0 = time.perf_counter()
    score_pairs(all_h, refs * args.models, prompts=[prompt] * total, lang="zh", workers=args.workers,
                bootstrap=1000)
    one_call = time.perf_counter() - t0
    timings = [("one call over all pairs", one_call)]
    for cold in (True, False):
        clear_reference_cache()
        t0 = time.perf_counter()
        for hyps in models:
            if cold:
                clear_reference_cache()
            score_pairs(hyps, refs, prompts=[prompt] * len(refs), lang="zh", workers=args.workers,
                        bootstrap=1000)
        label = f"{args.models} runs of {len(refs)}, " + ("cold" if cold else "refs cached")
        timings.append((label, time.perf_counter() - t0))
    print()
    print(f"full load: {total} pairs ({args.models} models x {len(refs)} studies), {args.workers} workers, "
          "bootstrap 1000 per run:")
    for label, sec in timings:
        print(f"  {label:<30}{sec:>7.1f} s  ({1000 * sec / total:.2f} ms/pair)  target < 60 s: "
              f"{'PASS' if sec < 60 else 'FAIL'}")
    if coco:
        default = runs[f"pet2rep {args.workers} workers, bootstrap 1000"][1]
        single = runs["pet2rep 1 worker, bootstrap 1000"][1]
        print(f"speed-up vs pycocoevalcap: {coco_s / default:.0f}x with the default pool ({args.workers} workers, "
              f"bootstrap 1000), target >= 50x: {'PASS' if coco_s / default >= 50 else 'FAIL'}; "
              f"{coco_s / single:.0f}x on one worker")
    return 0


if __name__ == "__main__":
    sys.exit(main())
