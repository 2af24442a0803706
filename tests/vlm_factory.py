"""Tiny randomly initialised vision-language models, written as ordinary model folders, for offline tests.

`build_tiny_vlm(family, out_dir)` writes config.json, model.safetensors, generation_config.json, a byte-level
BPE tokenizer trained here with the `tokenizers` library (800 entries, Chinese and English medical text) and
the family's real processor classes saved with `save_pretrained` (processor_config.json, chat_template.jinja),
so that `AutoProcessor.from_pretrained(out_dir)` and `AutoModelForImageTextToText.from_pretrained(out_dir)`
load it with no model card and no network. A family takes well under a second to build.

What the models generate: the weights are random, so output is meaningless but deterministic for a given
`seed` (greedy decoding), e.g. "像摄取如常学 lesionbar增厚..." or one piece repeated ("形态形态形态..."): a
run of ordinary vocabulary pieces (Chinese characters, English word pieces, digits, punctuation). The
output-embedding rows of every special/added token (EOS, pad, image placeholders, chat markers) and of byte
pieces that are not printable text on their own are zeroed, so greedy decoding never emits EOS, an image
token or a broken UTF-8 byte: a generation always runs to `max_new_tokens` and decodes to clean text.
Different images give different first-step logits and, usually, different greedy text.

Each family's chat template is a compact one written here that produces the same special-token structure as
the family's published template (turn markers, image placeholder and where it goes, generation prompt).
"""

from __future__ import annotations

import copy
import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

FAMILIES: tuple[str, ...] = (
    "qwen2_5_vl",
    "qwen3_vl",
    "gemma3",
    "llava",
    "idefics3",
    "mllama",
    "internvl",
    "llava_onevision",
    "smolvlm",
)

# Whether a system message given as a list of text parts ({"type": "text", ...}) reaches the prompt.
# (Gemma 3 has no system turn: its template folds the system text into the first user turn.)
SYSTEM_MESSAGE_OK: dict[str, bool] = dict.fromkeys(FAMILIES, True)

# Whether a message whose content is a plain string (not a list of parts) reaches the prompt. As in the
# published templates, LLaVA, LLaVA-OneVision, Idefics3 and SmolVLM iterate over content parts only, so a
# string content is silently dropped (the role marker stays).
STRING_CONTENT_OK: dict[str, bool] = {
    f: f not in ("llava", "llava_onevision", "idefics3", "smolvlm") for f in FAMILIES
}

# Families whose processor returns `token_type_ids` that `generate` must receive (Gemma 3 attends
# bidirectionally within an image by them).
NEEDS_TOKEN_TYPE_IDS: dict[str, bool] = {f: f == "gemma3" for f in FAMILIES}

# Real Qwen2.5-VL-7B-Instruct shape (its public config.json), as `config_overrides` for build_tiny_vlm.
# The image processor entry restores the real pixel limits (a 200x219 image -> 196x224 px -> 56 tokens).
QWEN2_5_VL_7B_SHAPE: dict[str, dict[str, Any]] = {
    "text_config": {
        "hidden_size": 3584,
        "intermediate_size": 18944,
        "num_hidden_layers": 28,
        "num_attention_heads": 28,
        "num_key_value_heads": 4,
        "max_position_embeddings": 128000,
        "rms_norm_eps": 1e-6,
        "vocab_size": 152064,
        "max_window_layers": 28,
        "rope_parameters": {"rope_type": "default", "rope_theta": 1000000.0, "mrope_section": [16, 24, 24]},
    },
    "vision_config": {
        "depth": 32,
        "hidden_size": 1280,
        "intermediate_size": 3420,
        "num_heads": 16,
        "out_hidden_size": 3584,
        "patch_size": 14,
        "spatial_merge_size": 2,
        "temporal_patch_size": 2,
        "window_size": 112,
        "fullatt_block_indexes": [7, 15, 23, 31],
        "tokens_per_second": 2,
        "hidden_act": "silu",
    },
    "image_processor": {"size": {"shortest_edge": 3136, "longest_edge": 12845056}},
}

# Default `image_size` per family (see build_tiny_vlm); the comment is what one 200x219 slice then costs.
DEFAULT_IMAGE_SIZE: dict[str, int] = {
    "qwen2_5_vl": 112,  # resized to 112x84 px: 12 <|image_pad|> (+ vision_start/end)
    "qwen3_vl": 128,  # 128x96 px: 12 <|image_pad|> (+ vision_start/end)
    "gemma3": 64,  # 16 <image_soft_token> between <start_of_image>/<end_of_image> (+ "\n\n" twice)
    "llava": 32,  # 16 <image> (CLS dropped)
    "idefics3": 32,  # 2x2 tiles + global image, 4 <image> each: 20 (+ 14 row/col/fake/global markers)
    "mllama": 56,  # 1 <|image|> in the text; 2 tiles x 17 patches reach the LM by cross-attention
    "internvl": 32,  # 4 crops + thumbnail, 4 <IMG_CONTEXT> each: 20 (+ <img> </img> "\n")
    "llava_onevision": 32,  # multi-image prompt: 16 + 1 newline = 17 <image> (one image alone: anyres, 88)
    "smolvlm": 32,  # as idefics3
}

