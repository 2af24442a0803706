"""Write real PET/CT DICOM series with pydicom for tests.

Volumes are given slice-major, `values[k, row, col]`, in physical units (Bq/ml, counts or HU). Each
slice is stored as int16 with its own RescaleSlope (PET) or slope 1 / intercept -1024 (CT), so the
values read back are `stored * slope + intercept`: `WrittenSeries.values` holds exactly those.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
from pydicom.dataset import Dataset, FileMetaDataset
from pydicom.sequence import Sequence as DicomSequence
from pydicom.uid import ExplicitVRLittleEndian, generate_uid

PET_SOP_CLASS = "1.2.840.10008.5.1.4.1.1.128"
CT_SOP_CLASS = "1.2.840.10008.5.1.4.1.1.2"
AXIAL = (1.0, 0.0, 0.0, 0.0, 1.0, 0.0)


@dataclass
class WrittenSeries:
    """What a factory call wrote: files in slice order, the values as they read back, positions (LPS)."""

    folder: Path
    files: list[Path]
    values: np.ndarray  # [k, row, col], float64, exactly stored*slope+intercept
    positions: np.ndarray  # [k, 3] ImagePositionPatient (LPS mm)
    orientation: tuple[float, ...]
    pixel_spacing: tuple[float, float]  # (between rows, between columns)
    series_uid: str
    frame_of_reference: str
    slopes: list[float] = field(default_factory=list)


def ramp(shape: tuple[int, int, int], base: float = 1000.0) -> np.ndarray:
    """A volume [k, row, col] whose every voxel differs: base + 100 k + 10 row + col (+ a little)."""
    k, r, c = np.meshgrid(*(np.arange(n, dtype=np.float64) for n in shape), indexing="ij")
    return base + 100.0 * k + 10.0 * r + c + 0.25 * np.sin(k + r * 0.3 + c * 0.7)


def _file_ds(sop_class: str) -> Dataset:
    meta = FileMetaDataset()
    meta.MediaStorageSOPClassUID = sop_class
    meta.MediaStorageSOPInstanceUID = generate_uid()
    meta.TransferSyntaxUID = ExplicitVRLittleEndian
    ds = Dataset()
    ds.file_meta = meta
    ds.SOPClassUID = sop_class
    ds.SOPInstanceUID = meta.MediaStorageSOPInstanceUID
    return ds


def write_series(
    folder: str | Path,
    values: np.ndarray,
    *,
    modality: str,
    origin: Sequence[float] = (-20.0, -30.0, -100.0),
    orientation: Sequence[float] = AXIAL,
    pixel_spacing: tuple[float, float] = (2.0, 3.0),
    slice_step: float = 4.0,
    positions: np.ndarray | None = None,
    header: dict[str, Any] | None = None,
    slice_header: Callable[[int], dict[str, Any]] | None = None,
    slice_extra: Callable[[int, Dataset], None] | None = None,
    names: Callable[[int], str] | None = None,
    instance_numbers: Sequence[int] | None = None,
    series_uid: str | None = None,
    study_uid: str | None = None,
    frame_of_reference: str | None = None,
    ct_slope: float = 1.0,
    drop: Sequence[str] = (),
) -> WrittenSeries:
    """Write `values[k, row, col]` as one single-frame-per-file series into `folder`.

    PET (`modality='PT'`) slices get their own RescaleSlope (max |value| / 32000); CT slices are stored
    as (HU + 1024) / ct_slope with intercept -1024. `header` sets attributes on every slice (None
    values are left out), `slice_header(k)` per slice, `slice_extra(k, ds)` may add private tags,
    `drop` removes attributes. Slice k lies at origin + k * slice_step * normal unless `positions`.
    """
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    values = np.asarray(values, dtype=np.float64)
    nk, rows, cols = values.shape
    row_cos, col_cos = np.array(orientation[:3], float), np.array(orientation[3:], float)
    normal = np.cross(row_cos, col_cos)
    if positions is None:
        positions = np.asarray(origin, float)[None, :] + np.arange(nk)[:, None] * slice_step * normal[None, :]
    series_uid = series_uid or generate_uid()
    study_uid = study_uid or generate_uid()
    frame_of_reference = frame_of_reference or generate_uid()
    sop_class = PET_SOP_CLASS if modality == "PT" else CT_SOP_CLASS
    out_vals = np.zeros_like(values)
    files: list[Path] = []
    slopes: list[float] = []
    for k in range(nk):
        ds = _file_ds(sop_class)
        ds.Modality = modality
        ds.PatientName = "Test^Patient"
        ds.PatientID = "P001"
        ds.StudyInstanceUID = study_uid
        ds.SeriesInstanceUID = series_uid
        ds.FrameOfReferenceUID = frame_of_reference
        ds.SeriesNumber = 1 if modality == "PT" else 2
        ds.InstanceNumber = int(instance_numbers[k]) if instance_numbers is not None else k + 1
        ds.ImagePositionPatient = [float(v) for v in positions[k]]
        ds.ImageOrientationPatient = [float(v) for v in orientation]
        ds.PixelSpacing = [float(pixel_spacing[0]), float(pixel_spacing[1])]
        ds.SliceThickness = float(slice_step)
        ds.Rows, ds.Columns = rows, cols
        ds.SamplesPerPixel = 1
        ds.PhotometricInterpretation = "MONOCHROME2"
        ds.BitsAllocated = 16
        ds.BitsStored = 16
        ds.HighBit = 15
        ds.PixelRepresentation = 1
        sl = values[k]
        if modality == "PT":
            peak = float(np.abs(sl).max()) or 1.0
            slope = peak / 32000.0
            stored = np.round(sl / slope).astype(np.int16)
            intercept = 0.0
        else:
            slope, intercept = float(ct_slope), -1024.0
            stored = np.round((sl - intercept) / slope).astype(np.int16)
        ds.RescaleSlope = f"{slope:.10g}"
        ds.RescaleIntercept = f"{intercept:.10g}"
        slope_read, inter_read = float(ds.RescaleSlope), float(ds.RescaleIntercept)
        out_vals[k] = stored.astype(np.float64) * slope_read + inter_read
        slopes.append(slope_read)
        ds.PixelData = stored.tobytes()
        for key, val in (header or {}).items():
            if val is not None:
                setattr(ds, key, val)
        if slice_header is not None:
            for key, val in slice_header(k).items():
                if val is not None:
                    setattr(ds, key, val)
        if slice_extra is not None:
            slice_extra(k, ds)
        for key in drop:
            if key in ds:
                delattr(ds, key)
        name = names(k) if names is not None else f"{modality}_{k:04d}.dcm"
        path = folder / name
        ds.save_as(path, enforce_file_format=True)
        files.append(path)
    return WrittenSeries(
        folder, files, out_vals, np.asarray(positions, float), tuple(orientation), pixel_spacing,
        series_uid, frame_of_reference, slopes,
    )


def radiopharm(
    dose_bq: float | None = 370e6,
    half_life_s: float | None = 6586.2,
    start_time: str | None = "090000",
    start_datetime: str | None = None,
    tracer: str | None = "Fluorodeoxyglucose",
) -> DicomSequence:
    """A RadiopharmaceuticalInformationSequence item (None leaves the attribute out)."""
    item = Dataset()
    if tracer is not None:
        item.Radiopharmaceutical = tracer
    if dose_bq is not None:
        item.RadionuclideTotalDose = f"{dose_bq:.10g}"
    if half_life_s is not None:
        item.RadionuclideHalfLife = f"{half_life_s:.10g}"
    if start_time is not None:
        item.RadiopharmaceuticalStartTime = start_time
    if start_datetime is not None:
        item.RadiopharmaceuticalStartDateTime = start_datetime
    code = Dataset()
    code.CodeValue = "C-111A1"
    code.CodingSchemeDesignator = "SRT"
    code.CodeMeaning = "^18^Fluorine"
    item.RadionuclideCodeSequence = DicomSequence([code])
    return DicomSequence([item])


def pet_header(
    *,
    weight: float | None = 70.0,
    units: str = "BQML",
    corrected: Sequence[str] | None = ("ATTN", "DECY"),
    decay_correction: str | None = "START",
    series_date: str = "20240102",
    series_time: str | None = "100000",
    acquisition_time: str | None = "100000",
    rinfo: DicomSequence | None = None,
    manufacturer: str = "SIEMENS",
    **extra: Any,
) -> dict[str, Any]:
    """Attributes of a quantitative PET series; `rinfo=None` uses `radiopharm()` defaults."""
    hdr: dict[str, Any] = {
        "PatientWeight": None if weight is None else f"{weight:g}",
        "PatientSize": "1.75",
        "PatientSex": "F",
        "PatientAge": "054Y",
        "Units": units,
        "CorrectedImage": list(corrected) if corrected is not None else None,
        "DecayCorrection": decay_correction,
        "SeriesDate": series_date,
        "SeriesTime": series_time,
        "StudyDate": series_date,
        "AcquisitionDate": series_date,
        "AcquisitionTime": acquisition_time,
        "RadiopharmaceuticalInformationSequence": rinfo if rinfo is not None else radiopharm(),
        "Manufacturer": manufacturer,
        "SeriesDescription": "PET WB AC",
        "ImageType": ["ORIGINAL", "PRIMARY"],
    }
    hdr.update(extra)
    return hdr


def ct_header(**extra: Any) -> dict[str, Any]:
    """Attributes of a CT series."""
    hdr: dict[str, Any] = {
        "SeriesDate": "20240102",
        "SeriesTime": "095500",
        "StudyDate": "20240102",
        "Manufacturer": "SIEMENS",
        "SeriesDescription": "CT WB",
        "ImageType": ["ORIGINAL", "PRIMARY", "AXIAL"],
        "PatientSex": "F",
    }
    hdr.update(extra)
    return hdr


def write_exam(
    folder: str | Path,
    *,
    pet_shape: tuple[int, int, int] = (10, 12, 16),
    ct_shape: tuple[int, int, int] = (12, 16, 16),
    pet_values: np.ndarray | None = None,
    pet_hdr: dict[str, Any] | None = None,
    pet_dir: str = "pet",
    ct_dir: str = "ct",
    **pet_kwargs: Any,
) -> tuple[WrittenSeries, WrittenSeries]:
    """A PET series and a CT series sharing one study and frame of reference, in two sub-folders."""
    folder = Path(folder)
    study_uid, for_uid = generate_uid(), generate_uid()
    pet = write_series(
        folder / pet_dir,
        ramp(pet_shape) if pet_values is None else pet_values,
        modality="PT",
        header=pet_header() if pet_hdr is None else pet_hdr,
        study_uid=study_uid,
        frame_of_reference=for_uid,
        **pet_kwargs,
    )
    hu = ramp(ct_shape, base=-900.0).round()
    ct = write_series(
        folder / ct_dir, hu, modality="CT", header=ct_header(), study_uid=study_uid, frame_of_reference=for_uid,
        origin=(-22.0, -33.0, -102.0), pixel_spacing=(1.5, 1.25), slice_step=3.0,
    )
    return pet, ct
