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
from collections.abc import Callable
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

from .backends.base import Prediction, Request, card_summary, load_backend, load_card
from .errors import InputError, out_folder
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
    restart: bool = False,
    warn: Callable[[str], None] | None = None,
    **card_overrides: Any,
) -> Path:
    """Generate predictions for every record of `dataset` with `model` into the run folder `out`.

    An existing run folder is resumed, but only for the same model (card name) and the same dataset
    (sha256); anything else raises InputError unless `restart`, which discards the folder's predictions.
    `warn` gets one-line warnings (records whose images are missing).
    """
    from tqdm import tqdm

    from . import __version__

    if batch_size < 1:
        raise InputError(f"--batch-size {batch_size}: must be at least 1")
    if limit is not None and limit < 1:
        raise InputError(f"--limit {limit}: must be at least 1")
    file = dataset_file(dataset)
    records = read_dataset(file)
    if not records:
        raise InputError(f"{file}: no records (the dataset is empty)")
    if limit is not None:
        records = records[:limit]
    card = load_card(model)
    sha = _sha256(file)
    out = out_folder(out)
    pred_path = out / PREDICTIONS
    if restart:
        for name in (PREDICTIONS, RUN_JSON):
            (out / name).unlink(missing_ok=True)
    else:
        _check_same_run(out, card["name"], file, sha)
    if warn is not None:
        _warn_missing_images(records, file.parent, warn)
    out.mkdir(parents=True, exist_ok=True)
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

    info = {
        "model": card["name"],
        "card": card_summary({**card, **card_overrides}),
        "dataset": str(file.resolve()),
        "dataset_sha256": sha,
        "n_records": len(records),
        "batch_size": batch_size,
        "pet2rep_version": __version__,
        "started": _now(),
        "status": "running",
    }
    write_json(out / RUN_JSON, info)
    backend = load_backend(model, **card_overrides)
    n_err = n_written = 0
    bar = tqdm(total=len(records), initial=len(records) - len(todo), desc=card["name"], unit="study",
               disable=not progress, file=sys.stderr)
    try:
        with open(pred_path, "a", encoding="utf-8") as fh:
            for start in range(0, len(todo), batch_size):
                batch = [to_request(r, file.parent) for r in todo[start:start + batch_size]]
                preds = _safe_generate(backend, batch, card["name"])
                for p in preds:
                    n_err += p.error is not None
                    n_written += 1
                    fh.write(json.dumps(p.to_record(), ensure_ascii=False) + "\n")
                fh.flush()
                os.fsync(fh.fileno())
                bar.update(len(batch))
        info.update(status="complete", finished=_now(), n_predictions=len(done) + n_written, n_new=len(todo),
                    n_errors=sum(1 for r in done if r.get("error")) + n_err, n_errors_new=n_err)
    except KeyboardInterrupt:
        info.update(status="interrupted", finished=_now())
        raise
    finally:
        bar.close()
        write_json(out / RUN_JSON, info)
    return pred_path


def _check_same_run(out: Path, model: str, dataset: Path, sha: str) -> None:
    """Refuse to resume a run folder that holds another model's or another dataset's predictions."""
    info_path = out / RUN_JSON
    if not info_path.is_file() or not (out / PREDICTIONS).exists():
        return
    try:
        info = json.loads(info_path.read_text(encoding="utf-8"))
    except (json.JSONDecodeError, UnicodeDecodeError):
        raise InputError(f"{info_path}: invalid JSON; cannot tell what this run folder holds "
                         "(use another --out, or --restart to discard it)") from None
    if not isinstance(info, dict):
        return
    hint = "use another --out, or --restart to discard its predictions"
    if info.get("model") not in (None, model):
        raise InputError(f"{out}: holds a run of model '{info['model']}', not '{model}'; {hint}")
    if info.get("dataset_sha256") not in (None, sha):
        raise InputError(f"{out}: was run on another dataset ({info.get('dataset')}, different content from "
                         f"{dataset}); {hint}")


def _warn_missing_images(records: list[PromptRecord], root: Path, warn: Callable[[str], None]) -> None:
    missing = [(r.patient_id, img) for r in records for img in r.images if resolve_image(root, img) is None]
    if missing:
        n_rec = len({pid for pid, _ in missing})
        pid, img = missing[0]
        warn(f"warning: {len(missing)} image(s) of {n_rec} record(s) not found under {root} "
             f"(first: '{img}' of {pid}); models that read images will fail on those records")


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
    p.add_argument("--batch-size", type=int, default=8, metavar="N",
                   help="requests per backend call; predictions are saved after each batch (default 8)")
    p.add_argument("--limit", type=int, metavar="N", help="only the first N records")
    p.add_argument("--retry-errors", action="store_true", help="re-run studies whose prediction has an error")
    p.add_argument("--restart", action="store_true",
                   help="discard the run folder's predictions and start again (instead of resuming)")


def run_cli(args: argparse.Namespace) -> int:
    path = run_model(args.dataset, args.model, args.out, batch_size=args.batch_size, limit=args.limit,
                     retry_errors=args.retry_errors, restart=args.restart,
                     warn=lambda msg: print(f"pet2rep generate: {msg}", file=sys.stderr))
    info = json.loads((Path(args.out) / RUN_JSON).read_text(encoding="utf-8"))
    n, new, err = info.get("n_predictions"), info.get("n_new"), info.get("n_errors")
    print(f"wrote {path}: {n} prediction{'' if n == 1 else 's'} ({new} new, {n - new} resumed), "
          f"{err} with an error"
          + ("; see their 'error' field, re-run with --retry-errors" if err else ""))
    return 0
