"""The `openai` backend: any OpenAI-compatible chat-completions endpoint (OpenAI, Gemini's and Qwen's
compatible endpoints, Moonshot, ``vllm serve``, SGLang) over async HTTP.

One worker thread runs an asyncio loop with an ``httpx.AsyncClient``; ``generate`` yields each study's
Generation the moment its request completes (through a thread-safe queue). At most ``concurrency`` requests
are in flight; with ``rpm`` set, request starts are spaced 60/rpm seconds apart (retries included). Failures
that a later try may survive (429, 408, 409, 5xx, timeouts, connection errors, malformed answers) are retried
up to ``max_retries`` times with exponential backoff and full jitter, honouring ``Retry-After``; other 4xx
answers (a bad key, a prompt over the context) fail the study at once. A study that still fails comes back as
a failed Generation with the reason, and the run goes on.

A circuit breaker stops a run that cannot work at all: while no request of the backend has been answered, a
study whose every attempt failed to connect (connection refused, DNS, TLS; not a timeout) or that the API
rejected with HTTP 401/403 is held back, not yielded; when ``fail_fast_after`` such studies come in a row
(default ``max(3, concurrency)``, fewer when the run has fewer studies; 0 = off), the requests in flight are
cancelled and ``generate`` raises BackendError, one line naming the URL or the key's variable. The held
studies are never recorded, so running the same command again, once the server is up or the key is right,
does them. Any other outcome releases the held studies as failures as before, and the first answer turns the
breaker off for good.

The API key is read from the environment variable the card names in ``api_key_env`` (default
``OPENAI_API_KEY``), never from a card value or a flag, and is scrubbed from every message this module builds.
"""

from __future__ import annotations

import asyncio
import base64
import errno
import json
import os
import queue
import socket
import ssl
import threading
import time
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit, urlunsplit

import httpx

from ..prompts.messages import ImagePart, Message, TextPart, fold_system, image_parts, images_first
from .base import (
    Backend,
    BackendError,
    Generation,
    GenerationConfig,
    Request,
    card_number,
    error_text,
    one_line,
)
from .http import RateLimiter, error_message, parse_retry_after, retry_delay, retryable_status, scrub

DEFAULTS: dict[str, Any] = {"api_key_env": "OPENAI_API_KEY", "concurrency": 8, "rpm": None, "timeout": 120.0,
                            "max_retries": 5, "max_tokens_param": "max_tokens", "fail_fast_after": None}
NO_KEY = ("none", "")
_MIME = ((b"\xff\xd8\xff", "image/jpeg"), (b"\x89PNG\r\n\x1a\n", "image/png"), (b"GIF87a", "image/gif"),
         (b"GIF89a", "image/gif"))
_FINISH = {"stop": "stop", "eos": "stop", "end_turn": "stop", "length": "length", "max_tokens": "length",
           "content_filter": "content_filter", "safety": "content_filter", "recitation": "content_filter"}
_DONE = object()
# what one study's outcome says about the endpoint (the circuit breaker's input)
ANSWERED, UNREACHABLE, REJECTED, FAILED, UNSENT = "answered", "unreachable", "rejected", "failed", "unsent"
REJECT_STATUSES = frozenset({401, 403})


class _Retryable(Exception):
    """One attempt failed in a way a later attempt may not: `kind` names it in the final reason."""

    def __init__(self, kind: str, detail: str, retry_after: float | None = None, unreachable: str | None = None):
        super().__init__(detail)
        self.kind, self.detail, self.retry_after = kind, detail, retry_after
        self.unreachable = unreachable  # why the server could not be reached, when it could not


class _Fatal(Exception):
    """One attempt failed in a way every retry would (a 4xx other than 408/409/429)."""

    def __init__(self, message: str, status: int | None = None):
        super().__init__(message)
        self.status = status


def connect_reason(exc: BaseException) -> str:
    """Why a connection could not be made, in a few words: 'connection refused', 'DNS lookup failed: ...'."""
    seen: set[int] = set()
    e: BaseException | None = exc
    while e is not None and id(e) not in seen:
        seen.add(id(e))
        if isinstance(e, ConnectionRefusedError):
            return "connection refused"
        if isinstance(e, socket.gaierror):
            return f"DNS lookup failed: {e.strerror or e}"
        if isinstance(e, ssl.SSLCertVerificationError):
            return f"TLS error: {e.verify_message or e.reason or e}"
        if isinstance(e, ssl.SSLError):
            return f"TLS error: {e.reason or e}"
        if isinstance(e, ConnectionResetError):
            return "connection reset while connecting"
        if isinstance(e, OSError) and e.errno in (errno.ENETUNREACH, errno.EHOSTUNREACH):
            return (e.strerror or "unreachable").lower()
        e = e.__cause__ or e.__context__
    return error_text(exc)


