"""The vllm backend's mapping, checked with real HF processors of tiny random models (no GPU, no vLLM).

vLLM needs a CUDA GPU, so it is not installed here. What is tested for real: the prompt each family's own
processor renders (one image placeholder per image, in the parts' order; one BOS), the images handed to
vLLM (PIL, in order, right sizes), the prompt length the engine will see (image tokens included), the
SamplingParams and LLM keyword arguments. The generate loop is driven end to end against a stand-in
`vllm` module (see FakeLLM); the real engine runs in benchmarks/generate.py wherever a GPU is lent.
"""

from __future__ import annotations

import json
import os
import sys
import types
from pathlib import Path
from types import SimpleNamespace

import pytest
from PIL import Image

from pet2rep.backends.base import (
    BackendError,
    GenerationConfig,
    Request,
    load_backend,
    load_card,
    resolve_generation,
)
from pet2rep.backends.chat import arrange, conversation, template_takes_system
from pet2rep.backends.vllm import (
    VLLMBackend,
    build_prompt,
    engine_kwargs,
    prompt_tokens,
    sampling_kwargs,
    strip_bos,
    to_generation,
)
from pet2rep.prompts.messages import ImagePart, Message, TextPart

sys.path.insert(0, str(Path(__file__).parent))
from vlm_factory import build_tiny_vlm  # noqa: E402

os.environ.setdefault("HF_HUB_OFFLINE", "1")
transformers = pytest.importorskip("transformers")

FAMILIES = ("qwen2_5_vl", "gemma3", "internvl", "mllama", "llava")
SIZES = [(200, 219), (64, 80), (120, 90)]  # three different images, in prompt order
COLOURS = [(250, 10, 10), (10, 250, 10), (10, 10, 250)]
SYSTEM = "SYSTEMTEXT physician"


@pytest.fixture(scope="module")
def models(tmp_path_factory) -> dict[str, Path]:
    root = tmp_path_factory.mktemp("tiny_vlms")
    return {fam: build_tiny_vlm(fam, root / fam) for fam in FAMILIES}


@pytest.fixture(scope="module")
def image_files(tmp_path_factory) -> list[Path]:
    root = tmp_path_factory.mktemp("images")
    paths = []
    for i, (size, colour) in enumerate(zip(SIZES, COLOURS)):
        path = root / f"slice_{i}.png"
        Image.new("RGB", size, colour).save(path)
        paths.append(path)
    return paths


def _request(images: list[Path], rid: str = "s1", text: str = "", config: GenerationConfig | None = None,
             system: str = SYSTEM) -> Request:
    """system + user: alpha <img0> <img1> bravo <img2> charlie (the PET2Rep shape, three images)."""
    parts = [TextPart(f"alpha{text} "), ImagePart(images[0].name, images[0]), ImagePart(images[1].name, images[1]),
             TextPart(" bravo "), ImagePart(images[2].name, images[2]), TextPart(" charlie")]
    messages = (Message("system", (TextPart(system),)), Message("user", tuple(parts)))
    return Request(rid, messages, config or GenerationConfig(max_new_tokens=16))


def _processor(folder: Path, **kwargs):
    return transformers.AutoProcessor.from_pretrained(folder, **kwargs)


def _modes(family: str, **over) -> dict:
    modes = {"system": "native", "images": "first" if family == "mllama" else "interleaved"}
    modes.update(over)
    return modes


# ------------------------------------------------------------------------------------------------------
# build_prompt: the multimodal input


