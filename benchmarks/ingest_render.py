"""Benchmark: NIfTI ingest + fused coronal rendering, against the naive way and the decompression floor.

Run:  python benchmarks/ingest_render.py [--repeats 3] [--cache DIR]

It builds (once, cached) a whole-body-sized phantom the way autoPET ships it: PET 200x200x300 float32 SUV
and CT 512x512x300 int16 HU, gzip NIfTI written by nibabel with its default compression, with body
outline, fat, lungs, bones, organs, smooth textures and mild noise (so the gzip ratio is realistic).
The CT has its own finer grid, a flipped (LPS-like) affine and an offset origin. Then it times, best of N:

  naive      SimpleITK ReadImage PET and CT, Resample the whole CT onto the PET grid, slice coronal
             90/100/110, colour (hot over grey) and save JPEGs (the reading share is reported too)
  floor      only inflating the two files (zlib and ISA-L one-shot inflate)
  pet2rep    ingest_nifti + render_study fused 90/100/110, from scratch
  re-render  render_study again from the ingested study folder

Targets: pet2rep >= 3x faster than naive and within 1.5x of the (ISA-L) floor; re-render well under 0.5 s.
"""

from __future__ import annotations

import argparse
import gzip
import shutil
import tempfile
import time
import zlib
from pathlib import Path

import numpy as np

PET_SHAPE = (200, 200, 300)
PET_ZOOMS = (4.0, 4.0, 2.92)  # 300 * 2.92 / 4 = 219 rows: the demo's 200x219 coronal images
CT_SHAPE = (512, 512, 300)
CT_ZOOMS = (0.9765625, 0.9765625, 2.92)
SLICES = (90, 100, 110)

# label -> (CT HU, PET SUV)
TISSUES = {
    0: (-1000.0, 0.0),  # air
    1: (-100.0, 0.45),  # subcutaneous fat
    2: (45.0, 0.9),  # soft tissue / muscle
    3: (-830.0, 0.45),  # lung
    4: (40.0, 3.2),  # heart
    5: (60.0, 2.3),  # liver
    6: (50.0, 1.9),  # spleen
    7: (30.0, 3.0),  # kidney
    8: (10.0, 16.0),  # bladder
    9: (35.0, 8.5),  # brain
    10: (950.0, 0.6),  # cortical bone (skull, ribs, pelvis, femur)
    11: (350.0, 1.6),  # vertebrae (marrow)
    12: (45.0, 9.0),  # lesions
    13: (20.0, 2.2),  # bowel
}