def image_mime(data: bytes, path: Path | None = None) -> str:
    """The MIME type of an image from its first bytes (JPEG, PNG, GIF, WebP); ValueError otherwise."""
    for magic, mime in _MIME:
        if data.startswith(magic):
            return mime
    if data[:4] == b"RIFF" and data[8:12] == b"WEBP":
        return "image/webp"
    raise ValueError(f"{path if path is not None else 'image'}: not a JPEG, PNG, GIF or WebP file")


def data_url(path: Path) -> str:
    """A ``data:`` URL holding the image file's bytes, base64-encoded, with its real MIME type."""
    data = path.read_bytes()
    return f"data:{image_mime(data, path)};base64,{base64.b64encode(data).decode('ascii')}"


def chat_messages(messages: Sequence[Message]) -> list[dict[str, Any]]:
    """Interleaved messages as chat-completions messages: images as ``image_url`` parts in their order.

    A system message (and any message without images) is a plain string, which every server accepts.
    """
    out: list[dict[str, Any]] = []
    for m in messages:
        if not any(isinstance(p, ImagePart) for p in m.content):
            out.append({"role": m.role, "content": m.text})
            continue
        parts: list[dict[str, Any]] = []
        for p in m.content:
            if isinstance(p, TextPart):
                if p.text:
                    parts.append({"type": "text", "text": p.text})
            else:
                if p.path is None:
                    raise ValueError(f"image '{p.source}' not found")
                parts.append({"type": "image_url", "image_url": {"url": data_url(p.path)}})
        out.append({"role": m.role, "content": parts})
    return out


def public_url(url: str) -> str:
    """`url` without user info, query or fragment (what may be written to run.json)."""
    s = urlsplit(url)
    host = s.hostname or ""
    if s.port:
        host = f"{host}:{s.port}"
    return urlunsplit((s.scheme, host, s.path, "", ""))


def _number(card: dict[str, Any], key: str, kind: type, low: float, strict: bool = False) -> Any:
    return card_number(card, key, kind, low, strict=strict, default=DEFAULTS[key])


