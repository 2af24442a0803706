"""DICOM ingest: QIBA SUVbw, geometry, series discovery, the `pet2rep ingest` command.

Every test writes real DICOM files with pydicom (tests/dicom_factory.py) and reads them back.
SUV expectations are computed by hand from the header values; geometry is checked against the
ImagePositionPatient of each slice and against SimpleITK's (GDCM's) series reader. Enhanced multi-frame
and compressed files are checked against the classic uncompressed series written from the same phantom.
"""

from __future__ import annotations

import json
import math
import random
import sys
from pathlib import Path

import numpy as np
import pytest

sys.path.insert(0, str(Path(__file__).parent))

from dicom_factory import (  # noqa: E402
    PET_SOP_CLASS,
    compress_files,
    ct_header,
    enhanced_pet_header,
    pet_header,
    radiopharm,
    ramp,
    write_enhanced,
    write_exam,
    write_series,
)

from pet2rep.cli import main  # noqa: E402
from pet2rep.errors import InputError  # noqa: E402
from pet2rep.ingest.dicom import (  # noqa: E402
    JPEG_EXTRA_HINT,
    ingest_dicom,
    parse_dt,
    parse_tm,
    parse_tz,
    scan_dicom,
    slice_geometry,
    suv_from_activity,
)
from pet2rep.study import read_study  # noqa: E402

F18 = 6586.2
LPS_TO_RAS = np.diag([-1.0, -1.0, 1.0])


def kji_to_ijk(a: np.ndarray) -> np.ndarray:
    """Factory volumes are [k, row, col]; studies are [i=col, j=row, k]."""
    return np.transpose(a, (2, 1, 0))


def suv_expected(activity: np.ndarray, weight_kg: float, dose_bq: float, dt_s: float, half_life: float = F18):
    return activity * weight_kg * 1000.0 / (dose_bq * 2.0 ** (-dt_s / half_life))


def ingest_pet(tmp_path: Path, pet_hdr: dict, **kw) -> tuple:
    pet, _ = write_exam(tmp_path / "exam", pet_hdr=pet_hdr)
    out = ingest_dicom(tmp_path / "study", dicom_dir=tmp_path / "exam", progress=False, **kw)
    return pet, read_study(out)


# --------------------------------------------------------------------------------- SUV: hand computed


def test_suv_decay_to_series_start(tmp_path):
    pet, st = ingest_pet(tmp_path, pet_header())
    # injection 09:00:00, series start 10:00:00 -> 3600 s; 70 kg, 370 MBq
    factor = 70_000.0 / (370e6 * 2.0 ** (-3600.0 / 6586.2))
    assert factor == pytest.approx(2.76337e-4, rel=1e-5)  # by hand: 7e4 / (3.7e8 * 0.684633)
    np.testing.assert_allclose(st.pet.data, kji_to_ijk(pet.values) * factor, rtol=2e-6)
    assert st.pet.data.dtype == np.float32
    m = st.meta
    assert m["decay_reference"] == "series start"
    assert m["injection_datetime"] == "2024-01-02T09:00:00"
    assert m["series_datetime"] == "2024-01-02T10:00:00"
    assert m["uptake_time_s"] == 3600.0
    assert (m["weight_kg"], m["injected_dose_bq"], m["half_life_s"]) == (70.0, 370e6, F18)
    assert (m["suv_type"], m["units_in"], m["sex"], m["age"], m["height_m"]) == ("bw", "BQML", "F", 54, 1.75)
    assert m["tracer"] == "Fluorodeoxyglucose" and m["manufacturer"] == "SIEMENS"
    assert m["provenance"]["source"] == "dicom" and m["provenance"]["pet_series_uid"] == pet.series_uid
    # one voxel spelled out: activity 1000 + 100k + 10row + col at (k=2,row=3,col=4)
    a = pet.values[2, 3, 4]
    assert abs(a - (1234 + 0.25 * math.sin(2 + 0.9 + 2.8))) < 0.05
    assert st.pet.data[4, 3, 2] == pytest.approx(suv_from_activity(a, 70, 370e6, 3600, F18), rel=2e-6)
    assert st.pet.data[4, 3, 2] == pytest.approx(a * 2.76337e-4, rel=1e-5)  # the hand factor, not the helper
    assert suv_from_activity(1000.0, 70, 370e6, 3600, F18) == pytest.approx(0.276337, rel=1e-5)


def test_suv_series_time_after_acquisition_uses_earliest_acquisition(tmp_path):
    # series re-created at 11:15 (post-processing); slices acquired 10:00:00 + 30 s per slice
    hdr = pet_header(series_time="111500", acquisition_time=None)
    pet, _ = write_exam(
        tmp_path / "exam", pet_hdr=hdr,
        slice_header=lambda k: {"AcquisitionTime": f"10{(30 * k) // 60:02d}{30 * k % 60:02d}"},
    )
    st = read_study(ingest_dicom(tmp_path / "study", dicom_dir=tmp_path / "exam", progress=False))
    assert st.meta["decay_reference"] == "earliest acquisition"
    assert st.meta["decay_reference_datetime"] == "2024-01-02T10:00:00"
    np.testing.assert_allclose(st.pet.data, suv_expected(kji_to_ijk(pet.values), 70, 370e6, 3600), rtol=2e-6)
    # with series start (wrong here) the SUV would be 2^(4500/6586.2 - 3600/6586.2) = 9.9% higher
    assert not np.allclose(st.pet.data, suv_expected(kji_to_ijk(pet.values), 70, 370e6, 8100), rtol=1e-2)


def test_suv_ge_private_scan_datetime(tmp_path):
    hdr = pet_header(series_time="111500", acquisition_time="101000", manufacturer="GE MEDICAL SYSTEMS")

    def ge(k, ds):
        ds.private_block(0x0009, "GEMS_PETD_01", create=True).add_new(0x0D, "DT", "20240102100500.00")

    pet, _ = write_exam(tmp_path / "exam", pet_hdr=hdr, slice_extra=ge)
    st = read_study(ingest_dicom(tmp_path / "study", dicom_dir=tmp_path / "exam", progress=False))
    assert st.meta["decay_reference"].startswith("GE scan datetime")
    np.testing.assert_allclose(st.pet.data, suv_expected(kji_to_ijk(pet.values), 70, 370e6, 3900), rtol=2e-6)


@pytest.mark.parametrize(
    "rinfo",
    [radiopharm(start_time="233000"), radiopharm(start_time=None, start_datetime="20240102233000")],
    ids=["StartTime+SeriesDate", "StartDateTime"],
)
def test_suv_injection_before_midnight(tmp_path, rinfo):
    hdr = pet_header(series_date="20240103", series_time="004000", acquisition_time="004000", rinfo=rinfo)
    pet, st = ingest_pet(tmp_path, hdr)
    assert st.meta["injection_datetime"] == "2024-01-02T23:30:00"
    assert st.meta["uptake_time_s"] == 4200.0
    np.testing.assert_allclose(st.pet.data, suv_expected(kji_to_ijk(pet.values), 70, 370e6, 4200), rtol=2e-6)


def test_suv_admin_decay_correction_has_no_decay_factor(tmp_path):
    pet, st = ingest_pet(tmp_path, pet_header(decay_correction="ADMIN"))
    np.testing.assert_allclose(st.pet.data, kji_to_ijk(pet.values) * 70_000.0 / 370e6, rtol=2e-6)
    assert st.meta["decay_reference"] == "administration" and st.meta["decay_factor"] == 1.0


def test_suv_not_decay_corrected_is_refused(tmp_path):
    with pytest.raises(InputError, match=r"CorrectedImage \(0028,0051\).*DECY"):
        ingest_pet(tmp_path, pet_header(corrected=("ATTN",)))


