"""`pet2rep synth`: a synthetic whole-body FDG PET/CT cohort with ground-truth reports and labels.

Each study is an analytic phantom (ellipsoids, capsules, a gyroid bowel) painted on two grids:

* PET in SUVbw on a RAS+ grid of 4 mm voxels, 200 (i: L->R) x 200 (j: P->A) x 220 (k: I->S) by default,
  body centred at j = 100, the vertex near the top slice, down to the upper thighs; Poisson-like noise,
  then ~6 mm FWHM Gaussian resolution;
* CT in HU (int16) on its own, finer grid (2.73 mm in-plane, 5 mm slices, shifted origin).

Lesions (0-5 per study: nodes, lung nodules and masses, liver masses and cysts, bone metastases, ...)
are placed inside their organ in both images; the reports (zh, en) and the organ uptake labels are
written from the same lesion list, so they are ground truth. Wording, tissue values and lesion kinds
live in data/synth_phrases.yaml. Every random draw comes from the study seed: the same seed gives the
same bytes.
"""

from __future__ import annotations

import argparse
import math
import sys
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from functools import lru_cache
from pathlib import Path
from typing import Any

import numpy as np

from ..organs import ORGANS, STATES
from ..study import Study, Volume

PET_SHAPE = (200, 200, 220)
PET_VOXEL_MM = 4.0
CT_VOXEL_MM = (700.0 / 256, 700.0 / 256, 5.0)
PET_FWHM_MM = 6.0
FDG_HALF_LIFE_S = 6586.2
PHANTOM_VERSION = 1

# Label ids of the organ map: the 19 OUA organs first (1..19), then other tissues.
LABEL: dict[str, int] = {name: i + 1 for i, name in enumerate(ORGANS)}
for _i, _name in enumerate(
    ("air", "fat", "muscle", "blood", "heart", "airway", "bladder", "csf", "eye", "sinus", "visceral_fat"),
    start=32,
):
    LABEL[_name] = _i
LABEL["air"] = 0
SOFT = ("fat", "muscle", "visceral_fat")


# ----------------------------------------------------------------------------------------- data


@lru_cache(maxsize=1)
def phrases() -> dict[str, Any]:
    """The phrase tables, tissue values and lesion kinds (data/synth_phrases.yaml)."""
    from importlib import resources

    import yaml

    text = resources.files("pet2rep").joinpath("data/synth_phrases.yaml").read_text("utf-8")
    return yaml.safe_load(text)


# ----------------------------------------------------------------------------------------- grids


@dataclass
class Grid:
    """An axis-aligned voxel grid: mm = origin + zooms * index (RAS+, positive zooms)."""

    shape: tuple[int, int, int]
    origin: np.ndarray
    zooms: np.ndarray

    @property
    def affine(self) -> np.ndarray:
        a = np.diag([*self.zooms, 1.0]).astype(np.float64)
        a[:3, 3] = self.origin
        return a

    def window(self, lo: np.ndarray, hi: np.ndarray):
        """Index slices and 1-D coordinate vectors (broadcastable) of the voxels inside [lo, hi] mm."""
        i0 = np.ceil((np.asarray(lo) - self.origin) / self.zooms).astype(int)
        i1 = np.floor((np.asarray(hi) - self.origin) / self.zooms).astype(int) + 1
        i0 = np.maximum(i0, 0)
        i1 = np.minimum(i1, self.shape)
        if np.any(i1 <= i0):
            return None
        sl = tuple(slice(int(a), int(b)) for a, b in zip(i0, i1))
        xs = [
            (self.origin[d] + self.zooms[d] * np.arange(i0[d], i1[d])).reshape([-1 if e == d else 1 for e in range(3)])
            for d in range(3)
        ]
        return sl, xs

    def index(self, point_mm: Sequence[float]) -> tuple[int, int, int]:
        """Nearest voxel index of a point (clipped to the grid)."""
        ijk = np.rint((np.asarray(point_mm, float) - self.origin) / self.zooms).astype(int)
        return tuple(int(v) for v in np.clip(ijk, 0, np.asarray(self.shape) - 1))


# ----------------------------------------------------------------------------------------- shapes


class Shape:
    """An implicit solid: `inside(x, y, z)` on broadcastable coordinate vectors, `bounds()` in mm."""

    def bounds(self) -> tuple[np.ndarray, np.ndarray]:  # pragma: no cover - interface
        raise NotImplementedError

    def inside(self, x: np.ndarray, y: np.ndarray, z: np.ndarray) -> np.ndarray:  # pragma: no cover
        raise NotImplementedError


@dataclass
class Ellipsoid(Shape):
    center: np.ndarray
    radii: np.ndarray
    angle: float = 0.0  # rotation about z (radians), for pancreas, ilium, ...

    def bounds(self):
        c, r = np.asarray(self.center, float), np.asarray(self.radii, float)
        if self.angle:
            ca, sa = abs(math.cos(self.angle)), abs(math.sin(self.angle))
            r = np.array([ca * r[0] + sa * r[1], sa * r[0] + ca * r[1], r[2]])
        return c - r, c + r

    def inside(self, x, y, z):
        c, r = self.center, self.radii
        dx, dy, dz = x - c[0], y - c[1], z - c[2]
        if self.angle:
            ca, sa = math.cos(self.angle), math.sin(self.angle)
            dx, dy = ca * dx + sa * dy, -sa * dx + ca * dy
        return (dx / r[0]) ** 2 + (dy / r[1]) ** 2 + (dz / r[2]) ** 2 <= 1.0


@dataclass
class Capsule(Shape):
    """Points within `radius` of the segment a-b."""

    a: np.ndarray
    b: np.ndarray
    radius: float

    def bounds(self):
        a, b = np.asarray(self.a, float), np.asarray(self.b, float)
        return np.minimum(a, b) - self.radius, np.maximum(a, b) + self.radius

    def inside(self, x, y, z):
        a, b = np.asarray(self.a, float), np.asarray(self.b, float)
        d = b - a
        dd = float(d @ d) or 1.0
        px, py, pz = x - a[0], y - a[1], z - a[2]
        t = (px * d[0] + py * d[1] + pz * d[2]) * (1.0 / dd)
        np.clip(t, 0.0, 1.0, out=t)
        return (px - t * d[0]) ** 2 + (py - t * d[1]) ** 2 + (pz - t * d[2]) ** 2 <= self.radius**2


@dataclass
class Section(Shape):
    """A body section: in each axial plane an ellipse (rx, ry) centred (cx, cy), interpolated along z.

    `mirror` makes two ellipses at +-cx (the thighs)."""

    z: np.ndarray  # increasing
    rx: np.ndarray
    ry: np.ndarray
    cx: np.ndarray
    cy: np.ndarray
    mirror: bool = False

    def bounds(self):
        xmax = float(np.max(np.abs(self.cx) + self.rx))
        xmin = -xmax if self.mirror else float(np.min(self.cx - self.rx))
        return (
            np.array([xmin, float(np.min(self.cy - self.ry)), self.z[0]]),
            np.array([xmax, float(np.max(self.cy + self.ry)), self.z[-1]]),
        )

    def inside(self, x, y, z):
        zz = z.ravel()
        rx, ry = np.interp(zz, self.z, self.rx), np.interp(zz, self.z, self.ry)
        cx, cy = np.interp(zz, self.z, self.cx), np.interp(zz, self.z, self.cy)
        shape = (1, 1, -1)
        rx, ry, cx, cy = (v.reshape(shape) for v in (rx, ry, cx, cy))
        xx = np.abs(x) if self.mirror else x
        return ((xx - cx) / rx) ** 2 + ((y - cy) / ry) ** 2 <= 1.0


