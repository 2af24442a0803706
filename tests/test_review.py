"""Reader study (`pet2rep review`): the real server (uvicorn on a loopback port) over real run folders, spoken
to over real HTTP; agreement statistics against hand-computed values and the `krippendorff` package."""

from __future__ import annotations

import csv
import http.client
import json
import os
import re
import shutil
import socket
import sqlite3
import subprocess
import sys
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import httpx
import numpy as np
import pytest

from pet2rep.cli import main
from pet2rep.errors import InputError
from pet2rep.review import auth
from pet2rep.review.catalog import build_catalog
from pet2rep.review.export import (
    agreement,
    bootstrap_mean,
    export_study,
    krippendorff_alpha,
    model_ratings,
    weighted_kappa,
)
from pet2rep.review.order import balanced_order
from pet2rep.review.store import CRITERIA, Store

SECRET = b"\x89PNG\r\n\x1a\nTOP-SECRET-OUTSIDE-THE-RUNS-7f3a"
EVIL_TEXT = ('<script>alert("pwned")</script><img src=x onerror="alert(1)"> '
             'Findings: <b onmouseover="steal()">liver</b> normal.')
EXTRA_RUNS = [f"zephyr-vlm-{k:02d}" for k in range(1, 8)]  # names easy to spot if they leak
EVIL_RUN = "evilmodel-xss"
N_STUDIES = 5


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def make_study_folder(root: Path, *, n: int = N_STUDIES, lang: str = "zh", extra: bool = True) -> dict:
    """A demo cohort (template + oracle runs) and, with `extra`, 7 more runs and one hostile run, whose
    dataset lists images outside its folder (relative, absolute, a symbolic link out) and whose output holds
    HTML. Returns names and paths."""
    from pet2rep.demo import run_demo

    run_demo(root, n=n, progress=False, lang=lang)
    runs = root / "runs"
    runs_names = ["oracle", "template"]
    if extra:
        template = [json.loads(line) for line in (runs / "template" / "predictions.jsonl").read_text().splitlines()]
        info = json.loads((runs / "template" / "run.json").read_text())
        for k, name in enumerate(EXTRA_RUNS):
            (runs / name).mkdir()
            tail = " runaway" * 4000 if k == 6 else ""  # one run's outputs are 32k characters too long
            recs = [dict(r, model=name, llm_output=[f"Variant {k} report for this study. " + r["llm_output"][0]
                                                    + tail]) for r in template]
            (runs / name / "predictions.jsonl").write_text("".join(json.dumps(r) + "\n" for r in recs))
            (runs / name / "run.json").write_text(json.dumps(dict(info, model=name)))
        # the hostile run: its own dataset folder, images pointing out of it, HTML in its output
        (root / "secret.png").write_bytes(SECRET)
        evil_ds = root / "evil_dataset"
        shutil.copytree(root / "dataset", evil_ds)
        (evil_ds / "link_out.png").symlink_to(root / "secret.png")
        lines = []
        for line in (evil_ds / "prompts.jsonl").read_text().splitlines():
            rec = json.loads(line)
            rec["prompt_image_fuse"] = [rec["prompt_image_fuse"][0], "../secret.png", str(root / "secret.png"),
                                        "link_out.png"]
            rec["prompt_user_text"] = "rate"
            lines.append(json.dumps(rec, ensure_ascii=False))
        (evil_ds / "prompts.jsonl").write_text("\n".join(lines) + "\n")
        (runs / EVIL_RUN).mkdir()
        recs = [dict(r, model=EVIL_RUN, llm_output=[EVIL_TEXT]) for r in template]
        (runs / EVIL_RUN / "predictions.jsonl").write_text("".join(json.dumps(r) + "\n" for r in recs))
        (runs / EVIL_RUN / "run.json").write_text(json.dumps(dict(info, model=EVIL_RUN,
                                                                  dataset=str(evil_ds / "prompts.jsonl"))))
        runs_names += EXTRA_RUNS + [EVIL_RUN]
    return {"root": root, "runs": runs, "names": runs_names}


class LiveServer:
    """The app served by a real uvicorn server on a free loopback port, in a thread."""

    def __init__(self, runs: Path, db: Path, *, base_url: str | None = None, show_reference: bool = False):
        import uvicorn

        from pet2rep.review.app import create_app

        self.store = Store(db, create=True)
        self.catalog = build_catalog(runs)
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        app = create_app(self.store, self.catalog, base_url=base_url, show_reference=show_reference)
        config = uvicorn.Config(app, host="127.0.0.1", port=self.port, log_level="warning", lifespan="off")
        self.server = uvicorn.Server(config)
        self.thread = threading.Thread(target=self.server.run, daemon=True)
        self.thread.start()
        deadline = time.monotonic() + 30
        while not self.server.started:
            if time.monotonic() > deadline or not self.thread.is_alive():
                raise RuntimeError("the review server did not start")
            time.sleep(0.02)

    def client(self, token: str | None = None) -> httpx.Client:
        c = httpx.Client(base_url=self.url, follow_redirects=False, timeout=30)
        if token is not None:
            r = c.get(f"/login/{token}")
            assert r.status_code == 200, r.text
        return c

    def stop(self) -> None:
        self.server.should_exit = True
        self.thread.join(10)


@pytest.fixture(scope="module")
def study(tmp_path_factory):
    return make_study_folder(tmp_path_factory.mktemp("review"))


