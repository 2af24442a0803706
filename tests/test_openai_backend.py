"""The `openai` backend over real HTTP on loopback (tests/chat_server.py): retries, limits, secrets, images."""

from __future__ import annotations

import asyncio
import hashlib
import io
import json
import os
import signal
import threading
import time
from email.utils import formatdate
from pathlib import Path

import numpy as np
import pytest
from chat_server import OK, ChatServer, EchoAuth, Malformed, Stall, Status, parts_of, sha
from PIL import Image

from pet2rep.backends import http
from pet2rep.backends.base import BackendError, GenerationConfig, load_backend, load_card
from pet2rep.backends.openai_api import OpenAIBackend
from pet2rep.cli import main
from pet2rep.prompts.build import make_record
from pet2rep.prompts.dataset import read_dataset, write_dataset
from pet2rep.prompts.messages import ImagePart, build_messages
from pet2rep.runs import read_predictions, run_model, to_request

KEY = "sk-pet2rep-TEST-9f8e7d6c5b4a3210"


@pytest.fixture(autouse=True)
def fast_backoff(monkeypatch):
    """Short jittered backoff (Retry-After is still honoured in full) and a distinctive key."""
    monkeypatch.setattr(OpenAIBackend, "backoff_base_s", 0.02)
    monkeypatch.setenv("OPENAI_API_KEY", KEY)


def image_bytes(seed: int, fmt: str = "JPEG", size: int = 48) -> bytes:
    rng = np.random.default_rng(seed)
    buf = io.BytesIO()
    Image.fromarray(rng.integers(0, 255, (size, size, 3), dtype=np.uint8)).save(buf, fmt)
    return buf.getvalue()


def make_dataset(root: Path, n: int, n_images: int = 3, png: set[tuple[int, int]] = frozenset()):
    """A PET2Rep dataset of `n` studies (s00, s01, ...) with real JPEG (or PNG) images.

    Returns (dataset file, {sha256 of first image: study id}, {study id: [image bytes in prompt order]}).
    """
    recs, ids, images = [], {}, {}
    for i in range(n):
        sid, names, datas = f"s{i:02d}", [], []
        for j in range(n_images):
            fmt = "PNG" if (i, j) in png else "JPEG"
            name = f"slice_prompt/{sid}_{90 + 10 * j}_coronal.{fmt.lower().replace('jpeg', 'jpg')}"
            data = image_bytes(1000 * i + j, fmt)
            (root / "ds" / name).parent.mkdir(parents=True, exist_ok=True)
            (root / "ds" / name).write_bytes(data)
            names.append(name)
            datas.append(data)
        recs.append(make_record(sid, names, "zh", f"报告{i}。肝脏FDG摄取增高。"))
        ids[hashlib.sha256(datas[0]).hexdigest()] = sid
        images[sid] = datas
    return write_dataset(recs, root / "ds"), ids, images


def echo(datas: list[bytes]) -> str:
    return f"{len(datas)} images: " + ",".join(sha(d) for d in datas)


def records(pred: Path) -> dict[str, dict]:
    return {r["subject_id"]: r for r in read_predictions(pred)}


def run_json(out: Path) -> dict:
    return json.loads((out / "run.json").read_text(encoding="utf-8"))


# --------------------------------------------------------------------------------------------------
# faults


def test_transient_faults_are_retried_and_succeed(tmp_path):
    ds, ids, imgs = make_dataset(tmp_path, 7)
    script = {
        "s01": [Status(429, "rate limited", headers={"Retry-After": "1"}), OK()],
        "s02": [Status(500), Status(503), OK()],
        "s03": [Stall(10), OK()],
        "s04": [Malformed("json"), OK()],
        "s05": [Malformed("choices"), OK()],
        "s06": [Malformed("content"), OK()],
    }
    with ChatServer(script, ids) as srv:
        t0 = time.monotonic()
        pred = run_model(ds, "openai:test-model", tmp_path / "run", base_url=srv.base_url, concurrency=4,
                         timeout=0.5, max_retries=3, progress=False)
        wall = time.monotonic() - t0
    recs = records(pred)
    attempts = {"s00": 1, "s01": 2, "s02": 3, "s03": 2, "s04": 2, "s05": 2, "s06": 2}
    for sid, n in attempts.items():
        assert recs[sid]["error"] is None, recs[sid]["error"]
        assert recs[sid]["llm_output"] == [echo(imgs[sid])]
        assert recs[sid]["attempts"] == n and len(srv.of(sid)) == n, sid
    first, retry = srv.of("s01")
    assert retry.t - first.t >= 1.0  # Retry-After: 1 honoured
    assert recs["s01"]["latency_s"] >= 1.0  # latency covers the retries
    stalled, after = srv.of("s03")
    assert after.t - stalled.t >= 0.45  # the client gave up at its timeout (0.5 s), then retried
    assert wall < 6
    info = run_json(tmp_path / "run")
    assert info["status"] == "complete" and info["n_errors"] == 0 and info["n_predictions"] == 7