@dataclass
class Clip(Shape):
    """A shape cut to z in [zlo, zhi] (the gastric air cap, ...)."""

    shape: Shape
    zlo: float = -1e9
    zhi: float = 1e9

    def bounds(self):
        lo, hi = self.shape.bounds()
        return np.array([lo[0], lo[1], max(lo[2], self.zlo)]), np.array([hi[0], hi[1], min(hi[2], self.zhi)])

    def inside(self, x, y, z):
        return self.shape.inside(x, y, z) & (z >= self.zlo) & (z <= self.zhi)


@dataclass
class Rib(Shape):
    """A crude rib: a thin band of the chest-wall ellipse, sloping down anteriorly, open at the front."""

    z0: float
    rx: float
    ry: float
    cy: float
    width: float = 8.0
    height: float = 9.0
    slope: float = 0.45
    front: float = 0.55  # rib ends where y - cy > front * ry (costal cartilage, sternum)

    def bounds(self):
        dz = self.slope * 2 * self.ry + self.height
        return np.array([-self.rx, self.cy - self.ry, self.z0 - dz]), np.array(
            [self.rx, self.cy + self.front * self.ry, self.z0 + self.height]
        )

    def inside(self, x, y, z):
        rho = np.sqrt((x / self.rx) ** 2 + ((y - self.cy) / self.ry) ** 2)
        zr = self.z0 - self.slope * (y - (self.cy - self.ry))
        band = (rho <= 1.0) & (rho >= 1.0 - self.width / min(self.rx, self.ry))
        return band & (np.abs(z - zr) <= self.height / 2) & (y - self.cy <= self.front * self.ry)


# ----------------------------------------------------------------------------------------- canvas

Value = float | Callable[[np.ndarray, np.ndarray, np.ndarray], np.ndarray]


class Canvas:
    """A value array and an organ label map on one grid, painted shape by shape (later wins)."""

    def __init__(self, grid: Grid, fill: float) -> None:
        self.grid = grid
        self.data = np.full(grid.shape, fill, dtype=np.float32)
        self.label = np.zeros(grid.shape, dtype=np.uint8)

    def paint(self, shape: Shape, value: Value | None, label: int | None, within: Sequence[int] | None = None):
        win = self.grid.window(*shape.bounds())
        if win is None:
            return
        sl, (x, y, z) = win
        m = np.broadcast_to(shape.inside(x, y, z), tuple(s.stop - s.start for s in sl))
        if within is not None:
            lab = self.label[sl]
            m = m & np.isin(lab, np.asarray(within, dtype=np.uint8))
        if not m.any():
            return
        if value is not None:
            sub = self.data[sl]
            if callable(value):
                v = np.broadcast_to(value(x, y, z), m.shape)
                sub[m] = v[m]
            else:
                sub[m] = value
        if label is not None:
            self.label[sl][m] = label


# ----------------------------------------------------------------------------------------- phantom


@dataclass
class Op:
    """One paint operation: a shape, a tissue (name or (pet_fn, ct_fn)), a label, a label restriction."""

    shape: Shape
    tissue: str | tuple[Value, Value] | None
    label: str | None
    within: tuple[str, ...] | None = None


@dataclass
class Anatomy:
    """One patient's geometry and tissue values (mm, RAS+)."""

    ops: list[Op] = field(default_factory=list)
    tissue: dict[str, tuple[float, float]] = field(default_factory=dict)  # name -> (SUV, HU)
    landmarks: dict[str, Any] = field(default_factory=dict)
    body_lo: np.ndarray = field(default_factory=lambda: np.zeros(3))
    body_hi: np.ndarray = field(default_factory=lambda: np.zeros(3))

    def add(self, shape: Shape, tissue, label: str | None = None, within: tuple[str, ...] | None = None):
        self.ops.append(Op(shape, tissue, label, within))


def _smooth_1d(rng: np.random.Generator, lo: float, hi: float, step: float) -> tuple[np.ndarray, np.ndarray]:
    n = int((hi - lo) / step) + 3
    return lo - step + step * np.arange(n), rng.standard_normal(n)


class Texture:
    """A smooth, low-amplitude random field: a sum of separable products of interpolated 1-D noise."""

    def __init__(self, rng: np.random.Generator, lo: np.ndarray, hi: np.ndarray, step: float = 30.0, terms=3):
        self.knots = [[_smooth_1d(rng, lo[d] - 10, hi[d] + 10, step * (0.7 + 0.6 * rng.random())) for d in range(3)]
                      for _ in range(terms)]
        self.norm = 1.0 / math.sqrt(terms)

    def __call__(self, x, y, z) -> np.ndarray:
        out = None
        for kx, ky, kz in self.knots:
            fx = np.interp(x.ravel(), *kx).reshape(x.shape).astype(np.float32)
            fy = np.interp(y.ravel(), *ky).reshape(y.shape).astype(np.float32)
            fz = np.interp(z.ravel(), *kz).reshape(z.shape).astype(np.float32)
            term = fx * fy * fz
            out = term if out is None else out + term
        return out * np.float32(self.norm)


def _draw_tissues(rng: np.random.Generator, sex: str, age: float) -> dict[str, tuple[float, float]]:
    """Per-study SUV and HU of each tissue, drawn from the ranges of the data file."""
    out: dict[str, tuple[float, float]] = {}
    for name, spec in phrases()["tissues"].items():
        lo, hi = spec["suv"]
        suv = lo + (hi - lo) * rng.random()
        hu = float(spec["hu"]) + float(spec.get("hu_sd", 0)) * rng.standard_normal()
        out[name] = (float(suv), float(hu))
    if sex == "F" and age >= 52:  # post-menopausal: quiet endometrium and ovaries
        out["uterus"] = (1.6 + 0.4 * rng.random(), out["uterus"][1])
        out["ovary"] = (1.2 + 0.4 * rng.random(), out["ovary"][1])
    return out