@pytest.mark.parametrize("family", FAMILIES)
def test_prompt_has_one_placeholder_per_image_in_order(family, models, image_files):
    proc = _processor(models[family])
    inputs = build_prompt(proc, _request(image_files), _modes(family))
    prompt = inputs["prompt"]
    token = proc.image_token
    assert prompt.count(token) == 3
    first, last = prompt.index(token), prompt.rindex(token)
    a, b, c = prompt.index("alpha"), prompt.index("bravo"), prompt.index("charlie")
    if family in ("qwen2_5_vl", "gemma3", "internvl"):  # interleaved: alpha <img> <img> bravo <img> charlie
        second_gap = prompt.index(token, prompt.index(token, first + 1) + 1)
        assert a < first < b < second_gap == last < c
    else:  # mllama (backend default) and LLaVA (its template) put every image before the text
        assert last < a < b < c
    assert SYSTEM in prompt
    images = inputs["multi_modal_data"]["image"]
    assert [im.size for im in images] == SIZES
    assert [im.getpixel((0, 0)) for im in images] == COLOURS
    assert all(im.mode == "RGB" for im in images)


@pytest.mark.parametrize("family", ["gemma3", "mllama", "llava"])
def test_prompt_tokenizes_to_exactly_one_bos(family, models, image_files):
    """Templates that write BOS themselves must not get a second one when vLLM tokenizes the text."""
    proc = _processor(models[family])
    tok = proc.tokenizer
    raw = proc.apply_chat_template([{"role": "user", "content": [{"type": "text", "text": "hi"}]}],
                                   add_generation_prompt=True, tokenize=False)
    inputs = build_prompt(proc, _request(image_files), _modes(family))
    ids = tok(inputs["prompt"])["input_ids"]  # add_special_tokens=True, as vLLM tokenizes a text prompt
    assert ids.count(tok.bos_token_id) == 1 and ids[0] == tok.bos_token_id
    if raw.startswith(tok.bos_token):
        assert not inputs["prompt"].startswith(tok.bos_token)
    assert strip_bos("no bos here", tok) == "no bos here"


def test_strip_bos_keeps_bos_when_the_tokenizer_adds_none(models):
    tok = _processor(models["qwen2_5_vl"]).tokenizer  # Qwen adds no BOS: nothing to strip
    assert strip_bos("<|im_start|>user", tok) == "<|im_start|>user"


@pytest.mark.parametrize("family", FAMILIES)
def test_prompt_tokens_match_the_chat_template_path(family, models, image_files):
    """The length checked before submitting equals what transformers' own multimodal chat path encodes."""
    proc = _processor(models[family])
    req = _request(image_files)
    inputs = build_prompt(proc, req, _modes(family))
    n = prompt_tokens(proc, inputs)
    conv = []
    it = iter(inputs["multi_modal_data"]["image"])
    for m in conversation(arrange(req.messages, _modes(family))):
        conv.append({"role": m["role"], "content": [dict(p, image=next(it)) if p["type"] == "image" else p
                                                     for p in m["content"]]})
    enc = proc.apply_chat_template(conv, add_generation_prompt=True, tokenize=True, return_dict=True)
    ids = enc["input_ids"]
    assert n == len(ids[0] if isinstance(ids[0], list) else ids)
    assert n > len(proc.tokenizer(inputs["prompt"])["input_ids"]) - 3 or family == "mllama"


def test_prompt_tokens_include_image_tokens(models, tmp_path):
    """Qwen expands each image to its patch count: a larger image makes a longer prompt."""
    proc = _processor(models["qwen2_5_vl"])
    small, large = tmp_path / "small.png", tmp_path / "large.png"
    Image.new("RGB", (56, 56), "white").save(small)
    Image.new("RGB", (224, 224), "white").save(large)
    n_small = prompt_tokens(proc, build_prompt(proc, _request([small] * 3), _modes("qwen2_5_vl")))
    n_large = prompt_tokens(proc, build_prompt(proc, _request([large] * 3), _modes("qwen2_5_vl")))
    assert n_large > n_small


def test_processor_pixel_limits_reach_the_prompt_length(models, image_files):
    """The card's processor kwargs (min/max pixels) change what the processor, and so vLLM, sees."""
    folder = models["qwen2_5_vl"]
    default = _processor(folder)
    capped = _processor(folder, size={"shortest_edge": 784, "longest_edge": 28 * 28 * 4})
    req = _request(image_files)
    assert prompt_tokens(capped, build_prompt(capped, req, _modes("qwen2_5_vl"))) < \
        prompt_tokens(default, build_prompt(default, req, _modes("qwen2_5_vl")))