def test_persistent_failures_are_recorded_and_the_run_goes_on(tmp_path):
    ds, ids, _ = make_dataset(tmp_path, 7)
    context = "This model's maximum context length is 8192 tokens. However, you requested 9000 tokens."
    script = {
        "s01": [Status(500, "upstream exploded")],
        "s02": [Stall(10)],
        "s03": [Malformed("json")],
        "s04": [Status(400, context)],
        "s05": [Status(429, "quota", headers={"Retry-After": "0"})],
        "s06": [Malformed("content")],
    }
    with ChatServer(script, ids) as srv:
        pred = run_model(ds, "openai:test-model", tmp_path / "run", base_url=srv.base_url, concurrency=7,
                         timeout=0.4, max_retries=2, progress=False)
    recs = records(pred)
    assert recs["s00"]["error"] is None and recs["s00"]["attempts"] == 1
    assert recs["s01"]["error"] == "HTTP 500 after 3 attempts: upstream exploded"
    assert recs["s02"]["error"] == "timed out after 3 attempts (timeout 0.4 s)"
    assert recs["s03"]["error"].startswith("malformed answer after 3 attempts: invalid JSON")
    assert recs["s04"]["error"] == f"HTTP 400: {context} (not retried)"
    assert recs["s05"]["error"] == "HTTP 429 after 3 attempts: quota"
    assert recs["s06"]["error"] == "malformed answer after 3 attempts: no message content"
    for sid in ("s01", "s02", "s03", "s05", "s06"):
        assert len(srv.of(sid)) == 3 and recs[sid]["attempts"] == 3, (sid, recs[sid].get("retried"), [(r.t, r.action) for r in srv.requests])
    assert len(srv.of("s04")) == 1 and recs["s04"]["attempts"] == 1  # a 400 is not retried
    assert all(recs[s]["finish_reason"] == "error" and recs[s]["llm_output"] == [""] for s in script)
    info = run_json(tmp_path / "run")
    assert info["status"] == "complete" and info["n_predictions"] == 7 and info["n_errors"] == 6


# --------------------------------------------------------------------------------------------------
# what is sent


def test_images_arrive_as_data_urls_in_prompt_order_with_the_settings(tmp_path):
    ds, ids, imgs = make_dataset(tmp_path, 2, png={(0, 1)})
    (tmp_path / "ds" / "slice_prompt" / "s01_100_coronal.jpg").write_text("not an image")
    with ChatServer(ids=ids) as srv:
        pred = run_model(ds, "openai:test-model", tmp_path / "run", base_url=srv.base_url, progress=False,
                         generation={"max_new_tokens": 321, "temperature": 0.7, "top_p": 0.9, "seed": 7,
                                     "stop": ["</report>"], "top_k": 50})
    recs = records(pred)
    assert recs["s00"]["llm_output"] == [echo(imgs["s00"])] and recs["s00"]["error"] is None
    # a file that is no image fails its study before any request, naming the file
    assert "cannot send the images" in recs["s01"]["error"] and "s01_100_coronal.jpg" in recs["s01"]["error"]
    assert len(srv.requests) == 1
    body = srv.requests[0].body
    rec = read_dataset(ds)[0]
    assert body["model"] == "test-model"
    assert (body["max_tokens"], body["temperature"], body["top_p"], body["seed"], body["stop"]) == \
        (321, 0.7, 0.9, 7, ["</report>"])
    assert "top_k" not in body  # not an OpenAI field (extra_body_top_k sends it)
    assert body["messages"][0] == {"role": "system", "content": rec.prompt_system}
    # the user turn: the prompt's parts in order, images as data: URLs of their real format
    want = [p for m in build_messages(rec, ds.parent) if m.role == "user" for p in m.content]
    got = body["messages"][1]["content"]
    assert [p["type"] for p in got] == ["image_url" if isinstance(p, ImagePart) else "text" for p in want]
    assert [p["text"] for p in got if p["type"] == "text"] == [p.text for p in want if not isinstance(p, ImagePart)]
    urls = [p["image_url"]["url"] for p in got if p["type"] == "image_url"]
    assert [u.split(";")[0] for u in urls] == ["data:image/jpeg", "data:image/png", "data:image/jpeg"]
    assert srv.requests[0].images == imgs["s00"]


