"""`pet2rep plots`: the paper's figures from real scored runs (the demo pipeline on a few synthetic studies)."""

from __future__ import annotations

import json
import shutil
import xml.etree.ElementTree as ET

import numpy as np
import pytest

pytest.importorskip("matplotlib")

from PIL import Image  # noqa: E402

from pet2rep.cli import main  # noqa: E402
from pet2rep.demo import run_demo  # noqa: E402
from pet2rep.organs import ORGANS  # noqa: E402
from pet2rep.publish import plots  # noqa: E402
from pet2rep.publish.results import load_runs  # noqa: E402


def _clone(src, dst, *, card=None, metrics=None):
    """A copy of a real run folder under another name, its card and metrics.json edited."""
    shutil.copytree(src, dst)
    info = json.loads((dst / "run.json").read_text(encoding="utf-8"))
    info["model"] = dst.name
    info["card"] = {**info["card"], "name": dst.name, **(card or {})}
    (dst / "run.json").write_text(json.dumps(info), encoding="utf-8")
    m = json.loads((dst / "metrics.json").read_text(encoding="utf-8"))
    m.pop("model", None)
    m.update(metrics or {})
    (dst / "metrics.json").write_text(json.dumps(m), encoding="utf-8")


@pytest.fixture(scope="module")
def demo(tmp_path_factory):
    """template + oracle scored on 3 synthetic studies, plus two "sized" models cloned from them."""
    out = tmp_path_factory.mktemp("plots-demo")
    run_demo(out, n=3, progress=False)
    runs = out / "runs"
    _clone(runs / "template", runs / "small-7b", card={"backend": "hf", "params_b": 8.29},
           metrics={"overall": 30.0})
    _clone(runs / "oracle", runs / "big-72b", card={"backend": "hf", "size": "72B"}, metrics={"overall": 20.0})
    return out


def test_figures_written_as_png_and_svg(demo, tmp_path, capsys):
    out = tmp_path / "fig"
    assert main(["plots", str(demo / "runs"), "--out", str(out)]) == 0
    names = sorted(p.name for p in out.iterdir())
    assert names == sorted(f"{n}.{f}" for n in plots.PLOTS for f in ("png", "svg"))
    for name in plots.PLOTS:
        with Image.open(out / f"{name}.png") as im:
            assert im.width > 300 and im.height > 200
        root = ET.parse(out / f"{name}.svg").getroot()
        assert root.tag.endswith("svg")
    # the model names are drawn as text in the SVG (matplotlib writes text as glyph paths with a comment)
    assert "small-7b" in (out / "metrics.svg").read_text(encoding="utf-8")
    assert "wrote" in capsys.readouterr().out


def test_bars_cells_boxes_counts(demo):
    runs = load_runs(demo / "runs")
    labels = [r.label for r in runs]
    assert set(labels) == {"template", "oracle", "small-7b", "big-72b"}
    fig = plots.metric_bars(runs)
    assert len(fig.axes) == len(plots.BAR_METRICS) + 1
    keys = [k for k, _ in plots.BAR_METRICS] + ["overall"]
    for ax, key in zip(fig.axes, keys):
        bars = [c for c in ax.containers if type(c).__name__ == "BarContainer"]
        assert len(bars) == 1 and len(bars[0]) == 4  # one bar per model
        assert [p.get_width() for p in bars[0]] == pytest.approx([r.metrics[key] for r in runs]), key

    heat = plots.organ_heatmap(runs)
    grid = heat.axes[0].images[0].get_array()
    assert grid.shape == (len(ORGANS), 4)
    j = labels.index("oracle")
    assert np.all(grid[:, j].filled(np.nan)[~grid[:, j].mask] == 1.0)

    size = plots.overall_vs_size(runs)
    pts = size.axes[0].lines[0].get_xydata()  # the error-bar markers: one per sized model
    assert sorted(map(tuple, pts)) == [(8.29, 30.0), (72.0, 20.0)]

    fail = plots.failure_stack(runs)
    modes, counts = plots.failure_counts(runs)
    stacks = [c for c in fail.axes[0].containers if type(c).__name__ == "BarContainer"]
    assert len(stacks) == len(modes) and all(len(c) == 4 for c in stacks)

    box = plots.length_boxes(runs)
    assert len(box.axes[0].get_xticklabels()) == 5 and box.axes[0].get_xticklabels()[-1].get_text() == "reference"
    lab, data = plots.report_lengths(runs)
    assert len(data[-1]) == 3  # one reference length per study, not per run
    assert sorted(data[lab.index("oracle")]) == sorted(data[-1])  # the oracle answers with the references


