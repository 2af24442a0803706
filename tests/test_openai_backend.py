"""The `openai` backend over real HTTP on loopback (tests/chat_server.py): retries, limits, secrets, images."""

from __future__ import annotations

import asyncio
import hashlib
import io
import json
import os
import signal
import socket
import ssl
import threading
import time
from email.utils import formatdate
from pathlib import Path

import numpy as np
import pytest
from chat_server import OK, ChatServer, EchoAuth, GoDown, Malformed, Stall, Status, parts_of, sha
from PIL import Image

from pet2rep.backends import http
from pet2rep.backends.base import BackendError, GenerationConfig, load_backend, load_card
from pet2rep.backends.openai_api import OpenAIBackend, connect_reason
from pet2rep.cli import main
from pet2rep.prompts.build import make_record
from pet2rep.prompts.dataset import read_dataset, write_dataset
from pet2rep.prompts.messages import ImagePart, build_messages
from pet2rep.runs import read_prediction_records, run_model, to_request

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
    return {r["subject_id"]: r for r in read_prediction_records(pred)}


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
    assert "wrote" in captured.out  # the summary line was printed (progress bars only draw on a terminal)
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
# circuit breaker: an endpoint that is down, or a key it rejects, stops the run at once and records nothing


def free_port() -> int:
    """A loopback port nobody listens on (connections to it are refused)."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def error_lines(err: str) -> list[str]:
    """The CLI's own stderr lines (the rest is the progress bar)."""
    return [ln for ln in err.splitlines() if ln.startswith("pet2rep generate:")]


def openai_threads() -> list[threading.Thread]:
    return [t for t in threading.enumerate() if t.name == "pet2rep-openai"]


STOPPED = "(the run stopped; nothing was recorded for those studies)"


def test_unreachable_server_stops_the_run_then_the_same_command_does_every_study(tmp_path, capsys):
    ds, ids, imgs = make_dataset(tmp_path, 10, n_images=1)
    port = free_port()
    url = f"http://127.0.0.1:{port}/v1"
    out = tmp_path / "run"
    cmd = ["generate", str(ds), "--model", "openai:test-model", "--base-url", url, "--out", str(out),
           "--concurrency", "4", "--max-retries", "2"]
    t0 = time.monotonic()
    assert main(cmd) == 2
    elapsed = time.monotonic() - t0
    err = capsys.readouterr().err
    assert error_lines(err) == [f"pet2rep generate: error: openai: cannot reach {url} (connection refused) — "
                                f"4 studies in a row, none answered; is the server up? {STOPPED}"]
    assert err.rstrip("\n").splitlines()[-1] == error_lines(err)[0]
    assert elapsed < 20, elapsed  # K = max(3, concurrency) = 4 studies of 3 quick refusals each
    assert not openai_threads()
    assert (out / "predictions.jsonl").read_text() == ""  # no failure records to clear
    info = run_json(out)
    assert info["status"] == "failed" and "cannot reach" in info["failure"] and "connection refused" in info["failure"]
    assert info["n_predictions"] == 0 and info["backend"]["fail_fast_after"] == 4
    # the server comes up on that port: the very same command (no --retry-errors) does every study
    with ChatServer(ids=ids, port=port) as srv:
        assert main(cmd) == 0
    assert "10 predictions (10 new, 0 resumed), 0 with an error" in capsys.readouterr().out
    recs = records(out / "predictions.jsonl")
    assert len(recs) == 10 and all(recs[s]["error"] is None and recs[s]["llm_output"] == [echo(imgs[s])] for s in imgs)
    assert len(srv.requests) == 10 and run_json(out)["status"] == "complete"


@pytest.mark.parametrize("code,env", [(401, None), (403, "PET2REP_TEST_KEY")])
def test_rejected_key_stops_the_run_and_cancels_requests_in_flight(tmp_path, capsys, monkeypatch, code, env):
    ds, ids, _ = make_dataset(tmp_path, 8, n_images=1)
    out = tmp_path / "run"
    script = {"s00": [Stall(30)], "s01": [Stall(30)]}  # in flight when the breaker trips
    with ChatServer(script, ids, default=EchoAuth(code)) as srv:
        model = "openai:test-model"
        if env:  # a card naming its own key variable
            monkeypatch.delenv("OPENAI_API_KEY")
            monkeypatch.setenv(env, KEY)
            model = str(tmp_path / "card.yaml")
            Path(model).write_text(f"name: test-model\nbackend: openai\nmodel: test-model\napi_key_env: {env}\n",
                                   encoding="utf-8")
        t0 = time.monotonic()
        rc = main(["generate", str(ds), "--model", model, "--base-url", srv.base_url, "--out", str(out),
                   "--concurrency", "4", "--max-retries", "2"])
        elapsed = time.monotonic() - t0
    assert rc == 2
    captured = capsys.readouterr()
    var = env or "OPENAI_API_KEY"
    assert error_lines(captured.err) == [
        f"pet2rep generate: error: openai: the API rejected the key in ${var} (HTTP {code}: Incorrect API key "
        "provided in header 'Authorization: Bearer ***') — 4 studies in a row, none answered; is the key valid, "
        f"and allowed to use model 'test-model'? {STOPPED}"]
    assert elapsed < 3, elapsed  # the two stalled requests (30 s) were cancelled
    assert not openai_threads()
    assert len(srv.of("s00")) == len(srv.of("s01")) == 1
    assert all(r.action == "EchoAuth" for r in srv.requests if r.study not in script)
    assert 4 <= len(srv.requests) <= 8  # each rejected study asked once (not retried), then the run stopped
    assert (out / "predictions.jsonl").read_text() == ""
    info = run_json(out)
    assert info["status"] == "failed" and f"HTTP {code}" in info["failure"] and var in info["failure"]
    assert KEY not in captured.err and KEY not in captured.out
    for f in out.rglob("*"):
        assert KEY.encode() not in f.read_bytes(), f