def test_suv_gml_is_kept(tmp_path):
    pet, st = ingest_pet(tmp_path, pet_header(units="GML"))
    np.testing.assert_allclose(st.pet.data, kji_to_ijk(pet.values), rtol=2e-6)


def _philips(suv=None, act=None):
    def extra(k, ds):
        block = ds.private_block(0x7053, "Philips PET Private Group", create=True)
        if suv is not None:
            block.add_new(0x00, "DS", f"{suv(k):.10g}")
        if act is not None:
            block.add_new(0x09, "DS", f"{act(k):.10g}")

    return extra


def test_suv_philips_cnts_suv_scale_factor(tmp_path):
    counts = ramp((10, 12, 16), base=5000.0)
    pet, _ = write_exam(
        tmp_path / "exam", pet_values=counts, pet_hdr=pet_header(units="CNTS", manufacturer="Philips"),
        slice_extra=_philips(suv=lambda k: 0.0004 * (1 + 0.01 * k)),
    )
    from pydicom import dcmread

    assert float(dcmread(pet.files[0])[0x7053, 0x1000].value) == pytest.approx(0.0004)
    st = read_study(ingest_dicom(tmp_path / "study", dicom_dir=tmp_path / "exam", progress=False))
    per_slice = 0.0004 * (1 + 0.01 * np.arange(10))
    np.testing.assert_allclose(st.pet.data, kji_to_ijk(pet.values * per_slice[:, None, None]), rtol=2e-6)
    assert "7053,1000" in st.meta["suv_method"] and st.meta["units_in"] == "CNTS"


def test_philips_suv_factor_wins_over_given_weight(tmp_path, capsys):
    """Given --weight on a Philips exam with only the SUV factor: the factor is used and a warning says the flags were
    ignored; the library's warning names its parameters (weight_kg=...), the command its flags."""
    counts = ramp((10, 12, 16), base=5000.0)
    pet, _ = write_exam(
        tmp_path / "exam", pet_values=counts, pet_hdr=pet_header(units="CNTS", manufacturer="Philips"),
        slice_extra=_philips(suv=lambda k: 0.0004),
    )
    seen: list[str] = []
    ingest_dicom(tmp_path / "lib", dicom_dir=tmp_path / "exam", weight_kg=80.0, progress=False, warn=seen.append)
    assert any("weight_kg=, dose_mbq= and injection_time= ignored" in w for w in seen), seen
    st = read_study(str(tmp_path / "lib"))
    np.testing.assert_allclose(st.pet.data, kji_to_ijk(pet.values * 0.0004), rtol=2e-6)
    capsys.readouterr()
    assert main(["ingest", "--dicom", str(tmp_path / "exam"), "--out", str(tmp_path / "cli"), "--weight", "80"]) == 0
    err = capsys.readouterr().err
    assert "--weight, --dose and --injection-time ignored: Philips SUV factor (7053,1000) used" in err
    assert "weight_kg" not in err


def test_suv_philips_cnts_activity_factor(tmp_path):
    counts = ramp((10, 12, 16), base=5000.0)
    pet, _ = write_exam(
        tmp_path / "exam", pet_values=counts, pet_hdr=pet_header(units="CNTS", manufacturer="Philips"),
        slice_extra=_philips(act=lambda k: 2.5),
    )
    st = read_study(ingest_dicom(tmp_path / "study", dicom_dir=tmp_path / "exam", progress=False))
    np.testing.assert_allclose(st.pet.data, suv_expected(kji_to_ijk(pet.values) * 2.5, 70, 370e6, 3600), rtol=2e-6)


def test_cnts_without_philips_factor_is_refused(tmp_path):
    with pytest.raises(InputError, match=r"CNTS.*\(7053,1000\).*\(7053,1009\)"):
        ingest_pet(tmp_path, pet_header(units="CNTS"))


# --------------------------------------------------------------------------------- SUV: refusals


@pytest.mark.parametrize(
    "hdr, tag",
    [
        (pet_header(weight=None), "PatientWeight (0010,1030)"),
        (pet_header(weight=0), "PatientWeight (0010,1030)"),
        (pet_header(rinfo=radiopharm(dose_bq=None)), "RadionuclideTotalDose (0018,1074)"),
        (pet_header(rinfo=radiopharm(dose_bq=370.0)), "RadionuclideTotalDose (0018,1074)"),  # MBq stored
        (pet_header(rinfo=radiopharm(start_time=None)), "RadiopharmaceuticalStartTime (0018,1072)"),
        (pet_header(rinfo=radiopharm(half_life_s=None)), "RadionuclideHalfLife (0018,1075)"),
        (pet_header(units="PROPCNTS"), "Units (0054,1001)"),
        (pet_header(decay_correction="NONE"), "DecayCorrection (0054,1102)"),
        (pet_header(rinfo=radiopharm(start_time="110000")), "after the scan"),  # injection after scan
    ],
    ids=["no-weight", "zero-weight", "no-dose", "dose-in-MBq", "no-start-time", "no-half-life", "units",
         "decay-none", "inject-after-scan"],
)
def test_suv_refusals_name_the_tag(tmp_path, hdr, tag):
    if "after the scan" in tag:  # start date given explicitly so the midnight rule does not apply
        hdr["RadiopharmaceuticalInformationSequence"] = radiopharm(start_time=None, start_datetime="20240102110000")
    pet, _ = write_exam(tmp_path / "exam", pet_hdr=hdr)
    with pytest.raises(InputError) as err:
        ingest_dicom(tmp_path / "study", dicom_dir=tmp_path / "exam", progress=False)
    msg = str(err.value)
    assert "\n" not in msg and tag in msg and pet.series_uid in msg
    assert not (tmp_path / "study" / "study.json").exists()


def test_missing_radiopharmaceutical_sequence_is_refused(tmp_path):
    hdr = pet_header()
    pet, _ = write_exam(tmp_path / "exam", pet_hdr=hdr, drop=["RadiopharmaceuticalInformationSequence"])
    with pytest.raises(InputError, match=r"RadiopharmaceuticalInformationSequence \(0054,0016\) missing") as err:
        ingest_dicom(tmp_path / "study", dicom_dir=tmp_path / "exam", progress=False)
    assert "\n" not in str(err.value)


def test_overrides_supply_missing_values(tmp_path):
    hdr = pet_header(weight=None, rinfo=radiopharm(dose_bq=None, start_time=None))
    pet, _ = write_exam(tmp_path / "exam", pet_hdr=hdr)
    out = ingest_dicom(
        tmp_path / "study", dicom_dir=tmp_path / "exam", progress=False,
        weight_kg=82.5, dose_mbq=300, injection_time="08:45",
    )
    st = read_study(out)
    np.testing.assert_allclose(st.pet.data, suv_expected(kji_to_ijk(pet.values), 82.5, 300e6, 4500), rtol=2e-6)
    assert st.meta["provenance"]["overrides"] == {"weight_kg": 82.5, "dose_mbq": 300.0, "injection_time": "08:45"}


def test_datetime_parsers():
    assert parse_tm("093005.5").total_seconds() == 9 * 3600 + 30 * 60 + 5.5
    assert parse_tm("09:30").total_seconds() == 9 * 3600 + 30 * 60
    assert parse_tm("2561") is None and parse_tm("") is None
    assert parse_dt("20240102233000.000000+0800").isoformat() == "2024-01-02T23:30:00+08:00"
    assert parse_dt("20240102233000").isoformat() == "2024-01-02T23:30:00"  # no offset: naive
    assert parse_dt("20240102233000", parse_tz("-0500")).isoformat() == "2024-01-02T23:30:00-05:00"
    assert parse_dt("20240102233000+0100", parse_tz("-0500")).isoformat() == "2024-01-02T23:30:00+01:00"
    assert parse_dt("2024") is None and parse_dt("20240102233000+9900") is None
    assert parse_tz("+0530").utcoffset(None).total_seconds() == 5.5 * 3600
    assert parse_tz("-1300") is None and parse_tz("+01:00") is None and parse_tz("") is None


