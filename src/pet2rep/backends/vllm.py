"""The `vllm` backend: vLLM's offline engine (``vllm.LLM``) on one GPU or many — the throughput path.

How a Request reaches vLLM (decisions, and why):

- **Prompt: the model's own chat template, applied by its HF processor, then ``LLM.generate``** with vLLM's
  documented multimodal input ``{"prompt": TEXT, "multi_modal_data": {"image": [PIL images in order]}}``.
  Not ``LLM.chat``: rendering the template here gives the very prompt the ``hf`` backend builds (same
  system folding, same image placement), lets the prompt be measured with the processor *before* it is
  submitted (a study longer than ``max_model_len`` fails alone instead of raising out of a whole batch),
  and does not depend on how each vLLM release parses chat content. One image placeholder per image part,
  in the parts' order; ``multi_modal_data["image"]`` lists the images in that same order.
- **One BOS.** A chat template that writes the BOS token itself (Gemma 3, MedGemma, Llama) would get a
  second one when vLLM tokenizes the text prompt with special tokens; the leading BOS text is removed when
  the tokenizer adds one (``strip_bos``).
- **Sampling** (``sampling_kwargs``): ``max_tokens``, ``temperature`` (0 = greedy), ``top_p``, ``top_k`` only
  when set (vLLM releases disagree on whether 0 or -1 means "off"; leaving it out means off in every one),
  per-request ``seed`` (a sampled answer then does not depend on which requests share a batch), ``stop``,
  ``min_tokens``, ``repetition_penalty`` always explicit (the model's generation_config does not leak in).
- **Engine** (``engine_kwargs``): ``tensor_parallel_size`` from the card's ``tensor_parallel`` (the
  ``--tensor-parallel`` flag lands there), ``pipeline_parallel_size`` from ``pipeline_parallel``,
  ``enable_prefix_caching`` on (every study shares the system prompt and the report template),
  ``limit_mm_per_prompt={"image": N}`` with N the most images any request of the run has (so vLLM profiles
  memory for what the run needs, not for its default), the card's ``processor`` kwargs as
  ``mm_processor_kwargs`` (Qwen's pixel limits), ``max_model_len``, ``dtype``, ``seed``,
  ``trust_remote_code``, ``gpu_memory_utilization``, and ``distributed_executor_backend="ray"`` when the
  engine needs more GPUs than this node has (or whatever the card's ``distributed_executor_backend`` says).
  The card's ``engine`` dict adds any other ``LLM`` keyword (``max_num_seqs``, ``enforce_eager``, ...).
- **Started on the first ``generate``**, not in ``__init__``: the image limit comes from the requests. The
  processor (and so a model id that cannot load) is checked in ``__init__``.
- **Chunks.** vLLM batches internally (continuous batching); requests go to ``llm.generate`` in chunks of
  the card's ``batch_size`` (``--batch-size``, default 256) so that answers are written — and survive a
  crash — chunk by chunk, and images are decoded one chunk at a time (memory does not grow with the
  dataset). Before a chunk goes, each prompt is measured with the processor (image tokens included): one
  whose prompt + max_new_tokens exceeds ``max_model_len`` fails alone, as in the hf backend. A chunk that vLLM rejects (``ValueError``: a request it will not take) is sent again one request
  at a time, so only the bad request fails.

vLLM needs a CUDA GPU (``pip install 'pet2rep[vllm]'``); tests/test_vllm_backend.py checks the mapping with
real HF processors and a stand-in engine; benchmarks/generate.py runs the real engine where a GPU is lent.
Scripts that use this backend need an ``if __name__ == "__main__":`` guard (vLLM spawns its workers).
"""

from __future__ import annotations

import gc
import os
import sys
import time
from collections.abc import Iterator, Sequence
from typing import Any

from ..prompts.messages import image_parts
from .base import Backend, BackendError, Generation, GenerationConfig, Request, card_number, error_text
from .chat import arrange, card_model, chat_modes, conversation, load_image, model_folder

DEFAULT_CHUNK = 256
INSTALL_HINT = "pip install 'pet2rep[vllm]'"
# card defaults per config.model_type (the same as the hf backend's)
# vLLM finish reasons -> Generation.finish_reason
_FINISH = {"stop": "stop", "length": "length", "abort": "error"}