@pytest.fixture(scope="module")
def live(study, tmp_path_factory):
    srv = LiveServer(study["runs"], tmp_path_factory.mktemp("db") / "review.sqlite")
    yield srv
    srv.stop()


def reviewer(live: LiveServer, name: str) -> tuple[str, httpx.Client]:
    token = live.store.invite(name)
    return token, live.client(token)


def csrf_of(client: httpx.Client) -> str:
    return client.get("/api/session").json()["csrf"]


def assignments(client: httpx.Client) -> list[dict]:
    r = client.get("/api/assignments")
    assert r.status_code == 200
    return r.json()["assignments"]


def item_of(live: LiveServer, aid: str) -> tuple[str, str]:
    """(run, study) of an assignment id (read from the database: the test is the study coordinator)."""
    con = sqlite3.connect(live.store.path)
    row = con.execute("SELECT i.run, i.study FROM assignments a JOIN items i ON i.id = a.item_id WHERE a.id = ?",
                      (aid,)).fetchone()
    con.close()
    return row


def raw_get(live: LiveServer, path: str, cookie: str | None = None) -> tuple[int, bytes]:
    """GET with the path sent byte for byte (no client-side normalisation of ../ or %2e%2e)."""
    con = http.client.HTTPConnection("127.0.0.1", live.port, timeout=30)
    con.putrequest("GET", path, skip_accept_encoding=True)
    if cookie:
        con.putheader("Cookie", f"{auth.COOKIE_NAME}={cookie}")
    con.endheaders()
    resp = con.getresponse()
    body = resp.read()
    con.close()
    return resp.status, body


# ------------------------------------------------------------------------------------ catalog and order


def test_catalog_has_every_run_and_leaves_out_images_outside_the_dataset(study):
    warnings: list[str] = []
    catalog = build_catalog(study["runs"], warn=warnings.append)
    assert len(catalog) == N_STUDIES * 10
    assert sorted({c.run for c in catalog}) == sorted(study["names"])
    evil = [c for c in catalog if c.run == EVIL_RUN]
    # of the four listed images only the one inside the dataset folder is kept
    assert all(len(c.images) == 1 and c.images[0].name.endswith("_coronal.jpg") for c in evil)
    assert all(len(c.images) == 3 for c in catalog if c.run != EVIL_RUN)
    assert sum("left out" in w for w in warnings) == 3 * N_STUDIES
    with pytest.raises(InputError, match="no run folder"):
        build_catalog(study["runs"], models=["nope"])
    with pytest.raises(InputError, match="not a folder"):
        build_catalog(study["root"] / "missing")


def test_study_subset_and_dataset_override(study):
    from pet2rep.review.catalog import study_subset

    catalog = build_catalog(study["runs"])
    two = study_subset(catalog, 2, "seed")
    assert len({c.study for c in two}) == 2 and len(two) == 2 * 10
    three = study_subset(catalog, 3, "seed")
    assert {c.study for c in two} < {c.study for c in three}  # a larger subset keeps the smaller one
    assert len(study_subset(catalog, 99, "seed")) == len(catalog)
    # --dataset: every run takes its images from the named dataset (the hostile run's list is not used)
    moved = build_catalog(study["runs"], dataset=study["root"] / "dataset")
    assert all(len(c.images) == 3 for c in moved)
    with pytest.raises(InputError, match="no such dataset"):
        build_catalog(study["runs"], dataset=study["root"] / "nowhere")


def test_balanced_order_spreads_studies_and_models():
    items = [(f"s{i}", f"m{j}") for i in range(5) for j in range(10)]
    order = balanced_order(items, "seed-a")
    assert sorted(order) == list(range(50))
    seq = [items[k] for k in order]
    for r in range(10):  # ten rounds of five: each round shows every study once, five different models
        block = seq[5 * r: 5 * r + 5]
        assert len({s for s, _ in block}) == 5 and len({m for _, m in block}) == 5
    assert all(a[0] != b[0] for a, b in zip(seq, seq[1:]))  # never the same study twice in a row
    assert balanced_order(items, "seed-a") == order
    assert balanced_order(items, "seed-b") != order
    # more studies than models: each round holds every study, models balanced within one
    items = [(f"s{i}", f"m{j}") for i in range(7) for j in range(2)]
    seq = [items[k] for k in balanced_order(items, "x")]
    for block in (seq[:7], seq[7:]):
        counts = sorted(sum(1 for _, m in block if m == mm) for mm in ("m0", "m1"))
        assert counts == [3, 4] and len({s for s, _ in block}) == 7


# ------------------------------------------------------------------------------------ access control


def _assert_no_content(resp_status: int, body: bytes) -> None:
    assert resp_status in (401, 403, 404), resp_status
    assert "影像所见".encode() not in body and b"Variant" not in body and b"\xff\xd8\xff" not in body


