"""`pet2rep demo --models template,oracle,hf:DIR`: a user's first real model run is the demo with one more name.

The model is a tiny random Qwen2.5-VL folder (tests/vlm_factory.py: real processor, chat template, safetensors),
run on the CPU through the transformers backend; the demo's synthetic studies, views and prompts are real.
"""

from __future__ import annotations

import json
import os

import pytest

os.environ.setdefault("HF_HUB_OFFLINE", "1")
pytest.importorskip("torch")
pytest.importorskip("torchvision")
pytest.importorskip("transformers")

import vlm_factory as vf  # noqa: E402

from pet2rep.cli import main  # noqa: E402


def test_demo_with_an_hf_model(tmp_path, capsys):
    model = vf.build_tiny_vlm("qwen2_5_vl", tmp_path / "tiny-qwen")
    out = tmp_path / "demo"
    code = main(["demo", "--out", str(out), "-n", "3", "--models", f"template,oracle,hf:{model}",
                 "--max-new-tokens", "8", "--batch-size", "2"])
    assert code == 0, capsys.readouterr().err
    board = (out / "leaderboard.md").read_text(encoding="utf-8")
    assert "tiny-qwen" in board and "template" in board and "oracle" in board
    run = out / "runs" / "tiny-qwen"
    recs = [json.loads(x) for x in (run / "predictions.jsonl").read_text(encoding="utf-8").splitlines()]
    assert len(recs) == 3 and all(r["error"] is None and r["completion_tokens"] == 8 for r in recs)
    assert all(r["prompt_tokens"] > 300 for r in recs)  # the zh template and three images
    info = json.loads((run / "run.json").read_text(encoding="utf-8"))
    assert info["backend"]["backend"] == "hf" and info["generation"]["max_new_tokens"] == 8
    metrics = json.loads((run / "metrics.json").read_text(encoding="utf-8"))
    assert metrics["n"] == 3 and metrics["run"]["model"] == "tiny-qwen"
    # the baselines' scores are what they always are: the oracle is perfect, the model is not
    oracle = json.loads((out / "runs" / "oracle" / "metrics.json").read_text(encoding="utf-8"))
    assert oracle["bleu_4"] == pytest.approx(1.0) and metrics["bleu_4"] < 0.5


def test_demo_refuses_an_unknown_spec_before_any_work(tmp_path, capsys):
    assert main(["demo", "--out", str(tmp_path / "d"), "--models", "template,nosuch-model"]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "unknown model 'nosuch-model'" in err[0]
    assert not (tmp_path / "d" / "studies").exists()