_CORPUS_ZH = """\
你是一位经验丰富的核医学科医师，擅长结合PET图像和临床信息撰写诊断报告。
请你根据提供的全身FDG-PET/CT图像，按照结构化格式生成核医学报告。需详细描述异常摄取病灶的位置、大小和程度。
影像所见：禁食状态下静脉注射18F-FDG，静息60分钟后行全身PET/CT断层显像，全身断层影像显示：
脑形态、结构正常，双侧大脑皮质放射性分布均匀、对称，FDG摄取未见明显异常。各脑室、脑沟、脑裂、脑池未见增宽。
双侧眼球形态和轮廓无异常。鼻咽壁未见增厚，两侧腭扁桃体对称，FDG呈生理性摄取。喉咽形态、结构未见异常。
甲状腺形态、大小正常，密度均匀，FDG摄取未见异常。双侧颈部见数枚小淋巴结，部分淋巴结FDG摄取增高。
两肺透亮度增加，右肺中叶见片状密度增高影，FDG摄取增高。两侧胸膜稍增厚，两侧胸腔无积液积气。心影未见异常。
食管未见扩张，管壁未见明显增厚或肿块。肝脏形态、大小未见明显异常，肝左叶见一囊状低密度灶，FDG摄取未见异常。
胆囊形态大小未见异常。胰腺形态正常，主胰管未见增宽。脾脏密度欠均匀。双肾形态、大小正常，肾盂肾盏及输尿管未见增宽。
胃充盈欠佳，部分胃底壁稍增厚，FDG代谢增高。部分肠管FDG代谢增高。前列腺大小正常。膀胱充盈一般。
脊柱序列如常，部分椎体边缘骨质增生，L4/5、L5/S1椎间盘膨出。全身骨骼未见异常FDG代谢。
影像诊断：1.右肺下叶占位伴FDG轻度代谢增高，考虑肺癌。2.胃底壁稍增厚，考虑慢性胃炎。3.肝囊肿。4.脊椎退行性改变。
以上建议胃、肠镜复查。请看图，写报告。你是医师。
"""

_CORPUS_EN = """\
You are an experienced nuclear medicine physician. Write a structured PET/CT report for the images.
Findings: After a fasting period, 18F-FDG was injected intravenously and whole-body PET/CT was acquired.
The brain shows normal morphology with symmetric cortical FDG uptake. No abnormal uptake in the neck.
A spiculated nodule in the right lower lobe shows mildly increased FDG uptake, SUVmax 3.4.
The liver is normal in size with a small cystic lesion in the left lobe without FDG avidity.
Mediastinal and hilar lymph nodes are not enlarged. No pleural effusion. The heart is unremarkable.
Physiological uptake in the bowel, kidneys and bladder. Degenerative changes of the lumbar spine.
Impression: 1. Right lower lobe lesion with increased metabolism, suspicious for lung cancer.
2. Thickened gastric fundus wall, likely chronic gastritis. 3. Hepatic cyst. Follow-up is recommended.
Please look at the image and write the report. The patient is a 63-year-old man with a history of smoking.
system user assistant model Assistant User System ASSISTANT USER image video
"""

_VOCAB_SIZE = 800

# ---------------------------------------------------------------------------------------------------------
# Chat templates: compact equivalents of each family's published template (same markers and placement).
# ---------------------------------------------------------------------------------------------------------

# Shared Jinja macro: the text of a message whose content is a string or a list of parts.
_TEXT_OF = (
    "{%- macro text_of(c) -%}{%- if c is string -%}{{ c }}{%- else -%}"
    "{%- for p in c -%}{%- if p['type'] == 'text' -%}{{ p['text'] }}{%- endif -%}{%- endfor -%}"
    "{%- endif -%}{%- endmacro -%}"
)

# ChatML with inline vision markers (Qwen2.5-VL adds a default system turn, Qwen3-VL does not).
_QWEN_TEMPLATE = (
    "{%- for m in messages -%}"
    "{%- if loop.first and m['role'] != 'system' and DEFAULT_SYSTEM -%}"
    "{{ '<|im_start|>system\\nYou are a helpful assistant.<|im_end|>\\n' }}{%- endif -%}"
    "{{ '<|im_start|>' + m['role'] + '\\n' }}"
    "{%- if m['content'] is string -%}{{ m['content'] }}{%- else -%}{%- for p in m['content'] -%}"
    "{%- if p['type'] == 'image' -%}{{ '<|vision_start|><|image_pad|><|vision_end|>' }}"
    "{%- elif p['type'] == 'video' -%}{{ '<|vision_start|><|video_pad|><|vision_end|>' }}"
    "{%- elif p['type'] == 'text' -%}{{ p['text'] }}{%- endif -%}"
    "{%- endfor -%}{%- endif -%}"
    "{{ '<|im_end|>\\n' }}"
    "{%- endfor -%}"
    "{%- if add_generation_prompt -%}{{ '<|im_start|>assistant\\n' }}{%- endif -%}"
)

# Gemma 3: <bos>, system text folded into the first user turn, 'model' role, <start_of_image> placeholder.
_GEMMA3_TEMPLATE = (
    _TEXT_OF + "{{ bos_token }}"
    "{%- if messages[0]['role'] == 'system' -%}"
    "{%- set prefix = text_of(messages[0]['content']) + '\\n\\n' -%}{%- set turns = messages[1:] -%}"
    "{%- else -%}{%- set prefix = '' -%}{%- set turns = messages -%}{%- endif -%}"
    "{%- for m in turns -%}"
    "{%- set role = 'model' if m['role'] == 'assistant' else m['role'] -%}"
    "{{ '<start_of_turn>' + role + '\\n' + (prefix if loop.first else '') }}"
    "{%- if m['content'] is string -%}{{ m['content'] | trim }}{%- else -%}{%- for p in m['content'] -%}"
    "{%- if p['type'] == 'image' -%}{{ '<start_of_image>' }}"
    "{%- elif p['type'] == 'text' -%}{{ p['text'] | trim }}{%- endif -%}"
    "{%- endfor -%}{%- endif -%}"
    "{{ '<end_of_turn>\\n' }}"
    "{%- endfor -%}"
    "{%- if add_generation_prompt -%}{{ '<start_of_turn>model\\n' }}{%- endif -%}"
)

