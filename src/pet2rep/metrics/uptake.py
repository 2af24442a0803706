"""Organ uptake assessment (OUA) extractor: which key organ has which FDG uptake state in a report.

`extract_uptake(text, lang)` reads free-text PET/CT reports (zh or en; findings and impression) and
template-shaped model outputs (`[CT findings]`, `【uptake wording】`) and returns
``{organ_id: [states]}`` for the 19 OUA organs of :mod:`pet2rep.organs` and the states increased,
decreased, absent, normal.

How a report is read (all words come from the YAML lexicons in ``metrics/lexicon``):

* Text is cut into sentences (。；; newline, ". ") and clauses (，,：:); separators inside ``[]``,
  ``【】`` and parentheses do not cut.
* Organ terms (with synonyms and sub-sites) and cue phrases are found with one compiled regex each,
  leftmost-longest (肾上腺 is adrenal, not kidney; 肝胃间隙 is an abdominal node group, not liver).
* A state counts only in a clause with an uptake context cue (FDG, 摄取, 代谢, uptake, avid …) or
  inside ``【】`` (the template's uptake slot); CT wording ("密度增高", "骨质密度减低") yields nothing.
* Negation ("未见…增高", "no increased", "not FDG-avid") and physiological wording turn
  increased/decreased/absent into normal; negation + uptake noun without a state ("未见FDG摄取",
  "no uptake") is absent.
* The object of a comparison ("高于肝脏", "higher than the liver") is no subject, and its words are
  no cue.
* A clause without an organ speaks of the subject of the clause before it (also across a sentence
  end, up to a new line or list item); a subject that is none of the 19 organs (门静脉, heart) blocks it.
* An interpretation ("考虑生理性摄取", "likely physiologic") after a stated uptake of the same
  subject in the same sentence qualifies it and adds no state.
* Weak readings count only when the subject has no other statement in the sentence: "均匀、对称"
  / "symmetric" (normal), "低于肝脏" / "lower than the liver" (normal), an SUV value alone at or above
  the lexicon's threshold (2.5: increased).
* Uptake wording without a state word (the lexicon's ``descriptors``: a pattern word right before an uptake noun,
  "diffuse esophageal uptake", "局灶性放射性摄取", or "tracer accumulation") is a provisional state: it counts only
  when the clause has no other state or weak state; a negation before it makes it normal ("no diffuse uptake");
  a later clause of the same sentence that gives the organ a state replaces it ("Diffuse colonic uptake, likely
  physiologic": normal); on a collecting-system term (``excretory``: renal pelvis, 肾盂) it is normal (urine).
  A bare "uptake in X" states nothing.
* Lists: "Increased uptake in the lung nodule, mediastinal nodes, and liver" and "The liver, spleen,
  and pancreas show normal uptake" give every listed organ the state.

This module imports nothing of the pipeline (only :mod:`pet2rep.organs` and :mod:`pet2rep.errors`).
"""

from __future__ import annotations

import argparse
import bisect
import dataclasses
import functools
import hashlib
import json
import re
import sys
from collections.abc import Iterable, Sequence
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

from pet2rep.errors import InputError, read_input_bytes, read_input_yaml
from pet2rep.organs import ORGANS, STATES

EXTRACTOR_VERSION = "2"
LEXICON_DIR = Path(__file__).resolve().parent / "lexicon"
LANGS: tuple[str, ...] = ("zh", "en")

_STATE_RANK = {s: i for i, s in enumerate(STATES)}
_ORGAN_RANK = {o: i for i, o in enumerate(ORGANS)}
_CJK_RE = re.compile(r"[\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff]")
_LATIN_RE = re.compile(r"[A-Za-z]")
_SEP_UNIT = r"[\s\-]+"
_ABBREV = {"e.g", "i.e", "vs", "approx", "dr", "fig", "cf", "no", "mr", "ms", "st", "max"}
_LIST_MARKER_RE = re.compile(r"^[\s(（]*(?:\d{1,2}|[a-zA-Z]|[一二三四五六七八九十]{1,2})[)）]?[.、．]?\s*$")
_F_HEAVY, _F_NODE, _F_CTX, _F_CMP, _F_DESC = 1, 2, 4, 8, 16
# the roles the clause reader tests for every cue, as one tuple per phrase (see _role_tuple)
_NO_ROLES: dict[str, Any] = {"heavy": False, "f": 0, "t": (False,) * 6 + (None, None) + (False,) * 2}
# roles that keep a cue out of the gap between a descriptor and its uptake noun
_NOT_IN_GAP = ("state", "state_weak", "neg", "post_neg", "break", "interp", "normalizer", "noun", "cmp_before",
               "cmp_after", "suv", "desc_alone")
_LETTER_RE = re.compile(r"[^\W_]")  # a word character other than "_"
_NO_DESC: dict[int, tuple[str, tuple[str, ...]]] = {}  # read only
_BRACKET_RE = re.compile(r"\[[^\[\]\n]*\]|［[^［］\n]*］|【[^【】\n]*】|\([^()\n]*\)|（[^（）\n]*）")


# --------------------------------------------------------------------------------------------- data types
@dataclass(frozen=True)
class Statement:
    """One (organ, state) read from one clause: what was found and why (for debugging and the case viewer).

    `clause` is the clause text, `span` its (start, end) character offsets in the report, `cues` the words that
    gave the state (a negation with the word it negates, e.g. ("未见", "增高")), `organ_term` the word that
    named the organ and `inherited` whether that word stood in an earlier clause (subject carried forward).
    """

    organ: str
    state: str
    clause: str
    span: tuple[int, int]
    cues: tuple[str, ...]
    organ_term: str = ""
    inherited: bool = False

    def as_dict(self) -> dict[str, Any]:
        """JSON-ready form."""
        d = asdict(self)
        d["span"] = list(self.span)
        d["cues"] = list(self.cues)
        return d


