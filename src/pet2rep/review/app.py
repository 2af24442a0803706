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
from typing import TYPE_CHECKING, Any
from urllib.parse import urlsplit

from . import auth
from .catalog import CatalogItem, media_type
from .store import COMMENT_MAX, CRITERIA, Store

if TYPE_CHECKING:
    from starlette.requests import Request
    from starlette.responses import HTMLResponse, JSONResponse, RedirectResponse, Response

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


def parse_scores(get: Any) -> dict[str, int] | None:
    """The three 1-5 scores read through `get` (form.get or dict.get); None when any is missing or not 1-5."""
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


def _read_image(path: Path) -> bytes | None:
    """The table's real path, opened without following a link planted there since startup (None: gone)."""
    try:
        if os.path.realpath(path) != str(path):
            raise OSError("moved")
        fd = os.open(path, os.O_RDONLY | getattr(os, "O_NOFOLLOW", 0))
        with os.fdopen(fd, "rb") as fh:
            return fh.read(64 << 20)
    except OSError:
        return None


def _text(body: str, status: int = 200) -> Response:
    from starlette.responses import Response

    return Response(body, status_code=status, media_type="text/plain")


def _refuse_api(status: int = 401, what: str = "not signed in") -> JSONResponse:
    from starlette.responses import JSONResponse

    return JSONResponse({"error": what}, status_code=status)


