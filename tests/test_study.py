"""pet2rep.study: the study folder on disk, NIfTI reading and writing, grid geometry, finding studies.

Real files throughout: NIfTI written by nibabel (the reference reader) and by pet2rep, gzip streams cut
short, folder trees with symbolic-link loops.
"""

from __future__ import annotations

import gzip
import json
import os

import nibabel as nib
import numpy as np
import pytest

from pet2rep.errors import InputError
from pet2rep.study import (
    CT_FILE,
    LABELS_FILE,
    META_FILE,
    PET_FILE,
    Study,
    StudyError,
    Volume,
    bounding_box_mm,
    check_nifti_data,
    check_overlap,
    find_studies,
    load_nifti,
    non_study_dirs,
    read_nifti_header,
    read_nifti_raw,
    read_study,
    save_nifti,
    study_folders,
    write_study,
)

# An oblique-free but permuted and flipped affine whose numbers are exact in float32 (NIfTI stores sform as
# float32): i runs along +y at 3 mm, j along -x at 2 mm, k along +z at 4 mm.
PERMUTED = np.array([[0.0, -2.0, 0.0, 10.0], [3.0, 0.0, 0.0, -20.5], [0.0, 0.0, 4.0, 7.25], [0, 0, 0, 1]])


def _one_line(exc: pytest.ExceptionInfo) -> str:
    msg = str(exc.value)
    assert "\n" not in msg and "Traceback" not in msg
    return msg


def _ramp(shape, dtype) -> np.ndarray:
    return (np.arange(int(np.prod(shape))) % 251).reshape(shape).astype(dtype)


def _nib_save(data: np.ndarray, path, affine=None, slope=None, inter=None, image=nib.Nifti1Image) -> None:
    img = image(data, np.eye(4) if affine is None else affine)
    if slope is not None:
        img.header.set_slope_inter(slope, inter)
    nib.save(img, str(path))


def _study(sid: str = "pt_001") -> Study:
    rng = np.random.default_rng(7)
    pet = rng.random((6, 5, 4)) * 10  # float64: written as float32
    ct = rng.integers(-1000, 2000, (8, 7, 5)).astype(np.int16)
    ct_affine = np.diag([1.5, 1.5, 2.5, 1.0])
    ct_affine[:3, 3] = [-4.5, 3.0, -12.0]
    return Study(
        study_id=sid,
        pet=Volume(pet, PERMUTED.copy()),
        ct=Volume(ct, ct_affine),
        meta={"sex": "F", "age": 61, "weight_kg": 58.5, "patient_name": "张三", "lesions": [{"organ": "liver"}]},
        reports={"zh": "影像所见：肝脏摄取增高。\n", "en": "Findings: increased FDG uptake in the liver.\n"},
        labels={"liver": ["increased"], "lung": ["normal"]},
    )


# ----------------------------------------------------------------------------------------- folder round trip


def test_write_then_read_study_round_trip(tmp_path):
    src = _study()
    folder = write_study(src, tmp_path / "pt_001")
    assert folder == tmp_path / "pt_001" and src.folder == folder
    assert sorted(p.name for p in folder.iterdir()) == sorted(
        [PET_FILE, CT_FILE, META_FILE, LABELS_FILE, "report.zh.txt", "report.en.txt"])
    back = read_study(folder)
    assert back.study_id == "pt_001" and back.folder == folder
    # PET becomes float32 on disk, values rounded exactly as a float32 cast rounds them
    assert back.pet.data.dtype == np.float32 and back.pet.shape == (6, 5, 4)
    assert np.array_equal(back.pet.data, src.pet.data.astype(np.float32))
    assert np.array_equal(back.pet.affine, PERMUTED)
    assert np.array_equal(back.pet.zooms, [3.0, 2.0, 4.0])  # column norms: i along y 3 mm, j along x 2 mm
    assert back.ct.data.dtype == np.int16 and np.array_equal(back.ct.data, src.ct.data)
    assert np.array_equal(back.ct.affine, src.ct.affine) and np.array_equal(back.ct.zooms, [1.5, 1.5, 2.5])
    assert back.reports == src.reports and back.report("en") == src.reports["en"] and back.report("fr") is None
    assert back.labels == src.labels
    assert back.meta == {**src.meta, "study_id": "pt_001"}
    # study.json: UTF-8 with non-ASCII kept, indented
    text = (folder / META_FILE).read_text(encoding="utf-8")
    assert '"张三"' in text and "\n  " in text
    # nibabel reads the same voxels, affine and zooms from the files pet2rep wrote
    img = nib.load(str(folder / PET_FILE))
    assert np.array_equal(np.asarray(img.dataobj), back.pet.data)
    assert np.array_equal(img.affine, PERMUTED) and img.header.get_zooms() == (3.0, 2.0, 4.0)
    assert int(img.header["sform_code"]) == 1 and int(img.header["qform_code"]) == 1


