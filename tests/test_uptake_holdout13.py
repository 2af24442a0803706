"""The extractor on the thirteenth held-out real-text set (issue 8): tests/data/uptake_holdout13_{en,zh}.yaml.

Clinician-written public FDG PET/CT text, report-like where it could be found (40 en texts from 38 documents: 21
case-report passages, 13 abstracts / reviews / a book legend, 3 teaching cases, 3 patients' pasted reports; 58 labels,
18 of them normal; 24 texts tagged ambiguous), and 1 zh text, labelled by hand on 2026-12-04 before any extractor run,
by a helper who never opened the extractor's code, lexicons, tests or benchmarks (see the files' headers; the files
themselves are checked in test_uptake_heldout_data.py).
"""

from __future__ import annotations

from test_uptake_real import heldout_floors_test

# First run of extractor v20 on this set (2026-12-04, commit a231c12; the set was built after v20 was written, by
# someone who never saw the rules or the code; no rule has been written from it): the honest figures for new text
# (README). en: micro-F1 0.745 (82/110; `--eval` prints 0.746 from the 4-place 0.7455), P 0.788, R 0.707 (41 of 58
# labels found, 11 false); normal recall 0.556 (10 of 18; 4 of the 8 missed are one pasted report's "gastrointestinal
# tracts, and genitourinary tracts"); two polarity flips (increased -> normal: "marked uptake at the pancreatic head
# with no abnormal metabolic activity in other abdominal organs", "Symmetric moderate to severe nasopharyngeal and
# tonsillar activity" after "No … worrisome activity"). 0.811 on the 16 texts not tagged ambiguous, 0.750 on the 24
# tagged report-like. Per source kind: case reports 0.744, other 0.727, patients' pasted reports 0.741, teaching cases
# 0.857. zh: its one text (a cohort abstract's stomach, ambiguous) is missed: 0.000. They are floors: a later
# extractor must not fall below them; raise them when it improves, never lower them.
FIRST_RUN = {"en": (0.745, 0.556, 2)}  # micro-F1, normal recall, most polarity flips

test_extractor_does_not_fall_below_its_first_run = heldout_floors_test("holdout13", FIRST_RUN, printed=True)

# Extractor v21 (guide 6.21, tests/test_uptake.py::V21_RULES, written on sentences of our own after the first run): group
# terms in the plural and the genitourinary tract ("…, gastrointestinal tracts, and genitourinary tracts": stomach,
# intestine, kidney, reproductive). Tuned figures, the first run above stays the figure for new text: P 0.804, R 0.776
# (45 of 58 labels found, 11 false), micro-F1 0.789; normal recall 0.778 (14 of 18); the same two flips.
V21_FLOORS = {"en": (0.789, 0.778, 2)}  # micro-F1, normal recall, most polarity flips

test_extractor_v21_floors = heldout_floors_test("holdout13", V21_FLOORS, printed=True)

# Extractor v22 (guide 6.22, tests/test_uptake.py::V22_RULES): a tracer word in any spelling inside an uptake phrase reads
# as "FDG" ("a marked 18F-FDG uptake at the pancreatic head with no abnormal metabolic activity in other abdominal
# organs" now keeps the pancreas increased: one flip fewer). Tuned figures: P 0.821, R 0.793 (46 of 58 labels found, 10
# false), micro-F1 0.807; normal recall 0.778; one flip.
V22_FLOORS = {"en": (0.807, 0.778, 1)}  # micro-F1, normal recall, most polarity flips

test_extractor_v22_floors = heldout_floors_test("holdout13", V22_FLOORS, printed=True)
