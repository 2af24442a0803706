"""Persistent cache of reference-side scoring work: tokens, uptake labels, language, METEOR tables.

Scoring 30 models against the same 565 references tokenises, labels and prepares each reference
30 times unless that work is kept. ``pet2rep evaluate`` keeps it in one SQLite file,
``$PET2REP_CACHE/references-v2.sqlite`` (default ``~/.cache/pet2rep``; ``--no-cache`` turns it off):

* one row per reference text, keyed by SHA-256 of the text and a code signature (the digest of the
  modules that compute the cached values: tokenizer, uptake extractor, METEOR, this module), so a
  changed extractor or tokenizer never reads values made by the old one; inside a row, tokens are
  keyed by the tokenizer signature and labels by language and lexicon signatures;
* values are JSON (never pickle: a cache file is data, not code); a row that does not decode to the
  expected shape is ignored and rewritten; a token list is stored as one string of its tokens joined by
  spaces (tokens never hold one), which decodes several times faster than a JSON array of short strings:
  every run reads all its references before its workers start;
* WAL journal and a busy timeout: concurrent runs read and write the same file safely; a file that
  is not a readable SQLite database is moved aside and a new one made; a cache that cannot be opened
  or written at all (read-only home, full disk) only costs speed, never a result.
"""

from __future__ import annotations

import hashlib
import json
import os
import sqlite3
import time
from collections.abc import Iterable
from functools import lru_cache
from pathlib import Path
from typing import Any

CACHE_VERSION = 2  # 2: token lists stored as one space-joined string
FILE_NAME = f"references-v{CACHE_VERSION}.sqlite"
_CODE_MODULES = ("tokenize.py", "uptake.py", "meteor.py", "cache.py")


def cache_dir() -> Path:
    """``$PET2REP_CACHE`` or ``~/.cache/pet2rep``."""
    root = os.environ.get("PET2REP_CACHE")
    return Path(root) if root else Path.home() / ".cache" / "pet2rep"


@lru_cache(maxsize=1)
def code_signature() -> str:
    """Digest of the source of the modules whose output is cached (and of the lexicon files)."""
    h = hashlib.sha256(f"v{CACHE_VERSION}".encode())
    here = Path(__file__).resolve().parent
    files = [here / name for name in _CODE_MODULES]
    lex = here / "lexicon"
    if lex.is_dir():
        files += sorted(p for p in lex.rglob("*") if p.is_file())
    for path in files:
        h.update(path.name.encode())
        try:
            h.update(path.read_bytes())
        except OSError:
            h.update(b"?")
    return h.hexdigest()[:16]


def text_key(text: str) -> str:
    """Row key of a reference text (under the current code signature)."""
    return hashlib.sha256(f"{code_signature()}\0{text}".encode("utf-8", "surrogatepass")).hexdigest()


_STR = {str}
_INT = {int}


def pack_tokens(tokens: list[str]) -> str | list[str]:
    """A token list as stored: its tokens joined by spaces, or the list itself when a token is empty or holds a
    space (no tokenizer of this package makes one; the list form keeps such a row exact)."""
    line = " ".join(tokens)
    if tokens and (not all(tokens) or line.count(" ") != len(tokens) - 1):
        return tokens
    return line


def unpack_tokens(stored: str | list[str]) -> list[str]:
    """The token list of a stored value (see :func:`pack_tokens`)."""
    if isinstance(stored, list):
        return stored
    return stored.split(" ") if stored else []


def _tokens_ok(v: Any) -> bool:
    return isinstance(v, str) or (isinstance(v, list) and set(map(type, v)) <= _STR)  # (a C-level pass)


def _valid(entry: Any) -> bool:
    """The shape a row must have: {"tok": {sig: [str]}, "lab": {key: {organ: [state]}}, ...}."""
    if not isinstance(entry, dict):
        return False
    tok = entry.get("tok", {})
    lab = entry.get("lab", {})
    if not isinstance(tok, dict) or not isinstance(lab, dict):
        return False
    for v in tok.values():
        if not _tokens_ok(v):
            return False
    for v in lab.values():
        if not isinstance(v, dict) or not all(isinstance(s, list) for s in v.values()):
            return False
    if "lng" in entry and entry["lng"] not in (None, "zh", "en"):
        return False
    met = entry.get("met", {})
    if not isinstance(met, dict):
        return False
    for v in met.values():
        if not (isinstance(v, list) and len(v) == 2 and (v[0] is None or _tokens_ok(v[0]))
                and isinstance(v[1], list) and set(map(type, v[1])) <= _INT):
            return False
    return True


