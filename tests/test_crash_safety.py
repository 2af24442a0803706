"""Crash safety of `pet2rep generate`: SIGKILL at random moments, 20 times, then resume.

The backend is a registered test backend run by the real CLI in a child process (a model whose answers
depend only on the study, so an uninterrupted run is the reference). Its answers are large (~60 kB each) and
arrive in bursts, so kills land during writes as well as between them.
"""

from __future__ import annotations

import json
import os
import random
import signal
import subprocess
import sys
import time

from pet2rep.prompts.build import make_record
from pet2rep.prompts.dataset import write_dataset
from pet2rep.runs import read_prediction_records

RUNNER = '''
import hashlib, sys, time
from pet2rep.backends import base
from pet2rep.backends.base import Backend, Generation

class Bursty(Backend):
    """Answers depend on the study id only; big texts, in bursts of 3 with pauses."""
    needs_images = False
    def generate(self, reqs):
        for i, r in enumerate(reqs):
            if i % 3 == 0:
                time.sleep(0.08)
            seed = hashlib.sha256(r.id.encode()).hexdigest()
            text = ("报告 " + r.id + " " + seed) * 700
            yield Generation(r.id, text, prompt_tokens=len(r.id), completion_tokens=len(text))

sys.modules["burstymod"] = sys.modules[__name__]
base.BACKENDS["bursty"] = "burstymod:Bursty"
from pet2rep.cli import main
sys.exit(main(sys.argv[1:]))
'''

STABLE = ("subject_id", "llm_output", "ground_truth", "model", "lang", "finish_reason", "error", "prompt_tokens",
          "completion_tokens")


def _stable(path):
    return [{k: r.get(k) for k in STABLE} for r in read_prediction_records(path)]


def test_sigkill_twenty_times_then_resume_equals_an_uninterrupted_run(tmp_path):
    n = 60
    ds = write_dataset([make_record(f"s{i:03d}", ["a.jpg"], "zh", f"参考{i}") for i in range(n)], tmp_path / "ds")
    runner = tmp_path / "runner.py"
    runner.write_text(RUNNER)
    card = tmp_path / "bursty.yaml"
    card.write_text("name: bursty\nbackend: bursty\n")
    env = {**os.environ, "PYTHONUNBUFFERED": "1"}

    def argv(out):
        return [sys.executable, str(runner), "generate", str(ds), "--model", str(card), "--out", str(out)]

    ref = tmp_path / "reference"
    subprocess.run(argv(ref), check=True, capture_output=True, env=env, timeout=120)

    run = tmp_path / "run"
    pred = run / "predictions.jsonl"
    rng = random.Random(7)
    kills = mid_run = 0
    while mid_run < 20 and kills < 60:  # 20 kills that land while the run is writing
        before = pred.read_bytes().count(b"\n") if pred.exists() else 0
        if before >= n:  # finished before we could kill it: start over so every kill lands mid-run
            pred.unlink()
            before = 0
        proc = subprocess.Popen(argv(run), stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, env=env)
        # wait for the first new record (the run is going), then a random moment (mid-write included)
        deadline = time.time() + 30
        while time.time() < deadline and (not pred.exists() or pred.read_bytes().count(b"\n") <= before):
            time.sleep(0.002)
        time.sleep(rng.uniform(0.0, 0.25))
        proc.send_signal(signal.SIGKILL)
        proc.wait(timeout=30)
        kills += 1
        # every complete line is one valid record of a distinct study; at most the last line is torn
        if pred.exists():
            lines = pred.read_bytes().split(b"\n")
            for line in lines[:-1]:
                json.loads(line)
            mid_run += before < len(lines) - 1 < n
    assert mid_run == 20
    res = subprocess.run(argv(run), capture_output=True, text=True, env=env, timeout=120)
    assert res.returncode == 0, res.stderr
    got = _stable(pred)
    assert [r["subject_id"] for r in got] == sorted(r["subject_id"] for r in got)  # each written once, in order
    assert len({r["subject_id"] for r in got}) == n == len(got)
    assert got == _stable(ref / "predictions.jsonl")
    assert pred.read_bytes().endswith(b"\n") and pred.read_bytes().count(b"\n") == n
    assert json.loads((run / "run.json").read_text())["status"] == "complete"
