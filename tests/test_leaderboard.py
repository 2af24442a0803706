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
    assert md[2] == "| template | 0.500 | 0.315 | 0.148 | 0.511 | 0.900 | 0.228 | 0.222 | 0.225 | 27.5 [25.0, 30.2] | 2 | 565 | 2 |"
    assert md[3].startswith("| big_vlm |") and "| 12.0 | – | 565 | 40 |" in md[3]  # Refusal (not given), n, Failures
    assert "macro over the four uptake states" in md[-1] and "harmonic mean of CE-P and CE-R" in md[-1]
    rows = list(csv.DictReader(io.StringIO(written["csv"].read_text(encoding="utf-8"))))
    assert [r["model"] for r in rows] == ["template", "big_vlm"] and rows[0]["overall_hi"] == "30.25"
    assert rows[0]["ce_states"] == "all"
    tex = written["tex"].read_text(encoding="utf-8")
    assert "big\\_vlm" in tex and tex.count("\\midrule") == 1 and "\\toprule" in tex and "\\bottomrule" in tex
    body = tex.split("\\midrule")[1].split("\\bottomrule")[0]
    assert body.count("\\\\") == 2  # one line per run


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
    assert any("evaluate's ce_states=all or ce_states=abnormal" in w for w in warns)  # Python terms


def test_mixed_ce_warning_names_evaluate_flag(tmp_path, capsys):
    runs = tmp_path / "runs"
    _write(runs / "four", PAPER_TEMPLATE)
    _write(runs / "three", {**PAPER_TEMPLATE, "ce_states": "abnormal", "overall": 20.0})
    assert main(["leaderboard", str(runs), "--format", "md"]) == 0
    err = capsys.readouterr().err
    assert "evaluate's --ce-states all or --ce-states abnormal" in err and "ce_states=" not in err


# ------------------------------------------------------------------------------------------ paper-ready tables


def _clone(src, dst, *, card=None, tokens=None):
    """A copy of a real scored run under another name, its card (and token counts) edited."""
    import shutil

    shutil.copytree(src, dst)
    info = json.loads((dst / "run.json").read_text(encoding="utf-8"))
    info.update(model=dst.name, card={**info["card"], "name": dst.name, **(card or {})}, studies_per_hour=360.0)
    (dst / "run.json").write_text(json.dumps(info), encoding="utf-8")
    m = json.loads((dst / "metrics.json").read_text(encoding="utf-8"))
    m.pop("model", None)
    (dst / "metrics.json").write_text(json.dumps(m), encoding="utf-8")
    if tokens:
        recs = [json.loads(x) for x in (dst / "predictions.jsonl").read_text(encoding="utf-8").splitlines()]
        for r in recs:
            r["prompt_tokens"], r["completion_tokens"] = tokens
        (dst / "predictions.jsonl").write_text("".join(json.dumps(r) + "\n" for r in recs), encoding="utf-8")


@pytest.fixture(scope="module")
def scored(tmp_path_factory):
    """Real runs on 8 synthetic studies: template, oracle, and a copy of the template with a card size."""
    from pet2rep.demo import run_demo

    out = tmp_path_factory.mktemp("lb-demo")
    run_demo(out, n=8, progress=False)
    _clone(out / "runs" / "template", out / "runs" / "copycat-7b", card={"backend": "hf", "params_b": 8.29},
           tokens=(1500, 640))
    return out / "runs"


def _md_table(md: str) -> tuple[list[str], list[list[str]]]:
    lines = [ln for ln in md.splitlines() if ln.startswith("| ")]
    split = [[c.strip() for c in ln.strip().strip("|").split("|")] for ln in lines]
    return split[0], split[1:]


