"""The tiny random VLM factory (tests/vlm_factory.py): every family loads, sees its images, batches exactly."""

from __future__ import annotations

import hashlib
import importlib.util
import os
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

os.environ.setdefault("HF_HUB_OFFLINE", "1")
torch = pytest.importorskip("torch")
pytest.importorskip("torchvision")
pytest.importorskip("tokenizers")
transformers = pytest.importorskip("transformers")
Image = pytest.importorskip("PIL.Image")

import vlm_factory as vf  # noqa: E402

SYSTEM_TEXT = "你是医师"


def _families() -> list[Any]:
    """FAMILIES as pytest params; SmolVLM's processor needs the num2words package."""
    out: list[Any] = []
    for fam in vf.FAMILIES:
        marks = []
        if fam == "smolvlm" and importlib.util.find_spec("num2words") is None:
            marks.append(pytest.mark.skip(reason="SmolVLMProcessor needs num2words"))
        out.append(pytest.param(fam, marks=marks))
    return out


FAMILY_PARAMS = _families()


def slice_image(seed: int) -> Any:
    """A random 200x219 RGB image (the benchmark's fused slice size)."""
    gen = torch.Generator().manual_seed(seed)
    pixels = torch.randint(0, 256, (219, 200, 3), generator=gen, dtype=torch.uint8).numpy()
    return Image.fromarray(pixels, "RGB")


def conversation(image: Any, text: str = "写报告") -> list[dict[str, Any]]:
    """System text + a user turn of text, three images, text (list-of-parts form)."""
    return [
        {"role": "system", "content": [{"type": "text", "text": SYSTEM_TEXT}]},
        {
            "role": "user",
            "content": [
                {"type": "text", "text": "请看图"},
                *({"type": "image", "image": image} for _ in range(3)),
                {"type": "text", "text": text},
            ],
        },
    ]


def encode(processor: Any, conv: Any, **kwargs: Any) -> Any:
    """Chat template -> model inputs (tensors)."""
    return processor.apply_chat_template(
        conv, add_generation_prompt=True, tokenize=True, return_dict=True, return_tensors="pt", **kwargs
    )


@pytest.fixture(scope="session")
def loaded(tiny_vlm: Callable[[str], Path]) -> Callable[[str], tuple[Any, Any]]:
    """family -> (processor, model in eval mode), loaded once per session with the Auto classes."""
    cache: dict[str, tuple[Any, Any]] = {}

    def get(family: str) -> tuple[Any, Any]:
        if family not in cache:
            path = tiny_vlm(family)
            processor = transformers.AutoProcessor.from_pretrained(path)
            model = transformers.AutoModelForImageTextToText.from_pretrained(path, dtype=torch.float32)
            cache[family] = (processor, model.eval())
        return cache[family]

    return get


@pytest.mark.parametrize("family", FAMILY_PARAMS)
def test_loads_and_generates(loaded, family: str) -> None:
    processor, model = loaded(family)
    processor.tokenizer.padding_side = "left"
    inputs = encode(processor, conversation(slice_image(0)))
    assert ("token_type_ids" in inputs) == vf.NEEDS_TOKEN_TYPE_IDS[family]
    out = model.generate(**inputs, max_new_tokens=8, do_sample=False)
    new = out[0, inputs["input_ids"].shape[1] :].tolist()
    assert len(new) == 8  # special-token output rows are zeroed: never EOS, never an image token
    eos = model.generation_config.eos_token_id
    assert not set(new) & set(eos if isinstance(eos, list) else [eos])
    text = processor.decode(new, skip_special_tokens=True)
    assert text.strip() and "\ufffd" not in text
    again = model.generate(**inputs, max_new_tokens=8, do_sample=False)
    assert torch.equal(out, again)


@pytest.mark.parametrize("family", FAMILY_PARAMS)
def test_prompt_structure(loaded, family: str) -> None:
    processor, _ = loaded(family)
    text = processor.apply_chat_template(conversation(slice_image(0)), add_generation_prompt=True)
    assert (SYSTEM_TEXT in text) == vf.SYSTEM_MESSAGE_OK[family]
    assert "请看图" in text and "写报告" in text
    plain = [{"role": "system", "content": SYSTEM_TEXT}, {"role": "user", "content": "写报告"}]
    text = processor.apply_chat_template(plain, add_generation_prompt=True)
    assert (SYSTEM_TEXT in text) == vf.STRING_CONTENT_OK[family]


