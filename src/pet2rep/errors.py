"""Errors that the CLI turns into one clear line (no traceback)."""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from pathlib import Path


class Pet2RepError(Exception):
    """Base of every expected error: the message is one line naming the file/line/tag and the problem."""


class InputError(Pet2RepError, ValueError):
    """Bad input data (a file, a record, a DICOM tag)."""


def out_folder(path: object) -> Path:
    """An output folder as a Path; a one-line InputError when it exists as something other than a folder."""
    from pathlib import Path

    out = Path(path)  # type: ignore[arg-type]
    if out.exists() and not out.is_dir():
        raise InputError(f"{out}: exists and is not a folder (the output goes into a folder)")
    return out


# The largest input file a command reads whole (predictions, labelled sets, reports, cards): 256 MiB. A full
# PET2Rep run (565 studies x a few kB) is a few MB; beyond the limit the file is refused in one line.
MAX_INPUT_BYTES = 256 << 20


def read_input_bytes(path: object, expected: str, limit: int | None = None) -> bytes:
    """The bytes of an input file; a missing/unreadable file raises a one-line InputError.

    `expected` names what the file should be (e.g. "a JSONL file"), for the message about a directory. Reads at
    most `limit` (default MAX_INPUT_BYTES) bytes: a larger file, or an endless one (/dev/zero, a FIFO that never
    ends), is refused instead of filling memory.
    """
    import os
    import stat
    from pathlib import Path

    limit = MAX_INPUT_BYTES if limit is None else limit
    raw = b""
    try:
        with open(Path(path), "rb") as fh:  # type: ignore[arg-type]
            st = os.fstat(fh.fileno())
            too_big = stat.S_ISREG(st.st_mode) and st.st_size > limit  # then refused before reading a byte
            if not too_big:
                raw = fh.read(limit + 1)
                too_big = len(raw) > limit
    except FileNotFoundError:
        raise InputError(f"{path}: no such file") from None
    except IsADirectoryError:
        raise InputError(f"{path}: is a directory, expected {expected}") from None
    except OSError as exc:
        raise InputError(f"{path}: cannot read ({exc.strerror or exc})") from None
    if too_big:
        raise InputError(f"{path}: larger than {limit:,} bytes, the most pet2rep reads as {expected}")
    return raw


def read_input_yaml(path: object, expected: str) -> object:
    """The parsed YAML of an input file; unreadable, non-UTF-8 or invalid YAML raises a one-line InputError."""
    import yaml

    raw = read_input_bytes(path, expected)
    try:
        return yaml.load(raw.decode("utf-8"), Loader=getattr(yaml, "CSafeLoader", yaml.SafeLoader))
    except UnicodeDecodeError as exc:
        raise InputError(f"{path}: {expected} is not UTF-8 text (byte {exc.start})") from None
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        line = f" at line {mark.line + 1}" if mark is not None else ""
        raise InputError(f"{path}: invalid YAML{line} ({getattr(exc, 'problem', None) or 'syntax error'})") from None


def short(value: object, limit: int = 80) -> str:
    """A value read from a file, for a message: text as it is, anything else as repr(), cut to `limit`
    characters (a megabyte-long model name in a damaged run.json must not become a megabyte-long error)."""
    text = value if isinstance(value, str) else repr(value)
    return text if len(text) <= limit else text[: limit - 3] + "..."


def plain(value: object) -> str:
    """A number (or a sequence of numbers) as a message shows it: ``70``, ``0.5``, ``inf``, ``[0, 3]``; never
    ``np.float64(70.0)``. Other values are shown with repr()."""
    import numbers

    if isinstance(value, bool):
        return str(value)
    if isinstance(value, numbers.Integral):
        return str(int(value))
    if isinstance(value, numbers.Real):
        return f"{float(value):.10g}"
    if isinstance(value, (list, tuple)) or type(value).__name__ in ("ndarray", "MultiValue"):
        return "[" + ", ".join(plain(v) for v in value) + "]"  # type: ignore[union-attr]
    return repr(value)