# --------------------------------------------------------------------------------------------------
# the pure mapping: Request -> vLLM inputs, GenerationConfig -> SamplingParams, card -> LLM kwargs


def strip_bos(prompt: str, tokenizer: Any) -> str:
    """The prompt without a leading BOS the template wrote, when tokenizing adds one anyway."""
    bos = getattr(tokenizer, "bos_token", None)
    bos_id = getattr(tokenizer, "bos_token_id", None)
    if not bos or bos_id is None or not prompt.startswith(bos):
        return prompt
    ids = tokenizer("x")["input_ids"]
    return prompt[len(bos):] if ids and ids[0] == bos_id else prompt


def build_prompt(processor: Any, request: Request, card: dict[str, Any]) -> dict[str, Any]:
    """vLLM's multimodal input for one request: the chat-templated prompt and its images in order.

    `card` holds the resolved ``system`` (native|fold) and ``images`` (interleaved|first) modes. ValueError
    (naming the file) for an image that is missing or cannot be decoded.
    """
    messages = arrange(request.messages, card)
    prompt = processor.apply_chat_template(conversation(messages), add_generation_prompt=True, tokenize=False)
    prompt = strip_bos(str(prompt), getattr(processor, "tokenizer", processor))
    images = [load_image(p) for p in image_parts(messages)]
    out: dict[str, Any] = {"prompt": prompt}
    if images:
        out["multi_modal_data"] = {"image": images}
    return out


def prompt_tokens(processor: Any, inputs: dict[str, Any]) -> int:
    """Tokens the engine will see for `inputs`, image tokens included (the processor expands them)."""
    images = (inputs.get("multi_modal_data") or {}).get("image")
    kwargs: dict[str, Any] = {"text": [inputs["prompt"]], "return_tensors": None}
    if images:
        kwargs["images"] = [images]
    ids = list(processor(**kwargs)["input_ids"][0])
    bos = getattr(getattr(processor, "tokenizer", None), "bos_token_id", None)
    if bos is not None and ids[:2] == [bos, bos]:  # Mllama's processor inserts a BOS the tokenizer adds too
        return len(ids) - 1
    return len(ids)


def sampling_kwargs(config: GenerationConfig) -> dict[str, Any]:
    """``vllm.SamplingParams`` keyword arguments for a GenerationConfig."""
    kw: dict[str, Any] = {
        "n": 1,
        "max_tokens": config.max_new_tokens,
        "temperature": 0.0 if config.greedy else config.temperature,
        "top_p": 1.0 if config.greedy else config.top_p,
        "repetition_penalty": config.repetition_penalty,
    }
    if config.top_k > 0 and not config.greedy:
        kw["top_k"] = config.top_k
    if config.seed is not None:
        kw["seed"] = config.seed
    if config.stop:
        kw["stop"] = list(config.stop)
    if config.min_new_tokens > 0:
        kw["min_tokens"] = config.min_new_tokens
    return kw


def _positive_int(card: dict[str, Any], key: str, default: int | None) -> int | None:
    value = card_number(card, key, int, 1)
    return default if value is None else value


def engine_kwargs(card: dict[str, Any], *, max_images: int | None = None, seed: int | None = None,
                  gpus_on_node: int | None = None) -> dict[str, Any]:
    """``vllm.LLM`` keyword arguments for a card.

    `max_images`: the most images one request of the run has (default: the card's ``max_images``, else 1);
    `seed`: the engine seed (default 0); `gpus_on_node`: GPUs this machine has — when the engine needs
    more, vLLM's Ray executor spans nodes.
    """
    model = card_model(card, card.get("name"))
    tp = _positive_int(card, "tensor_parallel", 1)
    pp = _positive_int(card, "pipeline_parallel", 1)
    limit = max_images if max_images is not None else _positive_int(card, "max_images", 1)
    kw: dict[str, Any] = {
        "model": model,
        "tensor_parallel_size": tp,
        "enable_prefix_caching": bool(card.get("prefix_caching", True)),
        "limit_mm_per_prompt": {"image": max(1, int(limit or 1))},
        "dtype": str(card.get("dtype") or "auto"),
        "seed": 0 if seed is None else int(seed),
        "trust_remote_code": bool(card.get("trust_remote_code", False)),
    }
    if pp and pp > 1:
        kw["pipeline_parallel_size"] = pp
    for key, name in (("revision", "revision"), ("max_model_len", "max_model_len"),
                      ("gpu_memory_utilization", "gpu_memory_utilization")):
        if card.get(key) is not None:
            kw[name] = card[key]
    if card.get("processor"):
        kw["mm_processor_kwargs"] = dict(card["processor"])
    backend = card.get("distributed_executor_backend")
    if backend:
        kw["distributed_executor_backend"] = str(backend)
    elif gpus_on_node is not None and tp * (pp or 1) > gpus_on_node:
        kw["distributed_executor_backend"] = "ray"
    extra = card.get("engine") or {}
    if not isinstance(extra, dict):
        raise BackendError(f"model card '{card.get('name')}': 'engine' must be a mapping of vllm.LLM arguments")
    kw.update(extra)
    return kw


