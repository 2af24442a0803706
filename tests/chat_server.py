"""A real chat-completions server on 127.0.0.1 for testing API backends, scripted per study.

    with ChatServer(script={"s01": [Status(429, headers={"Retry-After": "1"}), OK()]}) as srv:
        run_model(dataset, "openai:test-model", out, base_url=srv.base_url)

It speaks ``POST /v1/chat/completions`` over HTTP/1.1 (keep-alive, one thread per connection). Each request
is identified by `key(parsed_request)` (default: the sha256 of its first image's bytes, which the test maps
to its study id with `ids`); the study's queue of actions gives the answer (its last action repeats; no queue:
`default`). The default answer echoes what arrived: the number of images and the first 12 hex digits of the
sha256 of each image's bytes, in order. Every request is recorded (start time, headers, body, study, action),
and the number in flight is tracked with its maximum.
"""

from __future__ import annotations

import base64
import hashlib
import json
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any


@dataclass
class OK:
    """A normal answer after `delay` seconds; `text` None: the echo of the images."""

    text: str | None = None
    delay: float = 0.0
    prompt_tokens: int = 1000
    completion_tokens: int = 200
    finish_reason: str = "stop"


@dataclass
class Status:
    """An error status with an OpenAI-style error body (`message`) or a raw `body`, and headers."""

    code: int
    message: str = "server error"
    headers: dict[str, str] = field(default_factory=dict)
    body: bytes | None = None


@dataclass
class Stall:
    """Say nothing for `seconds` (past the client's timeout), then answer normally if anyone still listens."""

    seconds: float = 30.0


@dataclass
class Malformed:
    """A 200 answer that is not a chat completion: 'json' (not JSON), 'choices' (empty), 'content' (none)."""

    kind: str = "json"


@dataclass
class EchoAuth:
    """An error whose message quotes the request's Authorization header (a careless server)."""

    code: int = 401


@dataclass
class GoDown:
    """Stop listening (later connections are refused), then give this last answer with ``Connection: close``."""

    then: OK = field(default_factory=OK)


Action = OK | Status | Stall | Malformed | EchoAuth | GoDown


@dataclass
class Seen:
    """One request as the server saw it."""

    t: float  # time.monotonic() at arrival
    headers: dict[str, str]
    body: dict[str, Any] | None
    raw: bytes
    study: str
    action: str
    images: list[bytes]
    path: str


def parts_of(body: dict[str, Any] | None) -> list[dict[str, Any]]:
    """Every content part of every message, in order (a plain-string content counts as one text part)."""
    out = []
    for m in (body or {}).get("messages", []):
        content = m.get("content")
        if isinstance(content, str):
            out.append({"type": "text", "text": content, "role": m.get("role")})
        else:
            out.extend({**p, "role": m.get("role")} for p in content or [])
    return out


def images_of(body: dict[str, Any] | None) -> list[bytes]:
    """The decoded bytes of each image_url part (data: URLs), in order."""
    out = []
    for p in parts_of(body):
        if p.get("type") == "image_url":
            url = p["image_url"]["url"]
            out.append(base64.b64decode(url.split(",", 1)[1]) if url.startswith("data:") else url.encode())
    return out


def sha(data: bytes, n: int = 12) -> str:
    return hashlib.sha256(data).hexdigest()[:n]


class _Server(ThreadingHTTPServer):
    daemon_threads = True
    block_on_close = False
    request_queue_size = 128  # listen backlog: the default 5 drops bursts of connects (1 s SYN retry)


