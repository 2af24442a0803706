"""The extractor on the eleventh held-out real-text set (issue 8): tests/data/uptake_holdout11_{en,zh}.yaml.

Clinician-written public FDG PET/CT text chosen to be report-like where it could be (67 en from 54 documents: teaching
cases and their findings, case-report sentences quoting PET/CT findings, suggested report wording, textbook statements of
normal activity, and at most 15 figure legends and abstract sentences; 5 zh from 2 documents: a case analysis and a
review), labelled by hand before any extractor run by a helper who never saw the rules or the code (see each file's
header; the files themselves are checked in test_uptake_heldout_data.py).
"""

from __future__ import annotations

from test_uptake_real import heldout_floors_test, heldout_result

# First run of extractor v14 on this set (2026-12-03, commit ca95fdb; built while v14's rules were written from set 10's
# errors by someone who never saw this set; no rule has been written from it): the honest figures for new text
# (README). P 0.772, R 0.830; 0.842 on the 45 texts not tagged ambiguous; 0.849 on the 45 tagged report-like. Of the
# seven flips, four come from three textbook statements of normal activity that go on to say what abnormal uptake would
# look like, and three from one report-like sentence whose long subject ends in "have essentially resolved" (the nodes
# of three groups read increased). They are floors: a later extractor must not fall below them; raise them when it
# improves, never lower them. The Chinese file has five labels and no normal one: it is held apart below.
FIRST_RUN = {"en": (0.800, 0.682, 7)}  # micro-F1, normal recall, most polarity flips


test_extractor_does_not_fall_below_its_first_run = heldout_floors_test("holdout11", FIRST_RUN, printed=True)


def test_chinese_texts_get_their_five_labels_and_nothing_else() -> None:
    r = heldout_result("holdout11", "zh")
    assert (r["micro"]["tp"], r["micro"]["fp"], r["micro"]["fn"]) == (5, 0, 0)
    assert r["negation_errors"]["total"] == 0


# Extractor v15 (a general reading written on sentences of our own, tests/test_uptake.py::V15_RULES: a resolution verb
# that ends a list spread over comma clauses speaks of every item, with the list's kind; adverbs between the auxiliary
# and the verb, "have essentially resolved"; a textbook's statement of what a level would mean, "should raise the question
# of", "should be viewed with suspicion", "may be increased following", states no finding): tuned figures, the first run
# above stays the figure for new text. P 0.810, R 0.862; the three flips of the "have essentially resolved" sentence and
# one of the thyroid statement are gone. Floors, like the first run's.
V15_FLOORS = {"en": (0.835, 0.818, 3)}  # micro-F1, normal recall, most polarity flips

test_extractor_v15_floors = heldout_floors_test("holdout11", V15_FLOORS, printed=True)

# Extractor v19 (guide 6.19, tests/test_uptake.py::V19_RULES, written on sentences of our own): a negation with no uptake
# word of its own ends the reach of the level before it (en-hold11-014's "… pulmonary nodules with no osseous lesions in
# ribs" no longer gives the bone the nodules' increased), and a place adjective the lexicon does not name stays inside a
# list (en-hold11-064's "… in lungs, Iliac nodes and paravertebral muscle" now labels the iliac nodes). Tuned figures:
# P 0.820, R 0.872 (0.845); normal 0.818. Floors, like the first run's.
V19_FLOORS = {"en": (0.845, 0.818, 3)}  # micro-F1, normal recall, most polarity flips

test_extractor_v19_floors = heldout_floors_test("holdout11", V19_FLOORS, printed=True)

# Extractor v22 (guide 6.22, tests/test_uptake.py::V22_RULES, written on sentences of our own): a tracer word in any
# spelling inside an uptake phrase reads as "FDG" (en-hold11-053 and en-hold11-066 now give their labelled bone and
# cervical nodes). Tuned figures: P 0.824, R 0.894 (0.857); normal 0.818; flips 3. Floors, like the first run's.
V22_FLOORS = {"en": (0.857, 0.818, 3)}  # micro-F1, normal recall, most polarity flips

test_extractor_v22_floors = heldout_floors_test("holdout11", V22_FLOORS, printed=True)
