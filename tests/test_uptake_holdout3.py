"""Data checks for the third held-out real-text set (issue 8): tests/data/uptake_holdout3_{zh,en}.yaml.

Clinician-written public FDG PET/CT text labelled by hand before any extractor run (see each file's header). The
first tests check the files themselves; the last holds the extractor's first-run figures on the set as floors. English holds >= 60 items; the Chinese file is smaller than the 60 asked for because
the stored corpora held few unused Chinese documents (its header says why), so its floor is the count it has.
"""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml
from test_uptake_real import assert_floors

from pet2rep.organs import ORGANS, STATES

DATA = Path(__file__).parent / "data"
FIELDS = {"id", "lang", "kind", "tags", "source", "source_kind", "text", "expected"}
SOURCE_KINDS = {"hospital-report", "teaching-case", "case-report", "patient-pasted", "guideline", "other"}
MIN_ITEMS = {"en": 60, "zh": 15}
MAX_PER_DOCUMENT = 5


def _items(lang: str) -> list[dict]:
    """The items of one language's file, read with yaml.safe_load."""
    with open(DATA / f"uptake_holdout3_{lang}.yaml", encoding="utf-8") as handle:
        return yaml.safe_load(handle)["items"]


@pytest.mark.parametrize("lang", ["zh", "en"])
def test_file_loads_with_enough_items(lang: str) -> None:
    items = _items(lang)
    assert len(items) >= MIN_ITEMS[lang]
    assert all(item["lang"] == lang for item in items)


@pytest.mark.parametrize("lang", ["zh", "en"])
def test_ids_unique_and_numbered(lang: str) -> None:
    ids = [item["id"] for item in _items(lang)]
    assert len(ids) == len(set(ids))
    assert ids == [f"{lang}-hold3-{n:03d}" for n in range(1, len(ids) + 1)]


@pytest.mark.parametrize("lang", ["zh", "en"])
def test_fields_sources_and_kinds(lang: str) -> None:
    for item in _items(lang):
        assert FIELDS <= set(item), item.get("id")
        assert set(item) <= FIELDS | {"note"}, item["id"]
        assert item["kind"] in {"sentence", "report"}, item["id"]
        assert isinstance(item["source"], str) and item["source"].strip(), item["id"]
        assert item["source_kind"] in SOURCE_KINDS, item["id"]
        assert isinstance(item["text"], str) and item["text"].strip(), item["id"]
        if "ambiguous" in item["tags"]:
            assert item.get("note"), f"{item['id']}: an ambiguous item needs a note with the other reading"


@pytest.mark.parametrize("lang", ["zh", "en"])
def test_labels_use_valid_organs_and_states(lang: str) -> None:
    for item in _items(lang):
        expected = item["expected"]
        assert isinstance(expected, dict), item["id"]
        for organ, states in expected.items():
            assert organ in ORGANS, f"{item['id']}: {organ}"
            assert states and len(states) == len(set(states)), item["id"]
            assert set(states) <= set(STATES), f"{item['id']}: {states}"


@pytest.mark.parametrize("lang", ["zh", "en"])
def test_at_most_five_items_per_document(lang: str) -> None:
    counts: dict[str, int] = {}
    for item in _items(lang):
        document = item["source"].split(" (")[0]
        counts[document] = counts.get(document, 0) + 1
    assert max(counts.values()) <= MAX_PER_DOCUMENT


def test_no_document_reused_from_earlier_sets() -> None:
    earlier: set[str] = set()
    for path in DATA.glob("uptake_*.yaml"):
        if "holdout3" in path.name or not ("real" in path.name or "holdout" in path.name):
            continue
        with open(path, encoding="utf-8") as handle:
            for item in yaml.safe_load(handle)["items"]:
                earlier.add(str(item.get("source", "")).split(" (")[0])
    for lang in ("zh", "en"):
        for item in _items(lang):
            assert item["source"].split(" (")[0] not in earlier, item["id"]


# First run of extractor v5 on this set (2026-12-03, before any rule was written from its errors): these figures are
# the honest ones for new text (README). They are floors: a later extractor must not fall below them; raise them when
# it improves, never lower them. Once rules are written from this set's errors it is no longer a fair test.
FIRST_RUN = {"zh": (0.720, 0.500, 2), "en": (0.714, 0.409, 1)}  # micro-F1, normal recall, most polarity flips


def _result(lang: str) -> dict:
    from pet2rep.metrics.uptake import evaluate_labelled, read_labelled

    return evaluate_labelled(read_labelled(str(DATA / f"uptake_holdout3_{lang}.yaml")))


@pytest.mark.parametrize("lang", ["zh", "en"])
def test_extractor_does_not_fall_below_its_first_run(lang: str) -> None:
    f1, normal_recall, flips = FIRST_RUN[lang]
    assert_floors(("holdout3", lang), _result(lang), (f1 - 5e-4, normal_recall - 5e-4, flips))


# Extractor version 6 (2026-12-03) took rules from this set's errors too, so the set is development data now; the
# figures it reaches are held as floors (en reaches the target: asserted as such). FIRST_RUN above stays the
# honest figure for new text.
V6_FLOORS = {"zh": (0.845, 0.500, 0), "en": (0.95, 0.95, 0)}  # micro-F1, normal recall, most polarity flips


@pytest.mark.parametrize("lang", ["zh", "en"])
def test_extractor_holds_its_v6_figures(lang: str) -> None:
    assert_floors(("holdout3", lang), _result(lang), V6_FLOORS[lang])