class ChatServer:
    """The server (a context manager). `script`: study -> actions; `ids`: key -> study id; `port` 0: any free one."""

    def __init__(self, script: dict[str, list[Action]] | None = None, ids: dict[str, str] | None = None,
                 default: Action | None = None, key: Callable[[dict | None, list[bytes]], str] | None = None,
                 port: int = 0):
        self.script = {k: list(v) for k, v in (script or {}).items()}
        self.ids = dict(ids or {})
        self.default = default or OK()
        self.key = key or (lambda body, images: sha(images[0], 64) if images else "")
        self.requests: list[Seen] = []
        self.in_flight = 0
        self.max_in_flight = 0
        self.lock = threading.Lock()
        self.closing = threading.Event()
        self.httpd = _Server(("127.0.0.1", port), self._handler())
        self.thread = threading.Thread(target=self.httpd.serve_forever, kwargs={"poll_interval": 0.05},
                                       name="chat-server", daemon=True)

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.httpd.server_address[1]}/v1"

    def __enter__(self) -> ChatServer:
        self.thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.closing.set()
        self.httpd.shutdown()
        self.httpd.server_close()
        self.thread.join(5)

    def of(self, study: str) -> list[Seen]:
        """The requests of one study, in arrival order."""
        return [r for r in self.requests if r.study == study]

    def _next(self, study: str) -> Action:
        with self.lock:
            actions = self.script.get(study)
            if not actions:
                return self.default
            return actions.pop(0) if len(actions) > 1 else actions[0]

    def _handler(self) -> type[BaseHTTPRequestHandler]:
        server = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, format: str, *args: Any) -> None:  # quiet
                pass

            def do_POST(self) -> None:  # noqa: N802 - http.server's naming
                t = time.monotonic()
                with server.lock:
                    server.in_flight += 1
                    server.max_in_flight = max(server.max_in_flight, server.in_flight)
                try:
                    self._serve(t)
                except (BrokenPipeError, ConnectionResetError):
                    self.close_connection = True
                finally:
                    with server.lock:
                        server.in_flight -= 1

            def _serve(self, t: float) -> None:
                raw = self.rfile.read(int(self.headers.get("Content-Length") or 0))
                try:
                    body = json.loads(raw)
                except ValueError:
                    body = None
                images = images_of(body) if isinstance(body, dict) else []
                key = server.key(body, images)
                study = server.ids.get(key, key)
                action = server._next(study) if self.path == "/v1/chat/completions" else Status(404, "no such path")
                with server.lock:
                    server.requests.append(Seen(t, dict(self.headers.items()), body, raw, study,
                                                type(action).__name__, images, self.path))
                self._act(action, body, images)

            def _send(self, code: int, data: bytes, headers: dict[str, str] | None = None) -> None:
                self.send_response(code)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                for k, v in (headers or {}).items():
                    self.send_header(k, v)
                self.end_headers()
                self.wfile.write(data)
                self.wfile.flush()

            def _ok(self, action: OK, body: dict | None, images: list[bytes],
                    headers: dict[str, str] | None = None) -> None:
                text = action.text if action.text is not None else (
                    f"{len(images)} images: " + ",".join(sha(b) for b in images))
                answer = {
                    "id": f"chatcmpl-{len(server.requests)}", "object": "chat.completion", "created": int(time.time()),
                    "model": f"served-{(body or {}).get('model')}",
                    "choices": [{"index": 0, "message": {"role": "assistant", "content": text},
                                 "finish_reason": action.finish_reason}],
                    "usage": {"prompt_tokens": action.prompt_tokens, "completion_tokens": action.completion_tokens,
                              "total_tokens": action.prompt_tokens + action.completion_tokens},
                }
                self._send(200, json.dumps(answer).encode(), headers)

            def _act(self, action: Action, body: dict | None, images: list[bytes]) -> None:
                if isinstance(action, OK):
                    if action.delay:
                        server.closing.wait(action.delay)
                    self._ok(action, body, images)
                elif isinstance(action, Status):
                    data = action.body if action.body is not None else json.dumps(
                        {"error": {"message": action.message, "type": "test_error", "code": action.code}}).encode()
                    self._send(action.code, data, action.headers)
                elif isinstance(action, Stall):
                    if not server.closing.wait(action.seconds):
                        self._ok(OK(), body, images)
                elif isinstance(action, Malformed):
                    data = {
                        "json": b'{"id": "x", "choices": [{"message": {"content": "cut',
                        "choices": json.dumps({"id": "x", "object": "chat.completion", "choices": []}).encode(),
                        "content": json.dumps({"id": "x", "choices": [{"index": 0, "message": {"role": "assistant"},
                                                                         "finish_reason": "stop"}]}).encode(),
                    }[action.kind]
                    self._send(200, data)
                elif isinstance(action, GoDown):
                    server.httpd.shutdown()  # serve_forever runs in another thread: returns once it stopped
                    server.httpd.socket.close()
                    self._ok(action.then, body, images, {"Connection": "close"})  # send_header closes it
                elif isinstance(action, EchoAuth):
                    auth = self.headers.get("Authorization", "")
                    msg = f"Incorrect API key provided in header 'Authorization: {auth}'"
                    self._send(action.code, json.dumps({"error": {"message": msg}}).encode())

        return Handler
