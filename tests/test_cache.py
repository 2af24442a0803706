"""The persistent reference cache (pet2rep.metrics.cache) through `pet2rep evaluate`: real SQLite files,
real runs; a second run over the same references reuses them and writes the same numbers."""

from __future__ import annotations

import json
import random
import re
import sqlite3
import subprocess
import sys
from pathlib import Path

import pytest

from pet2rep.cli import main
from pet2rep.metrics import cache as C
from pet2rep.metrics import evaluate as E
from pet2rep.metrics import uptake

EN = [
    "Intense FDG uptake in a right upper lobe nodule, SUVmax 9.2, consistent with malignancy.",
    "Enlarged mediastinal lymph nodes with increased metabolic activity.",
    "The liver and spleen show physiological FDG distribution.",
    "No abnormal uptake in the skeleton.",
]


@pytest.fixture
def cache_dir(tmp_path, monkeypatch) -> Path:
    d = tmp_path / "cache"
    d.mkdir()
    # share the machine's METEOR paraphrase index (built once, ~15 s) instead of rebuilding it here
    for p in C.cache_dir().glob("meteor-paraphrase-*.sqlite"):
        (d / p.name).symlink_to(p)
    monkeypatch.setenv("PET2REP_CACHE", str(d))
    E.clear_reference_cache()  # only the persistent cache may carry references between runs
    yield d
    E.clear_reference_cache()


@pytest.fixture(scope="module")
def pred_file(tmp_path_factory, demo_record) -> Path:
    """12 zh and 4 en predictions with their references (benchmark format)."""
    rng = random.Random(3)
    sents = [s for s in re.split(r"(?<=[。；])", demo_record["answer"]) if s.strip()]
    rows = []
    for k in range(12):
        ref = "".join(rng.sample(sents, 12))
        hyp = "".join(s for s in rng.sample(sents, 12) if rng.random() > 0.2)
        rows.append({"subject_id": f"zh{k}", "llm_output": hyp, "ground_truth": ref})
    for k in range(4):
        ref = " ".join(rng.sample(EN, 3))
        rows.append({"subject_id": f"en{k}", "llm_output": " ".join(rng.sample(EN, 2)), "ground_truth": ref})
    path = tmp_path_factory.mktemp("cache-pred") / "pred.jsonl"
    path.write_text("".join(json.dumps(r, ensure_ascii=False) + "\n" for r in rows), encoding="utf-8")
    return path


def _run(pred: Path, out: Path, *extra: str) -> tuple[dict, list[dict]]:
    E.clear_reference_cache()
    rc = main(["evaluate", str(pred), "--out", str(out), "--bootstrap", "50", "--workers", "1", *extra])
    assert rc == 0
    metrics = json.loads((out / "metrics.json").read_text(encoding="utf-8"))
    rows = [json.loads(x) for x in (out / "per_sample.jsonl").read_text(encoding="utf-8").splitlines()]
    return metrics, rows


def _numbers(metrics: dict) -> dict:
    """metrics.json without what legitimately differs between two runs (times, paths)."""
    return {k: v for k, v in metrics.items() if k not in ("timing", "source")}


def _count_reference_work(monkeypatch, refs: set[str]) -> dict[str, int]:
    """Count extractor and tokenizer calls on reference texts."""
    from pet2rep.metrics import tokenize as T

    counts = {"labels": 0, "tokens": 0}
    real_extract, real_tok = uptake.extract_uptake, T.tokenize

    def extract(text, *a, **k):
        counts["labels"] += text in refs
        return real_extract(text, *a, **k)

    def tok(text, *a, **k):
        counts["tokens"] += text in refs
        return real_tok(text, *a, **k)

    monkeypatch.setattr(uptake, "extract_uptake", extract)
    monkeypatch.setattr(T, "tokenize", tok)
    return counts


