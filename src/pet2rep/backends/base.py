"""The Backend protocol, Request and Prediction, and the model registry (model cards are YAML data).

A backend turns a batch of Requests into Predictions. Backends are named by model cards
(``cards/*.yaml``): ``name``, ``backend`` (a key of BACKENDS), ``description`` and backend settings.
Heavy backends (transformers, vLLM, HTTP APIs) live in their own modules and are imported only when a card
that needs them is loaded.
"""

from __future__ import annotations

import importlib
import os
from dataclasses import asdict, dataclass, field
from importlib import resources
from pathlib import Path
from typing import Any, Protocol

from ..errors import InputError, read_input_yaml

# backend key -> "module:Class"; later backends (hf, vllm, openai) register here.
BACKENDS: dict[str, str] = {
    "template": "pet2rep.backends.baselines:TemplateBackend",
    "oracle": "pet2rep.backends.baselines:OracleBackend",
}


@dataclass
class Request:
    """What one model call gets."""

    id: str
    system: str
    user_text: str
    images: list[Path]
    lang: str = "zh"
    reference: str | None = None  # only the oracle may look at it
    max_new_tokens: int = 2048
    temperature: float = 0.0


@dataclass
class Prediction:
    """One model answer for one study, with timing, token counts and errors."""

    id: str
    text: str
    model: str
    lang: str = "zh"
    reference: str | None = None
    finish_reason: str = "stop"
    error: str | None = None
    latency_s: float = 0.0
    prompt_tokens: int | None = None
    completion_tokens: int | None = None
    extra: dict[str, Any] = field(default_factory=dict)

    def to_record(self) -> dict[str, Any]:
        """The predictions.jsonl record: the benchmark's result format plus pet2rep's fields."""
        rec = {
            "subject_id": self.id,
            "llm_output": [self.text],
            "ground_truth": self.reference,
            "model": self.model,
            "lang": self.lang,
            "finish_reason": self.finish_reason,
            "error": self.error,
            "latency_s": round(self.latency_s, 6),
            "prompt_tokens": self.prompt_tokens,
            "completion_tokens": self.completion_tokens,
        }
        rec.update(self.extra)
        return rec


class Backend(Protocol):
    """A model: `generate` answers a batch of requests, one Prediction each, in order, never raising for
    one bad request (the error goes into that Prediction)."""

    name: str

    def generate(self, requests: list[Request]) -> list[Prediction]: ...


def _cards_dir():
    return resources.files("pet2rep.backends").joinpath("cards")


def list_cards() -> dict[str, dict[str, Any]]:
    """All packaged model cards by name."""
    import yaml

    cards = {}
    for entry in sorted(_cards_dir().iterdir(), key=lambda e: e.name):
        if entry.name.endswith(".yaml"):
            card = yaml.safe_load(entry.read_text("utf-8"))
            cards[card["name"]] = card
    return cards


def load_card(model: str) -> dict[str, Any]:
    """A model card by packaged name, or from a YAML file path (one-line errors for a bad file)."""
    path = Path(model)
    if path.suffix in (".yaml", ".yml") or os.sep in model or "/" in model:
        if not path.exists():
            raise InputError(f"{model}: no such model card file")
        if path.is_dir():
            raise InputError(f"{model}: is a folder, expected a model card .yaml file")
    if path.suffix in (".yaml", ".yml"):
        card = read_input_yaml(path, "a model card")
        if not isinstance(card, dict) or "name" not in card or "backend" not in card:
            raise InputError(f"{path}: a model card needs 'name' and 'backend' keys")
        return card
    cards = list_cards()
    if model not in cards:
        raise InputError(f"unknown model '{model}' (known: {', '.join(cards)}; or give a card .yaml file)")
    return cards[model]


def load_backend(model: str, **overrides: Any) -> Backend:
    """Instantiate the backend a model card names; `overrides` replace card settings."""
    card = {**load_card(model), **overrides}
    key = card["backend"]
    if key not in BACKENDS:
        raise InputError(f"model card '{card['name']}': unknown backend '{key}' (known: {', '.join(BACKENDS)})")
    module_name, cls_name = BACKENDS[key].split(":")
    cls = getattr(importlib.import_module(module_name), cls_name)
    return cls(card)


def card_summary(card: dict[str, Any]) -> dict[str, Any]:
    """The card as recorded in run.json."""
    return {k: v for k, v in card.items() if not k.startswith("_")}


__all__ = ["BACKENDS", "Backend", "Prediction", "Request", "asdict", "list_cards", "load_backend", "load_card"]
