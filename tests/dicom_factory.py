"""Write real PET/CT DICOM series with pydicom for tests.

Volumes are given slice-major, `values[k, row, col]`, in physical units (Bq/ml, counts or HU). Each
slice is stored as int16 with its own RescaleSlope (PET) or slope 1 / intercept -1024 (CT), so the
values read back are `stored * slope + intercept`: `WrittenSeries.values` holds exactly those.

`write_series` writes classic single-frame files; `write_enhanced` writes the same volume as one
Enhanced (or Legacy Converted Enhanced) multi-frame file with functional groups; `compress_files`
re-encodes files in another transfer syntax (RLE Lossless).
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
ENHANCED_PET_SOP_CLASS = "1.2.840.10008.5.1.4.1.1.130"
LEGACY_PET_SOP_CLASS = "1.2.840.10008.5.1.4.1.1.128.1"
ENHANCED_CT_SOP_CLASS = "1.2.840.10008.5.1.4.1.1.2.1"
LEGACY_CT_SOP_CLASS = "1.2.840.10008.5.1.4.1.1.2.2"
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


def _store(sl: np.ndarray, modality: str, ct_slope: float = 1.0, peak: float | None = None) -> tuple[np.ndarray, str, str]:
    """int16 stored values and the (slope, intercept) DS strings that give `sl` back (to quantisation).

    PET: slope max|value| / 32000 (or `peak` / 32000), intercept 0; CT: slope `ct_slope`, intercept -1024.
    """
    if modality == "PT":
        peak = peak or float(np.abs(sl).max()) or 1.0
        slope, intercept = f"{peak / 32000.0:.10g}", "0"
    else:
        slope, intercept = f"{float(ct_slope):.10g}", "-1024"
    stored = np.round((sl - float(intercept)) / float(slope)).astype(np.int16)
    return stored, slope, intercept


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



def _prepare(folder: str | Path, values: np.ndarray, orientation: Sequence[float], origin: Sequence[float],
             slice_step: float, positions: np.ndarray | None) -> tuple[Path, np.ndarray, np.ndarray]:
    """Create `folder`; values as float64; slice positions (origin + k * step * normal unless given)."""
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    values = np.asarray(values, dtype=np.float64)
    if positions is None:
        normal = np.cross(np.array(orientation[:3], float), np.array(orientation[3:], float))
        positions = np.asarray(origin, float)[None, :] + np.arange(len(values))[:, None] * slice_step * normal[None, :]
    return folder, values, positions


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
    folder, values, positions = _prepare(folder, values, orientation, origin, slice_step, positions)
    nk, rows, cols = values.shape
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
        stored, slope, intercept = _store(values[k], modality, ct_slope)
        ds.RescaleSlope, ds.RescaleIntercept = slope, intercept
        out_vals[k] = stored.astype(np.float64) * float(slope) + float(intercept)
        slopes.append(float(slope))
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


# ------------------------------------------------------------------------------------ enhanced multi-frame


def _item(**attrs: Any) -> DicomSequence:
    """A one-item sequence holding `attrs` (None values left out)."""
    ds = Dataset()
    for key, val in attrs.items():
        if val is not None:
            setattr(ds, key, val)
    return DicomSequence([ds])


def enhanced_pet_header(
    *,
    dose_mbq: float | None = 370.0,
    start_datetime: str | None = "20240102090000",
    decay_corrected: str | None = "YES",
    decay_datetime: str | None = "20240102100000",
    **extra: Any,
) -> dict[str, Any]:
    """Top-level attributes of an Enhanced PET image: dose in MBq (Enhanced PET Isotope module),
    DecayCorrected/DecayCorrectionDateTime (Enhanced PET Corrections module), no Units (the units are
    the Real World Value Mapping's)."""
    rinfo = radiopharm(dose_bq=dose_mbq, start_time=None, start_datetime=start_datetime)
    rinfo[0].RadiopharmaceuticalAgentNumber = 1
    hdr = pet_header(rinfo=rinfo, units="", corrected=None, decay_correction=None, acquisition_time=None)
    for key in ("Units", "AcquisitionDate"):
        hdr.pop(key, None)
    hdr.update(
        AcquisitionDateTime="20240102100000",
        ContentDate="20240102",
        ContentTime="103000",
        DecayCorrected=decay_corrected,
        AttenuationCorrected="YES",
        DecayCorrectionDateTime=decay_datetime,
        CountsSource="EMISSION",
        SeriesDescription="PET WB AC enhanced",
    )
    hdr.update(extra)
    return hdr


def write_enhanced(
    folder: str | Path,
    values: np.ndarray,
    *,
    modality: str,
    legacy: bool = False,
    origin: Sequence[float] = (-20.0, -30.0, -100.0),
    orientation: Sequence[float] = AXIAL,
    pixel_spacing: tuple[float, float] = (2.0, 3.0),
    slice_step: float = 4.0,
    positions: np.ndarray | None = None,
    header: dict[str, Any] | None = None,
    unassigned: dict[str, Any] | None = None,
    frame_order: Sequence[int] | None = None,
    shared_rescale: bool = False,
    rwv_units: str | None = "Bq/ml",
    rwv_slope_scale: float = 1.0,
    frame_datetime: Callable[[int], str | None] | None = None,
    frame_extra: Callable[[int, Dataset], None] | None = None,
    series_uid: str | None = None,
    study_uid: str | None = None,
    frame_of_reference: str | None = None,
    sop_class: str | None = None,
    ct_slope: float = 1.0,
    name: str | None = None,
    drop: Sequence[str] = (),
) -> WrittenSeries:
    """Write `values[k, row, col]` as ONE multi-frame file (Enhanced, or Legacy Converted with `legacy`).

    Frame f of the file holds slice `frame_order[f]` (default: slice order), so a shuffled order tests the
    sorting. Geometry goes to the functional groups: PlanePositionSequence per frame, PlaneOrientation and
    PixelMeasures shared; the rescale is per frame (each slice its own slope, as `write_series`) or, with
    `shared_rescale`, one shared PixelValueTransformationSequence. A PET gets a per-frame Real World Value
    Mapping in `rwv_units` (None: none) whose slope is the frame's RescaleSlope times `rwv_slope_scale`.
    `header` sets top-level attributes, `unassigned` attributes in UnassignedSharedConvertedAttributesSequence,
    `frame_datetime(k)` the slice's FrameAcquisitionDateTime, `frame_extra(k, item)` edits its per-frame
    functional groups item. Returned values/positions are in slice order k.
    """
    folder, values, positions = _prepare(folder, values, orientation, origin, slice_step, positions)
    nk, rows, cols = values.shape
    order = list(frame_order) if frame_order is not None else list(range(nk))
    pet = modality == "PT"
    if sop_class is None:
        sop_class = (LEGACY_PET_SOP_CLASS if legacy else ENHANCED_PET_SOP_CLASS) if pet else (
            LEGACY_CT_SOP_CLASS if legacy else ENHANCED_CT_SOP_CLASS
        )
    ds = _file_ds(sop_class)
    ds.Modality = modality
    ds.PatientName = "Test^Patient"
    ds.PatientID = "P001"
    ds.StudyInstanceUID = study_uid or generate_uid()
    ds.SeriesInstanceUID = series_uid or generate_uid()
    ds.FrameOfReferenceUID = frame_of_reference or generate_uid()
    ds.SeriesNumber = 1 if pet else 2
    ds.InstanceNumber = 1
    ds.Rows, ds.Columns = rows, cols
    ds.NumberOfFrames = nk
    ds.SamplesPerPixel = 1
    ds.PhotometricInterpretation = "MONOCHROME2"
    ds.BitsAllocated = 16
    ds.BitsStored = 16
    ds.HighBit = 15
    ds.PixelRepresentation = 1
    ds.ImageType = ["ORIGINAL", "PRIMARY"] + ([] if pet else ["AXIAL"])
    for key, val in (header or {}).items():
        if val is not None:
            setattr(ds, key, val)

    frame_type = ["ORIGINAL", "PRIMARY", "VOLUME" if not pet else "WHOLE BODY", "NONE"]
    shared = Dataset()
    shared.PlaneOrientationSequence = _item(ImageOrientationPatient=[float(v) for v in orientation])
    shared.PixelMeasuresSequence = _item(
        PixelSpacing=[float(pixel_spacing[0]), float(pixel_spacing[1])], SliceThickness=float(slice_step)
    )
    setattr(shared, "PETFrameTypeSequence" if pet else "CTImageFrameTypeSequence", _item(FrameType=frame_type))
    peak = (float(np.abs(values).max()) or 1.0) if shared_rescale else None
    if shared_rescale:
        _, slope, intercept = _store(values[0], modality, ct_slope, peak)
        shared.PixelValueTransformationSequence = _item(
            RescaleSlope=slope, RescaleIntercept=intercept, RescaleType="US" if pet else "HU"
        )
    if legacy and unassigned:
        shared.UnassignedSharedConvertedAttributesSequence = _item(**unassigned)
    elif unassigned:
        for key, val in unassigned.items():
            if val is not None:
                setattr(ds, key, val)
    ds.SharedFunctionalGroupsSequence = DicomSequence([shared])

    out_vals = np.zeros_like(values)
    slopes = [0.0] * nk
    stored_frames = []
    per_frame = []
    for k in order:
        stored, slope, intercept = _store(values[k], modality, ct_slope, peak)
        stored_frames.append(stored)
        out_vals[k] = stored.astype(np.float64) * float(slope) + float(intercept)
        slopes[k] = float(slope)
        item = Dataset()
        item.PlanePositionSequence = _item(ImagePositionPatient=[float(v) for v in positions[k]])
        when = frame_datetime(k) if frame_datetime is not None else ds.get("AcquisitionDateTime")
        item.FrameContentSequence = _item(FrameAcquisitionDateTime=when, StackID="1", InStackPositionNumber=k + 1)
        if not shared_rescale:
            item.PixelValueTransformationSequence = _item(
                RescaleSlope=slope, RescaleIntercept=intercept, RescaleType="US" if pet else "HU"
            )
        if pet and rwv_units is not None:
            rwv = Dataset()
            rwv.RealWorldValueSlope = float(slope) * rwv_slope_scale
            rwv.RealWorldValueIntercept = 0.0
            rwv.RealWorldValueFirstValueMapped = -32768
            rwv.RealWorldValueLastValueMapped = 32767
            rwv.LUTLabel = "PET units"
            rwv.MeasurementUnitsCodeSequence = _item(
                CodeValue=rwv_units, CodingSchemeDesignator="UCUM", CodeMeaning=rwv_units
            )
            item.RealWorldValueMappingSequence = DicomSequence([rwv])
        if frame_extra is not None:
            frame_extra(k, item)
        per_frame.append(item)
    ds.PerFrameFunctionalGroupsSequence = DicomSequence(per_frame)
    ds.PixelData = np.stack(stored_frames).tobytes()
    for key in drop:
        if key in ds:
            delattr(ds, key)
    path = folder / (name or f"{modality}_enhanced.dcm")
    ds.save_as(path, enforce_file_format=True)
    return WrittenSeries(
        folder, [path], out_vals, np.asarray(positions, float), tuple(orientation), pixel_spacing,
        str(ds.SeriesInstanceUID), str(ds.FrameOfReferenceUID), slopes,
    )


def compress_files(files: Sequence[Path], transfer_syntax: str) -> None:
    """Re-encode each file's pixel data in `transfer_syntax` in place (pydicom >= 3 encoders, e.g. RLE
    Lossless), keeping its SOPInstanceUID."""
    from pydicom import dcmread

    for path in files:
        ds = dcmread(path)
        ds.compress(transfer_syntax, generate_instance_uid=False)
        ds.save_as(path, enforce_file_format=True)