def test_no_token_wrong_token_or_revoked_token_get_nothing(live):
    token, alice = reviewer(live, "alice")
    aid = assignments(alice)[0]["id"]
    paths = ["/", f"/a/{aid}", f"/img/{aid}/0", "/api/progress", "/api/assignments", "/api/ratings", "/api/session"]
    assert alice.get(f"/img/{aid}/0").content.startswith(b"\xff\xd8\xff")  # she herself sees it
    # no token
    anon = live.client()
    for p in paths:
        r = anon.get(p)
        _assert_no_content(r.status_code, r.content)
    r = anon.post("/api/ratings", json={"assignment": aid, "accuracy": 1, "completeness": 1, "usability": 1})
    assert r.status_code == 401
    # a wrong token: no cookie, then the same
    r = anon.get("/login/" + auth.new_token())
    assert r.status_code == 403 and "set-cookie" not in r.headers
    assert anon.get("/login/" + token[:-1] + ("A" if token[-1] != "A" else "B")).status_code == 403
    for p in paths:
        r = anon.get(p)
        _assert_no_content(r.status_code, r.content)
    # a made-up session cookie
    for p in paths:
        status, body = raw_get(live, p, cookie=auth.new_session_id())
        _assert_no_content(status, body)
    # revoked: the open session and the link stop working at once
    token_c, carol = reviewer(live, "carol")
    aid_c = assignments(carol)[0]["id"]
    assert carol.get(f"/a/{aid_c}").status_code == 200
    live.store.revoke("carol")
    for p in ["/", f"/a/{aid_c}", f"/img/{aid_c}/0", "/api/progress", "/api/assignments", "/api/ratings"]:
        r = carol.get(p)
        _assert_no_content(r.status_code, r.content)
    assert live.client().get(f"/login/{token_c}").status_code == 403


def test_session_cookie_is_httponly_samesite_and_secure_behind_https():
    token = auth.new_token()
    assert len(token) >= 22 and len(auth.digest(token)) == 64
    from pet2rep.review.app import base_prefix

    assert base_prefix("https://pacs.example.org/reader/") == ("/reader", True)
    assert base_prefix(None) == ("", False)
    header = auth.cookie_header("abc", path="/reader", secure=True)
    assert "HttpOnly" in header and "SameSite=Strict" in header and "Secure" in header and "Path=/reader" in header


def test_login_cookie_flags_on_the_wire(live):
    token = live.store.invite("dora")
    r = live.client().get(f"/login/{token}")
    cookie = r.headers["set-cookie"]
    assert cookie.startswith(auth.COOKIE_NAME + "=")
    assert "HttpOnly" in cookie and "SameSite=Strict" in cookie and "Path=/" in cookie
    assert "Secure" not in cookie  # plain http on loopback; behind an https --base-url it is Secure
    assert token not in cookie
    assert "content-security-policy" in r.headers and r.headers["x-frame-options"] == "DENY"
    # only hashes in the database: neither the token nor the session id appears in its bytes
    sid = cookie.split(";")[0].split("=", 1)[1]
    db = b"".join(p.read_bytes() for p in live.store.path.parent.glob("review.sqlite*"))
    assert token.encode() not in db and sid.encode() not in db
    assert auth.digest(token).encode() in db


def test_one_reviewer_cannot_read_or_change_anothers_ratings(live):
    _, erin = reviewer(live, "erin")
    _, fred = reviewer(live, "fred")
    e_items, f_items = assignments(erin), assignments(fred)
    assert not {a["id"] for a in e_items} & {a["id"] for a in f_items}  # per-reviewer opaque ids
    f_aid = f_items[0]["id"]
    r = fred.post("/api/ratings", headers={"X-CSRF-Token": csrf_of(fred)},
                  json={"assignment": f_aid, "accuracy": 2, "completeness": 2, "usability": 2, "comment": "fred's"})
    assert r.status_code == 200
    e_csrf = csrf_of(erin)
    # erin names fred's assignment in a URL, an image URL, a form and the API: refused, nothing changes
    assert erin.get(f"/a/{f_aid}").status_code == 404
    assert erin.get(f"/img/{f_aid}/0").status_code == 404
    r = erin.post("/rate", data={"csrf": e_csrf, "a": f_aid, "accuracy": "5", "completeness": "5",
                                 "usability": "5"})
    assert r.status_code == 404
    r = erin.post("/api/ratings", headers={"X-CSRF-Token": e_csrf},
                  json={"assignment": f_aid, "accuracy": 5, "completeness": 5, "usability": 5})
    assert r.status_code == 404
    # a reviewer field in the body is ignored: the rating is erin's own
    r = erin.post("/api/ratings", headers={"X-CSRF-Token": e_csrf},
                  json={"assignment": e_items[0]["id"], "reviewer": "fred", "reviewer_id": 1,
                        "accuracy": 5, "completeness": 5, "usability": 5})
    assert r.status_code == 200
    # fred's CSRF token with erin's cookie is refused
    r = erin.post("/api/ratings", headers={"X-CSRF-Token": csrf_of(fred)},
                  json={"assignment": e_items[1]["id"], "accuracy": 5, "completeness": 5, "usability": 5})
    assert r.status_code == 403
    f_ratings = fred.get("/api/ratings").json()["ratings"]
    assert [(x["assignment"], x["accuracy"], x["comment"]) for x in f_ratings] == [(f_aid, 2, "fred's")]
    e_ratings = erin.get("/api/ratings").json()["ratings"]
    assert [x["assignment"] for x in e_ratings] == [e_items[0]["id"]]
    assert "fred's" not in erin.get("/api/ratings").text


TRAVERSALS = [
    "/img/../../secret.png",
    "/img/%2e%2e/%2e%2e/secret.png",
    "/img/%2E%2E%2F%2E%2E%2Fsecret.png",
    "/img/{aid}/../../../secret.png",
    "/img/{aid}/..%2f..%2f..%2fsecret.png",
    "/img/{aid}/%2e%2e%2f%2e%2e%2fsecret.png",
    "/img/{aid}/{abs}",
    "/img/{aid}/%2F{absq}",
    "/img//{absq}",
    "/{absq}",
    "//etc/passwd",
    "/img/{aid}/../../../../../../etc/passwd",
    "/static/../../secret.png",
    "/static/%2e%2e/%2e%2e/secret.png",
    "/static/review.css/../../../secret.png",
    "/img/{aid}/-1",
    "/img/{aid}/99",
    "/img/{aid}/1%00",
    "/img/{aid}/0%2f..%2f..%2fsecret.png",
    "/img/{aid}/3",  # the hostile item lists 4 images; the 3 outside its dataset are not in the table
    "/img/{aid}/link_out.png",
]