def test_card_options_fold_system_send_top_k_and_no_key(tmp_path, monkeypatch):
    monkeypatch.delenv("OPENAI_API_KEY")
    ds, ids, imgs = make_dataset(tmp_path, 2)
    requests = [to_request(r, ds.parent, GenerationConfig(top_k=20, seed=1)) for r in read_dataset(ds)]
    with ChatServer(ids=ids) as srv:
        card = {"name": "local", "backend": "openai", "model": "m", "base_url": srv.base_url,
                "api_key_env": "none", "system": "fold", "images": "first", "extra_body_top_k": True,
                "max_tokens_param": "max_completion_tokens"}
        with load_backend(card) as backend:
            gens = {g.id: g for g in backend.generate(requests)}
            info = backend.describe()
        with load_backend({**card, "max_images": 2}) as backend:
            refused = list(backend.generate(requests[:1]))
    assert len(srv.requests) == 2
    assert refused[0].error == "3 images, but model 'local' takes at most 2 (card max_images)"
    assert {k: g.text for k, g in gens.items()} == {s: echo(imgs[s]) for s in ("s00", "s01")}
    body = srv.requests[0].body
    assert "authorization" not in {k.lower() for k in srv.requests[0].headers}
    assert body["top_k"] == 20 and body["seed"] == 1 and body["max_completion_tokens"] == 1024
    assert "max_tokens" not in body
    assert [m["role"] for m in body["messages"]] == ["user"]  # system folded into the user turn
    types = [p["type"] for p in parts_of(body)]
    assert types == ["image_url"] * 3 + ["text"]  # images first
    assert parts_of(body)[-1]["text"].startswith(requests[0].messages[0].text)
    assert info["server_model"] == "served-m" and info["api_key_env"] is None
    assert info["httpx"] and info["http"] == {"requests": 2, "retries": 0}


# --------------------------------------------------------------------------------------------------
# limits


def test_concurrency_limit_holds(tmp_path):
    ds, ids, _ = make_dataset(tmp_path, 12, n_images=1)
    with ChatServer(ids=ids, default=OK(delay=0.15)) as srv:
        run_model(ds, "openai:test-model", tmp_path / "run", base_url=srv.base_url, concurrency=4,
                  progress=False)
    assert len(srv.requests) == 12
    assert srv.max_in_flight == 4


def test_rpm_spaces_request_starts(tmp_path):
    ds, ids, _ = make_dataset(tmp_path, 6, n_images=1)
    with ChatServer(ids=ids) as srv:
        run_model(ds, "openai:test-model", tmp_path / "run", base_url=srv.base_url, concurrency=6, rpm=300,
                  progress=False)
    starts = sorted(r.t for r in srv.requests)
    gaps = np.diff(starts)
    assert len(starts) == 6 and gaps.min() >= 0.2 - 0.02, gaps  # 300 per minute: one every 0.2 s
    assert starts[-1] - starts[0] >= 1.0 - 0.02


# --------------------------------------------------------------------------------------------------
# secrets and errors before any request


def test_key_reaches_the_server_and_nothing_else(tmp_path, capfd):
    ds, ids, _ = make_dataset(tmp_path, 4, n_images=1)
    script = {"s01": [EchoAuth(401)], "s02": [EchoAuth(500)]}
    out = tmp_path / "run"
    with ChatServer(script, ids) as srv:
        run_model(ds, "openai:test-model", out, base_url=srv.base_url, max_retries=1, progress=True,
                  warn=print)
        assert main(["generate", str(ds), "--model", "openai:test-model", "--base-url", srv.base_url,
                     "--out", str(out), "--retry-errors", "--max-retries", "1"]) == 1
    assert srv.requests and all(r.headers["Authorization"] == f"Bearer {KEY}" for r in srv.requests)
    assert all(KEY.encode() not in r.raw for r in srv.requests)  # only in the header
    recs = records(out / "predictions.jsonl")
    assert recs["s01"]["error"] == "HTTP 401: Incorrect API key provided in header 'Authorization: Bearer ***' " \
                                   "(not retried)"
    assert recs["s02"]["error"].startswith("HTTP 500 after 2 attempts: Incorrect API key") and "***" in recs["s02"]["error"]
    files = [p for p in out.rglob("*") if p.is_file()]
    assert {p.name for p in files} >= {"run.json", "predictions.jsonl"}
    for p in files:
        assert KEY.encode() not in p.read_bytes(), p
    captured = capfd.readouterr()
    assert "studies" in captured.err or "study" in captured.err  # the progress bar was there to leak into
    assert KEY not in captured.out and KEY not in captured.err


