"""PET2Rep prompt datasets: the benchmark's JSONL format, read and written byte-for-byte.

A dataset is a folder holding one JSONL file (``prompts.jsonl`` for datasets pet2rep builds; any ``*.jsonl``
for released PET2Rep files, e.g. ``prompt_qwen25vl.jsonl``) and its images. Each line is one record with the
fields ``patient_id, task, prompt_system, prompt_image_fuse, prompt_user_text, answer`` in that order. Records
are written in the benchmark's own layout: JSON values as ``json.dumps(..., ensure_ascii=False)`` writes them,
joined by ``", "`` — except that the benchmark's files have two spaces after the image list (``],  "prompt_user_text"``),
which we keep. A record read from a file and not changed is written back exactly as its line was, so any file
read and written again is byte-identical. Unknown extra fields are kept, in their place.
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ..errors import InputError, read_input_bytes
from ..io import atomic_open

FIELDS: tuple[str, ...] = (
    "patient_id",
    "task",
    "prompt_system",
    "prompt_image_fuse",
    "prompt_user_text",
    "answer",
)
# Image-list fields: the benchmark's fused list, and pet2rep's separate-mode (PET, CT, PET, CT, ...) list.
IMAGE_FIELDS: tuple[str, ...] = ("prompt_image_fuse", "prompt_image_separate")
IMAGE_TOKEN = "<image>"
DATASET_FILE = "prompts.jsonl"


@dataclass
class PromptRecord:
    """One benchmark prompt: ids, system text, image paths, user text (with <image> tokens), reference."""

    patient_id: str
    task: str
    prompt_system: str
    images: list[str]
    prompt_user_text: str
    answer: str | None
    image_field: str = "prompt_image_fuse"
    extra: dict[str, Any] = field(default_factory=dict)
    _order: list[str] = field(default_factory=list, repr=False)
    _raw: str | None = field(default=None, repr=False, compare=False)  # the source line, if read
    _raw_obj: dict[str, Any] | None = field(default=None, repr=False, compare=False)
    line: int = field(default=0, repr=False, compare=False)  # its line in the file read (0: not read)

    def to_dict(self) -> dict[str, Any]:
        """The record as the benchmark writes it (field order kept from the source when read)."""
        base = {
            "patient_id": self.patient_id,
            "task": self.task,
            "prompt_system": self.prompt_system,
            self.image_field: self.images,
            "prompt_user_text": self.prompt_user_text,
            "answer": self.answer,
        }
        base.update(self.extra)
        order = self._order or list(base)
        out = {k: base[k] for k in order if k in base}
        out.update({k: v for k, v in base.items() if k not in out})
        return out


def dumps_record(rec: PromptRecord | dict[str, Any]) -> str:
    """One JSONL line (with the newline), laid out as the benchmark writes it."""
    if isinstance(rec, PromptRecord):
        obj = rec.to_dict()
        if rec._raw is not None and obj == rec._raw_obj:
            return rec._raw + "\n"
    else:
        obj = rec
    parts = []
    for key, value in obj.items():
        sep = ",  " if parts and parts[-1][0] in IMAGE_FIELDS else ", "
        parts.append((key, sep, f"{json.dumps(key)}: {json.dumps(value, ensure_ascii=False)}"))
    return "{" + "".join((sep if i else "") + text for i, (_, sep, text) in enumerate(parts)) + "}\n"


def _expect_str(obj: dict, key: str, where: str, optional: bool = False) -> str | None:
    if key not in obj:
        if optional:
            return None
        raise InputError(f"{where}: missing field '{key}'")
    val = obj[key]
    if val is None and optional:
        return None
    if not isinstance(val, str):
        raise InputError(f"{where}: field '{key}' must be a string, got {type(val).__name__}")
    return val


def parse_record(line: str, where: str) -> PromptRecord:
    """Parse and validate one JSONL line; errors name `where` (``FILE:LINE``) and the problem."""
    try:
        obj = json.loads(line)
    except json.JSONDecodeError as exc:
        raise InputError(f"{where}: invalid JSON ({exc.msg} at column {exc.colno})") from None
    except RecursionError:
        raise InputError(f"{where}: JSON nested too deeply (not a prompt record)") from None
    if not isinstance(obj, dict):
        raise InputError(f"{where}: a record must be a JSON object, got {type(obj).__name__}")
    pid = obj.get("patient_id")
    if isinstance(pid, int) and not isinstance(pid, bool):
        pid = str(pid)
    if not isinstance(pid, str) or not pid.strip():
        raise InputError(f"{where}: field 'patient_id' must be a non-empty string")
    image_field = next((f for f in IMAGE_FIELDS if f in obj), None)
    if image_field is None:
        raise InputError(f"{where}: missing field 'prompt_image_fuse' (the list of image paths)")
    images = obj[image_field]
    if not isinstance(images, list) or not all(isinstance(p, str) for p in images):
        raise InputError(f"{where}: field '{image_field}' must be a list of image paths")
    user = _expect_str(obj, "prompt_user_text", where) or ""
    n_tokens = user.count(IMAGE_TOKEN)
    if n_tokens and n_tokens != len(images):
        raise InputError(
            f"{where}: prompt_user_text has {n_tokens} {IMAGE_TOKEN} tokens but '{image_field}' lists "
            f"{len(images)} images"
        )
    known = set(FIELDS) | {image_field}
    return PromptRecord(
        patient_id=pid,
        task=_expect_str(obj, "task", where, optional=True) or "PET2Rep",
        prompt_system=_expect_str(obj, "prompt_system", where, optional=True) or "",
        images=list(images),
        prompt_user_text=user,
        answer=_expect_str(obj, "answer", where, optional=True),
        image_field=image_field,
        extra={k: v for k, v in obj.items() if k not in known},
        _order=list(obj),
        _raw=line.rstrip("\r\n"),
        _raw_obj=obj,
    )


def dataset_file(path: str | os.PathLike) -> Path:
    """The JSONL of a dataset given as a file or a folder (``prompts.jsonl`` or the only ``*.jsonl``)."""
    path = Path(path)
    if path.is_file():
        return path
    if not path.exists():
        raise InputError(f"{path}: no such dataset file or folder")
    if (path / DATASET_FILE).exists():
        return path / DATASET_FILE
    found = sorted(path.glob("*.jsonl"))
    if len(found) == 1:
        return found[0]
    if not found:
        raise InputError(f"{path}: no {DATASET_FILE} (or other .jsonl) in this folder")
    raise InputError(f"{path}: several .jsonl files ({', '.join(p.name for p in found)}); name one")


def image_problem(root: Path, rel: str) -> str | None:
    """Why the image path `rel` of a record may not be read (None: it may): an image must lie in the dataset
    folder `root`, so an absolute path, a path with ``..`` that leaves the folder, or a symbolic link that points
    out of it is refused (a dataset from elsewhere cannot make a model read, or a run hash, any file)."""
    if not rel:
        return "is empty"
    if "\0" in rel:
        return "holds a NUL character"
    if len(rel) > 4096 or any(len(part.encode("utf-8", "surrogatepass")) > 255 for part in Path(rel).parts):
        return "is too long for a file path"
    if os.path.isabs(rel) or rel.startswith(("/", "\\")):
        return "is an absolute path; image paths are relative to the dataset folder"
    base = root.resolve()
    for cand in (root / rel, root / Path(rel).name):
        try:
            real = cand.resolve()
            there = cand.exists()
        except RuntimeError:  # a symbolic-link loop
            return "is a symbolic-link loop"
        except OSError as exc:
            return f"cannot be looked up ({exc.strerror or exc})"
        if real != base and base not in real.parents:
            return f"resolves outside the dataset folder {root} (to {real})"
        if there:
            break
    return None


def resolve_image(root: Path, rel: str) -> Path | None:
    """Find an image of a record: relative to the dataset folder, else by file name in it (as released).
    None when it is not there, or when its path is refused (see `image_problem`)."""
    if image_problem(root, rel) is not None:
        return None
    for cand in (root / rel, root / Path(rel).name):
        if cand.exists():
            return cand
    return None


def read_dataset(path: str | os.PathLike, check_images: bool = False) -> list[PromptRecord]:
    """Read and validate every record of a dataset; the first bad line raises InputError naming it.

    Duplicate patient ids are refused. With `check_images`, every image must exist (see resolve_image).
    """
    file = dataset_file(path)
    root = file.parent
    raw = read_input_bytes(file, "a dataset JSONL file")
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError as exc:
        lineno = raw.count(b"\n", 0, exc.start) + 1
        column = exc.start - (raw.rfind(b"\n", 0, exc.start) + 1) + 1
        raise InputError(f"{file}:{lineno}: not UTF-8 text (byte 0x{raw[exc.start]:02x} at column {column}; "
                         "re-save the file as UTF-8)") from None
    records: list[PromptRecord] = []
    seen: dict[str, int] = {}
    for lineno, line in enumerate(text.splitlines(), 1):
        if not line.strip():
            continue
        where = f"{file}:{lineno}"
        rec = parse_record(line, where)
        rec.line = lineno
        if rec.patient_id in seen:
            raise InputError(f"{where}: duplicate patient_id '{rec.patient_id}' (first on line {seen[rec.patient_id]})")
        seen[rec.patient_id] = lineno
        if check_images:
            for img in rec.images:
                problem = image_problem(root, img)
                if problem is not None:
                    raise InputError(f"{where}: image '{img}' {problem}")
                if resolve_image(root, img) is None:
                    raise InputError(f"{where}: image '{img}' not found under {root}")
        records.append(rec)
    return records


def write_dataset(records: list[PromptRecord], path: str | os.PathLike) -> Path:
    """Write records as benchmark JSONL, atomically. `path` is a file or a dataset folder."""
    path = Path(path)
    file = path if path.suffix == ".jsonl" else path / DATASET_FILE
    file.parent.mkdir(parents=True, exist_ok=True)
    with atomic_open(file, "w", encoding="utf-8", newline="\n") as fh:
        for rec in records:
            fh.write(dumps_record(rec))
    return file
