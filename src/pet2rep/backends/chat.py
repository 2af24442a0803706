"""What the local-model backends (hf, vllm) share: the model target, chat-template modes, images, conversations.

Both render the model's own chat template from the interleaved messages; what differs per family is found out
from the model when its card is silent: whether the template takes a system message (it is rendered once with
one next to an image; a template that raises or drops it gets the system text folded into the user turn) and
where images go (Mllama's text sees images by cross-attention only after the first image token, so its images
go first; every other family keeps the prompt's order). No heavy imports here: PIL is imported when an image is
decoded.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

from ..prompts.messages import ImagePart, Message, TextPart, fold_system, images_first
from .base import BackendError, error_text, one_line

# card defaults per config.model_type, used when the card does not say
FAMILY_DEFAULTS: dict[str, dict[str, str]] = {
    "mllama": {"images": "first"},
}
_PROBE = "pet2rep-system-probe"


def card_model(card: dict[str, Any], name: object) -> str:
    """The card's `model` (a model folder or hub id), stripped; a one-line BackendError when it has none."""
    target = str(card.get("model") or "").strip()
    if not target:
        raise BackendError(f"model card '{name}': no 'model' (a model folder or hub id)")
    return target


def model_target(card: dict[str, Any], name: str) -> str:
    """The card's `model` (folder or hub id); refuses a card marked ``loadable: false`` with its notes."""
    target = card_model(card, name)
    if card.get("loadable") is False:
        why = one_line(str(card.get("notes") or "this checkpoint needs converting first"), 300)
        raise BackendError(f"model card '{name}': {target} cannot be loaded as published: {why}")
    return target


def load_image(part: ImagePart):
    """An image part decoded as RGB (PIL); ValueError naming the file and the reason."""
    from PIL import Image

    if part.path is None:
        raise ValueError(f"image '{part.source}' not found")
    try:
        with Image.open(part.path) as im:
            im.load()
            return im.convert("RGB")
    except Exception as exc:  # noqa: BLE001 - PIL raises many kinds
        raise ValueError(f"image '{part.path.name}' cannot be decoded: {error_text(exc)}") from None


def template_takes_system(processor: Any) -> bool:
    """Render the chat template once with a system message and an image: does the system text survive?"""
    probe = [
        {"role": "system", "content": [{"type": "text", "text": _PROBE}]},
        {"role": "user", "content": [{"type": "image"}, {"type": "text", "text": "?"}]},
    ]
    try:
        text = processor.apply_chat_template(probe, add_generation_prompt=True, tokenize=False)
    except Exception:  # noqa: BLE001 - a template that raises on a system role
        return False
    return _PROBE in str(text)


def chat_modes(card: dict[str, Any], name: str, model_type: str, processor: Any,
               warn: Callable[[str], None] | None = None) -> dict[str, str]:
    """``{"system": native|fold, "images": interleaved|first}``: the card's, else found out from the model.

    A card that says ``system: native`` for a template that refuses or drops a system message next to images
    (Llama 3.2 Vision's) is overruled, with a warning: the system text would be lost.
    """
    takes_system = template_takes_system(processor)
    system = str(card.get("system") or ("native" if takes_system else "fold"))
    images = str(card.get("images") or FAMILY_DEFAULTS.get(model_type, {}).get("images", "interleaved"))
    if system not in ("native", "fold"):
        raise BackendError(f"model card '{name}': system '{system}' (native or fold)")
    if images not in ("interleaved", "first"):
        raise BackendError(f"model card '{name}': images '{images}' (interleaved or first)")
    if system == "native" and not takes_system:
        if warn is not None:
            warn(f"warning: {name}: the chat template refuses or drops a system message next to images; "
                 "folding it into the user turn (set 'system: fold' in the card)")
        system = "fold"
    return {"system": system, "images": images}


def arrange(messages: tuple[Message, ...], modes: dict[str, str]) -> tuple[Message, ...]:
    """The messages as the model wants them: system folded (``system: fold``), images first."""
    if modes.get("system", "native") == "fold":
        messages = fold_system(messages)
    if modes.get("images", "interleaved") == "first":
        messages = images_first(messages)
    return messages


def conversation(messages: tuple[Message, ...], decode: bool = False) -> list[dict[str, Any]]:
    """Chat-template content lists, parts in order; with `decode`, image parts carry the decoded image."""
    conv = []
    for m in messages:
        content: list[dict[str, Any]] = []
        for part in m.content:
            if isinstance(part, TextPart):
                content.append({"type": "text", "text": part.text})
            elif isinstance(part, ImagePart):
                content.append({"type": "image", "image": load_image(part)} if decode else {"type": "image"})
        conv.append({"role": m.role, "content": content})
    return conv


def looks_like_path(target: str) -> bool:
    """A target that can only be a folder (a hub id is 'name' or 'org/name')."""
    return (target.startswith(("/", "./", "../", "~", ".\\")) or Path(target).is_absolute()
            or target.count("/") > 1 or "\\" in target)


def model_folder(card: dict[str, Any], name: str) -> tuple[str, Path | None]:
    """``(target, folder)`` of a card for the local backends (hf, vllm): `model_target`, and the model folder
    it names (``~`` expanded, not resolved), or None for a hub id.

    One-line BackendError for a file, a folder without config.json, or a path that does not exist.
    """
    target = model_target(card, name)
    folder = Path(target).expanduser()
    if not folder.exists():
        if looks_like_path(target):
            raise BackendError(f"{target}: no such model folder")
        return target, None
    if not folder.is_dir():
        raise BackendError(f"{target}: is a file; give a model folder (config.json, weights, processor)")
    if not (folder / "config.json").is_file():
        raise BackendError(f"{target}: no config.json in this folder (not a transformers model folder?)")
    return target, folder
