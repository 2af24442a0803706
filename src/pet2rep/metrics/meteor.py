"""Native METEOR 1.5 (``-l en -norm``, pycocoevalcap's configuration), no Java needed.

What is reproduced (checked against the jar, see tests/test_meteor.py):

* ``-norm``: the jar's English normaliser re-tokenises both sides (every CJK character becomes its
  own token, punctuation is split off, ...); inputs made of our tokenizer's tokens pass through it
  unchanged except that multi-character CJK words are split into characters.
* Matching stages exact -> stem (Snowball English) -> synonym (WordNet synsets shipped in the jar,
  with WordNet's morphological base forms) -> paraphrase (pycocoevalcap's ``paraphrase-en.gz``),
  each stage proposing candidate matches for every word pair, as the jar does.
* Alignment: the jar keeps one-to-one unambiguous matches fixed and beam-searches (width 40) the
  rest, left to right over the reference, ranking partial alignments by matches (an exact word
  counts 1, a stem/synonym/paraphrase word a truncated 0.5, so a lone one-word non-exact match is
  worth nothing), then fewer chunks, then "distance" (with the jar's bookkeeping quirk that a
  path's distance grows with every sibling it spawns). :mod:`pet2rep.metrics.meteor_beam` runs
  that search with the jar's candidate order, beam width and tie-breaking at every length (no
  greedy fallback), made fast by pruning that cannot change the beam, bit sets and a numba-compiled
  copy of the same code (plain Python when numba is missing: same numbers). Words are compared by
  their Java ``hashCode`` as the jar does. Statistics rows equal the jar's on zh and en report
  pairs of 50 to 3,000 characters (tests/test_meteor.py).
* Statistics: the jar's 23-number stats line (lengths, function words of ``english.words``,
  content/function matches per stage for test and reference, chunks, word matches), plus one
  extra column: the chunk count that enters the corpus aggregate (0 for a perfectly aligned
  segment, as the jar's ``MeteorStats.addStats`` skips those). Summing rows therefore gives the
  aggregate the jar builds for ``EVAL ||| s1 ||| s2 ...``, and :func:`meteor_from_stats` applies
  the jar's ``computeMetrics`` (alpha 0.85, beta 0.2, gamma 0.6, delta 0.75; module weights
  1.0/0.6/0.8/0.6).

Data (function words, synonyms, paraphrases) are read at run time from the installed
pycocoevalcap (its ``meteor-1.5.jar`` and ``data/paraphrase-en.gz``), lazily: a corpus whose
tokens contain no Latin letters needs neither synonyms nor paraphrases. The paraphrase table is
indexed once into an SQLite cache under ``$PET2REP_CACHE`` (default ``~/.cache/pet2rep``), with the
sorted CRC-32s of its phrases and of every word prefix of either side: an n-gram is built only while it can
still be (the start of) a table phrase, and only possible table phrases are looked up.
"""

from __future__ import annotations

import gzip
import math
import os
import re
import sqlite3
import threading
import zipfile
import zlib
from collections.abc import Sequence
from functools import cache, lru_cache
from itertools import compress
from operator import itemgetter
from pathlib import Path

import numpy as np

from pet2rep.errors import Pet2RepError

ALPHA, BETA, GAMMA, DELTA = 0.85, 0.20, 0.60, 0.75
MODULE_WEIGHTS = (1.0, 0.6, 0.8, 0.6)  # exact, stem, synonym, paraphrase (score)
SEARCH_WEIGHTS = (1.0, 0.5, 0.5, 0.5)  # what the jar's aligner counts while searching
N_JAR_STATS = 23
N_STATS = 24  # jar stats line + aggregate chunk column
EXACT, STEM, SYN, PARA = 0, 1, 2, 3

METEOR_TAG = "v:1.5-exact"  # the jar's alignment at every length (v:1.5-port had a greedy fallback)
METEOR_SIGNATURE = (
    f"METEOR|{METEOR_TAG}|lang:en|norm|modules:exact,stem,synonym,paraphrase"
    "|params:0.85,0.2,0.6,0.75|weights:1.0,0.6,0.8,0.6"
)

# column indices of the stats vector
_TLEN, _RLEN, _TFW, _RFW = 0, 1, 2, 3
_CHUNKS, _TWM, _RWM, _AGGCH = 20, 21, 22, 23


def meteor_signature() -> str:
    """Signature string of this METEOR implementation and configuration."""
    return METEOR_SIGNATURE


# ---------------------------------------------------------------------------------------------
# resources (read from the installed pycocoevalcap)


def _meteor_dir() -> Path:
    from pet2rep.metrics.meteor_jar import meteor_jar_dir

    return meteor_jar_dir()


@cache
def _jar_member(name: str) -> bytes:
    jar = _meteor_dir() / "meteor-1.5.jar"
    try:
        with zipfile.ZipFile(jar) as zf:
            return zf.read(name)
    except (OSError, KeyError, zipfile.BadZipFile) as exc:
        raise Pet2RepError(f"{jar}: cannot read {name} ({exc})") from exc


@lru_cache(maxsize=1)
def function_words() -> frozenset[str]:
    """METEOR's English function-word list (``function/english.words`` in the jar)."""
    return frozenset(w for w in _jar_member("function/english.words").decode("utf-8").splitlines())


@lru_cache(maxsize=1)
def _nonbreaking_prefixes() -> dict[str, int]:
    """English non-breaking prefixes: word -> 1 (any context) or 2 (only before a number)."""
    out: dict[str, int] = {}
    for line in _jar_member("nonbreaking/english.prefixes").decode("utf-8").splitlines():
        parts = line.split()
        if not parts or parts[0].startswith("#"):
            continue
        out[parts[0]] = 2 if len(parts) > 1 and parts[1] == "#NUMERIC_ONLY#" else 1
    return out