@dataclass
class Lexicon:
    """Compiled lexicon of one language: two regexes and the tables behind them."""

    lang: str
    signature: str
    files: tuple[str, ...]
    organ_re: re.Pattern[str]
    organ_terms: dict[str, tuple[str, str]]  # key -> (kind, target); kind: organ, site, non, ref
    organ_patterns: list[tuple[str, str]]  # regex entries: (kind, target) by group index
    cue_re: re.Pattern[str]
    cue_roles: dict[str, dict[str, Any]]
    node_after_re: re.Pattern[str] | None
    node_by_organ: dict[str, str]
    sentence_end: frozenset[str]
    clause_sep: frozenset[str]
    max_gap: int
    filler_re: re.Pattern[str]
    forward_re: re.Pattern[str] | None
    split_re: re.Pattern[str]
    pair_start: tuple[str, ...]
    suv_re: re.Pattern[str] | None
    suv_threshold: float
    excretory: frozenset[str] = frozenset()  # organ-term keys of the urinary collecting system
    desc_gap_re: re.Pattern[str] | None = None  # words allowed between a descriptor and its uptake noun


class _Tok:
    """A matched organ term (kind: organ / site / non / ref, target organ id) or cue phrase (roles)."""

    __slots__ = ("start", "end", "text", "kind", "target", "roles")

    def __init__(self, start: int, end: int, text: str, kind: str = "", target: str = "",
                 roles: dict[str, Any] | None = None) -> None:
        self.start, self.end, self.text, self.kind, self.target = start, end, text, kind, target
        self.roles = roles if roles is not None else {}


@dataclass
class _Subj:
    organ: str  # resolved organ id, or "" (blocked: a subject that is none of the 19)
    term: str
    pos: int  # -1 when inherited
    site: str = ""  # node group a site would resolve to


# ------------------------------------------------------------------------------------------ lexicon I/O
_KEY_SEP_RE = re.compile(r"[\s\-]+")


def _key(s: str) -> str:
    s = s.strip().lower()
    return _KEY_SEP_RE.sub(" ", s) if (" " in s or "-" in s or "\n" in s or "\t" in s) else s


def _is_word_char(c: str) -> bool:
    return c.isascii() and c.isalnum()


def _units(phrase: str) -> list[str]:
    out: list[str] = []
    for ch in phrase.strip().lower():
        if ch.isspace() or ch == "-":
            if out and out[-1] != _SEP_UNIT:
                out.append(_SEP_UNIT)
        else:
            out.append(re.escape(ch))
    while out and out[-1] == _SEP_UNIT:
        out.pop()
    return out


def _trie_regex(phrases: Iterable[str]) -> str:
    """One regex for many literal phrases that matches leftmost-longest, with word boundaries for ASCII words."""
    root: dict[str, Any] = {}
    for p in phrases:
        units = _units(p)
        if not units:
            continue
        node = root
        for u in units:
            node = node.setdefault(u, {})
        node[""] = node.get("") or ("b" if _is_word_char(p.strip()[-1]) else "n")

    def gen(node: dict[str, Any]) -> str:
        kids = [u + gen(child) for u, child in node.items() if u != ""]
        term = node.get("")
        end = "(?![0-9a-z])" if term == "b" else ""
        if not kids:
            return end
        body = kids[0] if len(kids) == 1 else "(?:" + "|".join(kids) + ")"
        if term is None:
            return body
        return "(?:" + body + "|" + end + ")"

    alts = []
    for u, child in root.items():
        if u == "":
            continue
        lead = "(?<![0-9a-z])" if len(u) <= 2 and _is_word_char(u[-1]) else ""
        alts.append(lead + u + gen(child))
    return "(?:" + "|".join(alts) + ")" if alts else "(?!)"


def _first_char_guard(phrases: Iterable[str]) -> str:
    """A lookahead that admits only positions where one of `phrases` can start (speeds up the trie scan).

    It repeats the trie's own first-unit tests (the character, and no word character before an ASCII word), so a
    pattern behind it matches exactly where it matched without it; the engine just rejects most positions at once.
    """
    word: set[str] = set()
    other: set[str] = set()
    for p in phrases:
        units = _units(p)
        if units:
            u = units[0]
            (word if len(u) <= 2 and _is_word_char(u[-1]) else other).add(u)
    alts = []
    if word:
        alts.append("(?<![0-9a-z])[" + "".join(sorted(word)) + "]")
    if other:
        alts.append("[" + "".join(sorted(other)) + "]")
    return "(?=" + "|".join(alts) + ")" if alts else "(?!)"


def _as_list(v: Any, where: str) -> list[str]:
    if v is None:
        return []
    if isinstance(v, str):
        return [v]
    if not isinstance(v, list) or not all(isinstance(x, (str, int, float)) and not isinstance(x, bool) for x in v):
        raise InputError(f"{where}: expected a list of phrases (quote YAML words such as \"no\", \"yes\", \"on\")")
    return [str(x) for x in v]


def _merge(base: dict[str, Any], extra: dict[str, Any]) -> None:
    """Merge lexicon mappings: lists are joined, mappings merged, scalars replaced."""
    for k, v in extra.items():
        if k in ("lang",):
            continue
        if isinstance(v, dict):
            tgt = base.setdefault(k, {})
            if not isinstance(tgt, dict):
                base[k] = dict(v)
                continue
            _merge(tgt, v)
        elif isinstance(v, list):
            tgt = base.setdefault(k, [])
            base[k] = list(tgt) + [x for x in v if x not in tgt] if isinstance(tgt, list) else list(v)
        else:
            base[k] = v


def _read_yaml(path: Path) -> dict[str, Any]:
    data = read_input_yaml(path, "a lexicon file")
    if data is None:
        return {}
    if not isinstance(data, dict):
        raise InputError(f"{path}: a lexicon file must be a YAML mapping")
    return data


def _mapping(data: dict[str, Any], key: str, where: str) -> dict[str, Any]:
    """`data[key]` as a mapping ({} when absent); a one-line error when it is something else."""
    value = data.get(key)
    if value is None:
        return {}
    if not isinstance(value, dict):
        raise InputError(f"{where}: '{key}' must be a mapping (name: list of terms), not {type(value).__name__}")
    return value


def _validate(data: dict[str, Any], where: str) -> None:
    for sect in ("organs", "sites"):
        for organ in _mapping(data, sect, where):
            if organ not in _ORGAN_RANK:
                raise InputError(f"{where}: unknown organ id {organ!r} in {sect} "
                                 f"(expected one of {', '.join(_ORGAN_RANK)})")
    for state in _mapping(data, "states", where):
        if state not in _STATE_RANK:
            raise InputError(f"{where}: unknown uptake state {state!r} (expected one of {', '.join(STATES)})")
    for organ, node in _mapping(_mapping(data, "lymph_nodes", where), "by_organ", f"{where}: lymph_nodes").items():
        if organ not in _ORGAN_RANK or node not in _ORGAN_RANK:
            raise InputError(f"{where}: unknown organ id in lymph_nodes.by_organ: {organ!r} -> {node!r}")


