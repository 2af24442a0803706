"""DICOM PET/CT ingest: series discovery, slice geometry, QIBA vendor-neutral SUVbw.

The flow of `ingest_dicom`:

1. `scan_dicom` walks folders recursively, reads headers only (`stop_before_pixels`) and groups
   files by SeriesInstanceUID; files that are not DICOM are skipped and counted.
   Enhanced and Legacy Converted Enhanced PET/CT multi-frame files add one slice per frame, with a
   flat header built from the functional groups (`dicom_enhanced.expand_frames`).
2. `select_series` picks the PET and CT series (the attenuation-corrected PET with the most slices;
   the CT sharing the PET's FrameOfReferenceUID with the most slices) and records why.
3. `slice_geometry` refuses unsupported multi-frame files and series mixing single-frame and enhanced
   files, sorts slices along the slice normal and builds the voxel -> RAS+ mm affine
   (DICOM patient space is LPS; NIfTI/nibabel is RAS, so x and y are negated).
4. `suv_parameters` applies the QIBA rules (Units or the Real World Value Mapping's units,
   CorrectedImage/DecayCorrection or Enhanced PET DecayCorrected/DecayCorrectionDateTime, decay
   reference time, injection time across midnight, UTC offsets, dose (MBq in Enhanced PET), half-life,
   weight) and gives one SUVbw factor per slice that multiplies the rescaled pixel values; anything
   missing is an `InputError` naming the tag.
5. `read_pixels` reads the pixel data in sorted order (each file once) applying each slice's
   RescaleSlope/Intercept; a compressed transfer syntax without an installed decoder is refused first,
   naming the file, the transfer syntax and what to install.

Times: a DT with a UTC offset suffix is at that offset; DA/TM and DT without one are in the data set's
TimezoneOffsetFromUTC (0008,0201), else in the zone of the first DT that has an offset (`header_times`).

Voxel convention: `data[i, j, k]` with i = DICOM column, j = DICOM row, k = sorted slice.
"""

from __future__ import annotations

import math
import os
import re
import sys
import warnings as _pywarnings
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta, timezone, tzinfo
from pathlib import Path
from typing import Any

import numpy as np

from ..errors import InputError, plain
from ..io import id_problem, safe_join, staged_folder
from ..study import CT_FILE, META_FILE, Study, Volume, check_overlap, write_study
from . import check_facts, study_id_for
from .dicom_enhanced import ENHANCED_PET, QUANTITATIVE, expand_frames, is_multiframe, pet_units, rwv_conflict

# Tags named in messages: keyword -> "(gggg,eeee)".
TAGS = {
    "PatientWeight": "(0010,1030)",
    "PatientSize": "(0010,1020)",
    "Units": "(0054,1001)",
    "CorrectedImage": "(0028,0051)",
    "DecayCorrection": "(0054,1102)",
    "SeriesDate": "(0008,0021)",
    "SeriesTime": "(0008,0031)",
    "AcquisitionDate": "(0008,0022)",
    "AcquisitionTime": "(0008,0032)",
    "RadiopharmaceuticalInformationSequence": "(0054,0016)",
    "RadionuclideTotalDose": "(0018,1074)",
    "RadionuclideHalfLife": "(0018,1075)",
    "RadiopharmaceuticalStartTime": "(0018,1072)",
    "RadiopharmaceuticalStartDateTime": "(0018,1078)",
    "ImageOrientationPatient": "(0020,0037)",
    "ImagePositionPatient": "(0020,0032)",
    "PixelSpacing": "(0028,0030)",
    "TimezoneOffsetFromUTC": "(0008,0201)",
    "DecayCorrected": "(0018,9758)",
    "DecayCorrectionDateTime": "(0018,9701)",
    "RealWorldValueMappingSequence": "(0040,9096)",
}

PHILIPS_CREATOR = "Philips PET Private Group"
GE_PET_CREATOR = "GEMS_PETD_01"

_DT_RE = re.compile(r"^(\d{4})(\d{2})?(\d{2})?(\d{2})?(\d{2})?(\d{2})?(\.\d{1,6})?([+-]\d{4})?$")
_TM_RE = re.compile(r"^(\d{2})(\d{2})?(\d{2})?(\.\d{1,6})?$")
_TZ_RE = re.compile(r"^([+-])(\d{2})(\d{2})$")


def _tag(keyword: str) -> str:
    return f"{keyword} {TAGS.get(keyword, '')}".strip()


def _single_line(text: object) -> str:
    return " ".join(str(text).split())


def _exc_line(exc: BaseException, limit: int = 200) -> str:
    """The first line of an exception message (pydicom appends whole tracebacks), shortened; a first
    line ending in ':' keeps the next one ('... raised by all available plugins: pillow: ...')."""
    lines = [ln.strip() for ln in str(exc).splitlines() if ln.strip()]
    text = lines[0] if lines else type(exc).__name__
    if text.endswith(":") and len(lines) > 1:
        text = f"{text} {lines[1]}"
    return text if len(text) <= limit else text[: limit - 3] + "..."


def _shown(value: Any) -> str:
    """A header value as messages show it: numbers plainly, several values as [a, b], text quoted."""
    if isinstance(value, (list, tuple)) or type(value).__name__ == "MultiValue":
        return "[" + ", ".join(_shown(v) for v in value) + "]"
    try:
        return plain(float(value))
    except (TypeError, ValueError):
        return repr(str(value))


def _values(ds: Any, keyword: str) -> list[str]:
    """A multi-valued CS attribute as upper-case strings (pydicom gives a plain str when VM is 1)."""
    value = ds.get(keyword)
    if value is None or value == "":
        return []
    if isinstance(value, (str, bytes)):
        value = [value]
    return [str(v).strip().upper() for v in value]


# ------------------------------------------------------------------------------------ date and time


def parse_da(value: object) -> date | None:
    """DICOM DA ('YYYYMMDD', legacy 'YYYY.MM.DD') to a date; None when empty or malformed."""
    s = str(value or "").strip().replace(".", "").replace("-", "")
    if len(s) != 8 or not s.isdigit():
        return None
    try:
        return date(int(s[:4]), int(s[4:6]), int(s[6:8]))
    except ValueError:
        return None


def parse_tm(value: object) -> timedelta | None:
    """DICOM TM ('HHMMSS.FFFFFF', also 'HHMM', 'HH', legacy 'HH:MM:SS') to a time of day."""
    s = str(value or "").strip().replace(":", "")
    m = _TM_RE.match(s)
    if not m:
        return None
    h, mi, se, frac = int(m[1]), int(m[2] or 0), int(m[3] or 0), float(m[4] or 0.0)
    if h > 23 or mi > 59 or se > 60:
        return None
    return timedelta(hours=h, minutes=mi, seconds=se + frac)


def parse_tz(value: object) -> timezone | None:
    """A UTC offset '&ZZXX' ('+0100', '-0530'; TimezoneOffsetFromUTC or a DT suffix) to a timezone;
    None when empty or malformed (outside -1200..+1400)."""
    m = _TZ_RE.match(str(value or "").strip())
    if not m:
        return None
    minutes = int(m[2]) * 60 + int(m[3])
    if int(m[3]) > 59 or (m[1] == "-" and minutes > 12 * 60) or (m[1] == "+" and minutes > 14 * 60):
        return None
    return timezone(timedelta(minutes=-minutes if m[1] == "-" else minutes))


def parse_dt(value: object, tz: tzinfo | None = None) -> datetime | None:
    """DICOM DT ('YYYYMMDDHHMMSS.FFFFFF&ZZXX') to a datetime.

    A DT with its own UTC offset suffix gives an aware datetime in that offset; one without gives a naive
    datetime, or one in `tz` when given (the data set's TimezoneOffsetFromUTC).
    """
    s = str(value or "").strip()
    m = _DT_RE.match(s)
    if not m or m[2] is None or m[3] is None:
        return None
    try:
        d = datetime(int(m[1]), int(m[2]), int(m[3]))
    except ValueError:
        return None
    if m[8]:
        own = parse_tz(m[8])
        if own is None:
            return None
        tz = own
    d += timedelta(hours=int(m[4] or 0), minutes=int(m[5] or 0), seconds=int(m[6] or 0) + float(m[7] or 0.0))
    return d if tz is None else d.replace(tzinfo=tz)


def time_of_day(text: str) -> timedelta:
    """A given injection clock time 'HH:MM' or 'HH:MM:SS' as the time since midnight (the exam date comes from
    the header; `pet2rep.ingest.nifti.parse_clock` reads the NIfTI path's times and date-times instead)."""
    m = re.fullmatch(r"(\d{1,2}):(\d{2})(?::(\d{2}(?:\.\d+)?))?", text.strip())
    if not m or int(m[1]) > 23 or int(m[2]) > 59:
        raise InputError(f"injection_time={text!r}: expected HH:MM or HH:MM:SS")
    return timedelta(hours=int(m[1]), minutes=int(m[2]), seconds=float(m[3] or 0))


def _combine(d: date | None, t: timedelta | None, tz: tzinfo | None = None) -> datetime | None:
    """A DA and a TM (as parsed) to a datetime, in `tz` when given (TM values carry no offset)."""
    if d is None or t is None:
        return None
    return datetime(d.year, d.month, d.day, tzinfo=tz) + t


def _iso(dt: datetime | None) -> str | None:
    return None if dt is None else dt.isoformat(timespec="seconds" if dt.microsecond == 0 else "milliseconds")


# ------------------------------------------------------------------------------------ discovery


