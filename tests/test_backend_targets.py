"""Backends: the packaged-card cache (parsed once, re-read when the folder changes) and the one check of a
local model's target shared by the hf and vllm backends."""

from __future__ import annotations

import os
import sys

import pytest

from pet2rep.backends import base
from pet2rep.backends.base import BackendError, list_cards, load_card
from pet2rep.backends.chat import model_folder


def _write(folder, name: str, text: str) -> None:
    (folder / name).write_text(text, encoding="utf-8")


@pytest.fixture
def cards_dir(tmp_path, monkeypatch):
    """A real folder standing in for the packaged cards."""
    folder = tmp_path / "cards"
    folder.mkdir()
    _write(folder, "b.yaml", "name: bee\nbackend: template\ngeneration: {max_new_tokens: 64}\n")
    _write(folder, "a.yaml", "name: ay\nbackend: oracle\n")
    _write(folder, "notes.txt", "not a card\n")
    monkeypatch.setattr(base, "_cards_dir", lambda: folder)
    base._parsed_cards.cache_clear()
    yield folder
    base._parsed_cards.cache_clear()


def test_packaged_cards_are_parsed_once_until_the_folder_changes(cards_dir):
    first = list_cards()
    assert list(first) == ["ay", "bee"]  # file-name order; .txt ignored
    assert first["bee"]["generation"] == {"max_new_tokens": 64}
    misses = base._parsed_cards.cache_info().misses
    for _ in range(5):
        assert list_cards() == first
    info = base._parsed_cards.cache_info()
    assert info.misses == misses and info.hits >= 5  # no file parsed again
    # a card rewritten with the same size: its modification time tells
    _write(cards_dir, "a.yaml", "name: ax\nbackend: oracle\n")
    st = os.stat(cards_dir / "a.yaml")
    os.utime(cards_dir / "a.yaml", ns=(st.st_atime_ns, st.st_mtime_ns + 2_000_000_000))
    assert list(list_cards()) == ["ax", "bee"]
    _write(cards_dir, "c.yaml", "name: sea\nbackend: template\n")  # a card added
    assert list(list_cards()) == ["ax", "bee", "sea"]
    (cards_dir / "b.yaml").unlink()  # and one removed
    assert list(list_cards()) == ["ax", "sea"]
    assert base._parsed_cards.cache_info().misses == misses + 3


def test_cached_cards_are_copies(cards_dir):
    cards = list_cards()
    cards["bee"]["generation"]["max_new_tokens"] = 1
    cards["bee"]["backend"] = "hf"
    del cards["ay"]
    again = list_cards()
    assert again["bee"] == {"name": "bee", "backend": "template", "generation": {"max_new_tokens": 64}}
    assert "ay" in again
    card = load_card("bee")
    card["generation"]["max_new_tokens"] = 2
    assert load_card("bee")["generation"] == {"max_new_tokens": 64}


def test_card_given_by_path_is_read_fresh_every_time(tmp_path):
    path = tmp_path / "mine.yaml"
    _write(tmp_path, "mine.yaml", "name: mine\nbackend: template\n")
    assert load_card(str(path))["name"] == "mine"
    _write(tmp_path, "mine.yaml", "name: yours\nbackend: oracle\n")
    card = load_card(str(path))
    assert (card["name"], card["backend"]) == ("yours", "oracle")


def test_packaged_cards_still_load():
    cards = list_cards()
    assert {"template", "oracle", "qwen2.5-vl-7b"} <= set(cards)
    assert load_card("qwen2.5-vl-7b") == cards["qwen2.5-vl-7b"]


# ------------------------------------------------------------------------------------------------------
# the model target of the local backends


def test_model_folder_hub_ids_folders_and_bad_targets(tmp_path, monkeypatch):
    assert model_folder({"model": " Qwen/Qwen2.5-VL-7B-Instruct "}, "q") == ("Qwen/Qwen2.5-VL-7B-Instruct", None)
    good = tmp_path / "m"
    good.mkdir()
    (good / "config.json").write_text("{}", encoding="utf-8")
    assert model_folder({"model": str(good)}, "m") == (str(good), good)
    monkeypatch.setenv("HOME", str(tmp_path))
    assert model_folder({"model": "~/m"}, "m") == ("~/m", good)  # ~ expanded, the target kept as given
    empty = tmp_path / "empty"
    empty.mkdir()
    (tmp_path / "weights.bin").write_bytes(b"\0")
    cases = {
        str(tmp_path / "gone"): f"{tmp_path / 'gone'}: no such model folder",
        "./gone": "./gone: no such model folder",
        "a/b/c": "a/b/c: no such model folder",
        str(tmp_path / "weights.bin"): f"{tmp_path / 'weights.bin'}: is a file; give a model folder (config.json, "
                                       "weights, processor)",
        str(empty): f"{empty}: no config.json in this folder (not a transformers model folder?)",
    }
    for target, message in cases.items():
        with pytest.raises(BackendError) as exc:
            model_folder({"model": target}, "x")
        assert str(exc.value) == message
    with pytest.raises(BackendError) as exc:
        model_folder({"name": "x"}, "x")
    assert str(exc.value) == "model card 'x': no 'model' (a model folder or hub id)"
    with pytest.raises(BackendError) as exc:
        model_folder({"model": str(good), "loadable": False, "notes": "convert\nit first"}, "x")
    assert str(exc.value) == f"model card 'x': {good} cannot be loaded as published: convert it first"


def test_vllm_backend_checks_the_folder_like_hf(tmp_path, monkeypatch):
    """Both local backends refuse a bad folder with the same line, before loading anything."""
    from pet2rep.backends.vllm import VLLMBackend, engine_kwargs

    monkeypatch.setitem(sys.modules, "vllm", None)  # never reached: the target is refused first
    empty = tmp_path / "empty"
    empty.mkdir()
    with pytest.raises(BackendError) as exc:
        VLLMBackend({"name": "e@vllm", "backend": "vllm", "model": str(empty)})
    assert str(exc.value) == f"{empty}: no config.json in this folder (not a transformers model folder?)"
    with pytest.raises(BackendError) as exc:
        VLLMBackend({"name": "g@vllm", "backend": "vllm", "model": str(tmp_path / "gone")})
    assert str(exc.value) == f"{tmp_path / 'gone'}: no such model folder"
    with pytest.raises(BackendError) as exc:
        engine_kwargs({"name": "m", "model": "  "})
    assert str(exc.value) == "model card 'm': no 'model' (a model folder or hub id)"
