"""Runs: one model over one prompt dataset, in a resumable run folder.

    RUN_DIR/run.json            model card, dataset path + sha256, language, batch size, times, status
    RUN_DIR/predictions.jsonl   one record per study (benchmark result format + pet2rep fields), appended
                                and fsync'ed batch by batch, so a crash or Ctrl-C loses nothing written

Running again on the same folder resumes: studies already answered are skipped (those with errors are retried
with ``--retry-errors``). A torn last line left by a crash is dropped on resume.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import re
import sys
import time
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

from .backends.base import Prediction, Request, card_summary, load_backend, load_card
from .errors import InputError
from .prompts.dataset import PromptRecord, dataset_file, read_dataset, resolve_image
from .study import write_json

PREDICTIONS = "predictions.jsonl"
RUN_JSON = "run.json"
_CJK = re.compile(r"[\u4e00-\u9fff]")


def record_lang(rec: PromptRecord) -> str:
    """The language a record asks for: zh when its prompt has CJK characters, else en."""
    return "zh" if _CJK.search(rec.prompt_user_text or rec.prompt_system) else "en"


def to_request(rec: PromptRecord, root: Path, lang: str | None = None) -> Request:
    """A backend Request from a dataset record (image paths resolved against the dataset folder)."""
    images = [resolve_image(root, p) or root / p for p in rec.images]
    return Request(
        id=rec.patient_id, system=rec.prompt_system, user_text=rec.prompt_user_text, images=images,
        lang=lang or record_lang(rec), reference=rec.answer,
    )


def read_predictions(path: Path, repair: bool = False) -> list[dict[str, Any]]:
    """Records of a predictions file. A torn last line (crash mid-write) is dropped (and cut with `repair`)."""
    if not path.exists():
        return []
    raw = path.read_bytes()
    lines = raw.split(b"\n")
    records, good_bytes = [], 0
    for i, line in enumerate(lines):
        if not line.strip():
            good_bytes += len(line) + 1
            continue
        try:
            records.append(json.loads(line.decode("utf-8")))
            good_bytes += len(line) + 1
        except (json.JSONDecodeError, UnicodeDecodeError):
            if i >= len(lines) - 2:  # the last (torn) line
                if repair:
                    with open(path, "r+b") as fh:
                        fh.truncate(good_bytes)
                break
            raise InputError(f"{path}:{i + 1}: invalid JSON in predictions file") from None
    else:
        if repair and raw and not raw.endswith(b"\n"):  # complete last record, cut before its newline
            with open(path, "ab") as fh:
                fh.write(b"\n")
    return records


def _sha256(path: Path) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as fh:
        for block in iter(lambda: fh.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()


def _now() -> str:
    return datetime.now(timezone.utc).isoformat(timespec="seconds")


def run_model(
    dataset: str | os.PathLike,
    model: str,
    out: str | os.PathLike,
    *,
    batch_size: int = 8,
    limit: int | None = None,
    retry_errors: bool = False,
    progress: bool = True,
    **card_overrides: Any,
) -> Path:
    """Generate predictions for every record of `dataset` with `model` into the run folder `out`."""
    from tqdm import tqdm

    from . import __version__

    file = dataset_file(dataset)
    records = read_dataset(file)
    if limit is not None:
        records = records[:limit]
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    pred_path = out / PREDICTIONS
    done = read_predictions(pred_path, repair=True)
    if retry_errors:
        kept = [r for r in done if not r.get("error")]
        if len(kept) != len(done):  # rewrite without the failed ones, atomically
            tmp = pred_path.with_name(PREDICTIONS + ".part")
            tmp.write_text("".join(json.dumps(r, ensure_ascii=False) + "\n" for r in kept), encoding="utf-8")
            os.replace(tmp, pred_path)
        done = kept
    done_ids = {str(r.get("subject_id")) for r in done}
    todo = [r for r in records if r.patient_id not in done_ids]

    card = load_card(model)
    info = {
        "model": card["name"],
        "card": card_summary({**card, **card_overrides}),
        "dataset": str(file.resolve()),
        "dataset_sha256": _sha256(file),
        "n_records": len(records),
        "batch_size": batch_size,
        "pet2rep_version": __version__,
        "started": _now(),
        "status": "running",
    }
    write_json(out / RUN_JSON, info)
    backend = load_backend(model, **card_overrides)
    n_err = 0
    bar = tqdm(total=len(records), initial=len(records) - len(todo), desc=card["name"], unit="study",
               disable=not progress, file=sys.stderr)
    try:
        with open(pred_path, "a", encoding="utf-8") as fh:
            for start in range(0, len(todo), batch_size):
                batch = [to_request(r, file.parent) for r in todo[start:start + batch_size]]
                preds = _safe_generate(backend, batch, card["name"])
                for p in preds:
                    n_err += p.error is not None
                    fh.write(json.dumps(p.to_record(), ensure_ascii=False) + "\n")
                fh.flush()
                os.fsync(fh.fileno())
                bar.update(len(batch))
        info.update(status="complete", finished=_now(), n_errors=n_err)
    except KeyboardInterrupt:
        info.update(status="interrupted", finished=_now())
        raise
    finally:
        bar.close()
        write_json(out / RUN_JSON, info)
    return pred_path


def _safe_generate(backend: Any, batch: list[Request], name: str) -> list[Prediction]:
    """Call the backend; if the whole batch fails, retry one by one so one bad study never stops a run."""
    try:
        preds = backend.generate(batch)
        if len(preds) == len(batch):
            return preds
    except KeyboardInterrupt:
        raise
    except Exception:  # noqa: BLE001 - a backend failure becomes per-study errors below
        pass
    out = []
    for req in batch:
        t0 = time.perf_counter()
        try:
            out.extend(backend.generate([req]))
        except KeyboardInterrupt:
            raise
        except Exception as exc:  # noqa: BLE001
            out.append(Prediction(req.id, "", name, req.lang, req.reference, finish_reason="error",
                                  error=f"{type(exc).__name__}: {exc}".splitlines()[0],
                                  latency_s=time.perf_counter() - t0))
    return out


def configure_parser(p: argparse.ArgumentParser) -> None:
    p.add_argument("dataset", help="a PET2Rep dataset folder or JSONL file")
    p.add_argument("--model", required=True, help="model card name (e.g. template, oracle) or a card .yaml")
    p.add_argument("--out", required=True, help="run folder (resumed if it exists)")
    p.add_argument("--batch-size", type=int, default=8)
    p.add_argument("--limit", type=int, help="only the first N records")
    p.add_argument("--retry-errors", action="store_true", help="re-run studies whose prediction has an error")


def run_cli(args: argparse.Namespace) -> int:
    path = run_model(args.dataset, args.model, args.out, batch_size=args.batch_size, limit=args.limit,
                     retry_errors=args.retry_errors)
    print(f"wrote {path}")
    return 0
