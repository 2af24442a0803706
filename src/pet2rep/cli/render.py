"""`pet2rep render`: flags over pet2rep.render.render_study (one study, or a folder of study folders)."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import Any

from .. import render
from ..errors import InputError, Pet2RepError
from ..io import safe_join
from ..render import check_prefix, render_study
from ..study import read_study, study_folders
from .flags import as_flags, flag_names
from .values import parse_list

# render_study's parameters that the user gives as flags (library errors name them as `name=`)
FLAGS = {"slices": "--slices", "fractions": "--fractions", "mode": "--mode", "prefix": "--prefix"}


def _float_tuple(text: str, n: int, what: str) -> tuple[float, ...]:
    try:
        vals = tuple(float(x) for x in text.split(","))
    except ValueError:
        raise InputError(f"{what} {text!r}: expected {n} comma-separated numbers") from None
    if len(vals) != n:
        raise InputError(f"{what} {text!r}: expected {n} comma-separated numbers")
    return vals


def _size(text: str | None) -> tuple[int, int] | None:
    if text is None:
        return None
    try:
        w, h = (int(x) for x in text.lower().split("x"))
    except ValueError:
        raise InputError(f"--size {text!r}: expected WIDTHxHEIGHT, e.g. 200x219") from None
    if w < 1 or h < 1:
        raise InputError(f"--size {text!r}: must be positive")
    if w > render.MAX_SIZE or h > render.MAX_SIZE:
        raise InputError(f"--size {text!r}: at most {render.MAX_SIZE}x{render.MAX_SIZE} pixels")
    return w, h


def configure_parser(parser: argparse.ArgumentParser) -> None:
    """Arguments of `pet2rep render`."""
    parser.formatter_class = argparse.RawDescriptionHelpFormatter
    parser.epilog = render.__doc__.split("\n\n", 1)[1] if render.__doc__ else None
    parser.add_argument("study", metavar="STUDY_DIR", help="study folder, or a folder of study folders")
    parser.add_argument("--out", required=True, metavar="VIEWS_DIR", help="folder for the images and views.json")
    parser.add_argument("--mode", choices=render.MODES, default="fused", help="what to draw (default fused)")
    sel = parser.add_mutually_exclusive_group()
    sel.add_argument("--slices", metavar="I,J,K", help="PET-grid plane indices (default 90,100,110 coronal)")
    sel.add_argument("--fractions", metavar="F,G,H", help="positions within the body extent, 0..1")
    parser.add_argument("--format", choices=("jpg", "png"), default="jpg", help="image format (default jpg)")
    parser.add_argument("--suv-window", default="0,10", metavar="LO,HI", help="SUV display window (default 0,10)")
    parser.add_argument("--ct-window", default="400,40", metavar="W,L", help="CT width,level in HU (default 400,40)")
    parser.add_argument("--alpha", type=float, default=0.5, help="PET weight in fused images (default 0.5)")
    parser.add_argument("--size", metavar="WxH", help="output image size in pixels (default: square mm pixels)")
    parser.add_argument("--prefix", help="image name prefix (default: the study id)")


def run_cli(args: argparse.Namespace) -> int:
    """Run `pet2rep render`; 0 when every study rendered, 1 when some failed (their errors printed)."""
    with flag_names(FLAGS):
        return _render_studies(args)


def _render_studies(args: argparse.Namespace) -> int:
    kwargs: dict[str, Any] = dict(
        mode=args.mode,
        slices=parse_list(args.slices, int, "--slices"),
        fractions=parse_list(args.fractions, float, "--fractions"),
        fmt=args.format,
        suv_window=_float_tuple(args.suv_window, 2, "--suv-window"),
        ct_window=_float_tuple(args.ct_window, 2, "--ct-window"),
        size=_size(args.size),
        alpha=args.alpha,
    )
    check_prefix(args.prefix)
    root, out = Path(args.study), Path(args.out)
    studies = study_folders(root, out, "render")
    if studies == [root]:
        rec = render_study(root, out, prefix=args.prefix, **kwargs)
        print(f"{out}: {_n_images(rec)}")
        return 0
    failed = 0
    used: dict[str, Path] = {}
    for folder in studies:
        try:
            sid = read_study(folder, arrays=False).study_id  # a valid id: checked where study.json is read
            if sid in used:
                raise InputError(f"study id {sid!r} is also the id of {used[sid]}; each study needs its own id "
                                 f"(it names the folder {out / sid})")
            used[sid] = folder
            rec = render_study(folder, safe_join(out, sid), prefix=args.prefix, **kwargs)
            print(f"{out / sid}: {_n_images(rec)}")
        except (Pet2RepError, OSError, ValueError) as exc:
            failed += 1
            text = as_flags(str(exc), FLAGS)
            print(f"pet2rep render: {folder}: {text.splitlines()[0] if text else type(exc).__name__}",
                  file=sys.stderr)
    if failed:
        print(f"pet2rep render: {failed} of {len(studies)} studies failed", file=sys.stderr)
    return 1 if failed else 0


def _n_images(rec: dict[str, Any]) -> str:
    n = len(rec["images"])
    return f"{n} image" + ("" if n == 1 else "s")