def test_packaged_qwen_card_keeps_a_pet2rep_slice_at_56_tokens(models, image_files):
    """qwen2.5-vl-7b's processor limits: a 200x219 slice becomes 196x224 px = 56 tokens, not upscaled."""
    card = load_card("qwen2.5-vl-7b")
    proc = _processor(models["qwen2_5_vl"], **card["processor"])
    inputs = build_prompt(proc, _request([image_files[0]] * 3), _modes("qwen2_5_vl"))
    ids = proc(text=[inputs["prompt"]], images=[inputs["multi_modal_data"]["image"]])["input_ids"][0]
    pad = proc.tokenizer.convert_tokens_to_ids(proc.image_token)
    assert list(ids).count(pad) == 3 * 56
    assert engine_kwargs(card, max_images=3)["mm_processor_kwargs"] == card["processor"]


@pytest.mark.parametrize("family", ["qwen2_5_vl", "gemma3"])
def test_fold_puts_the_system_text_in_the_first_user_turn(family, models, image_files):
    proc = _processor(models[family])
    assert template_takes_system(proc)
    prompt = build_prompt(proc, _request(image_files), _modes(family, system="fold"))["prompt"]
    user_turn = prompt.index("user")
    assert user_turn < prompt.index(SYSTEM) < prompt.index("alpha")


def test_missing_image_is_a_value_error_naming_it(models, image_files, tmp_path):
    proc = _processor(models["qwen2_5_vl"])
    gone = tmp_path / "gone.png"
    req = _request([image_files[0], image_files[1], gone])
    Image.new("RGB", (8, 8)).save(gone)
    gone.write_bytes(b"not a png")
    with pytest.raises(ValueError, match="gone.png"):
        build_prompt(proc, req, _modes("qwen2_5_vl"))


# ------------------------------------------------------------------------------------------------------
# sampling_kwargs / engine_kwargs / to_generation


def test_sampling_kwargs_greedy_default():
    assert sampling_kwargs(GenerationConfig()) == {
        "n": 1, "max_tokens": 1024, "temperature": 0.0, "top_p": 1.0, "repetition_penalty": 1.0}


def test_sampling_kwargs_paper_preset():
    cfg = resolve_generation({"name": "m"}, "paper")
    kw = sampling_kwargs(cfg)
    assert kw == {"n": 1, "max_tokens": 1024, "temperature": 0.7, "top_p": 1.0, "top_k": 50,
                  "repetition_penalty": 1.0}


def test_sampling_kwargs_stop_seed_min_tokens():
    cfg = GenerationConfig(max_new_tokens=300, temperature=0.3, top_p=0.9, seed=7, stop=("###", "</s>"),
                           min_new_tokens=20, repetition_penalty=1.05)
    assert sampling_kwargs(cfg) == {"n": 1, "max_tokens": 300, "temperature": 0.3, "top_p": 0.9, "seed": 7,
                                    "stop": ["###", "</s>"], "min_tokens": 20, "repetition_penalty": 1.05}
    # greedy ignores top-k/top-p (vLLM would otherwise get a top_k its release may reject)
    greedy = sampling_kwargs(GenerationConfig(top_k=50, top_p=0.5))
    assert "top_k" not in greedy and greedy["top_p"] == 1.0


def test_engine_kwargs_tensor_parallel_prefix_caching_image_limit():
    card = {"name": "big", "model": "Qwen/Qwen2.5-VL-72B-Instruct", "tensor_parallel": 4,
            "processor": {"max_pixels": 1003520}, "max_model_len": 32768, "dtype": "bfloat16"}
    kw = engine_kwargs(card, max_images=3, gpus_on_node=8)
    assert kw == {
        "model": "Qwen/Qwen2.5-VL-72B-Instruct", "tensor_parallel_size": 4, "enable_prefix_caching": True,
        "limit_mm_per_prompt": {"image": 3}, "dtype": "bfloat16", "seed": 0, "trust_remote_code": False,
        "max_model_len": 32768, "mm_processor_kwargs": {"max_pixels": 1003520}}


