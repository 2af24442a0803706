"""The reader study's SQLite database (WAL mode): reviewers, sessions, items, orders and ratings.

One file holds the whole study; ``review serve`` and the ``invite``/``revoke``/``export`` commands may use it
at the same time (WAL: readers never block the writer; writes wait up to `BUSY_SECONDS` for each other).
Ratings are unique per (reviewer, item): saving again updates the rating and counts the edit.
"""

from __future__ import annotations

import os
import sqlite3
import threading
import time
from collections.abc import Iterable, Iterator, Sequence
from contextlib import contextmanager
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

from ..errors import InputError
from ..io import check_id
from . import auth
from .order import balanced_order

SCHEMA_TAG = "pet2rep-review-1"
BUSY_SECONDS = 15.0
CRITERIA: tuple[str, ...] = ("accuracy", "completeness", "usability")
COMMENT_MAX = 4000

SCHEMA = """
CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS reviewers (
    id INTEGER PRIMARY KEY,
    name TEXT NOT NULL UNIQUE,
    token_hash TEXT NOT NULL UNIQUE,
    created TEXT NOT NULL,
    revoked TEXT,
    last_seen TEXT
);
CREATE TABLE IF NOT EXISTS sessions (
    id_hash TEXT PRIMARY KEY,
    reviewer_id INTEGER NOT NULL REFERENCES reviewers(id) ON DELETE CASCADE,
    csrf TEXT NOT NULL,
    created TEXT NOT NULL,
    expires REAL NOT NULL
);
CREATE TABLE IF NOT EXISTS items (
    id INTEGER PRIMARY KEY,
    run TEXT NOT NULL,
    model TEXT NOT NULL,
    study TEXT NOT NULL,
    added TEXT NOT NULL,
    UNIQUE (run, study)
);
CREATE TABLE IF NOT EXISTS assignments (
    id TEXT PRIMARY KEY,
    reviewer_id INTEGER NOT NULL REFERENCES reviewers(id) ON DELETE CASCADE,
    item_id INTEGER NOT NULL REFERENCES items(id),
    position INTEGER NOT NULL,
    shown TEXT,
    UNIQUE (reviewer_id, item_id),
    UNIQUE (reviewer_id, position)
);
CREATE TABLE IF NOT EXISTS ratings (
    reviewer_id INTEGER NOT NULL REFERENCES reviewers(id) ON DELETE CASCADE,
    item_id INTEGER NOT NULL REFERENCES items(id),
    accuracy INTEGER NOT NULL CHECK (accuracy BETWEEN 1 AND 5),
    completeness INTEGER NOT NULL CHECK (completeness BETWEEN 1 AND 5),
    usability INTEGER NOT NULL CHECK (usability BETWEEN 1 AND 5),
    comment TEXT NOT NULL DEFAULT '',
    created TEXT NOT NULL,
    updated TEXT NOT NULL,
    edits INTEGER NOT NULL DEFAULT 0,
    PRIMARY KEY (reviewer_id, item_id)
);
"""


def now_text() -> str:
    return datetime.now(timezone.utc).isoformat(timespec="seconds")