@pytest.mark.parametrize("family", FAMILY_PARAMS)
def test_images_reach_the_model(loaded, family: str) -> None:
    processor, model = loaded(family)
    logits, texts = [], set()
    for seed in range(3):
        inputs = encode(processor, conversation(slice_image(seed)))
        with torch.no_grad():
            logits.append(model(**inputs).logits[0, -1])
        out = model.generate(**inputs, max_new_tokens=8, do_sample=False)
        texts.add(tuple(out[0, inputs["input_ids"].shape[1] :].tolist()))
    assert (logits[0] - logits[1]).abs().max().item() > 1e-3  # Gemma 3 / Mllama: exactly 0 if left zero-init
    assert len(texts) > 1


@pytest.mark.slow
@pytest.mark.parametrize("family", FAMILY_PARAMS)
def test_left_padded_batch_equals_one_at_a_time(loaded, family: str) -> None:
    processor, model = loaded(family)
    processor.tokenizer.padding_side = "left"
    texts = [
        "写报告",
        "请根据图像写一份详细的核医学报告，描述异常摄取。",
        "Write the report, then the impression.",
    ]
    convs = [conversation(slice_image(i), t) for i, t in enumerate(texts)]
    singles, single_logits = [], []
    for conv in convs:
        inputs = encode(processor, conv)
        out = model.generate(**inputs, max_new_tokens=8, do_sample=False)
        singles.append(out[0, inputs["input_ids"].shape[1] :].tolist())
        with torch.no_grad():
            single_logits.append(model(**inputs).logits[0, -1])
    batch = encode(processor, convs, processor_kwargs={"padding": True})
    assert len(set(batch["attention_mask"].sum(dim=1).tolist())) > 1  # really padded
    out = model.generate(**batch, max_new_tokens=8, do_sample=False)
    assert [row[batch["input_ids"].shape[1] :].tolist() for row in out] == singles
    with torch.no_grad():
        batch_logits = model(**batch).logits[:, -1]
    for row, single in zip(batch_logits, single_logits):
        torch.testing.assert_close(row, single, atol=1e-4, rtol=1e-4)


@pytest.mark.parametrize("family", FAMILY_PARAMS)
def test_tokenizer_and_generation_config(tiny_vlm, loaded, family: str) -> None:
    processor, model = loaded(family)
    tok = transformers.AutoTokenizer.from_pretrained(tiny_vlm(family))
    assert tok.chat_template and processor.chat_template
    assert 600 <= len(tok) <= 1000
    assert tok.eos_token_id is not None and tok.pad_token_id is not None
    gen = transformers.GenerationConfig.from_pretrained(tiny_vlm(family))
    assert gen.pad_token_id == tok.pad_token_id
    assert tok.eos_token_id in gen.eos_token_id
    ids = tok("右肺下叶结节 FDG uptake", add_special_tokens=False)["input_ids"]
    assert tok.decode(ids) == "右肺下叶结节 FDG uptake"


@pytest.mark.parametrize("family", FAMILY_PARAMS)
def test_max_position_embeddings_and_seed(tmp_path: Path, tiny_vlm, family: str) -> None:
    path = vf.build_tiny_vlm(family, tmp_path / "short", max_position_embeddings=48)
    config = transformers.AutoConfig.from_pretrained(path)
    assert config.text_config.max_position_embeddings == 48
    processor = transformers.AutoProcessor.from_pretrained(path)
    assert processor.tokenizer.model_max_length == 48
    again = vf.build_tiny_vlm(family, tmp_path / "again")
    digest = [
        hashlib.sha256((p / "model.safetensors").read_bytes()).hexdigest() for p in (again, tiny_vlm(family))
    ]
    assert digest[0] == digest[1]


def test_prompt_can_exceed_the_context(tmp_path: Path) -> None:
    path = vf.build_tiny_vlm("qwen2_5_vl", tmp_path / "q", max_position_embeddings=48)
    processor = transformers.AutoProcessor.from_pretrained(path)
    config = transformers.AutoConfig.from_pretrained(path)
    inputs = encode(processor, conversation(slice_image(0)))
    assert inputs["input_ids"].shape[1] > config.text_config.max_position_embeddings


def test_qwen2_5_vl_7b_shape() -> None:
    config, processor = vf.tiny_vlm_parts("qwen2_5_vl", config_overrides=vf.QWEN2_5_VL_7B_SHAPE)
    with torch.device("meta"):
        model = transformers.AutoModelForImageTextToText.from_config(config, dtype=torch.bfloat16)
    n_params = sum(p.numel() for p in model.parameters())
    assert 8.2e9 < n_params < 8.4e9  # Qwen2.5-VL-7B-Instruct: 8.29e9
    inputs = processor(images=[slice_image(0)], text=["<|vision_start|><|image_pad|><|vision_end|>"])
    assert inputs["image_grid_thw"].tolist() == [[1, 16, 14]]  # 224x196 px -> 56 tokens after 2x2 merge


def test_unknown_family(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="unknown family"):
        vf.build_tiny_vlm("no_such_vlm", tmp_path)