def _lexicon_paths(lang: str) -> tuple[Path, Path]:
    if lang not in LANGS:
        raise InputError(f"unknown report language {lang!r} (expected zh, en or auto)")
    return LEXICON_DIR / f"organs.{lang}.yaml", LEXICON_DIR / f"uptake.{lang}.yaml"


def lexicon_signature(lang: str, extra: Sequence[str | Path] = ()) -> str:
    """Version + content hash of the lexicon files of `lang`: equal signatures mean equal extraction."""
    return load_lexicon(lang, tuple(str(p) for p in extra)).signature


def load_lexicon(lang: str, extra: tuple[str, ...] = ()) -> Lexicon:
    """The compiled lexicon of `lang` ("zh"/"en"), with extra YAML files merged in (cached)."""
    return _load_lexicon(lang, tuple(str(Path(p).resolve()) for p in extra))


@functools.lru_cache(maxsize=16)
def _load_lexicon(lang: str, extra: tuple[str, ...]) -> Lexicon:
    org_path, upt_path = _lexicon_paths(lang)
    organs = _read_yaml(org_path)
    cues = _read_yaml(upt_path)
    _validate(organs, str(org_path))
    _validate(cues, str(upt_path))
    h = hashlib.sha256()
    for p in (org_path, upt_path):
        h.update(p.read_bytes())
    versions = f"{organs.get('version', 0)}.{cues.get('version', 0)}"
    for name in extra:
        path = Path(name)
        data = _read_yaml(path)
        if data.get("lang") not in (None, lang):
            continue
        _validate(data, str(path))
        h.update(path.read_bytes())
        org_part = {k: v for k, v in data.items()
                    if k in ("organs", "sites", "non_organs", "references", "lymph_nodes", "excretory")}
        _merge(organs, org_part)
        _merge(cues, {k: v for k, v in data.items() if k not in org_part and k != "version"})
    sig = f"oua-{lang}-x{EXTRACTOR_VERSION}-lex{versions}{'+' if extra else ''}-{h.hexdigest()[:12]}"
    return _compile(lang, organs, cues, sig, (str(org_path), str(upt_path), *extra))