def test_engine_kwargs_spans_nodes_with_ray_when_the_node_is_too_small():
    card = {"name": "big", "model": "m", "tensor_parallel": 8, "pipeline_parallel": 2}
    assert engine_kwargs(card, gpus_on_node=8)["distributed_executor_backend"] == "ray"
    assert engine_kwargs(card, gpus_on_node=8)["pipeline_parallel_size"] == 2
    assert "distributed_executor_backend" not in engine_kwargs({**card, "pipeline_parallel": 1}, gpus_on_node=8)
    assert engine_kwargs({**card, "distributed_executor_backend": "mp"}, gpus_on_node=1)[
        "distributed_executor_backend"] == "mp"


def test_engine_kwargs_defaults_seed_and_extras():
    kw = engine_kwargs({"name": "m", "model": "m", "max_images": 6, "engine": {"max_num_seqs": 64}}, seed=11)
    assert kw["limit_mm_per_prompt"] == {"image": 6} and kw["seed"] == 11 and kw["max_num_seqs"] == 64
    assert kw["tensor_parallel_size"] == 1 and kw["dtype"] == "auto"
    for bad in (0, -2, "four", 1.5):
        with pytest.raises(BackendError, match="tensor_parallel"):
            engine_kwargs({"name": "m", "model": "m", "tensor_parallel": bad})
    with pytest.raises(BackendError, match="no 'model'"):
        engine_kwargs({"name": "m"})


def test_packaged_card_and_flag_reach_tensor_parallel():
    card = load_card("vllm:qwen2.5-vl-72b")
    assert card["backend"] == "vllm" and card["name"] == "qwen2.5-vl-72b@vllm"
    assert engine_kwargs(card)["tensor_parallel_size"] == card["tensor_parallel"] == 4
    assert engine_kwargs({**card, "tensor_parallel": 8})["tensor_parallel_size"] == 8  # --tensor-parallel 8


def test_to_generation_maps_vllm_outputs():
    def out(text, reason, n_prompt=5, n_out=3):
        return SimpleNamespace(prompt_token_ids=list(range(n_prompt)),
                               outputs=[SimpleNamespace(text=text, token_ids=list(range(n_out)),
                                                        finish_reason=reason)])

    g = to_generation("a", out("  report \n", "stop"), 1.5)
    assert (g.id, g.text, g.finish_reason, g.prompt_tokens, g.completion_tokens, g.latency_s, g.error) == \
        ("a", "report", "stop", 5, 3, 1.5, None)
    assert to_generation("b", out("cut", "length")).finish_reason == "length"
    aborted = to_generation("c", out("", "abort"))
    assert aborted.finish_reason == "error" and "aborted" in aborted.error
    empty = to_generation("d", SimpleNamespace(prompt_token_ids=[1], outputs=[]))
    assert empty.error and empty.prompt_tokens == 1


# ------------------------------------------------------------------------------------------------------
# VLLMBackend.generate against a stand-in engine


class FakeSamplingParams:
    def __init__(self, **kwargs):
        self.kwargs = kwargs
        for k, v in kwargs.items():
            setattr(self, k, v)


