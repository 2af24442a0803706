"""Study and Volume: plain arrays + affines + metadata, and the study folder on disk.

A study folder holds:

    pet_suv.nii.gz   PET in SUVbw, float32, on the PET grid
    ct.nii.gz        CT in HU, on its own grid (int16 or float32)
    study.json       ids, sex, age, weight, dose, times, tracer, provenance, lesions (synthetic)
    report.zh.txt    reference report (optional; one file per language)
    report.en.txt
    labels.json      ground-truth organ uptake labels {organ_id: [states]} (optional)

A Volume is a voxel array and a 4x4 affine mapping voxel indices (i, j, k) to RAS+ millimetres, the
NIfTI/nibabel convention: nothing hidden, no implicit reorientation.
"""

from __future__ import annotations

import gzip
import json
import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from .errors import InputError, out_folder, plain
from .io import atomic_write_bytes, atomic_write_json, atomic_write_text, check_id, safe_join

PET_FILE = "pet_suv.nii.gz"
CT_FILE = "ct.nii.gz"
META_FILE = "study.json"
LABELS_FILE = "labels.json"


class StudyError(InputError):
    """A study cannot be read or made; the message is one line naming the file and the problem."""


@dataclass
class Volume:
    """A 3-D image: `data[i, j, k]` with `affine @ [i, j, k, 1]` giving RAS+ mm."""

    data: np.ndarray
    affine: np.ndarray

    @property
    def shape(self) -> tuple[int, ...]:
        return tuple(self.data.shape)

    @property
    def zooms(self) -> np.ndarray:
        """Voxel sizes in mm along i, j, k."""
        from nibabel.affines import voxel_sizes

        return voxel_sizes(self.affine)


@dataclass
class Study:
    """One PET/CT exam. `pet`/`ct` may be None when only metadata was loaded."""

    study_id: str
    pet: Volume | None = None
    ct: Volume | None = None
    meta: dict[str, Any] = field(default_factory=dict)
    reports: dict[str, str] = field(default_factory=dict)  # lang -> reference report text
    labels: dict[str, list[str]] | None = None  # ground-truth organ uptake labels
    folder: Path | None = None

    def report(self, lang: str = "zh") -> str | None:
        return self.reports.get(lang)


# --------------------------------------------------------------------------------------- NIfTI I/O


def _gunzip(path: Path) -> bytes:
    """Whole-file inflate, with ISA-L when installed (about 2x faster than zlib)."""
    raw = path.read_bytes()
    try:
        from isal import igzip

        return igzip.decompress(raw)
    except ImportError:  # pragma: no cover - isal missing on exotic platforms
        return gzip.decompress(raw)


def _inflate_to_array(path: Path) -> np.ndarray:
    """Inflate a gzip file once into a writable uint8 array (ISA-L, streamed in 64 KiB input chunks).

    The size comes from the gzip trailer, so the output is written straight into its final buffer: no
    growing bytes object, no extra copy (as fast as a one-shot inflate or faster, and writable). Multi-member
    or >4 GiB files fall back to a one-shot inflate plus one copy.
    """
    import struct
    import zlib

    raw = path.read_bytes()
    try:
        from isal import isal_zlib as zmod
    except ImportError:  # pragma: no cover
        zmod = zlib
    if len(raw) < 18 or raw[:2] != b"\x1f\x8b":
        raise StudyError(f"{path}: not a gzip file")
    isize = struct.unpack("<I", raw[-4:])[0]
    if isize > 1100 * len(raw) + 65536:  # beyond deflate's maximum ratio: not a trustworthy trailer
        isize = 0
    out = np.empty(isize, np.uint8)
    dec = zmod.decompressobj(31)
    view = memoryview(raw)
    pos = 0
    chunk = 1 << 16
    consumed = len(raw)
    try:
        for start in range(0, len(raw), chunk):
            piece = dec.decompress(view[start : start + chunk])
            n = len(piece)
            if pos + n > isize:
                raise OverflowError
            out[pos : pos + n] = np.frombuffer(piece, np.uint8)
            pos += n
            if dec.eof:
                consumed = min(start + chunk, len(raw))
                break
        piece = dec.flush()
        if pos + len(piece) > isize:
            raise OverflowError
        out[pos : pos + len(piece)] = np.frombuffer(piece, np.uint8)
        pos += len(piece)
        if pos != isize or dec.unused_data.strip(b"\x00") or raw[consumed:].strip(b"\x00"):
            raise OverflowError
    except OverflowError:  # several gzip members, >= 4 GiB or a damaged trailer: let the library handle it
        try:
            return np.frombuffer(_gunzip(path), np.uint8).copy()
        except (OSError, EOFError, zlib.error, getattr(zmod, "error", zlib.error)) as exc:
            raise StudyError(f"{path}: corrupt or truncated gzip data ({exc})") from None
    except (zlib.error, getattr(zmod, "error", zlib.error), EOFError) as exc:
        raise StudyError(f"{path}: corrupt gzip data ({exc})") from None
    if not dec.eof:
        raise StudyError(f"{path}: truncated gzip file")
    return out


