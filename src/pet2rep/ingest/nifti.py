"""NIfTI ingest: autoPET-style SUV.nii.gz + CTres.nii.gz (or PET in Bq/ml plus the facts SUV needs).

PET already in SUV, stored float32 in a .nii.gz, and a CT already in .nii.gz are **not** decompressed
and recompressed: the files are copied into the study folder (a copy-on-write reflink where the file system
has them; never a hard link, so editing the study never changes the input). Their headers validate shape,
affine and overlap, and the copies are then inflated once to their end, without being kept in memory, to
refuse a truncated or corrupt file and to count non-finite PET voxels (a PET with some is rewritten with 0
there, with a warning; one with no finite voxel is refused).

PET in Bq/ml is converted to SUVbw = C [Bq/ml] * weight [g] / (dose [Bq] decayed to scan start), with
the dose decay-corrected over the injection -> scan-start interval (F-18 half-life 6586.2 s unless given).
`pet_units="auto"` decides from the file name ("SUV" in it -> SUV) or else from the value range (99.9th
percentile above 200 -> Bq/ml) and records how it decided in study.json's provenance.
"""

from __future__ import annotations

import datetime as dt
import math
import os
import re
import sys
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import numpy as np

from ..errors import InputError, out_folder, plain
from ..io import atomic_write_bytes, copy_file, staged_folder
from ..study import (
    CT_FILE,
    META_FILE,
    PET_FILE,
    Volume,
    check_nifti_data,
    check_overlap,
    read_nifti_header,
    save_nifti,
    write_json,
)
from . import check_facts, study_id_for

F18_HALF_LIFE_S = 6586.2
# Clock times alone with the scan earlier than the injection are read as crossing midnight only up to this
# uptake; more is a swapped or mistyped time (FDG is scanned ~1 h after injection).
MAX_MIDNIGHT_UPTAKE_S = 12 * 3600.0
BQML_THRESHOLD = 200.0  # SUV images almost never exceed this at the 99.9th percentile; Bq/ml images always do
_UNIT_ALIASES = {"auto": "auto", "suv": "suv", "suvbw": "suv", "gml": "suv", "bqml": "bqml", "bq/ml": "bqml"}


def _units_option(value: str) -> str:
    key = str(value).strip().lower().replace(" ", "")
    if key not in _UNIT_ALIASES:
        raise InputError(f"pet_units={value!r}: expected auto, suv or bqml")
    return _UNIT_ALIASES[key]


def parse_clock(value: Any, what: str) -> dt.datetime | dt.time | None:
    """A time given as datetime/time, ISO date-time text, 'HH:MM[:SS[.f]]' or DICOM 'HHMMSS[.f]'."""
    if value is None or value == "":
        return None
    if isinstance(value, (dt.datetime, dt.time)):
        return value
    text = str(value).strip()
    m = re.fullmatch(r"(\d{1,2}):(\d{2})(?::(\d{2})(\.\d+)?)?", text) or re.fullmatch(
        r"(\d{2})(\d{2})(\d{2})?(\.\d+)?", text
    )
    if m:
        h, mi, s, frac = int(m.group(1)), int(m.group(2)), int(m.group(3) or 0), m.group(4)
        if h < 24 and mi < 60 and s < 60:
            return dt.time(h, mi, s, int(round(float(frac) * 1e6)) if frac else 0)
    try:
        return dt.datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError:
        pass
    raise InputError(f"{what} {text!r}: expected HH:MM[:SS], HHMMSS or an ISO date-time (YYYY-MM-DDTHH:MM:SS)")


def uptake_seconds(injection: dt.datetime | dt.time, scan: dt.datetime | dt.time) -> float:
    """Seconds from injection to scan start (clock times alone: the scan is taken to follow within 24 h)."""
    if isinstance(injection, dt.datetime) and isinstance(scan, dt.datetime):
        if (injection.tzinfo is None) != (scan.tzinfo is None):
            injection, scan = injection.replace(tzinfo=None), scan.replace(tzinfo=None)
        seconds = (scan - injection).total_seconds()
        if seconds < 0:
            raise InputError(f"scan time {scan.isoformat()} is before the injection time {injection.isoformat()}")
        return seconds

    def sod(t: dt.datetime | dt.time) -> float:
        t = t.time() if isinstance(t, dt.datetime) else t
        return t.hour * 3600 + t.minute * 60 + t.second + t.microsecond / 1e6

    seconds = sod(scan) - sod(injection)
    if seconds < 0:
        seconds += 86400.0
        if seconds > MAX_MIDNIGHT_UPTAKE_S:
            raise InputError(
                f"scan time {_clock(scan)} is before the injection time {_clock(injection)} "
                f"(read as the next day it would be {seconds / 3600:.1f} h of uptake): check the two times, "
                "or give full date-times (YYYY-MM-DDTHH:MM:SS)")
    return seconds


