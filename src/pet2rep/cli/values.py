"""Flag values that several commands parse the same way (comma lists of numbers)."""

from __future__ import annotations

from typing import Any

from ..errors import InputError


def parse_list(text: str | None, cast: Any, what: str) -> list | None:
    """A comma list of `cast` numbers from option `what` (None when not given); one-line errors."""
    if text is None:
        return None
    try:
        vals = [cast(x) for x in text.split(",") if x.strip()]
    except ValueError:
        kind = "whole numbers (PET-grid indices)" if cast is int else "numbers"
        raise InputError(f"{what} {text!r}: expected comma-separated {kind}") from None
    if not vals:
        raise InputError(f"{what} {text!r}: empty")
    return vals
