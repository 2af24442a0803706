"""NIfTI ingest: autoPET-style SUV.nii.gz + CTres.nii.gz (or PET in Bq/ml plus the facts SUV needs).

PET already in SUV, stored float32 in a .nii.gz, and a CT already in .nii.gz are **not** decompressed
and recompressed: the files are hard-linked into the study folder (copied when linking is not possible,
e.g. across file systems) and only their headers are read (the first 540 bytes of each gzip stream) to
validate shape, affine and overlap. A hard link shares the input's bytes: pet2rep itself only ever
replaces study files atomically, so the input is never modified through it.

PET in Bq/ml is converted to SUVbw = C [Bq/ml] * weight [g] / (dose [Bq] decayed to scan start), with
the dose decay-corrected over the injection -> scan-start interval (F-18 half-life 6586.2 s unless given).
`pet_units="auto"` decides from the file name ("SUV" in it -> SUV) or else from the value range (99.9th
percentile above 200 -> Bq/ml) and records how it decided in study.json's provenance.
"""

from __future__ import annotations

import datetime as dt
import os
import re
import shutil
from pathlib import Path
from typing import Any

import numpy as np

from ..errors import InputError, out_folder
from ..study import CT_FILE, META_FILE, PET_FILE, Volume, read_nifti_header, save_nifti, write_json

F18_HALF_LIFE_S = 6586.2
# Clock times alone with the scan earlier than the injection are read as crossing midnight only up to this
# uptake; more is a swapped or mistyped time (FDG is scanned ~1 h after injection).
MAX_MIDNIGHT_UPTAKE_S = 12 * 3600.0
BQML_THRESHOLD = 200.0  # SUV images almost never exceed this at the 99.9th percentile; Bq/ml images always do
_UNIT_ALIASES = {"auto": "auto", "suv": "suv", "suvbw": "suv", "gml": "suv", "bqml": "bqml", "bq/ml": "bqml"}


def _units(value: str) -> str:
    key = str(value).strip().lower().replace(" ", "")
    if key not in _UNIT_ALIASES:
        raise InputError(f"pet_units {value!r}: expected auto, suv or bqml")
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
        raise InputError(f"{path}: expected a 3-D image, got shape {shape}")
    aff = np.asarray(hdr.get_best_affine(), np.float64)
    if not np.isfinite(aff).all() or abs(np.linalg.det(aff[:3, :3])) < 1e-9:
        raise InputError(f"{path}: invalid (non-finite or singular) affine")
    return shape, aff