# LLaVA-1.5: 'USER: ' / 'ASSISTANT:' turns, all images of a turn first ('<image>\n' each), then its text.
_LLAVA_TEMPLATE = (
    "{%- for m in messages -%}"
    "{%- if m['role'] != 'system' -%}{{ m['role'].upper() + ': ' }}{%- endif -%}"
    "{%- for p in m['content'] if p['type'] == 'image' -%}{{ '<image>\\n' }}{%- endfor -%}"
    "{%- for p in m['content'] if p['type'] == 'text' -%}{{ p['text'] + ' ' }}{%- endfor -%}"
    "{%- endfor -%}"
    "{%- if add_generation_prompt -%}{{ 'ASSISTANT:' }}{%- endif -%}"
)

# LLaVA-OneVision: ChatML turns '<|im_start|>role ', images first, then '\n' + each text part.
_LLAVA_OV_TEMPLATE = (
    "{%- for m in messages -%}"
    "{{ '<|im_start|>' + m['role'] + ' ' }}"
    "{%- for p in m['content'] if p['type'] == 'image' -%}{{ '<image>' }}{%- endfor -%}"
    "{%- for p in m['content'] if p['type'] == 'video' -%}{{ '<video>' }}{%- endfor -%}"
    "{%- for p in m['content'] if p['type'] == 'text' -%}{{ '\\n' + p['text'] }}{%- endfor -%}"
    "{{ '<|im_end|>\\n' }}"
    "{%- endfor -%}"
    "{%- if add_generation_prompt -%}{{ '<|im_start|>assistant\\n' }}{%- endif -%}"
)

# InternVL (HF-native): ChatML turns, '<IMG_CONTEXT>\n' where each image is.
_INTERNVL_TEMPLATE = (
    "{%- for m in messages -%}"
    "{{ '<|im_start|>' + m['role'] + '\\n' }}"
    "{%- if m['content'] is string -%}{{ m['content'] }}{%- else -%}{%- for p in m['content'] -%}"
    "{%- if p['type'] == 'image' -%}{{ '<IMG_CONTEXT>\\n' }}"
    "{%- elif p['type'] == 'video' -%}{{ '<video>\\n' }}"
    "{%- elif p['type'] == 'text' -%}{{ p['text'] }}{%- endif -%}"
    "{%- endfor -%}{%- endif -%}"
    "{{ '<|im_end|>\\n' }}"
    "{%- endfor -%}"
    "{%- if add_generation_prompt -%}{{ '<|im_start|>assistant\\n' }}{%- endif -%}"
)

# Idefics3 / SmolVLM: 'Role:' (no space before an image) ... '<end_of_utterance>\n', 'Assistant:' prompt.
_IDEFICS_TEMPLATE = (
    "{{ START }}"
    "{%- for m in messages -%}"
    "{{ m['role'] | capitalize }}{{ ':' if m['content'][0]['type'] == 'image' else ': ' }}"
    "{%- for p in m['content'] -%}"
    "{%- if p['type'] == 'image' -%}{{ '<image>' }}{%- elif p['type'] == 'text' -%}{{ p['text'] }}{%- endif -%}"
    "{%- endfor -%}"
    "{{ '<end_of_utterance>\\n' }}"
    "{%- endfor -%}"
    "{%- if add_generation_prompt -%}{{ 'Assistant:' }}{%- endif -%}"
)

# Llama 3.2 Vision: header-id turns, '<|image|>' where each image is, '<|eot_id|>' ends a turn.
_MLLAMA_TEMPLATE = (
    "{{ bos_token }}"
    "{%- for m in messages -%}"
    "{{ '<|start_header_id|>' + m['role'] + '<|end_header_id|>\\n\\n' }}"
    "{%- if m['content'] is string -%}{{ m['content'] | trim }}{%- else -%}{%- for p in m['content'] -%}"
    "{%- if p['type'] == 'image' -%}{{ '<|image|>' }}"
    "{%- elif p['type'] == 'text' -%}{{ p['text'] | trim }}{%- endif -%}"
    "{%- endfor -%}{%- endif -%}"
    "{{ '<|eot_id|>' }}"
    "{%- endfor -%}"
    "{%- if add_generation_prompt -%}{{ '<|start_header_id|>assistant<|end_header_id|>\\n\\n' }}{%- endif -%}"
)


@dataclass(frozen=True)
class _TokSpec:
    """The special-token layout of one family's tokenizer."""

    specials: tuple[str, ...]
    eos: str
    pad: str
    stop: tuple[str, ...]  # generation_config eos_token_id (first is the tokenizer's eos)
    chat_template: str
    bos: str | None = None
    unk: str | None = None
    add_bos: bool = False
    named: dict[str, str] = field(default_factory=dict)


_QWEN_SPECIALS = (
    "<|endoftext|>",
    "<|im_start|>",
    "<|im_end|>",
    "<|vision_start|>",
    "<|vision_end|>",
    "<|vision_pad|>",
    "<|image_pad|>",
    "<|video_pad|>",
)
_QWEN_NAMED = {
    "image_token": "<|image_pad|>",
    "video_token": "<|video_pad|>",
    "vision_start_token": "<|vision_start|>",
    "vision_end_token": "<|vision_end|>",
}
_ROW_COL = tuple(f"<row_{i}_col_{j}>" for i in range(1, 7) for j in range(1, 7))