@dataclass
class Series:
    """One DICOM series: its slices (a classic file, or one frame of an enhanced multi-frame file) and
    their headers (no pixel data), in discovery order. `frames[i]` is None for a single-frame file, else
    the 0-based frame index in `files[i]`. `problems` holds why a file of it cannot be read as a volume."""

    uid: str
    modality: str
    files: list[Path] = field(default_factory=list)
    headers: list[Any] = field(default_factory=list)
    frames: list[int | None] = field(default_factory=list)
    problems: list[str] = field(default_factory=list)

    @property
    def n(self) -> int:
        """Number of slices (frames of multi-frame files count one each)."""
        return len(self.files)

    @property
    def n_files(self) -> int:
        return len(set(self.files))

    @property
    def first(self) -> Any:
        return self.headers[0]

    @property
    def description(self) -> str:
        return str(self.first.get("SeriesDescription", "") or "")

    @property
    def frame_of_reference(self) -> str:
        return str(self.first.get("FrameOfReferenceUID", "") or "")

    @property
    def folder(self) -> Path:
        """The deepest folder holding all of the series' files."""
        return Path(os.path.commonpath([str(p.parent) for p in self.files]))

    def add(self, path: Path, header: Any, frame: int | None = None) -> None:
        self.files.append(path)
        self.headers.append(header)
        self.frames.append(frame)

    def slice_name(self, idx: int) -> str:
        """How messages name slice `idx`: the file name, plus 'frame N' (1-based) inside a multi-frame file."""
        frame = self.frames[idx] if idx < len(self.frames) else None
        name = self.files[idx].name
        return name if frame is None else f"{name} frame {frame + 1}"

    def label(self) -> str:
        """How messages name the series: modality, UID, description, folder."""
        desc = f" '{self.description}'" if self.description else ""
        return f"{self.modality} series {self.uid}{desc} in {self.folder}"

    def summary(self) -> dict[str, Any]:
        return {
            "uid": self.uid,
            "modality": self.modality,
            "description": self.description,
            "n_files": self.n_files,
            "n_slices": self.n,
            "frame_of_reference_uid": self.frame_of_reference,
            "folder": str(self.folder),
        }


def dicom_kind(path: Path) -> str | None:
    """'part10' for a DICOM file with the preamble ('DICM' at byte 128), 'raw' for a bare data set
    starting with an (0008,xxxx) or (0002,xxxx) element (no preamble), else None (not DICOM)."""
    try:
        with open(path, "rb") as fh:
            head = fh.read(132)
    except OSError:
        return None
    if head[128:132] == b"DICM":
        return "part10"
    if len(head) >= 8 and head[:2] in (b"\x08\x00", b"\x02\x00") and head[3] == 0:
        return "raw"
    return None


def is_dicom_file(path: Path) -> bool:
    """True when the file looks like DICOM (with or without the Part 10 preamble)."""
    return dicom_kind(path) is not None


def _read(path: Path, stop_before_pixels: bool) -> Any:
    """dcmread, accepting bare data sets; gives the file meta a transfer syntax so pixels decode."""
    import pydicom
    from pydicom.errors import InvalidDicomError
    from pydicom.uid import ExplicitVRBigEndian, ExplicitVRLittleEndian, ImplicitVRLittleEndian

    with _pywarnings.catch_warnings():
        _pywarnings.simplefilter("ignore")  # pydicom's remarks on values it reads leniently (a UID with a stray byte)
        try:
            ds = pydicom.dcmread(path, stop_before_pixels=stop_before_pixels, force=dicom_kind(path) == "raw")
            _convert_all(ds)
            if getattr(ds, "file_meta", None) is not None:
                _convert_all(ds.file_meta)
        except (InvalidDicomError, OSError):
            raise
        except Exception as exc:  # noqa: BLE001 - a damaged file fails in pydicom in many ways (struct.error,
            # NotImplementedError for an unknown VR, ...): each is "this file cannot be read", named by the caller
            raise ValueError(f"damaged data set: {_exc_line(exc, 100)}") from None
    meta = getattr(ds, "file_meta", None)
    if meta is not None and "TransferSyntaxUID" not in meta:
        implicit, little = ds.original_encoding
        meta.TransferSyntaxUID = (
            ImplicitVRLittleEndian if implicit else ExplicitVRLittleEndian if little else ExplicitVRBigEndian
        )
    return ds


def _convert_all(ds: Any, depth: int = 0) -> None:
    """Decode every element now (pydicom decodes lazily, so a damaged element would fail wherever it is first
    read); sequences are followed a few levels down."""
    for elem in ds:  # iterating converts each raw element
        if elem.VR == "SQ" and depth < 4 and elem.value is not None:
            for item in elem.value:
                _convert_all(item, depth + 1)


def _progress(iterable: Iterable, total: int, desc: str, progress: bool | None) -> Iterable:
    """tqdm on stderr; `progress=None` shows it only on a terminal."""
    if progress is False:
        return iterable
    from tqdm import tqdm

    return tqdm(
        iterable, total=total, desc=desc, unit="file", file=sys.stderr, leave=False,
        disable=None if progress is None else False,
    )


def _walk(roots: Sequence[Path]) -> list[Path]:
    files: list[Path] = []
    for root in roots:
        root = Path(root)
        if root.is_file():
            files.append(root)
            continue
        if not root.is_dir():
            raise InputError(f"{root}: no such folder")
        for dirpath, dirnames, filenames in os.walk(root):
            dirnames[:] = sorted(d for d in dirnames if not d.startswith("."))
            files.extend(Path(dirpath) / f for f in sorted(filenames) if not f.startswith("."))
    return files


def scan_dicom(roots: Sequence[str | os.PathLike], progress: bool | None = None,
               unreadable: list[str] | None = None) -> tuple[list[Series], int]:
    """Find DICOM image series under `roots` (recursive). Returns (series, number of files skipped).

    Headers are read without pixel data. Files that are not DICOM, DICOMDIRs and objects without a
    SeriesInstanceUID/Modality are skipped. Duplicate SOPInstanceUIDs (the same image copied twice)
    are kept once. An enhanced multi-frame file adds one slice per frame (`expand_frames`); a multi-frame
    file that is no supported volume is noted in `Series.problems`. Files that look like DICOM but cannot be
    read (e.g. truncated) are skipped and, when `unreadable` is given, appended to it as 'NAME (reason)'.
    """
    from pydicom.errors import InvalidDicomError

    files = _walk([Path(r) for r in roots])
    by_uid: dict[str, Series] = {}
    seen_sop: set[str] = set()
    skipped = 0
    for path in _progress(files, len(files), "reading DICOM headers", progress):
        if not is_dicom_file(path):
            skipped += 1
            continue
        try:
            ds = _read(path, stop_before_pixels=True)
        except (InvalidDicomError, OSError, ValueError, EOFError, KeyError, TypeError) as exc:
            skipped += 1
            if unreadable is not None:
                unreadable.append(f"{path.name} ({_exc_line(exc, 80)})")
            continue
        uid = str(ds.get("SeriesInstanceUID", "") or "")
        modality = str(ds.get("Modality", "") or "").upper()
        if not uid or not modality:
            skipped += 1
            if unreadable is not None and path.name.upper() != "DICOMDIR":
                unreadable.append(f"{path.name} (no SeriesInstanceUID or Modality: truncated?)")
            continue
        sop = str(ds.get("SOPInstanceUID", "") or "")
        if sop:
            if sop in seen_sop:
                continue
            seen_sop.add(sop)
        series = by_uid.setdefault(uid, Series(uid, modality))
        if is_multiframe(ds):
            try:
                frames = expand_frames(ds, path.name)
            except InputError as exc:  # refused only if this series is the one ingested
                series.problems.append(str(exc))
                series.add(path, ds)
                continue
            for idx, header in enumerate(frames):
                series.add(path, header, idx)
        else:
            series.add(path, ds)
    return list(by_uid.values()), skipped


def _image_type(s: Series) -> str:
    return "\\".join(_values(s.first, "ImageType"))


def _pet_rank(s: Series) -> tuple:
    attn = "ATTN" in _values(s.first, "CorrectedImage") or _values(s.first, "AttenuationCorrected") == ["YES"]
    itype = _image_type(s)
    return (
        attn,
        pet_units(s.first)[0] in QUANTITATIVE,
        not any(w in itype for w in ("MIP", "REPROJECTION", "SCREEN")),
        s.n,
    )


def _ct_rank(s: Series, pet: Series | None) -> tuple:
    itype = _image_type(s)
    same_for = pet is not None and bool(s.frame_of_reference) and s.frame_of_reference == pet.frame_of_reference
    same_study = pet is not None and _study_uid(s) == _study_uid(pet) != ""
    return (same_for, same_study, "LOCALIZER" not in itype, s.n)


def _study_uid(s: Series) -> str:
    return str(s.first.get("StudyInstanceUID", "") or "")


