"""The backend contract: GenerationConfig, Request, Generation, PredictionRecord, Backend, and model specs/cards.

A backend gets every Request of a run at once and yields one ``Generation`` per request **as each completes**
(in any order; the Generation names its request id). It batches, sorts and parallelises as its model likes; a
request that cannot be answered (prompt longer than the context, a study the API keeps refusing) is yielded as
a Generation with ``error`` set, never raised. The runner (``pet2rep.runs``) attaches model name and timing,
checks the ids, writes each result when it arrives, and retries only the requests left without a result when
a backend raises.

Models are named by a SPEC: a packaged card name (``cards/*.yaml``), a card ``.yaml`` path, ``hf:PATH_OR_ID``,
``vllm:PATH_OR_ID_OR_CARD`` or ``openai:MODEL``. A card is a dict: ``name``, ``backend`` (a key of BACKENDS)
and backend settings; heavy backends are imported only when a card that needs them is loaded.
"""

from __future__ import annotations

import copy
import functools
import hashlib
import importlib
import json
import os
import re
from collections.abc import Iterator, Sequence
from dataclasses import asdict, dataclass, field, fields, replace
from importlib import resources
from pathlib import Path
from typing import Any

from ..errors import InputError, Pet2RepError, read_input_yaml
from ..prompts.messages import Message, image_parts

# backend key -> "module:Class"
BACKENDS: dict[str, str] = {
    "template": "pet2rep.backends.baselines:TemplateBackend",
    "oracle": "pet2rep.backends.baselines:OracleBackend",
    "hf": "pet2rep.backends.hf:HFBackend",
    "vllm": "pet2rep.backends.vllm:VLLMBackend",
    "openai": "pet2rep.backends.openai_api:OpenAIBackend",
}
SPEC_PREFIXES = ("hf", "vllm", "openai")

# card keys that change how fast or where a run goes, not what it answers: left out of the resume key
RUNTIME_KEYS = frozenset({
    "description", "verified", "batch_size", "concurrency", "rpm", "timeout", "max_retries",
    "tensor_parallel", "base_url", "api_key_env", "prices", "device", "device_map", "attn_implementation",
    "gpu_memory_utilization", "size", "params_b", "paper", "notes", "spec", "dtype", "pipeline_parallel",
    "distributed_executor_backend", "prefix_caching", "loadable", "max_model_len", "max_tokens_param",
    "fail_fast_after",
})


class BackendError(Pet2RepError):
    """A backend cannot start (model not loadable, extra not installed, API key missing): one line."""


# --------------------------------------------------------------------------------------------------
# generation settings


@dataclass(frozen=True)
class GenerationConfig:
    """Sampling settings of a run. Temperature 0 means greedy decoding (the default)."""

    max_new_tokens: int = 1024
    temperature: float = 0.0
    top_p: float = 1.0
    top_k: int = 0  # 0: off
    seed: int | None = None
    stop: tuple[str, ...] = ()
    min_new_tokens: int = 0  # benchmarks force long outputs with it
    repetition_penalty: float = 1.0

    @property
    def greedy(self) -> bool:
        return self.temperature == 0.0

    def validate(self) -> GenerationConfig:
        """Raise InputError (in Python terms) for an impossible setting; return self."""
        if self.max_new_tokens < 1:
            raise InputError(f"max_new_tokens {self.max_new_tokens}: must be at least 1")
        if not 0 <= self.min_new_tokens <= self.max_new_tokens:
            raise InputError(f"min_new_tokens {self.min_new_tokens}: must be between 0 and max_new_tokens")
        if not (self.temperature >= 0 and self.temperature < float("inf")):
            raise InputError(f"temperature {self.temperature}: must be >= 0 (0: greedy)")
        if not 0 < self.top_p <= 1:
            raise InputError(f"top_p {self.top_p}: must be in (0, 1]")
        if self.top_k < 0:
            raise InputError(f"top_k {self.top_k}: must be >= 0 (0: off)")
        if self.repetition_penalty <= 0:
            raise InputError(f"repetition_penalty {self.repetition_penalty}: must be > 0")
        return self

    def to_dict(self) -> dict[str, Any]:
        d = asdict(self)
        d["stop"] = list(self.stop)
        return d

    @classmethod
    def from_dict(cls, d: dict[str, Any], where: str = "generation settings") -> GenerationConfig:
        known = {f.name for f in fields(cls)}
        unknown = sorted(set(d) - known)
        if unknown:
            raise InputError(f"{where}: unknown setting(s) {', '.join(unknown)} (known: {', '.join(sorted(known))})")
        d = dict(d)
        if "stop" in d:
            stop = d["stop"]
            d["stop"] = (stop,) if isinstance(stop, str) else tuple(stop or ())
        try:
            return replace(cls(), **d)
        except TypeError as exc:
            raise InputError(f"{where}: {exc}") from None


