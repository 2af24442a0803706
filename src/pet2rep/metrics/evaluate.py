"""`pet2rep evaluate`: score predictions with BLEU-1..4, METEOR, ROUGE-L, CIDEr-D, organ uptake (OUA),
failure modes and bootstrap intervals, from one pass over the samples.

Per-sample sufficient statistics (METEOR match statistics, OUA TP/FP/FN, uptake labels, failure flags) are
computed in a process pool over chunks of samples while the parent computes the whole-set metrics from one
n-gram table (BLEU counts, ROUGE-L, CIDEr-D with document frequencies over the whole set); the corpus
reductions and the bootstrap run in the parent. Outputs: ``DIR/metrics.json`` and ``DIR/per_sample.jsonl``
(written atomically).
"""

from __future__ import annotations

import contextlib
import gc
import json
import os
import sys
import time
from collections import Counter, OrderedDict
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import numpy as np

from pet2rep.errors import InputError
from pet2rep.io import atomic_write_text

METRICS_FILE = "metrics.json"
PER_SAMPLE_FILE = "per_sample.jsonl"
LANGS = ("auto", "zh", "en")
METEOR_IMPLS = ("native", "jar")

# ----------------------------------------------------------------------------- worker side
# The pool's workers get the shared tables once (inherited on fork, pickled once otherwise) through the
# initializer; a chunk task is then only a range of sample indices.
_W: dict[str, Any] = {}


def _init_worker(state: dict[str, Any]) -> None:
    _W.clear()
    _W.update(state)
    _W["lab"] = dict(state.get("pre_lab", {}))
    _W["lng"] = dict(state.get("pre_lng", {}))
    _W["met"], _W["met_new"] = {}, {}


# Parent-side cache of what references cost (tokens, uptake labels, language) across score_pairs calls
# in one process: scoring many models against the same references extracts each reference once.
_REF_CACHE: OrderedDict[str, dict[str, Any]] = OrderedDict()
REF_CACHE_MAX = 5000


def clear_reference_cache() -> None:
    """Forget the references cached by earlier score_pairs calls in this process."""
    _REF_CACHE.clear()


def _ref_cache_prefill(state: dict[str, Any]) -> None:
    """Tokens, labels and languages of references seen by earlier calls, into `state`."""
    texts, seg = state["texts"], state["segmenter"] or "none"
    tokens: list[list[str] | None] = [None] * len(texts)
    pre_lab: dict[tuple[int, str], dict[str, list[str]]] = {}
    pre_lng: dict[int, str | None] = {}
    pre_met: dict[int, list] = {}
    ref_tids = set(state["ref_tid"])
    if state.get("ref_cache"):
        _disk_prefill(state, ref_tids)
    for tid in ref_tids:
        entry = _REF_CACHE.get(texts[tid])
        if entry is None:
            continue
        _REF_CACHE.move_to_end(texts[tid])
        tokens[tid] = entry["tok"].get(seg)
        for lg, lab in entry["lab"].items():
            pre_lab[(tid, lg)] = lab
        if "lng" in entry:
            pre_lng[tid] = entry["lng"]
        if seg in entry.get("met", {}) and tokens[tid] is not None:
            pre_met[tid] = entry["met"][seg]
    state["tokens"], state["pre_lab"], state["pre_lng"] = tokens, pre_lab, pre_lng
    state["pre_met"] = pre_met


def _disk_prefill(state: dict[str, Any], ref_tids: set[int]) -> None:
    """Load the references missing from the in-process cache from the persistent one (metrics/cache.py)."""
    from pet2rep.metrics.cache import open_cache
    from pet2rep.metrics.tokenize import tokenizer_signature

    texts, seg = state["texts"], state["segmenter"] or "none"
    tsig = tokenizer_signature(state["segmenter"])
    db = open_cache(warn=state.get("warn"))
    state["disk"], state["disk_had"] = db, {}
    if db is None:
        return
    try:
        got = db.get_many({texts[t] for t in ref_tids if texts[t] not in _REF_CACHE})
    except Exception as exc:  # noqa: BLE001 - a broken cache costs speed, never a result
        (state.get("warn") or _stderr)(f"reference cache {db.path} unreadable ({exc}); scoring without it")
        state["disk"] = None
        return
    for text, e in got.items():
        entry: dict[str, Any] = {"tok": {}, "lab": dict(e.get("lab", {})), "met": {}}
        if tsig in e.get("tok", {}):
            entry["tok"][seg] = e["tok"][tsig]
        if tsig in e.get("met", {}):
            entry["met"][seg] = e["met"][tsig]
        if "lng" in e:
            entry["lng"] = e["lng"]
        _REF_CACHE[text] = entry
        state["disk_had"][text] = (set(entry["tok"]), set(entry["lab"]), "lng" in entry, set(entry["met"]))
        entry["on_disk"] = (str(db.path), state["disk_had"][text])  # what that file holds of it