def build_anatomy(rng: np.random.Generator, demo: dict[str, Any], z_top: float) -> Anatomy:
    """The patient's phantom: paint operations in order (later wins), tissues, landmarks for lesions."""
    an = Anatomy()
    sex, bmi = demo["sex"], demo["weight_kg"] / demo["height_m"] ** 2
    hs = float(np.clip((demo["height_m"] / (1.72 if sex == "M" else 1.62)) ** 0.5, 0.95, 1.04))
    ws = 1.0 if sex == "M" else 0.93  # lean width
    z_vertex = z_top - (6.0 + 8.0 * rng.random())
    fat = float(np.clip(4.0 + 2.3 * (bmi - 18.0), 4.0, 45.0)) * (1.15 if sex == "F" else 1.0)

    def P(x: float, y: float, s: float) -> np.ndarray:
        """Anatomical position: x, y in mm (lean-scaled), s = depth below the vertex at height 1.70 m."""
        return np.array([x * ws, y, z_vertex - s * hs])

    def R(rx: float, ry: float, rz: float, k: float = 1.0) -> np.ndarray:
        return np.array([rx * ws * k, ry * k, rz * hs * k])

    def E(x, y, s, rx, ry, rz, k=1.0, angle=0.0) -> Ellipsoid:
        return Ellipsoid(P(x, y, s), R(rx, ry, rz, k), angle)

    def C(p, q, r) -> Capsule:
        return Capsule(P(*p), P(*q), r)

    def Cyl(x, y, s, rx, ry, h) -> Section:
        """An upright elliptic cylinder of height h centred at depth s (vertebral bodies)."""
        z = np.array([P(x, y, s + h / 2)[2], P(x, y, s - h / 2)[2]])
        return Section(z, np.full(2, rx * ws), np.full(2, float(ry)), np.full(2, x * ws), np.full(2, float(y)))

    an.tissue = t = _draw_tissues(rng, sex, demo["age"])
    texture_rng = np.random.default_rng(rng.integers(2**63))

    # --- body outline: trunk, thighs, head, arms -------------------------------------------------
    prof = np.array(
        [  # s, rx, ry, cy  (lean)
            (180, 50, 50, -8),
            (270, 58, 58, -6),
            (296, 120, 85, -10),
            (320, 148, 98, -6),
            (450, 142, 106, 0),
            (560, 136, 102, 2),
            (640, 128, 96, 4),
            (720, 150, 100, 2),
            (800, 158, 98, 0),
            (850, 150, 90, 0),
        ],
        float,
    )
    if sex == "F":
        prof[7:, 1] *= 1.06
    hip_fat = 1.2 if sex == "F" else 1.0
    fat_s = np.interp(prof[:, 0], [180, 280, 320, 700, 850], [0.4, 0.5, 1.0, 1.0, hip_fat]) * fat
    zs = z_vertex - prof[::-1, 0] * hs
    lean = Section(zs, prof[::-1, 1] * ws, prof[::-1, 2], np.zeros(len(zs)), prof[::-1, 3])
    outer = Section(zs, lean.rx + fat_s[::-1], lean.ry + fat_s[::-1], lean.cx, lean.cy)
    legs_s = np.array([820.0, 1000.0])
    lz = z_vertex - legs_s[::-1] * hs
    leg_rx, leg_ry = np.array([74.0, 66.0]) * ws, np.array([80.0, 72.0])
    legs_lean = Section(lz, leg_rx, leg_ry, np.full(2, 80.0 * ws), np.full(2, 8.0), mirror=True)
    legs = Section(lz, leg_rx + fat * hip_fat, leg_ry + fat * hip_fat, legs_lean.cx, legs_lean.cy, mirror=True)
    head_out = E(0, 0, 100, 76, 96, 102)
    head_lean = E(0, 0, 100, 73, 93, 99)
    xa = float(max(np.max(outer.rx[zs < z_vertex - 300 * hs]), np.max(legs.cx + legs.rx))) + 44.0 + fat * 0.5
    arm_r = 34.0 + 0.5 * fat
    for sgn in (1, -1):
        an.add(Capsule(P(sgn * xa / ws, 0, 300), P(sgn * xa / ws, 14, 1000), arm_r), "fat", "fat")
        an.add(Capsule(P(sgn * xa / ws, 0, 300), P(sgn * xa / ws, 14, 1000), arm_r - 0.5 * fat - 3), "muscle", "muscle")
    for shape in (outer, legs, head_out):
        an.add(shape, "fat", "fat")
    for shape in (lean, legs_lean, head_lean):
        an.add(shape, "muscle", "muscle")
    lo = np.minimum.reduce([s.bounds()[0] for s in (outer, legs, head_out)])
    hi = np.maximum.reduce([s.bounds()[1] for s in (outer, legs, head_out)])
    lo[0], hi[0] = -xa - arm_r - 6, xa + arm_r + 6
    an.body_lo, an.body_hi = lo - 6.0, hi + 6.0
    an.landmarks.update(z_vertex=z_vertex, hs=hs, ws=ws, P=P)

    # --- head and neck ----------------------------------------------------------------------------
    an.add(E(0, 40, 165, 54, 52, 50), "muscle", "muscle", within=("fat", "muscle"))  # face, jaw muscles
    an.add(E(0, -2, 92, 70, 90, 90), "bone_cortex", "bone")  # skull
    an.add(E(0, -2, 92, 65, 85, 84), "csf", "csf")
    an.add(E(0, -2, 90, 63, 83, 80), "brain_grey", "brain")
    an.add(E(0, -2, 92, 50, 70, 62), "brain_white", "brain")
    an.add(E(0, -52, 150, 46, 28, 22), "cerebellum", "brain")
    for sgn in (1, -1):
        an.add(E(sgn * 12, 2, 90, 6, 24, 13), "csf", "csf")  # lateral ventricles
        an.add(E(sgn * 21, 6, 102, 10, 17, 13), "brain_grey", "brain")  # basal ganglia, thalami
        an.add(E(sgn * 31, 66, 114, 12, 12, 12), "eye", "eye")
        an.add(E(sgn * 27, 44, 150, 13, 15, 17), "sinus", "sinus")
        an.add(E(sgn * 50, 2, 165, 14, 20, 24), "salivary", "salivary_glands")  # parotids
        an.add(E(sgn * 31, 34, 205, 12, 12, 10), "salivary", "salivary_glands")  # submandibular
    # mandible: a horseshoe of capsules
    jaw = [(-46, 2, 172), (-38, 42, 205), (0, 68, 212), (38, 42, 205), (46, 2, 172)]
    for p, q in zip(jaw[:-1], jaw[1:]):
        an.add(C(p, q, 6.5), "bone_cortex", "bone")
    # cervical node stations (fat compartments; lesions are placed in them)
    for sgn in (1, -1):
        an.add(E(sgn * 33, 6, 238, 13, 16, 38), "fat", "cervical_lymph_nodes", within=("muscle", "fat"))
        an.add(E(sgn * 52, 4, 292, 20, 14, 12), "fat", "cervical_lymph_nodes", within=("muscle", "fat"))
    # pharynx: walls, nasopharynx, tonsils, then the airway
    an.add(C((0, 14, 160), (0, 16, 236), 15), "pharynx", "pharynx")
    an.add(E(0, 20, 157, 18, 12, 11), "pharynx", "pharynx")
    for sgn in (1, -1):
        an.add(E(sgn * 13, 22, 186, 8, 9, 12), "tonsil", "pharynx")
    an.add(C((0, 48, 130), (0, 24, 168), 7), "air", "airway")
    an.add(C((0, 26, 168), (0, 18, 232), 6), "air", "airway")
    # thyroid
    for sgn in (1, -1):
        an.add(E(sgn * 17, 24, 262, 8, 9, 20), "thyroid", "thyroid")
    an.add(E(0, 32, 270, 12, 4, 6), "thyroid", "thyroid")

    # --- chest --------------------------------------------------------------------------------------
    an.add(E(0, 8, 385, 34, 48, 62), "fat", "mediastinal_lymph_nodes", within=("muscle",))
    for sgn, cx in ((1, 72), (-1, -72)):
        an.add(E(cx, -8, 425, 56, 82, 132), "lung", "lung", within=("muscle", "mediastinal_lymph_nodes"))
        an.add(E(sgn * 40, 0, 388, 13, 17, 24), "hilum", "mediastinal_lymph_nodes")
    an.add(C((0, 24, 232), (0, 16, 300), 8), "air", "airway")  # larynx, trachea
    an.add(C((0, 16, 300), (0, 4, 362), 9), "air", "airway")
    for sgn in (1, -1):
        an.add(C((0, 4, 362), (sgn * 38, 0, 392), 6), "air", "airway")
    esophagus = [(0, 6, 236), (-3, -4, 300), (-6, -20, 360), (-10, -22, 460), (-30, 8, 512)]
    for p, q in zip(esophagus[:-1], esophagus[1:]):
        an.add(C(p, q, 7.5), "esophagus", "esophagus")
    an.landmarks["esophagus"] = [P(*p) for p in esophagus]
    # heart: blood-filled chambers, left-ventricle myocardium, cavity
    an.add(E(-18, 34, 452, 56, 44, 50), "blood", "heart")
    an.add(E(-36, 30, 466, 32, 28, 36), "myocardium", "heart")
    an.add(E(-38, 30, 464, 19, 16, 23), "blood", "heart")
    # aorta (ascending, arch, descending), IVC
    aorta = [(6, 30, 420), (6, 20, 352), (-24, -16, 348), (-28, -30, 400), (-20, -26, 560), (-14, -20, 690)]
    for i, (p, q) in enumerate(zip(aorta[:-1], aorta[1:])):
        an.add(C(p, q, 13 if i < 2 else 11), "blood", "blood")
    an.add(C((22, -14, 520), (20, -14, 700), 11), "blood", "blood")

    # --- abdomen ----------------------------------------------------------------------------------
    an.add(E(0, 12, 690, 118, 82, 150), "visceral_fat", "visceral_fat", within=("muscle",))
    an.add(E(0, -22, 640, 46, 22, 82), "fat", "abdominal_lymph_nodes", within=("visceral_fat", "muscle"))
    for sgn in (1, -1):
        an.add(E(sgn * 56, -6, 752, 20, 24, 34), "fat", "abdominal_lymph_nodes", within=("visceral_fat", "muscle"))
    # small bowel: a gyroid labyrinth inside the mesenteric region
    lam = 2 * math.pi / (44.0 + 8.0 * rng.random())
    ph = rng.random(3) * 2 * math.pi
    gas_ph = rng.random(3) * 2 * math.pi
    wall_suv, wall_hu = t["bowel_wall"]
    cont_suv, cont_hu = t["bowel_content"]
    fat_suv, fat_hu = t["fat"]
    air_hu = t["air"][1]

    def _gyroid(x, y, z):
        a, b, c = x * lam + ph[0], y * lam + ph[1], z * lam + ph[2]
        return np.sin(a) * np.cos(b) + np.sin(b) * np.cos(c) + np.sin(c) * np.cos(a)

    def _gas(x, y, z):
        return np.sin(x * lam * 0.6 + gas_ph[0]) * np.sin(y * lam * 0.6 + gas_ph[1]) * np.sin(z * lam * 0.7 + gas_ph[2])

    def bowel_pet(x, y, z):
        g = _gyroid(x, y, z)
        mod = 1.0 + 0.35 * np.sin(z * lam * 0.5 + ph[1]) * np.cos(x * lam * 0.4 + ph[2])
        return np.where(np.abs(g) < 0.45, wall_suv * mod, np.where(g > 0, cont_suv, fat_suv)).astype(np.float32)

    def bowel_ct(x, y, z):
        g = _gyroid(x, y, z)
        content = np.where(_gas(x, y, z) > 0.55, air_hu, cont_hu)
        return np.where(np.abs(g) < 0.45, wall_hu, np.where(g > 0, content, fat_hu)).astype(np.float32)

    an.add(E(0, 22, 690, 105, 62, 92), (bowel_pet, bowel_ct), "intestine", within=("visceral_fat",))
    # colon frame (wall, gas/stool content) and rectum
    colon = [(-84, 0, 740), (-86, -4, 600), (-70, 36, 586), (70, 38, 590), (84, 6, 600), (82, 6, 720)]
    sig = [(-84, 0, 740), (-40, 10, 772), (0, -30, 790), (0, -36, 850)]
    for path in (colon, sig):
        for p, q in zip(path[:-1], path[1:]):
            an.add(C(p, q, 19), "bowel_wall", "intestine", within=("visceral_fat", "intestine", "muscle"))
    for path in (colon, sig[:-1]):
        for p, q in zip(path[:-1], path[1:]):
            an.add(C(p, q, 13), "colon_content", "intestine", within=("intestine",))
    an.landmarks["colon"] = {"colon": [P(*p) for p in colon], "sigmoid": [P(*p) for p in sig]}
    # psoas muscles
    for sgn in (1, -1):
        an.add(C((sgn * 30, -46, 600), (sgn * 62, -22, 790), 17), "muscle", "muscle")
    # stomach: wall, fluid, air cap
    st = E(-58, 16, 534, 40, 35, 56)
    an.add(st, "stomach", "stomach")
    an.add(E(-58, 16, 534, 40, 35, 56, k=0.84), "gastric_fluid", "stomach")
    an.add(Clip(E(-58, 16, 534, 40, 35, 56, k=0.84), zlo=float(P(0, 0, 505)[2])), "air", "stomach")
    # liver (right lobe, left lobe), gallbladder
    an.add(E(54, 4, 542, 72, 84, 74), "liver", "liver")
    an.add(E(-16, 44, 506, 50, 34, 30), "liver", "liver")
    an.landmarks["liver_split_x"] = float(P(4, 0, 0)[0])
    an.add(E(44, 60, 592, 14, 16, 30), "gallbladder", "gallbladder")
    # spleen, pancreas
    an.add(E(-96, -34, 538, 27, 44, 54, angle=0.5), "spleen", "spleen")
    an.add(E(-20, 4, 576, 64, 13, 13, angle=0.42), "pancreas", "pancreas")
    an.landmarks["pancreas_x"] = (float(P(12, 0, 0)[0]), float(P(-40, 0, 0)[0]))
    # kidneys with hot collecting systems, ureters, adrenals
    for sgn, s in ((1, 616), (-1, 602)):
        an.add(E(sgn * 62, -38, s, 28, 24, 54), "kidney", "kidney")
        an.add(E(sgn * 52, -30, s + 4, 10, 8, 18), "urine_renal", "kidney")
        an.add(C((sgn * 48, -28, s + 20), (sgn * 42, -6, 770), 3.0), "urine_ureter", "kidney", within=SOFT)
        an.add(E(sgn * 42, -32, 542, 6, 12, 16), "adrenal", "adrenal")
    an.landmarks["kidney_s"] = {1: 616, -1: 602}

    # --- pelvis -----------------------------------------------------------------------------------
    if sex == "F":
        an.add(E(0, -8, 764, 30, 24, 40), "uterus", "reproductive")
        for sgn in (1, -1):
            an.add(E(sgn * 46, -14, 756, 13, 10, 15), "ovary", "reproductive")
    fill = 0.75 + 0.45 * rng.random()
    an.add(E(0, 28, 796, 40, 34, 32, k=fill), "urine_bladder", "bladder")
    if sex == "M":
        an.add(E(0, 16, 846, 18, 15, 15), "prostate", "reproductive")

    # --- skeleton ---------------------------------------------------------------------------------
    spine = _vertebrae()
    ys = np.array([[180, -18], [300, -30], [420, -50], [560, -44], [700, -44]], float)
    an.add(C((0, -18, 180), (0, -30, 300), 12), "disc", "muscle", within=SOFT + ("csf",))
    an.add(C((0, -30, 300), (0, -50, 430), 15), "disc", "muscle", within=SOFT)
    an.add(C((0, -50, 430), (0, -44, 700), 19), "disc", "muscle", within=SOFT + ("blood",))
    vertebrae = []
    for name, s, h, rx, ry in spine:
        y = float(np.interp(s, ys[:, 0], ys[:, 1]))
        body = Cyl(0, y, s, rx, ry, h)
        an.add(body, "bone_cortex", "bone")
        an.add(Cyl(0, y, s, rx - 2.8, ry - 2.8, h - 5.6), "marrow", "bone")
        an.add(E(0, y - ry - 20, s, 6, 13, h * 0.4), "bone_cortex", "bone")  # spinous process
        vertebrae.append((name, P(0, y, s)))
    an.landmarks["vertebrae"] = vertebrae
    sac = E(0, -62, 752, 42, 15, 50)
    an.add(sac, "bone_cortex", "bone")
    an.add(Ellipsoid(sac.center, sac.radii - np.array([3, 3, 3])), "marrow", "bone")
    an.landmarks["sacrum"] = sac
    # ribs, sternum, clavicles, scapulae
    for n in range(1, 13):
        s = 298 + 22 * n
        rx = float(np.interp(s, prof[:, 0], prof[:, 1])) * ws - 10
        ry = float(np.interp(s, prof[:, 0], prof[:, 2])) - 10
        cy = float(np.interp(s, prof[:, 0], prof[:, 3]))
        an.add(Rib(float(P(0, 0, s)[2]), rx, ry, cy, front=0.55 - 0.06 * max(0, n - 7)), "rib", "bone")
    an.add(E(0, 90, 392, 16, 7, 84), "bone_cortex", "bone")
    for sgn in (1, -1):
        an.add(C((sgn * 16, 62, 294), (sgn * 118, 20, 290), 7), "bone_cortex", "bone")
        an.add(E(sgn * 98, -82, 360, 46, 6, 68, angle=-sgn * 0.45), "bone_cortex", "bone")
    # pelvis: iliac wings, femoral heads, pubis, ischium, femurs; humeri in the arms
    ilia, femora = {}, {}
    for sgn in (1, -1):
        il = E(sgn * 84, -30, 722, 46, 13, 50, angle=-sgn * 0.7)
        an.add(il, "bone_cortex", "bone")
        an.add(Ellipsoid(il.center, il.radii - 3.0, il.angle), "marrow", "bone")
        ilia[sgn] = il
        head = E(sgn * 86, 4, 816, 24, 24, 24)
        an.add(head, "bone_cortex", "bone")
        an.add(Ellipsoid(head.center, head.radii - 3.0), "marrow", "bone")
        an.add(C((sgn * 22, 56, 836), (sgn * 70, 20, 820), 10), "bone_cortex", "bone")
        an.add(C((sgn * 62, -22, 800), (sgn * 56, -4, 866), 12), "bone_cortex", "bone")
        shaft = C((sgn * 98, 6, 826), (sgn * 84, 16, 1200), 15)
        an.add(shaft, "bone_cortex", "bone")
        an.add(C((sgn * 98, 6, 826), (sgn * 84, 16, 1200), 9), "femur_marrow", "bone")
        femora[sgn] = (head, shaft)
        arm_x = sgn * xa / ws
        an.add(C((arm_x, 0, 316), (arm_x, 4, 600), 11), "bone_cortex", "bone")
        an.add(C((arm_x, 0, 316), (arm_x, 4, 600), 6), "marrow", "bone")
        an.add(C((arm_x - 8, 6, 610), (arm_x - 8, 14, 1000), 6), "bone_cortex", "bone")
        an.add(C((arm_x + 8, 6, 610), (arm_x + 8, 14, 1000), 6), "bone_cortex", "bone")
    an.landmarks.update(ilia=ilia, femora=femora)
    an.landmarks["texture"] = Texture(texture_rng, an.body_lo, an.body_hi)
    an.landmarks["texture_ct"] = Texture(texture_rng, an.body_lo, an.body_hi, step=16.0)
    return an