def select_series(
    series: Sequence[Series],
    pet_uid: str | None = None,
    ct_uid: str | None = None,
    *,
    where: str = "",
    need_ct: bool = True,
    pet_pool: Sequence[Series] | None = None,
    ct_pool: Sequence[Series] | None = None,
) -> tuple[Series, Series | None, dict[str, Any]]:
    """Pick the PET (Modality PT) and CT series; returns (pet, ct, choice record).

    Forced UIDs win. Otherwise the PET is the attenuation-corrected, quantitative, non-MIP series
    with the most slices, and the CT is the one sharing the PET's FrameOfReferenceUID, not a
    localizer, with the most slices. Each pool defaults to all `series`.
    """
    pets = [s for s in (pet_pool if pet_pool is not None else series) if s.modality == "PT"]
    cts = [s for s in (ct_pool if ct_pool is not None else series) if s.modality == "CT"]
    where = where or "input"
    choice: dict[str, Any] = {}

    def forced(uid: str, pool: list[Series], kind: str) -> Series:
        for s in pool:
            if s.uid == uid:
                return s
        have = ", ".join(s.uid for s in pool) or "none"
        raise InputError(f"{where}: no {kind} series with SeriesInstanceUID {uid} (found: {have})")

    if pet_uid:
        pet = forced(pet_uid, pets, "PT")
        choice["pet_reason"] = "forced by --pet-series"
    else:
        if not pets:
            mods = sorted({s.modality for s in series}) or ["no DICOM images"]
            raise InputError(f"{where}: no PET series (Modality PT) found; found {', '.join(mods)}")
        pet = max(pets, key=_pet_rank)
        choice["pet_reason"] = (
            "only PT series" if len(pets) == 1 else "attenuation-corrected quantitative series with most slices"
        )
    ct: Series | None
    if ct_uid:
        ct = forced(ct_uid, cts, "CT")
        choice["ct_reason"] = "forced by --ct-series"
    elif cts:
        ct = max(cts, key=lambda s: _ct_rank(s, pet))
        same = ct.frame_of_reference == pet.frame_of_reference and bool(pet.frame_of_reference)
        choice["ct_reason"] = ("only CT series" if len(cts) == 1 else "most slices") + (
            ", same FrameOfReferenceUID as PET" if same else ", different FrameOfReferenceUID from PET"
        )
    else:
        if need_ct:
            raise InputError(f"{where}: no CT series (Modality CT) found (use allow_no_ct=True for PET only)")
        ct = None
        choice["ct_reason"] = "no CT series"
    if ct is not None:
        pid_pet, pid_ct = (str(x.first.get("PatientID", "") or "").strip() for x in (pet, ct))
        if pid_pet and pid_ct and pid_pet != pid_ct:
            raise InputError(
                f"{where}: PET and CT belong to different patients (PatientID (0010,0020) {pid_pet!r} vs {pid_ct!r}); "
                "give one exam per folder"
            )
    choice["pet_candidates"] = [s.summary() for s in pets]
    choice["ct_candidates"] = [s.summary() for s in cts]
    return pet, ct, choice


# ------------------------------------------------------------------------------------ geometry


@dataclass
class Geometry:
    """Sorted slice order and the voxel -> RAS+ mm affine of a series."""

    order: list[int]
    affine: np.ndarray
    shape: tuple[int, int, int]  # (columns, rows, slices) = (i, j, k)
    slice_spacing: float
    warnings: list[str] = field(default_factory=list)


def _header_floats(ds: Any, keyword: str, n: int, label: str) -> np.ndarray:
    value = ds.get(keyword)
    try:
        arr = np.array([float(v) for v in value], dtype=np.float64)
    except (TypeError, ValueError):
        arr = np.zeros(0)
    if arr.size != n or not np.all(np.isfinite(arr)):
        shown = "missing" if value is None or value == "" else f"malformed ({_shown(value)})"
        raise InputError(f"{label}: {_tag(keyword)} {shown}; slice geometry unknown")
    return arr


def check_volume_kind(series: Series) -> None:
    """Refuse a series holding a multi-frame file that is no supported volume, or mixing classic
    single-frame files with enhanced multi-frame files (one line, naming the files)."""
    label = series.label()
    if series.problems:
        raise InputError(f"{label}: {series.problems[0]}")
    single = [i for i, f in enumerate(series.frames) if f is None]
    multi = [i for i, f in enumerate(series.frames) if f is not None]
    if single and multi:
        raise InputError(
            f"{label}: mixes {len(single)} single-frame file(s) (e.g. {series.files[single[0]].name}) with "
            f"enhanced multi-frame file(s) (e.g. {series.files[multi[0]].name}); give one kind per series"
        )


def slice_geometry(series: Series) -> Geometry:
    """Sort slices along the slice normal, check they form a regular grid, build the affine.

    Frames of enhanced multi-frame files are slices like any other (their geometry comes from the
    functional groups, see dicom_enhanced). Raises InputError for mixed orientation/size/pixel spacing,
    duplicate positions, missing slices (gaps) and otherwise non-uniform spacing, each naming the series
    and the files (and frames) concerned.
    """
    check_volume_kind(series)
    iop, spacing, (rows, cols) = _first_slice_grid(series)
    row_cos, col_cos = iop[:3], iop[3:]
    normal = np.cross(row_cos, col_cos)
    pos = _slice_positions(series, iop, spacing, rows, cols)
    s = pos @ normal
    order = [int(i) for i in np.argsort(s, kind="stable")]
    pos_sorted = pos[order]
    warnings: list[str] = []
    step = _slice_step(series, order, pos_sorted, s[order], normal, spacing, warnings)
    lps = np.eye(4)
    lps[:3, 0] = row_cos * spacing[1]  # i: along a row, i.e. column index, spacing between columns
    lps[:3, 1] = col_cos * spacing[0]  # j: down a column, i.e. row index, spacing between rows
    lps[:3, 2] = step
    lps[:3, 3] = pos_sorted[0]
    affine = np.diag([-1.0, -1.0, 1.0, 1.0]) @ lps
    spacing_k = float(np.linalg.norm(step))
    return Geometry(order, affine, (cols, rows, len(order)), spacing_k, warnings)


def _first_slice_grid(series: Series) -> tuple[np.ndarray, np.ndarray, tuple[int, int]]:
    """(ImageOrientationPatient, PixelSpacing, (Rows, Columns)) of the first slice, checked: two orthonormal
    vectors, two positive distances, a non-empty image."""
    label = series.label()
    hdr = series.headers[0]
    iop = _header_floats(hdr, "ImageOrientationPatient", 6, f"{label}: {series.slice_name(0)}")
    row_cos, col_cos = iop[:3], iop[3:]
    if abs(np.linalg.norm(row_cos) - 1) > 1e-3 or abs(np.linalg.norm(col_cos) - 1) > 1e-3 or abs(
        float(row_cos @ col_cos)
    ) > 1e-3:
        raise InputError(f"{label}: {_tag('ImageOrientationPatient')} {plain(iop)} is not two orthonormal vectors")
    spacing = _header_floats(hdr, "PixelSpacing", 2, f"{label}: {series.slice_name(0)}")
    if not np.all(spacing > 0):
        raise InputError(f"{label}: {series.slice_name(0)}: {_tag('PixelSpacing')} {plain(spacing)} must be two "
                         "positive distances in mm; slice geometry unknown")
    rows, cols = int(hdr.get("Rows", 0) or 0), int(hdr.get("Columns", 0) or 0)
    if rows <= 0 or cols <= 0:
        raise InputError(f"{label}: {series.slice_name(0)} has no Rows/Columns (0028,0010/0011)")
    return iop, spacing, (rows, cols)


def _slice_positions(series: Series, iop: np.ndarray, spacing: np.ndarray, rows: int, cols: int) -> np.ndarray:
    """ImagePositionPatient of every slice (one row each), after checking each slice has the first one's
    orientation, size and pixel spacing."""
    label = series.label()
    hdrs = series.headers
    pos = np.zeros((len(hdrs), 3))
    for idx, ds in enumerate(hdrs):
        name = series.slice_name(idx)
        other = _header_floats(ds, "ImageOrientationPatient", 6, f"{label}: {name}")
        if np.max(np.abs(other - iop)) > 1e-4:
            raise InputError(
                f"{label}: {name} has ImageOrientationPatient {plain(other)}, others {plain(iop)}; mixed orientations"
            )
        if (int(ds.get("Rows", 0) or 0), int(ds.get("Columns", 0) or 0)) != (rows, cols):
            raise InputError(
                f"{label}: {name} is {ds.get('Rows')}x{ds.get('Columns')}, others {rows}x{cols}; mixed slice sizes"
            )
        ps = _header_floats(ds, "PixelSpacing", 2, f"{label}: {name}")
        if np.max(np.abs(ps - spacing)) > 1e-4:
            raise InputError(f"{label}: {name} has PixelSpacing {plain(ps)}, others {plain(spacing)}; mixed pixel spacing")
        pos[idx] = _header_floats(ds, "ImagePositionPatient", 3, f"{label}: {name}")
    return pos


def _slice_step(series: Series, order: list[int], pos_sorted: np.ndarray, s_sorted: np.ndarray,
                normal: np.ndarray, spacing: np.ndarray, warnings: list[str]) -> np.ndarray:
    """The step in mm from one sorted slice to the next (one slice: the normal times its thickness), after
    checking the slices are evenly spaced on a straight line; a single slice or a gantry tilt is warned of."""
    label = series.label()
    n = len(order)
    if n == 1:
        hdr = series.headers[0]
        thick = float(hdr.get("SpacingBetweenSlices", 0) or hdr.get("SliceThickness", 0) or 1.0)
        warnings.append(f"{label}: a single slice; slice spacing taken as {thick:g} mm")
        return normal * thick
    tol = _check_even_spacing(series, order, s_sorted)
    step = (pos_sorted[-1] - pos_sorted[0]) / (n - 1)
    dev = np.abs(pos_sorted - (pos_sorted[0] + np.outer(np.arange(n), step))).max()
    if dev > max(tol, 0.01 * float(spacing.min())):
        raise InputError(
            f"{label}: slice positions do not lie on a straight line (off by {dev:.3g} mm); irregular series"
        )
    if abs(float(step @ normal) - np.linalg.norm(step)) > 1e-3 * np.linalg.norm(step):
        warnings.append(f"{label}: slices are sheared (gantry tilt); the affine keeps the tilt")
    return step


