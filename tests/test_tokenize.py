"""Tokenizer: the zh/en rule, NFKC, the per-character fast path, the optional jieba segmenter."""

from __future__ import annotations

import json
import random
import re
import unicodedata
from pathlib import Path

import pytest

from pet2rep.errors import Pet2RepError
from pet2rep.metrics import tokenize as tk
from pet2rep.metrics.tokenize import tokenize, tokenizer_signature

PAIRS = Path(__file__).parent / "data" / "nlg_pairs.jsonl"


# The rule written out independently of the module's regexes (DESIGN: CJK ideographs one token each).
_CJK_RANGES = ((0x3007, 0x3007), (0x3400, 0x4DBF), (0x4E00, 0x9FFF), (0xF900, 0xFAFF), (0x20000, 0x3FFFF))
_WORD_AT = re.compile(r"[a-z0-9]+(?:\.[0-9]+)*")


def _reference_tokens(text: str) -> list[str]:
    """The rule written out plainly: full NFKC + lower, then CJK chars and [a-z0-9.] runs."""
    norm = unicodedata.normalize("NFKC", text).lower()
    out: list[str] = []
    i = 0
    while i < len(norm):
        if any(lo <= ord(norm[i]) <= hi for lo, hi in _CJK_RANGES):
            out.append(norm[i])
            i += 1
        elif m := _WORD_AT.match(norm, i):
            out.append(m.group())
            i = m.end()
        else:
            i += 1
    return out


@pytest.mark.parametrize(
    ("text", "tokens"),
    [
        ("3.5cm", ["3.5", "cm"]),
        ("SUVmax约8.5", ["suvmax", "约", "8.5"]),
        ("L4/5", ["l4", "5"]),
        ("18F-FDG", ["18f", "fdg"]),
        ("【摄取增高】[正常]", ["摄", "取", "增", "高", "正", "常"]),
        ("（约1.2×0.8cm）", ["约", "1.2", "0.8", "cm"]),
        ("ＳＵＶｍａｘ　８．５", ["suvmax", "8.5"]),  # full-width letters, digits, dot, space
        ("Ｌ４／５", ["l4", "5"]),
        ("①肝②脾", ["1", "肝", "2", "脾"]),  # circled digits NFKC to digits
        ("①②", ["12"]),  # ... and then join into one run
        ("㎝", ["cm"]),
        ("v1.2.3 and 3. next .5", ["v1.2.3", "and", "3", "next", "5"]),
        ("肝脏，FDG摄取未见异常。", ["肝", "脏", "fdg", "摄", "取", "未", "见", "异", "常"]),
        ("", []),
        ("  ，。！", []),
        ("café", ["caf"]),  # letters outside a-z are separators
        ("cafe\u0301", ["caf"]),  # decomposed form composes under NFKC first (slow path)
        ("𠀀x", ["𠀀", "x"]),  # astral CJK ideograph
    ],
)
def test_rule_cases(text: str, tokens: list[str]) -> None:
    assert tokenize(text) == tokens
    assert _reference_tokens(text) == tokens


def test_fast_path_equals_full_nfkc_on_random_text() -> None:
    ranges = [
        (0x20, 0x250), (0x2000, 0x2500), (0x3000, 0x3400), (0x4E00, 0x4E40), (0xF900, 0xFB50),
        (0xFE30, 0xFFEF), (0x1D400, 0x1D420), (0x2F800, 0x2F810),
    ]
    alphabet = [chr(c) for lo, hi in ranges for c in range(lo, hi)]
    alphabet += ["\u0301", "\u0308", "\u1100", "\u1161", "\uac00", "\u3131", "\uffa1", "\uffc2", "İ", "K"]
    rng = random.Random(7)
    table, unsafe = tk._fast_nfkc()
    fast = 0
    for _ in range(6000):
        s = "".join(rng.choice(alphabet) for _ in range(rng.randrange(1, 14)))
        fast += unsafe.search(s) is None
        assert tokenize(s) == _reference_tokens(s), repr(s)
    assert fast > 1000  # the fast path was really exercised


def test_fixture_reports_tokenize_like_reference_rule() -> None:
    for line in PAIRS.read_text(encoding="utf-8").splitlines():
        rec = json.loads(line)
        for text in (rec["hyp"], rec["ref"]):
            assert tokenize(text) == _reference_tokens(text)


