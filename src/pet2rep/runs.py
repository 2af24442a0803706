"""Runs: one model over one prompt dataset, in a resumable, crash-proof run folder.

    RUN_DIR/run.json            what was run (resolved card, generation settings, dataset and image hashes,
                                shard, resume key, the backend's resolved facts, library versions), status,
                                counts, tokens, cost, throughput
    RUN_DIR/predictions.jsonl   one record per study (benchmark result format + pet2rep fields), written the
                                moment each answer arrives, one write per record, fsync'ed every few records
                                or seconds, so a crash, SIGKILL or Ctrl-C loses nothing already answered

Running again on the same folder resumes: studies already answered are skipped (those with errors are retried
with ``retry_errors``). Resuming is refused unless the resume key matches: same card (settings that decide the
answer), generation config, dataset (JSONL sha256), images (sha256 over their bytes) and shard. A torn last
line left by a crash is cut on resume. ``merge_runs`` joins the shards of one run.
"""

from __future__ import annotations

import hashlib
import itertools
import json
import os
import platform
import re
import signal
import sys
import threading
import time
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

from .backends.base import (
    Backend,
    BackendError,
    Generation,
    GenerationConfig,
    PredictionRecord,
    Request,
    card_key,
    card_summary,
    error_text,
    load_backend,
    load_card,
    stable_hash,
)
from .errors import InputError, out_folder, short
from .io import atomic_write_jsonl
from .prompts.dataset import PromptRecord, dataset_file, image_problem, read_dataset, resolve_image
from .prompts.messages import build_messages, image_parts
from .study import write_json

PREDICTIONS = "predictions.jsonl"
RUN_JSON = "run.json"
_CJK = re.compile(r"[\u4e00-\u9fff]")
FSYNC_EVERY_RECORDS = 16
FSYNC_EVERY_SECONDS = 2.0

Warn = Callable[[str], None]


def prompt_lang(rec: PromptRecord) -> str:
    """The language a prompt record asks for: zh when its prompt has any CJK character (the zh template), else en.

    Not `pet2rep.metrics.uptake.detect_lang`, which weighs CJK against Latin letters to tell the language of a
    report that may quote English terms; a prompt is one of the packaged templates, in one language."""
    return "zh" if _CJK.search(rec.prompt_user_text or rec.prompt_system) else "en"


def to_request(rec: PromptRecord, root: Path, config: GenerationConfig | None = None,
               lang: str | None = None) -> Request:
    """A backend Request from a dataset record: interleaved messages, images resolved under `root`."""
    return Request(id=rec.patient_id, messages=build_messages(rec, root), config=config or GenerationConfig(),
                   lang=lang or prompt_lang(rec), reference=rec.answer)


# --------------------------------------------------------------------------------------------------
# reading and writing predictions


def read_prediction_records(path: Path, repair: bool = False) -> list[dict[str, Any]]:
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
        except (json.JSONDecodeError, UnicodeDecodeError, RecursionError):
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
    bad = next((i for i, r in enumerate(records) if not isinstance(r, dict) or "subject_id" not in r), None)
    if bad is not None:
        raise InputError(f"{path}: record {bad + 1} is not a prediction (no 'subject_id')")
    return records