def _clock(t: dt.datetime | dt.time) -> str:
    return (t.time() if isinstance(t, dt.datetime) else t).isoformat()


def suv_factor(weight_kg: float, dose_bq: float, uptake_s: float, half_life_s: float) -> tuple[float, float]:
    """(factor, decay): SUVbw = Bq/ml * factor, with the dose decayed over `uptake_s`."""
    decay = 2.0 ** (-uptake_s / half_life_s)
    return weight_kg * 1000.0 / (dose_bq * decay), decay


def _check_header(hdr: Any, path: Path) -> tuple[tuple[int, ...], np.ndarray]:
    shape = tuple(int(n) for n in hdr.get_data_shape())
    while len(shape) > 3 and shape[-1] == 1:
        shape = shape[:-1]
    if len(shape) != 3 or min(shape) < 1:
        raise InputError(f"{path}: expected a 3-D image, got shape {plain(shape)}")
    try:
        dtype = hdr.get_data_dtype()
    except Exception as exc:  # nibabel raises several kinds for unknown codes
        raise InputError(f"{path}: unsupported NIfTI data type ({exc})") from None
    if dtype.kind not in "iuf":
        raise InputError(f"{path}: data type {dtype.name} is not a real-valued scalar image (expected integers or floats)")
    aff = np.asarray(hdr.get_best_affine(), np.float64)
    if not np.isfinite(aff).all() or abs(np.linalg.det(aff[:3, :3])) < 1e-9:
        raise InputError(f"{path}: invalid (non-finite or singular) affine")
    return shape, aff


def _gzip_file(src: Path, dst: Path) -> None:
    """Compress an uncompressed .nii into `dst` (ISA-L level 1) without parsing the data."""
    try:
        from isal import igzip as gz
    except ImportError:  # pragma: no cover
        import gzip as gz
    atomic_write_bytes(dst, gz.compress(src.read_bytes(), compresslevel=1))


def _check_copy(copy: Path, hdr: Any, src: Path, **kw: Any) -> Any:
    """check_nifti_data on the study's copy of `src`; a problem is reported under the input's name (the copy
    lies in a hidden staging folder the user never sees)."""
    try:
        return check_nifti_data(copy, hdr, **kw)
    except InputError as exc:
        raise InputError(str(exc).replace(str(copy), str(src))) from None


def _is_gz(path: Path) -> bool:
    return path.name.lower().endswith(".gz")


def _place_ct(src: Path, hdr: Any, dst: Path) -> str:
    """The CT into the study: a .nii.gz copied (reflink where possible), then the copy read to its end;
    a .nii read to its end, then gzipped. Returns how."""
    if _is_gz(src):
        how = copy_file(src, dst)
        _check_copy(dst, hdr, src)
        return how
    check_nifti_data(src, hdr)
    _gzip_file(src, dst)
    return "gzipped"


def _load_quiet(path: Path, dtype: Any = None) -> Volume:
    """load_nifti without numpy's raw overflow/invalid warnings: a header scaling (scl_slope, scl_inter) that
    makes voxels non-finite is reported by `finite_pet` in one line instead."""
    from ..study import load_nifti

    with np.errstate(over="ignore", invalid="ignore", divide="ignore"):
        return load_nifti(path, dtype)


def finite_pet(data: np.ndarray, where: Path, warnings: list[str]) -> np.ndarray:
    """PET voxels that are NaN or infinite set to 0 SUV (with a warning); a PET with no finite voxel is refused."""
    bad = ~np.isfinite(data)
    n_bad = int(np.count_nonzero(bad))
    if n_bad == 0:
        return data
    if n_bad == data.size:
        raise InputError(f"{where}: the PET has no finite voxel (all {data.size} are NaN or infinite)")
    warnings.append(f"{where}: {n_bad} of {data.size} PET voxels are NaN or infinite; written as 0 SUV")
    return np.where(bad, np.float32(0), data).astype(np.float32, copy=False)