def test_markdown_and_csv_hold_the_same_numbers(scored, tmp_path):
    written = write_leaderboard(scored, tmp_path, warn=lambda m: None)
    header, rows = _md_table(written["md"].read_text(encoding="utf-8"))
    assert header[-2:] == ["n", "Failures"] and "Size (B)" in header and "Out tok/study" in header
    csv_rows = {r["run"]: r for r in csv.DictReader(io.StringIO(written["csv"].read_text(encoding="utf-8")))}
    assert len(rows) == len(csv_rows) == 3
    cols = {"BLEU-1": ("bleu_1", 3), "BLEU-4": ("bleu_4", 3), "METEOR": ("meteor", 3), "ROUGE-L": ("rouge_l", 3),
            "CIDEr": ("cider", 3), "CE-P": ("ce_precision", 3), "CE-R": ("ce_recall", 3),
            "CE-F1": ("ce_f1", 3), "Overall": ("overall", 1)}
    checked = 0
    for cells in rows:
        name = cells[0].replace(" †", "")
        c = csv_rows[name]
        assert c["model"] == name
        for title, (key, d) in cols.items():
            cell = cells[header.index(title)]
            value, _, ci = cell.partition(" ")
            assert value == f"{float(c[key]):.{d}f}", (name, title)
            lo = c["overall_lo"] if key == "overall" else c[f"{key}_lo"]
            hi = c["overall_hi"] if key == "overall" else c[f"{key}_hi"]
            assert ci == f"[{float(lo):.{d}f}, {float(hi):.{d}f}]", (name, title)  # every metric has its interval
            checked += 1
        assert cells[header.index("n")] == c["n"] == "8"
        assert cells[header.index("Failures")] == c["failures"]
        for title, key, d in (("Size (B)", "size_b", 1), ("Out tok/study", "output_tokens_per_study", 0),
                              ("s/study", "s_per_study", 2)):
            cell = cells[header.index(title)]
            assert cell == (f"{float(c[key]):.{d}f}" if c[key] else "–"), (name, title)
    assert checked == 27
    assert csv_rows["copycat-7b"]["size_b"] == "8.29" and csv_rows["copycat-7b"]["output_tokens_per_study"] == "640.0"
    assert csv_rows["copycat-7b"]["s_per_study"] == "10.0"
    assert all(csv_rows[r]["fail_empty"] == "0" for r in csv_rows)
    m = json.loads((scored / "template" / "metrics.json").read_text(encoding="utf-8"))
    for key in ("bleu_2", "bleu_3"):  # every corpus metric of metrics.json is in the CSV, with its interval
        assert float(csv_rows["template"][key]) == m[key]
        assert [float(csv_rows["template"][f"{key}_{e}"]) for e in ("lo", "hi")] == m["ci"][key]


def test_rows_not_better_than_the_template_are_marked(scored, tmp_path):
    written = write_leaderboard(scored, tmp_path, warn=lambda m: None)
    md = written["md"].read_text(encoding="utf-8")
    header, rows = _md_table(md)
    names = [r[0] for r in rows]
    # the oracle is better on 8 studies (p = 1/256 under approximate randomisation); a copy of the template is not
    assert names == ["oracle", "template", "copycat-7b †"] or names == ["oracle", "copycat-7b †", "template"]
    assert "† not significantly better than the template baseline (template) on Overall: paired approximate " \
           "randomisation (1,000 trials" in md
    c = {r["run"]: r for r in csv.DictReader(io.StringIO(written["csv"].read_text(encoding="utf-8")))}
    assert c["copycat-7b"]["better_than_template"] == "no" and float(c["copycat-7b"]["p_vs_template"]) == 1.0
    assert c["oracle"]["better_than_template"] == "yes" and float(c["oracle"]["p_vs_template"]) < 0.05
    assert c["template"]["template"] == "yes" and c["template"]["p_vs_template"] == ""
    tex = written["tex"].read_text(encoding="utf-8")
    assert r"copycat-7b$^\dagger$ &" in tex and r"\multicolumn{" in tex and "paired approximate randomisation" in tex
    # bootstrap on request, and no test at all
    md_b = write_leaderboard(scored, tmp_path / "b", ("md",), sig_test="bootstrap")["md"].read_text(encoding="utf-8")
    assert "paired bootstrap resampling" in md_b
    md_n = write_leaderboard(scored, tmp_path / "n", ("md",), sig_test=None)["md"].read_text(encoding="utf-8")
    assert "†" not in md_n


def test_latex_booktabs_and_best_value_bold(tmp_path):
    runs = tmp_path / "runs"
    _write(runs / "template", {**PAPER_TEMPLATE, "ci": {"bleu_4": [0.3, 0.33], "overall": [25.0, 30.25]}})
    _write(runs / "a_vlm", {**PAPER_TEMPLATE, "bleu_4": 0.4, "meteor": 0.1, "overall": 26.0, "ci": {}})
    _write(runs / "oracle", {**PAPER_TEMPLATE, "bleu_1": 1.0, "bleu_4": 1.0, "meteor": 1.0, "overall": 100.0})
    tex = write_leaderboard(runs, tmp_path, ("tex",))["tex"].read_text(encoding="utf-8")
    lines = {ln.split(" & ")[0]: ln.split(" & ") for ln in tex.splitlines() if " & " in ln and "multicolumn" not in ln}
    assert [ln for ln in tex.splitlines() if ln.startswith("\\") and "rule" in ln] == \
        ["\\toprule", "\\midrule", "\\bottomrule"]
    t, a, o = lines["template"], lines["a\\_vlm"], lines["oracle"]
    head = lines["Model"]
    col = {h.strip(" \\"): k for k, h in enumerate(head)}
    assert t[col["BLEU-4"]] == r"0.315 {\scriptsize [0.300, 0.330]}" and a[col["BLEU-4"]] == r"\textbf{0.400}"
    assert t[col["METEOR"]] == r"\textbf{0.148}" and a[col["METEOR"]] == "0.100"
    assert t[col["Overall"]].startswith(r"\textbf{27.5}") and a[col["Overall"]] == "26.0"
    assert not any("textbf" in c for c in o)  # the oracle is a check of the scorer, not a contender
    assert t[col["BLEU-1"]] == a[col["BLEU-1"]] == r"\textbf{0.500}"  # a tie: both bold