_TOK_SPECS: dict[str, _TokSpec] = {
    "qwen2_5_vl": _TokSpec(
        _QWEN_SPECIALS,
        "<|im_end|>",
        "<|endoftext|>",
        ("<|im_end|>", "<|endoftext|>"),
        _QWEN_TEMPLATE.replace("DEFAULT_SYSTEM", "true"),
        named=_QWEN_NAMED,
    ),
    "qwen3_vl": _TokSpec(
        _QWEN_SPECIALS,
        "<|im_end|>",
        "<|endoftext|>",
        ("<|im_end|>", "<|endoftext|>"),
        _QWEN_TEMPLATE.replace("DEFAULT_SYSTEM", "false"),
        named=_QWEN_NAMED,
    ),
    "gemma3": _TokSpec(
        (
            "<pad>",
            "<eos>",
            "<bos>",
            "<unk>",
            "<start_of_turn>",
            "<end_of_turn>",
            "<start_of_image>",
            "<end_of_image>",
            "<image_soft_token>",
        ),
        "<eos>",
        "<pad>",
        ("<eos>", "<end_of_turn>"),
        _GEMMA3_TEMPLATE,
        bos="<bos>",
        unk="<unk>",
        add_bos=True,
        named={
            "boi_token": "<start_of_image>",
            "eoi_token": "<end_of_image>",
            "image_token": "<image_soft_token>",
        },
    ),
    "llava": _TokSpec(
        ("<unk>", "<s>", "</s>", "<pad>", "<image>"),
        "</s>",
        "<pad>",
        ("</s>",),
        _LLAVA_TEMPLATE,
        bos="<s>",
        unk="<unk>",
        add_bos=True,
        named={"image_token": "<image>"},
    ),
    "llava_onevision": _TokSpec(
        ("<|endoftext|>", "<|im_start|>", "<|im_end|>", "<image>", "<video>"),
        "<|im_end|>",
        "<|endoftext|>",
        ("<|im_end|>", "<|endoftext|>"),
        _LLAVA_OV_TEMPLATE,
        named={"image_token": "<image>", "video_token": "<video>"},
    ),
    "internvl": _TokSpec(
        ("<|endoftext|>", "<|im_start|>", "<|im_end|>", "<img>", "</img>", "<IMG_CONTEXT>", "<video>"),
        "<|im_end|>",
        "<|endoftext|>",
        ("<|im_end|>", "<|endoftext|>"),
        _INTERNVL_TEMPLATE,
        named={
            "start_image_token": "<img>",
            "end_image_token": "</img>",
            "context_image_token": "<IMG_CONTEXT>",
            "video_token": "<video>",
        },
    ),
    "idefics3": _TokSpec(
        (
            "<|begin_of_text|>",
            "<|end_of_text|>",
            "<|reserved_special_token_0|>",
            "<fake_token_around_image>",
            "<image>",
            "<end_of_utterance>",
            "<global-img>",
            *_ROW_COL,
        ),
        "<end_of_utterance>",
        "<|reserved_special_token_0|>",
        ("<end_of_utterance>", "<|end_of_text|>"),
        _IDEFICS_TEMPLATE.replace("START", "'<|begin_of_text|>'"),
        bos="<|begin_of_text|>",
        add_bos=True,
    ),
    "smolvlm": _TokSpec(
        (
            "<|endoftext|>",
            "<|im_start|>",
            "<|im_end|>",
            "<fake_token_around_image>",
            "<image>",
            "<end_of_utterance>",
            "<global-img>",
            "<video>",
            *_ROW_COL,
        ),
        "<end_of_utterance>",
        "<|im_end|>",
        ("<end_of_utterance>",),
        _IDEFICS_TEMPLATE.replace("START", "'<|im_start|>'"),
        bos="<|im_start|>",
        named={
            "fake_image_token": "<fake_token_around_image>",
            "image_token": "<image>",
            "end_of_utterance_token": "<end_of_utterance>",
            "global_image_token": "<global-img>",
            "video_token": "<video>",
        },
    ),
    "mllama": _TokSpec(
        (
            "<|begin_of_text|>",
            "<|end_of_text|>",
            "<|start_header_id|>",
            "<|end_header_id|>",
            "<|eot_id|>",
            "<|eom_id|>",
            "<|python_tag|>",
            "<|finetune_right_pad_id|>",
            "<|image|>",
        ),
        "<|eot_id|>",
        "<|finetune_right_pad_id|>",
        ("<|eot_id|>", "<|end_of_text|>", "<|eom_id|>"),
        _MLLAMA_TEMPLATE,
        bos="<|begin_of_text|>",
        add_bos=True,
        named={"image_token": "<|image|>"},
    ),
}


