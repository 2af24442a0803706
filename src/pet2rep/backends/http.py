"""HTTP helpers for API backends: which failures to retry, how long to wait, a requests-per-minute limiter.

Pure Python (no HTTP library): the `openai` backend brings httpx; these helpers only decide. Waits follow
exponential backoff with full jitter (a uniform draw in ``[0, min(cap, base * 2**k)]``), unless the server
says how long to wait in ``Retry-After`` (seconds or an HTTP date), which is honoured up to a cap.
"""

from __future__ import annotations

import asyncio
import json
import random
import time
from collections.abc import Iterable
from email.utils import parsedate_to_datetime
from typing import Any

# 408 request timeout, 409 conflict (a lock on the server's side), 429 too many requests: worth another try;
# every other 4xx says the request itself is wrong (bad key, context too long) and will fail again.
RETRY_4XX = frozenset({408, 409, 429})
RETRY_AFTER_CAP_S = 120.0


def retryable_status(status: int) -> bool:
    """True for statuses that a later identical request may survive: 408, 409, 429 and every 5xx."""
    return status in RETRY_4XX or 500 <= status <= 599


def parse_retry_after(value: str | None, now: float | None = None, cap: float = RETRY_AFTER_CAP_S) -> float | None:
    """Seconds to wait from a ``Retry-After`` header (delta-seconds or an HTTP date); None when absent or bad.

    A date in the past gives 0; any value is capped at `cap` (a server asking for an hour gets `cap`).
    """
    if value is None:
        return None
    text = value.strip()
    if not text:
        return None
    try:
        seconds = float(text)
    except ValueError:
        try:
            when = parsedate_to_datetime(text)
        except (TypeError, ValueError, IndexError):
            return None
        if when is None:
            return None
        seconds = when.timestamp() - (time.time() if now is None else now)
    if seconds != seconds:  # NaN
        return None
    return min(max(seconds, 0.0), cap)


def backoff_delay(retry: int, base: float = 1.0, cap: float = 60.0, rng: random.Random | None = None) -> float:
    """Full-jitter exponential backoff before retry number `retry` (1 for the first retry)."""
    high = min(cap, base * 2 ** max(retry - 1, 0))
    return (rng or random).uniform(0.0, high)


def retry_delay(retry: int, retry_after: float | None, base: float = 1.0, cap: float = 60.0,
                rng: random.Random | None = None) -> float:
    """The wait before retry `retry`: the server's Retry-After when it gave one, else jittered backoff."""
    if retry_after is not None:
        return retry_after
    return backoff_delay(retry, base, cap, rng)


class RateLimiter:
    """Evenly spaced request starts: at most `rpm` per minute, one every 60/rpm seconds (asyncio).

    ``await acquire()`` returns when the caller may start a request. Slots are handed out in call order;
    a burst at time 0 is spread out, never sent at once. `rpm` None or 0: no limit.
    """

    def __init__(self, rpm: float | None):
        self.interval = 60.0 / rpm if rpm else 0.0
        self._next = 0.0
        self._lock: asyncio.Lock | None = None

    async def acquire(self) -> None:
        if not self.interval:
            return
        if self._lock is None:
            self._lock = asyncio.Lock()
        async with self._lock:
            now = time.monotonic()
            start = max(now, self._next)
            self._next = start + self.interval
        if start > now:
            await asyncio.sleep(start - now)


def error_message(body: bytes | str, limit: int = 300) -> str:
    """The server's error message from an error body (OpenAI's ``{"error": {"message": ...}}`` and kin)."""
    text = body.decode("utf-8", "replace") if isinstance(body, bytes) else str(body)
    try:
        data: Any = json.loads(text)
    except (json.JSONDecodeError, RecursionError):
        data = None
    if isinstance(data, list) and data and isinstance(data[0], dict):  # Gemini wraps errors in a list
        data = data[0]
    msg = None
    if isinstance(data, dict):
        err = data.get("error", data)
        if isinstance(err, dict):
            msg = err.get("message") or err.get("detail") or err.get("msg")
            if msg is None and err is not data:
                msg = json.dumps(err, ensure_ascii=False)
        elif isinstance(err, str):
            msg = err
        if msg is None:
            msg = data.get("message") or data.get("detail")
    msg = " ".join(str(msg if msg is not None else text).split()) or "(empty body)"
    return msg if len(msg) <= limit else msg[: limit - 1] + "…"


def scrub(text: str, secrets: Iterable[str]) -> str:
    """`text` with every secret (longer than 3 characters) replaced by ``***``."""
    for secret in secrets:
        if secret and len(secret) > 3:
            text = text.replace(secret, "***")
    return text


__all__ = [
    "RETRY_4XX", "RateLimiter", "backoff_delay", "error_message", "parse_retry_after", "retry_delay",
    "retryable_status", "scrub",
]
