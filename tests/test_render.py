"""Rendering: geometry (CT sampled on PET planes, orientation, square mm pixels), files, views.json, CLI."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from pet2rep import render
from pet2rep.cli import main
from pet2rep.errors import InputError
from pet2rep.render import hot, render_arrays, render_study
from pet2rep.study import Study, Volume, write_study

# Small PET grid in RAS: 32 (L-R) x 24 (A-P) x 40 (S-I) voxels of 4 x 4 x 3 mm -> coronal 32 x 30 px.
SHAPE = (32, 24, 40)
ZOOMS = (4.0, 4.0, 3.0)
LESION_MM = (30.0, 6.0, 33.0)  # in the patient's RIGHT (x > 0 in RAS), anterior of centre, upper body
BODY = dict(ax=50.0, ay=30.0)  # body ellipse semi-axes (mm), centred on the world origin


def ras_affine(shape=SHAPE, zooms=ZOOMS, origin_shift=(0.0, 0.0, 0.0)) -> np.ndarray:
    aff = np.diag(list(zooms) + [1.0])
    aff[:3, 3] = -(np.asarray(shape) - 1) / 2 * np.asarray(zooms) + np.asarray(origin_shift)
    return aff


def world_grid(shape, aff):
    ijk = np.indices(shape, dtype=np.float64).reshape(3, -1)
    xyz = aff[:3, :3] @ ijk + aff[:3, 3:4]
    return [c.reshape(shape) for c in xyz]


def make_pet_ras() -> Volume:
    aff = ras_affine()
    x, y, z = world_grid(SHAPE, aff)
    data = np.where((x / BODY["ax"]) ** 2 + (y / BODY["ay"]) ** 2 <= 1, 1.0, 0.0).astype(np.float32)
    ijk = np.rint(np.linalg.solve(aff[:3, :3], np.asarray(LESION_MM) - aff[:3, 3])).astype(int)
    data[tuple(ijk)] = 20.0
    return Volume(data, aff)


def reorient(vol: Volume, flips=(True, True, False), perm=(0, 1, 2)) -> Volume:
    """Same image, other storage: flip array axes then permute them; the affine keeps world positions."""
    data, aff = vol.data, vol.affine.copy()
    for ax, f in enumerate(flips):
        if f:
            n = data.shape[ax]
            data = np.flip(data, axis=ax)
            col = aff[:3, ax].copy()
            aff[:3, 3] = aff[:3, 3] + col * (n - 1)
            aff[:3, ax] = -col
    data = np.transpose(data, perm)
    new = np.eye(4)
    new[:3, :3] = aff[:3, :3][:, list(perm)]
    new[:3, 3] = aff[:3, 3]
    return Volume(np.ascontiguousarray(data), new)


def lesion_index(vol: Volume) -> np.ndarray:
    return np.array(np.unravel_index(np.argmax(vol.data), vol.data.shape))


def expected_pixel(k: float, i: float, n_k: int, n_i: int, height: int, width: int) -> tuple[float, float]:
    """Display pixel of RAS voxel (i, *, k): head at the top, patient's right (high i) on the left."""
    row = ((n_k - 1 - k) + 0.5) * height / n_k - 0.5
    col = ((n_i - 1 - i) + 0.5) * width / n_i - 0.5
    return row, col


def test_hot_colormap_endpoints_and_monotone():
    x = np.linspace(0, 1, 101)
    rgb = hot(x)
    assert np.allclose(rgb[0], 0) and np.allclose(rgb[-1], 1)
    assert np.all(np.diff(rgb, axis=0) >= -1e-7)  # each channel non-decreasing
    assert rgb[30, 0] > 0.7 and rgb[30, 1] == 0  # reds first
    assert np.allclose(hot(np.array(0.5)), [1.0, 1.0 / 3.0, 0.0], atol=1e-6)


def test_lesion_on_viewers_left_head_at_top_square_pixels():
    pet = make_pet_ras()
    li, lj, lk = lesion_index(pet)
    (view,) = render_arrays(pet, None, mode="separate", slices=[int(lj)])
    img = view.image
    assert img.shape == (30, 32, 3)  # 40 slices * 3 mm / 4 mm = 30 rows; 32 columns
    assert view.size_px == [32, 30]
    r, c = np.unravel_index(np.argmax(img.astype(int).sum(axis=2)), img.shape[:2])
    er, ec = expected_pixel(lk, li, SHAPE[2], SHAPE[0], 30, 32)
    assert abs(r - er) <= 1 and abs(c - ec) <= 1
    assert c < 16  # patient's right -> viewer's left
    assert r < 15  # z > 0 -> upper half (head at the top)
    assert view.position_mm == pytest.approx(pet.affine[1, 1] * lj + pet.affine[1, 3])


