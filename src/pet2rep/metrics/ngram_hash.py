"""BLEU statistics and CIDEr-D scores of a whole set from hashed n-gram counts (a compiled kernel).

The same numbers as :mod:`pet2rep.metrics.nlg`'s sorted n-gram table (BLEU counts exactly; CIDEr-D to the last
bits of a float sum, which here runs in another order), in one pass over the token ids instead of a sort per pair:

* each n-gram is its packed key (token ids ``1..base-1`` in base ``base``; the orders occupy disjoint ranges);
* document frequencies: one open-addressing hash table over the references' n-grams, where a key met again in the
  same reference is not counted twice (the last reference that counted it is kept per slot);
* per pair: one small hash table holds the counts of each n-gram in the hypothesis and in the reference; its used
  slots give the clipped matches (BLEU) and the TF-IDF vectors, norms and dot products (CIDEr-D).

Written in the subset of Python numba compiles; :func:`tables` runs it compiled when numba works (else returns
None and the caller uses the sorted table). Keys must fit in int64 (``base ** max_n < 2 ** 62``).
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np

_EMPTY = -1
_MIX = 0x9E3779B1  # (odd) multiplier of the hash; the low bits of the product are the slot


def _slot(key: int, mask: int) -> int:
    """First slot of ``key`` in a table of ``mask + 1`` slots (a power of two)."""
    x = key ^ (key >> 31) ^ (key >> 17)
    return (x * _MIX) & mask


def _probe(keys: Any, mask: int, key: int) -> int:
    """The slot that holds ``key``, or the empty slot where it goes (linear probing)."""
    h = _slot(key, mask)
    while keys[h] != _EMPTY and keys[h] != key:
        h = (h + 1) & mask
    return h


def _grow(keys: Any, cnt: Any, last: Any) -> tuple[Any, Any, Any]:
    """The document-frequency table rehashed into twice as many slots."""
    cap = keys.shape[0] * 2
    mask = cap - 1
    nk = np.full(cap, _EMPTY, dtype=np.int64)
    nc = np.zeros(cap, dtype=np.int64)
    nl = np.full(cap, -1, dtype=np.int64)
    for s in range(keys.shape[0]):
        k = keys[s]
        if k != _EMPTY:
            h = _probe(nk, mask, k)
            nk[h] = k
            nc[h] = cnt[s]
            nl[h] = last[s]
    return nk, nc, nl


def _doc_keys(ids: Any, s: int, length: int, k: int, base: int, prev: Any) -> int:
    """Turn ``prev[:length - k + 1]`` (the keys of order ``k - 1`` of the document at ``ids[s:]``) into those of
    order ``k`` in place (``k`` 0: the token ids); returns how many there are."""
    m = length - k
    if m <= 0:
        return 0
    if k == 0:
        for i in range(m):
            prev[i] = ids[s + i]
    else:
        for i in range(m):
            prev[i] = prev[i] * base + ids[s + i + k]
    return m


def _lookup(keys: Any, cnt: Any, mask: int, key: int) -> int:
    """Count stored for ``key`` in the document-frequency table (0 when absent: an empty slot's count is 0)."""
    return cnt[_probe(keys, mask, key)]


def ngram_tables(ids: Any, starts: Any, lengths: Any, n: int, max_n: int, base: int, sigma: float,
                 matches: Any, cider: Any) -> None:
    """Fill ``matches`` (n, max_n: clipped n-gram matches per pair and order) and ``cider`` (n: CIDEr-D of each
    pair, document frequencies over the n references). Documents ``0..n-1`` are the hypotheses, ``n..2n-1`` the
    references: ``ids[starts[d] : starts[d] + lengths[d]]``."""
    longest = 1
    for d in range(2 * n):
        if lengths[d] > longest:
            longest = lengths[d]
    prev = np.empty(longest, dtype=np.int64)
    # document frequencies over the references
    cap = 1 << 16
    dk = np.full(cap, _EMPTY, dtype=np.int64)
    dc = np.zeros(cap, dtype=np.int64)
    dl = np.full(cap, -1, dtype=np.int64)
    used = 0
    for d in range(n, 2 * n):
        for k in range(max_n):
            m = _doc_keys(ids, starts[d], lengths[d], k, base, prev)
            while used + m > cap // 2:  # (at most half full)
                dk, dc, dl = _grow(dk, dc, dl)
                cap = dk.shape[0]
            mask = cap - 1
            for i in range(m):
                key = prev[i]
                h = _probe(dk, mask, key)
                if dk[h] == _EMPTY:
                    dk[h] = key
                    dc[h] = 1
                    dl[h] = d
                    used += 1
                elif dl[h] != d:
                    dc[h] += 1
                    dl[h] = d
    dmask = cap - 1
    log_n = math.log(float(n))
    # per pair: counts in one small table (keys, hypothesis count, reference count, order), then the sums
    lcap = 16
    while lcap < 4 * longest * max_n:
        lcap *= 2
    lk = np.full(lcap, _EMPTY, dtype=np.int64)
    lh = np.zeros(lcap, dtype=np.int64)
    lr = np.zeros(lcap, dtype=np.int64)
    lo = np.zeros(lcap, dtype=np.int64)
    slots = np.empty(lcap, dtype=np.int64)
    norm_h = np.zeros(max_n)
    norm_r = np.zeros(max_n)
    num = np.zeros(max_n)
    for p in range(n):
        nu = 0
        for side in range(2):
            d = p + side * n
            for k in range(max_n):
                m = _doc_keys(ids, starts[d], lengths[d], k, base, prev)
                # a table of at least 4 * (entries) slots: used is below a quarter
                lmask = lcap - 1
                for i in range(m):
                    key = prev[i]
                    h = _probe(lk, lmask, key)
                    if lk[h] == _EMPTY:
                        lk[h] = key
                        lo[h] = k
                        slots[nu] = h
                        nu += 1
                    if side == 0:
                        lh[h] += 1
                    else:
                        lr[h] += 1
        for k in range(max_n):
            norm_h[k] = 0.0
            norm_r[k] = 0.0
            num[k] = 0.0
            matches[p, k] = 0
        for q in range(nu):
            h = slots[q]
            k = lo[h]
            df = _lookup(dk, dc, dmask, lk[h])
            idf = log_n - math.log(max(1.0, float(df)))
            vh = lh[h] * idf
            vr = lr[h] * idf
            norm_h[k] += vh * vh
            norm_r[k] += vr * vr
            if lh[h] > 0 and lr[h] > 0:
                matches[p, k] += min(lh[h], lr[h])
                num[k] += min(vh, vr) * vr
            lk[h] = _EMPTY
            lh[h] = 0
            lr[h] = 0
        len_h = max(0, lengths[p] - 1)
        len_r = max(0, lengths[p + n] - 1)
        delta = float(len_h - len_r)
        pen = math.e ** (-(delta * delta) / (2 * sigma * sigma))
        total = 0.0
        for k in range(max_n):
            denom = math.sqrt(norm_h[k]) * math.sqrt(norm_r[k])
            val = num[k] / denom if denom != 0 else num[k]
            total += val * pen
        cider[p] = total / max_n * 10.0


_KERNEL = (_slot, _probe, _grow, _doc_keys, _lookup)
_JIT: Any = None
_TRIED = False


def _trial(fn: Any) -> bool:
    """The compiled kernel on two one-pair sets: identical texts match fully, disjoint ones not at all."""
    ids = np.array([1, 2, 3, 1, 2, 3], dtype=np.int64)
    starts = np.array([0, 3], dtype=np.int64)
    lengths = np.array([3, 3], dtype=np.int64)
    matches = np.zeros((1, 4), dtype=np.int64)
    cider = np.zeros(1)
    fn(ids, starts, lengths, 1, 4, 4, 6.0, matches, cider)
    if matches[0].tolist() != [3, 2, 1, 0]:
        return False
    fn(np.array([1, 2, 3, 3, 2, 1], dtype=np.int64), starts, lengths, 1, 4, 4, 6.0, matches, cider)
    return matches[0].tolist() == [3, 0, 0, 0]


def compiled() -> Any:
    """The numba-compiled :func:`ngram_tables`, or None (numba missing or unusable, or ``PET2REP_NO_JIT=1``)."""
    global _JIT, _TRIED
    if not _TRIED:
        from pet2rep.metrics.jit import compile_checked

        _TRIED = True
        _JIT = compile_checked(ngram_tables, _trial, helpers=_KERNEL, inlined=(_slot, _probe, _lookup, _doc_keys))
    return _JIT


def tables(ids: np.ndarray, lengths: np.ndarray, n: int, max_n: int, base: int,
           sigma: float) -> tuple[np.ndarray, np.ndarray] | None:
    """``(matches (n, max_n), cider (n,))`` of the n pairs whose token ids are ``ids`` (hypotheses then references,
    ``lengths`` per document), or None when the kernel is not compiled or the keys would not fit in int64."""
    fn = compiled()
    if fn is None or n == 0 or base**max_n >= 2**62:
        return None
    starts = np.cumsum(lengths) - lengths
    matches = np.zeros((n, max_n), dtype=np.int64)
    cider = np.zeros(n, dtype=np.float64)
    fn(ids, starts.astype(np.int64), lengths.astype(np.int64), n, max_n, base, float(sigma), matches, cider)
    return matches, cider


__all__ = ["compiled", "ngram_tables", "tables"]
