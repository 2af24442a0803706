"""A synthetic whole-body FDG PET/CT cohort with ground-truth reports and labels (`pet2rep synth`).

Each study is an analytic phantom (ellipsoids, capsules, a gyroid bowel) painted on two grids:

* PET in SUVbw on a RAS+ grid of 4 mm voxels, 200 (i: L->R) x 200 (j: P->A) x 220 (k: I->S) by default,
  body centred at j = 100, the vertex near the top slice, down to the upper thighs; Poisson-like noise,
  then ~6 mm FWHM Gaussian resolution;
* CT in HU (int16) on its own, finer grid (2.73 mm in-plane, 5 mm slices, shifted origin).

Lesions (0-5 per study: nodes, lung nodules and masses, liver masses and cysts, bone metastases, ...)
are placed inside their organ in both images; the reports (zh, en) and the organ uptake labels are
written from the same lesion list, so they are ground truth. Organ positions, sizes and tissue values
live in data/phantom.yaml; wording and lesion kinds in data/synth_phrases.yaml. Every random draw comes from the study seed: the same seed gives the
same bytes.
"""

from __future__ import annotations

import math
import sys
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


def _data_yaml(name: str) -> Any:
    from importlib import resources

    import yaml

    return yaml.safe_load(resources.files("pet2rep").joinpath(f"data/{name}").read_text("utf-8"))


@lru_cache(maxsize=1)
def phrases() -> dict[str, Any]:
    """The phrase tables and lesion kinds (data/synth_phrases.yaml)."""
    return _data_yaml("synth_phrases.yaml")


@lru_cache(maxsize=1)
def phantom_spec() -> dict[str, Any]:
    """The phantom's anatomy: organ positions, sizes, tissue SUV/HU, lesion sites (data/phantom.yaml)."""
    return _data_yaml("phantom.yaml")


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
    """Per-study SUV and HU of each tissue, drawn from the ranges of data/phantom.yaml."""
    spec = phantom_spec()
    out: dict[str, tuple[float, float]] = {}
    for name, tissue in spec["tissues"].items():
        lo, hi = tissue["suv"]
        suv = lo + (hi - lo) * rng.random()
        hu = float(tissue["hu"]) + float(tissue.get("hu_sd", 0)) * rng.standard_normal()
        out[name] = (float(suv), float(hu))
    patient = spec["patient"]
    if sex == "F" and age >= patient["postmenopausal_age"]:  # quiet endometrium and ovaries
        for name, (base, spread) in patient["postmenopausal_suv"].items():
            out[name] = (base + spread * rng.random(), out[name][1])
    return out


@dataclass
class Frame:
    """The patient's frame: positions [x, y, s] of data/phantom.yaml (reference patient) to RAS+ mm."""

    ws: float  # lean width scale (x and rx)
    hs: float  # height scale (s and rz)
    z_vertex: float  # z of the skull vertex (mm)

    def P(self, x: float, y: float, s: float) -> np.ndarray:  # noqa: N802 - the notation of phantom.yaml
        """Anatomical position: x, y in mm (lean-scaled), s = depth below the vertex at height 1.70 m."""
        return np.array([x * self.ws, y, self.z_vertex - s * self.hs])

    def R(self, rx: float, ry: float, rz: float, k: float = 1.0) -> np.ndarray:  # noqa: N802
        """Radii, scaled like positions (and by k)."""
        return np.array([rx * self.ws * k, ry * k, rz * self.hs * k])

    def E(self, x, y, s, rx, ry, rz, k=1.0, angle=0.0) -> Ellipsoid:  # noqa: N802
        return Ellipsoid(self.P(x, y, s), self.R(rx, ry, rz, k), angle)

    def C(self, p, q, r) -> Capsule:  # noqa: N802
        return Capsule(self.P(*p), self.P(*q), r)

    def cylinder(self, x, y, s, rx, ry, h) -> Section:
        """An upright elliptic cylinder of height h centred at depth s (vertebral bodies)."""
        z = np.array([self.P(x, y, s + h / 2)[2], self.P(x, y, s - h / 2)[2]])
        return Section(z, np.full(2, rx * self.ws), np.full(2, float(ry)), np.full(2, x * self.ws), np.full(2, float(y)))


