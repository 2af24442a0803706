"""`pet2rep review`: run a blind reader study of generated reports (serve, invite, list, revoke, export)."""

from __future__ import annotations

import argparse
import sys

from ..errors import InputError, Pet2RepError
from .flags import flag_names

# the review library's parameters as the user gives them
FLAGS = {"runs_dir": "--runs", "models": "--models", "reissue": "--reissue", "db": "--db"}

DEFAULT_DB = "review.sqlite"
DEFAULT_BASE = "http://127.0.0.1:8765"


def configure_parser(p: argparse.ArgumentParser) -> None:
    p.description = ("A reader study: invited radiologists rate generated reports blind (1-5 on accuracy, "
                     "completeness and clinical usability) in a small web app; export gives the ratings "
                     "unblinded, agreement statistics and per-model means.")
    sub = p.add_subparsers(dest="action", metavar="ACTION", required=True)

    s = sub.add_parser("serve", help="serve the rating web app over the run folders in RUNS_DIR")
    s.add_argument("--runs", required=True, help="folder of run folders (RUNS_DIR/<run>/predictions.jsonl)")
    s.add_argument("--db", default=DEFAULT_DB, help=f"study database (created when missing; default {DEFAULT_DB})")
    s.add_argument("--host", default="127.0.0.1", help="address to listen on (default 127.0.0.1: this machine only)")
    s.add_argument("--port", type=int, default=8765, help="port (default 8765)")
    s.add_argument("--base-url", help="public URL the reviewers use when the app is behind a reverse proxy, "
                                      "e.g. https://pacs.example.org/reader (its path is the app's prefix; "
                                      "https makes the session cookie Secure)")
    s.add_argument("--models", help="comma list of run folder names to include (default: every run)")
    s.add_argument("--studies", type=int, metavar="N",
                   help="study design: only N studies, the same random subset for every reviewer (drawn with the "
                        "database's seed; a larger N later keeps the first N and adds more)")
    s.add_argument("--dataset", help="dataset file or folder to take the images from, for every run (default: "
                                     "the dataset each run.json names; use when the runs were made elsewhere)")
    s.add_argument("--show-reference", action="store_true",
                   help="study design: show the reference report beside the generated one (default: hidden)")

    i = sub.add_parser("invite", help="add a reviewer and print their personal login link (shown once)")
    i.add_argument("name", metavar="NAME", help="reviewer name (letters, digits, '.', '_', '-')")
    i.add_argument("--db", default=DEFAULT_DB, help=f"study database (created when missing; default {DEFAULT_DB})")
    i.add_argument("--base-url", help="the URL reviewers open (default: the one given before, else "
                                      f"{DEFAULT_BASE})")
    i.add_argument("--reissue", action="store_true", help="give an existing (or revoked) reviewer a new link; "
                                                          "the old one stops working")

    ls = sub.add_parser("list", help="list the reviewers: state, last seen, how many items they rated")
    ls.add_argument("--db", default=DEFAULT_DB, help=f"study database (default {DEFAULT_DB})")

    r = sub.add_parser("revoke", help="revoke a reviewer: their link and sessions stop working, ratings are kept")
    r.add_argument("name", metavar="NAME")
    r.add_argument("--db", default=DEFAULT_DB, help=f"study database (default {DEFAULT_DB})")

    e = sub.add_parser("export", help="write ratings.csv, agreement.json, model_ratings.json/.csv")
    e.add_argument("--db", default=DEFAULT_DB, help=f"study database (default {DEFAULT_DB})")
    e.add_argument("--out", required=True, help="folder to write")
    e.add_argument("--bootstrap", type=int, default=2000, help="bootstrap resamples for the intervals (default 2000)")
    e.add_argument("--seed", type=int, default=0, help="bootstrap seed (default 0)")


def run_cli(args: argparse.Namespace) -> int:
    with flag_names(FLAGS):
        return {"serve": _serve, "invite": _invite, "list": _list, "revoke": _revoke,
                "export": _export}[args.action](args)


def _base_url(text: str) -> str:
    from urllib.parse import urlsplit

    parts = urlsplit(text)
    if parts.scheme not in ("http", "https") or not parts.netloc or parts.query or parts.fragment:
        raise InputError(f"--base-url {text!r}: expected http(s)://HOST[:PORT][/PATH]")
    return text.rstrip("/")


