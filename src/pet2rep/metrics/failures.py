"""Failure modes of generated reports, as the PET2Rep paper describes them.

Per output (flags are independent; an empty output gets no other text-based flag):

- ``empty``: blank, whitespace, or only brackets/punctuation.
- ``refusal``: a refusal phrase (zh/en) — strong phrases anywhere; weak ones ("无法", "unable to") only near the
  start or in a short output, and never inside a medical hedge such as "无法排除" / "cannot be excluded".
- ``template_ignored``: fewer than half of the organs the reference (or, without one, the template in the
  prompt) speaks about are spoken about in the output; the counts are recorded.
- ``invented_demographics``: names, ages, sexes, ids or dates of the patient that do not appear in the
  input prompt text.
- ``truncated``: the generator hit its length limit (finish_reason "length"), or the text ends without final
  punctuation and leaves a bracket open or has no impression section.
- ``wrong_language``: the detected language of the output is not the expected one.
- ``error``: the prediction record carries an error.

Phrase lists and patterns live in ``lexicon/failures.yaml``.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from functools import lru_cache
from importlib import resources
from typing import Any

from pet2rep.metrics.tokenize import nfkc
from pet2rep.metrics.uptake import class_body, first_chars

FAILURE_MODES: tuple[str, ...] = (
    "empty", "refusal", "template_ignored", "invented_demographics", "truncated", "wrong_language", "error",
)
TEMPLATE_MIN_SHARE = 0.5


@dataclass(frozen=True)
class _Lexicon:
    version: str
    strong: tuple[str, ...]
    weak: tuple[str, ...]
    weak_window: int
    short_output: int
    not_refusal: tuple[str, ...]
    demographics: tuple[re.Pattern[str], ...]
    demographics_any: re.Pattern[str]  # matches where any of `demographics` does (one scan rules most texts out)
    final_punct: frozenset[str]
    brackets: tuple[tuple[str, str], ...]
    impression: tuple[str, ...]
    empty_re: re.Pattern[str]


@lru_cache(maxsize=16)
def _norm(text: str) -> str:
    """NFKC (cached: every check of one output uses the same normalised text)."""
    return nfkc(text)


@lru_cache(maxsize=1)
def lexicon() -> _Lexicon:
    """Load ``lexicon/failures.yaml`` once."""
    import yaml

    raw = resources.files("pet2rep.metrics").joinpath("lexicon/failures.yaml").read_text(encoding="utf-8")
    d = yaml.safe_load(raw)
    ref = d["refusal"]

    def both(x: Mapping[str, Sequence[str]]) -> tuple[str, ...]:
        return tuple(_norm(p).lower() for lang in ("zh", "en") for p in x.get(lang, ()))

    pats = tuple(re.compile(_norm(p)) for lang in ("zh", "en") for p in d["demographics"].get(lang, ()))
    tr = d["truncation"]
    empty = re.escape(_norm(d["empty_chars"]))
    return _Lexicon(
        version=str(d.get("version", "failures")),
        strong=both(ref["strong"]),
        weak=both(ref["weak"]),
        weak_window=int(ref.get("weak_window", 80)),
        short_output=int(ref.get("short_output", 200)),
        not_refusal=both(ref.get("not_refusal", {})),
        demographics=pats,
        demographics_any=_guarded("|".join(_unnamed(p.pattern) for p in pats) or "(?!)"),
        final_punct=frozenset(_norm(tr["final_punct"])),
        brackets=tuple((b[0], b[1]) for b in tr["brackets"]),
        impression=both(tr["impression"]),
        empty_re=re.compile(rf"[\s{empty}]*"),
    )


def _unnamed(pattern: str) -> str:
    """One pattern as an alternative of a combined one: its named groups unnamed, a leading (?i) scoped."""
    pattern = pattern.replace("(?P<v>", "(?:")
    if pattern.startswith("(?i)"):
        return f"(?i:{pattern[4:]})"
    return f"(?:{pattern})"


def _guarded(pattern: str) -> re.Pattern[str]:
    """`pattern` behind a lookahead for the characters a match can start with, when they can be told: a search then
    rejects most positions with one class test instead of trying every alternative (same matches)."""
    first = _first_chars(pattern)
    return re.compile(f"(?i:(?=[{first}]))(?:{pattern})" if first else pattern)


def _first_chars(pattern: str) -> str | None:
    """A character class body holding every character a match of `pattern` can start with (a superset; ignore-case
    is applied to it by the caller), or None when that cannot be told (a negated class, ".", an empty match …)."""
    first = first_chars(pattern)
    return None if first is None else class_body(first)


def failures_signature() -> str:
    """Signature of the failure-mode rules."""
    return f"failures:{lexicon().version}|template<{TEMPLATE_MIN_SHARE:g}"


def is_empty(text: str | None) -> bool:
    """Blank, whitespace, or only brackets/punctuation."""
    if not text:
        return True
    return lexicon().empty_re.fullmatch(_norm(text)) is not None


def refusal_phrases(text: str) -> list[str]:
    """The refusal phrases found in `text` (empty list: not a refusal)."""
    lex = lexicon()
    low = _norm(text).lower()
    found = [p for p in lex.strong if p in low]
    masked = low
    for hedge in lex.not_refusal:
        if hedge in masked:
            masked = masked.replace(hedge, "\x00" * len(hedge))
    short = len(low.strip()) < lex.short_output
    for p in lex.weak:
        pos = masked.find(p)
        if pos >= 0 and (short or pos < lex.weak_window):
            found.append(p.strip())
    return found


@lru_cache(maxsize=64)
def _squeezed(text: str) -> str:
    """NFKC, no whitespace, lower case (prompts repeat: cached)."""
    return re.sub(r"\s+", "", _norm(text)).lower()


def invented_demographics(text: str, prompt: str | None) -> list[str]:
    """Patient details (name, age, sex, id, date) in `text` that are not in `prompt`."""
    norm = _norm(text)
    lex = lexicon()
    if lex.demographics_any.search(norm) is None:
        return []
    prompt_n = _squeezed(prompt or "")
    out: list[str] = []
    for pat in lex.demographics:
        for m in pat.finditer(norm):
            whole = re.sub(r"\s+", "", m.group(0)).lower()
            val = re.sub(r"\s+", "", m.groupdict().get("v") or "").lower()
            if whole and whole in prompt_n:
                continue
            if val and len(val) >= 2 and val in prompt_n:
                continue
            s = m.group(0).strip()
            if s not in out:
                out.append(s)
    return out


def truncation(text: str, finish_reason: str | None = None) -> str | None:
    """Why the output looks cut off ("length", "unclosed bracket", "no impression"), or None."""
    if finish_reason and finish_reason.strip().lower() in ("length", "max_tokens", "max_length"):
        return "length"
    t = _norm(text).rstrip()
    if not t:
        return None
    lex = lexicon()
    if t[-1] in lex.final_punct:
        return None
    for a, b in lex.brackets:
        if t.count(a) > t.count(b):
            return "unclosed bracket"
    low = t.lower()
    if not any(h in low for h in lex.impression):
        return "no impression"
    return None


def _organs(labels: Mapping[str, Sequence[str]] | None) -> set[str]:
    from pet2rep.metrics.clinical import mentioned_organs

    return set(mentioned_organs(labels))


def detect_failures(
    hyp: str | None,
    *,
    prompt: str | None = None,
    finish_reason: str | None = None,
    error: str | None = None,
    expected_lang: str | None = None,
    hyp_lang: str | None = None,
    hyp_labels: Mapping[str, Sequence[str]] | None = None,
    ref_labels: Mapping[str, Sequence[str]] | None = None,
    template_labels: Mapping[str, Sequence[str]] | None = None,
) -> dict[str, Any]:
    """Flags for every failure mode plus details: {"flags": {mode: bool}, "details": {...}}.

    `hyp_labels`/`ref_labels`/`template_labels` are extract_uptake outputs; `hyp_lang` is the detected
    language of `hyp` (detected here when None and `expected_lang` is given).
    """
    text = hyp or ""
    flags = dict.fromkeys(FAILURE_MODES, False)
    details: dict[str, Any] = {}
    flags["error"] = bool(error)
    if error:
        details["error"] = str(error)[:500]
    trunc = truncation(text, finish_reason)
    if trunc:
        flags["truncated"] = True
        details["truncated"] = trunc
    if is_empty(text):
        flags["empty"] = True
        return {"flags": flags, "details": details}

    phrases = refusal_phrases(text)
    if phrases:
        flags["refusal"] = True
        details["refusal"] = phrases

    target = _organs(ref_labels) or _organs(template_labels)
    if target:
        covered = len(target & _organs(hyp_labels))
        details["template_organs"] = {"covered": covered, "total": len(target)}
        flags["template_ignored"] = covered < TEMPLATE_MIN_SHARE * len(target)

    invented = invented_demographics(text, prompt)
    if invented:
        flags["invented_demographics"] = True
        details["invented_demographics"] = invented

    if expected_lang and expected_lang != "auto":
        if hyp_lang is None:
            from pet2rep.metrics.uptake import detect_lang

            hyp_lang = detect_lang(text)
        details["lang"] = hyp_lang
        if hyp_lang in ("zh", "en") and hyp_lang != expected_lang:
            flags["wrong_language"] = True
    return {"flags": flags, "details": details}


def summarize(flag_rows: Sequence[Mapping[str, bool]]) -> dict[str, Any]:
    """{"counts": {mode: n}, "rates": {mode: share}, "any": n, "any_rate": share, "n": n} over samples."""
    n = len(flag_rows)
    counts = {m: sum(1 for f in flag_rows if f.get(m)) for m in FAILURE_MODES}
    any_n = sum(1 for f in flag_rows if any(f.get(m) for m in FAILURE_MODES))
    return {
        "counts": counts,
        "rates": {m: (c / n if n else 0.0) for m, c in counts.items()},
        "any": any_n,
        "any_rate": any_n / n if n else 0.0,
        "n": n,
    }
