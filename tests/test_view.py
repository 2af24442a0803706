"""`pet2rep view`: the static case viewer, built from real scored runs and read in a real headless Chromium.

The runs: the demo's template and oracle on 3 synthetic studies, and an "untrusted-model" run scored for real by
`evaluate` whose outputs hold a script, an <img onerror>, an empty answer and a copy of the template.
"""

from __future__ import annotations

import json
import os
import re
import shutil
from pathlib import Path

import pytest

pytest.importorskip("jinja2")

from pet2rep.cli import main  # noqa: E402
from pet2rep.demo import run_demo  # noqa: E402
from pet2rep.metrics.evaluate import evaluate_predictions  # noqa: E402
from pet2rep.organs import ORGANS  # noqa: E402
from pet2rep.publish.view import write_site  # noqa: E402

REPO = Path(__file__).resolve().parents[1]
PAYLOAD = ('<script>window.__pwned = 1</script><img src=x onerror="window.__pwned = 2">'
           '"><svg onload="window.__pwned = 3"> ')
UNTRUSTED = "untrusted-model"


def _jsonl(path: Path) -> list[dict]:
    return [json.loads(x) for x in path.read_text(encoding="utf-8").splitlines() if x.strip()]


@pytest.fixture(scope="module")
def demo(tmp_path_factory):
    out = tmp_path_factory.mktemp("view-demo")
    run_demo(out, n=3, lang="en", progress=False)  # English: the screenshots need no CJK font
    runs = out / "runs"
    tmpl = runs / "template"
    bad = runs / UNTRUSTED
    bad.mkdir()
    recs = _jsonl(tmpl / "predictions.jsonl")
    recs[0]["llm_output"] = [PAYLOAD + recs[0]["ground_truth"]]  # mostly right, with markup in it
    recs[1]["llm_output"] = [""]  # empty
    for r in recs:
        r["model"] = UNTRUSTED
    (bad / "predictions.jsonl").write_text("".join(json.dumps(r, ensure_ascii=False) + "\n" for r in recs),
                                           encoding="utf-8")
    info = json.loads((tmpl / "run.json").read_text(encoding="utf-8"))
    info.update(model=UNTRUSTED, card={"name": UNTRUSTED, "backend": "hf", "size": "7B"})
    (bad / "run.json").write_text(json.dumps(info), encoding="utf-8")
    evaluate_predictions(bad / "predictions.jsonl", bad, lang="en", bootstrap=50, workers=1)
    return out


@pytest.fixture(scope="module")
def site(demo, tmp_path_factory):
    out = tmp_path_factory.mktemp("site")
    warns: list[str] = []
    index = write_site(demo / "runs", out, warn=warns.append)
    assert index == out / "index.html"
    return out


def _ids(demo) -> list[str]:
    return [r["id"] for r in _jsonl(demo / "runs" / "template" / "per_sample.jsonl")]


def expected_class(organs: list[str], hyp: dict, ref: dict) -> str:
    """The colour per_sample.jsonl's labels imply for a stretch of a model's report stating `organs`."""
    verdicts = []
    for o in organs:
        if not ref.get(o):
            verdicts.append("nr")
        elif hyp.get(o) and sorted(hyp[o]) == sorted(ref[o]):
            verdicts.append("ok")
        else:
            verdicts.append("bad")
    return "bad" if "bad" in verdicts else ("ok" if "ok" in verdicts else "nr")


# --------------------------------------------------------------------------------------------- files


def test_site_files(demo, site):
    ids = _ids(demo)
    assert sorted(p.name for p in (site / "studies").iterdir()) == sorted(f"{i}.html" for i in ids)
    for sid in ids:
        imgs = sorted(p.name for p in (site / "img" / sid).iterdir())
        assert imgs == sorted(f"{sid}_{k}_coronal.jpg" for k in (90, 100, 110))
    js = (site / "data" / "index.js").read_text(encoding="utf-8")
    assert js.startswith("window.PET2REP_INDEX = ") and js.rstrip().endswith(";")
    data = json.loads(js[len("window.PET2REP_INDEX = "):].rstrip().rstrip(";"))
    assert [s[0] for s in data["studies"]] == ids
    assert set(data["runs"]) == {"template", "oracle", UNTRUSTED} and data["organs"] == list(ORGANS)
    assert data["runs"][data["template"]] == "template"
    k = data["runs"].index(UNTRUSTED)
    assert data["studies"][1][1][k] & (1 << data["modes"].index("empty"))  # the empty answer is flagged
    assert (site / "plots" / "metrics.png").is_file() and (site / "assets" / "viewer.js").is_file()