class Store:
    """The database of one reader study. Each thread gets its own connection."""

    def __init__(self, path: str | os.PathLike, *, create: bool = False):
        self.path = Path(path)
        if self.path.is_dir():
            raise InputError(f"db={self.path}: a folder, expected a database file (e.g. review.sqlite)")
        if not create and not self.path.exists():
            raise InputError(f"db={self.path}: no such review database (inviting a reader creates it)")
        if create:
            self.path.parent.mkdir(parents=True, exist_ok=True)
        self._local = threading.local()
        try:
            con = self.connect()
            tag = self._meta(con, "schema")
            if tag is None:
                has_tables = con.execute("SELECT count(*) FROM sqlite_master").fetchone()[0]
                if has_tables:
                    raise InputError(f"{self.path}: an SQLite file that is not a pet2rep review database")
                con.executescript(SCHEMA)
                with self.write(con):
                    con.execute("INSERT OR IGNORE INTO meta VALUES ('schema', ?)", (SCHEMA_TAG,))
                    con.execute("INSERT OR IGNORE INTO meta VALUES ('seed', ?)", (auth.new_opaque_id(),))
                    con.execute("INSERT OR IGNORE INTO meta VALUES ('created', ?)", (now_text(),))
            elif tag != SCHEMA_TAG:
                raise InputError(f"{self.path}: review database of another version ({tag}; this pet2rep reads "
                                 f"{SCHEMA_TAG})")
        except sqlite3.DatabaseError as exc:
            raise InputError(f"{self.path}: not a pet2rep review database ({exc})") from None

    # ------------------------------------------------------------------ connections

    def connect(self) -> sqlite3.Connection:
        con = getattr(self._local, "con", None)
        if con is None:
            con = sqlite3.connect(self.path, timeout=BUSY_SECONDS, isolation_level=None, check_same_thread=False)
            con.row_factory = sqlite3.Row
            mode = con.execute("PRAGMA journal_mode=WAL").fetchone()[0]
            if str(mode).lower() != "wal":  # pragma: no cover - a file system without shared memory
                raise InputError(f"{self.path}: cannot use WAL mode here (journal mode {mode})")
            con.execute("PRAGMA synchronous=FULL")
            con.execute("PRAGMA foreign_keys=ON")
            self._local.con = con
        return con

    def close(self) -> None:
        con = getattr(self._local, "con", None)
        if con is not None:
            con.close()
            self._local.con = None

    @contextmanager
    def write(self, con: sqlite3.Connection | None = None) -> Iterator[sqlite3.Connection]:
        """A write transaction (BEGIN IMMEDIATE: takes the write lock first, so no read-then-write races)."""
        con = con or self.connect()
        con.execute("BEGIN IMMEDIATE")
        try:
            yield con
        except BaseException:
            con.execute("ROLLBACK")
            raise
        con.execute("COMMIT")

    def _meta(self, con: sqlite3.Connection, key: str) -> str | None:
        try:
            row = con.execute("SELECT value FROM meta WHERE key = ?", (key,)).fetchone()
        except sqlite3.OperationalError:
            return None
        return None if row is None else row[0]

    def meta(self, key: str) -> str | None:
        return self._meta(self.connect(), key)

    def set_meta(self, key: str, value: str) -> None:
        with self.write() as con:
            con.execute("INSERT INTO meta VALUES (?, ?) ON CONFLICT(key) DO UPDATE SET value = excluded.value",
                        (key, value))

    # ------------------------------------------------------------------ reviewers

    def invite(self, name: str, *, reissue: bool = False) -> str:
        """Create reviewer `name` (or, with `reissue`, give an existing one a new link); returns the token.

        The token is returned once and only its hash is stored."""
        check_id(name, "review invite", "reviewer name")
        token = auth.new_token()
        with self.write() as con:
            row = con.execute("SELECT id, revoked FROM reviewers WHERE name = ?", (name,)).fetchone()
            if row is None:
                con.execute("INSERT INTO reviewers (name, token_hash, created) VALUES (?, ?, ?)",
                            (name, auth.digest(token), now_text()))
            elif not reissue:
                state = "revoked" if row["revoked"] else "invited"
                raise InputError(f"{self.path}: reviewer '{name}' is already {state}; use reissue=True to give them "
                                 f"a new link (the old one stops working)")
            else:
                con.execute("UPDATE reviewers SET token_hash = ?, revoked = NULL WHERE id = ?",
                            (auth.digest(token), row["id"]))
                con.execute("DELETE FROM sessions WHERE reviewer_id = ?", (row["id"],))
        return token

    def revoke(self, name: str) -> None:
        """Revoke a reviewer: their link and every session stop working at once; their ratings are kept."""
        with self.write() as con:
            row = con.execute("SELECT id FROM reviewers WHERE name = ?", (name,)).fetchone()
            if row is None:
                raise InputError(f"{self.path}: no reviewer named '{name}'")
            con.execute("UPDATE reviewers SET revoked = ? WHERE id = ? AND revoked IS NULL", (now_text(), row["id"]))
            con.execute("DELETE FROM sessions WHERE reviewer_id = ?", (row["id"],))

    def reviewers(self) -> list[dict[str, Any]]:
        """Every reviewer with their state, assigned and rated counts."""
        rows = self.connect().execute(
            "SELECT r.name, r.created, r.revoked, r.last_seen,"
            " (SELECT count(*) FROM assignments a WHERE a.reviewer_id = r.id) AS assigned,"
            " (SELECT count(*) FROM ratings t WHERE t.reviewer_id = r.id) AS rated"
            " FROM reviewers r ORDER BY r.name").fetchall()
        return [dict(r) for r in rows]

    def reviewer_for_token(self, token: str) -> sqlite3.Row | None:
        """The active reviewer a login token belongs to, else None."""
        if not token or len(token) > 200:
            return None
        return self.connect().execute(
            "SELECT id, name FROM reviewers WHERE token_hash = ? AND revoked IS NULL", (auth.digest(token),)
        ).fetchone()

    # ------------------------------------------------------------------ sessions

    def new_session(self, reviewer_id: int) -> tuple[str, str]:
        """(session id for the cookie, CSRF token) of a new session."""
        sid, csrf = auth.new_session_id(), auth.new_csrf()
        with self.write() as con:
            con.execute("DELETE FROM sessions WHERE expires < ?", (time.time(),))
            con.execute("INSERT INTO sessions VALUES (?, ?, ?, ?, ?)",
                        (auth.digest(sid), reviewer_id, csrf, now_text(), time.time() + auth.SESSION_SECONDS))
            con.execute("UPDATE reviewers SET last_seen = ? WHERE id = ?", (now_text(), reviewer_id))
        return sid, csrf

    def session(self, sid: str | None) -> dict[str, Any] | None:
        """{reviewer_id, name, csrf} of a live session of an active reviewer, else None."""
        if not sid or len(sid) > 200:
            return None
        row = self.connect().execute(
            "SELECT s.reviewer_id, r.name, s.csrf FROM sessions s JOIN reviewers r ON r.id = s.reviewer_id"
            " WHERE s.id_hash = ? AND s.expires > ? AND r.revoked IS NULL", (auth.digest(sid), time.time())
        ).fetchone()
        return None if row is None else dict(row)

    def end_session(self, sid: str) -> None:
        with self.write() as con:
            con.execute("DELETE FROM sessions WHERE id_hash = ?", (auth.digest(sid),))

    # ------------------------------------------------------------------ items and orders

    def sync_items(self, items: Iterable[tuple[str, str, str]]) -> dict[tuple[str, str], int]:
        """Record (run, model, study) items (new ones added, none removed); {(run, study): item id}."""
        items = list(items)
        with self.write() as con:
            for run, model, study in items:
                con.execute("INSERT INTO items (run, model, study, added) VALUES (?, ?, ?, ?)"
                            " ON CONFLICT(run, study) DO UPDATE SET model = excluded.model",
                            (run, model, study, now_text()))
            rows = con.execute("SELECT id, run, study FROM items").fetchall()
        return {(r["run"], r["study"]): r["id"] for r in rows}

    def ensure_order(self, reviewer_id: int, active: Sequence[int]) -> None:
        """Give the reviewer a place for every active item they lack: new items are appended in a balanced,
        randomised order of their own (see order.py), seeded by the study's seed and the reviewer."""
        con = self.connect()
        have = {r[0] for r in con.execute("SELECT item_id FROM assignments WHERE reviewer_id = ?", (reviewer_id,))}
        if not set(active) - have:
            return
        with self.write(con):
            have = {r[0] for r in con.execute("SELECT item_id FROM assignments WHERE reviewer_id = ?",
                                              (reviewer_id,))}
            new = sorted(set(active) - have)
            if not new:
                return
            q = ",".join("?" * len(new))
            rows = con.execute(f"SELECT id, run, study FROM items WHERE id IN ({q})", new).fetchall()
            rows = sorted(rows, key=lambda r: (r["study"], r["run"]))
            start = con.execute("SELECT coalesce(max(position), 0) FROM assignments WHERE reviewer_id = ?",
                                (reviewer_id,)).fetchone()[0]
            seed = f"{self._meta(con, 'seed')}:{reviewer_id}:{start}"
            order = balanced_order([(r["study"], r["run"]) for r in rows], seed)
            for pos, k in enumerate(order, start + 1):
                con.execute("INSERT INTO assignments (id, reviewer_id, item_id, position) VALUES (?, ?, ?, ?)",
                            (auth.new_opaque_id(), reviewer_id, rows[k]["id"], pos))

    def assignments(self, reviewer_id: int, active: Iterable[int] | None = None) -> list[dict[str, Any]]:
        """The reviewer's items in order: {id (opaque), item_id, position, rated}; only `active` items."""
        rows = self.connect().execute(
            "SELECT a.id, a.item_id, a.position, (t.item_id IS NOT NULL) AS rated FROM assignments a"
            " LEFT JOIN ratings t ON t.reviewer_id = a.reviewer_id AND t.item_id = a.item_id"
            " WHERE a.reviewer_id = ? ORDER BY a.position", (reviewer_id,)).fetchall()
        keep = None if active is None else set(active)
        return [dict(r) for r in rows if keep is None or r["item_id"] in keep]

    def assignment(self, reviewer_id: int, aid: str) -> dict[str, Any] | None:
        """The reviewer's assignment with opaque id `aid`; None when it is not theirs (or does not exist)."""
        if not aid or len(aid) > 64:
            return None
        row = self.connect().execute(
            "SELECT id, item_id, position, shown FROM assignments WHERE id = ? AND reviewer_id = ?",
            (aid, reviewer_id)).fetchone()
        return None if row is None else dict(row)

    def mark_shown(self, reviewer_id: int, aid: str) -> None:
        """Note when the reviewer first saw an item (export gives the seconds from then to the rating)."""
        con = self.connect()
        row = con.execute("SELECT shown FROM assignments WHERE id = ? AND reviewer_id = ?", (aid, reviewer_id)).fetchone()
        if row is not None and row["shown"] is None:
            with self.write(con):
                con.execute("UPDATE assignments SET shown = ? WHERE id = ? AND reviewer_id = ? AND shown IS NULL",
                            (now_text(), aid, reviewer_id))

    # ------------------------------------------------------------------ ratings

    def save_rating(self, reviewer_id: int, item_id: int, scores: dict[str, int], comment: str = "") -> None:
        """Insert or update the reviewer's rating of an item (one row per reviewer and item)."""
        for c in CRITERIA:
            v = scores.get(c)
            if not isinstance(v, int) or isinstance(v, bool) or not 1 <= v <= 5:
                raise InputError(f"rating: '{c}' must be a whole number from 1 to 5")
        comment = (comment or "")[:COMMENT_MAX]
        stamp = now_text()
        with self.write() as con:
            con.execute(
                "INSERT INTO ratings (reviewer_id, item_id, accuracy, completeness, usability, comment, created,"
                " updated) VALUES (?, ?, ?, ?, ?, ?, ?, ?) ON CONFLICT(reviewer_id, item_id) DO UPDATE SET"
                " accuracy = excluded.accuracy, completeness = excluded.completeness,"
                " usability = excluded.usability, comment = excluded.comment, updated = excluded.updated,"
                " edits = ratings.edits + 1",
                (reviewer_id, item_id, scores["accuracy"], scores["completeness"], scores["usability"], comment,
                 stamp, stamp))

    def rating(self, reviewer_id: int, item_id: int) -> dict[str, Any] | None:
        row = self.connect().execute(
            "SELECT accuracy, completeness, usability, comment, updated FROM ratings"
            " WHERE reviewer_id = ? AND item_id = ?", (reviewer_id, item_id)).fetchone()
        return None if row is None else dict(row)

    def all_ratings(self) -> list[dict[str, Any]]:
        """Every rating, unblinded: reviewer, run, model, study, scores, comment, times (for export)."""
        rows = self.connect().execute(
            "SELECT r.name AS reviewer, (r.revoked IS NOT NULL) AS reviewer_revoked, i.run, i.model, i.study,"
            " a.position, a.shown, t.accuracy, t.completeness, t.usability, t.comment, t.created, t.updated, t.edits"
            " FROM ratings t JOIN reviewers r ON r.id = t.reviewer_id JOIN items i ON i.id = t.item_id"
            " LEFT JOIN assignments a ON a.reviewer_id = t.reviewer_id AND a.item_id = t.item_id"
            " ORDER BY r.name, a.position, i.study, i.run").fetchall()
        return [dict(r) for r in rows]
