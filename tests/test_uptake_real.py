"""Ratchet on real clinician-written text (issue 8, section 1): the OUA extractor on tests/data/uptake_real_*.yaml.

The issue's target is micro-F1 >= 0.95 per language, normal recall >= 0.95 and no negation (polarity) error. We are
not there yet. The constants below are the figures reached (2026-12-02, extractor version 3 + the DEV-half rules);
the test fails if the extractor falls below them. Raise them when the extractor improves; never lower them to make
a change pass.

The sets are split by the numeric id suffix: DEV = even ids (read and tuned on), TEST = odd ids (not read while
tuning: the honest generalisation figure). Both halves and the whole set are held here.
"""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from pet2rep.metrics.uptake import evaluate_labelled, read_labelled

DATA = Path(__file__).parent / "data"
TARGET = 0.95  # issue 8: F1 and normal recall per language (not reached yet; see the floors below)

# (language, split) -> (micro-F1 floor, normal-recall floor, most polarity flips allowed)
FLOORS: dict[tuple[str, str], tuple[float, float, int]] = {
    ("zh", "all"): (0.866, 0.884, 4),
    ("zh", "dev"): (0.902, 0.962, 0),
    ("zh", "test"): (0.830, 0.799, 4),
    ("en", "all"): (0.858, 0.790, 6),
    ("en", "dev"): (0.917, 0.922, 1),
    ("en", "test"): (0.810, 0.732, 5),
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


@pytest.mark.parametrize("key", sorted(FLOORS))
def test_real_text_does_not_regress(results: dict[tuple[str, str], dict], key: tuple[str, str]) -> None:
    f1_floor, nr_floor, max_flips = FLOORS[key]
    r = results[key]
    table = (f"{key}: F1 {r['micro']['f1']:.3f} (floor {f1_floor}, target {TARGET}), normal recall "
             f"{r['normal_recall']:.3f} (floor {nr_floor}), flips {r['negation_errors']['total']} (max {max_flips})")
    print(table)
    assert r["micro"]["f1"] >= f1_floor, table
    assert r["normal_recall"] >= nr_floor, table
    assert r["negation_errors"]["total"] <= max_flips, table