def to_generation(request_id: str, output: Any, latency_s: float | None = None) -> Generation:
    """A vLLM ``RequestOutput`` as a Generation: text, finish reason and token counts."""
    completions = getattr(output, "outputs", None) or []
    n_prompt = len(getattr(output, "prompt_token_ids", None) or [])
    if not completions:
        return Generation.failed(request_id, "vLLM returned no completion for this request",
                                 prompt_tokens=n_prompt, latency_s=latency_s)
    first = completions[0]
    reason = _FINISH.get(str(getattr(first, "finish_reason", None) or "stop"), "stop")
    n_out = len(getattr(first, "token_ids", None) or [])
    if reason == "error":
        return Generation.failed(request_id, "vLLM aborted this request", prompt_tokens=n_prompt,
                                 completion_tokens=n_out, latency_s=latency_s)
    return Generation(request_id, str(first.text or "").strip(), reason, prompt_tokens=n_prompt,
                      completion_tokens=n_out, latency_s=latency_s)


# --------------------------------------------------------------------------------------------------
# environment


def import_vllm() -> Any:
    """The vllm module, or a one-line BackendError saying how to get it."""
    try:
        import vllm
    except ImportError as exc:
        raise BackendError(f"the vllm backend needs vLLM ({exc.name or 'vllm'} is not installed; it needs a "
                           f"CUDA GPU): {INSTALL_HINT}") from None
    return vllm


def gpu_names() -> list[str]:
    """Names of the GPUs visible to this process, without initialising CUDA (vLLM forks its workers)."""
    names: list[str] = []
    try:
        import pynvml  # ships with vLLM (nvidia-ml-py)

        pynvml.nvmlInit()
        try:
            for i in range(pynvml.nvmlDeviceGetCount()):
                name = pynvml.nvmlDeviceGetName(pynvml.nvmlDeviceGetHandleByIndex(i))
                names.append(name.decode() if isinstance(name, bytes) else str(name))
        finally:
            pynvml.nvmlShutdown()
    except Exception:  # noqa: BLE001 - no NVML, no driver: no GPU names
        return []
    visible = os.environ.get("CUDA_VISIBLE_DEVICES")
    if visible is not None:
        idx = [int(v) for v in visible.split(",") if v.strip().isdigit()]
        names = [names[i] for i in idx if i < len(names)]
    return names


def _version(module: str) -> str | None:
    from importlib import metadata

    try:
        return metadata.version(module)
    except metadata.PackageNotFoundError:
        return None


def _engine_error(ref: str, exc: BaseException) -> BackendError:
    """One line naming the model and a hint for an engine that did not start."""
    low = str(exc).lower()
    if "out of memory" in low or "kv cache" in low or "max_model_len" in low:
        hint = "lower max_model_len or gpu_memory_utilization in the card, or raise --tensor-parallel"
    elif "not supported" in low or "architecture" in low:
        hint = f"vLLM does not run this architecture; use hf:{ref}"
    elif "cuda" in low or "nvidia" in low or "device" in low:
        hint = "vLLM needs a CUDA GPU (or the GPU is busy)"
    else:
        hint = "see vLLM's log above"
    return BackendError(f"vllm:{ref}: the engine did not start ({hint}): {error_text(exc)}")


def _max_model_len(llm: Any) -> int | None:
    for path in (("llm_engine", "model_config"), ("llm_engine", "vllm_config", "model_config"), ("model_config",)):
        obj = llm
        for attr in path:
            obj = getattr(obj, attr, None)
        value = getattr(obj, "max_model_len", None)
        if isinstance(value, int):
            return value
    return None