def _profile(z: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Body semi-axes (L-R, A-P) in mm along z (mm, RAS)."""
    zs = np.array([-440, -330, -300, -250, -50, 150, 195, 215, 250, 270, 330, 400, 425, 440], float)
    ax = np.array([140, 175, 180, 175, 160, 175, 150, 55, 55, 72, 78, 60, 1, 1], float)
    ay = np.array([90, 100, 110, 110, 118, 110, 95, 55, 60, 90, 98, 75, 1, 1], float)
    return np.interp(z, zs, ax), np.interp(z, zs, ay)


def _ell(x, y, z, c, r):
    return ((x - c[0]) / r[0]) ** 2 + ((y - c[1]) / r[1]) ** 2 + ((z - c[2]) / r[2]) ** 2


def _labels_slice(x: np.ndarray, y: np.ndarray, z: float) -> np.ndarray:
    """Tissue labels on one axial plane; x, y are world (RAS mm) coordinate grids."""
    lab = np.zeros(x.shape, np.uint8)
    ax, ay = _profile(np.array([z]))
    ax, ay = float(ax[0]), float(ay[0])
    if z < -330:  # thighs
        body = np.minimum(((np.abs(x) - 90) / 70) ** 2 + (y / 80) ** 2, 9.0)
        inner = ((np.abs(x) - 90) / 55) ** 2 + (y / 65) ** 2
    else:
        body = (x / ax) ** 2 + (y / ay) ** 2
        inner = (x / max(ax - 14, 1)) ** 2 + (y / max(ay - 14, 1)) ** 2
    lab[body <= 1] = 1
    lab[inner <= 1] = 2
    zz = np.float64(z)
    objects = [
        (3, (75, 0, 110), (55, 70, 100)),
        (3, (-75, 0, 110), (55, 70, 100)),
        (4, (-15, 35, 50), (55, 45, 45)),
        (5, (70, 10, -20), (85, 75, 65)),
        (6, (-95, -35, -15), (35, 32, 45)),
        (13, (0, 30, -170), (110, 60, 70)),
        (7, (75, -45, -95), (28, 25, 50)),
        (7, (-75, -45, -95), (28, 25, 50)),
        (8, (0, 25, -290), (42, 35, 30)),
    ]
    for label, c, r in objects:
        if abs(z - c[2]) < r[2]:
            lab[_ell(x, y, zz, c, r) <= 1] = label
    if 250 < z < 420:  # skull and brain
        shell = _ell(x, y, zz, (0, 0, 335), (76, 93, 84))
        lab[shell <= 1] = 10
        lab[_ell(x, y, zz, (0, 0, 335), (68, 85, 76)) <= 1] = 9
    if 0 < z < 185:  # ribs: a ring cut into bands along z
        if np.sin(z / 9.0) > 0.3:
            ring = (x / (ax - 16)) ** 2 + (y / (ay - 16)) ** 2
            lab[(ring <= 1) & (ring > 0.84)] = 10
    if -270 < z < 240:  # spine with discs
        spine = ((x / 20) ** 2 + ((y + 78) / 18) ** 2) <= 1
        lab[spine] = 11 if (z % 32) > 6 else 2
    if -330 < z < -230:  # pelvic bones
        for sx in (1, -1):
            e = _ell(x, y, zz, (sx * 100, -20, -280), (45, 55, 50))
            lab[(e <= 1) & (e > 0.7)] = 10
    if z < -300:  # femurs
        for sx in (1, -1):
            lab[((x - sx * 90) ** 2 + y**2) <= 14**2] = 10
    for c in ((45, 15, 125), (-60, 5, -185), (0, -78, -140), (-40, 40, 230)):  # lesions
        if abs(z - c[2]) < 12:
            lab[_ell(x, y, zz, c, (12, 12, 12)) <= 1] = 12
    return lab


def _texture(x, y, z, rng_seed: int) -> np.ndarray:
    """Smooth texture in [-1, 1]: a few plane waves with fixed random directions and phases."""
    rng = np.random.default_rng(rng_seed)
    out = np.zeros(x.shape, np.float32)
    for _ in range(4):
        k = rng.normal(size=3)
        k *= rng.uniform(0.04, 0.12) / np.linalg.norm(k)
        out += np.sin(k[0] * x + k[1] * y + (k[2] * z + rng.uniform(0, 6.28))).astype(np.float32)
    return out / 4


def grid_affine(shape, zooms, flip_xy: bool, shift=(0.0, 0.0, 0.0)) -> np.ndarray:
    """Affine of a grid centred on the world origin (plus `shift`), optionally with x and y flipped."""
    sign = np.array([-1.0 if flip_xy else 1.0, -1.0 if flip_xy else 1.0, 1.0])
    aff = np.eye(4)
    aff[:3, :3] = np.diag(sign * np.asarray(zooms))
    centre = (np.asarray(shape) - 1) / 2.0
    aff[:3, 3] = np.asarray(shift) - aff[:3, :3] @ centre
    return aff


def build_phantom(cache: Path) -> tuple[Path, Path]:
    """Write (once) SUV.nii.gz and CTres-like CT.nii.gz under `cache`; returns their paths."""
    import nibabel as nib
    from scipy import ndimage

    cache.mkdir(parents=True, exist_ok=True)
    pet_path, ct_path = cache / "SUV.nii.gz", cache / "CT.nii.gz"
    if pet_path.exists() and ct_path.exists():
        return pet_path, ct_path
    t0 = time.perf_counter()
    rng = np.random.default_rng(7)
    ct_hu = np.array([TISSUES[k][0] for k in range(len(TISSUES))], np.float32)
    pet_suv = np.array([TISSUES[k][1] for k in range(len(TISSUES))], np.float32)

    pet_aff = grid_affine(PET_SHAPE, PET_ZOOMS, flip_xy=False)
    ct_aff = grid_affine(CT_SHAPE, CT_ZOOMS, flip_xy=True, shift=(3.0, -5.0, 1.46))

    def plane_xy(aff, shape):
        i, j = np.meshgrid(np.arange(shape[0]), np.arange(shape[1]), indexing="ij")
        x = aff[0, 0] * i + aff[0, 1] * j + aff[0, 3]
        y = aff[1, 0] * i + aff[1, 1] * j + aff[1, 3]
        return x.astype(np.float32), y.astype(np.float32)

    # PET
    px, py = plane_xy(pet_aff, PET_SHAPE)
    pet = np.zeros(PET_SHAPE, np.float32, order="F")
    for k in range(PET_SHAPE[2]):
        z = float(pet_aff[2, 2] * k + pet_aff[2, 3])
        lab = _labels_slice(px, py, z)
        val = pet_suv[lab] * (1 + 0.15 * _texture(px, py, z, 1))
        pet[:, :, k] = val
    pet = ndimage.gaussian_filter(pet, sigma=(1.0, 1.0, 1.2))
    body = pet > 0.05
    noise = rng.normal(0, 1, PET_SHAPE).astype(np.float32)
    pet = np.where(body, pet * (1 + 0.12 * noise) + 0.03 * noise, 0).astype(np.float32)
    # reconstruction background: small non-negative values inside the scanner's circular field of view
    fov = ((px**2 + py**2) <= 330.0**2)[:, :, None]
    pet += np.where(fov & ~body, 0.015 * rng.normal(0, 1, PET_SHAPE).astype(np.float32), 0)
    np.maximum(pet, 0, out=pet)
    img = nib.Nifti1Image(np.asfortranarray(pet), pet_aff)
    img.set_qform(pet_aff, code=1)
    img.set_sform(pet_aff, code=1)
    nib.save(img, str(pet_path))
    del pet, noise, body

    # CT
    cx, cy = plane_xy(ct_aff, CT_SHAPE)
    ct = np.empty(CT_SHAPE, np.int16, order="F")
    for k in range(CT_SHAPE[2]):
        z = float(ct_aff[2, 2] * k + ct_aff[2, 3])
        lab = _labels_slice(cx, cy, z)
        val = ct_hu[lab] + np.where(lab > 0, 18.0 * _texture(cx, cy, z, 2), 0)
        val += rng.normal(0, 1, val.shape).astype(np.float32) * np.where(lab > 0, 12.0, 4.0)
        ct[:, :, k] = np.clip(np.rint(val), -1024, 3071).astype(np.int16)
    img = nib.Nifti1Image(ct, ct_aff)
    img.set_qform(ct_aff, code=1)
    img.set_sform(ct_aff, code=1)
    img.header.set_slope_inter(1.0, 0.0)
    nib.save(img, str(ct_path))
    print(f"built phantom in {time.perf_counter() - t0:.1f} s under {cache}")
    return pet_path, ct_path


# ------------------------------------------------------------------------------------------ methods


def _hot(x: np.ndarray) -> np.ndarray:
    r = np.clip(x / 0.375, 0, 1)
    g = np.clip((x - 0.375) / 0.375, 0, 1)
    b = np.clip((x - 0.75) / 0.25, 0, 1)
    return np.stack([r, g, b], -1)


def naive(pet_path: Path, ct_path: Path, out: Path) -> tuple[float, float]:
    """SimpleITK: read both, resample the whole CT onto the PET grid, slice, colour, save. (total, read)."""
    import SimpleITK as sitk
    from PIL import Image

    t0 = time.perf_counter()
    pet = sitk.ReadImage(str(pet_path))
    ct = sitk.ReadImage(str(ct_path))
    t_read = time.perf_counter() - t0
    ct_on_pet = sitk.Resample(ct, pet, sitk.Transform(), sitk.sitkLinear, -1024.0, sitk.sitkFloat32)
    p = sitk.GetArrayFromImage(pet)  # (z, y, x) in the file's own index order
    c = sitk.GetArrayFromImage(ct_on_pet)
    out.mkdir(parents=True, exist_ok=True)
    for idx in SLICES:
        ps = p[::-1, idx, :]  # head at the top
        cs = c[::-1, idx, :]
        grey = np.clip((cs - (40 - 200)) / 400, 0, 1)[..., None]
        rgb = 0.5 * grey + 0.5 * _hot(np.clip(ps / 10, 0, 1))
        im = Image.fromarray((rgb * 255).astype(np.uint8)).resize((200, 219), Image.BILINEAR)
        im.save(out / f"naive_{idx}_coronal.jpg", quality=90)
    return time.perf_counter() - t0, t_read


def floor_zlib(pet_path: Path, ct_path: Path) -> float:
    t0 = time.perf_counter()
    for p in (pet_path, ct_path):
        zlib.decompress(p.read_bytes(), 31)
    return time.perf_counter() - t0


def floor_isal(pet_path: Path, ct_path: Path) -> float:
    from isal import igzip

    t0 = time.perf_counter()
    for p in (pet_path, ct_path):
        igzip.decompress(p.read_bytes())
    return time.perf_counter() - t0


def inflate_ct_only(path: Path) -> float:
    from pet2rep.study import _inflate_to_array

    t0 = time.perf_counter()
    _inflate_to_array(path)
    return time.perf_counter() - t0


def pet2rep_scratch(pet_path: Path, ct_path: Path, work: Path) -> float:
    from pet2rep.ingest.nifti import ingest_nifti
    from pet2rep.render import render_study

    if work.exists():
        shutil.rmtree(work)
    t0 = time.perf_counter()
    study = ingest_nifti(pet_path, ct_path, work / "study", study_id="bench")
    render_study(study, work / "views", mode="fused", slices=list(SLICES))
    return time.perf_counter() - t0


def pet2rep_rerender(study: Path, views: Path) -> float:
    from pet2rep.render import render_study

    t0 = time.perf_counter()
    render_study(study, views, mode="fused", slices=list(SLICES))
    return time.perf_counter() - t0


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--repeats", type=int, default=3, help="best of N (N >= 3)")
    ap.add_argument("--cache", type=Path, default=Path(tempfile.gettempdir()) / "pet2rep-bench-phantom")
    args = ap.parse_args(argv)
    n = max(3, args.repeats)
    pet_path, ct_path = build_phantom(args.cache)
    raw = {p.name: (p.stat().st_size, len(gzip.GzipFile(p).read(352))) for p in (pet_path, ct_path)}
    pet_raw = int(np.prod(PET_SHAPE)) * 4
    ct_raw = int(np.prod(CT_SHAPE)) * 2
    print(
        f"phantom: PET {PET_SHAPE} float32 {raw['SUV.nii.gz'][0] / 2**20:.1f} MiB gz "
        f"(ratio {raw['SUV.nii.gz'][0] / pet_raw:.2f}); CT {CT_SHAPE} int16 {raw['CT.nii.gz'][0] / 2**20:.1f} MiB gz "
        f"(ratio {raw['CT.nii.gz'][0] / ct_raw:.2f})"
    )
    work = Path(tempfile.mkdtemp(prefix="pet2rep-bench-", dir=args.cache))
    try:
        for p in (pet_path, ct_path):  # warm the page cache
            p.read_bytes()
        nv = [naive(pet_path, ct_path, work / "naive") for _ in range(n)]
        t_naive = min(t for t, _ in nv)
        t_read = min(r for _, r in nv)
        t_zlib = min(floor_zlib(pet_path, ct_path) for _ in range(n))
        t_isal = min(floor_isal(pet_path, ct_path) for _ in range(n))
        t_ours = min(pet2rep_scratch(pet_path, ct_path, work / "ours") for _ in range(n))
        t_re = min(pet2rep_rerender(work / "ours" / "study", work / "rerender") for _ in range(n))
    finally:
        shutil.rmtree(work, ignore_errors=True)
    rows = [
        ("naive SimpleITK (read+resample+slice)", t_naive),
        ("  of which SimpleITK reading", t_read),
        ("floor: inflate both (zlib)", t_zlib),
        ("floor: inflate both (isal)", t_isal),
        ("pet2rep ingest + render (scratch)", t_ours),
        ("pet2rep re-render from study", t_re),
    ]
    print(f"\n{'method':<40} {'s/study':>8} {'x vs naive':>11} {'x vs floor':>11}")
    for name, t in rows:
        print(f"{name:<40} {t:8.3f} {t_naive / t:10.2f}x {t / t_isal:10.2f}x")
    ok1 = t_naive / t_ours >= 3.0
    ok2 = t_ours / t_isal <= 1.5
    ok3 = t_re < 0.5
    print(
        f"\ntargets: >=3x faster than naive: {t_naive / t_ours:.2f}x {'PASS' if ok1 else 'FAIL'}; "
        f"within 1.5x of the isal floor: {t_ours / t_isal:.2f}x {'PASS' if ok2 else 'FAIL'}; "
        f"re-render < 0.5 s: {t_re:.3f} s {'PASS' if ok3 else 'FAIL'}"
    )
    if not ok1:
        t_ct = min(inflate_ct_only(ct_path) for _ in range(n))
        print(
            f"note: here the naive way is only {t_naive / t_isal:.2f}x the isal floor (SimpleITK's reader "
            f"inflates faster than Python's zlib and its Resample runs on all cores), so 3x faster than naive "
            f"means {t_naive / 3:.3f} s = {t_naive / 3 / t_isal:.2f}x the floor. Inflating the CT's single gzip "
            f"stream alone (it cannot be split across threads), straight into its final buffer, takes "
            f"{t_ct:.3f} s = {t_naive / t_ct:.2f}x faster than naive: no reader of these files can do better."
        )
    return 0 if (ok1 and ok2 and ok3) else 1


if __name__ == "__main__":
    raise SystemExit(main())