def test_read_study_without_arrays_reads_no_image(tmp_path):
    folder = write_study(_study(), tmp_path / "s")
    (folder / PET_FILE).write_bytes(b"not a nifti")  # never opened without arrays
    (folder / CT_FILE).unlink()
    meta_only = read_study(folder, arrays=False)
    assert meta_only.pet is None and meta_only.ct is None
    assert meta_only.study_id == "pt_001" and meta_only.meta["age"] == 61
    assert set(meta_only.reports) == {"zh", "en"} and meta_only.labels["liver"] == ["increased"]
    with pytest.raises(StudyError) as exc:
        read_study(folder)
    assert _one_line(exc).startswith(f"{folder / PET_FILE}: ")


def test_study_without_ct_labels_or_arrays(tmp_path):
    s = _study("only_pet")
    s.ct, s.labels, s.reports = None, None, {}
    folder = write_study(s, tmp_path / "only_pet")
    assert sorted(p.name for p in folder.iterdir()) == [PET_FILE, META_FILE]
    back = read_study(folder)
    assert back.ct is None and back.labels is None and back.reports == {}
    meta_only = write_study(Study("m", meta={"age": 3}), tmp_path / "m")
    assert [p.name for p in meta_only.iterdir()] == [META_FILE]
    with pytest.raises(StudyError) as exc:
        read_study(meta_only)
    assert _one_line(exc) == f"{meta_only / PET_FILE}: file not found"


def test_write_study_refuses_bad_ids(tmp_path):
    with pytest.raises(InputError) as exc:
        write_study(_study("../escape"), tmp_path / "x")
    msg = _one_line(exc)
    assert msg.startswith(f"{tmp_path / 'x'}: study id '../escape' starts with '.'")
    assert not (tmp_path / "x").exists()
    s = _study("ok")
    s.reports = {"e/n": "text"}
    with pytest.raises(InputError) as exc:
        write_study(s, tmp_path / "ok")
    assert "report language 'e/n' contains '/'" in _one_line(exc)


# ----------------------------------------------------------------------------------------- study.json errors


def _folder_with(tmp_path, name: str, meta: bytes | str) -> os.PathLike:
    folder = tmp_path / name
    folder.mkdir()
    (folder / META_FILE).write_bytes(meta if isinstance(meta, bytes) else meta.encode("utf-8"))
    return folder


def test_study_json_errors_are_one_line_naming_the_file(tmp_path):
    def err(name, meta):
        folder = _folder_with(tmp_path, name, meta)
        with pytest.raises(InputError) as exc:
            read_study(folder, arrays=False)
        return folder / META_FILE, _one_line(exc)

    path, msg = err("list", "[1, 2]")
    assert msg == f"{path}: expected a JSON object of study metadata, got list"
    path, msg = err("broken", '{"study_id": "a",')
    assert msg == f"{path}: invalid JSON (Expecting property name enclosed in double quotes at line 1 column 18)"
    path, msg = err("latin1", '{"name": "Müller"}'.encode("latin-1"))
    assert msg == f"{path}: not UTF-8 text (byte 11)"
    path, msg = err("float_id", '{"study_id": 3.5}')
    assert msg == f"{path}: study_id must be a string, got float"
    path, msg = err("bool_id", '{"study_id": true}')
    assert msg == f"{path}: study_id must be a string, got bool"
    path, msg = err("empty_id", '{"study_id": ""}')  # an empty id is refused, not replaced by the folder name
    assert msg.startswith(f"{path}: study_id '' is empty; an id is")
    path, msg = err("dots", '{"study_id": "../etc"}')
    assert msg.startswith(f"{path}: study_id '../etc' starts with '.'; an id is 1-128 letters")
    path, msg = err("deep", "[" * 100_000 + "]" * 100_000)
    assert msg == f"{path}: JSON nested too deeply to read"
    with pytest.raises(StudyError) as exc:
        read_study(tmp_path / "list" / "nowhere", arrays=False)
    assert _one_line(exc) == f"{tmp_path / 'list' / 'nowhere'}: not a study folder (no {META_FILE})"


