"""The `hf` backend: any transformers image-text model (AutoProcessor + AutoModelForImageTextToText), batched.

Requests are sorted longest first (an out-of-memory shows up on the first batch), cut into batches of the
card's ``batch_size``, turned into the model's own chat template with left padding, and generated together;
each batch's answers are yielded as soon as it is done. Per study, not per run: a prompt longer than the
model's context, an image that cannot be decoded, or an out-of-memory at batch size 1 fails that study only.
On out-of-memory the batch size is halved for the rest of the run and the batch is retried.

What differs per family is found out from the model itself when its card is silent: whether the chat template
takes a system message (it is rendered once with one, next to an image; a template that raises or drops it gets
the system text folded into the user turn, even when a card says "native") and where images go (Mllama, whose
text attends to images by cross-attention only after the first image token, gets its images first; every other
family keeps the prompt's order).
"""

from __future__ import annotations

import gc
import hashlib
import importlib.util
import inspect
import json
import sys
import time
from collections import deque
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any

import torch
import transformers
from tqdm import tqdm

from .base import (
    Backend,
    BackendError,
    Generation,
    GenerationConfig,
    Request,
    card_number,
    error_text,
    one_line,
)
from .chat import arrange, chat_modes, conversation, model_folder

OutOfMemoryError = getattr(torch, "OutOfMemoryError", torch.cuda.OutOfMemoryError)  # torch.OutOfMemoryError: 2.5+
DEFAULT_BATCH_SIZE = 8
IMAGE_COST = 256  # characters an image counts as when requests are sorted by length (a rough token count)
DTYPES: dict[str, Any] = {"auto": "auto", "bfloat16": torch.bfloat16, "float16": torch.float16,
                          "float32": torch.float32}


def _load_error(ref: str, what: str, exc: BaseException) -> BackendError:
    """One line naming the model and a hint for a failed from_pretrained."""
    text = str(exc)
    low = text.lower()
    if "torchvision" in low:
        return BackendError(f"{ref}: its processor needs torchvision: pip install torchvision "
                            "(the build matching your torch)")
    if "trust_remote_code" in low:
        return BackendError(f"{ref}: this model runs its own code; allow it with 'trust_remote_code: true' "
                            "in a model card (only for a repository you trust)")
    if "accelerate" in low:
        return BackendError(f"{ref}: device_map needs accelerate: pip install accelerate")
    if isinstance(exc, OSError):
        if "couldn't connect" in low or "offline" in low or "connection" in low:
            return BackendError(f"{ref}: not found locally and the hub is unreachable (offline? give a local "
                                "folder, or set HF_HOME to a cache that holds it)")
        if "not a valid model identifier" in low or "repository not found" in low or "repo id must" in low:
            return BackendError(f"{ref}: no such model folder or hub id (a private model needs "
                                "`hf auth login`)")
        if "does not appear to have a file named" in low or "no file named" in low:
            return BackendError(f"{ref}: files of the {what} are missing from this model folder "
                                f"({one_line(text, 160)})")
    first = text.strip().split(". ")[0].split("\n")[0]  # library messages go on with advice for other cases
    return BackendError(f"{ref}: cannot load the {what}: {type(exc).__name__}: {first}")


# the small files of a model folder that decide its answers (weights are hashed by name and size)
_REVISION_FILES = ("config.json", "generation_config.json", "model.safetensors.index.json",
                   "pytorch_model.bin.index.json", "chat_template.jinja", "chat_template.json",
                   "tokenizer_config.json", "processor_config.json", "preprocessor_config.json")


def _local_revision(folder: Path) -> str:
    """A short hash of a local model folder: its config, template and processor files, weight names and sizes."""
    h = hashlib.sha256()
    for name in _REVISION_FILES:
        if (folder / name).is_file():
            h.update(name.encode() + b"\0" + (folder / name).read_bytes())
    for p in sorted(folder.glob("*.safetensors")) + sorted(folder.glob("*.bin")):
        h.update(f"{p.name}\0{p.stat().st_size}\0".encode())
    return "local-" + h.hexdigest()[:12]