def test_one_run_no_crash_and_no_size_is_a_warning(demo, tmp_path, capsys):
    runs = tmp_path / "runs"
    shutil.copytree(demo / "runs" / "template", runs / "template")
    assert main(["plots", str(runs), "--out", str(tmp_path / "fig")]) == 0
    err = capsys.readouterr().err
    assert "overall_vs_size: no model card gives a size" in err
    assert (tmp_path / "fig" / "metrics.png").is_file() and not (tmp_path / "fig" / "overall_vs_size.png").exists()


def test_runs_of_different_sizes_are_warned_as_the_leaderboard_does(demo, tmp_path, capsys):
    runs = tmp_path / "runs"
    shutil.copytree(demo / "runs" / "template", runs / "template")
    _clone(demo / "runs" / "oracle", runs / "other", metrics={"n": 2})
    assert main(["plots", str(runs), "--out", str(tmp_path / "fig"), "--format", "svg"]) == 0
    err = capsys.readouterr().err.splitlines()
    warn = [ln for ln in err if "different numbers of studies" in ln]
    assert len(warn) == 1 and "template: 3" in warn[0] and "other: 2" in warn[0]
    assert main(["leaderboard", str(runs), "--format", "md"]) == 0
    assert any("different numbers of studies" in ln for ln in capsys.readouterr().err.splitlines())
    assert sorted(p.suffix for p in (tmp_path / "fig").iterdir()) == [".svg"] * 4


def test_zero_ce_and_no_intervals(demo, tmp_path):
    runs = tmp_path / "runs"
    zero = {k: 0.0 for k in ("ce_precision", "ce_recall", "ce_f1")}
    po = {o: {"precision": 0.0, "recall": 0.0, "f1": 0.0, "tp": 0, "fp": 2, "fn": 1, "support": 1} for o in ORGANS}
    _clone(demo / "runs" / "template", runs / "zero", metrics={**zero, "per_organ": po, "ci": {}})
    written = plots.write_plots(runs, tmp_path / "fig")
    assert set(written) == {"metrics", "organ_f1", "failures", "lengths"}
    r = load_runs(runs)
    grid = plots.organ_heatmap(r).axes[0].images[0].get_array()
    assert float(grid.max()) == 0.0 and not np.ma.is_masked(grid)
    axes = plots.metric_bars(r).axes
    ce = [[p.get_width() for c in ax.containers if type(c).__name__ == "BarContainer" for p in c] for ax in axes[3:6]]
    assert ce == [[0.0], [0.0], [0.0]]


def test_bad_input_one_line(tmp_path, capsys):
    assert main(["plots", str(tmp_path / "nope"), "--out", str(tmp_path / "o")]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "no such folder" in err[0]
    (tmp_path / "runs" / "a").mkdir(parents=True)
    assert main(["plots", str(tmp_path / "runs"), "--out", str(tmp_path / "o"), "--format", "gif"]) == 2
    assert "--format 'gif'" in capsys.readouterr().err
    assert main(["plots", str(tmp_path / "runs"), "--out", str(tmp_path / "o")]) == 2
    assert "no scored runs" in capsys.readouterr().err