@pytest.mark.parametrize(
    "flips,perm", [((True, True, False), (0, 1, 2)), ((True, False, True), (2, 0, 1)), ((False, True, True), (1, 2, 0))]
)
def test_other_orientations_give_identical_images(flips, perm):
    pet = make_pet_ras()
    ct = Volume(np.where(pet.data > 0, 40, -1000).astype(np.int16), pet.affine)
    lj = int(lesion_index(pet)[1])
    ref = render_arrays(pet, ct, slices=[lj])[0]
    pet2, ct2 = reorient(pet, flips, perm), reorient(ct, flips, perm)
    # the same world plane: its index in the new array's own order
    j_axis = perm.index(1)
    j2 = (SHAPE[1] - 1 - lj) if flips[1] else lj
    assert pet2.data.shape[j_axis] == SHAPE[1]
    got = render_arrays(pet2, ct2, slices=[j2])[0]
    assert got.image.shape == ref.image.shape
    assert np.abs(got.image.astype(int) - ref.image.astype(int)).max() <= 1
    assert got.position_mm == pytest.approx(ref.position_mm)
    mip_ref = render_arrays(pet, None, mode="mip")[0].image
    mip_got = render_arrays(pet2, None, mode="mip")[0].image
    assert np.abs(mip_got.astype(int) - mip_ref.astype(int)).max() <= 1
    ax_ref = render_arrays(pet, ct, mode="axial", slices=[int(lesion_index(pet)[2])])[0].image
    k_axis = perm.index(2)
    k2 = (SHAPE[2] - 1 - int(lesion_index(pet)[2])) if flips[2] else int(lesion_index(pet)[2])
    assert pet2.data.shape[k_axis] == SHAPE[2]
    ax_got = render_arrays(pet2, ct2, mode="axial", slices=[k2])[0].image
    assert np.abs(ax_got.astype(int) - ax_ref.astype(int)).max() <= 1


def test_axial_anterior_at_top_right_on_left():
    pet = make_pet_ras()
    li, lj, lk = lesion_index(pet)
    (view,) = render_arrays(pet, None, mode="axial", slices=[int(lk)])
    assert view.plane == "axial" and view.image.shape == (24, 32, 3)  # A-P 24 * 4 / 4 rows
    r, c = np.unravel_index(np.argmax(view.image.astype(int).sum(axis=2)), view.image.shape[:2])
    assert r == SHAPE[1] - 1 - lj  # anterior (high j) at the top
    assert c == SHAPE[0] - 1 - li  # patient's right on the viewer's left
    assert r < 12 and c < 16


def test_mip_brightest_is_lesion_inverted_grey():
    pet = make_pet_ras()
    li, lj, lk = lesion_index(pet)
    (view,) = render_arrays(pet, None, mode="mip", suv_window=(0, 20))
    assert view.kind == "mip" and view.index is None
    grey = view.image[..., 0].astype(int)
    assert np.array_equal(view.image[..., 0], view.image[..., 1])  # grey
    r, c = np.unravel_index(np.argmin(grey), grey.shape)  # black = hot
    er, ec = expected_pixel(lk, li, SHAPE[2], SHAPE[0], 30, 32)
    assert abs(r - er) <= 1 and abs(c - ec) <= 1
    assert grey[0, 0] == 255  # air = white


def _ct_phantom():
    """CT: 1.5 mm grid, LPS-like flipped and permuted axes, offset origin, a 1000 HU cube at known mm."""
    shape = (60, 50, 70)
    aff = np.array(
        [[0.0, -1.5, 0.0, 37.0],  # array axis 1 -> x (towards the patient's left)
         [0.0, 0.0, -1.5, 41.0],  # array axis 2 -> y (towards posterior)
         [1.5, 0.0, 0.0, -44.0],  # array axis 0 -> z
         [0.0, 0.0, 0.0, 1.0]]
    )
    x, y, z = world_grid(shape, aff)
    cube_lo, cube_hi = np.array([-20.0, -12.0, -9.0]), np.array([12.0, 10.0, 21.0])
    inside = (x >= cube_lo[0]) & (x <= cube_hi[0]) & (y >= cube_lo[1]) & (y <= cube_hi[1])
    inside &= (z >= cube_lo[2]) & (z <= cube_hi[2])
    data = np.where(inside, 1000, 0).astype(np.int16)
    return Volume(data, aff), cube_lo, cube_hi