# --------------------------------------------------------------------------------------------------
# the backend


class VLLMBackend(Backend):
    """vLLM's offline engine; tensor-parallel over the card's ``tensor_parallel`` GPUs."""

    def __init__(self, card: dict[str, Any]):
        super().__init__(card)
        self.llm: Any = None
        self.processor: Any = None
        target, folder = model_folder(card, self.name)
        self.ref = str(folder.resolve()) if folder is not None else target
        self.chunk_size = _positive_int(card, "batch_size", DEFAULT_CHUNK) or DEFAULT_CHUNK
        self.max_images = _positive_int(card, "max_images", None)
        engine_kwargs(card)  # card errors now, not after the first study
        self.vllm = import_vllm()
        self._load(card)
        self.limit: int | None = None  # the engine's image limit, once started
        self.max_len: int | None = None  # the engine's max_model_len, once started

    def _load(self, card: dict[str, Any]) -> None:
        import transformers

        trust = bool(card.get("trust_remote_code", False))
        revision = card.get("revision")
        try:
            config = transformers.AutoConfig.from_pretrained(self.ref, revision=revision, trust_remote_code=trust)
            self.processor = transformers.AutoProcessor.from_pretrained(
                self.ref, revision=revision, trust_remote_code=trust, **dict(card.get("processor") or {}))
        except Exception as exc:  # noqa: BLE001 - any failure becomes one line naming the model
            raise BackendError(f"vllm:{self.ref}: cannot load its config or processor (offline? not an "
                               f"image-text model?): {error_text(exc)}") from None
        if not hasattr(self.processor, "apply_chat_template") or not hasattr(self.processor, "image_processor"):
            raise BackendError(f"vllm:{self.ref}: AutoProcessor gave a {type(self.processor).__name__}, not an "
                               "image-text processor")
        self.model_type = str(getattr(config, "model_type", "") or "?")
        self.revision = getattr(config, "_commit_hash", None) or revision
        text_config = config.get_text_config() if hasattr(config, "get_text_config") else config
        self.context = (card.get("max_model_len") or card.get("context")
                        or getattr(text_config, "max_position_embeddings", None))
        self.modes = chat_modes(card, self.name, self.model_type, self.processor,
                                warn=lambda msg: print(msg, file=sys.stderr))

    # ------------------------------------------------------------------------------------------- engine

    def _start(self, max_images: int, seed: int | None) -> None:
        """Start the engine for requests of up to `max_images` images."""
        kwargs = engine_kwargs({**self.card, "model": self.ref}, max_images=max_images, seed=seed,
                               gpus_on_node=len(gpu_names()) or None)
        try:
            self.llm = self.vllm.LLM(**kwargs)
        except Exception as exc:  # noqa: BLE001
            self.close()
            raise _engine_error(self.ref, exc) from None
        self.limit = kwargs["limit_mm_per_prompt"]["image"]
        self.max_len = _max_model_len(self.llm) or self.context

    # ------------------------------------------------------------------------------------------- generation

    def generate(self, requests: Sequence[Request]) -> Iterator[Generation]:
        """Start the engine for the run's image count, then build and submit chunk by chunk (images are
        decoded per chunk, so memory does not grow with the dataset); answers as each chunk finishes."""
        todo: list[Request] = []
        for req in requests:
            n_img = len(req.images)
            if self.max_images is not None and n_img > self.max_images:
                yield Generation.failed(req.id, f"{n_img} images > the model's limit of {self.max_images}")
            else:
                todo.append(req)
        if not todo:
            return
        if self.llm is None:
            seeds = {req.config.seed for req in todo}
            self._start(max(1, *(len(req.images) for req in todo)), seeds.pop() if len(seeds) == 1 else None)
        for start in range(0, len(todo), self.chunk_size):
            chunk: list[tuple[Request, dict[str, Any]]] = []
            for req in todo[start:start + self.chunk_size]:
                try:
                    inputs = build_prompt(self.processor, req, self.modes)
                    n_tokens = prompt_tokens(self.processor, inputs)
                except Exception as exc:  # noqa: BLE001 - a bad image or a processor refusal fails this study
                    yield Generation.failed(req.id, str(exc) if isinstance(exc, ValueError) else error_text(exc))
                    continue
                reason = self._refusal(req, n_tokens)
                if reason:
                    yield Generation.failed(req.id, reason, prompt_tokens=n_tokens)
                else:
                    chunk.append((req, inputs))
            if chunk:
                yield from self._run_chunk(chunk)

    def _refusal(self, req: Request, n_tokens: int) -> str | None:
        """Why the engine cannot take this request (too many images, too long), or None."""
        n_img = len(req.images)
        if self.limit is not None and n_img > self.limit:
            return f"{n_img} images > the {self.limit} per prompt this engine was started for"
        if self.max_len is not None and n_tokens + req.config.max_new_tokens > self.max_len:
            return (f"prompt is {n_tokens} tokens + {req.config.max_new_tokens} new tokens > the model's "
                    f"context of {self.max_len} tokens (max_model_len)")
        return None

    def _run_chunk(self, chunk: list[tuple[Request, dict[str, Any]]]) -> Iterator[Generation]:
        """One llm.generate call; when vLLM rejects the chunk, each request alone (only the bad one fails)."""
        t0 = time.perf_counter()
        params = [self.vllm.SamplingParams(**sampling_kwargs(req.config)) for req, _ in chunk]
        try:
            outputs = self.llm.generate([inputs for _, inputs in chunk], params, use_tqdm=False)
        except ValueError as exc:
            if len(chunk) == 1:
                yield Generation.failed(chunk[0][0].id, f"vLLM refused this request: {error_text(exc)}")
                return
            for item in chunk:
                yield from self._run_chunk([item])
            return
        latency = time.perf_counter() - t0
        outputs = list(outputs)
        # vLLM returns one output per prompt in order; an older engine left holding requests of a failed
        # call returns those first (lower request ids), so the chunk's answers are the last len(chunk)
        outputs = outputs[-len(chunk):] if len(outputs) >= len(chunk) else outputs
        for i, (req, _) in enumerate(chunk):
            if i < len(outputs):
                yield to_generation(req.id, outputs[i], latency)
            else:
                yield Generation.failed(req.id, "vLLM returned fewer outputs than requests", latency_s=latency)

    # ------------------------------------------------------------------------------------------------ facts

    def describe(self) -> dict[str, Any]:
        kwargs = engine_kwargs({**self.card, "model": self.ref}, max_images=self.limit)
        return {
            "backend": "vllm",
            "model": self.ref,
            "revision": self.revision,
            "model_type": self.model_type,
            "processor": type(self.processor).__name__,
            "vllm": getattr(self.vllm, "__version__", None) or _version("vllm"),
            "transformers": _version("transformers"),
            "torch": _version("torch"),
            "tensor_parallel": kwargs["tensor_parallel_size"],
            "pipeline_parallel": kwargs.get("pipeline_parallel_size", 1),
            "dtype": kwargs["dtype"],
            "max_model_len": self.max_len or self.context,
            "prefix_caching": kwargs["enable_prefix_caching"],
            "distributed_executor_backend": kwargs.get("distributed_executor_backend"),
            "chunk_size": self.chunk_size,
            "gpus": gpu_names(),
            **self.modes,
        }

    def close(self) -> None:
        """Shut the engine down (vLLM's own shutdown where the release has one) and free GPU memory."""
        llm, self.llm = self.llm, None
        if llm is not None:
            shutdown = getattr(llm, "shutdown", None)
            core = getattr(getattr(llm, "llm_engine", None), "engine_core", None)
            try:
                if callable(shutdown):
                    shutdown()
                elif core is not None and callable(getattr(core, "shutdown", None)):
                    core.shutdown()
            except Exception:  # noqa: BLE001 - closing must not raise
                pass
            del llm, core, shutdown
            try:
                from vllm.distributed.parallel_state import (
                    destroy_distributed_environment,
                    destroy_model_parallel,
                )

                destroy_model_parallel()
                destroy_distributed_environment()
            except Exception:  # noqa: BLE001 - a release without these, or nothing to destroy
                pass
        gc.collect()
        try:
            import torch

            if torch.cuda.is_available():
                torch.cuda.empty_cache()
        except Exception:  # noqa: BLE001
            pass
