"""Bootstrap intervals and paired tests from per-sample sufficient statistics."""

from __future__ import annotations

import dataclasses
import random

import numpy as np
import pytest

from pet2rep.metrics.stats import (
    CORPUS_METRICS,
    SampleStats,
    bootstrap_ci,
    bootstrap_draws,
    corpus_scores,
    overall_score,
    paired_test,
    scores_from_weights,
)

WORDS = list("肝脏脾胰肾胃肠肺骨脑淋巴结摄取增高减低未见异常形态大小正常密度均匀")


def _pairs(n: int, noise: float, seed: int, refs_seed: int) -> tuple[list[list[str]], list[list[str]]]:
    rr = random.Random(refs_seed)
    refs = [[rr.choice(WORDS) for _ in range(rr.randint(30, 60))] for _ in range(n)]
    rng = random.Random(seed)
    hyps = []
    for ref in refs:
        hyp = [t if rng.random() > noise else rng.choice(WORDS) for t in ref]
        if rng.random() < noise:
            hyp = hyp[: len(hyp) // 2]
        hyps.append(hyp)
    return hyps, refs


def make_stats(n: int = 60, noise: float = 0.3, seed: int = 1, refs_seed: int | None = None) -> SampleStats:
    """Real per-sample statistics of synthetic token pairs (same references for the same refs_seed)."""
    from pet2rep.metrics.meteor import meteor_stats
    from pet2rep.metrics.nlg import bleu_stats_batch, cider_d, rouge_l_batch

    hyps, refs = _pairs(n, noise, seed, seed if refs_seed is None else refs_seed)
    rng = np.random.default_rng([seed, 1])  # not the truth's stream: errors go both ways (FP and FN)
    oua = np.zeros((n, 4, 3), dtype=np.int64)  # increased, decreased, absent, normal
    truth = np.random.default_rng(refs_seed if refs_seed is not None else seed).random((n, 4)) < 0.4
    pred = truth ^ (rng.random((n, 4)) < noise)
    oua[:, :, 0] = truth & pred
    oua[:, :, 1] = ~truth & pred
    oua[:, :, 2] = truth & ~pred
    return SampleStats(
        ids=[f"s{i}" for i in range(n)],
        bleu=bleu_stats_batch(hyps, refs).astype(np.float64),
        meteor=np.stack([np.asarray(meteor_stats(h, r), dtype=np.float64) for h, r in zip(hyps, refs)]),
        rouge_l=rouge_l_batch(hyps, refs),
        cider=cider_d(hyps, refs)[1],
        oua=oua,
    )


def test_overall_formula_reproduces_paper_template_baseline() -> None:
    vals = dict(zip(("bleu_4", "meteor", "rouge_l", "ce_precision", "ce_recall", "ce_f1"),
                    (0.315, 0.148, 0.511, 0.228, 0.222, 0.225)))
    assert round(float(overall_score(vals)), 1) == 27.5
    assert float(overall_score(vals)) == pytest.approx(100 * 1.649 / 6, rel=1e-12)  # mean of six, in %


def test_weights_reproduce_explicit_resample() -> None:
    s = make_stats(40)
    idx = np.random.default_rng(3).integers(0, 40, size=40)
    w = np.bincount(idx, minlength=40)[None, :]
    via_weights = {k: float(v[0]) for k, v in scores_from_weights(s, w).items()}
    explicit = corpus_scores(s.take(idx))
    for k in CORPUS_METRICS:
        assert via_weights[k] == pytest.approx(explicit[k], rel=1e-9, abs=1e-12), k


def test_corpus_bleu_matches_nlg() -> None:
    from pet2rep.metrics.nlg import bleu_from_stats

    s = make_stats(30)
    sc = corpus_scores(s)
    assert [sc[f"bleu_{k}"] for k in range(1, 5)] == pytest.approx(bleu_from_stats(s.bleu))
    assert sc["rouge_l"] == pytest.approx(s.rouge_l.mean())
    assert sc["cider"] == pytest.approx(s.cider.mean())
    # CE: macro over the states with TP + FP + FN > 0, written out here without the clinical module
    tp, fp, fn = (s.oua.sum(axis=0)[:, c].astype(float) for c in range(3))
    assert np.all(tp + fp > 0) and np.all(tp + fn > 0)  # every state is used: no 0/0 below
    p, r = tp / (tp + fp), tp / (tp + fn)
    # default: all four states, CE-F1 the harmonic mean of CE-P and CE-R
    assert sc["ce_precision"] == pytest.approx(p.mean(), rel=1e-12)
    assert sc["ce_recall"] == pytest.approx(r.mean(), rel=1e-12)
    assert sc["ce_f1"] == pytest.approx(2 * p.mean() * r.mean() / (p.mean() + r.mean()), rel=1e-12)
    # abnormal: the first three states (increased, decreased, absent), CE-F1 the mean of the per-state F1
    old = corpus_scores(dataclasses.replace(s, ce_states="abnormal"))
    assert old["ce_precision"] == pytest.approx(p[:3].mean(), rel=1e-12)
    assert old["ce_recall"] == pytest.approx(r[:3].mean(), rel=1e-12)
    assert old["ce_f1"] == pytest.approx((2 * p[:3] * r[:3] / (p[:3] + r[:3])).mean(), rel=1e-12)
    parts = [sc[k] for k in ("bleu_4", "meteor", "rouge_l", "ce_precision", "ce_recall", "ce_f1")]
    assert sc["overall"] == pytest.approx(100 * sum(parts) / 6, rel=1e-12)


def test_ci_contains_point_and_is_deterministic() -> None:
    s = make_stats(60)
    point = corpus_scores(s)
    ci = bootstrap_ci(s, n=300, seed=7)
    assert set(ci) == set(CORPUS_METRICS)
    for k, (lo, hi) in ci.items():
        assert lo <= point[k] + 1e-9 and point[k] <= hi + 1e-9, (k, lo, point[k], hi)
        assert lo < hi or k.startswith("ce_") and lo <= hi
    assert bootstrap_ci(s, n=300, seed=7) == ci
    assert bootstrap_ci(s, n=300, seed=8) != ci
    assert bootstrap_ci(s, n=0) == {}


def test_ci_shrinks_with_more_samples() -> None:
    small = make_stats(40)
    big = small.take(np.tile(np.arange(40), 16))  # 640 samples with the same distribution
    ci_s = bootstrap_ci(small, n=400, seed=1)
    ci_b = bootstrap_ci(big, n=400, seed=1)
    for k in ("bleu_4", "meteor", "rouge_l", "cider", "ce_f1", "overall"):
        ws, wb = ci_s[k][1] - ci_s[k][0], ci_b[k][1] - ci_b[k][0]
        assert wb < 0.5 * ws, (k, ws, wb)


def test_bootstrap_draws_shape() -> None:
    d = bootstrap_draws(make_stats(20), n=260, seed=0)  # crosses a block boundary
    assert all(v.shape == (260,) for v in d.values())


@pytest.mark.parametrize("test", ["bootstrap", "ar"])
def test_paired_identical_runs_p_is_one(test: str) -> None:
    s = make_stats(50)
    res = paired_test(s, s, test=test, n=200, seed=3)
    for k, r in res.items():
        assert r["delta"] == 0.0
        assert r["p"] == pytest.approx(1.0), k
        assert r["ci"] == [0.0, 0.0]


@pytest.mark.parametrize("test", ["bootstrap", "ar"])
def test_paired_clearly_better_run_is_significant(test: str) -> None:
    worse = make_stats(80, noise=0.6, seed=2, refs_seed=11)
    better = make_stats(80, noise=0.1, seed=3, refs_seed=11)
    res = paired_test(worse, better, test=test, n=300, seed=5)
    for k in ("bleu_4", "meteor", "rouge_l", "overall"):
        assert res[k]["delta"] > 0
        assert res[k]["p"] < 0.05, (k, res[k])
        assert res[k]["ci"][0] > 0
    assert paired_test(worse, better, test=test, n=300, seed=5) == res


def test_paired_needs_alignment() -> None:
    s = make_stats(10)
    with pytest.raises(ValueError):
        paired_test(s, s.take(list(reversed(range(10)))))
    with pytest.raises(ValueError, match="one CE definition"):
        paired_test(s, dataclasses.replace(s, ce_states="abnormal"))


@pytest.mark.parametrize("ce_states", ["all", "abnormal"])
def test_resamples_use_the_point_estimates_ce_definition(ce_states: str) -> None:
    """Bootstrap draws, paired-bootstrap draws and AR swaps: per-state TP/FP/FN summed over the drawn studies,
    then the same CE formula as the point estimate (a resample that is the whole set gives the point)."""
    from pet2rep.metrics.clinical import ce_scores

    s = dataclasses.replace(make_stats(30), ce_states=ce_states)
    other = dataclasses.replace(make_stats(30, noise=0.5, seed=4, refs_seed=1), ce_states=ce_states)
    idx = np.random.default_rng(9).integers(0, 30, size=30)
    w = np.bincount(idx, minlength=30)[None, :].astype(float)
    drawn = scores_from_weights(s, w)
    direct = ce_scores(s.oua[idx].sum(axis=0), ce_states)
    for k in ("ce_precision", "ce_recall", "ce_f1"):
        assert float(drawn[k][0]) == pytest.approx(float(direct[k]), rel=1e-12), k
        assert float(scores_from_weights(s, np.ones((1, 30)))[k][0]) == pytest.approx(corpus_scores(s)[k])
    res = paired_test(s, other, test="bootstrap", n=50, seed=2)
    assert res["ce_f1"]["a"] == corpus_scores(s)["ce_f1"] and res["ce_f1"]["b"] == corpus_scores(other)["ce_f1"]
    # the two definitions give different numbers on the same statistics
    flip = "abnormal" if ce_states == "all" else "all"
    assert corpus_scores(dataclasses.replace(s, ce_states=flip))["ce_f1"] != corpus_scores(s)["ce_f1"]


def test_resampling_on_one_blas_thread_gives_the_same_numbers(monkeypatch: pytest.MonkeyPatch) -> None:
    """The bootstrap and the paired tests run their products on one BLAS thread: same draws as with BLAS's own
    threads (which split the output, not the sums)."""
    import pet2rep.metrics.stats as st

    s = make_stats(60).take(list(range(60)) * 10)  # products big enough for BLAS to use its threads
    s2 = make_stats(60, noise=0.5, seed=7, refs_seed=1).take(list(range(60)) * 10)
    got = bootstrap_draws(s, n=300, seed=4)
    got_paired = paired_test(s, s2, test="ar", n=260, seed=2)
    monkeypatch.setattr(st, "_openblas", lambda: None)  # BLAS left as it is
    want = bootstrap_draws(s, n=300, seed=4)
    assert set(got) == set(want) and all(np.array_equal(got[k], want[k]) for k in want)
    assert paired_test(s, s2, test="ar", n=260, seed=2) == got_paired


def test_one_blas_thread_sets_and_restores() -> None:
    from pet2rep.metrics.stats import _openblas, one_blas_thread

    blas = _openblas()
    if blas is None:
        pytest.skip("numpy's OpenBLAS not found (not Linux or another BLAS)")
    before = blas[0]()
    with one_blas_thread():
        assert blas[0]() == 1
    assert blas[0]() == before
    with pytest.raises(KeyError), one_blas_thread():
        raise KeyError("restored on errors too")
    assert blas[0]() == before
