"""Optional numba compilation, one way for every kernel: compiled when numba is installed and works, else None
(and the caller runs the plain Python copy, which gives the same numbers).

``PET2REP_NO_JIT=1`` turns compilation off. numba's on-disk cache is used when its folder is writable, else the
kernel is compiled in memory. A compiled kernel is only returned after it answered a small known problem right.
"""

from __future__ import annotations

import os
import warnings
from collections.abc import Callable, Iterable
from typing import Any


def jit_disabled() -> bool:
    """Whether ``PET2REP_NO_JIT`` asks for the Python copies."""
    return os.environ.get("PET2REP_NO_JIT", "") not in ("", "0")


def compile_checked(fn: Callable[..., Any], trial: Callable[[Any], bool], *, inlined: Iterable[Callable] = (),
                    helpers: Iterable[Callable] = ()) -> Any:
    """``numba.njit(nogil=True)(fn)`` if it passes ``trial(compiled)``, else None (numba missing or unusable).

    ``helpers`` are functions ``fn`` calls, made callable from compiled code (``inlined`` ones inlined into their
    callers). numba's pedantic IR self-check warnings about inlined code are silenced."""
    if jit_disabled():
        return None
    try:
        import numba
        from numba.extending import register_jitable

        inl = set(inlined)
        for f in helpers:
            register_jitable(inline="always" if f in inl else "never")(f)
    except Exception:  # noqa: BLE001 - numba missing or broken
        return None
    for cache in (True, False):  # the on-disk cache when its folder is writable, else in memory
        try:
            compiled = numba.njit(cache=cache, nogil=True)(fn)
            with warnings.catch_warnings():
                warnings.simplefilter("ignore", numba.NumbaIRAssumptionWarning)
                if trial(compiled):
                    return compiled
        except Exception:  # noqa: BLE001 - no usable compiler or cache: try the next way, then the Python copy
            continue
    return None


__all__ = ["compile_checked", "jit_disabled"]