def test_image_urls_cannot_reach_files_outside_the_runs(live, study):
    token, gina = reviewer(live, "gina")
    items = assignments(gina)
    evil = next(a for a in items if item_of(live, a["id"])[0] == EVIL_RUN)
    assert evil["images"] == 1
    cookie = gina.cookies[auth.COOKIE_NAME]
    secret = str(study["root"] / "secret.png")
    for tmpl in TRAVERSALS:
        path = tmpl.format(aid=evil["id"], abs=secret, absq=secret.lstrip("/"))
        status, body = raw_get(live, path, cookie=cookie)
        assert status != 200 or path == "/img/{aid}/0", path
        assert b"TOP-SECRET" not in body and b"root:" not in body, path
    # every image any item shows is an image from a dataset, never the secret
    for a in items:
        for k in range(a["images"]):
            r = gina.get(f"/img/{a['id']}/{k}")
            assert r.status_code == 200 and r.content.startswith(b"\xff\xd8\xff")
            assert r.headers["content-type"] == "image/jpeg" and "content-disposition" not in r.headers
    # a symbolic link planted over a served image after start-up is not followed
    normal = next(a for a in items if item_of(live, a["id"])[0] == "oracle")
    study_id = item_of(live, normal["id"])[1]
    target = next((study["root"] / "dataset" / "slice_prompt" / study_id).glob("*.jpg"))
    keep = target.read_bytes()
    index = sorted(p.name for p in target.parent.glob("*.jpg"))
    served = [gina.get(f"/img/{normal['id']}/{k}").content for k in range(3)]
    k = served.index(keep)
    target.unlink()
    target.symlink_to(study["root"] / "secret.png")
    try:
        r = gina.get(f"/img/{normal['id']}/{k}")
        assert r.status_code == 404 and b"TOP-SECRET" not in r.content
    finally:
        target.unlink()
        target.write_bytes(keep)
    assert gina.get(f"/img/{normal['id']}/{k}").content == keep
    assert index  # the folder held the images looked at


def test_model_output_is_shown_as_text(live):
    _, hank = reviewer(live, "hank")
    evil = next(a for a in assignments(hank) if item_of(live, a["id"])[0] == EVIL_RUN)
    html = hank.get(f"/a/{evil['id']}").text
    assert "&lt;script&gt;alert(&#34;pwned&#34;)&lt;/script&gt;" in html
    assert "<script" not in html.lower()
    assert "<img src=x" not in html and 'onerror="alert' not in html and "<b onmouseover" not in html
    assert "onerror=&#34;alert(1)&#34;" in html
    # the JSON API carries the text as a JSON string, served as application/json
    r = hank.get("/api/assignments")
    assert r.headers["content-type"].startswith("application/json")


def test_state_changing_requests_need_the_csrf_token(live):
    _, ivan = reviewer(live, "ivan")
    aid = assignments(ivan)[0]["id"]
    form = {"a": aid, "accuracy": "4", "completeness": "4", "usability": "4"}
    assert ivan.post("/rate", data=form).status_code == 403
    assert ivan.post("/rate", data={**form, "csrf": "x" * 43}).status_code == 403
    body = {"assignment": aid, "accuracy": 4, "completeness": 4, "usability": 4}
    assert ivan.post("/api/ratings", json=body).status_code == 403
    assert ivan.post("/api/ratings", json=body, headers={"X-CSRF-Token": ""}).status_code == 403
    assert ivan.get("/api/ratings").json()["ratings"] == []
    assert ivan.post("/logout", data={}).status_code == 403
    csrf = csrf_of(ivan)
    r = ivan.post("/rate", data={**form, "csrf": csrf})
    assert r.status_code == 303
    assert [x["accuracy"] for x in ivan.get("/api/ratings").json()["ratings"]] == [4]
    # bad scores are refused (form: back to the item with a message; API: 400), nothing stored
    r = ivan.post("/rate", data={**form, "csrf": csrf, "a": assignments(ivan)[1]["id"], "accuracy": "6"})
    assert r.status_code == 303 and r.headers["location"].endswith("?error=1")
    for bad in (0, 6, "3.5", None, True, 2.0):
        r = ivan.post("/api/ratings", headers={"X-CSRF-Token": csrf}, json={**body, "accuracy": bad})
        assert r.status_code == 400, bad
    assert ivan.post("/api/ratings", headers={"X-CSRF-Token": csrf}, content=b"[1]").status_code == 400
    assert len(ivan.get("/api/ratings").json()["ratings"]) == 1
    # a large body is refused before it is parsed, with or without Content-Length
    big = {"csrf": csrf, "a": aid, "accuracy": "4", "completeness": "4", "usability": "4", "comment": "x" * 300_000}
    assert ivan.post("/rate", data=big).status_code == 413

    def chunks():
        for _ in range(40):
            yield b"comment=" + b"y" * 10_000

    assert ivan.post("/rate", content=chunks(),
                     headers={"content-type": "application/x-www-form-urlencoded"}).status_code == 413
    # signing out needs the token and ends the session
    assert ivan.post("/logout", data={"csrf": csrf}).status_code == 200
    assert ivan.get("/api/progress").status_code == 401