# --------------------------------------------------------------------------------- geometry


def test_slice_order_ignores_file_names_and_instance_numbers(tmp_path):
    vals = ramp((10, 12, 16))
    ordered = write_series(tmp_path / "a", vals, modality="PT", header=pet_header())
    perm = list(range(10))
    random.Random(3).shuffle(perm)
    inst = list(range(1, 11))
    random.Random(4).shuffle(inst)
    shuffled = write_series(
        tmp_path / "b", vals, modality="PT", header=pet_header(),
        names=lambda k: f"IM{perm[k]:03d}", instance_numbers=inst,
    )
    assert sorted(p.name for p in shuffled.files) != [p.name for p in shuffled.files]
    out_a = ingest_dicom(tmp_path / "sa", pet_dir=tmp_path / "a", allow_no_ct=True, progress=False)
    out_b = ingest_dicom(tmp_path / "sb", pet_dir=tmp_path / "b", allow_no_ct=True, progress=False)
    a, b = read_study(out_a), read_study(out_b)
    np.testing.assert_array_equal(a.pet.data, b.pet.data)
    np.testing.assert_array_equal(a.pet.affine, b.pet.affine)
    # and slice k really is the k-th position along the normal: values grow by 100 per slice
    assert np.all(np.diff(b.pet.data[0, 0, :]) > 0)
    assert ordered.values.shape == (10, 12, 16)


@pytest.mark.parametrize(
    "orientation",
    [
        (1.0, 0.0, 0.0, 0.0, 1.0, 0.0),  # axial
        (1.0, 0.0, 0.0, 0.0, 0.0, -1.0),  # coronal
        (0.0, 1.0, 0.0, 0.0, 0.0, -1.0),  # sagittal
        (math.cos(0.3), math.sin(0.3), 0.0, 0.0, math.cos(0.2), -math.sin(0.2)),  # oblique
    ],
    ids=["axial", "coronal", "sagittal", "oblique"],
)
def test_affine_maps_voxels_to_image_position_patient(tmp_path, orientation):
    import SimpleITK as sitk

    row_cos, col_cos = np.array(orientation[:3]), np.array(orientation[3:])
    col_cos = col_cos - (col_cos @ row_cos) * row_cos
    col_cos /= np.linalg.norm(col_cos)
    orientation = tuple(row_cos) + tuple(col_cos)
    ws = write_series(
        tmp_path / "pet", ramp((7, 12, 16)), modality="PT", header=pet_header(),
        orientation=orientation, origin=(11.0, -7.5, 40.0), pixel_spacing=(2.0, 3.0), slice_step=4.5,
    )
    out = ingest_dicom(tmp_path / "s", pet_dir=tmp_path / "pet", allow_no_ct=True, progress=False)
    vol = read_study(out).pet
    assert vol.shape == (16, 12, 7)
    aff = vol.affine
    for k in (0, 3, 6):
        for i, j in ((0, 0), (15, 0), (0, 11), (15, 11)):  # the four corners of slice k
            lps = ws.positions[k] + i * 3.0 * row_cos + j * 2.0 * col_cos
            np.testing.assert_allclose(aff @ [i, j, k, 1], [*(LPS_TO_RAS @ lps), 1.0], atol=1e-4)
    # reference: SimpleITK (GDCM) reading the same series
    reader = sitk.ImageSeriesReader()
    reader.SetFileNames(reader.GetGDCMSeriesFileNames(str(tmp_path / "pet")))
    reader.SetOutputPixelType(sitk.sitkFloat64)
    img = reader.Execute()
    direction = np.array(img.GetDirection()).reshape(3, 3)
    ref = np.eye(4)
    ref[:3, :3] = LPS_TO_RAS @ direction @ np.diag(img.GetSpacing())
    ref[:3, 3] = LPS_TO_RAS @ np.array(img.GetOrigin())
    np.testing.assert_allclose(aff, ref, atol=1e-4)
    suv = suv_expected(kji_to_ijk(sitk.GetArrayFromImage(img)), 70, 370e6, 3600)
    np.testing.assert_allclose(vol.data, suv, rtol=2e-6)


def test_per_slice_rescale_slopes_are_applied(tmp_path):
    vals = ramp((10, 12, 16))
    vals[5] *= 40.0  # a hot slice: its slope is 40x the others'
    ws = write_series(tmp_path / "pet", vals, modality="PT", header=pet_header())
    assert len(set(ws.slopes)) == 10 and ws.slopes[5] > 30 * ws.slopes[4]
    st = read_study(ingest_dicom(tmp_path / "s", pet_dir=tmp_path / "pet", allow_no_ct=True, progress=False))
    np.testing.assert_allclose(st.pet.data, suv_expected(kji_to_ijk(ws.values), 70, 370e6, 3600), rtol=2e-6)
    np.testing.assert_allclose(ws.values, vals, atol=max(ws.slopes))  # quantisation only


def _series(tmp_path, positions, name="g"):
    vals = ramp((len(positions), 6, 5))
    pos = np.array([[0.0, 0.0, z] for z in positions])
    write_series(tmp_path / name, vals, modality="PT", header=pet_header(), positions=pos)
    series, _ = scan_dicom([tmp_path / name], progress=False)
    return series[0]


def test_geometry_refuses_duplicates_gaps_and_irregular_spacing(tmp_path):
    with pytest.raises(InputError, match="duplicate slice position"):
        slice_geometry(_series(tmp_path, [0, 4, 4, 8], "dup"))
    with pytest.raises(InputError, match=r"1 slice\(s\) missing between PT_0001.dcm \(4.000 mm\)"):
        slice_geometry(_series(tmp_path, [0, 4, 12, 16], "gap"))
    with pytest.raises(InputError, match=r"non-uniform slice spacing: 5 mm"):
        slice_geometry(_series(tmp_path, [0, 4, 9, 13, 17], "irr"))
    g = slice_geometry(_series(tmp_path, [0, 4.001, 8, 12], "ok"))  # sub-micron jitter is fine
    assert g.slice_spacing == pytest.approx(4.0)


def test_ct_hu_int16_when_exact_else_float32(tmp_path):
    hu = ramp((6, 8, 8), base=-1000.0).round()
    write_series(tmp_path / "ct1", hu, modality="CT", header=ct_header())
    write_series(tmp_path / "ct2", hu, modality="CT", header=ct_header(), ct_slope=0.5)
    write_series(tmp_path / "pet", ramp((4, 8, 8)), modality="PT", header=pet_header())
    a = read_study(ingest_dicom(tmp_path / "a", pet_dir=tmp_path / "pet", ct_dir=tmp_path / "ct1", progress=False))
    b = read_study(ingest_dicom(tmp_path / "b", pet_dir=tmp_path / "pet", ct_dir=tmp_path / "ct2", progress=False))
    assert a.ct.data.dtype == np.int16 and b.ct.data.dtype == np.float32
    np.testing.assert_array_equal(a.ct.data, kji_to_ijk(hu))
    np.testing.assert_allclose(b.ct.data, kji_to_ijk(hu), atol=0.25)


# --------------------------------------------------------------------------------- discovery