class OpenAIBackend(Backend):
    """Chat completions over HTTP with bounded concurrency, an rpm limit, retries and a token/cost tally."""

    # waits between retries without Retry-After (seconds): full jitter in [0, min(cap, base * 2**k)]
    backoff_base_s = 1.0
    backoff_cap_s = 60.0

    def __init__(self, card: dict[str, Any]):
        super().__init__(card)
        self._runs: set[_Run] = set()
        if "api_key" in card:
            raise BackendError(f"model card '{self.name}': API keys do not belong in cards (they would be "
                               "written to run.json); put the key in the environment variable named by api_key_env")
        self.model = str(card.get("model") or "")
        if not self.model:
            raise BackendError(f"model card '{self.name}': no 'model' (the API's model name)")
        base_url = str(card.get("base_url") or "").strip()
        if not base_url:
            raise BackendError(f"model '{self.name}': no API base URL; give --base-url URL (an OpenAI-compatible "
                               "endpoint, e.g. https://api.openai.com/v1 or http://localhost:8000/v1 for vllm serve)")
        if urlsplit(base_url).scheme not in ("http", "https") or not urlsplit(base_url).hostname:
            raise BackendError(f"model '{self.name}': base URL '{public_url(base_url)}' is not an http(s) URL")
        base = base_url.rstrip("/")
        self.url = base if base.endswith("/chat/completions") else base + "/chat/completions"
        self.base_url = base_url
        env = card.get("api_key_env", DEFAULTS["api_key_env"])
        self.key_env = None if env is None or str(env).strip().lower() in NO_KEY else str(env).strip()
        self._key = ""
        if self.key_env is not None:
            self._key = os.environ.get(self.key_env, "").strip()
            if not self._key:
                raise BackendError(f"model '{self.name}': the API key variable {self.key_env} is not set "
                                   f"(export {self.key_env}=...; a local server without keys: api_key_env: none "
                                   "in a card)")
        self.concurrency = _number(card, "concurrency", int, 1)
        self.rpm = _number(card, "rpm", float, 0, strict=True)
        self.timeout = _number(card, "timeout", float, 0, strict=True)
        self.max_retries = _number(card, "max_retries", int, 0)
        fail_fast = _number(card, "fail_fast_after", int, 0)
        self.fail_fast_after: int = max(3, self.concurrency) if fail_fast is None else fail_fast
        self.answered = False  # a request of this backend has been answered: the circuit breaker is off
        self.tokens_param = str(card.get("max_tokens_param") or DEFAULTS["max_tokens_param"])
        if self.tokens_param not in ("max_tokens", "max_completion_tokens"):
            raise BackendError(f"model card '{self.name}': max_tokens_param '{self.tokens_param}': "
                               "must be max_tokens or max_completion_tokens")
        self.send_top_k = bool(card.get("extra_body_top_k", False))
        self.prices = self._prices(card.get("prices"))
        self.max_images = card_number(card, "max_images", int, 1)
        self.fold = card.get("system", "native") == "fold"
        self.first = card.get("images", "interleaved") == "first"
        self.server_model: str | None = None
        self.dropped: set[str] = set()
        self.tally = {"requests": 0, "retries": 0}

    def _prices(self, prices: Any) -> tuple[float, float] | None:
        if prices is None:
            return None
        try:
            return float(prices["input_per_mtok"]), float(prices["output_per_mtok"])
        except (TypeError, KeyError, ValueError):
            raise BackendError(f"model card '{self.name}': prices must be {{input_per_mtok: USD, "
                               "output_per_mtok: USD}} (per million tokens)") from None

    # ----------------------------------------------------------------------------------------------
    # what is sent

    def payload(self, req: Request) -> dict[str, Any]:
        """The chat-completions request body of one study (images read and base64-encoded here)."""
        messages = tuple(req.messages)
        if self.fold:
            messages = fold_system(messages)
        if self.first:
            messages = images_first(messages)
        n_images = len(image_parts(messages))
        if self.max_images is not None and n_images > self.max_images:
            raise _Fatal(f"{n_images} images, but model '{self.name}' takes at most {self.max_images} (card max_images)")
        body: dict[str, Any] = {"model": self.model, "messages": chat_messages(messages)}
        body.update(self.sampling(req.config))
        return body

    def sampling(self, cfg: GenerationConfig) -> dict[str, Any]:
        """Generation settings as request fields; those the API has no field for are noted in `dropped`."""
        out: dict[str, Any] = {self.tokens_param: cfg.max_new_tokens, "temperature": cfg.temperature,
                               "top_p": cfg.top_p}
        if cfg.seed is not None:
            out["seed"] = cfg.seed
        if cfg.stop:
            out["stop"] = list(cfg.stop)
        if cfg.top_k:
            if self.send_top_k:
                out["top_k"] = cfg.top_k
            else:
                self.dropped.add(f"top_k={cfg.top_k}")
        if cfg.min_new_tokens:
            self.dropped.add(f"min_new_tokens={cfg.min_new_tokens}")
        if cfg.repetition_penalty != 1.0:
            self.dropped.add(f"repetition_penalty={cfg.repetition_penalty:g}")
        return out

    def headers(self) -> dict[str, str]:
        from .. import __version__

        h = {"User-Agent": f"pet2rep/{__version__}", "Accept": "application/json"}
        if self._key:
            h["Authorization"] = f"Bearer {self._key}"
        return h

    def clean(self, text: str) -> str:
        """`text` without the API key (a server may echo headers into its error messages)."""
        return scrub(text, [self._key])

    # ----------------------------------------------------------------------------------------------
    # what comes back

    def answer(self, req_id: str, data: Any) -> Generation:
        """A Generation from a 200 answer's JSON; _Retryable('malformed answer') when it is not one."""
        if not isinstance(data, dict):
            raise _Retryable("malformed answer", f"not a JSON object: {type(data).__name__}")
        choices = data.get("choices")
        if not isinstance(choices, list) or not choices or not isinstance(choices[0], dict):
            extra = f" ({error_message(json.dumps(data))})" if "error" in data else ""
            raise _Retryable("malformed answer", "no choices" + extra)
        choice = choices[0]
        message = choice.get("message")
        raw_finish = choice.get("finish_reason")
        finish = _FINISH.get(str(raw_finish), "stop") if raw_finish is not None else "stop"
        if not isinstance(message, dict):
            raise _Retryable("malformed answer", "no message in choices[0]")
        content = message.get("content")
        if isinstance(content, list):  # some servers answer with content parts
            content = "".join(p.get("text", "") for p in content if isinstance(p, dict))
        extra: dict[str, Any] = {}
        if content is None:
            refusal = message.get("refusal")
            if isinstance(refusal, str):
                content, finish, extra["refusal"] = refusal, "content_filter", True
            elif finish == "content_filter":
                content = ""
            else:
                raise _Retryable("malformed answer", "no message content")
        if not isinstance(content, str):
            raise _Retryable("malformed answer", f"message content is a {type(content).__name__}")
        if raw_finish is not None and str(raw_finish) not in ("stop", "length", "content_filter"):
            extra["finish_reason_raw"] = str(raw_finish)
        if self.server_model is None and isinstance(data.get("model"), str):
            self.server_model = data["model"]
        usage = data.get("usage") if isinstance(data.get("usage"), dict) else {}
        pt, ct = _int(usage.get("prompt_tokens")), _int(usage.get("completion_tokens"))
        if self.prices is not None and pt is not None and ct is not None:
            extra["cost_usd"] = round(pt * self.prices[0] / 1e6 + ct * self.prices[1] / 1e6, 8)
        return Generation(req_id, content, finish, prompt_tokens=pt, completion_tokens=ct, extra=extra)

    async def attempt(self, client: httpx.AsyncClient, req_id: str, body: dict[str, Any]) -> Generation:
        """One POST; a Generation, or _Retryable / _Fatal with the reason."""
        self.tally["requests"] += 1
        try:
            resp = await asyncio.wait_for(client.post(self.url, json=body), self.timeout)
        except (asyncio.TimeoutError, httpx.TimeoutException):
            raise _Retryable("timeout", "timed out") from None
        except httpx.ConnectError as exc:  # refused, DNS, TLS: no server spoke (a ConnectTimeout is a timeout)
            raise _Retryable("connection error", error_text(exc), unreachable=connect_reason(exc)) from None
        except httpx.TransportError as exc:
            raise _Retryable("connection error", error_text(exc)) from None
        if resp.status_code != 200:
            msg = error_message(resp.content)
            if retryable_status(resp.status_code):
                raise _Retryable(f"HTTP {resp.status_code}", msg, parse_retry_after(resp.headers.get("retry-after")))
            raise _Fatal(f"HTTP {resp.status_code}: {msg}", resp.status_code)
        try:
            data = json.loads(resp.content)
        except (ValueError, RecursionError) as exc:  # JSONDecodeError and UnicodeDecodeError are ValueErrors
            raise _Retryable("malformed answer", f"invalid JSON ({getattr(exc, 'msg', exc)})") from None
        return self.answer(req_id, data)

    async def complete(self, client: httpx.AsyncClient, limiter: RateLimiter,
                       req: Request) -> tuple[Generation, str, str]:
        """One study: build the request, send it, retry what may pass.

        Returns its Generation, the outcome (ANSWERED, UNREACHABLE: every attempt failed to connect, REJECTED:
        HTTP 401/403, FAILED, UNSENT: no request was made) and, for the circuit breaker, why (key scrubbed).
        """
        try:
            body = self.payload(req)
        except _Fatal as exc:
            return Generation.failed(req.id, str(exc), extra={"attempts": 0}), UNSENT, ""
        except (OSError, ValueError) as exc:
            return Generation.failed(req.id, f"cannot send the images: {exc}", extra={"attempts": 0}), UNSENT, ""
        attempts, t0, retried, reached = 0, None, [], False
        while True:
            await limiter.acquire()
            attempts += 1
            t0 = time.perf_counter() if t0 is None else t0
            try:
                gen = await self.attempt(client, req.id, body)
            except _Fatal as exc:
                outcome = REJECTED if exc.status in REJECT_STATUSES else FAILED
                return (Generation.failed(req.id, self.clean(f"{exc} (not retried)"),
                                          latency_s=time.perf_counter() - t0, extra=_tries(attempts, retried)),
                        outcome, self.clean(str(exc)))
            except _Retryable as exc:
                reached = reached or exc.unreachable is None
                if attempts > self.max_retries:
                    gen = Generation.failed(req.id, self.clean(self._reason(exc, attempts)),
                                            latency_s=time.perf_counter() - t0, extra=_tries(attempts, retried))
                    return gen, (FAILED if reached else UNREACHABLE), exc.unreachable or ""
                self.tally["retries"] += 1
                retried.append(exc.kind)
                await asyncio.sleep(retry_delay(attempts, exc.retry_after, self.backoff_base_s, self.backoff_cap_s))
                continue
            gen.latency_s = time.perf_counter() - t0
            gen.extra.update(_tries(attempts, retried))
            gen.text = self.clean(gen.text)
            return gen, ANSWERED, ""

    def stop_message(self, outcome: str, detail: str, n: int) -> str:
        """The one line a tripped circuit breaker raises (key scrubbed)."""
        row = f"{n} studies in a row, none answered" if n > 1 else "1 study, not answered"
        tail = "(the run stopped; nothing was recorded for those studies)"
        if outcome == UNREACHABLE:
            msg = f"openai: cannot reach {public_url(self.base_url)} ({detail}) — {row}; is the server up? {tail}"
        else:
            who = f"the key in ${self.key_env}" if self.key_env else "requests without a key (api_key_env: none)"
            msg = (f"openai: the API rejected {who} ({detail}) — {row}; is the key valid, and allowed to use "
                   f"model '{self.model}'? {tail}")
        return one_line(self.clean(msg), limit=800)

    def _reason(self, exc: _Retryable, attempts: int) -> str:
        tries = f"{attempts} attempt{'s' if attempts != 1 else ''}"
        if exc.kind == "timeout":
            return f"timed out after {tries} (timeout {self.timeout:g} s)"
        return f"{exc.kind} after {tries}: {exc.detail}"

    # ----------------------------------------------------------------------------------------------
    # the contract

    def generate(self, requests: Sequence[Request]) -> Iterator[Generation]:
        if not requests:
            return
        run = _Run(self, list(requests))
        self._runs.add(run)
        try:
            yield from run.results()
        finally:
            run.stop()
            self._runs.discard(run)

    def describe(self) -> dict[str, Any]:
        info: dict[str, Any] = {
            "backend": "openai", "base_url": public_url(self.base_url), "endpoint": public_url(self.url),
            "model": self.model, "api_key_env": self.key_env, "concurrency": self.concurrency, "rpm": self.rpm,
            "timeout": self.timeout, "max_retries": self.max_retries, "max_tokens_param": self.tokens_param,
            "fail_fast_after": self.fail_fast_after,
            "top_k": "sent (extra_body_top_k)" if self.send_top_k else "not sent (no such OpenAI field)",
            "httpx": httpx.__version__,
        }
        if self.prices is not None:
            info["prices"] = {"input_per_mtok": self.prices[0], "output_per_mtok": self.prices[1]}
        if self.server_model is not None:
            info["server_model"] = self.server_model
        if self.dropped:
            info["dropped_settings"] = sorted(self.dropped)
        if self.tally["requests"]:
            info["http"] = dict(self.tally)
        return info

    def close(self) -> None:
        for run in list(getattr(self, "_runs", ())):
            run.stop()
        if hasattr(self, "_runs"):
            self._runs.clear()


