"""BLEU-1..4, ROUGE-L and CIDEr-D, numerically identical to pycocoevalcap 1.2, but fast.

Every metric reduces to per-sample sufficient statistics (as sacrebleu does), so corpus scores,
bootstrap resamples and paired tests come from one pass over the data:

- BLEU: per sample ``[hyp_len, ref_len, match_1..n, total_1..n]``; the corpus score is the
  pycocoevalcap formula ("closest" reference length, its 1e-15/1e-9 smoothing constants) applied
  to the column sums, the per-sample score the same formula applied to one row.
- ROUGE-L: per-sample LCS F-measure (beta 1.2); the corpus score is the mean. LCS lengths come
  from a bit-parallel algorithm (Hyyro 2004) with Python integers as bit vectors, or, for a whole set
  (:func:`rouge_l_set`), from a numba-compiled copy with 64-bit words on token ids.
- CIDEr-D: per-sample score with document frequencies taken over the references of the whole
  evaluated set (never per shard); the corpus score is the mean.

Inputs are token lists (see :mod:`pet2rep.metrics.tokenize`); one reference per sample.
n-grams are handled as packed int64 keys (token ids in base ``V+1``), counted with numpy, or for a whole set
(``bleu_stats_batch``, ``cider_d``) with the compiled hashed counts of :mod:`pet2rep.metrics.ngram_hash` when numba
is there (same BLEU counts, CIDEr-D equal to the last bits of a float sum).
"""

from __future__ import annotations

import contextlib
import math
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from itertools import chain
from typing import Any

import numpy as np

from pet2rep.metrics.tokenize import tokenizer_signature

NLG_VERSION = "1"
BLEU_TINY = 1e-15
BLEU_SMALL = 1e-9
ROUGE_BETA = 1.2
CIDER_SIGMA = 6.0
CIDER_N = 4
# n-gram keys are packed as base**n (base = vocabulary size + 1) while that stays below this bound
# (room for a side bit in int64); larger vocabularies fall back to dense ranks.
_PACK_LIMIT = 2**62

Tokens = Sequence[str]


# --------------------------------------------------------------------------- signatures
def bleu_signature(max_n: int = 4, segmenter: str | None = None) -> str:
    """Signature of the BLEU variant computed here."""
    return f"BLEU|v:{NLG_VERSION}|n:{max_n}|ref:closest|smooth:coco|refs:1|{tokenizer_signature(segmenter)}"


def rouge_signature(beta: float = ROUGE_BETA, segmenter: str | None = None) -> str:
    """Signature of the ROUGE-L variant computed here."""
    return f"ROUGE-L|v:{NLG_VERSION}|beta:{beta:g}|lcs:token|avg:mean|refs:1|{tokenizer_signature(segmenter)}"


def cider_signature(sigma: float = CIDER_SIGMA, segmenter: str | None = None) -> str:
    """Signature of the CIDEr-D variant computed here."""
    return (
        f"CIDEr-D|v:{NLG_VERSION}|n:{CIDER_N}|sigma:{sigma:g}|clip:yes|x10|df:corpus-refs|refs:1|"
        f"{tokenizer_signature(segmenter)}"
    )


# --------------------------------------------------------------------------- BLEU formula
def _max_n_of(stats: np.ndarray) -> int:
    width = stats.shape[-1]
    if width < 4 or width % 2:
        raise ValueError(f"BLEU statistics must have 2 + 2*n columns, got {width}")
    return (width - 2) // 2


