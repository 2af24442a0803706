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
  and pancreas show normal uptake" give every listed organ the state; region words in the list resolve to their node
  group when its head spoke of nodes ("No hypermetabolic lymphadenopathy in the neck, chest, abdomen or pelvis").

Version 3 (issue 8: clinicians' own wording), following docs/uptake-labelling-guide.md:

* Variant characters are read as their standard form, one for one (traditional 肝臟/攝取/淋巴結, full-width ＦＤＧ;
  `char_variants`); statements still quote the text as written.
* A 不 / 非 / 未 / "non" inside a term is no negation (the `neutral` list: 肺不张, 不规则, 不同程度, 非霍奇金; English
  "non" negates only an uptake word right after it: `negation_prefixes`).
* A physiological reading of a stated level ("…增高，考虑生理性摄取", "…增高（生理性摄取）", "…, likely physiologic")
  makes that level normal; mixed with another reading (`interpretation_mixed`: "或炎性", "versus inflammatory",
  "不除外") it states nothing.
* Time (`time`): a level after a `past` word ("原…高代谢灶", "previously FDG-avid") is provisional; a decrease in a
  clause about change ("较前减低", "interval decrease") is no `decreased`; "消失", "resolved", "resolution of" read
  the level before or after them as normal; "suppressed" is normal in a clause about change, decreased otherwise. A
  resolution that names its own object ("with complete resolution of the thigh mass") reads only it; a "reduction in"
  / "decline in" an uptake is a change, the remaining level decides (v11).
* Organ words followed by a node word name the node group, also through the link words ("renal hilar lymph node"),
  and a node station that is none of the 19 (`by_organ: none`: 锁骨下, 胸骨旁); an organ named after "nodes along
  the" is the nodes' place; fat, muscle and fluid around an organ (`tissue_after`: 肾周脂肪间隙; `location_before`:
  "brown fat in the", "adjacent to the") are not the organ; `homonyms` retarget a word by the organ before it
  (椎体及附件: bone) or by words in its clause (肺门区…肿块: lung).
* `absent` for an organ that is not there: a resection word (`resected`: 胆囊切除, cholecystectomy) or "缺如 / 未见显示
  / is surgically absent" right after an organ word (`organ_absent`), with no uptake wording needed.
* A history clause (`history`: 胃癌术后化疗后, "underwent PET/CT for …") hands no subject to what follows; "lower than"
  an organ's own tissue (`organ_references`: 同层肝实质) is decreased for that organ's lesion, normal for another;
  "lower"/"high" before an organ or an anatomy word ("lower rectum", "lower pole") is anatomy.