@contextmanager
def _sigint_deferred() -> Iterator[None]:
    """Hold Ctrl-C until the block ends, so a record in flight is written whole (main thread only)."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    caught: list[int] = []
    try:
        old = signal.signal(signal.SIGINT, lambda signum, frame: caught.append(signum))
    except ValueError:  # pragma: no cover - no signals here
        yield
        return
    try:
        yield
    finally:
        signal.signal(signal.SIGINT, old)
        if caught:
            raise KeyboardInterrupt


class PredictionWriter:
    """Appends records, one ``os.write`` each; fsync every few records or seconds; undoes a partial write.

    On a failed write (disk full) the file is cut back to its last whole record and the OSError is raised.
    """

    def __init__(self, path: Path, every_records: int = FSYNC_EVERY_RECORDS,
                 every_seconds: float = FSYNC_EVERY_SECONDS):
        self.path = path
        self.fd = os.open(path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o644)
        self.every_records, self.every_seconds = every_records, every_seconds
        self.unsynced, self.last_sync = 0, time.monotonic()

    def write(self, record: dict[str, Any]) -> None:
        data = (json.dumps(record, ensure_ascii=False) + "\n").encode("utf-8")
        with _sigint_deferred():
            size = os.fstat(self.fd).st_size
            try:
                view = memoryview(data)
                while view:
                    view = view[os.write(self.fd, view):]
            except OSError:
                os.ftruncate(self.fd, size)
                raise
            self.unsynced += 1
            if self.unsynced >= self.every_records or time.monotonic() - self.last_sync >= self.every_seconds:
                self.sync()

    def sync(self) -> None:
        if self.unsynced:
            os.fsync(self.fd)
        self.unsynced, self.last_sync = 0, time.monotonic()

    def close(self) -> None:
        if self.fd >= 0:
            try:
                self.sync()
            finally:
                os.close(self.fd)
                self.fd = -1


# --------------------------------------------------------------------------------------------------
# the run


@dataclass(frozen=True)
class Shard:
    """Shard `index` of `count` (0-based): records index, index+count, index+2*count, ..."""

    index: int = 0
    count: int = 1

    @classmethod
    def parse(cls, text: str | None) -> Shard:
        if text is None:
            return cls()
        m = re.fullmatch(r"\s*(\d+)\s*/\s*(\d+)\s*", str(text))
        if not m:
            raise InputError(f"shard '{text}': expected INDEX/COUNT, e.g. 0/4 (INDEX is 0-based)")
        index, count = int(m.group(1)), int(m.group(2))
        if count < 1 or index >= count:
            raise InputError(f"shard '{text}': INDEX must be 0..COUNT-1 (0-based), COUNT at least 1")
        return cls(index, count)

    def select(self, records: list[PromptRecord]) -> list[PromptRecord]:
        return records[self.index::self.count]

    def to_dict(self) -> dict[str, int] | None:
        return None if self.count == 1 else {"index": self.index, "count": self.count}


def _sha256(path: Path) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as fh:
        for block in iter(lambda: fh.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()


def images_sha256(records: list[PromptRecord], root: Path) -> str:
    """One hash over every record's images (name and bytes; a missing image counts as missing)."""
    h = hashlib.sha256()
    for rec in records:
        for src in rec.images:
            found = resolve_image(root, src)
            h.update(f"{rec.patient_id}\0{src}\0".encode())
            h.update(_sha256(found).encode() if found is not None and found.is_file() else b"missing")
    return h.hexdigest()


def _now() -> str:
    return datetime.now(timezone.utc).isoformat(timespec="seconds")


def key_parts(card: dict[str, Any], config: GenerationConfig, dataset_sha: str, images_sha: str,
              shard: Shard) -> dict[str, Any]:
    """What a resumed run must share with the folder's: the pieces of the resume key."""
    return {"card": stable_hash(card_key(card)), "generation": config.to_dict(), "dataset": dataset_sha,
            "images": images_sha, "shard": shard.to_dict()}


def _check_same_run(out: Path, card: dict[str, Any], parts: dict[str, Any], dataset: Path) -> dict[str, Any]:
    """Refuse to resume a run folder made with another model, settings, dataset, images or shard.

    Returns the folder's run.json (empty when there is nothing to resume)."""
    info_path = out / RUN_JSON
    if not info_path.is_file() or not (out / PREDICTIONS).exists():
        return {}
    try:
        info = json.loads(info_path.read_text(encoding="utf-8"))
    except (json.JSONDecodeError, UnicodeDecodeError, RecursionError):
        raise InputError(f"{info_path}: invalid JSON; cannot tell what this run folder holds "
                         "(use another out=, or restart=True to discard it)") from None
    if not isinstance(info, dict):
        return {}
    hint = "use another out=, or restart=True to discard its predictions"
    if info.get("model") not in (None, card["name"]):
        raise InputError(f"{out}: holds a run of model '{short(info['model'])}', not '{card['name']}'; {hint}")
    if info.get("dataset_sha256") not in (None, parts["dataset"]):
        raise InputError(f"{out}: was run on another dataset ({short(info.get('dataset'), 300)}, different content from "
                         f"{dataset}); {hint}")
    old = info.get("key_parts")
    if not isinstance(old, dict):
        return info  # a run folder from before resume keys: model and dataset checked above
    what = {"card": "other model card settings", "generation": "other generation settings",
            "images": "other images (the dataset's image files changed)", "shard": "another shard"}
    for k, label in what.items():
        if old.get(k) != parts[k]:
            detail = ""
            if k in ("generation", "shard"):
                detail = f" (this folder: {short(json.dumps(old.get(k)), 300)}; now: {json.dumps(parts[k])})"
            raise InputError(f"{out}: was run with {label}{detail}; {hint}")
    return info