def _unpacked(entry: dict[str, Any]) -> dict[str, Any]:
    """A valid stored row with its token lists as lists."""
    entry["tok"] = {sig: unpack_tokens(v) for sig, v in entry.get("tok", {}).items()}
    if entry.get("met"):
        entry["met"] = {sig: [None if v[0] is None else unpack_tokens(v[0]), v[1]] for sig, v in entry["met"].items()}
    return entry


def _packed(entry: dict[str, Any]) -> dict[str, Any]:
    """A row as stored (token lists packed, see :func:`pack_tokens`)."""
    out = dict(entry)
    out["tok"] = {sig: pack_tokens(v) for sig, v in entry.get("tok", {}).items()}
    out["met"] = {sig: [None if v[0] is None else pack_tokens(v[0]), v[1]] for sig, v in entry.get("met", {}).items()}
    return out


class RefCache:
    """The reference cache file (open it with :func:`open_cache`)."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self.hits = 0
        self.misses = 0
        self._db = self._connect(path)

    @staticmethod
    def _connect(path: Path) -> sqlite3.Connection:
        path.parent.mkdir(parents=True, exist_ok=True)
        db = sqlite3.connect(path, timeout=30.0, isolation_level=None, check_same_thread=False)
        try:
            db.execute("PRAGMA busy_timeout=30000")
            db.execute("PRAGMA journal_mode=WAL")
            db.execute("CREATE TABLE IF NOT EXISTS refs (k TEXT PRIMARY KEY, v TEXT NOT NULL, t REAL)")
            db.execute("SELECT count(*) FROM refs WHERE k = ''").fetchone()
        except sqlite3.DatabaseError:
            db.close()
            raise
        return db

    def _rows(self, keys: Iterable[str]) -> dict[str, dict[str, Any]]:
        """Well-formed stored rows of these keys: key -> entry (in queries of 500 keys)."""
        out: dict[str, dict[str, Any]] = {}
        items = list(keys)
        for s in range(0, len(items), 500):
            part = items[s : s + 500]
            q = f"SELECT k, v FROM refs WHERE k IN ({','.join('?' * len(part))})"
            for k, v in self._db.execute(q, part).fetchall():
                try:
                    entry = json.loads(v)
                except (ValueError, TypeError, RecursionError):
                    continue
                if _valid(entry):
                    out[k] = _unpacked(entry)
        return out

    def get_many(self, texts: Iterable[str]) -> dict[str, dict[str, Any]]:
        """Rows of the given texts that are present and well-formed: text -> entry."""
        keys = {text_key(t): t for t in texts}
        out = {keys[k]: entry for k, entry in self._rows(keys).items()}
        self.hits += len(out)
        self.misses += len(keys) - len(out)
        return out

    def put_many(self, entries: dict[str, dict[str, Any]]) -> None:
        """Store (merge into) the rows of these texts, in one transaction."""
        if not entries:
            return
        now = time.time()
        keys = {text_key(t): t for t in entries}
        old = self._rows(keys)
        rows = []
        for k, text in keys.items():
            new = entries[text]
            e = old.get(k, {})
            merged = {
                "tok": {**e.get("tok", {}), **new.get("tok", {})},
                "lab": {**e.get("lab", {}), **new.get("lab", {})},
                "met": {**e.get("met", {}), **new.get("met", {})},
            }
            if "lng" in new or "lng" in e:
                merged["lng"] = new.get("lng", e.get("lng"))
            rows.append((k, json.dumps(_packed(merged), ensure_ascii=False, separators=(",", ":")), now))
        self._db.execute("BEGIN IMMEDIATE")
        try:
            self._db.executemany("INSERT OR REPLACE INTO refs (k, v, t) VALUES (?, ?, ?)", rows)
            self._db.execute("COMMIT")
        except BaseException:
            self._db.execute("ROLLBACK")
            raise

    def close(self) -> None:
        self._db.close()


def open_cache(path: Path | None = None, warn: Any = None) -> RefCache | None:
    """The reference cache, or None when it cannot be used (a warning says why, once)."""
    path = path or cache_dir() / FILE_NAME
    try:
        return RefCache(path)
    except sqlite3.DatabaseError:
        # not a database (truncated, overwritten): keep it aside for inspection, start a new one
        try:
            os.replace(path, path.with_name(f"{path.name}.corrupt-{os.getpid()}"))
            for side in ("-wal", "-shm"):
                Path(f"{path}{side}").unlink(missing_ok=True)
            return RefCache(path)
        except (OSError, sqlite3.Error) as exc:
            if warn:
                warn(f"reference cache {path} unusable ({exc}); scoring without it")
            return None
    except (OSError, sqlite3.Error) as exc:
        if warn:
            warn(f"reference cache {path} unusable ({exc}); scoring without it")
        return None


__all__ = ["CACHE_VERSION", "RefCache", "cache_dir", "code_signature", "open_cache", "text_key"]