def _compile(lang: str, organs: dict[str, Any], cues: dict[str, Any], sig: str, files: tuple[str, ...]) -> Lexicon:
    # ---- organ terms
    terms: dict[str, tuple[str, str]] = {}
    patterns: list[tuple[str, str, str]] = []  # (regex, kind, target)
    priority = {"ref": 0, "non": 1, "site": 2, "organ": 3}

    def add(term: str, kind: str, target: str) -> None:
        if term.startswith("re:"):
            patterns.append((term[3:], kind, target))
            return
        k = _key(term)
        old = terms.get(k)
        if old is None or priority[kind] > priority[old[0]]:
            terms[k] = (kind, target)

    for organ, lst in (organs.get("organs") or {}).items():
        for t in _as_list(lst, f"organs.{organ}"):
            add(t, "organ", organ)
    for organ, lst in (organs.get("sites") or {}).items():
        for t in _as_list(lst, f"sites.{organ}"):
            add(t, "site", organ)
    for t in _as_list(organs.get("non_organs"), "non_organs"):
        add(t, "non", "")
    for t in _as_list(organs.get("references"), "references"):
        add(t, "ref", "")
    excretory = frozenset(_key(t) for t in _as_list(organs.get("excretory"), "excretory"))
    for k in excretory:
        if terms.get(k, ("",))[0] != "organ":
            raise InputError(f"organ lexicon ({lang}): excretory term {k!r} is not an organ term (list it under organs)")
    organ_src = "(?:" + _first_char_guard(terms) + "(?P<t>" + _trie_regex(terms) + "))"
    for i, (rx, _, _) in enumerate(patterns):
        organ_src += f"|(?P<r{i}>{rx})"
    try:
        organ_re = re.compile(organ_src, re.IGNORECASE)
    except re.error as exc:
        raise InputError(f"organ lexicon ({lang}): bad regex term ({exc})") from None

    ln = organs.get("lymph_nodes") or {}
    node_words = _as_list(ln.get("words"), "lymph_nodes.words")
    node_after_re = None
    if node_words:
        node_after_re = re.compile("(?:" + str(ln.get("link") or "") + ")" + _trie_regex(node_words), re.IGNORECASE)

    # ---- cue phrases with roles
    roles: dict[str, dict[str, Any]] = {}

    def role(lst: Any, name: str, value: Any = True) -> None:
        for p in _as_list(lst, name):
            roles.setdefault(_key(p), {})[name] = value

    for state, lst in (cues.get("states") or {}).items():
        role(lst, "state", state)
    role(cues.get("weak_normal"), "weak")
    role(cues.get("context"), "context")
    role(cues.get("uptake_nouns"), "noun")
    role(cues.get("negation"), "neg")
    role(cues.get("post_negation"), "post_neg")
    role(cues.get("qualifiers"), "qual")
    role(cues.get("normalizers"), "normalizer")
    role(cues.get("scope_breakers"), "break")
    role(cues.get("neutral"), "neutral")
    role(cues.get("interpretation"), "interp")
    desc = cues.get("descriptors") or {}
    if not isinstance(desc, dict):
        raise InputError(f"uptake lexicon ({lang}): descriptors must be a mapping (before_noun, alone, gap)")
    for sect, name in (("before_noun", "desc"), ("alone", "desc_alone")):
        for state, lst in (desc.get(sect) or {}).items():
            if state not in _STATE_RANK:
                raise InputError(f"uptake lexicon ({lang}): unknown uptake state {state!r} in descriptors.{sect}")
            role(lst, name, state)
    role((desc.get("before_noun") or {}).get("increased"), "qual")  # "no diffuse uptake": normal, not absent
    role(node_words, "node")
    comp = cues.get("comparison") or {}
    role(comp.get("before"), "cmp_before")
    role(comp.get("after"), "cmp_after")
    role(comp.get("lower"), "cmp_low")
    role(comp.get("references"), "reference")
    for r in roles.values():  # weak normal phrases carry no strong state
        if r.get("weak") and "state" not in r:
            r["state_weak"] = "normal"
    # a normal phrase that starts with a negation also opens a negation scope ("未见异常…浓聚", "no abnormal FDG-avid")
    negs = [k for k, r in roles.items() if r.get("neg")]
    word = lang != "zh"
    for k, r in roles.items():
        if r.get("state") == "normal" and not r.get("neg"):
            if any(k.startswith(n + " ") if word else (k.startswith(n) and k != n) for n in negs):
                r["neg"] = True
    # a phrase that contains a comparison word compares too ("greater than", "摄取高于")
    for name in ("cmp_before", "cmp_low"):
        cmp_words = [k for k, r in roles.items() if r.get(name)]
        for k, r in roles.items():
            if not r.get(name) and any((f" {c} " in f" {k} ") if word else (len(c) > 1 and c in k) for c in cmp_words):
                if name == "cmp_low" and r.get("state"):
                    continue
                r[name] = True
    # a phrase that contains an uptake-context word is uptake wording too ("FDG uptake", "摄取增强")
    ctx = [k for k, r in roles.items() if r.get("context")]
    for k, r in roles.items():
        if not r.get("context") and any((f" {c} " in f" {k} ") if word else (c in k) for c in ctx):
            r["context"] = True
    role((cues.get("suv_value") or {}).get("cues"), "suv")
    # (a descriptor before a noun is not heavy by itself: it states something only next to a noun, which is)
    heavy = ("state", "state_weak", "noun", "post_neg", "cmp_before", "cmp_after", "suv", "desc_alone")
    for r in roles.values():  # clauses without such cues only name subjects: a light read suffices
        r["heavy"] = any(r.get(h) for h in heavy)
        r["f"] = (_F_HEAVY if r["heavy"] else 0) | (_F_NODE if r.get("node") else 0) | (_F_CTX if r.get("context") else 0)
        r["f"] |= _F_CMP if (r.get("cmp_before") or r.get("cmp_after")) else 0
        r["f"] |= _F_DESC if (r.get("desc") or r.get("desc_alone")) else 0
        # may stand between a descriptor and its noun: tracer words ("diffuse FDG uptake"), other descriptors
        r["gap"] = not any(r.get(x) for x in _NOT_IN_GAP) and bool(r.get("desc") or r.get("context"))
        r["t"] = _role_tuple(r)
    cue_re = re.compile(_first_char_guard(roles) + _trie_regex(roles), re.IGNORECASE)
    fillers = _as_list(cues.get("enumeration_fillers"), "enumeration_fillers")
    filler_re = re.compile(_trie_regex(fillers) if fillers else "(?!)", re.IGNORECASE)
    gap_words = _as_list(desc.get("gap"), "descriptors.gap")
    desc_gap_re = re.compile(_trie_regex(gap_words), re.IGNORECASE) if gap_words else None
    fwd = str(cues.get("binding_forward") or "")
    suv = cues.get("suv_value") or {}
    sentence_end = frozenset(str(cues.get("sentence_end") or "。；;！？!?\n")) | {"\n"}
    clause_sep = frozenset(str(cues.get("clause_sep") or "，,：:"))
    split_re = re.compile("[" + re.escape("".join(sorted(sentence_end | clause_sep | {"."}))) + "]")
    return Lexicon(
        lang=lang,
        signature=sig,
        files=files,
        organ_re=organ_re,
        organ_terms=terms,
        organ_patterns=[(k, t) for _, k, t in patterns],
        cue_re=cue_re,
        cue_roles=roles,
        node_after_re=node_after_re,
        node_by_organ={str(k): str(v) for k, v in (ln.get("by_organ") or {}).items()},
        sentence_end=sentence_end,
        clause_sep=clause_sep,
        max_gap=int(comp.get("max_gap", 6)),
        filler_re=filler_re,
        forward_re=re.compile(fwd, re.IGNORECASE) if fwd else None,
        split_re=split_re,
        pair_start=tuple(_as_list(comp.get("pair_start"), "comparison.pair_start")),
        suv_re=re.compile(str(suv.get("pattern")), re.IGNORECASE) if suv.get("pattern") and suv.get("threshold") else None,
        suv_threshold=float(suv.get("threshold") or 0.0),
        excretory=excretory,
        desc_gap_re=desc_gap_re,
    )


def _role_tuple(r: dict[str, Any]) -> tuple[Any, ...]:
    """(interp, break, neg, normalizer, qual, noun, state, state_weak, post_neg, node) of one cue phrase."""
    return (bool(r.get("interp")), bool(r.get("break")), bool(r.get("neg")), bool(r.get("normalizer")),
            bool(r.get("qual")), bool(r.get("noun")), r.get("state"), r.get("state_weak"), bool(r.get("post_neg")),
            bool(r.get("node")))


# -------------------------------------------------------------------------------------------- language
def detect_lang(text: str) -> str:
    """"zh" when CJK characters make up at least 30% of the letters (CJK + Latin), else "en"."""
    cjk = len(_CJK_RE.findall(text))
    if not cjk:
        return "en"
    latin = len(_LATIN_RE.findall(text))
    return "zh" if cjk / (cjk + latin) >= 0.3 else "en"


def _norm_lang(lang: str) -> str:
    """"zh-CN", "ZH", "en_US" -> "zh" / "en"; anything else is returned as given (and rejected later)."""
    low = str(lang).strip().lower()
    return low[:2] if low[:2] in LANGS and (len(low) == 2 or low[2] in "-_") else low


# -------------------------------------------------------------------------------------------- splitting
def _protected(text: str) -> bytearray:
    """Mask of characters inside brackets (separators there do not cut): 2 inside 【】, 1 inside others."""
    mask = bytearray(len(text))
    for m in _BRACKET_RE.finditer(text):
        fill = b"\x02" if text[m.start()] == "【" else b"\x01"
        mask[m.start() + 1 : m.end() - 1] = fill * (m.end() - m.start() - 2)
    return mask


