"""BLEU / ROUGE-L / CIDEr-D against pycocoevalcap 1.2 itself, on zh and en report pairs."""

from __future__ import annotations

import contextlib
import io
import json
import random
from pathlib import Path

import numpy as np
import pytest

from pet2rep.metrics import nlg
from pet2rep.metrics.nlg import (
    bleu_from_stats,
    bleu_per_sample,
    bleu_scores,
    bleu_stats,
    bleu_stats_batch,
    cider_d,
    lcs_length,
    nlg_corpus,
    rouge_l,
    rouge_l_batch,
)
from pet2rep.metrics.tokenize import tokenize, tokenizer_signature

PAIRS = Path(__file__).parent / "data" / "nlg_pairs.jsonl"
TOL = 1e-6


def _records(lang: str) -> list[dict]:
    recs = [json.loads(line) for line in PAIRS.read_text(encoding="utf-8").splitlines()]
    return [r for r in recs if r["lang"] == lang]


def _tokens(lang: str, segmenter: str | None = None) -> tuple[list[list[str]], list[list[str]]]:
    recs = _records(lang)
    return [tokenize(r["hyp"], segmenter) for r in recs], [tokenize(r["ref"], segmenter) for r in recs]


def _coco(hyps: list[list[str]], refs: list[list[str]], n: int = 4) -> dict:
    """pycocoevalcap's numbers for paired token lists (inputs as the COCO code expects them)."""
    from pycocoevalcap.bleu.bleu import Bleu
    from pycocoevalcap.cider.cider import Cider
    from pycocoevalcap.rouge.rouge import Rouge

    gts = {i: [" ".join(r)] for i, r in enumerate(refs)}
    res = {i: [" ".join(h)] for i, h in enumerate(hyps)}
    with contextlib.redirect_stdout(io.StringIO()):
        bleu, bleu_ps = Bleu(n).compute_score(gts, res)
    rouge, rouge_ps = Rouge().compute_score(gts, res)
    cider, cider_ps = Cider().compute_score(gts, res)
    return {
        "bleu": bleu, "bleu_ps": np.array(bleu_ps).T, "rouge": rouge, "rouge_ps": np.asarray(rouge_ps),
        "cider": cider, "cider_ps": np.asarray(cider_ps),
    }


@pytest.fixture(scope="module")
def zh_data() -> tuple[list[list[str]], list[list[str]], dict]:
    hyps, refs = _tokens("zh")
    return hyps, refs, _coco(hyps, refs)


def _assert_all_close(out: dict, ref: dict, max_n: int = 4) -> None:
    corpus = out["corpus"]
    assert [corpus[f"bleu_{k}"] for k in range(1, max_n + 1)] == pytest.approx(ref["bleu"], abs=TOL)
    np.testing.assert_allclose(out["bleu"], ref["bleu_ps"], atol=TOL, rtol=0)
    assert corpus["rouge_l"] == pytest.approx(ref["rouge"], abs=TOL)
    np.testing.assert_allclose(out["rouge_l"], ref["rouge_ps"], atol=TOL, rtol=0)
    assert corpus["cider_d"] == pytest.approx(ref["cider"], abs=TOL)
    np.testing.assert_allclose(out["cider_d"], ref["cider_ps"], atol=TOL, rtol=0)


def test_zh_matches_pycocoevalcap(zh_data) -> None:
    hyps, refs, ref = zh_data
    out = nlg_corpus(hyps, refs)
    _assert_all_close(out, ref)
    # the set is not trivial: scores spread between the empty and the identical hypothesis
    assert out["bleu"][:, 3].min() == 0.0 and out["bleu"][0, 3] == pytest.approx(1.0)
    assert 0.0 < np.median(out["cider_d"]) < out["cider_d"].max()
    # the functions that other modules call give the same numbers
    stats = bleu_stats_batch(hyps, refs)
    assert bleu_from_stats(stats) == pytest.approx(ref["bleu"], abs=TOL)
    np.testing.assert_allclose(bleu_per_sample(stats), ref["bleu_ps"], atol=TOL, rtol=0)
    np.testing.assert_allclose(rouge_l_batch(hyps, refs), ref["rouge_ps"], atol=TOL, rtol=0)
    assert [rouge_l(h, r) for h, r in zip(hyps, refs)] == pytest.approx(list(ref["rouge_ps"]), abs=TOL)
    score, per = cider_d(hyps, refs)
    assert score == pytest.approx(ref["cider"], abs=TOL)
    np.testing.assert_allclose(per, ref["cider_ps"], atol=TOL, rtol=0)


