"""Secrets of the reader study: login tokens, session ids and CSRF tokens.

A login token is 192 random bits from `secrets` (``token_urlsafe(24)``), shown once by ``review invite``;
the database keeps only its SHA-256. A session id (256 bits) lives in an HttpOnly, SameSite=Strict cookie and
is stored hashed too, so a copy of the database lets nobody log in. Tokens of this strength need no slow
password hash: guessing one is as hard as guessing a 192-bit key.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets

TOKEN_BYTES = 24  # 192 bits (the issue asks for at least 128)
SESSION_BYTES = 32
CSRF_BYTES = 32
COOKIE_NAME = "pet2rep_review"
SESSION_SECONDS = 7 * 24 * 3600


def new_token() -> str:
    """A login token: 32 URL-safe characters, 192 random bits."""
    return secrets.token_urlsafe(TOKEN_BYTES)


def new_session_id() -> str:
    return secrets.token_urlsafe(SESSION_BYTES)


def new_csrf() -> str:
    return secrets.token_urlsafe(CSRF_BYTES)


def new_opaque_id() -> str:
    """An id that names an assignment in URLs and forms: 128 random bits, nothing derived from the item."""
    return secrets.token_urlsafe(16)


def digest(secret: str) -> str:
    """The stored form of a token or session id (hex SHA-256)."""
    return hashlib.sha256(secret.encode("utf-8", "surrogatepass")).hexdigest()


def same(a: str | None, b: str | None) -> bool:
    """Constant-time comparison of two secrets (False when either is missing)."""
    if not a or not b:
        return False
    return hmac.compare_digest(a.encode("utf-8", "surrogatepass"), b.encode("utf-8", "surrogatepass"))


def cookie_header(value: str, *, path: str = "/", secure: bool = False, max_age: int = SESSION_SECONDS) -> str:
    """The Set-Cookie value of a session: HttpOnly, SameSite=Strict, Secure when served over https."""
    parts = [f"{COOKIE_NAME}={value}", f"Path={path}", f"Max-Age={max_age}", "HttpOnly", "SameSite=Strict"]
    if secure:
        parts.append("Secure")
    return "; ".join(parts)