def _check_even_spacing(series: Series, order: list[int], s_sorted: np.ndarray) -> float:
    """Refuse duplicate positions, missing slices and uneven steps along the normal (`s_sorted`: the sorted
    slices' distances along it); returns the tolerance in mm a step may differ from the median step."""
    label = series.label()
    diffs = np.diff(s_sorted)
    dup = np.flatnonzero(diffs < 1e-3)
    if dup.size:
        a, b = series.slice_name(order[dup[0]]), series.slice_name(order[dup[0] + 1])
        raise InputError(
            f"{label}: {dup.size} duplicate slice position(s), e.g. {a} and {b} both at {s_sorted[dup[0]]:.3f} mm "
            "along the slice normal (dynamic/gated frames or a mixed series?)"
        )
    step_len = float(np.median(diffs))
    tol = max(1e-3, 0.01 * step_len)
    bad = np.flatnonzero(np.abs(diffs - step_len) > tol)
    if bad.size:
        first = bad[0]
        ratio = diffs[first] / step_len
        where = (
            f"between {series.slice_name(order[first])} ({s_sorted[first]:.3f} mm) and "
            f"{series.slice_name(order[first + 1])} ({s_sorted[first + 1]:.3f} mm)"
        )
        if abs(ratio - round(ratio)) * step_len <= tol and round(ratio) >= 2:
            raise InputError(
                f"{label}: {int(round(ratio)) - 1} slice(s) missing {where} (spacing {step_len:.4g} mm elsewhere); "
                "the series is incomplete"
            )
        raise InputError(
            f"{label}: non-uniform slice spacing: {diffs[first]:.4g} mm {where}, {step_len:.4g} mm elsewhere "
            f"({bad.size} irregular step(s))"
        )
    return tol


# ------------------------------------------------------------------------------------ pixels


def _rescale(ds: Any) -> tuple[float, float]:
    try:
        slope = float(ds.get("RescaleSlope", 1) if ds.get("RescaleSlope") not in (None, "") else 1)
        inter = float(ds.get("RescaleIntercept", 0) if ds.get("RescaleIntercept") not in (None, "") else 0)
    except (TypeError, ValueError) as exc:
        raise InputError(f"RescaleSlope/RescaleIntercept (0028,1053/1052) malformed: {_exc_line(exc)}") from None
    return slope, inter


# Transfer syntaxes the optional plugins of the `dicom-jpeg` extra decode (pylibjpeg + libjpeg/openjpeg).
JPEG_FAMILY = {
    "1.2.840.10008.1.2.4.50", "1.2.840.10008.1.2.4.51", "1.2.840.10008.1.2.4.57", "1.2.840.10008.1.2.4.70",
    "1.2.840.10008.1.2.4.80", "1.2.840.10008.1.2.4.81",
    "1.2.840.10008.1.2.4.90", "1.2.840.10008.1.2.4.91", "1.2.840.10008.1.2.4.92", "1.2.840.10008.1.2.4.93",
    "1.2.840.10008.1.2.4.201", "1.2.840.10008.1.2.4.202", "1.2.840.10008.1.2.4.203",
}
JPEG_EXTRA_HINT = "pip install 'pet2rep[dicom-jpeg]' (pylibjpeg with its libjpeg and openjpeg plugins)"


def _uid(value: Any) -> Any:
    """A pydicom UID, without pydicom's warning when the value is no valid UID (a damaged header)."""
    from pydicom.uid import UID

    with _pywarnings.catch_warnings():
        _pywarnings.simplefilter("ignore")
        return UID(str(value))


def _ts_text(ts: Any) -> str:
    """'UID "name"' of a transfer syntax for messages."""
    uid = _uid(ts)
    name = uid.name
    return str(uid) if name == str(uid) else f'{uid} "{name}"'


def decoder_problem(ts: Any) -> str | None:
    """Why pixel data in transfer syntax `ts` cannot be decoded here (no decoder installed, or no image
    encoding pydicom knows), with what to install; None when it can (or pydicom < 3 cannot tell)."""
    uid = _uid(ts)
    if not uid.is_transfer_syntax or not uid.is_encapsulated:  # native (or unknown: let pydicom try)
        return None
    try:
        from pydicom.pixels import get_decoder
    except ImportError:  # pydicom 2: decoding errors are reported when reading the pixels
        return None
    try:
        decoder = get_decoder(uid)
    except NotImplementedError:
        return f"transfer syntax {_ts_text(uid)} is not an image encoding pydicom can decode"
    if decoder.is_available:
        return None
    hint = JPEG_EXTRA_HINT if str(uid) in JPEG_FAMILY else "install one of: " + "; ".join(decoder.missing_dependencies)
    return f"transfer syntax {_ts_text(uid)} has no decoder installed; {hint}"


def _transfer_syntax(ds: Any) -> str | None:
    ts = getattr(getattr(ds, "file_meta", None), "TransferSyntaxUID", None)
    return str(ts) if ts else None


def read_pixels(
    series: Series,
    geom: Geometry,
    *,
    factors: np.ndarray | None = None,
    integer_ok: bool = False,
    progress: bool | None = None,
    desc: str = "reading pixels",
    warnings: list[str] | None = None,
) -> np.ndarray:
    """Read the pixel data in sorted order as `data[i, j, k]` (Fortran order).

    Each slice (a file, or a frame of a multi-frame file) becomes `stored * RescaleSlope + RescaleIntercept`,
    times `factors[k]` when given. With `integer_ok` the result is int16 when every slice's rescale is
    integral and the values fit, otherwise float32. Each file is read once. A compressed transfer syntax
    without an installed decoder is refused before any pixel data is read. Warnings pydicom gives while
    decoding go to `warnings` (once per kind) when given, else are dropped.
    """
    cols, rows, n = geom.shape
    label = series.label()
    rescales = []
    for idx in geom.order:
        try:
            rescales.append(_rescale(series.headers[idx]))
        except InputError as exc:
            raise InputError(f"{label}: {series.slice_name(idx)}: {exc}") from None
    by_file: dict[Path, list[tuple[int, int]]] = {}  # file -> [(k, series index)]
    for k, idx in enumerate(geom.order):
        by_file.setdefault(series.files[idx], []).append((k, idx))
    checked: set[str] = set()
    for path, items in by_file.items():
        ts = _transfer_syntax(series.headers[items[0][1]])
        if ts and ts not in checked:
            checked.add(ts)
            problem = decoder_problem(ts)
            if problem:
                raise InputError(f"{label}: {path.name}: cannot read pixel data: {problem}")
    exact = integer_ok and factors is None and all(
        float(sl).is_integer() and float(ic).is_integer() for sl, ic in rescales
    )
    out = np.empty((cols, rows, n), dtype=np.int16 if exact else np.float32, order="F")
    seen: set[str] = set()
    for path, items in _progress(list(by_file.items()), len(by_file), desc, progress):
        ds = None
        try:
            with _pywarnings.catch_warnings(record=True) as caught:
                _pywarnings.simplefilter("always")
                ds = _read(path, stop_before_pixels=False)
                px = ds.pixel_array
        except Exception as exc:  # pydicom raises many kinds for undecodable pixel data
            ts = _transfer_syntax(ds) if ds is not None else None
            raise InputError(
                f"{label}: {path.name}: cannot read pixel data (transfer syntax {_ts_text(ts) if ts else '?'}): "
                f"{_exc_line(exc)}"
            ) from None
        for remark in sorted({_exc_line(w.message) for w in caught} - seen):  # pydicom remarks, once each
            seen.add(remark)
            if warnings is not None:
                warnings.append(f"{label}: {path.name}: pydicom: {remark}")
        for k, idx in items:
            frame = series.frames[idx]
            if frame is None or px.ndim == 2:
                sl = px if frame in (None, 0) else None
            else:
                sl = px[frame] if frame < px.shape[0] else None
            if sl is None or sl.shape != (rows, cols):
                got = px.shape if sl is None else sl.shape
                raise InputError(
                    f"{label}: {series.slice_name(idx)}: pixel array {got}, expected {(rows, cols)}"
                    + (" per frame" if frame is not None else "")
                )
            slope, inter = rescales[k]
            if exact:
                vals = sl.astype(np.int64) * int(slope) + int(inter)
                if vals.min() >= -32768 and vals.max() <= 32767:
                    out[:, :, k] = vals.T
                    continue
                out = out.astype(np.float32, order="F")
                exact = False
            vals = sl.astype(np.float64) * slope + inter
            if factors is not None:
                vals = vals * factors[k]
            out[:, :, k] = vals.T
    return out


# ------------------------------------------------------------------------------------ SUV


@dataclass
class SuvParams:
    """What turns rescaled PET pixels into SUVbw: one factor per sorted slice, plus the metadata."""

    factors: np.ndarray
    meta: dict[str, Any]
    warnings: list[str] = field(default_factory=list)


def _private_elem(ds: Any, group: int, offset: int, creator: str, usual_block: bool) -> Any:
    """A private element found by its creator, else (with `usual_block`) at the usual block (gggg,10ee)."""
    try:
        elem = ds.get_private_item(group, offset, creator)
    except (KeyError, ValueError):
        elem = None
    if elem is None and usual_block:
        elem = ds.get((group, 0x1000 + offset))
    return elem