class FakeLLM:
    """A STAND-IN for vllm.LLM, because vLLM needs a GPU: the real engine runs in benchmarks/generate.py.

    It does what the backend relies on: takes the documented keyword arguments, tokenizes each multimodal
    prompt with the model's HF processor as vLLM does (so prompt_token_ids count image tokens), refuses a
    whole call with ValueError when one prompt breaks a rule (too many images, longer than max_model_len,
    or the text POISON), and returns one RequestOutput-shaped object per prompt, in order. The answer names
    the sizes of the images it received, in order, and obeys max_tokens.
    """

    instances: list[FakeLLM] = []

    def __init__(self, **kwargs):
        self.kwargs = kwargs
        self.calls: list[int] = []
        self.shut_down = False
        self.processor = transformers.AutoProcessor.from_pretrained(
            kwargs["model"], **(kwargs.get("mm_processor_kwargs") or {}))
        self.llm_engine = SimpleNamespace(
            model_config=SimpleNamespace(max_model_len=kwargs.get("max_model_len", 4096)))
        FakeLLM.instances.append(self)

    def generate(self, prompts, params, use_tqdm=True):
        assert use_tqdm is False and len(prompts) == len(params)
        self.calls.append(len(prompts))
        limit = self.kwargs["limit_mm_per_prompt"]["image"]
        outs = []
        for i, (p, sp) in enumerate(zip(prompts, params)):
            images = p.get("multi_modal_data", {}).get("image", [])
            if len(images) > limit or "POISON" in p["prompt"]:
                raise ValueError(f"prompt {i}: refused")
            ids = self.processor(text=[p["prompt"]], images=[images] if images else None)["input_ids"][0]
            if len(ids) > self.llm_engine.model_config.max_model_len:
                raise ValueError(f"The decoder prompt (length {len(ids)}) is longer than the maximum model length")
            n = min(sp.max_tokens, 6)
            text = "report " + ",".join(f"{im.size[0]}x{im.size[1]}" for im in images)
            outs.append(SimpleNamespace(
                request_id=str(i), prompt_token_ids=ids,
                outputs=[SimpleNamespace(text=text, token_ids=list(range(n)),
                                         finish_reason="length" if n == sp.max_tokens else "stop")]))
        return outs

    def shutdown(self):
        self.shut_down = True


@pytest.fixture
def fake_vllm(monkeypatch):
    module = types.ModuleType("vllm")
    module.__version__ = "0.0.0+standin"
    module.LLM = FakeLLM
    module.SamplingParams = FakeSamplingParams
    monkeypatch.setitem(sys.modules, "vllm", module)
    FakeLLM.instances.clear()
    return module


def test_generate_end_to_end_with_a_stand_in_engine(fake_vllm, models, image_files, tmp_path):
    """VLLMBackend.generate against FakeLLM, a stand-in: vLLM needs a GPU, so the real engine is exercised by
    benchmarks/generate.py on a GPU machine. Here: one engine, chunks of batch_size, every study answered
    once, a too-long prompt and a prompt vLLM refuses fail alone, token counts and finish reasons mapped."""
    folder = models["qwen2_5_vl"]
    card = {"name": "tiny@vllm", "backend": "vllm", "model": str(folder), "batch_size": 2,
            "max_model_len": 400, "tensor_parallel": 2}
    short = GenerationConfig(max_new_tokens=16)
    reqs = [_request(image_files, f"ok{i}", config=short) for i in range(4)]
    reqs.append(_request(image_files, "long", text=" long" * 400, config=short))  # over max_model_len
    reqs.append(_request(image_files, "poison", text=" POISON", config=short))  # vLLM refuses it
    reqs.append(_request([image_files[0], image_files[1], tmp_path / "nope.png"], "noimg", config=short))
    reqs.append(_request(image_files, "cut", config=GenerationConfig(max_new_tokens=4)))
    with VLLMBackend(card) as backend:
        facts = backend.describe()
        gens = {g.id: g for g in backend.generate(reqs)}
        llm = FakeLLM.instances[-1]
    assert sorted(gens) == sorted(r.id for r in reqs)  # every request answered once
    assert len(FakeLLM.instances) == 1 and llm.shut_down and backend.llm is None
    kw = llm.kwargs
    assert kw["tensor_parallel_size"] == 2 and kw["enable_prefix_caching"] is True
    assert kw["limit_mm_per_prompt"] == {"image": 3} and kw["max_model_len"] == 400
    assert kw["model"] == str(folder.resolve())
    for i in range(4):
        g = gens[f"ok{i}"]
        assert g.error is None and g.text == "report 200x219,64x80,120x90" and g.finish_reason == "stop"
        assert g.prompt_tokens == prompt_tokens(backend_proc(folder), build_prompt(
            backend_proc(folder), reqs[i], _modes("qwen2_5_vl")))
        assert g.completion_tokens == 6
    assert "max_model_len" in gens["long"].error and "tokens" in gens["long"].error
    assert gens["poison"].error.startswith("vLLM refused this request")
    assert "nope.png" in gens["noimg"].error
    assert gens["cut"].finish_reason == "length" and gens["cut"].completion_tokens == 4
    # chunks of at most batch_size; the chunk with POISON went again one request at a time
    assert max(llm.calls) <= 2 and llm.calls.count(1) >= 2
    assert facts["vllm"] == "0.0.0+standin" and facts["tensor_parallel"] == 2 and facts["max_model_len"] == 400
    assert facts["backend"] == "vllm" and facts["prefix_caching"] is True


