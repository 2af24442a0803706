"""The packaged model cards as rows (shown by `pet2rep models`, pet2rep.cli.models) — name, backend, hub id, size,
image limits, whether the model is one of the PET2Rep paper's, and where it has been run end to end.
"""

from __future__ import annotations

from typing import Any

from .base import list_cards

COLUMNS = ("name", "backend", "model", "size", "images", "paper", "verified")
NONE = "—"


def _pixels(n: Any) -> str:
    """A pixel count the way people read it: 1003520 -> 1.0M, 3136 -> 3136."""
    n = int(n)
    return f"{n / 1e6:.1f}M" if n >= 1_000_000 else (f"{n / 1e3:.0f}k" if n >= 10_000 else str(n))


def image_limits(card: dict[str, Any]) -> str:
    """The card's image limits, compact: '≤1 img, first' or '3136-1.0M px'; '—' when it sets none."""
    parts = []
    if card.get("max_images") is not None:
        parts.append(f"≤{card['max_images']} img")
    proc = card.get("processor") or {}
    size = proc.get("size") if isinstance(proc.get("size"), dict) else {}
    lo = size.get("shortest_edge", proc.get("min_pixels"))
    hi = size.get("longest_edge", proc.get("max_pixels"))
    if lo is not None and hi is not None:
        parts.append(f"{_pixels(lo)}-{_pixels(hi)} px")
    elif hi is not None:
        parts.append(f"≤{_pixels(hi)} px")
    elif lo is not None:
        parts.append(f"≥{_pixels(lo)} px")
    if card.get("images") == "first":
        parts.append("first")
    return ", ".join(parts) or NONE


def _verified(card: dict[str, Any]) -> str:
    if card.get("verified"):
        return str(card["verified"])
    if card.get("loadable") is False:
        return "not loadable as published (see the card's notes)"
    return NONE


def list_models(backend: str | None = None) -> list[dict[str, Any]]:
    """One row per packaged card (sorted by name), optionally only those of one backend."""
    rows = []
    for name, card in sorted(list_cards().items()):
        if backend is not None and card.get("backend") != backend:
            continue
        rows.append({
            "name": name,
            "backend": card.get("backend"),
            "model": card.get("model") or NONE,
            "size": card.get("size") or NONE,
            "images": image_limits(card),
            "paper": "yes" if card.get("paper") else "no",
            "verified": _verified(card),
        })
    return rows


def models_table(rows: list[dict[str, Any]]) -> str:
    """Rows as an aligned text table with a header."""
    header = {c: c.upper() for c in COLUMNS}
    widths = {c: max(len(str(r[c])) for r in [header, *rows]) for c in COLUMNS}
    lines = []
    for r in [header, *rows]:
        cells = [str(r[c]).ljust(widths[c]) for c in COLUMNS]
        lines.append("  ".join(cells).rstrip())
    return "\n".join(lines)

