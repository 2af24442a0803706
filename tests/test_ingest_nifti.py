"""NIfTI ingest (SUV copied untouched, Bq/ml -> SUVbw) and the fast NIfTI reader behind it."""

from __future__ import annotations

import gzip
import json
from pathlib import Path

import nibabel as nib
import numpy as np
import pytest

from pet2rep.cli import main
from pet2rep.errors import InputError
from pet2rep.ingest.nifti import ingest_nifti, parse_clock, uptake_seconds
from pet2rep.study import StudyError, load_nifti, read_nifti_header, read_study


def _save(data: np.ndarray, aff: np.ndarray, path: Path) -> Path:
    img = nib.Nifti1Image(data, aff)
    img.set_sform(aff, code=1)
    nib.save(img, str(path))
    return path


def _pair(tmp_path: Path, pet_name: str = "SUV.nii.gz", pet_values: float = 2.5, dtype=np.float32):
    rng = np.random.default_rng(1)
    pet_aff = np.diag([4.0, 4.0, 3.0, 1.0])
    pet_aff[:3, 3] = [-40, -40, -30]
    pet = (pet_values * (1 + 0.1 * rng.random((20, 20, 20)))).astype(dtype)
    ct_aff = np.diag([-2.0, -2.0, 3.0, 1.0])
    ct_aff[:3, 3] = [38, 38, -30]
    ct = rng.integers(-1000, 1000, (40, 40, 20)).astype(np.int16)
    return _save(pet, pet_aff, tmp_path / pet_name), _save(ct, ct_aff, tmp_path / "CTres.nii.gz"), pet, ct


def test_suv_input_is_copied_byte_identical_and_header_only(tmp_path, monkeypatch):
    pet_p, ct_p, pet, ct = _pair(tmp_path)
    import pet2rep.study as study_mod

    def no_full_read(*a, **k):  # the SUV fast path must not inflate the data
        raise AssertionError("full read during SUV ingest")

    monkeypatch.setattr(study_mod, "load_nifti", no_full_read)
    monkeypatch.setattr(study_mod, "read_nifti_raw", no_full_read)
    out = ingest_nifti(pet_p, ct_p, tmp_path / "study", study_id="case1", sex="F", age=61)
    monkeypatch.undo()
    assert (out / "pet_suv.nii.gz").read_bytes() == pet_p.read_bytes()
    assert (out / "ct.nii.gz").read_bytes() == ct_p.read_bytes()
    meta = json.loads((out / "study.json").read_text())
    assert meta["study_id"] == "case1" and meta["tracer"] == "FDG" and meta["units_in"] == "SUV"
    assert meta["half_life_s"] == 6586.2 and meta["weight_kg"] is None and meta["injected_dose_bq"] is None
    assert meta["sex"] == "F" and meta["age"] == 61
    prov = meta["provenance"]
    assert prov["source"] == "nifti" and prov["pet_path"].endswith("SUV.nii.gz")
    assert prov["ct_path"].endswith("CTres.nii.gz") and "file name" in prov["units_decision"]
    assert prov["pet2rep_version"]
    study = read_study(out)
    assert np.array_equal(study.pet.data, pet) and study.pet.data.dtype == np.float32
    assert np.array_equal(study.ct.data, ct)
    assert not list(out.glob("*.part"))


def test_bqml_converted_to_suv_against_hand_computation(tmp_path):
    pet_p, ct_p, _, _ = _pair(tmp_path, "PET.nii.gz", pet_values=1.0)
    vals = np.full((20, 20, 20), 5000.0, np.float32)
    vals[3, 4, 5] = 12000.0
    _save(vals, nib.load(str(pet_p)).affine, pet_p)
    out = ingest_nifti(pet_p, ct_p, tmp_path / "st", pet_units="bqml", weight_kg=70, dose_mbq=370,
                       injection_time="10:00", scan_time="11:00:00")
    suv = load_nifti(out / "pet_suv.nii.gz")
    assert suv.data.dtype == np.float32
    # 5000 Bq/ml * 70000 g / (370e6 Bq * 2**(-3600/6586.2)) = 1.38168...
    assert suv.data[0, 0, 0] == pytest.approx(1.3816834, rel=1e-6)
    assert suv.data[3, 4, 5] == pytest.approx(1.3816834 * 12000 / 5000, rel=1e-6)
    meta = json.loads((out / "study.json").read_text())
    assert meta["units_in"] == "BQML" and meta["weight_kg"] == 70 and meta["injected_dose_bq"] == 370e6
    assert meta["uptake_time_s"] == 3600 and meta["decay_factor"] == pytest.approx(0.68463292, rel=1e-7)
    assert meta["provenance"]["units_decision"] == "given: bqml"