def test_single_folder_with_both_series_and_stray_files(tmp_path):
    root = tmp_path / "exam"
    pet, ct = write_exam(root, pet_dir="x/1", ct_dir="x/2")
    # a second CT (other frame of reference, more slices) and a localizer must not be chosen
    write_series(root / "x/3", ramp((20, 8, 8), -500).round(), modality="CT", header=ct_header())
    write_series(
        root / "x/4", ramp((2, 8, 8), -500).round(), modality="CT", frame_of_reference=ct.frame_of_reference,
        header=ct_header(ImageType=["ORIGINAL", "PRIMARY", "LOCALIZER"]),
    )
    (root / "notes.txt").write_text("not dicom")
    (root / "x" / "DICOMDIR.bak").write_bytes(b"\0" * 300)
    warnings: list[str] = []
    out = ingest_dicom(tmp_path / "study", dicom_dir=root, progress=False, warn=warnings.append)
    st = read_study(out)
    prov = st.meta["provenance"]
    assert prov["pet_series_uid"] == pet.series_uid and prov["ct_series_uid"] == ct.series_uid
    assert "same FrameOfReferenceUID" in prov["series_choice"]["ct_reason"]
    assert len(prov["series_choice"]["ct_candidates"]) == 3
    assert prov["n_files"] == 22 and prov["pet_dir"].endswith("x/1") and prov["ct_dir"].endswith("x/2")
    assert any("2 file(s) skipped" in w for w in warnings)
    np.testing.assert_array_equal(st.ct.data, kji_to_ijk(ct.values).astype(np.int16))
    # forcing the other CT
    other = [s for s in scan_dicom([root / "x/3"], progress=False)[0]][0]
    out2 = ingest_dicom(tmp_path / "study2", dicom_dir=root, ct_series=other.uid, progress=False, warn=warnings.append)
    assert read_study(out2).ct.shape == (8, 8, 20)
    assert any("FrameOfReferenceUID differs" in w for w in warnings)


def test_attenuation_corrected_pet_is_preferred(tmp_path):
    root = tmp_path / "exam"
    pet, _ = write_exam(root)
    nac = write_series(
        root / "nac", ramp((14, 12, 16)), modality="PT", frame_of_reference=pet.frame_of_reference,
        header=pet_header(corrected=("DECY",), SeriesDescription="PET NAC"),
    )
    out = ingest_dicom(tmp_path / "s", dicom_dir=root, progress=False)
    choice = read_study(out, arrays=False).meta["provenance"]["series_choice"]
    assert read_study(out, arrays=False).meta["provenance"]["pet_series_uid"] == pet.series_uid
    assert len(choice["pet_candidates"]) == 2 and "attenuation-corrected" in choice["pet_reason"]
    out = ingest_dicom(tmp_path / "s2", dicom_dir=root, pet_series=nac.series_uid, progress=False)
    assert read_study(out).pet.shape == (16, 12, 14)
    with pytest.raises(InputError, match="no PT series with SeriesInstanceUID 1.2.3"):
        ingest_dicom(tmp_path / "s3", dicom_dir=root, pet_series="1.2.3", progress=False)


def test_study_json_has_the_contract_keys(tmp_path):
    write_exam(tmp_path / "exam")
    out = ingest_dicom(tmp_path / "s", pet_dir=tmp_path / "exam/pet", ct_dir=tmp_path / "exam/ct", progress=False)
    meta = json.loads((out / "study.json").read_text())
    for key in ("study_id", "patient_id", "sex", "age", "weight_kg", "height_m", "injected_dose_bq",
                "injection_datetime", "series_datetime", "decay_reference", "half_life_s", "tracer", "suv_type",
                "units_in", "manufacturer", "provenance"):
        assert key in meta, key
    for key in ("source", "pet_series_uid", "ct_series_uid", "n_files", "pet_dir", "ct_dir", "pet2rep_version",
                "overrides"):
        assert key in meta["provenance"], key
    assert meta["patient_id"] == "P001" and meta["provenance"]["n_files"] == 22


def test_bare_dataset_without_preamble_is_read(tmp_path):
    from pydicom import dcmread

    ws = write_series(tmp_path / "pet", ramp((5, 6, 7)), modality="PT", header=pet_header())
    for path in ws.files[::2]:  # rewrite every other slice as a bare implicit-VR data set
        ds = dcmread(path)
        del ds.file_meta
        ds.preamble = None
        ds.save_as(path, implicit_vr=True, little_endian=True)
        assert path.read_bytes()[128:132] != b"DICM"
    (tmp_path / "pet" / "junk.bin").write_bytes(b"\x08\x00garbage" * 20)
    out = ingest_dicom(tmp_path / "s", pet_dir=tmp_path / "pet", allow_no_ct=True, progress=False)
    np.testing.assert_allclose(
        read_study(out).pet.data, suv_expected(kji_to_ijk(ws.values), 70, 370e6, 3600), rtol=2e-6
    )


def test_undecodable_pixel_data_is_one_line(tmp_path):
    from pydicom import dcmread

    ws = write_series(tmp_path / "pet", ramp((4, 6, 7)), modality="PT", header=pet_header())
    from pydicom.encaps import encapsulate

    ds = dcmread(ws.files[2])
    ds.file_meta.TransferSyntaxUID = "1.2.840.10008.1.2.4.50"  # JPEG baseline, but the bytes are no JPEG
    ds.PixelData = encapsulate([ds.PixelData])
    ds.save_as(ws.files[2], enforce_file_format=True)
    with pytest.raises(InputError, match=r"PT_0002.dcm: cannot read pixel data \(transfer syntax 1.2.840.10008.1.2.4.50") as e:
        ingest_dicom(tmp_path / "s", pet_dir=tmp_path / "pet", allow_no_ct=True, progress=False)
    assert "\n" not in str(e.value)


def test_pet_and_ct_of_different_patients_are_refused(tmp_path):
    write_exam(tmp_path / "exam")
    write_series(tmp_path / "exam/other", ramp((4, 6, 6), -500).round(), modality="CT",
                 header=ct_header(PatientID="P999"))
    from pet2rep.ingest.dicom import select_series

    series, _ = scan_dicom([tmp_path / "exam"], progress=False)
    pet, ct, _ = select_series(series)
    assert ct.first.PatientID == "P001"
    with pytest.raises(InputError, match=r"different patients \(PatientID \(0010,0020\) 'P001' vs 'P999'\)"):
        select_series(series, ct_uid=[s for s in series if s.first.PatientID == "P999"][0].uid)


def test_tilted_ct_affine_follows_image_positions(tmp_path):
    hu = ramp((6, 8, 10), -800).round()
    step = np.array([0.0, 0.8, 3.0])  # gantry tilt: slices shift along y
    pos = np.array([10.0, 20.0, 30.0]) + np.arange(6)[:, None] * step
    write_series(tmp_path / "ct", hu, modality="CT", header=ct_header(), positions=pos)
    series, _ = scan_dicom([tmp_path / "ct"], progress=False)
    g = slice_geometry(series[0])
    assert any("gantry tilt" in w for w in g.warnings)
    for k in range(6):
        np.testing.assert_allclose(g.affine @ [0, 0, k, 1], [*(LPS_TO_RAS @ pos[k]), 1], atol=1e-6)


def test_injection_time_override_before_midnight(tmp_path):
    hdr = pet_header(series_date="20240103", series_time="003000", acquisition_time="003000",
                     rinfo=radiopharm(start_time=None))
    pet, _ = write_exam(tmp_path / "exam", pet_hdr=hdr)
    st = read_study(ingest_dicom(tmp_path / "s", dicom_dir=tmp_path / "exam", progress=False,
                                 injection_time="23:20:30"))
    assert st.meta["injection_datetime"] == "2024-01-02T23:20:30"
    np.testing.assert_allclose(st.pet.data, suv_expected(kji_to_ijk(pet.values), 70, 370e6, 4170), rtol=2e-6)


def test_dynamic_pet_duplicate_positions_via_cli(tmp_path, capsys):
    vals = ramp((6, 6, 6))
    pos = np.array([[0.0, 0.0, float(z)] for z in (0, 4, 8, 0, 4, 8)])  # two frames of 3 slices
    write_series(tmp_path / "pet", vals, modality="PT", header=pet_header(), positions=pos)
    rc = main(["ingest", "--pet", str(tmp_path / "pet"), "--allow-no-ct", "--out", str(tmp_path / "s")])
    err = capsys.readouterr().err.strip().splitlines()
    assert rc == 2 and len(err) == 1 and "3 duplicate slice position(s)" in err[0]


