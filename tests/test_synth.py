"""The synthetic cohort: determinism, geometry, physiology, lesions, labels, reports and CLI (speed:
benchmarks/synth_timing.py)."""

from __future__ import annotations

import json
import re
from importlib import resources

import numpy as np
import pytest

from pet2rep.cli import main
from pet2rep.ingest.synth import (
    LABEL,
    phrases,
    render_normal_report,
    study_seed,
    synth_cohort,
    synth_phantom,
    synth_study,
)
from pet2rep.organs import ORGANS, STATES
from pet2rep.study import find_studies, read_study

# organ -> words that name it in a report (zh, en), used to find each organ's sentence
ORGAN_WORDS = {
    "brain": (["脑", "额叶", "顶叶", "颞叶", "枕叶", "小脑"], ["brain", "cerebellar"]),
    "pharynx": (["咽", "扁桃体"], ["pharyn", "tonsil"]),
    "salivary_glands": (["腮腺", "颌下腺"], ["parotid", "submandibular"]),
    "thyroid": (["甲状腺"], ["thyroid"]),
    "cervical_lymph_nodes": (["颈", "锁骨上"], ["neck", "supraclavicular", "cervical"]),
    "lung": (["肺"], ["lung"]),
    "mediastinal_lymph_nodes": (["纵隔", "肺门"], ["mediastin", "hil"]),
    "esophagus": (["食管"], ["esophag"]),
    "liver": (["肝"], ["liver", "hepatic"]),
    "gallbladder": (["胆囊"], ["gallbladder"]),
    "pancreas": (["胰"], ["pancrea"]),
    "spleen": (["脾"], ["spleen"]),
    "kidney": (["肾"], ["kidney"]),
    "adrenal": (["肾上腺"], ["adrenal"]),
    "stomach": (["胃"], ["stomach", "gastric"]),
    "intestine": (["肠"], ["bowel", "colon", "rectum"]),
    "abdominal_lymph_nodes": (["腹膜后", "腹腔", "髂血管"], ["retroperitone", "abdominal", "iliac"]),
    "reproductive": (["前列腺", "子宫", "附件"], ["prostate", "uterus", "adnexa"]),
    "bone": (["骨", "椎体"], ["bone", "vertebral", "sacrum", "femoral", "spinal"]),
}


def _sentences(report: str, lang: str) -> list[str]:
    findings = report.split("\n")[0]
    if lang == "zh":
        return [s for s in findings.split("。") if s]
    return [s for s in re.split(r"(?<=[.)])\s+", findings) if s]


def _states_in(sentence: str, lang: str) -> set[str]:
    tab = phrases()[lang]["uptake"]
    extra = {}
    for sec in phrases()[lang]["sections"]:
        for body in (sec, sec.get("male", {}), sec.get("female", {})):
            extra.setdefault("normal", []).extend(body.get("uptake", []))
    found = set()
    for state in STATES:
        words = list(tab[state]) + (extra.get(state, []) if state == "normal" else [])
        if any(w in sentence for w in words):
            found.add(state)
    return found


def _organ_states(report: str, lang: str, organ: str) -> set[str]:
    """Uptake states stated in the findings sentences that name this organ (a tiny extractor)."""
    words = ORGAN_WORDS[organ][0 if lang == "zh" else 1]
    out: set[str] = set()
    for s in _sentences(report, lang):
        low = s.lower()
        if organ == "kidney" and lang == "zh" and "肾上腺" in s and "双肾" not in s and "肾盂" not in s:
            continue  # the adrenal sentence
        if organ == "lung" and ("肺门" in s or "hil" in low):
            continue  # hilar nodes
        if any(w in (s if lang == "zh" else low) for w in words):
            out |= _states_in(s, lang)
    return out


@pytest.fixture(scope="module")
def normal_phantom():
    return synth_phantom("normal", 11, n_lesions=0, sex="M")


@pytest.fixture(scope="module")
def lesion_phantom():
    kinds = ["liver_mass", "lung_nodule", "bone_lytic", "kidney_cyst", "liver_hypodense", "mediastinal_node"]
    return synth_phantom("les", 5, lesion_kinds=kinds, sex="F")


# ----------------------------------------------------------------------------------------- determinism


def test_same_seed_same_bytes_different_seed_differs():
    a, b, c = synth_study("s", 42), synth_study("s", 42), synth_study("s", 43)
    assert a.pet.data.tobytes() == b.pet.data.tobytes()
    assert a.ct.data.tobytes() == b.ct.data.tobytes()
    assert a.reports == b.reports and a.labels == b.labels and a.meta == b.meta
    assert not np.array_equal(a.pet.data, c.pet.data)
    assert not np.array_equal(a.ct.data, c.ct.data)
    assert a.reports != c.reports