class _Synonyms:
    """WordNet synsets as METEOR uses them (surface form or morphological base form)."""

    _SUFX = ("s", "ses", "xes", "zes", "ches", "shes", "men", "ies", "s", "ies", "es", "es",
             "ed", "ed", "ing", "ing", "er", "est", "er", "est")  # fmt: skip
    _ADDR = ("", "s", "x", "z", "ch", "sh", "man", "y", "", "y", "e", "", "e", "", "e", "",
             "", "", "e", "e")  # fmt: skip

    def __init__(self) -> None:
        syn = _jar_member("synonym/english.synsets").decode("utf-8", errors="replace").split("\n")
        self.word_sets: dict[str, frozenset[int]] = {}
        for k in range(0, len(syn) - 1, 2):
            self.word_sets[syn[k]] = frozenset(int(x) for x in syn[k + 1].split())
        exc = _jar_member("synonym/english.exceptions").decode("utf-8", errors="replace").split("\n")
        self.bases: dict[str, list[str]] = {}
        for k in range(0, len(exc) - 1, 2):
            for form in exc[k + 1].split():
                self.bases.setdefault(form, []).append(exc[k])
        self._memo: dict[str, frozenset[int]] = {}

    def _morph(self, word: str) -> str:
        end = ""
        if word.endswith("ss") or len(word) <= 2:
            return word
        for suf, add in zip(self._SUFX, self._ADDR):
            if word.endswith(suf):
                cand = word[: len(word) - len(suf)] + add
                if cand in self.word_sets:
                    return cand + end
        return ""

    def sets(self, word: str) -> frozenset[int]:
        """Synset ids of ``word`` and of its base form(s)."""
        got = self._memo.get(word)
        if got is None:
            s = set(self.word_sets.get(word, ()))
            bases = self.bases.get(word)
            if bases is not None:
                for b in bases:
                    s.update(self.word_sets.get(b, ()))
            else:
                s.update(self.word_sets.get(self._morph(word), ()))
            got = frozenset(s)
            self._memo[word] = got
        return got


_LOCK = threading.Lock()
_SYN: _Synonyms | None = None


def _synonyms() -> _Synonyms:
    global _SYN
    with _LOCK:
        if _SYN is None:
            _SYN = _Synonyms()
        return _SYN


def _cache_dir() -> Path:
    root = os.environ.get("PET2REP_CACHE")
    return Path(root) if root else Path.home() / ".cache" / "pet2rep"


_Entry = tuple[tuple[str, ...], bool, int]  # paraphrases in table order; one longer than maxlen words; maxlen
_NO_ENTRY: _Entry = ((), False, 0)


class _Paraphrases:
    """Paraphrase table (reference phrase -> paraphrases), indexed in an SQLite cache."""

    VERSION = 2  # 2: with the CRC-32 tables of phrases and prefixes (prune the n-grams looked up)

    def __init__(self) -> None:
        src = _meteor_dir() / "data" / "paraphrase-en.gz"
        if not src.exists():
            raise Pet2RepError(f"{src}: METEOR paraphrase table not found")
        st = src.stat()
        name = f"meteor-paraphrase-en-v{self.VERSION}-{st.st_size}.sqlite"
        self.path = _cache_dir() / name
        if not self.path.exists():
            try:
                self._build(src, self.path)
            except OSError:  # unwritable cache dir: fall back to the temp dir
                import tempfile

                self.path = Path(tempfile.gettempdir()) / "pet2rep" / name
                if not self.path.exists():
                    self._build(src, self.path)
        self.reopen()
        row = self._db.execute("SELECT v FROM meta WHERE k='maxlen'").fetchone()
        self.maxlen = int(row[0])
        self.vocab = frozenset(r[0] for r in self._db.execute("SELECT w FROM vocab"))
        blobs = dict(self._db.execute("SELECT k, v FROM crc"))
        # sorted CRC-32s of every table phrase (left side) and of every phrase of either side with its word prefixes
        self.key_crc = np.frombuffer(blobs["keys"], dtype=np.uint32)
        self.prefix_crc = np.frombuffer(blobs["prefixes"], dtype=np.uint32)
        self._memo: dict[str, _Entry] = {}
        self._long: tuple[int, re.Pattern[str]] | None = None

    def reopen(self) -> None:
        """A connection of this process to the index (the tables and rows already read are kept)."""
        self.pid = os.getpid()
        self._db = sqlite3.connect(f"file:{self.path}?mode=ro", uri=True, check_same_thread=False)

    @staticmethod
    def _build(src: Path, dst: Path) -> None:
        import sys

        print(f"pet2rep: indexing METEOR's paraphrase table into {dst} (once per machine, ~30 s)", file=sys.stderr)
        dst.parent.mkdir(parents=True, exist_ok=True)
        tmp = dst.with_suffix(f".tmp{os.getpid()}")
        table: dict[str, list[str]] = {}
        vocab: set[str] = set()
        maxlen = 0
        with gzip.open(src, "rt", encoding="utf-8") as fh:
            while True:
                if not fh.readline():
                    break
                ref = " ".join(fh.readline().split())
                par = " ".join(fh.readline().split())
                table.setdefault(ref, []).append(par)
        for ref, pars in table.items():
            words = ref.split(" ")
            maxlen = max(maxlen, len(words))
            vocab.update(words)
            for p in pars:
                vocab.update(p.split(" "))
        try:  # an SQLite file is built at a path, then renamed into place: no half-built index is ever seen
            db = sqlite3.connect(tmp)
            db.execute("CREATE TABLE para (r TEXT PRIMARY KEY, p TEXT) WITHOUT ROWID")
            db.execute("CREATE TABLE vocab (w TEXT PRIMARY KEY) WITHOUT ROWID")
            db.execute("CREATE TABLE meta (k TEXT PRIMARY KEY, v TEXT)")
            db.executemany("INSERT INTO para VALUES (?, ?)", ((r, "\t".join(p)) for r, p in table.items()))
            db.executemany("INSERT INTO vocab VALUES (?)", ((w,) for w in vocab))
            db.execute("INSERT INTO meta VALUES ('maxlen', ?)", (str(maxlen),))
            keys, prefixes = _crc_tables(table)
            db.execute("CREATE TABLE crc (k TEXT PRIMARY KEY, v BLOB)")
            db.executemany("INSERT INTO crc VALUES (?, ?)", (("keys", keys), ("prefixes", prefixes)))
            db.commit()
            db.close()
            os.replace(tmp, dst)
        finally:
            tmp.unlink(missing_ok=True)  # left only when the build failed

    def lookup(self, phrase: str) -> tuple[tuple[str, int], ...]:
        """Paraphrases (space-joined, with their word counts) of a space-joined phrase, in table order."""
        got = self._memo.get(phrase)
        if got is None:
            row = self._db.execute("SELECT p FROM para WHERE r=?", (phrase,)).fetchone()
            got = self._parse(row[0]) if row else _NO_ENTRY
            self._memo[phrase] = got
        return tuple((p, p.count(" ") + 1) for p in got[0])

    def _parse(self, value: str) -> _Entry:
        """A table row: its paraphrases, whether one has more than ``maxlen`` words, and ``maxlen``."""
        if self._long is None or self._long[0] != self.maxlen:
            self._long = (self.maxlen, re.compile(f"(?:^|\t)[^\t ]*(?: [^\t ]*){{{self.maxlen}}}"))
        return tuple(value.split("\t")), self._long[1].search(value) is not None, self.maxlen

    def prefetch(self, phrases: set[str]) -> dict[str, _Entry]:
        """Look the phrases not seen yet up in one query per 500; returns the memo: phrase -> (its paraphrases
        in table order, whether one is longer than ``maxlen`` words, ``maxlen``)."""
        memo = self._memo
        todo = [p for p in phrases if p not in memo]
        if todo:  # a phrase whose CRC-32 is no table phrase's is not in the table: no query for it
            hit = _crc_member(self.key_crc, todo)
            for p, h in zip(todo, hit):
                if not h:
                    memo[p] = _NO_ENTRY
            todo = [p for p, h in zip(todo, hit) if h]
        for s in range(0, len(todo), 500):
            part = todo[s : s + 500]
            for p in part:
                memo[p] = _NO_ENTRY
            q = f"SELECT r, p FROM para WHERE r IN ({','.join('?' * len(part))})"
            for r, p in self._db.execute(q, part).fetchall():
                memo[r] = self._parse(p)
        return memo