@lru_cache(maxsize=1)
def _vertebrae() -> list[tuple[str, float, float, float, float]]:
    """(name, s centre, height, rx, ry) of C2..L5 at the reference height."""
    out = []
    for n in range(2, 8):
        out.append((f"C{n}", 182 + 17 * (n - 1), 13.0, 13.0, 11.0))
    for n in range(1, 13):
        out.append((f"T{n}", 300 + 22.5 * (n - 1), 18.0, 15.0 + 0.4 * n, 13.0 + 0.2 * n))
    for n in range(1, 6):
        out.append((f"L{n}", 574 + 29 * (n - 1), 24.0, 23.0, 16.5))
    return out


# ----------------------------------------------------------------------------------------- lesions


@dataclass
class Lesion:
    kind: str
    organ: str
    state: str
    center: np.ndarray
    radii: np.ndarray
    site: str  # key into the phrase table's sites
    side: str
    level: str = ""
    suv_target: float = 0.0
    hu: float = 0.0
    suv_max: float = 0.0

    @property
    def size_mm(self) -> tuple[float, float]:
        a, b = sorted((2 * self.radii[0], 2 * self.radii[1]), reverse=True)
        return float(a), float(b)

    def to_meta(self) -> dict[str, Any]:
        a, b = self.size_mm
        return {
            "organ": self.organ,
            "state": self.state,
            "kind": phrases()["kinds"][self.kind]["kind"],
            "lesion_type": self.kind,
            "site": self.site,
            "level": self.level or None,
            "center_mm": [round(float(v), 1) for v in self.center],
            "diameter_mm": round(a, 1),
            "size_mm": [round(a, 1), round(b, 1)],
            "suv_max": round(float(self.suv_max), 1),
            "side": self.side,
        }