def _train_tokenizer(spec: _TokSpec, model_max_length: int) -> Any:
    """Train a byte-level BPE on the built-in corpus; wrap it as a transformers fast tokenizer."""
    from tokenizers import Tokenizer, decoders, models, pre_tokenizers, processors, trainers
    from transformers import PreTrainedTokenizerFast

    tok = Tokenizer(models.BPE())
    tok.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
    tok.decoder = decoders.ByteLevel()
    trainer = trainers.BpeTrainer(
        vocab_size=_VOCAB_SIZE,
        special_tokens=list(spec.specials),
        initial_alphabet=pre_tokenizers.ByteLevel.alphabet(),
        show_progress=False,
    )
    lines = (_CORPUS_ZH + _CORPUS_EN).splitlines()
    tok.train_from_iterator(lines, trainer)
    if spec.add_bos and spec.bos:
        bos_id = tok.token_to_id(spec.bos)
        tok.post_processor = processors.TemplateProcessing(
            single=f"{spec.bos} $A", pair=f"{spec.bos} $A {spec.bos} $B", special_tokens=[(spec.bos, bos_id)]
        )
    kwargs: dict[str, Any] = {"eos_token": spec.eos, "pad_token": spec.pad, **spec.named}
    if spec.bos:
        kwargs["bos_token"] = spec.bos
    if spec.unk:
        kwargs["unk_token"] = spec.unk
    return PreTrainedTokenizerFast(
        tokenizer_object=tok, model_max_length=model_max_length, chat_template=spec.chat_template, **kwargs
    )


def _merge(base: dict[str, Any], over: dict[str, Any] | None) -> dict[str, Any]:
    """`base` updated by `over` (nested dicts merged one level deep)."""
    out = copy.deepcopy(base)
    for k, v in (over or {}).items():
        if isinstance(v, dict) and isinstance(out.get(k), dict) and k != "rope_parameters":
            out[k] = {**out[k], **v}
        else:
            out[k] = copy.deepcopy(v)
    return out


