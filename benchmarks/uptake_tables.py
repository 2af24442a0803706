"""The README's table of the uptake extractor on the real-text validation set (issue 8), as this tree scores it.

Runs ``evaluate_labelled`` on ``tests/data/uptake_real_{zh,en}.yaml`` (the issue's set: clinician-written text from
public sources, labelled before the extractor first ran on it) and, beside it, on every labelled clinician-written
set pooled (the real sets and held-out sets 1-12). Prints markdown: per language, per source kind, per state and
per organ, micro P / R / F1 with support. These are TUNED figures (rules were written from these sets' errors);
the figures for new text are the first runs (``benchmarks/uptake_generalization.py``).
``tests/test_uptake_real.py`` checks that the README holds what this prints for the real set.

Usage: python benchmarks/uptake_tables.py            (~10 s)
"""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parents[1]
DATA = REPO / "tests" / "data"
sys.path.insert(0, str(REPO / "src"))

from pet2rep.metrics.uptake import evaluate_labelled, read_labelled  # noqa: E402
from pet2rep.organs import ORGANS  # noqa: E402

LANGS = ("zh", "en")
STATES = ("increased", "decreased", "absent", "normal")


def real_files(lang: str) -> list[Path]:
    """The issue's real-text set of one language."""
    return [DATA / f"uptake_real_{lang}.yaml"]


def all_files(lang: str) -> list[Path]:
    """Every clinician-written labelled set of one language: the real set and held-out sets 1-12."""
    held = sorted(DATA.glob(f"uptake_holdout*_{lang}.yaml"))
    return real_files(lang) + held


def score(files: list[Path]) -> dict[str, Any]:
    items = [it for f in files for it in read_labelled(str(f))]
    return evaluate_labelled(items, group_by="source_kind")


def all_results() -> dict[tuple[str, str], dict[str, Any]]:
    """{(language, "real" | "all"): evaluate_labelled result} for the real set and for all sets, per language."""
    return {(lang, scope): score(real_files(lang) if scope == "real" else all_files(lang))
            for lang in LANGS for scope in ("real", "all")}


def _cell(m: dict[str, Any] | None) -> str:
    if not m or not (m.get("support") or m.get("tp", 0) + m.get("fp", 0)):
        return "–"
    return f"{m['precision']:.3f} / {m['recall']:.3f} / {m['f1']:.3f} ({m['support']})"


def tables(results: dict[tuple[str, str], dict[str, Any]]) -> str:
    """Markdown: one table per breakdown, a column per (language, scope)."""
    cols = [(lang, scope) for lang in LANGS for scope in ("real", "all")]
    head = ("| {} | " + " | ".join(f"{lang} {'real set' if scope == 'real' else 'all sets'}" for lang, scope in cols)
            + " |")
    rule = "|---|" + "---:|" * len(cols)
    out: list[str] = []

    out += [head.format("language"), rule]
    out.append("| all | " + " | ".join(_cell(results[c]["micro"]) for c in cols) + " |")
    out.append("| texts | " + " | ".join(str(results[c]["n_items"]) for c in cols) + " |")
    out.append("| normal recall | " + " | ".join(f"{results[c]['normal_recall']:.3f}" for c in cols) + " |")
    out.append("| negation errors (flips) | " + " | ".join(str(results[c]["negation_errors"]["total"])
                                                           for c in cols) + " |")

    kinds = sorted({k for c in cols for k in results[c]["per_group"]})
    out += ["", head.format("source kind"), rule]
    for k in kinds:
        out.append(f"| {k or '(none)'} | " + " | ".join(_cell(results[c]["per_group"].get(k, {}).get("micro"))
                                                      for c in cols) + " |")

    out += ["", head.format("state"), rule]
    for s in STATES:
        out.append(f"| {s} | " + " | ".join(_cell(results[c]["per_state"].get(s)) for c in cols) + " |")

    out += ["", head.format("organ"), rule]
    for o in ORGANS:
        out.append(f"| {o} | " + " | ".join(_cell(results[c]["per_organ"].get(o)) for c in cols) + " |")
    return "\n".join(out)


def main() -> int:
    results = all_results()
    sig = {lang: results[(lang, "real")]["lexicons"].get(lang, "?") for lang in LANGS}
    print(f"extractor: {sig['zh']} + {sig['en']}; cells: P / R / F1 (support), micro over (text, organ, state)")
    print()
    print(tables(results))
    return 0


if __name__ == "__main__":
    sys.exit(main())
