"""Hostile and broken input to ingest, render and prompts, through the real CLI on real files (issue 13).

No file is written outside --out whatever a study id says; a failed re-ingest leaves the old study
byte-identical; a study never shares bytes with its input; bad numbers, geometry and truncated files give one
line naming the file/flag/tag; progress bars only on a terminal.
"""

from __future__ import annotations

import io
import json
import os
import sys
from pathlib import Path

import nibabel as nib
import numpy as np
import pytest

sys.path.insert(0, str(Path(__file__).parent))

from dicom_factory import ct_header, pet_header, ramp, write_exam, write_series  # noqa: E402
from pydicom.uid import generate_uid  # noqa: E402

from pet2rep.cli import main  # noqa: E402
from pet2rep.errors import InputError, plain  # noqa: E402
from pet2rep.io import check_id, id_problem, safe_join, staged_folder  # noqa: E402
from pet2rep.prompts.build import build_dataset  # noqa: E402
from pet2rep.study import Study, Volume, find_studies, read_study, write_study  # noqa: E402

REPORT_ZH = "肝脏形态正常，FDG摄取未见异常。"
BAD_IDS = ["../../../X", "..", ".", "/abs", "a/b", "a\\b", "a\x00b", "a\nb", "a\x1b[2Jb", ".hidden", "", "x" * 129,
           "a b", "-rf"]
GOOD_IDS = ["demo_001", "PET-2024.07", "张三_01", "A", "001", "x" * 128]


def _affine(shape, zooms=(4.0, 4.0, 3.0)) -> np.ndarray:
    aff = np.diag(list(zooms) + [1.0])
    aff[:3, 3] = -(np.asarray(shape) - 1) / 2 * np.asarray(zooms)
    return aff


def _study(root: Path, name: str, study_id: str | None = None, reports: dict | None = None) -> Path:
    shape = (16, 12, 20)
    pet = np.ones(shape, np.float32)
    pet[8, 6, 10] = 12.0
    ct = np.full(shape, 40, np.int16)
    study = Study(study_id=study_id or name, pet=Volume(pet, _affine(shape)), ct=Volume(ct, _affine(shape)),
                  reports={"zh": REPORT_ZH} if reports is None else reports)
    return write_study(study, root / name)


def _set_id(folder: Path, study_id: object) -> None:
    meta = json.loads((folder / "study.json").read_text(encoding="utf-8"))
    meta["study_id"] = study_id
    (folder / "study.json").write_text(json.dumps(meta), encoding="utf-8")


def _tree(root: Path) -> dict[str, bytes]:
    return {str(p.relative_to(root)): (p.read_bytes() if p.is_file() else b"<dir>")
            for p in sorted(root.rglob("*"))}


def _err_lines(capsys) -> list[str]:
    err = capsys.readouterr().err.replace("\r", "\n")
    return [ln for ln in err.splitlines() if ln.strip()]


def _one_error(capsys, *needles: str) -> str:
    lines = _err_lines(capsys)
    assert len(lines) == 1, lines
    line = lines[0]
    assert "error:" in line and "Traceback" not in line and "np.float" not in line, line
    for n in needles:
        assert n in line, (n, line)
    return line


def _nifti(path: Path, data: np.ndarray, aff: np.ndarray | None = None) -> Path:
    img = nib.Nifti1Image(data, _affine(data.shape) if aff is None else aff)
    img.set_sform(img.affine, code=1)
    nib.save(img, str(path))
    return path


def _nifti_pair(folder: Path, pet_values: np.ndarray | None = None, name: str = "SUV.nii.gz") -> tuple[Path, Path]:
    folder.mkdir(parents=True, exist_ok=True)
    shape = (12, 10, 14)
    pet = pet_values if pet_values is not None else (1 + np.random.default_rng(0).random(shape)).astype(np.float32)
    ct = np.random.default_rng(1).integers(-1000, 1000, pet.shape).astype(np.int16)
    return _nifti(folder / name, pet), _nifti(folder / "CTres.nii.gz", ct)


# ------------------------------------------------------------------------------------------ ids and paths


@pytest.mark.parametrize("bad", BAD_IDS)
def test_id_syntax_refuses_path_like_and_control_ids(bad):
    assert id_problem(bad) is not None
    with pytest.raises(InputError) as exc:
        check_id(bad, "study.json")
    msg = str(exc.value)
    assert "\n" not in msg and msg.startswith("study.json: study id ") and "\x00" not in msg and "\x1b" not in msg


@pytest.mark.parametrize("good", GOOD_IDS)
def test_id_syntax_keeps_released_and_cjk_ids(good):
    assert check_id(good, "x") == good


