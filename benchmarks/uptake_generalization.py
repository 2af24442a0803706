"""Do the organ-uptake extractor's rule rounds generalise? Every recorded extractor version on every held-out set.

Each held-out real-text set (tests/data/uptake_holdout{N}_{zh,en}.yaml) was built by people who never saw the rules or
the code, and the extractor of that day was run on it once (its first run, held as floors in
tests/test_uptake_holdout{N}.py); later versions were then tuned on it. This script takes the extractor as it was at each
of those first runs (``git archive`` of src/pet2rep at the commit that recorded it) and the extractor of this tree, runs
each on every set, and prints:

  (a) per language, a version x set table of micro-F1 against today's labels. A figure marked ``*`` is fair: the set was
      built while or after that version was written, so no rule of it was written from that set. Reading a column down
      the fair figures shows what rule rounds written from other sets' errors did for new text; reading a row across
      shows tuned figures (unmarked) beside fair ones;
  (b) per language, the pooled first runs (each set with the version of its first run): micro-F1 and normal recall per
      set, per source kind (``source_kind`` of the labels) and over all.

Labels are today's (a few were corrected to the written guide after a first run), so a reproduced first run may differ
slightly from the recorded one; both are printed. Needs the git history (a clone, not an archive).

Usage: python benchmarks/uptake_generalization.py [--lang en|zh|both]
"""

from __future__ import annotations

import argparse
import ast
import json
import re
import subprocess
import sys
import tarfile
import tempfile
from collections import defaultdict
from io import BytesIO
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
DATA = REPO / "tests" / "data"

# (version, commit whose extractor made the first run of the sets listed, those sets)
FIRST_RUNS = [
    ("v5", "22072de", ("3",)),
    ("v6", "6caa74b", ("4",)),
    ("v7", "4032299", ("5",)),
    ("v8", "bd27f5d", ("6",)),
    ("v9", "4ff2ff8", ("7",)),
    ("v10", "c38f1f9", ("8", "9")),
    ("v12", "739808a", ("10",)),
    ("v14", "ca95fdb", ("11",)),
    ("v15", "634c6ba", ("12",)),
    ("v20", "a231c12", ("13",)),
]

RUNNER = """
import json, sys, yaml
from pet2rep.metrics.uptake import extract_uptake
out = {}
for path, lang in json.loads(sys.argv[1]):
    items = yaml.safe_load(open(path, encoding="utf-8"))["items"]
    out[path] = {it["id"]: {o: sorted(s) for o, s in extract_uptake(it["text"], lang=lang).items()} for it in items}
print(json.dumps(out))
"""


def set_files(lang: str) -> dict[str, Path]:
    """{set number: label file} of the held-out sets in `lang` that have a first run on record."""
    import yaml

    sets = [s for _v, _c, ss in FIRST_RUNS for s in ss]
    files = {s: DATA / f"uptake_holdout{s}_{lang}.yaml" for s in sets}
    # (a set with no text in a language, as set 12 in Chinese, has an empty file: left out)
    return {s: p for s, p in files.items()
            if p.exists() and yaml.safe_load(p.read_text(encoding="utf-8")).get("items")}


def extract_with(src: Path | None, jobs: list[tuple[str, str]]) -> dict[str, dict[str, dict[str, list[str]]]]:
    """{file: {id: {organ: states}}} from the extractor under `src` (None: this tree) on every (file, lang) job."""
    env_src = str(src if src is not None else REPO / "src")
    res = subprocess.run([sys.executable, "-c", RUNNER, json.dumps(jobs)], capture_output=True, text=True, check=True,
                         env={"PYTHONPATH": env_src, "PATH": "/usr/bin:/bin"})
    return json.loads(res.stdout)


def archive_src(commit: str, dest: Path) -> Path:
    """src/ of `commit` unpacked under `dest` (git archive; nothing in the working tree or .git changes)."""
    blob = subprocess.run(["git", "-C", str(REPO), "archive", commit, "src/pet2rep"], capture_output=True, check=True).stdout
    with tarfile.open(fileobj=BytesIO(blob)) as tar:
        tar.extractall(dest, filter="data")
    return dest / "src"


def gold_of(path: Path) -> tuple[dict[str, set[tuple[str, str]]], dict[str, str]]:
    """({id: {(organ, state)}}, {id: source_kind}) of a label file, read as `pet2rep uptake --eval` reads it."""
    import yaml

    from pet2rep.metrics.uptake import read_labelled

    kinds = {it["id"]: it.get("source_kind", "?") for it in yaml.safe_load(path.read_text(encoding="utf-8"))["items"]}
    return {it.id: {(o, st) for o, ss in it.expected.items() for st in ss} for it in read_labelled(path)}, kinds


def counts(gold: dict[str, set], pred: dict[str, dict[str, list[str]]], ids: list[str] | None = None) -> list[int]:
    """[tp, fp, fn, normal tp, normal labels] over `ids` (default: all)."""
    c = [0, 0, 0, 0, 0]
    for i in ids if ids is not None else gold:
        g = gold[i]
        p = {(o, st) for o, ss in pred.get(i, {}).items() for st in ss}
        c[0] += len(g & p)
        c[1] += len(p - g)
        c[2] += len(g - p)
        c[3] += sum(1 for x in g & p if x[1] == "normal")
        c[4] += sum(1 for x in g if x[1] == "normal")
    return c


