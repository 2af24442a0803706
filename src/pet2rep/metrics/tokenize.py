"""One tokeniser for Chinese and English reports, shared by every NLG metric.

Rule (``pet2rep-cjkchar-v1``): Unicode NFKC, lower case; every CJK ideograph is one token;
every maximal run ``[a-z0-9]+(\\.[0-9]+)*`` is one token ("3.5cm" -> "3.5", "cm"); everything
else (punctuation, brackets, spaces, other scripts) is dropped. With ``segmenter="jieba"`` each
run of CJK ideographs is split into words by jieba instead of into single characters.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Callable
from functools import lru_cache

from pet2rep.errors import Pet2RepError

TOKENIZER_VERSION = "pet2rep-cjkchar-v1"
SEGMENTERS = (None, "none", "jieba")

# CJK ideographs: extension A, the unified block, compatibility ideographs (NFKC maps most of
# them into the unified block), the ideographic number zero and the supplementary planes.
_CJK = "\u3007\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff\U00020000-\U0003ffff"
_WORD = r"[a-z0-9]+(?:\.[0-9]+)*"
_RUN_RE = re.compile(f"[{_CJK}]+|{_WORD}")
_KEPT_RE = re.compile(f"[{_CJK}a-z0-9.]")
# Code points whose NFKC form can combine with a neighbour (combining marks, Hangul jamo and
# syllables), and astral code points outside the CJK planes: text holding any of them takes
# the plain (slower) unicodedata path.
_HANGUL = ((0x1100, 0x11FF), (0x3130, 0x318F), (0xA960, 0xA97F), (0xAC00, 0xD7FF), (0xFFA0, 0xFFDF))


def _context_free(ch: str) -> bool:
    """True if NFKC maps ``ch`` the same way whatever its neighbours are."""
    if unicodedata.combining(ch) or unicodedata.category(ch).startswith(("M", "Cs")):
        return False
    cp = ord(ch)
    return not any(lo <= cp <= hi for lo, hi in _HANGUL)


def _nfkc_table(fold: bool) -> tuple[list[int | str], re.Pattern[str]]:
    """Per-character NFKC table (indexed by BMP code point; ``fold``: NFKC + lower case, and a character whose form
    holds nothing the tokenizer keeps becomes a space) and the pattern of characters that need the full algorithm.

    For text free of context-dependent characters NFKC works character by character, so ``str.translate`` with the
    table gives the same text (``fold``: the same tokens) as ``unicodedata.normalize`` (a tested claim). Astral
    characters are left as they are: CJK ideographs there are already normal, every other astral character
    (compatibility ideographs included) sends the text down the full path.
    """
    table: list[int | str] = list(range(0x10000))
    unsafe: list[tuple[int, int]] = []
    hangul = frozenset(cp for lo, hi in _HANGUL for cp in range(lo, hi + 1))
    combining, category, normalize_ = unicodedata.combining, unicodedata.category, unicodedata.normalize

    def free(c: str) -> bool:  # _context_free, in one expression
        cat = category(c)
        return not (combining(c) or cat[0] == "M" or cat == "Cs" or ord(c) in hangul)

    for cp in range(0x10000):
        ch = chr(cp)
        out = normalize_("NFKC", ch) if free(ch) else None
        if fold and out is not None:
            out = out.lower()
        if out == ch:
            continue  # (its one character is context-free: the table keeps it)
        if out is None or not all(free(o) for o in out):
            if unsafe and unsafe[-1][1] == cp - 1:
                unsafe[-1] = (unsafe[-1][0], cp)
            else:
                unsafe.append((cp, cp))
        else:
            table[cp] = out if not fold or _KEPT_RE.search(out) else " "
    cls = "".join(
        re.escape(chr(lo)) if lo == hi else f"{re.escape(chr(lo))}-{re.escape(chr(hi))}" for lo, hi in unsafe
    )
    astral = "\U00010000-\U0001FFFF\U0002F800-\U0002FA1F\U00040000-\U0010FFFF"
    return table, re.compile(f"[{cls}{astral}]")


@lru_cache(maxsize=1)
def _fast_nfkc() -> tuple[list[int | str], re.Pattern[str]]:
    """The tokenizer's table: NFKC + lower case per character (see :func:`_nfkc_table`)."""
    return _nfkc_table(fold=True)