def test_auto_units_from_value_range_and_missing_facts(tmp_path):
    pet_p, ct_p, _, _ = _pair(tmp_path, "PET.nii.gz", pet_values=8000.0)
    with pytest.raises(InputError) as exc:
        ingest_nifti(pet_p, ct_p, tmp_path / "st", dose_mbq=300, injection_time="09:10", scan_time="10:10")
    msg = str(exc.value)
    assert "\n" not in msg and "weight" in msg and "PET.nii.gz" in msg and "dose" not in msg
    with pytest.raises(InputError, match="weight .*injected dose .*injection time, scan time"):
        ingest_nifti(pet_p, ct_p, tmp_path / "st2")
    out = ingest_nifti(pet_p, ct_p, tmp_path / "st3", weight_kg=82.5, dose_mbq=250,
                       injection_time="2024-05-01T23:40:00", scan_time="2024-05-02T00:25:30")
    meta = json.loads((out / "study.json").read_text())
    assert meta["units_in"] == "BQML" and "value range" in meta["provenance"]["units_decision"]
    assert meta["uptake_time_s"] == 45 * 60 + 30
    # SUV-range values in a file without 'SUV' in its name stay SUV
    pet_p2, ct_p2, pet2, _ = _pair(tmp_path, "pet_image.nii.gz", pet_values=3.0)
    out2 = ingest_nifti(pet_p2, ct_p2, tmp_path / "st4")
    meta2 = json.loads((out2 / "study.json").read_text())
    assert meta2["units_in"] == "SUV" and "value range" in meta2["provenance"]["units_decision"]
    assert np.array_equal(load_nifti(out2 / "pet_suv.nii.gz").data, pet2)


def test_other_inputs_rewritten_and_bad_pairs_rejected(tmp_path):
    pet_p, ct_p, pet, ct = _pair(tmp_path, "SUV_f64.nii.gz", dtype=np.float64)
    ct_nii = tmp_path / "ct.nii"
    nib.save(nib.load(str(ct_p)), str(ct_nii))  # uncompressed CT
    out = ingest_nifti(pet_p, ct_nii, tmp_path / "st")
    got = load_nifti(out / "pet_suv.nii.gz")
    assert got.data.dtype == np.float32 and np.allclose(got.data, pet, rtol=1e-6)
    assert gzip.decompress((out / "ct.nii.gz").read_bytes()) == ct_nii.read_bytes()
    assert np.array_equal(load_nifti(out / "ct.nii.gz").data, ct)
    far = np.diag([2.0, 2.0, 3.0, 1.0])
    far[:3, 3] = [5000, 0, 0]
    _save(ct, far, tmp_path / "far.nii.gz")
    with pytest.raises(InputError, match="does not overlap"):
        ingest_nifti(pet_p, tmp_path / "far.nii.gz", tmp_path / "st2")
    with pytest.raises(InputError, match="not found"):
        ingest_nifti(tmp_path / "missing.nii.gz", ct_p, tmp_path / "st3")
    with pytest.raises(InputError, match="pet_units"):
        ingest_nifti(pet_p, ct_p, tmp_path / "st4", pet_units="kBq")


def test_pet_only_study(tmp_path):
    pet_p, _, pet, _ = _pair(tmp_path)
    out = ingest_nifti(pet_p, None, tmp_path / "st")
    assert not (out / "ct.nii.gz").exists()
    assert json.loads((out / "study.json").read_text())["provenance"]["ct_path"] is None