# The benchmark's own script: sampling with T 0.7, top-k 50, 1,024 new tokens, batch 1.
PRESETS: dict[str, dict[str, Any]] = {
    "paper": {"temperature": 0.7, "top_k": 50, "top_p": 1.0, "max_new_tokens": 1024},
    "greedy": {"temperature": 0.0, "top_k": 0, "top_p": 1.0},
}


def resolve_generation(card: dict[str, Any], preset: str | None = None,
                       overrides: dict[str, Any] | None = None) -> GenerationConfig:
    """Card defaults < preset < explicit settings (None values in `overrides` are ignored)."""
    cfg = GenerationConfig.from_dict(card.get("generation") or {}, f"model card '{card.get('name')}' generation")
    if preset is not None:
        if preset not in PRESETS:
            raise InputError(f"unknown preset '{preset}' (known: {', '.join(PRESETS)})")
        cfg = replace(cfg, **PRESETS[preset])
    explicit = {k: v for k, v in (overrides or {}).items() if v is not None}
    if explicit:
        cfg = GenerationConfig.from_dict({**cfg.to_dict(), **explicit})
    return cfg.validate()


# --------------------------------------------------------------------------------------------------
# requests and results


@dataclass(frozen=True)
class Request:
    """What one model call gets: interleaved messages and the generation settings."""

    id: str
    messages: tuple[Message, ...]
    config: GenerationConfig = field(default_factory=GenerationConfig)
    lang: str = "zh"
    reference: str | None = None  # only the oracle may look at it

    @property
    def images(self) -> list[Path | None]:
        return [p.path for p in image_parts(self.messages)]

    @property
    def missing_images(self) -> list[str]:
        return [p.source for p in image_parts(self.messages) if not p.found]

    @property
    def text_length(self) -> int:
        """Characters of text over all messages (a cheap length for sorting)."""
        return sum(len(m.text) for m in self.messages)


@dataclass
class Generation:
    """A backend's answer to one request (matched by `id`). `error` set: no usable answer, with the reason."""

    id: str
    text: str = ""
    finish_reason: str = "stop"  # stop | length | error | content_filter
    error: str | None = None
    prompt_tokens: int | None = None
    completion_tokens: int | None = None
    latency_s: float | None = None  # the backend's own timing of this request, when it has one
    extra: dict[str, Any] = field(default_factory=dict)

    @classmethod
    def failed(cls, id: str, reason: str, **kw: Any) -> Generation:
        return cls(id, "", "error", one_line(reason), **kw)


@dataclass
class PredictionRecord:
    """One model answer for one study as written to predictions.jsonl."""

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


def one_line(text: str, limit: int = 500) -> str:
    """A reason as one line (error messages from libraries span many)."""
    line = " ".join(str(text).split()) or "unknown error"
    return line if len(line) <= limit else line[: limit - 1] + "…"