def _patient_frame(rng: np.random.Generator, demo: dict[str, Any], z_top: float) -> tuple[Frame, float]:
    """This patient's frame (height and width scales, vertex below `z_top`) and subcutaneous fat (mm)."""
    spec = phantom_spec()["patient"]
    sex, bmi = demo["sex"], demo["weight_kg"] / demo["height_m"] ** 2
    male, female = ("M" if sex == "M" else "F"), ("F" if sex == "F" else "M")
    lo, hi = spec["height_scale_clip"]
    hs = float(np.clip((demo["height_m"] / spec["reference_height_m"][male]) ** spec["height_scale_power"], lo, hi))
    base, spread = spec["vertex_below_top_mm"]
    z_vertex = z_top - (base + spread * rng.random())
    f = spec["fat_mm"]
    fat = float(np.clip(f["base"] + f["per_bmi"] * (bmi - f["bmi0"]), *f["clip"])) * spec["fat_factor"][female]
    return Frame(spec["lean_width"][male], hs, z_vertex), fat


class _Builder:
    """Paints one patient's Anatomy from data/phantom.yaml, step by step (see build_anatomy)."""

    def __init__(self, rng: np.random.Generator, sex: str, frame: Frame, fat: float) -> None:
        self.spec = phantom_spec()
        self.rng, self.sex, self.fr, self.fat = rng, sex, frame, fat
        self.an = Anatomy()
        self.drawn: dict[str, float] = {}  # numbers drawn by `draw:` ops
        self.marks: dict[str, Any] = {}  # shapes kept by `landmark:` ops ({side: shape} in mirror groups)
        self.last: Shape | None = None  # the last shape painted (for `inset:`)
        self.prof = np.zeros((0, 4))  # the trunk sections [s, rx, ry, cy] (lean)
        self.xa = 0.0  # |x| of the arms' axes (mm)

    def body(self) -> None:
        """Trunk, thighs, head and arms: fat outside, lean (muscle) inside; the body box and frame landmarks."""
        spec, fr, fat, an = self.spec["body"], self.fr, self.fat, self.an
        female = "F" if self.sex == "F" else "M"
        prof = np.array(spec["trunk"], float)
        if self.sex == "F":
            prof[prof[:, 0] >= spec["female_hips"]["from_s"], 1] *= spec["female_hips"]["rx_factor"]
        hip_fat = spec["hip_fat"][female]
        knots = np.array([[s, hip_fat if v == "hips" else v] for s, v in spec["fat_profile"]], float)
        fat_s = np.interp(prof[:, 0], knots[:, 0], knots[:, 1]) * fat
        zs = fr.z_vertex - prof[::-1, 0] * fr.hs
        lean = Section(zs, prof[::-1, 1] * fr.ws, prof[::-1, 2], np.zeros(len(zs)), prof[::-1, 3])
        outer = Section(zs, lean.rx + fat_s[::-1], lean.ry + fat_s[::-1], lean.cx, lean.cy)
        th = spec["thighs"]
        lz = fr.z_vertex - np.array(th["s"], float)[::-1] * fr.hs
        leg_rx, leg_ry = np.array(th["rx"], float) * fr.ws, np.array(th["ry"], float)
        legs_lean = Section(lz, leg_rx, leg_ry, np.full(2, th["x"] * fr.ws), np.full(2, float(th["y"])), mirror=True)
        legs = Section(lz, leg_rx + fat * hip_fat, leg_ry + fat * hip_fat, legs_lean.cx, legs_lean.cy, mirror=True)
        head_out, head_lean = fr.E(*spec["head_outer"]), fr.E(*spec["head_lean"])
        arms = spec["arms"]
        widest = np.max(outer.rx[zs < fr.z_vertex - arms["below_s"] * fr.hs])
        xa = float(max(widest, np.max(legs.cx + legs.rx))) + arms["gap"] + fat * arms["gap_per_fat"]
        arm_r = arms["radius"] + arms["radius_per_fat"] * fat
        (y0, s0), (y1, s1) = arms["from"], arms["to"]
        for sgn in (1, -1):
            ends = fr.P(sgn * xa / fr.ws, y0, s0), fr.P(sgn * xa / fr.ws, y1, s1)
            an.add(Capsule(*ends, arm_r), "fat", "fat")
            an.add(Capsule(*ends, arm_r - arms["radius_per_fat"] * fat - arms["muscle_inset"]), "muscle", "muscle")
        for shape in (outer, legs, head_out):
            an.add(shape, "fat", "fat")
        for shape in (lean, legs_lean, head_lean):
            an.add(shape, "muscle", "muscle")
        lo = np.minimum.reduce([s.bounds()[0] for s in (outer, legs, head_out)])
        hi = np.maximum.reduce([s.bounds()[1] for s in (outer, legs, head_out)])
        margin_x, margin = spec["box_margin_mm"]
        lo[0], hi[0] = -xa - arm_r - margin_x, xa + arm_r + margin_x
        an.body_lo, an.body_hi = lo - margin, hi + margin
        an.landmarks.update(z_vertex=fr.z_vertex, hs=fr.hs, ws=fr.ws, P=fr.P)
        self.prof, self.xa = prof, xa

    def paint(self, ops: list[dict[str, Any]], sgn: int = 0) -> None:
        """Run a list of operations of data/phantom.yaml in order; `sgn`: the side inside a mirror group."""
        steps = {"small_bowel": self.small_bowel, "vertebrae": self.vertebrae, "ribs": self.ribs}
        for op in ops:
            if op.get("sex", self.sex) != self.sex:
                continue
            if "mirror" in op:
                for side in (1, -1):
                    self.paint(op["mirror"], side)
            elif "step" in op:
                steps[op["step"]]()
            elif "draw" in op:
                base, spread = self.spec["draws"][op["draw"]]
                self.drawn[op["draw"]] = base + spread * self.rng.random()
            else:
                for shape in self._shapes(op, sgn):
                    self.an.add(shape, op["tissue"], op.get("label", op["tissue"]),
                                tuple(op["within"]) if "within" in op else None)
                    self.last = shape
                if "landmark" in op:
                    if sgn:
                        self.marks.setdefault(op["landmark"], {})[sgn] = self.last
                    else:
                        self.marks[op["landmark"]] = self.last

    def _shapes(self, op: dict[str, Any], sgn: int) -> list[Shape]:
        """The shape(s) of one paint operation, on side `sgn` (0: as written)."""
        fr = self.fr
        if "ellipsoid" in op:
            x, y, s, rx, ry, rz = op["ellipsoid"]
            k = op.get("k", 1.0)
            angle = op.get("angle", 0.0)
            if sgn:
                x, angle = sgn * x, (sgn * angle if angle else angle)
            shape: Shape = fr.E(x, y, s, rx, ry, rz, k=self.drawn[k] if isinstance(k, str) else k, angle=angle)
            if "above_s" in op:
                shape = Clip(shape, zlo=float(fr.P(0, 0, op["above_s"])[2]))
            return [shape]
        if "capsule" in op:
            p, q, r = op["capsule"]
            if sgn:
                ax = sgn * self.xa / fr.ws
                p, q = ([ax + v[0] if op.get("arm") else sgn * v[0], v[1], v[2]] for v in (p, q))
            return [fr.C(p, q, r)]
        if "path" in op:
            pts = self.spec["paths"][op["path"]][: op.get("points")]
            radii = op["radius"] if isinstance(op["radius"], list) else [op["radius"]] * (len(pts) - 1)
            return [fr.C(p, q, r) for p, q, r in zip(pts[:-1], pts[1:], radii)]
        if "inset" in op:
            last = self.last
            assert isinstance(last, Ellipsoid), "inset: follows an ellipsoid"
            return [Ellipsoid(last.center, last.radii - op["inset"], last.angle)]
        raise ValueError(f"data/phantom.yaml: an operation without a shape: {op}")

    def small_bowel(self) -> None:
        """Small bowel: a gyroid labyrinth of wall, content (with gas on CT) and fat in the mesentery."""
        spec, rng, t = self.spec["small_bowel"], self.rng, self.an.tissue
        base, spread = spec["wavelength_mm"]
        lam = 2 * math.pi / (base + spread * rng.random())
        ph = rng.random(3) * 2 * math.pi
        gas_ph = rng.random(3) * 2 * math.pi
        wall_suv, wall_hu = t["bowel_wall"]
        cont_suv, cont_hu = t["bowel_content"]
        fat_suv, fat_hu = t["fat"]
        air_hu = t["air"][1]
        wall, gas_level = spec["wall"], spec["gas_level"]
        mod = spec["wall_modulation"]
        amp, fz, fx = mod["amplitude"], mod["z"], mod["x"]
        gx, gy, gz = spec["gas_frequency"]

        def _gyroid(x, y, z):
            a, b, c = x * lam + ph[0], y * lam + ph[1], z * lam + ph[2]
            return np.sin(a) * np.cos(b) + np.sin(b) * np.cos(c) + np.sin(c) * np.cos(a)

        def _gas(x, y, z):
            return np.sin(x * lam * gx + gas_ph[0]) * np.sin(y * lam * gy + gas_ph[1]) * np.sin(z * lam * gz + gas_ph[2])

        def bowel_pet(x, y, z):
            g = _gyroid(x, y, z)
            m = 1.0 + amp * np.sin(z * lam * fz + ph[1]) * np.cos(x * lam * fx + ph[2])
            return np.where(np.abs(g) < wall, wall_suv * m, np.where(g > 0, cont_suv, fat_suv)).astype(np.float32)

        def bowel_ct(x, y, z):
            g = _gyroid(x, y, z)
            content = np.where(_gas(x, y, z) > gas_level, air_hu, cont_hu)
            return np.where(np.abs(g) < wall, wall_hu, np.where(g > 0, content, fat_hu)).astype(np.float32)

        self.an.add(self.fr.E(*spec["region"]), (bowel_pet, bowel_ct), "intestine", within=tuple(spec["within"]))

    def vertebrae(self) -> None:
        """C2..L5: cortex, marrow and spinous process of each vertebral body, on the curve of the spine."""
        spec, fr, an = self.spec["spine"], self.fr, self.an
        ys = np.array(spec["depth_y"], float)
        cortex, spinous = spec["cortex_mm"], spec["spinous"]
        vertebrae = []
        for name, s, h, rx, ry in _vertebrae():
            y = float(np.interp(s, ys[:, 0], ys[:, 1]))
            an.add(fr.cylinder(0, y, s, rx, ry, h), "bone_cortex", "bone")
            an.add(fr.cylinder(0, y, s, rx - cortex, ry - cortex, h - 2 * cortex), "marrow", "bone")
            behind = y - ry - spinous["behind"]
            an.add(fr.E(0, behind, s, spinous["rx"], spinous["ry"], h * spinous["height"]), "bone_cortex", "bone")
            vertebrae.append((name, fr.P(0, y, s)))
        an.landmarks["vertebrae"] = vertebrae

    def ribs(self) -> None:
        """Twelve pairs of ribs: bands of the trunk's section at each rib's depth, open at the front."""
        spec, fr, prof = self.spec["ribs"], self.fr, self.prof
        for n in range(1, spec["count"] + 1):
            s = spec["s0"] + spec["ds"] * n
            rx = float(np.interp(s, prof[:, 0], prof[:, 1])) * fr.ws - spec["inset"]
            ry = float(np.interp(s, prof[:, 0], prof[:, 2])) - spec["inset"]
            cy = float(np.interp(s, prof[:, 0], prof[:, 3]))
            front = spec["front"] - spec["front_step"] * max(0, n - spec["front_from"])
            rib = Rib(float(fr.P(0, 0, s)[2]), rx, ry, cy, width=spec["width"], height=spec["height"],
                      slope=spec["slope"], front=front)
            self.an.add(rib, "rib", "bone")

    def landmarks(self, texture_rng: np.random.Generator) -> None:
        """What lesion placement and site naming need: paths, organ boundaries, bones, texture fields."""
        spec, fr, lm, marks = self.spec, self.fr, self.an.landmarks, self.marks
        paths, sites = spec["paths"], spec["landmarks"]
        lm["esophagus"] = [fr.P(*p) for p in paths["esophagus"]]
        lm["colon"] = {"colon": [fr.P(*p) for p in paths["colon"]], "sigmoid": [fr.P(*p) for p in paths["sigmoid"]]}
        lm["liver_split_x"] = float(fr.P(sites["liver_split_x"], 0, 0)[0])
        lm["pancreas_x"] = tuple(float(fr.P(x, 0, 0)[0]) for x in sites["pancreas_x"])
        lm["kidney_s"] = {1: sites["kidney_s"]["right"], -1: sites["kidney_s"]["left"]}
        lm["sacrum"] = marks["sacrum"]
        lm["ilia"] = marks["ilium"]
        lm["femora"] = {sgn: (marks["femoral_head"][sgn], marks["femoral_shaft"][sgn]) for sgn in (1, -1)}
        steps = spec["texture_step_mm"]
        lm["texture"] = Texture(texture_rng, self.an.body_lo, self.an.body_hi, step=steps["pet"])
        lm["texture_ct"] = Texture(texture_rng, self.an.body_lo, self.an.body_hi, step=steps["ct"])


