"""`pet2rep ingest`: a PET/CT exam (DICOM folders or NIfTI files) into a study folder with PET in SUVbw.

    pet2rep ingest --pet PET_DIR --ct CT_DIR --out STUDY_DIR
    pet2rep ingest --dicom DIR --out STUDY_DIR [--pet-series UID] [--ct-series UID]
    pet2rep ingest --dicom ROOT --out OUT --batch          (one exam per sub-folder of ROOT)
    pet2rep ingest --pet-nifti SUV.nii.gz --ct-nifti CTres.nii.gz --out STUDY_DIR [--pet-units suv]
    pet2rep ingest --pet-nifti PET.nii.gz --ct-nifti CT.nii.gz --out STUDY_DIR --pet-units bqml \\
        --weight KG --dose MBQ --injection-time HH:MM --scan-time HH:MM
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from ..errors import InputError, out_folder
from ..ingest import check_facts
from ..io import check_id
from .flags import as_flags, flag_names

# the ingest functions' parameters as the user gives them (library errors name them as `name=`)
FLAGS = {
    "out": "--out", "study_id": "--study-id", "dicom_dir": "--dicom", "pet_dir": "--pet", "ct_dir": "--ct",
    "pet_series": "--pet-series", "ct_series": "--ct-series", "allow_no_ct": "--allow-no-ct", "batch": "--batch",
    "weight_kg": "--weight", "dose_mbq": "--dose", "injection_time": "--injection-time", "scan_time": "--scan-time",
    "half_life_s": "--half-life", "pet_units": "--pet-units", "sex": "--sex", "age": "--age",
}


def configure_parser(parser: argparse.ArgumentParser) -> None:
    """Arguments of `pet2rep ingest`."""
    parser.formatter_class = argparse.RawDescriptionHelpFormatter
    parser.epilog = __doc__.split("\n", 2)[2] if __doc__ else None
    src = parser.add_argument_group("input (one of: --dicom, --pet [+ --ct], --pet-nifti + --ct-nifti)")
    src.add_argument("--dicom", metavar="DIR", help="folder holding the PET and CT series (scanned recursively)")
    src.add_argument("--pet", metavar="PET_DIR", help="folder of the PET DICOM series")
    src.add_argument("--ct", metavar="CT_DIR", help="folder of the CT DICOM series")
    src.add_argument("--pet-nifti", metavar="FILE", help="PET NIfTI (Bq/ml or SUV)")
    src.add_argument("--ct-nifti", metavar="FILE", help="CT NIfTI in HU")
    parser.add_argument("--out", required=True, metavar="STUDY_DIR", help="study folder to write (with --batch: parent)")
    parser.add_argument("--batch", action="store_true", help="each immediate sub-folder of --dicom ROOT is one exam")
    parser.add_argument("--skip-existing", action="store_true", help="with --batch: skip exams already written")
    parser.add_argument("--pet-series", metavar="UID", help="force the PET SeriesInstanceUID")
    parser.add_argument("--ct-series", metavar="UID", help="force the CT SeriesInstanceUID")
    parser.add_argument("--allow-no-ct", action="store_true", help="write a PET-only study when no CT is found")
    parser.add_argument("--study-id", help="study id (default: the name of the output folder)")
    ov = parser.add_argument_group("overrides / NIfTI metadata")
    ov.add_argument("--weight", metavar="KG", help="patient weight in kg (0 < KG <= 600)")
    ov.add_argument("--dose", metavar="MBQ", help="injected activity in MBq (0 < MBQ <= 100000)")
    ov.add_argument("--injection-time", metavar="HH:MM[:SS]", help="injection clock time")
    ov.add_argument("--scan-time", metavar="HH:MM[:SS]", help="scan start clock time (NIfTI only)")
    ov.add_argument("--half-life", metavar="S", help="radionuclide half-life in s (F-18: 6586.2)")
    ov.add_argument("--pet-units", choices=("auto", "suv", "bqml"), default="auto", help="NIfTI PET units")
    ov.add_argument("--sex", choices=("M", "F"), help="patient sex (NIfTI only)")
    ov.add_argument("--age", metavar="YEARS", help="patient age in years, 0..150 (NIfTI only)")
    parser.add_argument("--no-progress", action="store_true", help="no progress bars")


def _flag_number(text: str | None, flag: str) -> float | None:
    """A number given on the command line (None when not given); a one-line InputError when it is not one."""
    if text is None:
        return None
    try:
        return float(text.strip())
    except ValueError:
        raise InputError(f"{flag} {text!r}: not a number") from None


def run_cli(args: argparse.Namespace) -> int:
    """Run `pet2rep ingest`; returns the exit code (0 ok, 1 some batch exams failed)."""
    with flag_names(FLAGS):
        return _ingest(args)


def _ingest(args: argparse.Namespace) -> int:
    progress = False if args.no_progress else None  # None: bars only when stderr is a terminal
    for name in ("weight", "dose", "half_life", "age"):
        setattr(args, name, _flag_number(getattr(args, name), f"--{name.replace('_', '-')}"))
    check_facts(args.weight, args.dose, args.half_life, args.age)
    if args.study_id is not None:
        check_id(args.study_id, "--study-id")
    modes = [m for m, on in (("--dicom", args.dicom), ("--pet", args.pet), ("--pet-nifti", args.pet_nifti)) if on]
    if len(modes) != 1:
        raise InputError(
            "give exactly one input: --dicom DIR, or --pet PET_DIR [--ct CT_DIR], or --pet-nifti FILE --ct-nifti FILE"
            + (f" (got {', '.join(modes)})" if modes else "")
        )
    mode = modes[0]
    if mode != "--pet" and args.ct:
        raise InputError("--ct goes with --pet")
    if mode != "--pet-nifti" and (args.ct_nifti or args.scan_time or args.sex or args.age is not None):
        raise InputError("--ct-nifti, --scan-time, --sex and --age go with --pet-nifti")
    if args.batch and mode != "--dicom":
        raise InputError("--batch goes with --dicom ROOT")
    out = out_folder(args.out)

    if mode == "--pet-nifti":
        return _run_nifti(args)

    from ..ingest.dicom import ingest_batch, ingest_dicom

    if args.batch:
        extra = [n for n, v in (("--pet-series", args.pet_series), ("--ct-series", args.ct_series),
                                ("--weight", args.weight), ("--dose", args.dose),
                                ("--injection-time", args.injection_time), ("--half-life", args.half_life),
                                ("--study-id", args.study_id)) if v is not None]
        if extra:
            raise InputError(f"{', '.join(extra)} apply to one exam, not to --batch")
        done, failed = ingest_batch(
            args.dicom, args.out, skip_existing=args.skip_existing, allow_no_ct=args.allow_no_ct, progress=progress,
            report=lambda line: print(f"pet2rep ingest: {as_flags(line, FLAGS)}", file=sys.stderr),
        )
        total = len(done) + len(failed)
        print(f"pet2rep ingest: {len(done)} of {total} exams ingested into {args.out}, {len(failed)} failed",
              file=sys.stderr)
        return 1 if failed else 0

    out = ingest_dicom(
        args.out,
        dicom_dir=args.dicom,
        pet_dir=args.pet,
        ct_dir=args.ct,
        pet_series=args.pet_series,
        ct_series=args.ct_series,
        weight_kg=args.weight,
        dose_mbq=args.dose,
        injection_time=args.injection_time,
        half_life_s=args.half_life,
        study_id=args.study_id,
        allow_no_ct=args.allow_no_ct,
        progress=progress,
        warn=_warn,
    )
    print(out)
    return 0


def _run_nifti(args: argparse.Namespace) -> int:
    if not args.ct_nifti and not args.allow_no_ct:
        raise InputError("--pet-nifti needs --ct-nifti (or --allow-no-ct)")
    if args.pet_series or args.ct_series:
        raise InputError("--pet-series/--ct-series go with DICOM input")
    from ..ingest.nifti import ingest_nifti

    out = ingest_nifti(
        Path(args.pet_nifti),
        Path(args.ct_nifti) if args.ct_nifti else None,
        Path(args.out),
        pet_units=args.pet_units,
        weight_kg=args.weight,
        dose_mbq=args.dose,
        injection_time=args.injection_time,
        scan_time=args.scan_time,
        half_life_s=args.half_life,
        study_id=args.study_id,
        sex=args.sex,
        age=args.age,
        warn=_warn,
    )
    print(out)
    return 0


def _warn(msg: str) -> None:
    print(f"pet2rep ingest: warning: {as_flags(msg, FLAGS)}", file=sys.stderr)
