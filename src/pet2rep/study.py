"""Study and Volume: plain arrays + affines + metadata, and the study folder on disk.

A study folder holds:

    pet_suv.nii.gz   PET in SUVbw, float32, on the PET grid
    ct.nii.gz        CT in HU, on its own grid (int16 or float32)
    study.json       ids, sex, age, weight, dose, times, tracer, provenance, lesions (synthetic)
    report.zh.txt    reference report (optional; one file per language)
    report.en.txt
    labels.json      ground-truth organ uptake labels {organ_id: [states]} (optional)

A Volume is a voxel array and a 4x4 affine mapping voxel indices (i, j, k) to RAS+ millimetres, the
NIfTI/nibabel convention: nothing hidden, no implicit reorientation.
"""

from __future__ import annotations

import gzip
import json
import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from .errors import InputError

PET_FILE = "pet_suv.nii.gz"
CT_FILE = "ct.nii.gz"
META_FILE = "study.json"
LABELS_FILE = "labels.json"


class StudyError(InputError):
    """A study cannot be read or made; the message is one line naming the file and the problem."""


@dataclass
class Volume:
    """A 3-D image: `data[i, j, k]` with `affine @ [i, j, k, 1]` giving RAS+ mm."""

    data: np.ndarray
    affine: np.ndarray

    @property
    def shape(self) -> tuple[int, ...]:
        return tuple(self.data.shape)

    @property
    def zooms(self) -> np.ndarray:
        """Voxel sizes in mm along i, j, k."""
        return np.sqrt((self.affine[:3, :3] ** 2).sum(axis=0))


@dataclass
class Study:
    """One PET/CT exam. `pet`/`ct` may be None when only metadata was loaded."""

    study_id: str
    pet: Volume | None = None
    ct: Volume | None = None
    meta: dict[str, Any] = field(default_factory=dict)
    reports: dict[str, str] = field(default_factory=dict)  # lang -> reference report text
    labels: dict[str, list[str]] | None = None  # ground-truth organ uptake labels
    folder: Path | None = None

    def report(self, lang: str = "zh") -> str | None:
        return self.reports.get(lang)


# --------------------------------------------------------------------------------------- NIfTI I/O


def _gunzip(path: Path) -> bytes:
    """Whole-file inflate, with ISA-L when installed (about 2x faster than zlib)."""
    raw = path.read_bytes()
    try:
        from isal import igzip

        return igzip.decompress(raw)
    except ImportError:  # pragma: no cover - isal missing on exotic platforms
        return gzip.decompress(raw)


def load_nifti(path: str | os.PathLike, dtype: Any = None) -> Volume:
    """Read a .nii or .nii.gz into a Volume (scaling applied; `dtype` casts the result)."""
    import nibabel as nib

    path = Path(path)
    if not path.exists():
        raise StudyError(f"{path}: file not found")
    try:
        if path.name.endswith(".gz"):
            img = nib.Nifti1Image.from_bytes(_gunzip(path))
        else:
            img = nib.load(str(path))
        data = np.asanyarray(img.dataobj)
    except Exception as exc:  # nibabel raises many kinds
        raise StudyError(f"{path}: not a readable NIfTI file ({exc})") from None
    if data.ndim == 4 and data.shape[3] == 1:
        data = data[..., 0]
    if data.ndim != 3:
        raise StudyError(f"{path}: expected a 3-D image, got shape {data.shape}")
    if dtype is not None:
        data = data.astype(dtype, copy=False)
    return Volume(np.asarray(data), np.asarray(img.affine, dtype=np.float64))


def save_nifti(vol: Volume, path: str | os.PathLike, compresslevel: int = 1) -> None:
    """Write a Volume as NIfTI-1 (gzip level 1 by default: fast, still small). Atomic."""
    import nibabel as nib

    path = Path(path)
    img = nib.Nifti1Image(vol.data, vol.affine)
    img.set_qform(vol.affine, code=1)
    img.set_sform(vol.affine, code=1)
    tmp = path.with_name(path.name + ".part")
    payload = img.to_bytes()
    if path.name.endswith(".gz"):
        try:
            from isal import igzip

            payload = igzip.compress(payload, compresslevel=min(compresslevel, 3))
        except ImportError:  # pragma: no cover
            payload = gzip.compress(payload, compresslevel=compresslevel)
    tmp.write_bytes(payload)
    os.replace(tmp, path)


# --------------------------------------------------------------------------------------- folder I/O


def write_json(path: Path, obj: Any) -> None:
    """Write JSON atomically (UTF-8, non-ASCII kept, indented)."""
    tmp = path.with_name(path.name + ".part")
    tmp.write_text(json.dumps(obj, ensure_ascii=False, indent=2) + "\n", encoding="utf-8")
    os.replace(tmp, path)


def write_study(study: Study, folder: str | os.PathLike) -> Path:
    """Write a study folder (arrays only if present). Returns the folder."""
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    if study.pet is not None:
        save_nifti(Volume(study.pet.data.astype(np.float32, copy=False), study.pet.affine), folder / PET_FILE)
    if study.ct is not None:
        save_nifti(study.ct, folder / CT_FILE)
    for lang, text in study.reports.items():
        (folder / f"report.{lang}.txt").write_text(text, encoding="utf-8")
    if study.labels is not None:
        write_json(folder / LABELS_FILE, study.labels)
    meta = dict(study.meta)
    meta["study_id"] = study.study_id
    write_json(folder / META_FILE, meta)
    study.folder = folder
    return folder


def read_study(folder: str | os.PathLike, arrays: bool = True) -> Study:
    """Read a study folder. With `arrays=False` only metadata, reports and labels are read."""
    folder = Path(folder)
    meta_path = folder / META_FILE
    if not meta_path.exists():
        raise StudyError(f"{folder}: not a study folder (no {META_FILE})")
    try:
        meta = json.loads(meta_path.read_text(encoding="utf-8"))
    except (json.JSONDecodeError, UnicodeDecodeError) as exc:
        raise StudyError(f"{meta_path}: invalid JSON ({exc})") from None
    reports = {}
    for p in sorted(folder.glob("report.*.txt")):
        reports[p.name.split(".")[1]] = p.read_text(encoding="utf-8")
    labels = None
    if (folder / LABELS_FILE).exists():
        labels = json.loads((folder / LABELS_FILE).read_text(encoding="utf-8"))
    study = Study(
        study_id=str(meta.get("study_id", folder.name)),
        meta=meta,
        reports=reports,
        labels=labels,
        folder=folder,
    )
    if arrays:
        study.pet = load_nifti(folder / PET_FILE, np.float32)
        if (folder / CT_FILE).exists():
            study.ct = load_nifti(folder / CT_FILE)
    return study


def find_studies(root: str | os.PathLike) -> list[Path]:
    """Study folders under `root` (the folder itself, or its sub-folders holding study.json), sorted."""
    root = Path(root)
    if (root / META_FILE).exists():
        return [root]
    return sorted(p.parent for p in root.glob(f"*/{META_FILE}"))