def test_missing_key_is_one_line_before_any_request(tmp_path, monkeypatch, capsys):
    monkeypatch.delenv("OPENAI_API_KEY")
    ds, ids, _ = make_dataset(tmp_path, 2, n_images=1)
    card = tmp_path / "gpt.yaml"
    with ChatServer(ids=ids) as srv:
        with pytest.raises(BackendError) as err:
            run_model(ds, "openai:test-model", tmp_path / "run", base_url=srv.base_url, progress=False)
        msg = str(err.value)
        assert "\n" not in msg and "OPENAI_API_KEY is not set" in msg
        card.write_text(f"name: gpt\nbackend: openai\nmodel: gpt-x\nbase_url: {srv.base_url}\n"
                        "api_key_env: PET2REP_TEST_KEY\n", encoding="utf-8")
        monkeypatch.delenv("PET2REP_TEST_KEY", raising=False)
        assert main(["generate", str(ds), "--model", str(card), "--out", str(tmp_path / "run2")]) == 2
        err_lines = capsys.readouterr().err.strip().splitlines()
        assert len(err_lines) == 1 and "PET2REP_TEST_KEY is not set" in err_lines[0]
        assert err_lines[0].startswith("pet2rep generate: error:")
    assert srv.requests == []


def test_missing_base_url_is_one_line(tmp_path):
    ds, _, _ = make_dataset(tmp_path, 1, n_images=1)
    with pytest.raises(BackendError, match="no API base URL; give --base-url URL"):
        run_model(ds, "openai:test-model", tmp_path / "run", progress=False)
    with pytest.raises(BackendError, match="api_key_env: none"):
        OpenAIBackend({"name": "x", "backend": "openai", "model": "m", "base_url": "http://h/v1",
                       "api_key_env": "PET2REP_UNSET_KEY"})
    with pytest.raises(BackendError, match="keys do not belong in cards"):
        OpenAIBackend({"name": "x", "backend": "openai", "model": "m", "base_url": "http://h/v1", "api_key": KEY})


# --------------------------------------------------------------------------------------------------
# tally, CLI, Ctrl-C


def test_token_tally_and_cost_reach_run_json(tmp_path):
    """The packaged gpt-4o card (USD 2.50 / 10.00 per million tokens), its base URL pointed at loopback."""
    ds, ids, _ = make_dataset(tmp_path, 4, n_images=1)
    script = {"s03": [Status(500), OK(prompt_tokens=3000, completion_tokens=500)]}
    with ChatServer(script, ids) as srv:
        pred = run_model(ds, "gpt-4o", tmp_path / "run", base_url=srv.base_url, progress=False)
    assert srv.requests[0].body["model"] == "gpt-4o"
    recs = records(pred)
    assert [recs[s]["cost_usd"] for s in ("s00", "s01", "s02")] == [0.0045] * 3  # 1000 * 2.5e-6 + 200 * 1e-5
    assert recs["s03"]["cost_usd"] == 0.0125 and recs["s03"]["prompt_tokens"] == 3000
    info = run_json(tmp_path / "run")
    assert info["prompt_tokens_new"] == 6000 and info["completion_tokens_new"] == 1100
    assert info["cost_usd_new"] == pytest.approx(0.026)
    assert info["backend"]["prices"] == {"input_per_mtok": 2.5, "output_per_mtok": 10.0}
    assert info["backend"]["base_url"] == srv.base_url and KEY not in json.dumps(info)


def test_cli_generate_with_http_flags(tmp_path, capsys):
    ds, ids, imgs = make_dataset(tmp_path, 9, n_images=2)
    out = tmp_path / "run"
    with ChatServer(ids=ids, default=OK(delay=0.1)) as srv:
        rc = main(["generate", str(ds), "--model", "openai:test-model", "--base-url", srv.base_url,
                   "--out", str(out), "--concurrency", "3", "--timeout", "5", "--max-retries", "1",
                   "--max-new-tokens", "64", "--temperature", "0.5", "--top-p", "0.8", "--seed", "3"])
    assert rc == 0, capsys.readouterr().err
    assert srv.max_in_flight == 3 and len(srv.requests) == 9
    body = srv.requests[0].body
    assert (body["max_tokens"], body["temperature"], body["top_p"], body["seed"]) == (64, 0.5, 0.8, 3)
    recs = records(out / "predictions.jsonl")
    assert all(recs[s]["llm_output"] == [echo(imgs[s])] for s in imgs)
    assert "9 predictions (9 new, 0 resumed), 0 with an error" in capsys.readouterr().out
    info = run_json(out)
    assert info["backend"]["concurrency"] == 3 and info["backend"]["timeout"] == 5.0
    assert info["backend"]["max_retries"] == 1 and info["generation"]["max_new_tokens"] == 64