def _check_same_revision(out: Path, old: dict[str, Any], facts: dict[str, Any]) -> None:
    """The model behind a resumed run must be the one that wrote it (same resolved revision)."""
    before = (old.get("backend") or {}).get("revision") if isinstance(old.get("backend"), dict) else None
    now = facts.get("revision")
    if before and now and before != now:
        raise InputError(f"{out}: was run with model revision {before}, but the model now resolves to {now} "
                         "(its files changed); use another out=, or restart=True to discard its predictions")


def _warn_refused_images(records: list[PromptRecord], file: Path, warn: Warn, shown: int = 10) -> None:
    """One line per record whose image path is refused (it leaves the dataset folder): that study fails."""
    refused = [(r, img, why) for r in records for img in r.images
               if (why := image_problem(file.parent, img)) is not None]
    seen: set[str] = set()
    for rec, img, why in refused:
        if rec.patient_id in seen:
            continue
        seen.add(rec.patient_id)
        if len(seen) > shown:
            continue
        warn(f"error: {file}:{rec.line}: study '{short(rec.patient_id)}': image '{short(img, 120)}' {short(why, 300)}; "
             "refused, this study fails")
    if len(seen) > shown:
        warn(f"error: {len(seen) - shown} more studies with a refused image path (each fails)")


def _warn_missing_images(records: list[PromptRecord], root: Path, warn: Warn) -> None:
    missing = [(r.patient_id, img) for r in records for img in r.images
               if resolve_image(root, img) is None and image_problem(root, img) is None]
    if missing:
        n_rec = len({pid for pid, _ in missing})
        pid, img = missing[0]
        warn(f"warning: {len(missing)} image(s) of {n_rec} record(s) not found under {root} "
             f"(first: '{img}' of {pid}); models that read images will fail on those records")


def answers(backend: Backend, requests: Sequence[Request]) -> Iterator[tuple[Request, Generation, float]]:
    """(request, generation, seconds since the previous answer) for every request, as answers arrive.

    Ids are checked (an unknown or repeated id is dropped). When the backend raises, only the requests
    still without an answer are retried, one at a time; one that raises again fails with the reason.
    A request the backend never answered fails with that reason.
    """
    pending = {r.id: r for r in requests}
    last = time.perf_counter()

    def take(gen: Generation) -> tuple[Request, Generation, float]:
        nonlocal last
        now = time.perf_counter()
        elapsed, last = now - last, now
        return pending.pop(gen.id), gen, elapsed

    if not pending:
        return
    try:
        for gen in backend.generate(list(pending.values())):
            if gen.id in pending:
                yield take(gen)
    except (KeyboardInterrupt, BackendError):
        raise
    except Exception:  # noqa: BLE001 - a backend failure becomes per-study retries below
        for req in list(pending.values()):
            try:
                for gen in backend.generate([req]):
                    if gen.id == req.id:
                        yield take(gen)
                        break
            except (KeyboardInterrupt, BackendError):
                raise
            except Exception as exc2:  # noqa: BLE001
                yield take(Generation.failed(req.id, error_text(exc2)))
    for req in list(pending.values()):
        yield take(Generation.failed(req.id, "the backend returned no answer for this request"))


def _scrubber(card: dict[str, Any]) -> Callable[[str], str]:
    """Removes the API key's value from any text written (errors quoting a request, say)."""
    secret = os.environ.get(str(card.get("api_key_env") or "OPENAI_API_KEY"), "")
    if len(secret) < 8:
        return lambda text: text
    return lambda text: text.replace(secret, "***")