def _crc(text: str) -> int:
    return zlib.crc32(text.encode("utf-8", "surrogatepass"))


def _crc_tables(table: dict[str, list[str]]) -> tuple[bytes, bytes]:
    """Sorted CRC-32s (uint32 bytes) of the table's phrases, and of every phrase of either side and each of its word
    prefixes. A phrase whose CRC is not in the second is neither a table phrase, nor a paraphrase, nor the start of
    one; a collision only keeps a phrase that could have been dropped (the results are the same)."""
    keys = {_crc(r) for r in table}
    prefixes: set[int] = set()
    for r, pars in table.items():
        for x in (r, *pars):
            acc = ""
            for w in x.split(" "):
                acc = f"{acc} {w}" if acc else w
                prefixes.add(_crc(acc))
    return (np.array(sorted(keys), dtype=np.uint32).tobytes(), np.array(sorted(prefixes), dtype=np.uint32).tobytes())


def _crc_member(table: np.ndarray, phrases: Sequence[str]) -> list[bool]:
    """Whether each phrase's CRC-32 is in the sorted table."""
    q = np.fromiter(map(_crc, phrases), dtype=np.uint32, count=len(phrases))
    i = np.minimum(np.searchsorted(table, q), max(0, len(table) - 1))
    return (table[i] == q).tolist() if len(table) else [False] * len(phrases)


_PARA: _Paraphrases | None = None


def _paraphrases() -> _Paraphrases:
    global _PARA
    with _LOCK:
        if _PARA is None:
            _PARA = _Paraphrases()
        elif _PARA.pid != os.getpid():  # SQLite handles must not cross fork(): a forked worker opens its own
            _PARA.reopen()
        return _PARA


# ---------------------------------------------------------------------------------------------
# Snowball English stemmer (Porter2, the rules bundled with METEOR 1.5)

_V = frozenset("aeiouy")
_V_WXY = frozenset("aeiouywxY")
_LI = frozenset("cdeghkmnrt")
_DOUBLES = ("bb", "dd", "ff", "gg", "mm", "nn", "pp", "rr", "tt")
_EXC1 = {
    "skis": "ski", "skies": "sky", "dying": "die", "lying": "lie", "tying": "tie",
    "idly": "idl", "gently": "gentl", "ugly": "ugli", "early": "earli", "only": "onli",
    "singly": "singl", "sky": "sky", "news": "news", "howe": "howe", "atlas": "atlas",
    "cosmos": "cosmos", "bias": "bias", "andes": "andes",
}  # fmt: skip
_EXC2 = frozenset(("inning", "outing", "canning", "herring", "earring", "proceed", "exceed", "succeed"))
_STEP2 = (
    ("ization", "ize"), ("ational", "ate"), ("fulness", "ful"), ("ousness", "ous"),
    ("iveness", "ive"), ("tional", "tion"), ("biliti", "ble"), ("lessli", "less"),
    ("entli", "ent"), ("ation", "ate"), ("alism", "al"), ("aliti", "al"), ("ousli", "ous"),
    ("iviti", "ive"), ("fulli", "ful"), ("enci", "ence"), ("anci", "ance"), ("abli", "able"),
    ("izer", "ize"), ("ator", "ate"), ("alli", "al"), ("bli", "ble"), ("ogi", "og"), ("li", ""),
)  # fmt: skip
_STEP3 = (
    ("ational", "ate"), ("tional", "tion"), ("alize", "al"), ("icate", "ic"), ("iciti", "ic"),
    ("ative", ""), ("ical", "ic"), ("ness", ""), ("ful", ""),
)  # fmt: skip
_STEP4 = (
    "ement", "ance", "ence", "able", "ible", "ment", "ant", "ent", "ism", "ate", "iti", "ous",
    "ive", "ize", "ion", "al", "er", "ic",
)  # fmt: skip


