"""Shared fixtures: the one public PET2Rep case in ../shared/seed-demo."""

from __future__ import annotations

import json
import signal
from pathlib import Path

import pytest

# A shell starts a background job (`cmd &`, `nohup … &` without job control) with Ctrl-C ignored, and the processes
# it starts inherit that: the tests that send SIGINT to pet2rep (in this process or in a child) would then see nothing
# happen. They test pet2rep's handling of Ctrl-C, so the suite runs with Python's own handler wherever it is started.
if signal.getsignal(signal.SIGINT) is signal.SIG_IGN:
    signal.signal(signal.SIGINT, signal.default_int_handler)

REPO = Path(__file__).resolve().parents[1]
SEED_DEMO = next(
    (p for p in (REPO.parent / "shared" / "seed-demo", Path("/work/shared/seed-demo")) if p.exists()),
    REPO.parent / "shared" / "seed-demo",
)
DEMO_JSONL = SEED_DEMO / "prompt_qwen25vl.jsonl"


@pytest.fixture(scope="session")
def seed_demo() -> Path:
    if not DEMO_JSONL.exists():
        pytest.skip(f"seed demo not found at {SEED_DEMO}")
    return SEED_DEMO


@pytest.fixture(scope="session")
def demo_record(seed_demo) -> dict:
    return json.loads(DEMO_JSONL.read_text(encoding="utf-8"))


@pytest.fixture(scope="session")
def tiny_vlm(tmp_path_factory):
    """family -> folder of a tiny random VLM (tests/vlm_factory.py, default settings), built once per session."""
    import vlm_factory as vf

    root = tmp_path_factory.mktemp("tiny_vlms")
    built = {}

    def get(family: str):
        if family not in built:
            built[family] = vf.build_tiny_vlm(family, root / family)
        return built[family]

    return get


CHROMIUM = Path("/usr/bin/chromium")
# Flags that keep Debian's chromium quiet on a machine with a closed network (no background connections).
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]


@pytest.fixture(scope="session")
def browser():
    """A real headless Chromium (Debian's /usr/bin/chromium) driven by Playwright, one per test session.

    Skipped where chromium or playwright is missing, unless PET2REP_REQUIRE_BROWSER=1 (set by .ci/run), in which
    case it fails, so CI never silently drops the browser tests.
    """
    import os

    required = os.environ.get("PET2REP_REQUIRE_BROWSER") == "1"
    try:
        from playwright.sync_api import sync_playwright
    except ImportError:
        if required:
            pytest.fail("playwright is not installed (pip install playwright)")
        pytest.skip("playwright is not installed")
    if not CHROMIUM.exists():
        if required:
            pytest.fail(f"{CHROMIUM} not found (apt-get install chromium)")
        pytest.skip(f"{CHROMIUM} not found")
    with sync_playwright() as pw:
        b = pw.chromium.launch(executable_path=str(CHROMIUM), headless=True, args=CHROMIUM_ARGS)
        try:
            yield b
        finally:
            b.close()


@pytest.fixture
def page(browser):
    """A fresh browser context and page per test (no cookies shared between tests)."""
    context = browser.new_context()
    pg = context.new_page()
    try:
        yield pg
    finally:
        context.close()