@pytest.mark.parametrize(("lang", "segmenter"), [("en", None), ("zh", "jieba")])
def test_other_sets_match_pycocoevalcap(lang: str, segmenter: str | None) -> None:
    hyps, refs = _tokens(lang, segmenter)
    _assert_all_close(nlg_corpus(hyps, refs, segmenter=segmenter), _coco(hyps, refs))


def test_bleu_max_n_2_matches_pycocoevalcap() -> None:
    hyps, refs = _tokens("en")
    ref = _coco(hyps, refs, n=2)
    out = nlg_corpus(hyps, refs, max_n=2)
    assert out["bleu_stats"].shape == (len(hyps), 6)
    assert [out["corpus"]["bleu_1"], out["corpus"]["bleu_2"]] == pytest.approx(ref["bleu"], abs=TOL)
    np.testing.assert_allclose(out["bleu"], ref["bleu_ps"], atol=TOL, rtol=0)
    assert out["corpus"]["cider_d"] == pytest.approx(ref["cider"], abs=TOL)  # CIDEr stays 4-gram


def test_dense_key_fallback_gives_identical_numbers(zh_data, monkeypatch) -> None:
    hyps, refs, _ = zh_data
    packed = nlg_corpus(hyps, refs)
    monkeypatch.setattr(nlg, "_PACK_LIMIT", 0)  # as if the vocabulary were too large to pack
    dense = nlg_corpus(hyps, refs)
    np.testing.assert_array_equal(dense["bleu_stats"], packed["bleu_stats"])
    np.testing.assert_allclose(dense["cider_d"], packed["cider_d"], atol=1e-12, rtol=0)


def test_bleu_stats_layout_and_sums() -> None:
    s = bleu_stats("a b c d a".split(), "a b c e".split())
    # [hyp_len, ref_len, match_1..4, total_1..4]; "a" is clipped to its single reference count
    assert s.tolist() == [5, 4, 3, 2, 1, 0, 5, 4, 3, 2]
    hyps, refs = _tokens("en")
    mat = bleu_stats_batch(hyps, refs)
    assert [bleu_stats(h, r).tolist() for h, r in zip(hyps, refs)] == mat.tolist()
    assert bleu_from_stats(mat) == bleu_from_stats(mat.sum(axis=0))
    np.testing.assert_allclose(bleu_scores(mat), bleu_per_sample(mat))


def test_bootstrap_resample_from_stats_equals_rescoring(zh_data) -> None:
    """Corpus BLEU of a resample = formula on resampled sums; ROUGE-L = mean of resampled rows."""
    hyps, refs, _ = zh_data
    out = nlg_corpus(hyps, refs)
    idx = np.random.default_rng(5).integers(0, len(hyps), size=len(hyps))
    rh, rr = [hyps[i] for i in idx], [refs[i] for i in idx]
    from pycocoevalcap.bleu.bleu import Bleu

    with contextlib.redirect_stdout(io.StringIO()):
        expect, _ = Bleu(4).compute_score(
            {i: [" ".join(r)] for i, r in enumerate(rr)}, {i: [" ".join(h)] for i, h in enumerate(rh)}
        )
    w = np.bincount(idx, minlength=len(hyps))
    sums = (w[:, None] * out["bleu_stats"]).sum(axis=0)
    assert bleu_scores(sums[None, :])[0].tolist() == pytest.approx(expect, abs=TOL)
    assert bleu_from_stats(out["bleu_stats"][idx]) == pytest.approx(expect, abs=TOL)
    assert float(out["rouge_l"][idx].mean()) == pytest.approx(float(rouge_l_batch(rh, rr).mean()), abs=1e-12)


def test_cider_document_frequencies_come_from_the_whole_set(zh_data) -> None:
    hyps, refs, ref = zh_data
    _, per_full = cider_d(hyps, refs)
    _, per_half = cider_d(hyps[:6], refs[:6])
    assert not np.allclose(per_full[:6], per_half)  # df (and log N) depend on the set scored
    np.testing.assert_allclose(per_full, ref["cider_ps"], atol=TOL, rtol=0)
    # a single pair has log(1) = 0 idf everywhere: pycocoevalcap gives 0
    assert cider_d(hyps[:1], refs[:1]) == (0.0, pytest.approx(np.zeros(1)))
    assert cider_d([], []) == (0.0, pytest.approx(np.zeros(0)))