def _invite(args: argparse.Namespace) -> int:
    from ..review.store import Store

    store = Store(args.db, create=True)
    base = _base_url(args.base_url) if args.base_url else (store.meta("base_url") or DEFAULT_BASE)
    if args.base_url:
        store.set_meta("base_url", base)
    token = store.invite(args.name, reissue=args.reissue)
    print(f"{base}/login/{token}")
    print(f"pet2rep review: link for '{args.name}' (shown only now; send it privately; "
          f"'pet2rep review revoke {args.name}' stops it)", file=sys.stderr)
    return 0


def _list(args: argparse.Namespace) -> int:
    from ..review.store import Store

    rows = Store(args.db).reviewers()
    if not rows:
        print("no reviewers yet (pet2rep review invite NAME)", file=sys.stderr)
        return 0
    width = max(8, *(len(r["name"]) for r in rows))
    print(f"{'reviewer':<{width}}  {'state':<7}  {'rated':>5}/{'items':<5}  {'invited':<25}  last seen")
    for r in rows:
        state = "revoked" if r["revoked"] else "active"
        print(f"{r['name']:<{width}}  {state:<7}  {r['rated']:>5}/{r['assigned']:<5}  {r['created']:<25}  "
              f"{r['last_seen'] or '-'}")
    return 0


def _revoke(args: argparse.Namespace) -> int:
    from ..review.store import Store

    Store(args.db).revoke(args.name)
    print(f"pet2rep review: '{args.name}' revoked (link and sessions no longer work; ratings kept)", file=sys.stderr)
    return 0


def _export(args: argparse.Namespace) -> int:
    from ..review.export import export_study

    if args.bootstrap < 0:
        raise InputError(f"--bootstrap {args.bootstrap}: must be >= 0")
    done = export_study(args.db, args.out, n_boot=args.bootstrap, seed=args.seed)
    print(f"pet2rep review: {done['n_ratings']} ratings by {done['n_reviewers']} reviewers on {done['n_items']} "
          f"items of {done['n_models']} models", file=sys.stderr)
    for path in done["paths"].values():
        print(path)
    return 0


def _serve(args: argparse.Namespace) -> int:
    try:
        import jinja2  # noqa: F401
        import starlette  # noqa: F401
        import uvicorn  # noqa: F401
    except ImportError as exc:
        raise Pet2RepError(f"review serve needs the web parts ({exc.name} is missing): "
                           "pip install 'pet2rep[review]'") from None
    from ..review.app import create_app, serve
    from ..review.catalog import build_catalog, study_subset
    from ..review.store import Store

    if not 0 < args.port < 65536:
        raise InputError(f"--port {args.port}: must be 1-65535")
    _check_port(args.host, args.port)
    base = _base_url(args.base_url) if args.base_url else None
    models = [m.strip() for m in args.models.split(",") if m.strip()] if args.models else None
    if args.studies is not None and args.studies < 1:
        raise InputError(f"--studies {args.studies}: must be at least 1")
    catalog = build_catalog(args.runs, models=models, dataset=args.dataset,
                            warn=lambda msg: print(f"pet2rep review: {msg}", file=sys.stderr))
    store = Store(args.db, create=True)
    if args.studies is not None:
        catalog = study_subset(catalog, args.studies, store.meta("seed") or "")
    if base:
        store.set_meta("base_url", base)
    app = create_app(store, catalog, base_url=base, show_reference=args.show_reference)
    n_runs = len({c.run for c in catalog})
    n_studies = len({c.study for c in catalog})
    active = sum(1 for r in store.reviewers() if not r["revoked"])
    public = base or f"http://{args.host}:{args.port}"
    print(f"pet2rep review: {len(catalog)} reports ({n_studies} studies x {n_runs} runs), {active} active "
          f"reviewers; serving at {public}/ (Ctrl-C stops)", file=sys.stderr)
    if args.host not in ("127.0.0.1", "localhost", "::1") and not (base or "").startswith("https://"):
        print("pet2rep review: warning: listening beyond this machine over plain HTTP; put it behind a TLS "
              "reverse proxy and give --base-url https://...", file=sys.stderr)
    serve(app, args.host, args.port)
    return 0


def _check_port(host: str, port: int) -> None:
    """A one-line error now, before the catalog is built, when HOST:PORT cannot be listened on."""
    import socket

    try:
        family, kind, proto, _, addr = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)[0]
        with socket.socket(family, kind, proto) as sock:
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            sock.bind(addr)
    except OSError as exc:
        raise InputError(f"--host {host} --port {port}: cannot listen there "
                         f"({exc.strerror or exc}; is another server using the port?)") from None