def _regions(w: str) -> tuple[int, int]:
    n = len(w)
    p1 = n
    for pre in ("gener", "commun", "arsen"):
        if w.startswith(pre):
            p1 = len(pre)
            break
    else:
        for i in range(1, n):
            if w[i] not in _V and w[i - 1] in _V:
                p1 = i + 1
                break
    p2 = n
    for i in range(p1 + 1, n):
        if w[i] not in _V and w[i - 1] in _V:
            p2 = i + 1
            break
    return p1, p2


def _short_end(w: str) -> bool:
    n = len(w)
    if n >= 3 and w[-1] not in _V_WXY and w[-2] in _V and w[-3] not in _V:
        return True
    return n == 2 and w[0] in _V and w[1] not in _V


def _has_vowel(s: str) -> bool:
    return any(c in _V for c in s)


@lru_cache(maxsize=1 << 16)
def stem(word: str) -> str:
    """Snowball English stem of a lower-case word (METEOR's stem module)."""
    if word in _EXC1:
        return _EXC1[word]
    if len(word) < 3:
        return word
    w = word[1:] if word.startswith("'") else word
    if "y" in w:
        chars = list(w)
        if chars[0] == "y":
            chars[0] = "Y"
        for i in range(1, len(chars)):
            if chars[i] == "y" and chars[i - 1] in _V:
                chars[i] = "Y"
        w = "".join(chars)
    p1, p2 = _regions(w)
    for suf in ("'s'", "'s", "'"):
        if w.endswith(suf):
            w = w[: -len(suf)]
            break
    if w.endswith("sses"):
        w = w[:-2]
    elif w.endswith(("ied", "ies")):
        w = w[:-2] if len(w) > 4 else w[:-1]
    elif w.endswith(("us", "ss")):
        pass
    elif w.endswith("s") and _has_vowel(w[:-2]):
        w = w[:-1]
    if w in _EXC2:
        return w
    for suf in ("eedly", "ingly", "edly", "eed", "ing", "ed"):
        if w.endswith(suf):
            if suf in ("eed", "eedly"):
                if len(w) - len(suf) >= p1:
                    w = w[: -len(suf)] + "ee"
            elif _has_vowel(w[: -len(suf)]):
                w = w[: -len(suf)]
                if w.endswith(("at", "bl", "iz")):
                    w += "e"
                elif w.endswith(_DOUBLES):
                    w = w[:-1]
                elif len(w) == p1 and _short_end(w):
                    w += "e"
            break
    if len(w) > 2 and w[-1] in "yY" and w[-2] not in _V:
        w = w[:-1] + "i"
    for suf, rep in _STEP2:
        if w.endswith(suf):
            if len(w) - len(suf) >= p1:
                if suf == "ogi":
                    if w[-4:-3] == "l":
                        w = w[:-3] + rep
                elif suf == "li":
                    if len(w) >= 3 and w[-3] in _LI:
                        w = w[:-2]
                else:
                    w = w[: -len(suf)] + rep
            break
    for suf, rep in _STEP3:
        if w.endswith(suf):
            if len(w) - len(suf) >= p1:
                if suf == "ative":
                    if len(w) - 5 >= p2:
                        w = w[:-5]
                else:
                    w = w[: -len(suf)] + rep
            break
    for suf in _STEP4:
        if w.endswith(suf):
            if len(w) - len(suf) >= p2:
                if suf == "ion":
                    if len(w) >= 4 and w[-4] in "st":
                        w = w[:-3]
                else:
                    w = w[: -len(suf)]
            break
    if w.endswith("e"):
        n = len(w) - 1
        if n >= p2 or (n >= p1 and not _short_end(w[:-1])):
            w = w[:-1]
    elif w.endswith("l") and len(w) - 1 >= p2 and w[-2:-1] == "l":
        w = w[:-1]
    return w.replace("Y", "y")


# ---------------------------------------------------------------------------------------------
# the jar's -norm normaliser (English, punctuation kept) + lower case

_ALPHA = "A-Za-zŠŽšžŸÀ-ÖØ-öø-ž" + "Ѐ-ӿԀ-ԧꙀ-ꙮ꙾-ꚗᴀ-ᵿ"
_ALNUM = "0-9" + _ALPHA
_JWS = " \t\n\x0b\f\r"
_R_SEP = re.compile(f"([^{_ALNUM}{_JWS}.'`,\\-‘’])")
_R_MULTI_DOT = re.compile(r"\.([.]+)")
_R_MULTI_DOT2 = re.compile(r"DOTMULTI\.([^.])")
_R_COMMA = re.compile(r"([^0-9]),([^0-9])")
_R_COMMA2 = re.compile(r"([0-9]),([^0-9])")
_R_COMMA3 = re.compile(r"([^0-9]),([0-9])")
_R_QUOTE = re.compile("[`‘’]")
_R_QUOTE2 = re.compile("[“”]|''")
_R_RM_DASH = re.compile(f"([{_ALNUM}.])-([{_ALNUM}])")
_R_CONT1 = re.compile(f"([^{_ALPHA}])'([^{_ALPHA}])")
_R_CONT2 = re.compile(f"([^{_ALPHA}0-9])'([{_ALPHA}])")
_R_CONT3 = re.compile(f"([{_ALPHA}])'([^{_ALPHA}])")
_R_CONT4 = re.compile(f"([{_ALPHA}])'([{_ALPHA}])")
_R_CONT5 = re.compile("([0-9])'(s)")
_R_NBP1 = re.compile(f"[{_ALPHA}]")
_R_WHITE = re.compile("[ \u2000-\u200a\u202f\u205f\u3000\u00a0]+")
_JTOK = re.compile("[^ \t\n\r\f]+")
# a line the normaliser leaves unchanged: lower-case [a-z0-9] words with inner decimals and single
# characters outside the jar's alphanumeric/special set (CJK), separated by single spaces
_SAFE_TOKEN = f"(?:[a-z0-9]+(?:\\.[0-9]+)*|[^{_ALNUM}{_JWS}.'`,\\-‘’\u2000-\u200a\u202f\u205f\u3000\u00a0A-Z])"