def test_safe_join_refuses_escapes_and_symlinks(tmp_path):
    out = tmp_path / "out"
    out.mkdir()
    (tmp_path / "outside").mkdir()
    assert safe_join(out, "a", "b.jpg") == out / "a" / "b.jpg"
    assert safe_join(out) == out
    for parts in (("..", "x"), ("../../etc/passwd",), ("/etc/passwd",), ("a\x00b",), ("a", "..", "..", "x")):
        with pytest.raises(InputError, match="refusing to write"):
            safe_join(out, *parts)
    (out / "link").symlink_to(tmp_path / "outside")
    with pytest.raises(InputError, match="outside"):
        safe_join(out, "link", "x.jpg")
    (out / "inner").mkdir()
    (out / "ok").symlink_to(out / "inner")  # a link that stays inside is fine
    assert safe_join(out, "ok", "x.jpg") == out / "ok" / "x.jpg"


@pytest.mark.parametrize("bad", ["../../../X", "..", "/abs", "a/b", "a\x00b", "a\x07b", "..\\..\\X"])
def test_study_json_id_that_is_a_path_is_refused_by_render_and_prompts(tmp_path, capsys, bad):
    root = tmp_path / "deep" / "er" / "studies"
    good = _study(root, "good")
    evil = _study(root, "evil")
    _set_id(evil, bad)
    before = _tree(tmp_path)
    out = tmp_path / "deep" / "er" / "views"
    assert main(["render", str(evil), "--out", str(out)]) == 2
    line = _one_error(capsys, str(evil / "study.json"), repr(bad)[1:-1][:20])
    assert "study_id" in line
    # a folder of studies: the evil one is named and skipped, the good one rendered, exit 1
    assert main(["render", str(root), "--out", str(out)]) == 1
    lines = _err_lines(capsys)
    assert sum(str(evil) in ln for ln in lines) == 1 and lines[-1] == "pet2rep render: 1 of 2 studies failed"
    ds = tmp_path / "deep" / "er" / "ds"
    assert main(["prompts", str(root), "--out", str(ds)]) == 1
    lines = _err_lines(capsys)
    assert sum(str(evil) in ln and "study_id" in ln for ln in lines) == 1, lines
    recs = [json.loads(r) for r in (ds / "prompts.jsonl").read_text(encoding="utf-8").splitlines()]
    assert [r["patient_id"] for r in recs] == ["good"]
    # nothing appeared outside the two --out folders, and nothing at the absolute path
    after = {k: v for k, v in _tree(tmp_path).items() if not k.startswith(("deep/er/views", "deep/er/ds"))}
    assert after == before
    assert not Path("/abs").exists() and not (tmp_path / "X").exists()
    assert sorted(p.name for p in out.iterdir()) == ["good"] and good.exists()


def test_study_id_of_wrong_type_or_missing_uses_a_checked_folder_name(tmp_path, capsys):
    root = tmp_path / "studies"
    s = _study(root, "s1")
    _set_id(s, ["..", "x"])
    assert main(["render", str(s), "--out", str(tmp_path / "v")]) == 2
    _one_error(capsys, "study_id must be a string, got list")
    _set_id(s, 123)  # a number is an id
    assert read_study(s, arrays=False).study_id == "123"
    bad_folder = _study(root, "p 001", study_id="p1")
    meta = json.loads((bad_folder / "study.json").read_text())
    del meta["study_id"]
    (bad_folder / "study.json").write_text(json.dumps(meta))
    assert main(["render", str(bad_folder), "--out", str(tmp_path / "v2")]) == 2
    _one_error(capsys, "no study_id, and the folder name 'p 001' contains ' '")


def test_two_studies_with_one_id_are_not_merged(tmp_path, capsys):
    root = tmp_path / "studies"
    _study(root, "a", study_id="same")
    _study(root, "b", study_id="same")
    assert main(["prompts", str(root), "--out", str(tmp_path / "ds")]) == 1
    lines = _err_lines(capsys)
    assert any(str(root / "b") in ln and "also the id of" in ln for ln in lines), lines
    assert main(["render", str(root), "--out", str(tmp_path / "v")]) == 1
    assert any("also the id of" in ln for ln in _err_lines(capsys))


def test_render_and_prompts_do_not_write_through_planted_symlinks(tmp_path, capsys):
    root = tmp_path / "studies"
    _study(root, "s1")
    outside = tmp_path / "outside"
    outside.mkdir()
    victim = outside / "victim.jpg"
    victim.write_bytes(b"precious")
    views = tmp_path / "views"
    views.mkdir()
    (views / "s1_2_coronal.jpg").symlink_to(victim)
    assert main(["render", str(root / "s1"), "--out", str(views), "--slices", "2,4"]) == 2
    _one_error(capsys, "refusing to write outside", str(views))
    assert victim.read_bytes() == b"precious"
    ds = tmp_path / "ds"
    (ds / "slice_prompt").mkdir(parents=True)
    (ds / "slice_prompt" / "s1").symlink_to(outside)
    assert main(["prompts", str(root), "--out", str(ds), "--slices", "2,4,6"]) == 2
    assert any("refusing to write outside" in ln for ln in _err_lines(capsys))
    assert sorted(p.name for p in outside.iterdir()) == ["victim.jpg"] and victim.read_bytes() == b"precious"