def test_no_trip_once_a_study_was_answered(tmp_path, capsys):
    """The first study is answered, then the server goes away: per-study connection failures, as before."""
    ds, ids, imgs = make_dataset(tmp_path, 5, n_images=1)
    out = tmp_path / "run"
    with ChatServer({"s00": [GoDown()]}, ids) as srv:
        rc = main(["generate", str(ds), "--model", "openai:test-model", "--base-url", srv.base_url,
                   "--out", str(out), "--concurrency", "1", "--max-retries", "1"])  # K = 3 < 4 failures
    assert rc == 1, capsys.readouterr().err
    assert len(srv.requests) == 1
    recs = records(out / "predictions.jsonl")
    assert recs["s00"]["error"] is None and recs["s00"]["llm_output"] == [echo(imgs["s00"])]
    for sid in ("s01", "s02", "s03", "s04"):
        assert recs[sid]["error"] == "connection error after 2 attempts: ConnectError: All connection attempts failed"
    info = run_json(out)
    assert info["status"] == "complete" and info["n_errors"] == 4


@pytest.mark.parametrize("after", [0, 2])
def test_fail_fast_after_in_a_card(tmp_path, capsys, after):
    ds, _, _ = make_dataset(tmp_path, 6, n_images=1)
    url = f"http://127.0.0.1:{free_port()}/v1"
    card = tmp_path / "card.yaml"
    card.write_text(f"name: local\nbackend: openai\nmodel: m\nbase_url: {url}\napi_key_env: none\n"
                    f"fail_fast_after: {after}\n", encoding="utf-8")
    out = tmp_path / "run"
    rc = main(["generate", str(ds), "--model", str(card), "--out", str(out), "--max-retries", "1"])
    recs = records(out / "predictions.jsonl")
    info = run_json(out)
    assert info["backend"]["fail_fast_after"] == after
    if after == 0:  # off: every study fails on its own, and the run completes
        assert rc == 1 and len(recs) == 6 and info["status"] == "complete"
        assert all(r["error"].startswith("connection error after 2 attempts") for r in recs.values())
    else:
        assert rc == 2 and recs == {} and info["status"] == "failed"
        assert error_lines(capsys.readouterr().err)[0].endswith(
            f"(connection refused) — 2 studies in a row, none answered; is the server up? {STOPPED}")
    with pytest.raises(BackendError, match="fail_fast_after -1: must be >= 0"):
        OpenAIBackend({"name": "x", "backend": "openai", "model": "m", "base_url": url, "fail_fast_after": -1})


def test_breaker_counts_studies_in_a_row(tmp_path):
    """A failure of another kind breaks the row (those held are recorded); a study never sent does not count."""
    ds, ids, _ = make_dataset(tmp_path, 7, n_images=1)
    (tmp_path / "ds" / "slice_prompt" / "s02_90_coronal.jpg").write_text("not an image")
    script = {"s00": [Status(401, "bad key")], "s01": [Status(400, "context too long")]}
    with ChatServer(script, ids, default=Status(401, "bad key")) as srv:
        with pytest.raises(BackendError) as err:
            run_model(ds, "openai:test-model", tmp_path / "run", base_url=srv.base_url, concurrency=1,
                      progress=False)
    assert str(err.value).startswith("openai: the API rejected the key in $OPENAI_API_KEY (HTTP 401: bad key) — "
                                     "3 studies in a row")
    recs = records(tmp_path / "run" / "predictions.jsonl")
    assert {s: r["error"] for s, r in recs.items()} == {
        "s00": "HTTP 401: bad key (not retried)", "s01": "HTTP 400: context too long (not retried)",
        "s02": recs["s02"]["error"]}
    assert "cannot send the images" in recs["s02"]["error"]
    assert [r.study for r in srv.requests] == ["s00", "s01", "s03", "s04", "s05"]  # s06 never asked


def test_connect_reasons():
    def chained(exc: BaseException) -> BaseException:
        try:
            try:
                raise exc
            except BaseException as inner:
                raise OSError("All connection attempts failed") from inner
        except OSError as outer:
            return outer

    assert connect_reason(chained(ConnectionRefusedError(111, "Connect call failed"))) == "connection refused"
    assert connect_reason(socket.gaierror(-2, "Name or service not known")) == \
        "DNS lookup failed: Name or service not known"
    cert = ssl.SSLCertVerificationError(1, "certificate verify failed")
    cert.verify_message = "self-signed certificate"
    assert connect_reason(chained(cert)) == "TLS error: self-signed certificate"
    assert connect_reason(OSError(113, "No route to host")) == "no route to host"
    assert connect_reason(ValueError("odd")) == "ValueError: odd"


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
