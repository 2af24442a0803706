"""Built-in baselines: `template` (the paper's fixed-template baseline) and `oracle` (the reference itself)."""

from __future__ import annotations

import time
from functools import cache
from importlib import resources
from typing import Any

from .base import Prediction, Request


@cache
def normal_report(lang: str) -> str:
    """The fixed normal report in the template's structure (data/normal_report.<lang>.txt)."""
    return resources.files("pet2rep").joinpath(f"data/normal_report.{lang}.txt").read_text("utf-8").strip()


class TemplateBackend:
    """Returns the same normal report for every study, whatever the images show."""

    def __init__(self, card: dict[str, Any]):
        self.name = card["name"]

    def generate(self, requests: list[Request]) -> list[Prediction]:
        out = []
        for req in requests:
            t0 = time.perf_counter()
            text = normal_report(req.lang)
            out.append(Prediction(req.id, text, self.name, req.lang, req.reference,
                                  latency_s=time.perf_counter() - t0))
        return out


class OracleBackend:
    """Returns the reference report: a sanity check of the scorer (scores must be maximal)."""

    def __init__(self, card: dict[str, Any]):
        self.name = card["name"]

    def generate(self, requests: list[Request]) -> list[Prediction]:
        out = []
        for req in requests:
            if req.reference is None:
                out.append(Prediction(req.id, "", self.name, req.lang, None, finish_reason="error",
                                      error="oracle: the record has no reference answer"))
            else:
                out.append(Prediction(req.id, req.reference, self.name, req.lang, req.reference))
        return out