def build_anatomy(rng: np.random.Generator, demo: dict[str, Any], z_top: float) -> Anatomy:
    """The patient's phantom from data/phantom.yaml: paint operations in order (later wins), tissues, and
    landmarks for lesions. The random draws keep their order: vertex, tissues, texture seed, then the draws
    of the regions (small bowel, bladder filling)."""
    frame, fat = _patient_frame(rng, demo, z_top)
    build = _Builder(rng, demo["sex"], frame, fat)
    build.an.tissue = _draw_tissues(rng, demo["sex"], demo["age"])
    texture_rng = np.random.default_rng(rng.integers(2**63))
    build.body()
    for region in ("head_neck", "chest", "abdomen", "pelvis", "skeleton"):
        build.paint(build.spec[region])
    build.landmarks(texture_rng)
    return build.an


@lru_cache(maxsize=1)
def _vertebrae() -> list[tuple[str, float, float, float, float]]:
    """(name, s centre, height, rx, ry) of C2..L5 at the reference height (data/phantom.yaml spine levels)."""
    out = []
    for level in phantom_spec()["spine"]["levels"]:
        first, last = level["numbers"]
        for n in range(first, last + 1):
            s = level["s1"] + level["ds"] * (n - 1)
            rx, ry = level["rx"][0] + level["rx"][1] * n, level["ry"][0] + level["ry"][1] * n
            out.append((f"{level['prefix']}{n}", s, level["height"], rx, ry))
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
    """A box (lo, hi) in mm where candidate centres are drawn for a placement hint (data/phantom.yaml)."""
    P = an.landmarks["P"]
    sgn = 1 if rng.random() < 0.5 else -1
    box = phantom_spec()["lesion_sites"][hint]  # centre [x, y, s], half sizes (mm, reference frame)
    x, y, s = box["at"]
    if box.get("sided"):
        x = sgn * x
    hx, hy, hz = box["half"]
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


