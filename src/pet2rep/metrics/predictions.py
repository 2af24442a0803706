"""Reading prediction files (benchmark or pet2rep format) and PET2Rep reference datasets.

Both are JSONL. A prediction line carries ``subject_id`` and ``llm_output`` (a string, or a list of
strings of which the first is scored) and optionally ``ground_truth``; pet2rep's own prediction records
add ``model``, ``lang``, ``finish_reason``, ``error``, ``latency_s``, token counts and ``prompt_user_text``.
Extra fields are ignored. A reference dataset line has ``patient_id``, ``prompt_user_text`` and ``answer``.

Malformed lines (invalid JSON, JSON nested too deeply, a line that is not UTF-8, a record of the wrong shape) and
duplicated ids are reported as ``FILE:LINE: reason`` and skipped (a duplicate keeps the first line); the rest is
read. At most ``SHOWN_PER_KIND`` lines of each kind are printed (all are counted, the first ``LISTED_PER_KIND``
listed in metrics.json), and they are printed only once a file has at least one good record: a file in which no
line is a record (a metrics.json, a binary file, UTF-16 text) raises one :class:`~pet2rep.errors.InputError`
saying what the file looks like instead.
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


# Per kind of problem (malformed lines, duplicates): lines printed, and lines kept in metrics.json's `input`.
SHOWN_PER_KIND = 10
LISTED_PER_KIND = 1000


@dataclass
class ReadReport:
    """What went wrong while reading (kept in metrics.json as ``input``); the lists hold the first
    LISTED_PER_KIND lines, the counts all of them."""

    malformed: list[str] = field(default_factory=list)  # "FILE:LINE: reason"
    duplicates: list[str] = field(default_factory=list)  # every duplicated id line (ignored), conflicts included
    conflicts: list[str] = field(default_factory=list)  # duplicates whose text differs from the kept first line
    notes: list[str] = field(default_factory=list)
    n_malformed: int = 0
    n_duplicates: int = 0
    n_conflicts: int = 0

    def as_dict(self) -> dict[str, Any]:
        return {"malformed": self.malformed, "n_malformed": self.n_malformed,
                "duplicates": self.duplicates, "n_duplicates": self.n_duplicates,
                "conflicts": self.conflicts, "n_conflicts": self.n_conflicts, "notes": self.notes[:LISTED_PER_KIND]}


class _Warner:
    """Prints at most SHOWN_PER_KIND messages of each kind, and none until the file has a good record (so that
    a file with no record at all gives one error instead of a line per line)."""

    def __init__(self, path: Path, warn: Warn):
        self.path, self.warn = path, warn
        self.held: list[str] | None = []  # messages held until the first good record; None once released
        self.shown: dict[str, int] = {}

    def __call__(self, kind: str, msg: str) -> None:
        n = self.shown.get(kind, 0) + 1
        self.shown[kind] = n
        if n > SHOWN_PER_KIND + 1:
            return
        if n == SHOWN_PER_KIND + 1:
            msg = (f"{self.path}: more {kind} lines follow; only the first {SHOWN_PER_KIND} are shown "
                   "(all are counted in the summary)")
        if self.held is None:
            self.warn(msg)
        else:
            self.held.append(msg)

    def release(self) -> None:
        if self.held is not None:
            for msg in self.held:
                self.warn(msg)
            self.held = None


def loads_line(line: str) -> tuple[Any, str | None]:
    """(parsed JSON value, None) or (None, the reason it is not JSON) for one line; never raises."""
    try:
        return json.loads(line), None
    except json.JSONDecodeError as exc:
        return None, f"invalid JSON ({exc.msg} at column {exc.colno})"
    except RecursionError:  # the C scanner's own depth check: 100k brackets end here, not in a crash
        return None, "JSON nested too deeply (not a record)"
    except ValueError as exc:  # pragma: no cover - json raises JSONDecodeError for bad text
        return None, f"invalid JSON ({exc})"


_MAGIC = ((b"\x1f\x8b", "a gzip file"), (b"\x89PNG", "a PNG image"), (b"\xff\xd8\xff", "a JPEG image"),
          (b"PK\x03\x04", "a zip file"), (b"\xff\xfe", "UTF-16 text"), (b"\xfe\xff", "UTF-16 text"))


def read_lines(path: Path) -> Iterator[tuple[int, str]]:
    """Yield (line number, decoded line); a line that is not UTF-8 raises a one-line InputError naming it."""
    for lineno, line, problem in _lines(path):
        if line is None:
            raise InputError(f"{path}:{lineno}: {problem}")
        yield lineno, line


def _lines(path: Path) -> Iterator[tuple[int, str | None, str | None]]:
    """Yield (line number, decoded line or None, problem or None); a line that is not UTF-8 comes with its
    problem instead of its text. A file that is recognisably not JSONL text (gzip, an image, UTF-16) raises a
    one-line InputError."""
    raw = read_input_bytes(path, "a JSONL file")
    if raw.startswith(b"\xef\xbb\xbf"):
        raw = raw[3:]
    for magic, what in _MAGIC:
        if raw.startswith(magic):
            hint = "; re-save it as UTF-8" if "UTF-16" in what else ""
            raise InputError(f"{path}: {what}, not a JSONL file (UTF-8 text, one JSON object per line){hint}")
    for lineno, bline in enumerate(raw.split(b"\n"), start=1):
        try:
            line = bline.decode("utf-8")
        except UnicodeDecodeError as exc:
            yield lineno, None, (f"not UTF-8 text (byte 0x{bline[exc.start]:02x} at column {exc.start + 1}; "
                                 "re-save the file as UTF-8)")
            continue
        yield lineno, line.rstrip("\r"), None


def _iter_objects(path: Path, report: ReadReport, say: _Warner, what: str) -> Iterator[tuple[int, dict[str, Any]]]:
    """The JSON objects of a JSONL file, one per line; bad lines are named and skipped. When no line at all is
    an object, raises InputError describing the file (`what`: "prediction" or "reference")."""
    n_lines = 0
    n_objects = 0
    first: tuple[int, str] | None = None
    for lineno, line, problem in _lines(path):
        if line is not None and not line.strip():
            continue
        n_lines += 1
        if problem is None:
            obj, problem = loads_line(line)  # type: ignore[arg-type]
            if problem is None and not isinstance(obj, dict):
                problem = f"expected a JSON object, got {_json_type(obj)}"
        if problem is not None:
            first = first or (lineno, problem)
            _bad(report, say, f"{path}:{lineno}: {problem}")
            continue
        n_objects += 1
        yield lineno, obj
    if n_objects == 0 and first is not None:
        raise InputError(_not_jsonl(path, n_lines, first, what))


def _json_type(obj: Any) -> str:
    return {dict: "an object", list: "an array", str: "a string", bool: "true/false", type(None): "null"}.get(
        type(obj), "a number")


def _not_jsonl(path: Path, n_lines: int, first: tuple[int, str], what: str) -> str:
    """One line for a file in which no line is a JSON object: what the file is, or its first problem."""
    if n_lines > 1:
        try:
            text = read_input_bytes(path, "a JSONL file").decode("utf-8-sig")
            whole, problem = json.loads(text), None
        except (ValueError, RecursionError, InputError):
            whole, problem = None, "no"
        if problem is None:
            kind = "JSON object" if isinstance(whole, dict) else "JSON value"
            hint = ""
            if isinstance(whole, dict) and ("signatures" in whole or "bleu_4" in whole):
                hint = ("; it looks like a metrics.json (evaluate's output): give the predictions.jsonl or the run "
                        "folder")
            elif isinstance(whole, list):
                kind = "JSON array"
                hint = "; write one object per line"
            return (f"{path}: one {kind} over {n_lines} lines, not JSONL (one {what} object per line){hint}")
    return (f"{path}: no line is a {what} record ({n_lines} malformed line(s); line {first[0]}: {first[1]})")


def _bad(report: ReadReport, say: _Warner, msg: str) -> None:
    report.n_malformed += 1
    if len(report.malformed) < LISTED_PER_KIND:
        report.malformed.append(msg)
    say("malformed", msg)


def _duplicate(report: ReadReport, say: _Warner, where: str, field: str, key: str, first_line: int,
               differs: str | None) -> None:
    """Count and report a repeated id; `differs` names the field whose text differs (a conflict), None if same."""
    conflict = differs is not None
    if conflict:
        msg = (f"{where}: duplicate {field} {key!r} conflicts with line {first_line} (different {differs}); "
               f"line {first_line} is kept, this line ignored")
    else:
        msg = f"{where}: duplicate {field} {key!r} (same as line {first_line}); ignored"
    report.n_duplicates += 1
    if len(report.duplicates) < LISTED_PER_KIND:
        report.duplicates.append(msg)
    if conflict:
        report.n_conflicts += 1
        if len(report.conflicts) < LISTED_PER_KIND:
            report.conflicts.append(msg)
    say("duplicate-id", msg)


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
    report = ReadReport()
    say = _Warner(path, warn or (lambda _m: None))
    preds: list[Prediction] = []
    seen: dict[str, Prediction] = {}
    for lineno, obj in _iter_objects(path, report, say, "prediction"):
        sid = _get_id(obj)
        if sid is None:
            _bad(report, say, f"{path}:{lineno}: no subject_id")
            continue
        no_output = "llm_output" not in obj and "output" not in obj
        hyp, n_out, problem = _text_field(obj.get("llm_output", obj.get("output")))
        if problem:
            _bad(report, say, f"{path}:{lineno}: llm_output {problem}")
            continue
        ref = None
        if obj.get("ground_truth") is not None:
            ref, _, problem = _text_field(obj["ground_truth"])
            if problem:
                _bad(report, say, f"{path}:{lineno}: ground_truth {problem}")
                continue
        if sid in seen:
            first = seen[sid]
            differs = ("llm_output" if first.hyp != (hyp or "") else "ground_truth" if first.ref != ref else None)
            _duplicate(report, say, f"{path}:{lineno}", "subject_id", sid, first.line, differs)
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
    say.release()
    return preds, report


def read_references(path: str | os.PathLike, warn: Warn | None = None) -> tuple[dict[str, Reference], ReadReport]:
    """Read a PET2Rep dataset JSONL (patient_id, prompt_user_text, answer) into {id: Reference}.

    `path` may also be a dataset folder: its prompts.jsonl, or its only *.jsonl.
    """
    from pet2rep.prompts.dataset import dataset_file

    path = dataset_file(path)
    report = ReadReport()
    say = _Warner(path, warn or (lambda _m: None))
    refs: dict[str, Reference] = {}
    for lineno, obj in _iter_objects(path, report, say, "reference"):
        rid = _get_id(obj)
        if rid is None:
            _bad(report, say, f"{path}:{lineno}: no patient_id")
            continue
        answer, _, problem = _text_field(obj.get("answer", obj.get("ground_truth")))
        if problem or answer is None:
            _bad(report, say, f"{path}:{lineno}: answer {problem or 'missing'}")
            continue
        if rid in refs:
            first = refs[rid]
            _duplicate(report, say, f"{path}:{lineno}", "patient_id", rid, first.line,
                       "answer" if first.answer != answer else None)
            continue
        refs[rid] = Reference(id=rid, answer=answer, prompt=_opt_str(obj.get("prompt_user_text")),
                              lang=_opt_str(obj.get("lang")), line=lineno)
    say.release()
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


def check_lang(samples: list[Prediction], lang: str, source: str | os.PathLike) -> None:
    """With an explicit `lang` ("zh"/"en"), refuse (one-line InputError) samples in another language: a record
    whose own ``lang`` field differs, or a reference written in the other language (read with the wrong
    lexicon, its uptake statements would be lost while metrics.json said `lang`). "auto" checks nothing."""
    if lang not in ("zh", "en"):
        return
    from pet2rep.metrics.evaluate import MAX_SCORED_CHARS
    from pet2rep.metrics.uptake import detect_lang

    hint = (f"lang={lang} sets the language of every sample; leave it out (auto: each report in its own language) "
            "or give the language they are in")
    said = [s for s in samples if s.lang in ("zh", "en") and s.lang != lang]
    if said:
        s = said[0]
        where = f"{source}:{s.line}" if s.line else str(source)
        raise InputError(f"lang={lang}, but {len(said)} of {len(samples)} record(s) say lang '{s.lang}' "
                         f"(first: subject_id '{s.id}', {where}); {hint}")
    other = [s for s in samples if s.lang not in ("zh", "en") and detect_lang((s.ref or "")[:MAX_SCORED_CHARS]) != lang]
    if other:
        s = other[0]
        found = "en" if lang == "zh" else "zh"
        raise InputError(f"lang={lang}, but {len(other)} of {len(samples)} reference(s) are written in {found} "
                         f"(first: id '{s.id}'); {hint}")
