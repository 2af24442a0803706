"""Failure modes: each one with positive and negative examples."""

from __future__ import annotations

import pytest

from pet2rep.metrics.failures import (
    FAILURE_MODES,
    detect_failures,
    invented_demographics,
    is_empty,
    refusal_phrases,
    summarize,
    truncation,
)

GOOD_ZH = "肝脏形态、大小正常，FDG摄取未见异常。胃壁稍增厚，FDG摄取增高。\n影像诊断：1.胃壁增厚，考虑炎性。"
REF_LABELS = {"liver": ["normal"], "stomach": ["increased"], "lung": ["normal"], "bone": ["normal"]}


def flags(text: str, **kw) -> dict[str, bool]:
    return detect_failures(text, **kw)["flags"]


@pytest.mark.parametrize("text", ["", "   \n\t", "[]【】", " 【 】 [ ] （）", None, "。。。"])
def test_empty_positive(text) -> None:
    assert is_empty(text)
    f = flags(text)
    assert f["empty"]
    assert not f["refusal"] and not f["template_ignored"] and not f["invented_demographics"]


@pytest.mark.parametrize("text", ["肝", "[正常]", "FDG", "ok."])
def test_empty_negative(text) -> None:
    assert not is_empty(text)


@pytest.mark.parametrize("text", [
    "抱歉，我无法根据这些图像生成诊断报告，请咨询专业医生。",
    "作为AI，我不能提供医学诊断。",
    "无法生成报告。",
    "I'm sorry, but I cannot provide a medical diagnosis from these images.",
    "As an AI language model, I am unable to interpret PET/CT scans.",
    "Unable to provide a report.",
])
def test_refusal_positive(text) -> None:
    assert refusal_phrases(text)
    assert flags(text)["refusal"]


@pytest.mark.parametrize("text", [
    GOOD_ZH,
    "右肺下叶结节，FDG摄取增高。" + "肝脏FDG摄取未见异常。" * 20 + "恶性病变无法排除，不能除外转移。",
    "A nodule in the right lower lobe with increased FDG uptake. " * 5 + "Malignancy cannot be excluded.",
    "Liver: normal uptake. " * 20 + "Metastasis cannot be ruled out; unable to assess the adrenal.",
])
def test_refusal_negative(text) -> None:
    assert refusal_phrases(text) == []
    assert not flags(text)["refusal"]


def test_template_ignored_positive_and_negative() -> None:
    hyp_few = {"liver": ["normal"]}
    d = detect_failures("肝脏FDG摄取未见异常。", hyp_labels=hyp_few, ref_labels=REF_LABELS)
    assert d["flags"]["template_ignored"]
    assert d["details"]["template_organs"] == {"covered": 1, "total": 4}
    hyp_half = {"liver": ["normal"], "stomach": ["normal"], "brain": ["normal"]}
    d = detect_failures(GOOD_ZH, hyp_labels=hyp_half, ref_labels=REF_LABELS)
    assert not d["flags"]["template_ignored"]
    assert d["details"]["template_organs"] == {"covered": 2, "total": 4}
    # without reference labels the template's organs (from the prompt) are the target
    d = detect_failures(GOOD_ZH, hyp_labels={}, ref_labels={}, template_labels=REF_LABELS)
    assert d["flags"]["template_ignored"]
    # nothing to compare with: not flagged
    assert not flags(GOOD_ZH, hyp_labels={}, ref_labels={})["template_ignored"]


def test_invented_demographics_positive() -> None:
    prompt = "请你根据提供的全身FDG-PET/CT图像，按照结构化格式生成核医学报告。"
    found = invented_demographics("患者男，65岁。" + GOOD_ZH, prompt)
    assert any("65" in x for x in found) and any("男" in x for x in found)
    assert invented_demographics("姓名：张三，检查日期：2023-05-01。" + GOOD_ZH, prompt)
    assert invented_demographics("A 55-year-old man. Patient: John Smith.", "Describe the images.")
    assert invented_demographics("Sex: F. MRN: 1234567.", "")
    assert flags("患者女，45岁。" + GOOD_ZH, prompt=prompt)["invented_demographics"]


def test_invented_demographics_negative() -> None:
    # present in the prompt: not invented
    prompt = "患者男，65岁，肺癌术后复查。请生成报告。"
    assert invented_demographics("患者男，65岁。" + GOOD_ZH, prompt) == []
    assert invented_demographics("A 55-year-old man.", "History: 55-year-old man with lung cancer.") == []
    # ordinary report content is not demographic
    assert invented_demographics(GOOD_ZH + "L4/5、L5/S1椎间盘膨出，SUVmax 5.6，大小约2.3cm×1.5cm。", "") == []
    assert invented_demographics("Uptake SUVmax 12.3 in a 2.5 cm lesion at T12; age-related changes.", "") == []
    assert not flags(GOOD_ZH, prompt="")["invented_demographics"]