def test_study_seed_depends_on_seed_and_index_only():
    assert study_seed(0, 3) == study_seed(0, 3)
    assert len({study_seed(0, i) for i in range(50)} | {study_seed(1, i) for i in range(50)}) == 100


# ----------------------------------------------------------------------------------------- geometry


def test_grids_orientation_and_body_position(normal_phantom):
    s = normal_phantom.study
    pet, ct = s.pet, s.ct
    assert pet.data.dtype == np.float32 and pet.shape == (200, 200, 220)
    assert ct.data.dtype == np.int16
    # RAS+ with positive zooms: diagonal affines
    for vol in (pet, ct):
        assert np.allclose(vol.affine[:3, :3], np.diag(np.diag(vol.affine[:3, :3])))
        assert np.all(np.diag(vol.affine)[:3] > 0)
    assert np.allclose(pet.zooms, 4.0)
    assert ct.zooms[0] < 3.0 and ct.zooms[2] == pytest.approx(5.0)
    assert not np.allclose(ct.affine[:3, 3], pet.affine[:3, 3])  # its own grid
    # CT covers the PET field of view along z
    pet_z = pet.affine[2, 3] + np.array([0, pet.shape[2] - 1]) * 4.0
    ct_z = ct.affine[2, 3] + np.array([0, ct.shape[2] - 1]) * ct.zooms[2]
    assert ct_z[0] <= pet_z[0] and ct_z[1] >= pet_z[1]
    # body centred near j = 100 and cut by the coronal slices 90, 100, 110
    body = normal_phantom.pet_labels > 0
    j = np.nonzero(body.any(axis=(0, 2)))[0]
    assert abs((j.min() + j.max()) / 2 - 100) < 6
    for jj in (90, 100, 110):
        assert body[:, jj, :].mean() > 0.1
    # head at the top (high k = superior), thighs at the bottom
    k_brain = np.nonzero((normal_phantom.pet_labels == LABEL["brain"]).any(axis=(0, 1)))[0]
    k_bladder = np.nonzero((normal_phantom.pet_labels == LABEL["bladder"]).any(axis=(0, 1)))[0]
    assert k_brain.min() > 165 and k_brain.max() > 205 and k_bladder.max() < 40
    # liver on the patient's right (+x): mean i of liver voxels above the centre
    i_liver = np.nonzero(normal_phantom.pet_labels == LABEL["liver"])[0]
    assert i_liver.mean() > 110


# ----------------------------------------------------------------------------------------- physiology


def _mean_in(vol: np.ndarray, labels: np.ndarray, name: str, erode: int = 2) -> float:
    from scipy.ndimage import binary_erosion

    m = binary_erosion(labels == LABEL[name], iterations=erode)
    assert m.sum() > 20, name
    return float(vol[m].mean())


def test_physiological_suv(normal_phantom):
    pet, lab = normal_phantom.study.pet.data, normal_phantom.pet_labels
    liver = _mean_in(pet, lab, "liver")
    assert 2.0 <= liver <= 3.0
    assert _mean_in(pet, lab, "brain") > liver
    assert float(pet[lab == LABEL["brain"]].max()) > 6.0  # cortex
    assert float(pet[lab == LABEL["bladder"]].max()) > 9.0
    assert _mean_in(pet, lab, "lung") < 0.7
    assert 0.5 <= _mean_in(pet, lab, "muscle") <= 0.9
    assert 1.5 <= _mean_in(pet, lab, "spleen") <= 2.1
    assert float(pet[lab == LABEL["kidney"]].max()) > 4.0  # excretion in the collecting system
    from scipy.ndimage import binary_dilation

    far_air = ~binary_dilation(lab > 0, iterations=3)  # beyond the blur at the skin
    assert float(pet[far_air].max()) < 0.05


def test_ct_hounsfield_units(normal_phantom):
    ct, lab = normal_phantom.study.ct.data, normal_phantom.ct_labels
    assert -900 <= _mean_in(ct, lab, "lung") <= -800
    assert 45 <= _mean_in(ct, lab, "liver") <= 70
    assert 30 <= _mean_in(ct, lab, "spleen") <= 60
    assert 15 <= _mean_in(ct, lab, "kidney") <= 45
    assert -125 <= _mean_in(ct, lab, "fat", erode=1) <= -75
    assert -125 <= _mean_in(ct, lab, "visceral_fat") <= -70
    assert 25 <= _mean_in(ct, lab, "brain") <= 45
    assert -10 <= _mean_in(ct, lab, "bladder") <= 20
    assert float(np.percentile(ct[lab == LABEL["bone"]], 90)) > 400  # cortex
    assert float(np.median(ct[lab == 0])) == -1000
    assert float(np.percentile(ct[lab == LABEL["airway"]], 50)) < -900