def _private_float(ds: Any, group: int, offset: int, creator: str) -> float | None:
    """A numeric private element, found by its creator, else at the usual block (gggg,10ee)."""
    elem = _private_elem(ds, group, offset, creator, usual_block=True)
    if elem is None or elem.value in (None, "", b""):
        return None
    value = elem.value
    try:
        if isinstance(value, bytes):
            text = value.decode("ascii", "ignore").strip("\x00 ")
            if text and re.fullmatch(r"[-+0-9.eE]+", text):
                return float(text)
            if len(value) == 8:
                return float(np.frombuffer(value, "<f8")[0])
            if len(value) == 4:
                return float(np.frombuffer(value, "<f4")[0])
            return None
        if isinstance(value, (list, tuple)) or hasattr(value, "__len__") and not isinstance(value, str):
            value = value[0]
        return float(value)
    except (TypeError, ValueError, IndexError):
        return None


def _private_dt(ds: Any, group: int, offset: int, creator: str, tz: tzinfo | None = None) -> datetime | None:
    elem = _private_elem(ds, group, offset, creator, usual_block=False)
    if elem is None:
        return None
    value = elem.value
    if isinstance(value, bytes):
        value = value.decode("ascii", "ignore").strip("\x00 ")
    return parse_dt(value, tz)


def _series_datetime(ds: Any, tz: tzinfo | None = None) -> datetime | None:
    return _combine(parse_da(ds.get("SeriesDate")), parse_tm(ds.get("SeriesTime")), tz)


def _acq_datetime(ds: Any, tz: tzinfo | None = None) -> datetime | None:
    """When a slice's (or frame's) acquisition started: FrameAcquisitionDateTime, AcquisitionDateTime,
    else AcquisitionDate (or SeriesDate) + AcquisitionTime."""
    for keyword in ("FrameAcquisitionDateTime", "AcquisitionDateTime"):
        dt = parse_dt(ds.get(keyword), tz)
        if dt is not None:
            return dt
    d = parse_da(ds.get("AcquisitionDate")) or parse_da(ds.get("SeriesDate"))
    return _combine(d, parse_tm(ds.get("AcquisitionTime")), tz)


def dataset_timezone(ds: Any, label: str, warnings: list[str]) -> tzinfo | None:
    """TimezoneOffsetFromUTC (0008,0201) as a timezone; None when absent, or malformed (with a warning)."""
    raw = str(ds.get("TimezoneOffsetFromUTC", "") or "").strip()
    if not raw:
        return None
    tz = parse_tz(raw)
    if tz is None:
        warnings.append(f"{label}: {_tag('TimezoneOffsetFromUTC')} {raw!r} is malformed (expected +HHMM/-HHMM); ignored")
    return tz


@dataclass
class HeaderTimes:
    """The PET header's times, all naive or all aware (see `header_times`)."""

    zone: tzinfo | None  # the zone of DA/TM values and of DT values without an offset
    series: datetime | None
    earliest_acquisition: datetime | None
    ge_scan: datetime | None  # GE private scan datetime (0009,100D)
    decay_corrected_to: datetime | None  # DecayCorrectionDateTime (0018,9701), Enhanced PET
    injection: datetime | None  # RadiopharmaceuticalStartDateTime (0018,1078)
    injection_tm: timedelta | None  # RadiopharmaceuticalStartTime (0018,1072), a time of day


def header_times(hdrs: Sequence[Any], rinfo: Any, label: str, warnings: list[str]) -> HeaderTimes:
    """Read the times SUV needs so that they can be subtracted: the true elapsed time.

    Rule: a DT with its own UTC offset suffix is at that offset; every DA/TM, and every DT without a
    suffix, is in the data set's TimezoneOffsetFromUTC (0008,0201). Without that attribute, such naive
    times are taken in the offset of the first DT that carries one (injection first): the same local
    zone. With no offset anywhere, all times are local and compared as they are.
    """
    ds = hdrs[0]
    zone = dataset_timezone(ds, label, warnings)
    acq = [a for a in (_acq_datetime(h, zone) for h in hdrs) if a is not None]
    values = [
        _series_datetime(ds, zone),
        _private_dt(ds, 0x0009, 0x0D, GE_PET_CREATOR, zone),
        parse_dt(ds.get("DecayCorrectionDateTime"), zone),
        parse_dt(rinfo.get("RadiopharmaceuticalStartDateTime"), zone),
    ]
    if zone is None:
        zone = next((v.tzinfo for v in (values[3], values[2], values[1], *acq) if v is not None and v.tzinfo), None)
        if zone is not None:
            acq = [a if a.tzinfo else a.replace(tzinfo=zone) for a in acq]
            values = [v if v is None or v.tzinfo else v.replace(tzinfo=zone) for v in values]
    series, ge, decay_to, injection = values
    return HeaderTimes(
        zone, series, min(acq) if acq else None, ge, decay_to, injection,
        parse_tm(rinfo.get("RadiopharmaceuticalStartTime")),
    )


def _decay_reference(times: HeaderTimes) -> tuple[datetime | None, str | None]:
    """QIBA decay reference: series start, unless later than the earliest acquisition (then the GE scan
    datetime when it is not later than the series time, else the earliest acquisition)."""
    series_dt, earliest = times.series, times.earliest_acquisition
    if series_dt is not None and (earliest is None or series_dt <= earliest):
        return series_dt, "series start"
    if earliest is not None:
        ge = times.ge_scan
        if series_dt is not None and ge is not None and ge <= series_dt:
            return ge, "GE scan datetime (0009,100D)"
        return earliest, "earliest acquisition"
    return None, None


def _header_injection(ds: Any, times: HeaderTimes, ref_dt: datetime | None) -> datetime | None:
    """The injection datetime from the header: RadiopharmaceuticalStartDateTime, else the SeriesDate (or
    the reference date) with RadiopharmaceuticalStartTime, a day earlier when that is after the reference
    (injected before midnight, scanned after)."""
    if times.injection is not None:
        return times.injection
    if times.injection_tm is None:
        return None
    d = parse_da(ds.get("SeriesDate"))
    if d is None and ref_dt is not None:
        d = (ref_dt.astimezone(times.zone) if times.zone is not None and ref_dt.tzinfo else ref_dt).date()
    inj = _combine(d, times.injection_tm, times.zone)
    if inj is not None and ref_dt is not None and inj > ref_dt:
        inj -= timedelta(days=1)
    return inj


def _positive_num(value: Any) -> float | None:
    """A positive number, else None."""
    try:
        v = float(value)
    except (TypeError, ValueError):
        return None
    return v if v > 0 and math.isfinite(v) else None


def _header_dose_bq(ds: Any, rinfo: Any) -> float | None:
    """RadionuclideTotalDose in Bq: stored in Bq by classic and Legacy Converted PET, in MBq by Enhanced PET."""
    value = _positive_num(rinfo.get("RadionuclideTotalDose"))
    if value is not None and str(ds.get("SOPClassUID", "") or "") == ENHANCED_PET:
        value *= 1e6
    return value


def suv_parameters(
    series: Series,
    order: Sequence[int],
    *,
    weight_kg: float | None = None,
    dose_mbq: float | None = None,
    injection_time: str | None = None,
    half_life_s: float | None = None,
) -> SuvParams:
    """QIBA vendor-neutral SUVbw factors for a PET series (slices in `order`).

    SUVbw = activity[Bq/ml] * weight[g] / (dose[Bq] * 2^(-dt/T1/2)), dt from injection to the decay
    reference time: DecayCorrectionDateTime (0018,9701) for Enhanced PET, else the series start, or the
    earliest acquisition when the series time is later. Times are compared in UTC where offsets are known
    (`header_times`). Keyword arguments override the header values (dose in MBq, injection time
    'HH:MM[:SS]', a clock time in the data set's zone).
    """
    label = series.label()
    hdrs = [series.headers[i] for i in order]
    ds = hdrs[0]
    warnings: list[str] = []
    overrides: dict[str, Any] = {}

    def need(msg: str) -> InputError:
        return InputError(f"{label}: {msg}")

    units = _quantitative_units(series, order, hdrs, need)
    meta: dict[str, Any] = {"units_in": units}
    rseq = ds.get("RadiopharmaceuticalInformationSequence")
    rinfo = rseq[0] if rseq else None
    times = header_times(hdrs, rinfo if rinfo is not None else {}, label, warnings)
    if units == "GML":
        meta.update(suv_method="GML: pixels already SUVbw (g/ml)", decay_reference=None)
        _fill_common_meta(ds, meta, weight_kg, dose_mbq, half_life_s, rinfo, times)
        return SuvParams(np.ones(len(hdrs)), meta, warnings)

    activity_scale, philips_suv = np.ones(len(hdrs)), None  # Bq/ml per rescaled unit; Philips' own SUV factor
    if units == "CNTS":
        given = weight_kg is not None or dose_mbq is not None or injection_time is not None
        activity_scale, philips_suv = _philips_counts_scale(hdrs, label, given, warnings, need)
    decay_corr = _decay_correction(ds, times, need)
    meta["decay_correction"] = decay_corr
    if philips_suv is not None:
        meta["suv_method"] = "Philips SUV Scale Factor (7053,1000)"
        _fill_common_meta(ds, meta, weight_kg, dose_mbq, half_life_s, rinfo, times)
        meta["decay_reference"] = "administration" if decay_corr == "ADMIN" else "series start"
        return SuvParams(philips_suv, meta, warnings)

    weight = _body_weight(ds, weight_kg, overrides, need)
    if rinfo is None and (dose_mbq is None or half_life_s is None or (decay_corr != "ADMIN" and injection_time is None)):
        raise need(
            f"{_tag('RadiopharmaceuticalInformationSequence')} missing; injected dose, injection time and half-life "
            "unknown, SUVbw not computable"
        )
    rinfo = rinfo if rinfo is not None else {}
    dose = _injected_dose(ds, rinfo, dose_mbq, enhanced=str(ds.get("SOPClassUID", "") or "") == ENHANCED_PET,
                          overrides=overrides, need=need)
    half_life = _half_life(rinfo, half_life_s, decay_corr, overrides, need)
    if decay_corr == "DATETIME":
        ref_dt, ref_name = times.decay_corrected_to, "DecayCorrectionDateTime (0018,9701)"
    else:
        ref_dt, ref_name = _decay_reference(times)
    inj_dt = _injection_datetime(ds, times, ref_dt, injection_time, overrides, need)
    meta.update(
        weight_kg=weight,
        injected_dose_bq=dose,
        half_life_s=half_life if half_life > 0 else None,
        injection_datetime=_iso(inj_dt),
        series_datetime=_iso(times.series),
    )
    decay = _dose_decay(decay_corr, units, half_life, inj_dt, ref_dt, ref_name, meta, label, warnings, need)
    meta["decay_factor"] = decay
    factor = weight * 1000.0 / (dose * decay) if dose * decay > 0 else math.inf
    if not (math.isfinite(factor) and factor * float(np.max(activity_scale)) < 1e30):
        raise need(
            f"SUV factor {plain(factor)} is not a usable number (weight {plain(weight)} kg, dose {plain(dose)} Bq, "
            f"decay factor {plain(decay)}); check the weight, dose, half-life and times"
        )
    _fill_common_meta(ds, meta, weight_kg, dose_mbq, half_life_s, rinfo, times)
    meta["overrides"] = overrides
    return SuvParams(activity_scale * factor, meta, warnings)