class HFBackend(Backend):
    """transformers on one device (or many with device_map: auto): batched, left-padded, greedy by default."""

    def __init__(self, card: dict[str, Any]):
        super().__init__(card)
        self.model: Any = None
        self.processor: Any = None
        target, folder = model_folder(card, self.name)
        self.local = folder is not None
        self.ref = str(folder) if folder is not None else target
        self.revision = card.get("revision")
        self.batch_size = card_number(card, "batch_size", int, 1, default=DEFAULT_BATCH_SIZE)
        self.max_images = card_number(card, "max_images", int, 1)
        self._oom_above = card.get("_oom_above_batch")  # test hook: simulated OOM above this batch size
        self._load(card)

    # ---------------------------------------------------------------------------------------------- loading

    def _load(self, card: dict[str, Any]) -> None:
        ref, revision = self.ref, self.revision
        trust = bool(card.get("trust_remote_code", False))
        try:
            self.config = transformers.AutoConfig.from_pretrained(ref, revision=revision, trust_remote_code=trust)
        except Exception as exc:  # noqa: BLE001 - any failure becomes one line naming the model
            raise _load_error(ref, "model config (config.json)", exc) from None
        model_type = str(getattr(self.config, "model_type", "") or "?")
        self.model_type = model_type
        from transformers.models.auto.modeling_auto import MODEL_FOR_IMAGE_TEXT_TO_TEXT_MAPPING_NAMES

        remote = "AutoModelForImageTextToText" in (getattr(self.config, "auto_map", None) or {})
        if model_type not in MODEL_FOR_IMAGE_TEXT_TO_TEXT_MAPPING_NAMES and not (trust and remote):
            raise BackendError(f"{ref}: AutoModelForImageTextToText does not know model type '{model_type}': "
                               "not an image-text model?")
        proc_kwargs = card.get("processor") or {}
        if not isinstance(proc_kwargs, dict):
            raise BackendError(f"model card '{self.name}': 'processor' must be a mapping of AutoProcessor settings")
        try:
            self.processor = transformers.AutoProcessor.from_pretrained(
                ref, revision=revision, trust_remote_code=trust, **proc_kwargs)
        except Exception as exc:  # noqa: BLE001
            raise _load_error(ref, "processor", exc) from None
        self.tokenizer = getattr(self.processor, "tokenizer", None)
        if self.tokenizer is None or not hasattr(self.processor, "image_processor"):
            raise BackendError(f"{ref}: AutoProcessor gave a {type(self.processor).__name__}, not an image-text "
                               "processor (no image processor in the folder?)")
        if not (getattr(self.processor, "chat_template", None) or getattr(self.tokenizer, "chat_template", None)):
            raise BackendError(f"{ref}: has no chat template (chat_template.jinja); add the model's template "
                               "to the folder")
        self.tokenizer.padding_side = "left"
        # transformers 5 takes the processor's own settings apart from the template's; 4.x takes them mixed
        self._processor_kwargs = "processor_kwargs" in inspect.signature(self.processor.apply_chat_template).parameters
        if self.tokenizer.pad_token is None:
            self.tokenizer.pad_token = self.tokenizer.eos_token

        cuda = torch.cuda.is_available()
        dtype_name = str(card.get("dtype") or ("bfloat16" if cuda else "float32"))
        if dtype_name not in DTYPES:
            raise BackendError(f"model card '{self.name}': dtype '{dtype_name}' (choose from {', '.join(DTYPES)})")
        attn = card.get("attn_implementation")
        if attn is not None:
            attempts = [str(attn)]
        else:  # the fastest kernel this architecture and machine have
            attempts = ["sdpa", "eager"]
            if cuda and importlib.util.find_spec("flash_attn"):
                attempts.insert(0, "flash_attention_2")
        # weights load straight onto their device: one device, or spread over the GPUs with device_map: auto
        device_map = card.get("device_map") or str(card.get("device") or ("cuda" if cuda else "cpu"))
        if cuda and not card.get("device_map") and not card.get("device") and self._needs_many_gpus(card, dtype_name):
            device_map = "auto"
        kwargs: dict[str, Any] = {"revision": revision, "trust_remote_code": trust, "dtype": DTYPES[dtype_name],
                                  "device_map": device_map}
        for i, impl in enumerate(attempts):
            try:
                self.model = transformers.AutoModelForImageTextToText.from_pretrained(
                    ref, attn_implementation=impl, **kwargs)
                break
            except (ValueError, ImportError) as exc:  # this architecture has no such kernel: the next one
                msg = str(exc).lower()
                if i + 1 < len(attempts) and ("attn" in msg or "attention" in msg):
                    continue
                raise _load_error(ref, "model", exc) from None
            except Exception as exc:  # noqa: BLE001
                raise _load_error(ref, "model", exc) from None
        self.model.eval()
        self.device = self.model.get_input_embeddings().weight.device
        self.dtype = self.model.dtype

        text_config = self.config.get_text_config() if hasattr(self.config, "get_text_config") else self.config
        self.context = int(card.get("context") or getattr(text_config, "max_position_embeddings", 0) or 0) or None
        gen_cfg = getattr(self.model, "generation_config", None)
        eos = getattr(gen_cfg, "eos_token_id", None)
        if eos is None:
            eos = self.tokenizer.eos_token_id
        self.eos_ids = set(eos if isinstance(eos, (list, tuple)) else [eos]) - {None}
        self.pad_id = self.tokenizer.pad_token_id

        self.modes = chat_modes(card, self.name, model_type, self.processor,
                                warn=lambda msg: tqdm.write(msg, file=sys.stderr))
        self._facts = self._resolved_facts()

    # ------------------------------------------------------------------------------------------- generation

    def generate(self, requests: Sequence[Request]) -> Iterator[Generation]:
        """Batches of the longest requests first; each batch's answers as soon as it is done."""
        by_config: dict[GenerationConfig, list[Request]] = {}
        for req in requests:
            by_config.setdefault(req.config, []).append(req)
        for config, reqs in by_config.items():
            queue = deque(sorted(reqs, key=lambda r: r.text_length + IMAGE_COST * len(r.images), reverse=True))
            while queue:
                batch = [queue.popleft() for _ in range(min(self.batch_size, len(queue)))]
                yield from self._run_batch(batch, config, queue)

    def _needs_many_gpus(self, card: dict[str, Any], dtype_name: str) -> bool:
        """Weights larger than 85% of one GPU, with more GPUs at hand: spread the model (device_map auto)."""
        if torch.cuda.device_count() < 2:
            return False
        size = _weights_bytes(Path(self.ref)) if self.local else 0
        if not size and card.get("params_b"):
            size = float(card["params_b"]) * 1e9 * (4 if dtype_name == "float32" else 2)
        return bool(size) and size > 0.85 * torch.cuda.get_device_properties(0).total_memory

    def _conversation(self, req: Request) -> list[dict[str, Any]]:
        """The chat-template conversation of a request, images decoded (ValueError naming a bad image)."""
        return conversation(arrange(req.messages, self.modes), decode=True)

    def _encode(self, convs: list[list[dict[str, Any]]]) -> dict[str, Any]:
        """The batch's chat-template prompts, tokenized with their images, left-padded, on the model's device."""
        padding = {"processor_kwargs": {"padding": True}} if self._processor_kwargs else {"padding": True}
        inputs = self.processor.apply_chat_template(
            convs, add_generation_prompt=True, tokenize=True, return_dict=True, return_tensors="pt", **padding)
        out = {}
        for key, value in inputs.items():
            if torch.is_tensor(value):
                value = value.to(self.device)
                if value.is_floating_point():
                    value = value.to(self.dtype)
            out[key] = value
        return out

    def _gen_kwargs(self, config: GenerationConfig) -> dict[str, Any]:
        kw: dict[str, Any] = {"max_new_tokens": config.max_new_tokens, "do_sample": not config.greedy,
                              "pad_token_id": self.pad_id, "repetition_penalty": config.repetition_penalty}
        if config.min_new_tokens > 0:
            kw["min_new_tokens"] = config.min_new_tokens
        if not config.greedy:
            kw.update(temperature=config.temperature, top_p=config.top_p, top_k=config.top_k)
        else:  # the model's generation_config may carry sampling defaults; greedy ignores them
            kw.update(temperature=None, top_p=None, top_k=None)
        if config.stop:
            kw.update(stop_strings=list(config.stop), tokenizer=self.tokenizer)
        return kw

    def _run_batch(self, batch: list[Request], config: GenerationConfig, queue: deque) -> Iterator[Generation]:
        t0 = time.perf_counter()
        convs: list[list[dict[str, Any]]] = []
        ok: list[Request] = []
        for req in batch:
            n_img = len(req.images)
            if self.max_images is not None and n_img > self.max_images:
                yield Generation.failed(req.id, f"{n_img} images > the model's limit of {self.max_images}")
                continue
            try:
                convs.append(self._conversation(req))
                ok.append(req)
            except ValueError as exc:
                yield Generation.failed(req.id, str(exc))
        if not ok:
            return
        try:
            inputs = self._encode(convs)
        except Exception:  # noqa: BLE001 - a study the processor refuses (e.g. an extreme aspect ratio): which?
            bad = []
            for i, conv in enumerate(convs):
                try:
                    self._encode([conv])
                except Exception as exc:  # noqa: BLE001
                    bad.append(i)
                    yield Generation.failed(ok[i].id, f"the processor cannot take this study: {error_text(exc)}")
            if not bad:
                raise
            ok, convs = [r for i, r in enumerate(ok) if i not in bad], [c for i, c in enumerate(convs) if i not in bad]
            if not ok:
                return
            inputs = self._encode(convs)
        lengths = inputs["attention_mask"].sum(dim=1).tolist()
        if self.context is not None:
            over = [i for i, n in enumerate(lengths) if n + config.max_new_tokens > self.context]
            for i in over:
                yield Generation.failed(ok[i].id, f"prompt is {lengths[i]} tokens + {config.max_new_tokens} new "
                                                  f"tokens > the model's context of {self.context} tokens")
            if over:
                keep = [i for i in range(len(ok)) if i not in over]
                ok, convs = [ok[i] for i in keep], [convs[i] for i in keep]
                if not ok:
                    return
                inputs = self._encode(convs)
                lengths = inputs["attention_mask"].sum(dim=1).tolist()
        try:
            if config.seed is not None:  # one seed per batch, from the run's seed and the batch's studies, so
                torch.manual_seed(_batch_seed(config.seed, ok))  # batches do not repeat each other's draws
            if self._oom_above is not None and len(ok) > int(self._oom_above):
                raise OutOfMemoryError(f"CUDA out of memory (simulated above batch {self._oom_above})")
            with torch.inference_mode():
                out = self.model.generate(**inputs, **self._gen_kwargs(config))
        except (OutOfMemoryError, RuntimeError) as exc:  # some kernels raise a plain "CUDA error: out of memory"
            if not isinstance(exc, OutOfMemoryError) and "out of memory" not in str(exc):
                raise
            oom = True
        else:
            oom = False
        if oom:
            del inputs
            self._free()
            if len(ok) == 1:
                yield Generation.failed(ok[0].id, f"CUDA out of memory at batch size 1 (prompt {lengths[0]} tokens)")
                return
            new_size = max(1, len(ok) // 2)
            if new_size < self.batch_size:
                tqdm.write(f"warning: {self.name}: CUDA out of memory at batch size {len(ok)}; going on with "
                           f"batch size {new_size}", file=sys.stderr)  # above the runner's progress bar
                self.batch_size = new_size
            queue.extendleft(reversed(ok))
            return
        prompt_len = inputs["input_ids"].shape[1]
        if out.shape[1] >= prompt_len and torch.equal(out[:, :prompt_len], inputs["input_ids"]):
            out = out[:, prompt_len:]
        rows = out.tolist()
        del inputs, out
        latency = time.perf_counter() - t0
        for req, row, n_prompt in zip(ok, rows, lengths):
            yield self._answer(req, row, int(n_prompt), config, latency)

    def _answer(self, req: Request, row: list[int], n_prompt: int, config: GenerationConfig,
                latency: float) -> Generation:
        """One row of new tokens as a Generation.

        The answer ends at the first EOS (counted, not shown) or where a stop string first appears (counted up
        to the token that completes it, the text cut before it); what follows is the batch's padding.
        """
        n_eos = next((j + 1 for j, t in enumerate(row) if t in self.eos_ids), None)
        n = n_eos or len(row)
        shown = row[:n - 1] if n_eos else row[:n]
        text = self.tokenizer.decode(shown, skip_special_tokens=True)
        finish = "stop" if n_eos else ("length" if n >= config.max_new_tokens else "stop")
        cut = min((i for i in (text.find(s) for s in config.stop) if i >= 0), default=-1)
        if cut >= 0:
            text, finish = text[:cut], "stop"
            n = self._stop_length(shown, config.stop)
        return Generation(req.id, text.strip(), finish, prompt_tokens=n_prompt, completion_tokens=n,
                          latency_s=latency)

    def _stop_length(self, tokens: list[int], stops: tuple[str, ...]) -> int:
        """The fewest leading tokens whose text holds a stop string (binary search; they do hold one)."""
        lo, hi = 1, len(tokens)
        while lo < hi:
            mid = (lo + hi) // 2
            text = self.tokenizer.decode(tokens[:mid], skip_special_tokens=True)
            if any(s in text for s in stops):
                hi = mid
            else:
                lo = mid + 1
        return lo

    # ------------------------------------------------------------------------------------------------ facts

    def describe(self) -> dict[str, Any]:
        """The resolved facts (taken at load, so they survive close()) and the batch size now."""
        return {**self._facts, "batch_size": self.batch_size}

    def _resolved_facts(self) -> dict[str, Any]:
        model = self.model
        devices = sorted({str(p.device) for p in model.parameters()})  # "cpu", "cuda:0", or several GPUs
        if self.local:
            revision = _local_revision(Path(self.ref))
        else:
            revision = getattr(self.config, "_commit_hash", None) or self.revision
        facts: dict[str, Any] = {
            "backend": "hf",
            "model": self.ref,
            "revision": revision,
            "model_type": self.model_type,
            "model_class": type(model).__name__,
            "processor": type(self.processor).__name__,
            "dtype": str(self.dtype).removeprefix("torch."),
            "attn_implementation": getattr(model.config, "_attn_implementation", None),
            "device": devices[0] if len(devices) == 1 else devices,
            "context": self.context,
            **self.modes,
            "torch": torch.__version__,
            "transformers": transformers.__version__,
        }
        if any(d.startswith("cuda") for d in devices):
            facts["cuda_device"] = torch.cuda.get_device_name(self.device)
        return facts

    def _free(self) -> None:
        gc.collect()
        if torch.cuda.is_available():
            torch.cuda.empty_cache()

    def close(self) -> None:
        self.model = None
        self.processor = None
        self.tokenizer = None
        self._free()


def _weights_bytes(folder: Path) -> int:
    """The size of a local model folder's weights (the index's total_size, else the files' sizes)."""
    index = folder / "model.safetensors.index.json"
    if index.is_file():
        try:
            return int(json.loads(index.read_text(encoding="utf-8"))["metadata"]["total_size"])
        except (OSError, ValueError, KeyError, TypeError):
            pass
    return sum(p.stat().st_size for p in folder.glob("*.safetensors"))


def _batch_seed(seed: int, batch: list[Request]) -> int:
    """A seed for one batch: the same for the same run seed and studies, different between batches."""
    key = f"{seed}\0" + "\0".join(r.id for r in batch)
    return int.from_bytes(hashlib.sha256(key.encode()).digest()[:8], "big") & ((1 << 63) - 1)
