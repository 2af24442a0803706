"""The METEOR 1.5 aligner's beam search (``Aligner.resolve``), exact and fast.

Semantics reproduced (what the jar does, described in our words):

* Reference positions are visited left to right. Before every step the partial alignments are
  sorted (stable) by more weighted matches, then fewer chunks, then smaller "distance", and only
  the first ``beam`` (40) are expanded.
* A partial alignment whose current reference word is already covered either passes through (it is
  inside its own multi-word match) or takes the one-to-one "definite" match fixed there before the
  search; otherwise it spawns one child per candidate match at this position that touches no used
  word (in candidate order), then continues itself as the "skip" child. The jar adds each
  candidate's ``|ref start - hyp start|`` to the parent's distance while it spawns, so a child
  inherits the distance of the siblings spawned before it and the skip child the sum of all.
* At the end, open chunks are closed on the surviving alignments and the best one is returned.

Speed comes from never building children that cannot enter the beam (the result is unchanged):

* the next beam is filled by stable insertion into a sorted buffer of ``beam`` slots, children
  offered in the jar's creation order; a child whose key is not smaller than the last of a full
  buffer is discarded (it would have been sorted past the beam);
* parents are visited in beam order and every child of a parent is at least (its matches plus the
  best candidate value at this position, its chunks, its distance): once that bound is past the
  last of a full buffer, no later parent can place a child, and the step ends;
* when every candidate at a position has the same value, a parent's children other than the one
  continuing its chunk come in non-decreasing key order, so after the first refused one only the
  continuation (and the distances) are still looked at; the skip child is never better than any
  of its siblings, so it is refused as soon as one of them was.

Used words are bit sets (32 bits per int64 word) per alignment; chosen matches are kept as back
pointers (one parent slot and one candidate per step and slot). :func:`beam_search` is written in
the subset of Python that numba compiles; with numba installed the compiled copy runs (same code,
same numbers), without it the plain Python one.
"""

from __future__ import annotations

import os
import threading
from typing import Any

BEAM = 40
WORK = 14  # work items per beam slot (``work`` holds WORK * BEAM)
MAXBITS = 62  # widest packed sort key the compiled copy (int64) may use


