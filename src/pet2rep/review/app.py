"""The reader-study web app (Starlette + Jinja2, served by uvicorn): imported only by ``review serve``.

Pages: ``/login/TOKEN`` (the invitation link: starts a session), ``/`` (resume at the first unrated item),
``/a/ID`` (one item: images, report, rating form), ``POST /rate``. JSON: ``/api/progress``,
``/api/assignments``, ``/api/ratings`` (GET own ratings, POST one rating), ``/api/session`` (the CSRF token).
Images: ``/img/ID/K``, the K-th image of the reviewer's item ID, from the table built at startup.

Every answer with study content needs a live session of an active reviewer; every id in a URL or form is an
opaque assignment id looked up together with the session's reviewer, so one reviewer cannot name another's
items. State-changing requests need the session's CSRF token (form field ``csrf`` or header
``X-CSRF-Token``) on top of the SameSite=Strict cookie. Model output is shown through Jinja2 autoescape.
"""

from __future__ import annotations

import json
import logging
import os
import re
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from . import auth
from .catalog import CatalogItem, media_type
from .store import COMMENT_MAX, CRITERIA, Store

HERE = Path(__file__).resolve().parent
MAX_BODY = 256 * 1024
MAX_SHOWN = 20_000  # characters of a report shown (as evaluate scores); a runaway output is cut, and says so

CRITERIA_TEXT = {
    "accuracy": ("Accuracy", "The findings and the uptake statements agree with the images: nothing false, "
                 "nothing important missed."),
    "completeness": ("Completeness", "Every organ and finding that matters is covered."),
    "usability": ("Clinical usability", "Could be signed after few or no edits."),
}
SCALE = {1: "unacceptable", 2: "poor", 3: "acceptable", 4: "good", 5: "excellent"}

SECURITY_HEADERS = [
    (b"content-security-policy", b"default-src 'none'; img-src 'self'; style-src 'self'; form-action 'self'; "
                                 b"frame-ancestors 'none'; base-uri 'none'"),
    (b"x-content-type-options", b"nosniff"),
    (b"referrer-policy", b"no-referrer"),
    (b"x-frame-options", b"DENY"),
    (b"cache-control", b"no-store"),
]


def base_prefix(base_url: str | None) -> tuple[str, bool]:
    """(path prefix, https?) of the public base URL the reviewers use (e.g. https://host/reader -> /reader)."""
    if not base_url:
        return "", False
    parts = urlsplit(base_url)
    return parts.path.rstrip("/"), parts.scheme == "https"


class _Guard:
    """ASGI wrapper: strips the base-URL prefix when the proxy keeps it, refuses large bodies, adds headers."""

    def __init__(self, app: Any, prefix: str):
        self.app, self.prefix = app, prefix

    async def __call__(self, scope: dict, receive: Any, send: Any) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        path = scope.get("path", "")
        if self.prefix and (path == self.prefix or path.startswith(self.prefix + "/")):
            scope = dict(scope, path=path[len(self.prefix):] or "/")
            scope.pop("raw_path", None)
        headers = dict(scope.get("headers") or [])
        length = headers.get(b"content-length", b"0")
        if not length.isdigit() or int(length) > MAX_BODY:
            await _plain(send, 413, b"request too large")
            return

        started = False
        received = 0

        async def send_with_headers(message: dict) -> None:
            nonlocal started
            if message["type"] == "http.response.start":
                started = True
                message = dict(message)
                message["headers"] = [*message.get("headers", []), *SECURITY_HEADERS]
            await send(message)

        async def bounded_receive() -> dict:
            nonlocal received
            message = await receive()
            if message["type"] == "http.request":
                received += len(message.get("body", b""))
                if received > MAX_BODY:  # a chunked body without Content-Length that grows too large
                    raise _TooLarge
            return message

        try:
            await self.app(scope, bounded_receive, send_with_headers)
        except _TooLarge:
            if not started:
                await _plain(send, 413, b"request too large")


class _TooLarge(Exception):
    pass


