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