def beam_search(
    nr: int,
    cs: Any,
    ci: Any,
    chl: Any,
    crl: Any,
    cval: Any,
    same: Any,
    fixed: Any,
    uh0: Any,
    ur0: Any,
    K: int,
    bp_par: Any,
    bp_cand: Any,
    sel_out: Any,
    work: Any,
    uh: Any,
    vmax: Any,
    rkg: Any,
    hrank: Any,
    kb: Any,
    gw0: Any,
    gw1: Any,
    tab: Any,
    live0: Any,
    common: Any,
    maxbits: int,
) -> int:
    """Run the search; write the chosen candidate indices (by reference position) to ``sel_out``.

    ``cs`` (nr + 1 offsets) delimits the candidates of each reference position in ``ci`` (hyp start),
    ``chl``/``crl`` (hyp/ref length) and ``cval`` (search value); ``same[j]`` is 1 when all candidates
    at ``j`` share one value; ``fixed[j]`` is the candidate index of the definite match at ``j`` or -1;
    ``uh0``/``ur0`` are the used-word bit sets of the start (definite matches; hypothesis words 63 to an
    int64, reference words 32). ``bp_par``/``bp_cand`` are work arrays of at least ``nr * K`` items,
    ``work`` of ``WORK * K``, ``uh`` of ``K * len(uh0)`` and ``common`` of ``len(uh0)``. ``vmax[j]`` is the
    best candidate value at ``j``. Where ``same[j]`` is 2 the candidates at ``j`` are exactly the one-word
    exact matches of the hypothesis words in group ``rkg[j]``, in hypothesis order: bit set
    ``kb[g * len(uh0):]`` (non-zero words ``gw0[g]..gw1[g]``) holds their positions and ``hrank[i]`` is the
    rank of position ``i`` in its group; ``tab[(1 << b) % 67] == b``; ``live0`` starts as a copy of
    ``gw0``. Returns the number of chosen matches, or -1 when the packed sort keys would need more than
    ``maxbits`` bits (``maxbits`` 0: no limit, for Python's integers).
    """
    WH = len(uh0)
    # sort keys packed in one integer: (matches offset, chunks, distance), each field wide enough for
    # every value a path can reach (distance: at most the sum of |j - i| over all candidates)
    noff = 0
    dmax = 0
    hmax = 0
    for j in range(nr):
        noff += vmax[j]
        for k in range(cs[j], cs[j + 1]):
            dd = j - ci[k]
            dmax += dd if dd >= 0 else -dd
            if ci[k] + chl[k] > hmax:
                hmax = ci[k] + chl[k]
    dmax += nr * (nr + hmax)  # (a definite match's distance, counted apart)
    bd = 1
    while (1 << bd) <= dmax:
        bd += 1
    bc = 1
    while (1 << bc) <= nr + 1:
        bc += 1
    bn = 1
    while (1 << bn) <= noff:
        bn += 1
    if maxbits > 0 and bd + bc + bn > maxbits:
        return -1
    SD = 1 << bd  # one chunk
    SC = 1 << (bd + bc)  # one match value
    for w in range(WORK * K):
        work[w] = 0
    key = work[0:K]  # the beam, best first: packed keys, next reference position, last hyp end, bit set block
    idx = work[K : 2 * K]
    le = work[2 * K : 3 * K]
    buf = work[3 * K : 4 * K]
    xi = work[4 * K : 5 * K]  # the next beam's slots
    xl = work[5 * K : 6 * K]
    xp = work[6 * K : 7 * K]
    xk = work[7 * K : 8 * K]
    order = work[8 * K : 9 * K]  # slots of the next beam, best first
    okey = work[9 * K : 10 * K]  # their keys
    nbuf = work[10 * K : 11 * K]
    taken = work[11 * K : 12 * K]
    own = work[12 * K : 13 * K]
    free = work[13 * K : 14 * K]
    key[0] = noff * SC
    le[0] = -1
    for w in range(WH):
        uh[w] = uh0[w]
        common[w] = uh0[w]  # words used by every alignment of the beam (only grows; refreshed now and then)
    n = 1
    for j in range(nr):
        a = cs[j]
        b = cs[j + 1]
        maxsc = vmax[j] * SC
        jw = j >> 5
        jb = 1 << (j & 31)
        sm = same[j]
        if sm == 2:  # skip the leading words whose candidates every alignment has used already
            g = rkg[j]
            gb = g * WH
            w = live0[g]
            while w <= gw1[g] and kb[gb + w] & ~common[w] == 0:
                w += 1
            live0[g] = w
        m = 0
        last = 0  # key of the last of a full next beam
        for p in range(n):
            pk = key[p]
            if m == K and pk - maxsc >= last:
                break  # no child of this or any later parent can enter the beam
            pl = le[p]
            pb = buf[p] * WH
            mode = 0  # 0: candidates then skip, 1: pass through, 2: definite match, 3: dropped
            if j < idx[p]:
                mode = 1
            elif ur0[jw] & jb:
                if fixed[idx[p]] >= 0:
                    mode = 2
                else:
                    mode = 3
            if mode == 3:
                continue
            k = a
            acc = 0
            x = 0
            w = 0
            w1 = -1
            gb = 0
            if sm == 2:
                g = rkg[j]
                gb = g * WH
                w = live0[g] - 1
                w1 = gw1[g]
            refused = False  # a match child was refused: the skip child will be too
            stop = False  # (same values) later non-continuation children will be refused too
            while True:
                # ---- next child of this parent: key ck, chunk increment inc, state (ci_, cl_), candidate cand
                inc = 0
                if mode == 1:
                    ck = pk
                    ci_ = idx[p]
                    cl_ = pl
                    cand = -1
                elif mode == 2:
                    f = fixed[idx[p]]
                    fi = ci[f]
                    if pl != -1 and fi != pl:
                        inc = 1
                    dd = j - fi
                    ck = pk - cval[f] * SC + inc * SD + (dd if dd >= 0 else -dd)
                    ci_ = j + crl[f]
                    cl_ = fi + chl[f]
                    cand = f
                elif k < b:
                    if sm == 2:  # free exact candidates straight from the bit sets
                        while x == 0 and w < w1:
                            w += 1
                            x = kb[gb + w] & ~uh[pb + w]
                        if x == 0:
                            k = b
                            continue
                        low = x & -x
                        x ^= low
                        i = w * 63 + tab[low % 67]
                        kk = a + hrank[i]
                    else:
                        i = ci[k]
                        kk = k
                        k += 1
                        used = False
                        for t in range(i, i + chl[kk]):
                            if uh[pb + t // 63] & (1 << (t % 63)):
                                used = True
                                break
                        if not used:
                            for t in range(j, j + crl[kk]):
                                if ur0[t >> 5] & (1 << (t & 31)):
                                    used = True
                                    break
                        if used:
                            continue
                    dd = j - i
                    if dd < 0:
                        dd = -dd
                    cont = pl != -1 and i == pl
                    if stop and not cont:
                        acc += dd
                        if sm == 2:
                            if i > pl:
                                break  # the continuation lies behind: not free
                            if pk - cval[kk] * SC + acc >= last:
                                break  # even the continuation would be refused
                        continue
                    if pl != -1 and not cont:
                        inc = 1
                    ck = pk - cval[kk] * SC + inc * SD + acc
                    ci_ = j + crl[kk]
                    cl_ = i + chl[kk]
                    cand = kk
                    acc += dd
                else:
                    if refused:
                        break
                    if pl != -1:
                        inc = 1
                    ck = pk + inc * SD + acc
                    ci_ = j + 1
                    cl_ = -1
                    cand = -1
                    k = b + 1  # marks: skip child offered
                # ---- stable insertion into the sorted next beam (after every equal key)
                if m == K and ck >= last:
                    # refused: sorted past the beam
                    if mode != 0 or k > b:
                        break
                    refused = True
                    if sm != 0:
                        if inc == 0:
                            break  # every later child of this parent is at least as bad
                        stop = True  # only a child continuing the chunk may still enter
                        if sm == 2:
                            pw = pl // 63
                            if pw >= WH or ((kb[gb + pw] & ~uh[pb + pw]) >> (pl % 63)) & 1 == 0:
                                break  # no free candidate continues the chunk
                    continue
                if m < K:
                    slot = m
                    r = m
                    m += 1
                else:
                    slot = order[K - 1]
                    r = K - 1
                while r > 0 and okey[r - 1] > ck:
                    okey[r] = okey[r - 1]
                    order[r] = order[r - 1]
                    r -= 1
                okey[r] = ck
                order[r] = slot
                if m == K:
                    last = okey[K - 1]
                xi[slot] = ci_
                xl[slot] = cl_
                xp[slot] = p
                xk[slot] = cand
                if mode != 0 or k > b:
                    break
        if m == 0:  # every alignment was dropped: the jar carries its best one on unchanged
            okey[0] = key[0]
            xi[0] = idx[0]
            xl[0] = le[0]
            xp[0] = 0
            xk[0] = -1
            order[0] = 0
            m = 1
        # materialise the new beam. Used-word bit sets are copied on write: the first child of a
        # parent takes over the parent's block, each further child copies it into a block no survivor uses
        for q in range(K):
            own[q] = 0
        for p in range(n):
            taken[p] = 0
        for q in range(m):
            own[buf[xp[order[q]]]] = 1
        nf = 0
        for q in range(K):
            if own[q] == 0:
                free[nf] = q
                nf += 1
        nf = 0
        for q in range(m):
            p = xp[order[q]]
            if taken[p] == 0:
                taken[p] = 1
                nbuf[q] = buf[p]
            else:
                blk = free[nf]
                nf += 1
                nbuf[q] = blk
                src = buf[p] * WH
                dst = blk * WH
                for w in range(WH):
                    uh[dst + w] = uh[src + w]
        base = j * K
        for q in range(m):
            o = order[q]
            k = xk[o]
            if k >= 0:
                i = ci[k]
                dst = nbuf[q] * WH
                for t in range(i, i + chl[k]):
                    uh[dst + t // 63] |= 1 << (t % 63)
            key[q] = okey[q]
            idx[q] = xi[o]
            le[q] = xl[o]
            buf[q] = nbuf[q]
            bp_par[base + q] = xp[o]
            bp_cand[base + q] = k
        n = m
        if j & 7 == 7:  # refresh the words every alignment has used
            for w in range(WH):
                common[w] = uh[buf[0] * WH + w]
            for q in range(1, n):
                src = buf[q] * WH
                for w in range(WH):
                    common[w] &= uh[src + w]
    # close open chunks, take the best (first on ties)
    best = 0
    bk = 0
    for q in range(n):
        ck = key[q] + SD if le[q] != -1 else key[q]
        if q == 0 or ck < bk:
            best = q
            bk = ck
    cnt = 0
    s = best
    j = nr - 1
    while j >= 0:
        k = bp_cand[j * K + s]
        if k >= 0:
            sel_out[cnt] = k
            cnt += 1
        s = bp_par[j * K + s]
        j -= 1
    return cnt


# ---------------------------------------------------------------------------------------------
# compiled copy (numba, when installed)

_LOCK = threading.Lock()
_JIT: Any = None
_JIT_TRIED = False


def _trial(fn: Any) -> bool:
    """Compile (or load from numba's cache) and run ``fn`` on a one-word problem; True if it answers right."""
    import numpy as np

    def a(*v: int) -> Any:
        return np.array(v, dtype=np.int64)

    z = np.zeros
    tab = np.zeros(67, dtype=np.int64)
    for b in range(63):
        tab[(1 << b) % 67] = b
    K = BEAM
    sel = z(1, np.int64)
    cnt = fn(1, a(0, 1), a(0), a(1), a(1), a(2), a(2), a(-1), a(0), a(0), K, z(K, np.int64), z(K, np.int64), sel,
             z(WORK * K, np.int64), z(K, np.int64), a(2), a(0), a(0), a(1), a(0), a(0), tab, a(0), a(0), MAXBITS)
    return cnt == 1 and int(sel[0]) == 0


def compiled() -> Any:
    """The numba-compiled :func:`beam_search`, or None (numba missing or unusable, or ``PET2REP_NO_JIT=1``).

    numba's on-disk cache is used when a cache folder is writable, else the kernel is compiled in memory.
    """
    global _JIT, _JIT_TRIED
    if _JIT_TRIED:
        return _JIT
    with _LOCK:
        if not _JIT_TRIED:
            _JIT = None
            if os.environ.get("PET2REP_NO_JIT", "") in ("", "0"):
                try:
                    import numba
                except ImportError:
                    numba = None
                for cache in (True, False) if numba is not None else ():
                    try:
                        fn = numba.njit(cache=cache, nogil=True)(beam_search)
                        if _trial(fn):
                            _JIT = fn
                            break
                    except Exception:  # noqa: BLE001 - no usable compiler/cache: the Python copy gives the same numbers
                        continue
            _JIT_TRIED = True
    return _JIT


def kernel_name() -> str:
    """'numba' or 'python': which copy of the search runs in this process."""
    return "numba" if compiled() is not None else "python"


__all__ = ["BEAM", "beam_search", "compiled", "kernel_name"]
