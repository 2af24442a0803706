"""Reading prediction files (benchmark or pet2rep format) and PET2Rep reference datasets.

Both are JSONL. A prediction line carries ``subject_id`` and ``llm_output`` (a string, or a list of
strings of which the first is scored) and optionally ``ground_truth``; pet2rep's own prediction records
add ``model``, ``lang``, ``finish_reason``, ``error``, ``latency_s``, token counts and ``prompt_user_text``.
Extra fields are ignored. A reference dataset line has ``patient_id``, ``prompt_user_text`` and ``answer``.

Malformed lines and duplicated ids are reported one per line as ``FILE:LINE: reason`` and skipped (a duplicate
keeps the first line); the rest is read.
A file that is not UTF-8 raises :class:`~pet2rep.errors.InputError` (one line: file, line, byte).
"""

from __future__ import annotations

import json
import os
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from pet2rep.errors import InputError, read_input_bytes

Warn = Callable[[str], None]

_ID_KEYS = ("subject_id", "patient_id", "id")


@dataclass
class Prediction:
    """One scored sample: the model output (hyp), its reference and what we know of the call."""

    id: str
    hyp: str
    ref: str | None = None
    prompt: str | None = None
    model: str | None = None
    lang: str | None = None
    finish_reason: str | None = None
    error: str | None = None
    n_outputs: int = 1
    line: int = 0
    missing_prediction: bool = False
    no_output: bool = False  # the record has no llm_output (or output) field at all
    notes: list[str] = field(default_factory=list)


@dataclass
class Reference:
    """One reference from a PET2Rep dataset JSONL."""

    id: str
    answer: str
    prompt: str | None = None
    lang: str | None = None
    line: int = 0


@dataclass
class ReadReport:
    """What went wrong while reading (kept in metrics.json as ``input``)."""

    malformed: list[str] = field(default_factory=list)  # "FILE:LINE: reason"
    duplicates: list[str] = field(default_factory=list)  # every duplicated id line (ignored), conflicts included
    conflicts: list[str] = field(default_factory=list)  # duplicates whose text differs from the kept first line
    notes: list[str] = field(default_factory=list)

    def as_dict(self) -> dict[str, Any]:
        return {"malformed": self.malformed, "n_malformed": len(self.malformed),
                "duplicates": self.duplicates, "n_duplicates": len(self.duplicates),
                "conflicts": self.conflicts, "notes": self.notes}


def _read_lines(path: Path) -> Iterator[tuple[int, str]]:
    """Yield (line number, decoded line); a non-UTF-8 line raises a one-line InputError."""
    raw = read_input_bytes(path, "a JSONL file")
    if raw.startswith(b"\xef\xbb\xbf"):
        raw = raw[3:]
    for lineno, bline in enumerate(raw.split(b"\n"), start=1):
        try:
            line = bline.decode("utf-8")
        except UnicodeDecodeError as exc:
            raise InputError(
                f"{path}:{lineno}: not UTF-8 text (byte 0x{bline[exc.start]:02x} at column {exc.start + 1}); "
                "re-save the file as UTF-8"
            ) from None
        yield lineno, line.rstrip("\r")


def _iter_objects(path: Path, report: ReadReport, warn: Warn) -> Iterator[tuple[int, dict[str, Any]]]:
    for lineno, line in _read_lines(path):
        if not line.strip():
            continue
        try:
            obj = json.loads(line)
        except json.JSONDecodeError as exc:
            _bad(report, warn, f"{path}:{lineno}: invalid JSON ({exc.msg} at column {exc.colno})")
            continue
        if not isinstance(obj, dict):
            _bad(report, warn, f"{path}:{lineno}: expected a JSON object, got {type(obj).__name__}")
            continue
        yield lineno, obj


def _bad(report: ReadReport, warn: Warn, msg: str) -> None:
    report.malformed.append(msg)
    warn(msg)


def _get_id(obj: dict[str, Any]) -> str | None:
    for key in _ID_KEYS:
        val = obj.get(key)
        if isinstance(val, (str, int)) and not isinstance(val, bool) and str(val).strip():
            return str(val).strip()
    return None


def _text_field(val: Any) -> tuple[str | None, int, str | None]:
    """(text, number of outputs, problem) from a str / list-of-str / null field."""
    if val is None:
        return "", 0, None
    if isinstance(val, str):
        return val, 1, None
    if isinstance(val, list):
        if not val:
            return "", 0, None
        first = val[0]
        if first is None:
            return "", len(val), None
        if not isinstance(first, str):
            return None, len(val), f"first element is {type(first).__name__}, expected a string"
        return first, len(val), None
    return None, 0, f"is {type(val).__name__}, expected a string or a list of strings"


def _opt_str(val: Any) -> str | None:
    if val is None or val == "":
        return None
    return val if isinstance(val, str) else json.dumps(val, ensure_ascii=False)