def _side(x: float) -> str:
    return "right" if x > 6 else "left" if x < -6 else "midline"


def _site_of(organ: str, c: np.ndarray, an: Anatomy, hint: str) -> tuple[str, str]:
    """(site key, level) naming where a lesion centre lies, for the report wording."""
    lm = an.landmarks
    side = "R" if c[0] > 0 else "L"
    s = (lm["z_vertex"] - c[2]) / lm["hs"]  # depth below the vertex at the reference height
    if organ == "lung":
        if side == "R":
            lobe = "upper" if s < 392 else ("middle" if c[1] > -2 and s < 500 else "lower")
        else:
            lobe = "upper" if s < 420 else "lower"
        return f"lung_{side}_{lobe}", ""
    if organ == "liver":
        return ("liver_right" if c[0] > lm["liver_split_x"] else "liver_left"), ""
    if organ == "bone":
        if hint == "vertebra":
            name = min(lm["vertebrae"], key=lambda nb: abs(nb[1][2] - c[2]))[0]
            return "vertebra", name
        return hint.replace("_S", f"_{side}"), ""
    if organ == "kidney":
        ks = lm["kidney_s"][1 if side == "R" else -1]
        part = "upper" if s < ks - 18 else ("lower" if s > ks + 18 else "mid")
        return f"kidney_{side}_{part}", ""
    if organ == "pancreas":
        xh, xt = lm["pancreas_x"]
        return ("pancreas_head" if c[0] > xh else "pancreas_tail" if c[0] < xt else "pancreas_body"), ""
    if organ == "stomach":
        return ("stomach_fundus" if s < 505 else "stomach_body" if s < 555 else "stomach_antrum"), ""
    if organ == "esophagus":
        return ("esophagus_upper" if s < 320 else "esophagus_mid" if s < 420 else "esophagus_lower"), ""
    if organ == "intestine":
        best, dist = "small_bowel", 1e9
        for part, pts in lm["colon"].items():
            for p, q in zip(pts[:-1], pts[1:]):
                d = _seg_dist(c, p, q)
                if d < dist:
                    best, dist = part, d
                    if part == "colon":
                        best = ("colon_ascending" if p[0] > 40 and q[0] > 40 else "colon_descending"
                                if p[0] < -40 and q[0] < -40 else "colon_transverse")
                    if part == "sigmoid":
                        best = "rectum" if s > 810 else "colon_sigmoid"
        return (best if dist < 20 else "small_bowel"), ""
    if organ == "brain":
        if s > 132 and c[1] < -25:
            return f"brain_{side}_cerebellum", ""
        lobe = "frontal" if c[1] > 25 else "occipital" if c[1] < -45 else ("temporal" if s > 100 else "parietal")
        return f"brain_{side}_{lobe}", ""
    if organ == "mediastinal_lymph_nodes" and hint == "mediastinum":
        if s < 350:
            return "mediastinum_paratracheal", ""
        return ("mediastinum_prevascular" if c[1] > 20 else "mediastinum_subcarinal"), ""
    if organ == "abdominal_lymph_nodes" and hint == "retroperitoneum":
        return ("retroperitoneum_paraaortic_L" if c[0] < -10 else "retroperitoneum_aortocaval"
                if c[0] < 14 else "retroperitoneum_paracaval"), ""
    if organ == "cervical_lymph_nodes" and hint == "neck":
        return (f"neck_{side}_II" if s < 240 else f"neck_{side}_III"), ""
    if hint.endswith("_S"):
        return hint[:-2] + f"_{side}", ""
    return hint, ""


def _seg_dist(c: np.ndarray, p: np.ndarray, q: np.ndarray) -> float:
    d = q - p
    t = float(np.clip((c - p) @ d / max(float(d @ d), 1e-9), 0, 1))
    return float(np.linalg.norm(c - p - t * d))


