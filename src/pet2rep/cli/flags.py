"""Library errors in command-line terms: a parameter the library names as ``name=`` is shown as its flag.

The library speaks Python: a refused argument is named the way a caller writes it, ``batch_size=0: must be at
least 1``, and a hint names the keyword to pass, ``(give weight_kg=KG)``, ``restart=True``. A command maps its
parameters to its flags, so the user reads ``--batch-size 0: must be at least 1``, ``(give --weight KG)`` and
``--restart``. Only ``name=`` is rewritten (never a bare word), so a path or a value that happens to be spelled
like a parameter is left alone.
"""

from __future__ import annotations

import re
from collections.abc import Iterator, Mapping
from contextlib import contextmanager

from ..errors import Pet2RepError


def as_flags(text: str, flags: Mapping[str, str]) -> str:
    """`text` with each ``name=True`` of `flags` replaced by its flag, and ``name=VALUE`` by ``flag VALUE``."""
    if not flags or "=" not in text:
        return text
    names = "|".join(re.escape(n) for n in sorted(flags, key=len, reverse=True))

    def flag(m: re.Match[str]) -> str:
        name, true, value = m.group(1), m.group(2), m.group(3)
        if true:
            return flags[name]
        return flags[name] + (" " + value if value else "")

    return re.sub(rf"(?<![\w.=/-])({names})=(?:(True)(?![\w.])|([^\s,;:)\]]?))", flag, text)


@contextmanager
def flag_names(flags: Mapping[str, str]) -> Iterator[None]:
    """Inside the block, a Pet2RepError's message is rewritten with `as_flags` (same exception, same type)."""
    try:
        yield
    except Pet2RepError as exc:
        if exc.args and isinstance(exc.args[0], str):
            text = as_flags(exc.args[0], flags)
            if text != exc.args[0]:
                exc.args = (text, *exc.args[1:])
        raise