def _segments(text: str, lex: Lexicon, mask: bytearray) -> list[tuple[int, int, bool, list[tuple[int, int]]]]:
    """Sentences as (start, end, starts_paragraph, clauses), clauses as (start, end)."""
    out: list[tuple[int, int, bool, list[tuple[int, int]]]] = []
    s_start = c_start = 0
    para = True
    clauses: list[tuple[int, int]] = []
    n = len(text)
    for m in lex.split_re.finditer(text):
        i = m.start()
        ch = text[i]
        if mask[i] and ch != "\n":
            continue
        prv = text[i - 1] if i else ""
        nxt = text[i + 1] if i + 1 < n else ""
        if ch in lex.sentence_end or ch == ".":
            if ch == ".":
                if prv.isdigit() and nxt.isdigit():
                    continue
                if lex.lang != "zh":
                    if nxt and not nxt.isspace():
                        continue
                    word = re.search(r"([A-Za-z.]+)$", text[s_start:i])
                    if word and word.group(1).lower() in _ABBREV:
                        continue
            if i > c_start:
                clauses.append((c_start, i))
            if i > s_start:
                out.append((s_start, i, para, clauses))
            para = ch == "\n"
            s_start = c_start = i + 1
            clauses = []
        else:  # clause separator
            if ch == "," and prv.isdigit() and nxt.isdigit():
                continue
            if i > c_start:
                clauses.append((c_start, i))
            c_start = i + 1
    if n > c_start:
        clauses.append((c_start, n))
    if n > s_start:
        out.append((s_start, n, para, clauses))
    return out


# ---------------------------------------------------------------------------------------------- tokens
def _mentions(text: str, lex: Lexicon) -> list[_Tok]:
    out: list[_Tok] = []
    terms, node_after, node_by_organ = lex.organ_terms, lex.node_after_re, lex.node_by_organ
    for m in lex.organ_re.finditer(text):
        g = m.lastgroup or "t"
        txt = m.group()
        if g == "t":
            kind, target = terms.get(txt) or terms.get(_key(txt), ("non", ""))
        else:
            kind, target = lex.organ_patterns[int(g[1:])]
        start, end = m.span()
        if kind == "organ" and node_after is not None and target in node_by_organ:
            if node_after.match(text, end):  # "胃周淋巴结", "gastric lymph nodes": the node group of that organ
                target = node_by_organ[target]
        out.append(_Tok(start, end, txt, kind, target))
    return out


def _cues(text: str, lex: Lexicon) -> list[_Tok]:
    roles = lex.cue_roles
    out = []
    for m in lex.cue_re.finditer(text):
        g = m.group()
        r = roles.get(g) or roles.get(_key(g)) or _NO_ROLES
        start, end = m.span()
        out.append(_Tok(start, end, g, "", "", r))
    return out


# --------------------------------------------------------------------------------------------- reading
@dataclass
class _ClauseRead:
    subjects: list[_Subj]
    states: list[tuple[str, int, tuple[str, ...]]]  # (state, pos, cues)
    has_node: bool
    interp: bool
    maybe_enum: bool  # names organs and says nothing else? (checked lazily with _only_names)
    own_mentions: bool
    has_context: bool = False
    names: list[_Tok] = dataclasses.field(default_factory=list)
    provisional: bool = False  # states only from descriptors ("diffuse esophageal uptake")


