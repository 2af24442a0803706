"""Data checks for the held-out real-text sets built file by file (issue 8): tests/data/uptake_holdout{3,4,5,6}_*.yaml.

Clinician-written public FDG PET/CT text labelled by hand before any extractor run (see each file's header). Each
file loads, holds enough items with unique numbered ids, uses valid organ ids and states, names a source and a source
kind for every item (an ambiguous item also a note with the other reading), takes at most five items from one
document, and shares no document with any other labelled set. The extractor's figures on each set are in
test_uptake_holdout3.py / test_uptake_holdout4.py.
"""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml

from pet2rep.organs import ORGANS, STATES

DATA = Path(__file__).parent / "data"
FIELDS = {"id", "lang", "kind", "tags", "source", "source_kind", "text", "expected"}
SOURCE_KINDS = {"hospital-report", "teaching-case", "case-report", "patient-pasted", "guideline", "other"}
MAX_PER_DOCUMENT = 5
# Items each file must hold. Set 3: 15 zh (the stored corpora held few unused Chinese documents; its header says why)
# and >= 60 en. Set 4 holds 67 zh and 48 en (2026-12-03); its floors are the 60 / 40 it was built to reach. Set 5 holds
# 86 zh and 42 en (2026-12-03); its floors are the 60 / 40 it was built to reach. Set 6 holds 99 zh and 53 en
# (2026-12-03); its floors are the 40 / 30 it was built to reach.
MIN_ITEMS = {
    ("holdout3", "zh"): 15,
    ("holdout3", "en"): 60,
    ("holdout4", "zh"): 60,
    ("holdout4", "en"): 40,
    ("holdout5", "zh"): 60,
    ("holdout5", "en"): 40,
    ("holdout6", "zh"): 40,
    ("holdout6", "en"): 30,
    # Set 7 holds 45 zh and 55 en (2026-12-03); its floors are those counts.
    ("holdout7", "zh"): 45,
    ("holdout7", "en"): 55,
    # Set 8 holds 54 zh and 74 en (2026-12-03); its floors are those counts.
    ("holdout8", "zh"): 54,
    ("holdout8", "en"): 74,
    # Set 9 holds 31 zh and 43 en (2026-12-03); its floors are those counts.
    ("holdout9", "zh"): 31,
    ("holdout9", "en"): 43,
    # Set 10 holds 7 zh and 68 en (2026-12-03; en 034-068 and zh 007 added by a second pass); its floors are those counts
    # (the stored corpora held almost no unused Chinese FDG PET/CT text: its header says why, as set 3's did).
    ("holdout10", "zh"): 7,
    ("holdout10", "en"): 68,
    # Set 11 holds 5 zh and 67 en (2026-12-03); its floors are those counts (report-like English was the aim; the stored
    # corpora held little unused FDG PET/CT text in either language: its header says why).
    ("holdout11", "zh"): 5,
    ("holdout11", "en"): 67,
    # Set 12 holds 0 zh and 54 en (2026-12-03); its en floor is that count (no unused Chinese text was found, so its
    # zh file is empty and has no entry here: an empty file cannot pass the per-document check; its header says why).
    ("holdout12", "en"): 54,
    # Set 13 holds 1 zh and 40 en (2026-12-04); its floors are those counts (a blind set built without reading the extractor;
    # the stored corpora held little unused FDG PET/CT text, and almost no Chinese: its headers say why).
    ("holdout13", "zh"): 1,
    ("holdout13", "en"): 40,
}
FILES = sorted(MIN_ITEMS)


def _items(name: str, lang: str) -> list[dict]:
    """The items of one set's file, read with yaml.safe_load."""
    with open(DATA / f"uptake_{name}_{lang}.yaml", encoding="utf-8") as handle:
        return yaml.safe_load(handle)["items"]


def _document(item: dict) -> str:
    """The document an item comes from: its source up to the first " (" (the rest describes it)."""
    return str(item.get("source", "")).split(" (")[0]


@pytest.mark.parametrize("name, lang", FILES)
def test_file_loads_with_enough_items(name: str, lang: str) -> None:
    items = _items(name, lang)
    assert len(items) >= MIN_ITEMS[name, lang]
    assert all(item["lang"] == lang for item in items)


@pytest.mark.parametrize("name, lang", FILES)
def test_ids_unique_and_numbered(name: str, lang: str) -> None:
    ids = [item["id"] for item in _items(name, lang)]
    assert len(ids) == len(set(ids))
    assert ids == [f"{lang}-{name.replace('holdout', 'hold')}-{n:03d}" for n in range(1, len(ids) + 1)]


@pytest.mark.parametrize("name, lang", FILES)
def test_fields_sources_and_kinds(name: str, lang: str) -> None:
    for item in _items(name, lang):
        assert FIELDS <= set(item), item.get("id")
        assert set(item) <= FIELDS | {"note"}, item["id"]
        assert item["kind"] in {"sentence", "report"}, item["id"]
        assert isinstance(item["source"], str) and item["source"].strip(), item["id"]
        assert item["source_kind"] in SOURCE_KINDS, item["id"]
        assert isinstance(item["text"], str) and item["text"].strip(), item["id"]
        assert isinstance(item["tags"], list), item["id"]
        if "ambiguous" in item["tags"]:
            assert item.get("note"), f"{item['id']}: an ambiguous item needs a note with the other reading"


@pytest.mark.parametrize("name, lang", FILES)
def test_labels_use_valid_organs_and_states(name: str, lang: str) -> None:
    for item in _items(name, lang):
        expected = item["expected"]
        assert isinstance(expected, dict), item["id"]
        for organ, states in expected.items():
            assert organ in ORGANS, f"{item['id']}: {organ}"
            assert states and len(states) == len(set(states)), item["id"]
            assert set(states) <= set(STATES), f"{item['id']}: {states}"


@pytest.mark.parametrize("name, lang", FILES)
def test_at_most_five_items_per_document(name: str, lang: str) -> None:
    counts: dict[str, int] = {}
    for item in _items(name, lang):
        counts[_document(item)] = counts.get(_document(item), 0) + 1
    assert max(counts.values()) <= MAX_PER_DOCUMENT


@pytest.mark.parametrize("name", sorted({name for name, _ in FILES}))
def test_no_document_shared_with_another_set(name: str) -> None:
    others: set[str] = set()
    for path in DATA.glob("uptake_*.yaml"):
        if f"_{name}_" in path.name or not ("real" in path.name or "holdout" in path.name):
            continue
        with open(path, encoding="utf-8") as handle:
            others.update(_document(item) for item in yaml.safe_load(handle)["items"])
    for lang in ("zh", "en"):
        for item in _items(name, lang):
            assert _document(item) not in others, item["id"]