@dataclass(frozen=True)
class _Dims:
    """Sizes shared by all families' tiny configs."""

    hidden: int
    layers: int
    max_pos: int
    image_size: int
    vocab: int
    ids: dict[str, int | None]

    @property
    def heads(self) -> int:
        return max(1, self.hidden // 16)

    def text(self, **extra: Any) -> dict[str, Any]:
        """Decoder-only LM kwargs (Llama/Qwen2 style)."""
        return {
            "vocab_size": self.vocab,
            "hidden_size": self.hidden,
            "intermediate_size": 2 * self.hidden,
            "num_hidden_layers": self.layers,
            "num_attention_heads": self.heads,
            "num_key_value_heads": max(1, self.heads // 2),
            "max_position_embeddings": self.max_pos,
            "tie_word_embeddings": False,
            "bos_token_id": self.ids["bos"],
            "eos_token_id": self.ids["eos"],
            "pad_token_id": self.ids["pad"],
            **extra,
        }


def _mrope_section(head_dim: int) -> list[int]:
    half = head_dim // 2
    first = half // 4
    second = (half - first) // 2
    return [first, second, half - first - second]


def _qwen_vl(family: str, tok: Any, d: _Dims, ov: dict[str, Any]) -> tuple[Any, Any]:
    import transformers as tf

    qwen3 = family == "qwen3_vl"
    head_dim = d.hidden // d.heads
    rope = {"rope_type": "default", "rope_theta": 1000000.0, "mrope_section": _mrope_section(head_dim)}
    if qwen3:
        rope["mrope_interleaved"] = True
    text = _merge(
        d.text(rope_parameters=rope, **({"head_dim": head_dim} if qwen3 else {})), ov.get("text_config")
    )
    patch = 16 if qwen3 else 14
    vision = {
        "depth": d.layers,
        "hidden_size": 32,
        "intermediate_size": 64,
        "num_heads": 2,
        "out_hidden_size": text["hidden_size"],
        "patch_size": patch,
        "spatial_merge_size": 2,
        "temporal_patch_size": 2,
    }
    if qwen3:
        vision.update(num_position_embeddings=64, deepstack_visual_indexes=[0])
    else:
        vision.update(window_size=56, fullatt_block_indexes=[d.layers - 1])
    vision = _merge(vision, ov.get("vision_config"))
    ids = {
        "image_token_id": tok.convert_tokens_to_ids("<|image_pad|>"),
        "video_token_id": tok.convert_tokens_to_ids("<|video_pad|>"),
        "vision_start_token_id": tok.convert_tokens_to_ids("<|vision_start|>"),
        "vision_end_token_id": tok.convert_tokens_to_ids("<|vision_end|>"),
    }
    cls = tf.Qwen3VLConfig if qwen3 else tf.Qwen2_5_VLConfig
    config = cls(
        text_config=text, vision_config=vision, tie_word_embeddings=False, **ids, **ov.get("top", {})
    )
    pix = {
        "patch_size": vision["patch_size"],
        "merge_size": vision["spatial_merge_size"],
        "temporal_patch_size": vision["temporal_patch_size"],
    }
    unit = vision["patch_size"] * vision["spatial_merge_size"]
    size = {"shortest_edge": unit * unit, "longest_edge": d.image_size * d.image_size}
    improc = tf.Qwen2VLImageProcessor(**_merge({"size": size, **pix}, ov.get("image_processor")))
    video_cls = tf.Qwen3VLVideoProcessor if qwen3 else tf.Qwen2VLVideoProcessor
    video = video_cls(
        size={"shortest_edge": unit * unit, "longest_edge": 4 * d.image_size * d.image_size}, **pix
    )
    proc_cls = tf.Qwen3VLProcessor if qwen3 else tf.Qwen2_5_VLProcessor
    return config, proc_cls(image_processor=improc, tokenizer=tok, video_processor=video)


def _gemma3(family: str, tok: Any, d: _Dims, ov: dict[str, Any]) -> tuple[Any, Any]:
    import transformers as tf

    head_dim = d.hidden // d.heads
    layer_types = ["sliding_attention"] * (d.layers - 1) + ["full_attention"]
    text = _merge(
        d.text(
            head_dim=head_dim,
            query_pre_attn_scalar=head_dim,
            sliding_window=512,
            layer_types=layer_types,
        ),
        ov.get("text_config"),
    )
    patch = 8
    vision = _merge(
        {
            "hidden_size": 32,
            "intermediate_size": 64,
            "num_hidden_layers": d.layers,
            "num_attention_heads": 2,
            "image_size": d.image_size,
            "patch_size": patch,
            "vision_use_head": False,
        },
        ov.get("vision_config"),
    )
    per_side = vision["image_size"] // vision["patch_size"]
    mm_tokens = (per_side // 2) ** 2 if per_side % 2 == 0 else per_side**2
    top = {"mm_tokens_per_image": mm_tokens, **ov.get("top", {})}
    config = tf.Gemma3Config(
        text_config=text,
        vision_config=vision,
        boi_token_index=tok.convert_tokens_to_ids("<start_of_image>"),
        eoi_token_index=tok.convert_tokens_to_ids("<end_of_image>"),
        image_token_index=tok.convert_tokens_to_ids("<image_soft_token>"),
        tie_word_embeddings=False,
        **top,
    )
    side = vision["image_size"]
    improc = tf.Gemma3ImageProcessor(
        **_merge(
            {"size": {"height": side, "width": side}, "image_mean": [0.5] * 3, "image_std": [0.5] * 3},
            ov.get("image_processor"),
        )
    )
    proc = tf.Gemma3Processor(
        image_processor=improc, tokenizer=tok, image_seq_length=config.mm_tokens_per_image
    )
    return config, proc


def _llava(family: str, tok: Any, d: _Dims, ov: dict[str, Any]) -> tuple[Any, Any]:
    import transformers as tf

    text = _merge(d.text(), ov.get("text_config"))
    vision = _merge(
        {
            "model_type": "clip_vision_model",
            "hidden_size": 32,
            "intermediate_size": 64,
            "num_hidden_layers": d.layers,
            "num_attention_heads": 2,
            "image_size": d.image_size,
            "patch_size": 8,
            "projection_dim": 32,
        },
        ov.get("vision_config"),
    )
    n_tokens = (vision["image_size"] // vision["patch_size"]) ** 2
    text["model_type"] = "llama"
    config = tf.LlavaConfig(
        text_config=text,
        vision_config=vision,
        image_token_index=tok.convert_tokens_to_ids("<image>"),
        image_seq_length=n_tokens,
        vision_feature_select_strategy="default",
        vision_feature_layer=-1,
        tie_word_embeddings=False,
        **ov.get("top", {}),
    )
    side = vision["image_size"]
    improc = tf.CLIPImageProcessor(
        **_merge(
            {"size": {"shortest_edge": side}, "crop_size": {"height": side, "width": side}},
            ov.get("image_processor"),
        )
    )
    proc = tf.LlavaProcessor(
        image_processor=improc,
        tokenizer=tok,
        patch_size=vision["patch_size"],
        vision_feature_select_strategy="default",
        num_additional_image_tokens=1,
    )
    return config, proc


def _llava_onevision(family: str, tok: Any, d: _Dims, ov: dict[str, Any]) -> tuple[Any, Any]:
    import transformers as tf

    text = _merge(d.text(), ov.get("text_config"))
    text["model_type"] = "qwen2"
    vision = _merge(
        {
            "model_type": "siglip_vision_model",
            "hidden_size": 32,
            "intermediate_size": 64,
            "num_hidden_layers": d.layers,
            "num_attention_heads": 2,
            "image_size": d.image_size,
            "patch_size": 8,
            "vision_use_head": False,
        },
        ov.get("vision_config"),
    )
    side = vision["image_size"]
    pinpoints = [[side * i, side * j] for i in (1, 2) for j in (1, 2)]
    config = tf.LlavaOnevisionConfig(
        text_config=text,
        vision_config=vision,
        image_token_index=tok.convert_tokens_to_ids("<image>"),
        video_token_index=tok.convert_tokens_to_ids("<video>"),
        vision_feature_select_strategy="full",
        vision_feature_layer=-1,
        image_grid_pinpoints=pinpoints,
        tie_word_embeddings=False,
        **ov.get("top", {}),
    )
    improc = tf.LlavaOnevisionImageProcessor(
        **_merge(
            {"size": {"height": side, "width": side}, "image_grid_pinpoints": pinpoints},
            ov.get("image_processor"),
        )
    )
    video = tf.LlavaOnevisionVideoProcessor(size={"height": side, "width": side})
    proc = tf.LlavaOnevisionProcessor(
        image_processor=improc,
        tokenizer=tok,
        video_processor=video,
        num_image_tokens=(side // vision["patch_size"]) ** 2,
        vision_feature_select_strategy="full",
        vision_aspect_ratio="anyres_max_9",
    )
    return config, proc


def _internvl(family: str, tok: Any, d: _Dims, ov: dict[str, Any]) -> tuple[Any, Any]:
    import transformers as tf

    text = _merge(d.text(), ov.get("text_config"))
    text["model_type"] = "qwen2"
    vision = _merge(
        {
            "hidden_size": 32,
            "intermediate_size": 64,
            "num_hidden_layers": d.layers,
            "num_attention_heads": 2,
            "image_size": [d.image_size, d.image_size],
            "patch_size": [8, 8],
        },
        ov.get("vision_config"),
    )
    side = vision["image_size"][0]
    seq = int((side // vision["patch_size"][0]) ** 2 * 0.25)
    config = tf.InternVLConfig(
        text_config=text,
        vision_config=vision,
        image_token_id=tok.convert_tokens_to_ids("<IMG_CONTEXT>"),
        image_seq_length=seq,
        downsample_ratio=0.5,
        tie_word_embeddings=False,
        **ov.get("top", {}),
    )
    improc = tf.GotOcr2ImageProcessor(
        **_merge(
            {
                "size": {"height": side, "width": side},
                "crop_to_patches": True,
                "min_patches": 1,
                "max_patches": 4,
            },
            ov.get("image_processor"),
        )
    )
    video = tf.InternVLVideoProcessor(size={"height": side, "width": side})
    proc = tf.InternVLProcessor(
        image_processor=improc, tokenizer=tok, video_processor=video, image_seq_length=seq
    )
    return config, proc


def _idefics(family: str, tok: Any, d: _Dims, ov: dict[str, Any]) -> tuple[Any, Any]:
    import transformers as tf

    smol = family == "smolvlm"
    text = _merge(d.text(), ov.get("text_config"))
    text["model_type"] = "llama"
    vision = _merge(
        {
            "hidden_size": 32,
            "intermediate_size": 64,
            "num_hidden_layers": d.layers,
            "num_attention_heads": 2,
            "image_size": d.image_size,
            "patch_size": 8,
        },
        ov.get("vision_config"),
    )
    side = vision["image_size"]
    seq = (side // vision["patch_size"]) ** 2 // 4
    cls = tf.SmolVLMConfig if smol else tf.Idefics3Config
    config = cls(
        text_config=text,
        vision_config=vision,
        image_token_id=tok.convert_tokens_to_ids("<image>"),
        scale_factor=2,
        pad_token_id=d.ids["pad"],
        tie_word_embeddings=False,
        **ov.get("top", {}),
    )
    pix = {
        "size": {"longest_edge": 2 * side},
        "max_image_size": {"longest_edge": side},
        "do_image_splitting": True,
    }
    pix = _merge(pix, ov.get("image_processor"))
    if smol:
        improc = tf.SmolVLMImageProcessor(**pix)
        video = tf.SmolVLMVideoProcessor(size={"longest_edge": side}, max_image_size={"longest_edge": side})
        proc = tf.SmolVLMProcessor(
            image_processor=improc, tokenizer=tok, video_processor=video, image_seq_len=seq
        )
    else:
        improc = tf.Idefics3ImageProcessor(**pix)
        proc = tf.Idefics3Processor(image_processor=improc, tokenizer=tok, image_seq_len=seq)
    return config, proc


def _mllama(family: str, tok: Any, d: _Dims, ov: dict[str, Any]) -> tuple[Any, Any]:
    import transformers as tf
    from transformers.models.mllama.image_processing_mllama import get_all_supported_aspect_ratios

    layers = max(2, d.layers)
    text = _merge(
        {**d.text(), "num_hidden_layers": layers, "cross_attention_layers": [layers - 1]},
        ov.get("text_config"),
    )
    text.pop("tie_word_embeddings", None)
    vision = {
        "hidden_size": 32,
        "intermediate_size": 64,
        "num_hidden_layers": d.layers,
        "num_global_layers": 1,
        "attention_heads": 2,
        "image_size": d.image_size,
        "patch_size": 14,
        "max_num_tiles": 2,
        "intermediate_layers_indices": [0],
    }
    vision = _merge(vision, ov.get("vision_config"))
    tiles = vision["max_num_tiles"]
    vision.setdefault("supported_aspect_ratios", [list(r) for r in get_all_supported_aspect_ratios(tiles)])
    vision.setdefault(
        "vision_output_dim", vision["hidden_size"] * (len(vision["intermediate_layers_indices"]) + 1)
    )
    config = tf.MllamaConfig(
        text_config=text,
        vision_config=vision,
        image_token_index=tok.convert_tokens_to_ids("<|image|>"),
        **ov.get("top", {}),
    )
    side = vision["image_size"]
    improc = tf.MllamaImageProcessor(
        **_merge(
            {"size": {"height": side, "width": side}, "max_image_tiles": vision["max_num_tiles"]},
            ov.get("image_processor"),
        )
    )
    return config, tf.MllamaProcessor(image_processor=improc, tokenizer=tok)


_BUILDERS = {
    "qwen2_5_vl": _qwen_vl,
    "qwen3_vl": _qwen_vl,
    "gemma3": _gemma3,
    "llava": _llava,
    "llava_onevision": _llava_onevision,
    "internvl": _internvl,
    "idefics3": _idefics,
    "smolvlm": _idefics,
    "mllama": _mllama,
}


def _wake_parameters(model: Any, family: str) -> None:
    """Make the images matter: a fresh init zeroes Gemma 3's image projection and Mllama's cross-attention
    gates (images then change the logits by exactly 0); Mllama's cross-attention output is also scaled x5,
    or its images barely move a random model's greedy text."""
    import torch

    with torch.no_grad():
        for name, p in model.named_parameters():
            if family == "gemma3" and name.endswith("mm_input_projection_weight"):
                p.normal_(0.0, 0.2)
            elif family == "mllama" and ("cross_attn_attn_gate" in name or "cross_attn_mlp_gate" in name):
                p.fill_(1.0)
            elif family == "mllama" and "cross_attn.o_proj" in name:
                p.mul_(5.0)


def _is_clean_piece(text: str) -> bool:
    """True for a token that decodes on its own to printable text (no partial UTF-8, no control bytes)."""
    return bool(text) and "\ufffd" not in text and all(c.isprintable() or c in " \n\t" for c in text)


def _silence_special_tokens(model: Any, tok: Any) -> None:
    """Zero the output rows greedy decoding must never pick.

    Those are special/added tokens (EOS, pad, image placeholders, chat markers), byte pieces that are not
    printable text on their own (partial UTF-8 sequences, control bytes), and ids past the tokenizer.
    """
    import torch

    head = model.get_output_embeddings().weight
    special = {int(i) for i in tok.all_special_ids} | {int(i) for i in tok.added_tokens_decoder}
    special |= {i for i in range(len(tok)) if not _is_clean_piece(tok.decode([i]))}
    with torch.no_grad():
        for i in special:
            if i < head.shape[0]:
                head[i].zero_()
        if head.shape[0] > len(tok):
            head[len(tok) :].zero_()


def fused_slice(seed: int) -> Any:
    """A fused-PET-like 200x219 RGB slice (PIL): grey body on black, hot spots in a red-yellow map, noise."""
    import numpy as np
    from PIL import Image

    rng = np.random.default_rng(seed)
    yy, xx = np.mgrid[0:219, 0:200]
    body = ((xx - 100) / (60 + rng.integers(-8, 8))) ** 2 + ((yy - 110) / (95 + rng.integers(-8, 8))) ** 2 < 1
    ct = np.where(body, 90 + rng.normal(0, 12, body.shape), 0)
    heat = np.zeros(body.shape)
    for _ in range(4):
        cy, cx, r = rng.integers(40, 180), rng.integers(50, 150), rng.integers(5, 14)
        heat += np.exp(-((yy - cy) ** 2 + (xx - cx) ** 2) / (2 * r**2)) * rng.uniform(0.5, 1.0)
    heat = np.clip(heat, 0, 1)
    rgb = np.stack([ct + 255 * heat, ct + 200 * np.clip(heat - 0.4, 0, 1), ct * (1 - heat)], axis=-1)
    return Image.fromarray(np.clip(rgb, 0, 255).astype(np.uint8), "RGB")


def tiny_vlm_parts(
    family: str,
    *,
    hidden: int = 64,
    layers: int = 2,
    max_position_embeddings: int = 4096,
    image_size: int | None = None,
    config_overrides: dict[str, dict[str, Any]] | None = None,
) -> tuple[Any, Any]:
    """The model config and the processor (tokenizer inside) that build_tiny_vlm writes, with no weights."""
    if family not in _BUILDERS:
        raise ValueError(f"unknown family {family!r}; choose from {FAMILIES}")
    if hidden % 16:
        raise ValueError("hidden must be a multiple of 16")
    spec = _TOK_SPECS[family]
    tok = _train_tokenizer(spec, max_position_embeddings)
    ids = {
        "bos": tok.convert_tokens_to_ids(spec.bos) if spec.bos else None,
        "eos": tok.convert_tokens_to_ids(spec.eos),
        "pad": tok.convert_tokens_to_ids(spec.pad),
    }
    dims = _Dims(
        hidden=hidden,
        layers=layers,
        max_pos=max_position_embeddings,
        image_size=image_size or DEFAULT_IMAGE_SIZE[family],
        vocab=len(tok),
        ids=ids,
    )
    config, processor = _BUILDERS[family](family, tok, dims, config_overrides or {})
    processor.chat_template = spec.chat_template
    return config, processor


def build_tiny_vlm(
    family: str,
    out_dir: str | Path,
    *,
    seed: int = 0,
    hidden: int = 64,
    layers: int = 2,
    max_position_embeddings: int = 4096,
    image_size: int | None = None,
    config_overrides: dict[str, dict[str, Any]] | None = None,
    dtype: str = "float32",
    device: str = "cpu",
) -> Path:
    """Write a tiny random model folder for `family`; returns out_dir.

    `hidden` / `layers` size the language model (heads of 16 dims, half as many KV heads; Mllama keeps at
    least 2 layers, the last one cross-attention); the vision tower has width 32 and `layers` layers.
    `image_size` (default DEFAULT_IMAGE_SIZE[family]) is the vision tower's input side in pixels, for
    Qwen-VL the pixel budget image_size**2 per image. `max_position_embeddings` goes to the text config and
    to the tokenizer's model_max_length. `config_overrides` may hold "text_config", "vision_config",
    "image_processor" (merged into those) and "top" (top-level config keys), e.g. QWEN2_5_VL_7B_SHAPE;
    `dtype` / `device` are where the weights are made (e.g. "bfloat16" and "cuda" for a real-size model).
    The same `seed` gives byte-identical weights.
    """
    import torch
    from transformers import AutoModelForImageTextToText, GenerationConfig

    config, processor = tiny_vlm_parts(
        family,
        hidden=hidden,
        layers=layers,
        max_position_embeddings=max_position_embeddings,
        image_size=image_size,
        config_overrides=config_overrides,
    )
    tok = processor.tokenizer
    spec = _TOK_SPECS[family]
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    torch.manual_seed(seed)
    with torch.device(device):
        model = AutoModelForImageTextToText.from_config(config, dtype=getattr(torch, dtype))
    _wake_parameters(model, family)
    _silence_special_tokens(model, tok)
    model.generation_config = GenerationConfig(
        bos_token_id=tok.bos_token_id,
        eos_token_id=[tok.convert_tokens_to_ids(t) for t in spec.stop],
        pad_token_id=tok.pad_token_id,
        do_sample=False,
    )
    model.save_pretrained(out)
    processor.save_pretrained(out)
    (out / "tiny_vlm.json").write_text(json.dumps({"family": family, "seed": seed}, indent=1) + "\n")
    return out