Need = Callable[[str], InputError]  # a one-line InputError about the series being read


def _quantitative_units(series: Series, order: Sequence[int], hdrs: list[Any], need: Need) -> str:
    """The PET units of every slice (the same on all, one SUVbw can be computed from, unambiguous pixel scale)."""
    units, where_units = pet_units(hdrs[0])
    if not units:
        raise need(
            f"{_tag('Units')} missing (and no {_tag('RealWorldValueMappingSequence')} with PET units); cannot tell "
            "whether pixels are Bq/ml, counts or SUV, SUVbw not computable"
        )
    if units not in QUANTITATIVE:
        raise need(f"{where_units} is {units!r}; only BQML (Bq/ml), GML or Philips CNTS can be converted to SUVbw")
    for idx, h in zip(order, hdrs):
        other = pet_units(h)[0]
        if other != units:
            raise need(f"{series.slice_name(idx)} has units {other or 'missing'}, others {units}; mixed units")
    for idx, h in zip(order, hdrs):
        try:
            conflict = rwv_conflict(h, units, *_rescale(h))
        except InputError as exc:
            raise need(f"{series.slice_name(idx)}: {exc}") from None
        if conflict:
            raise need(
                f"{series.slice_name(idx)}: {_tag('RealWorldValueMappingSequence')} for {units} {conflict}; "
                "the pixel scale is ambiguous, SUVbw not computable"
            )
    return units


def _philips_counts_scale(hdrs: list[Any], label: str, given: bool, warnings: list[str],
                          need: Need) -> tuple[np.ndarray, np.ndarray | None]:
    """Philips CNTS: (Bq/ml per count, None) from the Activity Concentration Scale Factor, or (ones, the SUV
    factors) from the SUV Scale Factor; the latter wins unless weight/dose/injection time were `given`."""
    suv_f = [_private_float(h, 0x7053, 0x00, PHILIPS_CREATOR) for h in hdrs]
    act_f = [_private_float(h, 0x7053, 0x09, PHILIPS_CREATOR) for h in hdrs]
    have_suv = all(v is not None and v > 0 for v in suv_f)
    have_act = all(v is not None and v > 0 for v in act_f)
    if have_suv and not (given and have_act):
        if given:
            warnings.append(f"{label}: weight_kg=, dose_mbq= and injection_time= ignored: Philips SUV factor (7053,1000) used")
        return np.ones(len(hdrs)), np.array(suv_f, dtype=np.float64)
    if have_act:
        return np.array(act_f, dtype=np.float64), None
    raise need(
        "Units (0054,1001) is CNTS but the Philips SUV Scale Factor (7053,1000) and Activity Concentration "
        "Scale Factor (7053,1009) are missing; counts cannot be converted to Bq/ml, SUVbw not computable"
    )


def _decay_correction(ds: Any, times: HeaderTimes, need: Need) -> str:
    """What the image is decay corrected to: START, ADMIN or DATETIME (classic CorrectedImage/DecayCorrection,
    Enhanced PET DecayCorrected/DecayCorrectionDateTime); a one-line error when it is not decay corrected."""
    corrected = _values(ds, "CorrectedImage")
    flag = _values(ds, "DecayCorrected")
    decay_corr = str(ds.get("DecayCorrection", "") or "").strip().upper()
    if "CorrectedImage" in ds and "DECY" not in corrected:
        raise need(
            f"{_tag('CorrectedImage')} {corrected} lacks DECY; the image is not decay corrected, SUVbw not computable"
        )
    if flag and flag != ["YES"]:
        raise need(f"{_tag('DecayCorrected')} is {flag[0]!r}; the image is not decay corrected, SUVbw not computable")
    if decay_corr in ("", "START") and times.decay_corrected_to is not None:
        decay_corr = "DATETIME"
    elif flag and not decay_corr:
        raise need(
            f"{_tag('DecayCorrected')} is YES but {_tag('DecayCorrectionDateTime')} is missing; the time the image "
            "is decay corrected to is unknown, SUVbw not computable"
        )
    if decay_corr not in ("START", "ADMIN", "DATETIME"):
        what = f"is {decay_corr!r}" if decay_corr else "missing"
        raise need(f"{_tag('DecayCorrection')} {what}; expected START (or ADMIN), SUVbw not computable")
    return decay_corr


def _body_weight(ds: Any, weight_kg: float | None, overrides: dict[str, Any], need: Need) -> float:
    """The patient weight in kg: the one given (recorded in `overrides`), else PatientWeight; plausible."""
    if weight_kg is not None:
        overrides["weight_kg"] = float(weight_kg)
        weight = float(weight_kg)
    else:
        raw = ds.get("PatientWeight")
        if raw is None or str(raw).strip() in ("", "0", "0.0"):
            raise need(f"{_tag('PatientWeight')} missing or zero; SUVbw needs the body weight (give weight_kg=KG)")
        try:
            weight = float(raw)
        except (TypeError, ValueError):
            raise need(f"{_tag('PatientWeight')} {_shown(raw)} is not a number; SUVbw needs the body weight "
                       "(give weight_kg=KG)") from None
    if not (math.isfinite(weight) and 0 < weight < 600):
        raise need(f"{_tag('PatientWeight')} {plain(weight)} kg is implausible; SUVbw needs the body weight in kg "
                   "(give weight_kg=KG)")
    return weight


def _injected_dose(ds: Any, rinfo: Any, dose_mbq: float | None, *, enhanced: bool, overrides: dict[str, Any],
                   need: Need) -> float:
    """The injected activity in Bq: the one given in MBq (recorded in `overrides`), else the header's, which
    must be positive and plausible (MBq stored as Bq, or Bq as MBq in Enhanced PET, is refused)."""
    if dose_mbq is not None:
        overrides["dose_mbq"] = float(dose_mbq)
        return float(dose_mbq) * 1e6
    dose = _header_dose_bq(ds, rinfo) or 0.0
    raw_dose = rinfo.get("RadionuclideTotalDose")
    if dose <= 0 and raw_dose is not None and str(raw_dose).strip() not in ("", "0", "0.0"):
        raise need(f"{_tag('RadionuclideTotalDose')} {_shown(raw_dose)} is not a positive number; SUVbw needs "
                   "the injected dose (give dose_mbq=MBQ)")
    if dose <= 0:
        raise need(f"{_tag('RadionuclideTotalDose')} missing or zero; SUVbw needs the injected dose (give dose_mbq=MBQ)")
    if dose < 1e5:
        raise need(
            f"{_tag('RadionuclideTotalDose')} {dose:g} Bq is implausibly small (MBq stored instead of Bq?); "
            "give dose_mbq=MBQ"
        )
    if enhanced and dose > 1e11:
        raise need(
            f"{_tag('RadionuclideTotalDose')} {dose / 1e6:.10g} MBq is implausibly large (Enhanced PET stores MBq; "
            "Bq stored instead?); give dose_mbq=MBQ"
        )
    return dose


def _half_life(rinfo: Any, half_life_s: float | None, decay_corr: str, overrides: dict[str, Any],
               need: Need) -> float:
    """The radionuclide half-life in s: the one given (recorded in `overrides`), else the header's (0 when
    missing, allowed only for an image decay corrected to administration)."""
    if half_life_s is not None:
        overrides["half_life_s"] = float(half_life_s)
        return float(half_life_s)
    half_life = _positive_num(rinfo.get("RadionuclideHalfLife")) or 0.0
    if half_life <= 0 and decay_corr != "ADMIN":
        raise need(f"{_tag('RadionuclideHalfLife')} missing or zero; decay correction of the dose impossible")
    return half_life