def test_ctrl_c_stops_promptly_and_keeps_answers(tmp_path):
    ds, ids, _ = make_dataset(tmp_path, 6, n_images=1)
    script = {s: [Stall(30)] for s in ("s02", "s03", "s04", "s05")}
    timer = threading.Timer(0.8, os.kill, (os.getpid(), signal.SIGINT))
    with ChatServer(script, ids) as srv:
        t0 = time.monotonic()
        timer.start()
        try:
            with pytest.raises(KeyboardInterrupt):
                run_model(ds, "openai:test-model", tmp_path / "run", base_url=srv.base_url, concurrency=6,
                          timeout=60, progress=False)
        finally:
            timer.cancel()
        stopped = time.monotonic() - t0
    assert stopped < 3, stopped
    assert not [t for t in threading.enumerate() if t.name == "pet2rep-openai"]
    assert set(records(tmp_path / "run" / "predictions.jsonl")) == {"s00", "s01"}
    assert run_json(tmp_path / "run")["status"] == "interrupted"
    assert len(srv.requests) == 6


@pytest.mark.parametrize("name,env", [("gpt-4o", "OPENAI_API_KEY"), ("gemini-2.5-pro", "GEMINI_API_KEY"),
                                      ("qwen-vl-max", "DASHSCOPE_API_KEY"), ("moonshot-v1-vision", "MOONSHOT_API_KEY")])
def test_packaged_api_cards(name, env, monkeypatch):
    card = load_card(name)
    assert card["backend"] == "openai" and card["paper"] is True and card["api_key_env"] == env
    assert card["base_url"].startswith("https://") and "\n" not in card["description"]
    assert load_card(f"openai:{name}")["model"] == card["model"]
    monkeypatch.delenv(env, raising=False)
    with pytest.raises(BackendError, match=f"the API key variable {env} is not set"):
        load_backend(name)
    monkeypatch.setenv(env, KEY)
    with load_backend(name) as backend:
        info = backend.describe()
    assert info["base_url"] == card["base_url"] and info["model"] == card["model"] and KEY not in json.dumps(info)
    assert info["endpoint"] == card["base_url"].rstrip("/") + "/chat/completions"


# --------------------------------------------------------------------------------------------------
# the helpers


def test_retry_after_backoff_and_error_messages():
    assert http.parse_retry_after("2") == 2.0 and http.parse_retry_after(" 1.5 ") == 1.5
    now = time.time()
    assert http.parse_retry_after(formatdate(now + 30, usegmt=True), now=now) == pytest.approx(30, abs=1)
    assert http.parse_retry_after(formatdate(now - 30, usegmt=True), now=now) == 0.0
    assert http.parse_retry_after("86400") == http.RETRY_AFTER_CAP_S  # capped
    assert http.parse_retry_after("-5") == 0.0
    assert http.parse_retry_after("soon") is None and http.parse_retry_after(None) is None
    delays = [http.backoff_delay(k, base=1.0, cap=8.0) for k in (1, 2, 3, 4, 5, 6) for _ in range(50)]
    assert all(0 <= d <= 8.0 for d in delays) and max(delays) > 4.0
    assert all(http.backoff_delay(1, base=1.0) <= 1.0 for _ in range(50))
    assert http.retry_delay(3, 7.0) == 7.0
    assert [http.retryable_status(s) for s in (400, 401, 404, 408, 409, 429, 500, 503)] == \
        [False, False, False, True, True, True, True, True]
    assert http.error_message(b'{"error": {"message": "bad\\nthing", "type": "x"}}') == "bad thing"
    assert http.error_message(b'[{"error": {"code": 400, "message": "gemini says no"}}]') == "gemini says no"
    assert http.error_message(b"<html>Bad Gateway</html>") == "<html>Bad Gateway</html>"
    assert http.scrub("key sk-abc123 and sk-abc123", ["sk-abc123"]) == "key *** and ***"


def test_rate_limiter_spacing():
    async def starts() -> list[float]:
        lim = http.RateLimiter(600)  # one every 0.1 s
        out = []

        async def one():
            await lim.acquire()
            out.append(time.monotonic())

        await asyncio.gather(*(one() for _ in range(5)))
        return sorted(out)

    gaps = np.diff(asyncio.run(starts()))
    assert gaps.min() >= 0.1 - 0.01
