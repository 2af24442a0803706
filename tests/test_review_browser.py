"""Reader study in a real headless Chromium: open the link, rate three reports, reload, resume, export."""

from __future__ import annotations

import csv
import os
import re
from pathlib import Path

import pytest
from test_review import LiveServer, make_study_folder

from pet2rep.review.export import export_study

REPO = Path(__file__).resolve().parents[1]
SCREENSHOT = REPO / "docs" / "img" / "review-rating.png"
CRITERIA = ("accuracy", "completeness", "usability")


@pytest.fixture(scope="module")
def live(tmp_path_factory):
    root = tmp_path_factory.mktemp("review_browser")
    study = make_study_folder(root, n=4, lang="en", extra=False)
    srv = LiveServer(study["runs"], root / "review.sqlite")
    yield srv
    srv.stop()


def _rate(page, scores: tuple[int, int, int], comment: str) -> None:
    for c, v in zip(CRITERIA, scores):
        page.locator(f'input[name="{c}"][value="{v}"]').check()
    page.fill('textarea[name="comment"]', comment)


@pytest.mark.browser
def test_reviewer_rates_three_reloads_resumes_and_export_shows_them(live, page, tmp_path):
    token = live.store.invite("dr_chen")
    page.set_viewport_size({"width": 1280, "height": 1000})
    dialogs: list[str] = []
    page.on("dialog", lambda d: (dialogs.append(d.message), d.dismiss()))
    page.goto(f"{live.url}/login/{token}")
    page.wait_for_url(re.compile(r"/a/[\w-]+$"))
    assert "Report 1 of 8" in page.inner_text("nav.progress")
    cookie = next(c for c in page.context.cookies() if c["name"] == "pet2rep_review")
    assert cookie["httpOnly"] and cookie["sameSite"] == "Strict"
    # the images the model saw are shown (decoded by the browser)
    widths = page.eval_on_selector_all("section.images img", "els => els.map(e => e.naturalWidth)")
    assert len(widths) == 3 and all(w > 0 for w in widths)
    plan = [((4, 3, 4), "liver uptake described well"), ((2, 2, 1), "misses the lung nodule"),
            ((5, 5, 5), "")]
    urls = []
    for k, (scores, comment) in enumerate(plan):
        urls.append(page.url)
        _rate(page, scores, comment)
        if k == 1:  # the README's screenshot: written when missing or with PET2REP_SCREENSHOTS=1, else still taken
            if SCREENSHOT.exists() and os.environ.get("PET2REP_SCREENSHOTS") != "1":
                page.screenshot()
            else:
                SCREENSHOT.parent.mkdir(parents=True, exist_ok=True)
                page.screenshot(path=str(SCREENSHOT))
        page.click("button[type=submit]")
        page.wait_for_url(re.compile(r"/a/[\w-]+$"))
        assert f"Report {k + 2} of 8" in page.inner_text("nav.progress")
    page.reload()
    assert "Report 4 of 8" in page.inner_text("nav.progress")
    # opening the study again resumes at the fourth report, with three of eight rated
    page.goto(f"{live.url}/")
    page.wait_for_url(re.compile(r"/a/[\w-]+$"))
    text = page.inner_text("nav.progress")
    assert "Report 4 of 8" in text and "3 of 8 rated" in text
    assert page.get_attribute("progress", "value") == "3"
    assert page.url not in urls
    # going back shows each saved rating, after a reload
    for k in (2, 1, 0):
        page.click("a[rel=prev]")
        page.wait_for_url(urls[k])
        page.reload()
        for c, v in zip(CRITERIA, plan[k][0]):
            assert page.is_checked(f'input[name="{c}"][value="{v}"]'), (k, c)
        assert page.input_value('textarea[name="comment"]') == plan[k][1]
    assert dialogs == []
    assert SCREENSHOT.stat().st_size > 10_000
    done = export_study(live.store.path, tmp_path / "export", n_boot=200)
    assert done["n_ratings"] == 3
    rows = list(csv.DictReader((tmp_path / "export" / "ratings.csv").open(encoding="utf-8")))
    got = sorted((tuple(int(r[c]) for c in CRITERIA), r["comment"]) for r in rows)
    assert got == sorted(plan)
    assert {r["reviewer"] for r in rows} == {"dr_chen"} and {r["run"] for r in rows} <= {"oracle", "template"}
    assert [int(r["position"]) for r in rows] == [1, 2, 3]
    assert all(r["shown"] and int(r["seconds_to_rate"]) >= 0 for r in rows)  # reading time per report