def run_model(
    dataset: str | os.PathLike,
    model: str | dict[str, Any],
    out: str | os.PathLike,
    *,
    batch_size: int | None = None,
    limit: int | None = None,
    retry_errors: bool = False,
    progress: bool = True,
    restart: bool = False,
    warn: Warn | None = None,
    preset: str | None = None,
    generation: dict[str, Any] | None = None,
    shard: str | Shard | None = None,
    backend_factory: Callable[[dict[str, Any]], Backend] | None = None,
    **card_overrides: Any,
) -> Path:
    """Generate predictions for every record of `dataset` (or of one shard) with `model` into the run folder.

    `model` is a SPEC or a resolved card; `generation` holds explicit settings (max_new_tokens, temperature,
    top_p, top_k, seed, ...) over the `preset` over the card's; `card_overrides` (not None) are runtime
    settings (batch_size, concurrency, rpm, timeout, max_retries, tensor_parallel, base_url, ...).
    An existing run folder is resumed when the resume key matches; else InputError unless `restart`.
    """
    from tqdm import tqdm

    from .backends.base import resolve_generation

    card = _run_card(model, batch_size, limit, card_overrides)
    config = resolve_generation(card, preset, generation)
    shard = shard if isinstance(shard, Shard) else Shard.parse(shard)
    file = dataset_file(dataset)
    all_records, records = _shard_records(file, shard, limit)
    parts = key_parts(card, config, _sha256(file), images_sha256(all_records, file.parent), shard)
    out = out_folder(out)
    pred_path = out / PREDICTIONS
    old_info = _previous_run(out, card, parts, file, restart)
    if warn is not None:
        _warn_refused_images(records, file, warn)
        _warn_missing_images(records, file.parent, warn)
    done = _kept_predictions(pred_path, retry_errors)
    done_ids = {str(r.get("subject_id")) for r in done}
    todo = [r for r in records if r.patient_id not in done_ids]
    info = _run_info(card, config, preset, file, parts, shard, len(records))
    make = backend_factory or load_backend
    scrub = _scrubber(card)
    stats = {"new": 0, "errors_new": 0, "prompt_tokens": 0, "completion_tokens": 0, "cost_usd": 0.0}
    t_start = time.perf_counter()
    load_s = 0.0
    bar = None
    writer = None
    backend = None
    refused = False
    if isinstance(old_info.get("backend"), dict):  # kept until this run's backend says otherwise
        info["backend"] = old_info["backend"]
    try:
        backend = make(card) if todo else None
        load_s = time.perf_counter() - t_start  # model loading: not part of the throughput figures
        out.mkdir(parents=True, exist_ok=True)
        if backend is not None:
            info["backend"] = backend.describe()
            try:
                _check_same_revision(out, old_info, info["backend"])
            except InputError:
                backend.close()
                backend, refused = None, True  # the folder's run.json stays as it was
                raise
        write_json(out / RUN_JSON, info)
        writer = PredictionWriter(pred_path)
        bar = tqdm(total=len(records), initial=len(records) - len(todo), desc=card["name"], unit="study",
                   disable=None if progress else True, file=sys.stderr)  # None: a terminal only
        if backend is not None:
            with backend:
                requests, failed = _requests(todo, file.parent, config, backend)
                for req, gen, elapsed in itertools.chain(failed, answers(backend, requests)):
                    pred = _prediction(req, gen, elapsed, card["name"], scrub)
                    writer.write(pred.to_record())
                    _tally(stats, gen)
                    bar.update(1)
        info.update(status="complete")
    except KeyboardInterrupt:
        info.update(status="interrupted")
        raise
    except BaseException as exc:
        info.update(status="failed", failure=scrub(error_text(exc)))
        raise
    finally:
        if bar is not None:
            bar.close()
        if writer is not None:
            writer.close()
        if backend is not None:  # what the backend learned while running (server model, retries, ...)
            try:
                info["backend"] = backend.describe()
            except Exception:  # noqa: BLE001 - facts are a bonus; the run's status matters more
                pass
        _finish(info, stats, done, time.perf_counter() - t_start, load_s)
        if out.is_dir() and not refused:
            write_json(out / RUN_JSON, info)
    return pred_path