def test_study_id_missing_or_numeric(tmp_path):
    assert read_study(_folder_with(tmp_path, "named_by_folder", "{}"), arrays=False).study_id == "named_by_folder"
    assert read_study(_folder_with(tmp_path, "numeric", '{"study_id": 42}'), arrays=False).study_id == "42"
    folder = _folder_with(tmp_path, "bad name", '{"age": 50}')
    with pytest.raises(InputError) as exc:
        read_study(folder, arrays=False)
    assert _one_line(exc).startswith(
        f"{folder / META_FILE}: no study_id, and the folder name 'bad name' contains ' '; an id is")


def test_labels_and_reports_errors_name_their_file(tmp_path):
    folder = _folder_with(tmp_path, "s1", '{"study_id": "s1"}')
    (folder / LABELS_FILE).write_text('["liver"]', encoding="utf-8")
    with pytest.raises(StudyError) as exc:
        read_study(folder, arrays=False)
    assert _one_line(exc) == f"{folder / LABELS_FILE}: expected a JSON object {{organ_id: [states]}}, got list"
    (folder / LABELS_FILE).unlink()
    (folder / "report.zh.txt").write_bytes("肝脏".encode("gbk"))
    with pytest.raises(StudyError) as exc:
        read_study(folder, arrays=False)
    assert _one_line(exc) == f"{folder / 'report.zh.txt'}: not UTF-8 text (byte 0); re-save the report as UTF-8"


# ----------------------------------------------------------------------------------------- NIfTI I/O


@pytest.mark.parametrize("name", ["v.nii.gz", "v.nii"])
@pytest.mark.parametrize("dtype", [np.float32, np.float64, np.int16, np.uint8])
def test_save_then_load_keeps_dtype_values_and_affine(tmp_path, name, dtype):
    data = _ramp((7, 6, 5), dtype)
    path = tmp_path / name
    save_nifti(Volume(data, PERMUTED), path)
    raw = path.read_bytes()
    assert (raw[:2] == b"\x1f\x8b") == name.endswith(".gz")
    vol = load_nifti(path)
    assert vol.data.dtype == dtype and vol.shape == (7, 6, 5)
    assert np.array_equal(vol.data, data) and np.array_equal(vol.affine, PERMUTED)
    as_float = load_nifti(path, np.float32)
    assert as_float.data.dtype == np.float32 and np.array_equal(as_float.data, data.astype(np.float32))
    # the bytes inside are nibabel's own serialisation of the image
    img = nib.Nifti1Image(data, PERMUTED)
    img.set_qform(PERMUTED, code=1)
    img.set_sform(PERMUTED, code=1)
    assert (gzip.decompress(raw) if name.endswith(".gz") else raw) == img.to_bytes()


def test_save_nifti_compresslevel(tmp_path):
    data = np.zeros((40, 40, 40), np.float32)
    data[10:30, 5:35, :] = _ramp((20, 30, 40), np.float32) / 7
    streams = {}
    for level in (0, 1, 3, 9):
        path = tmp_path / f"l{level}.nii.gz"
        save_nifti(Volume(data, np.eye(4)), path, compresslevel=level)
        streams[level] = path.read_bytes()[10:]  # the deflate stream and trailer, after the gzip header
        assert np.array_equal(load_nifti(path).data, data)
        assert len(streams[level]) < data.nbytes / 4  # compressed at every level
    assert len({streams[0], streams[1], streams[3]}) == 3  # the level reaches the compressor
    assert streams[9] == streams[3]  # ISA-L's levels stop at 3: higher levels are level 3


def test_save_nifti_is_atomic_and_replaces(tmp_path):
    path = tmp_path / "v.nii.gz"
    save_nifti(Volume(np.ones((2, 2, 2), np.float32), np.eye(4)), path)
    save_nifti(Volume(np.full((3, 2, 2), 5, np.int16), np.eye(4)), path)
    assert [p.name for p in tmp_path.iterdir()] == ["v.nii.gz"]  # no temporary file left beside it
    vol = load_nifti(path)
    assert vol.shape == (3, 2, 2) and vol.data.dtype == np.int16 and int(vol.data.sum()) == 60