_PROCS: dict[Path, object] = {}


def backend_proc(folder: Path):
    if folder not in _PROCS:
        _PROCS[folder] = _processor(folder)
    return _PROCS[folder]


def test_engine_limit_and_card_max_images(fake_vllm, models, image_files):
    card = {"name": "one@vllm", "backend": "vllm", "model": str(models["gemma3"]), "max_images": 2}
    with VLLMBackend(card) as backend:
        gens = list(backend.generate([_request(image_files, "three")]))
    assert gens[0].error == "3 images > the model's limit of 2"
    assert FakeLLM.instances == []  # nothing to run: the engine never started


def test_run_model_through_the_runner_with_the_flag(fake_vllm, models, image_files, tmp_path):
    from pet2rep.runs import run_model

    data = tmp_path / "ds"
    data.mkdir()
    for p in image_files:
        (data / p.name).write_bytes(p.read_bytes())
    with open(data / "prompts.jsonl", "w", encoding="utf-8") as fh:
        for i in range(3):
            fh.write(json.dumps({
                "patient_id": f"p{i}", "task": "PET2Rep", "prompt_system": "你是一位核医学科医师。",
                "prompt_image_fuse": [p.name for p in image_files],
                "prompt_user_text": "请根据图像<image> <image> <image>生成报告。", "answer": "正常"},
                ensure_ascii=False) + "\n")
    out = tmp_path / "run"
    run_model(data, f"vllm:{models['internvl']}", out, progress=False, tensor_parallel=2,
              generation={"max_new_tokens": 8})
    rows = [json.loads(line) for line in (out / "predictions.jsonl").read_text().splitlines()]
    assert sorted(r["subject_id"] for r in rows) == ["p0", "p1", "p2"]
    assert all(r["error"] is None and r["llm_output"] == ["report 200x219,64x80,120x90"] for r in rows)
    info = json.loads((out / "run.json").read_text())
    assert info["backend"]["vllm"] == "0.0.0+standin" and info["backend"]["tensor_parallel"] == 2
    assert FakeLLM.instances[-1].kwargs["tensor_parallel_size"] == 2


def test_missing_vllm_is_one_line(monkeypatch, models):
    monkeypatch.setitem(sys.modules, "vllm", None)  # import vllm -> ImportError
    with pytest.raises(BackendError) as err:
        load_backend(f"vllm:{models['qwen2_5_vl']}")
    assert "pip install 'pet2rep[vllm]'" in str(err.value) and "\n" not in str(err.value)


def test_unloadable_card_is_refused_before_loading(monkeypatch):
    monkeypatch.setitem(sys.modules, "vllm", None)
    with pytest.raises(BackendError, match="cannot be loaded as published"):
        load_backend("vllm:llava-med")


def test_close_is_safe_after_a_failed_start(fake_vllm, models, image_files, monkeypatch):
    def broken(**kwargs):
        raise RuntimeError("CUDA out of memory while profiling the KV cache")

    monkeypatch.setattr(fake_vllm, "LLM", broken)
    backend = VLLMBackend({"name": "t@vllm", "backend": "vllm", "model": str(models["qwen2_5_vl"])})
    with pytest.raises(BackendError, match="engine did not start.*max_model_len"):
        list(backend.generate([_request(image_files)]))
    backend.close()
    backend.close()