def _ref_cache_store(state: dict[str, Any], recs: list[dict[str, Any]]) -> None:
    texts, seg = state["texts"], state["segmenter"] or "none"
    for rec in recs:
        tid = state["ref_tid"][rec["i"]]
        entry = _REF_CACHE.setdefault(texts[tid], {"tok": {}, "lab": {}})
        entry["tok"][seg] = state["tokens"][tid]
        entry["lab"][rec.pop("ref_lab_key")] = {o: list(st) for o, st in rec["ref_labels"].items()}
        if "ref_lang" in rec:
            entry["lng"] = rec.pop("ref_lang")
        met = rec.pop("ref_met", None)
        if met is not None:
            entry.setdefault("met", {})[seg] = met
    if state.get("disk") is not None:
        _disk_store(state, {texts[state["ref_tid"][rec["i"]]] for rec in recs})
    while len(_REF_CACHE) > REF_CACHE_MAX:
        _REF_CACHE.popitem(last=False)


def _disk_store(state: dict[str, Any], ref_texts: set[str]) -> None:
    """Write what this run learnt about its references to the persistent cache (one transaction)."""
    from pet2rep.metrics.tokenize import tokenizer_signature

    seg, tsig = state["segmenter"] or "none", tokenizer_signature(state["segmenter"])
    db, had = state["disk"], state.get("disk_had", {})
    where = str(db.path)
    new: dict[str, dict[str, Any]] = {}
    wrote: dict[str, Any] = {}
    for text in ref_texts:
        entry = _REF_CACHE.get(text)
        if entry is None:
            continue
        known = (set(entry["tok"]), set(entry["lab"]), "lng" in entry, set(entry.get("met", {})))
        if had.get(text) == known or entry.get("on_disk") == (where, known):
            continue  # nothing new (read from that file, or written to it by an earlier run of this process)
        wrote[text] = known
        row: dict[str, Any] = {"tok": {}, "lab": entry["lab"], "met": {}}
        if entry["tok"].get(seg) is not None:
            row["tok"][tsig] = entry["tok"][seg]
        if seg in entry.get("met", {}):
            row["met"][tsig] = entry["met"][seg]
        if "lng" in entry:
            row["lng"] = entry["lng"]
        new[text] = row
    try:
        db.put_many(new)
        for text, known in wrote.items():
            _REF_CACHE[text]["on_disk"] = (where, known)
    except Exception as exc:  # noqa: BLE001 - a broken cache costs speed, never a result
        (state.get("warn") or _stderr)(f"reference cache {db.path} not written ({exc})")
    finally:
        db.close()
        state["disk"] = None


def _tokens(tid: int) -> list[str]:
    """Tokens of text `tid` (made here the first time a worker needs them)."""
    toks = _W["tokens"]
    t = toks[tid]
    if t is None:
        from pet2rep.metrics.tokenize import tokenize

        t = toks[tid] = tokenize(_W["texts"][tid], _W["segmenter"])
    return t


def _set_stats(state: dict[str, Any], names: tuple[str, ...]) -> dict[str, np.ndarray]:
    """{name: (n, width) statistics} of the metrics computed over the whole set (CIDEr-D: document frequencies from
    all its references; BLEU: per-pair counts, from the n-gram table CIDEr-D counts anyway)."""
    from pet2rep.metrics.nlg import shared_ngrams
    from pet2rep.metrics.registry import METRICS

    tokens = state["tokens"]
    hyps, refs = [tokens[t] for t in state["hyp_tid"]], [tokens[t] for t in state["ref_tid"]]
    with shared_ngrams():
        return {name: METRICS[name].set_stats(hyps, refs, state["opts"]) for name in names}


def _labels(tid: int, lang: str | None) -> dict[str, list[str]]:
    key = (tid, lang or "auto")
    cache = _W["lab"]
    lab = cache.get(key)
    if lab is None:
        from pet2rep.metrics.uptake import extract_uptake

        text = _W["texts"][tid]
        lab = extract_uptake(text, lang=lang or "auto") if text.strip() else {}
        lab = {str(o): sorted({str(s) for s in (st or ())}) for o, st in (lab or {}).items()}
        if _W["multi"][tid]:
            cache[key] = lab
    return lab


def _lang(tid: int) -> str | None:
    """Language of a hypothesis or reference text (found before the workers forked: _languages)."""
    return _W["lng"][tid]


def _ref_side(tid: int, rtok: list[str], i: int) -> Any:
    """METEOR's reference-side tables of text `tid` (from the reference cache, else made and kept once)."""
    from pet2rep.metrics.meteor import RefSide, reference_side

    memo = _W["met"]
    rs = memo.get(tid)
    if rs is None:
        pre = _W.get("pre_met", {}).get(tid)
        if pre is not None:
            rs = RefSide.from_parts(rtok if pre[0] is None else pre[0], pre[1])
        else:
            rs = reference_side(rtok)
            _W["met_new"][i] = [None if rs.tokens == rtok else rs.tokens, sorted(rs.fun)]
        memo[tid] = rs
    return rs