async def _plain(send: Any, status: int, body: bytes) -> None:
    await send({"type": "http.response.start", "status": status,
                "headers": [(b"content-type", b"text/plain; charset=utf-8"), *SECURITY_HEADERS]})
    await send({"type": "http.response.body", "body": body})


def create_app(store: Store, catalog: list[CatalogItem], *, base_url: str | None = None,
               show_reference: bool = False) -> Any:
    """The ASGI app of one reader study over `catalog` (items from catalog.build_catalog)."""
    import jinja2
    from starlette.applications import Starlette
    from starlette.requests import Request
    from starlette.responses import HTMLResponse, JSONResponse, RedirectResponse, Response
    from starlette.routing import Route

    prefix, secure = base_prefix(base_url)
    ids = store.sync_items((c.run, c.model, c.study) for c in catalog)
    by_id: dict[int, CatalogItem] = {ids[(c.run, c.study)]: c for c in catalog}
    active = sorted(by_id)
    env = jinja2.Environment(loader=jinja2.FileSystemLoader(str(HERE / "templates")),
                             autoescape=jinja2.select_autoescape(default=True, default_for_string=True),
                             undefined=jinja2.StrictUndefined)
    css = (HERE / "templates" / "review.css").read_bytes()

    def page(name: str, status: int = 200, **ctx: Any) -> HTMLResponse:
        html = env.get_template(name).render(prefix=prefix, criteria=CRITERIA, criteria_text=CRITERIA_TEXT,
                                             scale=SCALE, **ctx)
        return HTMLResponse(html, status_code=status)

    def who(request: Request) -> dict[str, Any] | None:
        return store.session(request.cookies.get(auth.COOKIE_NAME))

    def refuse_page() -> HTMLResponse:
        return page("message.html", 401, title="Not signed in", reviewer=None,
                    message="Open the personal link from your invitation to take part in this reader study.")

    def refuse_api(status: int = 401, what: str = "not signed in") -> JSONResponse:
        return JSONResponse({"error": what}, status_code=status)

    def order(sess: dict[str, Any]) -> list[dict[str, Any]]:
        store.ensure_order(sess["reviewer_id"], active)
        return store.assignments(sess["reviewer_id"], active)

    def go(path: str) -> RedirectResponse:
        return RedirectResponse(prefix + path, status_code=303)

    async def healthz(request: Request) -> Response:
        return Response("ok\n", media_type="text/plain")

    async def stylesheet(request: Request) -> Response:
        return Response(css, media_type="text/css")

    async def login(request: Request) -> Response:
        row = store.reviewer_for_token(request.path_params["token"])
        if row is None:
            return page("message.html", 403, title="Link not valid", reviewer=None,
                        message="This link is not valid: it was mistyped, replaced or revoked. "
                                "Ask the study coordinator for a new one.")
        sid, _ = store.new_session(row["id"])
        # a page, not a redirect: a SameSite=Strict cookie set on a navigation that came from another site
        # (the link in an e-mail) is sent on the next same-site request, which this page's refresh is
        resp = page("login.html", title="Signed in", reviewer=row["name"])
        resp.headers.append("set-cookie", auth.cookie_header(sid, path=prefix or "/", secure=secure))
        return resp

    async def logout(request: Request) -> Response:
        sess = who(request)
        form = await request.form()
        if sess is None or not auth.same(form.get("csrf"), sess["csrf"]):
            return page("message.html", 403, title="Not allowed", reviewer=None, message="Missing or wrong form token.")
        store.end_session(request.cookies.get(auth.COOKIE_NAME, ""))
        resp = page("message.html", title="Signed out", reviewer=None,
                    message="You are signed out. Your ratings are saved; your link signs you in again.")
        resp.headers.append("set-cookie", auth.cookie_header("", path=prefix or "/", secure=secure, max_age=0))
        return resp

    async def home(request: Request) -> Response:
        sess = who(request)
        if sess is None:
            return refuse_page()
        items = order(sess)
        first = next((a for a in items if not a["rated"]), None)
        if first is not None:
            return go(f"/a/{first['id']}")
        return page("done.html", title="All rated", reviewer=sess["name"], total=len(items),
                    first=items[0]["id"] if items else None, csrf=sess["csrf"])

    async def item_page(request: Request) -> Response:
        sess = who(request)
        if sess is None:
            return refuse_page()
        items = order(sess)
        aid = request.path_params["aid"]
        k = next((i for i, a in enumerate(items) if a["id"] == aid), None)
        if k is None:
            return page("message.html", 404, title="Not found", reviewer=sess["name"],
                        message="There is no such item in your list.")
        a = items[k]
        item = by_id[a["item_id"]]
        store.mark_shown(sess["reviewer_id"], aid)
        rated = sum(1 for x in items if x["rated"])
        resume = next((x["id"] for x in items if not x["rated"]), None)
        return page("item.html", title=f"Item {k + 1} of {len(items)}", reviewer=sess["name"], aid=aid,
                    number=k + 1, total=len(items), rated=rated, csrf=sess["csrf"],
                    prev=items[k - 1]["id"] if k > 0 else None,
                    next=items[k + 1]["id"] if k + 1 < len(items) else None, resume=resume,
                    n_images=len(item.images), text=item.text[:MAX_SHOWN],
                    cut=max(0, len(item.text) - MAX_SHOWN),
                    reference=item.reference if show_reference else None,
                    rating=store.rating(sess["reviewer_id"], a["item_id"]) or {}, comment_max=COMMENT_MAX,
                    error=request.query_params.get("error") == "1")

    def parse_scores(get: Any) -> dict[str, int] | None:
        scores = {}
        for c in CRITERIA:
            v = get(c)
            if isinstance(v, bool):
                return None
            if isinstance(v, int) and 1 <= v <= 5:
                scores[c] = v
            elif isinstance(v, str) and re.fullmatch(r"[1-5]", v.strip()):
                scores[c] = int(v)
            else:
                return None
        return scores

    async def rate(request: Request) -> Response:
        sess = who(request)
        if sess is None:
            return refuse_page()
        form = await request.form()
        if not auth.same(form.get("csrf"), sess["csrf"]):
            return page("message.html", 403, title="Not allowed", reviewer=sess["name"],
                        message="The form token is missing or wrong: reload the page and try again.")
        a = store.assignment(sess["reviewer_id"], str(form.get("a") or ""))
        if a is None or a["item_id"] not in by_id:
            return page("message.html", 404, title="Not found", reviewer=sess["name"],
                        message="There is no such item in your list.")
        scores = parse_scores(form.get)
        comment = form.get("comment") or ""
        if scores is None or not isinstance(comment, str):
            return go(f"/a/{a['id']}?error=1")
        store.save_rating(sess["reviewer_id"], a["item_id"], scores, comment.strip())
        items = order(sess)
        k = next(i for i, x in enumerate(items) if x["id"] == a["id"])
        return go(f"/a/{items[k + 1]['id']}" if k + 1 < len(items) else "/")

    async def image(request: Request) -> Response:
        sess = who(request)
        if sess is None:
            return Response("not signed in\n", status_code=401, media_type="text/plain")
        a = store.assignment(sess["reviewer_id"], request.path_params["aid"])
        k = request.path_params["k"]
        item = by_id.get(a["item_id"]) if a else None
        if item is None or not k.isdigit() or len(k) > 4 or int(k) >= len(item.images):
            return Response("not found\n", status_code=404, media_type="text/plain")
        path = item.images[int(k)]
        try:  # the table's real path, opened without following a link planted there since startup
            if os.path.realpath(path) != str(path):
                raise OSError("moved")
            fd = os.open(path, os.O_RDONLY | getattr(os, "O_NOFOLLOW", 0))
            with os.fdopen(fd, "rb") as fh:
                data = fh.read(64 << 20)
        except OSError:
            return Response("not found\n", status_code=404, media_type="text/plain")
        return Response(data, media_type=media_type(path) or "application/octet-stream",
                        headers={"cache-control": "private, no-store"})

    async def api_session(request: Request) -> Response:
        sess = who(request)
        if sess is None:
            return refuse_api()
        return JSONResponse({"reviewer": sess["name"], "csrf": sess["csrf"]})

    async def api_progress(request: Request) -> Response:
        sess = who(request)
        if sess is None:
            return refuse_api()
        items = order(sess)
        resume = next((a["id"] for a in items if not a["rated"]), None)
        return JSONResponse({"rated": sum(1 for a in items if a["rated"]), "total": len(items), "next": resume})

    async def api_assignments(request: Request) -> Response:
        sess = who(request)
        if sess is None:
            return refuse_api()
        return JSONResponse({"assignments": [
            {"id": a["id"], "number": i + 1, "rated": bool(a["rated"]),
             "report": by_id[a["item_id"]].text, "images": len(by_id[a["item_id"]].images)}
            for i, a in enumerate(order(sess))]})

    async def api_ratings(request: Request) -> Response:
        sess = who(request)
        if sess is None:
            return refuse_api()
        if request.method == "GET":
            out = []
            for i, a in enumerate(order(sess)):
                r = store.rating(sess["reviewer_id"], a["item_id"]) if a["rated"] else None
                if r is not None:
                    out.append({"assignment": a["id"], "number": i + 1, **r})
            return JSONResponse({"ratings": out})
        if not auth.same(request.headers.get("x-csrf-token"), sess["csrf"]):
            return refuse_api(403, "missing or wrong X-CSRF-Token header")
        try:
            body = json.loads(await request.body())
        except (ValueError, UnicodeDecodeError):
            return refuse_api(400, "the body must be a JSON object")
        if not isinstance(body, dict):
            return refuse_api(400, "the body must be a JSON object")
        a = store.assignment(sess["reviewer_id"], str(body.get("assignment") or ""))
        if a is None or a["item_id"] not in by_id:
            return refuse_api(404, "no such assignment in your list")
        scores = parse_scores(body.get)
        comment = body.get("comment", "")
        if scores is None:
            return refuse_api(400, "accuracy, completeness and usability must each be a whole number 1-5")
        if not isinstance(comment, str):
            return refuse_api(400, "comment must be text")
        store.save_rating(sess["reviewer_id"], a["item_id"], scores, comment.strip())
        return JSONResponse({"saved": a["id"]})

    routes = [
        Route("/healthz", healthz),
        Route("/static/review.css", stylesheet),
        Route("/login/{token}", login),
        Route("/logout", logout, methods=["POST"]),
        Route("/", home),
        Route("/a/{aid}", item_page),
        Route("/rate", rate, methods=["POST"]),
        Route("/img/{aid}/{k}", image),
        Route("/api/session", api_session),
        Route("/api/progress", api_progress),
        Route("/api/assignments", api_assignments),
        Route("/api/ratings", api_ratings, methods=["GET", "POST"]),
    ]
    async def too_large(request: Request, exc: Exception) -> Response:
        return Response("request too large\n", status_code=413, media_type="text/plain")

    app = Starlette(routes=routes, exception_handlers={_TooLarge: too_large})
    return _Guard(app, prefix)


class _RedactTokens(logging.Filter):
    """Keeps login tokens out of the access log."""

    def filter(self, record: logging.LogRecord) -> bool:
        if isinstance(record.args, tuple):
            record.args = tuple(re.sub(r"/login/[^\s?\"]+", "/login/[token]", a) if isinstance(a, str) else a
                                for a in record.args)
        return True


def serve(app: Any, host: str, port: int) -> None:
    """Run the app with uvicorn until Ctrl-C (login tokens redacted from the access log)."""
    import uvicorn

    logging.getLogger("uvicorn.access").addFilter(_RedactTokens())
    uvicorn.run(app, host=host, port=port, log_level="info", server_header=False, proxy_headers=True)