def _grids(pet_shape: Sequence[int], pet_voxel_mm: float, ct_voxel_mm: Sequence[float]) -> tuple[Grid, Grid]:
    """The PET grid (top slice at z = 0) and the CT grid (finer in-plane, 5 mm slices, shifted origin)."""
    pz = np.full(3, float(pet_voxel_mm))
    pshape = tuple(int(v) for v in pet_shape)
    p_origin = np.array([-(pshape[0] - 1) / 2 * pz[0], -pshape[1] / 2 * pz[1], -(pshape[2] - 1) * pz[2]])
    pet_grid = Grid(pshape, p_origin, pz)
    cz = np.asarray(ct_voxel_mm, float)
    fov = np.asarray(pshape) * pz
    cshape = (int(round(700.0 / cz[0])), int(round(700.0 / cz[1])), int(math.ceil((fov[2] + 20) / cz[2])))
    c_origin = np.array([-(cshape[0] - 1) / 2 * cz[0] + 1.3, -(cshape[1] - 1) / 2 * cz[1] - 6.0, p_origin[2] - 12.5])
    return pet_grid, Grid(cshape, c_origin, cz)


def _paint_anatomy(an: Anatomy, pet_grid: Grid, ct_grid: Grid) -> tuple[Canvas, Canvas]:
    """The PET (SUV) and CT (HU) canvases with every paint operation of the anatomy applied, in order."""
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
    return pet, ct


