"""Built-in baselines: `template` (the paper's fixed-template baseline) and `oracle` (the reference itself)."""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from functools import cache
from importlib import resources

from .base import Backend, Generation, Request


@cache
def normal_report(lang: str) -> str:
    """The fixed normal report in the template's structure (data/normal_report.<lang>.txt)."""
    return resources.files("pet2rep").joinpath(f"data/normal_report.{lang}.txt").read_text("utf-8").strip()


class TemplateBackend(Backend):
    """Returns the same normal report for every study, whatever the images show."""

    needs_images = False

    def generate(self, requests: Sequence[Request]) -> Iterator[Generation]:
        for req in requests:
            yield Generation(req.id, normal_report(req.lang))


class OracleBackend(Backend):
    """Returns the reference report: a sanity check of the scorer (scores must be maximal)."""

    needs_images = False

    def generate(self, requests: Sequence[Request]) -> Iterator[Generation]:
        for req in requests:
            if req.reference is None:
                yield Generation.failed(req.id, "oracle: the record has no reference answer")
            else:
                yield Generation(req.id, req.reference)