def card_number(card: dict[str, Any], key: str, kind: type = int, low: float = 1, *, strict: bool = False,
                default: Any = None) -> Any:
    """A numeric card setting (`default` when absent or null): a one-line BackendError when it is not a number,
    not whole for `kind` int, NaN, or below `low` (or equal to it, with `strict`)."""
    from ..errors import plain

    value = card.get(key, default)
    if value is None:
        return None
    where = f"model card '{card.get('name')}': {key} {plain(value)}"
    try:
        num = kind(value) if not isinstance(value, bool) else None
    except (TypeError, ValueError):
        num = None
    if num is None:
        raise BackendError(f"{where}: is not a number")
    if kind is int and isinstance(value, float) and value != num:
        raise BackendError(f"{where}: must be a whole number")
    if num != num or num < low or (strict and num == low):
        raise BackendError(f"{where}: must be {'>' if strict else '>='} {plain(low)}")
    return num


def error_text(exc: BaseException) -> str:
    """`Type: first line of the message` (library messages go on for many lines)."""
    first = next((ln.strip() for ln in str(exc).splitlines() if ln.strip()), "")
    return one_line(f"{type(exc).__name__}: {first}" if first else type(exc).__name__)


# --------------------------------------------------------------------------------------------------
# backends


class Backend:
    """Base of every backend: a context manager that releases its model or engine on exit."""

    needs_images = True  # False for the baselines, which never look at images

    def __init__(self, card: dict[str, Any]):
        self.card = card
        self.name: str = card["name"]

    def generate(self, requests: Sequence[Request]) -> Iterator[Generation]:
        raise NotImplementedError

    def describe(self) -> dict[str, Any]:
        """Resolved facts for run.json: model revision, dtype, device, library versions, ...

        Called when the backend starts and again after `close()` (facts learned while running, such as a
        batch size halved on out-of-memory or the server's model name); it must work in both places."""
        return {"backend": self.card.get("backend")}

    def close(self) -> None:
        """Release memory, engines, connections. Called once; must be safe to call after a failed start."""

    def __enter__(self) -> Backend:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


# --------------------------------------------------------------------------------------------------
# cards and specs


def _cards_dir():
    return resources.files("pet2rep.backends").joinpath("cards")


def _cards_stamp(folder: Any) -> tuple[tuple[str, int | None, int | None], ...]:
    """The packaged card files as (name, mtime_ns, size), sorted: what the parsed cards are cached by."""
    stamp = []
    for entry in folder.iterdir():
        if entry.name.endswith(".yaml"):
            try:
                st = os.stat(entry) if isinstance(entry, os.PathLike) else None
            except OSError:
                st = None
            stamp.append((entry.name, st.st_mtime_ns if st else None, st.st_size if st else None))
    return tuple(sorted(stamp))


@functools.lru_cache(maxsize=4)
def _parsed_cards(folder_key: str, stamp: tuple[tuple[str, int | None, int | None], ...]) -> dict[str, Any]:
    import yaml

    folder = _cards_dir()
    cards = {}
    for name, _, _ in stamp:
        card = yaml.safe_load(folder.joinpath(name).read_text("utf-8"))
        cards[card["name"]] = card
    return cards


def list_cards() -> dict[str, dict[str, Any]]:
    """All packaged model cards by name, in file-name order.

    The YAML files are parsed once and again only when the cards folder changes (a file added, removed or
    rewritten: names, sizes and modification times are compared on each call); every call returns fresh
    copies, safe to modify. A card given by path (`load_card`) is always read from its file.
    """
    folder = _cards_dir()
    return copy.deepcopy(_parsed_cards(str(folder), _cards_stamp(folder)))


def _card_file(path: Path) -> dict[str, Any]:
    if not path.exists():
        raise InputError(f"{path}: no such model card file")
    if path.is_dir():
        raise InputError(f"{path}: is a folder, expected a model card .yaml file")
    card = read_input_yaml(path, "a model card")
    if not isinstance(card, dict) or "name" not in card or "backend" not in card:
        raise InputError(f"{path}: a model card needs 'name' and 'backend' keys")
    return card


def spec_name(target: str, backend: str) -> str:
    """A short, file-safe run name for a model given by path or hub id (the last path component)."""
    base = target.rstrip("/\\").replace("\\", "/").split("/")[-1] or target
    base = re.sub(r"[^A-Za-z0-9._+-]+", "_", base).strip("._") or "model"
    return base if backend == "hf" else f"{base}@{backend}"