Rules from the DEV half of the real-text sets (tests/test_uptake_real.py): `tissue_after` also applies to node
stations (锁骨上脂肪, 肺门血管) and reads "X水平" as a level, not the organ; a subject that is none of the 19 named in a
clause with several states takes its own state by position ("decreased uptake in the liver and increased uptake in
skeletal muscle"); organs named between a history cue and a scope breaker of the same clause are history ("a patient
with carcinoma of the X show …"); a `hypothetical` cue ("could be mistaken for", 误认为) ends what the sentence states.

Version 4 — rules from the second pass over both halves and the first held-out set (guide 4.1, 5.5, 6.2, 6.5,
6.6): uptake wording alone is increased for a `bare_uptake` organ (lymph nodes) named in its clause, and for any organ
after a `finding_verbs` word ("PET/CT showed FDG uptake in X"); an organ's `own_tissue` compared with ("高于脑实质")
places an unplaced lesion; a state right before a non-organ tissue and an uptake noun ("increased muscular uptake")
is that tissue's; an attributive state binds to the organ right after it ("suppressed brain activity"); a list ends at
an `enumeration_tail` ("which are …") and may end in a lesion noun; a `conditional` clause states nothing; a contrast
clause keeps the sentence's uptake context; a CT-only clause about a non-organ tissue keeps the sentence's subject;
nodes with no station do not inherit an organ; a sentence clearly in the other language is read with that language's
lexicon (`_language_runs`).

Version 6 — rules from the errors of held-out sets 1-3 (guide 6.7): a level bound to lymph nodes with no station is
theirs (`_unnamed_nodes`); unnamed nodes, a bare position word, a relative clause or a figure reference do not end a
list; a node heading ("淋巴结:") makes the places after it node groups, and so does a clause that reads the finding as
nodes; a definite lesion noun (`anaphor`) points back to the subject a history sentence or paragraph break dropped; a
clause with an `identify` word places the level just stated; `physio_cause`, `intense_normal` (the brain named as a
whole with an intensity word), `generic` statements, `artifact` readings, `resection_later`, a sentence-wide repeat
/ later study (a decrease is a change) and a texture word alone said of a lesion.

Version 10 — broad readings from held-out set 7's errors (guide 6.11): a degree word keeps uptake above background
(every degree word with every tracer word and uptake noun; "a focus of low uptake"; a bare "low uptake" stays
decreased); a level its own sentence calls physiological with a verb ("… is physiologic") is normal; one statement over
a list labels every item (the list goes on after "followed by", across metastases / involvement, places that are none
of the 19, citations and position adverbs; nodes placed after the node word name their stations); an organ word before
"level" is a height (`tissue_after`); a whole organ's region word is absent like the organ (两附件区缺如); a place
before nodes names their station across 可见 and the nodes' uptake words (右肺门旁糖代谢增高的淋巴结), and so does every
place of the list before it; CT density with a degree word, "with or without", a shrunken lesion's decrease (现显著缩小)
and what a disease may demonstrate state no level.

`evaluate_labelled(items)` scores the extractor against labelled texts (micro P/R/F1 overall, per language, state
and organ, normal recall, polarity flips, every disagreement); `pet2rep uptake --eval LABELLED` prints it.

This module imports nothing of the pipeline (only :mod:`pet2rep.organs` and :mod:`pet2rep.errors`).
"""

from __future__ import annotations

import bisect
import dataclasses
import functools
import hashlib
import json
import re
import sys
import types
from collections import OrderedDict
from collections.abc import Iterable, Sequence
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

from pet2rep.errors import InputError, read_input_bytes, read_input_yaml
from pet2rep.organs import ORGANS, STATES

EXTRACTOR_VERSION = "22"
LEXICON_DIR = Path(__file__).resolve().parent / "lexicon"
LANGS: tuple[str, ...] = ("zh", "en")

_STATE_RANK = {s: i for i, s in enumerate(STATES)}
_ORGAN_RANK = {o: i for i, o in enumerate(ORGANS)}
_CJK_RE = re.compile(r"[\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff]")
_LATIN_RE = re.compile(r"[A-Za-z]")
_CJK_SPAN_RE = re.compile(_CJK_RE.pattern + "+")  # detect_lang counts characters by runs
_LATIN_SPAN_RE = re.compile(_LATIN_RE.pattern + "+")
_SEP_UNIT = r"[\s\-]+"
_ABBREV = {"e.g", "i.e", "vs", "approx", "dr", "fig", "cf", "no", "mr", "ms", "st", "max"}
_LIST_MARKER_RE = re.compile(r"^[\s(（]*(?:\d{1,2}|[a-zA-Z]|[一二三四五六七八九十]{1,2})[)）]?[.、．]?\s*$")
_F_HEAVY, _F_NODE, _F_CTX, _F_CMP, _F_DESC, _F_TIME, _F_MIX, _F_HIST, _F_STATE = 1, 2, 4, 8, 16, 32, 64, 128, 256
_F_GEN, _F_ART, _F_IDENT, _F_NORM = 512, 1024, 2048, 4096  # generic statement, artifact, identify, normalizer
_F_HYPO, _F_COND = 8192, 16384  # hypothetical, conditional (only _extract_uncached tests them: which texts have any)
_F_RES = 32768  # post_resolution ("has resolved": _join_resolved_list runs only in texts that have one; extractor v15)
# the roles the clause reader tests for every cue, as one tuple per phrase (see _role_tuple)
_NO_ROLES: dict[str, Any] = {"heavy": False, "f": 0, "t": (False,) * 6 + (None, None) + (False,) * 10}
_FINDING = "found-uptake"  # provisional: uptake wording alone after a finding verb ("PET showed FDG uptake in X"): increased
_BARE = "bare-uptake"  # provisional: uptake wording alone; increased for Lexicon.bare_uptake organs, else nothing
_LOWER = "lower-than:"  # provisional state: "lower than <organ>"; decreased for that organ's own lesion, else normal
_NODE_NONE = "none"
_NO_LEVEL = "\x00"  # _drop_compared: "lower than" another lesion, which states no level (extractor v13)
_EMPTY: tuple[Any, ...] = ()  # lymph_nodes.by_organ value: a node station that is none of the 19 organs (锁骨下, internal mammary)
# roles that keep a cue out of the gap between a descriptor and its uptake noun
_NOT_IN_GAP = ("state", "state_weak", "neg", "post_neg", "break", "interp", "normalizer", "noun", "cmp_before",
               "cmp_after", "suv", "desc_alone")
_LETTER_RE = re.compile(r"[^\W_]")  # a word character other than "_"
# (a reference whose number the source dropped, "(Fig. )", "(Figure", is one too; extractor v12)
_FIGURE_RE = re.compile(r"(?:\b(?:fig(?:ure)?s?)\.?|图)(?:\s*\d+[A-Za-z]?(?:\s*(?:and|,|-|、)\s*\d*[A-Za-z]?)*|(?=\s*[)）\]]|\s*$))",
                        re.IGNORECASE)
_NO_DESC: dict[int, tuple[str, tuple[str, ...]]] = {}  # read only
_TEXTURE: tuple[str, tuple[str, ...]] = ("", ())  # _descriptors: a texture word inside a focal descriptor's phrase
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
    node_loc_re: re.Pattern[str] | None = None  # a node word + "along/near the": the organ after it is a location
    tissue_after_re: re.Pattern[str] | None = None  # organ word + this (肾周脂肪): fat/muscle near it, not the organ
    homonyms: dict[str, tuple[frozenset[str], str, re.Pattern[str]]] = dataclasses.field(default_factory=dict)
    homonyms_with: dict[str, tuple[re.Pattern[str], str]] = dataclasses.field(default_factory=dict)  # clause words
    location_before_re: re.Pattern[str] | None = None  # "fat in the", "adjacent to the": the organ after is a place
    anatomy_after_re: re.Pattern[str] | None = None  # "lower" + this ("lower pole") is anatomy, not a level
    neg_re: re.Pattern[str] | None = None  # the negation words alone
    hom_keys: frozenset[str] = frozenset()  # surface forms of all homonyms (lowercase)
    tissue_first: frozenset[str] | None = frozenset()  # characters tissue_after can start with (None: any)
    gone_link_re: re.Pattern[str] | None = None  # what may stand between an organ word and "缺如" / "is absent"
    gone_whole: frozenset[str] = frozenset()  # organ words that can be absent as a whole (lowercase)
    continuation_re: re.Pattern[str] | None = None  # a sentence start that goes on about the previous subject
    node_groups: frozenset[str] = frozenset()
    variant_re: re.Pattern[str] | None = None  # characters read as another one (traditional, full-width)
    variant_table: dict[int, int] = dataclasses.field(default_factory=dict)
    list_tail_re: re.Pattern[str] | None = None  # a relative clause ending a list ("…, kidneys and stomach which are …")
    own_tissue: frozenset[str] = frozenset()  # organ terms (keys) that, compared with, place the lesion in that organ
    bare_uptake: frozenset[str] = frozenset()
    finding_re: re.Pattern[str] | None = None  # "showed", "显示": uptake wording alone after these is a finding  # organs for which uptake wording alone ("FDG uptake in X nodes") is increased
    normal_frame_re: re.Pattern[str] | None = None  # "Normal distribution of FDG.", "正常腹部消化器官…": normal organs
    frame_keep_re: re.Pattern[str] | None = None  # a lesion or abnormality word: the level stated beside it stands
    frame_lead_re: re.Pattern[str] | None = None  # what may stand before a frame in its clause ("结果", "In")
    # organs whose physiological uptake is intense: {organ: (whole-organ terms, intensity words)} ("intense brain uptake")
    intense_normal: dict[str, tuple[frozenset[str], frozenset[str]]] = dataclasses.field(default_factory=dict)
    anaphor_re: re.Pattern[str] | None = None  # "the lesion", "该病灶": a lesion named before
    physio_cause_re: re.Pattern[str] | None = None  # "由于…的生理活动", "because of physiological …": a normal cause
    later_before_re: re.Pattern[str] | None = None  # "followed by" + a resection: done after the scan, no `absent`
    later_after_re: re.Pattern[str] | None = None  # a resection + "was then performed" / "not performed"
    # comparison signs (">", "≥", "<" …: cue phrases read outside the trie, so its guard stays a word-start test)
    sign_re: re.Pattern[str] | None = None
    # readings of sentences already read (_read_sentence_memo); None when a rule of this lexicon may read past a
    # sentence's end (binding_forward, anatomy_after, enumeration_tail), so a sentence's reading may depend on the next
    sentence_memo: OrderedDict[str, Any] | None = dataclasses.field(
        default=None, repr=False, compare=False)
    # per matched string, what _mentions / _cues work out from the string alone (bounded by _TOKEN_MEMO_SIZE)
    organ_memo: dict[str, tuple[str, str, Any, bool]] = dataclasses.field(default_factory=dict, repr=False, compare=False)
    cue_memo: dict[str, dict[str, Any]] = dataclasses.field(default_factory=dict, repr=False, compare=False)


_NO_ROLES_OF_TERM: Any = types.MappingProxyType({})  # the roles of an organ term (none; never written)
_TOKEN_MEMO_SIZE = 65536  # matched strings remembered per lexicon (Lexicon.organ_memo, Lexicon.cue_memo)


class _Tok:
    """A matched organ term (kind: organ / site / non / ref, target organ id) or cue phrase (roles)."""

    __slots__ = ("start", "end", "text", "kind", "target", "roles", "hw")

    def __init__(self, start: int, end: int, text: str, kind: str = "", target: str = "",
                 roles: Any = _NO_ROLES_OF_TERM, hw: bool = False) -> None:
        self.start = start
        self.end = end
        self.text = text
        self.kind = kind
        self.target = target
        self.roles = roles  # (an organ term's: the shared read-only empty mapping)
        self.hw = hw  # a homonym whose organ depends on words in its clause (lexicon `homonyms: with`)


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


def _guarded(rx: str) -> str:
    """`rx` behind a lookahead for its first characters when they can be told (a scan then skips most positions)."""
    first = _regex_first_chars(rx)
    return rx if not first else "(?=[" + "".join(re.escape(ch) for ch in first) + "])(?:" + rx + ")"


def _starts_at_word_start(rx: str) -> bool:
    """True when `rx` begins with a lookbehind that refuses an ASCII letter or digit before the match."""
    return rx.startswith(("(?<![A-Za-z0-9])", "(?<![a-z])", "(?<![0-9a-z])", "(?<![A-Za-z])"))


# ---------------------------------------------------------------- first characters of a regex (scan guards)
# A scan that puts a lookahead for the characters a pattern's match can start with in front of it rejects most
# positions with one class test; the matches are the same (the set is a superset). Also used by the failure scan.

try:
    from re import _constants as _sre_c  # type: ignore[attr-defined]  # Python >= 3.11
    from re import _parser as _sre_parse  # type: ignore[attr-defined]
except ImportError:  # pragma: no cover - Python 3.10
    import sre_constants as _sre_c  # type: ignore[no-redef]
    import sre_parse as _sre_parse  # type: ignore[no-redef]

_SRE_CATEGORIES = {_sre_c.CATEGORY_DIGIT: r"\d", _sre_c.CATEGORY_WORD: r"\w", _sre_c.CATEGORY_SPACE: r"\s"}


@dataclass(frozen=True)
class FirstChars:
    """What a match can start with: single characters, code-point ranges (inclusive) and classes (``\\d \\w \\s``)."""

    chars: frozenset[str]
    ranges: frozenset[tuple[int, int]]
    categories: frozenset[str]


def first_chars(pattern: str, flags: int = 0) -> FirstChars | None:
    """The first characters of a match of `pattern` (as written: case is left to the caller), or None when they
    cannot be told: the pattern may match empty, or starts with ".", a negated class or a construct not handled."""
    chars: set[str] = set()
    ranges: set[tuple[int, int]] = set()
    cats: set[str] = set()

    def seq(items: Any) -> bool:
        """Add the first characters of a sequence; True when it can match empty (then what follows counts too)."""
        for op, av in items:
            if op in (_sre_c.AT, _sre_c.ASSERT, _sre_c.ASSERT_NOT):
                continue  # zero-width: leaving it out only admits more positions
            if op == _sre_c.LITERAL:
                chars.add(chr(av))
                return False
            if op == _sre_c.IN:
                for iop, iav in av:
                    if iop == _sre_c.LITERAL:
                        chars.add(chr(iav))
                    elif iop == _sre_c.RANGE:
                        ranges.add((iav[0], iav[1]))
                    elif iop == _sre_c.CATEGORY and iav in _SRE_CATEGORIES:
                        cats.add(_SRE_CATEGORIES[iav])
                    else:
                        raise ValueError("class")
                return False
            if op == _sre_c.SUBPATTERN:
                if not seq(av[-1]):
                    return False
                continue
            if op == _sre_c.BRANCH:
                if any([seq(b) for b in av[1]]):
                    continue
                return False
            if op in (_sre_c.MAX_REPEAT, _sre_c.MIN_REPEAT):
                if seq(av[2]) or av[0] == 0:
                    continue
                return False
            raise ValueError(str(op))
        return True

    try:
        if seq(_sre_parse.parse(pattern, flags)):
            return None
    except Exception:  # noqa: BLE001 - an odd pattern: no guard, it still works
        return None
    return FirstChars(frozenset(chars), frozenset(ranges), frozenset(cats))


def class_body(first: FirstChars) -> str:
    """`first` as the body of a character class (``[...]``), escaped."""
    out = {re.escape(ch) for ch in first.chars} | set(first.categories)
    out |= {f"{re.escape(chr(lo))}-{re.escape(chr(hi))}" for lo, hi in first.ranges}
    return "".join(sorted(out))


def _regex_first_chars(rx: str) -> str | None:
    """The characters a match of `rx` can start with (both cases), or None when that cannot be told (a class such as
    \\w or ".", a range of 512 characters or more, a pattern that may match empty, a construct not handled): then it
    must be tried everywhere."""
    first = first_chars(rx, re.IGNORECASE)
    if first is None or first.categories or any(hi - lo >= 512 for lo, hi in first.ranges):
        return None
    out = set(first.chars).union(*(map(chr, range(lo, hi + 1)) for lo, hi in first.ranges))
    return "".join(sorted({ch for x in out for ch in (x, x.lower(), x.upper()) if len(ch) == 1}))


def _first_char_guard(phrases: Iterable[str], extra: str = "", word_extra: str = "") -> str:
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
    if word:  # a word-start test is already there: regex letters that want it join it
        word |= {re.escape(ch) for ch in word_extra}
    else:  # no ASCII word starts a phrase: one character class is the cheapest test (the regexes test word starts)
        extra += word_extra + word_extra.upper()
    alts = []
    if word:
        alts.append("(?<![0-9a-z])[" + "".join(sorted(word)) + "]")
    if other or extra:
        alts.append("[" + "".join(sorted(other)) + "".join(re.escape(ch) for ch in extra) + "]")
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
    for organ in _mapping(data, "resected", where):
        if organ not in _ORGAN_RANK:
            raise InputError(f"{where}: unknown organ id {organ!r} in resected (expected one of {', '.join(_ORGAN_RANK)})")
    for organ, node in _mapping(_mapping(data, "lymph_nodes", where), "by_organ", f"{where}: lymph_nodes").items():
        if organ not in _ORGAN_RANK or (node not in _ORGAN_RANK and node != _NODE_NONE):
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
                    if k in ("organs", "sites", "non_organs", "references", "lymph_nodes", "excretory", "resected",
                             "tissue_after", "homonyms", "char_variants", "groups", "location_before",
                             "organ_references", "own_tissue")}
        _merge(organs, org_part)
        _merge(cues, {k: v for k, v in data.items() if k not in org_part and k != "version"})
    sig = f"oua-{lang}-x{EXTRACTOR_VERSION}-lex{versions}{'+' if extra else ''}-{h.hexdigest()[:12]}"
    return _compile(lang, organs, cues, sig, (str(org_path), str(upt_path), *extra))


def _compile(lang: str, organs: dict[str, Any], cues: dict[str, Any], sig: str, files: tuple[str, ...]) -> Lexicon:
    """The compiled Lexicon of `lang` from its (merged) organ and uptake lexicon data; a one-line InputError for a
    bad entry."""
    terms, patterns, excretory = _organ_terms(organs, lang)
    organ_re = _organ_regex(terms, patterns, lang)
    ln = organs.get("lymph_nodes") or {}
    node_words = _as_list(ln.get("words"), "lymph_nodes.words")
    node_after_re, node_loc_re = _node_regexes(ln, node_words, lang)
    tissue_after_re = _compile_rx(str(organs["tissue_after"]), lang, "tissue_after") if organs.get("tissue_after") else None
    homonyms, homonyms_with = _homonyms(organs, lang)
    variant_table, variant_re = _char_variants(organs, lang)
    roles = _assigned_roles(cues, lang, node_words)
    _tracer_aliases(roles, _mapping(cues, "tracer_aliases", f"uptake lexicon ({lang})"))
    comp = cues.get("comparison") or {}
    negs = _implied_roles(roles, comp, lang)
    _add_roles(roles, (cues.get("suv_value") or {}).get("cues"), "suv")
    _finish_roles(roles)
    cue_re = _cue_regex(roles, cues)
    signs = sorted({k for k in roles if k[:1] in _SIGNS}, key=len, reverse=True)
    fillers = _as_list(cues.get("enumeration_fillers"), "enumeration_fillers")
    gap_words = _as_list((cues.get("descriptors") or {}).get("gap"), "descriptors.gap")
    fwd = str(cues.get("binding_forward") or "")
    suv = cues.get("suv_value") or {}
    sentence_end = frozenset(str(cues.get("sentence_end") or "。；;！？!?\n")) | {"\n"}
    clause_sep = frozenset(str(cues.get("clause_sep") or "，,：:"))
    lex = Lexicon(
        lang=lang,
        signature=sig,
        files=files,
        organ_re=organ_re,
        organ_terms=terms,
        organ_patterns=[(k, t) for _, k, t in patterns],
        cue_re=cue_re,
        cue_roles=roles,
        sign_re=re.compile("|".join(map(re.escape, signs))) if signs else None,
        node_after_re=node_after_re,
        node_by_organ={str(k): str(v) for k, v in (ln.get("by_organ") or {}).items()},
        sentence_end=sentence_end,
        clause_sep=clause_sep,
        max_gap=int(comp.get("max_gap", 6)),
        filler_re=re.compile(_trie_regex(fillers) if fillers else "(?!)", re.IGNORECASE),
        forward_re=re.compile(fwd, re.IGNORECASE) if fwd else None,
        split_re=re.compile("[" + re.escape("".join(sorted(sentence_end | clause_sep | {"."}))) + "]"),
        pair_start=tuple(_as_list(comp.get("pair_start"), "comparison.pair_start")),
        suv_re=re.compile(str(suv.get("pattern")), re.IGNORECASE) if suv.get("pattern") and suv.get("threshold") else None,
        suv_threshold=float(suv.get("threshold") or 0.0),
        excretory=excretory,
        desc_gap_re=re.compile(_trie_regex(gap_words), re.IGNORECASE) if gap_words else None,
        node_loc_re=node_loc_re,
        tissue_after_re=tissue_after_re,
        homonyms=homonyms,
        node_groups=frozenset(v for v in (ln.get("by_organ") or {}).values() if v in _ORGAN_RANK),
        homonyms_with=homonyms_with,
        hom_keys=frozenset(homonyms) | frozenset(homonyms_with),
        neg_re=re.compile(_trie_regex(negs), re.IGNORECASE) if negs else None,
        variant_re=variant_re,
        variant_table=variant_table,
        **_rule_fields(organs, cues, lang),
    )
    if lex.forward_re is None and lex.anatomy_after_re is None and lex.list_tail_re is None:
        lex.sentence_memo = OrderedDict()
    return lex


def _organ_terms(organs: dict[str, Any], lang: str
                 ) -> tuple[dict[str, tuple[str, str]], list[tuple[str, str, str]], frozenset[str]]:
    """The organ lexicon's terms: {key: (kind, target)} (kind: organ, site, gone, non, ref; on a clash the kind that
    says most wins), the regex terms as (regex, kind, target), and the excretory term keys."""
    terms: dict[str, tuple[str, str]] = {}
    patterns: list[tuple[str, str, str]] = []  # (regex, kind, target)
    priority = {"ref": 0, "non": 1, "site": 2, "organ": 3, "gone": 4}

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
    for organ, lst in (organs.get("resected") or {}).items():  # "胆囊切除", "cholecystectomy": the organ is gone
        for t in _as_list(lst, f"resected.{organ}"):
            add(t, "gone", organ)
    for t, lst in _mapping(organs, "groups", f"organ lexicon ({lang})").items():  # "gastrointestinal tract"
        members = _as_list(lst, f"groups.{t}")
        if not members or not set(members) <= set(_ORGAN_RANK):
            raise InputError(f"organ lexicon ({lang}): groups.{t} must list organ ids")
        add(str(t), "organ", "+".join(members))
    for t in _as_list(organs.get("non_organs"), "non_organs"):
        add(t, "non", "")
    for t in _as_list(organs.get("references"), "references"):
        add(t, "ref", "")
    for organ, lst in _mapping(organs, "organ_references", f"organ lexicon ({lang})").items():
        if organ not in _ORGAN_RANK:
            raise InputError(f"organ lexicon ({lang}): unknown organ id {organ!r} in organ_references")
        for t in _as_list(lst, f"organ_references.{organ}"):
            terms[_key(t)] = ("ref", organ)
    excretory = frozenset(_key(t) for t in _as_list(organs.get("excretory"), "excretory"))
    for k in excretory:
        if terms.get(k, ("",))[0] != "organ":
            raise InputError(f"organ lexicon ({lang}): excretory term {k!r} is not an organ term (list it under organs)")
    return terms, patterns, excretory


def _organ_regex(terms: dict[str, tuple[str, str]], patterns: list[tuple[str, str, str]], lang: str) -> re.Pattern[str]:
    """One regex for every organ term: the trie of the plain terms (group `t`) and the regex terms (groups `r<i>`)."""
    # the regex terms join the trie behind one first-character guard when their first characters can be worked out
    # (else they are tried at every position, which costs a scan per regex)
    firsts = [_regex_first_chars(rx) for rx, _, _ in patterns]
    guarded = [i for i, f in enumerate(firsts) if f is not None]
    # ASCII letters/digits of a regex that itself refuses a letter/digit before it go behind the guard's word test
    word_extra = {ch.lower() for i in guarded if _starts_at_word_start(patterns[i][0])
                  for ch in firsts[i] or "" if ch.isascii() and ch.isalnum()}
    extra = "".join(sorted({ch for i in guarded for ch in firsts[i] or ""} - {x for ch in word_extra for x in (ch, ch.upper())}))
    organ_src = "(?:" + _first_char_guard(terms, extra, "".join(sorted(word_extra))) + "(?:(?P<t>" + _trie_regex(terms) + ")"
    organ_src += "".join(f"|(?P<r{i}>{patterns[i][0]})" for i in guarded) + "))"
    organ_src += "".join(f"|(?P<r{i}>{rx})" for i, (rx, _, _) in enumerate(patterns) if i not in guarded)
    try:
        return re.compile(organ_src, re.IGNORECASE)
    except re.error as exc:
        raise InputError(f"organ lexicon ({lang}): bad regex term ({exc})") from None


def _node_regexes(ln: dict[str, Any], node_words: list[str], lang: str
                  ) -> tuple[re.Pattern[str] | None, re.Pattern[str] | None]:
    """The node word after an organ word (through the `link` words: "renal hilar lymph node"), and a node word with
    a `location` ("nodes along the": the organ after it is the nodes' place); None without node words."""
    node_after_re = node_loc_re = None
    if node_words:
        node_after_re = re.compile("(?:" + str(ln.get("link") or "") + ")" + _trie_regex(node_words), re.IGNORECASE)
        if ln.get("location"):
            node_loc_re = _compile_rx(_first_char_guard(node_words) + _trie_regex(node_words) + "(?:" + str(ln["location"]) + ")",
                                      lang, "lymph_nodes.location")
    return node_after_re, node_loc_re


def _homonyms(organs: dict[str, Any], lang: str
              ) -> tuple[dict[str, tuple[frozenset[str], str, re.Pattern[str]]], dict[str, tuple[re.Pattern[str], str]]]:
    """The `homonyms`: retargeted by the organ before them ({key: (after organs, becomes, gap regex)}) and by words in
    their clause ({key: (with regex, becomes)})."""
    homonyms: dict[str, tuple[frozenset[str], str, re.Pattern[str]]] = {}
    homonyms_with: dict[str, tuple[re.Pattern[str], str]] = {}
    for term, spec in _mapping(organs, "homonyms", f"organ lexicon ({lang})").items():
        if not isinstance(spec, dict) or spec.get("becomes") not in _ORGAN_RANK:
            raise InputError(f"organ lexicon ({lang}): homonyms.{term} needs `becomes` (an organ id) and `after` "
                             "(organ ids) and/or `with` (a regex of clause words)")
        after = frozenset(_as_list(spec.get("after"), f"homonyms.{term}.after"))
        if not after <= set(_ORGAN_RANK):
            raise InputError(f"organ lexicon ({lang}): homonyms.{term}.after: unknown organ id in {sorted(after)}")
        if after:
            homonyms[_key(str(term))] = (after, str(spec["becomes"]),
                                         _compile_rx(str(spec.get("gap") or ""), lang, f"homonyms.{term}.gap"))
        if spec.get("with"):
            homonyms_with[_key(str(term))] = (_compile_rx(str(spec["with"]), lang, f"homonyms.{term}.with"),
                                              str(spec["becomes"]))
    return homonyms, homonyms_with


def _char_variants(organs: dict[str, Any], lang: str) -> tuple[dict[int, int], re.Pattern[str]]:
    """The translation table of variant characters (full-width ASCII and `char_variants`) and a regex of them."""
    variant_table = {c: c - 0xFEE0 for c in [*range(0xFF10, 0xFF1A), *range(0xFF21, 0xFF3B), *range(0xFF41, 0xFF5B)]}
    for pair in str(organs.get("char_variants") or "").split():
        if len(pair) != 2:
            raise InputError(f"organ lexicon ({lang}): char_variants: {pair!r} is not a pair of characters (variant, standard)")
        variant_table[ord(pair[0])] = ord(pair[1])
    return variant_table, re.compile("[" + "".join(re.escape(chr(c)) for c in sorted(variant_table)) + "]")


def _tracer_aliases(roles: dict[str, dict[str, Any]], aliases: dict[str, Any]) -> None:
    """Every cue phrase that holds a tracer word ("marked fdg uptake") also with each other spelling of it ("marked
    18f-fdg uptake"), with the same roles; a phrase the lexicon lists itself keeps its own (extractor v22)."""
    for word, spellings in aliases.items():
        word_key = _key(str(word))
        alts = [_key(str(a)) for a in _as_list(spellings, f"tracer_aliases.{word}")]
        for key in [k for k in roles if word_key in k.split(" ")]:
            for alt in alts:
                new = " ".join(alt if t == word_key else t for t in key.split(" "))
                if new not in roles:
                    roles[new] = dict(roles[key])


def _add_roles(roles: dict[str, dict[str, Any]], lst: Any, name: str, value: Any = True) -> None:
    """Give every phrase of the lexicon list `lst` the role `name` (= `value`)."""
    for p in _as_list(lst, name):
        roles.setdefault(_key(p), {})[name] = value


_RES_AUXILIARIES = frozenset({"has", "have", "had"})  # a resolution's auxiliary, before `resolution_adverbs` (v15)


def _assigned_roles(cues: dict[str, Any], lang: str, node_words: list[str]) -> dict[str, dict[str, Any]]:
    """{phrase key: {role: value}} from the lists of the uptake lexicon (and the node words)."""
    roles: dict[str, dict[str, Any]] = {}
    for state, lst in (cues.get("states") or {}).items():
        _add_roles(roles, lst, "state", state)
    for key, name in (("weak_normal", "weak"), ("context", "context"), ("uptake_nouns", "noun"), ("negation", "neg"),
                      ("negation_prefixes", "neg"), ("negation_prefixes", "neg_prefix"), ("post_negation", "post_neg"),
                      ("qualifiers", "qual"), ("normalizers", "normalizer"), ("scope_breakers", "break"),
                      ("neutral", "neutral"), ("interpretation", "interp"), ("post_resolution", "post_res"),
                      ("interpretation_mixed", "mixed"), ("physio_causes", "pcause")):
        _add_roles(roles, cues.get(key), name)
    adverbs = _as_list(cues.get("resolution_adverbs"), "resolution_adverbs")
    if adverbs:  # "have essentially resolved": an adverb between the auxiliary and the verb (extractor v15)
        for p in _as_list(cues.get("post_resolution"), "post_resolution"):
            aux, _, rest = _key(p).partition(" ")
            if rest and aux in _RES_AUXILIARIES:
                for adv in adverbs:
                    roles.setdefault(_key(f"{aux} {adv} {rest}"), {})["post_res"] = True
    time = _mapping(cues, "time", f"uptake lexicon ({lang})")
    for name in ("past", "past_end", "temporal", "temporal_normal"):
        _add_roles(roles, time.get(name), name)
    gone = _mapping(cues, "organ_absent", f"uptake lexicon ({lang})")
    _mapping(cues, "resection_later", f"uptake lexicon ({lang})")  # (checked here, read by _rule_fields)
    _add_roles(roles, gone.get("cues"), "gone")
    for key, name in (("history", "history"), ("anatomy_adjectives", "adj"), ("hypothetical", "hypo"),
                      ("conditional", "cond"), ("generic", "generic"), ("identify", "identify"), ("artifact", "generic"),
                      ("artifact", "artifact")):
        _add_roles(roles, cues.get(key), name)
    desc = cues.get("descriptors") or {}
    if not isinstance(desc, dict):
        raise InputError(f"uptake lexicon ({lang}): descriptors must be a mapping (before_noun, alone, gap)")
    for sect, name in (("before_noun", "desc"), ("alone", "desc_alone")):
        for state, lst in (desc.get(sect) or {}).items():
            if state not in _STATE_RANK:
                raise InputError(f"uptake lexicon ({lang}): unknown uptake state {state!r} in descriptors.{sect}")
            _add_roles(roles, lst, name, state)
    _add_roles(roles, (desc.get("before_noun") or {}).get("increased"), "qual")  # "no diffuse uptake": normal, not absent
    _add_roles(roles, desc.get("focal"), "desc_focal")  # a focus is a lesion's uptake: a texture word inside it states no level
    _add_roles(roles, desc.get("texture"), "texture")
    _add_roles(roles, (desc.get("alone") or {}).get("increased"), "qual")  # "without obvious accumulation": normal (like 未见浓聚)
    _add_roles(roles, node_words, "node")
    comp = cues.get("comparison") or {}
    _add_roles(roles, comp.get("before"), "cmp_before")
    _add_roles(roles, comp.get("after"), "cmp_after")
    _add_roles(roles, comp.get("lower"), "cmp_low")
    _add_roles(roles, comp.get("references"), "reference")
    return roles


_NOT_COMPARING = frozenset({"other than", "rather than"})  # "than" that compares nothing ("no uptake other than in X")


def _implied_roles(roles: dict[str, dict[str, Any]], comp: dict[str, Any], lang: str) -> list[str]:
    """Add the roles a phrase has by what it contains (a negation, a comparison, an uptake-context word); returns the
    negation phrases."""
    for r in roles.values():  # weak normal phrases carry no strong state
        if r.get("weak") and "state" not in r:
            r["state_weak"] = "normal"
    refs = [_key(p) for p in _as_list(comp.get("references"), "comparison.references")]
    # a normal phrase that starts with a negation also opens a negation scope ("未见异常…浓聚", "no abnormal FDG-avid")
    negs = [k for k, r in roles.items() if r.get("neg")]
    word = lang != "zh"
    for k, r in roles.items():
        if r.get("state") == "normal" and not r.get("neg"):
            if any(k.startswith(n + " ") if word else (k.startswith(n) and k != n) for n in negs):
                r["neg"] = True
    # a negated CT / MR phrase negates the uptake words listed after it in its clause too ("肝内未见异常密度影及异常放射性
    # 浓聚", "无明显异常信号及代谢增高": normal, not increased; extractor v10)
    for k, r in roles.items():
        if r.get("neutral") and not r.get("state") and not r.get("neg") and ("密度" in k or "信号" in k) and any(
                k.startswith(n) and k != n for n in negs if len(n) >= 2 or n == "无"):
            r["neg"] = True
            r["qual"] = r.get("qual") or "异常" in k  # ("未见异常密度及代谢": no abnormal uptake, normal, not absent)
    # a phrase that contains a comparison word compares too ("greater than", "摄取高于"), unless it names its own
    # reference ("above background", "高于本底": nothing after it is compared with)
    for name in ("cmp_before", "cmp_low"):
        cmp_words = [k for k, r in roles.items() if r.get(name)]
        for k, r in roles.items():
            if k in _NOT_COMPARING:
                continue
            if not r.get(name) and any((f" {c} " in f" {k} ") if word else (len(c) > 1 and c in k) for c in cmp_words):
                if name == "cmp_low" and r.get("state"):
                    continue
                if r.get("state") and any(k.endswith((" " + x) if word else x) for x in refs if x != k):
                    continue
                r[name] = True
    # a phrase that contains an uptake-context word is uptake wording too ("FDG uptake", "摄取增强"; a slash parts
    # words: "negative at PET/CT" holds "PET", extractor v10)
    ctx = [k for k, r in roles.items() if r.get("context")]
    for k, r in roles.items():
        if not r.get("context") and any((f" {c} " in f" {k.replace('/', ' ')} ") if word else (c in k) for c in ctx):
            r["context"] = True
    return negs


def _finish_roles(roles: dict[str, dict[str, Any]]) -> None:
    """Give every phrase what the clause reader tests: `heavy`, the flag bits `f`, `gap` and the role tuple `t`."""
    # (a descriptor before a noun is not heavy by itself: it states something only next to a noun, which is)
    heavy = ("state", "state_weak", "noun", "post_neg", "cmp_before", "cmp_after", "suv", "desc_alone", "post_res", "gone",
             "pcause")
    for r in roles.values():  # clauses without such cues only name subjects: a light read suffices
        r["heavy"] = any(r.get(h) for h in heavy)
        r["f"] = (_F_HEAVY if r["heavy"] else 0) | (_F_NODE if r.get("node") else 0) | (_F_CTX if r.get("context") else 0)
        r["f"] |= _F_CMP if (r.get("cmp_before") or r.get("cmp_after")) else 0
        r["f"] |= _F_DESC if (r.get("desc") or r.get("desc_alone")) else 0
        r["f"] |= _F_TIME if (r.get("past") or r.get("temporal")) else 0
        r["f"] |= _F_MIX if r.get("mixed") else 0
        r["f"] |= _F_HIST if r.get("history") else 0
        r["f"] |= _F_STATE if (r.get("state") or r.get("state_weak")) else 0
        r["f"] |= (_F_GEN if r.get("generic") else 0) | (_F_ART if r.get("artifact") else 0)
        r["f"] |= (_F_IDENT if r.get("identify") else 0) | (_F_NORM if (r.get("normalizer") or r.get("pcause")) else 0)
        r["f"] |= (_F_HYPO if r.get("hypo") else 0) | (_F_COND if r.get("cond") else 0)
        r["f"] |= _F_RES if r.get("post_res") else 0
        # may stand between a descriptor and its noun: tracer words ("diffuse FDG uptake"), other descriptors, and
        # words that only mark a mixed reading ("focal or diffuse uptake")
        r["gap"] = not any(r.get(x) for x in _NOT_IN_GAP) and bool(r.get("desc") or r.get("context") or r.get("mixed"))
        r["t"] = _role_tuple(r)


_SIGNS = "<>≤≥＜＞"  # comparison signs: cue phrases that _cues finds with Lexicon.sign_re, not with the trie


def _cue_regex(roles: dict[str, dict[str, Any]], cues: dict[str, Any]) -> re.Pattern[str]:
    """One regex for every cue phrase but the comparison signs (a trie behind a first-character guard)."""
    roles = {k: r for k, r in roles.items() if k[:1] not in _SIGNS}
    cue_src = _trie_regex(roles)
    suv_words = [_key(w) for w in _as_list((cues.get("suv_value") or {}).get("cues"), "suv_value.cues")]
    ascii_suv = sorted({w for w in suv_words if w.isascii() and w[-1:].isalnum()}, key=len, reverse=True)
    if ascii_suv:  # "SUVmax20", "SUVMAX6.2": an SUV word glued to its value (the trie wants a word end there); the
        # words are cue phrases too, so the guard admits where they start
        cue_src += "|(?<![0-9a-z])(?:" + "|".join(_SEP_UNIT.join(map(re.escape, w.split(" "))) for w in ascii_suv) + ")(?=[0-9])"
    return re.compile(_first_char_guard(roles) + "(?:" + cue_src + ")", re.IGNORECASE)


def _rule_fields(organs: dict[str, Any], cues: dict[str, Any], lang: str) -> dict[str, Any]:
    """The Lexicon fields of the single rules (absent organs, continuation, lists, frames, readings …): their regexes
    and word sets, None / empty where the lexicon has no such entry."""
    gone = _mapping(cues, "organ_absent", f"uptake lexicon ({lang})")
    later = _mapping(cues, "resection_later", f"uptake lexicon ({lang})")
    return dict(
        gone_link_re=_compile_rx(str(gone.get("link") or ""), lang, "organ_absent.link"),
        gone_whole=frozenset(_key(w) for w in _as_list(gone.get("whole"), "organ_absent.whole")),
        continuation_re=(re.compile(r"[\s\"'“‘(（]*" + _trie_regex(_as_list(cues.get("continuation"), "continuation")),
                                    re.IGNORECASE) if cues.get("continuation") else None),
        tissue_first=_tissue_first(organs.get("tissue_after")),
        location_before_re=(_compile_rx(_guarded(str(organs["location_before"])), lang, "location_before")
                            if organs.get("location_before") else None),
        anatomy_after_re=_compile_rx(str(cues["anatomy_after"]), lang, "anatomy_after") if cues.get("anatomy_after") else None,
        list_tail_re=_compile_rx(str(cues["enumeration_tail"]), lang, "enumeration_tail") if cues.get("enumeration_tail") else None,
        bare_uptake=frozenset(_bare_uptake(cues.get("bare_uptake"), lang)),
        finding_re=(re.compile(_guarded(_trie_regex(_as_list(cues["finding_verbs"], "finding_verbs"))), re.IGNORECASE)
                    if cues.get("finding_verbs") else None),
        own_tissue=frozenset(_key(t) for t in _as_list(organs.get("own_tissue"), "own_tissue")),
        normal_frame_re=(_compile_rx(_frame_rx(str(cues["normal_frame"])), lang, "normal_frame")
                         if cues.get("normal_frame") else None),
        frame_keep_re=(_compile_rx(str(cues["normal_frame_keep"]), lang, "normal_frame_keep")
                       if cues.get("normal_frame_keep") else None),
        frame_lead_re=_compile_rx(str(cues.get("normal_frame_lead") or r"\s*"), lang, "normal_frame_lead"),
        intense_normal={str(o): (frozenset(_key(t) for t in _as_list(v.get("terms"), f"intense_normal.{o}.terms")),
                                 frozenset(_key(t) for t in _as_list(v.get("words"), f"intense_normal.{o}.words")))
                        for o, v in _mapping(cues, "intense_normal", f"uptake lexicon ({lang})").items()
                        if isinstance(v, dict)},
        anaphor_re=_compile_rx(str(cues["anaphor"]), lang, "anaphor") if cues.get("anaphor") else None,
        physio_cause_re=_compile_rx(str(cues["physio_cause"]), lang, "physio_cause") if cues.get("physio_cause") else None,
        later_before_re=(_compile_rx("(?:" + str(later["before"]) + r")\Z", lang, "resection_later.before")
                         if later.get("before") else None),
        later_after_re=_compile_rx(str(later["after"]), lang, "resection_later.after") if later.get("after") else None,
    )


def _frame_rx(rx: str) -> str:
    """`rx` behind a first-character guard, unless it starts with one literal (the regex engine scans for that)."""
    return rx if len(_regex_first_chars(rx) or "") <= 2 else _guarded(rx)


def _tissue_first(rx: Any) -> frozenset[str] | None:
    """The characters `tissue_after` can start with; None when any can (a character class such as CJK)."""
    if not rx:
        return frozenset()
    first = _regex_first_chars(str(rx))
    return None if first is None else frozenset(first)


def _bare_uptake(v: Any, lang: str) -> list[str]:
    """The organ ids of the `bare_uptake` list, checked."""
    out = _as_list(v, "bare_uptake")
    for o in out:
        if o not in _ORGAN_RANK:
            raise InputError(f"uptake lexicon ({lang}): unknown organ id {o!r} in bare_uptake")
    return out


def _compile_rx(src: str, lang: str, where: str) -> re.Pattern[str]:
    """A lexicon regex (case-insensitive); a one-line error when it does not compile."""
    try:
        return re.compile(src, re.IGNORECASE)
    except re.error as exc:
        raise InputError(f"lexicon ({lang}): bad regex in {where} ({exc})") from None


def _role_tuple(r: dict[str, Any]) -> tuple[Any, ...]:
    """(interp, break, neg, normalizer, qual, noun, state, state_weak, post_neg, node, post_res, mixed, past, past_end,
    temporal, temporal_normal, gone, adj) of one cue phrase."""
    return (bool(r.get("interp")), bool(r.get("break")), bool(r.get("neg")), bool(r.get("normalizer")),
            bool(r.get("qual")), bool(r.get("noun")), r.get("state"), r.get("state_weak"), bool(r.get("post_neg")),
            bool(r.get("node")), bool(r.get("post_res")), bool(r.get("mixed")), bool(r.get("past")),
            bool(r.get("past_end")), bool(r.get("temporal")), bool(r.get("temporal_normal")), bool(r.get("gone")),
            bool(r.get("adj")))


# -------------------------------------------------------------------------------------------- language
def detect_lang(text: str) -> str:
    """"zh" when CJK characters make up at least 30% of the letters (CJK + Latin), else "en"."""
    cjk = sum(map(len, _CJK_SPAN_RE.findall(text)))  # (runs, not characters: fewer strings to make)
    if not cjk:
        return "en"
    latin = sum(map(len, _LATIN_SPAN_RE.findall(text)))
    return "zh" if cjk / (cjk + latin) >= 0.3 else "en"


_CHUNK_RE = re.compile(r"[^。；;！？!?\n]*?(?:[。；;！？!?\n]+|\.\s+(?=[\u3400-\u9fff])|$)")
_EN_WORDS_RE = re.compile(r"[A-Za-z]{2,}(?:[\s,'()/-]+[A-Za-z]{2,}){3}")  # four English words in a row
_CJK_RUN_RE = re.compile(r"[\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff]{4}")


def _language_runs(text: str, lang: str) -> list[tuple[int, int, str]]:
    """(start, end, lang) runs of `text`: a sentence clearly in the other language (an English sentence with no CJK
    character in a Chinese report; a sentence of mostly CJK characters in an English one) is its own run, so that
    a mixed report is read whole. One run, (0, len, lang), for a text in one language."""
    whole = [(0, len(text), lang)]
    if lang == "zh" and _EN_WORDS_RE.search(text) is None:
        return whole
    if lang == "en" and _CJK_RUN_RE.search(text) is None:
        return whole
    if lang not in LANGS:
        return whole
    other = "en" if lang == "zh" else "zh"
    runs: list[tuple[int, int, str]] = []
    for m in _CHUNK_RE.finditer(text):
        a, b = m.span()
        if a == b:
            continue
        chunk = text[a:b]
        if lang == "zh":
            is_other = _CJK_RE.search(chunk) is None and _EN_WORDS_RE.search(chunk) is not None
        else:
            is_other = _CJK_RUN_RE.search(chunk) is not None and detect_lang(chunk) == "zh"
        run_lang = other if is_other else lang
        if runs and runs[-1][2] == run_lang:
            runs[-1] = (runs[-1][0], b, run_lang)
        else:
            runs.append((a, b, run_lang))
    return runs or whole


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
    sentence_end = lex.sentence_end
    for m in lex.split_re.finditer(text):
        i = m.start()
        ch = text[i]
        if mask[i] and ch != "\n":
            continue
        if ch in sentence_end or ch == ".":
            if ch == ".":
                prv = text[i - 1] if i else ""
                nxt = text[i + 1] if i + 1 < n else ""
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
            if ch in ",:" and 0 < i < n - 1 and text[i - 1].isdigit() and text[i + 1].isdigit():
                continue  # "1,250", "10:30", "1:2"
            if ch == ":" and lex.lang != "zh" and 0 < i < n - 1 and text[i - 1].isspace() and text[i + 1].isalnum():
                continue  # " :F-FDG": a colon glued to the next word stands for a lost character, no break (v9)
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
    """Organ, site, non-organ, reference and resected-organ ("gone") words of a text, in order.

    An organ word followed by a node word names that region's node group ("胃周淋巴结", "renal hilar nodes"; words in
    the link between them name nothing else), or a node station that is none of the 19 ("锁骨下淋巴结"); an organ
    word followed by fat / muscle ("肾周脂肪间隙") is none of the 19; a homonym after a given organ's word takes
    another organ ("L3椎体及附件": bone); an organ named right after "nodes along the" is the nodes' location.
    """
    out: list[_Tok] = []
    terms, node_after, node_by_organ = lex.organ_terms, lex.node_after_re, lex.node_by_organ
    tissue_after, tissue_first = lex.tissue_after_re, lex.tissue_first
    fold = lex.lang != "zh"
    skip_to = -1
    n = len(text)
    scan_parts = "像" in text  # (_SCAN_PART_RE ends in 图像 / 显像 / 影像: a text without 像 has no such heading)
    memo = lex.organ_memo
    for m in lex.organ_re.finditer(text):
        start, end = m.span()
        if start < skip_to:  # inside the link of an organ + node phrase ("renal hilar lymph node")
            continue
        txt = m.group()
        g = m.lastgroup
        if g is None or g == "t":  # (a plain term: what its string alone gives is remembered)
            e = memo.get(txt)
            if e is None:
                e = _organ_entry(txt, terms.get(txt) or terms.get(_key(txt), ("non", "")), lex)
                if len(memo) < _TOKEN_MEMO_SIZE:
                    memo[txt] = e
        else:
            e = _organ_entry(txt, lex.organ_patterns[int(g[1:])], lex)
        kind, target, spec, hw = e
        if scan_parts and _SCAN_PART_RE.match(text, end):  # "盆部PET/CT图像示…": the part of the scan a paragraph reports (v8)
            kind, target = "non", ""
        if kind != "organ":
            if kind == "non" and fold and _SCAN_NAME_RE.match(text, end):
                continue  # "whole-body PET/CT showed …": the scan's extent, neither subject nor place (extractor v9)
            out.append(_Tok(start, end, txt, kind, target))
            continue
        if spec is not None and out and out[-1].target in spec[0] and out[-1].kind == "organ":
            if spec[2].fullmatch(text, out[-1].end, start):
                target = spec[1]
        nm = None
        if node_after is not None and target in node_by_organ:
            nm = node_after.match(text, end)
            if nm is not None:  # "胃周淋巴结", "gastric lymph nodes": the node group of that organ
                target = node_by_organ[target]
                skip_to = nm.end()
                if target == _NODE_NONE:
                    kind, target = "non", ""
                elif "见" in text[end : nm.end()]:  # "胃底及食管后见淋巴结": nodes are seen at every place listed
                    _listed_places(text, out, start, node_by_organ)
        # fat, vessels or a level beside an organ or a node station (肾周脂肪, 锁骨上脂肪, 肺门血管, 肾盂水平): not it
        if nm is None and tissue_after is not None and end < n and (tissue_first is None or text[end] in tissue_first) \
                and tissue_after.match(text, end):
            kind, target = "non", ""
        if "+" in target:  # a group term ("gastrointestinal tract"): one mention per organ, same span
            out.extend(_Tok(start, end, txt, kind, t) for t in target.split("+"))
            continue
        out.append(_Tok(start, end, txt, kind, target, _NO_ROLES_OF_TERM, hw))
    placed: set[int] = set()  # organ words already read as where some nodes lie
    if lex.node_loc_re is not None and out:
        starts = [t.start for t in out]
        for m in lex.node_loc_re.finditer(text):  # "perigastric nodes along the lesser curvature (of the stomach)"
            i = bisect.bisect_left(starts, m.end())
            # (also past a side word and at a station's site: "a node near the left kidney", "nodes near the renal
            # hilum"; extractor v10)
            if i < len(out) and out[i].kind in ("organ", "site") and (
                    out[i].start == m.end() or (fold and _LATERAL_RE.fullmatch(text, m.end(), out[i].start))):
                for t in _location_chain(text, out, i):
                    # (a station word is its own group: "lymphadenopathies at gastrohepatic …", "nodes at the left
                    # supraclavicular region"; extractor v12)
                    node = t.target if t.kind == "site" or t.target in lex.node_groups \
                        else node_by_organ.get(t.target, "")
                    t.kind, t.target = ("organ", node) if node and node != _NODE_NONE else ("non", "")
                    placed.add(t.start)
    if lex.location_before_re is not None and out:
        starts = [t.start for t in out]
        for m in lex.location_before_re.finditer(text):  # "brown fat in the supraclavicular region", "adjacent to the"
            i = bisect.bisect_left(starts, m.end())
            if i < len(out) and out[i].kind in ("organ", "site") and out[i].start not in placed and (
                    out[i].start == m.end() or _LATERAL_RE.fullmatch(text, m.end(), out[i].start)) and not (
                    _FROM_RE.search(m.group()) and not _organ_before(text, out, i, m.start(), lex)):
                for t in _location_chain(text, out, i):
                    t.kind, t.target = "non", ""
    if fold and out:
        _field_of_view(text, out, lex)
    if lex.later_after_re is not None or lex.later_before_re is not None:
        for t in out:  # "Splenectomy was then performed", "followed by orchiectomy": the organ was there on the scan
            if t.kind == "gone" and (
                    (lex.later_after_re is not None and lex.later_after_re.match(text, t.end) is not None)
                    or (lex.later_before_re is not None
                        and lex.later_before_re.search(text[max(0, t.start - 40) : t.start]) is not None)):
                t.kind, t.target = "non", ""
    if lex.lang == "en":
        for i, t in enumerate(out):  # (extractor v17) a resection told after the scan's finding of that same organ
            # ("PET/CT demonstrated splenomegaly with high FDG avidity. Splenectomy was performed."): the organ was
            # there on the scan; "status post splenectomy" and a history resection told before the findings stay absent
            if t.kind == "gone" and (_DONE_AFTER_RE.match(text, t.end) or _UNDERWENT_RE.search(
                    text, max(0, t.start - 30), t.start)) and any(
                    m.kind == "organ" and m.target == t.target and _PET_WORD_RE.search(_sentence(text, m.start))
                    for m in out[:i]):
                t.kind, t.target = "non", ""
        # (extractor v17) "FDG avid hepatosplenomegaly": a group's enlargement word (one span, several organs) names
        # its organs only with its own uptake word right before it; in a list or alone ("…, hepatosplenomegaly") it is
        # CT's (only the English lexicon has such words)
        for i, t in enumerate(out):
            if t.kind == "organ" and i + 1 < len(out) and out[i + 1].start == t.start and out[i + 1].kind == "organ" \
                    and text[t.start : t.end].lower().endswith("megaly") \
                    and not _MEGALY_UPTAKE_RE.search(text, max(0, t.start - 40), t.start):
                for x in out[i : i + 2]:
                    x.kind, x.target = "non", ""
    return out


_FROM_RE = re.compile(r"\bfrom\b", re.IGNORECASE)
# a resection told as done, and a PET reading in the sentence of the organ named before it (extractor v17)
_DONE_AFTER_RE = re.compile(r"\s+(?:was|were)\s+(?:performed|done|carried\s+out)\b", re.IGNORECASE)
_UNDERWENT_RE = re.compile(r"\bunderwent\s+(?:(?:an?|the|total|radical|laparoscopic|left|right)\s+)*$", re.IGNORECASE)
_PET_WORD_RE = re.compile(r"\b(?:fdg|uptake|avid\w*|hypermetabol\w*|metabolic|pet)\b", re.IGNORECASE)


def _sentence(text: str, i: int) -> str:
    """The sentence around position i (from the end of the one before to its own end)."""
    a = max(text.rfind(". ", 0, i), text.rfind("\n", 0, i)) + 1
    b = min((x for x in (text.find(". ", i), text.find("\n", i)) if x >= 0), default=len(text))
    return text[a:b]


# an uptake word right before an enlargement word ("mildly FDG avid hepatosplenomegaly", "non-avid"; extractor v17)
_MEGALY_UPTAKE_RE = re.compile(r"(?:avid|hypermetabolic|hypometabolic|active)[\s-]+$", re.IGNORECASE)


def _organ_entry(txt: str, kind_target: tuple[str, str], lex: Lexicon) -> tuple[str, str, Any, bool]:
    """What _mentions works out from a matched organ string alone: (kind, target, homonym spec or None, whether its
    organ depends on words in its clause)."""
    kind, target = kind_target
    spec, hw = None, False
    if lex.hom_keys:
        key = txt.lower() if lex.lang != "zh" else txt
        if key in lex.hom_keys:
            spec = lex.homonyms.get(key)
            hw = key in lex.homonyms_with
    return kind, target, spec, hw


# the region an image shows ("Axial fused PET-CT scan of the cervical spine showing …"; extractor v12)
_VIEW_OF_RE = re.compile(r"(?:scans?|images?|views?|projections?|slices?|sections?|reconstructions?)[\s-]+(?:of|through)"
                         r"[\s-]+(?:the[\s-]+)?(?:(?:left|right|upper|lower)[\s-]+)?$", re.IGNORECASE)


def _field_of_view(text: str, out: list[_Tok], lex: Lexicon) -> None:
    """A region named as what an image shows ("PET-CT scan of the cervical spine showing a focus … in the spinal
    canal") is the field of view, not the finding's place, when the sentence names a place of its own after it: it
    becomes none of the 19 ("PET image of the liver showing a focal lesion" keeps the liver)."""
    ends = lex.sentence_end
    for i, t in enumerate(out):
        if t.kind not in ("organ", "site") or i + 1 == len(out):
            continue
        a = max(0, t.start - 42)
        # (cheap tests first: the words "of" / "through" and a view word's last letter before them)
        if text.find("of", a, t.start) < 0 and text.find("through", a, t.start) < 0:
            continue
        m = _VIEW_OF_RE.search(text[a : t.start])
        if m is None or (m.start() > 0 and text[a + m.start() - 1].isalpha()):
            continue
        for u in out[i + 1 :]:
            if any(ch in ends for ch in text[t.end : u.start]):
                break
            if u.kind in ("organ", "site", "non") and _OF_THE_RE.fullmatch(text, out[i].end, u.start) is None:
                t.kind, t.target = "non", ""
                break


def _organ_before(text: str, out: list[_Tok], i: int, at: int, lex: Lexicon) -> bool:
    """Whether an organ word stands before out[i] in its sentence, before `at`: a lesion that "extends from" a place
    is that place's unless its sentence named its organ first ("a mass in the left upper lobe that extends from the
    hilum")."""
    return i > 0 and out[i - 1].kind == "organ" and not any(ch in lex.sentence_end for ch in text[out[i - 1].end : at])


# (a place word may end the item: "贲门区及胃左动脉旁可见…淋巴结"; extractor v10)
_LIST_JOIN_RE = re.compile(r"(?:区|部|旁|周围|周|[前后上下左右]方)?(?:及|和|与|以及|、)(?:左侧|右侧|双侧|两侧|左|右|双)?")


def _listed_places(text: str, out: list[_Tok], start: int, node_by_organ: dict[str, str]) -> None:
    """The organ words listed right before `start` (joined by 及/和/、) name the places where the nodes after the list
    are seen ("胃底及食管后见淋巴结": perigastric and retro-oesophageal nodes): they become their node groups."""
    for t in reversed(out):
        if t.kind != "organ" or t.target not in node_by_organ or not _LIST_JOIN_RE.fullmatch(text, t.end, start):
            return
        node = node_by_organ[t.target]
        t.kind, t.target = ("organ", node) if node != _NODE_NONE else ("non", "")
        start = t.start


_LATERAL = r"(?:left|right|bilateral|both)[\s-]+"  # a side word ("left", "bilateral", "both")
_LATERAL_RE = re.compile(_LATERAL, re.IGNORECASE)
_SIDE_OPT = f"(?:{_LATERAL})?"  # an optional side word
_OF_THE_RE = re.compile(r"[\s-]+of[\s-]+(?:the[\s-]+)?(?:(?:left|right)[\s-]+)?", re.IGNORECASE)
_AND_THE_RE = re.compile(r"[\s-]+(?:and|or)[\s-]+(?:the[\s-]+)?(?:(?:left|right)[\s-]+)?", re.IGNORECASE)


def _location_chain(text: str, out: list[_Tok], i: int) -> list[_Tok]:
    """out[i] and the organ words joined to it by "of the" ("the lesser curvature of the stomach") or, for parts of
    the same organ, by "and" ("adjacent to the lumbar spine and thoracic spine"): one place."""
    chain = [out[i]]
    while i + 1 < len(out) and out[i + 1].kind == "organ":
        m = _OF_THE_RE.match(text, out[i].end)
        if (m is None or m.end() != out[i + 1].start) and not (
                out[i + 1].target == chain[0].target and (a := _AND_THE_RE.match(text, out[i].end)) is not None
                and a.end() == out[i + 1].start):
            break
        i += 1
        chain.append(out[i])
    return chain


# the tracer's or the scan's abbreviation in brackets right after the words it stands for ("fluorodeoxyglucose (FDG)
# uptake", "positron emission tomography (PET)"): read as if absent, so that the words around it join ("moderate
# fluorodeoxyglucose (FDG) uptake" is a degree word with uptake; extractor v12)
_EXPANDED_ABBREV_RE = re.compile(
    r"\((?:(?<=glucose\()|(?<=glucose \()|(?<=tomography\()|(?<=tomography \())(?:18\s*F[\s-]*)?(?:FDG|PET(?:[/-]?CT)?)\)",
    re.IGNORECASE)


# a line break inside an English sentence (a report pasted from a PDF or an e-mail, hard-wrapped): the line before ends
# in a word, a number, a comma or a bracket, not in sentence punctuation or a colon, and the next line goes on in lower
# case or with the tracer's or SUV's name ("Hypermetabolic mass in the\nleft upper lobe", "intense\nFDG uptake"). Read
# as a space, not as the end of a sentence and paragraph (extractor v19). A next line in capitals ("Liver: normal", a
# heading) or a numbered item starts anew as before.
_SOFT_WRAP_RE = re.compile(r"(?<=[A-Za-z0-9,;)%/-])[ \t]*\r?\n(?=[ \t]*(?:[a-z]|FDG|SUV|18F|F-18))")


def _blank(m: re.Match[str]) -> str:
    """Spaces as long as the match (offsets are unchanged)."""
    return " " * (m.end() - m.start())


def _normalize(text: str, lex: Lexicon) -> str:
    """`text` with variant characters (traditional, full-width) replaced one for one, and (English) a bracketed
    abbreviation after its expansion and a hard wrap inside a sentence blanked, so offsets are unchanged."""
    if lex.lang != "zh":
        if "(" in text and _EXPANDED_ABBREV_RE.search(text) is not None:
            text = _EXPANDED_ABBREV_RE.sub(_blank, text)
        if "\n" in text and _SOFT_WRAP_RE.search(text) is not None:
            text = _SOFT_WRAP_RE.sub(_blank, text)
    if lex.variant_re is None or lex.variant_re.search(text) is None:
        return text
    return text.translate(lex.variant_table)


def _cues(text: str, lex: Lexicon) -> tuple[list[_Tok], int]:
    """The cue phrases of a text, in order, and the union of their role flags."""
    roles = lex.cue_roles
    out: list[_Tok] = []
    append = out.append
    fl = 0
    memo = lex.cue_memo
    phys_here = lex.lang == "zh" and "生理" in text  # (a 生理… cue can be read against the cue before it)
    for m in lex.cue_re.finditer(text):
        g = m.group()
        r = memo.get(g)
        if r is None:  # (per matched string: its roles)
            r = roles.get(g) or roles.get(_key(g)) or _NO_ROLES
            if len(memo) < _TOKEN_MEMO_SIZE:
                memo[g] = r
        start, end = m.span()
        fl |= r["f"]
        if phys_here and g.startswith("生理") and out and out[-1].end == start and r.get("normalizer") \
                and out[-1].roles.get("state") == "increased" and out[-1].roles.get("context"):
            # a degree of uptake that its next word calls physiological ("胃壁均匀性轻度糖代谢生理性增强"): the degree
            # is the physiological uptake's, no increase of its own (extractor v12)
            prev = out[-1]
            out[-1] = _Tok(prev.start, prev.end, prev.text, "", "", roles.get("代谢") or _NO_ROLES)
        append(_Tok(start, end, g, "", "", r))
    if lex.sign_re is not None and ("<" in text or ">" in text or "≥" in text or "≤" in text or "＞" in text
                                    or "＜" in text):
        # comparison signs ("splenic uptake > liver"): rare, so read apart from the trie, whose guard stays a
        # word-start test (extractor v9)
        signs = []
        for m in lex.sign_re.finditer(text):
            r = roles.get(m.group()) or _NO_ROLES
            fl |= r["f"]
            signs.append(_Tok(m.start(), m.end(), m.group(), "", "", r))
        if signs:
            out = sorted(out + signs, key=lambda t: t.start)
    return out, fl


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
    physio: bool = False  # a physiological reading and nothing else ("考虑生理性摄取", "likely physiologic")
    lower: bool = False  # a state is "lower than <organ>", resolved against the subject (see _resolve_lower)
    flags: int = 0  # union of the role flags of the clause's cues


def _read_clause(
    text: str, c0: int, c1: int, ments: list[_Tok], cues: list[_Tok], lex: Lexicon, mask: bytearray,
    ctx_in: bool = False, node_in: bool = False, time_in: bool = False,
) -> _ClauseRead:
    """What the clause text[c0:c1] (its mentions `ments` and cues) states: its subjects, levels and their reading.

    `ctx_in`: the clause before spoke of uptake; `node_in`: the clause follows a node heading ("淋巴结:");
    `time_in`: the sentence speaks of change since an earlier study.
    """
    flags = _cue_flags(cues, node_in)
    if not flags & _F_HEAVY:  # light read: subjects, context and node words only
        # (uptake context only in a lead-in before the first name — "PET-CT reported that his neck, …" — may still
        # open a list; extractor v12)
        return _light_read(text, c0, c1, ments, flags, ctx_in, lex,
                           bool(ments) and lex.lang != "zh" and bool(flags & _F_CTX)
                           and all(c.end <= ments[0].start for c in cues if c.roles.get("context")))
    named_node = 0  # a node word inside a station's name ("thoracic and abdominal lymph nodes") ends the list too
    if ments and cues:
        kept = _drop_name_cues(cues, ments)
        if kept is not cues:
            named_node = flags & _F_NODE
            cues, flags = kept, _cue_flags(kept, node_in)
    ments, kept_cues, low_weak = _drop_compared(text, c0, ments, cues, lex, bool(flags & _F_CMP))
    if kept_cues is not None:
        cues, flags = kept_cues, _cue_flags(kept_cues, node_in)
    has_node = bool(flags & _F_NODE)
    if lex.lang == "en" and ments and flags & _F_STATE:
        ments = _drop_after_bare_negation(ments, cues)
    subjects = _clause_subjects(text, c0, c1, ments, has_node or bool(named_node), lex)
    has_context = _has_context(text, c0, ments, cues, flags, ctx_in)
    # time: a clause about change since an earlier study, and the scope of a "past" word ("原…", "previously …")
    temporal = time_in or (bool(flags & _F_TIME) and any(c.roles.get("temporal") or c.roles.get("past") for c in cues))
    lv = _scan_levels(text, c0, ments, cues, lex, mask, flags, has_context, temporal)
    if lv.states and lex.lang == "en" and "decreased" in [st[0] for st in lv.states]:
        _decrease_readings(text, c1, lv, cues, lex)
    if lv.states and lex.lang == "en" and (text.find("entr", c0, c1) >= 0 or text.find("enter", c0, c1) >= 0
                                           or text.find("core", c0, c1) >= 0):
        _drop_central_defect(text, c0, c1, lv)
    if has_context:
        # lower than an organ's own tissue: resolved against the subject when bound (see _resolve_lower)
        lv.weak.extend((_LOWER + obj if obj else "normal", c.start, (c.text,)) for c, obj in low_weak if obj != _NO_LEVEL)
    if low_weak and any(obj == _NO_LEVEL for _, obj in low_weak):
        lv.owned = True  # "uptake less than the primary tumour": no level, nor a bare-uptake reading (v13)
        low_weak = [lw for lw in low_weak if lw[1] != _NO_LEVEL]
    if lex.suv_re is not None and any(c.roles.get("suv") for c in cues):
        lv.weak.extend(_suv_levels(text, c0, c1, lex))
    if flags & _F_TIME and has_context and lex.lang == "en":  # "SUV has decreased to 3.9": the level it fell to (v13)
        lv.weak.extend((rest[0], c.start, (c.text, rest[1])) for c in cues if c.roles.get("temporal")
                       and (rest := _remaining_level(text, c, lex)) is not None and rest[0])
    nodes_own = _drop_other_levels(text, lv, cues, ments, flags, has_node, lex)
    if not lv.states and not lv.owned and not lv.weak and not lv.desc and has_context and lex.bare_uptake:
        lv.desc = _bare_uptake_level(text, c0, c1, cues, ments, lex)
    weak_only, provisional = _fall_back(text, c0, c1, lv, cues, lex, nodes_own)
    interp = lv.interp_pos is not None and (lv.first_state_pos is None or lv.interp_pos < lv.first_state_pos)
    if lv.physio and lv.mixed_pos and _undo_mixed_reading(lv, c0, ments):
        interp = True
    physio = lv.physio and not weak_only and all(s == "normal" for s, _, _ in lv.states)
    maybe_enum = bool(ments) and not lv.states and (not has_context or nodes_own)
    return _ClauseRead(subjects, lv.states, has_node, interp or weak_only, maybe_enum, bool(ments), has_context, ments,
                       provisional, physio, any(obj for _, obj in low_weak) if low_weak else False, flags)


_NUM = r"(\d+(?:\.\d+)?)(?!\d|\.\d|\s*(?:%|mm|cm|ml|percent|per\s*cent|months?|weeks?|days?|years?|patients?|cases?)\b)"
_SUV_WORD = r"(?:(?:an?\s+|the\s+)?(?:(?:max(?:imum)?|mean|peak)\s+)?(?:SUV\w*|standardi[sz]ed\s+uptake\s+values?)(?:\s*\(SUV\w*\))?\s*(?:of|=|:)?\s*)"
# a change told with its remaining level: "has decreased, now measuring 3.9", "decreased to SUVmax 4.5", "decreased
# from 12.1 to 4.2", "decreased in intensity, with SUVmax now 5.2": that level decides (extractor v13)
_CHANGE_LEVEL_RE = re.compile(
    r"(?:\s+(?:substantially|significantly|markedly|considerably|slightly|mildly|further|somewhat))?"
    r"(?:\s+(?:in\s+)?(?:intensity|avidity|activity|uptake|fdg\s+uptake|degree|size\s+and\s+(?:uptake|activity|avidity)))?"
    r"[\s,]*(?:(?:and|with)\s+)?(?:"
    r"(?:(?:the\s+)?SUV\w*\s+)?(?:(?:is|was)\s+)?(?:now|currently|presently)\s+(?:(?:measuring|measures|measured|at|of|is)\s+)?"
    + _SUV_WORD + "?" + _NUM +
    r"|(?:now\s+)?measuring\s+" + _SUV_WORD + "?" + _NUM +
    r"|SUV\w*\s+(?:now|currently)\s*(?:of|=|:|is|at)?\s*" + _NUM +
    r"|to\s+" + _SUV_WORD + "?" + _NUM +
    r"|from\s+" + _SUV_WORD + r"?\d+(?:\.\d+)?\s*(?:g/ml\s*)?(?:to|→|->)\s*" + _SUV_WORD + "?" + _NUM + ")",
    re.IGNORECASE)
_CHANGE_WORDS = frozenset({"decreased", "reduced", "diminished", "decrease", "reduction", "decline in", "decline of",
                           "declines in"})
# a comparison with another lesion states no level of the organ compared with ("has decreased uptake in comparison to
# the primary lung cancer", "lower uptake than the primary tumour": extractor v13)
_LESION_OBJ = (r"\s*(?:(?:that|those)\s+(?:of|in)\s+)?(?:the\s+|its\s+|their\s+|a\s+)?(?:(?:known|index|primary|other|"
               r"original|dominant|adjacent|main|left|right|[a-z]+(?:al|ic|ar|ary))\s+){0,3}(?:primary|primaries|lesions?|"
               r"tumou?rs?|cancers?|carcinomas?|mass(?:es)?|malignancy|malignancies|metasta\w+|nodules?|neoplasms?)\b")
_LESION_CMP_RE = re.compile(
    r"(?:\s+(?:fdg\s+|tracer\s+)?(?:uptake|activity|avidity|metabolism|accumulation))?\s*"
    r"(?:in\s+comparison\s+(?:to|with)|compared\s+(?:to|with)|relative\s+to|than)\b" + _LESION_OBJ, re.IGNORECASE)
_LESION_OBJ_RE = re.compile(_LESION_OBJ, re.IGNORECASE)  # "less than the primary lung tumour": no level (v13)


def _remaining_level(text: str, c: _Tok, lex: Lexicon) -> tuple[str, str] | None:
    """The level a change cue `c` ("decreased", "reduced to") is told with: ("increased", words) at or above the SUV
    threshold, ("", words) below it, None when no remaining level follows (extractor v13)."""
    word = c.text.split(None, 1)[0].lower()
    if word not in _CHANGE_WORDS:
        return None
    at = c.start + len(word)
    m = _CHANGE_LEVEL_RE.match(text, at, min(len(text), at + 80))
    if m is None:
        return None
    value = float(m.group(m.lastindex or 1))
    return ("increased" if value >= lex.suv_threshold > 0 else ""), m.group().strip(" ,")


def _decrease_readings(text: str, c1: int, lv: _Levels, cues: list[_Tok], lex: Lexicon) -> None:
    """Re-read `lv`'s decreased states (extractor v13): a decrease told with its remaining level ("SUV has decreased,
    now measuring 3.9") is that level (increased at or above the SUV threshold, else no level); a decrease relative to
    another lesion ("decreased uptake in comparison to the primary lung cancer") is no level."""
    ends = {c.start: c for c in cues}
    limit = min(len(text), c1 + 80)
    kept = []
    for st in lv.states:
        c = ends.get(st[1]) if st[0] == "decreased" else None
        if c is None:
            kept.append(st)
            continue
        if (rest := _remaining_level(text, c, lex)) is not None:
            if rest[0]:
                kept.append((rest[0], st[1], (*st[2], rest[1])))
            lv.owned = True
            continue
        if (_LESION_OBJ_RE if c.text[-4:].lower() == "than" else _LESION_CMP_RE).match(text, c.end, limit) is not None:
            lv.owned = True
            continue
        kept.append(st)
    lv.states = kept


_CENTRAL_BEFORE_RE = re.compile(r"\bcentral(?:ly)?\b[^,;.]{0,20}$", re.IGNORECASE)
_CENTRE_AFTER_RE = re.compile(r"[^,;.]{0,25}?\b(?:cent(?:er|re)|core)\b", re.IGNORECASE)
_LESION_WORD_RE = re.compile(r"\b(?:mass(?:es)?|lesions?|tumou?rs?|nodules?|nodes?)\b", re.IGNORECASE)


def _drop_central_defect(text: str, c0: int, c1: int, lv: _Levels) -> None:
    """A decrease in the centre of a lesion (its necrosis) is part of that lesion, no level of its organ ("centrally
    diminished uptake in the mass, compatible with necrosis", "a mass with a centrally decreased uptake"; extractor
    v14): those states go (and with them any bare-uptake reading). A photopenic centre stays absent (guide 4.3)."""
    if _LESION_WORD_RE.search(text, c0, c1) is None:
        return
    kept = [st for st in lv.states if st[0] != "decreased" or not (
        _CENTRAL_BEFORE_RE.search(text, c0, st[1]) is not None
        or _CENTRE_AFTER_RE.match(text, st[1], c1) is not None)]
    if len(kept) != len(lv.states):
        lv.states[:] = kept
        lv.owned = True


def _cue_flags(cues: list[_Tok], node_in: bool) -> int:
    """The union of the role flags of `cues`, with the node flag after a node heading (`node_in`)."""
    flags = _F_NODE if node_in else 0
    for c in cues:
        flags |= c.roles["f"]
    return flags


def _drop_name_cues(cues: list[_Tok], ments: list[_Tok]) -> list[_Tok]:
    """`cues` less those wholly inside a longer mention, which are part of that name ("lower" in "right lower lobe",
    正常 in 正常肝脏); `cues` itself when none is."""
    # mentions come from one finditer: sorted and disjoint, so only the last one starting at or before a cue can hold it
    kept: list[_Tok] = []
    mi, last = 0, len(ments) - 1
    for c in cues:
        cs, ce = c.start, c.end
        while mi < last and ments[mi + 1].start <= cs:
            mi += 1
        m = ments[mi]
        if m.start <= cs and ce <= m.end and m.end - m.start > ce - cs:
            continue
        kept.append(c)
    return kept if len(kept) != len(cues) else cues


_NUMBER_NEXT_RE = re.compile(r"[ \t]*(?:about|approximately|~)?[ \t]*\d")
# a comparison with a size, a share or a count ("nodes greater than 1 cm", "> 50% of patients") states no uptake level
_MEASURE_NEXT_RE = re.compile(r"[ \t]*(?:about|approximately|~)?[ \t]*\d+(?:[.,]\d+)?[ \t]*(?:mm|cm|m|%|percent|per[ \t]+cent|"
                              r"years?|yrs?|months?|weeks?|days?|hours?|h|min|minutes?|times|fold|patients|cases|lesions|"
                              r"nodes|nodules|毫米|厘米|个|例|岁)(?![A-Za-z])", re.IGNORECASE)


def _drop_compared(
    text: str, c0: int, ments: list[_Tok], cues: list[_Tok], lex: Lexicon, compares: bool,
) -> tuple[list[_Tok], list[_Tok] | None, list[tuple[_Tok, str]]]:
    """The clause's mentions and cues without the objects of its comparisons ("高于肝脏", "higher than the liver").

    Returns the mentions (references dropped; a compared-with organ tissue that places an unplaced lesion added), the
    cues (None when none was dropped) and the "lower than" cues with the organ compared with ("" for none): "低于肝脏",
    "lower than the liver" is not increased (a weak normal). `compares`: the clause has a comparison cue.
    """
    dropped_m: set[int] = set()
    low_weak: list[tuple[_Tok, str]] = []
    dropped_c: set[int] = set()
    own: _Tok | None = None  # a compared-with organ tissue ("高于脑实质") that may place the lesion
    for ci, c in enumerate(cues if compares else ()):
        if c.roles.get("cmp_before"):
            if _NUMBER_NEXT_RE.match(text, c.end):
                continue  # "SUVmax > 2.5 and bone marrow …", "greater than 1 cm": a number is what it is compared with
            ends = [m.end for m in ments if c.end <= m.start <= c.end + lex.max_gap][:1]
            ends += [d.end for d in cues[ci + 1 :] if d.roles.get("reference") and d.start <= c.end + lex.max_gap][:1]
            if not ends and c.roles.get("state") == "normal":
                dropped_c.add(ci)  # "similar to diffuse nephromegaly in X": likened to another finding, no level (v9)
            elif not ends and c.roles.get("cmp_low") and not c.roles.get("state") and lex.lang == "en" and (
                    _LESION_OBJ_RE.match(text, c.end, c.end + lex.max_gap) is not None):
                low_weak.append((c, _NO_LEVEL))  # "uptake lower than that of the primary tumour": no level (v13)
            if ends:
                ref_end = min(ends)
                obj = [m for m in ments if c.end <= m.start < ref_end and m.kind in ("organ", "ref")][:1]
                if c.roles.get("cmp_low") and not c.roles.get("state"):
                    # (lower than another lesion: no level at all, _NO_LEVEL; extractor v13)
                    low_weak.append((c, _NO_LEVEL if lex.lang == "en" and _LESION_OBJ_RE.match(text, c.end, ref_end)
                                     is not None else obj[0].target if obj else ""))
                if obj and obj[0].target and own is None and _key(obj[0].text) in lex.own_tissue:
                    own = obj[0]
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
    if own is not None and not any(m.kind in ("organ", "site") for m in ments):
        # "病灶摄取明显高于脑实质", "lower than the surrounding liver": the lesion lies in that tissue's organ
        ments = sorted([*ments, _Tok(own.start, own.end, own.text, "organ", own.target)], key=lambda m: m.start)
    kept = [c for i, c in enumerate(cues) if i not in dropped_c] if dropped_c else None
    return ments, kept, low_weak


# negations that deny what follows them ("with no evidence of liver metastases", "without bone lesions")
_DENYING = frozenset({"no", "without", "no evidence of", "no evidence for", "negative for", "free of", "absence of",
                      "lack of"})
# roles of a cue after such a negation that give it a level to deny ("without hypermetabolic bone lesions": normal)
_DENIABLE = ("state", "state_weak", "context", "noun", "desc", "desc_alone", "suv", "normalizer")


def _drop_after_bare_negation(ments: list[_Tok], cues: list[_Tok]) -> list[_Tok]:
    """The mentions of an English clause, less those after a negation that denies no uptake word of its own when a
    level was stated before it: "intense uptake in the lung with no evidence of liver metastases", "hypermetabolic
    pulmonary nodules without bone lesions" state nothing of the liver or the bone; the level before the negation
    does not reach past it (extractor v19). A negation with an uptake word after it ("without hypermetabolic bone
    lesions") is read as before."""
    for k, c in enumerate(cues):
        if c.text.lower() not in _DENYING:
            continue
        if not any(d.roles.get("state") for d in cues[:k]):
            return ments
        if any(d.roles.get(r) for d in cues[k + 1 :] for r in _DENIABLE):
            return ments
        return [m for m in ments if m.start < c.end]
    return ments


def _clause_subjects(text: str, c0: int, c1: int, ments: list[_Tok], has_node: bool, lex: Lexicon) -> list[_Subj]:
    """The subjects the mentions of a clause name: an organ, a site (an organ only in a clause about nodes), or a
    blocking subject that is none of the 19 organs."""
    subjects: list[_Subj] = []
    for m in ments:
        if m.kind == "organ":
            subjects.append(_Subj(_organ_in_clause(text, c0, c1, m, has_node, lex) if m.hw else m.target, m.text, m.start))
        elif m.kind == "site":
            subjects.append(_Subj(m.target if has_node else "", m.text, m.start, site=m.target))
        else:
            subjects.append(_Subj("", m.text, m.start))
    return subjects


def _has_context(text: str, c0: int, ments: list[_Tok], cues: list[_Tok], flags: int, ctx_in: bool) -> bool:
    """Whether a clause speaks of uptake: it has an uptake-context cue, or it continues the previous clause's context
    (a clause that names no organ; a contrast, "…代谢增高，而丘脑…则降低", "…, whereas the X is lower")."""
    if flags & _F_CTX or (ctx_in and not ments):
        return True
    if not (ctx_in and cues) or text[c0 : cues[0].start].strip():
        return False
    # (an interpretation that reads the uptake before as physiological goes on speaking of it even where it names the
    # organ: "…放射性浓聚，考虑为月经期子宫内膜增厚所致", extractor v8)
    return bool(cues[0].roles["t"][1]) or bool(cues[0].roles["t"][0] and flags & _F_NORM)


@dataclass
class _Levels:
    """The levels the cues of one clause state (_scan_levels), and what the clause-wide rules after the scan need."""

    states: list[tuple[str, int, tuple[str, ...]]]  # (state, pos, cues)
    weak: list[tuple[str, int, tuple[str, ...]]]  # weak readings: count when the clause states nothing else
    desc: list[tuple[str, int, tuple[str, ...]]]  # provisional states, used when the clause states nothing else
    first_state_pos: int | None
    interp_pos: int | None  # the first interpretation cue
    mixed_pos: list[int] | tuple[int, ...]  # the mixed-reading cues ("physiologic versus inflammatory")
    physio: bool  # a physiological reading was read in this clause
    physio_pos: int
    physio_states: list[int] | None  # positions of the normal states a physiological word gave
    reading_states: dict[int, str] | None  # states that are readings (炎性摄取) or were made normal by one: level
    owned: bool  # a state of the clause was taken away (another tissue's, a change): no bare-uptake reading


def _scan_levels(
    text: str, c0: int, ments: list[_Tok], cues: list[_Tok], lex: Lexicon, mask: bytearray, flags: int,
    has_context: bool, temporal: bool,
) -> _Levels:
    """Read the cues of a clause in order: states, with negation / normalizer / absent-by-negation scopes, time
    (`temporal`: a clause about change), physiological readings, weak and provisional (descriptor) readings."""
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
    mixed_pos = [c.start for c in cues if c.roles.get("mixed")] if flags & _F_MIX else _EMPTY
    past: _Tok | None = None
    physio = False  # a physiological reading was read in this clause
    physio_pos = -1
    physio_states: list[int] | None = None  # positions of the normal states a physiological word gave
    reading_states: dict[int, str] | None = None  # states that are readings (炎性摄取) or were made normal by one: level
    stated = False  # a state or uptake noun seen so far in the clause
    owned = False  # a state of the clause was taken away (another tissue's, a change): no bare-uptake reading
    for ci, c in enumerate(cues):
        (r_interp, r_break, r_neg, r_normalizer, r_qual, r_noun, st, r_weak, r_post_neg, _, r_post_res, r_mixed,
         r_past, r_past_end, _, r_tnorm, r_gone, r_adj) = c.roles["t"]
        if r_neg and c.roles.get("neg_prefix") and not _prefix_negates(text, c, cues, ci):
            continue  # "non-solid", "non-Hodgkin": a prefix, not a negation
        if r_interp and interp_pos is None:
            interp_pos = c.start
        if flags & _F_NORM and not st and c.roles.get("pcause"):
            if interp_pos is None:  # "排卵期卵巢摄取明显": a phase, no reading
                continue
            st, r_normalizer = "normal", True  # "考虑为月经期…所致": a physiological reading (extractor v8)
        if r_gone and not stated and _organ_gone(text, c, ments, lex):  # "左侧睾丸缺如", "The left testis is absent"
            states.append(("absent", c.start, (c.text,)))
            first_state_pos = c.start if first_state_pos is None else first_state_pos
            stated = True
            continue
        if r_break and c.text[:1] == "、" and not (noun is not None and noun.end == c.start):
            r_break = False  # "、明显…" starts a new category only after a negated uptake noun ("没有摄取、轻度摄取增高")
        if r_break and ci and neg is not None and noun is None and not state_since_neg and first_state_pos is None and \
                lex.lang != "zh" and c.text.lower() in _FINDING_VERB_BREAKS and cues[0].text.lower() in _SUBJECT_NEGS \
                and neg.text.lower() in _SUBJECT_NEGS and not text[c0 : cues[0].start].strip() \
                and not any(x.roles["t"][1] for x in cues[1:ci]) and not _RELATIVE_RE.search(text, cues[0].end, c.start):
            r_break = False  # "No pulmonary nodule demonstrates FDG avidity", "Neither the liver nor the spleen shows
            # increased uptake": the verb of a negated subject keeps the negation (extractor v10)
        if r_break:
            if neg is not None and noun is not None and not state_since_neg:
                states.append(("normal" if qual else "absent", noun.start, (neg.text, noun.text)))
                first_state_pos = noun.start if first_state_pos is None else first_state_pos
            neg, norm, qual, noun, state_since_neg = None, None, False, None, False
            scope_start, desc_scope = len(states), len(desc)
        if r_past:
            past = c
        elif past is not None and (r_past_end or r_break or r_interp or r_neg):
            past = None
        if r_neg:
            neg, qual, noun, state_since_neg = c, r_qual, None, False
        if r_normalizer:
            norm = c
        if r_qual and neg is not None:
            qual = True
        valid = has_context or mask[c.start] == 2
        if st and r_adj and _anatomy_next(text, c, ments, lex):  # "lower rectum", "lower pole": anatomy, no level
            st = None
        if st and flags & _F_CMP and c.roles.get("cmp_before") and _MEASURE_NEXT_RE.match(text, c.end):
            st = None  # "nodes greater than 1 cm", "> 50% of patients": a size or a count, no level (extractor v9)
        if st and valid:
            stated = True
            cue_words: tuple[str, ...] = (c.text,)
            final = st
            if temporal and r_tnorm:  # "now with suppressed activity": back to normal after therapy
                final, st = "normal", "normal"
            if st == "decreased" and neg is None and (temporal or _CHANGE_NOUN_RE.match(text, c.start)):
                # "较前减低", "a slight reduction in FDG uptake": a change since before, not a level
                final, owned = "", True  # (and the uptake noun beside it is no bare finding either)
                if lex.lang == "en" and (rest := _remaining_level(text, c, lex)) is not None and rest[0]:
                    final, cue_words = rest[0], (c.text, rest[1])  # "decreased to 3.9": still increased (v13)
            elif past is not None and st != "normal" and neg is None and norm is None:
                desc.append((st, c.start, (past.text, c.text)))  # what an earlier study showed: provisional
                final = ""
            elif st != "normal" and neg is not None:
                final, cue_words = "normal", (neg.text, c.text)
            elif st != "normal" and norm is not None:
                final, cue_words = "normal", (norm.text, c.text)
                if reading_states is None:
                    reading_states = {}
                reading_states[c.start] = "" if r_mixed else st
            elif st == "normal" and r_normalizer and states and _physio_reading(text, c, c0, interp_pos, mask, mixed_pos):
                # "…摄取稍增高（考虑生理性摄取）", "increased uptake likely physiologic": the stated level is normal
                _normalise_scope(states, scope_start, c.text)
                physio = True
                physio_pos = c.start if physio_pos < 0 else physio_pos
            if final and r_mixed:
                if reading_states is None:
                    reading_states = {}
                reading_states.setdefault(c.start, "")
            if final:
                states.append((final, c.start, cue_words))
                if first_state_pos is None:
                    first_state_pos = c.start
                if neg is not None:
                    state_since_neg = True
                if r_normalizer and final == "normal" and neg is None:
                    physio = True
                    physio_pos = c.start if physio_pos < 0 else physio_pos
                    physio_states = [*(physio_states or ()), c.start]
        elif r_weak and valid and desc_at.get(c.start) is not _TEXTURE:
            weak.append(("normal", c.start, (c.text,)))
        if desc_at and valid and neg is None and norm is None and c.start in desc_at and desc_at[c.start] is not _TEXTURE:
            d_state, d_words = desc_at[c.start]
            desc.append((d_state, c.start, d_words))
        if r_noun:
            stated = True
            if not st and neg is not None and not state_since_neg and noun is None:
                noun = c
            if (not st and norm is not None and neg is None and valid and norm.text[-3:].lower() == " of"
                    and _resolution_object(text, norm, c, cues, ci, ments)):
                # "resolution of nodal FDG uptake", "… of the previously seen uptake": normal (extractor v16)
                states.append(("normal", c.start, (norm.text, c.text)))
                first_state_pos = c.start if first_state_pos is None else first_state_pos
        if (r_post_neg or r_post_res) and valid and _post_negation(c, r_post_res, states, scope_start, desc, desc_scope,
                                                                    cues) and first_state_pos is None:
            first_state_pos = c.start
    if neg is not None and noun is not None and not state_since_neg:
        states.append(("normal" if qual else "absent", noun.start, (neg.text, noun.text)))
        if first_state_pos is None:
            first_state_pos = noun.start
    if states and lex.lang != "zh" and ments:
        _read_exception(text, states, cues, ments)
        if states:
            _drop_no_other(text, states, ments)
    return _Levels(states, weak, desc, first_state_pos, interp_pos, mixed_pos, physio, physio_pos, physio_states,
                   reading_states, owned)


# words that may stand between a resolution ("resolution of") and the uptake it names, besides names, node words and
# past words: "resolution of the previously seen FDG uptake", "disappearance of nodal uptake" (extractor v16)
_RES_OBJECT_WORDS = frozenset({"the", "a", "an", "its", "their", "this", "these", "that", "those", "all", "any", "fdg",
                               "tracer", "radiotracer", "metabolic", "previous", "prior", "earlier", "known"})
_WORD_RE = re.compile(r"[^\W\d_]+")


def _resolution_object(text: str, norm: _Tok, noun: _Tok, cues: list[_Tok], ci: int, ments: list[_Tok]) -> bool:
    """Whether the uptake noun `noun` (cues[ci]) is what resolution `norm` ("resolution of", "disappearance of") says
    went away: only names, node words, past words ("previously seen") and the words of _RES_OBJECT_WORDS between them
    (extractor v16)."""
    if noun.start - norm.end > 60:
        return False
    spans = []
    for x in cues[:ci]:
        if x.start >= norm.end:
            t = x.roles["t"]
            if any(t) and not (t[9] or t[12]):  # (a node word, a past word; a reference word alone: "previous")
                return False
            spans.append((x.start, x.end))
    spans.extend((m.start, m.end) for m in ments if norm.end <= m.start and m.end <= noun.start)
    at = norm.end
    for a, b in sorted(spans):
        if a > at and any(w.lower() not in _RES_OBJECT_WORDS for w in _WORD_RE.findall(text, at, a)):
            return False
        at = max(at, b)
    return not any(w.lower() not in _RES_OBJECT_WORDS for w in _WORD_RE.findall(text, at, noun.start))


# scope breakers that are the verb of the clause's subject: after a negated subject they keep its negation (v10)
_FINDING_VERB_BREAKS = frozenset({"shows", "show", "showed", "showing", "demonstrates", "demonstrate", "demonstrated",
                                  "exhibits", "exhibit", "exhibited", "displays", "display", "displayed", "reveals",
                                  "reveal", "revealed", "has", "have", "had"})
_SUBJECT_NEGS = frozenset({"no", "neither", "none", "nor"})  # negations of a clause's subject ("No node shows …")
_RELATIVE_RE = re.compile(r"\b(?:which|that|who|whose|where)\b", re.IGNORECASE)


# a lesion word in a fronted exception ("Apart from the liver lesion, no abnormal uptake"; extractor v19)
_EXCEPTED_LESION_RE = re.compile(r"\b(?:lesions?|mass(?:es)?|nodules?|nodes?|foci|focus|tumou?rs?|metasta\w*|deposits?|"
                                 r"adenopathy|lymphadenopathy|carcinoma|cancer|lymphoma)\b", re.IGNORECASE)
# the exception to a negated or normal statement ("No abnormal uptake except in the thyroid")
_EXCEPT_RE = re.compile(r"\b(?:except(?:[\s-]+for)?|apart[\s-]+from|aside[\s-]+from|other[\s-]+than|besides|save[\s-]+for|"
                        r"with[\s-]+the[\s-]+exception[\s-]+of)\b", re.IGNORECASE)


def _read_exception(text: str, states: list[tuple[str, int, tuple[str, ...]]], cues: list[_Tok], ments: list[_Tok]
                    ) -> None:
    """An exception to a negated or normal statement that names no organ before it ("No abnormal uptake except in
    the thyroid", "no other FDG-avid lesion besides the pancreatic mass", "Normal distribution apart from intense
    uptake in the adrenal") is the abnormal place: the normal levels before the exception word are dropped, and the
    place after it is `increased` unless a level is stated there (extractor v9)."""
    if states[0][0] != "normal":  # (the exception follows a normal or negated statement: the first level is normal)
        return
    first = states[0][1]
    end = max(ments[-1].end, cues[-1].end if cues else 0)
    e = _EXCEPT_RE.search(text, first, end)
    if e is None:
        return
    pre = [st for st in states if st[1] < e.start()]
    if not pre or any(st[0] != "normal" for st in pre):
        return
    post = [st for st in states if st[1] >= e.start()]
    words = (*(w for st in pre for w in st[2]), e.group())
    # (a region before the exception names no organ of its own: "No abnormal uptake in the chest apart from the lung
    # mass" makes the lung increased, not normal; extractor v10)
    if any(m.start < e.start() for m in ments if m.kind == "organ"):
        # "No abnormal uptake in the liver except for a focus in segment 7": the organ's normal level stands, and the
        # exception within it is its abnormal place, unless the exception names another organ or states a level
        if not post and not any(m.start >= e.end() and m.kind == "organ" for m in ments):
            states.append(("increased", e.start(), words))
        return
    if not any(m.start >= e.end() and m.kind == "organ" for m in ments):
        return
    states[:] = post if any(st[0] != "normal" for st in post) else [("increased", e.start(), words)]


_NO_OTHER_BEFORE_RE = re.compile(r"\b(?:no|without|nor)[\s-]+(?:[a-z]+[\s-]+)?(?:other|additional|further)[\s-]+"
                                 r"(?:[a-z]+[\s-]+){0,2}$", re.IGNORECASE)


def _drop_no_other(text: str, states: list[tuple[str, int, tuple[str, ...]]], ments: list[_Tok]) -> None:
    """A negation of "other / additional / further" findings after the clause's organ, with no organ after it ("a
    hypermetabolic lesion in the tail of the pancreas with no other abnormal uptake") speaks of the rest of the body:
    its normal level is not that organ's (extractor v9)."""
    for k in range(len(states) - 1, -1, -1):
        st, pos, _w = states[k]
        if st == "normal" and _NO_OTHER_BEFORE_RE.search(text, max(0, pos - 40), pos) is not None and not any(
                m.start > pos and m.kind in ("organ", "site") for m in ments):
            del states[k]


def _normalise_scope(states: list[tuple[str, int, tuple[str, ...]]], start: int, word: str) -> None:
    """Make the levels from index `start` on normal, citing `word` (a physiological reading, a negation after them)."""
    for k in range(start, len(states)):
        s, p, w = states[k]
        if s != "normal":
            states[k] = ("normal", p, (*w, word))


def _post_negation(
    c: _Tok, resolves: bool, states: list[tuple[str, int, tuple[str, ...]]], scope_start: int,
    desc: list[tuple[str, int, tuple[str, ...]]], desc_scope: int, cues: list[_Tok],
) -> bool:
    """A negation or resolution after what it denies (`c`: "not seen", "消失"; `resolves`: a resolution).

    The levels of the current negation scope become normal; without any, its provisional ones become normal states
    ("focal esophageal uptake is not seen", "原高代谢灶消失"); without those, an uptake noun before it is absent ("no
    uptake … not seen"), or normal when the uptake went away ("摄取消失"). True when a state was added.
    """
    if len(states) > scope_start:
        _normalise_scope(states, scope_start, c.text)
        return False
    if len(desc) > desc_scope:
        for _s, p, w in desc[desc_scope:]:
            states.append(("normal", p, (*w, c.text)))
        del desc[desc_scope:]
        return True
    prev_nouns = [d for d in cues if d.end <= c.start and d.roles.get("noun")]
    if prev_nouns:
        states.append(("normal" if resolves else "absent", c.start, (prev_nouns[-1].text, c.text)))
        return True
    return False


_SUV_TO_RE = re.compile(r"\s*(?:g/ml|g/mL)?\s*(?:to|→|->|降至|升至|降到|升到|至)\s*(?:an?\s+)?(?:SUV\w*\s*(?:of\s*)?)?(\d+(?:\.\d+)?)",
                        re.IGNORECASE)


def _suv_levels(text: str, c0: int, c1: int, lex: Lexicon) -> list[tuple[str, int, tuple[str, ...]]]:
    """Weak increased levels from SUV values at or above the lexicon's threshold ("SUVmax 7.8" alone: a lesion's
    uptake is increased)."""
    out = []
    end = c1
    if text[c1:c1 + 1] in (":", "："):  # "(SUV max: 3.26; Fig.": a colon split the SUV word from its value (v11)
        end = min(len(text), c1 + 24)
    for m in lex.suv_re.finditer(text, c0, end):  # type: ignore[union-attr]
        if m.start() >= c1:
            break
        try:
            value = float(m.group("value"))
        except (IndexError, ValueError):
            continue
        to = _SUV_TO_RE.match(text, m.end(), c1)
        if to is not None:  # "from SUVmax 6.2 to 2.1", "SUVmax 6.2 → 2.1", "由5.1降至2.0": the later value is the level (v9)
            value = float(to.group(1))
        if value >= lex.suv_threshold:
            out.append(("increased", m.start(), (m.group(),)))
    return out


def _drop_other_levels(
    text: str, lv: _Levels, cues: list[_Tok], ments: list[_Tok], flags: int, has_node: bool, lex: Lexicon,
) -> bool:
    """Drop from `lv` the levels that are no finding of the clause's organs: organ adjectives' ("renal cyst"), another
    tissue's ("increased muscular uptake"), what a disease generally does (`generic`, an `artifact` reading), levels
    of unnamed lymph nodes. Sets `lv.owned` when a level was taken away; True when unnamed nodes took one."""
    if len(lv.states) > 1 and any(st[0] != "normal" for st in lv.states):
        lv.states = _drop_organ_adjectives(text, lv.states, ments)
    if lv.states and any(m.kind == "non" for m in ments):  # "increased muscular uptake": the muscle's, no organ's
        kept_states = _not_owned(text, lv.states, cues, ments)
        lv.owned, lv.states = lv.owned or len(kept_states) < len(lv.states), kept_states
    if (lv.states or lv.desc) and flags & _F_GEN:
        # "Lymphoma can result in diffuse marrow hypermetabolism", "Both typically present with increased uptake in
        # the spleen": what a disease generally does is no finding of this study (a physiological reading still is)
        # (an artifact reading takes every state: "… compatible with an attenuation correction artifact")
        artifact = bool(flags & _F_ART)
        kept_states = [] if artifact else [st for st in lv.states if st[0] in ("normal", "absent")]
        lv.owned = lv.owned or len(kept_states) < len(lv.states) or bool(lv.desc)
        lv.states, lv.weak, lv.desc = kept_states, [], []
    nodes_own = False
    if lv.states and has_node and lex.forward_re is not None:  # "… without increased uptake in the lymph nodes"
        kept_states = _unnamed_nodes(text, lv.states, cues, ments, lex)
        nodes_own, lv.states = len(kept_states) < len(lv.states), kept_states
        lv.owned = lv.owned or nodes_own
    return nodes_own


def _bare_uptake_level(
    text: str, c0: int, c1: int, cues: list[_Tok], ments: list[_Tok], lex: Lexicon,
) -> list[tuple[str, int, tuple[str, ...]]]:
    """The provisional level of uptake wording alone ("FDG uptake in paratracheal nodes"), for a clause that states
    nothing else: increased for the `bare_uptake` organs (lymph nodes show no uptake of their own) or after a finding
    verb, nothing for the others (see _emit); none in a clause with a negation."""
    if any(c.roles["t"][2] or c.roles["t"][8] or c.roles["t"][10] for c in cues):
        return []
    # only where the clause names the organ itself (a template slot "淋巴结，FDG摄取" states no level) and the
    # uptake is not another tissue's ("brown fat uptake", "muscular uptake")
    # (a noun that is also a qualifier, "代谢变化", speaks of a change only where a negation denies it)
    noun = next((c for c in cues if c.roles.get("noun") and not c.roles.get("qual")), None)
    # (or where the uptake's place points back to a lesion named before: "PET/CT showed FDG uptake in the mass";
    # extractor v12)
    if noun is not None and (any(m.kind in ("organ", "site") for m in ments) or (
            lex.anaphor_re is not None and lex.lang != "zh" and lex.anaphor_re.search(text, noun.end, c1))) and not any(
            m.kind == "non" and m.end <= noun.start and not text[m.end : noun.start].strip(" -") for m in ments):
        found = lex.finding_re is not None and lex.finding_re.search(text, c0, c1) is not None
        return [(_FINDING if found else _BARE, noun.start, (noun.text,))]
    return []


def _fall_back(text: str, c0: int, c1: int, lv: _Levels, cues: list[_Tok], lex: Lexicon, nodes_own: bool = False
               ) -> tuple[bool, bool]:
    """A clause that states no level takes its weak readings, else its provisional ones, as its states
    (`nodes_own`: unnamed nodes took a level, so the lesion of the clause is theirs, not the texture's).

    Returns (weak_only, provisional): the states are weak / provisional readings.
    """
    if not lv.states and lv.weak and not nodes_own and lex.frame_keep_re is not None and {w[1] for w in lv.weak} <= {
            c.start for c in cues if c.roles.get("texture")} and lex.frame_keep_re.search(text, c0, c1):
        lv.weak = []  # "结节密度及代谢分布较均匀", "the nodules show homogeneous uptake": a lesion's texture, no level
    if not lv.states and lv.weak:
        lv.states, lv.first_state_pos = lv.weak, lv.weak[0][1]
        return True, False
    if not lv.states and lv.desc:
        lv.states, lv.first_state_pos = lv.desc, lv.desc[0][1]
        return True, True
    return False, False


def _undo_mixed_reading(lv: _Levels, c0: int, ments: list[_Tok]) -> bool:
    """A physiological reading mixed with another one ("physiologic versus inflammatory", "考虑炎性或生理性摄取") states
    no level of its own: an interpretation (in a clause that names no organ, a mixed word anywhere counts).

    True when so; then `lv.physio` is cleared, and the physiological and other reading words' states are dropped and
    what they normalised is undone (a reading is no level).
    """
    since = lv.interp_pos if lv.interp_pos is not None else (c0 if not ments else lv.physio_pos)
    if not any(p >= since for p in lv.mixed_pos):
        return False
    lv.physio = False
    rs = lv.reading_states or {}
    ps = lv.physio_states or ()
    lv.states = [(rs[p] or s0 if p in rs else s0, p, w) for s0, p, w in lv.states if p not in ps and rs.get(p, None) != ""]
    return True


def _not_owned(text: str, states: list[tuple[str, int, tuple[str, ...]]], cues: list[_Tok], ments: list[_Tok]
               ) -> list[tuple[str, int, tuple[str, ...]]]:
    """`states` less those whose cue qualifies a non-organ word right after it that is followed by an uptake noun
    ("increased muscular uptake", "intense myocardial FDG activity"): that state is the muscle's or the heart's."""
    non_at = {m.start: m for m in ments if m.kind == "non"}
    noun_at = {c.start for c in cues if c.roles.get("noun")}
    cue_end = {c.start: c.end for c in cues}

    def skip(i: int) -> int:
        while i < len(text) and text[i] in " -\t":
            i += 1
        return i

    out = []
    for st in states:
        end = cue_end.get(st[1])
        m = non_at.get(skip(end)) if end is not None else None
        if m is not None and skip(m.end) in noun_at:
            continue
        out.append(st)
    return out


def _skip_space(text: str, i: int) -> int:
    """The first index at or after `i` that is not white space."""
    n = len(text)
    while i < n and text[i].isspace():
        i += 1
    return i


_HEAD_MARK_RE = re.compile(r"\s*(?:[（(]?\s*(?:\d{1,2}|[一二三四五六七八九十])\s*[)）.、]?)?\s*")  # "(1)", "2.", "一、"
_COORD_RE = re.compile(r"[\s,-]*(?:\b(?:and|or)\b)?[\s-]*", re.IGNORECASE)
_NODE_LEAD_RE = re.compile(r"(?:[\s-]*\b(?:the|a|an|any|some|other|multiple|several|enlarged|peripheral|regional|"
                           r"systemic|small|remaining)\b)*[\s-]*", re.IGNORECASE)


_NODE_END_RE = re.compile(r"\s*(?:$|[,;.)]|\b(?:and|or|as well as)\b)", re.IGNORECASE)


def _unnamed_nodes(text: str, states: list[tuple[str, int, tuple[str, ...]]], cues: list[_Tok], ments: list[_Tok],
                   lex: Lexicon) -> list[tuple[str, int, tuple[str, ...]]]:
    """`states` less those whose cue binds forward to lymph nodes that name no station ("… and bone marrow without
    increased uptake in the lymph nodes"): that level is the unnamed nodes' (none of the 19), not the organ's before."""
    node_at = {c.start: c.end for c in cues if c.roles.get("node")}
    cue_end = {c.start: c.end for c in cues}
    named = {m.start for m in ments}
    out = []
    for st in states:
        end = cue_end.get(st[1])
        f = lex.forward_re.match(text, end) if end is not None and lex.forward_re is not None else None
        if end is not None and (f is None or f.end() == end) and _bare_node_after(text, end, node_at, named, lex):
            continue  # "hypermetabolic lymphadenopathies and …": a level word before unnamed nodes is theirs (v8)
        if f is not None and f.end() > end:
            i = _NODE_LEAD_RE.match(text, f.end()).end()  # type: ignore[union-attr]
            # (nodes placed after the node word name their station: "increased activity in lymph nodes from the neck
            # to the pelvis", "… in lymph nodes in the neck and pelvis"; extractor v10)
            if i in node_at and i not in named and _NODE_END_RE.match(text, node_at[i]) is not None:
                j = _COORD_RE.match(text, node_at[i])  # "at nodal and osseous sites": an adjective of a list
                if j is None or j.end() not in named:
                    continue
        out.append(st)
    return out


def _bare_node_after(text: str, end: int, node_at: dict[int, int], named: set[int], lex: Lexicon) -> bool:
    """True when unnamed lymph nodes follow the level word ending at `end` ("hypermetabolic lymphadenopathies",
    "FDG-avid nodes") and no place follows them ("… nodes in the mediastinum" names the station): the level is theirs."""
    i = end
    while i < len(text) and text[i] in " -\t":
        i += 1
    if i == end or i not in node_at or i in named:
        return False
    k = node_at[i]
    if _NODE_END_RE.match(text, k) is None:  # "… node adjacent to the pancreas": placed after, not unnamed
        return False
    j = _COORD_RE.match(text, k)
    return j is None or j.end() not in named


def _drop_organ_adjectives(text: str, states: list[tuple[str, int, tuple[str, ...]]], ments: list[_Tok]
                           ) -> list[tuple[str, int, tuple[str, ...]]]:
    """`states` less a normal word that is an organ's adjective beside another level ("intense focal uptake of
    normal spleen", "正常脾脏内见浓聚灶"): it says the organ is otherwise normal, not how its uptake stands."""
    starts = {m.start for m in ments if m.kind in ("organ", "site")}
    out = []
    for st in states:
        if st[0] == "normal" and len(st[2]) == 1:
            end = st[1] + len(st[2][0])
            while end < len(text) and text[end] in " -\t":
                end += 1
            if end in starts:
                continue
        out.append(st)
    return out


def _prefix_negates(text: str, c: _Tok, cues: list[_Tok], ci: int) -> bool:
    """True when the negation prefix `c` ("non") stands right before an uptake or state word ("non-avid",
    "non-FDG-avid", "non hypermetabolic"), only hyphens or spaces between; not before a symmetry or texture word."""
    if ci + 1 >= len(cues):
        return False
    d = cues[ci + 1]
    gap = text[c.end : d.start]
    if len(gap) > 2 or gap.strip(" -"):
        return False
    r = d.roles  # (a symmetry or texture word after it is a pattern: "非对称性", "non-uniform" = asymmetric, uneven)
    return bool(r.get("state") or r.get("context") or r.get("noun"))


# a region or organ named as the part of the scan a paragraph reports ("盆部PET/CT图像示…", "胸部骨骼PET/CT图像"):
# a heading, not a subject
_SCAN_PART_RE = re.compile(r"\s*(?:PET\s*[/-]?\s*CT|PET|CT)\s*(?:图像|显像|影像)", re.IGNORECASE)
# the extent of a scan named before the scan ("whole-body 18F-FDG PET/CT", "total body scan"): no place the text speaks of
# (also with the tracer and the scan written out: "Whole-body 18F-fluorodeoxyglucose (FDG) positron emission
# tomography …"; extractor v12)
_SCAN_NAME_RE = re.compile(r"[\s-]+(?:\(?18\)?[\s-]*F[\s-]*|F[\s-]?18[\s-]*)?(?:(?:FDG|fluoro-?deoxy-?glucose)[\s-]*"
                           r"(?:\(\s*(?:18\s*F[\s-]*)?FDG\s*\)[\s-]*)?)?(?:PET|CT|scans?|imaging|images?|MIP|positron\b)\b",
                           re.IGNORECASE)
_SIDE_RE = re.compile(r"(?:left|right)[\s-]+", re.IGNORECASE)


def _anatomy_next(text: str, c: _Tok, ments: list[_Tok], lex: Lexicon) -> bool:
    """True when an organ name or an `anatomy_after` word follows cue `c` ("lower rectum", "lower pole")."""
    i = c.end
    n = len(text)
    while i < n and (text[i].isspace() or text[i] == "-"):
        i += 1
    if i == c.end or i >= n:
        return False
    side = _SIDE_RE.match(text, i)  # "lower right thyroid lobe": a side word between (extractor v8)
    if side is not None and side.end() < n:
        i = side.end()
    if c.text.lower() in _STATION_ADJECTIVES:  # "low right paratracheal node": a node station's name (extractor v14)
        return any(m.start == i and (m.kind == "site" or m.target in lex.node_groups) for m in ments)
    if any(m.start == i for m in ments):
        return True
    return lex.anatomy_after_re is not None and lex.anatomy_after_re.match(text, i) is not None


_STATION_ADJECTIVES = frozenset({"low", "high"})  # anatomy words only before a node station


_GONE_BEFORE_RE = re.compile(r"[\s-]+(?:(?:of|in)[\s-]+)?(?:the[\s-]+)?" + _SIDE_OPT, re.IGNORECASE)


def _organ_gone(text: str, c: _Tok, ments: list[_Tok], lex: Lexicon) -> bool:
    """True when cue `c` ("缺如", "未见显示", "is absent") follows an organ word with only `organ_absent.link` text
    between ("右肾术后缺如", "甲状腺区未见显示", "the gallbladder is surgically absent"); never a node group."""
    if lex.gone_link_re is None:
        return False
    before = [m for m in ments if m.end <= c.start]
    if lex.lang != "zh":  # "absent spleen", "surgical absence of the uterus": the organ named after the word (v9)
        after = [m for m in ments if m.start >= c.end][:1]
        if after and _GONE_BEFORE_RE.fullmatch(text, c.end, after[0].start) and after[0].kind == "organ" and \
                after[0].target and after[0].target not in lex.node_groups and (
                    not lex.gone_whole or _key(after[0].text) in lex.gone_whole):
            return True
    if not before:
        return False
    m = before[-1]
    if m.kind != "organ" or not m.target or m.target in lex.node_groups:
        return False
    if lex.gone_whole and (k := _key(m.text)) not in lex.gone_whole and not (
            k[-1:] in "区部窝床" and k[:-1] in lex.gone_whole):  # "肝左叶缺如", "the rectum was resected": partial
        return False  # (a whole organ's region word is that organ: "两附件区缺如", extractor v10)
    return lex.gone_link_re.fullmatch(text, m.end, c.start) is not None


def _physio_reading(text: str, c: _Tok, c0: int, interp_pos: int | None, mask: bytearray, mixed_pos: list[int]) -> bool:
    """True when the physiological word `c` is a reading of a level stated before it in its clause: after an
    interpretation word ("…增高，考虑生理性" in one clause, "… likely physiologic") or in parentheses ("…增高（生理性摄取）"),
    and not mixed with another reading after that point ("考虑生理性或炎性摄取", "physiologic versus inflammatory")."""
    # (a reading and its physiological word can be one cue: "… is physiologic", extractor v10)
    start = interp_pos if interp_pos is not None and interp_pos <= c.start else None
    if start is None and mask[c.start] == 1:
        start = max(text.rfind("(", c0, c.start), text.rfind("（", c0, c.start))
        start = None if start < 0 else start
    if start is None:
        return False
    return not any(p > start for p in mixed_pos)


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
        texture: list[int] = []
        for j in range(i + 1, n):
            d = cues[j]
            if d.roles.get("noun"):
                if _gap_ok(text, c.end, d.start, ments, cues[i + 1 : j], lex):
                    out[c.start] = (r["desc"], (c.text, d.text))
                    used.add(j)
                    for t in texture:  # "nodular and homogeneous uptake": the texture of a focus is no normal level
                        out[t] = _TEXTURE
                break
            if r.get("desc_focal") and d.roles.get("texture") and not d.roles.get("state"):
                texture.append(d.start)
                continue
            if not (d.roles.get("gap") or d.roles.get("node")):
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


def _organ_in_clause(text: str, c0: int, c1: int, m: _Tok, has_node: bool, lex: Lexicon) -> str:
    """The organ an organ word names in its clause: a `homonyms` word with its `with` words in the clause and no
    node word takes the other organ ("右肺门区见软组织肿块": the lung's)."""
    if lex.homonyms_with and not has_node:
        spec = lex.homonyms_with.get(m.text) or lex.homonyms_with.get(m.text.lower())
        if spec is not None:
            for w in spec[0].finditer(text, c0, c1):  # a negated word does not count ("右肺门区未见肿块")
                window = text[max(c0, w.start() - (8 if lex.lang == "zh" else 30)) : w.start()]
                if lex.neg_re is None or lex.neg_re.search(window) is None:
                    return spec[1]
    return m.target


def _light_read(text: str, c0: int, c1: int, ments: list[_Tok], flags: int, ctx_in: bool, lex: Lexicon,
                lead_ctx: bool = False) -> _ClauseRead:
    ments = [m for m in ments if m.kind != "ref"]
    has_node = bool(flags & _F_NODE)
    has_context = bool(flags & _F_CTX) or (ctx_in and not ments)
    subjects = [
        _Subj(m.target if m.kind == "organ" and not m.hw else _organ_in_clause(text, c0, c1, m, has_node, lex)
              if m.kind == "organ" else (m.target if m.kind == "site" and has_node else ""),
              m.text, m.start, site=m.target if m.kind == "site" else "")
        for m in ments
    ]
    return _ClauseRead(subjects, [], has_node, False, bool(ments) and (not has_context or lead_ctx), bool(ments),
                       has_context, ments, flags=flags)


# a disease word (a diagnosis: "with pulmonary adenocarcinoma", "for gastric cancer")
_DISEASE_WORDS = (r"(?:cancers?|carcinomas?|adenocarcinomas?|lymphomas?|tumou?rs?|malignanc(?:y|ies)|neoplasms?|"
                  r"neoplasia|metastas[ie]s|diseases?|sarcomas?|melanomas?|myelomas?|leuka?emias?|mesotheliomas?|"
                  r"tuberculosis|sarcoidosis)")
_LEAD_HISTORY = frozenset({"restaging", "for restaging", "for staging", "after chemotherapy", "after radiotherapy",
                           "post chemotherapy", "post radiotherapy"})
_LEAD_NEXT_RE = re.compile(r"[\s,]+((?:the|both|bilateral|left|right)\b)?", re.IGNORECASE)
_LEAD_OPEN_RE = re.compile(r"[\s\"'(]*(?:(?:on|at|in|during)[\s-]+)?(?:the[\s-]+)?", re.IGNORECASE)
# a treatment told with what it was for, opened by its time ("Following radiotherapy for lung cancer the liver …";
# extractor v16)
_LEAD_TREATED = frozenset({"therapy for", "chemotherapy for", "radiotherapy for", "treatment for", "surgery for"})
_LEAD_TREATED_OPEN_RE = re.compile(r"[\s\"'(]*(?:after|following|post|status[\s-]+post|s/p)[\s-]+(?:[a-z]+[\s-]+){0,2}?",
                                   re.IGNORECASE)
# "status post" before the treatment it opens ("Status post chemotherapy for lymphoma the spleen …"; extractor v16)
_LEAD_STATUS = frozenset({"status post", "s/p"})
_LEAD_TREATMENT_RE = re.compile(r"[\s-]+(?:[a-z]+[\s-]+){0,2}?(?:(?:chemo|radio|immuno|chemoradio)?therapy|treatment|surgery)\b",
                                re.IGNORECASE)
# what a lead-in's treatment was for, up to its disease word ("… for gastric cancer", "… for non-small cell lung
# cancer"; extractor v16)
_LEAD_FOR_RE = re.compile(r"[\s-]+for")
# between "status post" and its resection word (extractor v17)
_LEAD_RESECTION_RE = re.compile(r"[\s-]+(?:(?:an?|total|radical|partial|left|right|upper|middle|lower|bilateral|laparoscopic)[\s-]+)*"
                                r"[a-z-]*ectomy\b", re.IGNORECASE)
_LEAD_DISEASE_RE = re.compile(r"[\s-]+(?:[a-z]+[\s-]+){0,4}?" + _DISEASE_WORDS + r"\b", re.IGNORECASE)


def _lead_in_history(text: str, c: _Tok, c0: int, ments: list[_Tok]) -> int:
    """Where history cue `c` ends when it only opens its clause with the time of the scan ("On restaging the liver
    shows …", "After chemotherapy the spleen shows …"; extractor v14), with what the treatment was for when told
    ("After chemotherapy for gastric cancer the spleen shows …"; extractor v16): the organs after it are the clause's
    subjects (those before its end are history). -1 when the cue is no such lead-in."""
    low = c.text.lower()
    organ_next = False  # (after a resection lead-in the subject must be an organ word, not any mention)
    if low in _LEAD_HISTORY:
        if _LEAD_OPEN_RE.fullmatch(text, c0, c.start) is None:
            return -1
        end = c.end
        if (f := _LEAD_FOR_RE.match(text, end)) is not None:  # "after chemotherapy for gastric cancer …" (v16)
            d = _LEAD_DISEASE_RE.match(text, f.end())
            end = d.end() if d is not None else end
    elif low in _LEAD_STATUS and _LEAD_OPEN_RE.fullmatch(text, c0, c.start) is not None:
        t = _LEAD_TREATMENT_RE.match(text, c.end)  # "Status post chemotherapy (for lymphoma) the spleen …" (v16)
        if t is None:
            # (extractor v17) or a resection ("Status post cholecystectomy the liver shows …": the organ gone, and
            # the organ after it is the clause's subject)
            g = _LEAD_RESECTION_RE.match(text, c.end)
            if g is None:
                return -1
            end, organ_next = g.end(), True
        else:
            end = t.end()
            if (f := _LEAD_FOR_RE.match(text, end)) is not None:
                d = _LEAD_DISEASE_RE.match(text, f.end())
                if d is None:
                    return -1
                end = d.end()
    elif low in _LEAD_TREATED and _LEAD_TREATED_OPEN_RE.fullmatch(text, c0, c.start) is not None:
        d = _LEAD_DISEASE_RE.match(text, c.end)  # "Following radiotherapy for lung cancer the liver …" (v16)
        if d is None:
            return -1
        end = d.end()
    else:
        return -1
    nxt = _LEAD_NEXT_RE.match(text, end)  # the subject follows at once ("…, the spleen shows"), no scan name
    return end if nxt is not None and (bool(nxt.group(1)) or any(
        m.start == nxt.end() and (m.kind == "organ" or not organ_next) for m in ments)) else -1


def _drop_history_subjects(text: str, ments: list[_Tok], cues: list[_Tok], c0: int) -> list[_Tok]:
    """The organs named between a history cue and a following scope breaker of the same clause are history, not
    subjects: "images of a patient with carcinoma of the esophagogastric junction show increased uptake in …"; so is
    the organ right after a "… for" history cue ("after therapy for lung cancer"). A history cue that only opens the
    clause (`c0`) with the time of the scan is no such cue (_lead_in_history)."""
    h = next((c.end for c in cues if c.roles.get("history") and _lead_in_history(text, c, c0, ments) < 0), None)
    b = None if h is None else next((c.start for c in cues if c.start >= h and c.roles["t"][1]), None)
    if b is not None:
        ments = [m for m in ments if not (h <= m.start < b) or m.kind == "gone"]
    for c in cues:  # "… after gamma knife therapy for lung cancer": what a treatment was for is no subject
        if not c.roles.get("history"):
            continue
        tail = c.text[-5:].lower()
        diagnosis = False  # (only an organ named in a diagnosis: "with breast cancer", not "with a lung mass")
        if tail.endswith((" for", " of", " from")):  # "therapy for", "metastasis of", "a case of"
            e = c.end
        elif text[c.end : c.end + 5].lower() == " for ":  # "after radiotherapy for …"
            e = c.end + 4
        elif tail.endswith(" with") and c.text.split(None, 1)[0].lower() in _PERSON_WORDS:
            # the patient a study was of ("in a 57-year-old female with pulmonary adenocarcinoma"; extractor v14)
            e, diagnosis = c.end, True
        else:
            continue
        e1 = e + 24
        if (lead := _lead_in_history(text, c, c0, ments)) >= 0:
            e1 = min(e1, lead)  # "After chemotherapy for gastric cancer the spleen …": up to the disease word (v16)
        ments = [m for m in ments if not (e <= m.start < e1) or m.kind == "gone"
                 or any(e <= d.start < m.start and d.roles.get("heavy") for d in cues)
                 or (diagnosis and _DIAGNOSIS_AFTER_RE.match(text, m.end) is None)]
    return ments


_PERSON_WORDS = frozenset({"patient", "patients", "man", "men", "woman", "women", "male", "female", "boy", "girl"})
# a disease word right after an organ word (at most two words between): the organ names a diagnosis (extractor v14)
_DIAGNOSIS_AFTER_RE = re.compile(r"[\s-]+(?:[a-z]+[\s-]+){0,2}?" + _DISEASE_WORDS + r"\b", re.IGNORECASE)


_FIGURE_UNIT = r"(?:%|percent|mm|cm|patients?|cases?|例|个)?"
# brackets that hold only figures: a share, a count, a size, an SUV, station numbers ("(18 %)", "(n = 4)", "(12/40)",
# "(SUVmax 5.2)", "(4R, 7)"), and a citation's numbers ("…, bile ducts, and lungs [5]"; extractor v10)
_ITEM_FIGURES_RE = re.compile(r"[(（\[][\s,;/:、，-]*(?:(?:(?:n|suv\w*)\s*[=:]?\s*)?[\d.,]+[RLrl]?\s*" + _FIGURE_UNIT
                              + r"(?:\s*(?:[,;/:、，]|and|of|–|-)\s*[\d.,]+[RLrl]?\s*" + _FIGURE_UNIT + r")*)?[\s,;/:、，-]*[)）\]]",
                              re.IGNORECASE)  # (the names inside are removed before: "(4R, 7)" is "( , 7)" here)


# a place adjective the lexicons do not name ("paravertebral", "periclavicular", "retrocrural", "subcutaneous"): in a list
# it is a place word, like "left", not a statement that ends the list ("… in the lungs, liver and paravertebral muscle";
# extractor v19)
_SITE_ADJ_RE = re.compile(r"\b(?:para|peri|supra|infra|retro|pre|sub|inter|intra|juxta|extra)[a-z]{4,}(?:al|ar|ic|eal|ous)\b",
                          re.IGNORECASE)


def _only_names(text: str, c0: int, c1: int, ments: list[_Tok], lex: Lexicon) -> bool:
    """True when a clause holds nothing but organ names and fillers ("…, mediastinal nodes, and liver")."""
    parts, last = [], c0
    for m in ments:
        parts.append(text[last : m.start])
        last = max(last, m.end)
    if lex.list_tail_re is not None:  # "…, kidneys and stomach which are unremarkable on CT": the list ends there
        t = lex.list_tail_re.search(text, last, c1)
        c1 = t.start() if t is not None else c1
    parts.append(text[last:c1])
    residual = lex.filler_re.sub(" ", " ".join(parts))
    if lex.lang != "zh" and _LETTER_RE.search(residual) is not None:
        residual = _SITE_ADJ_RE.sub(" ", residual)
    if _LETTER_RE.search(residual) is not None and ("ig" in residual or "图" in residual):
        residual = _FIGURE_RE.sub(" ", residual)  # "…, osseous and extranodal sites (Figure 1)": a figure reference
    # "…, kidney and lung (12 %), and pancreas (1 %)": an item's own figures; "…, and lungs [5]": a citation
    if "(" in residual or "（" in residual or "[" in residual:
        residual = _ITEM_FIGURES_RE.sub(" ", residual)
    return _LETTER_RE.search(residual) is None


def _resolve_lower(pairs: list[tuple[_Subj, tuple[str, int, tuple[str, ...]]]]
                   ) -> list[tuple[_Subj, tuple[str, int, tuple[str, ...]]]]:
    """"Lower than the liver": decreased for a liver lesion (its own tissue), normal for another organ (guide 4.2)."""
    out = []
    for subj, (state, pos, words) in pairs:
        if state.startswith(_LOWER):
            state = "decreased" if subj.organ == state[len(_LOWER):] else "normal"
        out.append((subj, (state, pos, words)))
    return out


def _bind(
    subjects: list[_Subj], states: list[tuple[str, int, tuple[str, ...]]], text: str, lex: Lexicon,
    mask: bytearray | None = None,
) -> list[tuple[_Subj, tuple[str, int, tuple[str, ...]]]]:
    """Pair subjects with states of one clause: all pairs, or by position when the clause has several of each. A lone
    state inside brackets that name a place of their own is that place's ("…(左髂血管旁)、…(左侧腹股沟区，SUVmax 4.2)")."""
    if mask is not None and len(states) == 1 and mask[states[0][1]] == 1:
        a = b = states[0][1]
        while a > 0 and mask[a - 1] == 1:
            a -= 1
        while b < len(mask) and mask[b] == 1:
            b += 1
        inside = [s for s in subjects if a <= s.pos < b]
        if inside:
            subjects = inside
    if lex.lang != "zh" and states and len(subjects) > 1 and "not" in text:
        subjects = _drop_denied(subjects, min(p for _, p, _ in states), text)
    organs = [s for s in subjects if s.organ]
    if not organs or not states:
        return []
    distinct_states = {s for s, _, _ in states}
    # a subject that is none of the 19 (skeletal muscle, 门静脉) named in the clause takes its own state by position:
    # "decreased uptake in the liver and increased uptake in skeletal muscle" gives the liver only `decreased`
    blocked = [s for s in subjects if not s.organ and s.pos >= 0] if len(distinct_states) > 1 else []
    distinct_organs = {s.organ for s in organs} | {f"#{s.pos}" for s in blocked}
    if len(distinct_states) == 1 or len(distinct_organs) == 1:
        return [(o, st) for o in organs for st in states]
    if blocked:
        organs = organs + blocked
    # runs of subjects with no state between them
    runs: list[list[_Subj]] = []
    positions = sorted(organs, key=lambda s: s.pos)
    state_pos = [p for _, p, _ in states]
    for s in positions:
        # (a contrast or a denial before a place that is none of the 19 starts a run: "… adrenal nodules but no
        # extra-adrenal FDG avid disease" denies nothing of the adrenal; extractor v12)
        if runs and not any(runs[-1][-1].pos < p < s.pos for p in state_pos) and (
                not blocked or (s.organ and runs[-1][-1].organ)
                or _CONTRAST_RE.search(text, runs[-1][-1].pos, s.pos) is None):
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
            if cue is not None and (lex.forward_re.match(text, cue.end()) is not None
                                    or not text[cue.end() : starts[after[0]]].strip()):
                target = after[0]  # or an attributive state right before the organ: "suppressed brain activity"
            elif cue is not None and before and st[0] == "normal" and lex.lang != "zh" and _DENIED_IN_RE.match(
                    text, cue.end(), starts[after[0]]):
                # a denial that names its own place ("… in the spleen without abnormal foci of increased FDG in either
                # the liver or lungs"): that place's, not the subject's before it (extractor v12)
                target = after[0]
        if target is None:
            target = before[-1] if before else (after[0] if after else None)
        if target is not None:
            out.extend((o, st) for o in runs[target] if o.organ)
    return out


_CONTRAST_RE = re.compile(r"\b(?:but|however|whereas|while|although|though|yet|no|not|without|nor|except)\b", re.IGNORECASE)
# the rest of a denied finding up to the place it names: "(without abnormal foci) of increased FDG (FDG) in either
# the", "(no abnormal FDG uptake) in any other organs, including the"; extractor v12
_DENIED_IN_RE = re.compile(r"[^,;:.]{0,80}?\b(?:in|within|involving|at)[\s-]+(?:(?:either|both|any|all|each|of|the|other|"
                           r"organs?|sites?|regions?|areas?|including)[\s,-]+)*" + _SIDE_OPT + "$",
                           re.IGNORECASE)
# "… but not (in) the", "… and not the": the place after it is denied the level stated before it (extractor v10)
_NOT_BEFORE_RE = re.compile(r"\b(?:but|and|or|yet)?[\s,]*\bnot[\s-]+(?:(?:in|at|within|involving|of)[\s-]+)?(?:the[\s-]+)?"
                            + _SIDE_OPT + "$", re.IGNORECASE)
_LIST_GLUE_RE = re.compile(r"[\s,]*(?:(?:and|or|nor)[\s-]+)?(?:(?:in|at|the)[\s-]+)*" + _SIDE_OPT,
                           re.IGNORECASE)


def _drop_denied(subjects: list[_Subj], first_state: int, text: str) -> list[_Subj]:
    """`subjects` less those after the clause's first state that a "not" right before denies ("Increased uptake in the
    spleen but not in the liver or kidneys": the liver and kidneys take no level from it)."""
    out: list[_Subj] = []
    denied_end = -1
    for sb in subjects:
        if sb.pos > first_state and sb.organ and (
                _NOT_BEFORE_RE.search(text, max(first_state, sb.pos - 40), sb.pos) is not None
                or (denied_end >= 0 and _LIST_GLUE_RE.fullmatch(text, denied_end, sb.pos) is not None)):
            denied_end = sb.pos + len(sb.term)
            continue
        out.append(sb)
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
    runs = _language_runs(text, lexicon.lang)
    if len(runs) == 1:
        return _extract_memo(text, lexicon)
    # sentences in the other language are read with that language's lexicon (with the same extra lexicon files)
    out: list[Statement] = []
    for a, b, run_lang in runs:
        lex = lexicon if run_lang == lexicon.lang else load_lexicon(run_lang, lexicon.files[2:])
        out.extend(dataclasses.replace(st, span=(st.span[0] + a, st.span[1] + a)) for st in _extract_memo(text[a:b], lex))
    return out


def _extract_memo(text: str, lexicon: Lexicon) -> list[Statement]:
    """The statements of a text in one language, memoised per (text, lexicon object)."""
    key = (text, id(lexicon))
    hit = _cache.get(key)
    if hit is not None and hit[0] is lexicon:
        return list(hit[1])
    norm = _normalize(text, lexicon)
    out = _extract_uncached(norm, lexicon)
    if norm is not text:  # statements quote the text as written (offsets are the same)
        out = [dataclasses.replace(st, clause=text[st.span[0] : st.span[1]].strip()) for st in out]
    if len(_cache) >= _CACHE_SIZE:
        del _cache[next(iter(_cache))]  # oldest first
    _cache[key] = (lexicon, tuple(out))
    return out


def _extract_uncached(text: str, lex: Lexicon) -> list[Statement]:
    """extract_statements without the memo (`text` not blank)."""
    mask = _protected(text)
    ments = _mentions(text, lex)
    cues, cue_flags = _cues(text, lex)
    doc = _Doc(text, lex, mask, ments, cues, cue_flags, [m.start for m in ments], [c.start for c in cues],
               any(m.kind == "gone" for m in ments), bool(cue_flags & _F_HIST))
    # "could be mistaken for", "误诊为": the rest is no finding; (the flags tell which texts have such cues at all)
    hypo = [c.start for c in cues if c.roles.get("hypo")] if cue_flags & _F_HYPO else []
    cond = [c.start for c in cues if c.roles.get("cond")] if cue_flags & _F_COND else []
    for s0, s1, para, clauses in _segments(text, lex, mask):
        if hypo or cond:
            clauses = _finding_clauses(clauses, s0, s1, hypo, cond)
        if _LIST_MARKER_RE.match(text[s0:s1]):
            doc.carried = []
            continue
        if para:
            doc.hist_carried = doc.carried or doc.hist_carried
            doc.carried, doc.last_states = [], None
        elif doc.history_carry and not (lex.continuation_re is not None and lex.continuation_re.match(text, s0)):
            doc.hist_carried, doc.carried = doc.carried, []
        doc.history_carry = False
        if lex.sentence_memo is None:
            _read_sentence(doc, s0, clauses)
        else:
            _read_sentence_memo(doc, s0, s1, clauses, lex.sentence_memo)
    return _document_rules(text, doc.out, cue_flags, lex)


@dataclass
class _Doc:
    """A report being read (_extract_uncached): its tokens, the statements so far, and what one sentence hands to the
    next."""

    text: str
    lex: Lexicon
    mask: bytearray
    ments: list[_Tok]
    cues: list[_Tok]
    cue_flags: int  # the union of the role flags of all cues
    m_starts: list[int]
    c_starts: list[int]
    any_gone: bool  # a resection word ("胆囊切除", "cholecystectomy") is among the mentions
    any_history: bool  # a history cue is among the cues
    out: list[Statement] = dataclasses.field(default_factory=list)
    carried: list[_Subj] = dataclasses.field(default_factory=list)  # the subject a clause naming none speaks of
    history_carry: bool = False  # the subject carried out of this sentence came from a history clause
    hist_carried: list[_Subj] = dataclasses.field(default_factory=list)  # that subject (or one a paragraph break
    # dropped): "the lesion" points back to it
    last_states: list[tuple[str, int, tuple[str, ...]]] | None = None  # the last stated levels (this paragraph)

    def named_here(self, s0: int) -> bool:
        """Whether a subject carried now was named in the sentence that starts at `s0`."""
        return any(s.pos >= s0 for s in self.carried)


SENTENCE_MEMO_SIZE = 8192  # sentences remembered per lexicon, ~1.7 kB each (least recently used dropped first)
SENTENCE_MEMO_VARIANTS = 64  # readings remembered per sentence text (other tokens, other subjects handed to it)
_IN_CARRIED, _IN_HISTORY, _IN_LAST = 1, 2, 4  # what a sentence is handed (_WatchedDoc bits)


def _watched(name: str, bit: int) -> property:
    """A _Doc attribute whose reads are recorded while it still holds the value handed to the sentence."""
    slot = "_w_" + name

    def get(self: _WatchedDoc) -> Any:
        if not self._w_set & bit:
            self._w_read |= bit
        return getattr(self, slot)

    def put(self: _WatchedDoc, value: Any) -> None:
        self._w_set |= bit
        setattr(self, slot, value)

    return property(get, put)


class _WatchedDoc(_Doc):
    """A view of a _Doc for reading one sentence that records which handed-on values the reading looks at (the
    carried subjects, the history subjects, the last stated levels): a remembered reading holds for another
    report only where those agree."""

    carried = _watched("carried", _IN_CARRIED)  # type: ignore[assignment]
    hist_carried = _watched("hist_carried", _IN_HISTORY)  # type: ignore[assignment]
    last_states = _watched("last_states", _IN_LAST)  # type: ignore[assignment]

    def __init__(self, doc: _Doc) -> None:  # noqa: D107 - shares doc's tables and statement list
        self.__dict__.update(doc.__dict__)
        self._w_read = self._w_set = 0
        self._w_carried, self._w_hist_carried, self._w_last_states = doc.carried, doc.hist_carried, doc.last_states

    def named_here(self, s0: int) -> bool:
        """As _Doc.named_here without looking at the subjects handed to the sentence (all named before it)."""
        return bool(self._w_set & _IN_CARRIED) and any(s.pos >= s0 for s in self._w_carried)


_new_object = object.__new__
_SEEN_ONCE: Any = types.MappingProxyType({})  # memo slot of a sentence seen once (nothing remembered yet)
_NOTHING_HANDED = (0, None, None, None)  # _handed(…, 0)


def _handed(carried: list[_Subj], hist: list[_Subj], last: list[tuple[str, int, tuple[str, ...]]] | None, bits: int
            ) -> tuple[Any, ...]:
    """The part of the key of a remembered reading that the values handed to the sentence make (`bits`: those it
    looked at): subjects as (organ, term, site) and levels as (state, cues); their positions, all before the
    sentence, are never read by it."""
    return (
        bits,
        tuple((x.organ, x.term, x.site) for x in carried) if bits & _IN_CARRIED else None,
        tuple((x.organ, x.term, x.site) for x in hist) if bits & _IN_HISTORY else None,
        (None if last is None else tuple((st, w) for st, _p, w in last)) if bits & _IN_LAST else None,
    )


def _read_sentence_memo(doc: _Doc, s0: int, s1: int, clauses: list[tuple[int, int]], memo: OrderedDict[str, Any]
                        ) -> None:
    """_read_sentence, remembered per sentence: reports repeat sentences across studies and models.

    A sentence's reading depends on its text with the character that ends it, the bracket mask, the clauses, its
    tokens (whose kinds may depend on words outside the sentence, hence in the key) and on those of the values
    handed to it that it looks at (recorded by _WatchedDoc). Its result is the statements it appends (offsets
    relative to the sentence) and what it hands on. Only lexicons whose rules read nothing past a sentence's end
    have a memo (Lexicon.sentence_memo), and a sentence with a token that runs past its end is read without it. A
    sentence is remembered the second time it is seen (most sentences of a free-text report are seen once).
    """
    stext = doc.text[s0 : s1 + 1]
    slot = memo.get(stext)
    if slot is None:  # a sentence seen for the first time: read it, and remember that it was seen
        if len(memo) >= SENTENCE_MEMO_SIZE:
            memo.popitem(last=False)
        memo[stext] = _SEEN_ONCE
        _read_sentence(doc, s0, clauses)
        return
    memo.move_to_end(stext)
    m_starts, c_starts = doc.m_starts, doc.c_starts
    m_lo = bisect.bisect_left(m_starts, s0)
    m_hi = bisect.bisect_left(m_starts, s1, m_lo)
    c_lo = bisect.bisect_left(c_starts, s0)
    c_hi = bisect.bisect_left(c_starts, s1, c_lo)
    ments, cues = doc.ments[m_lo:m_hi], doc.cues[c_lo:c_hi]
    # tokens of one scan are disjoint and in order: only the last one can run past the sentence's end
    if (ments and ments[-1].end > s1) or (cues and cues[-1].end > s1):
        _read_sentence(doc, s0, clauses)
        return
    mask = doc.mask[s0:s1]
    key = (
        bytes(mask) if mask.count(0) != len(mask) else None,
        tuple([(a - s0, b - s0) for a, b in clauses]),
        tuple([(m.start - s0, m.end - s0, m.kind, m.target, m.hw) for m in ments]),
        tuple([(c.start - s0, c.end - s0, id(c.roles)) for c in cues]),
    )
    entry = slot.get(key)
    if entry is not None:
        for bits in entry[0]:
            hit = entry[1].get(_NOTHING_HANDED if not bits else _handed(doc.carried, doc.hist_carried,
                                                                         doc.last_states, bits))
            if hit is not None:
                _replay(doc, s0, hit)
                return
    c_in, h_in, l_in = doc.carried, doc.hist_carried, doc.last_states
    w = _WatchedDoc(doc)
    n0 = len(doc.out)
    _read_sentence(w, s0, clauses)
    doc.carried, doc.last_states, doc.history_carry = w._w_carried, w._w_last_states, w.history_carry
    if w._w_set & _IN_HISTORY:  # (never: the driver alone sets it) not remembered
        doc.hist_carried = w._w_hist_carried
        return
    result = _reading_of(doc, s0, s1, n0, c_in, h_in, w._w_set)
    if result is None:
        return
    if slot is _SEEN_ONCE:
        slot = memo[stext] = {}
    if entry is None:
        if len(slot) >= SENTENCE_MEMO_VARIANTS:
            return
        entry = slot[key] = ([], {})
    if len(entry[1]) < SENTENCE_MEMO_VARIANTS:
        if w._w_read not in entry[0]:
            entry[0].append(w._w_read)
        entry[1][_handed(c_in, h_in, l_in, w._w_read)] = result


def _reading_of(doc: _Doc, s0: int, s1: int, n0: int, c_in: list[_Subj], h_in: list[_Subj], set_bits: int
                ) -> tuple[Any, ...] | None:
    """The reading of the sentence just read (statements from doc.out[n0:], what it hands on), positions relative to
    `s0`; None when it cannot be told apart from the sentence's context (then it is not remembered)."""
    stmts = tuple((x.organ, x.state, x.clause, x.span[0] - s0, x.span[1] - s0, x.cues, x.organ_term, x.inherited)
                  for x in doc.out[n0:])
    carried = None  # unchanged
    if set_bits & _IN_CARRIED:
        where = {id(x): ("h", i) for i, x in enumerate(h_in)}
        where.update((id(x), ("c", i)) for i, x in enumerate(c_in))
        enc = []
        for x in doc.carried:
            src = where.get(id(x))
            if src is not None:
                enc.append((src[0], "", "", src[1], ""))
            elif s0 <= x.pos < s1 or x.pos == -1:
                enc.append(("n", x.organ, x.term, x.pos - s0 if x.pos >= 0 else x.pos, x.site))
            else:
                return None
        carried = tuple(enc)
    last = None  # unchanged
    if set_bits & _IN_LAST:
        if doc.last_states is None or any(not s0 <= p < s1 for _st, p, _w in doc.last_states):
            return None
        last = tuple((st, p - s0, w) for st, p, w in doc.last_states)
    return stmts, carried, doc.history_carry, last


def _replay(doc: _Doc, s0: int, hit: tuple[Any, ...]) -> None:
    """Apply a remembered reading to the sentence starting at `s0` (see _reading_of)."""
    stmts, carried, hist_carry, last = hit
    out = doc.out
    for o, st, cl, a, b, cw, term, inh in stmts:
        x = _new_object(Statement)  # (a frozen dataclass: its fields set as __init__ would, without its checks)
        x.__dict__.update(organ=o, state=st, clause=cl, span=(a + s0, b + s0), cues=cw, organ_term=term, inherited=inh)
        out.append(x)
    if carried is not None:
        c_in, h_in = doc.carried, doc.hist_carried
        doc.carried = [_Subj(o, term, pos + s0 if pos >= 0 else pos, site) if src == "n"
                       else (c_in if src == "c" else h_in)[pos] for src, o, term, pos, site in carried]
    doc.history_carry = hist_carry
    if last is not None:
        doc.last_states = [(st, p + s0, w) for st, p, w in last]


def _finding_clauses(clauses: list[tuple[int, int]], s0: int, s1: int, hypo: list[int], cond: list[int]
                     ) -> list[tuple[int, int]]:
    """The clauses of the sentence text[s0:s1] that may state findings: none after a `hypothetical` cue ("could be
    mistaken for", "误诊为"), no `conditional` one ("If …,": the main clause after it still does)."""
    if hypo:
        k = bisect.bisect_left(hypo, s0)
        if k < len(hypo) and hypo[k] < s1:
            clauses = [(a, min(b, hypo[k])) for a, b in clauses if a < hypo[k]]
    if cond:
        clauses = [(a, b) for a, b in clauses if not any(a <= p < b for p in cond)]
    return clauses


# an item of a list that is none of the 19 ("… in the uterus, cervix, presacral soft tissue, and …": extractor v13)
_TISSUE_ITEM_RE = re.compile(r"\s*(?:(?:and|or)\s+)?(?:the\s+)?(?:[a-z][a-z-]*\s+){0,2}(?:soft[\s-]+tissues?|tissues?|fat|"
                             r"spaces?|regions?)\s*$", re.IGNORECASE)
# uptake left or kept after a resolution opens a clause of its own: "resolution of uptake in A and B with minimal
# residual uptake in C" (A and B normal, C increased; extractor v13)
# (and one that persisted, told after "and" / "but": "resolved in A and persisted in B"; extractor v14)
# (and new uptake beside a resolution: "resolution of the liver lesion with new uptake in the spleen"; extractor v17)
_KEPT_UPTAKE_RE = re.compile(r"\s(?:with|and|but)\s+(?:(?:minimal|mild|slight|faint|little|some|low[\s-]grade|minimally|"
                             r"mildly)\s+)?(?:residual\s|persistent\s|persist(?:s|ed|ing)?\b|new\s)", re.IGNORECASE)
_RES_NOUN = r"(?:resolution|disappearance|regression)\s+of\s"
_RES_NOUN_RE = re.compile(_RES_NOUN, re.IGNORECASE)
# a clause that is only the resolution of its own object, with no uptake word ("Resolution of the lung mass"):
# its organ takes no level from the clause after it (extractor v17)
_RES_OBJECT_CLAUSE_RE = re.compile(r"\s*(?:(?:interval|complete|near[\s-]complete)\s+)?" + _RES_NOUN, re.IGNORECASE)


def _split_kept_uptake(text: str, clauses: list[tuple[int, int]]) -> list[tuple[int, int]]:
    """`clauses` with each split before a "with (minimal) residual / persistent …" (extractor v13)."""
    out = []
    for c0, c1 in clauses:
        at = c0
        for m in _KEPT_UPTAKE_RE.finditer(text, c0, c1):
            if text[at : m.start()].strip():
                out.append((at, m.start()))
                at = m.start() + 1
        out.append((at, c1))
    return out


# words that may stand between a listed subject's last item and its resolution verb ("… and pelvis are no longer seen")
_RES_BEFORE_VERB = frozenset({"is", "are", "was", "were", "has", "have", "had", "been", "now", "since", "also", "all",
                              "both", "essentially", "completely", "largely", "nearly", "almost", "entirely", "fully",
                              "mostly", "virtually", "totally", "subsequently", "then"})
# a lesion noun in the last item: the resolution names its own object ("…, and the liver lesion has resolved")
_RES_OWN_OBJECT_RE = re.compile(r"\b(?:lesions?|mass(?:es)?|nodules?|focus|foci|tumou?rs?|metastas[ie]s)\b", re.IGNORECASE)
_LAST_WORD_RE = re.compile(r"\b(\w+)\s*$")
# the one item after the head, opened by ", and the" ("Hypermetabolic nodes in the neck, and the liver has resolved"):
# a subject of its own with its own verb, no list (extractor v16)
_OWN_SUBJECT_RE = re.compile(r"\s*(?:and|or)\s+(?:the|its|their)\s", re.IGNORECASE)
_RES_WORDS = ("resol", "normali", "disappear", "no longer", "regressed")  # string tests before the cues


def _join_resolved_list(doc: _Doc, s0: int, clauses: list[tuple[int, int]]) -> list[tuple[int, int]]:
    """`clauses` with a list spread over comma clauses that ends in a resolution verb read as one clause ("Abnormal
    nodal uptake in the neck, mediastinum, and pelvis have essentially resolved": every item is normal, and the items
    after the first keep the list's kind, node stations). The clauses after the head (a clause with uptake wording that
    ends in a name) hold only names, the last one up to its resolution verb; a lesion noun there is an object of its
    own and ends the list ("…, and the liver lesion has resolved"). Extractor v15. The one item after the head, opened
    by ", and the", is a subject of its own with its own verb, no list ("Hypermetabolic nodes in the neck, and the liver
    has resolved": the neck nodes stay increased; extractor v16)."""
    text, lex = doc.text, doc.lex
    sent = text[s0 : clauses[-1][1]].lower()
    if not any(w in sent for w in _RES_WORDS):
        return clauses
    ments, m_starts, cues, c_starts = doc.ments, doc.m_starts, doc.cues, doc.c_starts

    def ments_in(a: int, b: int) -> list[_Tok]:
        return ments[bisect.bisect_left(m_starts, a) : bisect.bisect_left(m_starts, b)]

    def cues_in(a: int, b: int) -> list[_Tok]:
        return cues[bisect.bisect_left(c_starts, a) : bisect.bisect_left(c_starts, b)]

    k = 1
    while k < len(clauses):
        c0, c1 = clauses[k]
        cc = cues_in(c0, c1)
        verb = next((c for c in cc if c.roles["t"][10]), None)  # (a post_resolution cue)
        if verb is None:
            k += 1
            continue
        end = verb.start
        while (w := _LAST_WORD_RE.search(text, c0, end)) is not None and w.group(1).lower() in _RES_BEFORE_VERB:
            end = w.start()
        cm = ments_in(c0, end)
        if not cm or not _only_names(text, c0, end, cm, lex) or _RES_OWN_OBJECT_RE.search(text, c0, end):
            k += 1
            continue
        j = k - 1
        while j > 0:  # the items before it, each a clause of names only
            a, b = clauses[j]
            jm = ments_in(a, b)
            if not jm or not _only_names(text, a, b, jm, lex) or _RES_OWN_OBJECT_RE.search(text, a, b):
                break
            j -= 1
        if j == k - 1 and _OWN_SUBJECT_RE.match(text, c0) is not None:
            k += 1  # "Hypermetabolic nodes in the neck, and the liver has resolved": the liver's own verb (v16)
            continue
        a, b = clauses[j]
        hm, hc = ments_in(a, b), cues_in(a, b)
        if (hm and any(c.roles["t"][5] or c.roles["t"][6] for c in hc if c.start < hm[0].start)
                and not any(c.roles["t"][10] for c in hc) and _only_names(text, hm[-1].end, b, [], lex)):
            clauses = [*clauses[:j], (a, c1), *clauses[k + 1 :]]
            k = j + 1
        else:
            k += 1
    return clauses


def _read_sentence(doc: _Doc, s0: int, clauses: list[tuple[int, int]]) -> None:
    """Read the clauses of the sentence that starts at `s0`, in order, appending their statements to `doc.out`: the
    subject goes on from clause to clause, listed organs share a level, a reading qualifies what was stated."""
    text, lex, out, cue_flags = doc.text, doc.lex, doc.out, doc.cue_flags
    if lex.lang == "en" and clauses and (text.find("residual", s0, clauses[-1][1]) >= 0
                                         or text.find("persist", s0, clauses[-1][1]) >= 0
                                         or (text.find("new", s0, clauses[-1][1]) >= 0
                                             and _RES_NOUN_RE.search(text, s0, clauses[-1][1]) is not None)):
        clauses = _split_kept_uptake(text, clauses)
    if cue_flags & _F_RES and lex.lang == "en" and len(clauses) > 1:
        clauses = _join_resolved_list(doc, s0, clauses)
    ments, m_starts, cues, c_starts = doc.ments, doc.m_starts, doc.cues, doc.c_starts
    sent_start = len(out)
    node_head = sent_time = False
    said: set[str] = set()  # organs with a statement in this sentence
    prov: dict[str, list[Statement]] = {}  # provisional statements of this sentence, by organ
    prev_states: list[tuple[str, int, tuple[str, ...]]] | None = None
    prev_prov = prev_node = prev_lower = False
    cands: list[tuple[_ClauseRead, int, int]] = []  # clauses that may only list organs
    prev_ctx = False
    tail: list[_Subj] | None = None  # the last list clause's subjects while `doc.carried` holds the whole list
    # a fronted exception ("Except for the liver, no abnormal uptake"): its organs, word and span, and whether it stated
    # a level of its own; the negation after it is not theirs (extractor v19)
    fronted: tuple[list[_Subj], str, tuple[int, int], bool] | None = None
    for c0, c1 in clauses:
        cm = ments[bisect.bisect_left(m_starts, c0) : bisect.bisect_left(m_starts, c1)]
        cc = cues[bisect.bisect_left(c_starts, c0) : bisect.bisect_left(c_starts, c1)]
        if not cm and not cc:
            if not (prev_states and (_only_names(text, c0, c1, [], lex)  # "along the internal, external, and …"
                                     or (lex.lang == "en" and _TISSUE_ITEM_RE.match(text, c0, c1) is not None))):
                prev_states = None  # (a soft-tissue item that is none of the 19 keeps the list going: extractor v13)
            continue
        clause_ments = _clause_mentions(doc, c0, c1, cm, cc, node_head, said)
        if clause_ments is None:
            continue
        cm = clause_ments
        read = _read_clause(text, c0, c1, cm, cc, lex, doc.mask, prev_ctx, node_head, sent_time)
        if fronted is not None:
            subs, word, span, stated = fronted
            if not read.own_mentions and read.states and all(st[0] == "normal" for st in read.states):
                if not stated and _EXCEPTED_LESION_RE.search(text, span[0], span[1]) is not None:
                    # the lesion excepted from "no abnormal uptake" is the abnormal place ("Apart from the liver
                    # lesion, …"); organs alone ("Apart from the brain, heart and bladder, …": often the physiological
                    # places of a normal scan) get no label
                    _emit(out, [(sb, ("increased", span[0], (word,))) for sb in subs], text, span, said, False, False,
                          None, lex, prov)
                doc.carried, tail, prev_states, cands = [], None, None, []
                fronted = None
            elif read.maybe_enum and not read.states and _only_names(text, c0, c1, read.names, lex):
                # the exception lists on ("Apart from the brain, heart and bladder, …")
                fronted = (subs + [sb for sb in read.subjects if sb.organ], word, (span[0], c1), stated)
                doc.carried, tail, cands = doc.carried + read.subjects, None, []
                continue
            elif read.own_mentions or not read.states:
                fronted = None
            else:  # "Except for the liver lesion, which is intensely hypermetabolic, …": it is described, read as before
                fronted = (subs, word, span, True)
        elif lex.lang == "en" and not prev_states and read.own_mentions and any(sb.organ for sb in read.subjects) and (
                e := _EXCEPT_RE.match(text, _skip_space(text, c0))) is not None:
            fronted = ([sb for sb in read.subjects if sb.organ], e.group(), (c0, c1), bool(read.states))
            if not read.states:  # (its organs are no list for the clause after it; the next sentence may speak of them)
                doc.carried, tail, cands = read.subjects, None, []
                continue
        if said and read.own_mentions:
            for sb in read.subjects:  # "…结节浓聚…，余双侧脑实质…分布均匀": the rest of an organ is a statement of its own
                if sb.organ in said and _REST_OF_RE.search(text, max(c0, sb.pos - 12), sb.pos):
                    said.discard(sb.organ)
        if cue_flags & _F_TIME and not sent_time and any(c.roles.get("temporal") for c in cc):
            sent_time = True  # "Repeat FDG-PET scans, …, showed reduction in the avidity": change for the sentence
        if not cm and len(cc) == 1 and _node_heading(text, c0, c1, cc[0]):
            node_head = True  # "(1)淋巴结: 双侧颈部、纵隔内及双侧肺门…": the places after a node heading are node groups
        if doc.any_history and not read.states and read.own_mentions and read.flags & _F_HIST and not read.flags & _F_STATE:
            # "胃癌术后化疗后", "after chemotherapy for gastric cancer": history states nothing, and its organ is no
            # subject for the next sentence (within the sentence it still is: "…with a mass, which is FDG-avid")
            doc.history_carry = True
        elif read.own_mentions:
            doc.history_carry = False
        if cue_flags & _F_ART and not read.own_mentions and doc.carried and any(c.roles.get("artifact") for c in cc):
            _drop_artifact(out, sent_start, doc.carried, prov)
            prev_states = None
            continue
        if cue_flags & _F_IDENT and doc.last_states and read.own_mentions and not read.states and _places_last(
                doc, cc, s0, c0, prev_states):
            _emit(out, [(sb, st) for sb in read.subjects for st in doc.last_states if st[0] != _BARE], text, (c0, c1),
                  said, False, False, None, lex, prov)
            doc.carried = read.subjects  # (prev_states stays: "病灶位于胰头6例、胰体尾4例" lists on)
            continue
        if cue_flags & _F_GEN and prev_states and cm and not read.states and lex.lang != "zh" and _generic_list_end(
                text, c0, cm, cc, lex):
            # a list whose last item ends in a general statement ("FDG-avid foci in the liver, spleen, and bone marrow
            # may also be seen in …"): the whole list is said of a disease, not of this study (extractor v12)
            _drop_artifact(out, sent_start, doc.carried + read.subjects, prov)
            prev_states, cands = None, []
            doc.carried, tail = read.subjects, None
            continue
        if prev_states and not cm and read.has_node and not read.states and _emit_node_sites(
                doc, cc, (c0, c1), prev_states, prev_prov, said, prov):
            continue
        if prev_states and not cm and not read.states and _list_goes_on(text, c0, c1, read, lex):
            continue
        if read.maybe_enum:
            if prev_states and lex.lang != "zh" and all(st[0] == "normal" for st in prev_states) and (
                    e := _EXCEPT_RE.match(text, _skip_space(text, c0))) is not None and any(sb.organ for sb in read.subjects):
                # "No hypermetabolic lesions, except for a right hilar node": the exception is the abnormal place (v9)
                _emit(out, [(sb, ("increased", c0, (e.group(),))) for sb in read.subjects], text, (c0, c1), said, False,
                      False, None, lex, prov)
                prev_states, cands = None, []
                doc.carried, prev_ctx, tail = read.subjects, read.has_context, None
                continue
            if prev_states:  # "Increased uptake in the lung nodule, mediastinal nodes, and liver"
                if _only_names(text, c0, c1, read.names, lex):
                    _emit_list_item(doc, read, (c0, c1), prev_states, prev_node, prev_lower, prev_prov, said, prov)
                    # the list goes on from its head clause: a later clause of the sentence speaks of all its
                    # members, in the head's uptake context ("Diffuse uptake in the stomach, duodenum, and colon,
                    # likely physiologic"); the next sentence carries only the last member, as before
                    doc.carried, tail = doc.carried + read.subjects, read.subjects
                    continue
                if lex.lang == "en" and _TISSUE_ITEM_RE.match(text, c0, c1) is not None and all(
                        m.kind != "organ" for m in cm):
                    continue  # "…, cervix, presacral soft tissue, and …": none of the 19, the list goes on (v13)
                prev_states, cands = None, []
                doc.carried, prev_ctx, tail = read.subjects, read.has_context, None
                continue
            if not any(s.organ or s.site for s in read.subjects) and (doc.named_here(s0) or (
                    lex.lang != "zh" and not read.has_context and c1 == clauses[-1][1] and text[c1 : c1 + 1] != ":"
                    and any(s.organ for s in doc.carried))):
                # a CT-only clause about a tissue that is none of the 19 ("…结节，见分叶及胸膜凹陷，FDG摄取增高")
                # describes the subject further: it keeps it (and in English past the sentence, as the sentence's
                # last clause, with no uptake word and no heading ("Impression:"): "… lung mass … . There is
                # persistent pleural thickening. However, increased metabolic activity has resolved": the lung's;
                # extractor v14)
                prev_ctx = read.has_context
                continue
            # (a place the clause denies is no subject for later: "the mass was located in the right adrenal gland
            # and not in the right hepatic lobe. … uptake in the mass": the adrenal only; extractor v12)
            doc.carried, prev_ctx, tail = (_drop_denied(read.subjects, c0, text) if lex.lang != "zh" and "not" in text[c0:c1]
                                           else read.subjects), read.has_context, None
            if not (lex.lang == "en" and _RES_OBJECT_CLAUSE_RE.match(text, c0, c1)):
                cands.append((read, c0, c1))
            continue
        prev_ctx = read.has_context
        if read.own_mentions:
            subjects = read.subjects
            doc.carried, tail = subjects, None
            inherited = False
        else:
            subjects = _inherited_subjects(doc, read, c0, c1, c0 == s0 or not text[s0:c0].strip())
            inherited = True
            if subjects and cue_flags & _F_NORM and _resolves_own_object(text, c1, cc):
                subjects = []  # "…mediastinal adenopathy, with complete resolution of the thigh mass": the mass only
        if not read.states:
            prev_states, cands = None, []
            continue
        pairs = _bind(subjects, read.states, text, lex, doc.mask)
        if cands:
            pairs, pending = _with_listed(doc, pairs, cands, read, node_head)
            if pending:
                doc.carried, tail = pending + subjects, None
            cands = []
        if read.lower:
            pairs = _resolve_lower(pairs)
        pairs = _apply_reading(out, sent_start, pairs, read, said, prov)
        # a clause that goes on about the same subject, or interprets it, replaces a provisional reading of it
        # ("Diffuse colonic uptake, likely physiologic"); one naming the organ anew adds to it ("…, with a
        # photopenic lesion in L2")
        replaces = read.interp or not read.own_mentions
        _emit(out, pairs, text, (c0, c1), said, inherited, read.provisional, prov if replaces else None, lex, prov)
        prev_states, prev_prov, prev_node, prev_lower = read.states, read.provisional, read.has_node, read.lower
        if not read.provisional:
            doc.last_states = read.states
    if tail is not None:
        doc.carried = tail


def _clause_mentions(doc: _Doc, c0: int, c1: int, cm: list[_Tok], cc: list[_Tok], node_head: bool, said: set[str]
                     ) -> list[_Tok] | None:
    """The subject mentions `cm` of a clause, read for what they name; None when nothing is left to read.

    An organ that is gone ("胆囊切除术后", "status post cholecystectomy") is stated absent at once and is no subject;
    history subjects are dropped; after a node heading an organ names its nodes ("淋巴结:右侧腮腺区": intraparotid).
    """
    text, lex = doc.text, doc.lex
    if doc.any_gone and any(m.kind == "gone" for m in cm):
        gone = [(_Subj(m.target, m.text, m.start), ("absent", m.start, (m.text,))) for m in cm if m.kind == "gone"]
        _emit(doc.out, gone, text, (c0, c1), said, False)
        cm = [m for m in cm if m.kind != "gone"]
        if not cm and not cc:
            return None
    if doc.any_history and cm and cc:
        cm = _drop_history_subjects(text, cm, cc, c0)
    if node_head and cm:
        cm = [_Tok(m.start, m.end, m.text, m.kind, lex.node_by_organ.get(m.target, m.target))
              if m.kind == "organ" and m.target not in lex.node_groups else m for m in cm]
        cm = [m if m.target != _NODE_NONE else _Tok(m.start, m.end, m.text, "non", "") for m in cm]
    return cm


def _node_heading(text: str, c0: int, c1: int, c: _Tok) -> bool:
    """Whether the clause text[c0:c1], whose one cue is `c`, is a node heading ("(1)淋巴结:"): a node word alone, with
    at most a list mark before it, before a colon."""
    return bool(c.roles.get("node") and c1 < len(text) and text[c1] in ":：" and _HEAD_MARK_RE.fullmatch(text, c0, c.start)
                and not text[c.end : c1].strip())


def _drop_artifact(out: list[Statement], sent_start: int, carried: list[_Subj], prov: dict[str, list[Statement]]
                   ) -> None:
    """Drop the statements of this sentence (from `sent_start`) about the carried organs, read as an artifact ("Focal
    uptake in the right adrenal, compatible with a misregistration artifact": no uptake of it)."""
    organs = {x.organ for x in carried}
    out[sent_start:] = [x for x in out[sent_start:] if x.organ not in organs]
    for o in organs:
        prov.pop(o, None)


def _places_last(doc: _Doc, cc: list[_Tok], s0: int, c0: int,
                 prev_states: list[tuple[str, int, tuple[str, ...]]] | None) -> bool:
    """Whether a clause with an `identify` word places the uptake stated just before ("Three foci of abnormal uptake
    …, two in the neck. These correlate with a left cervical node", "…均表现为局灶性代谢增高灶，病灶位于胰头6例"): in
    the same sentence, or at the start of a sentence that goes on (`continuation`)."""
    lex = doc.lex
    if not any(c.roles.get("identify") for c in cc):
        return False
    if prev_states:
        return True
    if lex.continuation_re is None:
        return False
    if c0 == s0 and lex.continuation_re.match(doc.text, s0):
        return True
    if lex.lang == "zh" or not _LEAD_IN_RE.match(doc.text, s0):
        return False
    # "On the CT component of the study these correlate with …", "On CT, this corresponds to …": a sentence that
    # first says which images it reads (extractor v9)
    text = doc.text
    for w in _LEAD_WORD_RE.finditer(text, s0, min(len(text), c0 + 80)):
        at = w.end()
        if at > c0 and _SCAN_WORD_RE.search(text, s0, at) and lex.continuation_re.match(text, at):
            return True
    return False


_LEAD_IN_RE = re.compile(r"\s*(?:on|at|in)[\s-]+\S", re.IGNORECASE)
_LEAD_WORD_RE = re.compile(r"[A-Za-z/-]+[\s,]+")
_SCAN_WORD_RE = re.compile(r"\b(?:CT|MRI?|images?|component|study|scans?|correlation|portion)\b", re.IGNORECASE)


def _emit_node_sites(
    doc: _Doc, cc: list[_Tok], span: tuple[int, int], prev_states: list[tuple[str, int, tuple[str, ...]]],
    prev_prov: bool, said: set[str], prov: dict[str, list[Statement]],
) -> bool:
    """A clause that reads the finding before it as nodes ("hypermetabolic areas in the mediastinum and neck,
    compatible with lymphadenopathy") makes the carried region words node groups, with the levels stated before.
    True when the clause (about nodes, naming nothing, stating nothing) does so."""
    if not (any(x.site and not x.organ for x in doc.carried)
            and any(c.roles.get("interp") or c.roles.get("identify") for c in cc)):
        return False
    sites = [_Subj(x.site, x.term, -1, x.site) for x in doc.carried if x.site and not x.organ]
    _emit(doc.out, [(x, st) for x in sites for st in prev_states if st[0] != _BARE], doc.text, span, said, True,
          prev_prov, None, doc.lex, prov)
    return True


def _generic_list_end(text: str, c0: int, cm: list[_Tok], cc: list[_Tok], lex: Lexicon) -> bool:
    """Whether the clause text[c0:…] names only list items before a `generic` cue ("and bone marrow may also be seen
    in …"): the end of a list whose predicate is a general statement."""
    g = next((c for c in cc if c.roles.get("generic")), None)
    return g is not None and cm[-1].end <= g.start and _only_names(text, c0, g.start, cm, lex)


def _list_goes_on(text: str, c0: int, c1: int, read: _ClauseRead, lex: Lexicon) -> bool:
    """Whether a clause that names and states nothing leaves the list before it open: unnamed nodes are a list item
    ("…, spleen, and systemic lymph nodes, and in the humerus"); a relative clause describes an item ("… in both
    ovaries, that had been transposed …, and in a para-aortic node")."""
    return bool((read.has_node and _only_names(text, c0, c1, [], lex))
                or (lex.list_tail_re is not None and lex.list_tail_re.match(text, _skip_space(text, c0))))


def _emit_list_item(
    doc: _Doc, read: _ClauseRead, span: tuple[int, int], prev_states: list[tuple[str, int, tuple[str, ...]]],
    prev_node: bool, prev_lower: bool, prev_prov: bool, said: set[str], prov: dict[str, list[Statement]],
) -> None:
    """A clause that only names organs after a stated level lists more of them: they take the level.

    Region words resolve to their node group when the list's head spoke of nodes ("No hypermetabolic lymphadenopathy
    in the neck, chest, abdomen or pelvis"), and so do the list's earlier ones when a node word ends it
    ("Metabolically active cervical, mediastinal and hilar LNE").
    """
    node = prev_node or read.has_node
    if len(prev_states) > 1 and doc.lex.lang != "zh" and _INCLUDING_RE.match(doc.text, span[0]):
        # an item brought in by "including" / "such as" belongs to the last statement before it ("increased uptake in
        # the uterine tumor and no abnormal uptake in any other organs, including the right ovary": the ovary is
        # only normal); extractor v12
        first, last = min(p for _, p, _ in prev_states), max(p for _, p, _ in prev_states)
        i = bisect.bisect_left(doc.m_starts, last) - 1
        if i >= 0 and doc.ments[i].start > first:
            prev_states = [st for st in prev_states if st[1] > doc.ments[i].start]
    subs = [s if s.organ else _Subj(s.site, s.term, s.pos, s.site) for s in read.subjects if s.organ or (node and s.site)]
    if node and not prev_node:
        subs[:0] = [_Subj(s.site, s.term, s.pos, s.site) for s in doc.carried if s.site and not s.organ]
    pairs = [(s, st) for s in subs for st in prev_states]
    if prev_lower:
        pairs = _resolve_lower(pairs)
    _emit(doc.out, pairs, doc.text, span, said, False, prev_prov, None, doc.lex, prov)


_INCLUDING_RE = re.compile(r"[\s,]*(?:including|includ\w+|such[\s-]+as|namely|e\.g\.?|for[\s-]+example)\b", re.IGNORECASE)


# "the rest of" an organ named before its word (余肺, 其余脑实质, "the remaining liver"; extractor v9)
_REST_OF_RE = re.compile(r"(?:其余|其他|余)(?:部|部分)?(?:左侧|右侧|双侧|两侧|左|右|双|两)?$|\b(?:rest|remainder)\s+of\s+(?:the\s+)?"
                         r"(?:(?:left|right)\s+)?$|\bremaining\s+(?:(?:left|right)\s+)?$", re.IGNORECASE)
_OTHERWISE_RE = re.compile(r"\b(?:otherwise|elsewhere)\b|其余|其他部位|余部", re.IGNORECASE)  # the rest of the body
# a clause about the whole body ("there was no abnormality in the whole body scan by PET-CT"; extractor v12)
_WHOLE_BODY_RE = re.compile(r"\b(?:in|on|throughout|of)[\s-]+the[\s-]+(?:whole|entire|total)[\s-]+body\b", re.IGNORECASE)
# "no other / no additional / no further …" in a clause that names no organ denies findings beyond the one just stated:
# it speaks of the rest of the body, wherever it stands in the sentence ("…, and no other abnormalities were seen")
_NO_OTHER_RE = re.compile(r"\b(?:no|without|nor)[\s-]+(?:[a-z]+[\s-]+)?(?:other|additional|further)\b", re.IGNORECASE)


# what a resolution's object may be when it speaks of the subject before it: its uptake ("with complete resolution of
# the uptake"), or a word that points back ("resolution of it", "the lesion"); extractor v11
_RESOLVED_BACK_RE = re.compile(
    r"\s*(?:(?:it|its|their|this|these|that|those|them)\b|(?:the\s+)?(?:lesions?|mass(?:es)?|nodules?|tumou?rs?|"
    r"focus|foci)\b)|[^.;]*?\b(?:fdg|uptake|activity|avidity|avid|hypermetabol\w*|metabolic|metabolism|"
    r"accumulation|tracer|radiotracer)\b", re.IGNORECASE)


# a reduction or decline of an uptake is a change, with or without a time word ("only a slight reduction in FDG uptake
# in the mediastinal nodes (SUVmax 3.26)": the current level decides); "decrease in" stays a level, said of one organ
# against another too ("a decrease in FDG uptake in the liver compared to the spleen"); extractor v11
_CHANGE_NOUN_RE = re.compile(r"(?:reductions?|declines?)\s+(?:in|of)\b", re.IGNORECASE)


def _resolves_own_object(text: str, c1: int, cc: list[_Tok]) -> bool:
    """Does a resolution in the clause ("complete resolution of", "disappearance of", "normalization of") name its own
    object, one that is no uptake and points back to nothing ("with complete resolution of the previously seen right
    thigh mass")? Then the resolution reads only that object, never the subjects before it (extractor v11)."""
    for c in cc:
        if c.roles.get("normalizer") and c.text.lower().endswith(" of"):
            return _RESOLVED_BACK_RE.match(text, c.end, c1) is None
    return False


def _inherited_subjects(doc: _Doc, read: _ClauseRead, c0: int, c1: int, opens: bool = False) -> list[_Subj]:
    """The subjects of a clause that names none: those carried from before (in a clause about nodes, only node
    groups: "…食管癌…。转移淋巴结FDG摄取增高"); a definite lesion noun points back to the subject a history sentence or
    a paragraph break dropped ("A man with a hepatic lesion … underwent PET/CT. The images revealed increased FDG
    activity in the lesion"); a sentence that `opens` naming no organ and speaks of the rest ("otherwise") has none."""
    text, lex = doc.text, doc.lex
    if doc.carried and ((opens and _OTHERWISE_RE.search(text, c0, c1)) or _NO_OTHER_RE.search(text, c0, c1)
                        or (text.find("body", c0, c1) >= 0 and _WHOLE_BODY_RE.search(text, c0, c1))):
        return []  # a sentence about the rest of the body ("Tracer distribution is otherwise unremarkable")
    if not doc.carried and doc.hist_carried and lex.anaphor_re is not None and lex.anaphor_re.search(text, c0, c1):
        doc.carried = doc.hist_carried
    subjects = [_Subj(s.organ or (s.site if read.has_node and s.site else ""), s.term, -1, s.site) for s in doc.carried]
    if read.has_node:
        subjects = [x for x in subjects if x.organ in lex.node_groups]
    return subjects


def _with_listed(
    doc: _Doc, pairs: list[tuple[_Subj, tuple[str, int, tuple[str, ...]]]], cands: list[tuple[_ClauseRead, int, int]],
    read: _ClauseRead, node_head: bool,
) -> tuple[list[tuple[_Subj, tuple[str, int, tuple[str, ...]]]], list[_Subj]]:
    """`pairs` with the organs listed in the clauses just before ("The liver, spleen, and pancreas show normal
    uptake": the listed organs share the first state), and those organs (the pending list)."""
    pending: list[_Subj] = []
    for rd, a, b in reversed(cands):
        if not node_head and not _only_names(doc.text, a, b, rd.names, doc.lex):
            # (after a node heading every clause lists node places: "淋巴结:双侧颈部,左侧胸小肌后,…"); a lead-in
            # before the list's first item is no item ("PET-CT reported that his bilateral neck, axillary and
            # retroperitoneum had enlarged nodes with …": the neck too; extractor v12)
            if doc.lex.lang != "zh" and read.own_mentions and rd.names and _only_names(
                    doc.text, rd.names[0].start, b, rd.names, doc.lex):
                pending[:0] = rd.subjects
            break
        pending[:0] = rd.subjects
    if pending:
        first = pairs[0][0] if pairs else None
        run_states = [st for subj, st in pairs if subj is first] or read.states
        if read.has_node:  # a node word at the end of the list makes its regions node groups ("双侧颈部，纵隔…淋巴结")
            pending = [p if p.organ or not p.site else _Subj(p.site, p.term, p.pos, p.site) for p in pending]
        pairs = [(p, st) for p in pending if p.organ for st in run_states] + pairs
    return pairs, pending


def _apply_reading(
    out: list[Statement], sent_start: int, pairs: list[tuple[_Subj, tuple[str, int, tuple[str, ...]]]],
    read: _ClauseRead, said: set[str], prov: dict[str, list[Statement]],
) -> list[tuple[_Subj, tuple[str, int, tuple[str, ...]]]]:
    """A reading of what this sentence stated: a physiological one ("…摄取增高，考虑生理性摄取", "Increased uptake in the
    colon, likely physiologic") drops the levels stated for its organs (its own normal level stands); another
    interpretation adds no level for an organ that already has one."""
    if read.physio and (read.interp or not read.own_mentions):
        organs = {s.organ for s, _ in pairs if s.organ}
        drop = {id(x) for x in out[sent_start:] if x.organ in organs and x.state in ("increased", "decreased")}
        if drop:
            out[:] = [x for x in out if id(x) not in drop]
            for o in organs:
                prov.pop(o, None)
    elif read.interp:
        pairs = [(s, st) for s, st in pairs if s.organ not in said]
    return pairs


def _document_rules(text: str, out: list[Statement], cue_flags: int, lex: Lexicon) -> list[Statement]:
    """The rules that read a statement against the whole report: `intense_normal`, `physio_cause`, the normal-study
    frame."""
    if out and lex.intense_normal:
        out = _intense_normal(out, lex)
    if out and cue_flags & _F_NORM and lex.physio_cause_re is not None:
        out = _physio_cause(text, out, lex)
    if out and lex.normal_frame_re is not None:
        return _in_normal_frame(text, out, lex)
    return out


def _physio_cause(text: str, out: list[Statement], lex: Lexicon) -> list[Statement]:
    """A sentence that gives physiological activity as the cause of the uptake it states ("由于韦氏环淋巴组织的生理活动,
    腺样体、扁桃体…出现轻度至中度的摄取", "because of physiological activity, …") states normal levels: its increased
    statements are normal, except in a clause that names a lesion or abnormality (`normal_frame_keep`)."""
    spans = []
    for m in lex.physio_cause_re.finditer(text):  # type: ignore[union-attr]
        a, b = m.start(), m.end()
        while a > 0 and text[a - 1] not in lex.sentence_end and text[a - 1] != ".":
            a -= 1
        while b < len(text) and text[b] not in lex.sentence_end and text[b] != ".":
            b += 1
        spans.append((a, b, m.group()))
    if not spans:
        return out
    res = []
    for st in out:
        if st.state == "increased":
            cause = next((w for a, b, w in spans if a <= st.span[0] and st.span[1] <= b), None)
            if cause is not None and not (lex.frame_keep_re is not None and lex.frame_keep_re.search(st.clause)):
                st = dataclasses.replace(st, state="normal", cues=(*st.cues, cause))
        res.append(st)
    return res


def _intense_normal(out: list[Statement], lex: Lexicon) -> list[Statement]:
    """An organ whose physiological uptake is intense (the brain's grey matter), named as a whole and given only an
    intensity word ("Note intense brain uptake", "greater uptake in the cerebral cortex, basal ganglia and thalami"),
    is normal; "increased", a focus, a lesion or a region named alone keep the level (`normal_frame_keep`)."""
    whole: set[tuple[str, tuple[int, int]]] = set()
    for st in out:  # clauses that name the organ as a whole
        spec = lex.intense_normal.get(st.organ)
        if spec is not None and st.state == "increased" and _key(st.organ_term) in spec[0]:
            whole.add((st.organ, st.span))
    if not whole:
        return out
    res = []
    for st in out:
        if (st.organ, st.span) in whole and st.state == "increased" and all(
                _key(w) in lex.intense_normal[st.organ][1] for w in st.cues) and not (
                lex.frame_keep_re is not None and lex.frame_keep_re.search(st.clause)):
            st = dataclasses.replace(st, state="normal")
        res.append(st)
    return res


def _in_normal_frame(text: str, out: list[Statement], lex: Lexicon) -> list[Statement]:
    """Levels stated about normal organs compare them with each other: normal (guide: the normal-study frame).

    A sentence or clause that opens by naming the normal distribution or the normal organs it describes ("Normal
    distribution of FDG. Intense activity is present in the brain …", "正常腹部消化器官…摄取较高者依次为…") makes
    the increased/decreased statements from there to the end of its line normal, except in a clause that names a
    lesion or an abnormality (`normal_frame_keep`). Only `normal_frame_lead` ("结果", "In") may stand before the
    frame in its clause.
    """
    frames = []
    for m in lex.normal_frame_re.finditer(text):  # type: ignore[union-attr]
        j = m.start()
        while j > 0 and text[j - 1] != "." and text[j - 1] not in lex.sentence_end and text[j - 1] not in lex.clause_sep:
            j -= 1
        if lex.frame_lead_re is None or lex.frame_lead_re.fullmatch(text, j, m.start()):
            frames.append((m.start(), m.group()))
    if not frames:
        return out
    res = []
    for st in out:
        if st.state in ("increased", "decreased"):
            frame = next((f for f in frames if f[0] < st.span[1] and "\n" not in text[f[0] : st.span[0]]), None)
            if frame is not None and not (lex.frame_keep_re is not None and lex.frame_keep_re.search(st.clause)):
                st = dataclasses.replace(st, state="normal", cues=(*st.cues, frame[1]))
        res.append(st)
    return res


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
        if state == _BARE:
            if lex is None or subj.organ not in lex.bare_uptake:
                continue
            state = "increased"
        elif state == _FINDING:
            state = "increased"
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


# ------------------------------------------------------------------------------------------ agreement check
# A polarity flip of one organ in one text: the state a missed, spurious or mis-scoped negation (or a cancelling
# qualifier read wrongly) produces. Each is counted when the expected states hold the first and not the second,
# and the extracted ones the second and not the first.
NEGATION_FLIPS: tuple[tuple[str, str], ...] = (
    ("normal", "increased"), ("increased", "normal"), ("normal", "decreased"), ("decreased", "normal"))


@dataclass(frozen=True)
class LabelledItem:
    """One labelled text: `expected` is {organ: [states]}; `where` says where it came from ("FILE:LINE")."""

    id: str
    text: str
    lang: str
    expected: dict[str, list[str]]
    where: str = ""
    fields: dict[str, Any] = dataclasses.field(default_factory=dict)  # the item's other keys (source, tags, …)


def _prf(tp: int, fp: int, fn: int) -> dict[str, Any]:
    p = tp / (tp + fp) if tp + fp else 0.0
    r = tp / (tp + fn) if tp + fn else 0.0
    f1 = 2 * p * r / (p + r) if p + r else 0.0
    return {"precision": round(p, 4), "recall": round(r, 4), "f1": round(f1, 4), "tp": tp, "fp": fp, "fn": fn,
            "support": tp + fn}


def _excerpt(text: str, organ: str, stmts: Sequence[Statement], lex: Lexicon, width: int = 36) -> str:
    """A short window of `text` around where `organ` is named (a statement of it, else its first mention)."""
    spans = [st.span for st in stmts if st.organ == organ]
    if spans:
        a, b = spans[0]
    else:
        ments = [m for m in _mentions(_normalize(text, lex), lex) if m.target == organ]
        if not ments:
            a, b = 0, min(len(text), 2 * width)
        else:
            a, b = ments[0].start, ments[0].end
    lo, hi = max(0, a - width // 2), min(len(text), max(b, a + width) + width // 2)
    snippet = " ".join(text[lo:hi].split())
    return ("…" if lo else "") + snippet + ("…" if hi < len(text) else "")


def _as_item(obj: Any, where: str, index: int) -> LabelledItem:
    """A labelled item from a parsed JSON/YAML mapping; a one-line InputError naming `where` when it is malformed."""
    if not isinstance(obj, dict):
        raise InputError(f"{where}: expected an object with text and expected, not {type(obj).__name__}")
    text = obj.get("text")
    if not isinstance(text, str) or not text.strip():
        raise InputError(f"{where}: 'text' must be a non-empty string")
    lang = obj.get("lang") or "auto"
    if not isinstance(lang, str) or _norm_lang(lang) not in (*LANGS, "auto"):
        raise InputError(f"{where}: unknown lang {lang!r} (expected zh, en or auto)")
    exp = obj.get("expected")
    if exp is None:
        raise InputError(f"{where}: missing 'expected' (an object organ -> list of states; {{}} for none)")
    if not isinstance(exp, dict):
        raise InputError(f"{where}: 'expected' must be an object organ -> list of states, not {type(exp).__name__}")
    expected: dict[str, list[str]] = {}
    for organ, states in exp.items():
        if organ not in _ORGAN_RANK:
            raise InputError(f"{where}: unknown organ {organ!r} in expected (expected one of {', '.join(ORGANS)})")
        lst = [states] if isinstance(states, str) else states
        if lst is None or lst == []:  # "liver: []": no state, as if the organ were not listed
            continue
        if not isinstance(lst, list):
            raise InputError(f"{where}: expected.{organ} must be a list of states")
        for s in lst:
            if s not in _STATE_RANK:
                raise InputError(f"{where}: unknown state {s!r} for {organ} (expected one of {', '.join(STATES)})")
        expected[organ] = sorted(set(lst), key=_STATE_RANK.__getitem__)
    ident = obj.get("id")
    fields = {k: v for k, v in obj.items() if k not in ("id", "text", "lang", "expected")}
    return LabelledItem(str(ident) if ident is not None else f"#{index + 1}", text,
                        _norm_lang(lang) if lang != "auto" else "auto", expected, where, fields)


def read_labelled(path: str) -> list[LabelledItem]:
    """Labelled texts from a JSONL file (one object per line: text, expected, optional lang and id) or a YAML file
    (a list of such objects, or a mapping with `items`, like tests/data/uptake_labelled.yaml).

    A malformed file or item raises a one-line InputError naming FILE:LINE."""
    raw = read_input_bytes(path, "a labelled JSONL or YAML file")
    try:
        data = raw.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        raise InputError(f"{path}: not UTF-8 text (byte {exc.start})") from None
    is_yaml = str(path).lower().endswith((".yaml", ".yml"))
    if not is_yaml:
        first = next((ln.strip() for ln in data.splitlines() if ln.strip()), "")
        is_yaml = bool(first) and not first.startswith("{")
    items: list[LabelledItem] = []
    if not is_yaml:
        for n, line in enumerate(data.splitlines(), 1):
            if not line.strip():
                continue
            try:
                obj = json.loads(line)
            except json.JSONDecodeError as exc:
                raise InputError(f"{path}:{n}: not valid JSON ({exc.msg} at column {exc.colno})") from None
            except RecursionError:
                raise InputError(f"{path}:{n}: JSON nested too deeply") from None
            items.append(_as_item(obj, f"{path}:{n}", len(items)))
        return items
    import yaml

    loader = getattr(yaml, "CSafeLoader", yaml.SafeLoader)
    try:
        root = yaml.compose(data, Loader=loader)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        line = f":{mark.line + 1}" if mark is not None else ""
        raise InputError(f"{path}{line}: invalid YAML ({getattr(exc, 'problem', None) or 'syntax error'})") from None
    if root is None:
        return []
    seq = root
    if isinstance(root, yaml.MappingNode):
        seq = next((v for k, v in root.value if isinstance(k, yaml.ScalarNode) and k.value == "items"), None)
        if seq is None:
            raise InputError(f"{path}: a YAML labelled file is a list of items or a mapping with 'items'")
    if not isinstance(seq, yaml.SequenceNode):
        raise InputError(f"{path}:{seq.start_mark.line + 1}: 'items' must be a list")
    objs = yaml.load(data, Loader=loader)
    objs = objs["items"] if isinstance(objs, dict) else objs
    for i, (node, obj) in enumerate(zip(seq.value, objs)):
        items.append(_as_item(obj, f"{path}:{node.start_mark.line + 1}", i))
    return items


def evaluate_labelled(items: Iterable[LabelledItem | dict[str, Any]], lexicons: Sequence[str | Path] = (),
                      group_by: str | None = None) -> dict[str, Any]:
    """Agreement of the extractor with labelled texts, over (text, organ, state) pairs.

    `items` are LabelledItem or mappings with `text`, `expected` ({organ: [states]}) and optional `lang` (auto when
    absent) and `id`; `lexicons` are extra lexicon files, as for `pet2rep uptake --lexicon`. Returns a JSON-ready
    dict: "n_items", "lexicons" (signature per language), then for all items together and again under
    "per_lang"[lang]: "micro" (precision, recall, f1, tp, fp, fn, support), "per_state" and "per_organ" (the same
    numbers, only keys with support or predictions), "normal_recall" (None without normal support) and
    "negation_errors" ({"normal->increased": n, "increased->normal": n, "normal->decreased": n,
    "decreased->normal": n, "total": n}: polarity flips of one organ in one text, see NEGATION_FLIPS); and
    "disagreements": one entry per (text, organ) whose states differ: id, lang, organ, expected, got, negation (the
    flips it counts as), excerpt (the text around the organ), where. With `group_by` (an item field such as
    "source_kind"), "per_group"[value] holds the same numbers for the items with that value (and its own "per_lang").
    """
    its = [it if isinstance(it, LabelledItem) else _as_item(it, f"item {i + 1}", i) for i, it in enumerate(items)]
    extra = tuple(str(p) for p in lexicons)
    flip_keys = [f"{a}->{b}" for a, b in NEGATION_FLIPS]
    # per (language, group): pair counts [tp, fp, fn] by state and by organ, polarity flips, items
    acc: dict[tuple[str, str], dict[str, Any]] = {}
    disagreements: list[dict[str, Any]] = []
    signatures: dict[str, str] = {}
    for it in its:
        lang = detect_lang(it.text) if it.lang == "auto" else it.lang
        lex = load_lexicon(lang, extra)
        signatures[lang] = lex.signature
        group = str(it.fields.get(group_by, "")) if group_by else ""
        a = acc.setdefault((lang, group), {"n": 0, "state": {}, "organ": {}, "flips": dict.fromkeys(flip_keys, 0)})
        a["n"] += 1
        stmts = extract_statements(it.text, lang, lex)
        got = labels_from_statements(stmts)
        for organ in sorted(set(got) | set(it.expected), key=_ORGAN_RANK.__getitem__):
            g, e = set(got.get(organ, ())), set(it.expected.get(organ, ()))
            for state in g | e:
                c = (int(state in g and state in e), int(state not in e), int(state not in g))
                for table, key in (("state", state), ("organ", organ)):
                    cell = a[table].setdefault(key, [0, 0, 0])
                    for i in range(3):
                        cell[i] += c[i]
            if g == e:
                continue
            kinds = [f"{x}->{y}" for x, y in NEGATION_FLIPS if x in e and y not in e and y in g and x not in g]
            for k in kinds:
                a["flips"][k] += 1
            disagreements.append({
                "id": it.id, "lang": lang, "organ": organ,
                "expected": sorted(e, key=_STATE_RANK.__getitem__), "got": sorted(g, key=_STATE_RANK.__getitem__),
                "negation": kinds, "excerpt": _excerpt(it.text, organ, stmts, lex), "where": it.where})

    def block(cells: list[tuple[str, str]]) -> dict[str, Any]:
        tables: dict[str, dict[str, list[int]]] = {"state": {}, "organ": {}}
        for cell_key in cells:
            for table in tables:
                for key, cell in acc[cell_key][table].items():
                    tot = tables[table].setdefault(key, [0, 0, 0])
                    for i in range(3):
                        tot[i] += cell[i]
        micro = [sum(cell[i] for cell in tables["state"].values()) for i in range(3)]
        per_state = {s: _prf(*tables["state"][s]) for s in STATES if s in tables["state"]}
        per_organ = {o: _prf(*tables["organ"][o]) for o in ORGANS if o in tables["organ"]}
        normal = per_state.get("normal")
        flips = {k: sum(acc[c]["flips"][k] for c in cells) for k in flip_keys}
        flips["total"] = sum(flips.values())
        return {"n_items": sum(acc[c]["n"] for c in cells), "micro": _prf(*micro), "per_state": per_state,
                "per_organ": per_organ, "normal_recall": normal["recall"] if normal and normal["support"] else None,
                "negation_errors": flips}

    langs = sorted({lang for lang, _ in acc}, key=lambda x: LANGS.index(x) if x in LANGS else len(LANGS))

    def with_langs(cells: list[tuple[str, str]]) -> dict[str, Any]:
        return {**block(cells), "per_lang": {lang: block([c for c in cells if c[0] == lang])
                                             for lang in langs if any(c[0] == lang for c in cells)}}

    out = {"lexicons": signatures, **with_langs(list(acc))}
    if group_by:
        out["group_by"] = group_by
        out["per_group"] = {g: with_langs([c for c in acc if c[1] == g]) for g in sorted({g for _, g in acc})}
    out["disagreements"] = disagreements
    return out


def format_evaluation(result: dict[str, Any], source: str = "") -> str:
    """The agreement report of evaluate_labelled as plain-text tables (what `pet2rep uptake --eval` prints)."""
    def row(name: str, m: dict[str, Any]) -> str:
        return (f"  {name:<24} {m['precision']:>6.3f} {m['recall']:>6.3f} {m['f1']:>6.3f} {m['support']:>6d}"
                f" {m['tp']:>5d} {m['fp']:>4d} {m['fn']:>4d}")

    head = f"  {'':<24} {'P':>6} {'R':>6} {'F1':>6} {'supp':>6} {'tp':>5} {'fp':>4} {'fn':>4}"
    nr = result["normal_recall"]
    lines = [f"OUA extractor agreement{' on ' + source if source else ''}: {result['n_items']} texts "
             "(" + ", ".join(f"{k} {v['n_items']}" for k, v in result["per_lang"].items()) + "); lexicons: "
             + ", ".join(result["lexicons"].values()), "", "overall (micro over text x organ x state)", head,
             row("all", result["micro"])]
    for lang, blk in result["per_lang"].items():
        lines.append(row(lang, blk["micro"]))
    if result.get("per_group"):
        lines += ["", f"per {result['group_by']}", head]
        for g, blk in result["per_group"].items():
            lines.append(row(g or "(none)", blk["micro"]))
            for lang, lb in blk["per_lang"].items():
                lines.append(row(f"  {lang}", lb["micro"]))
    lines.append("")
    lines.append("normal recall: " + (f"{nr:.3f}" if nr is not None else "n/a") + "".join(
        f"; {lang} " + (f"{b['normal_recall']:.3f}" if b["normal_recall"] is not None else "n/a")
        for lang, b in result["per_lang"].items()))
    neg = result["negation_errors"]
    lines.append("negation errors (polarity flips): " + ", ".join(f"{k} {v}" for k, v in neg.items() if k != "total")
                 + f"; total {neg['total']}")
    for title, key in (("per state", "per_state"), ("per organ", "per_organ")):
        lines += ["", title, head]
        lines += [row(k, m) for k, m in result[key].items()]
    dis = result["disagreements"]
    lines += ["", f"disagreements: {len(dis)}"]
    for d in dis:
        flag = f"  [negation: {', '.join(d['negation'])}]" if d["negation"] else ""
        lines.append(f"  {d['id']} ({d['lang']}) {d['organ']}: expected {d['expected'] or '[]'} got "
                     f"{d['got'] or '[]'}{flag}  | {d['excerpt']}")
    return "\n".join(lines)


# ---------------------------------------------------------------------------------------------- reports
def read_report(path: str) -> str:
    """A report file as text (UTF-8, BOM allowed); "-" reads standard input."""
    if path == "-":
        from pet2rep.errors import MAX_INPUT_BYTES

        raw = sys.stdin.buffer.read(MAX_INPUT_BYTES + 1)
        name = "<stdin>"
        if len(raw) > MAX_INPUT_BYTES:
            raise InputError(f"<stdin>: more than {MAX_INPUT_BYTES:,} bytes, the most pet2rep reads as a report")
    else:
        name = path
        raw = read_input_bytes(path, "a report text file")
    try:
        return raw.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        bad = raw[exc.start]
        raise InputError(f"{name}: not UTF-8 text (byte 0x{bad:02x} at offset {exc.start})") from None
