"""The extractor on the third held-out real-text set (issue 8): tests/data/uptake_holdout3_{zh,en}.yaml.

Clinician-written public FDG PET/CT text labelled by hand before any extractor run (see each file's header; the files
themselves are checked in test_uptake_heldout_data.py). The first run's figures are held as floors, and so are the
figures of the extractor version that was later tuned on the set.
"""

from __future__ import annotations

from test_uptake_real import heldout_floors_test

# First run of extractor v5 on this set (2026-12-03, before any rule was written from its errors): these figures are
# the honest ones for new text (README). They are floors: a later extractor must not fall below them; raise them when
# it improves, never lower them. Once rules are written from this set's errors it is no longer a fair test.
FIRST_RUN = {"zh": (0.720, 0.500, 2), "en": (0.714, 0.409, 1)}  # micro-F1, normal recall, most polarity flips


test_extractor_does_not_fall_below_its_first_run = heldout_floors_test("holdout3", FIRST_RUN, printed=True)


# Extractor version 6 (2026-12-03) took rules from this set's errors too, so the set is development data now; the
# figures it reaches are held as floors (en reaches the target: asserted as such). FIRST_RUN above stays the
# honest figure for new text.
V6_FLOORS = {"zh": (0.845, 0.500, 0), "en": (0.95, 0.95, 0)}  # micro-F1, normal recall, most polarity flips


test_extractor_holds_its_v6_figures = heldout_floors_test("holdout3", V6_FLOORS)