def read_predictions(path: str | os.PathLike, warn: Warn | None = None) -> tuple[list[Prediction], ReadReport]:
    """Read a predictions JSONL (benchmark or pet2rep format).

    A duplicated id keeps its first line; every later line is named through `warn` and ignored, as a conflict
    when its llm_output or ground_truth differs from the kept line.
    """
    path = Path(path)
    warn = warn or (lambda _m: None)
    report = ReadReport()
    preds: list[Prediction] = []
    seen: dict[str, Prediction] = {}
    for lineno, obj in _iter_objects(path, report, warn):
        sid = _get_id(obj)
        if sid is None:
            _bad(report, warn, f"{path}:{lineno}: no subject_id")
            continue
        no_output = "llm_output" not in obj and "output" not in obj
        hyp, n_out, problem = _text_field(obj.get("llm_output", obj.get("output")))
        if problem:
            _bad(report, warn, f"{path}:{lineno}: llm_output {problem}")
            continue
        ref = None
        if obj.get("ground_truth") is not None:
            ref, _, problem = _text_field(obj["ground_truth"])
            if problem:
                _bad(report, warn, f"{path}:{lineno}: ground_truth {problem}")
                continue
        if sid in seen:
            first = seen[sid]
            if (first.hyp, first.ref) != (hyp or "", ref):
                what = "llm_output" if first.hyp != (hyp or "") else "ground_truth"
                msg = (f"{path}:{lineno}: duplicate subject_id {sid!r} conflicts with line {first.line} (different "
                       f"{what}); line {first.line} is kept, this line ignored")
                report.conflicts.append(msg)
            else:
                msg = f"{path}:{lineno}: duplicate subject_id {sid!r} (same as line {first.line}); ignored"
            report.duplicates.append(msg)
            warn(msg)
            continue
        pred = Prediction(
            id=sid, hyp=hyp or "", ref=ref, prompt=_opt_str(obj.get("prompt_user_text")),
            model=_opt_str(obj.get("model")), lang=_opt_str(obj.get("lang")),
            finish_reason=_opt_str(obj.get("finish_reason")), error=_opt_str(obj.get("error")),
            n_outputs=n_out, line=lineno, no_output=no_output,
        )
        seen[sid] = pred
        if n_out > 1:
            pred.notes.append(f"llm_output has {n_out} outputs; the first is scored")
        if no_output:
            pred.notes.append("no llm_output field; scored as empty")
            report.notes.append(f"{path}:{lineno}: subject_id {sid!r} has no llm_output; scored as empty")
        preds.append(pred)
    return preds, report


def read_references(path: str | os.PathLike, warn: Warn | None = None) -> tuple[dict[str, Reference], ReadReport]:
    """Read a PET2Rep dataset JSONL (patient_id, prompt_user_text, answer) into {id: Reference}.

    `path` may also be a dataset folder: its prompts.jsonl, or its only *.jsonl.
    """
    from pet2rep.prompts.dataset import dataset_file

    path = dataset_file(path)
    warn = warn or (lambda _m: None)
    report = ReadReport()
    refs: dict[str, Reference] = {}
    for lineno, obj in _iter_objects(path, report, warn):
        rid = _get_id(obj)
        if rid is None:
            _bad(report, warn, f"{path}:{lineno}: no patient_id")
            continue
        answer, _, problem = _text_field(obj.get("answer", obj.get("ground_truth")))
        if problem or answer is None:
            _bad(report, warn, f"{path}:{lineno}: answer {problem or 'missing'}")
            continue
        if rid in refs:
            first = refs[rid]
            if first.answer != answer:
                msg = (f"{path}:{lineno}: duplicate patient_id {rid!r} conflicts with line {first.line} (different "
                       f"answer); line {first.line} is kept, this line ignored")
                report.conflicts.append(msg)
            else:
                msg = f"{path}:{lineno}: duplicate patient_id {rid!r} (same as line {first.line}); ignored"
            report.duplicates.append(msg)
            warn(msg)
            continue
        refs[rid] = Reference(id=rid, answer=answer, prompt=_opt_str(obj.get("prompt_user_text")),
                              lang=_opt_str(obj.get("lang")), line=lineno)
    return refs, report


@dataclass
class Joined:
    """Predictions matched to references: the scored samples and the mismatches."""

    samples: list[Prediction]
    missing_predictions: list[str]  # ids in the references with no prediction (scored as empty)
    without_reference: list[str]  # ids of predictions with no reference (excluded)


def join_references(preds: list[Prediction], refs: dict[str, Reference] | None) -> Joined:
    """Attach references by id. Without a reference set, each prediction's ground_truth is used."""
    if refs is None:
        keep = [p for p in preds if p.ref is not None]
        without = [p.id for p in preds if p.ref is None]
        return Joined(keep, [], without)
    by_id = {p.id: p for p in preds}
    samples: list[Prediction] = []
    without = [p.id for p in preds if p.id not in refs]
    for p in preds:
        r = refs.get(p.id)
        if r is None:
            continue
        p.ref = r.answer
        if r.prompt:
            p.prompt = r.prompt
        if not p.lang and r.lang:
            p.lang = r.lang
        samples.append(p)
    missing = [rid for rid in refs if rid not in by_id]
    for rid in missing:
        r = refs[rid]
        samples.append(Prediction(id=rid, hyp="", ref=r.answer, prompt=r.prompt, lang=r.lang,
                                  n_outputs=0, missing_prediction=True,
                                  notes=["no prediction for this reference; scored as empty"]))
    return Joined(samples, missing, without)
