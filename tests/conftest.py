"""Shared fixtures: the one public PET2Rep case in ../shared/seed-demo."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

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