def test_second_run_hits_the_cache_with_identical_numbers(cache_dir, pred_file, tmp_path, monkeypatch, capsys):
    refs = {json.loads(x)["ground_truth"] for x in pred_file.read_text(encoding="utf-8").splitlines()}
    counts = _count_reference_work(monkeypatch, refs)
    m1, rows1 = _run(pred_file, tmp_path / "a")
    assert counts["labels"] >= len(refs) and counts["tokens"] >= len(refs)  # first run: computed
    db = cache_dir / C.FILE_NAME
    with sqlite3.connect(db) as con:
        assert con.execute("SELECT count(*) FROM refs").fetchone()[0] == len(refs)
    counts.update(labels=0, tokens=0)
    m2, rows2 = _run(pred_file, tmp_path / "b")
    assert counts == {"labels": 0, "tokens": 0}  # second run: every reference came from the cache
    assert _numbers(m1) == _numbers(m2)
    assert rows1 == rows2
    # with --no-cache the work is done again, and the numbers are the same
    m3, rows3 = _run(pred_file, tmp_path / "c", "--no-cache")
    assert counts["labels"] >= len(refs)
    assert _numbers(m3) == _numbers(m1) and rows3 == rows1


def test_no_cache_writes_nothing(cache_dir, pred_file, tmp_path):
    _run(pred_file, tmp_path / "a", "--no-cache")
    assert not (cache_dir / C.FILE_NAME).exists()


def test_corrupt_rows_are_ignored_and_rewritten(cache_dir, pred_file, tmp_path, monkeypatch):
    m1, rows1 = _run(pred_file, tmp_path / "a")
    db = cache_dir / C.FILE_NAME
    with sqlite3.connect(db) as con:
        keys = [k for (k,) in con.execute("SELECT k FROM refs ORDER BY k")]
        bad = ["{not json", json.dumps({"tok": {"x": [1, 2]}}), json.dumps([1, 2, 3]),
               json.dumps({"tok": {}, "lab": {"zh": {"liver": "increased"}}})]
        for k, v in zip(keys, bad):
            con.execute("UPDATE refs SET v = ? WHERE k = ?", (v, k))
    refs = {json.loads(x)["ground_truth"] for x in pred_file.read_text(encoding="utf-8").splitlines()}
    counts = _count_reference_work(monkeypatch, refs)
    m2, rows2 = _run(pred_file, tmp_path / "b")
    assert counts["labels"] == len(bad)  # exactly the broken rows were recomputed
    assert _numbers(m2) == _numbers(m1) and rows2 == rows1
    with sqlite3.connect(db) as con:  # and rewritten well-formed
        for k in keys[: len(bad)]:
            assert C._valid(json.loads(con.execute("SELECT v FROM refs WHERE k = ?", (k,)).fetchone()[0]))


def test_corrupt_file_is_moved_aside(cache_dir, pred_file, tmp_path):
    m1, rows1 = _run(pred_file, tmp_path / "a", "--no-cache")
    (cache_dir / C.FILE_NAME).write_bytes(b"this is not an SQLite database" * 100)
    m2, rows2 = _run(pred_file, tmp_path / "b")
    assert _numbers(m2) == _numbers(m1) and rows2 == rows1
    assert list(cache_dir.glob(f"{C.FILE_NAME}.corrupt-*"))
    with sqlite3.connect(cache_dir / C.FILE_NAME) as con:
        assert con.execute("SELECT count(*) FROM refs").fetchone()[0] > 0


def test_unusable_cache_dir_only_warns(tmp_path, pred_file, monkeypatch, capsys):
    blocker = tmp_path / "a-file"
    blocker.write_text("x")
    monkeypatch.setenv("PET2REP_CACHE", str(blocker / "sub"))
    m1, rows1 = _run(pred_file, tmp_path / "a")
    err = capsys.readouterr().err
    assert "reference cache" in err and "scoring without it" in err
    assert "Traceback" not in err
    m2, rows2 = _run(pred_file, tmp_path / "b", "--no-cache")
    assert _numbers(m2) == _numbers(m1) and rows2 == rows1


def test_concurrent_runs_share_the_cache(cache_dir, pred_file, tmp_path):
    """Two evaluate processes at once on one cache file: both finish, same numbers, one row per reference."""
    code = ("import sys; from pet2rep.cli import main; "
            "sys.exit(main(['evaluate', sys.argv[1], '--out', sys.argv[2], '--bootstrap', '20', '--workers', '1']))")
    procs = [subprocess.Popen([sys.executable, "-c", code, str(pred_file), str(tmp_path / f"o{k}")],
                              stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True) for k in range(3)]
    errs = [p.communicate(timeout=300)[1] for p in procs]
    assert [p.returncode for p in procs] == [0, 0, 0], errs
    got = [json.loads((tmp_path / f"o{k}" / "metrics.json").read_text(encoding="utf-8")) for k in range(3)]
    assert _numbers(got[0]) == _numbers(got[1]) == _numbers(got[2])
    n_refs = len({json.loads(x)["ground_truth"] for x in pred_file.read_text(encoding="utf-8").splitlines()})
    with sqlite3.connect(cache_dir / C.FILE_NAME) as con:
        assert con.execute("SELECT count(*) FROM refs").fetchone()[0] == n_refs