def _score_range(bounds: tuple[int, int]) -> list[dict[str, Any]]:
    """Per-sample statistics for samples [start, stop): every registered per-pair metric, labels, failures."""
    from pet2rep.metrics.clinical import mentioned_organs
    from pet2rep.metrics.failures import detect_failures
    from pet2rep.metrics.registry import METRICS, Pair

    out: list[dict[str, Any]] = []
    pairs: list[Pair] = []
    w = _W
    native = w.get("meteor_impl", "native") == "native"
    for i in range(*bounds):
        h, r, p = w["hyp_tid"][i], w["ref_tid"][i], w["prompt_tid"][i]
        htok, rtok = _tokens(h), _tokens(r)
        ref_lang = _lang(r) if w["expected"][i] is None else None
        expected = w["expected"][i] or ref_lang
        hyp_text = w["texts"][h]
        hyp_lang = _lang(h) if hyp_text.strip() else None
        hlab = _labels(h, hyp_lang)
        rlab = _labels(r, expected)
        tlab = None
        if not mentioned_organs(rlab) and p >= 0:
            tlab = _labels(p, expected)
        fail = detect_failures(
            hyp_text, prompt=w["texts"][p] if p >= 0 else None, finish_reason=w["finish"][i],
            error=w["error"][i], expected_lang=expected, hyp_lang=hyp_lang, hyp_labels=hlab,
            ref_labels=rlab, template_labels=tlab,
        )
        pairs.append(Pair(htok, rtok, hlab, rlab, {"meteor": _ref_side(r, rtok, i)} if native else {}))
        rec: dict[str, Any] = {
            "i": i,
            "stats": {},
            "hyp_labels": hlab,
            "ref_labels": rlab,
            "ref_lab_key": expected or "auto",
            "failures": fail,
            "lang": hyp_lang,
            "expected_lang": expected,
            "n_tokens": (len(htok), len(rtok)),
        }
        if w["expected"][i] is None:
            rec["ref_lang"] = ref_lang
        if i in w["met_new"]:
            rec["ref_met"] = w["met_new"].pop(i)
        out.append(rec)
    if out:
        for name, metric in METRICS.items():
            if metric.per_set or (name == "meteor" and not native):  # the jar's METEOR comes later, in the parent
                continue
            for rec, row in zip(out, metric.chunk_stats(pairs, w["opts"])):
                rec["stats"][name] = row
    return out


# ----------------------------------------------------------------------------- parent side


def _fork_context():
    import multiprocessing as mp

    return mp.get_context("fork") if "fork" in mp.get_all_start_methods() else mp.get_context("spawn")


# Below this many characters of distinct hypothesis and reference text, scoring takes under a tenth of a second
# and starting worker processes (~30 ms with one pool) costs more than it saves: the samples are scored here.
PARALLEL_MIN_CHARS = 20_000


