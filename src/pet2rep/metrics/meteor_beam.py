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

* the next beam is a sorted buffer of ``beam`` slots; children are ordered by (key, parent, rank among
  their siblings), which is the jar's stable sort of children made in creation order, so they may be
  offered in any order; one that sorts past a full buffer is discarded;
* parents are visited in beam order and every child of a parent is at least (its matches plus the
  best candidate value at this position, its chunks, its distance): once that bound is past the
  last of a full buffer, no later parent can place a child, and the step ends;
* at a position whose candidates are just exact one-word matches (most positions of Chinese text),
  each parent's best child (the one continuing its chunk, else its first free candidate) is offered
  in a first pass over the parents and the other children in a second, where a buffer already full of
  good children refuses most at once: a parent's other children come in non-decreasing key order and
  the skip child is worse than all of them, so after one refusal the parent is done;
* elsewhere, when every candidate at a position has the same value, a parent's children other than
  the one continuing its chunk come in non-decreasing key order, so after the first refused one only
  the continuation (and the distances) are still looked at.

Sort keys are packed into one integer (matches, chunks, distance; each field as wide as any path can
need). Used words are bit sets per alignment (63 hypothesis words to an int64), copied on write: a
parent's first surviving child takes over its block. Chosen matches are kept as back pointers (one
parent slot and one candidate per step and slot). :func:`prepare` (candidates in the jar's order and
the search's tables), :func:`beam_search` and :func:`row_stats` (the statistics row) are written in the
subset of Python that numba compiles; with numba installed :func:`pair_row` runs them compiled in one
call per pair (same code, same numbers), without it :func:`pair_row_python` runs the plain Python copy.
"""

from __future__ import annotations

import math
import threading
from typing import Any

import numpy as np

BEAM = 40
WORK = 16  # work items per beam slot (``work`` holds WORK * BEAM)
DEBRUIJN = 0x03F79D71B4CB0A89  # (x & -x) * DEBRUIJN >> 58 & 63 tells which bit x has lowest
MAXBITS = 62  # widest packed sort key the compiled copy (int64) may use


def _key_fields(nr: int, cs: Any, ci: Any, chl: Any, vmax: Any) -> tuple[int, int, int, int, int]:
    """Layout of the packed sort keys: ``(noff, bn, bc, bd, tbs)``.

    ``noff`` is the matches offset of the start (the sum of the best values), ``bn``/``bc``/``bd`` the bits
    of the matches, chunks and distance fields (each wide enough for every value a path can reach;
    distance: at most the sum of ``|j - i|`` over all candidates), ``tbs`` the tie-break stride: a child's
    tie-break is ``parent * tbs + its rank among its siblings`` (the skip child last)."""
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
    tbs = 1
    for j in range(nr):
        if cs[j + 1] - cs[j] + 1 > tbs:
            tbs = cs[j + 1] - cs[j] + 1
    bd = 1
    while (1 << bd) <= dmax:
        bd += 1
    bc = 1
    while (1 << bc) <= nr + 1:
        bc += 1
    bn = 1
    while (1 << bn) <= noff:
        bn += 1
    return noff, bn, bc, bd, tbs


def _offer(ck: int, ctb: int, ci_: int, cl_: int, p: int, cand: int, m: int, K: int, okey: Any, otb: Any,
           order: Any, xi: Any, xl: Any, xp: Any, xk: Any) -> tuple[int, int]:
    """Offer a child to the next beam of ``m`` children: stable insertion by (key ``ck``, tie-break ``ctb``).

    The child's state (next reference position ``ci_``, last hypothesis end ``cl_``, parent ``p``, candidate
    ``cand``) is written to its slot. Returns ``(slot, m)``: slot -1 when it sorts past a full beam of ``K``
    (nothing changes), and the new number of children."""
    if m == K:
        r = K - 1
        if okey[r] < ck or (okey[r] == ck and otb[r] < ctb):
            return -1, m
        slot = order[r]  # the last one drops out; its slot is reused
    else:
        slot = m
        r = m
        m += 1
    while r > 0 and (okey[r - 1] > ck or (okey[r - 1] == ck and otb[r - 1] > ctb)):
        okey[r] = okey[r - 1]
        otb[r] = otb[r - 1]
        order[r] = order[r - 1]
        r -= 1
    okey[r] = ck
    otb[r] = ctb
    order[r] = slot
    xi[slot] = ci_
    xl[slot] = cl_
    xp[slot] = p
    xk[slot] = cand
    return slot, m


def _assign_blocks(n: int, m: int, K: int, WH: int, buf: Any, xp: Any, order: Any, own: Any, taken: Any, free: Any,
                   nbuf: Any, uh: Any) -> None:
    """Used-word blocks of the next beam's ``m`` children (best first) in ``nbuf``, copied on write: the first
    child of a parent takes over the parent's block, each further child copies it into a block no survivor uses
    (``own``, ``taken``, ``free``: scratch)."""
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


def _adopt(j: int, m: int, K: int, WH: int, ci: Any, chl: Any, okey: Any, order: Any, xi: Any, xl: Any, xp: Any,
           xk: Any, nbuf: Any, key: Any, idx: Any, le: Any, buf: Any, uh: Any, bp_par: Any, bp_cand: Any) -> None:
    """The next beam (best first) becomes the beam: keys, states and blocks, the chosen candidate's hypothesis
    words marked used in its block, and the back pointers of step ``j``."""
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


def _refresh_common(n: int, WH: int, buf: Any, uh: Any, common: Any) -> None:
    """``common``: the hypothesis words every one of the ``n`` alignments has used."""
    for w in range(WH):
        common[w] = uh[buf[0] * WH + w]
    for q in range(1, n):
        src = buf[q] * WH
        for w in range(WH):
            common[w] &= uh[src + w]


def _backtrack(n: int, key: Any, le: Any, SD: int, nr: int, K: int, bp_par: Any, bp_cand: Any, sel_out: Any) -> int:
    """Close the open chunks of the ``n`` final alignments, take the best (first on ties) and follow its back
    pointers: its chosen candidates go to ``sel_out`` (last reference position first). Returns their number."""
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


def _beam_arrays(work: Any, K: int, k0: int, uh0: Any, uh: Any, common: Any) -> Any:
    """Set-up of the beam arrays: ``work`` zeroed and cut into its ``WORK`` views of ``K`` items, and the start
    in place (one alignment of key ``k0``, no open chunk, the definite matches' words used).

    Returns ``key, idx, le, buf`` (the beam, best first: packed keys, next reference position, last hypothesis
    end, bit set block), ``xi, xl, xp, xk`` (the next beam's slots: state, parent, candidate), ``order, okey,
    otb`` (the next beam's slots best first, their keys and tie-breaks), ``nbuf, taken, own, free`` (scratch of
    :func:`_assign_blocks`) and ``prim`` (hypothesis position of each parent's best child, two-pass steps)."""
    for w in range(WORK * K):
        work[w] = 0
    key = work[0:K]
    idx = work[K : 2 * K]
    le = work[2 * K : 3 * K]
    buf = work[3 * K : 4 * K]
    xi = work[4 * K : 5 * K]
    xl = work[5 * K : 6 * K]
    xp = work[6 * K : 7 * K]
    xk = work[7 * K : 8 * K]
    order = work[8 * K : 9 * K]
    okey = work[9 * K : 10 * K]
    otb = work[10 * K : 11 * K]
    nbuf = work[11 * K : 12 * K]
    taken = work[12 * K : 13 * K]
    own = work[13 * K : 14 * K]
    free = work[14 * K : 15 * K]
    prim = work[15 * K : 16 * K]
    key[0] = k0
    le[0] = -1
    for w in range(len(uh0)):
        uh[w] = uh0[w]
        common[w] = uh0[w]  # words used by every alignment of the beam (only grows; refreshed now and then)
    return key, idx, le, buf, xi, xl, xp, xk, order, okey, otb, nbuf, taken, own, free, prim


def _covered_child(j: int, pk: int, pl: int, ip: int, SC: int, SD: int, ci: Any, chl: Any, crl: Any, cval: Any,
                   fixed: Any) -> tuple[int, int, int, int]:
    """The only child of a parent (key ``pk``, last hypothesis end ``pl``, next reference position ``ip``) whose
    reference position ``j`` is covered: inside its own match it passes through, else it takes the definite match
    at ``j``. Returns ``(key, next reference position, last hypothesis end, candidate)``; candidate -2: no definite
    match, the parent is dropped."""
    if j < ip:
        return pk, ip, pl, -1
    f = fixed[ip]
    if f < 0:
        return pk, ip, pl, -2
    fi = ci[f]
    dd = j - fi
    ck = pk - cval[f] * SC + (SD if (pl != -1 and fi != pl) else 0) + (dd if dd >= 0 else -dd)
    return ck, j + crl[f], fi + chl[f], f


def _free(k: int, j: int, pb: int, ci: Any, chl: Any, crl: Any, uh: Any, ur0: Any) -> bool:
    """Whether candidate ``k`` at reference position ``j`` touches no word used by the alignment whose hypothesis
    bit set starts at ``uh[pb]`` (nor a reference word of a definite match)."""
    i = ci[k]
    for t in range(i, i + chl[k]):
        if uh[pb + t // 63] & (1 << (t % 63)):
            return False
    for t in range(j, j + crl[k]):
        if ur0[t >> 5] & (1 << (t & 31)):
            return False
    return True


def _general_step(j: int, n: int, K: int, TBS: int, a: int, b: int, sm: int, maxsc: int, SC: int, SD: int, WH: int,
                  key: Any, idx: Any, le: Any, buf: Any, ci: Any, chl: Any, crl: Any, cval: Any, fixed: Any,
                  ur0: Any, uh: Any, okey: Any, otb: Any, order: Any, xi: Any, xl: Any, xp: Any, xk: Any) -> int:
    """One step at a reference position ``j`` whose candidates are not just exact one-word matches: the ``n``
    parents in beam order offer their children (the only one where ``j`` is covered, else the candidates and the
    skip child), until the pruning test says no later parent can place one. Returns the number of children."""
    m = 0
    covered = ur0[j >> 5] & (1 << (j & 31))
    for p in range(n):
        pk = key[p]
        if m == K and pk - maxsc >= okey[K - 1]:
            break  # every child is at least its parent's key less the best value: none can enter the beam
        pl = le[p]
        if j < idx[p] or covered:
            ck, ci_, cl_, cand = _covered_child(j, pk, pl, idx[p], SC, SD, ci, chl, crl, cval, fixed)
            if cand != -2:
                slot, m = _offer(ck, p * TBS, ci_, cl_, p, cand, m, K, okey, otb, order, xi, xl, xp, xk)
            continue
        # the candidates then the skip child: once one is refused, the skip child would be too; where every
        # candidate has one value (sm), so would each later child not continuing the chunk
        pb = buf[p] * WH
        acc = 0
        refused = False  # a match child was refused: the skip child will be too
        stop = False  # (same values) later non-continuation children will be refused too
        for k in range(a, b):
            i = ci[k]
            used = False
            for t in range(i, i + chl[k]):
                if uh[pb + t // 63] & (1 << (t % 63)):
                    used = True
                    break
            if not used:
                for t in range(j, j + crl[k]):
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
                continue
            inc = 1 if (pl != -1 and not cont) else 0
            ck = pk - cval[k] * SC + inc * SD + acc
            slot, m = _offer(ck, p * TBS + k - a, j + crl[k], i + chl[k], p, k, m, K, okey, otb, order, xi, xl, xp,
                             xk)
            acc += dd
            if slot < 0:
                refused = True
                if sm != 0:
                    if inc == 0:
                        break  # every later child of this parent is at least as bad
                    stop = True  # only a child continuing the chunk may still enter
        if not refused:  # the skip child
            ck = pk + (SD if pl != -1 else 0) + acc
            slot, m = _offer(ck, p * TBS + b - a, j + 1, -1, p, -1, m, K, okey, otb, order, xi, xl, xp, xk)
    return m


def _carry_best(key: Any, idx: Any, le: Any, okey: Any, order: Any, xi: Any, xl: Any, xp: Any, xk: Any) -> int:
    """Every alignment was dropped: the jar carries its best one on unchanged (the next beam is it alone)."""
    okey[0] = key[0]
    xi[0] = idx[0]
    xl[0] = le[0]
    xp[0] = 0
    xk[0] = -1
    order[0] = 0
    return 1


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
    rank of position ``i`` in its group; ``tab`` is :func:`bit_table`; ``live0`` starts as a copy of
    ``gw0``. Returns the number of chosen matches, or -1 when the packed sort keys would need more than
    ``maxbits`` bits (``maxbits`` 0: no limit, for Python's integers).
    """
    WH = len(uh0)
    # sort keys packed in one integer: (matches offset, chunks, distance)
    noff, bn, bc, bd, TBS = _key_fields(nr, cs, ci, chl, vmax)
    if maxbits > 0 and bd + bc + bn > maxbits:
        return -1
    SD = 1 << bd  # one chunk
    SC = 1 << (bd + bc)  # one match value
    key, idx, le, buf, xi, xl, xp, xk, order, okey, otb, nbuf, taken, own, free, prim = _beam_arrays(
        work, K, noff * SC, uh0, uh, common)
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
        last = 0  # key and tie-break (parent, rank among its siblings) of the last of a full next beam
        ltb = 0
        nb = b - a  # the skip child's rank
        if sm == 2:
            # Every candidate has the best value and comes from the bit sets. Two passes over the parents: each
            # parent's best child first, then its other children (which a full beam of good children mostly
            # refuses at once). Ties are broken by (parent, rank), i.e. in the jar's creation order, so the beam
            # is the same as offering every child in that order.
            g = rkg[j]
            gb = g * WH
            l0 = live0[g] - 1
            w1 = gw1[g]
            na = n
            for p in range(n):
                pk = key[p]
                if m == K and pk - maxsc >= last:
                    na = p
                    break  # no child of this or any later parent can enter the beam (in either pass)
                prim[p] = -2
                pl = le[p]
                ctb = p * TBS
                if j < idx[p]:  # inside its own match: passes through
                    ck = pk
                    ci_ = idx[p]
                    cl_ = pl
                    cand = -1
                elif ur0[jw] & jb:
                    f = fixed[idx[p]]
                    if f < 0:
                        continue  # dropped
                    fi = ci[f]  # the definite match
                    dd = j - fi
                    ck = pk - cval[f] * SC + (SD if (pl != -1 and fi != pl) else 0) + (dd if dd >= 0 else -dd)
                    ci_ = j + crl[f]
                    cl_ = fi + chl[f]
                    cand = f
                else:
                    # best child: the one continuing the chunk if its candidate is free (distance: the free
                    # candidates before it), else the first free candidate, else the skip child
                    pb = buf[p] * WH
                    w = l0
                    x = 0
                    acc = 0
                    first = -1
                    cont = False
                    stop_at = -1  # scan up to the continuation only when its candidate is free
                    if pl != -1:
                        pw = pl // 63
                        if pw < WH and ((kb[gb + pw] & ~uh[pb + pw]) >> (pl % 63)) & 1:
                            stop_at = pl
                    while True:
                        while x == 0 and w < w1:
                            w += 1
                            x = kb[gb + w] & ~uh[pb + w]
                        if x == 0:
                            break
                        low = x & -x
                        x ^= low
                        i = w * 63 + tab[((low * DEBRUIJN) >> 58) & 63]
                        if first < 0:
                            first = i
                        if i >= stop_at:
                            cont = i == pl
                            break
                        dd = j - i
                        acc += dd if dd >= 0 else -dd
                    ci_ = j + 1
                    if cont:
                        i = pl
                        ck = pk - maxsc + acc
                    elif first >= 0:
                        i = first
                        ck = pk - maxsc + (SD if pl != -1 else 0)
                    else:
                        i = -1
                        ck = pk + (SD if pl != -1 else 0)
                    prim[p] = i
                    if i >= 0:
                        cl_ = i + 1
                        cand = a + hrank[i]
                        ctb += hrank[i]
                    else:
                        cl_ = -1
                        cand = -1
                        ctb += nb
                slot, m = _offer(ck, ctb, ci_, cl_, p, cand, m, K, okey, otb, order, xi, xl, xp, xk)
                if slot >= 0 and m == K:
                    last = okey[K - 1]
                    ltb = otb[K - 1]
            for p in range(na):  # the other children
                q = prim[p]
                if q < 0:
                    continue  # (a single child, or no free candidate)
                pk = key[p]
                pl = le[p]
                inc = SD if pl != -1 else 0
                if m == K:
                    bk = pk - maxsc
                    if bk > last or (bk == last and p * TBS >= ltb):
                        break
                    # this parent's other children: a new chunk if one is open, and the distance of its first
                    # candidate once that candidate was the best child
                    if q != pl:
                        dd = j - q
                        bk += dd if dd >= 0 else -dd
                    bk += inc
                    if bk > last or (bk == last and p * TBS >= ltb):
                        continue
                pb = buf[p] * WH
                w = l0
                x = 0
                acc = 0
                refused = False
                while True:
                    while x == 0 and w < w1:
                        w += 1
                        x = kb[gb + w] & ~uh[pb + w]
                    if x == 0:
                        break
                    low = x & -x
                    x ^= low
                    i = w * 63 + tab[((low * DEBRUIJN) >> 58) & 63]
                    dd = j - i
                    if dd < 0:
                        dd = -dd
                    if i == q:
                        acc += dd
                        continue
                    # keys grow with the distance: once one sibling is refused, all later ones are
                    ck = pk - maxsc + inc + acc
                    ctb = p * TBS + hrank[i]
                    slot, m = _offer(ck, ctb, j + 1, i + 1, p, a + hrank[i], m, K, okey, otb, order, xi, xl, xp, xk)
                    acc += dd
                    if slot < 0:
                        refused = True
                        break
                    if m == K:
                        last = okey[K - 1]
                        ltb = otb[K - 1]
                if not refused:  # the skip child
                    ck = pk + inc + acc
                    ctb = p * TBS + nb
                    slot, m = _offer(ck, ctb, j + 1, -1, p, -1, m, K, okey, otb, order, xi, xl, xp, xk)
                    if slot >= 0 and m == K:
                        last = okey[K - 1]
                        ltb = otb[K - 1]
        else:
            m = _general_step(j, n, K, TBS, a, b, sm, maxsc, SC, SD, WH, key, idx, le, buf, ci, chl, crl, cval, fixed,
                              ur0, uh, okey, otb, order, xi, xl, xp, xk)
        if m == 0:
            m = _carry_best(key, idx, le, okey, order, xi, xl, xp, xk)
        # materialise the new beam
        _assign_blocks(n, m, K, WH, buf, xp, order, own, taken, free, nbuf, uh)
        _adopt(j, m, K, WH, ci, chl, okey, order, xi, xl, xp, xk, nbuf, key, idx, le, buf, uh, bp_par, bp_cand)
        n = m
        if j & 7 == 7:
            _refresh_common(n, WH, buf, uh, common)
    return _backtrack(n, key, le, SD, nr, K, bp_par, bp_cand, sel_out)


def _candidates(nr: int, order: Any, lo: Any, hi: Any, xj: Any, xi: Any, xhl: Any, xrl: Any, xmod: Any,
                wts: Any) -> Any:
    """The candidates in the jar's order: ``cs, cj, ci, chl, crl, cmod, cval`` (see :func:`prepare`). The exact
    matches of reference word ``j`` are hypothesis positions ``order[lo[j]:hi[j]]``."""
    nx = len(xj)
    total = nx
    for j in range(nr):
        total += hi[j] - lo[j]
    cs = np.zeros(nr + 1, dtype=np.int64)
    cj = np.empty(total, dtype=np.int64)
    ci = np.empty(total, dtype=np.int64)
    chl = np.empty(total, dtype=np.int64)
    crl = np.empty(total, dtype=np.int64)
    cmod = np.empty(total, dtype=np.int64)
    cval = np.empty(total, dtype=np.int64)
    v0 = math.floor(wts[0]) + math.floor(wts[0])
    k = 0
    e = 0
    for j in range(nr):
        cs[j] = k
        for s in range(lo[j], hi[j]):
            cj[k] = j
            ci[k] = order[s]
            chl[k] = 1
            crl[k] = 1
            cmod[k] = 0
            cval[k] = v0
            k += 1
        while e < nx and xj[e] == j:
            cj[k] = j
            ci[k] = xi[e]
            chl[k] = xhl[e]
            crl[k] = xrl[e]
            cmod[k] = xmod[e]
            w = wts[xmod[e]]
            cval[k] = math.floor(xhl[e] * w) + math.floor(xrl[e] * w)
            k += 1
            e += 1
    cs[nr] = k
    return cs, cj, ci, chl, crl, cmod, cval


def _definite(nh: int, nr: int, cs: Any, cj: Any, ci: Any, chl: Any, crl: Any, cval: Any, lo: Any,
              hi: Any) -> Any:
    """Per reference position, ``fixed, uh0, ur0, vmax, same`` (see :func:`beam_search`): the jar's definite
    matches and the words they use, the best candidate value, and whether the candidates share one value
    (1) or are just the exact one-word matches (2)."""
    total = cs[nr]
    # the jar's definite matches: the only candidate at its position, covering words no other candidate covers
    hcov = np.zeros(nh + 1, dtype=np.int64)
    rcov = np.zeros(nr + 1, dtype=np.int64)
    for k in range(total):
        for t in range(ci[k], ci[k] + chl[k]):
            hcov[t] += 1
        for t in range(cj[k], cj[k] + crl[k]):
            rcov[t] += 1
    wh = (nh + 62) // 63 if nh > 0 else 1
    fixed = np.full(nr, -1, dtype=np.int64)
    uh0 = np.zeros(wh, dtype=np.int64)
    ur0 = np.zeros((nr + 31) >> 5 if nr > 0 else 1, dtype=np.int64)
    vmax = np.zeros(nr, dtype=np.int64)
    same = np.ones(nr, dtype=np.int64)
    for j in range(nr):
        a = cs[j]
        b = cs[j + 1]
        if b == a:
            continue
        if b - a == 1:
            i = ci[a]
            ok = True
            for t in range(j, j + crl[a]):
                if rcov[t] != 1:
                    ok = False
            for t in range(i, i + chl[a]):
                if hcov[t] != 1:
                    ok = False
            if ok:
                fixed[j] = a
                for t in range(i, i + chl[a]):
                    uh0[t // 63] |= 1 << (t % 63)
                for t in range(j, j + crl[a]):
                    ur0[t >> 5] |= 1 << (t & 31)
        hv = cval[a]
        lv = cval[a]
        for k in range(a + 1, b):
            if cval[k] > hv:
                hv = cval[k]
            if cval[k] < lv:
                lv = cval[k]
        vmax[j] = hv
        if hv != lv:
            same[j] = 0
        if b - a == hi[j] - lo[j]:
            same[j] = 2  # just the exact one-word matches: taken from the bit sets of their word's group
    return fixed, uh0, ur0, vmax, same


def _word_groups(nh: int, nr: int, order: Any, sk: Any, lo: Any, hi: Any, same: Any, wh: int) -> Any:
    """``hrank, rkg, kb, gw0, gw1`` (see :func:`beam_search`): the rank of each hypothesis position among the
    positions of its word, and the bit sets of the word groups of the positions whose ``same`` is 2."""
    # rank of each hypothesis position among the positions of its word; groups of the words of such positions
    hrank = np.zeros(nh, dtype=np.int64)
    r0 = 0
    for s in range(nh):
        if s > 0 and sk[s] != sk[s - 1]:
            r0 = s
        hrank[order[s]] = s - r0
    gid = np.full(nh + 1, -1, dtype=np.int64)  # group of the word whose positions start at sorted index s
    rkg = np.zeros(nr, dtype=np.int64)
    ng = 0
    for j in range(nr):
        if same[j] == 2:
            s = lo[j]
            if gid[s] < 0:
                gid[s] = ng
                ng += 1
            rkg[j] = gid[s]
    kb = np.zeros((ng if ng > 0 else 1) * wh, dtype=np.int64)
    gw0 = np.zeros(ng if ng > 0 else 1, dtype=np.int64)
    gw1 = np.full(ng if ng > 0 else 1, -1, dtype=np.int64)
    for j in range(nr):
        g = rkg[j]
        if same[j] == 2 and gw1[g] < 0:
            for s in range(lo[j], hi[j]):
                t = order[s]
                kb[g * wh + t // 63] |= 1 << (t % 63)
            gw0[g] = order[lo[j]] // 63
            gw1[g] = order[hi[j] - 1] // 63
    return hrank, rkg, kb, gw0, gw1


def prepare(hk: Any, rk: Any, xj: Any, xi: Any, xhl: Any, xrl: Any, xmod: Any, wts: Any) -> Any:
    """Candidate matches in the jar's order and the tables :func:`beam_search` reads.

    ``hk``/``rk``: word keys of the hypothesis and the reference; ``xj``, ``xi``, ``xhl``, ``xrl``, ``xmod``:
    the stem/synonym/paraphrase candidates (reference start, hypothesis start, lengths, module), sorted by
    reference start then module; ``wts``: the search weight of each module. At each reference position the
    exact matches (hypothesis positions ascending) come first, then that position's extra candidates.
    Returns ``cs, cj, ci, chl, crl, cmod, cval, same, fixed, uh0, ur0, vmax, rkg, hrank, kb, gw0, gw1``.
    """
    nh = len(hk)
    nr = len(rk)
    order = np.argsort(hk, kind="mergesort")
    sk = hk[order]
    lo = np.searchsorted(sk, rk, side="left")
    hi = np.searchsorted(sk, rk, side="right")
    cs, cj, ci, chl, crl, cmod, cval = _candidates(nr, order, lo, hi, xj, xi, xhl, xrl, xmod, wts)
    fixed, uh0, ur0, vmax, same = _definite(nh, nr, cs, cj, ci, chl, crl, cval, lo, hi)
    hrank, rkg, kb, gw0, gw1 = _word_groups(nh, nr, order, sk, lo, hi, same, len(uh0))
    return cs, cj, ci, chl, crl, cmod, cval, same, fixed, uh0, ur0, vmax, rkg, hrank, kb, gw0, gw1


def row_stats(sel: Any, cnt: int, cj: Any, ci: Any, chl: Any, crl: Any, cmod: Any, hf: Any, rf: Any, row: Any) -> None:
    """Columns 4-23 of the statistics row from the chosen candidates ``sel[cnt - 1], ..., sel[0]`` (by reference
    position): matched words per module and word kind (``hf``/``rf`` 1 for function words), chunks, matched
    word counts, and the chunk count of the corpus aggregate (0 for a perfect alignment)."""
    twm = 0
    rwm = 0
    chunks = 0
    pi = -1
    pj = -1
    for q in range(cnt - 1, -1, -1):
        k = sel[q]
        i = ci[k]
        j = cj[k]
        base = 4 + 4 * cmod[k]
        for t in range(i, i + chl[k]):
            row[base + 2 * hf[t]] += 1
        for t in range(j, j + crl[k]):
            row[base + 1 + 2 * rf[t]] += 1
        if i != pi or j != pj:
            chunks += 1  # a new chunk wherever a match does not continue the previous one on both sides
        twm += chl[k]
        rwm += crl[k]
        pi = i + chl[k]
        pj = j + crl[k]
    row[20] = chunks
    row[21] = twm
    row[22] = rwm
    row[23] = 0 if (twm == len(hf) and rwm == len(rf) and chunks == 1) else chunks


def pair_row(hk: Any, rk: Any, xj: Any, xi: Any, xhl: Any, xrl: Any, xmod: Any, wts: Any, hf: Any, rf: Any,
             tab: Any, row: Any, K: int, maxbits: int) -> int:
    """Candidates, search and statistics of one pair in one call (the compiled path); ``row[4:]`` is filled.

    Returns the number of chosen matches, or -1 (``row`` untouched) when the sort keys are too wide."""
    t = prepare(hk, rk, xj, xi, xhl, xrl, xmod, wts)
    cs, cj, ci, chl, crl, cmod, cval, same, fixed, uh0, ur0, vmax, rkg, hrank, kb, gw0, gw1 = t
    nr = len(rk)
    wh = len(uh0)
    sel = np.zeros(nr, dtype=np.int64)
    cnt = 0
    if cs[nr] > 0:
        cnt = beam_search(nr, cs, ci, chl, crl, cval, same, fixed, uh0, ur0, K, np.empty(nr * K, dtype=np.int64),
                          np.empty(nr * K, dtype=np.int64), sel, np.empty(WORK * K, dtype=np.int64),
                          np.empty(K * wh, dtype=np.int64), vmax, rkg, hrank, kb, gw0, gw1, tab, gw0.copy(),
                          np.zeros(wh, dtype=np.int64), maxbits)
        if cnt < 0:
            return -1
    row_stats(sel, cnt, cj, ci, chl, crl, cmod, hf, rf, row)
    return cnt


def pair_row_python(hk: Any, rk: Any, xj: Any, xi: Any, xhl: Any, xrl: Any, xmod: Any, wts: Any, hf: Any,
                    rf: Any, tab: Any, row: Any, K: int) -> int:
    """:func:`pair_row` in plain Python (no numba, or keys too wide for int64): the same functions, on lists."""
    t = [x.tolist() for x in prepare(hk, rk, xj, xi, xhl, xrl, xmod, wts)]
    cs, cj, ci, chl, crl, cmod, cval, same, fixed, uh0, ur0, vmax, rkg, hrank, kb, gw0, gw1 = t
    nr = len(rk)
    wh = len(uh0)
    sel = [0] * nr
    cnt = 0
    if cs[nr] > 0:
        cnt = beam_search(nr, cs, ci, chl, crl, cval, same, fixed, uh0, ur0, K, [0] * (nr * K), [0] * (nr * K), sel,
                          [0] * (WORK * K), [0] * (K * wh), vmax, rkg, hrank, kb, gw0, gw1, tab.tolist(), gw0[:],
                          [0] * wh, 0)
    row_stats(sel, cnt, cj, ci, chl, crl, cmod, hf.tolist(), rf.tolist(), row)
    return cnt


def bit_table() -> Any:
    """``tab[((1 << b) * DEBRUIJN) >> 58 & 63] == b`` for the 63 bits of a hypothesis word."""
    tab = np.zeros(64, dtype=np.int64)
    for b in range(63):
        tab[(((1 << b) * DEBRUIJN) >> 58) & 63] = b
    return tab


# ---------------------------------------------------------------------------------------------
# compiled copy (numba, when installed)

# the functions pair_row calls, directly or through beam_search/prepare: compiled with it
_KERNEL = (prepare, _candidates, _definite, _word_groups, beam_search, row_stats, _key_fields, _offer,
           _assign_blocks, _adopt, _refresh_common, _backtrack, _beam_arrays, _covered_child,
           _general_step, _carry_best)
_INLINED = (_offer, _assign_blocks, _adopt, _refresh_common, _covered_child,
            _general_step, _carry_best)
_LOCK = threading.Lock()
_JIT: Any = None
_JIT_TRIED = False


def _trial(fn: Any) -> bool:
    """Compile (or load from numba's cache) and run ``fn`` on a two-word problem; True if it answers right."""
    row = np.zeros(24)
    e = np.zeros(0, dtype=np.int64)
    one = np.ones(2, dtype=np.int64)
    cnt = fn(np.array([7, 5], dtype=np.int64), np.array([5, 7], dtype=np.int64), e, e, e, e, e,
             np.array([1.0, 0.5, 0.5, 0.5]), one, one, _TAB, row, BEAM, MAXBITS)
    return cnt == 2 and row[4:24].tolist() == [0, 0, 2, 2] + [0] * 12 + [2, 2, 2, 2]  # crossed: two chunks


def compiled() -> Any:
    """The numba-compiled :func:`pair_row`, or None (numba missing or unusable, or ``PET2REP_NO_JIT=1``: see
    :mod:`pet2rep.metrics.jit`)."""
    global _JIT, _JIT_TRIED
    if _JIT_TRIED:
        return _JIT
    with _LOCK:
        if not _JIT_TRIED:
            from pet2rep.metrics.jit import compile_checked

            # the steps pair_row calls, directly or through beam_search/prepare, are compiled with it; the small
            # steps of the inner loops inlined
            _JIT = compile_checked(pair_row, _trial, helpers=_KERNEL, inlined=_INLINED)
            _JIT_TRIED = True
    return _JIT


def score_pair(hk: Any, rk: Any, xj: Any, xi: Any, xhl: Any, xrl: Any, xmod: Any, wts: Any, hf: Any, rf: Any,
               row: Any) -> None:
    """Fill ``row[4:24]`` for one pair (arguments as :func:`pair_row`), compiled when possible."""
    fn = compiled()
    if fn is None or fn(hk, rk, xj, xi, xhl, xrl, xmod, wts, hf, rf, _TAB, row, BEAM, MAXBITS) < 0:
        pair_row_python(hk, rk, xj, xi, xhl, xrl, xmod, wts, hf, rf, _TAB, row, BEAM)


def kernel_name() -> str:
    """'numba' or 'python': which copy of the search runs in this process."""
    return "numba" if compiled() is not None else "python"


_TAB = bit_table()

__all__ = ["BEAM", "beam_search", "compiled", "kernel_name", "pair_row", "prepare", "row_stats", "score_pair"]