def test_truncated() -> None:
    assert truncation(GOOD_ZH, "length") == "length"
    assert truncation("肝脏形态正常，FDG【摄取增", None) == "unclosed bracket"
    assert truncation("肝脏形态正常，FDG摄取增", None) == "no impression"
    assert flags("肝脏形态正常，FDG摄取增")["truncated"]
    assert flags(GOOD_ZH, finish_reason="length")["truncated"]
    # negatives
    assert truncation(GOOD_ZH, "stop") is None
    assert truncation("肝脏FDG【摄取未见异常】", None) is None
    assert truncation("影像所见：肝脏正常\n影像诊断：未见异常", None) is None  # has an impression
    assert not flags(GOOD_ZH, finish_reason="stop")["truncated"]


def test_wrong_language() -> None:
    assert flags("The liver shows normal FDG uptake.", expected_lang="zh", hyp_lang="en")["wrong_language"]
    assert not flags(GOOD_ZH, expected_lang="zh", hyp_lang="zh")["wrong_language"]
    assert not flags(GOOD_ZH, expected_lang=None, hyp_lang="en")["wrong_language"]
    assert not flags("", expected_lang="zh", hyp_lang=None)["wrong_language"]


def test_error_flag() -> None:
    d = detect_failures("", error="HTTP 500: server error")
    assert d["flags"]["error"] and d["flags"]["empty"]
    assert d["details"]["error"].startswith("HTTP 500")
    assert not flags(GOOD_ZH, error=None)["error"]


def test_summarize() -> None:
    rows = [flags(""), flags("抱歉，无法生成。"), flags(GOOD_ZH)]
    s = summarize(rows)
    assert set(s["counts"]) == set(FAILURE_MODES)
    assert s["counts"]["empty"] == 1 and s["counts"]["refusal"] == 1
    assert s["rates"]["empty"] == pytest.approx(1 / 3)
    assert s["n"] == 3 and s["any"] == 2


DEMOGRAPHIC_TEXTS = [
    "患者男，65岁。", "受检者:女性,", "女、 30 岁", "姓 名：李四", "性别:女", "年龄：70", "住院号:AB123", "ID:x9", "pet号：P001",
    "2021年3月5日", "2019.12.01", "2020 年 7 月", "a 45-year-old", "62 yo", "72y.o. man", "AGED: 50", "Patient: Jane Doe",
    "NAME: Bob", "Mr. Brown", "Miss Ellis", "sex: M", "GENDER : female", "mrn#12a", "Accession Number: 77", "2022-1-9",
    "3/14/2019", "Sept. 3, 2018", "DEC 25 2020", "ſex: f", "\u212aelvin", "İD: 12", "ıd: 12", "٣٥ 岁", "no demographics",
    GOOD_ZH, "", "   ", "SUVmax 5.6，大小约2.3cm×1.5cm", "Uptake 12.3 at T12; age-related changes.",
]


def test_demographics_scan_guard_changes_no_match() -> None:
    """The combined demographics scan has a first-character lookahead; it finds a match exactly where the plain
    alternation does (on NFKC text and on raw text with case-folding characters)."""
    import json
    import re
    from pathlib import Path

    from pet2rep.metrics.failures import _norm, _unnamed, lexicon

    lex = lexicon()
    assert lex.demographics_any.pattern.startswith("(?i:(?=[")  # the guard is there for the shipped lexicon
    plain = re.compile("|".join(_unnamed(p.pattern) for p in lex.demographics))
    texts = list(DEMOGRAPHIC_TEXTS)
    for line in (Path(__file__).parent / "data" / "nlg_pairs.jsonl").read_text(encoding="utf-8").splitlines():
        rec = json.loads(line)
        texts += [rec["hyp"], rec["ref"]]
    texts += [t[i:] for t in DEMOGRAPHIC_TEXTS for i in range(len(t))]
    found = 0
    for t in texts + [_norm(t) for t in texts]:
        want = plain.search(t)
        got = lex.demographics_any.search(t)
        assert (got is None) == (want is None), t
        if want is not None:
            assert got.span() == want.span(), t
            found += 1
    assert found > 60


def test_first_chars_of_patterns() -> None:
    from pet2rep.metrics.failures import _first_chars, _guarded

    assert _first_chars(r"(?:ab|c)\d") == "ac"
    assert _first_chars(r"\b(?:x?y|\d+z)") == r"\dxy"
    assert _first_chars(r"[^a]b") is None  # a negated class: no guard
    assert _first_chars(r"a?") is None  # may match empty: no guard
    assert _guarded(r"[^a]b").pattern == r"[^a]b"
    assert _guarded(r"(?i:ab)|c").search("xxAB") is not None