def test_untrusted_text_is_escaped_in_the_html(demo, site):
    page = (site / "studies" / f"{_ids(demo)[0]}.html").read_text(encoding="utf-8")
    assert "<script>window.__pwned" not in page and "<img src=x" not in page and "<svg onload" not in page
    assert "&lt;script&gt;window.__pwned = 1&lt;/script&gt;&lt;img src=x onerror=&#34;window.__pwned = 2&#34;&gt;" in page
    assert "script-src" not in page.split("Content-Security-Policy", 1)[1].split(">", 1)[0]  # study pages: no scripts
    assert not re.search(r"<script\b", page)


def test_cli_prints_the_file_to_open_and_refuses_bad_input(demo, tmp_path, capsys):
    assert main(["view", str(demo / "runs"), "--out", str(tmp_path / "v"), "--no-plots"]) == 0
    out = capsys.readouterr().out.strip().splitlines()
    assert out[-1] == f"open {(tmp_path / 'v' / 'index.html').resolve().as_uri()}"
    assert not (tmp_path / "v" / "plots").exists()
    assert main(["view", str(tmp_path / "none"), "--out", str(tmp_path / "v2")]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "no such folder" in err[0]
    assert main(["view", str(demo / "runs" / "template"), "--out", str(tmp_path / "v3")]) == 2
    assert "is itself a scored run" in capsys.readouterr().err


def test_runs_of_different_sizes_warn_and_missing_images_are_named(demo, tmp_path):
    runs = tmp_path / "runs"
    shutil.copytree(demo / "runs" / "template", runs / "template")
    shutil.copytree(demo / "runs" / "oracle", runs / "oracle")
    m = json.loads((runs / "oracle" / "metrics.json").read_text(encoding="utf-8"))
    m["n"] = 2
    (runs / "oracle" / "metrics.json").write_text(json.dumps(m), encoding="utf-8")
    # a run whose dataset moved away: its images cannot be shown, the rest still is
    info = json.loads((runs / "oracle" / "run.json").read_text(encoding="utf-8"))
    info["dataset"] = str(tmp_path / "gone" / "prompts.jsonl")
    (runs / "oracle" / "run.json").write_text(json.dumps(info), encoding="utf-8")
    warns: list[str] = []
    write_site(runs, tmp_path / "v", warn=warns.append, plots=False)
    assert sum("different numbers of studies" in w for w in warns) == 1
    page = (tmp_path / "v" / "studies" / f"{_ids(demo)[0]}.html").read_text(encoding="utf-8")
    assert "Seen by: template" in page  # only the template's dataset is still there


# --------------------------------------------------------------------------------------------- browser


@pytest.mark.browser
def test_index_lists_runs_links_studies_and_filters(demo, site, page):
    ids = _ids(demo)
    errors: list[str] = []
    page.on("pageerror", lambda e: errors.append(str(e)))
    page.set_viewport_size({"width": 1280, "height": 900})
    page.goto((site / "index.html").as_uri())
    assert sorted(page.eval_on_selector_all("table.board tbody tr", "rs => rs.map(r => r.dataset.run)")) == \
        sorted(["template", "oracle", UNTRUSTED])
    # the index's leaderboard holds the numbers and marks of `pet2rep leaderboard`
    from pet2rep.publish.leaderboard import write_leaderboard

    md = write_leaderboard(demo / "runs", demo / "lb", ("md",))["md"].read_text(encoding="utf-8")
    md_rows = {ln.split(" | ")[0][2:]: [c.strip() for c in ln.strip().strip("|").split("|")]
               for ln in md.splitlines() if ln.startswith("| ") and not ln.startswith("| Model")}
    shown = page.eval_on_selector_all(
        "table.board tbody tr", "rs => rs.map(r => Array.from(r.cells).map(c => c.innerText.replace(/\\s+/g, ' ')))")
    assert len(shown) == len(md_rows) == 3
    for cells in shown:
        name = cells[0].replace(" baseline", "")
        assert [c.replace(" [", "[") for c in cells[1:]] == [c.replace(" [", "[") for c in md_rows[name][1:]], name
    rows = page.locator("#study-list tbody tr")
    assert rows.count() == 3
    assert page.locator("#count").text_content() == "3 of 3 studies listed"
    hrefs = page.eval_on_selector_all("#study-list tbody a", "as => as.map(a => a.getAttribute('href'))")
    assert hrefs == [f"studies/{i}.html" for i in ids]
    assert page.evaluate("Array.from(document.querySelectorAll('#figures img')).every(i => i.naturalWidth > 0)")
    _screenshot(page, "viewer-index.png", full_page=True)

    # failure mode "empty" of the untrusted model: only the study it answered with nothing
    page.select_option("#f-model", label=UNTRUSTED)
    page.select_option("#f-mode", label="empty")
    assert page.eval_on_selector_all("#study-list tbody tr", "rs => rs.map(r => r.dataset.study)") == [ids[1]]
    # "template beats model": the empty answer scores below the template
    page.select_option("#f-mode", value="")
    page.check("#f-beats")
    listed = page.eval_on_selector_all("#study-list tbody tr", "rs => rs.map(r => r.dataset.study)")
    assert ids[1] in listed and ids[0] not in listed  # study 0 has the reference inside: it beats the template
    page.uncheck("#f-beats")
    # organ filter: a study whose reference states increased uptake somewhere the template calls normal
    page.select_option("#f-model", label="oracle")
    page.select_option("#f-organ", index=1)
    assert page.locator("#study-list tbody tr").count() == 0  # the oracle is never wrong
    page.select_option("#f-model", label="template")
    wrong = _wrong_organ(demo)
    page.select_option("#f-organ", label=wrong[0].replace("_", " "))
    listed = page.eval_on_selector_all("#study-list tbody tr", "rs => rs.map(r => r.dataset.study)")
    assert listed == wrong[1]
    page.click(f"#study-list a:text-is('{wrong[1][0]}')")
    page.wait_for_load_state()
    assert page.url.endswith(f"/studies/{wrong[1][0]}.html")
    assert errors == []


def _wrong_organ(demo) -> tuple[str, list[str]]:
    """An organ the template gets wrong on some studies, and those studies (from per_sample.jsonl)."""
    rows = _jsonl(demo / "runs" / "template" / "per_sample.jsonl")
    for organ in ORGANS:
        hit = [r["id"] for r in rows if r["labels"]["ref"].get(organ)
               and sorted(r["labels"]["hyp"].get(organ) or []) != sorted(r["labels"]["ref"][organ])]
        if hit and len(hit) < len(rows):
            return organ, hit
    pytest.fail("the template is wrong on no organ of a strict subset of studies")


@pytest.mark.browser
def test_study_page_images_reports_and_colours(demo, site, page):
    ids = _ids(demo)
    page.set_viewport_size({"width": 1280, "height": 900})
    colours = {}
    checked = 0
    for sid in ids:
        page.goto((site / "studies" / f"{sid}.html").as_uri())
        widths = page.eval_on_selector_all("#images img", "is => is.map(i => [i.complete, i.naturalWidth])")
        assert len(widths) == 3 and all(c and w > 0 for c, w in widths), widths
        models = page.eval_on_selector_all(".report", "as => as.map(a => a.dataset.model)")
        assert models[0] == "reference" and set(models[1:]) == {"template", "oracle", UNTRUSTED}
        ref_text = page.locator(".report.reference .text").inner_text()
        assert len(ref_text) > 200
        for run in ("template", "oracle", UNTRUSTED):
            row = next(r for r in _jsonl(demo / "runs" / run / "per_sample.jsonl") if r["id"] == sid)
            marks = page.eval_on_selector_all(
                f'.report[data-model="{run}"] mark',
                "ms => ms.map(m => [m.className, m.dataset.organs, getComputedStyle(m).backgroundColor])")
            if run != UNTRUSTED or sid != ids[1]:
                assert marks, (sid, run)
            for cls, organs, bg in marks:
                assert cls == expected_class(organs.split(), row["labels"]["hyp"], row["labels"]["ref"]), \
                    (sid, run, organs)
                colours.setdefault(cls, set()).add(bg)
                checked += 1
        # the grid: one ✓/✗ per organ and model, as per_sample.jsonl says
        tmpl = next(r for r in _jsonl(demo / "runs" / "template" / "per_sample.jsonl") if r["id"] == sid)
        col = page.eval_on_selector_all("table.grid thead th.model", "ts => ts.map(t => t.textContent)").index("template")
        for organ, states in tmpl["labels"]["ref"].items():
            cell = page.locator(f'table.grid tr[data-organ="{organ}"] td').nth(1 + col).text_content()
            ok = sorted(tmpl["labels"]["hyp"].get(organ) or []) == sorted(states)
            assert cell == ("✓" if ok else "✗"), (sid, organ)
        if sid == ids[1]:
            assert page.locator('.report[data-model="untrusted-model"] .badge[data-mode="empty"]').count() == 1
    assert checked > 50 and {"ok", "bad"} <= set(colours)
    # one colour per class, and the classes look different: green, red (and grey)
    assert all(len(v) == 1 for v in colours.values()) and len({next(iter(v)) for v in colours.values()}) == len(colours)
    ok_rgb = [int(x) for x in re.findall(r"\d+", next(iter(colours["ok"])))[:3]]
    bad_rgb = [int(x) for x in re.findall(r"\d+", next(iter(colours["bad"])))[:3]]
    assert ok_rgb[1] > ok_rgb[0] and bad_rgb[0] > bad_rgb[1]
    page.set_viewport_size({"width": 1400, "height": 1000})
    page.goto((site / "studies" / f"{ids[1]}.html").as_uri())
    _screenshot(page, "viewer-study.png", full_page=False)


@pytest.mark.browser
def test_markup_in_a_report_runs_nothing(demo, site, page):
    errors: list[str] = []
    page.on("pageerror", lambda e: errors.append(str(e)))
    requests: list[str] = []
    page.on("request", lambda r: requests.append(r.url))
    page.goto((site / "studies" / f"{_ids(demo)[0]}.html").as_uri())
    page.wait_for_load_state("load")
    assert page.evaluate("window.__pwned") is None
    text = page.locator(f'.report[data-model="{UNTRUSTED}"] .text').inner_text()
    assert text.startswith(PAYLOAD.strip())  # shown as text
    assert page.locator(f'.report[data-model="{UNTRUSTED}"] .text img, .report .text script, .report svg').count() == 0
    assert not any(u.endswith("/x") for u in requests)
    # the index draws model names and ids with text nodes too
    page.goto((site / "index.html").as_uri())
    page.select_option("#f-model", label=UNTRUSTED)
    assert page.evaluate("window.__pwned") is None and errors == []


def _screenshot(page, name: str, full_page: bool) -> None:
    """Screenshots shown in the README: written to docs/img when missing, or when PET2REP_SCREENSHOTS=1."""
    dst = REPO / "docs" / "img" / name
    if dst.exists() and os.environ.get("PET2REP_SCREENSHOTS") != "1":
        page.screenshot(full_page=full_page)  # still taken: a page that cannot be drawn fails here
        return
    dst.parent.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(dst), full_page=full_page)