def _run_card(model: str | dict[str, Any], batch_size: int | None, limit: int | None,
              card_overrides: dict[str, Any]) -> dict[str, Any]:
    """The card of the run: `model`'s (a SPEC or a card) with the runtime settings given (not None) over it."""
    if batch_size is not None:
        if batch_size < 1:
            raise InputError(f"batch_size={batch_size}: must be at least 1")
        card_overrides["batch_size"] = batch_size
    if limit is not None and limit < 1:
        raise InputError(f"limit={limit}: must be at least 1")
    card = load_card(model) if not isinstance(model, dict) else dict(model)
    card.update({k: v for k, v in card_overrides.items() if v is not None})
    return card


def _shard_records(file: Path, shard: Shard, limit: int | None) -> tuple[list[PromptRecord], list[PromptRecord]]:
    """(every record of the dataset, the records of this run: the shard's, the first `limit`); none is an error."""
    all_records = read_dataset(file)
    if not all_records:
        raise InputError(f"{file}: no records (the dataset is empty)")
    records = shard.select(all_records)
    if limit is not None:
        records = records[:limit]
    if not records:
        raise InputError(f"{file}: shard {shard.index}/{shard.count} holds no records "
                         f"(the dataset has {len(all_records)})")
    return all_records, records


def _previous_run(out: Path, card: dict[str, Any], parts: dict[str, Any], file: Path, restart: bool) -> dict[str, Any]:
    """The run.json of the run folder `out` when it holds the same run (else InputError); with `restart` its
    predictions and run.json are removed first and nothing is checked."""
    if restart:
        for name in (PREDICTIONS, RUN_JSON):
            (out / name).unlink(missing_ok=True)
        return {}
    return _check_same_run(out, card, parts, file)


def _kept_predictions(pred_path: Path, retry_errors: bool) -> list[dict[str, Any]]:
    """The predictions already written (a torn last line cut), those with an error dropped with `retry_errors`."""
    done = read_prediction_records(pred_path, repair=True)
    if retry_errors and any(r.get("error") for r in done):
        done = _drop_errors(pred_path, done)
    return done


def _run_info(card: dict[str, Any], config: GenerationConfig, preset: str | None, file: Path,
              parts: dict[str, Any], shard: Shard, n_records: int) -> dict[str, Any]:
    """run.json as the run starts (status running): what ran, on what, with which settings and key."""
    from . import __version__

    return {
        "model": card["name"],
        "card": card_summary(card),
        "generation": config.to_dict(),
        "preset": preset,
        "dataset": str(file.resolve()),
        "dataset_sha256": parts["dataset"],
        "images_sha256": parts["images"],
        "shard": shard.to_dict(),
        "key_parts": parts,
        "resume_key": stable_hash(parts),
        "n_records": n_records,
        "batch_size": card.get("batch_size"),
        "pet2rep_version": __version__,
        "python": platform.python_version(),
        "platform": platform.platform(),
        "started": _now(),
        "status": "running",
    }

def _requests(todo: list[PromptRecord], root: Path, config: GenerationConfig,
              backend: Backend) -> tuple[list[Request], list[tuple[Request, Generation, float]]]:
    """Requests for the backend, and those failed before any call (an image a model needs is missing)."""
    requests, failed = [], []
    for rec in todo:
        req = to_request(rec, root, config)
        refused = next((p for p in image_parts(req.messages) if p.problem), None)
        missing = req.missing_images if backend.needs_images else []
        if refused is not None:  # whatever the backend: a dataset may not point a run at files outside it
            reason = f"image '{short(refused.source, 120)}' {short(refused.problem, 300)}; refused"
            failed.append((req, Generation.failed(req.id, reason), 0.0))
        elif missing:
            reason = f"image '{missing[0]}' not found under {root}" + (
                f" (and {len(missing) - 1} more)" if len(missing) > 1 else "")
            failed.append((req, Generation.failed(req.id, reason), 0.0))
        else:
            requests.append(req)
    return requests, failed


