"""The uptake extractor's sentence memo (uptake._read_sentence_memo): same statements as reading every sentence
anew, whatever was read before, and a bounded size."""

from __future__ import annotations

import json
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest
import yaml

from pet2rep.metrics import uptake
from pet2rep.metrics.uptake import extract_statements, load_lexicon

DATA = Path(__file__).parent / "data"


def _zh_texts() -> list[str]:
    out = []
    for name in ("uptake_labelled.yaml", "uptake_real_zh.yaml", "uptake_holdout_zh.yaml"):
        for it in yaml.safe_load((DATA / name).read_text(encoding="utf-8"))["items"]:
            if it.get("lang", "zh") == "zh":
                out.append(it["text"])
    return out


def _dump(text: str) -> str:
    return json.dumps([s.as_dict() for s in extract_statements(text, "zh")], ensure_ascii=False, sort_keys=True)


@contextmanager
def _memo(enabled: bool) -> Iterator[None]:
    """The zh lexicon with a fresh sentence memo (or none), and no whole-text memo."""
    lex = load_lexicon("zh")
    saved = lex.sentence_memo
    lex.sentence_memo = uptake.OrderedDict() if enabled else None
    uptake._cache.clear()
    try:
        yield
    finally:
        lex.sentence_memo = saved
        uptake._cache.clear()


def _reports(texts: list[str]) -> list[str]:
    """Reports made of the labelled sentences in several orders: the same sentence after different ones."""
    sents = [s for t in texts for s in t.replace("。", "。\x00").split("\x00") if s.strip()]
    out = []
    for k in range(1, 6):
        for i in range(0, len(sents) - 6, 5):
            out.append("".join(sents[i : i + 6][::-1] if k % 2 else sents[i : i + 6][k:] + sents[i : i + 6][:k]))
    return out


def test_zh_has_a_memo_en_has_none() -> None:
    """The memo is only there for a lexicon whose rules read nothing past a sentence's end."""
    assert load_lexicon("zh").sentence_memo is not None
    assert load_lexicon("en").sentence_memo is None  # binding_forward, anatomy_after, enumeration_tail


def test_memo_gives_the_statements_of_a_fresh_reading() -> None:
    texts = _zh_texts()
    texts = texts + _reports(texts)
    with _memo(False):
        want = [_dump(t) for t in texts]
    with _memo(True):
        cold = [_dump(t) for t in texts]
        uptake._cache.clear()
        warm = [_dump(t) for t in texts]  # every sentence now comes from the memo
        size = len(load_lexicon("zh").sentence_memo)
    assert cold == want
    assert warm == want
    assert size > 100


@pytest.mark.parametrize("first", ["肝脏见一结节。", "脾脏见一结节。", "右肺上叶见一结节。", "胆囊切除术后。", "", "颈部见肿大淋巴结。"])
def test_a_remembered_sentence_reads_its_subject_from_the_one_before(first: str) -> None:
    """"FDG摄取增高。" names no organ: its statement is about the subject handed to it, so one reading remembered
    after the liver is not reused after the spleen."""
    texts = [a + "FDG摄取增高，SUVmax约5.2。余未见异常。" for a in ("肝脏见一结节。", "脾脏见一结节。", first)]
    texts += ["胰腺形态正常。" + t for t in texts]
    with _memo(False):
        want = [_dump(t) for t in texts]
    with _memo(True):
        got = [_dump(t) for t in texts]
    assert got == want
    organs = [{s["organ"] for s in json.loads(w) if s["state"] == "increased"} for w in want]
    assert organs[0] == {"liver"} and organs[1] == {"spleen"}


def test_spans_are_those_of_the_sentence_where_it_stands() -> None:
    """A reading remembered at one offset is replayed at another with the offsets of that report."""
    sentence = "双肺门见多发淋巴结，FDG摄取增高。"
    with _memo(True):
        a = extract_statements(sentence, "zh")
        b = extract_statements("甲状腺形态大小正常。" + sentence, "zh")
    assert a and [s.span for s in a] == [(s.span[0] - 10, s.span[1] - 10) for s in b if s.span[0] >= 10]
    assert all("淋巴结" in s.clause or "FDG" in s.clause for s in b if s.span[0] >= 10)


def test_memo_stays_bounded(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(uptake, "SENTENCE_MEMO_SIZE", 7)
    monkeypatch.setattr(uptake, "SENTENCE_MEMO_VARIANTS", 2)
    texts = _zh_texts()[:60]
    with _memo(False):
        want = [_dump(t) for t in texts]
    with _memo(True):
        memo = load_lexicon("zh").sentence_memo
        got = []
        for t in texts:
            got.append(_dump(t))
            assert len(memo) <= 7
            for slot in memo.values():  # sentence text -> {tokens: (bits seen, {handed values: reading})}
                assert len(slot) <= 2 and all(len(variants) <= 2 for _, variants in slot.values())
    assert got == want