def test_model_identity_is_not_in_pages_urls_or_image_names(live, study):
    _, jack = reviewer(live, "jack")
    names = [n.lower() for n in study["names"]]
    items = assignments(jack)
    assert len(items) == N_STUDIES * 10
    seen = []
    for a in items:
        r = jack.get(f"/a/{a['id']}")
        assert r.status_code == 200
        page = r.text.lower()
        seen.append(page)
        urls = re.findall(r'(?:href|src|action)="([^"]*)"', r.text)
        assert urls and all(re.fullmatch(r"/(a/[\w-]+|img/[\w-]+/\d+|static/review\.css|rate|)", u) for u in urls)
        for name in names:
            assert name not in page, name
            assert all(name not in v.lower() for v in r.headers.values())
        for k in range(a["images"]):
            img = jack.get(f"/img/{a['id']}/{k}")
            assert all(n not in v.lower() for n in names for v in img.headers.values())
            assert "synth_" not in str(img.headers).lower()  # no file names at all
    assert "variant 3 report" in "".join(seen)  # the pages do show the reports
    # a runaway output is cut for display, and the page says so
    long_pages = [p for p in seen if "variant 6 report" in p]
    assert len(long_pages) == N_STUDIES
    assert all("more characters, not shown" in p and p.count("runaway") < 2600 for p in long_pages)
    assert all(name not in jack.get("/api/assignments").text.lower() for name in names)


def test_progress_resume_and_next_follow_the_reviewers_order(live):
    _, kate = reviewer(live, "kate")
    items = assignments(kate)
    csrf = csrf_of(kate)
    r = kate.get("/")
    assert r.status_code == 303 and r.headers["location"] == f"/a/{items[0]['id']}"
    for k in range(2):
        r = kate.post("/rate", data={"csrf": csrf, "a": items[k]["id"], "accuracy": "3", "completeness": "4",
                                     "usability": "5", "comment": f"note {k}"})
        assert r.headers["location"] == f"/a/{items[k + 1]['id']}"
    assert kate.get("/").headers["location"] == f"/a/{items[2]['id']}"
    page = kate.get(f"/a/{items[2]['id']}").text
    assert "Report 3 of 50" in page and 'value="2"' in page and "2 of 50 rated" in page
    page = kate.get(f"/a/{items[0]['id']}").text
    assert 'value="3" required checked' in page and "note 0" in page
    progress = kate.get("/api/progress").json()
    assert progress == {"rated": 2, "total": 50, "next": items[2]["id"]}
    # the order is this reviewer's own: another reviewer sees the items in another order
    _, liam = reviewer(live, "liam")
    mine = [item_of(live, a["id"]) for a in items]
    theirs = [item_of(live, a["id"]) for a in assignments(liam)]
    assert sorted(mine) == sorted(theirs) and mine != theirs
    for seq in (mine, theirs):
        assert all(a[1] != b[1] for a, b in zip(seq, seq[1:]))


def test_twenty_reviewers_posting_fifty_ratings_each_at_once(live):
    n_rev = 20
    clients = [reviewer(live, f"conc{i:02d}")[1] for i in range(n_rev)]
    plans = []
    for c in clients:
        items = assignments(c)
        assert len(items) == 50
        plans.append((c, csrf_of(c), [a["id"] for a in items]))
    barrier = threading.Barrier(n_rev)

    def work(i: int) -> list[int]:
        c, csrf, aids = plans[i]
        barrier.wait()
        codes = []
        for k, aid in enumerate(aids):
            v = (i + k) % 5 + 1
            r = c.post("/api/ratings", headers={"X-CSRF-Token": csrf},
                       json={"assignment": aid, "accuracy": v, "completeness": 6 - v, "usability": 3,
                             "comment": f"{i}:{k}"})
            codes.append(r.status_code)
        return codes

    with ThreadPoolExecutor(n_rev) as pool:
        codes = [code for result in pool.map(work, range(n_rev)) for code in result]
    assert codes == [200] * 1000
    con = sqlite3.connect(live.store.path)
    rows = con.execute("SELECT r.name, t.item_id, t.accuracy, t.completeness, t.comment, t.edits FROM ratings t "
                       "JOIN reviewers r ON r.id = t.reviewer_id WHERE r.name LIKE 'conc%'").fetchall()
    con.close()
    assert len(rows) == 1000
    assert len({(name, item) for name, item, *_ in rows}) == 1000
    done = clients[0].get("/")
    assert done.status_code == 200 and "All 50 reports rated" in done.text
    for i in range(n_rev):
        mine = {comment: (acc, comp, edits) for name, _, acc, comp, comment, edits in rows if name == f"conc{i:02d}"}
        assert len(mine) == 50
        for k in range(50):
            v = (i + k) % 5 + 1
            assert mine[f"{i}:{k}"] == (v, 6 - v, 0)


# ------------------------------------------------------------------------------------ statistics