def load_card(spec: str) -> dict[str, Any]:
    """The card of a model SPEC (see the module docstring); one-line InputError for a bad one."""
    spec = str(spec)
    prefix, sep, target = spec.partition(":")
    if sep and prefix in SPEC_PREFIXES and not Path(spec).exists():
        if not target:
            raise InputError(f"model={spec}: give a model after '{prefix}:' (a folder or hub id)")
        return _prefixed_card(prefix, target)
    path = Path(spec)
    if path.suffix in (".yaml", ".yml") or os.sep in spec or "/" in spec:
        if path.is_dir():
            raise InputError(f"{spec}: is a folder; for a model folder use model=hf:{spec} (or vllm:{spec})")
        card = _card_file(path)
    else:
        cards = list_cards()
        if spec not in cards:
            raise InputError(f"unknown model '{spec}' (known cards: {', '.join(cards)}; or hf:PATH_OR_ID, "
                             f"vllm:PATH_OR_ID, openai:MODEL, or a card .yaml file)")
        card = dict(cards[spec])
    if card["backend"] not in BACKENDS:
        raise InputError(f"model card '{card['name']}': unknown backend '{card['backend']}' "
                         f"(known: {', '.join(BACKENDS)})")
    return card


def _prefixed_card(prefix: str, target: str) -> dict[str, Any]:
    """`hf:X`, `vllm:X`, `openai:X`: a packaged card's settings when X names one, else a bare card."""
    cards = list_cards()
    if target in cards and not Path(target).exists():
        card = dict(cards[target])
        if prefix != card["backend"] and not (prefix in ("hf", "vllm") and card["backend"] in ("hf", "vllm")):
            raise InputError(f"model card '{target}' is a {card['backend']} model; it cannot run on {prefix}")
        card["backend"] = prefix
        if prefix == "vllm":
            card["name"] = f"{card['name']}@vllm"
        return card
    card: dict[str, Any] = {"name": spec_name(target, prefix), "backend": prefix, "model": target}
    return card


_SECRET_KEY = re.compile(r"(^api_key$|_key$|_token$|_secret$|password)", re.IGNORECASE)


def card_summary(card: dict[str, Any]) -> dict[str, Any]:
    """The card as recorded in run.json: private (`_`) keys and anything that looks like a secret left out
    (cards name the variable holding a key, `api_key_env`, never the key)."""
    return {k: v for k, v in card.items()
            if not k.startswith("_") and (k == "api_key_env" or not _SECRET_KEY.search(k))}


def card_key(card: dict[str, Any]) -> dict[str, Any]:
    """The part of a card that decides what a model answers (the resume key's share)."""
    return {k: v for k, v in card_summary(card).items() if k not in RUNTIME_KEYS}


def stable_hash(obj: Any) -> str:
    """sha256 of the canonical JSON of `obj`."""
    return hashlib.sha256(json.dumps(obj, sort_keys=True, ensure_ascii=False, default=str).encode()).hexdigest()


def load_backend(spec: str | dict[str, Any], **overrides: Any) -> Backend:
    """Instantiate the backend of a SPEC (or a resolved card); `overrides` (not None) replace card settings."""
    card = dict(spec) if isinstance(spec, dict) else load_card(spec)
    card.update({k: v for k, v in overrides.items() if v is not None})
    module_name, cls_name = BACKENDS[card["backend"]].split(":")
    try:
        module = importlib.import_module(module_name)
    except ImportError as exc:
        extra = {"hf": "hf", "vllm": "vllm", "openai": "api"}.get(card["backend"], card["backend"])
        raise BackendError(f"the {card['backend']} backend needs {exc.name or 'an extra'}: "
                           f"pip install 'pet2rep[{extra}]'") from None
    return getattr(module, cls_name)(card)


__all__ = [
    "BACKENDS", "Backend", "BackendError", "Generation", "GenerationConfig", "PRESETS", "PredictionRecord",
    "Request", "card_key", "card_summary", "list_cards", "load_backend", "load_card", "resolve_generation",
]