def _parse_nifti_header(block: bytes | np.ndarray, path: Path) -> Any:
    """A nibabel Nifti1Header/Nifti2Header from the first bytes of a .nii stream."""
    import nibabel as nib

    block = bytes(block[:540])
    if len(block) < 348:
        raise StudyError(f"{path}: not a NIfTI file (only {len(block)} bytes)")
    size_le = int.from_bytes(block[:4], "little")
    size_be = int.from_bytes(block[:4], "big")
    try:
        if 348 in (size_le, size_be):
            hdr = nib.Nifti1Header(block[:348], check=False)
        elif 540 in (size_le, size_be) and len(block) >= 540:
            hdr = nib.Nifti2Header(block[:540], check=False)
        else:
            raise ValueError("bad sizeof_hdr")
    except Exception as exc:
        raise StudyError(f"{path}: not a readable NIfTI file ({exc})") from None
    if bytes(hdr["magic"]).rstrip(b"\x00") not in (b"n+1", b"n+2"):
        raise StudyError(f"{path}: not a single-file NIfTI (magic {bytes(hdr['magic'])!r})")
    return hdr


def _gzip_errors() -> tuple[type[BaseException], ...]:
    """The exception types a damaged gzip/deflate stream raises (zlib's, and ISA-L's, which is no OSError)."""
    import zlib

    try:
        from isal import isal_zlib

        return (zlib.error, isal_zlib.error)
    except ImportError:  # pragma: no cover
        return (zlib.error,)


def read_nifti_header(path: str | os.PathLike) -> Any:
    """The NIfTI header only: the first 540 bytes of the (gzip) stream are inflated, nothing more."""
    path = Path(path)
    if not path.exists():
        raise StudyError(f"{path}: file not found")
    try:
        if path.name.endswith(".gz"):
            try:
                from isal import igzip as gz
            except ImportError:  # pragma: no cover
                gz = gzip
            with gz.open(path, "rb") as f:
                block = f.read(540)
        else:
            with open(path, "rb") as f:
                block = f.read(540)
    except EOFError as exc:
        raise StudyError(f"{path}: truncated gzip file ({exc})") from None
    except _gzip_errors() as exc:
        raise StudyError(f"{path}: corrupt gzip data ({exc})") from None
    except OSError as exc:
        if exc.errno is None and path.name.endswith(".gz"):  # a bad gzip stream, not a file-system error
            raise StudyError(f"{path}: corrupt gzip data ({exc})") from None
        raise StudyError(f"{path}: not a readable NIfTI file ({exc})") from None
    return _parse_nifti_header(block, path)


def read_nifti_raw(path: str | os.PathLike) -> tuple[np.ndarray, np.ndarray, float | None, float | None, Any]:
    """Read a NIfTI's stored values without scaling: (data, affine, slope, inter, header).

    The file is inflated once (ISA-L) into a writable buffer and the array is a Fortran-ordered view of
    it: no dtype conversion, no copy. `slope`/`inter` are None when the header sets no scaling (or
    1/0); apply them yourself, e.g. only to the voxels you sample.
    """
    path = Path(path)
    if not path.exists():
        raise StudyError(f"{path}: file not found")
    if not path.name.endswith((".nii", ".gz")):  # e.g. an .hdr/.img pair: let nibabel find the parts
        return _read_with_nibabel(path)
    buf = _inflate_to_array(path) if path.name.endswith(".gz") else np.fromfile(path, np.uint8)
    hdr = _parse_nifti_header(buf, path)
    shape = tuple(int(n) for n in hdr.get_data_shape())
    while len(shape) > 3 and shape[-1] == 1:
        shape = shape[:-1]
    if len(shape) != 3:
        raise StudyError(f"{path}: expected a 3-D image, got shape {shape}")
    try:
        dtype = hdr.get_data_dtype()
    except Exception as exc:
        raise StudyError(f"{path}: unsupported NIfTI data type ({exc})") from None
    offset = int(hdr["vox_offset"])
    count = int(np.prod(shape))
    if offset < 348 or offset + count * dtype.itemsize > buf.size:
        raise StudyError(f"{path}: truncated NIfTI data (need {offset + count * dtype.itemsize} bytes, have {buf.size})")
    data = buf[offset : offset + count * dtype.itemsize].view(dtype).reshape(shape, order="F")
    if not dtype.isnative:
        data = data.astype(dtype.newbyteorder("="))
    slope, inter = hdr.get_slope_inter()
    if slope is None or (slope == 1 and (inter is None or inter == 0)):
        slope, inter = None, None
    elif inter is None:
        inter = 0.0
    return data, np.asarray(hdr.get_best_affine(), dtype=np.float64), slope, inter, hdr