def ingest_nifti(
    pet_path: str | os.PathLike,
    ct_path: str | os.PathLike | None,
    out: str | os.PathLike,
    *,
    pet_units: str = "auto",
    weight_kg: float | None = None,
    dose_mbq: float | None = None,
    injection_time: Any = None,
    scan_time: Any = None,
    half_life_s: float | None = None,
    study_id: str | None = None,
    sex: str | None = None,
    age: float | None = None,
    warn: Callable[[str], None] | None = None,
) -> Path:
    """Make a study folder from a PET NIfTI (SUV or Bq/ml) and a CT NIfTI (HU); returns the folder.

    Writes pet_suv.nii.gz (float32 SUV), ct.nii.gz (HU, own grid; omitted when `ct_path` is None) and
    study.json (last) into a new folder beside `out`, which replaces `out` only when complete: a failed
    ingest leaves an existing study at `out` as it was. Bq/ml input needs weight_kg, dose_mbq,
    injection_time and scan_time. Inputs are read in full (a truncated or corrupt file is refused);
    non-finite PET voxels become 0 SUV with a warning (to `warn`, stderr by default, and study.json).
    """
    from nibabel.affines import voxel_sizes

    from .. import __version__

    warn = warn or (lambda msg: print(f"pet2rep ingest: warning: {msg}", file=sys.stderr))
    pet_path = Path(pet_path)
    ct = Path(ct_path) if ct_path is not None else None
    out = Path(out)
    units = _units_option(pet_units)
    sid = study_id_for(out, study_id)
    check_facts(weight_kg, dose_mbq, half_life_s, age)
    if sex not in (None, "M", "F"):
        raise InputError(f"sex={sex!r}: expected M or F")
    hl = float(half_life_s) if half_life_s is not None else F18_HALF_LIFE_S

    pet_hdr = read_nifti_header(pet_path)
    ct_hdr = read_nifti_header(ct) if ct is not None else None
    pet_shape, pet_aff = _check_header(pet_hdr, pet_path)
    if ct is not None:
        ct_shape, ct_aff = _check_header(ct_hdr, ct)
        check_overlap(pet_shape, pet_aff, ct_shape, ct_aff, str(ct))
    units, decision, pet_vol = _decide_units(units, pet_path)  # pet_vol: loaded only when the values decided
    inj = parse_clock(injection_time, "injection time")
    scan = parse_clock(scan_time, "scan time")
    meta: dict[str, Any] = {
        "study_id": sid,
        "sex": sex,
        "age": age,
        "weight_kg": float(weight_kg) if weight_kg is not None else None,
        "injected_dose_bq": float(dose_mbq) * 1e6 if dose_mbq is not None else None,
        "injection_time": inj.isoformat() if inj is not None else None,
        "scan_time": scan.isoformat() if scan is not None else None,
        "tracer": "FDG",
        "half_life_s": hl,
        "suv_type": "bw",
        "units_in": "SUV" if units == "suv" else "BQML",
    }
    suv_facts = _bqml_suv_facts(pet_path, weight_kg, dose_mbq, inj, scan, hl) if units == "bqml" else {}
    out_folder(out)
    warnings: list[str] = []
    with staged_folder(out, drop=(CT_FILE,)) as stage:
        with ThreadPoolExecutor(max_workers=2) as pool:  # the CT is copied and checked while the PET is made
            ct_job = pool.submit(_place_ct, ct, ct_hdr, stage / CT_FILE) if ct is not None else None
            if units == "bqml":
                pet_how = _write_bqml_as_suv(pet_path, pet_vol, suv_facts["suv_factor"], stage / PET_FILE, warnings)
                meta.update(suv_facts, suv_method="Bq/ml * weight_g / (dose decayed to scan start)")
            else:
                pet_how = _write_suv(pet_path, pet_hdr, pet_vol, stage / PET_FILE, warnings)
                meta["suv_method"] = "input already SUV"
            ct_how = ct_job.result() if ct_job is not None else None
        meta["pet_shape"] = list(pet_shape)
        meta["pet_zooms_mm"] = [round(float(z), 5) for z in voxel_sizes(pet_aff)]
        meta["provenance"] = {
            "source": "nifti",
            "pet_path": str(pet_path.resolve()),
            "ct_path": str(ct.resolve()) if ct is not None else None,
            "units_decision": decision,
            "pet_file": pet_how,
            "ct_file": ct_how,
            "pet2rep_version": __version__,
        }
        meta["warnings"] = warnings
        write_json(stage / META_FILE, meta)
    for w in warnings:
        warn(w)
    return out