# --------------------------------------------------------------------------------- CLI


def test_cli_end_to_end(tmp_path, capsys):
    pet, ct = write_exam(tmp_path / "exam")
    out = tmp_path / "study"
    rc = main(["ingest", "--pet", str(tmp_path / "exam/pet"), "--ct", str(tmp_path / "exam/ct"),
               "--out", str(out), "--no-progress"])
    assert rc == 0
    assert capsys.readouterr().out.strip() == str(out)
    meta = json.loads((out / "study.json").read_text())
    assert meta["study_id"] == "study" and meta["provenance"]["ct_series_uid"] == ct.series_uid
    st = read_study(out)
    assert st.pet.data.dtype == np.float32 and st.ct.data.dtype == np.int16
    np.testing.assert_allclose(st.pet.data, suv_expected(kji_to_ijk(pet.values), 70, 370e6, 3600), rtol=2e-6)


def test_cli_bad_series_one_line_exit_2(tmp_path, capsys):
    write_exam(tmp_path / "exam", pet_hdr=pet_header(weight=None))
    rc = main(["ingest", "--dicom", str(tmp_path / "exam"), "--out", str(tmp_path / "s"), "--no-progress"])
    err = capsys.readouterr().err
    assert rc == 2
    lines = err.strip().splitlines()
    assert len(lines) == 1 and "Traceback" not in err
    assert lines[0].startswith("pet2rep ingest: error: PT series") and "PatientWeight (0010,1030)" in lines[0]
    # the override fixes it
    rc = main(["ingest", "--dicom", str(tmp_path / "exam"), "--out", str(tmp_path / "s"), "--no-progress",
               "--weight", "70"])
    assert rc == 0 and read_study(tmp_path / "s").meta["provenance"]["overrides"] == {"weight_kg": 70.0}