def test_clock_parsing():
    assert uptake_seconds(parse_clock("23:30", "x"), parse_clock("00:15", "x")) == 45 * 60  # across midnight
    assert uptake_seconds(parse_clock("101500", "x"), parse_clock("11:15:30.5", "x")) == pytest.approx(3630.5)
    with pytest.raises(InputError, match="injection time"):
        parse_clock("quarter past ten", "injection time")
    with pytest.raises(InputError, match="before"):
        uptake_seconds(parse_clock("2024-01-02T10:00", "x"), parse_clock("2024-01-01T10:00", "x"))


def test_cli_ingest_nifti(tmp_path, capsys):
    pet_p, ct_p, _, _ = _pair(tmp_path)
    rc = main(["ingest", "--pet-nifti", str(pet_p), "--ct-nifti", str(ct_p), "--out", str(tmp_path / "s")])
    assert rc == 0 and (tmp_path / "s" / "study.json").exists()
    pet_b, ct_b, _, _ = _pair(tmp_path, "PET.nii.gz", pet_values=8000.0)
    rc = main(["ingest", "--pet-nifti", str(pet_b), "--ct-nifti", str(ct_b), "--out", str(tmp_path / "b"),
               "--pet-units", "bqml", "--dose", "300", "--injection-time", "10:00", "--scan-time", "11:00"])
    err = capsys.readouterr().err
    assert rc == 2 and "weight" in err and len(err.strip().splitlines()) == 1


# ------------------------------------------------------------------------------ the fast reader


@pytest.mark.parametrize("suffix", [".nii.gz", ".nii"])
def test_load_nifti_matches_nibabel_with_scaling(tmp_path, suffix):
    a = np.arange(2 * 3 * 4, dtype=np.int16).reshape(2, 3, 4)
    img = nib.Nifti1Image(a, np.diag([2.0, 3.0, 4.0, 1.0]))
    img.header.set_slope_inter(2.0, -5.0)
    path = tmp_path / f"s{suffix}"
    nib.save(img, str(path))
    ref = nib.load(str(path))
    vol = load_nifti(path)
    assert vol.data.dtype == np.asanyarray(ref.dataobj).dtype
    assert np.array_equal(vol.data, np.asanyarray(ref.dataobj)) and np.allclose(vol.affine, ref.affine)
    assert vol.data.flags.writeable
    assert read_nifti_header(path).get_data_shape() == (2, 3, 4)


def test_load_nifti_big_endian_and_4d_and_corrupt(tmp_path):
    a = np.random.default_rng(0).random((3, 4, 5, 1)).astype(">f4")
    hdr = nib.Nifti1Header(endianness=">")
    img = nib.Nifti1Image(a, np.eye(4), header=hdr)
    nib.save(img, str(tmp_path / "be.nii.gz"))
    vol = load_nifti(tmp_path / "be.nii.gz")
    assert vol.data.shape == (3, 4, 5) and np.array_equal(vol.data, a[..., 0])
    raw = (tmp_path / "be.nii.gz").read_bytes()
    (tmp_path / "cut.nii.gz").write_bytes(raw[: len(raw) // 2])
    with pytest.raises(StudyError):
        load_nifti(tmp_path / "cut.nii.gz")
    (tmp_path / "junk.nii.gz").write_bytes(b"not gzip at all" * 10)
    with pytest.raises(StudyError):
        load_nifti(tmp_path / "junk.nii.gz")


def test_load_nifti_pair_falls_back_to_nibabel(tmp_path):
    a = np.arange(24, dtype=np.int16).reshape(2, 3, 4)
    img = nib.Nifti1Pair(a.astype(np.float32) * 0.5, np.diag([2.0, 2.0, 2.0, 1.0]))
    nib.save(img, str(tmp_path / "pair.img"))
    vol = load_nifti(tmp_path / "pair.hdr", np.float32)
    assert np.array_equal(vol.data, a.astype(np.float32) * 0.5) and vol.affine[0, 0] == 2.0
