"""Ingest: PET/CT exams (DICOM, NIfTI) and synthetic phantoms into study folders.

What every ingest path shares lives here: the study id a folder gets, and the plausible range of the facts
SUV is computed from (given on the command line or found in a header).
"""

from __future__ import annotations

import math
import os
from pathlib import Path

from ..errors import InputError, plain
from ..io import ID_RULE, check_id, id_problem

WEIGHT_MAX_KG = 600.0  # no patient weighs more; a larger value is grams or a typo
DOSE_MAX_MBQ = 1e5  # 100 GBq: far above any diagnostic or therapeutic activity
HALF_LIFE_MAX_S = 1e10
AGE_MAX_YEARS = 150.0


def study_id_for(out: str | os.PathLike, study_id: str | None) -> str:
    """The id of a study written to `out`: `study_id` or else the folder's name, checked."""
    if study_id is not None:
        return check_id(study_id, "study_id=")
    name = Path(os.path.abspath(os.fspath(out))).name
    problem = id_problem(name)
    if problem is not None:
        raise InputError(f"out={out}: the folder name {name!r} {problem}, so it cannot be the study id "
                         f"({ID_RULE}); give study_id=ID")
    return name


def check_fact(name: str, value: float | None, high: float, unit: str, *, zero_ok: bool = False) -> float | None:
    """`value` as a float when finite and within (0, high] ([0, high] with `zero_ok`); else a one-line
    InputError naming the parameter `name` (``name=value``, e.g. ``weight_kg=700``) and the value, printed plainly."""
    if value is None:
        return None
    try:
        v = float(value)
    except (TypeError, ValueError):
        raise InputError(f"{name}={value!r}: not a number") from None
    if not math.isfinite(v):
        raise InputError(f"{name}={plain(v)}: must be a finite number")
    if v < 0 or (v == 0 and not zero_ok):
        raise InputError(f"{name}={plain(v)} {unit}: must be {'zero or more' if zero_ok else 'positive'}")
    if v > high:
        raise InputError(f"{name}={plain(v)} {unit}: implausibly large (at most {plain(high)} {unit})")
    return v


def check_facts(weight_kg: float | None = None, dose_mbq: float | None = None, half_life_s: float | None = None,
                age: float | None = None) -> None:
    """The given facts of an exam: finite and in their plausible ranges (one-line InputError naming the parameter)."""
    check_fact("weight_kg", weight_kg, WEIGHT_MAX_KG, "kg")
    check_fact("dose_mbq", dose_mbq, DOSE_MAX_MBQ, "MBq")
    check_fact("half_life_s", half_life_s, HALF_LIFE_MAX_S, "s")
    check_fact("age", age, AGE_MAX_YEARS, "years", zero_ok=True)