def _paint_lesions(lesions: Sequence[Lesion], pet: Canvas, ct: Canvas, sig_eff: float) -> None:
    """Each lesion on both grids; an increased lesion's amplitude corrects for the partial-volume loss."""
    for les in lesions:
        shape = Ellipsoid(les.center, les.radii)
        bg = float(pet.data[pet.grid.index(les.center)])
        if les.state == "increased":
            rc = max(_recovery(float(np.mean(les.radii)), sig_eff), 0.25)
            amp = bg + max(les.suv_target - bg, 0.5) / rc
        else:
            factor = phrases()["kinds"][les.kind].get("suv_factor", 0.05)
            amp = bg * factor
        pet.paint(shape, float(amp), None)
        ct.paint(shape, les.hu, None)


def _finish_pet(pet: Canvas, an: Anatomy, weight_kg: float, rng: np.random.Generator, sigma_mm: float) -> None:
    """Organ texture, Poisson-like noise (more for heavier patients) and scanner blur, in the body box."""
    from scipy.ndimage import gaussian_filter

    grid = pet.grid
    win = grid.window(an.body_lo, an.body_hi)
    tex = an.landmarks["texture"]
    if win is not None:
        sl, (x, y, z) = win
        sub = pet.data[sl]
        sub *= 1.0 + 0.07 * tex(x, y, z)
        c_noise = 0.55 + 0.25 * min(max((weight_kg - 50) / 50, 0), 1)
        noise = rng.standard_normal(sub.shape, dtype=np.float32)
        sub += np.float32(c_noise) * np.sqrt(np.maximum(sub, 0)) * noise
        pet.data[sl] = gaussian_filter(sub, sigma=sigma_mm / grid.zooms[0], truncate=3.0)
        np.maximum(pet.data, 0, out=pet.data)