def _java_trim(s: str) -> str:
    i, j = 0, len(s)
    while i < j and s[i] <= " ":
        i += 1
    while j > i and s[j - 1] <= " ":
        j -= 1
    return s[i:j]


def normalize_line(line: str) -> str:
    """The jar's ``Normalizer.normalizeLine(line, en, keepPunctuation=True)`` then lower case."""
    w = f" {line} "
    w = _R_SEP.sub(r" \1 ", w)
    w = _R_MULTI_DOT.sub(r" DOTMULTI\1", w)
    while "DOTMULTI." in w:
        w = _R_MULTI_DOT2.sub(r"DOTDOTMULTI \1", w)
        w = w.replace("DOTMULTI.", "DOTDOTMULTI")
    w = _R_COMMA.sub(r"\1 , \2", w)
    w = _R_COMMA2.sub(r"\1 , \2", w)
    w = _R_COMMA3.sub(r"\1 , \2", w)
    w = _R_QUOTE.sub("'", w)
    w = _R_QUOTE2.sub(' " ', w)
    w = w.replace("–", "-").replace("--", "-")
    w = _R_RM_DASH.sub(r"\1 \2", w)
    w = _R_CONT1.sub(r"\1 ' \2", w)
    w = _R_CONT2.sub(r"\1 ' \2", w)
    w = _R_CONT3.sub(r"\1 ' \2", w)
    w = _R_CONT4.sub(r"\1 '\2", w)
    w = _R_CONT5.sub(r"\1 '\2", w)
    words = _JTOK.findall(w)
    out: list[str] = []
    nbp: dict[str, int] | None = None
    for i, word in enumerate(words):
        if len(word) > 1 and word.endswith("."):
            if nbp is None:
                nbp = _nonbreaking_prefixes()
            pre = word[:-1]
            kind = nbp.get(pre)
            nxt = words[i + 1] if i < len(words) - 1 else ""
            if "." in pre and _R_NBP1.search(pre):
                out.append(word.replace(".", ""))
            elif kind == 1 or (nxt and "a" <= nxt[0] <= "z"):
                out.append(word)
            elif kind == 2 and nxt and "0" <= nxt[0] <= "9":
                out.append(word)
            else:
                out.append(pre + " .")
        else:
            out.append(word)
        out.append(" ")
    w = "".join(out)
    while "DOTDOTMULTI" in w:
        w = w.replace("DOTDOTMULTI", "DOTMULTI.")
    w = w.replace("DOTMULTI", ".")
    w = _java_trim(_R_WHITE.sub(" ", w))
    return w.lower()


_R_SAFE_TOKEN = re.compile(_SAFE_TOKEN)
_SAFE: set[str] = set()  # tokens the normaliser provably leaves alone (as single tokens)


def meteor_tokens(tokens: Sequence[str]) -> list[str]:
    """Tokens as the jar sees them after ``-norm`` (input: already tokenised words)."""
    if not _SAFE.issuperset(tokens):
        unsafe = False
        for t in set(tokens).difference(_SAFE):
            if _R_SAFE_TOKEN.fullmatch(t) is not None and t.lower() == t:
                if len(_SAFE) < 1_000_000:
                    _SAFE.add(t)
            else:
                unsafe = True
        if unsafe:
            # pycocoevalcap strips '|||' and the jar splits its input line on it
            line = " ".join(tokens).replace("|||", "").replace("  ", " ").strip()
            return _JTOK.findall(normalize_line(line)) if line else []
    return list(tokens)


# ---------------------------------------------------------------------------------------------
# matching and alignment

_JHASH: dict[str, int] = {}


def _java_hash(word: str) -> int:
    """``String.hashCode()`` of a word: the jar compares words (and stems) by this key."""
    h = _JHASH.get(word)
    if h is None:
        data = word.encode("utf-16-le", "surrogatepass")
        h = 0
        for k in range(0, len(data), 2):
            h = (31 * h + (data[k] | data[k + 1] << 8)) & 0xFFFFFFFF
        if len(_JHASH) < 1_000_000:
            _JHASH[word] = h
    return h


def _latin_positions(words: list[str]) -> list[int]:
    """Positions of the words in Latin script (or digits, punctuation): CJK words never stem, synonym or
    paraphrase-match."""
    return list(compress(range(len(words)), map(_BELOW_CJK, words)))


_BELOW_CJK = "\u3000".__gt__  # t < U+3000: Latin script, digits, ASCII punctuation


def _keys(words: list[str]) -> np.ndarray:
    try:
        return np.fromiter(map(_JHASH.__getitem__, words), dtype=np.int64, count=len(words))
    except KeyError:
        return np.fromiter(map(_java_hash, words), dtype=np.int64, count=len(words))