def test_ct_cube_lands_on_the_right_pet_pixels():
    ct, lo, hi = _ct_phantom()
    pet = Volume(np.zeros(SHAPE, np.float32), ras_affine(origin_shift=(1.0, -2.0, 0.5)))
    for j in (8, 11, 13):  # plane y = -16 (behind the cube: no cube), -4, +4 mm
        coords, (w, h) = render._plane_grid(pet, "ap", j, None)
        hu = render._sample_ct(render._CT(ct.data, ct.affine), pet.affine, coords)
        world = np.tensordot(pet.affine[:3, :3], coords, axes=1) + pet.affine[:3, 3].reshape(3, 1, 1)
        margin = 1.6  # one CT voxel (1.5 mm) of linear-interpolation blur
        deep = np.all((world > lo[:, None, None] + margin) & (world < hi[:, None, None] - margin), axis=0)
        out = np.any((world < lo[:, None, None] - margin) | (world > hi[:, None, None] + margin), axis=0)
        assert deep.any() == (j != 8)
        assert np.all(out) == (j == 8)
        assert np.allclose(hu[deep], 1000) and np.allclose(hu[out & (hu > -1000)], 0)
        # world outside the CT's field of view is air
        ct_vox = np.linalg.inv(ct.affine) @ np.vstack([world.reshape(3, -1), np.ones(world[0].size)])
        fov = np.all((ct_vox[:3] >= 0) & (ct_vox[:3] <= np.array(ct.shape)[:, None] - 1), axis=0).reshape(hu.shape)
        assert np.all(hu[~fov & out] == render.AIR_HU)


def test_ct_sampling_matches_simpleitk_resample(tmp_path):
    """Reference: SimpleITK resamples the whole CT onto the PET grid; our plane sampling must agree."""
    sitk = pytest.importorskip("SimpleITK")
    import nibabel as nib

    ct, _, _ = _ct_phantom()
    rng = np.random.default_rng(0)
    ct.data[:] = np.clip(ct.data + rng.integers(-300, 300, ct.data.shape), -1024, 3000).astype(np.int16)
    shape = (30, 24, 30)
    pet = Volume(np.zeros(shape, np.float32), ras_affine(shape, (2.0, 2.0, 2.0), (1.0, -2.0, 0.5)))
    nib.save(nib.Nifti1Image(ct.data, ct.affine), tmp_path / "ct.nii.gz")
    nib.save(nib.Nifti1Image(pet.data, pet.affine), tmp_path / "pet.nii.gz")
    s_ct = sitk.ReadImage(str(tmp_path / "ct.nii.gz"))
    s_pet = sitk.ReadImage(str(tmp_path / "pet.nii.gz"))
    res = sitk.GetArrayFromImage(sitk.Resample(s_ct, s_pet, sitk.Transform(), sitk.sitkLinear, -1024.0,
                                               sitk.sitkFloat32))  # (k, j, i)
    checked = 0
    for j in (6, 12, 17):
        coords, (w, h) = render._plane_grid(pet, "ap", j, None)
        assert (w, h) == (30, 30)  # isotropic grid: pixels are voxel centres
        hu = render._sample_ct(render._CT(ct.data, ct.affine), pet.affine, coords)
        ref = res[::-1, j, ::-1]  # head at top, patient's right on the left
        ct_vox = np.linalg.inv(ct.affine) @ pet.affine
        ijk = np.tensordot(ct_vox[:3, :3], coords, axes=1) + ct_vox[:3, 3].reshape(3, 1, 1)
        interior = np.all((ijk > 0.01) & (ijk < np.array(ct.shape)[:, None, None] - 1.01), axis=0)
        assert interior.sum() > 100
        assert np.allclose(hu[interior], ref[interior], atol=0.05)
        checked += 1
    assert checked == 3