def test_weighted_kappa_against_hand_computed_values():
    # observed mean squared difference (0+1+0+1)/4 = 0.5; chance: mean over all 16 pairs = 56/16 = 3.5
    assert weighted_kappa([1, 2, 3, 4], [1, 3, 3, 5]) == pytest.approx(1 - 0.5 / 3.5)
    assert weighted_kappa([1, 2, 3, 4, 5], [1, 2, 3, 4, 5]) == pytest.approx(1.0)
    # exact disagreement by reversal: observed = mean (x - (6-x))^2 = 8 = 2x chance 4 -> 1 - 8/4 = -1
    assert weighted_kappa([1, 2, 3, 4, 5], [5, 4, 3, 2, 1]) == pytest.approx(-1.0)
    assert weighted_kappa([3, 3, 3], [3, 3, 3]) is None  # no variation: undefined
    assert weighted_kappa([], []) is None
    # quadratic weights: one step off costs a quarter of two steps off
    near = weighted_kappa([1, 2, 3, 4, 5, 1], [1, 2, 3, 4, 5, 2])
    far = weighted_kappa([1, 2, 3, 4, 5, 1], [1, 2, 3, 4, 5, 3])
    assert 1 > near > far


# Krippendorff (2011), "Computing Krippendorff's Alpha-Reliability", section E: four observers, twelve units,
# values 1-5 with gaps; his hand computation gives nominal .743, ordinal .815, interval .849.
K_DATA = [[1, 2, 3, 3, 2, 1, 4, 1, 2, None, None, None],
          [1, 2, 3, 3, 2, 2, 4, 1, 2, 5, None, 3],
          [None, 3, 3, 3, 2, 3, 4, 2, 2, 5, 1, None],
          [1, 2, 3, 3, 2, 4, 4, 1, 2, 5, 1, None]]


def test_krippendorff_alpha_against_the_published_hand_computation():
    data = np.array([[np.nan if v is None else v for v in row] for row in K_DATA])
    assert krippendorff_alpha(data, "nominal") == pytest.approx(0.743, abs=5e-4)
    assert krippendorff_alpha(data, "ordinal") == pytest.approx(0.815, abs=5e-4)
    assert krippendorff_alpha(data, "interval") == pytest.approx(0.849, abs=5e-4)
    assert krippendorff_alpha([[3, 3], [3, 3]]) is None
    assert krippendorff_alpha([[1, np.nan], [np.nan, 2]]) is None  # nothing pairable
    # two raters, interval metric on complete data: alpha = 1 - (n-1) * sum (a-b)^2 / (sum over all pairs)
    a, b = [1, 2, 3, 4], [1, 3, 3, 5]
    values = np.array(a + b, dtype=float)
    d_o = 2 * sum((x - y) ** 2 for x, y in zip(a, b)) / 1  # each unit: 2 ordered pairs, weight 1/(m-1) = 1
    d_e = sum((x - y) ** 2 for x in values for y in values) / (len(values) - 1)
    assert krippendorff_alpha([a, b], "interval") == pytest.approx(1 - d_o / d_e)


@pytest.mark.filterwarnings("ignore::RuntimeWarning")  # the package divides 0/0 where alpha is undefined
def test_krippendorff_alpha_matches_the_reference_package():
    kd = pytest.importorskip("krippendorff")
    rng = np.random.default_rng(7)
    compared = 0
    for trial in range(20):
        data = rng.integers(1, 6, size=(rng.integers(2, 6), rng.integers(3, 30))).astype(float)
        data[rng.random(data.shape) < 0.3] = np.nan
        for level in ("ordinal", "interval", "nominal"):
            ours = krippendorff_alpha(data, level)
            try:
                ref = kd.alpha(reliability_data=data, level_of_measurement=level, value_domain=[1, 2, 3, 4, 5])
            except (ValueError, ZeroDivisionError):
                continue
            if ours is None or not np.isfinite(ref):
                continue
            assert ours == pytest.approx(ref, abs=1e-9), (trial, level)
            compared += 1
    assert compared >= 50


def test_bootstrap_interval_over_studies_is_seeded_and_covers_the_mean():
    by_study = {"s1": [5, 4], "s2": [3], "s3": [4, 4, 5], "s4": [2]}
    mean, low, high, n = bootstrap_mean(by_study, 2000, 0)
    assert n == 7 and mean == pytest.approx(27 / 7)
    assert low <= mean <= high and low < high and 2 <= low and high <= 5
    assert bootstrap_mean(by_study, 2000, 0) == (mean, low, high, n)
    assert bootstrap_mean({"only": [3, 4]}, 2000, 0) == (3.5, 3.5, 3.5, 2)


def _seed_ratings(db: Path) -> Store:
    """Three reviewers on 2 runs x 4 studies: r1 and r2 overlap on runA (the kappa example), r3 on all."""
    store = Store(db, create=True)
    ids = store.sync_items([(run, f"model-{run}", f"s{k}") for run in ("runA", "runB") for k in range(1, 5)])
    rid = {}
    for name in ("r1", "r2", "r3"):
        store.invite(name)
        rid[name] = store.connect().execute("SELECT id FROM reviewers WHERE name = ?", (name,)).fetchone()[0]
        store.ensure_order(rid[name], sorted(ids.values()))
    r1, r2 = [1, 2, 3, 4], [1, 3, 3, 5]
    for k in range(4):
        store.save_rating(rid["r1"], ids[("runA", f"s{k + 1}")], dict(zip(CRITERIA, [r1[k]] * 3)),
                          "=HYPERLINK(\"x\")" if k == 0 else "")
        store.save_rating(rid["r2"], ids[("runA", f"s{k + 1}")], dict(zip(CRITERIA, [r2[k]] * 3)))
        store.save_rating(rid["r3"], ids[("runB", f"s{k + 1}")], dict(zip(CRITERIA, [5, 4, 3])))
    return store