def test_demo_writes_figures_and_viewer_and_says_what_to_open(demo, tmp_path, capsys):
    assert (demo / "plots" / "metrics.svg").is_file() and (demo / "viewer" / "index.html").is_file()
    assert len(list((demo / "viewer" / "studies").glob("*.html"))) == 3
    out = tmp_path / "d"
    assert main(["demo", "--out", str(out), "-n", "1", "--models", "template"]) == 0
    last = capsys.readouterr().out.strip().splitlines()[-1]
    assert last.startswith(f"open {(out / 'viewer' / 'index.html').resolve().as_uri()}")
    assert (out / "plots" / "failures.png").is_file()


def test_hostile_ids_and_image_paths_stay_out_of_the_site(demo, tmp_path):
    """A study id that is a path, and dataset image paths that leave the dataset folder (.., a symbolic link to a
    file outside, not an image): nothing is written outside the site and nothing outside the dataset is copied."""
    ids = _ids(demo)
    runs = tmp_path / "runs"
    run = runs / "template"
    shutil.copytree(demo / "runs" / "template", run)
    ds = tmp_path / "ds"
    shutil.copytree(demo / "dataset", ds)
    secret = tmp_path / "secret.jpg"
    secret.write_bytes(b"not for the site")
    (ds / "slice_prompt" / "link.jpg").symlink_to(secret)
    recs = _jsonl(ds / "prompts.jsonl")
    good = recs[0]["prompt_image_fuse"][0]
    recs[0]["prompt_image_fuse"] = [good, "../secret.jpg", "slice_prompt/link.jpg"]
    recs[1]["prompt_image_fuse"][2] = "prompts.jsonl"  # a file of the dataset, but no image
    recs[2]["patient_id"] = "../evil"
    (ds / "prompts.jsonl").write_text("".join(json.dumps(r, ensure_ascii=False) + "\n" for r in recs), encoding="utf-8")
    rows = _jsonl(run / "per_sample.jsonl")
    rows[2]["id"] = "../evil"
    (run / "per_sample.jsonl").write_text("".join(json.dumps(r) + "\n" for r in rows), encoding="utf-8")
    info = json.loads((run / "run.json").read_text(encoding="utf-8"))
    info["dataset"] = str(ds / "prompts.jsonl")
    (run / "run.json").write_text(json.dumps(info), encoding="utf-8")
    site = tmp_path / "site"
    warns: list[str] = []
    write_site(runs, site, warn=warns.append, plots=False)
    assert any("'../evil'" in w and "left out" in w for w in warns), warns
    assert any("3 image(s) named by the datasets were not found" in w for w in warns), warns
    assert sorted(p.name for p in (site / "studies").iterdir()) == sorted(f"{i}.html" for i in ids[:2])
    copied = [p for p in site.rglob("*") if p.is_file() and p.suffix == ".jpg"]
    assert all(p.read_bytes() != b"not for the site" for p in copied)
    assert sorted(p.name for p in (site / "img" / ids[0]).iterdir()) == [Path(good).name]
    page = (site / "studies" / f"{ids[0]}.html").read_text(encoding="utf-8")
    assert page.count("image not found") == 2
    assert not (tmp_path / "evil.html").exists() and not list(tmp_path.glob("*.html"))


