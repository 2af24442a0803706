"""The one place for file helpers: ids that become file names, paths that must stay under `--out`, atomic
writes, and a folder written beside the old one and swapped in only when complete.

Ids. A study id becomes a folder name (``VIEWS/<id>/``, ``slice_prompt/<id>/``) and an image-name prefix, so
it must be a plain name: 1 to 128 characters (at most 200 bytes in UTF-8), each a letter or a digit (any
script: ``demo_001``, ``PET-2024.07``, ``张三_01``) or one of ``. _ -``, the first a letter or a digit. That
rules out ``..``, ``/abs``, ``a/b``, ``a\\b``, NUL and control characters, spaces and hidden names.

Paths. `safe_join(root, *parts)` is how the render, prompts and ingest stages name what they write: it
refuses a path that resolves (symbolic links followed) outside `root`, a second line of defence behind the
id check.

Writes. `atomic_open` writes a hidden temporary file created fresh (``O_EXCL``: never through a planted
symbolic link) beside the target and renames it over the target when complete; on any error the
temporary file is removed. `staged_folder` does the same for a whole folder.
"""

from __future__ import annotations

import errno
import json
import os
import secrets
import shutil
from collections.abc import Iterable, Iterator
from contextlib import contextmanager, suppress
from pathlib import Path
from typing import IO, Any

from .errors import InputError

ID_MAX_CHARS = 128
ID_MAX_BYTES = 200
ID_PUNCTUATION = "._-"
ID_RULE = ("an id is 1-128 letters, digits, '.', '_' or '-' (at most 200 bytes in UTF-8), "
           "starting with a letter or a digit")
TEMP_SUFFIX = ".part"


def _short_repr(value: object, limit: int = 80) -> str:
    text = repr(value)
    return text if len(text) <= limit else text[: limit - 4] + "...'"


def id_problem(value: object) -> str | None:
    """Why `value` cannot be an id that becomes a file name (see the module doc); None when it can."""
    if not isinstance(value, str):
        return f"must be text, not {type(value).__name__}"
    if not value:
        return "is empty"
    if len(value) > ID_MAX_CHARS:
        return f"is {len(value)} characters long (at most {ID_MAX_CHARS})"
    if len(value.encode("utf-8", "surrogatepass")) > ID_MAX_BYTES:
        return f"is more than {ID_MAX_BYTES} bytes in UTF-8"
    if not value[0].isalnum():
        return f"starts with {value[0]!r}" if value[0].isprintable() else f"starts with character {value[0]!r}"
    for ch in value:
        if not (ch.isalnum() or ch in ID_PUNCTUATION):
            return f"contains {ch!r}" if ch.isprintable() else f"contains the control character {ch!r}"
    return None


def is_valid_id(value: object) -> bool:
    return id_problem(value) is None


def check_id(value: object, where: str, what: str = "study id") -> str:
    """`value` when it is a valid id, else a one-line InputError: ``WHERE: WHAT 'x' PROBLEM; RULE``."""
    problem = id_problem(value)
    if problem is not None:
        raise InputError(f"{where}: {what} {_short_repr(value)} {problem}; {ID_RULE}")
    return value  # type: ignore[return-value]


def safe_join(root: str | os.PathLike, *parts: str | os.PathLike) -> Path:
    """`root` joined with `parts`, refused (one-line InputError) when the result would lie outside `root`.

    Parts may not be absolute or hold NUL; the joined path is resolved (existing symbolic links followed,
    ``..`` removed) and must be `root`'s resolved path or below it. Returns the unresolved joined path.
    """
    root = Path(root)
    for part in parts:
        text = os.fspath(part)
        if "\0" in text:
            raise InputError(f"{root}: refusing to write {_short_repr(text)}: a NUL character in a path")
        if os.path.isabs(text) or text.startswith(("/", "\\")):
            raise InputError(f"{root}: refusing to write {_short_repr(text)}: an absolute path")
    path = root.joinpath(*parts)
    base = root.resolve()
    real = path.resolve()
    if real != base and base not in real.parents:
        raise InputError(f"{path}: refusing to write outside {root} (the path resolves to {real})")
    return path