def test_rouge_edge_cases_match_pycocoevalcap() -> None:
    from pycocoevalcap.rouge.rouge import Rouge

    r = Rouge()
    cases = [([], []), ([], ["肝"]), (["肝"], []), (["a"], ["a"]), (["a", "b"], ["b", "a"]), (["x"], ["y"])]
    for h, ref in cases:
        expect = r.calc_score([" ".join(h)], [" ".join(ref)])
        assert rouge_l(h, ref) == pytest.approx(expect, abs=1e-12), (h, ref)


def _lcs_dp(a: list, b: list) -> int:
    prev = [0] * (len(b) + 1)
    for x in a:
        cur = [0]
        for j, y in enumerate(b):
            cur.append(prev[j] + 1 if x == y else max(prev[j + 1], cur[j]))
        prev = cur
    return prev[-1]


def test_lcs_bit_parallel_equals_dp() -> None:
    rng = random.Random(11)
    for trial in range(400):
        k = rng.choice([1, 2, 3, 5, 20])
        la, lb = rng.randrange(0, 90), rng.randrange(0, 90)
        a = [rng.randrange(k) for _ in range(la)]
        b = [rng.randrange(k) for _ in range(lb)]
        if trial % 7 == 0 and a:  # shared prefix/suffix (exercise the stripping)
            b = a[: la // 3] + b + a[-(la // 4) :]
        assert lcs_length(a, b) == _lcs_dp(a, b), (a, b)
        assert lcs_length(b, a) == lcs_length(a, b)
    a = [rng.randrange(30) for _ in range(400)]
    b = [rng.randrange(30) for _ in range(350)]
    assert lcs_length(a, b) == _lcs_dp(a, b)  # several machine words long


def test_nlg_corpus_layout_and_signatures() -> None:
    hyps, refs = _tokens("en")
    out = nlg_corpus(hyps, refs)
    n = len(hyps)
    assert out["n"] == n
    assert out["bleu_stats"].shape == (n, 10) and out["bleu_stats"].dtype == np.int64
    assert out["bleu"].shape == (n, 4) and out["rouge_l"].shape == (n,) and out["cider_d"].shape == (n,)
    assert set(out["corpus"]) == {"bleu_1", "bleu_2", "bleu_3", "bleu_4", "rouge_l", "cider_d"}
    sigs = out["signatures"]
    tok = tokenizer_signature(None)
    assert sigs["bleu_4"].startswith("BLEU|") and "n:4" in sigs["bleu_4"] and "ref:closest" in sigs["bleu_4"]
    assert sigs["rouge_l"].startswith("ROUGE-L|") and "beta:1.2" in sigs["rouge_l"]
    assert sigs["cider_d"].startswith("CIDEr-D|") and "sigma:6" in sigs["cider_d"]
    assert all(s.endswith(tok) for s in sigs.values())
    jieba_sig = nlg_corpus(hyps, refs, segmenter="jieba")["signatures"]["bleu_4"]
    assert jieba_sig.endswith(tokenizer_signature("jieba")) and jieba_sig != sigs["bleu_4"]
    empty = nlg_corpus([], [])
    assert empty["n"] == 0 and np.isnan(empty["corpus"]["bleu_4"])
    with pytest.raises(ValueError):
        nlg_corpus(hyps, refs[:-1])


def test_bleu_brevity_penalty_by_hand() -> None:
    """Independent numbers: a short exact prefix gets BP = exp(1 - r/c); a long hypothesis gets none."""
    short = bleu_scores(bleu_stats("a b".split(), "a b c d".split()))
    assert short.tolist()[:2] == pytest.approx([np.exp(-1.0)] * 2, rel=1e-6)  # p1 = p2 = 1, c=2, r=4
    long = bleu_scores(bleu_stats("a b c d a".split(), "a b c e".split()))
    assert long.tolist()[:2] == pytest.approx([3 / 5, (3 / 5 * 2 / 4) ** 0.5], rel=1e-6)  # c > r: BP = 1


def test_has_tokens_agrees_with_tokenize():
    """evaluate's empty-reference check (has_tokens) says exactly whether tokenize finds a token."""
    from pet2rep.metrics.tokenize import has_tokens, tokenize

    texts = ["", " ", "。，！", "肝", "a", "3.5", "…", "e\u0301", "\u0301", "①", "Ⅻ", "ｆｄｇ", "\u3000\u3000", "—-—",
             "（）", "가", "\U00020000", "\uf900", "ß", "ﬁ", "¹", "%", "\n\t"]
    for t in texts:
        assert has_tokens(t) == bool(tokenize(t)), repr(t)


@pytest.mark.parametrize("hashed", [True, False], ids=["hashed-kernel", "sorted-table"])
def test_shared_ngrams_gives_the_same_numbers_and_counts_a_set_once(zh_data, monkeypatch, hashed: bool) -> None:
    """Inside nlg.shared_ngrams(), BLEU and CIDEr-D on the same lists share one n-gram table (as evaluate's set task
    runs them); other lists, or the same lists after the block, get their own. Both ways of counting: the compiled
    hashed counts (numba there) and the sorted numpy table (without it)."""
    from pet2rep.metrics import ngram_hash

    hyps, refs, _ = zh_data
    bleu, (cider, per) = bleu_stats_batch(hyps, refs), cider_d(hyps, refs)
    built = []
    if hashed:
        assert ngram_hash.compiled() is not None  # numba is installed in the test environment
        real_t = ngram_hash.tables
        monkeypatch.setattr(ngram_hash, "tables", lambda ids, ln, n, *a: built.append(n) or real_t(ids, ln, n, *a))
    else:
        monkeypatch.setattr(ngram_hash, "compiled", lambda: None)
        real = nlg._build_corpus
        monkeypatch.setattr(nlg, "_build_corpus", lambda h, r, n: built.append((len(h), n)) or real(h, r, n))
    with nlg.shared_ngrams():
        np.testing.assert_array_equal(bleu_stats_batch(hyps, refs), bleu)
        c2, per2 = cider_d(hyps, refs)
        assert c2 == pytest.approx(cider, abs=1e-12)
        np.testing.assert_allclose(per2, per, atol=1e-12, rtol=0)
        assert len(built) == 1  # one table served both
        half_h, half_r = hyps[:6], refs[:6]
        np.testing.assert_array_equal(bleu_stats_batch(half_h, half_r), bleu[:6])  # a different set: its own table
        assert len(built) == 2
    bleu_stats_batch(hyps, refs)
    assert len(built) == 3  # nothing kept after the block


def test_rouge_l_set_equals_the_python_lcs_on_every_shape(zh_data) -> None:
    """The compiled LCS of rouge_l_set (64-bit words with carries and borrows) gives exactly the per-pair Python LCS:
    on real zh pairs, and on random token sequences across word boundaries (1, 63, 64, 65, 129, 700 tokens), with
    repeats, empty sides and identical pairs; inside shared_ngrams (ids from BLEU/CIDEr's table) and outside."""
    hyps, refs, _ = zh_data
    rng = random.Random(5)
    rh, rr = [], []
    for n in (0, 1, 2, 63, 64, 65, 127, 128, 129, 700):
        for m in (0, 1, 64, 65, 300):
            alpha = [chr(0x4E00 + k) for k in range(rng.choice((2, 5, 40)))]
            rh.append([rng.choice(alpha) for _ in range(n)])
            rr.append([rng.choice(alpha) for _ in range(m)])
    rh.append(list("肝脏未见异常") * 30)
    rr.append(list("肝脏未见异常") * 30)
    for h, r in ((hyps, refs), (rh, rr)):
        expect = rouge_l_batch(h, r)
        assert nlg._lcs_kernel() is not None  # numba is installed in the test environment
        np.testing.assert_array_equal(nlg.rouge_l_set(h, r), expect)
        with nlg.shared_ngrams():
            bleu_stats_batch(h, r)
            np.testing.assert_array_equal(nlg.rouge_l_set(h, r), expect)
    assert [nlg._lcs_kernel()(np.array(a, dtype=np.int64), np.array(b, dtype=np.int64),
                              np.full(10, -1, dtype=np.int64), np.zeros(64, dtype=np.uint64))
            for a, b in (([1, 2, 3, 4], [2, 4]), ([5, 5, 5], [5]), ([1, 2], [3]))] == [2, 1, 0]