# ----------------------------------------------------------------------------------------- lesions


def test_lesions_inside_their_organ_with_stated_uptake(lesion_phantom):
    s = lesion_phantom.study
    pet, ct = s.pet, s.ct
    assert len(s.meta["lesions"]) == 6
    for les in s.meta["lesions"]:
        c = np.array([*les["center_mm"], 1.0])
        ijk = tuple(np.rint(np.linalg.inv(pet.affine) @ c)[:3].astype(int))
        # inside the stated organ (label map painted before any lesion)
        assert lesion_phantom.pet_labels[ijk] == LABEL[les["organ"]], les
        organ_vals = pet.data[lesion_phantom.pet_labels == LABEL[les["organ"]]]
        centre = float(pet.data[ijk])
        if les["state"] == "increased":
            assert 0.6 * les["suv_max"] <= centre <= les["suv_max"] + 0.05, les
            assert les["suv_max"] > 1.5 * float(np.median(organ_vals)), les
        else:
            assert centre <= les["suv_max"] + 0.05, les
            assert les["suv_max"] < 0.8 * float(np.median(organ_vals)), les
        cijk = tuple(np.rint(np.linalg.inv(ct.affine) @ c)[:3].astype(int))
        hu = phrases()["kinds"][les["lesion_type"]]["hu"]
        assert abs(float(ct.data[cijk]) - hu) < 80, les
        assert les["diameter_mm"] >= les["size_mm"][1] > 0
        assert les["side"] == ("right" if c[0] > 6 else "left" if c[0] < -6 else "midline")


def test_liver_cyst_cold_and_hypodense():
    r = synth_phantom("cyst", 9, lesion_kinds=["liver_cyst"])
    (les,) = r.study.meta["lesions"]
    assert les["state"] == "absent" and les["kind"] == "cyst"
    c = np.array([*les["center_mm"], 1.0])
    ijk = tuple(np.rint(np.linalg.inv(r.study.ct.affine) @ c)[:3].astype(int))
    assert float(r.study.ct.data[ijk]) < 40  # hypodense against liver ~55
    pijk = tuple(np.rint(np.linalg.inv(r.study.pet.affine) @ c)[:3].astype(int))
    assert float(r.study.pet.data[pijk]) < 1.0  # liver ~2.5


def test_labels_consistent_with_lesions(lesion_phantom):
    s = lesion_phantom.study
    assert list(s.labels) == list(ORGANS)
    expected = {o: set() for o in ORGANS}
    for les in s.meta["lesions"]:
        expected[les["organ"]].add(les["state"])
    for organ, states in s.labels.items():
        assert set(states) == (expected[organ] or {"normal"}), organ
    assert s.labels["liver"] == ["increased", "decreased"]


# ----------------------------------------------------------------------------------------- reports


@pytest.mark.parametrize("lang", ["zh", "en"])
def test_report_states_every_organ_as_labelled(lesion_phantom, normal_phantom, lang):
    for r in (lesion_phantom, normal_phantom):
        rep = r.study.reports[lang]
        head, imp = ("影像所见：", "影像诊断：1.") if lang == "zh" else ("Findings: ", "Impression: 1. ")
        assert rep.startswith(head) and imp in rep
        for organ in ORGANS:
            stated = _organ_states(rep, lang, organ)
            assert set(r.study.labels[organ]) <= stated, (organ, stated, rep)
            if r is normal_phantom:  # a lesion-free report states nothing abnormal anywhere
                assert stated == {"normal"}, (organ, stated, rep)
    for les in lesion_phantom.study.meta["lesions"]:
        if les["state"] == "increased":
            suv = f"SUVmax约{les['suv_max']:.1f}" if lang == "zh" else f"SUVmax {les['suv_max']:.1f}"
            assert suv in lesion_phantom.study.reports[lang]


def test_reports_sex_specific_and_varied():
    m = synth_study("m", 3, n_lesions=0, sex="M")
    f = synth_study("f", 3, n_lesions=0, sex="F")
    assert "前列腺" in m.reports["zh"] and "子宫" not in m.reports["zh"]
    assert "子宫" in f.reports["zh"] and "前列腺" not in f.reports["zh"]
    assert "prostate" in m.reports["en"] and "uterus" in f.reports["en"]
    # normal impression for a lesion-free study
    assert m.reports["zh"].split("影像诊断：")[1].startswith("1.")
    # wording varies with the seed (synonym tables), the structure does not
    from pet2rep.ingest.synth import render_report

    texts = {render_report("zh", "M", [], np.random.default_rng(i)) for i in range(8)}
    assert len(texts) >= 6