class RefSide:
    """What METEOR needs of a reference, computed once per reference text (and cacheable).

    ``tokens``: the reference as the jar sees it after ``-norm``; ``keys`` their word keys; ``fun``:
    function-word positions, ``fflags`` the same as 0/1 per position; ``lat``: positions of Latin-script words
    (the only ones stem, synonym and paraphrase matching looks at).
    """

    __slots__ = ("tokens", "keys", "fun", "fflags", "lat")

    def __init__(self, tokens: list[str]) -> None:
        self.__setstate__((tokens, _function_positions(tokens, function_words())))

    @classmethod
    def from_parts(cls, tokens: list[str], fun: Sequence[int]) -> RefSide:
        """Rebuild from cached ``tokens`` and function-word positions (keys are recomputed)."""
        obj = cls.__new__(cls)
        obj.__setstate__((tokens, set(fun)))
        return obj

    def __getstate__(self) -> tuple:
        return (self.tokens, self.fun)

    def __setstate__(self, state: tuple) -> None:
        self.tokens, self.fun = state
        self.lat = _latin_positions(self.tokens)
        self.keys = _keys(self.tokens)
        self.fflags = np.zeros(len(self.tokens), dtype=np.int64)
        if self.fun:
            self.fflags[list(self.fun)] = 1


def reference_side(ref_tokens: Sequence[str]) -> RefSide:
    """Reference-side METEOR tables for tokenizer output ``ref_tokens`` (see :func:`meteor_stats`)."""
    return RefSide(meteor_tokens(ref_tokens))


def _extra_matches(hyp: list[str], ref: list[str], hpos: dict[str, list[int]],
                   lat_r: list[int] | None = None) -> list[tuple]:
    """Stem, synonym and paraphrase candidates: (module, ref_start, ref_len, hyp_start, hyp_len); ``lat_r``: the
    reference's Latin-script positions when known (:class:`RefSide`)."""
    out: list[tuple] = []
    # CJK characters never occur in the stem/synonym/paraphrase data
    types_h = {t for t in hpos if t < "\u3000"}
    if not types_h:
        return out
    if lat_r is None:
        lat_r = _latin_positions(ref)
    if not lat_r:
        return out
    lat_h = sorted(i for t in types_h for i in hpos[t])
    # stem: different words, same stem
    hst: dict[str, list[int]] = {}
    for i in lat_h:
        hst.setdefault(stem(hyp[i]), []).append(i)
    smemo: dict[str, list[int]] = {}  # per reference word: the hypothesis positions of its other stem-mates
    for j in lat_r:
        rt = ref[j]
        hits = smemo.get(rt)
        if hits is None:
            hits = smemo[rt] = [i for i in hst.get(stem(rt), ()) if hyp[i] != rt]
        for i in hits:
            out.append((STEM, j, 1, i, 1))
    # synonym: different words sharing a synset
    syn = _synonyms()
    by_set: dict[int, list[str]] = {}  # synset -> hypothesis word types
    for t in types_h:
        for sid in syn.sets(t):
            by_set.setdefault(sid, []).append(t)
    if by_set:
        memo: dict[str, list[int]] = {}
        for j in lat_r:
            rt = ref[j]
            hits = memo.get(rt)
            if hits is None:
                words = {t for sid in syn.sets(rt) for t in by_set.get(sid, ()) if t != rt}
                hits = sorted(i for t in words for i in hpos[t])
                memo[rt] = hits
            for i in hits:
                out.append((SYN, j, 1, i, 1))
    # paraphrase: a table phrase at one side, its paraphrase at the other
    para = _paraphrases()
    maxlen = para.maxlen
    rseq, rgrams = _ngrams(ref, lat_r, para, maxlen)
    hseq, hgrams = _ngrams(hyp, lat_h, para, maxlen)
    memo = para.prefetch(rgrams.keys() | hgrams.keys())
    for a, ln, phrase in rseq:  # reference phrases whose paraphrase is in the hypothesis
        entry = memo[phrase]
        if entry[0]:
            out += [(PARA, a, ln, b, k) for k, b in _para_hits(entry, hyp, lat_h, hgrams, maxlen)]
    for a, ln, phrase in hseq:  # and the other way round
        entry = memo[phrase]
        if entry[0]:
            out += [(PARA, b, k, a, ln) for k, b in _para_hits(entry, ref, lat_r, rgrams, maxlen)]
    return out


def _ngrams(line: list[str], starts: list[int], para: _Paraphrases,
            maxlen: int) -> tuple[list[tuple[int, int, str]], dict[str, list[int]]]:
    """Phrases of up to ``maxlen`` paraphrase-table words from each start that may be a table phrase or a
    paraphrase: (start, length, text) by start then length, and text -> starts (ascending). A phrase is extended
    only while it is (by its CRC-32) a prefix of some phrase of the table, one length at a time for all starts."""
    vocab, known = para.vocab, para.prefix_crc
    n = len(line)
    cur = [(a, line[a]) for a in starts if line[a] in vocab]
    found: list[tuple[int, int, str]] = []
    ln = 1
    while cur:
        nxt = []
        for (a, s), ok in zip(cur, _crc_member(known, [s for _a, s in cur])):
            if ok:
                found.append((a, ln, s))
                if ln < maxlen and a + ln < n and line[a + ln] in vocab:
                    nxt.append((a, f"{s} {line[a + ln]}"))
        cur = nxt
        ln += 1
    found.sort(key=itemgetter(0, 1))
    index: dict[str, list[int]] = {}
    for a, _ln, s in found:
        got = index.get(s)
        if got is None:
            index[s] = [a]
        else:
            got.append(a)
    return found, index