def _prediction(req: Request, gen: Generation, elapsed: float, model: str,
                scrub: Callable[[str], str]) -> PredictionRecord:
    extra = dict(gen.extra)
    return PredictionRecord(
        req.id, scrub(gen.text), model, req.lang, req.reference,
        finish_reason="error" if gen.error else gen.finish_reason,
        error=scrub(gen.error) if gen.error else None,
        latency_s=gen.latency_s if gen.latency_s is not None else elapsed,
        prompt_tokens=gen.prompt_tokens, completion_tokens=gen.completion_tokens, extra=extra,
    )


def _tally(stats: dict[str, Any], gen: Generation) -> None:
    stats["new"] += 1
    stats["errors_new"] += gen.error is not None
    stats["prompt_tokens"] += gen.prompt_tokens or 0
    stats["completion_tokens"] += gen.completion_tokens or 0
    stats["cost_usd"] += float(gen.extra.get("cost_usd") or 0.0)


def _finish(info: dict[str, Any], stats: dict[str, Any], done: list[dict[str, Any]], wall: float,
            load_s: float = 0.0) -> None:
    """Counts, tokens, cost and throughput; studies/h and tokens/s are over generation, without model loading."""
    new = stats["new"]
    info.update(
        finished=_now(), n_predictions=len(done) + new, n_new=new,
        n_errors=sum(1 for r in done if r.get("error")) + stats["errors_new"], n_errors_new=stats["errors_new"],
        wall_s=round(wall, 3), load_s=round(load_s, 3), prompt_tokens_new=stats["prompt_tokens"],
        completion_tokens_new=stats["completion_tokens"],
    )
    if stats["cost_usd"]:
        info["cost_usd_new"] = round(stats["cost_usd"], 6)
    gen_s = wall - load_s
    if new and gen_s > 0:
        info["studies_per_hour"] = round(new / gen_s * 3600, 2)
        if stats["completion_tokens"]:
            info["output_tokens_per_s"] = round(stats["completion_tokens"] / gen_s, 2)


MAX_SHARDS = 100_000


def _check_shard_field(info_path: Path, shard: Any) -> None:
    """run.json's `shard`: null (one run) or {"index": I, "count": N} with 0 <= I < N <= MAX_SHARDS."""
    if shard is None:
        return
    ok = isinstance(shard, dict) and all(isinstance(shard.get(k), int) and not isinstance(shard.get(k), bool)
                                         for k in ("index", "count"))
    if not ok or not 0 <= shard["index"] < shard["count"] <= MAX_SHARDS:
        raise InputError(f"{info_path}: 'shard' is {short(json.dumps(shard), 120)}; expected null or "
                         f'{{"index": I, "count": N}} with 0 <= I < N <= {MAX_SHARDS:,}')


def _torn(path: Path, n_records: int) -> bool:
    """Whether a predictions file holds more non-empty lines than the records read from it (a cut last line)."""
    with open(path, "rb") as fh:
        return sum(1 for line in fh if line.strip()) > n_records