@pytest.mark.parametrize("bad", ["../../x", "..", "/abs", "a/b", "a\x01b", ""])
def test_ingest_study_id_that_is_a_path_is_refused_before_writing(tmp_path, capsys, bad):
    pet, ct = _nifti_pair(tmp_path / "in")
    out = tmp_path / "a" / "b" / "study"
    assert main(["ingest", "--pet-nifti", str(pet), "--ct-nifti", str(ct), "--out", str(out),
                 "--study-id", bad]) == 2
    _one_error(capsys, "--study-id: study id")
    assert not (tmp_path / "a").exists() and sorted(p.name for p in tmp_path.iterdir()) == ["in"]
    write_exam(tmp_path / "exam")
    assert main(["ingest", "--dicom", str(tmp_path / "exam"), "--out", str(out), "--study-id", bad,
                 "--no-progress"]) == 2
    _one_error(capsys, "--study-id: study id")
    assert not (tmp_path / "a").exists()


def test_ingest_folder_name_that_is_no_id_asks_for_study_id(tmp_path, capsys):
    pet, ct = _nifti_pair(tmp_path / "in")
    out = tmp_path / "p 001"
    assert main(["ingest", "--pet-nifti", str(pet), "--ct-nifti", str(ct), "--out", str(out)]) == 2
    _one_error(capsys, "the folder name 'p 001' contains ' '", "give --study-id ID")
    assert main(["ingest", "--pet-nifti", str(pet), "--ct-nifti", str(ct), "--out", str(out),
                 "--study-id", "张三_01"]) == 0
    assert read_study(out, arrays=False).study_id == "张三_01"
    assert main(["render", str(out), "--out", str(tmp_path / "v"), "--slices", "2"]) == 0
    assert (tmp_path / "v" / "张三_01_2_coronal.jpg").exists()


def test_released_style_ids_go_through_ingest_render_prompts(tmp_path, capsys):
    pet, ct = _nifti_pair(tmp_path / "in")
    for sid in ("demo_001", "PET-2024.07"):
        assert main(["ingest", "--pet-nifti", str(pet), "--ct-nifti", str(ct), "--out",
                     str(tmp_path / "studies" / sid)]) == 0
        (tmp_path / "studies" / sid / "report.zh.txt").write_text(REPORT_ZH, encoding="utf-8")
    assert main(["prompts", str(tmp_path / "studies"), "--out", str(tmp_path / "ds"), "--slices", "2,4,6"]) == 0
    recs = [json.loads(r) for r in (tmp_path / "ds" / "prompts.jsonl").read_text(encoding="utf-8").splitlines()]
    assert [r["patient_id"] for r in recs] == ["PET-2024.07", "demo_001"]
    assert recs[1]["prompt_image_fuse"][0] == "slice_prompt/demo_001/demo_001_2_coronal.jpg"


def test_batch_skips_links_back_to_the_root_and_the_output_folder(tmp_path, capsys):
    root = tmp_path / "root"
    write_exam(root / "a_exam")
    (root / "loop").symlink_to(root)
    (root / "up").symlink_to(tmp_path)
    (root / "again").symlink_to(root / "a_exam")
    (root / "bad name").mkdir()
    out = root / "studies"  # the output folder inside the root it reads
    assert main(["ingest", "--dicom", str(root), "--out", str(out), "--batch", "--no-progress"]) == 1
    err = _err_lines(capsys)
    assert sorted(p.name for p in out.iterdir()) == ["a_exam"]
    assert any(ln.startswith("pet2rep ingest: loop: skipped (a link back to") for ln in err), err
    assert any(ln.startswith("pet2rep ingest: up: skipped (a link back to") for ln in err), err
    assert any(ln.startswith("pet2rep ingest: again: skipped (the same folder as a_exam)") for ln in err), err
    assert any("bad name" in ln and "cannot be a study id" in ln for ln in err), err
    assert err[-1] == f"pet2rep ingest: 1 of 2 exams ingested into {out}, 1 failed"
    assert main(["ingest", "--dicom", str(root), "--out", str(out), "--batch", "--no-progress",
                 "--skip-existing"]) == 1
    assert not any("studies" in ln and "PET" in ln for ln in _err_lines(capsys))


# ------------------------------------------------------------------------------------------ re-ingest


def test_failed_dicom_reingest_leaves_the_old_study_byte_identical(tmp_path, capsys):
    write_exam(tmp_path / "good")
    write_exam(tmp_path / "broken", pet_hdr=pet_header(weight=None))
    out = tmp_path / "studies" / "p001"
    assert main(["ingest", "--dicom", str(tmp_path / "good"), "--out", str(out), "--no-progress"]) == 0
    capsys.readouterr()
    before = _tree(out)
    assert main(["ingest", "--dicom", str(tmp_path / "broken"), "--out", str(out), "--no-progress"]) == 2
    _one_error(capsys, "PatientWeight (0010,1030) missing")
    assert _tree(out) == before and read_study(out).pet is not None
    assert sorted(p.name for p in out.parent.iterdir()) == ["p001"]  # no staging folder, no .part file