def test_only_the_drawn_planes_of_the_ct_are_sampled(monkeypatch):
    import scipy.ndimage

    pet = make_pet_ras()
    ct, _, _ = _ct_phantom()
    seen: list[int] = []
    real = scipy.ndimage.map_coordinates

    def spy(inp, coords, *a, **k):
        seen.append(int(np.prod(np.asarray(coords).shape[1:])))
        return real(inp, coords, *a, **k)

    monkeypatch.setattr(scipy.ndimage, "map_coordinates", spy)
    render_arrays(pet, ct, slices=[8, 10, 12])
    assert seen and max(seen) <= 32 * 30  # never more points than one image
    assert len(seen) == 6  # PET + CT per plane


def test_size_option_and_out_of_range_indices():
    pet = make_pet_ras()
    views = render_arrays(pet, None, slices=[3], size=(64, 50))
    assert views[0].image.shape == (50, 64, 3)
    with pytest.raises(InputError, match="out of range"):
        render_arrays(pet, None, slices=[24])
    with pytest.raises(InputError, match="out of range"):
        render_arrays(pet, None, slices=[-1])
    with pytest.raises(InputError, match="out of range"):
        render_arrays(pet, None, mode="axial", slices=[40])
    with pytest.raises(InputError):
        render_arrays(pet, None, fractions=[1.5])
    with pytest.raises(InputError):
        render_arrays(pet, None, mode="nope")


def test_fractions_follow_body_extent_posterior_to_anterior():
    pet = make_pet_ras()
    pet.data[pet.data > 5] = 1.0  # no lesion
    # body spans y in (-30, 30) mm -> PET j from 5 to 18 (centres at -46 + 4 j)
    views = render_arrays(pet, None, fractions=[0.0, 0.5, 1.0])
    idx = [v.index for v in views]
    ys = -46.0 + 4.0 * np.arange(24)
    body_j = np.nonzero((pet.data > 0.3).any(axis=(0, 2)))[0]
    assert list(body_j) == list(np.nonzero(np.abs(ys) < 30)[0])
    assert idx[0] == body_j[0] and idx[2] == body_j[-1]
    assert idx[1] == int(round((body_j[0] + body_j[-1]) / 2))
    assert [v.fraction for v in views] == [0.0, 0.5, 1.0]
    # flipped A-P storage: same world planes
    flipped = reorient(pet, (False, True, False))
    got = render_arrays(flipped, None, fractions=[0.0, 0.5, 1.0])
    assert [v.position_mm for v in got] == pytest.approx([v.position_mm for v in views])
    # CT body counts too: a CT reaching further forward moves the anterior edge
    ct = Volume(np.where(np.abs(world_grid(SHAPE, pet.affine)[1]) <= 38, 40, -1000).astype(np.int16), pet.affine)
    wide = render_arrays(pet, ct, fractions=[0.0, 1.0])
    assert wide[0].index == int(np.nonzero(np.abs(ys) <= 38)[0][0]) and wide[1].index == int(
        np.nonzero(np.abs(ys) <= 38)[0][-1])


def _study(tmp_path: Path, name: str = "s1", pet: Volume | None = None, with_ct: bool = True) -> Path:
    pet = pet or make_pet_ras()
    ct, _, _ = _ct_phantom() if with_ct else (None, None, None)
    folder = tmp_path / name
    write_study(Study(study_id=name, pet=pet, ct=ct), folder)
    return folder


def test_render_study_fused_files_and_views_json(tmp_path):
    from PIL import Image

    folder = _study(tmp_path)
    rec = render_study(folder, tmp_path / "views", slices=[9, 11, 13], prefix="demo")
    names = [im["file"] for im in rec["images"]]
    assert names == ["demo_9_coronal.jpg", "demo_11_coronal.jpg", "demo_13_coronal.jpg"]
    on_disk = json.loads((tmp_path / "views" / "views.json").read_text())
    assert on_disk == rec
    assert rec["study_id"] == "s1" and rec["mode"] == "fused" and rec["plane"] == "coronal"
    assert rec["suv_window"] == [0.0, 10.0] and rec["ct_window"] == [400.0, 40.0]
    assert rec["colormap"] == "hot" and rec["alpha"] == 0.5
    assert rec["pet"] == {"shape": [32, 24, 40], "zooms_mm": [4.0, 4.0, 3.0]}
    assert rec["pet2rep_version"]
    for im, j in zip(rec["images"], (9, 11, 13)):
        assert im["kind"] == "fused" and im["plane"] == "coronal" and im["index"] == j
        assert im["position_mm"] == pytest.approx(-46.0 + 4.0 * j)
        with Image.open(tmp_path / "views" / im["file"]) as pil:
            assert list(pil.size) == im["size_px"] == [32, 30]
            assert pil.mode == "RGB"
    assert not list((tmp_path / "views").glob("*.part"))