def _read_clause(
    text: str, c0: int, c1: int, ments: list[_Tok], cues: list[_Tok], lex: Lexicon, mask: bytearray,
    ctx_in: bool = False,
) -> _ClauseRead:
    flags = 0
    for c in cues:
        flags |= c.roles["f"]
    if not flags & _F_HEAVY:  # light read: subjects, context and node words only
        return _light_read(ments, flags, ctx_in)
    # cues wholly inside a mention are part of that name ("lower" in "right lower lobe", 正常 in 正常肝脏)
    if ments and cues:  # mentions come from one finditer: sorted and disjoint, so only the last one starting at or
        kept: list[_Tok] = []  # before a cue can hold it
        mi, last = 0, len(ments) - 1
        for c in cues:
            cs, ce = c.start, c.end
            while mi < last and ments[mi + 1].start <= cs:
                mi += 1
            m = ments[mi]
            if m.start <= cs and ce <= m.end and m.end - m.start > ce - cs:
                continue
            kept.append(c)
        if len(kept) != len(cues):
            cues = kept
            flags = 0
            for c in cues:
                flags |= c.roles["f"]
    dropped_m: set[int] = set()
    low_weak: list[_Tok] = []  # "低于肝脏", "lower than the liver": not increased -> weak normal
    dropped_c: set[int] = set()
    # comparisons: drop the compared-with object
    for ci, c in enumerate(cues if flags & _F_CMP else ()):
        if c.roles.get("cmp_before"):
            ends = [m.end for m in ments if c.end <= m.start <= c.end + lex.max_gap][:1]
            ends += [d.end for d in cues[ci + 1 :] if d.roles.get("reference") and d.start <= c.end + lex.max_gap][:1]
            if ends:
                ref_end = min(ends)
                if c.roles.get("cmp_low") and not c.roles.get("state"):
                    low_weak.append(c)
                for mi, m in enumerate(ments):
                    if c.end <= m.start < ref_end:
                        dropped_m.add(mi)
                for cj, d in enumerate(cues):
                    if cj != ci and c.end <= d.start < ref_end:
                        dropped_c.add(cj)
        elif c.roles.get("cmp_after"):
            for mi in range(len(ments) - 1, -1, -1):
                m = ments[mi]
                if m.end <= c.start and c.start - m.end <= lex.max_gap:
                    lead = text[max(c0, m.start - 2) : m.start]
                    if any(p in lead for p in lex.pair_start):
                        dropped_m.add(mi)
                        for cj, d in enumerate(cues):
                            if m.start <= d.start < c.start:
                                dropped_c.add(cj)
                    break
    if dropped_m:
        ments = [m for i, m in enumerate(ments) if i not in dropped_m and m.kind != "ref"]
    else:
        ments = [m for m in ments if m.kind != "ref"]
    if dropped_c:
        cues = [c for i, c in enumerate(cues) if i not in dropped_c]
        flags = 0
        for c in cues:
            flags |= c.roles["f"]
    has_node = bool(flags & _F_NODE)

    subjects: list[_Subj] = []
    for m in ments:
        if m.kind == "organ":
            subjects.append(_Subj(m.target, m.text, m.start))
        elif m.kind == "site":
            subjects.append(_Subj(m.target if has_node else "", m.text, m.start, site=m.target))
        else:
            subjects.append(_Subj("", m.text, m.start))

    # states, with negation / normalizer / absent-by-negation
    # a clause that names no organ continues the previous clause, its uptake context included ("…, higher than X")
    has_context = bool(flags & _F_CTX) or (ctx_in and not ments)
    states: list[tuple[str, int, tuple[str, ...]]] = []
    weak: list[tuple[str, int, tuple[str, ...]]] = []
    neg: _Tok | None = None
    norm: _Tok | None = None
    qual = False
    noun: _Tok | None = None
    state_since_neg = False
    scope_start = 0  # index in states of the current negation scope
    interp_pos = None
    first_state_pos = None
    desc_at = _descriptors(text, cues, ments, lex) if flags & _F_DESC else _NO_DESC
    desc: list[tuple[str, int, tuple[str, ...]]] = []  # provisional states, used when the clause states nothing else
    desc_scope = 0  # index in desc of the current negation scope
    for c in cues:
        r_interp, r_break, r_neg, r_normalizer, r_qual, r_noun, st, r_weak, r_post_neg, _ = c.roles["t"]
        if r_interp and interp_pos is None:
            interp_pos = c.start
        if r_break:
            if neg is not None and noun is not None and not state_since_neg:
                states.append(("normal" if qual else "absent", noun.start, (neg.text, noun.text)))
                first_state_pos = noun.start if first_state_pos is None else first_state_pos
            neg, norm, qual, noun, state_since_neg = None, None, False, None, False
            scope_start, desc_scope = len(states), len(desc)
        if r_neg:
            neg, qual, noun, state_since_neg = c, r_qual, None, False
        if r_normalizer:
            norm = c
        if r_qual and neg is not None:
            qual = True
        valid = has_context or mask[c.start] == 2
        if st and valid:
            cue_words: tuple[str, ...] = (c.text,)
            final = st
            if st != "normal" and neg is not None:
                final, cue_words = "normal", (neg.text, c.text)
            elif st != "normal" and norm is not None:
                final, cue_words = "normal", (norm.text, c.text)
            states.append((final, c.start, cue_words))
            if first_state_pos is None:
                first_state_pos = c.start
            if neg is not None:
                state_since_neg = True
        elif r_weak and valid:
            weak.append(("normal", c.start, (c.text,)))
        if desc_at and valid and neg is None and norm is None and c.start in desc_at:
            d_state, d_words = desc_at[c.start]
            desc.append((d_state, c.start, d_words))
        if r_noun and not st and neg is not None and not state_since_neg and noun is None:
            noun = c
        if r_post_neg and valid:
            flipped = False
            for k in range(scope_start, len(states)):
                s, p, w = states[k]
                if s != "normal":
                    states[k] = ("normal", p, (*w, c.text))
                flipped = True
            if not flipped and len(desc) > desc_scope:  # "focal esophageal uptake is not seen"
                for _s, p, w in desc[desc_scope:]:
                    states.append(("normal", p, (*w, c.text)))
                del desc[desc_scope:]
                first_state_pos = first_state_pos if first_state_pos is not None else c.start
                flipped = True
            if not flipped:
                prev_nouns = [d for d in cues if d.end <= c.start and d.roles.get("noun")]
                if prev_nouns:
                    states.append(("absent", c.start, (prev_nouns[-1].text, c.text)))
                    first_state_pos = first_state_pos if first_state_pos is not None else c.start
    if neg is not None and noun is not None and not state_since_neg:
        states.append(("normal" if qual else "absent", noun.start, (neg.text, noun.text)))
        if first_state_pos is None:
            first_state_pos = noun.start
    if has_context:
        weak.extend(("normal", c.start, (c.text,)) for c in low_weak)
    if lex.suv_re is not None and any(c.roles.get("suv") for c in cues):
        for m in lex.suv_re.finditer(text, c0, c1):  # "SUVmax 7.8" alone: a lesion's uptake is increased
            try:
                value = float(m.group("value"))
            except (IndexError, ValueError):
                continue
            if value >= lex.suv_threshold:
                weak.append(("increased", m.start(), (m.group(),)))
    weak_only = provisional = False
    if not states and weak:
        states, weak_only = weak, True
        first_state_pos = weak[0][1]
    elif not states and desc:
        states, weak_only, provisional = desc, True, True
        first_state_pos = desc[0][1]
    interp = interp_pos is not None and (first_state_pos is None or interp_pos < first_state_pos)

    maybe_enum = bool(ments) and not states and not has_context
    return _ClauseRead(subjects, states, has_node, interp or weak_only, maybe_enum, bool(ments), has_context, ments,
                       provisional)


def _descriptors(text: str, cues: list[_Tok], ments: list[_Tok], lex: Lexicon) -> dict[int, tuple[str, tuple[str, ...]]]:
    """Descriptor cues of a clause that state an uptake: {cue start: (state, cue words)}.

    A `descriptors.alone` phrase ("tracer accumulation") counts by itself; a `before_noun` word ("diffuse", "局灶性")
    only when an uptake noun follows with nothing between but organ names, tracer words, other descriptors and
    `descriptors.gap` words ("diffuse esophageal uptake", "focal area of FDG uptake", "弥漫性FDG摄取").
    """
    out: dict[int, tuple[str, tuple[str, ...]]] = {}
    used: set[int] = set()
    n = len(cues)
    for i, c in enumerate(cues):
        r = c.roles
        if r.get("desc_alone"):
            if i not in used:
                out[c.start] = (r["desc_alone"], (c.text,))
            continue
        if not r.get("desc"):
            continue
        for j in range(i + 1, n):
            d = cues[j]
            if d.roles.get("noun"):
                if _gap_ok(text, c.end, d.start, ments, cues[i + 1 : j], lex):
                    out[c.start] = (r["desc"], (c.text, d.text))
                    used.add(j)
                break
            if not d.roles.get("gap"):
                break
    return out


