"""Enhanced and Legacy Converted Enhanced multi-frame PET/CT: one header per frame.

An enhanced file holds a whole volume: the frames' geometry and rescale live in functional groups,
shared by all frames (SharedFunctionalGroupsSequence) or given per frame (PerFrameFunctionalGroupsSequence).
`expand_frames` turns such a file into one flat header per frame that carries the classic keywords
(ImagePositionPatient, ImageOrientationPatient, PixelSpacing, SliceThickness, RescaleSlope/Intercept,
FrameAcquisitionDateTime, ...), so slice sorting and SUV code treat a frame like a classic slice.
Precedence, lowest first: top-level attributes, then the shared groups, then the frame's own groups;
within a group, the Unassigned (Legacy Converted) attributes, then the specific macros.

PET units: Units (0054,1001) where present (legacy converted files keep it), else the Real World Value
Mapping's MeasurementUnitsCodeSequence (UCUM, CID 84 "PET Units"): Bq/ml -> BQML, {SUVbw}g/ml -> GML.
"""

from __future__ import annotations

from typing import Any

from ..errors import InputError

ENHANCED_SOP_CLASSES = {
    "1.2.840.10008.5.1.4.1.1.130": "Enhanced PET Image Storage",
    "1.2.840.10008.5.1.4.1.1.128.1": "Legacy Converted Enhanced PET Image Storage",
    "1.2.840.10008.5.1.4.1.1.2.1": "Enhanced CT Image Storage",
    "1.2.840.10008.5.1.4.1.1.2.2": "Legacy Converted Enhanced CT Image Storage",
}
ENHANCED_PET = "1.2.840.10008.5.1.4.1.1.130"  # its RadionuclideTotalDose is in MBq, not Bq

# Functional group macros whose single item is flattened into the frame header (later ones win).
_FLATTEN = (
    "UnassignedSharedConvertedAttributesSequence",
    "UnassignedPerFrameConvertedAttributesSequence",
    "FrameContentSequence",
    "PETFrameTypeSequence",
    "CTImageFrameTypeSequence",
    "PETFrameCorrectionFactorsSequence",
    "PixelMeasuresSequence",
    "PlaneOrientationSequence",
    "PlanePositionSequence",
    "PixelValueTransformationSequence",
)
# Macros kept as sequences (they may have several items).
_KEEP = ("RealWorldValueMappingSequence",)
_SKIP_TOP = ("SharedFunctionalGroupsSequence", "PerFrameFunctionalGroupsSequence", "PixelData")

# UCUM codes of CID 84 "PET Units" -> the classic Units (0054,1001) value.
UCUM_PET_UNITS = {
    "BQ/ML": "BQML",
    "{SUVBW}G/ML": "GML",
    "{COUNTS}": "CNTS",
    "{PROPCOUNTS}": "PROPCNTS",
}
QUANTITATIVE = ("BQML", "CNTS", "GML")


def sop_class_name(uid: str) -> str:
    """A readable name of a SOP class UID (the UID itself when pydicom does not know it)."""
    from pydicom.uid import UID

    return ENHANCED_SOP_CLASSES.get(uid) or UID(uid).name if uid else "unknown SOP class"


def frame_count(ds: Any) -> int:
    """NumberOfFrames (0028,0008), 1 when absent or malformed."""
    try:
        return max(1, int(ds.get("NumberOfFrames", 1) or 1))
    except (TypeError, ValueError):
        return 1


def is_multiframe(ds: Any) -> bool:
    """True for an enhanced (functional groups) object or any object with more than one frame."""
    sop = str(ds.get("SOPClassUID", "") or "")
    return frame_count(ds) > 1 or sop in ENHANCED_SOP_CLASSES or "PerFrameFunctionalGroupsSequence" in ds


def _overlay(target: Any, group: Any) -> None:
    """Copy the attributes of one functional-groups item's macros into `target`."""
    for keyword in _FLATTEN:
        seq = group.get(keyword)
        if seq:
            for elem in seq[0]:
                target[elem.tag] = elem
    for keyword in _KEEP:
        if keyword in group:
            elem = group[keyword]
            target[elem.tag] = elem