class _Study:
    """The state of one reader study (store, items, templates) and its route handlers."""

    def __init__(self, store: Store, catalog: list[CatalogItem], *, base_url: str | None,
                 show_reference: bool):
        import jinja2

        self.store, self.show_reference = store, show_reference
        self.prefix, self.secure = base_prefix(base_url)
        ids = store.sync_items((c.run, c.model, c.study) for c in catalog)
        self.by_id: dict[int, CatalogItem] = {ids[(c.run, c.study)]: c for c in catalog}
        self.active = sorted(self.by_id)
        self.env = jinja2.Environment(loader=jinja2.FileSystemLoader(str(HERE / "templates")),
                                      autoescape=jinja2.select_autoescape(default=True, default_for_string=True),
                                      undefined=jinja2.StrictUndefined)
        self.css = (HERE / "templates" / "review.css").read_bytes()

    # helpers

    def page(self, name: str, status: int = 200, **ctx: Any) -> HTMLResponse:
        """The template `name` rendered with the study's common context."""
        from starlette.responses import HTMLResponse

        html = self.env.get_template(name).render(prefix=self.prefix, criteria=CRITERIA,
                                                  criteria_text=CRITERIA_TEXT, scale=SCALE, **ctx)
        return HTMLResponse(html, status_code=status)

    def who(self, request: Request) -> dict[str, Any] | None:
        """The live session of the request's cookie, or None."""
        return self.store.session(request.cookies.get(auth.COOKIE_NAME))

    def refuse_page(self) -> HTMLResponse:
        return self.page("message.html", 401, title="Not signed in", reviewer=None,
                         message="Open the personal link from your invitation to take part in this reader study.")

    def not_found_page(self, sess: dict[str, Any]) -> HTMLResponse:
        return self.page("message.html", 404, title="Not found", reviewer=sess["name"],
                         message="There is no such item in your list.")

    def order(self, sess: dict[str, Any]) -> list[dict[str, Any]]:
        """The reviewer's assignments in their own order (drawn on first use)."""
        self.store.ensure_order(sess["reviewer_id"], self.active)
        return self.store.assignments(sess["reviewer_id"], self.active)

    def go(self, path: str) -> RedirectResponse:
        from starlette.responses import RedirectResponse

        return RedirectResponse(self.prefix + path, status_code=303)

    def own_assignment(self, sess: dict[str, Any], aid: str) -> dict[str, Any] | None:
        """The reviewer's assignment `aid` when it is one of the study's items, else None."""
        a = self.store.assignment(sess["reviewer_id"], aid)
        return None if a is None or a["item_id"] not in self.by_id else a

    # pages

    async def healthz(self, request: Request) -> Response:
        return _text("ok\n")

    async def stylesheet(self, request: Request) -> Response:
        from starlette.responses import Response

        return Response(self.css, media_type="text/css")

    async def login(self, request: Request) -> Response:
        row = self.store.reviewer_for_token(request.path_params["token"])
        if row is None:
            return self.page("message.html", 403, title="Link not valid", reviewer=None,
                             message="This link is not valid: it was mistyped, replaced or revoked. "
                                     "Ask the study coordinator for a new one.")
        sid, _ = self.store.new_session(row["id"])
        # a page, not a redirect: a SameSite=Strict cookie set on a navigation that came from another site
        # (the link in an e-mail) is sent on the next same-site request, which this page's refresh is
        resp = self.page("login.html", title="Signed in", reviewer=row["name"])
        resp.headers.append("set-cookie", auth.cookie_header(sid, path=self.prefix or "/", secure=self.secure))
        return resp

    async def logout(self, request: Request) -> Response:
        sess = self.who(request)
        form = await request.form()
        if sess is None or not auth.same(form.get("csrf"), sess["csrf"]):
            return self.page("message.html", 403, title="Not allowed", reviewer=None,
                             message="Missing or wrong form token.")
        self.store.end_session(request.cookies.get(auth.COOKIE_NAME, ""))
        resp = self.page("message.html", title="Signed out", reviewer=None,
                         message="You are signed out. Your ratings are saved; your link signs you in again.")
        resp.headers.append("set-cookie", auth.cookie_header("", path=self.prefix or "/", secure=self.secure,
                                                             max_age=0))
        return resp

    async def home(self, request: Request) -> Response:
        sess = self.who(request)
        if sess is None:
            return self.refuse_page()
        items = self.order(sess)
        first = next((a for a in items if not a["rated"]), None)
        if first is not None:
            return self.go(f"/a/{first['id']}")
        return self.page("done.html", title="All rated", reviewer=sess["name"], total=len(items),
                         first=items[0]["id"] if items else None, csrf=sess["csrf"])

    async def item_page(self, request: Request) -> Response:
        sess = self.who(request)
        if sess is None:
            return self.refuse_page()
        items = self.order(sess)
        aid = request.path_params["aid"]
        k = next((i for i, a in enumerate(items) if a["id"] == aid), None)
        if k is None:
            return self.not_found_page(sess)
        a = items[k]
        item = self.by_id[a["item_id"]]
        self.store.mark_shown(sess["reviewer_id"], aid)
        rated = sum(1 for x in items if x["rated"])
        resume = next((x["id"] for x in items if not x["rated"]), None)
        return self.page("item.html", title=f"Item {k + 1} of {len(items)}", reviewer=sess["name"], aid=aid,
                         number=k + 1, total=len(items), rated=rated, csrf=sess["csrf"],
                         prev=items[k - 1]["id"] if k > 0 else None,
                         next=items[k + 1]["id"] if k + 1 < len(items) else None, resume=resume,
                         n_images=len(item.images), text=item.text[:MAX_SHOWN],
                         cut=max(0, len(item.text) - MAX_SHOWN),
                         reference=item.reference if self.show_reference else None,
                         rating=self.store.rating(sess["reviewer_id"], a["item_id"]) or {},
                         comment_max=COMMENT_MAX, error=request.query_params.get("error") == "1")

    async def rate(self, request: Request) -> Response:
        sess = self.who(request)
        if sess is None:
            return self.refuse_page()
        form = await request.form()
        if not auth.same(form.get("csrf"), sess["csrf"]):
            return self.page("message.html", 403, title="Not allowed", reviewer=sess["name"],
                             message="The form token is missing or wrong: reload the page and try again.")
        a = self.own_assignment(sess, str(form.get("a") or ""))
        if a is None:
            return self.not_found_page(sess)
        scores = parse_scores(form.get)
        comment = form.get("comment") or ""
        if scores is None or not isinstance(comment, str):
            return self.go(f"/a/{a['id']}?error=1")
        self.store.save_rating(sess["reviewer_id"], a["item_id"], scores, comment.strip())
        items = self.order(sess)
        k = next(i for i, x in enumerate(items) if x["id"] == a["id"])
        return self.go(f"/a/{items[k + 1]['id']}" if k + 1 < len(items) else "/")

    async def image(self, request: Request) -> Response:
        from starlette.responses import Response

        sess = self.who(request)
        if sess is None:
            return _text("not signed in\n", 401)
        a = self.store.assignment(sess["reviewer_id"], request.path_params["aid"])
        k = request.path_params["k"]
        item = self.by_id.get(a["item_id"]) if a else None
        if item is None or not k.isdigit() or len(k) > 4 or int(k) >= len(item.images):
            return _text("not found\n", 404)
        path = item.images[int(k)]
        data = _read_image(path)
        if data is None:
            return _text("not found\n", 404)
        return Response(data, media_type=media_type(path) or "application/octet-stream",
                        headers={"cache-control": "private, no-store"})

    # JSON API

    async def api_session(self, request: Request) -> Response:
        from starlette.responses import JSONResponse

        sess = self.who(request)
        if sess is None:
            return _refuse_api()
        return JSONResponse({"reviewer": sess["name"], "csrf": sess["csrf"]})

    async def api_progress(self, request: Request) -> Response:
        from starlette.responses import JSONResponse

        sess = self.who(request)
        if sess is None:
            return _refuse_api()
        items = self.order(sess)
        resume = next((a["id"] for a in items if not a["rated"]), None)
        return JSONResponse({"rated": sum(1 for a in items if a["rated"]), "total": len(items), "next": resume})

    async def api_assignments(self, request: Request) -> Response:
        from starlette.responses import JSONResponse

        sess = self.who(request)
        if sess is None:
            return _refuse_api()
        return JSONResponse({"assignments": [
            {"id": a["id"], "number": i + 1, "rated": bool(a["rated"]),
             "report": self.by_id[a["item_id"]].text, "images": len(self.by_id[a["item_id"]].images)}
            for i, a in enumerate(self.order(sess))]})

    async def api_ratings(self, request: Request) -> Response:
        sess = self.who(request)
        if sess is None:
            return _refuse_api()
        if request.method == "GET":
            return self.own_ratings(sess)
        return await self.post_rating(request, sess)

    def own_ratings(self, sess: dict[str, Any]) -> JSONResponse:
        """GET /api/ratings: the reviewer's saved ratings, numbered as in their list."""
        from starlette.responses import JSONResponse

        out = []
        for i, a in enumerate(self.order(sess)):
            r = self.store.rating(sess["reviewer_id"], a["item_id"]) if a["rated"] else None
            if r is not None:
                out.append({"assignment": a["id"], "number": i + 1, **r})
        return JSONResponse({"ratings": out})

    async def post_rating(self, request: Request, sess: dict[str, Any]) -> JSONResponse:
        """POST /api/ratings: one rating as a JSON object, checked like the form."""
        from starlette.responses import JSONResponse

        if not auth.same(request.headers.get("x-csrf-token"), sess["csrf"]):
            return _refuse_api(403, "missing or wrong X-CSRF-Token header")
        try:
            body = json.loads(await request.body())
        except (ValueError, UnicodeDecodeError):
            return _refuse_api(400, "the body must be a JSON object")
        if not isinstance(body, dict):
            return _refuse_api(400, "the body must be a JSON object")
        a = self.own_assignment(sess, str(body.get("assignment") or ""))
        if a is None:
            return _refuse_api(404, "no such assignment in your list")
        scores = parse_scores(body.get)
        comment = body.get("comment", "")
        if scores is None:
            return _refuse_api(400, "accuracy, completeness and usability must each be a whole number 1-5")
        if not isinstance(comment, str):
            return _refuse_api(400, "comment must be text")
        self.store.save_rating(sess["reviewer_id"], a["item_id"], scores, comment.strip())
        return JSONResponse({"saved": a["id"]})


async def _too_large(request: Request, exc: Exception) -> Response:
    return _text("request too large\n", 413)


def create_app(store: Store, catalog: list[CatalogItem], *, base_url: str | None = None,
               show_reference: bool = False) -> Any:
    """The ASGI app of one reader study over `catalog` (items from catalog.build_catalog)."""
    from starlette.applications import Starlette
    from starlette.routing import Route

    s = _Study(store, catalog, base_url=base_url, show_reference=show_reference)
    routes = [
        Route("/healthz", s.healthz),
        Route("/static/review.css", s.stylesheet),
        Route("/login/{token}", s.login),
        Route("/logout", s.logout, methods=["POST"]),
        Route("/", s.home),
        Route("/a/{aid}", s.item_page),
        Route("/rate", s.rate, methods=["POST"]),
        Route("/img/{aid}/{k}", s.image),
        Route("/api/session", s.api_session),
        Route("/api/progress", s.api_progress),
        Route("/api/assignments", s.api_assignments),
        Route("/api/ratings", s.api_ratings, methods=["GET", "POST"]),
    ]
    app = Starlette(routes=routes, exception_handlers={_TooLarge: _too_large})
    return _Guard(app, s.prefix)


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