def _decide_units(units: str, pet_path: Path) -> tuple[str, str, Volume | None]:
    """(suv or bqml, how that was decided, the PET volume when it had to be read to decide)."""
    if units != "auto":
        return units, f"given: {units}", None
    if "suv" in pet_path.name.lower():
        return "suv", f"auto: file name {pet_path.name!r} contains 'SUV'", None
    pet_vol = _load_quiet(pet_path)
    sample = np.asarray(pet_vol.data).ravel()[::7]
    sample = sample[np.isfinite(sample)]
    p999 = float(np.percentile(sample, 99.9)) if sample.size else 0.0
    units = "bqml" if p999 > BQML_THRESHOLD else "suv"
    decision = (
        f"auto: value range, 99.9th percentile {p999:.6g} "
        f"{'>' if units == 'bqml' else '<='} {BQML_THRESHOLD:g} -> {'Bq/ml' if units == 'bqml' else 'SUV'}"
    )
    return units, decision, pet_vol


def _bqml_suv_facts(pet_path: Path, weight_kg: float | None, dose_mbq: float | None, inj: Any, scan: Any,
                    hl: float) -> dict[str, float]:
    """uptake_time_s, decay_factor and suv_factor (SUV per Bq/ml) of a Bq/ml PET, checked before anything is
    written: every fact present, the scan after the injection, a finite positive factor."""
    missing = [name for name, v in (("weight (kg)", weight_kg), ("injected dose (MBq)", dose_mbq),
                                     ("injection time", inj), ("scan time", scan)) if v is None]
    if missing:
        raise InputError(f"{pet_path}: PET in Bq/ml needs {', '.join(missing)} to compute SUV")
    uptake = uptake_seconds(inj, scan)
    factor, decay = suv_factor(float(weight_kg), float(dose_mbq) * 1e6, uptake, hl)
    if not (math.isfinite(factor) and factor > 0):
        raise InputError(
            f"{pet_path}: SUV factor {plain(factor)} is not a finite positive number (weight {plain(weight_kg)} kg, "
            f"dose {plain(dose_mbq)} MBq, decay {plain(decay)} over {plain(uptake)} s with half-life {plain(hl)} s)")
    return {"uptake_time_s": uptake, "decay_factor": decay, "suv_factor": factor}


def _write_bqml_as_suv(pet_path: Path, pet_vol: Volume | None, factor: float, dst: Path,
                       warnings: list[str]) -> str:
    """Write the Bq/ml PET times `factor` as float32 SUV to `dst` (refused when a voxel overflows float32)."""
    if pet_vol is None:
        pet_vol = _load_quiet(pet_path)
    src_finite = np.isfinite(pet_vol.data)
    with np.errstate(over="ignore", invalid="ignore"):
        suv = np.multiply(pet_vol.data, np.float32(factor), dtype=np.float32)
    overflow = int(np.count_nonzero(src_finite & ~np.isfinite(suv)))
    if overflow:
        raise InputError(
            f"{pet_path}: {overflow} voxels overflow float32 when converted to SUV (largest "
            f"{plain(float(np.max(np.abs(pet_vol.data[src_finite]))))} Bq/ml x {plain(factor)}); "
            "check the units and weight_kg= and dose_mbq=")
    save_nifti(Volume(finite_pet(suv, pet_path, warnings), pet_vol.affine), dst)
    return "converted from Bq/ml"


def _write_suv(pet_path: Path, pet_hdr: Any, pet_vol: Volume | None, dst: Path, warnings: list[str]) -> str:
    """Put a PET already in SUV at `dst` as float32 .nii.gz: copied when it is one (then checked to its end),
    else rewritten; non-finite voxels become 0. Returns how the file was made."""
    slope, inter = pet_hdr.get_slope_inter()
    scaled = slope is not None and not (slope == 1 and (inter is None or inter == 0))
    if _is_gz(pet_path) and pet_hdr.get_data_dtype() == np.dtype("<f4") and not scaled:
        pet_how = copy_file(pet_path, dst)  # never a hard link: the study must not share the input
        found = _check_copy(dst, pet_hdr, pet_path, count_nonfinite=True)  # the copy, to its end
        if found.nonfinite:
            vol = _load_quiet(dst, np.float32)
            save_nifti(Volume(finite_pet(vol.data, pet_path, warnings), vol.affine), dst)
            pet_how = "rewritten as float32 .nii.gz (non-finite voxels set to 0)"
        return pet_how
    vol = pet_vol if pet_vol is not None else _load_quiet(pet_path)
    with np.errstate(over="ignore", invalid="ignore"):  # beyond float32: inf, named below
        data = np.asarray(vol.data, np.float32)
    save_nifti(Volume(finite_pet(data, pet_path, warnings), vol.affine), dst)
    return "rewritten as float32 .nii.gz"