def _injection_datetime(ds: Any, times: HeaderTimes, ref_dt: datetime | None, injection_time: str | None,
                        overrides: dict[str, Any], need: Need) -> datetime | None:
    """When the tracer was injected: the clock time given (recorded in `overrides`) on the scan's date, the day
    before when that would be after the scan; else the header's (`_header_injection`)."""
    if injection_time is None:
        return _header_injection(ds, times, ref_dt)
    overrides["injection_time"] = injection_time
    clock = time_of_day(injection_time)
    base = ref_dt or times.series
    if base is None:
        raise need(f"{_tag('SeriesDate')}/{_tag('SeriesTime')} missing; injection_time= needs the scan date")
    local = base.astimezone(times.zone) if times.zone is not None and base.tzinfo else base
    inj_dt = _combine(local.date(), clock, local.tzinfo)
    if inj_dt is not None and inj_dt > base:
        inj_dt -= timedelta(days=1)
    return inj_dt


def _dose_decay(decay_corr: str, units: str, half_life: float, inj_dt: datetime | None, ref_dt: datetime | None,
                ref_name: str | None, meta: dict[str, Any], label: str, warnings: list[str], need: Need) -> float:
    """The fraction of the injected dose left at the decay reference time (1 for ADMIN); its facts go to `meta`."""
    if decay_corr == "ADMIN":
        meta["decay_reference"] = "administration"
        meta["suv_method"] = "BQML, decay corrected to administration (ADMIN): no dose decay"
        return 1.0
    if ref_dt is None:
        raise need(
            f"{_tag('SeriesDate')}/{_tag('SeriesTime')} and {_tag('AcquisitionTime')} missing; "
            "decay reference time unknown, SUVbw not computable"
        )
    if inj_dt is None:
        raise need(
            f"{_tag('RadiopharmaceuticalStartDateTime')} and {_tag('RadiopharmaceuticalStartTime')} missing; "
            "injection time unknown, SUVbw not computable (give injection_time=HH:MM)"
        )
    dt_s = (ref_dt - inj_dt).total_seconds()
    if dt_s < 0:
        raise need(
            f"injection {_iso(inj_dt)} ({_tag('RadiopharmaceuticalStartDateTime')}) is after the scan "
            f"({_iso(ref_dt)}, {ref_name}); SUVbw not computable"
        )
    if dt_s > 24 * 3600:
        warnings.append(f"{label}: {dt_s / 3600:.1f} h between injection and scan; check the injection time")
    meta["decay_reference"] = ref_name
    meta["decay_reference_datetime"] = _iso(ref_dt)
    meta["uptake_time_s"] = dt_s
    meta["suv_method"] = (
        "Philips Activity Concentration Scale Factor (7053,1009) then QIBA SUVbw"
        if units == "CNTS"
        else "BQML, QIBA SUVbw"
    )
    return 2.0 ** (-dt_s / half_life)


def _fill_common_meta(
    ds: Any,
    meta: dict[str, Any],
    weight_kg: float | None,
    dose_mbq: float | None,
    half_life_s: float | None,
    rinfo: Any,
    times: HeaderTimes,
) -> None:
    """Weight, dose, half-life, injection time and tracer, where not already set (`rinfo`: the first
    RadiopharmaceuticalInformationSequence item or None; `times`: from `header_times`)."""
    if rinfo is None:
        rinfo = {}
    meta.setdefault("weight_kg", float(weight_kg) if weight_kg is not None else _positive_num(ds.get("PatientWeight")))
    meta.setdefault(
        "injected_dose_bq", float(dose_mbq) * 1e6 if dose_mbq is not None else _header_dose_bq(ds, rinfo)
    )
    meta.setdefault("half_life_s", float(half_life_s) if half_life_s is not None else _positive_num(rinfo.get("RadionuclideHalfLife")))
    if "injection_datetime" not in meta:
        meta["injection_datetime"] = _iso(_header_injection(ds, times, None))
    meta.setdefault("series_datetime", _iso(times.series))
    tracer = str(rinfo.get("Radiopharmaceutical", "") or "").strip() or None
    nuclide = None
    code = rinfo.get("RadionuclideCodeSequence")
    if code:
        nuclide = str(code[0].get("CodeMeaning", "") or "").strip() or None
    if tracer is None and rinfo.get("RadiopharmaceuticalCodeSequence"):
        tracer = str(rinfo.RadiopharmaceuticalCodeSequence[0].get("CodeMeaning", "") or "").strip() or None
    meta["tracer"] = tracer
    meta["radionuclide"] = nuclide
    meta.setdefault("overrides", {})


# ------------------------------------------------------------------------------------ patient meta


def _age_years(ds: Any) -> float | int | None:
    text = str(ds.get("PatientAge", "") or "").strip().upper()
    m = re.fullmatch(r"(\d{1,3})([DWMY])?", text)
    if m:
        v, unit = int(m[1]), m[2] or "Y"
        if unit == "Y":
            return v
        return round(v / {"D": 365.25, "W": 52.1775, "M": 12.0}[unit], 2)
    born = parse_da(ds.get("PatientBirthDate"))
    when = parse_da(ds.get("StudyDate")) or parse_da(ds.get("SeriesDate"))
    if born and when and when >= born:
        return when.year - born.year - ((when.month, when.day) < (born.month, born.day))
    return None


def _patient_meta(ds: Any) -> dict[str, Any]:
    sex = str(ds.get("PatientSex", "") or "").strip().upper()
    try:
        height = float(ds.get("PatientSize") or 0) or None
    except (TypeError, ValueError):
        height = None
    if height is not None and height > 3:  # centimetres stored instead of metres
        height = height / 100.0
    return {
        "patient_id": str(ds.get("PatientID", "") or "") or None,
        "sex": sex if sex in ("M", "F") else None,
        "age": _age_years(ds),
        "height_m": height,
        "manufacturer": str(ds.get("Manufacturer", "") or "") or None,
        "study_instance_uid": str(ds.get("StudyInstanceUID", "") or "") or None,
    }


# ------------------------------------------------------------------------------------ ingest


def ingest_dicom(
    out: str | os.PathLike,
    *,
    dicom_dir: str | os.PathLike | None = None,
    pet_dir: str | os.PathLike | None = None,
    ct_dir: str | os.PathLike | None = None,
    pet_series: str | None = None,
    ct_series: str | None = None,
    weight_kg: float | None = None,
    dose_mbq: float | None = None,
    injection_time: str | None = None,
    half_life_s: float | None = None,
    study_id: str | None = None,
    allow_no_ct: bool = False,
    progress: bool | None = None,
    warn: Callable[[str], None] | None = None,
) -> Path:
    """Read a PET/CT exam from DICOM into a study folder `out`; returns the folder.

    Give `dicom_dir` (one folder holding both series, scanned recursively) or `pet_dir` (+ `ct_dir`).
    Writes pet_suv.nii.gz (SUVbw float32), ct.nii.gz (HU) and, last, study.json, so a crash never
    leaves a folder that looks complete. Warnings go to `warn` (stderr by default) and study.json.
    """
    warn = warn or (lambda msg: print(f"pet2rep ingest: warning: {msg}", file=sys.stderr))
    out = Path(out)
    sid = study_id_for(out, study_id)
    check_facts(weight_kg, dose_mbq, half_life_s)
    unreadable: list[str] = []
    found = _find_series(dicom_dir, pet_dir, ct_dir, pet_series, ct_series, allow_no_ct, progress, unreadable)
    pet, ct = found.pet, found.ct

    warnings: list[str] = []
    if found.skipped:
        named = f": unreadable DICOM {_names(unreadable)}" if unreadable else ""
        warnings.append(f"{found.where}: {found.skipped} file(s) skipped (not DICOM images){named}")
    geom = _geometry(pet, unreadable)
    warnings += geom.warnings
    suv = suv_parameters(
        pet, geom.order, weight_kg=weight_kg, dose_mbq=dose_mbq, injection_time=injection_time, half_life_s=half_life_s
    )
    warnings += suv.warnings
    ct_geom = None
    if ct is not None:  # the CT's geometry is checked against the PET's before any pixel is read
        ct_geom = _geometry(ct, unreadable)
        warnings += ct_geom.warnings
        check_overlap(geom.shape, geom.affine, ct_geom.shape, ct_geom.affine, ct.label())
    pet_vol = _pet_volume(pet, geom, suv, progress, warnings)
    ct_vol = None
    if ct is not None and ct_geom is not None:
        ct_vol = _ct_volume(ct, ct_geom, pet, progress, warnings)

    meta = _dicom_study_meta(sid, pet.headers[geom.order[0]], suv.meta)
    meta["provenance"] = _dicom_provenance(pet, ct, suv.meta, found.choice)
    meta["warnings"] = warnings
    for w in warnings:
        warn(w)

    study = Study(study_id=sid, pet=pet_vol, ct=ct_vol, meta=meta)
    # written beside `out` and swapped in when complete: a failure leaves an existing study there as it was
    with staged_folder(out, drop=(CT_FILE,)) as stage:
        write_study(study, stage)
    study.folder = out
    return out


@dataclass
class _Found:
    """The PET and CT series chosen for an exam, how they were chosen, and what the scan skipped."""

    pet: Series
    ct: Series | None
    choice: dict[str, Any]
    skipped: int
    where: str


