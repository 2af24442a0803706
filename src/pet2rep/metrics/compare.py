"""`pet2rep compare RUN_A RUN_B`: paired significance tests between two scored runs.

Works from the per-sample sufficient statistics in each run's ``per_sample.jsonl`` (no re-scoring):
paired bootstrap resampling (Koehn 2004) or approximate randomisation, as sacrebleu does. Samples are
matched on ids; ids present in only one run are listed and left out. Two runs scored with different settings
(tokenizer or segmenter, a metric's version, the uptake lexicon of a language both use) are refused: their
numbers do not compare. The CE scores of both runs, their
resamples and their swaps use one CE definition: the one both runs were scored with (their ``metrics.json``),
or ``--ce-states``; ``per_sample.jsonl`` holds the TP/FP/FN of all four states, so either definition can be
applied to any run scored since the four-state CE.
"""

from __future__ import annotations

import json
import math
import os
from pathlib import Path
from typing import Any

import numpy as np

from pet2rep.errors import InputError, short
from pet2rep.metrics.registry import METRICS

PER_SAMPLE = "per_sample.jsonl"


def find_per_sample(run: str | os.PathLike) -> Path:
    """DIR/per_sample.jsonl, DIR/eval/per_sample.jsonl, or the file itself."""
    p = Path(run)
    if p.is_file():
        return p
    for cand in (p / PER_SAMPLE, p / "eval" / PER_SAMPLE):
        if cand.is_file():
            return cand
    if not p.exists():
        raise InputError(f"{p}: no such run directory")
    raise InputError(f"{p}: no {PER_SAMPLE} (looked in {p} and {p / 'eval'}); run 'pet2rep evaluate' first")


def scored_ce_states(run: str | os.PathLike) -> str | None:
    """The CE definition a run was scored with, from the metrics.json beside its per_sample.jsonl (None if
    that file is missing or does not say)."""
    mpath = find_per_sample(run).with_name("metrics.json")
    try:
        m = json.loads(mpath.read_text(encoding="utf-8"))
    except (OSError, ValueError, RecursionError):
        return None
    if not isinstance(m, dict):
        return None
    if isinstance(m.get("ce_states"), str):
        return m["ce_states"]
    sig = str((m.get("signatures") or {}).get("oua", "")) if isinstance(m.get("signatures"), dict) else ""
    return "abnormal" if "states:increased,decreased,absent|" in sig else None  # scored before four states


# metrics.json signatures that must agree between two compared runs (the OUA one: its lexicons, per language)
SAME_SIGNATURES = ("tokenizer", *(name for name, m in METRICS.items() if m.same_signature))


def scored_signatures(run: str | os.PathLike, warn: Any = None) -> dict[str, str] | None:
    """The metric signatures a run was scored with (its metrics.json); None when the file or key is missing (an
    unreadable file is named through `warn`)."""
    mpath = find_per_sample(run).with_name("metrics.json")
    if not mpath.exists():
        return None
    try:
        m = json.loads(mpath.read_text(encoding="utf-8"))
    except (OSError, ValueError, RecursionError) as exc:
        if warn is not None:
            reason = "nested too deeply" if isinstance(exc, RecursionError) else type(exc).__name__
            warn(f"warning: {mpath}: unreadable ({reason}); the two runs' scoring settings were not compared")
        return None
    sigs = m.get("signatures") if isinstance(m, dict) else None
    if not isinstance(sigs, dict):
        return None
    return {str(k): str(v) for k, v in sigs.items()}


def _lexicons(oua_signature: str) -> dict[str, str]:
    """language -> uptake lexicon signature, from an OUA signature ``CE...|oua-zh-...+oua-en-...``."""
    out = {}
    for part in oua_signature.rsplit("|", 1)[-1].split("+"):
        bits = part.split("-")
        if len(bits) > 2 and bits[0] == "oua":
            out[bits[1]] = part
    return out


