"""Build PET2Rep prompt datasets from study folders: render views, fill the zh/en template, write JSONL.

The zh template is the benchmark's own (``templates/user.zh.txt`` is the demo's ``prompt_user_text`` with the
``<image>`` tokens replaced by ``{image_tokens}``); ``user.en.txt`` is an English template of the same structure.
"""

from __future__ import annotations

import sys
from collections.abc import Callable
from functools import cache
from importlib import resources
from pathlib import Path

from ..errors import InputError, Pet2RepError
from ..io import safe_join
from .dataset import DATASET_FILE, IMAGE_TOKEN, PromptRecord, write_dataset

LANGS = ("zh", "en")
IMAGE_DIR = "slice_prompt"


@cache
def template_text(kind: str, lang: str) -> str:
    """The packaged template `kind` ('system' or 'user') in `lang`."""
    if lang not in LANGS:
        raise InputError(f"unknown prompt language '{lang}' (choose from {', '.join(LANGS)})")
    return resources.files("pet2rep.prompts").joinpath(f"templates/{kind}.{lang}.txt").read_text("utf-8")


def user_text(lang: str, n_images: int) -> str:
    """The user prompt with one ``<image>`` token per image, space-separated as in the benchmark."""
    return template_text("user", lang).replace("{image_tokens}", " ".join([IMAGE_TOKEN] * n_images))


def report_template(lang: str) -> str:
    """The structured report example inside the user prompt (the text the model is asked to edit)."""
    text = template_text("user", lang)
    marker = "严格按照以下格式输出：\n" if lang == "zh" else "output strictly in this format:\n"
    return text.split(marker, 1)[1]


def make_record(
    patient_id: str,
    images: list[str],
    lang: str = "zh",
    answer: str | None = None,
    separate: bool = False,
    task: str = "PET2Rep",
) -> PromptRecord:
    """One benchmark record for a study whose view images are `images` (paths relative to the dataset)."""
    return PromptRecord(
        patient_id=patient_id,
        task=task,
        prompt_system=template_text("system", lang),
        images=list(images),
        prompt_user_text=user_text(lang, len(images)),
        answer=answer,
        image_field="prompt_image_separate" if separate else "prompt_image_fuse",
    )


def build_dataset(
    studies: list[Path],
    out: Path,
    *,
    lang: str = "zh",
    mode: str = "fused",
    slices: list[int] | None = None,
    fractions: list[float] | None = None,
    fmt: str = "jpg",
    progress: bool | None = True,
    on_error: Callable[[str], None] | None = None,
    on_warning: Callable[[str], None] | None = None,
) -> tuple[Path, list[str]]:
    """Render each study into ``out/slice_prompt/<id>/`` and write ``out/prompts.jsonl``.

    Returns the JSONL path and the list of one-line errors of studies that failed (they are skipped; each is
    also passed to `on_error` as it happens). When no study succeeds nothing is written (an existing
    prompts.jsonl is kept) and InputError is raised. A study without a reference report in `lang` still
    gets a record, with ``"answer": null``, and a one-line warning naming it goes to `on_warning`.
    `progress`: True shows a progress bar on stderr only when stderr is a terminal, False never.
    Every image is written through `safe_join(out, ...)`: a study id can never place a file outside `out`.
    """
    from tqdm import tqdm

    from ..render import render_study
    from ..study import read_study

    if mode not in ("fused", "separate"):
        raise InputError(f"prompt mode must be 'fused' or 'separate', not '{mode}'")
    out = Path(out)
    records: list[PromptRecord] = []
    errors: list[str] = []
    used: dict[str, Path] = {}

    def tell(callback: Callable[[str], None] | None, line: str) -> None:
        if callback is not None:
            with tqdm.external_write_mode(file=sys.stderr):  # not glued to the progress bar's line
                callback(line)

    for folder in tqdm(studies, desc="prompts", unit="study", disable=None if progress else True, file=sys.stderr):
        try:
            study = read_study(folder, arrays=False)  # the study id is checked there (pet2rep.io.check_id)
            sid = study.study_id
            if sid in used:
                raise InputError(f"study id {sid!r} is also the id of {used[sid]}; each study needs its own id")
            rel_dir = Path(IMAGE_DIR) / sid
            views = render_study(
                folder, safe_join(out, IMAGE_DIR, sid), mode=mode, slices=slices, fractions=fractions, fmt=fmt,
                prefix=sid,
            )
            used[sid] = folder
            images = [str(rel_dir / img["file"]) for img in views["images"]]
            answer = study.report(lang)
            if answer is None:
                tell(on_warning, f"{folder}: no report.{lang}.txt; its record has \"answer\": null "
                                 "(evaluate cannot score this study)")
            records.append(make_record(sid, images, lang, answer, separate=mode == "separate"))
        except (Pet2RepError, OSError, ValueError) as exc:
            errors.append(f"{folder}: {' '.join(str(exc).split()) or type(exc).__name__}")
            tell(on_error, errors[-1])
    if not records:
        where = out / DATASET_FILE
        keep = f"; {where} left unchanged" if where.exists() else ""
        if len(studies) == 1 and errors and on_error is None:  # one study: its problem is the one line
            raise InputError(f"{errors[0]}; no prompt written{keep}")
        first = f" (first: {errors[0]})" if errors and on_error is None else ""
        failed = "the study failed" if len(studies) == 1 else f"all {len(studies)} studies failed"
        raise InputError(f"{failed}, no prompt written{first}{keep}")
    return write_dataset(records, out), errors