# ------------------------------------------------------------------------------------ atomic files


def _temp_file(path: Path) -> tuple[int, Path]:
    """A new hidden temporary file beside `path`, created exclusively (not through a symbolic link)."""
    flags = os.O_WRONLY | os.O_CREAT | os.O_EXCL | getattr(os, "O_NOFOLLOW", 0) | getattr(os, "O_BINARY", 0)
    for _ in range(100):
        tmp = path.with_name(f".{path.name}.{secrets.token_hex(4)}{TEMP_SUFFIX}")
        try:
            return os.open(tmp, flags, 0o666), tmp
        except FileExistsError:  # pragma: no cover - 32 random bits collided
            continue
        except FileNotFoundError:  # name the file the user asked for, not the hidden temporary one
            raise FileNotFoundError(errno.ENOENT, f"its folder {path.parent} does not exist", str(path)) from None
    raise FileExistsError(f"{path}: cannot create a temporary file beside it")  # pragma: no cover


@contextmanager
def atomic_open(path: str | os.PathLike, mode: str = "wb", encoding: str | None = None,
                newline: str | None = None, fsync: bool = False) -> Iterator[IO[Any]]:
    """Open a temporary file beside `path` for writing; on a clean exit it replaces `path` (os.replace),
    on an error it is removed and `path` is left as it was. With `fsync`, the data reaches the disk before
    the replace (a power cut then leaves the old file or the whole new one)."""
    path = Path(path)
    if "b" not in mode and encoding is None:
        encoding = "utf-8"
    fd, tmp = _temp_file(path)
    try:
        with os.fdopen(fd, mode, encoding=encoding, newline=newline) as fh:
            yield fh
            if fsync:
                fh.flush()
                os.fsync(fh.fileno())
        os.replace(tmp, path)
    except BaseException:
        with suppress(OSError):
            os.unlink(tmp)
        raise


def atomic_write_bytes(path: str | os.PathLike, data: bytes) -> None:
    with atomic_open(path, "wb") as fh:
        fh.write(data)


def atomic_write_text(path: str | os.PathLike, text: str, fsync: bool = False) -> None:
    """Write UTF-8 text atomically (newlines as given)."""
    with atomic_open(path, "w", encoding="utf-8", newline="", fsync=fsync) as fh:
        fh.write(text)


def atomic_write_json(path: str | os.PathLike, obj: Any) -> None:
    """Write JSON atomically (UTF-8, non-ASCII kept, indented, final newline)."""
    atomic_write_text(path, json.dumps(obj, ensure_ascii=False, indent=2) + "\n")


def atomic_write_jsonl(path: str | os.PathLike, records: Iterable[Any], fsync: bool = True) -> None:
    """Write one JSON value per line (UTF-8, non-ASCII kept) atomically, synced to disk by default."""
    atomic_write_text(path, "".join(json.dumps(r, ensure_ascii=False) + "\n" for r in records), fsync=fsync)


def copy_file(src: str | os.PathLike, dst: str | os.PathLike) -> str:
    """Copy `src` to `dst` atomically, never sharing its bytes: a reflink (copy-on-write clone) where the
    file system supports one, else a plain copy. Returns "reflink" or "copy"."""
    dst = Path(dst)
    with open(src, "rb") as fin, atomic_open(dst, "wb") as fout:
        try:
            import fcntl

            fcntl.ioctl(fout.fileno(), 0x40049409, fin.fileno())  # FICLONE: Linux btrfs, xfs, ...
            return "reflink"
        except (ImportError, OSError):
            fin.seek(0)
            fout.seek(0)
            fout.truncate()
            shutil.copyfileobj(fin, fout, 1 << 20)
            return "copy"


# ------------------------------------------------------------------------------------ staged folders


def _temp_dir(parent: Path, name: str, kind: str) -> Path:
    for _ in range(100):
        path = parent / f".{name}.{kind}-{secrets.token_hex(4)}"
        try:
            path.mkdir()
            return path
        except FileExistsError:  # pragma: no cover
            continue
    raise FileExistsError(f"{parent}: cannot create a temporary folder in it")  # pragma: no cover