def _read_with_nibabel(path: Path) -> tuple[np.ndarray, np.ndarray, float | None, float | None, Any]:
    import nibabel as nib

    try:
        img = nib.load(str(path))
        data = np.asarray(img.dataobj.get_unscaled())
        slope, inter = getattr(img.dataobj, "slope", None), getattr(img.dataobj, "inter", None)
    except Exception as exc:  # nibabel raises many kinds
        raise StudyError(f"{path}: not a readable NIfTI file ({exc})") from None
    while data.ndim > 3 and data.shape[-1] == 1:
        data = data[..., 0]
    if data.ndim != 3:
        raise StudyError(f"{path}: expected a 3-D image, got shape {data.shape}")
    if slope is None or (slope == 1 and (inter is None or inter == 0)):
        slope, inter = None, None
    elif inter is None:
        inter = 0.0
    return data, np.asarray(img.affine, dtype=np.float64), slope, inter, img.header


@dataclass
class NiftiCheck:
    """What `check_nifti_data` found: the voxel count, and for float data how many voxels are not finite."""

    voxels: int
    nonfinite: int = 0


def check_nifti_data(path: str | os.PathLike, hdr: Any = None, *, count_nonfinite: bool = False,
                     chunk: int = 1 << 18) -> NiftiCheck:
    """Read a .nii / .nii.gz to its end without keeping it: a one-line StudyError when the gzip stream is
    damaged or truncated (CRC and length checked) or the data block is shorter than the header says.

    Memory stays at one chunk whatever the file size. With `count_nonfinite`, float voxels that are NaN or
    infinite are counted (scaling ignored: a finite slope keeps finite values finite).
    """
    import zlib

    path = Path(path)
    hdr = hdr if hdr is not None else read_nifti_header(path)
    shape = tuple(int(n) for n in hdr.get_data_shape())
    dtype = hdr.get_data_dtype()
    voxels = int(np.prod(shape)) if shape else 0
    start = int(hdr["vox_offset"])
    end = start + voxels * dtype.itemsize
    count = count_nonfinite and dtype.kind in "fc"
    state = {"pos": 0, "carry": b"", "nonfinite": 0}

    def consume(piece: bytes) -> None:
        pos = state["pos"]
        state["pos"] = pos + len(piece)
        if not count or state["pos"] <= start or pos >= end:
            return
        lo, hi = max(start - pos, 0), min(end - pos, len(piece))
        data = state["carry"] + piece[lo:hi]
        usable = len(data) - len(data) % dtype.itemsize
        if usable:
            vals = np.frombuffer(data[:usable], dtype)
            state["nonfinite"] += int(vals.size - np.count_nonzero(np.isfinite(vals)))
        state["carry"] = data[usable:]

    try:
        with open(path, "rb") as fh:
            if not path.name.endswith(".gz"):
                while block := fh.read(chunk):
                    consume(block)
            else:
                try:
                    from isal import isal_zlib as zmod
                except ImportError:  # pragma: no cover
                    zmod = zlib
                errors = (zlib.error, getattr(zmod, "error", zlib.error))
                dec = zmod.decompressobj(31)
                try:
                    while raw := fh.read(chunk):
                        while raw:
                            if dec.eof:  # one gzip member ended: zero padding, or another member
                                if not raw.strip(b"\x00"):
                                    break
                                dec = zmod.decompressobj(31)
                            consume(dec.decompress(raw, chunk))
                            raw = dec.unused_data if dec.eof else dec.unconsumed_tail
                    if not dec.eof:
                        consume(dec.flush())
                except errors as exc:
                    raise StudyError(f"{path}: corrupt gzip data ({exc})") from None
                if not dec.eof:
                    raise StudyError(f"{path}: truncated gzip file (the compressed stream ends early)")
    except OSError as exc:
        raise StudyError(f"{path}: cannot read ({exc.strerror or exc})") from None
    if state["pos"] < end:
        raise StudyError(f"{path}: truncated NIfTI data (need {end} bytes, have {state['pos']})")
    return NiftiCheck(voxels, int(state["nonfinite"]))


