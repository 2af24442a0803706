"""Interleaved messages: the one prompt format every backend receives.

A benchmark record holds a system text, a user text with ``<image>`` markers inside a sentence, and a list of
image paths. ``build_messages`` turns it, once, into a system message and a user message whose content is a
sequence of parts in the order of the markers — text, image, image, image, text — so that no backend parses
markers; each maps the parts to its own format (a chat-template content list, a vLLM multimodal prompt, base64
``data:`` URLs). A user text without markers gets its images first (what most chat templates do).
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from .dataset import IMAGE_TOKEN, PromptRecord, image_problem, resolve_image


@dataclass(frozen=True)
class TextPart:
    """A run of text."""

    text: str


@dataclass(frozen=True)
class ImagePart:
    """One image: `source` as the record names it, `path` where it was found (None: not found, or refused: then
    `problem` says why, e.g. a path that leaves the dataset folder)."""

    source: str
    path: Path | None
    problem: str | None = None

    @property
    def found(self) -> bool:
        return self.path is not None


Part = TextPart | ImagePart


@dataclass(frozen=True)
class Message:
    """One chat turn: role ('system', 'user' or 'assistant') and its parts in order."""

    role: str
    content: tuple[Part, ...]

    @property
    def text(self) -> str:
        """The text parts joined (images left out)."""
        return "".join(p.text for p in self.content if isinstance(p, TextPart))


def split_user_text(text: str, images: list[ImagePart]) -> tuple[Part, ...]:
    """The user text cut at its ``<image>`` markers, one image part per marker, in order.

    Whitespace-only text between two markers (the benchmark's ``<image> <image> <image>``) is dropped.
    Without markers, the images come first, then the text.
    """
    pieces = text.split(IMAGE_TOKEN)
    if len(pieces) == 1:
        return (*images, TextPart(text)) if text else tuple(images)
    if len(pieces) - 1 != len(images):
        raise ValueError(f"{len(pieces) - 1} {IMAGE_TOKEN} markers but {len(images)} images")
    parts: list[Part] = []
    for i, piece in enumerate(pieces):
        if piece and (piece.strip() or i in (0, len(pieces) - 1)):
            parts.append(TextPart(piece))
        if i < len(images):
            parts.append(images[i])
    return tuple(parts)


def build_messages(rec: PromptRecord, root: Path) -> tuple[Message, ...]:
    """The system (when the record has one) and user messages of a record; images resolved under `root`."""
    images = [ImagePart(src, resolve_image(root, src), image_problem(root, src)) for src in rec.images]
    out: list[Message] = []
    if rec.prompt_system.strip():
        out.append(Message("system", (TextPart(rec.prompt_system),)))
    out.append(Message("user", split_user_text(rec.prompt_user_text, images)))
    return tuple(out)


def image_parts(messages: tuple[Message, ...]) -> list[ImagePart]:
    """Every image part, in order."""
    return [p for m in messages for p in m.content if isinstance(p, ImagePart)]


def fold_system(messages: tuple[Message, ...]) -> tuple[Message, ...]:
    """For chat templates without a system role: the system text goes first in the first user turn."""
    if not messages or messages[0].role != "system":
        return messages
    system, rest = messages[0], list(messages[1:])
    if not rest or rest[0].role != "user":
        return (Message("user", system.content), *rest)
    head = TextPart(system.text + "\n\n")
    return (Message("user", (head, *rest[0].content)), *rest[1:])


def images_first(messages: tuple[Message, ...]) -> tuple[Message, ...]:
    """For models trained with all images before the text: each turn's images moved to its front."""
    out = []
    for m in messages:
        imgs = tuple(p for p in m.content if isinstance(p, ImagePart))
        texts = [p.text for p in m.content if isinstance(p, TextPart)]
        joined = (TextPart("".join(texts)),) if texts else ()
        out.append(Message(m.role, imgs + joined))
    return tuple(out)
