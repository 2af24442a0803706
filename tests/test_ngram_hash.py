"""The compiled hashed n-gram counts (pet2rep.metrics.ngram_hash) against the sorted numpy table of nlg.py, which
tests/test_nlg.py holds equal to pycocoevalcap: BLEU matches exactly, CIDEr-D to the last bits of a float sum."""

from __future__ import annotations

import random

import numpy as np
import pytest

from pet2rep.metrics import ngram_hash, nlg


def _sorted_table(hyps: list[list[str]], refs: list[list[str]]) -> tuple[np.ndarray, np.ndarray]:
    c = nlg._build_corpus(hyps, refs, 4)
    return nlg._bleu_stats_corpus(c), nlg._cider_from_corpus(c)


def _random_set(rng: random.Random, n: int, vocab: int, longest: int) -> tuple[list[list[str]], list[list[str]]]:
    words = [f"w{k}" for k in range(vocab)]
    hyps = [[rng.choice(words) for _ in range(rng.randint(0, longest))] for _ in range(n)]
    refs = [[rng.choice(words) for _ in range(rng.randint(0, longest))] for _ in range(n)]
    for i in range(0, n, 3):  # some hypotheses copy (part of) their reference: long shared n-grams
        hyps[i] = refs[i][: rng.randint(0, len(refs[i]))] + hyps[i][:3]
    return hyps, refs


def test_kernel_is_compiled_in_the_test_environment() -> None:
    assert ngram_hash.compiled() is not None  # numba is installed here: the set path runs the kernel


@pytest.mark.parametrize("seed", range(6))
def test_equal_to_the_sorted_table_on_random_sets(seed: int) -> None:
    """Small vocabularies (many repeats and clipped counts), empty and one-token documents, one-pair sets."""
    rng = random.Random(seed)
    for _ in range(40):
        hyps, refs = _random_set(rng, rng.randint(1, 8), rng.choice([1, 2, 3, 10, 60]), rng.choice([1, 4, 15]))
        bleu, cider = _sorted_table(hyps, refs)
        np.testing.assert_array_equal(nlg.bleu_stats_batch(hyps, refs), bleu)
        np.testing.assert_allclose(nlg.cider_d(hyps, refs)[1], cider, rtol=1e-12, atol=1e-12)


def test_equal_when_the_frequency_table_grows() -> None:
    """More distinct reference n-grams than two tables hold (65,536 slots, then 131,072, each filled to a half at
    most): the frequency table is rehashed twice."""
    rng = random.Random(7)
    hyps, refs = _random_set(rng, 400, 3000, 160)
    distinct = {tuple(r[i : i + k + 1]) for r in refs for k in range(4) for i in range(len(r) - k)}
    assert len(distinct) > 65_536
    bleu, cider = _sorted_table(hyps, refs)
    assert bleu[:, 2:6].sum() > 0
    np.testing.assert_array_equal(nlg.bleu_stats_batch(hyps, refs), bleu)
    np.testing.assert_allclose(nlg.cider_d(hyps, refs)[1], cider, rtol=1e-12, atol=1e-12)


def test_python_copy_gives_the_compiled_numbers() -> None:
    """ngram_tables is plain Python that numba compiles: run uncompiled, it fills the same arrays."""
    rng = random.Random(3)
    hyps, refs = _random_set(rng, 6, 5, 12)
    vocab = nlg._Vocab([*hyps, *refs])
    base = len(vocab.ids) + 1
    starts = np.cumsum(vocab.lengths) - vocab.lengths
    m1, c1 = np.zeros((6, 4), dtype=np.int64), np.zeros(6)
    ngram_hash.ngram_tables(vocab.flat, starts, vocab.lengths, 6, 4, base, 6.0, m1, c1)
    m2, c2 = ngram_hash.tables(vocab.flat, vocab.lengths, 6, 4, base, 6.0)
    np.testing.assert_array_equal(m1, m2)
    np.testing.assert_array_equal(c1, c2)
    assert m1.sum() > 0 and c1.max() > 0


def test_keys_too_wide_for_int64_use_the_sorted_table() -> None:
    """A vocabulary of 50,000 words (50,001 ** 4 > 2 ** 62): the kernel declines, the sorted table counts."""
    words = [f"t{k}" for k in range(50_000)]
    hyps, refs = [words[:25_000], words[25_000:]], [words[:25_000][::-1], words[25_000:]]
    vocab = nlg._Vocab([*hyps, *refs])
    assert ngram_hash.tables(vocab.flat, vocab.lengths, 2, 4, len(vocab.ids) + 1, 6.0) is None
    bleu, cider = _sorted_table(hyps, refs)
    np.testing.assert_array_equal(nlg.bleu_stats_batch(hyps, refs), bleu)
    assert bleu[1, 2:6].tolist() == [25_000, 24_999, 24_998, 24_997] and bleu[0, 3] == 0
    np.testing.assert_allclose(nlg.cider_d(hyps, refs)[1], cider, rtol=1e-12, atol=1e-12)