def _finish_ct(ct: Canvas, an: Anatomy, rng: np.random.Generator) -> np.ndarray:
    """Smooth soft-tissue texture and noise in the body box; HU as int16 in [-1024, 3071]."""
    win = ct.grid.window(an.body_lo, an.body_hi)
    if win is not None:
        sl, (x, y, z) = win
        sub = ct.data[sl]
        soft = sub > -300
        sub += np.where(soft, np.float32(6.0) * an.landmarks["texture_ct"](x, y, z), np.float32(0))
        sub += np.float32(9.0 + 4.0 * rng.random()) * rng.standard_normal(sub.shape, dtype=np.float32)
    return np.clip(np.rint(ct.data), -1024, 3071).astype(np.int16)


def _measure_suv_max(lesions: Sequence[Lesion], pet: Canvas) -> None:
    """Each lesion's SUVmax as a reader measures it: the maximum over the lesion's core on the final image."""
    grid = pet.grid
    for les in lesions:
        core = Ellipsoid(les.center, np.maximum(les.radii * 0.6, grid.zooms[0] * 0.75))
        w = grid.window(*core.bounds())
        sl, (x, y, z) = w
        m = np.broadcast_to(core.inside(x, y, z), pet.data[sl].shape)
        les.suv_max = float(pet.data[sl][m].max()) if m.any() else float(pet.data[grid.index(les.center)])


def _synth_study_meta(study_id: str, seed: int, demo: dict[str, Any], lesions: Sequence[Lesion]) -> dict[str, Any]:
    """study.json of a synthetic study: demographics, tracer and provenance, and the lesion list."""
    return {
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
    ss = np.random.SeedSequence(int(seed))
    r_demo, r_anat, r_les, r_noise, r_text = (np.random.default_rng(s) for s in ss.spawn(5))
    demo = _demographics(r_demo)
    if sex is not None:
        demo["sex"] = sex.upper()[:1]
    pet_grid, ct_grid = _grids(pet_shape, pet_voxel_mm, ct_voxel_mm)
    an = build_anatomy(r_anat, demo, z_top=0.0)
    pet, ct = _paint_anatomy(an, pet_grid, ct_grid)
    # lesions: placed on the PET label map (painted before any lesion), then painted on both grids
    n = int(r_les.integers(0, 6)) if n_lesions is None else int(n_lesions)
    lesions = place_lesions(r_les, an, pet, demo["sex"], n, lesion_kinds)
    sigma_mm = PET_FWHM_MM / 2.3548
    _paint_lesions(lesions, pet, ct, math.sqrt(sigma_mm**2 + pet_grid.zooms[0] ** 2 / 12))
    _finish_pet(pet, an, demo["weight_kg"], r_noise, sigma_mm)
    ct_data = _finish_ct(ct, an, r_noise)
    _measure_suv_max(lesions, pet)
    labels = uptake_labels(lesions)
    lang_rng = {lang: np.random.default_rng(r_text.integers(2**63)) for lang in ("zh", "en")}
    reports = {lang: render_report(lang, demo["sex"], lesions, lang_rng[lang]) for lang in langs}
    study = Study(
        study_id=study_id,
        pet=Volume(pet.data, pet_grid.affine),
        ct=Volume(ct_data, ct_grid.affine),
        meta=_synth_study_meta(study_id, seed, demo, lesions),
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


def render_normal_report(lang: str, sex: str = "M") -> str:
    """The normal report rendered from the phrase tables (first phrase of each): the text of the packaged
    data/normal_report.<lang>.txt, which the template baseline reads (`pet2rep.backends.baselines.normal_report`)."""
    return render_report(lang, sex, [], None)

