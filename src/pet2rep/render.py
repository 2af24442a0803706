"""Render model-ready views of a study: fused / separate coronal slices, a PET MIP, axial slices.

    pet2rep render STUDY_DIR --out VIEWS_DIR [--mode fused|separate|mip|axial]
                   [--slices 90,100,110 | --fractions 0.4,0.5,0.6] [--format jpg|png]
                   [--suv-window 0,10] [--ct-window 400,40] [--alpha 0.5] [--size WxH] [--prefix NAME]

STUDY_DIR may also be a folder of study folders: each is rendered into VIEWS_DIR/<study_id>/; a study that
fails prints one line and the others go on.

Conventions (whatever the orientation of the input arrays; the affine decides flips and transposes):
- Slice indices are PET-grid indices along the PET array axis closest to anterior-posterior (coronal) or
  superior-inferior (axial), in the array's own order, exactly what `data[:, idx, :]` picks on an
  autoPET/RAS NIfTI. Default coronal slices: 90, 100, 110 (the PET2Rep demo); on a grid too small for
  them the default becomes fractions 0.4, 0.5, 0.6. Default axial: fractions 0.3, 0.5, 0.7.
- Fractions are positions within the body's extent (body = CT > -500 HU or PET > 0.3 SUV) measured along
  the RAS+ direction: 0 = the body's posterior edge for coronal planes, its inferior edge for axial ones;
  1 = anterior / superior edge.
- Display: head at the top (coronal, MIP), anterior at the top (axial), radiological convention
  (the patient's right on the viewer's left).
- Pixels are square in mm: one pixel = the PET voxel size along left-right, so the default image is
  (PET left-right voxels) wide; the benchmark/demo grid (200 x 200 x 300, 4 x 4 x 2.92 mm) gives
  200 x 219 px like the demo JPEGs. `--size WxH` samples straight at the requested size instead.
- The CT is sampled on the PET plane's pixels only (world mm -> CT voxels -> linear interpolation); the
  CT volume is never resampled as a whole. Outside the CT's field of view counts as air (-1024 HU).
- Fused = (1 - alpha) * grey CT + alpha * hot PET. Hot map: black -> red (0..3/8) -> yellow (..3/4) ->
  white. MIP: inverted grey (black = hot) over the SUV window.

Files: fused `{prefix}_{index}_coronal.{fmt}` (as the demo's `demo_90_coronal.jpg`), separate
`{prefix}_{index}_coronal_pet.{fmt}` + `..._ct.{fmt}`, axial `{prefix}_{index}_axial.{fmt}`, MIP
`{prefix}_mip.{fmt}`, and `views.json` saying how each image was made. Writes are atomic.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from .errors import InputError
from .io import ID_RULE, atomic_open, atomic_write_json, check_id, id_problem, safe_join
from .study import (
    CT_FILE,
    PET_FILE,
    Study,
    Volume,
    read_nifti_raw,
    read_study,
)

MODES = ("fused", "separate", "mip", "axial")
DEFAULT_SLICES = (90, 100, 110)
DEFAULT_FRACTIONS = (0.4, 0.5, 0.6)
DEFAULT_AXIAL_FRACTIONS = (0.3, 0.5, 0.7)
BODY_CT_HU = -500.0
BODY_PET_SUV = 0.3
AIR_HU = -1024.0
VIEWS_FILE = "views.json"
MAX_SIZE = 8192  # image size limit per side (pixels)
_WORLD = {"lr": 0, "ap": 1, "si": 2}  # RAS+ world axes


@dataclass
class View:
    """One rendered image: `image` is H x W x 3 uint8 RGB, already in display orientation."""

    kind: str  # fused | pet | ct | mip
    plane: str  # coronal | axial
    index: int | None  # PET-grid index of the plane (None for a MIP)
    position_mm: float | None  # RAS world coordinate of the plane along its normal (y for coronal, z for axial)
    image: np.ndarray
    fraction: float | None = None

    @property
    def size_px(self) -> list[int]:
        """[width, height] in pixels."""
        return [int(self.image.shape[1]), int(self.image.shape[0])]


@dataclass
class _CT:
    """CT as stored: raw values plus the NIfTI scaling, applied only to sampled voxels."""

    data: np.ndarray
    affine: np.ndarray
    slope: float | None = None
    inter: float | None = None

    @property
    def zooms(self) -> np.ndarray:
        """Voxel sizes in mm (nibabel's, from the affine)."""
        from nibabel.affines import voxel_sizes

        return voxel_sizes(self.affine)

    def hu(self, raw: np.ndarray) -> np.ndarray:
        raw = raw.astype(np.float32, copy=False)
        if self.slope is not None:
            raw = raw * np.float32(self.slope) + np.float32(self.inter or 0.0)
        return raw


@dataclass
class _Info:
    plane: str
    selection: dict[str, Any] = field(default_factory=dict)


# ------------------------------------------------------------------------------------ colour maps


def hot(x: np.ndarray) -> np.ndarray:
    """Hot colour map of values in [0, 1] -> float32 RGB in [0, 1] (black, red, yellow, white)."""
    x = np.asarray(x, np.float32)
    rgb = np.empty(x.shape + (3,), np.float32)
    np.clip(x * (8.0 / 3.0), 0.0, 1.0, out=rgb[..., 0])
    np.clip((x - 0.375) * (8.0 / 3.0), 0.0, 1.0, out=rgb[..., 1])
    np.clip((x - 0.75) * 4.0, 0.0, 1.0, out=rgb[..., 2])
    return rgb


def _window(values: np.ndarray, lo: float, hi: float) -> np.ndarray:
    return np.clip((values - np.float32(lo)) / np.float32(max(hi - lo, 1e-6)), 0.0, 1.0)


def _grey(x: np.ndarray) -> np.ndarray:
    return np.repeat(x[..., None], 3, axis=-1)


def _to_uint8(rgb: np.ndarray) -> np.ndarray:
    return np.rint(np.clip(rgb, 0.0, 1.0) * 255.0).astype(np.uint8)


# ------------------------------------------------------------------------------------ geometry


def _orientation(affine: np.ndarray) -> tuple[dict[str, int], dict[str, float]]:
    """Array axis closest to each RAS world axis, and whether that array axis runs toward R/A/S (+1) or not."""
    from nibabel.orientations import io_orientation

    ornt = io_orientation(affine)
    if np.isnan(ornt).any():
        raise InputError("image affine is degenerate (cannot tell left/right, front/back, head/feet)")
    axis: dict[str, int] = {}
    sign: dict[str, float] = {}
    for name, world in _WORLD.items():
        arr = int(np.nonzero(ornt[:, 0] == world)[0][0])
        axis[name] = arr
        sign[name] = float(ornt[arr, 1])
    return axis, sign


def _display_coords(n: int, count: int, top_is_high: bool) -> np.ndarray:
    """Fractional array indices for `count` output pixels spanning `n` voxels; pixel 0 at the high end if asked."""
    s = (np.arange(count, dtype=np.float64) + 0.5) * (n / count) - 0.5
    return (n - 1) - s if top_is_high else s


def _plane_grid(
    pet: Volume, normal: str, index: float, size: tuple[int, int] | None
) -> tuple[np.ndarray, tuple[int, int]]:
    """PET voxel coordinates (3, H, W) of the display pixels of a coronal (normal 'ap') or axial ('si') plane."""
    axis, sign = _orientation(pet.affine)
    zooms = pet.zooms
    shape = pet.shape
    row_name = "si" if normal == "ap" else "ap"  # rows: superior->inferior, or anterior->posterior
    r_ax, c_ax, n_ax = axis[row_name], axis["lr"], axis[normal]
    if size is None:
        width = shape[c_ax]
        height = max(1, int(round(shape[r_ax] * zooms[r_ax] / zooms[c_ax])))
    else:
        width, height = size
    rows = _display_coords(shape[r_ax], height, top_is_high=sign[row_name] > 0)
    cols = _display_coords(shape[c_ax], width, top_is_high=sign["lr"] > 0)  # patient's right on the left
    coords = np.empty((3, height, width), np.float64)
    coords[n_ax] = index
    coords[r_ax] = rows[:, None]
    coords[c_ax] = cols[None, :]
    return coords, (width, height)


def _sample2d(plane: np.ndarray, coords2: np.ndarray) -> np.ndarray:
    from scipy.ndimage import map_coordinates

    out = map_coordinates(plane, coords2, order=1, mode="nearest", output=np.float32)
    out[~np.isfinite(out)] = 0.0  # NaN/inf voxels draw as background
    return out


def _sample_ct(ct: _CT, pet_affine: np.ndarray, coords: np.ndarray) -> np.ndarray:
    """CT in HU at PET voxel coordinates `coords` (3, ...): world mm -> CT voxels -> trilinear, only these points."""
    from scipy.ndimage import map_coordinates

    m = np.linalg.inv(ct.affine) @ pet_affine
    pts = np.tensordot(m[:3, :3], coords, axes=1) + m[:3, 3].reshape((3,) + (1,) * (coords.ndim - 1))
    raw = map_coordinates(ct.data, pts, order=1, mode="constant", cval=np.nan, output=np.float32)
    hu = ct.hu(raw)
    hu[np.isnan(hu)] = AIR_HU
    return hu


def _plane_position(pet: Volume, normal: str, index: int) -> float:
    """World coordinate (mm, RAS) along the plane normal of the centre of PET plane `index`."""
    axis, _ = _orientation(pet.affine)
    centre = (np.asarray(pet.shape, np.float64) - 1) / 2
    centre[axis[normal]] = index
    return float((pet.affine[:3, :3] @ centre + pet.affine[:3, 3])[_WORLD[normal]])


def _body_range(pet: Volume, ct: _CT | None, normal: str) -> tuple[float, float]:
    """Extent of the body (CT > -500 HU or PET > 0.3 SUV) along the PET axis of `normal`, in PET index units."""
    axis, _ = _orientation(pet.affine)
    a = axis[normal]
    n = pet.shape[a]
    others = tuple(i for i in range(3) if i != a)
    hit = np.nonzero((pet.data > BODY_PET_SUV).any(axis=others))[0]
    lo, hi = (float(hit[0]), float(hit[-1])) if hit.size else (np.inf, -np.inf)
    if ct is not None:
        step = [max(1, int(round(4.0 / z))) for z in ct.zooms]
        sub = ct.data[:: step[0], :: step[1], :: step[2]]
        ijk = np.nonzero(ct.hu(sub) > BODY_CT_HU)
        if ijk[0].size:
            vox = np.stack([ijk[d] * step[d] for d in range(3)]).astype(np.float64)
            m = np.linalg.inv(pet.affine) @ ct.affine
            p = m[:3, :3] @ vox + m[:3, 3:4]
            inside = np.all((p > -0.5) & (p < np.asarray(pet.shape)[:, None] - 0.5), axis=0)
            if inside.any():
                lo = min(lo, float(p[a, inside].min()))
                hi = max(hi, float(p[a, inside].max()))
    if not np.isfinite(lo):
        lo, hi = 0.0, float(n - 1)  # no body found: use the whole grid
    return max(lo, 0.0), min(hi, float(n - 1))


def _select_planes(
    pet: Volume, ct: _CT | None, normal: str, slices: Any, fractions: Any
) -> tuple[list[tuple[int, float | None]], dict[str, Any]]:
    """Plane indices to draw (with their fraction, if any) and a record of how they were chosen."""
    axis, sign = _orientation(pet.affine)
    n = pet.shape[axis[normal]]
    plane = "coronal" if normal == "ap" else "axial"
    if slices is not None and fractions is not None:
        raise InputError("give slices= or fractions=, not both")
    selection: dict[str, Any]
    if slices is None and fractions is None:
        if normal == "ap" and max(DEFAULT_SLICES) < n:
            slices = list(DEFAULT_SLICES)
        else:
            fractions = list(DEFAULT_FRACTIONS if normal == "ap" else DEFAULT_AXIAL_FRACTIONS)
    if slices is not None:
        out: list[tuple[int, float | None]] = []
        for s in slices:
            if int(s) != s or not 0 <= int(s) < n:
                raise InputError(
                    f"{plane} slice index {s} out of range 0..{n - 1} (PET grid {'x'.join(map(str, pet.shape))})"
                )
            out.append((int(s), None))
        return out, {"by": "index", "slices": [i for i, _ in out]}
    fr = [float(f) for f in fractions]
    for f in fr:
        if not 0.0 <= f <= 1.0:
            raise InputError(f"fraction {f:g} out of range 0..1")
    lo, hi = _body_range(pet, ct, normal)
    out = []
    # work in "steps towards anterior/superior" so that flipped storage picks the same world plane
    u_lo, u_hi = (lo, hi) if sign[normal] > 0 else (n - 1 - hi, n - 1 - lo)
    for f in fr:
        u = int(np.clip(np.floor(u_lo + f * (u_hi - u_lo) + 0.5), 0, n - 1))
        out.append((u if sign[normal] > 0 else n - 1 - u, f))
    edges = ("posterior", "anterior") if normal == "ap" else ("inferior", "superior")
    ends = sorted([_plane_position(pet, normal, int(round(lo))), _plane_position(pet, normal, int(round(hi)))])
    selection = {
        "by": "fraction",
        "fractions": fr,
        "slices": [i for i, _ in out],
        "measured_from": f"{edges[0]} edge (0) to {edges[1]} edge (1) of the body",
        "body": f"CT > {BODY_CT_HU:g} HU or PET > {BODY_PET_SUV:g} SUV",
        "body_extent_mm": [round(ends[0], 2), round(ends[1], 2)],
    }
    return out, selection


# ------------------------------------------------------------------------------------ rendering


def _check_windows(suv_window: tuple[float, float], ct_window: tuple[float, float], alpha: float) -> None:
    if not suv_window[1] > suv_window[0]:
        raise InputError(f"SUV window {suv_window[0]:g},{suv_window[1]:g}: the upper value must be above the lower")
    if not ct_window[0] > 0:
        raise InputError(f"CT window width {ct_window[0]:g}: must be positive (give WIDTH,LEVEL)")
    if not 0.0 <= alpha <= 1.0:
        raise InputError(f"alpha {alpha:g}: must be within 0..1")


def _render(
    pet: Volume,
    ct: _CT | None,
    *,
    mode: str,
    slices: Any,
    fractions: Any,
    suv_window: tuple[float, float],
    ct_window: tuple[float, float],
    size: tuple[int, int] | None,
    alpha: float,
) -> tuple[list[View], _Info]:
    if mode not in MODES:
        raise InputError(f"unknown render mode {mode!r} (choose from {', '.join(MODES)})")
    if pet.data.ndim != 3:
        raise InputError(f"PET must be 3-D, got shape {pet.data.shape}")
    _check_windows(suv_window, ct_window, alpha)
    if size is not None and (size[0] < 1 or size[1] < 1):
        raise InputError(f"image size {size[0]}x{size[1]}: must be positive")
    if size is not None and max(size) > MAX_SIZE:
        raise InputError(f"image size {size[0]}x{size[1]}: at most {MAX_SIZE}x{MAX_SIZE} pixels")
    axis, _ = _orientation(pet.affine)
    ct_lo = ct_window[1] - ct_window[0] / 2.0
    ct_hi = ct_window[1] + ct_window[0] / 2.0

    if mode == "mip":
        if slices is not None or fractions is not None:
            raise InputError("slices= and fractions= do not apply to mode=mip")
        a = axis["ap"]
        proj = pet.data.max(axis=a)
        coords, _ = _plane_grid(pet, "ap", 0, size)
        vals = _sample2d(proj, np.delete(coords, a, axis=0))
        img = _to_uint8(_grey(1.0 - _window(vals, *suv_window)))
        return [View("mip", "coronal", None, None, img)], _Info("coronal", {"by": "projection", "axis": "ap"})

    normal = "si" if mode == "axial" else "ap"
    plane = "axial" if mode == "axial" else "coronal"
    chosen, selection = _select_planes(pet, ct, normal, slices, fractions)
    a = axis[normal]
    views: list[View] = []
    for idx, frac in chosen:
        coords, _ = _plane_grid(pet, normal, idx, size)
        pick: list[Any] = [slice(None)] * 3
        pick[a] = idx
        pet_plane = pet.data[tuple(pick)]  # a view: no copy of the PET
        suv = _sample2d(pet_plane, np.delete(coords, a, axis=0))
        pet_rgb = hot(_window(suv, *suv_window))
        ct_grey = _grey(_window(_sample_ct(ct, pet.affine, coords), ct_lo, ct_hi)) if ct is not None else None
        pos = _plane_position(pet, normal, idx)
        if mode == "separate":
            views.append(View("pet", plane, idx, pos, _to_uint8(pet_rgb), frac))
            if ct_grey is not None:
                views.append(View("ct", plane, idx, pos, _to_uint8(ct_grey), frac))
        else:
            rgb = pet_rgb if ct_grey is None else (1.0 - alpha) * ct_grey + alpha * pet_rgb
            views.append(View("fused", plane, idx, pos, _to_uint8(rgb), frac))
    return views, _Info(plane, selection)


def render_arrays(
    pet: Volume,
    ct: Volume | None = None,
    *,
    mode: str = "fused",
    slices: list[int] | None = None,
    fractions: list[float] | None = None,
    suv_window: tuple[float, float] = (0.0, 10.0),
    ct_window: tuple[float, float] = (400.0, 40.0),
    size: tuple[int, int] | None = None,
    alpha: float = 0.5,
) -> list[View]:
    """Render views from in-memory volumes (PET in SUV, CT in HU on any grid); no files involved.

    `ct_window` is (width, level) in HU, `suv_window` (low, high) in SUV, `size` (width, height) px.
    """
    ctv = None if ct is None else _CT(np.asarray(ct.data), np.asarray(ct.affine, np.float64))
    petv = Volume(np.asarray(pet.data), np.asarray(pet.affine, np.float64))
    views, _ = _render(
        petv, ctv, mode=mode, slices=slices, fractions=fractions, suv_window=tuple(suv_window),
        ct_window=tuple(ct_window), size=size, alpha=alpha,
    )
    return views


# ------------------------------------------------------------------------------------ files


def _view_file_name(prefix: str, view: View, fmt: str) -> str:
    if view.kind == "mip":
        return f"{prefix}_mip.{fmt}"
    suffix = "" if view.kind == "fused" else f"_{view.kind}"
    return f"{prefix}_{view.index}_{view.plane}{suffix}.{fmt}"


def save_image(image: np.ndarray, path: Path, fmt: str) -> None:
    """Write an RGB uint8 array as JPEG (quality 92) or PNG, atomically (no temporary file is left on error)."""
    from PIL import Image

    im = Image.fromarray(image)
    with atomic_open(path, "wb") as fh:
        if fmt == "png":
            im.save(fh, format="PNG")
        else:
            im.save(fh, format="JPEG", quality=92)


def _read_volumes(folder: Path) -> tuple[Volume, _CT | None]:
    """PET (float32 SUV) and CT (raw + scaling) of a study folder, both inflated concurrently."""
    from concurrent.futures import ThreadPoolExecutor

    pet_path, ct_path = folder / PET_FILE, folder / CT_FILE
    with ThreadPoolExecutor(max_workers=2) as pool:
        ct_future = pool.submit(read_nifti_raw, ct_path) if ct_path.exists() else None
        pdata, paff, pslope, pinter, _ = read_nifti_raw(pet_path)
        ct_raw = ct_future.result() if ct_future is not None else None
    if pslope is not None:
        pdata = pdata * np.float32(pslope) + np.float32(pinter)
    pet = Volume(pdata.astype(np.float32, copy=False), paff)
    ct = None if ct_raw is None else _CT(ct_raw[0], ct_raw[1], ct_raw[2], ct_raw[3])
    return pet, ct


def render_study(
    study_dir: str | os.PathLike | Study,
    out_dir: str | os.PathLike,
    *,
    mode: str = "fused",
    slices: list[int] | None = None,
    fractions: list[float] | None = None,
    fmt: str = "jpg",
    suv_window: tuple[float, float] = (0.0, 10.0),
    ct_window: tuple[float, float] = (400.0, 40.0),
    size: tuple[int, int] | None = None,
    prefix: str | None = None,
    alpha: float = 0.5,
) -> dict[str, Any]:
    """Render one study folder (or a Study with arrays) into `out_dir`; returns the views.json dict written there.

    The study id (and `prefix`) must be valid ids (`pet2rep.io.check_id`); every file is written through
    `safe_join(out_dir, name)`, so nothing lands outside `out_dir`.
    """

    from . import __version__

    fmt = {"jpeg": "jpg"}.get(fmt.lower(), fmt.lower())
    if fmt not in ("jpg", "png"):
        raise InputError(f"image format {fmt!r}: choose jpg or png")
    if mode not in MODES:
        raise InputError(f"unknown render mode {mode!r} (choose from {', '.join(MODES)})")
    _check_windows(tuple(suv_window), tuple(ct_window), alpha)
    if isinstance(study_dir, Study):
        if study_dir.pet is None:
            raise InputError(f"study {study_dir.study_id}: no PET loaded")
        study_id = check_id(study_dir.study_id, "study")
        pet = Volume(np.asarray(study_dir.pet.data, np.float32), np.asarray(study_dir.pet.affine, np.float64))
        ct = None if study_dir.ct is None else _CT(study_dir.ct.data, np.asarray(study_dir.ct.affine, np.float64))
    else:
        folder = Path(study_dir)
        study_id = read_study(folder, arrays=False).study_id
        pet, ct = _read_volumes(folder)
    views, info = _render(
        pet, ct, mode=mode, slices=slices, fractions=fractions, suv_window=tuple(suv_window),
        ct_window=tuple(ct_window), size=size, alpha=alpha,
    )
    check_prefix(prefix)
    prefix = prefix or study_id
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    images = []
    for v in views:
        name = _view_file_name(prefix, v, fmt)
        save_image(v.image, safe_join(out, name), fmt)
        rec: dict[str, Any] = {
            "file": name,
            "kind": v.kind,
            "plane": v.plane,
            "index": v.index,
            "position_mm": None if v.position_mm is None else round(v.position_mm, 3),
            "size_px": v.size_px,
        }
        if v.fraction is not None:
            rec["fraction"] = v.fraction
        images.append(rec)
    record: dict[str, Any] = {
        "study_id": study_id,
        "mode": mode,
        "plane": info.plane,
        "images": images,
        "selection": info.selection,
        "suv_window": [float(suv_window[0]), float(suv_window[1])],
        "ct_window": [float(ct_window[0]), float(ct_window[1])],
        "ct_window_meaning": "width,level (HU)",
        "colormap": "hot" if mode != "mip" else "gray_inverted",
        "alpha": float(alpha) if mode == "fused" and ct is not None else None,
        "format": fmt,
        "display": {
            "rows": "anterior->posterior" if mode == "axial" else "superior->inferior",
            "columns": "patient right->left (radiological)",
            "pixel_mm": round(float(pet.zooms[_orientation(pet.affine)[0]["lr"]]), 4) if size is None else None,
        },
        "pet": {"shape": list(pet.shape), "zooms_mm": [round(float(z), 4) for z in pet.zooms]},
        "ct": None if ct is None else {
            "shape": list(ct.data.shape),
            "zooms_mm": [round(float(z), 4) for z in ct.zooms],
            "sampling": "linear, PET plane pixels only",
        },
        "pet2rep_version": __version__,
    }
    atomic_write_json(safe_join(out, VIEWS_FILE), record)
    return record


def check_prefix(prefix: str | None) -> None:
    """An image-name prefix must be a plain name, with the syntax of a study id (`pet2rep.io.check_id`)."""
    if prefix is None:
        return
    problem = id_problem(prefix)
    if problem is not None:
        raise InputError(f"prefix={prefix[:80]!r}: must be a plain file-name prefix: it {problem} ({ID_RULE})")