def bleu_scores(stats: np.ndarray) -> np.ndarray:
    """BLEU-1..n for each row of ``stats`` (shape (..., 2+2n)), pycocoevalcap formula, vectorised.

    Use it on the per-sample matrix (per-sample BLEU) or on bootstrap column sums (shape (B, k)).
    """
    s = np.asarray(stats, dtype=np.float64)
    n = _max_n_of(s)
    hyp_len, ref_len = s[..., 0], s[..., 1]
    correct, guess = s[..., 2 : 2 + n], s[..., 2 + n : 2 + 2 * n]
    prod = np.cumprod((correct + BLEU_TINY) / (guess + BLEU_SMALL), axis=-1)
    out = prod ** (1.0 / np.arange(1, n + 1, dtype=np.float64))
    ratio = (hyp_len + BLEU_TINY) / (ref_len + BLEU_SMALL)
    with np.errstate(over="ignore", under="ignore"):
        brevity = np.where(ratio < 1.0, np.exp(1.0 - 1.0 / ratio), 1.0)
    return out * brevity[..., None]


def bleu_from_stats(stats: np.ndarray) -> list[float]:
    """Corpus BLEU-1..n from a (n_samples, k) statistics matrix or its column sum."""
    s = np.asarray(stats, dtype=np.float64)
    if s.ndim == 2:
        s = s.sum(axis=0)
    if s.ndim != 1:
        raise ValueError("BLEU statistics must be a (n_samples, k) matrix or a k-vector")
    return [float(x) for x in bleu_scores(s)]


def bleu_per_sample(stats: np.ndarray) -> np.ndarray:
    """Per-sample BLEU-1..n (n_samples, n), as pycocoevalcap's second return value (transposed)."""
    s = np.asarray(stats, dtype=np.float64)
    return bleu_scores(s.reshape(-1, s.shape[-1]))


# --------------------------------------------------------------------------- ROUGE-L
_POW2: list[int] = []  # 1 << i, grown on demand


def lcs_length(a: Sequence, b: Sequence) -> int:
    """Length of the longest common subsequence of two sequences of hashable items (bit-parallel)."""
    la, lb = len(a), len(b)
    # Strip the common prefix and suffix: they are part of every LCS.
    lo = 0
    lim = min(la, lb)
    while lo < lim and a[lo] == b[lo]:
        lo += 1
    hi = 0
    lim -= lo
    while hi < lim and a[la - 1 - hi] == b[lb - 1 - hi]:
        hi += 1
    if lo or hi:
        a = a[lo : la - hi]
        b = b[lo : lb - hi]
    if not a or not b:
        return lo + hi
    if len(a) < len(b):
        a, b = b, a
    # Bit vectors over the longer sequence, one step per item of the shorter one.
    n = len(a)
    if len(_POW2) < n:
        _POW2.extend(1 << i for i in range(len(_POW2), 2 * n))
    masks: dict = {}
    get = masks.get
    for item, bit in zip(a, _POW2):
        masks[item] = get(item, 0) | bit
    v = (1 << n) - 1
    for m in [m for m in map(get, b) if m]:
        u = v & m
        v = (v + u) | (v - u)
    v &= (1 << n) - 1
    return lo + hi + n - v.bit_count()


def rouge_l_from_lcs(lcs: int, hyp_len: int, ref_len: int, beta: float = ROUGE_BETA) -> float:
    """pycocoevalcap ROUGE-L F from an LCS length (an empty text counts as one empty token there)."""
    hl = hyp_len if hyp_len else 1
    rl = ref_len if ref_len else 1
    if hyp_len == 0 and ref_len == 0:
        lcs = 1  # pycocoevalcap splits "" into [""] and matches it against [""]
    prec = lcs / float(hl)
    rec = lcs / float(rl)
    if prec != 0 and rec != 0:
        return ((1 + beta**2) * prec * rec) / float(rec + beta**2 * prec)
    return 0.0


def rouge_l(hyp: Tokens, ref: Tokens, beta: float = ROUGE_BETA) -> float:
    """ROUGE-L F-measure of one hypothesis against one reference (pycocoevalcap Rouge)."""
    return rouge_l_from_lcs(lcs_length(hyp, ref), len(hyp), len(ref), beta)


