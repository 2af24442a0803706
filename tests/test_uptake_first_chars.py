"""pet2rep.metrics.uptake.first_chars: the first characters of a regex match, and the guards the extractor and the failure
scan build from them (a guard must never change what a pattern matches)."""

from __future__ import annotations

import re

import pytest

from pet2rep.metrics import failures, uptake
from pet2rep.metrics.uptake import class_body, first_chars


def test_literals_ranges_and_classes() -> None:
    f = first_chars(r"(?:ab|[x-z]\d|\w+q)")
    assert f is not None
    assert f.chars == {"a"} and f.ranges == {(ord("x"), ord("z"))} and f.categories == {r"\w"}
    assert class_body(f) == r"\wax-z"
    g = first_chars(r"(?<![a-z])(?:肝|脾)?肾")  # a lookbehind adds nothing; an optional part lets what follows count
    assert g is not None and g.chars == {"肝", "脾", "肾"}


@pytest.mark.parametrize("rx", [r"[^ab]c", r".x", r"a?", r"(?:x*)", "(unbalanced"])
def test_unknown_first_characters_give_none(rx: str) -> None:
    assert first_chars(rx) is None
    assert uptake._regex_first_chars(rx) is None


def test_extractor_form_folds_case_and_refuses_wide_ranges() -> None:
    assert uptake._regex_first_chars(r"(?:Liver|hepat)") == "HLhl"
    assert uptake._regex_first_chars(r"[\u4e00-\u9fff]脏") is None  # CJK range: tried everywhere
    assert uptake._regex_first_chars(r"\d+ mm") is None


@pytest.mark.parametrize("rx", [r"(?:SUV ?max|standardi[sz]ed)", r"(?:[0-9]+ ?岁|age \d+)", r"(?:male|女性)"])
def test_guards_keep_the_matches(rx: str) -> None:
    text = "Age 54, male, SUVmax 3.2; standardised uptake; 女性，45岁，SUV max 2.1 " * 3
    plain = [m.span() for m in re.finditer(rx, text, re.IGNORECASE)]
    assert plain
    assert [m.span() for m in failures._guarded(rx).finditer(text)] == [m.span() for m in re.finditer(rx, text)]
    assert [m.span() for m in re.finditer(uptake._guarded(rx), text, re.IGNORECASE)] == plain