def test_failed_nifti_reingest_leaves_the_old_study_byte_identical(tmp_path, capsys):
    pet, ct = _nifti_pair(tmp_path / "in")
    out = tmp_path / "study"
    assert main(["ingest", "--pet-nifti", str(pet), "--ct-nifti", str(ct), "--out", str(out)]) == 0
    before = _tree(out)
    raw = ct.read_bytes()
    cut = tmp_path / "in" / "CT_cut.nii.gz"
    cut.write_bytes(raw[: len(raw) * 2 // 3])
    assert main(["ingest", "--pet-nifti", str(pet), "--ct-nifti", str(cut), "--out", str(out)]) == 2
    _one_error(capsys, str(cut), "truncated")
    assert _tree(out) == before and sorted(p.name for p in tmp_path.iterdir()) == ["in", "study"]


def test_nifti_ingest_copies_instead_of_linking(tmp_path, capsys):
    pet, ct = _nifti_pair(tmp_path / "in")
    pet_bytes, ct_bytes = pet.read_bytes(), ct.read_bytes()
    out = tmp_path / "study"
    assert main(["ingest", "--pet-nifti", str(pet), "--ct-nifti", str(ct), "--out", str(out)]) == 0
    for src, dst in ((pet, out / "pet_suv.nii.gz"), (ct, out / "ct.nii.gz")):
        assert dst.read_bytes() == src.read_bytes()
        assert os.stat(dst).st_ino != os.stat(src).st_ino and os.stat(src).st_nlink == 1
        with open(dst, "r+b") as fh:  # edit the study's file in place
            fh.seek(400)
            fh.write(b"\xff" * 16)
    assert pet.read_bytes() == pet_bytes and ct.read_bytes() == ct_bytes
    assert read_study(out, arrays=False).meta["provenance"]["pet_file"] in ("copy", "reflink")


def test_no_part_files_left_when_the_output_folder_holds_the_inputs(tmp_path, capsys):
    out = tmp_path / "study"
    pet, ct = _nifti_pair(out)  # the inputs lie in the study folder itself
    bad_ct = out / "CT_bad.nii.gz"
    bad_ct.write_bytes(ct.read_bytes()[:300])
    assert main(["ingest", "--pet-nifti", str(pet), "--ct-nifti", str(bad_ct), "--out", str(out)]) == 2
    capsys.readouterr()
    assert sorted(p.name for p in out.iterdir()) == sorted(["CTres.nii.gz", "CT_bad.nii.gz", "SUV.nii.gz"])
    assert main(["ingest", "--pet-nifti", str(pet), "--ct-nifti", str(ct), "--out", str(out)]) == 0
    names = sorted(p.name for p in out.iterdir())
    assert names == sorted(["CT_bad.nii.gz", "CTres.nii.gz", "SUV.nii.gz", "ct.nii.gz", "pet_suv.nii.gz", "study.json"])
    assert not [p for p in tmp_path.rglob("*") if p.name.endswith(".part") or ".new-" in p.name]
    assert (out / "pet_suv.nii.gz").read_bytes() == pet.read_bytes()


def test_staged_folder_keeps_old_folder_on_error_and_carries_user_files(tmp_path):
    target = tmp_path / "s"
    target.mkdir()
    (target / "study.json").write_text("old")
    (target / "notes.txt").write_text("mine")
    (target / "ct.nii.gz").write_text("stale")
    with pytest.raises(RuntimeError), staged_folder(target) as stage:
        (stage / "study.json").write_text("new")
        raise RuntimeError("boom")
    assert (target / "study.json").read_text() == "old" and sorted(p.name for p in tmp_path.iterdir()) == ["s"]
    with staged_folder(target, drop=("ct.nii.gz",)) as stage:
        (stage / "study.json").write_text("new")
    assert sorted(p.name for p in target.iterdir()) == ["notes.txt", "study.json"]
    assert (target / "study.json").read_text() == "new" and sorted(p.name for p in tmp_path.iterdir()) == ["s"]
    assert find_studies(tmp_path) == [target]


# ------------------------------------------------------------------------------------------ DICOM geometry


@pytest.mark.parametrize("spacing, needle", [
    ([0.0, 3.0], "PixelSpacing (0028,0030) [0, 3] must be two positive distances"),
    ([-2.0, 3.0], "PixelSpacing (0028,0030) [-2, 3] must be two positive distances"),
    (["nan", "3"], "PixelSpacing (0028,0030) malformed ([nan, 3])"),
])
def test_dicom_pixel_spacing_zero_negative_nan_is_one_line(tmp_path, capsys, spacing, needle):
    with pytest.warns(UserWarning) if "nan" in spacing else _nothing():
        write_exam(tmp_path / "exam", slice_header=lambda k: {"PixelSpacing": spacing})
    assert main(["ingest", "--dicom", str(tmp_path / "exam"), "--out", str(tmp_path / "s"), "--no-progress"]) == 2
    _one_error(capsys, needle, "PT_0000.dcm")
    assert not (tmp_path / "s").exists()


class _nothing:
    def __enter__(self):
        return self

    def __exit__(self, *exc):
        return False


def test_dicom_ct_far_from_the_pet_is_refused_like_nifti(tmp_path, capsys):
    study_uid, for_uid = generate_uid(), generate_uid()
    write_series(tmp_path / "exam" / "pet", ramp((10, 12, 16)), modality="PT", header=pet_header(),
                 study_uid=study_uid, frame_of_reference=for_uid)
    write_series(tmp_path / "exam" / "ct", ramp((12, 16, 16), base=-900.0).round(), modality="CT",
                 header=ct_header(), study_uid=study_uid, frame_of_reference=for_uid, origin=(5000.0, -33.0, -102.0))
    assert main(["ingest", "--dicom", str(tmp_path / "exam"), "--out", str(tmp_path / "s"), "--no-progress"]) == 2
    _one_error(capsys, "CT series", "does not overlap the PET", "mm apart along x")
    assert not (tmp_path / "s").exists()
    # the NIfTI path gives the same message
    pet, _ = _nifti_pair(tmp_path / "in")
    far = np.diag([2.0, 2.0, 3.0, 1.0])
    far[:3, 3] = [5000, 0, 0]
    ct = _nifti(tmp_path / "in" / "far.nii.gz", np.zeros((8, 8, 8), np.int16), far)
    assert main(["ingest", "--pet-nifti", str(pet), "--ct-nifti", str(ct), "--out", str(tmp_path / "s")]) == 2
    _one_error(capsys, str(ct), "does not overlap the PET", "mm apart along x")


def test_truncated_dicom_file_is_named(tmp_path, capsys):
    pet, _ = write_exam(tmp_path / "exam")
    victim = pet.files[5]
    victim.write_bytes(victim.read_bytes()[:300])  # cut inside the header
    assert main(["ingest", "--dicom", str(tmp_path / "exam"), "--out", str(tmp_path / "s"), "--no-progress"]) == 2
    _one_error(capsys, "missing", "could not be read", victim.name)
    pet2, _ = write_exam(tmp_path / "exam2")
    victim2 = pet2.files[3]
    victim2.write_bytes(victim2.read_bytes()[:-100])  # cut inside the pixel data
    assert main(["ingest", "--dicom", str(tmp_path / "exam2"), "--out", str(tmp_path / "s"), "--no-progress"]) == 2
    _one_error(capsys, victim2.name)


# ------------------------------------------------------------------------------------------ numbers


@pytest.mark.parametrize("flag, value, needle", [
    ("--weight", "inf", "--weight inf: must be a finite number"),
    ("--weight", "nan", "--weight nan: must be a finite number"),
    ("--weight", "-70", "--weight -70 kg: must be positive"),
    ("--weight", "0", "--weight 0 kg: must be positive"),
    ("--weight", "abc", "--weight 'abc': not a number"),
    ("--weight", "1e308", "--weight 1e+308 kg: implausibly large (at most 600 kg)"),
    ("--dose", "1e30", "--dose 1e+30 MBq: implausibly large"),
    ("--dose", "-1", "--dose -1 MBq: must be positive"),
    ("--half-life", "0", "--half-life 0 s: must be positive"),
    ("--age", "-5", "--age -5 years: must be zero or more"),
    ("--age", "200", "--age 200 years: implausibly large"),
])
def test_bad_numbers_are_one_line(tmp_path, capsys, flag, value, needle):
    pet, ct = _nifti_pair(tmp_path / "in", name="PET.nii.gz")
    argv = ["ingest", "--pet-nifti", str(pet), "--ct-nifti", str(ct), "--out", str(tmp_path / "s"),
            "--pet-units", "bqml", "--weight", "70", "--dose", "370", "--injection-time", "10:00",
            "--scan-time", "11:00", flag, value]
    assert main(argv) == 2
    _one_error(capsys, needle)
    assert not (tmp_path / "s").exists()
    if flag != "--age":
        write_exam(tmp_path / "exam")
        assert main(["ingest", "--dicom", str(tmp_path / "exam"), "--out", str(tmp_path / "s"), "--no-progress",
                     flag, value]) == 2
        _one_error(capsys, needle)


def test_weight_times_dose_that_overflows_is_refused_not_an_inf_pet(tmp_path, capsys):
    pet, ct = _nifti_pair(tmp_path / "in", np.full((12, 10, 14), 5000.0, np.float32), name="PET.nii.gz")
    argv = ["ingest", "--pet-nifti", str(pet), "--ct-nifti", str(ct), "--out", str(tmp_path / "s"),
            "--pet-units", "bqml", "--weight", "600", "--dose", "1e-300", "--injection-time", "10:00",
            "--scan-time", "11:00"]
    assert main(argv) == 2
    _one_error(capsys, "overflow float32", "Bq/ml x")
    assert not (tmp_path / "s").exists()
    write_exam(tmp_path / "exam")
    assert main(["ingest", "--dicom", str(tmp_path / "exam"), "--out", str(tmp_path / "s"), "--no-progress",
                 "--dose", "1e-300"]) == 2
    _one_error(capsys, "SUV factor", "not a usable number")
    assert not (tmp_path / "s").exists()


@pytest.mark.parametrize("weight, needle", [
    ("-70", "PatientWeight (0010,1030) -70 kg is implausible"),
    ("abc ", "PatientWeight (0010,1030) 'abc' is not a number"),
    ("700", "PatientWeight (0010,1030) 700 kg is implausible"),
])
def test_header_weight_bad_values_are_named(tmp_path, capsys, weight, needle):
    pet, _ = write_exam(tmp_path / "exam")
    for f in pet.files:  # patch the stored PatientWeight "70" (pydicom will not write a non-number)
        raw = f.read_bytes()
        old = b"\x10\x00\x30\x10DS\x02\x0070"
        assert old in raw
        f.write_bytes(raw.replace(old, b"\x10\x00\x30\x10DS" + len(weight).to_bytes(2, "little") + weight.encode()))
    assert main(["ingest", "--dicom", str(tmp_path / "exam"), "--out", str(tmp_path / "s"), "--no-progress"]) == 2
    _one_error(capsys, needle)


def test_plain_numbers():
    assert plain(np.float64(70.0)) == "70" and plain(np.float32(0.5)) == "0.5" and plain(float("inf")) == "inf"
    assert plain(np.array([0.0, 3.0])) == "[0, 3]" and plain([np.int64(2), 1.25]) == "[2, 1.25]"


# ------------------------------------------------------------------------------------------ NIfTI content


def test_truncated_or_corrupt_suv_nifti_is_refused_at_ingest(tmp_path, capsys):
    pet, ct = _nifti_pair(tmp_path / "in")
    raw = pet.read_bytes()
    cut = tmp_path / "in" / "SUV_cut.nii.gz"
    cut.write_bytes(raw[: len(raw) // 2])
    assert main(["ingest", "--pet-nifti", str(cut), "--ct-nifti", str(ct), "--out", str(tmp_path / "s")]) == 2
    _one_error(capsys, str(cut), "truncated gzip file")
    flipped = bytearray(raw)
    flipped[len(raw) // 2] ^= 0x55
    bad = tmp_path / "in" / "SUV_flip.nii.gz"
    bad.write_bytes(bytes(flipped))
    assert main(["ingest", "--pet-nifti", str(bad), "--ct-nifti", str(ct), "--out", str(tmp_path / "s")]) == 2
    _one_error(capsys, str(bad), "corrupt gzip data")
    short = tmp_path / "in" / "SUV_short.nii"
    nib.save(nib.load(str(pet)), str(short))
    short.write_bytes(short.read_bytes()[:-40])
    assert main(["ingest", "--pet-nifti", str(short), "--ct-nifti", str(ct), "--out", str(tmp_path / "s")]) == 2
    _one_error(capsys, str(short), "truncated NIfTI data")
    assert not (tmp_path / "s").exists()


def test_nan_pet_voxels_become_zero_with_a_warning_and_all_nan_is_refused(tmp_path, capsys):
    vals = (1 + np.random.default_rng(0).random((12, 10, 14))).astype(np.float32)
    vals[0, 0, :3] = np.nan
    vals[1, 1, 1] = np.inf
    pet, ct = _nifti_pair(tmp_path / "in", vals)
    out = tmp_path / "s"
    assert main(["ingest", "--pet-nifti", str(pet), "--ct-nifti", str(ct), "--out", str(out)]) == 0
    err = [ln for ln in _err_lines(capsys) if "warning" in ln]
    assert err == [f"pet2rep ingest: warning: {pet}: 4 of 1680 PET voxels are NaN or infinite; written as 0 SUV"]
    st = read_study(out)
    assert np.isfinite(st.pet.data).all() and st.pet.data[0, 0, 0] == 0 and st.pet.data[1, 1, 1] == 0
    assert st.pet.data[5, 5, 5] == vals[5, 5, 5] and len(st.meta["warnings"]) == 1
    all_nan = _nifti(tmp_path / "in" / "SUV_nan.nii.gz", np.full((12, 10, 14), np.nan, np.float32))
    assert main(["ingest", "--pet-nifti", str(all_nan), "--ct-nifti", str(ct), "--out", str(out)]) == 2
    _one_error(capsys, str(all_nan), "no finite voxel")
    assert read_study(out).pet is not None  # the earlier study is kept


def test_complex_pet_is_refused(tmp_path, capsys):
    pet = _nifti(tmp_path / "SUV.nii.gz", np.ones((6, 6, 6), np.complex64))
    ct = _nifti(tmp_path / "CT.nii.gz", np.zeros((6, 6, 6), np.int16))
    assert main(["ingest", "--pet-nifti", str(pet), "--ct-nifti", str(ct), "--out", str(tmp_path / "s")]) == 2
    _one_error(capsys, str(pet), "complex64 is not a real-valued scalar image")


# ------------------------------------------------------------------------------------------ prompts, progress


def test_prompts_warns_for_a_study_without_a_report_in_the_language(tmp_path, capsys):
    root = tmp_path / "studies"
    _study(root, "with_en", reports={"zh": REPORT_ZH, "en": "Normal."})
    _study(root, "zh_only")
    assert main(["prompts", str(root), "--out", str(tmp_path / "ds"), "--lang", "en", "--slices", "2,4,6"]) == 0
    captured = capsys.readouterr()
    warn = [ln for ln in captured.err.splitlines() if ln.strip()]
    assert warn == [f"pet2rep prompts: warning: {root / 'zh_only'}: no report.en.txt; its record has "
                    '"answer": null (evaluate cannot score this study)']
    recs = {json.loads(r)["patient_id"]: json.loads(r)
            for r in (tmp_path / "ds" / "prompts.jsonl").read_text(encoding="utf-8").splitlines()}
    assert recs["zh_only"]["answer"] is None and recs["with_en"]["answer"] == "Normal."


class _Terminal(io.StringIO):
    def isatty(self) -> bool:
        return True


def test_progress_bars_only_on_a_terminal(tmp_path, capsys, monkeypatch):
    root = tmp_path / "studies"
    assert main(["synth", "--out", str(root), "-n", "2"]) == 0
    assert main(["prompts", str(root), "--out", str(tmp_path / "ds"), "--slices", "40,50,60"]) == 0
    write_exam(tmp_path / "exam")
    assert main(["ingest", "--dicom", str(tmp_path / "exam"), "--out", str(tmp_path / "s")]) == 0
    err = capsys.readouterr().err
    assert "\r" not in err and "%|" not in err, err
    term = _Terminal()
    monkeypatch.setattr(sys, "stderr", term)
    build_dataset(find_studies(root), tmp_path / "ds2", slices=[40, 50, 60])
    assert "%|" in term.getvalue()


def test_staged_folder_moves_files_in_when_the_folder_cannot_be_renamed(tmp_path, monkeypatch):
    """A mount point (EBUSY/EXDEV on rename): the new files are moved in one by one, study.json last."""
    import errno

    import pet2rep.io as io_mod

    target = tmp_path / "s"
    target.mkdir()
    for name, text in (("study.json", "old"), ("pet_suv.nii.gz", "old pet"), ("ct.nii.gz", "stale"),
                       ("notes.txt", "mine")):
        (target / name).write_text(text)
    real_rename = os.rename

    def busy(src, dst):
        if Path(src) == target:
            raise OSError(errno.EBUSY, "Device or resource busy", str(src))
        return real_rename(src, dst)

    monkeypatch.setattr(io_mod.os, "rename", busy)
    with staged_folder(target, drop=("ct.nii.gz",)) as stage:
        (stage / "pet_suv.nii.gz").write_text("new pet")
        (stage / "study.json").write_text("new")
    assert {p.name: p.read_text() for p in target.iterdir()} == {
        "study.json": "new", "pet_suv.nii.gz": "new pet", "notes.txt": "mine"}
    assert sorted(p.name for p in tmp_path.iterdir()) == ["s"]


def test_fuzz_nifti_and_study_json_inputs(tmp_path, capsys):
    """Seeded truncations, bit flips and nesting of the NIfTI and study.json inputs: never a traceback, exit 0 or 2
    with one line, the previous study intact on failure, nothing written outside --out."""
    rng = np.random.default_rng(13)
    pet, ct = _nifti_pair(tmp_path / "in")
    out = tmp_path / "work" / "study"
    assert main(["ingest", "--pet-nifti", str(pet), "--ct-nifti", str(ct), "--out", str(out)]) == 0
    capsys.readouterr()
    good = pet.read_bytes()
    codes: list[int] = []
    for i in range(24):
        data = bytearray(good)
        if i % 2:
            data = data[: int(rng.integers(0, len(data)))]
        else:
            for _ in range(int(rng.integers(1, 4))):
                data[int(rng.integers(0, len(data)))] ^= 1 << int(rng.integers(0, 8))
        bad = tmp_path / "in" / "SUV_fuzz.nii.gz"
        bad.write_bytes(bytes(data))
        before = _tree(out)
        rc = main(["ingest", "--pet-nifti", str(bad), "--ct-nifti", str(ct), "--out", str(out)])
        codes.append(rc)
        lines = _err_lines(capsys)
        assert rc in (0, 2), (i, rc, lines)
        assert not any("Traceback" in ln for ln in lines)
        if rc == 2:
            assert len(lines) == 1 and "error:" in lines[0], (i, lines)
            assert _tree(out) == before
        assert sorted(p.name for p in (tmp_path / "work").iterdir()) == ["study"]
    assert codes.count(2) >= 20, codes  # almost every damaged file is refused (a flip in the gzip header may not be)
    meta = (out / "study.json").read_bytes()
    views = tmp_path / "work" / "views"
    texts = [meta[: int(rng.integers(0, len(meta)))] for _ in range(6)]
    texts += [b"[" * 100_000 + b"]" * 100_000, b'{"study_id": ' + b"[" * 50_000 + b"]" * 50_000 + b"}",
              b'{"study_id": "..\\u002f..\\u002fX"}', b'{"study_id": "\\u0000"}', b"\xff\xfe\x00"]
    for text in texts:
        (out / "study.json").write_bytes(text)
        rc = main(["render", str(out), "--out", str(views), "--slices", "2"])
        lines = _err_lines(capsys)
        assert rc in (0, 2) and not any("Traceback" in ln for ln in lines), lines
        if rc == 2:
            assert len(lines) == 1, lines
        assert sorted(p.name for p in (tmp_path / "work").iterdir()) == (["study", "views"] if views.exists()
                                                                          else ["study"])
        assert not (tmp_path / "X").exists()


def test_nifti_scaling_beyond_float32_is_one_warning_line_not_a_numpy_warning(tmp_path, capsys):
    """A .nii whose scl_slope pushes a voxel past float32: the voxel is named in pet2rep's one warning line, and no
    raw numpy RuntimeWarning (overflow in multiply / cast) reaches the user."""
    import warnings

    vals = (1 + np.random.default_rng(0).random((12, 10, 14))).astype(np.float32)
    vals[0, 0, 0] = 1e30
    img = nib.Nifti1Image(vals, _affine(vals.shape))
    img.header.set_slope_inter(1e20, 0)
    pet = tmp_path / "SUV.nii"
    nib.save(img, str(pet))
    ct = _nifti(tmp_path / "CT.nii.gz", np.zeros(vals.shape, np.int16))
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        assert main(["ingest", "--pet-nifti", str(pet), "--ct-nifti", str(ct), "--out", str(tmp_path / "s")]) == 0
    assert [str(w.message) for w in caught] == []
    assert _err_lines(capsys) == [f"pet2rep ingest: warning: {pet}: 1 of 1680 PET voxels are NaN or infinite; "
                                  "written as 0 SUV"]
    st = read_study(tmp_path / "s")
    assert st.pet.data[0, 0, 0] == 0 and np.isfinite(st.pet.data).all()


def test_output_file_in_a_missing_folder_is_named_not_its_temporary_file(tmp_path, capsys):
    labelled = tmp_path / "lab.jsonl"
    labelled.write_text(json.dumps({"id": "a", "text": REPORT_ZH, "expected": {"liver": ["normal"]}},
                                   ensure_ascii=False) + "\n", encoding="utf-8")
    target = tmp_path / "nowhere" / "eval.json"
    assert main(["uptake", "--eval", str(labelled), "--json", str(target)]) == 2
    line = _one_error(capsys, f"{target}: its folder {target.parent} does not exist")
    assert ".part" not in line and not (tmp_path / "nowhere").exists()


def test_nifti_header_claiming_a_huge_image_is_refused_naming_the_input(tmp_path, capsys):
    """A .nii.gz whose header says 4000^3 voxels (256 GB) but holds 2 kB: refused from the stream's length,
    naming the input file (not the hidden staging copy), and nothing is left beside --out."""
    import gzip

    hdr = nib.Nifti1Image(np.ones((8, 8, 8), np.float32), _affine((8, 8, 8))).header.copy()
    hdr.set_data_shape((4000, 4000, 4000))
    raw = gzip.compress(hdr.binaryblock + b"\0" * 4 + np.ones(512, np.float32).tobytes())
    good_pet, good_ct = _nifti_pair(tmp_path / "in")
    for role in ("pet", "ct"):
        big = tmp_path / "in" / f"{role}_SUV_big.nii.gz"
        big.write_bytes(raw)
        pet, ct = (big, good_ct) if role == "pet" else (good_pet, big)
        assert main(["ingest", "--pet-nifti", str(pet), "--ct-nifti", str(ct), "--out", str(tmp_path / "s")]) == 2
        line = _one_error(capsys, f"{big}: truncated NIfTI data (need 256000000000 bytes")
        assert ".new-" not in line
    assert sorted(p.name for p in tmp_path.iterdir()) == ["in"]