@lru_cache(maxsize=1)
def _plain_nfkc() -> tuple[list[int | str], re.Pattern[str]]:
    """The NFKC table of :func:`nfkc` (no lower case, nothing dropped; see :func:`_nfkc_table`)."""
    return _nfkc_table(fold=False)


def nfkc(text: str) -> str:
    """``unicodedata.normalize("NFKC", text)``, per character through a table when the text allows it (most reports:
    a text of context-free BMP characters normalises character by character; a tested claim)."""
    if text.isascii():
        return text  # (NFKC leaves ASCII as it is)
    if _plain_nfkc.cache_info().currsize == 0:  # the table is built by warm_up (large runs), not for a few texts
        return unicodedata.normalize("NFKC", text)
    table, unsafe = _plain_nfkc()
    if unsafe.search(text) is None:
        return text.translate(table)
    return unicodedata.normalize("NFKC", text)


def warm_up() -> None:
    """Build the per-character normalisation tables now (a process that forks workers builds them once for all)."""
    _fast_nfkc()
    _plain_nfkc()


def normalize(text: str) -> str:
    """NFKC then lower case (the normalisation every tokenizer variant applies)."""
    return unicodedata.normalize("NFKC", text).lower()


def _normalize_for_tokens(text: str) -> str:
    """Text whose tokens equal those of :func:`normalize` (per-character fast path when possible)."""
    if text.isascii():
        return text.lower()
    table, unsafe = _fast_nfkc()
    if unsafe.search(text) is None:
        return text.translate(table)
    return normalize(text)


JIEBA_MISSING = "--segmenter jieba needs the jieba package: pip install 'pet2rep[zh]' (or pip install jieba)"


def _check_segmenter(segmenter: str | None) -> str:
    if segmenter not in SEGMENTERS:
        raise Pet2RepError(f"unknown segmenter {segmenter!r}; choose one of: none, jieba")
    return "none" if segmenter is None else segmenter


def check_segmenter_available(segmenter: str | None) -> None:
    """Raise a one-line error now (not in a worker process later) when the segmenter's package is missing."""
    import importlib.util

    _check_segmenter(segmenter)
    if segmenter == "jieba" and importlib.util.find_spec("jieba") is None:
        raise Pet2RepError(JIEBA_MISSING)


@lru_cache(maxsize=1)
def _jieba_cut() -> Callable[[str], list[str]]:
    """Import jieba lazily, silence its start-up log, and return its word cutter."""
    import logging

    try:
        import jieba
    except ImportError:
        raise Pet2RepError(JIEBA_MISSING) from None

    jieba.setLogLevel(logging.WARNING)
    jieba.initialize()
    return jieba.lcut


def _jieba_version() -> str:
    try:
        from importlib.metadata import version

        return version("jieba")
    except Exception:  # noqa: BLE001 - version is informative only
        return "unknown"


def tokenize(text: str, segmenter: str | None = None) -> list[str]:
    """Split a report into tokens (see module docstring); ``segmenter`` is None/"none" or "jieba"."""
    seg = _check_segmenter(segmenter)
    if not text:
        return []
    norm = _normalize_for_tokens(text)
    out: list[str] = []
    if seg == "none":
        for run in _RUN_RE.findall(norm):
            if run[0] > "z":  # a run of CJK ideographs: one token each
                out.extend(run)
            else:
                out.append(run)
        return out
    cut = _jieba_cut()
    for run in _RUN_RE.findall(norm):
        if run[0] > "z":
            out.extend(w for w in cut(run) if w)
        else:
            out.append(run)
    return out


def has_tokens(text: str) -> bool:
    """Whether :func:`tokenize` would return at least one token (any segmenter), without building them."""
    if not text:
        return False
    return _RUN_RE.search(_normalize_for_tokens(text)) is not None


def tokenizer_signature(segmenter: str | None = None) -> str:
    """Signature string of the tokenizer, e.g. ``tok:pet2rep-cjkchar-v1|seg:none|nfkc|lc``."""
    seg = _check_segmenter(segmenter)
    seg_sig = "none" if seg == "none" else f"jieba-{_jieba_version()}"
    return f"tok:{TOKENIZER_VERSION}|seg:{seg_sig}|nfkc|lc"