def test_export_writes_ratings_agreement_and_model_ratings(tmp_path):
    _seed_ratings(tmp_path / "study.sqlite").close()
    done = export_study(tmp_path / "study.sqlite", tmp_path / "out", n_boot=500, seed=1)
    assert done["n_ratings"] == 12 and done["n_reviewers"] == 3
    rows = list(csv.DictReader((tmp_path / "out" / "ratings.csv").open(encoding="utf-8")))
    assert len(rows) == 12
    assert {(r["reviewer"], r["run"], r["model"]) for r in rows} >= {("r1", "runA", "model-runA"),
                                                                      ("r3", "runB", "model-runB")}
    assert any(r["comment"] == "'=HYPERLINK(\"x\")" for r in rows)  # not a live formula in a spreadsheet
    agree = json.loads((tmp_path / "out" / "agreement.json").read_text())
    pair = next(p for p in agree["kappa"]["pairs"] if (p["a"], p["b"]) == ("r1", "r2"))
    assert pair["n_items"] == 4 and pair["accuracy"] == pytest.approx(6 / 7, abs=1e-6)
    assert pair["accuracy_exact_agreement"] == 0.5
    assert next(p for p in agree["kappa"]["pairs"] if (p["a"], p["b"]) == ("r1", "r3"))["n_items"] == 0
    assert "quadratic" in agree["kappa"]["method"] and "ordinal" in agree["alpha"]["method"]
    assert agree["alpha"]["accuracy"]["n_items"] == 4 and agree["alpha"]["accuracy"]["n_ratings"] == 8
    expected = krippendorff_alpha([[1, 2, 3, 4], [1, 3, 3, 5]], "ordinal")
    assert agree["alpha"]["accuracy"]["ordinal"] == pytest.approx(expected, abs=1e-6)
    mr = json.loads((tmp_path / "out" / "model_ratings.json").read_text())
    assert list(mr) == ["criteria", "models"] and mr["criteria"] == ["accuracy", "completeness", "usability"]
    assert sorted(mr["models"]) == ["runA", "runB"]
    a = mr["models"]["runA"]["accuracy"]
    assert sorted(a) == ["high", "low", "mean", "n"] and a["n"] == 8
    assert a["mean"] == pytest.approx((1 + 2 + 3 + 4 + 1 + 3 + 3 + 5) / 8)
    assert a["low"] <= a["mean"] <= a["high"]
    assert mr["models"]["runB"]["completeness"] == {"mean": 4.0, "low": 4.0, "high": 4.0, "n": 4}
    assert all(isinstance(v["n"], int) and all(isinstance(v[k], float) for k in ("mean", "low", "high"))
               for m in mr["models"].values() for v in m.values())
    wide = list(csv.DictReader((tmp_path / "out" / "model_ratings.csv").open()))
    assert [(r["run"], r["model"], r["usability_mean"]) for r in wide] == [
        ("runA", "model-runA", str(a["mean"])), ("runB", "model-runB", "3.0")]
    # same ratings, same seed: the same file
    before = (tmp_path / "out" / "model_ratings.json").read_bytes()
    export_study(tmp_path / "study.sqlite", tmp_path / "out", n_boot=500, seed=1)
    assert (tmp_path / "out" / "model_ratings.json").read_bytes() == before


def test_agreement_and_model_ratings_from_rows_directly():
    rows = [{"reviewer": r, "run": "m", "model": "m", "study": s, "accuracy": v, "completeness": v,
             "usability": v} for r, vals in (("x", [1, 2, 3]), ("y", [1, 2, 3])) for s, v in zip("abc", vals)]
    agree = agreement(rows)
    assert agree["kappa"]["pairs"][0]["accuracy"] == pytest.approx(1.0)
    assert agree["alpha"]["usability"]["ordinal"] == pytest.approx(1.0)
    assert model_ratings(rows, n_boot=100)["models"]["m"]["accuracy"]["n"] == 6


# ------------------------------------------------------------------------------------ command line


def _cli(argv: list[str], capsys) -> tuple[int, str, str]:
    code = main(argv)
    out, err = capsys.readouterr()
    return code, out, err


def test_cli_invite_list_revoke_export(tmp_path, capsys):
    db = tmp_path / "study.sqlite"
    code, out, err = _cli(["review", "invite", "dr_wang", "--db", str(db), "--base-url",
                           "https://pacs.example.org/reader/"], capsys)
    assert code == 0
    link = out.strip()
    assert len(out.splitlines()) == 1 and link.startswith("https://pacs.example.org/reader/login/")
    token = link.rsplit("/", 1)[1]
    assert len(token) * 6 >= 128 and "dr_wang" in err
    raw = b"".join(p.read_bytes() for p in tmp_path.glob("study.sqlite*"))
    assert token.encode() not in raw and auth.digest(token).encode() in raw
    # the base URL is remembered for the next invitation
    code, out, _ = _cli(["review", "invite", "dr_li", "--db", str(db)], capsys)
    assert code == 0 and out.startswith("https://pacs.example.org/reader/login/")
    code, out, err = _cli(["review", "invite", "dr_wang", "--db", str(db)], capsys)
    assert code == 2 and "already invited" in err and len(err.strip().splitlines()) == 1 and out == ""
    code, out, _ = _cli(["review", "invite", "dr_wang", "--db", str(db), "--reissue"], capsys)
    assert code == 0 and out.strip() != link
    store = Store(db)
    assert store.reviewer_for_token(token) is None
    assert store.reviewer_for_token(out.strip().rsplit("/", 1)[1])["name"] == "dr_wang"
    code, out, _ = _cli(["review", "revoke", "dr_li", "--db", str(db)], capsys)
    assert code == 0
    code, out, _ = _cli(["review", "list", "--db", str(db)], capsys)
    lines = out.splitlines()
    assert code == 0 and len(lines) == 3
    assert re.search(r"dr_li\s+revoked", out) and re.search(r"dr_wang\s+active", out)
    code, _, err = _cli(["review", "revoke", "nobody", "--db", str(db)], capsys)
    assert code == 2 and "no reviewer named 'nobody'" in err
    code, _, err = _cli(["review", "invite", "../x", "--db", str(db)], capsys)
    assert code == 2 and "reviewer name" in err
    _seed_ratings(tmp_path / "seeded.sqlite").close()
    code, out, err = _cli(["review", "export", "--db", str(tmp_path / "seeded.sqlite"), "--out",
                           str(tmp_path / "exp"), "--bootstrap", "200"], capsys)
    assert code == 0 and "12 ratings by 3 reviewers" in err
    assert sorted(p.name for p in (tmp_path / "exp").iterdir()) == [
        "agreement.json", "model_ratings.csv", "model_ratings.json", "ratings.csv"]