def f1(c: list[int]) -> float:
    return 2 * c[0] / (2 * c[0] + c[1] + c[2]) if c[0] else 0.0


def recorded_first_run(s: str, lang: str) -> float | None:
    """The first-run micro-F1 recorded in tests/test_uptake_holdout{s}.py (FIRST_RUN), if any."""
    p = REPO / "tests" / f"test_uptake_holdout{s}.py"
    m = re.search(r"^FIRST_RUN = (\{.*\})", p.read_text(encoding="utf-8"), re.M) if p.exists() else None
    return ast.literal_eval(m.group(1)).get(lang, (None,))[0] if m else None


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--lang", choices=("en", "zh", "both"), default="both")
    args = ap.parse_args(argv)
    sys.path.insert(0, str(REPO / "src"))
    langs = ("en", "zh") if args.lang == "both" else (args.lang,)
    files = {lang: set_files(lang) for lang in langs}
    jobs = [(str(p), lang) for lang in langs for p in files[lang].values()]
    preds: dict[str, dict] = {}
    with tempfile.TemporaryDirectory(prefix="pet2rep-versions-") as tmp:
        for version, commit, _sets in FIRST_RUNS:
            preds[version] = extract_with(archive_src(commit, Path(tmp) / version), jobs)
            print(f"  ran {version} ({commit})", file=sys.stderr)
    preds["now"] = extract_with(None, jobs)
    first_of = {s: v for v, _c, ss in FIRST_RUNS for s in ss}
    order = [v for v, _c, _s in FIRST_RUNS]
    for lang in langs:
        sets = sorted(files[lang], key=int)
        golds = {s: gold_of(files[lang][s]) for s in sets}
        print(f"\n{lang}: micro-F1 of each version on each held-out set (* = fair: the set is newer than the version)")
        print(f"{'version':<9}" + "".join(f"{'set ' + s:>9}" for s in sets))
        for v in order + ["now"]:
            row = ""
            for s in sets:
                c = counts(golds[s][0], preds[v][str(files[lang][s])])
                fair = v != "now" and order.index(first_of[s]) >= order.index(v)
                row += f"{f1(c):>8.3f}{'*' if fair else ' '}"
            print(f"{v:<9}{row}")
        print(f"\n{lang}: first runs (each set with the version that first met it), pooled")
        print(f"{'':<22}{'texts':>6}{'labels':>7}{'micro-F1':>10}{'normal recall':>15}{'recorded':>10}")
        pooled: dict[str, list[int]] = defaultdict(lambda: [0, 0, 0, 0, 0])
        n_by: dict[str, int] = defaultdict(int)
        for s in sets:
            gold, kinds = golds[s]
            pred = preds[first_of[s]][str(files[lang][s])]
            c = counts(gold, pred)
            rec = recorded_first_run(s, lang)
            nr = f"{c[3] / c[4]:.3f}" if c[4] else "-"
            print(f"{'set ' + s + ' (' + first_of[s] + ')':<22}{len(gold):>6}{c[0] + c[2]:>7}{f1(c):>10.3f}{nr:>15}"
                  f"{'' if rec is None else format(rec, '.3f'):>10}")
            for key, ids in [("all", list(gold))] + [(k, [i for i in gold if kinds[i] == k]) for k in set(kinds.values())]:
                cc = counts(gold, pred, ids)
                pooled[key] = [a + b for a, b in zip(pooled[key], cc)]
                n_by[key] += len(ids)
        for key in sorted(pooled, key=lambda k: (k == "all", -n_by[k])):
            c = pooled[key]
            nr = f"{c[3] / c[4]:.3f}" if c[4] else "-"
            print(f"{'pooled ' + key:<22}{n_by[key]:>6}{c[0] + c[2]:>7}{f1(c):>10.3f}{nr:>15}")
        c = pooled["all"]
        print(validation_check(lang, (round(f1(c), 3), round(c[3] / c[4], 3) if c[4] else None, n_by["all"],
                                      c[0] + c[2])))
    return 0


def validation_check(lang: str, got: tuple[float, float | None, int, int]) -> str:
    """Whether src/pet2rep/data/uptake_validation.yaml (what `evaluate` reports as ce_validation) holds these pooled
    first-run figures: (micro-F1, normal recall, texts, labels)."""
    from pet2rep.metrics.clinical import ce_validation

    e = ce_validation(lang) or {}
    kept = (e.get("first_run_micro_f1"), e.get("normal_recall"), e.get("texts"), e.get("labels"))
    if kept == got:
        return f"data/uptake_validation.yaml ({lang}): holds these pooled figures"
    return f"data/uptake_validation.yaml ({lang}): holds {kept}, the sets give {got}: update it"


if __name__ == "__main__":
    sys.exit(main())
