"""The packaged model cards and the `pet2rep models` listing."""

from __future__ import annotations

import json
from importlib import resources
from pathlib import Path

import pytest

from pet2rep.backends.base import BACKENDS, list_cards, load_card
from pet2rep.backends.models import image_limits, list_models, models_table
from pet2rep.cli import main

CARD_DIR = Path(str(resources.files("pet2rep.backends").joinpath("cards")))
CARD_FILES = sorted(CARD_DIR.glob("*.yaml"))
MODEL_BACKENDS = ("hf", "vllm")
# the open models the PET2Rep paper (and issue 7) names
PAPER = {"qwen2.5-vl-7b", "qwen2.5-vl-32b", "qwen2.5-vl-72b", "internvl3-8b", "internvl3-78b", "medgemma-4b",
         "medgemma-27b", "lingshu-7b", "lingshu-32b", "llava-med"}
OPEN = PAPER | {"qwen2.5-vl-3b", "qwen3-vl-8b", "gemma-3-4b", "gemma-3-27b", "llama-3.2-11b-vision", "minicpm-v",
                "huatuogpt-vision-7b"}


def _open_cards() -> list[dict]:
    return [c for c in list_cards().values() if c["backend"] in MODEL_BACKENDS]


def test_card_files_have_unique_names_equal_to_their_stem():
    names = [load_card(str(f))["name"] for f in CARD_FILES]
    assert names == [f.stem for f in CARD_FILES]
    assert len(set(names)) == len(names)
    assert OPEN <= set(names) and {"template", "oracle"} <= set(names)


@pytest.mark.parametrize("path", CARD_FILES, ids=lambda p: p.stem)
def test_every_card_loads_and_has_valid_values(path):
    by_name = load_card(path.stem)
    assert by_name == load_card(str(path))
    card = by_name
    assert card["backend"] in BACKENDS
    desc = card.get("description")
    if desc is not None or card["backend"] in MODEL_BACKENDS:
        assert isinstance(desc, str) and desc.strip() and "\n" not in desc
    if card.get("verified") is not None:
        assert isinstance(card["verified"], str) and card["verified"].strip()
    if card["backend"] not in MODEL_BACKENDS:
        return
    for key in ("model", "family", "size", "params_b", "paper", "system", "images", "tensor_parallel"):
        assert key in card, f"{path.name}: no {key}"
    assert isinstance(card["model"], str) and card["model"].count("/") == 1  # a hub id: org/name
    assert "huggingface.co" in desc  # says where the id was checked
    assert card["system"] in ("native", "fold") and card["images"] in ("interleaved", "first")
    assert isinstance(card["paper"], bool)
    assert isinstance(card["params_b"], (int, float)) and card["params_b"] > 0
    assert card["size"].endswith("B") and float(card["size"][:-1]) > 0
    for key in ("tensor_parallel", "max_images", "context", "max_model_len"):
        if key in card:
            assert isinstance(card[key], int) and not isinstance(card[key], bool) and card[key] >= 1, key
    if "max_model_len" in card and "context" in card:
        assert card["max_model_len"] <= card["context"]
    if "processor" in card:
        size = card["processor"]["size"]
        assert 0 < size["shortest_edge"] < size["longest_edge"]
    if card.get("loadable") is False:
        assert card.get("notes"), "a card marked not loadable says why in notes"


def test_paper_flags_and_sizes():
    cards = list_cards()
    assert {n for n, c in cards.items() if c.get("paper") and c["backend"] in MODEL_BACKENDS} == PAPER
    assert cards["qwen2.5-vl-72b"]["tensor_parallel"] == 4 and cards["internvl3-78b"]["tensor_parallel"] == 4
    assert all(cards[n]["tensor_parallel"] == 1 for n in ("qwen2.5-vl-7b", "medgemma-4b", "lingshu-7b"))
    bigger = sorted(_open_cards(), key=lambda c: c["params_b"])
    assert [c["tensor_parallel"] for c in bigger] == sorted(c["tensor_parallel"] for c in bigger)


@pytest.mark.parametrize("name", sorted(OPEN))
def test_hf_and_vllm_specs_resolve_to_the_card(name):
    card = list_cards()[name]
    hf, vllm = load_card(f"hf:{name}"), load_card(f"vllm:{name}")
    assert (hf["backend"], hf["name"]) == ("hf", name)
    assert (vllm["backend"], vllm["name"]) == ("vllm", f"{name}@vllm")
    for resolved in (hf, vllm):
        assert resolved["model"] == card["model"]
        assert {k: v for k, v in resolved.items() if k not in ("backend", "name")} == \
            {k: v for k, v in card.items() if k not in ("backend", "name")}


def test_every_open_card_maps_to_vllm_engine_arguments():
    from pet2rep.backends.vllm import engine_kwargs

    for card in _open_cards():
        kw = engine_kwargs(card, max_images=3)
        assert kw["model"] == card["model"] and kw["tensor_parallel_size"] == card["tensor_parallel"]
        assert kw["trust_remote_code"] is bool(card.get("trust_remote_code"))


# ------------------------------------------------------------------------------------------------------
# the listing


def test_list_models_has_a_row_per_card():
    rows = list_models()
    assert [r["name"] for r in rows] == sorted(list_cards())
    by = {r["name"]: r for r in rows}
    assert by["qwen2.5-vl-7b"] == {"name": "qwen2.5-vl-7b", "backend": "hf", "model": "Qwen/Qwen2.5-VL-7B-Instruct",
                                   "size": "7B", "images": "3136-1.0M px", "paper": "yes", "verified": "arch only: tiny random Qwen2.5-VL, hf, CPU; 7B shape, random weights, bf16, hf, 1x H200"}
    assert by["llava-med"]["images"] == "≤1 img, first"
    assert by["llava-med"]["verified"].startswith("not loadable")
    assert by["template"]["model"] == "—" and by["template"]["paper"] == "no"
    assert {r["backend"] for r in list_models("hf")} == {"hf"}
    assert [r["name"] for r in list_models("template")] == ["template"]


def test_image_limits_forms():
    assert image_limits({}) == "—"
    assert image_limits({"processor": {"max_pixels": 1003520}}) == "≤1.0M px"
    assert image_limits({"processor": {"min_pixels": 65536}, "max_images": 6}) == "≤6 img, ≥66k px"


def test_table_is_aligned():
    rows = list_models()
    lines = models_table(rows).splitlines()
    assert len(lines) == len(rows) + 1 and lines[0].split() == [c.upper() for c in
                                                                  ("name", "backend", "model", "size", "images",
                                                                   "paper", "verified")]
    col = lines[0].index("BACKEND")
    for line, row in zip(lines[1:], rows):
        assert line.startswith(row["name"]) and line[col:].startswith(row["backend"])


def test_cli_text_and_json(capsys):
    assert main(["models"]) == 0
    text = capsys.readouterr().out
    for name in list_cards():
        assert name in text
    assert main(["models", "--json", "--backend", "hf"]) == 0
    rows = json.loads(capsys.readouterr().out)
    assert rows and all(r["backend"] == "hf" for r in rows)
    assert {r["name"] for r in rows} == {n for n, c in list_cards().items() if c["backend"] == "hf"}