def test_cli_argument_errors(tmp_path, capsys):
    assert main(["ingest", "--out", str(tmp_path / "s")]) == 2
    assert main(["ingest", "--dicom", "a", "--pet", "b", "--out", str(tmp_path / "s")]) == 2
    assert main(["ingest", "--dicom", str(tmp_path / "nowhere"), "--out", str(tmp_path / "s")]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 3 and "nowhere: no such folder" in err[2]


def test_cli_batch_continues_past_a_bad_exam(tmp_path, capsys):
    root = tmp_path / "root"
    write_exam(root / "a_good")
    write_exam(root / "b_bad", pet_hdr=pet_header(units="PROPCNTS"))
    write_exam(root / "c_good")
    (root / "d_empty").mkdir()
    out = tmp_path / "out"
    rc = main(["ingest", "--dicom", str(root), "--out", str(out), "--batch", "--no-progress"])
    err = capsys.readouterr().err
    assert rc == 1 and "Traceback" not in err
    assert (out / "a_good/study.json").exists() and (out / "c_good/study.json").exists()
    assert not (out / "b_bad/study.json").exists()
    failures = [ln for ln in err.splitlines() if ln.startswith(("pet2rep ingest: b_bad:", "pet2rep ingest: d_empty:"))]
    assert len(failures) == 2 and "Units (0054,1001)" in failures[0] and "no PET series" in failures[1]
    assert "2 of 4 exams ingested" in err.splitlines()[-1]
    # resume: finished exams are skipped, failed ones tried again
    stamp = (out / "a_good/pet_suv.nii.gz").stat().st_mtime_ns
    rc = main(["ingest", "--dicom", str(root), "--out", str(out), "--batch", "--skip-existing", "--no-progress"])
    err = capsys.readouterr().err
    assert rc == 1 and (out / "a_good/pet_suv.nii.gz").stat().st_mtime_ns == stamp
    assert "2 of 4 exams ingested" in err and "b_bad: " in err


def test_crash_while_writing_keeps_the_old_study_intact(tmp_path, monkeypatch):
    import pet2rep.study as study_mod

    write_exam(tmp_path / "exam")
    out = ingest_dicom(tmp_path / "s", dicom_dir=tmp_path / "exam", progress=False)
    (out / "report.zh.txt").write_text("报告", encoding="utf-8")  # a file the user added to the study folder
    before = {p.name: p.read_bytes() for p in out.iterdir()}
    real_save = study_mod.save_nifti

    def crash_on_ct(vol, path, *a, **kw):
        if Path(path).name == "ct.nii.gz":
            raise OSError("disk full")
        real_save(vol, path, *a, **kw)

    monkeypatch.setattr(study_mod, "save_nifti", crash_on_ct)
    with pytest.raises(OSError):
        ingest_dicom(tmp_path / "s", dicom_dir=tmp_path / "exam", progress=False)
    assert {p.name: p.read_bytes() for p in out.iterdir()} == before  # old study untouched, nothing half-written
    assert sorted(p.name for p in tmp_path.iterdir()) == ["exam", "s"]  # no staging folder left behind
    monkeypatch.undo()
    ingest_dicom(tmp_path / "s", dicom_dir=tmp_path / "exam", progress=False)  # a good re-ingest keeps the report
    assert (out / "report.zh.txt").read_text(encoding="utf-8") == "报告" and read_study(out).pet is not None


def test_cli_nifti_passes_through(tmp_path, capsys):
    import nibabel as nib

    suv = np.random.default_rng(0).random((8, 9, 10)).astype(np.float32) * 5
    ct = (np.random.default_rng(1).random((8, 9, 10)) * 1000 - 500).astype(np.int16)
    aff = np.diag([2.0, 2.0, 3.0, 1.0])
    nib.save(nib.Nifti1Image(suv, aff), tmp_path / "SUV.nii.gz")
    nib.save(nib.Nifti1Image(ct, aff), tmp_path / "CTres.nii.gz")
    rc = main(["ingest", "--pet-nifti", str(tmp_path / "SUV.nii.gz"), "--ct-nifti", str(tmp_path / "CTres.nii.gz"),
               "--out", str(tmp_path / "s"), "--pet-units", "suv"])
    assert rc == 0, capsys.readouterr().err
    st = read_study(tmp_path / "s")
    np.testing.assert_allclose(st.pet.data, suv, rtol=1e-6)
    np.testing.assert_allclose(st.pet.affine, aff)
    np.testing.assert_array_equal(st.ct.data, ct)


# --------------------------------------------------------------------------------- time zones


def test_suv_dose_offset_differs_from_series_timezone(tmp_path):
    # injection 09:30 at UTC+1 = 08:30 UTC; the series (10:00) is in the data set's zone, UTC+0:
    # 1.5 h of decay, not the 0.5 h that reading the clock faces alone would give.
    hdr = pet_header(rinfo=radiopharm(start_time=None, start_datetime="20240102093000+0100"),
                     TimezoneOffsetFromUTC="+0000")
    pet, st = ingest_pet(tmp_path, hdr)
    factor = 70_000.0 / (370e6 * 2.0 ** (-5400.0 / 6586.2))
    assert factor == pytest.approx(3.33972e-4, rel=1e-5)  # by hand: 7e4 / (3.7e8 * 0.566483)
    np.testing.assert_allclose(st.pet.data, kji_to_ijk(pet.values) * factor, rtol=2e-6)
    m = st.meta
    assert m["uptake_time_s"] == 5400.0
    assert m["injection_datetime"] == "2024-01-02T09:30:00+01:00"
    assert m["series_datetime"] == "2024-01-02T10:00:00+00:00"
    assert not np.allclose(st.pet.data, suv_expected(kji_to_ijk(pet.values), 70, 370e6, 1800), rtol=1e-2)


@pytest.mark.parametrize(
    "dose_dt, tz, series_iso",
    [
        # the dose side carries UTC, the series side only the data set's +0100: 08:00Z -> 10:00+01 = 1 h
        ("20240102080000+0000", "+0100", "2024-01-02T10:00:00+01:00"),
        # no TimezoneOffsetFromUTC: the naive series time is taken in the dose's zone (same local zone)
        ("20240102090000-0500", None, "2024-01-02T10:00:00-05:00"),
        # the dose is naive and takes the data set's zone like the series: 1 h
        ("20240102090000", "-0300", "2024-01-02T10:00:00-03:00"),
        # no offset anywhere: local clock times
        ("20240102090000", None, "2024-01-02T10:00:00"),
    ],
    ids=["dose-UTC-dataset-+0100", "dose-offset-no-dataset-zone", "naive-dose-dataset-zone", "no-offsets"],
)
def test_suv_offset_on_one_side_only(tmp_path, dose_dt, tz, series_iso):
    hdr = pet_header(rinfo=radiopharm(start_time=None, start_datetime=dose_dt), TimezoneOffsetFromUTC=tz)
    pet, st = ingest_pet(tmp_path, hdr)
    assert st.meta["uptake_time_s"] == 3600.0 and st.meta["series_datetime"] == series_iso
    np.testing.assert_allclose(st.pet.data, kji_to_ijk(pet.values) * 2.76337e-4, rtol=1e-5)


def test_enhanced_decay_datetime_offset_with_naive_dose(tmp_path):
    # DecayCorrectionDateTime 09:00 UTC = 10:00 at +0100; the naive dose DT 09:00 is at the data set's +0100
    hdr = enhanced_pet_header(decay_datetime="20240102090000+0000", TimezoneOffsetFromUTC="+0100")
    ws = write_enhanced(tmp_path / "pet", ramp((6, 8, 10)), modality="PT", header=hdr)
    st = read_study(ingest_dicom(tmp_path / "s", pet_dir=tmp_path / "pet", allow_no_ct=True, progress=False))
    assert st.meta["uptake_time_s"] == 3600.0
    assert st.meta["decay_reference_datetime"] == "2024-01-02T09:00:00+00:00"
    np.testing.assert_allclose(st.pet.data, kji_to_ijk(ws.values) * 2.76337e-4, rtol=1e-5)


@pytest.mark.parametrize(
    "rinfo, tz, dt, factor",
    [
        # 00:30 at +0100 is 23:30Z the day before; the series 00:40 is at +0000: 70 min
        (radiopharm(start_time=None, start_datetime="20240103003000+0100"), "+0000", 4200.0, 2.94349e-4),
        (radiopharm(start_time="233000"), "+0100", 4200.0, 2.94349e-4),  # StartTime only, both at +0100
        (radiopharm(start_time="235000"), None, 3000.0, 2.59427e-4),  # 23:50 -> 00:40 the next day
    ],
    ids=["offset-crosses-midnight", "start-time-with-zone", "start-time-23:50"],
)
def test_suv_midnight_crossing_with_zones(tmp_path, rinfo, tz, dt, factor):
    # by hand: 7e4 / (3.7e8 * 2^(-4200/6586.2)) = 7e4 / (3.7e8 * 0.642738) = 2.94349e-4
    #          7e4 / (3.7e8 * 2^(-3000/6586.2)) = 7e4 / (3.7e8 * 0.729258) = 2.59427e-4
    hdr = pet_header(series_date="20240103", series_time="004000", acquisition_time="004000", rinfo=rinfo,
                     TimezoneOffsetFromUTC=tz)
    pet, st = ingest_pet(tmp_path, hdr)
    assert st.meta["uptake_time_s"] == dt
    np.testing.assert_allclose(st.pet.data, kji_to_ijk(pet.values) * factor, rtol=1e-5)


def test_malformed_timezone_offset_is_a_warning(tmp_path):
    pet, _ = write_exam(tmp_path / "exam", pet_hdr=pet_header(TimezoneOffsetFromUTC="+01:00"))
    warnings: list[str] = []
    st = read_study(ingest_dicom(tmp_path / "s", dicom_dir=tmp_path / "exam", progress=False, warn=warnings.append))
    assert any("TimezoneOffsetFromUTC (0008,0201) '+01:00' is malformed" in w for w in warnings)
    np.testing.assert_allclose(st.pet.data, suv_expected(kji_to_ijk(pet.values), 70, 370e6, 3600), rtol=2e-6)


# --------------------------------------------------------------------------------- enhanced multi-frame


def _legacy_pet_headers() -> tuple[dict, dict]:
    """Classic PET attributes split as a legacy converter does: module attributes at the top level, the
    rest (Units, corrections, isotope) in UnassignedSharedConvertedAttributesSequence."""
    top = pet_header()
    moved = ("Units", "CorrectedImage", "DecayCorrection", "RadiopharmaceuticalInformationSequence",
             "AcquisitionDate", "AcquisitionTime")
    return top, {k: top.pop(k) for k in moved}


def _ingest(tmp_path: Path, name: str, **kw):
    return read_study(ingest_dicom(tmp_path / name, progress=False, **kw))


@pytest.mark.parametrize("legacy", [False, True], ids=["enhanced", "legacy-converted"])
def test_enhanced_exam_matches_the_classic_series(tmp_path, legacy):
    pet_vals, hu = ramp((10, 12, 16)), ramp((12, 16, 16), base=-900.0).round()
    ct_geom = dict(origin=(-22.0, -33.0, -102.0), pixel_spacing=(1.5, 1.25), slice_step=3.0)
    cpet = write_series(tmp_path / "classic/pet", pet_vals, modality="PT", header=pet_header())
    write_series(tmp_path / "classic/ct", hu, modality="CT", header=ct_header(), **ct_geom)
    perm = [3, 7, 0, 9, 1, 5, 2, 8, 6, 4]  # frames stored out of order
    if legacy:
        top, unassigned = _legacy_pet_headers()
        epet = write_enhanced(tmp_path / "enh/pet", pet_vals, modality="PT", legacy=True, header=top,
                              unassigned=unassigned, frame_order=perm, rwv_units=None,
                              frame_datetime=lambda k: "20240102100000")
    else:
        epet = write_enhanced(tmp_path / "enh/pet", pet_vals, modality="PT", header=enhanced_pet_header(),
                              frame_order=perm)
    write_enhanced(tmp_path / "enh/ct", hu, modality="CT", legacy=legacy, header=ct_header(),
                   frame_order=list(range(12))[::-1], frame_of_reference=epet.frame_of_reference, **ct_geom)
    a = _ingest(tmp_path, "sa", pet_dir=tmp_path / "classic/pet", ct_dir=tmp_path / "classic/ct")
    b = _ingest(tmp_path, "sb", dicom_dir=tmp_path / "enh")
    np.testing.assert_array_equal(b.pet.data, a.pet.data)
    np.testing.assert_array_equal(b.pet.affine, a.pet.affine)
    np.testing.assert_array_equal(b.ct.data, a.ct.data)
    np.testing.assert_array_equal(b.ct.affine, a.ct.affine)
    assert b.ct.data.dtype == np.int16
    # and the numbers themselves: 370 MBq (Enhanced PET stores MBq), 1 h to the decay reference
    np.testing.assert_allclose(b.pet.data, kji_to_ijk(cpet.values) * 2.76337e-4, rtol=1e-5)
    np.testing.assert_array_equal(epet.values, cpet.values)
    m = b.meta
    assert m["injected_dose_bq"] == 370e6 and m["uptake_time_s"] == 3600.0 and m["units_in"] == "BQML"
    assert m["decay_reference"] == ("series start" if legacy else "DecayCorrectionDateTime (0018,9701)")
    prov = m["provenance"]
    assert prov["n_files"] == 2 and prov["pet_n_files"] == 1
    assert prov["series_choice"]["pet_candidates"][0]["n_slices"] == 10


def test_enhanced_oblique_shuffled_frames_sort_along_the_normal(tmp_path):
    c, s = math.cos(0.3), math.sin(0.3)
    orientation = (c, s, 0.0, 0.0, 0.0, -1.0)  # oblique coronal-ish
    vals = ramp((9, 12, 16))
    perm = list(range(9))
    random.Random(7).shuffle(perm)
    geom = dict(orientation=orientation, origin=(11.0, -7.5, 40.0), slice_step=4.5)
    classic = write_series(tmp_path / "c", vals, modality="PT", header=pet_header(), **geom)
    enh = write_enhanced(tmp_path / "e", vals, modality="PT", header=enhanced_pet_header(), frame_order=perm, **geom)
    a = _ingest(tmp_path, "sa", pet_dir=tmp_path / "c", allow_no_ct=True)
    b = _ingest(tmp_path, "sb", pet_dir=tmp_path / "e", allow_no_ct=True)
    np.testing.assert_array_equal(b.pet.data, a.pet.data)
    np.testing.assert_allclose(b.pet.affine, a.pet.affine, atol=1e-9)
    for k in range(9):  # voxel (0, 0, k) is slice k's ImagePositionPatient
        np.testing.assert_allclose(b.pet.affine @ [0, 0, k, 1], [*(LPS_TO_RAS @ enh.positions[k]), 1.0], atol=1e-6)
    assert np.all(np.diff(b.pet.data[0, 0, :]) > 0)  # values grow by 100 per slice along the normal
    np.testing.assert_array_equal(enh.positions, classic.positions)


def test_enhanced_per_frame_rescale_slopes_are_applied(tmp_path):
    vals = ramp((8, 10, 12))
    vals[5] *= 40.0  # a hot frame: its slope is 40x the others'
    ws = write_enhanced(tmp_path / "pet", vals, modality="PT", header=enhanced_pet_header(),
                        frame_order=[7, 6, 5, 4, 3, 2, 1, 0])
    assert len(set(ws.slopes)) == 8 and ws.slopes[5] > 30 * ws.slopes[4]
    st = _ingest(tmp_path, "s", pet_dir=tmp_path / "pet", allow_no_ct=True)
    np.testing.assert_allclose(st.pet.data, suv_expected(kji_to_ijk(ws.values), 70, 370e6, 3600), rtol=2e-6)
    np.testing.assert_allclose(ws.values, vals, atol=max(ws.slopes))
    # by hand, one voxel of the hot frame: 40 * (1000 + 500 + 10*2 + 3 + 0.25 sin(5 + 0.6 + 2.1)) * 2.76337e-4
    a = 40 * (1523 + 0.25 * math.sin(5 + 0.6 + 2.1))
    assert st.pet.data[3, 2, 5] == pytest.approx(a * 2.76337e-4, rel=1e-4)


def test_enhanced_shared_rescale_pet_and_ct(tmp_path):
    vals = ramp((6, 8, 10))
    hu = ramp((6, 8, 10), base=-1000.0).round()
    # Units (0054,1001) at the top level instead of a Real World Value Mapping
    pet = write_enhanced(tmp_path / "pet", vals, modality="PT", header=enhanced_pet_header(Units="BQML"),
                         shared_rescale=True, rwv_units=None)
    assert len(set(pet.slopes)) == 1
    ct = write_enhanced(tmp_path / "ct", hu, modality="CT", header=ct_header(), shared_rescale=True, ct_slope=0.5,
                        frame_of_reference=pet.frame_of_reference)
    st = _ingest(tmp_path, "s", pet_dir=tmp_path / "pet", ct_dir=tmp_path / "ct")
    np.testing.assert_allclose(st.pet.data, suv_expected(kji_to_ijk(pet.values), 70, 370e6, 3600), rtol=2e-6)
    assert st.ct.data.dtype == np.float32  # slope 0.5: not integral
    np.testing.assert_array_equal(st.ct.data, kji_to_ijk(ct.values))


def test_enhanced_pet_units_from_real_world_value_mapping(tmp_path):
    suv = ramp((5, 6, 7), base=1.0) / 100.0
    ws = write_enhanced(tmp_path / "pet", suv, modality="PT", header=enhanced_pet_header(), rwv_units="{SUVbw}g/ml")
    st = _ingest(tmp_path, "s", pet_dir=tmp_path / "pet", allow_no_ct=True)
    assert st.meta["units_in"] == "GML"
    np.testing.assert_allclose(st.pet.data, kji_to_ijk(ws.values), rtol=2e-6)


@pytest.mark.parametrize(
    "kw, needle",
    [
        (dict(header=enhanced_pet_header(decay_corrected="NO")), "DecayCorrected (0018,9758) is 'NO'"),
        (dict(header=enhanced_pet_header(decay_datetime=None)), "DecayCorrectionDateTime (0018,9701) is missing"),
        (dict(header=enhanced_pet_header(dose_mbq=370e6)), "370000000 MBq is implausibly large"),
        (dict(header=enhanced_pet_header(decay_corrected=None, DecayCorrection="NONE")),
         "DecayCorrection (0054,1102) is 'NONE'"),
        (dict(header=enhanced_pet_header(), rwv_units="{SUVlbm}g/ml"),
         "RealWorldValueMappingSequence (0040,9096) is '{SUVLBM}G/ML'"),
        (dict(header=enhanced_pet_header(), rwv_units=None), "Units (0054,1001) missing (and no RealWorldValueMapping"),
        (dict(header=enhanced_pet_header(), rwv_slope_scale=1.5),
         "frame 1: RealWorldValueMappingSequence (0040,9096) for BQML RealWorldValueSlope/Intercept"),
    ],
    ids=["not-decay-corrected", "no-decay-datetime", "dose-in-Bq", "decay-none", "unknown-units", "no-units",
         "rwv-vs-rescale"],
)
def test_enhanced_pet_refusals_name_the_tag(tmp_path, kw, needle):
    write_enhanced(tmp_path / "pet", ramp((4, 6, 7)), modality="PT", **kw)
    with pytest.raises(InputError) as err:
        ingest_dicom(tmp_path / "s", pet_dir=tmp_path / "pet", allow_no_ct=True, progress=False)
    msg = str(err.value)
    assert "\n" not in msg and needle in msg, msg


def test_mixed_single_frame_and_enhanced_series_is_refused(tmp_path, capsys):
    vals = ramp((6, 6, 8))
    ws = write_series(tmp_path / "pet", vals[:3], modality="PT", header=pet_header())
    write_enhanced(tmp_path / "pet", vals[3:], modality="PT", header=enhanced_pet_header(),
                   series_uid=ws.series_uid, origin=(-20.0, -30.0, -88.0))
    rc = main(["ingest", "--pet", str(tmp_path / "pet"), "--allow-no-ct", "--out", str(tmp_path / "s"), "--no-progress"])
    err = capsys.readouterr().err.strip().splitlines()
    assert rc == 2 and len(err) == 1, err
    assert "mixes 3 single-frame file(s) (e.g. PT_0000.dcm) with enhanced multi-frame file(s) (e.g. PT_enhanced.dcm)" in err[0]


def test_unsupported_multiframe_files_are_refused(tmp_path, capsys):
    # a classic PET SOP class claiming 4 frames: not a volume we can read
    write_enhanced(tmp_path / "a", ramp((4, 6, 7)), modality="PT", header=pet_header(), sop_class=PET_SOP_CLASS)
    rc = main(["ingest", "--pet", str(tmp_path / "a"), "--allow-no-ct", "--out", str(tmp_path / "s"), "--no-progress"])
    err = capsys.readouterr().err.strip().splitlines()
    assert rc == 2 and len(err) == 1
    assert "PT_enhanced.dcm is a multi-frame Positron Emission Tomography Image Storage object (4 frames), " \
           "not a supported volume" in err[0]

    # per-frame functional groups that do not match NumberOfFrames
    ws = write_enhanced(tmp_path / "b", ramp((4, 6, 7)), modality="PT", header=enhanced_pet_header())
    from pydicom import dcmread

    ds = dcmread(ws.files[0])
    del ds.PerFrameFunctionalGroupsSequence[-1]
    ds.save_as(ws.files[0], enforce_file_format=True)
    with pytest.raises(InputError, match=r"has 3 item\(s\) for NumberOfFrames \(0028,0008\) 4"):
        ingest_dicom(tmp_path / "s", pet_dir=tmp_path / "b", allow_no_ct=True, progress=False)

    # a dynamic enhanced PET: two time frames at the same three positions
    pos = np.array([[0.0, 0.0, z] for z in (0, 4, 8, 0, 4, 8)])
    write_enhanced(tmp_path / "c", ramp((6, 6, 7)), modality="PT", header=enhanced_pet_header(), positions=pos)
    with pytest.raises(InputError, match=r"3 duplicate slice position\(s\), e.g. PT_enhanced.dcm frame \d and "
                                         r"PT_enhanced.dcm frame \d both at"):
        ingest_dicom(tmp_path / "s", pet_dir=tmp_path / "c", allow_no_ct=True, progress=False)


def test_unsupported_multiframe_in_another_series_does_not_stop_the_exam(tmp_path):
    pet, ct = write_exam(tmp_path / "exam")
    write_enhanced(tmp_path / "exam/sc", ramp((3, 6, 6), -500).round(), modality="CT", header=ct_header(),
                   sop_class="1.2.840.10008.5.1.4.1.1.7.3")  # multi-frame grayscale secondary capture
    st = _ingest(tmp_path, "s", dicom_dir=tmp_path / "exam")
    assert st.meta["provenance"]["ct_series_uid"] == ct.series_uid


# --------------------------------------------------------------------------------- compressed transfer syntaxes


def test_rle_lossless_series_gives_the_identical_suv(tmp_path):
    import shutil

    from pydicom import dcmread
    from pydicom.uid import RLELossless

    vals = ramp((6, 12, 16))
    write_series(tmp_path / "plain", vals, modality="PT", header=pet_header())
    shutil.copytree(tmp_path / "plain", tmp_path / "rle")
    compress_files(sorted((tmp_path / "rle").iterdir()), RLELossless)
    assert dcmread(next((tmp_path / "rle").iterdir())).file_meta.TransferSyntaxUID == RLELossless
    we = write_enhanced(tmp_path / "enh", vals, modality="PT", header=enhanced_pet_header(), frame_order=[5, 3, 1, 0, 2, 4])
    compress_files(we.files, RLELossless)  # a multi-frame RLE file: one RLE fragment per frame
    a = _ingest(tmp_path, "sa", pet_dir=tmp_path / "plain", allow_no_ct=True)
    b = _ingest(tmp_path, "sb", pet_dir=tmp_path / "rle", allow_no_ct=True)
    c = _ingest(tmp_path, "sc", pet_dir=tmp_path / "enh", allow_no_ct=True)
    np.testing.assert_array_equal(b.pet.data, a.pet.data)
    np.testing.assert_array_equal(c.pet.data, a.pet.data)
    np.testing.assert_allclose(a.pet.data, suv_expected(kji_to_ijk(we.values), 70, 370e6, 3600), rtol=2e-6)


def _claim(path: Path, transfer_syntax: str) -> None:
    """Rewrite a file as if its pixel data were in `transfer_syntax` (the bytes are not)."""
    from pydicom import dcmread
    from pydicom.encaps import encapsulate

    ds = dcmread(path)
    ds.file_meta.TransferSyntaxUID = transfer_syntax
    ds.PixelData = encapsulate([b"\xff\x4f\xff\x51" + b"\x00" * 60])
    ds["PixelData"].VR = "OB"
    ds.save_as(path, enforce_file_format=True)


def test_jpeg2000_without_decoder_names_file_syntax_and_extra(tmp_path, monkeypatch):
    from pydicom.uid import JPEG2000Lossless

    ws = write_series(tmp_path / "pet", ramp((4, 6, 7)), modality="PT", header=pet_header())
    _claim(ws.files[1], JPEG2000Lossless)
    wanted = (
        'PT_0001.dcm: cannot read pixel data: transfer syntax 1.2.840.10008.1.2.4.90 "JPEG 2000 Image Compression '
        "(Lossless Only)\" has no decoder installed; pip install 'pet2rep[dicom-jpeg]'"
    )

    def run() -> str:
        with pytest.raises(InputError) as err:
            ingest_dicom(tmp_path / "s", pet_dir=tmp_path / "pet", allow_no_ct=True, progress=False)
        assert "\n" not in str(err.value)
        return str(err.value)

    try:
        from pydicom.pixels import get_decoder
    except ImportError:  # pydicom 2: no way to ask; the decode error is reported
        assert "cannot read pixel data (transfer syntax 1.2.840.10008.1.2.4.90" in run()
        return
    decoder = get_decoder(JPEG2000Lossless)
    if decoder.is_available:  # e.g. Pillow or pylibjpeg-openjpeg present: the bogus bytes fail to decode
        msg = run()
        assert 'PT_0001.dcm: cannot read pixel data (transfer syntax 1.2.840.10008.1.2.4.90 "JPEG 2000' in msg
        monkeypatch.setattr(type(decoder), "is_available", property(lambda self: False))
    assert wanted in run()


def test_jpeg_ls_without_decoder_via_cli(tmp_path, capsys):
    pytest.importorskip("pydicom.pixels")
    from pydicom.pixels import get_decoder
    from pydicom.uid import JPEGLSLossless

    if get_decoder(JPEGLSLossless).is_available:
        pytest.skip("a JPEG-LS decoder is installed")
    write_exam(tmp_path / "exam")
    _claim(tmp_path / "exam/ct/CT_0003.dcm", JPEGLSLossless)
    rc = main(["ingest", "--dicom", str(tmp_path / "exam"), "--out", str(tmp_path / "s"), "--no-progress"])
    err = capsys.readouterr().err.strip().splitlines()
    assert rc == 2 and len(err) == 1 and "Traceback" not in err[0]
    assert 'CT_0003.dcm: cannot read pixel data: transfer syntax 1.2.840.10008.1.2.4.80 "JPEG-LS Lossless Image ' \
           "Compression\" has no decoder installed; pip install 'pet2rep[dicom-jpeg]'" in err[0]
    assert not (tmp_path / "s" / "study.json").exists()


def test_decoder_problem_names_what_to_install():
    pytest.importorskip("pydicom.pixels")
    from pydicom.pixels import get_decoder
    from pydicom.uid import MPEG2MPML, DeflatedExplicitVRLittleEndian, ExplicitVRLittleEndian, RLELossless

    from pet2rep.ingest.dicom import decoder_problem

    for ts in (ExplicitVRLittleEndian, DeflatedExplicitVRLittleEndian, RLELossless):
        assert decoder_problem(ts) is None  # native, or decoded by pydicom itself
    assert decoder_problem(MPEG2MPML) == (
        'transfer syntax 1.2.840.10008.1.2.4.100 "MPEG2 Main Profile / Main Level" is not an image encoding '
        "pydicom can decode"
    )
    lossless = "1.2.840.10008.1.2.4.70"  # JPEG Lossless SV1, the usual compressed PET/CT in archives
    if not get_decoder(lossless).is_available:
        assert decoder_problem(lossless).endswith("has no decoder installed; " + JPEG_EXTRA_HINT)
