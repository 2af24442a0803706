"""Ratchet on real clinician-written text (issue 8, section 1): the OUA extractor on tests/data/uptake_real_*.yaml.

The issue's target is micro-F1 >= 0.95 per language, normal recall >= 0.95 and no negation (polarity) error.
Extractor version 5 (2026-12-03) reaches it on both whole sets (zh F1 0.962, normal recall 0.981, 0 flips; en F1
0.960, normal recall 0.977, 0 flips), so the whole-set rows assert the target itself; the half-set rows hold the
figures reached as floors. The test fails if the extractor falls below them. Raise them when the extractor improves;
never lower them to make a change pass. These sets were tuned on (version 5's rules were written from their errors
too): the honest figure for new text is the first run on a held-out set (tests/test_uptake_holdout.py).
Extractor version 6 (2026-12-03, rules from the errors of held-out sets 1-3): zh 0.962 (unchanged), en 0.967; the
half-set floors are raised to its figures.

The sets are split by the numeric id suffix: DEV = even ids, TEST = odd ids. In the first pass only DEV was read and
tuned on (TEST then gave the honest figure: zh 0.831, en 0.811). In the second pass (2026-12-02, evening) the errors
of both halves were read and general rules added, so TEST is no longer unseen; the honest figure now comes from the
held-out sets tests/data/uptake_holdout_*.yaml (tests/test_uptake_holdout.py), labelled by someone who did not run
the extractor on them and never tuned on. Both halves and the whole set are held here.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import pytest

from pet2rep.metrics.uptake import evaluate_labelled, read_labelled

DATA = Path(__file__).parent / "data"
TARGET = 0.95  # issue 8: F1 and normal recall per language (reached on both whole sets by extractor version 5)

# (language, split) -> (micro-F1 floor, normal-recall floor, most polarity flips allowed)
FLOORS: dict[tuple[str, str], tuple[float, float, int]] = {
    ("zh", "all"): (TARGET, TARGET, 0),  # the target itself
    ("zh", "dev"): (0.978, 0.962, 0),
    ("zh", "test"): (0.943, 0.999, 0),
    ("en", "all"): (TARGET, TARGET, 0),  # the target itself
    ("en", "dev"): (0.975, 0.922, 0),  # 0.950 -> 0.958 with extractor v8, -> 0.966 with v10, -> 0.975 with v12
    ("en", "test"): (0.979, 0.999, 0),
}


def _half(item_id: str) -> str:
    return "dev" if int(re.search(r"(\d+)$", item_id).group(1)) % 2 == 0 else "test"


@pytest.fixture(scope="module")
def results() -> dict[tuple[str, str], dict]:
    out = {}
    for lang in ("zh", "en"):
        items = read_labelled(str(DATA / f"uptake_real_{lang}.yaml"))
        assert len(items) >= 100
        out[(lang, "all")] = evaluate_labelled(items)
        for split in ("dev", "test"):
            out[(lang, split)] = evaluate_labelled([it for it in items if _half(it.id) == split])
    return out


def heldout_result(name: str, lang: str) -> dict:
    """evaluate_labelled on tests/data/uptake_<name>_<lang>.yaml (a held-out set's file)."""
    return evaluate_labelled(read_labelled(str(DATA / f"uptake_{name}_{lang}.yaml")))


def heldout_floors_test(name: str, floors: dict[str, tuple[float, float, int]], printed: bool = False) -> Any:
    """A test, one case per language of `floors`, that held-out set `name` holds its (micro-F1, normal recall, most
    flips) floors; `printed`: the figures are a run's as printed (three places), so they hold from 5e-4 below."""
    margin = 5e-4 if printed else 0.0

    @pytest.mark.parametrize("lang", list(floors))
    def test(lang: str) -> None:
        f1, normal_recall, flips = floors[lang]
        assert_floors((name, lang), heldout_result(name, lang), (f1 - margin, normal_recall - margin, flips))

    return test


def assert_floors(key: tuple[str, str], r: dict, floors: tuple[float, float, int]) -> None:
    """An evaluate_labelled result holds its (micro-F1, normal recall, most flips) floors."""
    f1_floor, nr_floor, max_flips = floors
    table = (f"{key}: F1 {r['micro']['f1']:.3f} (floor {f1_floor}, target {TARGET}), normal recall "
             f"{r['normal_recall']:.3f} (floor {nr_floor}), flips {r['negation_errors']['total']} (max {max_flips})")
    print(table)
    assert r["micro"]["f1"] >= f1_floor, table
    assert r["normal_recall"] >= nr_floor, table
    assert r["negation_errors"]["total"] <= max_flips, table


@pytest.mark.parametrize("key", sorted(FLOORS))
def test_real_text_does_not_regress(results: dict[tuple[str, str], dict], key: tuple[str, str]) -> None:
    assert_floors(key, results[key], FLOORS[key])


def test_readme_tables_are_what_the_script_prints() -> None:
    """The README's tables of the extractor on the real-text set and on all labelled sets (per language, source kind,
    state and organ) are exactly what benchmarks/uptake_tables.py prints for this tree: a change of the extractor
    that moves a figure fails here until the README is regenerated."""
    import importlib.util

    repo = Path(__file__).parents[1]
    spec = importlib.util.spec_from_file_location("uptake_tables", repo / "benchmarks" / "uptake_tables.py")
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    results = mod.all_results()
    text = mod.tables(results)
    assert "| all | 0.965 / 0.958 / 0.962 (144) |" in text  # zh real set, v20: the script's own figures move too
    readme = (repo / "README.md").read_text(encoding="utf-8")
    assert text in readme, "README tables differ from `python benchmarks/uptake_tables.py`: paste its output"
    for lang in mod.LANGS:
        real = results[(lang, "real")]
        assert real["micro"]["f1"] >= TARGET and real["normal_recall"] >= TARGET
        assert real["negation_errors"]["total"] == 0