def _gap_ok(text: str, a: int, b: int, ments: list[_Tok], gap_cues: list[_Tok], lex: Lexicon) -> bool:
    """True when text[a:b] holds only organ names, the given cues and descriptor gap words."""
    if a >= b:
        return True
    spans = sorted([(m.start, m.end) for m in ments if a <= m.start and m.end <= b] +
                   [(d.start, d.end) for d in gap_cues])
    parts, last = [], a
    for s0, s1 in spans:
        parts.append(text[last:s0])
        last = max(last, s1)
    parts.append(text[last:b])
    residual = " ".join(parts)
    if lex.desc_gap_re is not None:
        residual = lex.desc_gap_re.sub(" ", residual)
    return _LETTER_RE.search(residual) is None


def _light_read(ments: list[_Tok], flags: int, ctx_in: bool) -> _ClauseRead:
    ments = [m for m in ments if m.kind != "ref"]
    has_node = bool(flags & _F_NODE)
    has_context = bool(flags & _F_CTX) or (ctx_in and not ments)
    subjects = [
        _Subj(m.target if m.kind == "organ" or (m.kind == "site" and has_node) else "", m.text, m.start,
              site=m.target if m.kind == "site" else "")
        for m in ments
    ]
    return _ClauseRead(subjects, [], has_node, False, bool(ments) and not has_context, bool(ments), has_context, ments)


def _only_names(text: str, c0: int, c1: int, ments: list[_Tok], lex: Lexicon) -> bool:
    """True when a clause holds nothing but organ names and fillers ("…, mediastinal nodes, and liver")."""
    parts, last = [], c0
    for m in ments:
        parts.append(text[last : m.start])
        last = max(last, m.end)
    parts.append(text[last:c1])
    residual = lex.filler_re.sub(" ", " ".join(parts))
    return _LETTER_RE.search(residual) is None


def _bind(
    subjects: list[_Subj], states: list[tuple[str, int, tuple[str, ...]]], text: str, lex: Lexicon
) -> list[tuple[_Subj, tuple[str, int, tuple[str, ...]]]]:
    """Pair subjects with states of one clause: all pairs, or by position when the clause has several of each."""
    organs = [s for s in subjects if s.organ]
    if not organs or not states:
        return []
    distinct_states = {s for s, _, _ in states}
    distinct_organs = {s.organ for s in organs}
    if len(distinct_states) == 1 or len(distinct_organs) == 1:
        return [(o, st) for o in organs for st in states]
    # runs of subjects with no state between them
    runs: list[list[_Subj]] = []
    positions = sorted(organs, key=lambda s: s.pos)
    state_pos = [p for _, p, _ in states]
    for s in positions:
        if runs and not any(runs[-1][-1].pos < p < s.pos for p in state_pos):
            runs[-1].append(s)
        else:
            runs.append([s])
    starts = [r[0].pos for r in runs]
    out: list[tuple[_Subj, tuple[str, int, tuple[str, ...]]]] = []
    for st in states:
        p = st[1]
        after = [i for i, s0 in enumerate(starts) if s0 > p]
        before = [i for i, s0 in enumerate(starts) if s0 < p]
        target = None
        if after and lex.forward_re is not None:
            cue = lex.cue_re.match(text, p)  # the state cue itself, then "uptake in the <organ>"?
            if cue is not None and lex.forward_re.match(text, cue.end()) is not None:
                target = after[0]
        if target is None:
            target = before[-1] if before else (after[0] if after else None)
        if target is not None:
            out.extend((o, st) for o in runs[target])
    return out


_CACHE_SIZE = 4096
_cache: dict[tuple[str, int], tuple[Lexicon, tuple[Statement, ...]]] = {}


def extract_statements(text: str, lang: str = "auto", lexicon: Lexicon | None = None) -> list[Statement]:
    """Every (organ, state) statement of a report, in text order, with its clause and cue words.

    Results are memoised per (text, lexicon object) for the last few thousand texts: references and template-like
    model outputs recur across the runs of a benchmark.
    """
    if not text or not text.strip():
        return []
    if lexicon is None:
        lang = detect_lang(text) if lang in ("auto", "", None) else _norm_lang(lang)
        lexicon = load_lexicon(lang)
    key = (text, id(lexicon))
    hit = _cache.get(key)
    if hit is not None and hit[0] is lexicon:
        return list(hit[1])
    out = _extract_uncached(text, lexicon)
    if len(_cache) >= _CACHE_SIZE:
        del _cache[next(iter(_cache))]  # oldest first
    _cache[key] = (lexicon, tuple(out))
    return out