def test_zh_report_is_char_level() -> None:
    rec = json.loads(PAIRS.read_text(encoding="utf-8").splitlines()[0])
    toks = tokenize(rec["ref"])
    assert "fdg" in toks and "18f" in toks and "l4" in toks
    cjk = [t for t in toks if t[0] > "z"]
    assert cjk and all(len(t) == 1 for t in cjk)
    assert not any(c in "".join(toks) for c in "，。：；、【】[]()（）/ ")


def test_jieba_segmenter_changes_tokens_and_signature(capsys) -> None:
    text = "双侧颈部未见肿大淋巴结，SUVmax约8.5，FDG代谢未见异常。"
    chars = tokenize(text)
    words = tokenize(text, segmenter="jieba")
    assert words != chars
    assert any(len(w) > 1 and w[0] > "z" for w in words)
    assert "".join(words) == "".join(chars)  # same characters, other boundaries
    assert "8.5" in words and "suvmax" in words and "fdg" in words
    sig_none, sig_jieba = tokenizer_signature(None), tokenizer_signature("jieba")
    assert sig_none == "tok:pet2rep-cjkchar-v1|seg:none|nfkc|lc"
    assert sig_jieba.startswith("tok:pet2rep-cjkchar-v1|seg:jieba-") and sig_jieba != sig_none
    assert tokenizer_signature("none") == sig_none and tokenize(text, "none") == chars
    err = capsys.readouterr().err
    assert "Building prefix dict" not in err  # jieba's start-up log is silenced


def test_unknown_segmenter_is_an_error() -> None:
    with pytest.raises(Pet2RepError):
        tokenize("肝", segmenter="pkuseg")
    with pytest.raises(Pet2RepError):
        tokenizer_signature("spacy")


def test_fast_table_is_nfkc_lower_per_character() -> None:
    """Every BMP character: the table holds its NFKC + lower-case form (" " when the tokenizer keeps none of it), or
    the unsafe pattern sends texts holding it to the full algorithm (it or its normal form is context-dependent)."""
    import unicodedata

    table, unsafe = tk._fast_nfkc()
    for cp in range(0x10000):
        ch = chr(cp)
        out = unicodedata.normalize("NFKC", ch).lower() if tk._context_free(ch) else None
        if out is None or not all(tk._context_free(o) for o in out):
            assert unsafe.match(ch) is not None, hex(cp)
            continue
        assert unsafe.match(ch) is None, hex(cp)
        want = cp if out == ch else (out if tk._KEPT_RE.search(out) else " ")
        assert table[cp] == want, hex(cp)
    tk.warm_up()
    assert tk._fast_nfkc() == (table, unsafe)


def test_nfkc_equals_unicodedata_on_every_bmp_character_and_random_text() -> None:
    """tk.nfkc (failure modes' normalisation): the per-character table gives unicodedata's NFKC on every BMP character
    and on random text mixing full-width forms, CJK, compatibility ideographs, combining marks, Hangul and astral
    characters (slow path for those); before warm_up builds the table, it is unicodedata itself."""
    import unicodedata

    tk._plain_nfkc.cache_clear()
    assert tk.nfkc("ＣＴ示：肝脏") == "CT示:肝脏" and tk._plain_nfkc.cache_info().currsize == 0
    tk.warm_up()
    table, unsafe = tk._plain_nfkc()
    for cp in range(0x10000):
        ch = chr(cp)
        assert tk.nfkc(ch) == unicodedata.normalize("NFKC", ch), hex(cp)
    ranges = [
        (0x20, 0x250), (0x2000, 0x2500), (0x3000, 0x3400), (0x4E00, 0x4E40), (0xF900, 0xFB50),
        (0xFE30, 0xFFEF), (0x1D400, 0x1D420), (0x2F800, 0x2F810),
    ]
    alphabet = [chr(c) for lo, hi in ranges for c in range(lo, hi)]
    alphabet += ["\u0301", "\u0308", "\u1100", "\u1161", "\uac00", "\u3131", "\uffa1", "\uffc2", "İ", "K", "Ａ", "（"]
    rng = random.Random(11)
    fast = 0
    for _ in range(6000):
        s = "".join(rng.choice(alphabet) for _ in range(rng.randrange(1, 14)))
        fast += unsafe.search(s) is None and not s.isascii()
        assert tk.nfkc(s) == unicodedata.normalize("NFKC", s), repr(s)
    assert fast > 1000  # the table path was really exercised
    for line in PAIRS.read_text(encoding="utf-8").splitlines():
        rec = json.loads(line)
        for text in (rec["hyp"], rec["ref"]):
            assert tk.nfkc(text) == unicodedata.normalize("NFKC", text)