def rouge_l_batch(hyps: Sequence[Tokens], refs: Sequence[Tokens], beta: float = ROUGE_BETA) -> np.ndarray:
    """Per-sample ROUGE-L for paired lists; the corpus score is the mean."""
    _check_pairs(hyps, refs)
    return np.array(
        [rouge_l_from_lcs(lcs_length(h, r), len(h), len(r), beta) for h, r in zip(hyps, refs)],
        dtype=np.float64,
    )


def rouge_l_set(hyps: Sequence[Tokens], refs: Sequence[Tokens], beta: float = ROUGE_BETA) -> np.ndarray:
    """:func:`rouge_l_batch` for a whole set at once: the LCS lengths from a numba-compiled copy of the same
    bit-parallel algorithm on token ids (the n-gram table's ids inside :func:`shared_ngrams`), else as
    rouge_l_batch."""
    _check_pairs(hyps, refs)
    fn = _lcs_kernel()
    if fn is None or not hyps:
        return rouge_l_batch(hyps, refs, beta)
    n = len(hyps)
    shared = _shared_corpus(hyps, refs, CIDER_N)
    hashed = _shared_hashed(hyps, refs, CIDER_SIGMA)
    if hashed is not None:
        ids = hashed.ids
        lengths = np.concatenate([hashed.hyp_len, hashed.ref_len])
    elif shared is not None and shared.ids is not None:
        ids = shared.ids
        lengths = np.concatenate([shared.hyp_len, shared.ref_len])
    else:
        vocab = _Vocab([*hyps, *refs])
        ids, lengths = vocab.flat, vocab.lengths
    ends = np.cumsum(lengths)
    starts = ends - lengths
    longest = int(lengths.max(initial=0))
    slot = np.full(int(ids.max(initial=0)) + 1, -1, dtype=np.int64)
    masks = np.zeros((longest + 1) * ((longest + 63) // 64 + 1), dtype=np.uint64)
    out = np.empty(n, dtype=np.float64)
    for i in range(n):
        a = ids[starts[i] : ends[i]]
        b = ids[starts[n + i] : ends[n + i]]
        lcs = fn(a, b, slot, masks) if len(a) >= len(b) else fn(b, a, slot, masks)
        out[i] = rouge_l_from_lcs(lcs, len(a), len(b), beta)
    return out


def _lcs_ids(a: Any, b: Any, slot: Any, masks: Any) -> int:
    """LCS length of token-id arrays ``a`` (the longer) and ``b``: the bit-parallel algorithm of
    :func:`lcs_length` with 64-bit words (carries and borrows between words). ``slot`` (one entry per id, all -1)
    and ``masks`` (``(len(a) + 1) * words`` items) are work arrays; ``slot`` is all -1 again on return."""
    n = a.shape[0]
    if n == 0 or b.shape[0] == 0:
        return 0
    nw = (n + 63) // 64
    one = np.uint64(1)
    k = 0
    for i in range(n):  # one bit vector per distinct id of a: where it occurs
        s = a[i]
        if slot[s] < 0:
            slot[s] = k
            for w in range(nw):
                masks[k * nw + w] = 0
            k += 1
        masks[slot[s] * nw + (i >> 6)] |= one << np.uint64(i & 63)
    v = np.empty(nw, dtype=np.uint64)
    for w in range(nw):
        v[w] = ~np.uint64(0)
    for j in range(b.shape[0]):
        s = b[j]
        if s >= slot.shape[0] or slot[s] < 0:
            continue
        base = slot[s] * nw
        carry = np.uint64(0)
        borrow = np.uint64(0)
        for w in range(nw):  # v = (v + u) | (v - u), u = v & mask, over the words
            x = v[w]
            u = x & masks[base + w]
            t = u + carry
            total = x + t
            carry = one if (t < u or total < x) else np.uint64(0)
            t2 = u + borrow
            diff = x - t2
            borrow = one if (t2 < u or x < t2) else np.uint64(0)
            v[w] = total | diff
    zeros = 0
    for i in range(n):
        if not (v[i >> 6] >> np.uint64(i & 63)) & one:
            zeros += 1
    for i in range(n):
        slot[a[i]] = -1
    return zeros


_LCS_JIT: Any = None
_LCS_TRIED = False


def _lcs_kernel() -> Any:
    """The numba-compiled :func:`_lcs_ids`, or None (numba missing or unusable, or ``PET2REP_NO_JIT=1``)."""
    global _LCS_JIT, _LCS_TRIED
    if not _LCS_TRIED:
        from pet2rep.metrics.jit import compile_checked

        _LCS_TRIED = True
        a, b = np.array([1, 2, 3, 2], dtype=np.int64), np.array([2, 3, 1], dtype=np.int64)
        _LCS_JIT = compile_checked(
            _lcs_ids, lambda fn: fn(a, b, np.full(4, -1, dtype=np.int64), np.zeros(10, dtype=np.uint64)) == 2)
    return _LCS_JIT


# --------------------------------------------------------------------------- n-gram tables
def _check_pairs(hyps: Sequence, refs: Sequence) -> None:
    if len(hyps) != len(refs):
        raise ValueError(f"{len(hyps)} hypotheses but {len(refs)} references")


class _Vocab:
    """Maps tokens to ids 1..V (in order of first appearance)."""

    def __init__(self, docs: Sequence[Tokens]) -> None:
        flat = list(chain.from_iterable(docs))
        ids = dict.fromkeys(flat, 0)
        for i, tok in enumerate(ids, start=1):
            ids[tok] = i
        self.ids = ids
        self.flat = np.fromiter(map(ids.__getitem__, flat), dtype=np.int64, count=len(flat))
        self.lengths = np.fromiter(map(len, docs), dtype=np.int64, count=len(docs))


def _order_keys(ids: np.ndarray, base: int, max_n: int) -> Iterator[np.ndarray]:
    """Keys of all position-aligned n-grams, one order at a time (to bound memory).

    The k-th array yielded (k from 0) identifies the (k+1)-gram starting at each token:
    ``key_{k-1} * base + id`` while that fits in 62 bits (token ids 1..base-1, so the orders occupy
    disjoint increasing ranges); otherwise dense ranks shifted into disjoint ranges. Equal keys
    <=> equal n-grams, across all orders.
    """
    keys = ids
    yield keys
    packed = base**max_n < _PACK_LIMIT
    offset = base
    for k in range(1, max_n):
        if packed:
            keys = keys[:-1] * base + ids[k:]
        else:
            _, ranks = np.unique(keys[:-1] * base + ids[k:], return_inverse=True)
            ranks = ranks.astype(np.int64).ravel()
            keys = ranks + offset
            offset += int(ranks.max()) + 1 if ranks.size else 1
        yield keys


@dataclass
class _Corpus:
    """Unique n-grams ("entries") of every hypothesis and reference of one evaluated set.

    Entries are grouped by order and pair and sorted by (key, side) inside a group, so an n-gram
    shared by a hypothesis and its reference is a hypothesis entry directly followed by the
    reference entry.
    """

    key: np.ndarray  # n-gram key
    count: np.ndarray  # term frequency in its document
    side: np.ndarray  # 0 hypothesis, 1 reference
    pair: np.ndarray  # sample index
    order: np.ndarray  # n-gram order - 1
    match: np.ndarray  # hypothesis entries whose next entry is the same n-gram in the reference
    hyp_len: np.ndarray
    ref_len: np.ndarray
    max_n: int
    ids: np.ndarray | None = None  # token ids of every document, hypotheses then references (_Vocab.flat)


def _count_order(
    tagged_keys: np.ndarray, doc_start: np.ndarray, counts: np.ndarray, n: int
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Unique n-grams of one order for every pair: (tagged key, count, pair) per entry.

    ``tagged_keys[i]`` is ``2 * key + side`` of the n-gram starting at token i; ``counts`` the
    number of such n-grams per document. Keys are laid out pair-major ([hyp p][ref p] ...) and
    sorted inside each pair, one numpy sort per pair (int32 when the keys fit).
    """
    total = int(counts.sum())
    per_pair = counts.reshape(2, n)
    block = per_pair.sum(axis=0)
    block_end = np.cumsum(block)
    block_start = block_end - block
    seg_start = np.concatenate([block_start, block_start + per_pair[0]])  # per document
    run = np.arange(total, dtype=np.int64)
    excl = np.cumsum(counts) - counts
    src = np.repeat(doc_start - excl, counts) + run
    dst = np.repeat(seg_start - excl, counts) + run
    dtype = np.int32 if total == 0 or int(tagged_keys.max(initial=0)) < 2**31 else np.int64
    tagged = np.empty(total, dtype=dtype)
    tagged[dst] = tagged_keys[src]
    for b0, b1 in zip(block_start.tolist(), block_end.tolist()):
        if b1 - b0 > 1:
            tagged[b0:b1].sort()
    if total == 0:
        empty = np.zeros(0, np.int64)
        return empty, empty, empty
    new = np.empty(total, dtype=bool)
    new[0] = True
    np.not_equal(tagged[1:], tagged[:-1], out=new[1:])
    new[block_start[block > 0]] = True
    first = np.flatnonzero(new)
    val = tagged[first].astype(np.int64)
    cnt = np.diff(first, append=total)
    pair = np.repeat(np.arange(n), np.diff(np.searchsorted(first, block_end, side="left"), prepend=0))
    return val, cnt, pair


# (hyps, refs, max_n) -> corpus, and (hyps, refs, sigma) -> hashed tables, while a shared_ngrams() block is open
_SHARED: dict[tuple[int, int, int], tuple[Sequence[Tokens], Sequence[Tokens], _Corpus]] | None = None
_SHARED_HASHED: dict[tuple[int, int, float], tuple[Sequence[Tokens], Sequence[Tokens], _Hashed]] | None = None


@contextlib.contextmanager
def shared_ngrams() -> Iterator[None]:
    """Count the n-grams of a set once for every metric computed on it inside this block.

    Inside it, BLEU, CIDEr-D and ROUGE-L called on the same ``hyps``/``refs`` list objects (and the same order)
    share one n-gram table (and its token ids) instead of building it again; the tables are dropped when the block
    ends."""
    global _SHARED, _SHARED_HASHED
    saved, _SHARED = _SHARED, {}
    saved_h, _SHARED_HASHED = _SHARED_HASHED, {}
    try:
        yield
    finally:
        _SHARED, _SHARED_HASHED = saved, saved_h


@dataclass
class _Hashed:
    """A set's BLEU matches and CIDEr-D scores from the compiled hashed counts (:mod:`pet2rep.metrics.ngram_hash`),
    with the token ids they were counted on."""

    ids: np.ndarray
    hyp_len: np.ndarray
    ref_len: np.ndarray
    matches: np.ndarray  # (n, CIDER_N) clipped n-gram matches
    cider: np.ndarray  # (n,) CIDEr-D


def _hashed(hyps: Sequence[Tokens], refs: Sequence[Tokens], sigma: float = CIDER_SIGMA) -> _Hashed | None:
    """The set's hashed tables (shared inside a :func:`shared_ngrams` block), or None when the compiled kernel is
    not there or the n-gram keys would not fit in int64 (then the sorted n-gram table is used)."""
    from pet2rep.metrics import ngram_hash

    _check_pairs(hyps, refs)
    if not hyps or ngram_hash.compiled() is None:
        return None
    hit = _shared_hashed(hyps, refs, sigma)
    if hit is not None:
        return hit
    n = len(hyps)
    vocab = _Vocab([*hyps, *refs])
    got = ngram_hash.tables(vocab.flat, vocab.lengths, n, CIDER_N, len(vocab.ids) + 1, sigma)
    if got is None:
        return None
    h = _Hashed(vocab.flat, vocab.lengths[:n], vocab.lengths[n:], got[0], got[1])
    if _SHARED_HASHED is not None:  # (the lists are held, so their ids are not reused while the block is open)
        _SHARED_HASHED[(id(hyps), id(refs), float(sigma))] = (hyps, refs, h)
    return h


def _shared_hashed(hyps: Sequence[Tokens], refs: Sequence[Tokens], sigma: float) -> _Hashed | None:
    """The hashed tables a :func:`shared_ngrams` block already holds for these list objects, or None."""
    hit = _SHARED_HASHED.get((id(hyps), id(refs), float(sigma))) if _SHARED_HASHED is not None else None
    return hit[2] if hit is not None and hit[0] is hyps and hit[1] is refs else None


def _shared_corpus(hyps: Sequence[Tokens], refs: Sequence[Tokens], max_n: int) -> _Corpus | None:
    """The table a :func:`shared_ngrams` block already holds for these list objects, or None."""
    hit = _SHARED.get((id(hyps), id(refs), max_n)) if _SHARED is not None else None
    return hit[2] if hit is not None and hit[0] is hyps and hit[1] is refs else None


def _corpus(hyps: Sequence[Tokens], refs: Sequence[Tokens], max_n: int) -> _Corpus:
    """:func:`_build_corpus`, reused inside a :func:`shared_ngrams` block."""
    c = _shared_corpus(hyps, refs, max_n)
    if c is None:
        c = _build_corpus(hyps, refs, max_n)
        if _SHARED is not None:  # (the lists are held, so their ids are not reused while the block is open)
            _SHARED[(id(hyps), id(refs), max_n)] = (hyps, refs, c)
    return c


def _build_corpus(hyps: Sequence[Tokens], refs: Sequence[Tokens], max_n: int) -> _Corpus:
    """Count the n-grams of all documents (one numpy sort per pair and order) and match them."""
    _check_pairs(hyps, refs)
    if max_n < 1:
        raise ValueError("max_n must be >= 1")
    n = len(hyps)
    vocab = _Vocab([*hyps, *refs])
    ids, lengths = vocab.flat, vocab.lengths
    n_hyp_tokens = int(lengths[:n].sum())
    doc_start = np.cumsum(lengths) - lengths
    parts: list[tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]] = []
    for k, keys in enumerate(_order_keys(ids, len(vocab.ids) + 1, max_n)):
        tagged_keys = keys * 2
        tagged_keys[n_hyp_tokens:] += 1
        val, cnt, pair = _count_order(tagged_keys, doc_start, np.maximum(0, lengths - k), n)
        del tagged_keys
        parts.append((val, cnt, pair, np.full(val.size, k, dtype=np.int64)))
    val = np.concatenate([p[0] for p in parts])
    cnt = np.concatenate([p[1] for p in parts])
    pair = np.concatenate([p[2] for p in parts])
    order = np.concatenate([p[3] for p in parts])
    key = val >> 1
    side = val & 1
    nxt = slice(1, None)
    cur = slice(None, -1)
    is_match = (
        (side[cur] == 0) & (side[nxt] == 1) & (key[cur] == key[nxt]) & (pair[cur] == pair[nxt])
        & (order[cur] == order[nxt])
    )
    match = np.flatnonzero(is_match)
    return _Corpus(key, cnt, side, pair, order, match, lengths[:n], lengths[n:], max_n, ids)


# --------------------------------------------------------------------------- BLEU statistics
def _bleu_stats_corpus(c: _Corpus) -> np.ndarray:
    n_samples = len(c.hyp_len)
    n = c.max_n
    stats = np.zeros((n_samples, 2 + 2 * n), dtype=np.int64)
    stats[:, 0] = c.hyp_len
    stats[:, 1] = c.ref_len
    if c.match.size:
        clipped = np.minimum(c.count[c.match], c.count[c.match + 1])
        flat = np.bincount(c.pair[c.match] * n + c.order[c.match], weights=clipped, minlength=n_samples * n)
        stats[:, 2 : 2 + n] = np.rint(flat.reshape(n_samples, n)).astype(np.int64)
    k = np.arange(n)
    stats[:, 2 + n :] = np.maximum(0, c.hyp_len[:, None] - k[None, :])
    return stats


def bleu_stats(hyp: Tokens, ref: Tokens, max_n: int = 4) -> np.ndarray:
    """BLEU sufficient statistics of one pair: ``[hyp_len, ref_len, match_1..n, total_1..n]``."""
    return _bleu_stats_corpus(_build_corpus([hyp], [ref], max_n))[0]


def bleu_stats_batch(hyps: Sequence[Tokens], refs: Sequence[Tokens], max_n: int = 4) -> np.ndarray:
    """BLEU statistics matrix (n_samples, 2+2n) of paired lists."""
    h = _hashed(hyps, refs) if max_n == CIDER_N else None
    if h is None:
        return _bleu_stats_corpus(_corpus(hyps, refs, max_n))
    stats = np.zeros((len(hyps), 2 + 2 * max_n), dtype=np.int64)
    stats[:, 0] = h.hyp_len
    stats[:, 1] = h.ref_len
    stats[:, 2 : 2 + max_n] = h.matches
    stats[:, 2 + max_n :] = np.maximum(0, h.hyp_len[:, None] - np.arange(max_n)[None, :])
    return stats


# --------------------------------------------------------------------------- CIDEr-D
def _document_frequency(c: _Corpus) -> np.ndarray:
    """For every entry: in how many references of the whole set its n-gram occurs.

    Reference entries and the hypothesis entries missing from their own reference are grouped by
    one stable sort (they are already sorted inside each pair, which timsort exploits); a
    hypothesis entry present in its reference takes that reference entry's frequency.
    """
    df = np.zeros(c.key.size, dtype=np.float64)
    if c.key.size == 0:
        return df
    is_ref = c.side == 1
    sel = is_ref.copy()
    sel[c.match] = True  # temporarily: matched hypothesis entries are filled from their partner
    sel = is_ref | ~sel
    idx = np.flatnonzero(sel)
    keys = c.key[idx]
    perm = np.argsort(keys, kind="stable")
    ks = keys[perm]
    new = np.empty(ks.size, dtype=bool)
    new[0] = True
    np.not_equal(ks[1:], ks[:-1], out=new[1:])
    group = np.cumsum(new) - 1
    per_group = np.bincount(group, weights=c.side[idx][perm])
    df[idx[perm]] = per_group[group]
    df[c.match] = df[c.match + 1]
    return df


def _cider_from_corpus(c: _Corpus, sigma: float = CIDER_SIGMA) -> np.ndarray:
    n_samples = len(c.hyp_len)
    n = c.max_n
    if n_samples == 0:
        return np.zeros(0)
    log_n = np.log(float(n_samples))
    df = _document_frequency(c)
    vec = c.count * (log_n - np.log(np.maximum(1.0, df)))
    size = n_samples * n
    slot = c.pair * n + c.order
    norms = np.sqrt(np.bincount(slot * 2 + c.side, weights=vec * vec, minlength=2 * size))
    norm_h, norm_r = norms[0::2], norms[1::2]
    if c.match.size:
        a, b = vec[c.match], vec[c.match + 1]
        num = np.bincount(slot[c.match], weights=np.minimum(a, b) * b, minlength=size)
    else:
        num = np.zeros(size)
    denom = norm_h * norm_r
    val = np.where(denom != 0, num / np.where(denom != 0, denom, 1.0), num).reshape(n_samples, n)
    len_h = np.maximum(0, c.hyp_len - 1).astype(np.float64)  # pycocoevalcap's "length": #bigrams
    len_r = np.maximum(0, c.ref_len - 1).astype(np.float64)
    delta = len_h - len_r
    val *= (np.e ** (-(delta**2) / (2 * sigma**2)))[:, None]
    return val.mean(axis=1) * 10.0


def cider_d(
    hyps: Sequence[Tokens], refs: Sequence[Tokens], sigma: float = CIDER_SIGMA
) -> tuple[float, np.ndarray]:
    """CIDEr-D (pycocoevalcap ``Cider``): (corpus mean, per-sample scores).

    Document frequencies and log(N) come from all references given here, so per-sample scores
    are the ones to resample in a bootstrap (df stays fixed from the full set).
    """
    if not hyps:
        _check_pairs(hyps, refs)
        return 0.0, np.zeros(0)
    h = _hashed(hyps, refs, sigma)
    scores = h.cider.copy() if h is not None else _cider_from_corpus(_corpus(hyps, refs, CIDER_N), sigma)
    return float(scores.mean()), scores


# --------------------------------------------------------------------------- batch entry point
def nlg_corpus(
    hyps_tokens: Sequence[Tokens],
    refs_tokens: Sequence[Tokens],
    max_n: int = 4,
    segmenter: str | None = None,
    beta: float = ROUGE_BETA,
    sigma: float = CIDER_SIGMA,
) -> dict:
    """All NLG metrics of one evaluated set in one pass.

    Returns a dict with per-sample arrays (``bleu_stats`` (n, 2+2*max_n), ``bleu`` (n, max_n),
    ``rouge_l`` (n,), ``cider_d`` (n,)), corpus scores (``corpus``: ``bleu_1``..``bleu_n``,
    ``rouge_l``, ``cider_d``) and ``signatures`` (metric name -> signature string).
    ``segmenter`` only labels the signatures (the tokens are already made).
    """
    n_samples = len(hyps_tokens)
    _check_pairs(hyps_tokens, refs_tokens)
    corpus_n = max(max_n, CIDER_N)
    c = _build_corpus(hyps_tokens, refs_tokens, corpus_n)
    stats_full = _bleu_stats_corpus(c)
    keep = [0, 1, *range(2, 2 + max_n), *range(2 + corpus_n, 2 + corpus_n + max_n)]
    stats = stats_full[:, keep]
    if corpus_n != CIDER_N:
        c_cider = _build_corpus(hyps_tokens, refs_tokens, CIDER_N)
    else:
        c_cider = c
    cider = _cider_from_corpus(c_cider, sigma) if n_samples else np.zeros(0)
    rouge = rouge_l_batch(hyps_tokens, refs_tokens, beta)
    corpus: dict[str, float] = {}
    if n_samples:
        for k, v in enumerate(bleu_from_stats(stats), start=1):
            corpus[f"bleu_{k}"] = v
        corpus["rouge_l"] = float(rouge.mean())
        corpus["cider_d"] = float(cider.mean())
    else:
        corpus.update({f"bleu_{k}": math.nan for k in range(1, max_n + 1)})
        corpus.update(rouge_l=math.nan, cider_d=math.nan)
    sig_bleu = bleu_signature(max_n, segmenter)
    return {
        "n": n_samples,
        "bleu_stats": stats,
        "bleu": bleu_per_sample(stats) if n_samples else np.zeros((0, max_n)),
        "rouge_l": rouge,
        "cider_d": cider,
        "corpus": corpus,
        "signatures": {
            **{f"bleu_{k}": sig_bleu for k in range(1, max_n + 1)},
            "rouge_l": rouge_signature(beta, segmenter),
            "cider_d": cider_signature(sigma, segmenter),
        },
    }