def _chunks(n: int, workers: int, smallest: int = 16) -> list[tuple[int, int]]:
    """[start, stop) ranges that split n samples over the workers, largest first ("guided"): each takes a third of
    what is left per worker (at most 512, at least `smallest`), so the chunks at the end are small and the workers
    finish together instead of one waiting out another's last big chunk."""
    out = []
    s = 0
    while s < n:
        size = max(smallest, min(512, -(-(n - s) // max(1, workers * 3))))
        out.append((s, min(n, s + size)))
        s += size
    return out


@contextlib.contextmanager
def _objects_frozen() -> Any:
    """Keep the objects that exist now out of garbage collections until the block ends (``gc.freeze``).

    The lexicons, the compiled kernel and the modules are a few hundred thousand tracked objects. A forked
    worker that runs a full collection walks all of them and touches every page they live on, so each page is
    copied into the worker: 0.15-0.35 s per collection, one or two per worker per run. Frozen, they are skipped
    (in the workers, which inherit the frozen state, and in this process); garbage made during the block is
    still collected, and the frozen objects go back to the oldest generation at the end."""
    gc.freeze()
    try:
        yield
    finally:
        gc.unfreeze()


def _languages(state: dict[str, Any]) -> None:
    """The language of every text not known from the reference cache (into state["pre_lng"], read by the workers),
    and the lexicons of those languages loaded here, before any worker forks: each worker would compile them again
    (the English lexicon takes ~0.7 s)."""
    from pet2rep.metrics.uptake import detect_lang, load_lexicon

    texts, lng = state["texts"], state["pre_lng"]
    for tid in set(state["hyp_tid"]) | set(state["ref_tid"]):
        if tid not in lng:
            lng[tid] = detect_lang(texts[tid]) if texts[tid].strip() else None
    for lg in sorted({x for x in lng.values() if x} | {x for x in state["expected"] if x}):
        load_lexicon(lg)


def _run_samples(state: dict[str, Any], n: int,
                 workers: int) -> tuple[list[dict[str, Any]], dict[str, np.ndarray]]:
    """Per-sample records (with every per-pair metric's statistics) and the statistics of the whole-set metrics
    (CIDEr-D), in process pools when it pays off.

    The workers go through chunks of samples (tokenising the texts of their chunk; cached references come with
    their tokens) while this process tokenises every distinct text once and computes the whole-set metrics
    (CIDEr-D's document frequencies need every reference; BLEU shares its n-gram table). Small runs are scored
    here, without workers.
    """
    # Import (and load the lexicons of) the scorers before forking so that workers inherit them.
    from concurrent.futures import ProcessPoolExecutor

    from pet2rep.metrics import meteor, nlg, uptake  # noqa: F401
    from pet2rep.metrics.failures import lexicon
    from pet2rep.metrics.registry import METRICS
    from pet2rep.metrics.tokenize import tokenize

    lexicon()
    if state.get("meteor_impl", "native") == "native":
        meteor.warm_up()  # the compiled METEOR alignment kernel, loaded once and inherited by the workers
    _ref_cache_prefill(state)
    _languages(state)
    tokens = state["tokens"]
    need = sorted(t for t in set(state["hyp_tid"]) | set(state["ref_tid"]) if tokens[t] is None)
    chunks = _chunks(n, workers)
    texts, seg = state["texts"], state["segmenter"]
    work = sum(len(texts[t]) for t in set(state["hyp_tid"]) | set(state["ref_tid"]))
    serial = workers <= 1 or len(chunks) <= 1 or work < PARALLEL_MIN_CHARS
    per_set = tuple(name for name, m in METRICS.items() if m.per_set)
    if serial:
        for tid in need:
            tokens[tid] = tokenize(texts[tid], seg)
        _init_worker(state)
        try:
            set_stats = _set_stats(state, per_set)
            recs = [rec for c in chunks for rec in _score_range(c)]
        finally:
            _W.clear()
    else:
        if any(not texts[t].isascii() for t in need):
            from pet2rep.metrics.tokenize import warm_up

            warm_up()  # the normalisation table, built here once rather than in every worker
        with ProcessPoolExecutor(max_workers=min(workers, len(chunks)), mp_context=_fork_context(),
                                 initializer=_init_worker, initargs=(state,)) as pool:
            parts = [pool.submit(_score_range, c) for c in chunks]
            # meanwhile, here: every text's tokens (for the whole-set metrics and the reference cache), then those
            # metrics; the workers tokenise what their chunks need themselves
            for tid in need:
                tokens[tid] = tokenize(texts[tid], seg)
            set_stats = _set_stats(state, per_set)
            recs = [rec for f in parts for rec in f.result()]
    _ref_cache_store(state, recs)
    if state.get("meteor_impl") == "jar":
        _jar_meteor(state, recs)
    return recs, set_stats


def _jar_meteor(state: dict[str, Any], recs: list[dict[str, Any]]) -> None:
    """METEOR statistics from the real METEOR 1.5 jar (one persistent JVM), as pycocoevalcap feeds it."""
    from pet2rep.metrics.meteor import with_aggregate_chunks
    from pet2rep.metrics.meteor_jar import MeteorJar

    tokens, hyp_tid, ref_tid = state["tokens"], state["hyp_tid"], state["ref_tid"]
    with MeteorJar() as jar:
        lines = [jar.stats_line(" ".join(tokens[hyp_tid[r["i"]]]), " ".join(tokens[ref_tid[r["i"]]]))
                 for r in recs]
    rows = with_aggregate_chunks(np.array([[float(x) for x in ln.split()] for ln in lines], dtype=np.float64)
                                  .reshape(len(lines), -1))
    for rec, row in zip(recs, rows):
        rec["stats"]["meteor"] = row


# Longest text scored, in characters (reports are 0.5-3k; a model stuck in a repetition loop writes megabytes).
# Beyond it an output is cut for scoring and its per-sample row says `truncated_for_scoring`, so time and memory
# stay bounded whatever a model writes.
MAX_SCORED_CHARS = 20_000


def _as_text(x: Any) -> str:
    if x is None:
        return ""
    if isinstance(x, str):
        return x
    if isinstance(x, (list, tuple)):
        return _as_text(x[0]) if x else ""
    return str(x)


def _options(segmenter: str | None, lang: str, meteor_impl: str, ce_states: str) -> Any:
    """The registry's scoring options of one run."""
    from pet2rep.metrics.registry import Options
    from pet2rep.metrics.tokenize import tokenizer_signature

    return Options(segmenter, tokenizer_signature(segmenter), lang, meteor_impl, ce_states)


def _signatures(segmenter: str | None, bootstrap: int, seed: int, lang: str,
                meteor_impl: str = "native", ce_states: str = "all") -> dict[str, str]:
    """metrics.json's signatures: the tokenizer's, every registered metric's, the failure modes' and the
    bootstrap's."""
    from pet2rep.metrics.failures import failures_signature
    from pet2rep.metrics.registry import METRICS
    from pet2rep.metrics.stats import bootstrap_signature

    opts = _options(segmenter, lang, meteor_impl, ce_states)
    sigs: dict[str, str] = {"tokenizer": opts.tokenizer}
    sigs.update((name, m.signature(opts)) for name, m in METRICS.items())
    sigs["failures"] = failures_signature()
    sigs["bootstrap"] = bootstrap_signature(bootstrap, seed) if bootstrap > 0 else "bootstrap:off"
    return sigs


def score_pairs(
    hyps: Sequence[str | None],
    refs: Sequence[str | None],
    ids: Sequence[str] | None = None,
    *,
    lang: str = "auto",
    prompts: Sequence[str | None] | None = None,
    langs: Sequence[str | None] | None = None,
    finish_reasons: Sequence[str | None] | None = None,
    errors: Sequence[str | None] | None = None,
    notes: Sequence[Sequence[str]] | None = None,
    segmenter: str | None = None,
    workers: int | None = None,
    bootstrap: int = 1000,
    seed: int = 12345,
    meteor_impl: str = "native",
    ce_states: str = "all",
    cache: bool = True,
) -> tuple[dict[str, Any], list[dict[str, Any]]]:
    """Score hypothesis/reference pairs in memory: (metrics dict, per-sample records).

    `hyps`/`refs` may hold None (scored as empty text); `prompts` (the input text of each sample) feeds
    the invented-demographics and template checks; `langs` overrides the expected language per sample.
    `meteor_impl` "jar" takes METEOR statistics from the METEOR 1.5 jar itself (needs Java; slow on long
    Chinese reports) instead of the native port. `ce_states` picks the CE definition: "all" (default, the
    four-state macro that reproduces the paper's table) or "abnormal" (increased/decreased/absent only; see
    :mod:`pet2rep.metrics.clinical`). `cache` reads and writes the persistent reference cache
    (:mod:`pet2rep.metrics.cache`: tokens, labels and METEOR tables of references, kept across runs).
    """
    from pet2rep.metrics.stats import SampleStats, bootstrap_ci, corpus_scores

    t0 = time.perf_counter()
    _check_options(lang, meteor_impl, ce_states)
    n = len(hyps)
    if len(refs) != n:
        raise ValueError(f"score_pairs: {n} hypotheses but {len(refs)} references")
    ids = [str(x) for x in ids] if ids is not None else [str(i) for i in range(n)]
    cols = {k: _column(v, n) for k, v in (("prompts", prompts), ("langs", langs), ("finish", finish_reasons),
                                           ("errors", errors), ("notes", notes))}
    state, cut = _text_table(hyps, refs, cols["prompts"])
    state.update({
        "segmenter": segmenter, "finish": cols["finish"], "error": cols["errors"], "meteor_impl": meteor_impl,
        "ref_cache": cache, "warn": _stderr, "opts": _options(segmenter, lang, meteor_impl, ce_states),
        "expected": [(lg if lg in ("zh", "en") else None) or (lang if lang != "auto" else None)
                     for lg in cols["langs"]],
    })
    workers = int(workers) if workers else (os.cpu_count() or 1)
    with _objects_frozen():
        recs, set_stats = _run_samples(state, n, workers) if n else ([], {})
    del state
    t1 = time.perf_counter()

    from pet2rep.metrics.registry import METRICS

    stats = {name: np.stack([r["stats"][name] for r in recs]) for name in (recs[0]["stats"] if recs else ())}
    stats.update(set_stats)
    stats = {name: stats[name] for name in METRICS if name in stats}  # (registry order)
    s = SampleStats(ids, ce_states=ce_states, stats=stats)
    metrics: dict[str, Any] = corpus_scores(s)
    metrics["n"] = n
    metrics["n_truncated_for_scoring"] = sum(cut)
    t3 = time.perf_counter()
    metrics["ci"] = bootstrap_ci(s, bootstrap, seed) if n else {}
    t4 = time.perf_counter()
    metrics["signatures"] = _signatures(segmenter, bootstrap, seed, lang, meteor_impl, ce_states)
    metrics.update(_run_summary(recs, lang, ce_states))
    metrics["timing"] = {
        "per_sample_s": round(t1 - t0, 4), "corpus_s": round(t3 - t1, 4),
        "bootstrap_s": round(t4 - t3, 4), "total_s": round(time.perf_counter() - t0, 4), "workers": workers,
        "ms_per_pair": round(1000 * (time.perf_counter() - t0) / n, 3) if n else None,
    }
    return metrics, _per_sample_rows(recs, ids, s, cols["notes"], cut)


def _check_options(lang: str, meteor_impl: str, ce_states: str) -> None:
    """InputError naming the value when a scoring option is not one of its choices."""
    from pet2rep.metrics.clinical import CE_STATES

    if lang not in LANGS:
        raise InputError(f"unknown language {lang!r}; choose auto, zh or en")
    if meteor_impl not in METEOR_IMPLS:
        raise InputError(f"unknown METEOR implementation {meteor_impl!r}; choose native or jar")
    if ce_states not in CE_STATES:
        raise InputError(f"unknown CE states {ce_states!r}; choose {' or '.join(CE_STATES)}")


def _column(xs: Sequence[Any] | None, n: int) -> list[Any]:
    """A per-sample list of length n (None: n Nones)."""
    if xs is None:
        return [None] * n
    if len(xs) != n:
        raise ValueError(f"score_pairs: a per-sample list has {len(xs)} items, expected {n}")
    return list(xs)


def _text_table(hyps: Sequence[Any], refs: Sequence[Any], prompts: list[Any]) -> tuple[dict[str, Any], list[bool]]:
    """The distinct texts (each is tokenised and labelled once) and each sample's text ids, as the worker state;
    and which samples had a text cut to MAX_SCORED_CHARS."""
    table: dict[str, int] = {}
    uses: Counter[int] = Counter()

    def tid(text: Any) -> int:
        k = table.setdefault(text, len(table))
        uses[k] += 1
        return k

    hyps_t, refs_t = [_as_text(h) for h in hyps], [_as_text(r) for r in refs]
    cut = [len(h) > MAX_SCORED_CHARS or len(r) > MAX_SCORED_CHARS for h, r in zip(hyps_t, refs_t)]
    state: dict[str, Any] = {
        "hyp_tid": [tid(h[:MAX_SCORED_CHARS]) for h in hyps_t],
        "ref_tid": [tid(r[:MAX_SCORED_CHARS]) for r in refs_t],
        "prompt_tid": [tid(_as_text(p)) if p else -1 for p in prompts],
    }
    state["texts"] = list(table)
    state["multi"] = [uses[k] > 1 for k in range(len(table))]
    return state, cut


def _run_summary(recs: list[dict[str, Any]], lang: str, ce_states: str) -> dict[str, Any]:
    """metrics.json's OUA tables (per state, per organ, confusion, coverage), failure counts and run language."""
    from pet2rep.metrics.clinical import ce_validation, oua_summary
    from pet2rep.metrics.failures import summarize

    oua = oua_summary([r["hyp_labels"] for r in recs], [r["ref_labels"] for r in recs], ce_states)
    detected = Counter(r["expected_lang"] for r in recs if r["expected_lang"])
    run_lang = lang if lang != "auto" else (detected.most_common(1)[0][0] if detected else "auto")
    return {
        "ce_states": ce_states,
        **{k: oua[k] for k in ("per_state", "per_organ", "confusion", "coverage", "coverage_reference")},
        "failures": summarize([r["failures"]["flags"] for r in recs]),
        "lang": run_lang,
        # how the extractor behind CE did on new clinician text in this language (data/uptake_validation.yaml)
        "ce_validation": ce_validation(run_lang),
    }


def _per_sample_rows(recs: list[dict[str, Any]], ids: list[str], s: Any, notes: list[Any],
                     cut: list[bool]) -> list[dict[str, Any]]:
    """per_sample.jsonl's rows: every registered metric's per-sample scores and statistics, uptake labels,
    coverage, failure modes, languages and token counts."""
    from pet2rep.metrics.clinical import coverage
    from pet2rep.metrics.failures import FAILURE_MODES
    from pet2rep.metrics.registry import METRICS, num_rows

    opts = s.options
    per = {name: {k: v.tolist() for k, v in m.per_sample(s.stats[name], opts).items()}
           for name, m in METRICS.items() if name in s.stats and len(s)}
    rows = {name: num_rows(s.stats[name]) for name in per}
    out: list[dict[str, Any]] = []
    for j, (rec, sid) in enumerate(zip(recs, ids)):
        i = rec["i"]
        flags = rec["failures"]["flags"]
        scored: dict[str, Any] = {}
        for name, m in METRICS.items():
            if name in per:
                m.record(scored, rows[name][j], {k: v[j] for k, v in per[name].items()})
        row: dict[str, Any] = {"id": sid, **scored}
        row.pop("stats", None)
        row["coverage"] = coverage(rec["hyp_labels"])
        row["stats"] = scored.get("stats", {})
        row.update({
            "labels": {"hyp": rec["hyp_labels"], "ref": rec["ref_labels"]},
            "failures": [m for m in FAILURE_MODES if flags.get(m)],
            "failure_details": rec["failures"]["details"],
            "lang": rec["lang"],
            "expected_lang": rec["expected_lang"],
            "n_tokens": {"hyp": rec["n_tokens"][0], "ref": rec["n_tokens"][1]},
        })
        if notes[i]:
            row["notes"] = list(notes[i])
        if cut[i]:
            row["truncated_for_scoring"] = True
        out.append(row)
    return out


# ----------------------------------------------------------------------------- files


def write_outputs(out_dir: str | os.PathLike, metrics: dict[str, Any], per_sample: list[dict[str, Any]]) -> None:
    """Write DIR/per_sample.jsonl then DIR/metrics.json, each atomically."""
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    atomic_write_text(out / PER_SAMPLE_FILE,
                      "".join(json.dumps(r, ensure_ascii=False, allow_nan=False) + "\n" for r in per_sample),
                      fsync=True)
    atomic_write_text(out / METRICS_FILE, json.dumps(metrics, ensure_ascii=False, indent=2, allow_nan=False) + "\n",
                      fsync=True)


def _stderr(msg: str) -> None:
    print(msg, file=sys.stderr)


def evaluate_predictions(
    pred_path: str | os.PathLike,
    out_dir: str | os.PathLike,
    *,
    lang: str = "auto",
    refs_path: str | os.PathLike | None = None,
    bootstrap: int = 1000,
    seed: int = 12345,
    segmenter: str | None = None,
    workers: int | None = None,
    warn: Callable[[str], None] | None = None,
    meteor_impl: str = "native",
    require_samples: bool = False,
    ce_states: str = "all",
    cache: bool = True,
) -> dict[str, Any]:
    """Score a predictions JSONL (benchmark or pet2rep format) and write DIR/metrics.json + per_sample.jsonl.

    Malformed lines are reported through `warn` (default: stderr) as ``FILE:LINE: reason`` and skipped.
    With `refs_path`, references and prompts come from that PET2Rep dataset by id; references without a
    prediction score as empty (flagged ``missing_prediction``), predictions without a reference are excluded.
    A sample whose reference is empty (no token) is excluded and listed as ``ids.empty_reference``.
    With `require_samples` (the CLI), input that leaves nothing to score (an empty file, no ids shared with
    the references, no reference at all) raises InputError and nothing is written.
    """
    from pet2rep.metrics.predictions import check_lang, join_references, read_predictions, read_references

    t0 = time.perf_counter()
    warn = warn or _stderr
    if segmenter in ("none", ""):
        segmenter = None
    preds, report = read_predictions(pred_path, warn)
    refs = None
    ref_report = None
    if refs_path is not None:
        refs, ref_report = read_references(refs_path, warn)
    joined = join_references(preds, refs)
    if require_samples:
        _check_scoreable(pred_path, refs_path, preds, report, refs, joined)
    samples = [s for s in joined.samples if _has_tokens(s.ref)]
    empty_ref = [s.id for s in joined.samples if not _has_tokens(s.ref)]
    if require_samples and not samples:
        raise InputError(f"every reference is empty (no word or number to score against), e.g. id '{empty_ref[0]}'; "
                         "nothing scored")
    check_lang(samples, lang, pred_path)
    missing_pred = [s.id for s in samples if s.missing_prediction]
    metrics, per_sample = score_pairs(
        [s.hyp for s in samples], [s.ref for s in samples], [s.id for s in samples], lang=lang,
        prompts=[s.prompt for s in samples], langs=[s.lang for s in samples],
        finish_reasons=[s.finish_reason for s in samples], errors=[s.error for s in samples],
        notes=[s.notes for s in samples], segmenter=segmenter, workers=workers, bootstrap=bootstrap, seed=seed,
        meteor_impl=meteor_impl, ce_states=ce_states, cache=cache,
    )
    _mark_missing(per_sample, samples, metrics)
    multi_out = sum(1 for s in samples if s.n_outputs > 1)
    metrics.update(_provenance(pred_path, refs_path, samples))
    metrics["ids"] = {
        "missing_predictions": missing_pred,
        "without_reference": joined.without_reference,
        "empty_reference": empty_ref,
    }
    metrics["input"] = {
        "predictions": report.as_dict(),
        **({"references": ref_report.as_dict()} if ref_report else {}),
        "multiple_outputs": multi_out,
    }
    metrics["timing"]["wall_s"] = round(time.perf_counter() - t0, 4)
    write_outputs(out_dir, metrics, per_sample)
    _warn_input(warn, pred_path, preds, report, ref_report, missing_pred, empty_ref, joined.without_reference,
                multi_out)
    return metrics


def _mark_missing(per_sample: list[dict[str, Any]], samples: list[Any], metrics: dict[str, Any]) -> None:
    """Flag the references scored without a prediction (``missing_prediction``) and name each row's model."""
    n_missing = 0
    for row, s in zip(per_sample, samples):
        if s.missing_prediction:
            n_missing += 1
            row["missing_prediction"] = True
            if "missing_prediction" not in row["failures"]:
                row["failures"].append("missing_prediction")
        if s.model:
            row["model"] = s.model
    metrics["failures"]["counts"]["missing_prediction"] = n_missing
    metrics["failures"]["rates"]["missing_prediction"] = n_missing / len(samples) if samples else 0.0


def _provenance(pred_path: Any, refs_path: Any, samples: list[Any]) -> dict[str, Any]:
    """metrics.json's source, references, model and run (from the run folder's run.json) keys."""
    out: dict[str, Any] = {"source": str(Path(pred_path).resolve())}
    if refs_path is not None:
        out["references"] = str(Path(refs_path).resolve())
    models = sorted({s.model for s in samples if s.model})
    if models:
        out["model"] = models[0] if len(models) == 1 else models
    run = _run_facts(Path(pred_path))
    if run:
        out["run"] = run
    return out


def _warn_input(warn: Callable[[str], None], pred_path: Any, preds: list[Any], report: Any, ref_report: Any,
                missing_pred: list[str], empty_ref: list[str], without_ref: list[str], multi_out: int) -> None:
    """One warning line per kind of input problem that was skipped, excluded or scored as empty."""
    n_bad = report.n_malformed + (ref_report.n_malformed if ref_report else 0)
    if n_bad:
        warn(f"{n_bad} malformed line(s) skipped")
    n_dup = report.n_duplicates + (ref_report.n_duplicates if ref_report else 0)
    n_conf = report.n_conflicts + (ref_report.n_conflicts if ref_report else 0)
    if n_dup:
        warn(f"{n_dup} duplicate id line(s) ignored, the first line of each id kept"
             + (f" ({n_conf} with a different text: conflicts)" if n_conf else ""))
    if missing_pred:
        warn(f"{len(missing_pred)} reference(s) without a prediction (scored as empty): " + _id_list(missing_pred))
    if empty_ref:
        warn(f"{len(empty_ref)} sample(s) with an empty reference (nothing to score against; excluded): "
             + _id_list(empty_ref))
    if without_ref:
        warn(f"{len(without_ref)} prediction(s) without a reference (excluded): " + _id_list(without_ref))
    if multi_out:
        warn(f"{multi_out} prediction(s) have several outputs in llm_output; the first of each was scored")
    no_output = [p for p in preds if p.no_output]
    if no_output:
        more = f" (and {len(no_output) - 1} more)" if len(no_output) > 1 else ""
        warn(f"{len(no_output)} prediction(s) without an llm_output field, scored as empty: "
             f"{pred_path}:{no_output[0].line} (subject_id {no_output[0].id!r}){more}")


def _has_tokens(text: str | None) -> bool:
    """Whether a reference has anything to score against (a word or number once tokenised)."""
    if not text or not text.strip():
        return False
    from pet2rep.metrics.tokenize import has_tokens

    return has_tokens(text)


def _check_scoreable(pred_path: Any, refs_path: Any, preds: list[Any], report: Any,
                     refs: dict[str, Any] | None, joined: Any) -> None:
    """One-line InputError when the input leaves nothing meaningful to score."""
    if not preds:
        if report.malformed:
            raise InputError(f"{pred_path}: no valid prediction record ({report.n_malformed} malformed line(s), "
                             f"first: {report.malformed[0].split(': ', 1)[-1]})")
        raise InputError(f"{pred_path}: no prediction records (the file is empty)")
    if all(p.no_output for p in preds):
        raise InputError(f"{pred_path}: no line has an llm_output field (the model's answer); if this is a "
                         "prompt dataset, give it as refs_path= and the predictions as PRED.jsonl")
    if refs is not None:
        if not refs:
            raise InputError(f"{refs_path}: no reference records (patient_id + answer)")
        if len(joined.without_reference) == len(preds):
            raise InputError(f"no subject_id of {pred_path} matches a patient_id of {refs_path} "
                             f"(e.g. '{preds[0].id}' vs '{next(iter(refs))}')")
    elif not joined.samples:
        raise InputError(f"{pred_path}: no prediction has a ground_truth; give the references with "
                         "refs_path=DATASET.jsonl")


def _id_list(ids: Sequence[str], limit: int = 20) -> str:
    head = ", ".join(ids[:limit])
    return head + (f", ... and {len(ids) - limit} more" if len(ids) > limit else "")


def format_summary(metrics: dict[str, Any]) -> str:
    """A short plain-text table of the corpus metrics, failure counts and signatures."""
    from pet2rep.metrics.registry import score_keys

    ci = metrics.get("ci", {})
    lines = [f"{'metric':<14}{'value':>10}   95% CI", "-" * 44]
    for k in score_keys():
        v = metrics.get(k, 0.0)
        lo_hi = ci.get(k)
        ci_s = f"[{lo_hi[0]:.4f}, {lo_hi[1]:.4f}]" if lo_hi else ""
        lines.append(f"{k:<14}{v:>10.4f}   {ci_s}")
    lines.append(f"{'n':<14}{metrics.get('n', 0):>10d}")
    lines.append(f"{'coverage':<14}{metrics.get('coverage', 0.0):>10.4f}")
    fails = metrics.get("failures", {})
    counts = fails.get("counts", {})
    if counts:
        lines.append("failures: " + ", ".join(f"{m}={c}" for m, c in counts.items()))
    from pet2rep.metrics.clinical import ce_validation_line

    note = ce_validation_line(metrics.get("ce_validation"), metrics.get("lang"))
    if note:
        lines.append(note)
    lines.append("signatures:")
    for k, sig in metrics.get("signatures", {}).items():
        lines.append(f"  {k}: {sig}")
    return "\n".join(lines)


RUN_FACTS = ("model", "generation", "preset", "shard", "resume_key", "backend", "status", "n_predictions",
             "n_errors", "wall_s", "load_s", "studies_per_hour", "output_tokens_per_s", "prompt_tokens_new",
             "completion_tokens_new", "cost_usd_new")
CARD_FACTS = ("name", "backend", "model", "family", "size", "params_b", "paper")


def _run_facts(pred_path: Path) -> dict[str, Any] | None:
    """What run.json beside a predictions file says about the run (model card facts, settings, throughput)."""
    info_path = pred_path.parent / "run.json"
    if pred_path.name != "predictions.jsonl" or not info_path.is_file():
        return None
    try:
        info = json.loads(info_path.read_text(encoding="utf-8"))
    except (OSError, ValueError, RecursionError):
        return None
    if not isinstance(info, dict):
        return None
    out = {k: info[k] for k in RUN_FACTS if k in info}
    card = info.get("card")
    if isinstance(card, dict):
        out["card"] = {k: card[k] for k in CARD_FACTS if k in card}
    return out
