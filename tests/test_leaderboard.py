"""Leaderboard tables from scored run folders."""

from __future__ import annotations

import csv
import io
import json

import pytest

from pet2rep.cli import main
from pet2rep.errors import InputError
from pet2rep.publish.leaderboard import write_leaderboard

PAPER_TEMPLATE = {"bleu_1": 0.5, "bleu_4": 0.315, "meteor": 0.148, "rouge_l": 0.511, "cider": 0.9,
                  "ce_precision": 0.228, "ce_recall": 0.222, "ce_f1": 0.225, "overall": 27.48, "n": 565,
                  "ci": {"overall": [25.0, 30.25]}, "failures": {"counts": {"empty": 0, "refusal": 2}},
                  "ce_states": "all"}


def _write(run_dir, metrics):
    run_dir.mkdir(parents=True)
    (run_dir / "metrics.json").write_text(json.dumps(metrics), encoding="utf-8")


def test_tables_sorted_by_overall(tmp_path):
    runs = tmp_path / "runs"
    _write(runs / "template", PAPER_TEMPLATE)
    _write(runs / "big_vlm", {**PAPER_TEMPLATE, "overall": 12.0, "ci": {}, "failures": {"any": 40}})
    (runs / "unscored").mkdir()
    written = write_leaderboard(runs, tmp_path)
    md = written["md"].read_text(encoding="utf-8").splitlines()
    assert md[0].startswith("| Model | BLEU-1 | BLEU-4 | METEOR | ROUGE-L | CIDEr | CE-P | CE-R | CE-F1 | Overall")
    assert md[2] == "| template | 0.500 | 0.315 | 0.148 | 0.511 | 0.900 | 0.228 | 0.222 | 0.225 | 27.5 [25.0, 30.2] | 565 | 2 |"
    assert md[3].startswith("| big_vlm |") and "| 12.0 | 565 | 40 |" in md[3]
    assert "macro over the four uptake states" in md[-1] and "harmonic mean of CE-P and CE-R" in md[-1]
    rows = list(csv.DictReader(io.StringIO(written["csv"].read_text(encoding="utf-8"))))
    assert [r["model"] for r in rows] == ["template", "big_vlm"] and rows[0]["overall_hi"] == "30.25"
    assert rows[0]["ce_states"] == "all"
    tex = written["tex"].read_text(encoding="utf-8")
    assert "big\\_vlm" in tex and tex.count("\\\\") == 3


def test_cli_and_errors(tmp_path, capsys):
    with pytest.raises(InputError, match="no scored runs"):
        write_leaderboard(tmp_path, tmp_path)
    _write(tmp_path / "runs" / "a", PAPER_TEMPLATE)
    assert main(["leaderboard", str(tmp_path / "runs"), "--format", "md"]) == 0
    assert "| a | 0.500" in capsys.readouterr().out
    assert (tmp_path / "runs" / "leaderboard.md").exists() and not (tmp_path / "runs" / "leaderboard.csv").exists()
    assert main(["leaderboard", str(tmp_path / "runs"), "--format", "xls"]) == 2


def test_mixed_ce_definitions_are_flagged(tmp_path):
    runs = tmp_path / "runs"
    _write(runs / "four", PAPER_TEMPLATE)
    _write(runs / "three", {**PAPER_TEMPLATE, "ce_states": "abnormal", "overall": 20.0})
    # a metrics.json from before the four-state CE: its signature names the three abnormal states
    old = {k: v for k, v in PAPER_TEMPLATE.items() if k != "ce_states"}
    _write(runs / "old", {**old, "overall": 10.0, "signatures": {
        "oua": "oua:macro-over-states-with-support-or-predictions|states:increased,decreased,absent|oua-zh-x"}})
    warns: list[str] = []
    written = write_leaderboard(runs, tmp_path, ("md", "csv"), warn=warns.append)
    note = written["md"].read_text(encoding="utf-8").splitlines()[-1]
    assert "not comparable" in note and "four: macro over the four" in note
    assert "three, old: macro over increased/decreased/absent" in note
    assert any("different CE definitions" in w and "four: all" in w and "old: abnormal" in w for w in warns)
    rows = list(csv.DictReader(io.StringIO(written["csv"].read_text(encoding="utf-8"))))
    assert [r["ce_states"] for r in rows] == ["all", "abnormal", "abnormal"]