def _para_hits(entry: _Entry, other: list[str], starts: list[int], grams: dict[str, list[int]],
               maxlen: int) -> list[tuple[int, int]]:
    """(words, start in ``other``) of each occurrence of a paraphrase of a table row, in table order."""
    ps, long, parsed_at = entry
    out: list[tuple[int, int]] = []
    if long or parsed_at != maxlen:  # a paraphrase may be longer than the indexed phrases: word by word
        for p in ps:
            k = p.count(" ") + 1
            out += [(k, b) for b in (grams.get(p, ()) if k <= maxlen else _find(other, starts, p))]
    else:
        for p in ps:
            got = grams.get(p)
            if got is not None:
                k = p.count(" ") + 1
                out += [(k, b) for b in got]
    return out


def _find(line: list[str], starts: list[int], phrase: str) -> list[int]:
    """Those of ``starts`` where ``line`` reads ``phrase`` (a paraphrase longer than the table's phrases)."""
    words = phrase.split(" ")
    k = len(words)
    return [b for b in starts if line[b : b + k] == words]


def _function_positions(words: list[str], fw: frozenset[str]) -> set[int]:
    """Positions of function words (types found with one C-level set intersection first)."""
    present = fw.intersection(words)
    if not present:
        return set()
    return {k for k, t in enumerate(words) if t in present}


_EMPTY = np.zeros(0, dtype=np.int64)
_NO_EXTRA = (_EMPTY, _EMPTY, _EMPTY, _EMPTY, _EMPTY)
_WTS = np.asarray(SEARCH_WEIGHTS, dtype=np.float64)


def _extra_arrays(hyp: list[str], rs: RefSide) -> tuple[np.ndarray, ...]:
    """Stem, synonym and paraphrase candidates as arrays (ref start, hyp start, hyp length, ref length,
    module), sorted by reference start, then module, then the order :func:`_extra_matches` found them."""
    lat = _latin_positions(hyp)
    if not lat:
        return _NO_EXTRA
    hpos: dict[str, list[int]] = {}
    for i in lat:
        t = hyp[i]
        if t in hpos:
            hpos[t].append(i)
        else:
            hpos[t] = [i]
    extra = _extra_matches(hyp, rs.tokens, hpos, rs.lat)
    if not extra:
        return _NO_EXTRA
    extra.sort(key=itemgetter(1, 0))
    a = np.array(extra, dtype=np.int64).T.copy()  # rows: module, ref start, ref length, hyp start, hyp length
    return a[1], a[3], a[4], a[2], a[0]


def _stats_row(hyp: list[str], ref: list[str] | RefSide) -> np.ndarray:
    """The 24-number stats vector for one (normalised) hypothesis/reference pair."""
    from pet2rep.metrics.meteor_beam import score_pair

    rs = ref if isinstance(ref, RefSide) else RefSide(ref)
    nh, nr = len(hyp), len(rs.tokens)
    row = np.zeros(N_STATS, dtype=np.float64)
    hfun = _function_positions(hyp, function_words())
    row[_TLEN], row[_RLEN] = nh, nr
    row[_TFW], row[_RFW] = len(hfun), len(rs.fun)
    if nh == 0 or nr == 0:
        return row
    hkeys = _keys(hyp)
    identical = nh == nr and bool(np.array_equal(hkeys, rs.keys))
    extra = _extra_arrays(hyp, rs) if rs.lat and not identical else _NO_EXTRA
    hf = np.zeros(nh, dtype=np.int64)
    if hfun:
        hf[list(hfun)] = 1
    score_pair(hkeys, rs.keys, *extra, _WTS, hf, rs.fflags, row)
    return row


# ---------------------------------------------------------------------------------------------
# public API


def warm_up() -> str:
    """Load the compiled alignment kernel now (before forking workers); returns 'numba' or 'python'."""
    from pet2rep.metrics.meteor_beam import kernel_name

    _stats_row(["warm", "up", "a"], RefSide(["up", "warm", "a"]))
    return kernel_name()


def meteor_stats(hyp: Sequence[str], ref: Sequence[str] | RefSide) -> np.ndarray:
    """Sufficient statistics (24 numbers: the jar's stats line + aggregate chunks) for one pair.

    ``ref`` is the reference's tokens or its :func:`reference_side` tables (computed once when one
    reference is scored against many hypotheses).
    """
    return _stats_row(meteor_tokens(hyp), ref if isinstance(ref, RefSide) else reference_side(ref))


def _score(s: np.ndarray, chunks: float) -> float:
    """The jar's ``MeteorScorer.computeMetrics`` on a stats vector with the given chunk count."""
    tlen, rlen, tfw, rfw = s[_TLEN], s[_RLEN], s[_TFW], s[_RFW]
    st = s[4:20].reshape(4, 4)  # module x (tc, rc, tf, rf)
    twl = DELTA * (tlen - tfw) + (1.0 - DELTA) * tfw
    rwl = DELTA * (rlen - rfw) + (1.0 - DELTA) * rfw
    twm = rwm = 0.0
    for k in range(4):
        twm += st[k, 0] * MODULE_WEIGHTS[k] * DELTA
    for k in range(4):
        rwm += st[k, 1] * MODULE_WEIGHTS[k] * DELTA
    for k in range(4):
        twm += st[k, 2] * MODULE_WEIGHTS[k] * (1.0 - DELTA)
    for k in range(4):
        rwm += st[k, 3] * MODULE_WEIGHTS[k] * (1.0 - DELTA)
    if twl == 0 or rwl == 0:
        return 0.0
    p, r = twm / twl, rwm / rwl
    if p == 0 or r == 0:
        return 0.0
    fmean = 1.0 / ((1.0 - ALPHA) / p + ALPHA / r)
    ttot = st[:, 0].sum() + st[:, 2].sum()
    rtot = st[:, 1].sum() + st[:, 3].sum()
    if ttot == tlen and rtot == rlen and chunks == 1:
        frag = 0.0
    else:
        denom = (s[_TWM] + s[_RWM]) / 2.0
        if denom == 0:
            return 0.0
        frag = chunks / denom
    score = fmean * (1.0 - GAMMA * math.pow(frag, BETA))
    if math.isnan(score):
        return 0.0
    return max(score, 0.0)