def test_review_columns_from_a_reader_study_export(tmp_path, capsys):
    runs = tmp_path / "runs"
    _write(runs / "template", PAPER_TEMPLATE)
    _write(runs / "qwen", {**PAPER_TEMPLATE, "overall": 20.0})
    export = tmp_path / "export"
    export.mkdir()
    ratings = {"criteria": ["accuracy", "completeness", "usability"], "models": {
        "qwen": {"accuracy": {"mean": 2.5, "low": 2.125, "high": 2.875, "n": 40},
                 "completeness": {"mean": 3.0, "low": 2.5, "high": 3.5, "n": 40},
                 "usability": {"mean": 1.75, "low": 1.5, "high": 2.0, "n": 40}},
        "gone": {"accuracy": {"mean": 4.0, "low": 3.0, "high": 5.0, "n": 2}}}}
    (export / "model_ratings.json").write_text(json.dumps(ratings), encoding="utf-8")
    assert main(["leaderboard", str(runs), "--out", str(tmp_path / "o"), "--review", str(export)]) == 0
    out, err = capsys.readouterr()
    assert "rated run(s) not among the runs here: gone" in err
    header, rows = _md_table((tmp_path / "o" / "leaderboard.md").read_text(encoding="utf-8"))
    assert header[-5:] == ["Reader accuracy", "Reader completeness", "Reader usability", "n", "Failures"]
    q = next(r for r in rows if r[0] == "qwen")
    t = next(r for r in rows if r[0] == "template")
    assert q[-5:-2] == ["2.50 [2.12, 2.88]", "3.00 [2.50, 3.50]", "1.75 [1.50, 2.00]"]
    assert t[-5:-2] == ["–", "–", "–"]
    c = {r["model"]: r for r in csv.DictReader(io.StringIO((tmp_path / "o" / "leaderboard.csv").read_text()))}
    assert c["qwen"]["review_accuracy_mean"] == "2.5" and c["qwen"]["review_usability_n"] == "40"
    assert c["template"]["review_accuracy_mean"] == ""
    assert "Reader accuracy" in (tmp_path / "o" / "leaderboard.tex").read_text(encoding="utf-8")
    # a missing or malformed file: one line, nothing written
    for content, needle in ((None, "model_ratings.json: no such file"),
                            ('{"criteria": [], "models": {}}', "'criteria' must be a non-empty list"),
                            ('{"criteria": ["accuracy"], "models": {"qwen": {"accuracy": {"mean": "high"}}}}',
                             "models.qwen.accuracy.mean: not a number")):
        bad = tmp_path / f"bad{len(needle)}"
        bad.mkdir()
        if content is not None:
            (bad / "model_ratings.json").write_text(content, encoding="utf-8")
        assert main(["leaderboard", str(runs), "--out", str(tmp_path / "x"), "--review", str(bad)]) == 2
        err = capsys.readouterr().err.strip().splitlines()
        assert len(err) == 1 and needle in err[0], err
        assert not (tmp_path / "x").exists()


def test_notes_say_how_far_ce_can_be_trusted(scored, tmp_path):
    """Runs scored by `evaluate` carry `ce_validation`; the leaderboard's notes quote it once per language (the
    synthetic demo studies are Chinese), before the last line that defines CE; rows without it add no such note."""
    from pet2rep.metrics.clinical import ce_validation

    md = write_leaderboard(scored, tmp_path, warn=lambda m: None)["md"].read_text(encoding="utf-8")
    zh = ce_validation("zh")
    note = [ln for ln in md.splitlines() if "CE rests on the uptake extractor" in ln]
    assert len(note) == 1 and f"zh micro-F1 {zh['first_run_micro_f1']:.3f} over {zh['texts']} texts" in note[0]
    assert "en micro-F1" not in note[0] and "macro over the four uptake states" in md.splitlines()[-1]
    runs = tmp_path / "old"
    _write(runs / "template", PAPER_TEMPLATE)
    assert "CE rests on" not in write_leaderboard(runs, tmp_path / "o")["md"].read_text(encoding="utf-8")