def _tries(attempts: int, retried: list[str]) -> dict[str, Any]:
    """The record's share of a study's retry history: attempts, and what each retried attempt met."""
    return {"attempts": attempts, "retried": list(retried)} if retried else {"attempts": attempts}


def _int(value: Any) -> int | None:
    return value if isinstance(value, int) and not isinstance(value, bool) else None


class _Breaker:
    """The circuit breaker of one `generate` call: which Generations may be yielded now, and when to stop.

    Studies the endpoint could not reach (or that it rejected: 401/403) are held while none of the backend's
    requests has been answered; ``fail_fast_after`` of one kind in a row (or all of the call's studies, if
    fewer) trip it.
    Anything else releases the held ones; studies never sent (an unreadable image) say nothing of the server.
    """

    def __init__(self, backend: OpenAIBackend, n: int):
        self.backend, self.n = backend, n
        self.held: list[Generation] = []
        self.outcome, self.detail = "", ""
        self.tripped: str | None = None

    def add(self, gen: Generation, outcome: str, detail: str) -> list[Generation]:
        """Take one study's result; return those that may be yielded now (set `tripped` to stop the run)."""
        out: list[Generation] = []
        b = self.backend
        if outcome == UNSENT:
            self.n -= 1
            out.append(gen)
        elif outcome in (UNREACHABLE, REJECTED) and b.fail_fast_after and not b.answered:
            if outcome != self.outcome:
                out += self.release()
            self.held.append(gen)
            self.outcome, self.detail = outcome, detail
        else:
            b.answered = b.answered or outcome == ANSWERED
            out += self.release()
            out.append(gen)
        if self.held and len(self.held) >= min(b.fail_fast_after, self.n):
            self.tripped = b.stop_message(self.outcome, self.detail, len(self.held))
        return out

    def release(self) -> list[Generation]:
        held, self.held, self.outcome = self.held, [], ""
        return held