def test_key_follows_text_and_code(monkeypatch):
    k1 = C.text_key("肝脏未见异常。")
    assert k1 == C.text_key("肝脏未见异常。") != C.text_key("肝脏未见异常")
    monkeypatch.setattr(C, "code_signature", lambda: "another-extractor")
    assert C.text_key("肝脏未见异常。") != k1


def test_runs_in_one_process_write_each_reference_once(cache_dir, tmp_path, monkeypatch):
    """Runs of one process over the same references (in-process cache kept) rewrite no row the file already has;
    a run against another cache file still writes its rows there."""
    refs = [" ".join(EN[i : i + 2]) for i in range(3)] + ["肝脏FDG摄取增高，脾脏未见异常。", "双肺未见异常摄取。"]
    written: list[int] = []
    real_put = C.RefCache.put_many

    def put_many(self, entries):
        written.append(len(entries))
        return real_put(self, entries)

    monkeypatch.setattr(C.RefCache, "put_many", put_many)
    m1, _ = E.score_pairs(refs[::-1], refs, workers=1, bootstrap=0)
    m2, _ = E.score_pairs(refs[1:] + refs[:1], refs, workers=1, bootstrap=0)  # in-process cache kept
    assert written == [len(refs), 0]
    other = tmp_path / "other-cache"
    other.mkdir()
    monkeypatch.setenv("PET2REP_CACHE", str(other))
    E.score_pairs(refs[::-1], refs, workers=1, bootstrap=0)
    assert written[-1] == len(refs)
    with sqlite3.connect(other / C.FILE_NAME) as con:
        assert con.execute("SELECT count(*) FROM refs").fetchone()[0] == len(refs)
    E.clear_reference_cache()
    monkeypatch.setenv("PET2REP_CACHE", str(cache_dir))
    m3, _ = E.score_pairs(refs[::-1], refs, workers=1, bootstrap=0)  # from the file: same numbers
    assert {k: v for k, v in m3.items() if k != "timing"} == {k: v for k, v in m1.items() if k != "timing"}


def test_token_lists_are_stored_as_one_string_and_read_back_exactly(tmp_path):
    """A row's token lists are kept as one space-joined string (a JSON array of a thousand one-character strings
    decodes several times slower, and every run decodes all its references before its workers start); a list that
    a space-joined string could not give back (an empty token, a token with a space) is kept as a list."""
    db = C.RefCache(tmp_path / C.FILE_NAME)
    toks = list("右肺上叶见结节") + ["suvmax", "9.2", "。"]
    odd = ["a b", "", "c"]
    db.put_many({"ref one": {"tok": {"sig": toks}, "lab": {"zh": {"lung": ["increased"]}}, "met": {"sig": [None, [0, 3]]}},
                 "ref two": {"tok": {"sig": odd, "empty": []}, "lab": {}, "met": {"sig": [toks, []]}}})
    with sqlite3.connect(db.path) as con:
        stored = {k: json.loads(v) for k, v in con.execute("SELECT k, v FROM refs")}
    one, two = stored[C.text_key("ref one")], stored[C.text_key("ref two")]
    assert one["tok"]["sig"] == "右 肺 上 叶 见 结 节 suvmax 9.2 。"
    assert two["tok"] == {"sig": odd, "empty": ""} and two["met"]["sig"][0] == " ".join(toks)
    got = db.get_many(["ref one", "ref two"])
    assert got["ref one"]["tok"]["sig"] == toks and got["ref one"]["met"]["sig"] == [None, [0, 3]]
    assert got["ref two"]["tok"] == {"sig": odd, "empty": []} and got["ref two"]["met"]["sig"] == [toks, []]
    assert C.unpack_tokens(C.pack_tokens(["x"])) == ["x"] and C.pack_tokens([" "]) == [" "]
    db.close()