def test_highlight_classes_green_red_grey():
    """The colour rule on one English report: the reference states liver and lung, not the spleen."""
    from pet2rep.metrics.uptake import extract_uptake
    from pet2rep.publish.view import organ_verdicts, segments

    ref = "The liver shows normal FDG uptake. A nodule in the right upper lobe of the lung shows increased FDG uptake."
    hyp = ("The liver shows normal FDG uptake. The lung shows no abnormal FDG uptake. "
           "The spleen shows normal FDG uptake.")
    ref_lab, hyp_lab = extract_uptake(ref, "en"), extract_uptake(hyp, "en")
    assert set(ref_lab) == {"liver", "lung"} and {"liver", "lung", "spleen"} <= set(hyp_lab)
    verdicts = organ_verdicts(hyp_lab, ref_lab)
    assert verdicts["liver"] == "ok" and verdicts["lung"] == "bad" and verdicts["spleen"] == "extra"
    segs = segments(hyp, "en", verdicts, hyp_lab, ref_lab)
    assert "".join(s.text for s in segs) == hyp  # nothing lost or added
    by_organ = {o: s.cls for s in segs if s.cls for o in s.organs}
    assert by_organ == {"liver": "ok", "lung": "bad", "spleen": "nr"}
    ref_segs = segments(ref, "en", None, ref_lab)
    assert {s.cls for s in ref_segs if s.cls} == {"ref"}
