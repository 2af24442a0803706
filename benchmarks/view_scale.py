"""The case viewer at the paper's scale: 565 studies x 30 models (`pet2rep view`, issue 9).

Builds 30 scored run folders of 565 studies from a real demo (20 synthetic studies, template and oracle runs
scored by `evaluate`): study k of a run is demo study k % 20 with its per-sample row, output and images, under its
own id. Then times `write_site` (with and without the figures), prints the sizes of what a browser loads for the
index and for a study page, and, where Chromium and Playwright are there, how long the index takes to draw its
list and a study page to load.

    python benchmarks/view_scale.py [--studies 565] [--models 30] [--keep DIR]
"""

from __future__ import annotations

import argparse
import json
import shutil
import tempfile
import time
from pathlib import Path


def build(root: Path, n_studies: int, n_models: int) -> Path:
    from pet2rep.demo import run_demo

    run_demo(root / "demo", n=20, progress=False)
    demo = root / "demo"
    base_ids = [json.loads(x)["id"] for x in (demo / "runs" / "template" / "per_sample.jsonl").read_text().splitlines()]
    ids = [f"study{k:04d}" for k in range(n_studies)]
    src = {i: base_ids[k % len(base_ids)] for k, i in enumerate(ids)}
    # one dataset of n_studies records, images shared with the demo's
    ds_recs = {json.loads(x)["patient_id"]: json.loads(x)
               for x in (demo / "dataset" / "prompts.jsonl").read_text(encoding="utf-8").splitlines()}
    dataset = demo / "dataset" / "prompts_big.jsonl"
    dataset.write_text("".join(json.dumps({**ds_recs[src[i]], "patient_id": i}, ensure_ascii=False) + "\n"
                               for i in ids), encoding="utf-8")
    runs = root / "runs"
    for j in range(n_models):
        base = demo / "runs" / ("template" if j % 2 == 0 else "oracle")
        name = f"model-{j:02d}"
        out = runs / name
        out.mkdir(parents=True)
        rows = {json.loads(x)["id"]: json.loads(x) for x in (base / "per_sample.jsonl").read_text().splitlines()}
        preds = {json.loads(x)["subject_id"]: json.loads(x)
                 for x in (base / "predictions.jsonl").read_text(encoding="utf-8").splitlines()}
        (out / "per_sample.jsonl").write_text(
            "".join(json.dumps({**rows[src[i]], "id": i}, ensure_ascii=False) + "\n" for i in ids), encoding="utf-8")
        (out / "predictions.jsonl").write_text(
            "".join(json.dumps({**preds[src[i]], "subject_id": i, "model": name}, ensure_ascii=False) + "\n"
                    for i in ids), encoding="utf-8")
        info = json.loads((base / "run.json").read_text(encoding="utf-8"))
        info.update(model=name, dataset=str(dataset),
                    card={"name": name, "backend": "template" if j == 0 else "hf", "params_b": 1.0 + j * 2.5})
        (out / "run.json").write_text(json.dumps(info), encoding="utf-8")
        m = json.loads((base / "metrics.json").read_text(encoding="utf-8"))
        m.update(n=n_studies, model=name, overall=m["overall"] - j * 0.5)
        (out / "metrics.json").write_text(json.dumps(m), encoding="utf-8")
    return runs


def _size(path: Path) -> int:
    return sum(p.stat().st_size for p in path.rglob("*") if p.is_file()) if path.is_dir() else path.stat().st_size


def browser_times(site: Path, study: str) -> tuple[float, float] | None:
    try:
        from playwright.sync_api import sync_playwright
    except ImportError:
        return None
    if not Path("/usr/bin/chromium").exists():
        return None
    with sync_playwright() as pw:
        b = pw.chromium.launch(executable_path="/usr/bin/chromium", headless=True, args=["--no-sandbox", "--disable-gpu"])
        page = b.new_page()
        best_index = best_study = float("inf")
        for _ in range(3):
            t0 = time.perf_counter()
            page.goto((site / "index.html").as_uri())
            page.wait_for_selector("#study-list tbody tr")
            best_index = min(best_index, time.perf_counter() - t0)
            t0 = time.perf_counter()
            page.goto((site / "studies" / f"{study}.html").as_uri())
            page.wait_for_load_state("load")
            best_study = min(best_study, time.perf_counter() - t0)
        b.close()
    return best_index, best_study


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--studies", type=int, default=565)
    ap.add_argument("--models", type=int, default=30)
    ap.add_argument("--keep", help="build in this folder and keep it")
    args = ap.parse_args()
    from pet2rep.publish.view import write_site

    root = Path(args.keep) if args.keep else Path(tempfile.mkdtemp(prefix="view-scale-"))
    try:
        t0 = time.perf_counter()
        runs = build(root, args.studies, args.models)
        print(f"built {args.models} runs x {args.studies} studies in {time.perf_counter() - t0:.1f} s")
        rows = []
        for plots in (False, True):
            site = root / f"site-{'plots' if plots else 'noplots'}"
            t0 = time.perf_counter()
            write_site(runs, site, plots=plots, warn=lambda m: None)
            rows.append((f"pet2rep view{'' if plots else ' --no-plots'}", time.perf_counter() - t0, site))
        site = rows[-1][2]
        pages = sorted((site / "studies").glob("*.html"), key=lambda p: p.stat().st_size)
        print()
        print("| what | value |\n|---|---:|")
        for label, secs, _ in rows:
            print(f"| {label}: total s | {secs:.1f} |")
            print(f"| {label}: ms per study page | {1000 * secs / args.studies:.1f} |")
        print(f"| index.html KB | {_size(site / 'index.html') / 1024:.1f} |")
        print(f"| data/index.js KB | {_size(site / 'data' / 'index.js') / 1024:.1f} |")
        print(f"| assets KB | {_size(site / 'assets') / 1024:.1f} |")
        print(f"| study page KB (median / largest) | {pages[len(pages) // 2].stat().st_size / 1024:.1f} / "
              f"{pages[-1].stat().st_size / 1024:.1f} |")
        print(f"| whole site MB (pages, images, figures) | {_size(site) / 2**20:.1f} |")
        times = browser_times(site, pages[-1].stem)
        if times:
            print(f"| Chromium: index drawn, s (best of 3) | {times[0]:.2f} |")
            print(f"| Chromium: largest study page loaded, s | {times[1]:.2f} |")
    finally:
        if not args.keep:
            shutil.rmtree(root, ignore_errors=True)


if __name__ == "__main__":
    main()