def _site_region(hint: str, an: Anatomy, rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
    """A box (lo, hi) in mm where candidate centres are drawn for a placement hint."""
    P = an.landmarks["P"]
    sgn = 1 if rng.random() < 0.5 else -1
    boxes = {  # hint -> (centre x, y, s), half sizes (mm, reference frame)
        "neck": ((33 * sgn, 6, 238), (13, 16, 38)),
        "supraclav_S": ((52 * sgn, 4, 292), (20, 14, 12)),
        "mediastinum": ((0, 8, 385), (34, 48, 62)),
        "hilar_S": ((40 * sgn, 0, 388), (13, 17, 24)),
        "retroperitoneum": ((0, -22, 640), (46, 22, 80)),
        "iliac_S": ((56 * sgn, -6, 752), (20, 24, 34)),
        "lung": ((72 * sgn, -8, 425), (56, 82, 132)),
        "liver": ((30, 10, 530), (100, 90, 80)),
        "vertebra": ((0, -40, 450), (25, 30, 280)),
        "ilium_S": ((84 * sgn, -30, 722), (50, 45, 50)),
        "sacrum": ((0, -62, 752), (42, 15, 50)),
        "femur_S": ((90 * sgn, 5, 820), (26, 26, 30)),
        "thyroid_S": ((17 * sgn, 24, 262), (8, 9, 20)),
        "tonsil_S": ((13 * sgn, 22, 186), (8, 9, 12)),
        "nasopharynx": ((0, 20, 157), (18, 12, 11)),
        "parotid_S": ((50 * sgn, 2, 165), (14, 20, 24)),
        "esophagus": ((-6, -12, 400), (12, 28, 110)),
        "stomach": ((-58, 16, 534), (40, 35, 56)),
        "intestine": ((0, 15, 690), (100, 62, 110)),
        "pancreas": ((-20, 4, 576), (64, 40, 13)),
        "spleen": ((-96, -34, 538), (40, 44, 54)),
        "kidney_S": ((62 * sgn, -38, 609), (28, 24, 60)),
        "adrenal_S": ((42 * sgn, -32, 542), (6, 12, 16)),
        "gallbladder": ((44, 60, 592), (14, 16, 30)),
        "prostate_S": ((8 * sgn, 16, 846), (9, 14, 14)),
        "uterus": ((0, -8, 764), (30, 24, 40)),
        "ovary_S": ((46 * sgn, -14, 756), (13, 10, 15)),
        "brain": ((0, -2, 90), (63, 83, 80)),
    }
    (x, y, s), (hx, hy, hz) = boxes[hint]
    c = P(x, y, s)
    h = np.array([hx * an.landmarks["ws"], hy, hz * an.landmarks["hs"]])
    return c - h, c + h


def place_lesions(
    rng: np.random.Generator, an: Anatomy, pet: Canvas, sex: str, n: int, kinds: Sequence[str] | None = None
) -> list[Lesion]:
    """Draw `n` lesions (or exactly `kinds`) and place each wholly inside its organ on the PET label map."""
    table = phrases()["kinds"]
    names = [k for k, v in table.items() if v.get("sex") in (None, sex)]
    weights = np.array([float(table[k].get("weight", 1.0)) for k in names])
    chosen = list(kinds) if kinds is not None else [
        names[int(i)] for i in rng.choice(len(names), size=n, p=weights / weights.sum())
    ]
    lesions: list[Lesion] = []
    for kind in chosen:
        spec = table[kind]
        organ, lab = spec["organ"], LABEL[spec["organ"]]
        allowed = [lab] + [LABEL[a] for a in spec.get("also_in", [])]
        d_lo, d_hi = spec["diameter_mm"]
        d = d_lo + (d_hi - d_lo) * rng.random()
        hints = spec["sites"]
        contain = float(spec.get("contain", 0.8))
        placed = None
        hint = hints[int(rng.integers(len(hints)))]
        for attempt in range(240):
            if attempt and attempt % 60 == 0:
                d *= 0.8
                hint = hints[int(rng.integers(len(hints)))]
            if hint == "vertebra":  # a vertebral body centre (C3..L5), jittered
                verts = an.landmarks["vertebrae"][1:]
                c = verts[int(rng.integers(len(verts)))][1] + rng.normal(0.0, 2.5, 3)
            else:
                lo, hi = _site_region(hint, an, rng)
                c = lo + (hi - lo) * rng.random(3)
            r1 = d / 2
            r2 = r1 * (0.72 + 0.22 * rng.random())
            radii = np.array([r1, r2, r1 * (0.85 + 0.25 * rng.random())])
            if rng.random() < 0.5:
                radii[:2] = radii[1::-1]
            if _contained(pet, c, radii * contain, allowed) and not _overlaps(c, radii, lesions):
                placed = (c, radii, hint)
                break
        if placed is None:
            continue
        c, radii, hint = placed
        site, level = _site_of(organ, c, an, hint)
        s_lo, s_hi = spec.get("suv_max", (0.0, 0.0))
        les = Lesion(
            kind=kind,
            organ=organ,
            state=spec["state"],
            center=c,
            radii=radii,
            site=site,
            side=_side(float(c[0])),
            level=level,
            suv_target=float(s_lo + (s_hi - s_lo) * rng.random()),
            hu=float(spec["hu"]) + float(spec.get("hu_sd", 0.0)) * rng.standard_normal(),
        )
        lesions.append(les)
    return lesions


def _contained(pet: Canvas, c: np.ndarray, r: np.ndarray, allowed: Sequence[int]) -> bool:
    pts = [c] + [c + sgn * r[d] * np.eye(3)[d] for d in range(3) for sgn in (1, -1)]
    g = pet.grid
    for p in pts:
        ijk = np.rint((p - g.origin) / g.zooms).astype(int)
        if np.any(ijk < 0) or np.any(ijk >= g.shape) or int(pet.label[tuple(ijk)]) not in allowed:
            return False
    return True


def _overlaps(c: np.ndarray, radii: np.ndarray, lesions: list[Lesion]) -> bool:
    return any(np.linalg.norm(c - o.center) < radii.max() + o.radii.max() + 4 for o in lesions)


def _recovery(radius_mm: float, sigma_mm: float) -> float:
    """Peak recovery of a uniform sphere blurred by a Gaussian (partial-volume effect)."""
    u = radius_mm / sigma_mm
    return math.erf(u / math.sqrt(2)) - math.sqrt(2 / math.pi) * u * math.exp(-u * u / 2)


# ----------------------------------------------------------------------------------------- study


def _demographics(rng: np.random.Generator) -> dict[str, Any]:
    sex = "M" if rng.random() < 0.5 else "F"
    age = int(np.clip(rng.normal(60, 12), 22, 88))
    h = float(np.clip(rng.normal(1.72 if sex == "M" else 1.60, 0.06), 1.45, 1.95))
    bmi = float(np.clip(rng.normal(23.5, 3.3), 17.0, 35.0))
    w = round(bmi * h * h, 1)
    dose = w * 3.7e6 * (0.9 + 0.2 * rng.random())
    day = datetime(2023, 1, 2) + timedelta(days=int(rng.integers(0, 700)))
    inj = day.replace(hour=8) + timedelta(minutes=int(rng.integers(0, 180)))
    ser = inj + timedelta(minutes=int(rng.integers(52, 76)))
    return {
        "sex": sex,
        "age": age,
        "height_m": round(h, 2),
        "weight_kg": w,
        "injected_dose_bq": float(round(dose, -4)),
        "injection_time": inj.isoformat(),
        "series_time": ser.isoformat(),
        "scan_time": ser.isoformat(),  # the key pet2rep ingest nifti writes
        "study_date": day.date().isoformat(),
        "uptake_time_s": float((ser - inj).total_seconds()),
    }


@dataclass
class SynthResult:
    """A synthetic study plus the organ label maps (PET and CT grids) it was painted with."""

    study: Study
    pet_labels: np.ndarray
    ct_labels: np.ndarray
    lesions: list[Lesion]


def synth_phantom(
    study_id: str,
    seed: int,
    *,
    pet_shape: tuple[int, int, int] = PET_SHAPE,
    pet_voxel_mm: float = PET_VOXEL_MM,
    ct_voxel_mm: tuple[float, float, float] = CT_VOXEL_MM,
    n_lesions: int | None = None,
    lesion_kinds: Sequence[str] | None = None,
    sex: str | None = None,
    langs: Sequence[str] = ("zh", "en"),
) -> SynthResult:
    """Make one study (see `synth_study`), keeping the label maps and the lesion objects."""
    from scipy.ndimage import gaussian_filter

    ss = np.random.SeedSequence(int(seed))
    r_demo, r_anat, r_les, r_noise, r_text = (np.random.default_rng(s) for s in ss.spawn(5))
    demo = _demographics(r_demo)
    if sex is not None:
        demo["sex"] = sex.upper()[:1]

    # grids: PET with its top slice at z = 0; CT finer in-plane, 5 mm slices, shifted origin
    pz = np.full(3, float(pet_voxel_mm))
    pshape = tuple(int(v) for v in pet_shape)
    p_origin = np.array([-(pshape[0] - 1) / 2 * pz[0], -pshape[1] / 2 * pz[1], -(pshape[2] - 1) * pz[2]])
    pet_grid = Grid(pshape, p_origin, pz)
    cz = np.asarray(ct_voxel_mm, float)
    fov = np.asarray(pshape) * pz
    cshape = (int(round(700.0 / cz[0])), int(round(700.0 / cz[1])), int(math.ceil((fov[2] + 20) / cz[2])))
    c_origin = np.array([-(cshape[0] - 1) / 2 * cz[0] + 1.3, -(cshape[1] - 1) / 2 * cz[1] - 6.0, p_origin[2] - 12.5])
    ct_grid = Grid(cshape, c_origin, cz)

    an = build_anatomy(r_anat, demo, z_top=0.0)
    tis = an.tissue
    pet, ct = Canvas(pet_grid, 0.0), Canvas(ct_grid, tis["air"][1])
    for op in an.ops:
        if op.tissue is None:
            continue
        if isinstance(op.tissue, tuple):
            pv, cv = op.tissue
        else:
            pv, cv = tis[op.tissue]
        lab = LABEL[op.label] if op.label else None
        within = [LABEL[w] for w in op.within] if op.within else None
        pet.paint(op.shape, pv, lab, within)
        ct.paint(op.shape, cv, lab, within)

    # lesions: placed on the PET label map, painted on both grids (amplitude corrects partial volume)
    n = int(r_les.integers(0, 6)) if n_lesions is None else int(n_lesions)
    lesions = place_lesions(r_les, an, pet, demo["sex"], n, lesion_kinds)
    sigma_mm = PET_FWHM_MM / 2.3548
    sig_eff = math.sqrt(sigma_mm**2 + pz[0] ** 2 / 12)
    for les in lesions:
        shape = Ellipsoid(les.center, les.radii)
        bg = float(pet.data[pet_grid.index(les.center)])
        if les.state == "increased":
            rc = max(_recovery(float(np.mean(les.radii)), sig_eff), 0.25)
            amp = bg + max(les.suv_target - bg, 0.5) / rc
        else:
            factor = phrases()["kinds"][les.kind].get("suv_factor", 0.05)
            amp = bg * factor
        pet.paint(shape, float(amp), None)
        ct.paint(shape, les.hu, None)

    # PET: organ texture, Poisson-like noise, scanner resolution, inside the body box only
    win = pet_grid.window(an.body_lo, an.body_hi)
    tex = an.landmarks["texture"]
    if win is not None:
        sl, (x, y, z) = win
        sub = pet.data[sl]
        sub *= 1.0 + 0.07 * tex(x, y, z)
        c_noise = 0.55 + 0.25 * min(max((demo["weight_kg"] - 50) / 50, 0), 1)
        noise = r_noise.standard_normal(sub.shape, dtype=np.float32)
        sub += np.float32(c_noise) * np.sqrt(np.maximum(sub, 0)) * noise
        pet.data[sl] = gaussian_filter(sub, sigma=sigma_mm / pz[0], truncate=3.0)
        np.maximum(pet.data, 0, out=pet.data)
    # CT: smooth texture and noise in the body box
    win = ct_grid.window(an.body_lo, an.body_hi)
    if win is not None:
        sl, (x, y, z) = win
        sub = ct.data[sl]
        soft = sub > -300
        sub += np.where(soft, np.float32(6.0) * an.landmarks["texture_ct"](x, y, z), np.float32(0))
        sub += np.float32(9.0 + 4.0 * r_noise.random()) * r_noise.standard_normal(sub.shape, dtype=np.float32)
    ct_data = np.clip(np.rint(ct.data), -1024, 3071).astype(np.int16)

    # measured SUVmax: the maximum over the lesion core, as a reader would measure it
    for les in lesions:
        core = Ellipsoid(les.center, np.maximum(les.radii * 0.6, pz[0] * 0.75))
        w = pet_grid.window(*core.bounds())
        sl, (x, y, z) = w
        m = np.broadcast_to(core.inside(x, y, z), pet.data[sl].shape)
        les.suv_max = float(pet.data[sl][m].max()) if m.any() else float(pet.data[pet_grid.index(les.center)])

    labels = uptake_labels(lesions)
    lang_rng = {lang: np.random.default_rng(r_text.integers(2**63)) for lang in ("zh", "en")}
    reports = {lang: render_report(lang, demo["sex"], lesions, lang_rng[lang]) for lang in langs}
    meta = {
        "patient_id": study_id,
        **demo,
        "tracer": "FDG",
        "radionuclide": "18F",
        "half_life_s": FDG_HALF_LIFE_S,
        "units": "SUVbw",
        "suv_type": "bw",
        "modality": "PT/CT",
        "source": "synth",
        "phantom_version": PHANTOM_VERSION,
        "seed": int(seed),
        "pet_fwhm_mm": PET_FWHM_MM,
        "lesions": [les.to_meta() for les in lesions],
    }
    study = Study(
        study_id=study_id,
        pet=Volume(pet.data, pet_grid.affine),
        ct=Volume(ct_data, ct_grid.affine),
        meta=meta,
        reports=reports,
        labels=labels,
    )
    return SynthResult(study, pet.label, ct.label, lesions)


def synth_study(
    study_id: str,
    seed: int,
    *,
    pet_shape: tuple[int, int, int] = PET_SHAPE,
    pet_voxel_mm: float = PET_VOXEL_MM,
    ct_voxel_mm: tuple[float, float, float] = CT_VOXEL_MM,
    n_lesions: int | None = None,
    lesion_kinds: Sequence[str] | None = None,
    sex: str | None = None,
    langs: Sequence[str] = ("zh", "en"),
) -> Study:
    """One synthetic whole-body FDG PET/CT study with ground-truth reports and uptake labels.

    `n_lesions` (default: 0-5 drawn from the seed) or `lesion_kinds` (names from the phrase table's
    `kinds`) choose the lesions; `sex` ("M"/"F") overrides the drawn sex. Deterministic for a seed."""
    return synth_phantom(
        study_id,
        seed,
        pet_shape=pet_shape,
        pet_voxel_mm=pet_voxel_mm,
        ct_voxel_mm=ct_voxel_mm,
        n_lesions=n_lesions,
        lesion_kinds=lesion_kinds,
        sex=sex,
        langs=langs,
    ).study


def study_seed(seed: int, index: int) -> int:
    """The seed of study `index` of a cohort: independent of the cohort size."""
    return int(np.random.SeedSequence([int(seed), int(index)]).generate_state(1, dtype=np.uint32)[0])


def synth_cohort(
    out: str | Path,
    n: int = 20,
    seed: int = 0,
    langs: Sequence[str] = ("zh", "en"),
    progress: bool = True,
) -> list[Path]:
    """Write `n` synthetic study folders under `out` (synth_000, ...); returns their paths.

    Each study is written beside its folder and swapped in when complete (`pet2rep.io.staged_folder`), so a
    re-run that fails leaves the earlier study as it was; the earlier study's reports and labels are not kept. `progress`: a bar on stderr only when it is a terminal.
    """
    from ..io import safe_join, staged_folder
    from ..study import write_study

    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    paths: list[Path] = []
    it: Any = range(n)
    if progress:
        try:
            from tqdm import tqdm

            it = tqdm(it, desc="synth", unit="study", file=sys.stderr, disable=None)
        except ImportError:  # pragma: no cover
            pass
    for i in it:
        sid = f"synth_{i:03d}"
        study = synth_study(sid, study_seed(seed, i), langs=langs)
        study.meta["cohort_seed"] = int(seed)
        study.meta["cohort_index"] = i
        target = safe_join(out, sid)
        with staged_folder(target, drop=("report.zh.txt", "report.en.txt", "labels.json", "ct.nii.gz")) as stage:
            write_study(study, stage)
        study.folder = target
        paths.append(target)
    return paths


# ----------------------------------------------------------------------------------------- labels, reports


def uptake_labels(lesions: Sequence[Lesion]) -> dict[str, list[str]]:
    """Ground-truth organ uptake labels: every organ, ["normal"] where it has no lesion."""
    states: dict[str, set[str]] = {o: set() for o in ORGANS}
    for les in lesions:
        states[les.organ].add(les.state)
    return {o: [s for s in STATES if s in st] or ["normal"] for o, st in states.items()}


def _pick(options: Any, rng: np.random.Generator | None) -> str:
    if isinstance(options, str):
        return options
    if rng is None:
        return options[0]
    return options[int(rng.integers(len(options)))]


def _fmt_size(a: float, b: float, lang: str) -> str:
    if lang == "zh":
        return f"{a / 10:.1f}cm×{b / 10:.1f}cm"
    return f"{a / 10:.1f} cm × {b / 10:.1f} cm"


def _site_name(les: Lesion, lang: str) -> str:
    name = phrases()["sites"][les.site][lang]
    return name.format(level=les.level)


def _lesion_sentence(les: Lesion, lang: str, rng: np.random.Generator | None) -> str:
    tab = phrases()[lang]
    spec = tab["lesions"][les.kind]
    a, b = les.size_mm
    text = _pick(spec["finding"], rng).format(
        site=_site_name(les, lang),
        size=_fmt_size(a, b, lang),
        ct=_pick(spec.get("ct", [""]), rng),
        uptake=_pick(tab["uptake"][les.state], rng),
        suv=f"{les.suv_max:.1f}",
    )
    return text[0].upper() + text[1:] if lang == "en" else text


def _join_sites(names: list[str], lang: str) -> str:
    names = list(dict.fromkeys(names))
    if lang == "zh":
        return "、".join(names)
    return names[0] if len(names) == 1 else ", ".join(names[:-1]) + " and " + names[-1]


def render_report(
    lang: str, sex: str, lesions: Sequence[Lesion], rng: np.random.Generator | None = None
) -> str:
    """The structured report (findings + impression) for these lesions; `rng=None`: first phrases."""
    tab = phrases()[lang]
    by_organ: dict[str, list[Lesion]] = {}
    for les in lesions:
        by_organ.setdefault(les.organ, []).append(les)
    sentences: list[str] = []
    for sec in tab["sections"]:
        if "extra" in sec:
            sentences.append(_pick(sec["text"], rng))
            continue
        organ = sec["organ"]
        body = sec.get("male" if sex == "M" else "female", sec) if organ == "reproductive" else sec
        if organ in by_organ:
            base = [_pick(body["base"], rng)] if body.get("base") else []
            found = [_lesion_sentence(les, lang, rng) for les in by_organ[organ]]
            sentences.extend(found + base if body.get("base_after") else base + found)
        else:
            uptake = _pick(body.get("uptake", tab["uptake"]["normal"]), rng)
            sentences.append(_pick(body["normal"], rng).format(uptake=uptake))
    sep = "" if lang == "zh" else " "
    findings = tab["findings_header"] + _pick(tab["preamble"], rng) + sep + sep.join(sentences)

    items: list[str] = []
    if lesions:
        groups: dict[str, list[Lesion]] = {}
        order = {o: i for i, o in enumerate(ORGANS)}
        for les in sorted(lesions, key=lambda v: order[v.organ]):
            groups.setdefault(les.kind, []).append(les)
        for kind, group in groups.items():
            spec = tab["lesions"][kind]
            multi = len(group) > 1
            text = _pick(spec["impression_multi" if multi and "impression_multi" in spec else "impression"], rng)
            text = text.format(
                site=_join_sites([_site_name(v, lang) for v in group], lang),
                uptake=_pick(tab["uptake"][group[0].state], rng),
            )
            items.append(text[0].upper() + text[1:] if lang == "en" else text)
        items.append(_pick(tab["impression_rest"], rng))
    else:
        items.extend(_pick(opts, rng) for opts in tab["impression_normal"])
    if lang == "zh":
        impression = tab["impression_header"] + "".join(f"{i}.{t}" for i, t in enumerate(items, 1))
    else:
        impression = tab["impression_header"] + " ".join(f"{i}. {t}" for i, t in enumerate(items, 1))
    return findings + "\n" + impression + "\n"


def normal_report(lang: str, sex: str = "M") -> str:
    """The deterministic normal report (first phrase of every table): data/normal_report.<lang>.txt."""
    return render_report(lang, sex, [], None)


# ----------------------------------------------------------------------------------------- CLI


def configure_parser(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--out", required=True, help="output folder (one sub-folder per study)")
    parser.add_argument("-n", type=int, default=20, help="number of studies (default 20)")
    parser.add_argument("--seed", type=int, default=0, help="cohort seed (default 0)")
    parser.add_argument("--langs", default="zh,en", help="report languages, comma-separated (default zh,en)")
    parser.add_argument("--quiet", action="store_true", help="no progress bar")


def run_cli(args: argparse.Namespace) -> int:
    from ..errors import InputError, out_folder

    langs = tuple(v.strip() for v in args.langs.split(",") if v.strip())
    bad = [v for v in langs if v not in ("zh", "en")]
    if bad or not langs:
        raise InputError(f"--langs {args.langs!r}: " + (f"unsupported language(s) {', '.join(bad)}; " if bad else "")
                         + "use zh and/or en, comma-separated")
    if args.n < 1:
        raise InputError(f"-n: need at least one study, got {args.n}")
    if args.seed < 0:
        raise InputError(f"--seed {args.seed}: must be >= 0")
    out_folder(args.out)
    t0 = time.perf_counter()
    paths = synth_cohort(args.out, n=args.n, seed=args.seed, langs=langs, progress=not args.quiet)
    n_les = 0
    n_normal = 0
    import json

    for p in paths:
        k = len(json.loads((p / "study.json").read_text(encoding="utf-8"))["lesions"])
        n_les += k
        n_normal += k == 0
    dt = time.perf_counter() - t0
    print(
        f"synth: wrote {len(paths)} studies to {args.out} (seed {args.seed}; {n_les} lesions; "
        f"lesion-free: {n_normal}; langs {','.join(langs)}) in {dt:.1f} s"
    )
    return 0