def check_same_settings(run_a: str | os.PathLike, run_b: str | os.PathLike, warn: Any = None) -> None:
    """One-line InputError when the two runs were scored with settings that make their numbers incomparable."""
    sa, sb = scored_signatures(run_a, warn), scored_signatures(run_b, warn)
    if sa is None or sb is None:
        return  # scored by an older pet2rep, or metrics.json moved away: nothing to check against
    hint = "score both with the same pet2rep and options ('pet2rep evaluate' again) before comparing"
    for key in SAME_SIGNATURES:
        if key in sa and key in sb and sa[key] != sb[key]:
            raise InputError(f"{run_a} and {run_b} were scored with different {key} settings "
                             f"({sa[key]!r} vs {sb[key]!r}); {hint}")
    la, lb = _lexicons(sa.get("oua", "")), _lexicons(sb.get("oua", ""))
    if la and lb:
        shared = sorted(set(la) & set(lb))
        if not shared:
            raise InputError(f"{run_a} and {run_b} were scored for different languages (uptake lexicons "
                             f"{'+'.join(la.values())} vs {'+'.join(lb.values())}); {hint}")
        for lang in shared:
            if la[lang] != lb[lang]:
                raise InputError(f"{run_a} and {run_b} were scored with different uptake lexicons for {lang} "
                                 f"({la[lang]} vs {lb[lang]}); {hint}")


def load_run(run: str | os.PathLike, ce_states: str = "all"):
    """Read a run's per-sample statistics into a :class:`~pet2rep.metrics.stats.SampleStats` whose CE scores
    follow the definition `ce_states` ("all" or "abnormal")."""
    from pet2rep.metrics.clinical import ce_definition
    from pet2rep.metrics.predictions import read_lines
    from pet2rep.metrics.stats import SampleStats

    try:
        ce_definition(ce_states)
    except ValueError as exc:
        raise InputError(str(exc)) from None
    path = find_per_sample(run)
    metrics = list(METRICS.values())
    ids: list[str] = []
    rows: dict[str, list[list[float]]] = {m.name: [] for m in metrics}
    for lineno, line in read_lines(path):
        if not line.strip():
            continue
        try:
            r = json.loads(line)
            if isinstance(r, dict) and "stats" not in r and ("llm_output" in r or "prompt_user_text" in r):
                what = "a predictions file" if "llm_output" in r else "a prompt dataset"
                raise InputError(f"{path}:{lineno}: this is {what}, not a per_sample.jsonl; run 'pet2rep evaluate' "
                                 "on the predictions and compare the folders it writes")
            st = r["stats"]
            if "normal" not in st["oua"]:
                if ce_states != "abnormal":
                    raise InputError(f"{path}:{lineno}: per-sample statistics without 'normal' counts (scored before "
                                     "the four-state CE); run 'pet2rep evaluate' again, or compare with "
                                     "ce_states=abnormal")
                st["oua"]["normal"] = [0, 0, 0]  # not read by the abnormal definition
            got = {m.name: m.from_record(r, _check) for m in metrics}
            ids.append(str(r["id"]))
            for name, row in got.items():
                rows[name].append(row)
        except InputError:
            raise
        except json.JSONDecodeError as exc:
            raise InputError(f"{path}:{lineno}: invalid JSON ({exc.msg} at column {exc.colno})") from None
        except RecursionError:
            raise InputError(f"{path}:{lineno}: JSON nested too deeply (not a per-sample record)") from None
        except KeyError as exc:
            raise InputError(f"{path}:{lineno}: not a pet2rep per-sample record (missing field {exc})") from None
        except (TypeError, ValueError) as exc:
            raise InputError(f"{path}:{lineno}: not a pet2rep per-sample record ({type(exc).__name__}: {exc})") from None
    if not ids:
        raise InputError(f"{path}: no per-sample records (the file is empty)")
    if any(len({len(x) for x in v}) > 1 for v in rows.values()):
        raise InputError(f"{path}: per-sample statistics have inconsistent lengths")
    if len(set(ids)) != len(ids):
        raise InputError(f"{path}: duplicate sample ids")
    s = SampleStats(ids, ce_states=ce_states,
                    stats={k: np.asarray(v, dtype=np.float64).reshape(len(ids), -1) for k, v in rows.items()})
    s.extra["path"] = str(path)
    return s


def _check(value: Any, what: str) -> float:
    """A per-sample statistic (counts of the uptake states must be whole numbers)."""
    return _stat(value, what, whole=what == "an uptake count")