class _Run:
    """One `generate` call: an asyncio loop in a worker thread feeding a thread-safe queue."""

    def __init__(self, backend: OpenAIBackend, requests: list[Request]):
        self.backend, self.requests = backend, requests
        self.queue: queue.Queue = queue.Queue()
        self.loop: asyncio.AbstractEventLoop | None = None
        self.task: asyncio.Task | None = None
        self.stopping = threading.Event()
        self.started = threading.Event()
        self.thread = threading.Thread(target=self._thread_main, name="pet2rep-openai", daemon=True)
        self.thread.start()
        self.started.wait()

    def _thread_main(self) -> None:
        loop = asyncio.new_event_loop()
        self.loop = loop
        try:
            self.task = loop.create_task(self._main())
            self.started.set()
            if self.stopping.is_set():
                self.task.cancel()
            loop.run_until_complete(self.task)
        except asyncio.CancelledError:
            pass
        except BaseException as exc:  # noqa: BLE001 - handed to the consumer thread
            self.queue.put(exc)
        finally:
            self.started.set()
            try:
                pending = [t for t in asyncio.all_tasks(loop) if not t.done()]
                for t in pending:
                    t.cancel()
                if pending:
                    loop.run_until_complete(asyncio.gather(*pending, return_exceptions=True))
                loop.run_until_complete(loop.shutdown_asyncgens())
            finally:
                loop.close()
                self.queue.put(_DONE)

    async def _main(self) -> None:
        b = self.backend
        limits = httpx.Limits(max_connections=b.concurrency, max_keepalive_connections=b.concurrency)
        timeout = httpx.Timeout(b.timeout)
        limiter = RateLimiter(b.rpm)
        todo = iter(self.requests)
        breaker = _Breaker(b, len(self.requests))

        async def worker() -> None:
            for req in todo:
                try:
                    gen, outcome, detail = await b.complete(client, limiter, req)
                except asyncio.CancelledError:
                    raise
                except Exception as exc:  # noqa: BLE001 - one study's surprise never stops the others
                    gen = Generation.failed(req.id, b.clean(f"internal error: {error_text(exc)}"))
                    outcome, detail = FAILED, ""
                for g in breaker.add(gen, outcome, detail):
                    self.queue.put(g)
                if breaker.tripped:  # the held studies are dropped: a later run does them
                    raise BackendError(breaker.tripped)

        async with httpx.AsyncClient(headers=b.headers(), timeout=timeout, limits=limits,
                                     follow_redirects=False) as client:
            workers = [asyncio.ensure_future(worker()) for _ in range(min(b.concurrency, len(self.requests)))]
            try:
                await asyncio.gather(*workers)
            finally:  # on a trip or a cancel: the requests in flight end here, before the client closes
                for w in workers:
                    w.cancel()
                await asyncio.gather(*workers, return_exceptions=True)
        for g in breaker.release():  # a row too short to trip at the end: failures, as before
            self.queue.put(g)

    def results(self) -> Iterator[Generation]:
        """Each Generation as it arrives; a failure of the loop itself is raised here."""
        while True:
            try:
                item = self.queue.get(timeout=0.2)
            except queue.Empty:
                continue
            if item is _DONE:
                return
            if isinstance(item, BackendError):  # the circuit breaker tripped: the run must stop
                raise item
            if isinstance(item, BaseException):  # the loop itself failed: the runner retries study by study
                raise RuntimeError(one_line(self.backend.clean(f"openai backend: {error_text(item)}")))
            yield item

    def stop(self, wait: float = 5.0) -> None:
        """Cancel the requests in flight and end the thread (promptly: used on Ctrl-C)."""
        self.stopping.set()
        loop, task = self.loop, self.task
        if loop is not None and task is not None and not task.done():
            try:
                loop.call_soon_threadsafe(task.cancel)
            except RuntimeError:  # the loop has closed meanwhile
                pass
        if self.thread.is_alive() and self.thread is not threading.current_thread():
            self.thread.join(wait)