def meteor_segment(stats_row: np.ndarray) -> float:
    """Segment METEOR score from one stats row (as the jar prints for each segment)."""
    s = np.asarray(stats_row, dtype=np.float64)
    return _score(s, float(s[_CHUNKS]))


def meteor_segment_batch(stats_rows: np.ndarray) -> np.ndarray:
    """Segment METEOR of each row of an (n, 24) stats matrix (as :func:`meteor_segment`, vectorised)."""
    s = np.array(stats_rows, dtype=np.float64, ndmin=2)
    if s.shape[0] == 0:
        return np.zeros(0)
    s[:, _AGGCH] = s[:, _CHUNKS]  # a segment's own chunk count in place of the aggregate column
    return meteor_from_stats_batch(s)


def with_aggregate_chunks(jar_rows: np.ndarray) -> np.ndarray:
    """(n, 23) jar stats lines -> (n, 24) rows with the aggregate chunk column added."""
    rows = np.zeros((jar_rows.shape[0], N_STATS))
    rows[:, :N_JAR_STATS] = jar_rows
    st = jar_rows[:, 4:20].reshape(-1, 4, 4)
    perfect = (
        (st[:, :, [0, 2]].sum(axis=(1, 2)) == jar_rows[:, _TLEN])
        & (st[:, :, [1, 3]].sum(axis=(1, 2)) == jar_rows[:, _RLEN])
        & (jar_rows[:, _CHUNKS] == 1)
    )
    rows[:, _AGGCH] = np.where(perfect, 0.0, jar_rows[:, _CHUNKS])
    return rows


def meteor_from_stats(stats: np.ndarray) -> float:
    """Corpus METEOR from an (n, 24) stats matrix (rows are summed) or an already summed vector.

    An (n, 23) matrix of the jar's own stats lines is accepted too.
    """
    s = np.asarray(stats, dtype=np.float64)
    if s.ndim == 2:
        if s.shape[0] == 0:
            return 0.0
        if s.shape[1] == N_JAR_STATS:
            s = with_aggregate_chunks(s)
        s = s.sum(axis=0)
    if s.shape[-1] != N_STATS:
        raise Pet2RepError(f"METEOR stats must have {N_STATS} columns, got {s.shape[-1]}")
    return _score(s, float(s[_AGGCH]))


def meteor_from_stats_batch(sums: np.ndarray) -> np.ndarray:
    """Corpus METEOR for each row of already summed (B, 24) statistics (e.g. bootstrap sums)."""
    s = np.atleast_2d(np.asarray(sums, dtype=np.float64))
    if s.shape[-1] != N_STATS:
        raise Pet2RepError(f"METEOR stats must have {N_STATS} columns, got {s.shape[-1]}")
    st = s[:, 4:20].reshape(-1, 4, 4)
    w = np.asarray(MODULE_WEIGHTS)
    tlen, rlen, tfw, rfw = s[:, _TLEN], s[:, _RLEN], s[:, _TFW], s[:, _RFW]
    twl = DELTA * (tlen - tfw) + (1.0 - DELTA) * tfw
    rwl = DELTA * (rlen - rfw) + (1.0 - DELTA) * rfw
    twm = (st[:, :, 0] * w * DELTA).sum(axis=1) + (st[:, :, 2] * w * (1.0 - DELTA)).sum(axis=1)
    rwm = (st[:, :, 1] * w * DELTA).sum(axis=1) + (st[:, :, 3] * w * (1.0 - DELTA)).sum(axis=1)
    out = np.zeros(len(s))
    ok = (twl > 0) & (rwl > 0) & (twm > 0) & (rwm > 0) & ((s[:, _TWM] + s[:, _RWM]) > 0)
    if not ok.any():
        return out
    p = twm[ok] / twl[ok]
    r = rwm[ok] / rwl[ok]
    fmean = 1.0 / ((1.0 - ALPHA) / p + ALPHA / r)
    chunks = s[ok, _AGGCH]
    perfect = (
        (st[ok][:, :, [0, 2]].sum(axis=(1, 2)) == tlen[ok])
        & (st[ok][:, :, [1, 3]].sum(axis=(1, 2)) == rlen[ok])
        & (chunks == 1)
    )
    frag = np.where(perfect, 0.0, chunks / ((s[ok, _TWM] + s[ok, _RWM]) / 2.0))
    out[ok] = np.maximum(fmean * (1.0 - GAMMA * np.power(frag, BETA)), 0.0)
    return out


def meteor_corpus(
    hyps_tokens: list[list[str]], refs_tokens: list[list[str]]
) -> tuple[float, np.ndarray]:
    """Corpus METEOR as pycocoevalcap returns it, and the (n, 24) per-sample stats matrix."""
    if len(hyps_tokens) != len(refs_tokens):
        raise Pet2RepError(
            f"METEOR: {len(hyps_tokens)} hypotheses but {len(refs_tokens)} references"
        )
    stats = np.zeros((len(hyps_tokens), N_STATS), dtype=np.float64)
    for n, (h, r) in enumerate(zip(hyps_tokens, refs_tokens)):
        stats[n] = meteor_stats(h, r)
    return meteor_from_stats(stats), stats


__all__ = [
    "METEOR_SIGNATURE",
    "METEOR_TAG",
    "N_JAR_STATS",
    "N_STATS",
    "RefSide",
    "function_words",
    "meteor_corpus",
    "meteor_from_stats",
    "meteor_from_stats_batch",
    "meteor_segment",
    "meteor_segment_batch",
    "meteor_signature",
    "with_aggregate_chunks",
    "meteor_stats",
    "meteor_tokens",
    "normalize_line",
    "reference_side",
    "stem",
    "warm_up",
]