def test_header_and_raw_reading_agree_with_nibabel(tmp_path):
    data = _ramp((9, 8, 7), np.int16)
    path = tmp_path / "scaled.nii.gz"
    _nib_save(data, path, affine=PERMUTED, slope=2.0, inter=-1024.0)
    ref = nib.load(str(path))
    hdr = read_nifti_header(path)
    assert hdr.get_data_shape() == ref.header.get_data_shape() == (9, 8, 7)
    assert hdr.get_data_dtype() == ref.header.get_data_dtype() == np.dtype(np.int16)
    assert hdr.get_zooms() == ref.header.get_zooms() == (3.0, 2.0, 4.0)
    assert np.array_equal(hdr.get_best_affine(), ref.affine)
    assert int(hdr["vox_offset"]) == ref.dataobj.offset == 352
    raw, affine, slope, inter, rhdr = read_nifti_raw(path)
    assert raw.dtype == np.int16 and np.array_equal(raw, np.asarray(ref.dataobj.get_unscaled()))
    assert raw.flags.f_contiguous and raw.flags.writeable
    assert np.array_equal(affine, ref.affine) and (slope, inter) == (2.0, -1024.0)
    scaled = load_nifti(path)
    assert np.array_equal(scaled.data, ref.get_fdata()) and float(scaled.data[1, 0, 0]) == 2.0 * 56 - 1024  # raw 8 * 7
    # no scaling: slope and inter are None
    _nib_save(data, tmp_path / "plain.nii", affine=PERMUTED)
    assert read_nifti_raw(tmp_path / "plain.nii")[2:4] == (None, None)


def test_raw_reading_of_nifti2_big_endian_4d_and_pairs(tmp_path):
    data = _ramp((5, 4, 3), np.float32)
    _nib_save(data, tmp_path / "two.nii.gz", image=nib.Nifti2Image)
    raw, *_ = read_nifti_raw(tmp_path / "two.nii.gz")
    assert read_nifti_header(tmp_path / "two.nii.gz")["sizeof_hdr"] == 540
    assert np.array_equal(raw, data)
    big = nib.Nifti1Image(data.astype(">f4"), np.eye(4))
    nib.save(big, str(tmp_path / "big.nii"))
    raw, *_ = read_nifti_raw(tmp_path / "big.nii")
    assert raw.dtype == np.dtype("=f4") and np.array_equal(raw, data)
    _nib_save(data[..., None], tmp_path / "t1.nii")  # a 4-D file with one volume is 3-D
    assert read_nifti_raw(tmp_path / "t1.nii")[0].shape == (5, 4, 3)
    _nib_save(np.stack([data, data], axis=3), tmp_path / "t2.nii")
    with pytest.raises(StudyError) as exc:
        read_nifti_raw(tmp_path / "t2.nii")
    assert _one_line(exc) == f"{tmp_path / 't2.nii'}: expected a 3-D image, got shape (5, 4, 3, 2)"
    nib.save(nib.Nifti1Pair(data, PERMUTED), str(tmp_path / "pair.img"))
    vol = load_nifti(tmp_path / "pair.img")
    assert np.array_equal(vol.data, data) and np.array_equal(vol.affine, PERMUTED)


def test_reading_what_is_not_nifti(tmp_path):
    missing = tmp_path / "none.nii.gz"
    for fn in (read_nifti_header, read_nifti_raw, load_nifti):
        with pytest.raises(StudyError) as exc:
            fn(missing)
        assert _one_line(exc) == f"{missing}: file not found"
    short = tmp_path / "short.nii"
    short.write_bytes(b"\x5c\x01\x00\x00" + b"\x00" * 96)
    with pytest.raises(StudyError) as exc:
        read_nifti_header(short)
    assert _one_line(exc) == f"{short}: not a NIfTI file (only 100 bytes)"
    text = tmp_path / "text.nii.gz"
    text.write_bytes(b"just text, no gzip at all" * 40)
    with pytest.raises(StudyError) as exc:
        read_nifti_raw(text)
    assert _one_line(exc) == f"{text}: not a gzip file"


# ----------------------------------------------------------------------------------------- check_nifti_data


def _with_nonfinite(shape=(16, 16, 16)) -> np.ndarray:
    data = _ramp(shape, np.float32)
    flat = data.reshape(-1, order="F")
    for i in (0, 777, 2048, 4095):
        flat[i] = np.nan
    flat[1000], flat[3001] = np.inf, -np.inf
    return flat.reshape(shape, order="F")