def _is_temp_name(name: str) -> bool:
    return name.startswith(".") and (name.endswith(TEMP_SUFFIX) or ".new-" in name or ".old-" in name)


def folder_target(target: str | os.PathLike) -> Path:
    """The absolute folder a staged write replaces (a symbolic link is replaced at its target)."""
    path = Path(os.path.abspath(os.fspath(target)))
    if path.is_symlink():
        path = path.resolve()
    if not path.name:
        raise InputError(f"{target}: cannot write a study over the root of the file system")
    for up in (path, *path.parents):
        if up.exists() or up.is_symlink():
            if up != path and not up.is_dir():
                raise InputError(f"{target}: a part of this path is a file, not a folder ({up})")
            break
    if path.exists() and not path.is_dir():
        raise InputError(f"{target}: exists and is not a folder (the study goes into a folder)")
    return path


@contextmanager
def staged_folder(target: str | os.PathLike, *, drop: tuple[str, ...] = (), last: str = "study.json") -> Iterator[Path]:
    """Yield a new empty hidden folder beside `target`; when the block ends cleanly it becomes `target`.

    The swap: the old `target` is renamed away, the new folder renamed into its place, then every entry of the
    old folder that the new one lacks (and that is not named in `drop`) is moved over, so files a user keeps
    in the folder (reports, notes, the inputs) survive; the old folder is then removed. When the block
    raises, the new folder is removed and `target` is untouched: a failed write never damages what was there.

    Where the folder cannot be renamed (a mount point, or a parent folder this user may not write) the new
    folder is made inside `target` instead and its files are moved in one by one, `last` (the file that marks
    the folder complete) removed first and moved in last.
    """
    target = folder_target(target)
    target.parent.mkdir(parents=True, exist_ok=True)
    try:
        stage = _temp_dir(target.parent, target.name, "new")
        inside = False
    except PermissionError:
        if not target.is_dir():
            raise
        stage = _temp_dir(target, target.name, "new")
        inside = True
    try:
        yield stage
        if inside:
            _merge_into(stage, target, drop=drop, last=last)
        else:
            swap_in_folder(stage, target, drop=drop, last=last)
    except BaseException:
        shutil.rmtree(stage, ignore_errors=True)
        raise


def swap_in_folder(new: Path, target: Path, *, drop: tuple[str, ...] = (), last: str = "study.json") -> None:
    """Put the complete folder `new` at `target` (see `staged_folder`)."""
    if not target.exists():
        os.rename(new, target)
        return
    old = _temp_dir(target.parent, target.name, "old")
    old.rmdir()
    try:
        os.rename(target, old)
    except OSError:  # a mount point, a busy folder: move the files in instead
        _merge_into(new, target, drop=drop, last=last)
        return
    try:
        os.rename(new, target)
    except BaseException:
        os.rename(old, target)
        raise
    for entry in sorted(old.iterdir()):
        if entry.name in drop or _is_temp_name(entry.name) or os.path.lexists(target / entry.name):
            continue
        os.rename(entry, target / entry.name)
    shutil.rmtree(old, ignore_errors=True)


def _merge_into(new: Path, target: Path, *, drop: tuple[str, ...], last: str) -> None:
    """Move the entries of the complete folder `new` into `target` one by one: `last` is removed from `target`
    first and moved in last, so a crash in between leaves a folder that does not look complete."""
    with suppress(FileNotFoundError):
        os.unlink(target / last)
    names = sorted(p.name for p in new.iterdir())
    for name in drop:
        if name not in names:
            with suppress(FileNotFoundError, IsADirectoryError):
                os.unlink(target / name)
    for name in sorted(names, key=lambda n: n == last):
        dst = target / name
        if (new / name).is_dir() and dst.is_dir() and not dst.is_symlink():
            shutil.rmtree(dst)
        os.replace(new / name, dst)
    shutil.rmtree(new, ignore_errors=True)