def test_fused_blend_values(tmp_path):
    """Fused pixel = (1 - alpha) * grey(CT) + alpha * hot(SUV): checked on a uniform phantom."""
    pet = Volume(np.full((8, 8, 8), 5.0, np.float32), np.eye(4))
    ct = Volume(np.full((8, 8, 8), 40, np.int16), np.eye(4))
    img = render_arrays(pet, ct, slices=[4], alpha=0.25)[0].image
    grey = 0.5  # 40 HU in a 400/40 window
    expect = 0.75 * grey + 0.25 * hot(np.array(0.5))
    assert np.abs(img[4, 4].astype(float) - expect * 255).max() <= 1.0


def test_separate_axial_mip_names(tmp_path):
    folder = _study(tmp_path)
    out = tmp_path / "v"
    rec = render_study(folder, out, mode="separate", slices=[10], fmt="png")
    assert [i["file"] for i in rec["images"]] == ["s1_10_coronal_pet.png", "s1_10_coronal_ct.png"]
    assert [i["kind"] for i in rec["images"]] == ["pet", "ct"]
    rec = render_study(folder, out, mode="axial", slices=[5, 30])
    assert [i["file"] for i in rec["images"]] == ["s1_5_axial.jpg", "s1_30_axial.jpg"]
    assert rec["images"][0]["position_mm"] == pytest.approx(-58.5 + 3.0 * 5)
    rec = render_study(folder, out, mode="mip")
    assert [i["file"] for i in rec["images"]] == ["s1_mip.jpg"]
    for name in ("s1_10_coronal_pet.png", "s1_10_coronal_ct.png", "s1_5_axial.jpg", "s1_mip.jpg"):
        assert (out / name).stat().st_size > 100


def test_default_slices_fall_back_to_fractions_on_small_grids(tmp_path):
    folder = _study(tmp_path)
    rec = render_study(folder, tmp_path / "v")
    assert rec["selection"]["by"] == "fraction" and rec["selection"]["fractions"] == [0.4, 0.5, 0.6]
    assert "posterior" in rec["selection"]["measured_from"]


def test_cli_render_single_and_batch(tmp_path, capsys):
    s1 = _study(tmp_path / "studies", "s1")
    _study(tmp_path / "studies", "s2", with_ct=False)
    bad = tmp_path / "studies" / "s3"
    bad.mkdir()
    (bad / "study.json").write_text('{"study_id": "s3"}')  # no PET file
    rc = main(["render", str(s1), "--out", str(tmp_path / "one"), "--slices", "10,12", "--format", "png",
               "--size", "40x36", "--ct-window", "1500,-600"])
    assert rc == 0
    rec = json.loads((tmp_path / "one" / "views.json").read_text())
    assert [i["file"] for i in rec["images"]] == ["s1_10_coronal.png", "s1_12_coronal.png"]
    assert rec["images"][0]["size_px"] == [40, 36] and rec["ct_window"] == [1500.0, -600.0]
    capsys.readouterr()
    rc = main(["render", str(tmp_path / "studies"), "--out", str(tmp_path / "many"), "--fractions", "0.5"])
    err = capsys.readouterr().err
    assert rc == 1
    assert (tmp_path / "many" / "s1" / "views.json").exists() and (tmp_path / "many" / "s2" / "views.json").exists()
    assert not (tmp_path / "many" / "s3").exists() or not (tmp_path / "many" / "s3" / "views.json").exists()
    lines = [ln for ln in err.splitlines() if "s3" in ln]
    assert len(lines) == 1 and "pet_suv.nii.gz" in lines[0]
    rc = main(["render", str(s1), "--out", str(tmp_path / "x"), "--slices", "99"])
    err = capsys.readouterr().err
    assert rc == 2 and "out of range" in err and len(err.strip().splitlines()) == 1