@pytest.mark.parametrize("name", ["f.nii.gz", "f.nii"])
@pytest.mark.parametrize("chunk", [61, 1 << 18])
def test_check_nifti_data_counts_nonfinite(tmp_path, name, chunk):
    path = tmp_path / name
    _nib_save(_with_nonfinite(), path)
    assert check_nifti_data(path, count_nonfinite=True, chunk=chunk) == check_nifti_data(path, count_nonfinite=True)
    found = check_nifti_data(path, count_nonfinite=True, chunk=chunk)
    assert (found.voxels, found.nonfinite) == (4096, 6)
    assert check_nifti_data(path, chunk=chunk).nonfinite == 0  # not counted unless asked
    ints = tmp_path / ("i" + name)
    _nib_save(_ramp((16, 16, 16), np.int16), ints)
    assert (check_nifti_data(ints, count_nonfinite=True, chunk=chunk).voxels,
            check_nifti_data(ints, count_nonfinite=True, chunk=chunk).nonfinite) == (4096, 0)


def test_check_nifti_data_refuses_truncated_and_corrupt_files(tmp_path):
    good = tmp_path / "good.nii.gz"
    _nib_save(np.random.default_rng(0).random((32, 32, 32)).astype(np.float32), good)
    raw = good.read_bytes()
    cut = tmp_path / "cut.nii.gz"
    cut.write_bytes(raw[: len(raw) // 2])
    assert read_nifti_header(cut).get_data_shape() == (32, 32, 32)  # the header alone is still there
    with pytest.raises(StudyError) as exc:
        check_nifti_data(cut)
    assert _one_line(exc) == f"{cut}: truncated gzip file (the compressed stream ends early)"
    with pytest.raises(StudyError) as exc:
        load_nifti(cut)
    assert _one_line(exc).startswith(f"{cut}: ")
    bad = tmp_path / "bad.nii.gz"
    bad.write_bytes(raw[:-8] + bytes([raw[-8] ^ 0xFF]) + raw[-7:])  # CRC of the data no longer matches
    with pytest.raises(StudyError) as exc:
        check_nifti_data(bad)
    assert _one_line(exc).startswith(f"{bad}: corrupt gzip data (")
    # a complete gzip stream around a NIfTI whose data block is short; and a short plain .nii
    payload = gzip.decompress(raw)
    short_gz, short = tmp_path / "short.nii.gz", tmp_path / "short.nii"
    short_gz.write_bytes(gzip.compress(payload[:-1000]))
    short.write_bytes(payload[:-1000])
    need, have = 352 + 32**3 * 4, len(payload) - 1000
    for path in (short_gz, short):
        with pytest.raises(StudyError) as exc:
            check_nifti_data(path)
        assert _one_line(exc) == f"{path}: truncated NIfTI data (need {need} bytes, have {have})"
    with pytest.raises(StudyError) as exc:
        read_nifti_raw(short)
    assert _one_line(exc) == f"{short}: truncated NIfTI data (need {need} bytes, have {have})"


# ----------------------------------------------------------------------------------------- geometry


def test_bounding_box_covers_voxel_edges():
    affine = np.diag([2.0, 3.0, 4.0, 1.0])
    affine[:3, 3] = [-10.0, 5.0, 100.0]
    lo, hi = bounding_box_mm((10, 20, 30), affine)
    assert lo.tolist() == [-11.0, 3.5, 98.0]  # origin - half a voxel
    assert hi.tolist() == [9.0, 63.5, 218.0]  # origin + (n - 0.5) voxels
    flipped = affine.copy()
    flipped[0, 0] = -2.0  # i runs towards -x: the box spans [-10 - 2 * 9.5, -10 + 2 * 0.5]
    lo, hi = bounding_box_mm((10, 20, 30), flipped)
    assert (lo[0], hi[0]) == (-29.0, -9.0)
    lo, hi = bounding_box_mm((6, 5, 4), PERMUTED)  # i along y (3 mm), j along -x (2 mm)
    assert lo.tolist() == [10.0 - 2 * 4.5, -20.5 - 1.5, 7.25 - 2.0]
    assert hi.tolist() == [10.0 + 1.0, -20.5 + 3 * 5.5, 7.25 + 4 * 3.5]


def test_check_overlap_measures_the_gap():
    pet = np.diag([4.0, 4.0, 4.0, 1.0])  # box [-2, 38] on every axis
    ct = np.diag([2.0, 2.0, 2.0, 1.0])  # box [-1 + o, 19 + o]
    assert check_overlap((10, 10, 10), pet, (10, 10, 10), ct, "s1") is None
    far = ct.copy()
    far[:3, 3] = [0.0, 30.0, 100.0]  # y box [29, 49] overlaps, z box [99, 119]: 61 mm above the PET
    with pytest.raises(InputError) as exc:
        check_overlap((10, 10, 10), pet, (10, 10, 10), far, "pet2rep ingest: s1")
    assert _one_line(exc) == ("pet2rep ingest: s1: CT does not overlap the PET in space (their fields of view "
                              "are 61 mm apart along z; check the pairing and the positions/affines)")
    side = ct.copy()
    side[:3, 3] = [-72.5, 0.0, 0.0]  # x box [-73.5, -53.5]: 51.5 mm beside the PET's -2
    with pytest.raises(InputError) as exc:
        check_overlap((10, 10, 10), pet, (10, 10, 10), side, "s2")
    assert "are 51.5 mm apart along x;" in _one_line(exc)
    touching = ct.copy()
    touching[:3, 3] = [0.0, 0.0, 39.0]  # z box starts at 38, where the PET's ends
    with pytest.raises(InputError) as exc:
        check_overlap((10, 10, 10), pet, (10, 10, 10), touching, "s3")
    assert "(their fields of view are touching;" in _one_line(exc)
    touching[2, 3] = 38.5  # half a millimetre of overlap is an overlap
    assert check_overlap((10, 10, 10), pet, (10, 10, 10), touching, "s3") is None


# ----------------------------------------------------------------------------------------- finding studies


@pytest.fixture
def tree(tmp_path):
    """root/{a, b}: studies; .hidden: a hidden study; notes: no study.json; a file; two symbolic-link loops."""
    root = tmp_path / "root"
    for name in ("b", "a", ".hidden"):
        (root / name).mkdir(parents=True)
        (root / name / META_FILE).write_text(json.dumps({"study_id": name.strip(".")}), encoding="utf-8")
    (root / "notes").mkdir()
    (root / "notes" / "readme.txt").write_text("x", encoding="utf-8")
    (root / "file.txt").write_text("x", encoding="utf-8")
    (root / "self_loop").symlink_to("self_loop")  # a link to itself: neither a folder nor a file
    (root / "up").symlink_to("..")  # a link back above root: a folder without study.json
    return root


def test_find_studies_and_non_study_dirs(tree):
    assert find_studies(tree) == [tree / "a", tree / "b"]  # sorted, hidden skipped, loops harmless
    assert find_studies(tree / "a") == [tree / "a"]  # a study folder itself
    assert find_studies(tree / "notes") == []
    assert non_study_dirs(tree) == [tree / "notes", tree / "up"]
    assert non_study_dirs(tree / "a") == [] and non_study_dirs(tree / "file.txt") == []


def test_study_folders_checks_root_and_out(tree, tmp_path, capsys):
    out = tmp_path / "out"
    assert study_folders(tree, out, "render") == [tree / "a", tree / "b"]
    assert capsys.readouterr().err.splitlines() == [
        f"pet2rep render: {tree / 'notes'}: skipped (no {META_FILE})",
        f"pet2rep render: {tree / 'up'}: skipped (no {META_FILE})",
    ]
    assert study_folders(tree / "b", out, "render") == [tree / "b"] and capsys.readouterr().err == ""
    for root, expected in (
        (tree / "missing", f"{tree / 'missing'}: no such folder"),
        (tree / "file.txt", f"{tree / 'file.txt'}: is a file; expected a study folder (holding {META_FILE}) "
                            "or a folder of them"),
        (tree / "notes", f"{tree / 'notes'}: not a study folder (no {META_FILE}), and none of its sub-folders "
                         "holds one"),
    ):
        with pytest.raises(InputError) as exc:
            study_folders(root, out, "render")
        assert _one_line(exc) == expected
    with pytest.raises(InputError) as exc:
        study_folders(tree, tree / "file.txt", "render")
    msg = _one_line(exc)
    assert msg.startswith(f"{tree / 'file.txt'}: ") and "not a folder" in msg
