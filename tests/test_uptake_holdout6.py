"""The extractor on the sixth held-out real-text set (issue 8): tests/data/uptake_holdout6_{zh,en}.yaml.

Clinician-written public FDG PET/CT text (99 zh: hospital PET/CT reports of the CHIP 2018 tumour-attribute corpus not
used by set 5, in six report templates; 53 en: case reports, abstracts, teaching cases and one de-identified report)
labelled by hand before any extractor run (see each file's header; the files themselves are checked in
test_uptake_heldout_data.py).
"""

from __future__ import annotations

from test_uptake_real import heldout_floors_test

# First run of extractor v8 on this set (2026-12-03, before any rule was written from its errors): the honest figures
# for new text (README). v7 on it gave zh 0.928 / 0.963 / 1 flip and en 0.813 / 0.900 / 2 flips. One zh item (076) was
# printed once while v8 was being written (no rule was taken from it). They are floors: a later extractor must not
# fall below them; raise them when it improves, never lower them.
FIRST_RUN = {"zh": (0.937, 1.000, 1), "en": (0.813, 0.900, 2)}  # micro-F1, normal recall, most polarity flips


test_extractor_does_not_fall_below_its_first_run = heldout_floors_test("holdout6", FIRST_RUN, printed=True)


# Extractor version 9 (2026-12-03) took rules from this set's errors (tests/test_uptake.py::V9_RULES), so the set is
# development data now; the figures it reaches are held as floors. FIRST_RUN above stays the honest figure for new text.
V9_FLOORS = {"zh": (0.977, 0.999, 0), "en": (0.974, 0.949, 0)}  # micro-F1, normal recall, most polarity flips


test_extractor_holds_its_v9_figures = heldout_floors_test("holdout6", V9_FLOORS)