def _stat(value: Any, what: str, whole: bool = False) -> float:
    """A per-sample statistic: a finite number >= 0 (a whole one for counts); else ValueError naming it."""
    ok = isinstance(value, (int, float)) and not isinstance(value, bool) and math.isfinite(value) and value >= 0
    if not ok or (whole and value != int(value)):
        raise ValueError(f"{what} is {short(json.dumps(value))}, expected a {'whole ' if whole else ''}number >= 0")
    return float(value)


def resolve_ce_states(run_a: str | os.PathLike, run_b: str | os.PathLike, ce_states: str | None = None) -> str:
    """`ce_states` if given; else the CE definition both runs were scored with ("all" when unknown)."""
    if ce_states is not None:
        return ce_states
    sa, sb = scored_ce_states(run_a), scored_ce_states(run_b)
    if sa is not None and sb is not None and sa != sb:
        raise InputError(f"{run_a} was scored with --ce-states {sa} and {run_b} with --ce-states {sb}; pass "
                         "--ce-states to compare both under one CE definition")
    return sa or sb or "all"


def compare_runs(run_a: str | os.PathLike, run_b: str | os.PathLike, *, test: str = "bootstrap",
                 n: int = 1000, seed: int = 12345, ce_states: str | None = None, warn: Any = None) -> dict[str, Any]:
    """Paired test of run B against run A on their shared ids, CE under `ce_states` (default: as scored)."""
    from pet2rep.metrics.clinical import ce_signature
    from pet2rep.metrics.stats import paired_test

    ce = resolve_ce_states(run_a, run_b, ce_states)
    check_same_settings(run_a, run_b, warn)
    a, b = load_run(run_a, ce), load_run(run_b, ce)
    in_b = set(b.ids)
    in_a = set(a.ids)
    shared = [i for i in a.ids if i in in_b]
    only_a = [i for i in a.ids if i not in in_b]
    only_b = [i for i in b.ids if i not in in_a]
    if not shared:
        raise InputError(f"{a.extra['path']} and {b.extra['path']} share no sample ids")
    pos_a = {x: k for k, x in enumerate(a.ids)}
    pos_b = {x: k for k, x in enumerate(b.ids)}
    aa = a.take([pos_a[x] for x in shared])
    bb = b.take([pos_b[x] for x in shared])
    res = paired_test(aa, bb, test=test, n=n, seed=seed)
    return {
        "a": a.extra["path"], "b": b.extra["path"], "test": test, "n": n, "seed": seed,
        "n_shared": len(shared), "only_a": only_a, "only_b": only_b, "ce_states": ce,
        "ce_signature": ce_signature(ce),
        "signature": (f"paired-{test}|trials:{n}|seed:{seed}|p=(count(stat>=observed)+1)/(trials+1)"
                      "|cider:per-sample-scores-df-fixed"),
        "metrics": res,
    }


def format_table(result: dict[str, Any]) -> str:
    """Plain-text table: metric, A, B, delta, 95% CI of delta, p."""
    lines = [f"A: {result['a']}", f"B: {result['b']}",
             f"test: {result['test']} ({result['n']} trials, seed {result['seed']}), {result['n_shared']} shared samples",
             f"{'metric':<14}{'A':>10}{'B':>10}{'delta':>10}   {'95% CI of delta':<22}{'p':>8}", "-" * 76]
    for k, r in result["metrics"].items():
        ci = f"[{r['ci'][0]:+.4f}, {r['ci'][1]:+.4f}]"
        lines.append(f"{k:<14}{r['a']:>10.4f}{r['b']:>10.4f}{r['delta']:>+10.4f}   {ci:<22}{r['p']:>8.4f}")
    for key, label in (("only_a", "only in A"), ("only_b", "only in B")):
        ids = result[key]
        if ids:
            more = f", ... and {len(ids) - 20} more" if len(ids) > 20 else ""
            lines.append(f"{len(ids)} sample(s) {label} (left out): {', '.join(ids[:20])}{more}")
    lines.append(f"signature: {result['signature']}")
    if result.get("ce_signature"):
        lines.append(f"CE: {result['ce_signature']}")
    return "\n".join(lines)