def test_cli_bad_database_is_one_line(tmp_path, capsys):
    (tmp_path / "notes.txt").write_text("not a database\n" * 100)
    for argv in (["review", "list", "--db", str(tmp_path / "notes.txt")],
                 ["review", "list", "--db", str(tmp_path / "missing.sqlite")],
                 ["review", "export", "--db", str(tmp_path / "missing.sqlite"), "--out", str(tmp_path / "o")],
                 ["review", "invite", "x", "--db", str(tmp_path)],
                 ["review", "serve", "--runs", str(tmp_path / "nope"), "--db", str(tmp_path / "d.sqlite")]):
        code, out, err = _cli(argv, capsys)
        assert code == 2, argv
        assert len(err.strip().splitlines()) == 1 and "Traceback" not in err, err
    assert not (tmp_path / "o").exists()
    with socket.socket() as busy:
        busy.bind(("127.0.0.1", 0))
        busy.listen()
        port = busy.getsockname()[1]
        code, _, err = _cli(["review", "serve", "--runs", str(tmp_path), "--db", str(tmp_path / "d.sqlite"),
                             "--port", str(port)], capsys)
    assert code == 2 and f"--port {port}: cannot listen there" in err and len(err.strip().splitlines()) == 1
    other = tmp_path / "other.sqlite"
    con = sqlite3.connect(other)
    con.execute("CREATE TABLE t (x)")
    con.commit()
    con.close()
    code, _, err = _cli(["review", "list", "--db", str(other)], capsys)
    assert code == 2 and "not a pet2rep review database" in err


def test_review_commands_other_than_serve_stay_light(tmp_path):
    """invite/list/revoke/export import neither the web stack nor Jinja2; the database is in WAL mode."""
    code = ("import sys, pet2rep.cli.review, pet2rep.review.store, pet2rep.review.export, pet2rep.review.catalog; "
            "print([m for m in ('starlette', 'fastapi', 'uvicorn', 'jinja2', 'httpx') if m in sys.modules])")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.strip() == "[]"
    Store(tmp_path / "w.sqlite", create=True).close()
    con = sqlite3.connect(tmp_path / "w.sqlite")
    assert con.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
    con.close()


def test_serve_command_behind_a_path_prefix(study, tmp_path):
    """`pet2rep review serve` as a real process, as a reverse proxy that keeps the /reader prefix reaches it."""
    port = free_port()
    db = tmp_path / "served.sqlite"
    base = f"http://127.0.0.1:{port}/reader"
    invite = subprocess.run([sys.executable, "-m", "pet2rep", "review", "invite", "nina", "--db", str(db),
                             "--base-url", base], capture_output=True, text=True, check=True)
    link = invite.stdout.strip()
    proc = subprocess.Popen([sys.executable, "-m", "pet2rep", "review", "serve", "--runs", str(study["runs"]),
                             "--db", str(db), "--port", str(port), "--base-url", base, "--models",
                             "oracle,template", "--show-reference"],
                            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
                            env={**os.environ, "PYTHONUNBUFFERED": "1"})
    try:
        deadline = time.monotonic() + 60
        while True:
            try:
                if httpx.get(f"{base}/healthz", timeout=2).status_code == 200:
                    break
            except httpx.TransportError:
                pass
            assert proc.poll() is None and time.monotonic() < deadline, "server did not start"
            time.sleep(0.1)
        with httpx.Client(timeout=10) as c:
            r = c.get(link)
            assert r.status_code == 200 and "Path=/reader" in r.headers["set-cookie"]
            assert 'url=/reader/"' in r.text
            r = c.get(f"{base}/")
            assert r.status_code == 303 and r.headers["location"].startswith("/reader/a/")
            page = c.get(f"http://127.0.0.1:{port}{r.headers['location']}").text
            assert 'href="/reader/static/review.css"' in page and 'action="/reader/rate"' in page
            assert "Reference report" in page and "Report 1 of " + str(2 * N_STUDIES) in page
    finally:
        proc.terminate()
        log = proc.communicate(timeout=20)[0]
    assert "10 reports (5 studies x 2 runs)" in log
    assert "/login/[token]" in log and link.rsplit("/", 1)[1] not in log  # the token is not logged