def _drop_errors(pred_path: Path, done: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Rewrite the predictions without the failed ones, atomically."""
    kept = [r for r in done if not r.get("error")]
    atomic_write_jsonl(pred_path, kept)
    return kept


# --------------------------------------------------------------------------------------------------
# merging shards


def merge_runs(runs: Sequence[str | os.PathLike], out: str | os.PathLike, warn: Warn | None = None) -> Path:
    """Join the shard folders of one run into `out` (predictions in dataset order, a run.json for the whole).

    Refused (InputError, nothing written): a folder that is not a run, runs of different models, settings,
    datasets or images, two folders of the same shard, or one study answered in two shards. A missing shard
    is allowed with a warning (the merged run is then partial: run.json status "partial").
    """
    if not runs:
        raise InputError("merge: give the run folders to join")
    infos, recs_by_run = [], []
    for run in map(Path, runs):
        info_path = run / RUN_JSON
        if not info_path.is_file() or not (run / PREDICTIONS).is_file():
            raise InputError(f"{run}: not a run folder (no {RUN_JSON} and {PREDICTIONS})")
        try:
            info = json.loads(info_path.read_text(encoding="utf-8"))
        except (json.JSONDecodeError, UnicodeDecodeError, RecursionError):
            raise InputError(f"{info_path}: invalid JSON") from None
        if not isinstance(info, dict) or not isinstance(info.get("key_parts"), dict):
            raise InputError(f"{info_path}: no resume key (made by an older pet2rep?); cannot check it")
        _check_shard_field(info_path, info.get("shard"))
        infos.append((run, info))
        recs = read_prediction_records(run / PREDICTIONS)
        if warn is not None and _torn(run / PREDICTIONS, len(recs)):
            warn(f"warning: {run / PREDICTIONS}: its last line is cut short (a crash while writing?) and left out; "
                 "run generate on that shard again to answer the study")
        recs_by_run.append(recs)
    run0, first = infos[0]
    same = {k: v for k, v in first["key_parts"].items() if k != "shard"}
    for run, info in infos[1:]:
        if info.get("model") != first.get("model"):
            raise InputError(f"{run}: a run of '{short(info.get('model'))}', but {run0} is of "
                             f"'{short(first.get('model'))}'")
        for k, v in same.items():
            if info["key_parts"].get(k) != v:
                raise InputError(f"{run}: different {k} from {run0}; shards of one run must share model card, "
                                 "generation settings, dataset and images")
    shards = [info.get("shard") or {"index": 0, "count": 1} for _, info in infos]
    counts = {s["count"] for s in shards}
    if len(counts) > 1:
        raise InputError(f"merge: the runs split the dataset differently (COUNT {sorted(counts)})")
    seen_shard: dict[int, Path] = {}
    for (run, _), s in zip(infos, shards):
        if s["index"] in seen_shard:
            raise InputError(f"{run}: shard {s['index']}/{s['count']} again (also {seen_shard[s['index']]})")
        seen_shard[s["index"]] = run
    by_id: dict[str, dict[str, Any]] = {}
    for (run, _), recs in zip(infos, recs_by_run):
        for r in recs:
            sid = str(r["subject_id"])
            if sid in by_id:
                raise InputError(f"{run}: study '{short(sid)}' is also in another shard; shards must not overlap")
            by_id[sid] = r
    count = counts.pop()
    missing = sorted(set(range(count)) - set(seen_shard))
    dataset = Path(first["dataset"]) if isinstance(first.get("dataset"), str) and first["dataset"] else None
    order: list[str] = []
    if dataset is not None and dataset.is_file():
        order = [r.patient_id for r in read_dataset(dataset)]
    rank = {sid: i for i, sid in enumerate(order)}
    merged = sorted(by_id.values(), key=lambda r: (rank.get(str(r["subject_id"]), len(rank)), str(r["subject_id"])))
    out = out_folder(out)
    if out.resolve() in {Path(r).resolve() for r, _ in infos}:
        raise InputError(f"{out}: out= is one of the shards; give a new folder")
    if (out / PREDICTIONS).exists():
        raise InputError(f"{out}: already holds {PREDICTIONS}; give a new folder")
    out.mkdir(parents=True, exist_ok=True)
    atomic_write_jsonl(out / PREDICTIONS, merged)
    parts = {**first["key_parts"], "shard": None}
    info = {k: v for k, v in first.items() if k not in ("shard", "backend", "started", "finished", "failure")}
    info.update(
        shard=None, key_parts=parts, resume_key=stable_hash(parts), merged_from=[str(r) for r, _ in infos],
        backends=[i.get("backend") for _, i in infos], n_records=len(order) or len(merged),
        n_predictions=len(merged), n_errors=sum(1 for r in merged if r.get("error")),
        status="partial" if missing or any(i.get("status") != "complete" for _, i in infos) else "complete",
        merged=_now(),
    )
    for key in ("n_new", "n_errors_new", "wall_s", "load_s", "studies_per_hour", "output_tokens_per_s"):
        info.pop(key, None)
    write_json(out / RUN_JSON, info)
    if missing and warn is not None:
        more = f" and {len(missing) - 20} more" if len(missing) > 20 else ""
        warn(f"warning: shard(s) {', '.join(f'{i}/{count}' for i in missing[:20])}{more} missing; the merged run is "
             "partial")
    return out / PREDICTIONS