def load_nifti(path: str | os.PathLike, dtype: Any = None) -> Volume:
    """Read a .nii or .nii.gz into a Volume (scaling applied; `dtype` casts the result)."""
    from nibabel.volumeutils import apply_read_scaling

    data, affine, slope, inter, _ = read_nifti_raw(path)
    if slope is not None:
        data = apply_read_scaling(data, slope, inter)
    if dtype is not None:
        data = data.astype(dtype, copy=False)
    return Volume(data, affine)


def save_nifti(vol: Volume, path: str | os.PathLike, compresslevel: int = 1) -> None:
    """Write a Volume as NIfTI-1 (gzip level 1 by default: fast, still small). Atomic."""
    import nibabel as nib

    path = Path(path)
    img = nib.Nifti1Image(vol.data, vol.affine)
    img.set_qform(vol.affine, code=1)
    img.set_sform(vol.affine, code=1)
    payload = img.to_bytes()
    if path.name.endswith(".gz"):
        try:
            from isal import igzip

            payload = igzip.compress(payload, compresslevel=min(compresslevel, 3))
        except ImportError:  # pragma: no cover
            payload = gzip.compress(payload, compresslevel=compresslevel)
    atomic_write_bytes(path, payload)


def bounding_box_mm(shape: tuple[int, ...], affine: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(low, high) RAS+ mm corners of the box a grid's voxels cover (voxel edges, not centres)."""
    corners = np.array([[i, j, k] for i in (-0.5, shape[0] - 0.5) for j in (-0.5, shape[1] - 0.5)
                        for k in (-0.5, shape[2] - 0.5)]).T
    world = affine[:3, :3] @ corners + affine[:3, 3:4]
    return world.min(axis=1), world.max(axis=1)


def check_overlap(pet_shape: tuple[int, ...], pet_affine: np.ndarray, ct_shape: tuple[int, ...],
                  ct_affine: np.ndarray, where: str) -> None:
    """Refuse (one-line InputError naming `where`) a CT whose field of view does not overlap the PET's.

    A PET/CT pair shares one patient coordinate system, so their boxes intersect; disjoint boxes mean a wrong
    pairing, a wrong affine or a CT from another exam (e.g. a CT 5 m away from the PET).
    """
    plo, phi = bounding_box_mm(pet_shape, np.asarray(pet_affine, np.float64))
    clo, chi = bounding_box_mm(ct_shape, np.asarray(ct_affine, np.float64))
    gap = np.maximum(np.maximum(clo - phi, plo - chi), 0.0)
    if np.any(np.minimum(phi, chi) <= np.maximum(plo, clo)):
        axis = int(np.argmax(gap))
        far = f"{plain(round(float(gap[axis]), 1))} mm apart along {'xyz'[axis]}" if gap[axis] > 0 else "touching"
        raise InputError(f"{where}: CT does not overlap the PET in space (their fields of view are {far}; "
                         "check the pairing and the positions/affines)")


# --------------------------------------------------------------------------------------- folder I/O


def write_json(path: Path, obj: Any) -> None:
    """Write JSON atomically (UTF-8, non-ASCII kept, indented)."""
    atomic_write_json(path, obj)


def write_study(study: Study, folder: str | os.PathLike) -> Path:
    """Write a study folder (arrays only if present) in place, study.json last. Returns the folder.

    The study id must be a valid id (`pet2rep.io.check_id`). To replace an existing study only once the new
    one is complete, write into `pet2rep.io.staged_folder(folder)` instead.
    """
    folder = Path(folder)
    check_id(study.study_id, str(folder))
    folder.mkdir(parents=True, exist_ok=True)
    if study.pet is not None:
        save_nifti(Volume(study.pet.data.astype(np.float32, copy=False), study.pet.affine), folder / PET_FILE)
    if study.ct is not None:
        save_nifti(study.ct, folder / CT_FILE)
    for lang, text in study.reports.items():
        atomic_write_text(safe_join(folder, f"report.{check_id(lang, str(folder), 'report language')}.txt"), text)
    if study.labels is not None:
        write_json(folder / LABELS_FILE, study.labels)
    meta = dict(study.meta)
    meta["study_id"] = study.study_id
    write_json(folder / META_FILE, meta)
    study.folder = folder
    return folder


def _read_json_file(path: Path, kind: type, expected: str) -> Any:
    """A JSON file of a study folder; a bad one raises a one-line StudyError naming it."""
    try:
        obj = json.loads(path.read_bytes().decode("utf-8"))
    except UnicodeDecodeError as exc:
        raise StudyError(f"{path}: not UTF-8 text (byte {exc.start})") from None
    except json.JSONDecodeError as exc:
        raise StudyError(f"{path}: invalid JSON ({exc.msg} at line {exc.lineno} column {exc.colno})") from None
    except RecursionError:
        raise StudyError(f"{path}: JSON nested too deeply to read") from None
    if not isinstance(obj, kind):
        raise StudyError(f"{path}: expected {expected}, got {type(obj).__name__}")
    return obj


def _study_id(meta: dict[str, Any], meta_path: Path, folder: Path) -> str:
    """The study id of study.json (or, when it has none, the folder's name), checked to be a valid id."""
    sid = meta.get("study_id")
    if sid is None:
        name = Path(os.path.abspath(folder)).name
        check_id(name, str(meta_path), "no study_id, and the folder name")
        return name
    if isinstance(sid, int) and not isinstance(sid, bool):
        sid = str(sid)
    if not isinstance(sid, str):
        raise StudyError(f"{meta_path}: study_id must be a string, got {type(sid).__name__}")
    return check_id(sid, str(meta_path), "study_id")


def read_study(folder: str | os.PathLike, arrays: bool = True) -> Study:
    """Read a study folder. With `arrays=False` only metadata, reports and labels are read."""
    folder = Path(folder)
    meta_path = folder / META_FILE
    if not meta_path.exists():
        raise StudyError(f"{folder}: not a study folder (no {META_FILE})")
    meta = _read_json_file(meta_path, dict, "a JSON object of study metadata")
    reports = {}
    for p in sorted(folder.glob("report.*.txt")):
        try:
            reports[p.name.split(".")[1]] = p.read_text(encoding="utf-8")
        except UnicodeDecodeError as exc:
            raise StudyError(f"{p}: not UTF-8 text (byte {exc.start}); re-save the report as UTF-8") from None
    labels = None
    if (folder / LABELS_FILE).exists():
        labels = _read_json_file(folder / LABELS_FILE, dict, "a JSON object {organ_id: [states]}")
    study = Study(
        study_id=_study_id(meta, meta_path, folder),
        meta=meta,
        reports=reports,
        labels=labels,
        folder=folder,
    )
    if arrays:
        study.pet = load_nifti(folder / PET_FILE, np.float32)
        if (folder / CT_FILE).exists():
            study.ct = load_nifti(folder / CT_FILE)
    return study


def find_studies(root: str | os.PathLike) -> list[Path]:
    """Study folders under `root` (the folder itself, or its sub-folders holding study.json), sorted."""
    root = Path(root)
    if (root / META_FILE).exists():
        return [root]
    return sorted(p.parent for p in root.glob(f"*/{META_FILE}") if not p.parent.name.startswith("."))


def non_study_dirs(root: str | os.PathLike) -> list[Path]:
    """Sub-folders of a folder of studies that hold no study.json (reported as skipped), sorted."""
    root = Path(root)
    if (root / META_FILE).exists() or not root.is_dir():
        return []
    return sorted(p for p in root.iterdir() if p.is_dir() and not p.name.startswith(".")
                  and not (p / META_FILE).exists())


def study_folders(root: str | os.PathLike, out: str | os.PathLike, command: str) -> list[Path]:
    """Study folders for a command over STUDY_DIR or a folder of them; checks `root` and `--out`.

    Sub-folders without a study.json are reported on stderr as skipped (``pet2rep COMMAND: DIR: skipped``).
    """
    import sys

    root, out = Path(root), Path(out)
    if not root.exists():
        raise InputError(f"{root}: no such folder")
    if not root.is_dir():
        raise InputError(f"{root}: is a file; expected a study folder (holding {META_FILE}) or a folder of them")
    out_folder(out)
    studies = find_studies(root)
    if not studies:
        raise InputError(f"{root}: not a study folder (no {META_FILE}), and none of its sub-folders holds one")
    for skipped in non_study_dirs(root):
        print(f"pet2rep {command}: {skipped}: skipped (no {META_FILE})", file=sys.stderr)
    return studies