def expand_frames(ds: Any, name: str) -> list[Any]:
    """One flat header (a pydicom Dataset) per frame of an enhanced multi-frame object.

    Raises InputError (one line, starting with `name`) for a multi-frame object that is not an
    Enhanced/Legacy Converted Enhanced PET or CT image, or whose functional groups are incomplete.
    """
    from pydicom.dataset import Dataset

    sop = str(ds.get("SOPClassUID", "") or "")
    n = frame_count(ds)
    if sop not in ENHANCED_SOP_CLASSES:
        raise InputError(
            f"{name} is a multi-frame {sop_class_name(sop)} object ({n} frames), not a supported volume; "
            "only Enhanced or Legacy Converted Enhanced PET/CT multi-frame images (or classic single-frame "
            "slices) can be read"
        )
    per_frame = ds.get("PerFrameFunctionalGroupsSequence")
    if not per_frame:
        raise InputError(
            f"{name}: {sop_class_name(sop)} without PerFrameFunctionalGroupsSequence (5200,9230); frame geometry unknown"
        )
    if len(per_frame) != n:
        raise InputError(
            f"{name}: PerFrameFunctionalGroupsSequence (5200,9230) has {len(per_frame)} item(s) for "
            f"NumberOfFrames (0028,0008) {n}; the multi-frame header is inconsistent"
        )
    shared_seq = ds.get("SharedFunctionalGroupsSequence")
    shared = shared_seq[0] if shared_seq else Dataset()
    base = Dataset()
    for elem in ds:
        if elem.keyword not in _SKIP_TOP:
            base[elem.tag] = elem
    _overlay(base, shared)
    meta = getattr(ds, "file_meta", None)
    frames = []
    for idx, group in enumerate(per_frame):
        fh = Dataset()
        fh.update(base)
        _overlay(fh, group)
        if meta is not None:
            fh.file_meta = meta
        if "ImagePositionPatient" not in fh:
            raise InputError(
                f"{name} frame {idx + 1}: no PlanePositionSequence (0020,9113) ImagePositionPatient in the "
                "per-frame or shared functional groups; frame position unknown"
            )
        frames.append(fh)
    return frames


def pet_units(ds: Any) -> tuple[str, str]:
    """The PET pixel units as a classic Units (0054,1001) value, and where it was found.

    Units (0054,1001) wins; else the first Real World Value Mapping item whose UCUM unit is a PET unit.
    Returns ('', '') when neither says, and the upper-cased UCUM code when it is not a known one.
    """
    units = str(ds.get("Units", "") or "").strip().upper()
    if units:
        return units, "Units (0054,1001)"
    unknown = ""
    for item in ds.get("RealWorldValueMappingSequence") or []:
        for code in item.get("MeasurementUnitsCodeSequence") or []:
            value = str(code.get("CodeValue", "") or "").strip().upper()
            if value in UCUM_PET_UNITS:
                return UCUM_PET_UNITS[value], "RealWorldValueMappingSequence (0040,9096)"
            unknown = unknown or value
    if unknown:
        return unknown, "RealWorldValueMappingSequence (0040,9096)"
    return "", ""


def rwv_conflict(ds: Any, units: str, slope: float, intercept: float) -> str | None:
    """A reason when the Real World Value Mapping for `units` maps stored values differently from the
    rescale (RescaleSlope/Intercept) that the pixels are read with; None when they agree or it says nothing."""
    for item in ds.get("RealWorldValueMappingSequence") or []:
        codes = [str(c.get("CodeValue", "") or "").strip().upper() for c in item.get("MeasurementUnitsCodeSequence") or []]
        if not any(UCUM_PET_UNITS.get(c) == units for c in codes):
            continue
        if "RealWorldValueSlope" not in item:
            if "RealWorldValueLUTData" in item:
                return "maps stored values with a lookup table (RealWorldValueLUTData (0040,9212)), not linearly"
            continue
        try:
            m = float(item.RealWorldValueSlope)
            b = float(item.get("RealWorldValueIntercept", 0) or 0)
        except (TypeError, ValueError):
            return f"RealWorldValueSlope {item.get('RealWorldValueSlope')!r} is malformed"
        tol = 1e-6 * max(abs(m), abs(slope), 1e-30)
        if abs(m - slope) > tol or abs(b - intercept) > 1e-6 * max(abs(b), abs(intercept), 1.0):
            return (
                f"RealWorldValueSlope/Intercept {m:.8g}/{b:.8g} differ from RescaleSlope/Intercept "
                f"{slope:.8g}/{intercept:.8g}"
            )
    return None