def _bbox(shape: tuple[int, ...], aff: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    corners = np.array([[i, j, k] for i in (-0.5, shape[0] - 0.5) for j in (-0.5, shape[1] - 0.5)
                        for k in (-0.5, shape[2] - 0.5)]).T
    world = aff[:3, :3] @ corners + aff[:3, 3:4]
    return world.min(axis=1), world.max(axis=1)


def _place(src: Path, dst: Path) -> str:
    """Put `src`'s bytes at `dst` atomically: a hard link when possible, else a copy. Returns which."""
    tmp = dst.with_name(dst.name + ".part")
    if tmp.exists() or tmp.is_symlink():
        tmp.unlink()
    try:
        os.link(src, tmp)
        how = "hardlink"
    except OSError:
        shutil.copyfile(src, tmp)
        how = "copy"
    os.replace(tmp, dst)
    return how


def _gzip_file(src: Path, dst: Path) -> None:
    """Compress an uncompressed .nii into `dst` (ISA-L level 1) without parsing the data."""
    try:
        from isal import igzip as gz
    except ImportError:  # pragma: no cover
        import gzip as gz
    tmp = dst.with_name(dst.name + ".part")
    tmp.write_bytes(gz.compress(src.read_bytes(), compresslevel=1))
    os.replace(tmp, dst)


def _is_gz(path: Path) -> bool:
    return path.name.lower().endswith(".gz")


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
) -> Path:
    """Make a study folder from a PET NIfTI (SUV or Bq/ml) and a CT NIfTI (HU); returns the folder.

    Writes pet_suv.nii.gz (float32 SUV), ct.nii.gz (HU, own grid; omitted when `ct_path` is None) and
    study.json (last). Bq/ml input needs weight_kg, dose_mbq, injection_time and scan_time.
    """
    from .. import __version__
    from ..study import load_nifti

    pet_path = Path(pet_path)
    ct = Path(ct_path) if ct_path is not None else None
    out = Path(out)
    units = _units(pet_units)
    hl = float(half_life_s) if half_life_s is not None else F18_HALF_LIFE_S
    for name, value in (("weight_kg", weight_kg), ("dose_mbq", dose_mbq), ("half_life_s", half_life_s)):
        if value is not None and not float(value) > 0:
            raise InputError(f"{name} {value}: must be positive")

    pet_hdr = read_nifti_header(pet_path)
    ct_hdr = read_nifti_header(ct) if ct is not None else None
    pet_shape, pet_aff = _check_header(pet_hdr, pet_path)
    if ct is not None:
        ct_shape, ct_aff = _check_header(ct_hdr, ct)
        plo, phi = _bbox(pet_shape, pet_aff)
        clo, chi = _bbox(ct_shape, ct_aff)
        if np.any(np.minimum(phi, chi) <= np.maximum(plo, clo)):
            raise InputError(f"{ct}: CT does not overlap the PET in space (check the pairing and the affines)")

    pet_vol: Volume | None = None  # loaded only when needed
    if units == "auto":
        if "suv" in pet_path.name.lower():
            units, decision = "suv", f"auto: file name {pet_path.name!r} contains 'SUV'"
        else:
            pet_vol = load_nifti(pet_path)
            sample = np.asarray(pet_vol.data).ravel()[::7]
            sample = sample[np.isfinite(sample)]
            p999 = float(np.percentile(sample, 99.9)) if sample.size else 0.0
            units = "bqml" if p999 > BQML_THRESHOLD else "suv"
            decision = (
                f"auto: value range, 99.9th percentile {p999:.6g} "
                f"{'>' if units == 'bqml' else '<='} {BQML_THRESHOLD:g} -> {'Bq/ml' if units == 'bqml' else 'SUV'}"
            )
    else:
        decision = f"given: {units}"

    meta: dict[str, Any] = {
        "study_id": study_id or out.name,
        "sex": sex,
        "age": age,
        "weight_kg": float(weight_kg) if weight_kg is not None else None,
        "injected_dose_bq": float(dose_mbq) * 1e6 if dose_mbq is not None else None,
        "injection_time": None,
        "scan_time": None,
        "tracer": "FDG",
        "half_life_s": hl,
        "suv_type": "bw",
        "units_in": "SUV" if units == "suv" else "BQML",
    }
    inj = parse_clock(injection_time, "injection time")
    scan = parse_clock(scan_time, "scan time")
    meta["injection_time"] = inj.isoformat() if inj is not None else None
    meta["scan_time"] = scan.isoformat() if scan is not None else None

    if units == "bqml":
        missing = [name for name, v in (("weight (kg)", weight_kg), ("injected dose (MBq)", dose_mbq),
                                         ("injection time", inj), ("scan time", scan)) if v is None]
        if missing:
            raise InputError(f"{pet_path}: PET in Bq/ml needs {', '.join(missing)} to compute SUV")
        uptake = uptake_seconds(inj, scan)  # checked before anything is written
    out_folder(out)
    out.mkdir(parents=True, exist_ok=True)
    pet_dst = out / PET_FILE
    if units == "bqml":
        factor, decay = suv_factor(float(weight_kg), float(dose_mbq) * 1e6, uptake, hl)
        if pet_vol is None:
            pet_vol = load_nifti(pet_path)
        suv = np.multiply(pet_vol.data, np.float32(factor), dtype=np.float32)
        save_nifti(Volume(suv, pet_vol.affine), pet_dst)
        pet_how = "converted from Bq/ml"
        meta.update(uptake_time_s=uptake, decay_factor=decay, suv_factor=factor,
                    suv_method="Bq/ml * weight_g / (dose decayed to scan start)")
    else:
        slope, inter = pet_hdr.get_slope_inter()
        scaled = slope is not None and not (slope == 1 and (inter is None or inter == 0))
        if _is_gz(pet_path) and pet_hdr.get_data_dtype() == np.dtype("<f4") and not scaled:
            pet_how = _place(pet_path, pet_dst)
        else:
            vol = pet_vol if pet_vol is not None else load_nifti(pet_path)
            save_nifti(Volume(np.asarray(vol.data, np.float32), vol.affine), pet_dst)
            pet_how = "rewritten as float32 .nii.gz"
        meta["suv_method"] = "input already SUV"

    ct_how = None
    if ct is not None:
        if _is_gz(ct):
            ct_how = _place(ct, out / CT_FILE)
        else:
            _gzip_file(ct, out / CT_FILE)
            ct_how = "gzipped"
    elif (out / CT_FILE).exists():
        (out / CT_FILE).unlink()  # a stale CT from an earlier ingest would not match this PET

    meta["pet_shape"] = list(pet_shape)
    meta["pet_zooms_mm"] = [round(float(z), 5) for z in np.sqrt((pet_aff[:3, :3] ** 2).sum(axis=0))]
    meta["provenance"] = {
        "source": "nifti",
        "pet_path": str(pet_path.resolve()),
        "ct_path": str(ct.resolve()) if ct is not None else None,
        "units_decision": decision,
        "pet_file": pet_how,
        "ct_file": ct_how,
        "pet2rep_version": __version__,
    }
    write_json(out / META_FILE, meta)
    return out