def _extract_uncached(text: str, lex: Lexicon) -> list[Statement]:
    """extract_statements without the memo (`text` not blank)."""
    mask = _protected(text)
    ments = _mentions(text, lex)
    cues = _cues(text, lex)
    m_starts = [m.start for m in ments]
    c_starts = [c.start for c in cues]
    out: list[Statement] = []
    carried: list[_Subj] = []
    for s0, s1, para, clauses in _segments(text, lex, mask):
        if _LIST_MARKER_RE.match(text[s0:s1]):
            carried = []
            continue
        if para:
            carried = []
        said: set[str] = set()  # organs with a statement in this sentence
        prov: dict[str, list[Statement]] = {}  # provisional statements of this sentence, by organ
        prev_states: list[tuple[str, int, tuple[str, ...]]] | None = None
        prev_prov = False
        cands: list[tuple[_ClauseRead, int, int]] = []  # clauses that may only list organs
        prev_ctx = False
        tail: list[_Subj] | None = None  # the last list clause's subjects while `carried` holds the whole list
        for c0, c1 in clauses:
            cm = ments[bisect.bisect_left(m_starts, c0) : bisect.bisect_left(m_starts, c1)]
            cc = cues[bisect.bisect_left(c_starts, c0) : bisect.bisect_left(c_starts, c1)]
            if not cm and not cc:
                prev_states = None
                continue
            read = _read_clause(text, c0, c1, cm, cc, lex, mask, prev_ctx)
            if read.maybe_enum:
                if prev_states:  # "Increased uptake in the lung nodule, mediastinal nodes, and liver"
                    if _only_names(text, c0, c1, read.names, lex):
                        pairs = [(s, st) for s in read.subjects if s.organ for st in prev_states]
                        _emit(out, pairs, text, (c0, c1), said, False, prev_prov, None, lex, prov)
                        # the list goes on from its head clause: a later clause of the sentence speaks of all its
                        # members, in the head's uptake context ("Diffuse uptake in the stomach, duodenum, and colon,
                        # likely physiologic"); the next sentence carries only the last member, as before
                        carried, tail = carried + read.subjects, read.subjects
                        continue
                    prev_states, cands = None, []
                    carried, prev_ctx, tail = read.subjects, read.has_context, None
                    continue
                carried, prev_ctx, tail = read.subjects, read.has_context, None
                cands.append((read, c0, c1))
                continue
            prev_ctx = read.has_context
            if read.own_mentions:
                subjects = read.subjects
                carried, tail = subjects, None
                inherited = False
            else:
                subjects = [
                    _Subj(s.organ or (s.site if read.has_node and s.site else ""), s.term, -1, s.site) for s in carried
                ]
                inherited = True
            if not read.states:
                prev_states, cands = None, []
                continue
            pairs = _bind(subjects, read.states, text, lex)
            pending: list[_Subj] = []
            for rd, a, b in reversed(cands):  # the organs listed just before, "The liver, spleen, and ..."
                if not _only_names(text, a, b, rd.names, lex):
                    break
                pending[:0] = rd.subjects
            cands = []
            if pending:  # "The liver, spleen, and pancreas show normal uptake": the listed organs share the first state
                first = pairs[0][0] if pairs else None
                run_states = [st for subj, st in pairs if subj is first] or read.states
                pairs = [(p, st) for p in pending if p.organ for st in run_states] + pairs
                carried, tail = pending + subjects, None
            if read.interp:
                pairs = [(s, st) for s, st in pairs if s.organ not in said]
            # a clause that goes on about the same subject, or interprets it, replaces a provisional reading of it
            # ("Diffuse colonic uptake, likely physiologic"); one naming the organ anew adds to it ("…, with a
            # photopenic lesion in L2")
            replaces = read.interp or not read.own_mentions
            _emit(out, pairs, text, (c0, c1), said, inherited, read.provisional, prov if replaces else None, lex, prov)
            prev_states, prev_prov = read.states, read.provisional
        if tail is not None:
            carried = tail
    return out


def _emit(
    out: list[Statement],
    pairs: list[tuple[_Subj, tuple[str, int, tuple[str, ...]]]],
    text: str,
    span: tuple[int, int],
    said: set[str],
    inherited: bool,
    provisional: bool = False,
    replace: dict[str, list[Statement]] | None = None,
    lex: Lexicon | None = None,
    prov: dict[str, list[Statement]] | None = None,
) -> None:
    """Append the statements of one clause.

    Provisional ones (descriptor wording) are recorded in `prov` and read as normal for an organ named by a urinary
    collecting-system term in the clause ("tracer accumulation in the renal pelvis", "双肾集合系统见弥漫性放射性摄取");
    other ones take the place of the provisional statements of their organ held in `replace`.
    """
    clause = text[span[0] : span[1]].strip() if pairs else ""
    excreting: dict[str, str] = {}
    if provisional and lex is not None and lex.excretory:
        excreting = {s.organ: s.term for s, _ in pairs if s.organ and _key(s.term) in lex.excretory}
    for subj, (state, _pos, cue_words) in pairs:
        if not subj.organ:
            continue
        if provisional:
            if state == "increased" and subj.organ in excreting:
                state, cue_words = "normal", (*cue_words, excreting[subj.organ])
        elif replace and subj.organ in replace:
            drop = {id(x) for x in replace.pop(subj.organ)}
            out[:] = [x for x in out if id(x) not in drop]
        st = Statement(subj.organ, state, clause, span, cue_words, subj.term, inherited or subj.pos < 0)
        out.append(st)
        if provisional and prov is not None:
            prov.setdefault(subj.organ, []).append(st)
        else:
            said.add(subj.organ)


def labels_from_statements(statements: Iterable[Statement]) -> dict[str, list[str]]:
    """{organ: [states]} in the canonical orders of pet2rep.organs."""
    acc: dict[str, set[str]] = {}
    for st in statements:
        acc.setdefault(st.organ, set()).add(st.state)
    return {
        o: sorted(acc[o], key=_STATE_RANK.__getitem__) for o in sorted(acc, key=_ORGAN_RANK.__getitem__)
    }


def extract_uptake(text: str, lang: str = "auto", lexicon: Lexicon | None = None) -> dict[str, list[str]]:
    """{organ_id: [states]} for the organs the report gives an uptake statement for."""
    return labels_from_statements(extract_statements(text, lang, lexicon))


# ------------------------------------------------------------------------------------------------- CLI
def read_report(path: str) -> str:
    """A report file as text (UTF-8, BOM allowed); "-" reads standard input."""
    if path == "-":
        raw = sys.stdin.buffer.read()
        name = "<stdin>"
    else:
        name = path
        raw = read_input_bytes(path, "a report text file")
    try:
        return raw.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        bad = raw[exc.start]
        raise InputError(f"{name}: not UTF-8 text (byte 0x{bad:02x} at offset {exc.start})") from None


def configure_parser(parser: argparse.ArgumentParser) -> None:
    """Arguments of `pet2rep uptake`."""
    parser.add_argument("file", metavar="FILE", help="report text file (UTF-8); '-' reads standard input")
    parser.add_argument("--lang", choices=("zh", "en", "auto"), default="auto",
                        help="report language (auto: by the share of CJK characters)")
    parser.add_argument("--lexicon", action="append", default=[], metavar="FILE",
                        help="extra lexicon YAML merged into the built-in one (repeatable; see metrics/lexicon/*.yaml)")
    parser.add_argument("--statements", action="store_true",
                        help="print the statements found (organ, state, clause, span, cues) with the labels")


def run_cli(args: argparse.Namespace) -> int:
    """Print the uptake labels of one report as JSON."""
    text = read_report(args.file)
    lang = detect_lang(text) if args.lang == "auto" else args.lang
    lex = load_lexicon(lang, tuple(args.lexicon))
    stmts = extract_statements(text, lang, lex)
    labels = labels_from_statements(stmts)
    if args.statements:
        doc = {"lang": lang, "lexicon": lex.signature, "labels": labels, "statements": [s.as_dict() for s in stmts]}
        print(json.dumps(doc, ensure_ascii=False, indent=1))
    else:
        print(json.dumps(labels, ensure_ascii=False))
    return 0