def _find_series(dicom_dir: str | os.PathLike | None, pet_dir: str | os.PathLike | None,
                 ct_dir: str | os.PathLike | None, pet_series: str | None, ct_series: str | None,
                 allow_no_ct: bool, progress: bool | None, unreadable: list[str]) -> _Found:
    """Scan the given folders and pick the PET series (and the CT unless `allow_no_ct` and none is there);
    files that could not be read are added to `unreadable`."""
    if dicom_dir is not None:
        if pet_dir is not None or ct_dir is not None:
            raise InputError("give either dicom_dir= or pet_dir= (and ct_dir=), not both")
        series, skipped = scan_dicom([dicom_dir], progress, unreadable)
        where = str(dicom_dir)
        pet, ct, choice = _pick_series(series, pet_series, ct_series, where, not allow_no_ct, unreadable)
    elif pet_dir is not None:
        pet_all, skipped = scan_dicom([pet_dir], progress, unreadable)
        if ct_dir is not None and Path(ct_dir).resolve() != Path(pet_dir).resolve():
            ct_all, skipped_ct = scan_dicom([ct_dir], progress, unreadable)
            skipped += skipped_ct
        else:
            ct_all = pet_all  # --pet alone: a CT in the same folder is used too
        where = f"{pet_dir}" + (f" + {ct_dir}" if ct_dir is not None else "")
        pet, ct, choice = _pick_series(pet_all + ct_all, pet_series, ct_series, where, not allow_no_ct, unreadable,
                                       pet_pool=pet_all, ct_pool=ct_all)
    else:
        raise InputError("no input: give dicom_dir=DIR, or pet_dir=PET_DIR ct_dir=CT_DIR")
    return _Found(pet, ct, choice, skipped, where)


def _pet_volume(pet: Series, geom: Geometry, suv: SuvParams, progress: bool | None,
                warnings: list[str]) -> Volume:
    """The PET's pixels in SUV (float32); InputError when any voxel is not a finite number."""
    pet_data = read_pixels(pet, geom, factors=suv.factors, progress=progress, desc="reading PET", warnings=warnings)
    if not np.all(np.isfinite(pet_data)):
        n_bad = int(np.count_nonzero(~np.isfinite(pet_data)))
        raise InputError(f"{pet.label()}: {n_bad} SUV voxels are not finite numbers (NaN or infinite pixel values, "
                         "or a rescale that overflows)")
    return Volume(pet_data.astype(np.float32, copy=False), geom.affine)


def _ct_volume(ct: Series, ct_geom: Geometry, pet: Series, progress: bool | None, warnings: list[str]) -> Volume:
    """The CT's pixels in HU; warns when its frame of reference is not the PET's."""
    ct_data = read_pixels(ct, ct_geom, integer_ok=True, progress=progress, desc="reading CT", warnings=warnings)
    ct_vol = Volume(ct_data, ct_geom.affine)
    if ct.frame_of_reference and pet.frame_of_reference and ct.frame_of_reference != pet.frame_of_reference:
        warnings.append(
            f"{ct.label()}: FrameOfReferenceUID differs from the PET's; PET and CT may not be registered"
        )
    return ct_vol


def _dicom_study_meta(sid: str, first: Any, sm: dict[str, Any]) -> dict[str, Any]:
    """study.json's patient and SUV fields, in their order (`first`: the first PET slice's header, `sm`: the
    SUV parameters' meta); the optional decay fields only where known."""
    meta: dict[str, Any] = {"study_id": sid}
    meta.update(_patient_meta(first))
    meta.update(
        weight_kg=sm.get("weight_kg"),
        height_m=meta.pop("height_m"),
        injected_dose_bq=sm.get("injected_dose_bq"),
        injection_datetime=sm.get("injection_datetime"),
        series_datetime=sm.get("series_datetime"),
        decay_reference=sm.get("decay_reference"),
        half_life_s=sm.get("half_life_s"),
        tracer=sm.get("tracer"),
        radionuclide=sm.get("radionuclide"),
        suv_type="bw",
        units_in=sm.get("units_in"),
        manufacturer=meta.pop("manufacturer"),
        suv_method=sm.get("suv_method"),
        decay_correction=sm.get("decay_correction"),
        decay_factor=sm.get("decay_factor"),
        uptake_time_s=sm.get("uptake_time_s"),
        decay_reference_datetime=sm.get("decay_reference_datetime"),
    )
    optional = ("decay_factor", "uptake_time_s", "decay_reference_datetime", "decay_correction")
    return {k: v for k, v in meta.items() if v is not None or k not in optional}


def _dicom_provenance(pet: Series, ct: Series | None, sm: dict[str, Any], choice: dict[str, Any]) -> dict[str, Any]:
    """study.json's provenance: the series and files read, the overrides given, how the series were chosen."""
    from .. import __version__

    return {
        "source": "dicom",
        "pet_series_uid": pet.uid,
        "ct_series_uid": ct.uid if ct is not None else None,
        "n_files": pet.n_files + (ct.n_files if ct is not None else 0),
        "pet_n_files": pet.n_files,
        "ct_n_files": ct.n_files if ct is not None else 0,
        "pet_dir": str(pet.folder.resolve()),
        "ct_dir": str(ct.folder.resolve()) if ct is not None else None,
        "pet2rep_version": __version__,
        "overrides": sm.get("overrides", {}),
        "series_choice": choice,
    }


def _names(items: Sequence[str], limit: int = 3) -> str:
    more = f" and {len(items) - limit} more" if len(items) > limit else ""
    return ", ".join(items[:limit]) + more


def _pick_series(series: Sequence[Series], pet_uid: str | None, ct_uid: str | None, where: str, need_ct: bool,
                 unreadable: list[str], **pools: Any) -> tuple[Series, Series | None, dict[str, Any]]:
    """select_series, with the unreadable DICOM files named when no series is found."""
    try:
        return select_series(series, pet_uid, ct_uid, where=where, need_ct=need_ct, **pools)
    except InputError as exc:
        if unreadable and "found" in str(exc):
            raise InputError(f"{exc} ({len(unreadable)} DICOM file(s) unreadable: {_names(unreadable)})") from None
        raise


def _geometry(series: Series, unreadable: list[str]) -> Geometry:
    """slice_geometry, naming unreadable DICOM files (e.g. truncated) when slices are missing."""
    try:
        return slice_geometry(series)
    except InputError as exc:
        if unreadable and "missing" in str(exc):
            raise InputError(f"{exc} ({len(unreadable)} DICOM file(s) could not be read: {_names(unreadable)})") from None
        raise




def batch_exams(root: Path, out: Path) -> tuple[list[Path], list[str]]:
    """The exam folders of a --batch root: its immediate sub-folders, hidden ones left out, and (each reported
    in a 'skipped' line) symbolic links that lead back to the root or above it, the output folder and a
    folder reached twice."""
    real_root = root.resolve()
    real_out = Path(os.path.abspath(out)).resolve()
    exams: list[Path] = []
    skipped: list[str] = []
    seen: dict[Path, Path] = {}
    for p in sorted(root.iterdir()):
        if p.name.startswith(".") or not p.is_dir():
            continue
        real = p.resolve()
        if real == real_root or real in real_root.parents:
            skipped.append(f"{p.name}: skipped (a link back to {root} or above it, not an exam)")
        elif real == real_out or real_out in real.parents:
            skipped.append(f"{p.name}: skipped (the output folder {out}, not an exam)")
        elif real in seen:
            skipped.append(f"{p.name}: skipped (the same folder as {seen[real].name})")
        else:
            seen[real] = p
            exams.append(p)
    return exams, skipped


def ingest_batch(
    root: str | os.PathLike,
    out: str | os.PathLike,
    *,
    skip_existing: bool = False,
    allow_no_ct: bool = False,
    progress: bool | None = None,
    report: Callable[[str], None] | None = None,
) -> tuple[list[str], list[tuple[str, str]]]:
    """Ingest each immediate sub-folder of `root` as one exam into `out/<name>/`.

    Failures are reported as '<folder>: <reason>' through `report` (stderr by default) and do not stop
    the run. Returns (names ingested or skipped as done, [(name, reason) failed]).
    """
    from ..errors import Pet2RepError

    report = report or (lambda line: print(line, file=sys.stderr))
    root, out = Path(root), Path(out)
    if not root.is_dir():
        raise InputError(f"{root}: no such folder")
    exams, skipped = batch_exams(root, out)
    for line in skipped:
        report(line)
    if not exams:
        raise InputError(f"{root}: no sub-folders; a batch is one sub-folder per exam")
    done: list[str] = []
    failed: list[tuple[str, str]] = []
    for exam in exams:
        problem = id_problem(exam.name)
        if problem is not None:
            reason = f"the folder name {exam.name!r} {problem}, so it cannot be a study id; rename the folder"
            failed.append((exam.name, reason))
            report(f"{_single_line(exam.name)}: {reason}")
            continue
        target = safe_join(out, exam.name)
        if skip_existing and (target / META_FILE).exists():
            done.append(exam.name)
            continue
        try:
            ingest_dicom(
                target, dicom_dir=exam, allow_no_ct=allow_no_ct, progress=progress,
                warn=lambda msg, name=exam.name: report(f"{name}: warning: {msg}"),
            )
        except Pet2RepError as exc:
            failed.append((exam.name, _single_line(exc)))
            report(f"{exam.name}: {_single_line(exc)}")
            continue
        except (MemoryError, KeyboardInterrupt):
            raise
        except Exception as exc:  # an unforeseen defect in one exam must not stop the batch
            reason = f"unexpected {type(exc).__name__}: {_exc_line(exc)}"
            failed.append((exam.name, reason))
            report(f"{exam.name}: {reason}")
            continue
        done.append(exam.name)
    return done, failed


def suv_from_activity(
    activity_bq_ml: float, weight_kg: float, dose_bq: float, decay_s: float, half_life_s: float
) -> float:
    """SUVbw of one activity concentration: activity * weight_g / (dose * 2^(-t/T1/2))."""
    return activity_bq_ml * weight_kg * 1000.0 / (dose_bq * math.pow(2.0, -decay_s / half_life_s))