def test_normal_report_files_match_the_phrase_table():
    for lang in ("zh", "en"):
        text = resources.files("pet2rep").joinpath(f"data/normal_report.{lang}.txt").read_text("utf-8")
        assert text == render_normal_report(lang)
        for organ in ORGANS:
            assert _organ_states(text, lang, organ) == {"normal"}, organ
        assert not (_states_in(text, lang) - {"normal"})
    zh = render_normal_report("zh")
    assert zh.startswith("影像所见：禁食状态下静脉注射18F-FDG") and "\n影像诊断：1." in zh


# ----------------------------------------------------------------------------------------- cohort, CLI


def test_cli_cohort_files_and_roundtrip(tmp_path, capsys):
    # the time it takes is measured by benchmarks/synth_timing.py, not here
    out = tmp_path / "cohort"
    rc = main(["synth", "--out", str(out), "-n", "20", "--seed", "3", "--quiet"])
    line = capsys.readouterr().out.strip().splitlines()[-1]
    assert rc == 0
    assert line.startswith("synth: wrote 20 studies") and str(out) in line
    folders = find_studies(out)
    assert [p.name for p in folders] == [f"synth_{i:03d}" for i in range(20)]
    n_lesions = []
    for p in folders:
        names = {q.name for q in p.iterdir()}
        assert {"pet_suv.nii.gz", "ct.nii.gz", "study.json", "report.zh.txt", "report.en.txt", "labels.json"} <= names
        meta = json.loads((p / "study.json").read_text(encoding="utf-8"))
        assert meta["source"] == "synth" and meta["tracer"] == "FDG" and meta["half_life_s"] == 6586.2
        assert {"sex", "age", "weight_kg", "height_m", "injected_dose_bq", "injection_time", "series_time"} <= set(meta)
        assert 0 <= len(meta["lesions"]) <= 5
        n_lesions.append(len(meta["lesions"]))
    assert sum(n_lesions) > 10 and len(set(n_lesions)) > 2
    # the files hold exactly the in-memory study of that seed
    back = read_study(folders[4])
    ref = synth_study("synth_004", study_seed(3, 4))
    assert back.pet.data.dtype == np.float32 and back.ct.data.dtype == np.int16
    assert np.array_equal(back.pet.data, ref.pet.data) and np.array_equal(back.ct.data, ref.ct.data)
    assert np.allclose(back.pet.affine, ref.pet.affine) and np.allclose(back.ct.affine, ref.ct.affine)
    assert back.reports == ref.reports and back.labels == ref.labels


def test_cohort_prefix_independent_of_size(tmp_path):
    paths = synth_cohort(tmp_path, n=2, seed=3, langs=("en",), progress=False)
    assert [p.name for p in paths] == ["synth_000", "synth_001"]
    assert not (paths[0] / "report.zh.txt").exists()
    ref = synth_study("synth_001", study_seed(3, 1), langs=("en",))
    assert (paths[1] / "report.en.txt").read_text(encoding="utf-8") == ref.reports["en"]


def test_cli_rejects_bad_language(tmp_path, capsys):
    assert main(["synth", "--out", str(tmp_path), "--langs", "fr"]) == 2
    assert "--langs" in capsys.readouterr().err


def test_phantom_data_file_names_only_known_tissues_labels_and_sites():
    from pet2rep.ingest.synth import phantom_spec

    spec = phantom_spec()
    tissues, paths, draws = set(spec["tissues"]), set(spec["paths"]), set(spec["draws"])
    seen_tissues = set()

    def check(ops, where):
        for op in ops:
            if "mirror" in op:
                check(op["mirror"], where + "/mirror")
                continue
            if "step" in op or "draw" in op:
                assert op.get("step", "small_bowel") in ("small_bowel", "vertebrae", "ribs"), (where, op)
                assert op.get("draw", "bladder_fill") in draws, (where, op)
                continue
            assert op["tissue"] in tissues, (where, op)
            seen_tissues.add(op["tissue"])
            assert op.get("label", op["tissue"]) in LABEL, (where, op)
            assert set(op.get("within", [])) <= set(LABEL), (where, op)
            assert op.get("path", "colon") in paths, (where, op)
            assert isinstance(op.get("k", 1.0), (int, float)) or op["k"] in draws, (where, op)

    for region in ("head_neck", "chest", "abdomen", "pelvis", "skeleton"):
        check(spec[region], region)
    # every tissue of the table is painted somewhere (bowel content by the small-bowel step, ribs by theirs)
    assert tissues - seen_tissues == {"bowel_content", "rib"}
    # every placement hint of a lesion kind has a box
    hints = {h for kind in phrases()["kinds"].values() for h in kind["sites"]}
    assert hints <= set(spec["lesion_sites"]) | {"vertebra"}
    assert all(len(b["at"]) == 3 and len(b["half"]) == 3 for b in spec["lesion_sites"].values())
