"""Organ uptake assessment extractor: hand-labelled validation set, tricky cases, lexicons, CLI."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest
import yaml
from conftest import DEMO_JSONL

from pet2rep.cli import main
from pet2rep.errors import InputError
from pet2rep.metrics.uptake import (
    LEXICON_DIR,
    Statement,
    detect_lang,
    evaluate_labelled,
    extract_statements,
    extract_uptake,
    labels_from_statements,
    lexicon_signature,
    load_lexicon,
    read_labelled,
)
from pet2rep.organs import ORGANS, STATES

DATA = Path(__file__).parent / "data" / "uptake_labelled.yaml"
SEED = DEMO_JSONL


@pytest.fixture(scope="module")
def labelled() -> list[dict]:
    return yaml.safe_load(DATA.read_text(encoding="utf-8"))["items"]


def _pairs(labels: dict[str, list[str]]) -> set[tuple[str, str]]:
    return {(o, s) for o, states in labels.items() for s in states}


def _micro_f1(items: list[dict]) -> tuple[float, float, float, int, int, int]:
    tp = fp = fn = 0
    for it in items:
        got, exp = _pairs(extract_uptake(it["text"], it["lang"])), _pairs(it["expected"])
        tp, fp, fn = tp + len(got & exp), fp + len(got - exp), fn + len(exp - got)
    p = tp / (tp + fp) if tp + fp else 0.0
    r = tp / (tp + fn) if tp + fn else 0.0
    return p, r, (2 * p * r / (p + r) if p + r else 0.0), tp, fp, fn


# ------------------------------------------------------------------------------------- labelled set
def test_labelled_set_is_complete(labelled: list[dict]) -> None:
    ids = [it["id"] for it in labelled]
    assert len(ids) == len(set(ids))
    count = {(lang, kind): 0 for lang in ("zh", "en") for kind in ("sentence", "report")}
    covered: dict[str, set[str]] = {"zh": set(), "en": set()}
    for it in labelled:
        count[(it["lang"], it["kind"])] += 1
        assert set(it["expected"]) <= set(ORGANS), it["id"]
        for organ, states in it["expected"].items():
            assert states and set(states) <= set(STATES), it["id"]
            covered[it["lang"]] |= {organ, *states}
    assert count[("zh", "sentence")] >= 70 and count[("en", "sentence")] >= 35
    assert count[("zh", "report")] + count[("en", "report")] >= 10
    assert count[("en", "report")] >= 3
    for lang in ("zh", "en"):  # every organ and every state, in each language
        assert set(ORGANS) | set(STATES) <= covered[lang], (lang, set(ORGANS) | set(STATES) - covered[lang])
    tags = {t for it in labelled for t in it.get("tags", [])}
    for t in ("negation", "comparison", "clause-carry", "ct-only", "brackets", "not-an-organ", "longest-match",
              "descriptor", "excretion"):
        assert t in tags
    for lang in ("zh", "en"):  # state-less wording ("diffuse X uptake", "局灶性摄取"): both readings, and negated
        desc = [it for it in labelled if it["lang"] == lang and "descriptor" in it.get("tags", [])]
        assert len(desc) >= 10, lang
        got = {s for it in desc for states in it["expected"].values() for s in states}
        assert {"increased", "normal"} <= got, lang
        assert any("negation" in it["tags"] for it in desc), lang
    assert any(not it["expected"] for it in labelled)  # texts that must give nothing


def test_labelled_set_holds_the_demo_reference_and_template(labelled: list[dict]) -> None:
    by_id = {it["id"]: it for it in labelled}
    answer, template = by_id["zh-r001"], by_id["zh-r002"]
    assert answer["expected"]["lung"] == ["increased", "normal"] and "adrenal" not in answer["expected"]
    assert template["expected"]["liver"] == ["increased", "decreased"]
    assert template["expected"]["kidney"] == ["absent", "normal"] and template["expected"]["bone"] == ["normal"]
    if not SEED.is_file():
        pytest.skip(f"{SEED} not present")
    rec = json.loads(SEED.read_text(encoding="utf-8").splitlines()[0])
    assert answer["text"] == rec["answer"]
    assert template["text"] == rec["prompt_user_text"].split("严格按照以下格式输出：", 1)[1].strip("\n")


@pytest.mark.parametrize("lang", ["zh", "en"])
def test_micro_f1_on_labelled_set(labelled: list[dict], lang: str) -> None:
    items = [it for it in labelled if it["lang"] == lang]
    p, r, f1, tp, fp, fn = _micro_f1(items)
    print(f"\nOUA extractor [{lang}] on {len(items)} labelled texts: P={p:.3f} R={r:.3f} micro-F1={f1:.3f} "
          f"(tp={tp} fp={fp} fn={fn})")
    assert f1 >= 0.95
    reports = [it for it in items if it["kind"] == "report"]
    assert _micro_f1(reports)[2] >= 0.95  # whole reports too, not only single sentences


def test_demo_reference_exact(labelled: list[dict]) -> None:
    for it in labelled[:2]:  # the demo answer and the template: every organ right
        assert extract_uptake(it["text"], "zh") == {o: s for o, s in it["expected"].items()}


# ------------------------------------------------------------------------------------- tricky cases
ZH_CASES = [
    # longest match / sub-sites
    ("右肾上腺结节，FDG代谢增高。", {"adrenal": ["increased"]}),
    ("右肾上极结节，FDG代谢增高。", {"kidney": ["increased"]}),
    ("双侧肾盂FDG摄取未见异常。", {"kidney": ["normal"]}),
    ("肝胃间隙淋巴结FDG摄取增高。", {"abdominal_lymph_nodes": ["increased"]}),
    ("门腔间隙淋巴结FDG摄取增高。", {"abdominal_lymph_nodes": ["increased"]}),
    ("右肺门淋巴结FDG代谢增高。", {"mediastinal_lymph_nodes": ["increased"]}),
    ("纵隔淋巴结FDG代谢增高。", {"mediastinal_lymph_nodes": ["increased"]}),
    ("左侧锁骨上淋巴结FDG摄取增高。", {"cervical_lymph_nodes": ["increased"]}),
    ("颈部淋巴结FDG摄取增高。", {"cervical_lymph_nodes": ["increased"]}),
    ("腭扁桃体FDG摄取增高。", {"pharynx": ["increased"]}),
    ("喉咽FDG摄取增高。", {"pharynx": ["increased"]}),
    ("颌下腺FDG摄取增高。", {"salivary_glands": ["increased"]}),
    ("椎体FDG摄取增高。", {"bone": ["increased"]}),
    ("骨髓FDG摄取增高。", {"bone": ["increased"]}),
    ("卵巢FDG摄取增高。", {"reproductive": ["increased"]}),
    ("睾丸FDG摄取增高。", {"reproductive": ["increased"]}),
    ("结肠FDG摄取增高。", {"intestine": ["increased"]}),
    ("肝左叶FDG摄取增高。", {"liver": ["increased"]}),
    ("门静脉主干增粗，FDG摄取增高。", {}),
    # negation
    ("肝脏未见FDG摄取增高。", {"liver": ["normal"]}),
    ("脾脏无FDG浓聚。", {"spleen": ["normal"]}),
    ("前列腺FDG摄取未见异常增高。", {"reproductive": ["normal"]}),
    ("肝左叶囊性灶，未见FDG摄取。", {"liver": ["absent"]}),
    ("结节不伴FDG摄取增高。", {}),
    # comparison
    ("脾脏FDG摄取高于肝脏。", {"spleen": ["increased"]}),
    ("右肺结节FDG摄取增高，高于纵隔血池。", {"lung": ["increased"]}),
    # clause scope and carry-forward
    ("肝左叶见稍低密度结节，FDG摄取减低。", {"liver": ["decreased"]}),
    ("肝脏FDG摄取未见异常，脾脏FDG摄取增高。", {"liver": ["normal"], "spleen": ["increased"]}),
    ("心影不大，FDG摄取未见异常。", {}),
    ("肝脏FDG摄取增高\n余未见异常FDG摄取", {"liver": ["increased"]}),
    # CT-only wording never gives an uptake state
    ("骨质密度减低。", {}),
    ("两肺透亮度增加。", {}),
    ("右肺中叶见片状密度增高影。", {}),
    ("肝脏未见异常，FDG摄取增高。", {"liver": ["increased"]}),
    # template brackets: 【】 is uptake wording, [] holds CT findings
    ("肝脏【摄取增高】。", {"liver": ["increased"]}),
    ("骨质密度[不均匀减低]，脊柱[部分椎体边缘骨质增生]。FDG【摄取未见异常】。", {"bone": ["normal"]}),
    ("门静脉主干及左右支[明显增粗，密度增高]，FDG【摄取增高】。", {}),
    # an SUV value alone (at or above 2.5) is increased; a stated uptake wins
    ("右肺下叶结节，SUVmax约6.9。", {"lung": ["increased"]}),
    ("右肺下叶结节，SUVmax约1.9。", {}),
    ("右肺结节FDG摄取未见增高，SUVmax 2.8。", {"lung": ["normal"]}),
    # impression wording
    ("考虑胃窦部高代谢病变。", {"stomach": ["increased"]}),
    ("部分肠管FDG代谢增高，考虑炎性摄取或生理性摄取。", {"intestine": ["increased"]}),
    # uptake wording without a state word: a descriptor right before an uptake noun, a focus of uptake (摄取灶)
    ("肝右叶见局灶性放射性摄取。", {"liver": ["increased"]}),
    ("骶骨见FDG摄取灶。", {"bone": ["increased"]}),
    ("结肠弥漫性FDG摄取，考虑生理性摄取。", {"intestine": ["normal"]}),  # a later physiological reading replaces it
    ("食管弥漫性FDG摄取，考虑食管炎。", {"esophagus": ["increased"]}),
    ("肝内未见局灶性放射性摄取。", {"liver": ["normal"]}),  # negated descriptor: normal, not absent
    ("双肾集合系统见弥漫性放射性摄取。", {"kidney": ["normal"]}),  # collecting system: excreted urine
    ("右肾盂内见放射性滞留。", {"kidney": ["normal"]}),
    ("右肺中叶见斑片状密度增高影。", {}),  # a descriptor of a CT finding
    ("双侧颈部见多发淋巴结，FDG摄取。", {}),  # bare uptake: no level stated, no guess
    ("骨髓弥漫性FDG摄取，L2椎体见放射性缺损区。", {"bone": ["increased", "absent"]}),  # a new lesion adds, not replaces
]

EN_CASES = [
    ("A right adrenal nodule is hypermetabolic.", {"adrenal": ["increased"]}),
    ("The right renal pelvis shows physiologic activity.", {"kidney": ["normal"]}),
    ("Hypermetabolic gastrohepatic ligament lymph nodes.", {"abdominal_lymph_nodes": ["increased"]}),
    ("FDG-avid right hilar lymph node.", {"mediastinal_lymph_nodes": ["increased"]}),
    ("Intense uptake at the splenic flexure.", {"intestine": ["increased"]}),
    ("No increased uptake in the liver.", {"liver": ["normal"]}),
    ("The thyroid is not FDG-avid.", {"thyroid": ["normal"]}),
    ("Spleen without abnormal uptake.", {"spleen": ["normal"]}),
    ("No uptake in the left kidney cyst.", {"kidney": ["absent"]}),
    ("Increased FDG uptake is not seen in the pancreas.", {"pancreas": ["normal"]}),
    ("The lung nodule is FDG-avid, higher than the liver.", {"lung": ["increased"]}),
    ("Splenic uptake is greater than liver.", {"spleen": ["increased"]}),
    ("Increased density in the right lower lobe.", {}),
    ("Decreased bone density.", {}),
    ("Increased uptake in the liver and normal uptake in the spleen.", {"liver": ["increased"], "spleen": ["normal"]}),
    ("The liver, spleen, and pancreas show normal FDG uptake.",
     {"liver": ["normal"], "spleen": ["normal"], "pancreas": ["normal"]}),
    ("A mass in the right upper lobe. It is intensely FDG-avid.", {"lung": ["increased"]}),
    ("Increased uptake in the sigmoid colon, likely physiologic.", {"intestine": ["normal"]}),  # guide 5.1
    ("Increased uptake in the portal vein thrombus.", {}),
    ("A 2 cm right lower lobe nodule (SUVmax 8.2).", {"lung": ["increased"]}),
    ("Patchy opacity next to the right middle lobe hilum, FDG 【increased uptake】.", {"lung": ["increased"]}),
    # uptake wording without a state word
    ("Diffuse esophageal uptake, likely esophagitis.", {"esophagus": ["increased"]}),
    ("Diffuse colonic uptake, likely physiologic.", {"intestine": ["normal"]}),
    ("Diffuse uptake in the stomach, duodenum, and colon, likely physiologic.", {"stomach": ["normal"], "intestine": ["normal"]}),
    ("Diffuse splenic uptake, lower than the liver.", {"spleen": ["normal"]}),
    ("Diffuse homogeneous uptake in the liver.", {"liver": ["normal"]}),  # a weak normal beats a descriptor
    ("No diffuse esophageal uptake.", {"esophagus": ["normal"]}),
    ("Focal esophageal uptake is not seen.", {"esophagus": ["normal"]}),
    ("FDG accumulation in a right upper lobe nodule.", {"lung": ["increased"]}),
    ("Tracer accumulation in the renal collecting systems.", {"kidney": ["normal"]}),
    ("Uptake in the sigmoid colon.", {}),  # bare uptake: no level stated, no guess
    ("Diffuse wall thickening of the esophagus with FDG uptake.", {}),  # the descriptor is the CT finding's
    ("The lungs show nodules in both lower lobes with increased FDG uptake.", {"lung": ["increased"]}),
    ("Diffuse marrow uptake, with a photopenic lesion in the L2 vertebra.", {"bone": ["increased", "absent"]}),
]


@pytest.mark.parametrize(("text", "expected"), ZH_CASES)
def test_zh_cases(text: str, expected: dict[str, list[str]]) -> None:
    assert extract_uptake(text, "zh") == expected


@pytest.mark.parametrize(("text", "expected"), EN_CASES)
def test_en_cases(text: str, expected: dict[str, list[str]]) -> None:
    assert extract_uptake(text, "en") == expected


def test_output_order_and_auto_language() -> None:
    text = "骨髓FDG摄取增高。脑FDG摄取未见异常。左肾摄取缺失，右肾FDG摄取增高。"
    got = extract_uptake(text)  # auto
    assert list(got) == ["brain", "kidney", "bone"]
    assert got["kidney"] == ["increased", "absent"]
    assert extract_uptake("") == {} and extract_uptake("   \n") == {}
    assert extract_uptake("The liver shows increased FDG uptake.") == {"liver": ["increased"]}


def test_statements_explain_the_labels() -> None:
    text = "肝左叶见稍低密度结节，FDG摄取减低。胃壁FDG摄取增高，高于肝脏。"
    stmts = extract_statements(text, "zh")
    assert all(isinstance(s, Statement) for s in stmts)
    liver = [s for s in stmts if s.organ == "liver"]
    assert [(s.state, s.organ_term, s.inherited) for s in liver] == [("decreased", "肝左叶", True)]
    s = liver[0]
    assert text[s.span[0] : s.span[1]].strip() == s.clause == "FDG摄取减低" and "减低" in s.cues
    assert {(s.organ, s.state) for s in stmts} == {("liver", "decreased"), ("stomach", "increased")}
    assert json.loads(json.dumps(s.as_dict(), ensure_ascii=False))["span"] == list(s.span)


def test_descriptor_statements_are_provisional() -> None:
    """A descriptor reading gives way to a later statement of the same organ in the sentence, and reads as normal
    on a collecting-system term; both show in the statement's cues."""
    stmts = extract_statements("Diffuse colonic uptake, likely physiological. Diffuse esophageal uptake.", "en")
    assert [(s.organ, s.state, s.cues, s.inherited) for s in stmts] == [
        ("intestine", "normal", ("physiological",), True), ("esophagus", "increased", ("Diffuse", "uptake"), False)]
    stmts = extract_statements("左肾盂内见弥漫性放射性摄取。", "zh")
    assert [(s.organ, s.state, s.cues) for s in stmts] == [("kidney", "normal", ("弥漫性", "放射性摄取", "肾盂"))]
    # a stated level before it in the sentence wins; the descriptor clause adds nothing
    assert extract_uptake("Increased uptake in the stomach, with diffuse uptake.", "en") == {"stomach": ["increased"]}


def test_detect_lang() -> None:
    assert detect_lang("肝脏FDG摄取增高，SUVmax约5.6。") == "zh"
    assert detect_lang("The liver shows increased FDG uptake (SUVmax 5.6).") == "en"
    assert detect_lang("") == "en"
    assert detect_lang("PET/CT: 肝") == "en"  # a stray character does not make a text Chinese


# -------------------------------------------------------------------------------------------- lexicons
def test_lexicons_cover_all_organs_and_are_well_formed() -> None:
    for lang in ("zh", "en"):
        org = yaml.safe_load((LEXICON_DIR / f"organs.{lang}.yaml").read_text(encoding="utf-8"))
        upt = yaml.safe_load((LEXICON_DIR / f"uptake.{lang}.yaml").read_text(encoding="utf-8"))
        assert set(org["organs"]) == set(ORGANS)
        assert set(upt["states"]) == set(STATES)
        for organ, terms in org["organs"].items():
            for t in terms:
                assert isinstance(t, str), (lang, organ, t)  # unquoted YAML words like no/on become booleans
                if lang == "zh":  # a laterality prefix would make "右肾上腺" match "右肾" first
                    assert t.startswith("re:") or t[0] not in "左右双两", t
        assert all(isinstance(x, str) for lst in upt["states"].values() for x in lst)
        assert all(isinstance(x, str) for x in upt["negation"])
        # no phrase is two states, two organs, or both an organ and a non-organ (the later one would win silently)
        state_of: dict[str, str] = {}
        for state, phrases in upt["states"].items():
            for ph in phrases:
                assert state_of.setdefault(ph.lower(), state) == state, (lang, ph)
        assert not {p.lower() for p in upt["neutral"]} & set(state_of), lang
        desc = upt["descriptors"]
        desc_words = {p.lower() for sect in ("before_noun", "alone") for lst in (desc.get(sect) or {}).values() for p in lst}
        assert desc_words and not desc_words & set(state_of), lang  # a descriptor that is a state would never be one
        assert not desc_words & {p.lower() for p in upt["neutral"]}, lang
        organ_terms = {t.lower() for terms in org["organs"].values() for t in terms}
        assert org["excretory"] and {t.lower() for t in org["excretory"]} <= organ_terms, lang
        organ_of: dict[str, str] = {}
        for sect in ("organs", "sites"):
            for organ, terms in org[sect].items():
                for t in terms:
                    assert organ_of.setdefault(t.lower(), f"{sect}.{organ}") == f"{sect}.{organ}", (lang, t)
        assert not {t.lower() for t in org["non_organs"] + org["references"]} & set(organ_of), lang


def test_lexicon_signature_and_extra_lexicon(tmp_path: Path) -> None:
    sig = lexicon_signature("zh")
    assert sig.startswith("oua-zh-") and sig == lexicon_signature("zh") and sig != lexicon_signature("en")
    extra = tmp_path / "extra.yaml"
    extra.write_text("lang: en\norgans:\n  liver: [hepar]\nstates:\n  increased: [glowing]\n", encoding="utf-8")
    text = "The hepar is glowing on FDG."
    assert extract_uptake(text, "en") == {}
    lex = load_lexicon("en", (str(extra),))
    assert extract_uptake(text, "en", lex) == {"liver": ["increased"]}
    assert lexicon_signature("en", [extra]) != lexicon_signature("en")
    assert load_lexicon("zh", (str(extra),)).signature.split("-")[-1] == sig.split("-")[-1]  # en-only file
    bad = tmp_path / "bad.yaml"
    bad.write_text("organs:\n  heart: [cor]\n", encoding="utf-8")
    with pytest.raises(InputError, match="unknown organ id 'heart'"):
        load_lexicon("en", (str(bad),))
    not_organ = tmp_path / "exc.yaml"
    not_organ.write_text("excretory: [ureter]\n", encoding="utf-8")
    with pytest.raises(InputError, match="excretory term 'ureter'"):
        load_lexicon("en", (str(not_organ),))
    bad_state = tmp_path / "desc.yaml"
    bad_state.write_text("descriptors:\n  before_noun:\n    hot: [glowing]\n", encoding="utf-8")
    with pytest.raises(InputError, match="unknown uptake state 'hot'"):
        load_lexicon("en", (str(bad_state),))
    desc = tmp_path / "desc_ok.yaml"
    desc.write_text("descriptors:\n  before_noun:\n    increased: [speckled]\n", encoding="utf-8")
    assert extract_uptake("Speckled uptake in the spleen.", "en") == {}
    assert extract_uptake("Speckled uptake in the spleen.", "en", load_lexicon("en", (str(desc),))) == {"spleen": ["increased"]}
    boolean = tmp_path / "bool.yaml"
    boolean.write_text("negation: [no]\n", encoding="utf-8")
    with pytest.raises(InputError, match="quote"):
        load_lexicon("en", (str(boolean),))
    with pytest.raises(InputError):
        load_lexicon("fr")


def test_metrics_module_imports_no_pipeline_stage() -> None:
    code = (
        "import sys, pet2rep.metrics.uptake as u; u.extract_uptake('肝脏FDG摄取增高。', 'zh'); "
        "import json; print(json.dumps(sorted(m for m in sys.modules if m.startswith('pet2rep'))))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert set(json.loads(out)) <= {"pet2rep", "pet2rep.metrics", "pet2rep.metrics.uptake", "pet2rep.organs", "pet2rep.errors"}


# ------------------------------------------------------------------------------------------------- CLI
def test_cli_prints_json(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    f = tmp_path / "report.txt"
    f.write_text("肝左叶见稍低密度结节，FDG摄取减低。左侧肾上腺结节FDG代谢增高。", encoding="utf-8")
    assert main(["uptake", "--lang", "zh", str(f)]) == 0
    out = capsys.readouterr().out
    assert json.loads(out) == {"liver": ["decreased"], "adrenal": ["increased"]}
    assert "肝" not in out or "\\u" not in out
    assert main(["uptake", "--lang", "auto", str(f)]) == 0
    assert json.loads(capsys.readouterr().out) == {"liver": ["decreased"], "adrenal": ["increased"]}
    assert main(["uptake", "--statements", str(f)]) == 0
    doc = json.loads(capsys.readouterr().out)
    assert doc["lang"] == "zh" and doc["lexicon"].startswith("oua-zh-") and len(doc["statements"]) == 2
    bom = tmp_path / "bom.txt"
    bom.write_bytes("\ufeffThe liver shows increased FDG uptake.".encode())
    assert main(["uptake", str(bom)]) == 0
    assert json.loads(capsys.readouterr().out) == {"liver": ["increased"]}


def test_cli_extra_lexicon(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    f = tmp_path / "r.txt"
    f.write_text("甲状旁腺区FDG摄取增高。", encoding="utf-8")
    extra = tmp_path / "x.yaml"
    extra.write_text("organs:\n  thyroid: [甲状旁腺区]\n", encoding="utf-8")
    assert main(["uptake", "--lang", "zh", str(f)]) == 0
    assert json.loads(capsys.readouterr().out) == {}
    assert main(["uptake", "--lang", "zh", "--lexicon", str(extra), str(f)]) == 0
    assert json.loads(capsys.readouterr().out) == {"thyroid": ["increased"]}


def test_cli_bad_input(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    f = tmp_path / "gbk.txt"
    f.write_bytes("肝脏FDG摄取增高".encode("gbk"))
    assert main(["uptake", "--lang", "zh", str(f)]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "gbk.txt" in err and "UTF-8" in err and "Traceback" not in err
    assert main(["uptake", str(tmp_path / "missing.txt")]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "no such file" in err
    bad = tmp_path / "bad.yaml"
    bad.write_text("organs: [unclosed\n", encoding="utf-8")
    f.write_text("肝脏FDG摄取增高", encoding="utf-8")
    assert main(["uptake", "--lexicon", str(bad), str(f)]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "bad.yaml" in err
    for text, want in (("organs: 5\n", "'organs' must be a mapping"),
                       ("lymph_nodes: {by_organ: 4}\n", "'by_organ' must be a mapping"),
                       ("organs:\n  livr: [hepar]\n", "unknown organ id 'livr' in organs (expected one of brain,")):
        bad.write_text(text, encoding="utf-8")
        assert main(["uptake", "--lexicon", str(bad), str(f)]) == 2
        err = capsys.readouterr().err
        assert err.count("\n") == 1 and "bad.yaml" in err and want in err and "Traceback" not in err


# --------------------------------------------------------------------------- issue 8: wording of real reports
# Regression cases for the rules added for issue 8 (dev cases, written while fixing; the labelled set's "issue8"
# items are the holdout ones). Each follows docs/uptake-labelling-guide.md (and -en.md).
ISSUE8_ZH = [
    # a 不 / 非 / 未 inside a term is no negation
    ("右肺中叶及下叶多发斑片影，FDG摄取不同程度增高。", {"lung": ["increased"]}),
    ("右肺下叶肺不张，FDG摄取轻度增高。", {"lung": ["increased"]}),
    ("脑内放射性分布不对称，左侧颞叶FDG代谢减低。", {"brain": ["decreased"]}),
    ("双侧颈部淋巴结大小不等，FDG摄取不高。", {"cervical_lymph_nodes": ["normal"]}),
    ("左侧卵巢见非生理性浓聚灶。", {"reproductive": ["increased"]}),
    ("非霍奇金淋巴瘤：脾脏FDG摄取弥漫性增高。", {"spleen": ["increased"]}),
    # a physiological reading makes the stated level normal; a mixed one keeps it
    ("胃底壁FDG摄取稍增高（考虑生理性摄取）。", {"stomach": ["normal"]}),
    ("回盲部FDG代谢增高，考虑生理性摄取。", {"intestine": ["normal"]}),
    ("胃窦FDG摄取增高，不除外生理性摄取。", {"stomach": ["increased"]}),
    ("部分肠管FDG摄取增高，考虑生理性或炎性摄取。", {"intestine": ["increased"]}),
    ("肠道考虑生理性或炎性摄取。", {}),  # a mixed reading and no stated level: nothing
    # time: a past level, a change since before, a resolution
    ("原右肺上叶高代谢灶消失。", {"lung": ["normal"]}),
    ("原骨髓弥漫性FDG摄取增高，现已降至正常。", {"bone": ["normal"]}),
    ("右肺上叶病灶FDG代谢较前减低，SUVmax约5.2。", {"lung": ["increased"]}),
    ("右肺上叶病灶FDG代谢较前减低。", {}),
    # node stations named after an organ; fat and muscle near an organ
    ("右侧锁骨区见肿大淋巴结，FDG摄取增高。", {"cervical_lymph_nodes": ["increased"]}),
    ("右侧盆壁淋巴结FDG摄取增高。", {"abdominal_lymph_nodes": ["increased"]}),
    ("左锁骨下淋巴结FDG代谢增高。", {}),
    ("肝胃韧带区淋巴结FDG代谢增高。", {"abdominal_lymph_nodes": ["increased"]}),
    ("腹主动脉旁及左肾门水平淋巴结FDG摄取增高。", {"abdominal_lymph_nodes": ["increased"]}),
    ("隆突下（7区）及右下气管旁（4R区）淋巴结FDG代谢增高。", {"mediastinal_lymph_nodes": ["increased"]}),
    ("右侧颈部Ⅱa区及II区淋巴结FDG代谢增高。", {"cervical_lymph_nodes": ["increased"]}),
    ("肾周脂肪间隙模糊，FDG摄取轻度增高。", {}),
    ("右肺门区见软组织肿块，FDG摄取明显增高。", {"lung": ["increased"]}),
    ("右肺门区未见肿块，FDG摄取未见异常。", {"mediastinal_lymph_nodes": ["normal"]}),
    # traditional characters, full-width letters, SUV wording
    ("雙腎FDG攝取未見異常，縱隔淋巴結FDG代謝增高。", {"mediastinal_lymph_nodes": ["increased"], "kidney": ["normal"]}),
    ("左肺上叶结节，ＦＤＧ摄取增髙。", {"lung": ["increased"]}),
    ("右肺上叶结节，最大标准化摄取值（SUVmax）为6.2。", {"lung": ["increased"]}),
    # lists and history
    ("双侧颌下、颈部及纵隔多发淋巴结FDG摄取增高。",
     {"cervical_lymph_nodes": ["increased"], "mediastinal_lymph_nodes": ["increased"]}),
    ("胃癌术后化疗后复查。", {}),
    ("患者右肺癌术后。见多发高代谢灶。", {}),
    # the organ is not there / a photopenic lesion
    ("胆囊切除术后。", {"gallbladder": ["absent"]}),
    ("右肾术后缺如，左肾FDG摄取未见异常。", {"kidney": ["absent", "normal"]}),
    ("子宫术后未见显示。", {"reproductive": ["absent"]}),
    ("胃大部切除术后，残胃FDG摄取未见异常。", {"stomach": ["normal"]}),
    ("甲状腺左叶冷结节。", {"thyroid": ["absent"]}),
    ("肝左叶缺如。", {}),  # part of an organ
    ("患者左肺下叶见一肿块，大小约3cm，FDG代谢增高。", {"lung": ["increased"]}),
    # homonyms; "lower than" the organ's own tissue
    ("L3椎体及右侧附件骨质破坏，FDG摄取增高。", {"bone": ["increased"]}),
    ("腰4右侧附件FDG摄取增高。", {"bone": ["increased"]}),
    ("子宫及双侧附件未见异常FDG摄取。", {"reproductive": ["normal"]}),
    ("肝S6段结节，FDG摄取低于同层肝实质。", {"liver": ["decreased"]}),
    ("脾脏FDG摄取低于肝脏本底。", {"spleen": ["normal"]}),
]

ISSUE8_EN = [
    ("Non-solid nodule in the right upper lobe with mild FDG uptake.", {"lung": ["increased"]}),
    ("Non-enhancing lesion in the liver with intense uptake.", {"liver": ["increased"]}),
    ("Non-avid hepatic cyst.", {"liver": ["normal"]}),
    ("No significant change in the intensely FDG-avid right upper lobe mass.", {"lung": ["increased"]}),
    ("Increased uptake in the ascending colon, likely physiologic.", {"intestine": ["normal"]}),
    ("Increased uptake in the cecum, physiologic versus inflammatory.", {"intestine": ["increased"]}),
    ("Physiological or inflammatory uptake in the bowel.", {}),
    ("FDG avid nodes below the left hemidiaphragm.", {"abdominal_lymph_nodes": ["increased"]}),
    ("Intense uptake at the EC junction.", {"esophagus": ["increased"]}),
    ("Resolution of abnormal activity in the right lung.", {"lung": ["normal"]}),
    ("The previously hypermetabolic mediastinal nodes have resolved.", {"mediastinal_lymph_nodes": ["normal"]}),
    ("Previously seen mediastinal nodes now show suppressed activity.", {"mediastinal_lymph_nodes": ["normal"]}),
    ("Diffusely suppressed cerebral uptake, likely due to hyperglycemia.", {"brain": ["decreased"]}),
    ("Decreased FDG uptake in the right lung mass compared with the prior study, SUVmax 3.3.", {"lung": ["increased"]}),
    ("FDG-avid right renal hilar lymph node.", {"abdominal_lymph_nodes": ["increased"]}),
    ("A hypermetabolic node along the lesser curvature of the stomach.", {"abdominal_lymph_nodes": ["increased"]}),
    ("Hypermetabolic right level IIA lymph node, SUVmax 9.0.", {"cervical_lymph_nodes": ["increased"]}),
    ("FDG-avid station 4R and 7 lymph nodes.", {"mediastinal_lymph_nodes": ["increased"]}),
    ("FDG-avid infraclavicular and internal mammary nodes.", {}),
    ("No hypermetabolic lymphadenopathy in the neck, chest, abdomen or pelvis.",
     {"cervical_lymph_nodes": ["normal"], "mediastinal_lymph_nodes": ["normal"], "abdominal_lymph_nodes": ["normal"]}),
    ("Large hypermetabolic mass in the region of the right hilum.", {"lung": ["increased"]}),
    ("Brown fat uptake in the supraclavicular regions.", {}),
    ("Focal uptake in the soft tissue adjacent to the sigmoid colon.", {}),
    ("Cold nodule in the left thyroid lobe.", {"thyroid": ["absent"]}),
    ("Left tonsillar mass, SUVmax12.4.", {"pharynx": ["increased"]}),
    ("Physiologic activity throughout the GI tract.", {"stomach": ["normal"], "intestine": ["normal"]}),
    ("The pulmonary nodule is FDG negative.", {"lung": ["normal"]}),
    ("Hypermetabolic foci in the left parotid, the sternum and the para-aortic nodes.",
     {"salivary_glands": ["increased"], "abdominal_lymph_nodes": ["increased"], "bone": ["increased"]}),
    ("A 65-year-old man with lung cancer underwent PET/CT. Hypermetabolic lesions were seen.", {}),
    ("A 65-year-old man with a right upper lobe mass, which was intensely FDG-avid.", {"lung": ["increased"]}),
    ("A man with a right upper lobe mass underwent PET/CT. It was intensely FDG-avid.", {"lung": ["increased"]}),
    ("The primary tumor in the rectum was resected.", {}),  # a partial resection: the bowel is still there
    ("Low hepatic uptake.", {"liver": ["decreased"]}),
    ("FDG-avid node adjacent to the pancreas.", {"abdominal_lymph_nodes": ["increased"]}),
    ("Status post cholecystectomy and splenectomy.", {"gallbladder": ["absent"], "spleen": ["absent"]}),
    ("Status post partial gastrectomy with no abnormal uptake in the gastric remnant.", {"stomach": ["normal"]}),
    ("The gallbladder is surgically absent.", {"gallbladder": ["absent"]}),
    ("No significant FDG uptake in the left renal cyst.", {"kidney": ["absent"]}),
    ("Mildly increased uptake in the lower rectum.", {"intestine": ["increased"]}),
    ("Faint uptake above background in the thyroid isthmus.", {"thyroid": ["increased"]}),
    ("Hepatic cyst with uptake lower than the liver.", {"liver": ["decreased"]}),
]


@pytest.mark.parametrize(("text", "expected"), ISSUE8_ZH)
def test_issue8_zh(text: str, expected: dict[str, list[str]]) -> None:
    assert extract_uptake(text, "zh") == expected


@pytest.mark.parametrize(("text", "expected"), ISSUE8_EN)
def test_issue8_en(text: str, expected: dict[str, list[str]]) -> None:
    assert extract_uptake(text, "en") == expected


def test_statements_quote_the_text_as_written() -> None:
    """Traditional / full-width characters are read as their standard form, but statements quote the original."""
    text = "肝臟多發低密度灶，ＦＤＧ攝取增高。"
    stmts = extract_statements(text, "zh")
    assert [(s.organ, s.state) for s in stmts] == [("liver", "increased")]
    assert all(text[s.span[0] : s.span[1]].strip() == s.clause for s in stmts)
    assert stmts[0].clause == "ＦＤＧ攝取增高"


def test_issue8_holdout_items_cover_every_error_kind(labelled: list[dict]) -> None:
    new = [it for it in labelled if "issue8" in it.get("tags", [])]
    assert all("holdout" in it["tags"] for it in new)
    assert len(new) >= 300
    for kind in ("negation-in-term", "qualifier", "node-station", "near-organ", "variant", "list", "history", "absent",
                 "homonym", "degree", "time", "negation"):
        for lang in ("zh", "en"):
            assert any(kind in it["tags"] and it["lang"] == lang for it in new), (kind, lang)
    header = DATA.read_text(encoding="utf-8").split("items:", 1)[0]
    assert "issue 8" in header and "first run" in header


# ------------------------------------------------------------------------------- agreement check (--eval)
def test_evaluate_labelled_counts() -> None:
    items = [
        {"id": "a", "text": "肝脏FDG摄取增高，脾脏FDG摄取未见异常。", "expected": {"liver": ["increased"], "spleen": ["normal"]}},
        {"id": "b", "text": "肝脏FDG摄取增高。", "expected": {"liver": ["normal"]}},  # a flip normal -> increased
        {"id": "c", "lang": "en", "text": "No increased uptake in the spleen.", "expected": {"spleen": ["increased"]}},
        {"id": "d", "text": "The thyroid is unremarkable.", "expected": {"thyroid": ["normal"]}},  # a miss, no flip
    ]
    res = evaluate_labelled(items)
    assert res["n_items"] == 4 and set(res["per_lang"]) == {"zh", "en"}
    assert res["micro"] == {"precision": 0.5, "recall": 0.4, "f1": 0.4444, "tp": 2, "fp": 2, "fn": 3, "support": 5}
    assert res["per_lang"]["zh"]["micro"]["tp"] == 2 and res["per_lang"]["zh"]["micro"]["fn"] == 1
    assert res["per_state"]["normal"] == {"precision": 0.5, "recall": 0.3333, "f1": 0.4, "tp": 1, "fp": 1, "fn": 2,
                                          "support": 3}
    assert res["normal_recall"] == 0.3333 and res["per_lang"]["zh"]["normal_recall"] == 1 / 2
    assert res["per_lang"]["en"]["normal_recall"] == 0.0
    assert res["negation_errors"] == {"normal->increased": 1, "increased->normal": 1, "normal->decreased": 0,
                                      "decreased->normal": 0, "total": 2}
    assert res["per_lang"]["zh"]["negation_errors"]["normal->increased"] == 1
    assert res["per_organ"]["liver"]["fp"] == 1 and "brain" not in res["per_organ"]
    dis = {(d["id"], d["organ"]): d for d in res["disagreements"]}
    assert set(dis) == {("b", "liver"), ("c", "spleen"), ("d", "thyroid")}
    assert dis[("b", "liver")]["expected"] == ["normal"] and dis[("b", "liver")]["got"] == ["increased"]
    assert dis[("b", "liver")]["negation"] == ["normal->increased"] and "肝脏" in dis[("b", "liver")]["excerpt"]
    assert dis[("d", "thyroid")]["got"] == [] and "thyroid" in dis[("d", "thyroid")]["excerpt"]
    assert json.loads(json.dumps(res)) == res
    grouped = evaluate_labelled([{**it, "kind": "a" if it["id"] in "ab" else "b"} for it in items], group_by="kind")
    assert set(grouped["per_group"]) == {"a", "b"} and grouped["micro"] == res["micro"]
    assert grouped["per_group"]["a"]["micro"]["tp"] == 2 and set(grouped["per_group"]["b"]["per_lang"]) == {"en"}
    assert evaluate_labelled([{"text": "肝脏FDG摄取增高。", "expected": {"liver": ["increased"], "spleen": []}}])["micro"]["f1"] == 1
    empty = evaluate_labelled([])
    assert empty["n_items"] == 0 and empty["normal_recall"] is None and empty["per_lang"] == {}


@pytest.mark.parametrize("lang", ["zh", "en"])
def test_evaluate_labelled_on_the_labelled_set(labelled: list[dict], lang: str) -> None:
    res = evaluate_labelled([it for it in labelled if it["lang"] == lang])
    blk = res["per_lang"][lang]
    print(f"\n[{lang}] {blk['n_items']} texts: micro {blk['micro']}; normal recall {blk['normal_recall']}; "
          f"negation errors {blk['negation_errors']}")
    assert blk["micro"]["f1"] >= 0.95 and blk["normal_recall"] >= 0.95
    assert blk["negation_errors"]["total"] == 0
    holdout = evaluate_labelled([it for it in labelled if it["lang"] == lang and "issue8" in it.get("tags", [])])
    assert holdout["micro"]["f1"] >= 0.95 and holdout["negation_errors"]["total"] == 0


def test_read_labelled_jsonl_yaml_and_errors(tmp_path: Path) -> None:
    good = tmp_path / "set.jsonl"
    good.write_text('{"id": "x1", "text": "肝脏FDG摄取增高。", "expected": {"liver": ["increased"]}}\n\n'
                    '{"text": "No increased uptake in the liver.", "lang": "en", "expected": {"liver": "normal"}}\n',
                    encoding="utf-8")
    items = read_labelled(str(good))
    assert [(it.id, it.lang, it.expected) for it in items] == [
        ("x1", "auto", {"liver": ["increased"]}), ("#2", "en", {"liver": ["normal"]})]
    assert items[1].where == f"{good}:3"
    assert read_labelled(str(DATA))[0].id == "zh-r001"
    yml = tmp_path / "set.yaml"
    yml.write_text("- {text: 肝脏FDG摄取增高, expected: {liver: [increased]}}\n- {text: x, expected: {livr: [normal]}}\n",
                   encoding="utf-8")
    with pytest.raises(InputError, match=r"set\.yaml:2: unknown organ 'livr'"):
        read_labelled(str(yml))
    for line, want in (("{not json", "set.jsonl:2: not valid JSON"),
                       ('{"text": "", "expected": {}}', "set.jsonl:2: 'text' must be a non-empty string"),
                       ('{"text": "t"}', "set.jsonl:2: missing 'expected'"),
                       ('{"text": "t", "expected": {"liver": ["hot"]}}', "set.jsonl:2: unknown state 'hot' for liver"),
                       ('{"text": "t", "lang": "fr", "expected": {}}', "set.jsonl:2: unknown lang 'fr'"),
                       ('["t"]', "set.jsonl:2: expected an object")):
        good.write_text('{"text": "t", "expected": {}}\n' + line + "\n", encoding="utf-8")
        with pytest.raises(InputError) as exc:
            read_labelled(str(good))
        assert want in str(exc.value) and "\n" not in str(exc.value), str(exc.value)


def test_cli_eval(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    f = tmp_path / "mine.jsonl"
    f.write_text("\n".join(json.dumps(x, ensure_ascii=False) for x in (
        {"id": "r1", "text": "胃壁FDG摄取增高。肝脏FDG摄取未见异常。", "expected": {"stomach": ["increased"], "liver": ["normal"]}},
        {"id": "r2", "text": "右肺上叶结节，FDG摄取增高。", "expected": {"lung": ["normal"]}},
    )) + "\n", encoding="utf-8")
    out_json = tmp_path / "agreement.json"
    assert main(["uptake", "--eval", str(f), "--json", str(out_json)]) == 0
    out = capsys.readouterr().out
    assert "per state" in out and "per organ" in out and "normal recall" in out and "negation errors" in out
    assert "disagreements: 1" in out and "r2 (zh) lung: expected ['normal'] got ['increased']" in out
    assert "normal->increased 1" in out and "右肺上叶结节" in out
    doc = json.loads(out_json.read_text(encoding="utf-8"))
    assert doc["source"] == str(f) and doc["micro"]["tp"] == 2 and doc["negation_errors"]["normal->increased"] == 1
    assert main(["uptake", "--eval", str(DATA), "--by", "kind"]) == 0
    out = capsys.readouterr().out
    assert "disagreements: 0" in out and "per kind" in out and "  report " in out and "  sentence " in out
    bad = tmp_path / "bad.jsonl"
    bad.write_text('{"text": "t", "expected": {}}\n{"text": "t", "expected": {"heart": ["normal"]}}\n', encoding="utf-8")
    assert main(["uptake", "--eval", str(bad)]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and f"{bad}:2: unknown organ 'heart'" in err and "Traceback" not in err
    assert main(["uptake", "--eval", str(tmp_path / "missing.jsonl")]) == 2
    assert "missing.jsonl" in capsys.readouterr().err
    assert main(["uptake", "--json", str(out_json), str(f)]) == 2
    assert "--json and --by go with --eval" in capsys.readouterr().err
    assert main(["uptake"]) == 2
    assert "give a report FILE" in capsys.readouterr().err


def test_new_lexicon_sections_are_checked(tmp_path: Path) -> None:
    for body, want in (("homonyms:\n  hilum: {becomes: heart}\n", "homonyms.hilum needs"),
                       ("char_variants: 'abc'\n", "char_variants: 'abc' is not a pair"),
                       ("resected:\n  heart: [cardiectomy]\n", "unknown organ id 'heart' in resected"),
                       ("lymph_nodes:\n  by_organ: {bone: nowhere}\n", "unknown organ id in lymph_nodes.by_organ"),
                       ("groups:\n  gut tube: [stomach, colon]\n", "groups.gut tube must list organ ids")):
        bad = tmp_path / "bad.yaml"
        bad.write_text(body, encoding="utf-8")
        with pytest.raises(InputError, match=want):
            load_lexicon("en", (str(bad),))
    ok = tmp_path / "ok.yaml"
    ok.write_text("resected:\n  spleen: [splenic removal]\n", encoding="utf-8")
    assert extract_uptake("Prior splenic removal.", "en", load_lexicon("en", (str(ok),))) == {"spleen": ["absent"]}


# ------------------------------------------------------------------------------- golden outputs (speed-ups)
GOLDEN = Path(__file__).parent / "data" / "uptake_golden.json"


def _golden_texts() -> dict[str, tuple[str, str]]:
    """Named (text, lang) inputs whose statements are pinned in data/uptake_golden.json."""
    out: dict[str, tuple[str, str]] = {}
    for it in yaml.safe_load(DATA.read_text(encoding="utf-8"))["items"]:
        out[f"labelled:{it['id']}"] = (it["text"], it.get("lang", "auto"))
        out[f"labelled:{it['id']}:auto"] = (it["text"], "auto")
    for line in (Path(__file__).parent / "data" / "nlg_pairs.jsonl").read_text(encoding="utf-8").splitlines():
        rec = json.loads(line)
        for field in ("hyp", "ref"):
            out[f"nlg:{rec['id']}:{field}"] = (rec[field], rec.get("lang", "auto"))
    for i, (text, _) in enumerate(ZH_CASES):
        out[f"zh_case:{i}"] = (text, "zh")
    for i, (text, _) in enumerate(EN_CASES):
        out[f"en_case:{i}"] = (text, "en")
    if SEED.is_file():
        rec = json.loads(SEED.read_text(encoding="utf-8").splitlines()[0])
        out["seed:answer"] = (rec["answer"], "zh")
        out["seed:prompt_user_text"] = (rec["prompt_user_text"], "zh")
        out["seed:answer+prompt"] = (rec["answer"] + "\n" + rec["prompt_user_text"], "auto")
    return out


def test_outputs_match_golden() -> None:
    """Every statement (organ, state, clause, span, cues, term, inherited) stays as it was before the speed-ups."""
    import hashlib

    golden = json.loads(GOLDEN.read_text(encoding="utf-8"))["items"]
    texts = _golden_texts()
    checked = 0
    for key, (text, lang) in texts.items():
        want = golden.get(key)
        if want is None or want["text_sha"] != hashlib.sha256(text.encode()).hexdigest()[:12]:
            continue  # a test text that was added or edited later
        for _ in range(2):  # the second call is served by the memo
            doc = json.dumps([s.as_dict() for s in extract_statements(text, lang)], ensure_ascii=False, sort_keys=True)
            assert hashlib.sha256(doc.encode()).hexdigest()[:16] == want["sha"], key
        checked += 1
    assert checked >= 0.9 * len(golden)


def test_memo_returns_fresh_lists() -> None:
    """A caller that edits the returned list does not change what the next call returns."""
    text = "肝脏FDG摄取增高，脾脏代谢未见异常。"
    first = extract_statements(text, "zh")
    assert [(s.organ, s.state) for s in first] == [("liver", "increased"), ("spleen", "normal")]
    first.clear()
    again = extract_statements(text, "zh")
    assert [(s.organ, s.state) for s in again] == [("liver", "increased"), ("spleen", "normal")]
    assert again is not extract_statements(text, "zh")


# ------------------------------------------------------------------ issue 8: rules found on the real-text DEV half
# Each sentence is written for this test (not taken from the real sets); the comment names the rule.
REAL_DEV_RULES: list[tuple[str, str, dict[str, list[str]]]] = [
    # 非 inside a term (非均匀性) is no negation
    ("zh", "肝脏呈非均匀性FDG摄取增高。", {"liver": ["increased"]}),
    # FDG阴性 / 阴性摄取 (FDG-negative) is normal
    ("zh", "甲状腺右叶结节呈FDG阴性摄取。", {"thyroid": ["normal"]}),
    # 相当于 its own parenchyma is normal, and a stated level beats an SUV value
    ("zh", "右肾小结节，FDG摄取相当于周围肾实质，SUVmax 3.1。", {"kidney": ["normal"]}),
    # fissures and the bronchovascular bundle are lung
    ("zh", "右侧水平裂旁小结节，FDG摄取未见增高。", {"lung": ["normal"]}),
    ("zh", "双肺支气管血管束FDG摄取弥漫性增高。", {"lung": ["increased"]}),
    # fat and vessels beside a node station are neither nodes nor the organ; "X水平" only gives the level
    ("zh", "左锁骨上脂肪FDG摄取增高。", {}),
    ("zh", "右肺门血管走行区FDG摄取增高。", {}),
    ("zh", "胰头水平见一软组织团块，FDG摄取增高。", {}),
    ("zh", "肝血管瘤，FDG摄取未见增高。", {"liver": ["normal"]}),
    # what a finding could be mistaken for states nothing
    ("zh", "右侧输尿管生理性浓聚易误认为髂血管旁淋巴结转移。", {}),
    ("en", "Physiologic FDG activity in the ureter could be mistaken for FDG-avid iliac lymph nodes.", {}),
    # a subject that is none of the 19 takes its own state by position
    ("en", "There was reduced FDG uptake in the spleen and intense FDG uptake in the psoas muscle.",
     {"spleen": ["decreased"]}),
    # an existential lead-in and position words inside a list item
    ("en", "There are right supraclavicular, left axillary and lower paratracheal lymph nodes, showing intense "
           "FDG uptake.", {"cervical_lymph_nodes": ["increased"], "mediastinal_lymph_nodes": ["increased"]}),
    ("en", "Resolved FDG avidity in the hilar nodes and in the left upper para-aortic nodes.",
     {"mediastinal_lymph_nodes": ["normal"], "abdominal_lymph_nodes": ["normal"]}),
    # organs named between a history cue and the verb are history
    ("en", "Images of a woman with carcinoma of the cervix show increased uptake in the left supraclavicular nodes.",
     {"cervical_lymph_nodes": ["increased"]}),
    # urinary activity in the collecting system is normal
    ("en", "Urinary FDG activity pools in the right renal pelvis.", {"kidney": ["normal"]}),
    # "heterogeneous" alone is no level word (as 不均匀 in Chinese)
    ("en", "Heterogeneous uptake throughout the spleen.", {}),
]

# rules from the whole real-text sets (2026-12-02, second pass; the held-out set in tests/data/uptake_holdout_*.yaml
# measures them on text not read while tuning). Each sentence is written for this test.
REAL_PASS2_RULES: list[tuple[str, str, dict[str, list[str]]]] = [
    # CT phases and enhancement are no uptake state, even where 排泄 (excretion) gives an uptake context
    ("zh", "左肾占位，增强扫描皮质期明显强化，排泄期强化逐渐减低。", {}),
    # 伴或不伴 ("with or without") negates nothing
    ("zh", "多发淋巴结代谢增高，伴或不伴骨髓代谢增高。", {"bone": ["increased"]}),
    # 减少 is decreased only with an uptake word; 可降低 (a treatment can lower) is no state
    ("zh", "治疗后复查可减少伪影，肝脏代谢未见异常。", {"liver": ["normal"]}),
    ("zh", "右肾上极放射性分布减少。", {"kidney": ["decreased"]}),
    ("zh", "激素治疗可降低脾脏SUVmax。", {}),
    # 放射性摄取增强 is increased (增强 alone is CT enhancement)
    ("zh", "双肺支气管血管束放射性摄取增强。", {"lung": ["increased"]}),
    # "X癌患者" is a patient group, not the organ; the brain regions are the subject
    ("zh", "肺癌患者双侧额叶代谢减低。", {"brain": ["decreased"]}),
    # a lesion compared with an organ's own tissue lies in that organ (no other organ named)
    ("zh", "病灶FDG摄取明显高于脑实质。", {"brain": ["increased"]}),
    ("zh", "病灶FDG摄取接近脑实质。", {"brain": ["normal"]}),
    ("en", "The lesion shows uptake higher than the surrounding liver.", {"liver": ["increased"]}),
    # uptake wording alone is increased for lymph nodes when the clause names them (not a bare template slot)
    ("en", "FDG uptake in the paratracheal and subcarinal lymph nodes.", {"mediastinal_lymph_nodes": ["increased"]}),
    ("zh", "双侧颈部见多发淋巴结，FDG摄取。", {}),
    ("en", "FDG uptake in the liver.", {}),
    # a state right before a non-organ word and an uptake noun is that tissue's
    ("en", "Increased muscular uptake in the supraclavicular region.", {}),
    ("en", "Brown fat uptake in the supraclavicular regions.", {}),
    # "No enlarged or hypermetabolic nodes": the negation covers the state after "or"
    ("en", "No enlarged or hypermetabolic lymph nodes are seen in the abdomen.", {"abdominal_lymph_nodes": ["normal"]}),
    # a relative clause ends a list of organs
    ("en", "Physiologic uptake in the liver, kidneys and stomach which are unremarkable on CT.",
     {"liver": ["normal"], "kidney": ["normal"], "stomach": ["normal"]}),
    # urinary activity is normal; "at a higher level" is where an image was taken
    ("en", "Images obtained at a higher level show focal urinary FDG activity in the left renal calyx.",
     {"kidney": ["normal"]}),
    # "expected" alone is no normal state ("as well as the expected tumours"); "as expected" is
    ("en", "Increased uptake in the thyroid as well as the expected tumours.", {"thyroid": ["increased"]}),
    ("en", "The spleen shows uptake as expected.", {"spleen": ["normal"]}),
    # (18)F-FDG before "uptake in" still binds forward
    ("en", "Decreased (18)F-FDG uptake in the liver and increased (18)F-FDG uptake in skeletal muscle.",
     {"liver": ["decreased"]}),
    # node words between a descriptor and its uptake noun; joints of the chest wall are bone; aplasia is absent
    ("en", "Faint nodal FDG uptake in the left neck lymph nodes.", {"cervical_lymph_nodes": ["increased"]}),
    ("en", "Focal mild FDG uptake in the right costoclavicular junction.", {"bone": ["increased"]}),
    ("en", "Incidental left submandibular gland aplasia.", {"salivary_glands": ["absent"]}),
    # a location "cephalad to the" an organ is not that organ
    ("en", "A focus of increased activity just cephalad to the gallbladder.", {}),
    # an attributive state right before an organ binds forward ("suppressed brain activity")
    ("en", "Hypermetabolism in the liver with markedly suppressed brain activity.",
     {"brain": ["decreased"], "liver": ["increased"]}),
    # gyri and nuclei are the brain; a contrast clause goes on about uptake
    ("zh", "双侧楔叶及舌回代谢增高，而海马及胼胝体则对称性降低。", {"brain": ["increased", "decreased"]}),
    ("en", "Reduced metabolism in the posterior cingulate and precuneus.", {"brain": ["decreased"]}),
]

# rules written after the first run on tests/data/uptake_holdout_*.yaml (which made those sets development data);
# each sentence is written for this test
HOLDOUT1_RULES: list[tuple[str, str, dict[str, list[str]]]] = [
    # a list of organs before a lesion noun shares the state ("avid lung, liver and splenic nodules")
    ("en", "Innumerable intensely FDG avid lung, liver and splenic nodules, concerning for malignancy.",
     {"lung": ["increased"], "liver": ["increased"], "spleen": ["increased"]}),
    # uptake wording alone after a finding verb is a finding: increased for any organ (guide 4.1)
    ("en", "PET/CT showed FDG uptake not only in the liver and spleen, but also in the humerus.",
     {"liver": ["increased"], "spleen": ["increased"], "bone": ["increased"]}),
    ("zh", "FDG摄取还可发生于关节、腮腺等部位。", {"salivary_glands": ["increased"], "bone": ["increased"]}),
    ("en", "There was also splenic uptake.", {"spleen": ["increased"]}),
    # colorectal is the bowel; soft tissue or a place "inferior to" an organ is not it; a fatty hilum is a node's
    ("en", "Incidental focal colorectal FDG uptake.", {"intestine": ["increased"]}),
    ("en", "A hypermetabolic focus inferior to the left hepatic lobe.", {}),
    ("en", "Increased FDG accumulation within the soft tissues near the scapula.", {}),
    ("en", "Hypermetabolic activity in a lymph node with a fatty hilum.", {}),
    # a conditional states no finding
    ("en", "If an adrenal nodule is hypermetabolic on PET, a metastasis should be considered.", {}),
    ("en", "If you review the images, you will find no abnormal FDG uptake in the liver.", {"liver": ["normal"]}),
    ("zh", "如果肾上腺结节代谢增高，应考虑转移。", {}),
    # a trend with age ("此后逐渐减弱") is no level
    ("zh", "扁桃体的生理性摄取在儿童期最高，此后逐渐减弱。", {"pharynx": ["normal"]}),
    # zh: spaces between organs are node stations; a muscle named after a bone is muscle; hepatic ducts are ducts
    ("zh", "胰周(胰胃间隙)稍大淋巴结，代谢增高。", {"abdominal_lymph_nodes": ["increased"]}),
    ("zh", "左侧坐骨海绵体肌可见局部放射性浓聚。", {}),
    ("zh", "左右肝管及胆总管放射性摄取明显增高。", {}),
    # 减低区 / 缺损区 are states that carry their own uptake context; 黑质 is the brain
    ("zh", "黑质及纹状体见代谢减低区。", {"brain": ["decreased"]}),
    ("zh", "肝右叶见放射性缺损区。", {"liver": ["absent"]}),
    # the urine collecting system is the kidney's, its tracer normal
    ("zh", "尿液收集系统见生理性FDG摄取。", {"kidney": ["normal"]}),
    # a CT-only clause about a tissue that is none of the 19 keeps the subject of its sentence
    ("zh", "左肺上叶见一结节，见分叶及胸膜凹陷，FDG摄取增高。", {"lung": ["increased"]}),
    # nodes with no station named do not take the organ of an earlier sentence
    ("zh", "食管中段管壁增厚。转移淋巴结FDG摄取增高。", {}),
]


@pytest.mark.parametrize(("lang", "text", "want"), HOLDOUT1_RULES)
def test_holdout1_rules(lang: str, text: str, want: dict[str, list[str]]) -> None:
    assert extract_uptake(text, lang) == want


@pytest.mark.parametrize(("lang", "text", "want"), REAL_PASS2_RULES)
def test_real_pass2_rules(lang: str, text: str, want: dict[str, list[str]]) -> None:
    assert extract_uptake(text, lang) == want


@pytest.mark.parametrize("lang", ["zh", "en", "auto"])
def test_mixed_language_report_is_read_whole(lang: str) -> None:
    """A Chinese report with an English sentence (and the reverse) is read in both languages, whatever `lang` says."""
    text = "肝脏FDG摄取增高，SUVmax 5.2。\nThe spleen shows increased FDG uptake. No abnormal uptake in the thyroid.\n双肺未见异常放射性摄取。"
    assert extract_uptake(text, lang) == {"thyroid": ["normal"], "lung": ["normal"], "liver": ["increased"],
                                          "spleen": ["increased"]}
    stmts = extract_statements(text, lang)
    for st in stmts:  # spans point into the whole text
        assert st.clause in text[st.span[0] : st.span[1]]
    assert extract_uptake("The liver shows increased uptake. 脾脏代谢未见异常。", "en") == {
        "liver": ["increased"], "spleen": ["normal"]}
    # also with a lexicon given (pet2rep uptake --eval, --lexicon): the other language gets its own lexicon
    assert labels_from_statements(extract_statements(text, "zh", load_lexicon("zh"))) == extract_uptake(text, "zh")
    # Latin words inside a Chinese sentence (FDG, SUVmax, CT) do not make it English
    assert extract_uptake("肝脏SUVmax 5.2，CT示低密度影，FDG avid。", "zh") == {"liver": ["increased"]}


@pytest.mark.parametrize(("lang", "text", "want"), REAL_DEV_RULES)
def test_real_dev_rules(lang: str, text: str, want: dict[str, list[str]]) -> None:
    assert extract_uptake(text, lang) == want


# rules of extractor version 5 (issue 8: the real sets' and held-out sets 1-2's remaining errors); each sentence is
# written for this test
V5_RULES: list[tuple[str, str, dict[str, list[str]]]] = [
    # a non-organ tissue listed after the uptake noun does not make the uptake its own ("…见于甲状腺、胸膜")
    ("zh", "本病的FDG摄取亦可见于甲状腺、胸膜及心包。", {"thyroid": ["increased"]}),
    ("en", "PET showed FDG uptake in the spleen and the pleura.", {"spleen": ["increased"]}),
    # 摄取阳性 / FDG阳性 (FDG-positive) is increased (guide 4.1)
    ("zh", "胰头占位FDG摄取阳性。", {"pancreas": ["increased"]}),
    ("zh", "左肾上腺结节PET阳性，考虑转移。", {"adrenal": ["increased"]}),
    # the normal-study frame: levels stated about the normal organs it names compare them with each other
    ("en", "Normal biodistribution of FDG in a child. Intense activity is seen in the brain and lower activity in "
           "the liver and spleen.", {"brain": ["normal"], "liver": ["normal"], "spleen": ["normal"]}),
    ("en", "In healthy volunteers, uptake in the tonsils is higher than in the salivary glands.",
     {"pharynx": ["normal"]}),
    ("zh", "正常成人脑葡萄糖代谢影像示皮质明显浓聚，白质较低。", {"brain": ["normal"]}),
    ("zh", "结果正常志愿者中肝脏摄取较高，脾脏摄取较低。", {"liver": ["normal"], "spleen": ["normal"]}),
    # … but not a lesion named in the frame's line, nor the next line, nor a normal distribution said mid-sentence
    ("en", "Normal distribution of FDG elsewhere. Intense uptake in a right hilar node.",
     {"mediastinal_lymph_nodes": ["increased"]}),
    ("en", "Normal distribution of FDG.\nIntense activity in the liver.", {"liver": ["increased"]}),
    ("zh", "脑实质放射性呈正常生理性分布，右侧颞叶见放射性浓聚。", {"brain": ["increased", "normal"]}),
    ("zh", "正常人群对照。右肺结节代谢增高。", {"lung": ["increased"]}),
    # a texture word inside a focal pattern ("nodular and homogeneous uptake") is no normal level; diffuse stays
    ("en", "Punctate homogeneous FDG uptake in the right thyroid lobe.", {"thyroid": ["increased"]}),
    ("en", "Diffuse homogeneous FDG uptake in the spleen.", {"spleen": ["normal"]}),
    ("zh", "右肾上腺见结节样均匀FDG摄取。", {"adrenal": ["increased"]}),
    # a denied change of metabolism (未见…代谢变化/代谢改变) is normal; an undenied one states no level
    ("zh", "双侧额叶未见明显代谢改变。", {"brain": ["normal"]}),
    ("zh", "右侧丘脑无代谢变化。", {"brain": ["normal"]}),
    ("zh", "治疗后纵隔淋巴结代谢变化不大。", {}),
    # a switch to what PET shows ends a negation's scope (PET上/PET示)
    ("zh", "胆总管不扩张以及PET上胰头高摄取。", {"pancreas": ["increased"]}),
    ("zh", "胰腺未见肿大，PET示胰腺未见异常浓聚。", {"pancreas": ["normal"]}),
    # 异常 said of another modality (MR异常, CT异常) is no uptake state
    ("zh", "脑代谢减低，MR异常率为5/9。", {"brain": ["decreased"]}),
    ("zh", "12例MRI异常，其中额叶代谢减低8例。", {"brain": ["decreased"]}),
    # soft tissue near the tip of a bone, the subcutaneous plane over it and skeletal musculature are not bone
    ("en", "Increased uptake in the soft tissues near the tip of the left scapula.", {}),
    ("en", "Increased uptake in the subcutaneous plane of the skull.", {}),
    ("en", "Diffuse uptake in the skeletal musculature.", {}),
    # "other organs" are not the subject carried from before
    ("en", "Hypermetabolic nodule in the right lung, without abnormality in other organs.", {"lung": ["increased"]}),
    # "normal" right before an organ word, beside another level, describes the organ, not its uptake
    ("en", "Intense focal FDG uptake of a normal spleen.", {"spleen": ["increased"]}),
    ("zh", "正常脾脏可见局灶性FDG浓聚。", {"spleen": ["increased"]}),
    ("en", "Normal FDG uptake in the spleen, increased uptake in the liver.",
     {"liver": ["increased"], "spleen": ["normal"]}),
    # an uptake that went away is normal: "spontaneous / complete resolution", "resolution of FDG uptake"
    ("en", "Focal uptake in the thyroid showed spontaneous resolution on a repeat scan.",
     {"thyroid": ["increased", "normal"]}),
    ("en", "Follow-up PET showed complete resolution of FDG uptake in the spleen.", {"spleen": ["normal"]}),
    # T1/T2 before "signal", "weighted", "hyperintense" is an MRI sequence, not a vertebra
    ("en", "The adrenal mass had a high T2 signal. PET showed resolution of FDG uptake.", {"adrenal": ["normal"]}),
    ("en", "Increased uptake in T2 and L4.", {"bone": ["increased"]}),
    # after a negated uptake noun, "、" + a degree word starts a new category of a list; elsewhere the negation
    # covers the list ("未见肝、脾摄取增高", "未见结节、明显…增高灶")
    ("zh", "肺结节按摄取分为无摄取、轻度摄取增高和明显摄取增高三类。", {"lung": ["increased", "absent"]}),
    ("zh", "未见肝、脾摄取增高。", {"liver": ["normal"], "spleen": ["normal"]}),
    ("zh", "双肺未见结节、明显FDG摄取增高灶。", {"lung": ["normal"]}),
    # 非 before a noun is a prefix ("non-tumour bone"); before an uptake word it negates
    ("zh", "肿瘤骨呈低摄取，而非瘤骨区FDG摄取明显增高。", {"bone": ["increased", "decreased"]}),
    ("zh", "右肺结节呈非高代谢。", {"lung": ["normal"]}),
    # beside the spine (脊柱旁/椎旁) is a paravertebral tissue, not bone
    ("zh", "右侧脊柱旁软组织肿块FDG摄取增高。", {}),
    ("zh", "椎旁见高代谢灶，T6椎体骨质破坏伴摄取增高。", {"bone": ["increased"]}),
    # 是否 (whether) states no finding in its clause
    ("zh", "随访需关注胰腺是否有代谢异常。", {}),
    ("zh", "肝脏是否转移需结合MRI，肝内见高代谢灶。", {"liver": ["increased"]}),
    # 代谢较活跃 is increased like 代谢活跃
    ("zh", "腹、盆腔多个淋巴结，部分伴钙化，代谢较活跃。", {"abdominal_lymph_nodes": ["increased"]}),
    # "incidental uptake" is a pattern word like "focal": increased unless called physiological
    ("en", "Incidental colonic FDG uptake was seen in 12 patients.", {"intestine": ["increased"]}),
    ("en", "Incidental FDG uptake in the thyroid, likely physiologic.", {"thyroid": ["normal"]}),
    # SPN (solitary pulmonary nodule) is the lung; "even if" concedes a finding and is no condition
    ("en", "The SPN was FDG avid.", {"lung": ["increased"]}),
    # the spinal / vertebral column is bone, Th10 is T10 (European notation); a list item may name both
    ("en", "Increased uptake in the thyroid, the spinal column (vertebra Th10), the terminal ileum.",
     {"thyroid": ["increased"], "intestine": ["increased"], "bone": ["increased"]}),
    ("en", "Increased uptake in Th10.", {"bone": ["increased"]}),
    # a dementia named alone (AD, 阿尔茨海默病, dementia) is the brain it affects; ADC is no AD
    ("zh", "轻度AD患者可见代谢减低。", {"brain": ["decreased"]}),
    ("zh", "ADC值减低。", {}),
    ("en", "Mild dementia with decreased FDG uptake.", {"brain": ["decreased"]}),
    ("en", "Even if hypermetabolic retroperitoneal nodes are seen, the ovarian uptake may be inflammatory.",
     {"abdominal_lymph_nodes": ["increased"]}),
]


@pytest.mark.parametrize(("lang", "text", "want"), V5_RULES)
def test_v5_rules(lang: str, text: str, want: dict[str, list[str]]) -> None:
    assert extract_uptake(text, lang) == want


# Rules of extractor v6, written from the errors of held-out sets 1-3 (general readings, own example sentences).
V6_RULES: list[tuple[str, str, dict[str, list[str]]]] = [
    # a level bound to lymph nodes that name no station is theirs (none of the 19): it flips no organ before it,
    # and the list before "without" keeps its state
    ("en", "Diffuse increased uptake in the spleen and bone marrow without increased uptake in the lymph nodes.",
     {"spleen": ["increased"], "bone": ["increased"]}),
    ("en", "High FDG uptake in the liver, and kidneys without abnormal uptake in any enlarged lymph nodes.",
     {"liver": ["increased"], "kidney": ["increased"]}),
    # unnamed nodes, a bare adjective item, a relative clause or a figure reference inside a list do not end it
    ("en", "PET showed FDG uptake in the liver, generalized lymph nodes, and in the sternum.",
     {"liver": ["increased"], "bone": ["increased"]}),
    ("en", "Increased uptake along the external, internal and common iliac nodal chains.",
     {"abdominal_lymph_nodes": ["increased"]}),
    ("en", "Hypermetabolic foci in the left adrenal, which measures 2 cm, and in a retrocaval adenopathy.",
     {"adrenal": ["increased"], "abdominal_lymph_nodes": ["increased"]}),
    ("en", "Intense activity at nodal and osseous sites (Figure 3).", {"bone": ["increased"]}),
    # named parts of bones and large joints are bone
    ("en", "Increased uptake in both greater trochanters and the ischial tuberosities.", {"bone": ["increased"]}),
    ("en", "Mild uptake around the hip joints and the lumbar spinous processes.", {"bone": ["increased"]}),
    # cervical cancer is the cervix uteri, a hiatal hernia the stomach, iliac regions and "chains" are nodes
    ("en", "FDG uptake of the cervical cancer was higher than that of normal cervices.", {"reproductive": ["increased"]}),
    ("en", "A hiatal hernia with moderate FDG uptake.", {"stomach": ["increased"]}),
    ("en", "Two foci of increased uptake in the right external iliac region.", {"abdominal_lymph_nodes": ["increased"]}),
    # "the lower one third of" is anatomy; a raised laboratory value is no uptake
    ("en", "Mild uptake in the lower one third of the esophagus.", {"esophagus": ["increased"]}),
    ("en", "Status post sigmoid resection, now with elevated CEA levels; no abnormal uptake in the liver.",
     {"liver": ["normal"]}),
    # a level called a normal variant is normal
    ("en", "Intense uptake in the thymus and mild uptake in the ovary, regarded as a normal variant.",
     {"reproductive": ["normal"]}),
    # a decrease seen on a repeat or later study is a change, not a level (and no bare finding either)
    ("en", "A repeat scan six weeks later showed a decrease in FDG uptake in the para-aortic nodes.", {}),
    ("en", "There is a decrease in FDG uptake in the liver compared to the spleen.", {"liver": ["decreased"]}),
    # (a repeat or later study named in an earlier clause of the sentence makes the whole sentence a change)
    ("en", "On the repeat scan 3 months later, the liver lesion shows decreased uptake.", {}),
    ("en", "The liver lesion shows decreased uptake.", {"liver": ["decreased"]}),
    # other areas are not the organ named before; a level of a bone, fat named after station words and what lies
    # adjacent to a bone are landmarks, not the organ
    ("en", "Increased uptake in the left femur, lower uptake in other areas.", {"bone": ["increased"]}),
    ("en", "Mild uptake in a right paratracheal node near the level of the clavicle.",
     {"mediastinal_lymph_nodes": ["increased"]}),
    ("en", "Increased FDG uptake in supraclavicular and axillary fat tissue.", {}),
    ("en", "Intense uptake adjacent to the thoracic spine and lumbar spine.", {}),
    # a resection done after the scan, or not done, leaves the organ there; "status post" still removes it
    ("en", "Nephrectomy was subsequently performed for the renal mass.", {}),
    ("en", "Focal uptake in the left testis, followed by orchiectomy.", {"reproductive": ["increased"]}),
    ("en", "Status post nephrectomy.", {"kidney": ["absent"]}),
    # the organ's normal uptake missing is absent; what an organ normally or usually shows is its normal level
    ("en", "Absence of normal splenic activity.", {"spleen": ["absent"]}),
    ("en", "The liver normally shows activity slightly higher than blood pool.", {"liver": ["normal"]}),
    ("en", "The renal cortex usually demonstrates more uptake than the medulla.", {"kidney": ["normal"]}),
    # a physiological list with list words (such as, tissue, system) and group words (urinary system, gonads)
    ("en", "Physiological FDG uptake is seen in organs such as the brain, urinary system, lymphoid tissue and gonads.",
     {"brain": ["normal"], "kidney": ["normal"], "reproductive": ["normal"]}),
    # the brain's intense physiological uptake: the whole brain or its grey matter with an intensity word is normal;
    # increased, hypermetabolic, a focus or a region named alone keep the level
    ("en", "Intense cerebral uptake. Moderate uptake in the liver.", {"brain": ["normal"], "liver": ["increased"]}),
    ("en", "Higher uptake in the grey matter and the thalami than in white matter.", {"brain": ["normal"]}),
    ("en", "Increased uptake in the brain.", {"brain": ["increased"]}),
    ("en", "Intense focal uptake in the brain.", {"brain": ["increased"]}),
    ("en", "Intense uptake in the right frontal lobe.", {"brain": ["increased"]}),
    # what a disease generally does (can result in, typically presents with) is no finding of this study; a
    # physiological reading there is still normal
    ("en", "Sarcoidosis can result in intense uptake in the mediastinal nodes and spleen.", {}),
    ("en", "Myeloma typically presents with diffuse marrow uptake.", {}),
    ("en", "Physiological states can cause increased uptake in the stomach.", {"stomach": ["normal"]}),
    ("en", "FDG PET typically demonstrates hypometabolism of the temporal lobes in this disease.", {}),
    # deficient and ametabolic are absent; what a treatment or work-up was for is history
    ("en", "The necrotic lesion in the liver was ametabolic.", {"liver": ["absent"]}),
    ("en", "FDG uptake was deficient in the left parotid gland.", {"salivary_glands": ["absent"]}),
    ("en", "Intense uptake in the liver after radiotherapy for esophageal cancer.", {"liver": ["increased"]}),
    ("en", "Biopsy confirmed the hypermetabolic liver lesions as metastasis of colon cancer.", {"liver": ["increased"]}),
    ("en", "We report a case of gastric lymphoma with FDG-avid splenic lesions.", {"spleen": ["increased"]}),
    # portal nodes are abdominal nodes; a hilar mass is the lung's
    ("en", "Increased uptake in portal lymph nodes.", {"abdominal_lymph_nodes": ["increased"]}),
    ("en", "FDG-avid left hilar mass.", {"lung": ["increased"]}),
    # a clause that reads the finding as nodes ("compatible with lymphadenopathy", "考虑淋巴结转移") makes its region
    # words node groups; another reading does not
    ("en", "Multiple hypermetabolic foci in the neck and pelvis, compatible with lymphadenopathy.",
     {"cervical_lymph_nodes": ["increased"], "abdominal_lymph_nodes": ["increased"]}),
    ("en", "Multiple hypermetabolic foci in the neck, compatible with brown fat.", {}),
    ("zh", "双侧颈部及腹腔多发高代谢灶，考虑淋巴结转移。",
     {"cervical_lymph_nodes": ["increased"], "abdominal_lymph_nodes": ["increased"]}),
    # after a node heading ("淋巴结:", "Lymph nodes:") the places listed are node groups, and an organ names its nodes;
    # the state at the end of the list applies to every place in it
    ("zh", "(2)淋巴结:左侧腮腺区,右侧颈部,左侧胸大肌后,纵隔内,腹膜后多发高代谢结节。",
     {"cervical_lymph_nodes": ["increased"], "mediastinal_lymph_nodes": ["increased"],
      "abdominal_lymph_nodes": ["increased"]}),
    ("zh", "淋巴结:双侧肺门见肿物,代谢增高。", {"mediastinal_lymph_nodes": ["increased"]}),
    ("en", "Lymph nodes: right neck, mediastinum and pelvis with several hypermetabolic nodules.",
     {"cervical_lymph_nodes": ["increased"], "mediastinal_lymph_nodes": ["increased"],
      "abdominal_lymph_nodes": ["increased"]}),
    # physiological activity given as the cause of the uptake in a sentence makes its levels normal, not a lesion's
    ("zh", "因为胸腺的生理活性较高,儿童纵隔内可见强烈摄取。", {"mediastinal_lymph_nodes": ["normal"]}),
    ("zh", "由于肌肉的生理活动,颈部可见摄取增高,另见甲状腺结节代谢增高。",
     {"thyroid": ["increased"]}),
    ("en", "Because of physiological activity of lymphoid tissue, the tonsils show moderate uptake.",
     {"pharynx": ["normal"]}),
    ("zh", "扁桃体可见强烈摄取。", {"pharynx": ["increased"]}),
    # a texture word alone said of a lesion is its texture, not a normal level; of an organ it stays normal
    ("zh", "肝内多发结节，结节代谢分布较均匀。", {}),
    ("en", "Several nodules in the spleen with homogeneous uptake.", {}),
    ("en", "Homogeneous uptake in the spleen.", {"spleen": ["normal"]}),
    # a definite lesion noun points back to the organ where a history sentence named the lesion; another place does not
    ("en", "A woman with a renal lesion was referred for staging. PET showed intense FDG uptake in the lesion.",
     {"kidney": ["increased"]}),
    ("en", "A woman with a renal lesion was referred for staging. PET showed intense FDG uptake in the mediastinum.",
     {"mediastinal_lymph_nodes": ["increased"]}),
    ("zh", "患者女，56岁，因胰腺占位就诊。PET/CT示该病灶FDG摄取增高。", {"pancreas": ["increased"]}),
    ("en", "CT showed a 3 cm lesion in the left lower lobe.\n\nA PET scan showed that the lesion was hypermetabolic.",
     {"lung": ["increased"]}),
    # what is hard to detect states no finding
    ("en", "Physiologic uptake in the bowel, making it difficult to detect small colonic lesions with increased uptake.",
     {"intestine": ["normal"]}),
    # uptake read as an artifact is no uptake of the organ
    ("en", "Focal uptake in the right adrenal, compatible with a misregistration artifact.", {}),
    ("zh", "左肺底FDG摄取增高，考虑为运动伪影。", {}),
    # a sentence that opens with "These/It" and places the uptake just stated gives that uptake to what it names
    ("en", "Two foci of intense uptake were seen in the chest. These correspond to a right hilar node and a left lower "
           "lobe nodule.", {"lung": ["increased"], "mediastinal_lymph_nodes": ["increased"]}),
    ("en", "A CT was done. These correspond to a right hilar node.", {}),
    ("zh", "两组患者均表现为局灶性代谢增高灶，病灶位于脾脏3例、左肾上腺2例。",
     {"spleen": ["increased"], "adrenal": ["increased"]}),
    ("en", "Hypermetabolic lesions were found in 12 patients, located in the liver in 7.", {"liver": ["increased"]}),
    # a phase or group word before an SUV value ("SUVmax延迟为4.1±0.9"): the value still reads (>= 2.5 increased)
    ("zh", "胰腺病灶的SUVmax延迟为4.2±1.1。", {"pancreas": ["increased"]}),
    ("zh", "胰腺病灶的SUVmax早期为1.2±0.3。", {}),
    # "standardized uptake value of 4.1" is an SUV like "SUVmax 4.1"
    ("en", "A nodule in the left adrenal was found. PET showed the nodule with a standardized uptake value of 4.1.",
     {"adrenal": ["increased"]}),
    # 非 before a symmetry word is a pattern ("asymmetric"), no negation
    ("zh", "双侧额叶非对称性代谢增高。", {"brain": ["increased"]}),
]


@pytest.mark.parametrize(("lang", "text", "want"), V6_RULES)
def test_v6_rules(lang: str, text: str, want: dict[str, list[str]]) -> None:
    assert extract_uptake(text, lang) == want


# ------------------------------------------------------------------------------- extractor v7 rules (issue 8)
# Rules taken from the errors of held-out set 4 (guide section 6.8), each with its own sentences (none copied from a
# set): the whole family of each error, not the sentence seen.
V7_RULES: list[tuple[str, str, dict[str, list[str]]]] = [
    # a node station named by an organ and a position word of any side, or by a vessel of the organ, is nodes
    ("zh", "食管后方数个淋巴结FDG摄取增高。", {"mediastinal_lymph_nodes": ["increased"]}),
    ("zh", "胰体周边多发淋巴结，代谢活跃。", {"abdominal_lymph_nodes": ["increased"]}),
    ("zh", "胃左淋巴结代谢增高。", {"abdominal_lymph_nodes": ["increased"]}),
    # (also after a part of the organ: a segment, a lobe, a fossa)
    ("zh", "食管下段左后方淋巴结代谢增高。", {"mediastinal_lymph_nodes": ["increased"]}),
    ("zh", "甲状腺左叶旁淋巴结代谢增高。", {"cervical_lymph_nodes": ["increased"]}),
    ("zh", "十二指肠降部旁淋巴结代谢增高。", {"abdominal_lymph_nodes": ["increased"]}),
    # (nodes "seen at" a list of places: every place of the list is a station)
    ("zh", "贲门及食管下段旁见数个淋巴结，FDG摄取增高。",
     {"mediastinal_lymph_nodes": ["increased"], "abdominal_lymph_nodes": ["increased"]}),
    ("zh", "胃窦及胰头后方见多发肿大淋巴结，代谢增高。", {"abdominal_lymph_nodes": ["increased"]}),
    ("zh", "脾动脉旁及肝总动脉旁淋巴结代谢增高。", {"abdominal_lymph_nodes": ["increased"]}),
    # (the organ's vessel is none of the 19; a CT phase named by the organ is the organ: 肝动脉期)
    ("zh", "脾静脉旁软组织结节代谢增高。", {}),
    ("zh", "肝动脉期病灶明显强化，FDG摄取增高。", {"liver": ["increased"]}),
    # … and so is one named by the airway or a great vessel (the vessel itself stays none of the 19)
    ("zh", "隆突前淋巴结FDG代谢增高。", {"mediastinal_lymph_nodes": ["increased"]}),
    ("zh", "气管右侧见小淋巴结，FDG摄取增高。", {"mediastinal_lymph_nodes": ["increased"]}),
    ("zh", "下腔静脉左旁淋巴结代谢增高。", {"abdominal_lymph_nodes": ["increased"]}),
    ("zh", "肠系膜上动脉旁及主动脉-腔静脉间淋巴结FDG摄取增高。", {"abdominal_lymph_nodes": ["increased"]}),
    ("zh", "腹主动脉管壁FDG摄取增高。", {}),
    # a place beside or around an organ, with no node word after it, is not the organ (nor are the pelvic pouches)
    ("zh", "乙状结肠旁结节，FDG摄取增高。", {}),
    ("zh", "胰尾旁软组织结节代谢增高。", {}),
    ("zh", "盆腔内直肠左旁见结节，代谢增高。", {}),
    ("zh", "肝脏下方见软组织结节，FDG摄取增高。", {}),
    ("zh", "甲状腺左叶后方结节代谢增高。", {}),
    ("zh", "胆囊窝旁结节代谢增高。", {}),
    ("zh", "膀胱直肠陷凹结节代谢增高。", {}),
    ("zh", "直肠子宫陷凹见结节，FDG摄取增高。", {}),
    ("zh", "颈血管鞘旁淋巴结FDG摄取增高。", {"cervical_lymph_nodes": ["increased"]}),
    ("zh", "左肺下叶斜裂旁结节代谢增高。", {"lung": ["increased"]}),
    ("zh", "右肺周围型肺癌，FDG代谢增高。", {"lung": ["increased"]}),
    ("zh", "双侧侧脑室旁白质代谢减低。", {"brain": ["decreased"]}),
    ("zh", "右肾盂旁囊肿，未见FDG摄取。", {"kidney": ["absent"]}),
    ("zh", "左肺上叶纵隔旁结节代谢增高。", {"lung": ["increased"]}),
    # bowel segments by their short names (水平部 is a segment, not "at the level of")
    ("zh", "十二指肠水平部代谢增高。", {"intestine": ["increased"]}),
    ("zh", "直乙交界处肠壁FDG摄取增高。", {"intestine": ["increased"]}),
    ("zh", "回盲瓣区FDG摄取增高。", {"intestine": ["increased"]}),
    ("zh", "食管胃连接部管壁增厚，代谢增高。", {"esophagus": ["increased"]}),
    # a degree word + 高, a degree word + the metabolism noun: increased; before a decrease it is the decrease's degree
    ("zh", "肝S4结节代谢活性稍高。", {"liver": ["increased"]}),
    ("zh", "第3腰椎横突轻度代谢，性质待定。", {"bone": ["increased"]}),
    ("zh", "左侧颞叶轻度代谢减低。", {"brain": ["decreased"]}),
    ("zh", "双侧顶叶中度摄取减低。", {"brain": ["decreased"]}),
    # 代谢 is an uptake noun like 摄取: negated alone it is absent; "高低不等" states no level
    ("zh", "肝囊肿，未见代谢。", {"liver": ["absent"]}),
    ("zh", "右侧附件区囊性灶，无代谢。", {"reproductive": ["absent"]}),
    ("zh", "肝内多发结节，未见异常代谢。", {"liver": ["normal"]}),
    ("zh", "腹膜后肿块代谢高低不等。", {}),
    # a non-word typed for an organ (肾下腺 for 肾上腺) can mean only that organ
    ("zh", "左侧肾下腺结节代谢活跃。", {"adrenal": ["increased"]}),
    # traditional characters of v7's words (躍 竇 賁 內 彎 added to the variants)
    ("zh", "胰頭周邊多發淋巴結，代謝活躍。", {"abdominal_lymph_nodes": ["increased"]}),
    ("zh", "胃竇壁增厚，代謝增高。", {"stomach": ["increased"]}),
    # a node word at the end of a list (also inside a station's name, or LNE) makes every region before it nodes
    ("en", "Hypermetabolic neck, chest and pelvic lymph node enlargement.",
     {"cervical_lymph_nodes": ["increased"], "mediastinal_lymph_nodes": ["increased"],
      "abdominal_lymph_nodes": ["increased"]}),
    ("en", "Intense uptake in thoracic and abdominal lymph nodes.",
     {"mediastinal_lymph_nodes": ["increased"], "abdominal_lymph_nodes": ["increased"]}),
    ("en", "FDG-avid supraclavicular and hilar LNE.",
     {"cervical_lymph_nodes": ["increased"], "mediastinal_lymph_nodes": ["increased"]}),
    ("zh", "双侧颈部，纵隔及腹膜后多发高代谢淋巴结。",
     {"cervical_lymph_nodes": ["increased"], "mediastinal_lymph_nodes": ["increased"],
      "abdominal_lymph_nodes": ["increased"]}),
    # more stations of the guide's node list
    ("en", "Hypermetabolic periportal and perirectal lymph nodes.", {"abdominal_lymph_nodes": ["increased"]}),
    ("en", "FDG-avid tracheobronchial and intrapulmonary lymph nodes.", {"mediastinal_lymph_nodes": ["increased"]}),
    ("en", "Increased uptake in a thyroid bed node.", {"cervical_lymph_nodes": ["increased"]}),
    ("en", "Occipital nodes with mild uptake.", {"cervical_lymph_nodes": ["increased"]}),
    # report abbreviations and words that name one organ only
    ("en", "Mildly increased uptake in the GB wall, likely cholecystitis.", {"gallbladder": ["increased"]}),
    ("en", "Focal uptake in the right SI joint.", {"bone": ["increased"]}),
    ("en", "A lytic lesion with intense FDG uptake.", {"bone": ["increased"]}),
    ("en", "Sialadenitis with diffuse increased uptake.", {"salivary_glands": ["increased"]}),
    ("en", "FDG-avid interlobular septal thickening suggesting lymphangitic spread.", {"lung": ["increased"]}),
    # a lobe's adjective right before a metabolism word is the brain's lobe; before sinus or bone it is not
    ("en", "Bilateral parietal hypometabolism, worse on the left.", {"brain": ["decreased"]}),
    ("en", "Frontal sinus mucosal uptake is increased.", {}),
    # (Chinese: a lobe named as a region or by its cortex, alone or joined)
    ("zh", "双侧颞顶皮层代谢减低。", {"brain": ["decreased"]}),
    ("zh", "右侧颞区代谢减低，颞骨未见异常代谢。", {"brain": ["decreased"], "bone": ["normal"]}),
    # non-pathologic and eumetabolic are normal
    ("en", "Non-pathologic FDG activity in the gallbladder lumen.", {"gallbladder": ["normal"]}),
    ("en", "Nodules in the right upper lobe. These nodules are eumetabolic.", {"lung": ["normal"]}),
    # what a mass extends into or from, or invades, is where it reaches; fascia is no organ
    ("en", "Intense uptake in a left lower lobe mass that extends into the mediastinum.", {"lung": ["increased"]}),
    ("en", "A hypermetabolic renal mass invading the adrenal gland.", {"kidney": ["increased"]}),
    # ("extends from" a place is that place's own lesion unless the sentence named its organ first)
    ("en", "Hypermetabolic mass extending from the pancreatic tail into the splenic hilum.", {"pancreas": ["increased"]}),
    ("en", "An irregular density in the left upper lobe that extends from the left hilum shows intense FDG activity.",
     {"lung": ["increased"]}),
    ("en", "Hypermetabolic fascial thickening around the left kidney.", {}),
    ("en", "A hypermetabolic nodule beside the rectum.", {}),
    ("en", "Focal uptake near the right adrenal gland.", {}),
    ("en", "Hypermetabolic lymph nodes near the pancreatic head.", {"abdominal_lymph_nodes": ["increased"]}),
    ("zh", "右肺下叶肿块侵犯纵隔，FDG代谢增高。", {"lung": ["increased"]}),
    ("zh", "胃体癌侵犯胰腺，胃体FDG摄取增高。", {"stomach": ["increased"]}),
    # the comparison group of a study states no level
    ("en", "Thalamic glucose metabolism increased by 12% compared with normal controls.", {"brain": ["increased"]}),
    # a sentence that opens about the rest of the body ("otherwise") takes no subject from before
    ("en", "Intense uptake in a right adrenal nodule. Biodistribution is otherwise physiologic.",
     {"adrenal": ["increased"]}),
    ("en", "Focal uptake in the liver, otherwise normal.", {"liver": ["increased", "normal"]}),
    # how often a finding goes with a disease is said of a population
    ("en", "Diffuse thyroid uptake is often seen in chronic thyroiditis.", {}),
    # parts and emphasis words inside a list item; plural accumulations
    ("en", "Physiologic uptake in the brain, in parts of the bowel, especially the colon, and in the kidneys.",
     {"brain": ["normal"], "intestine": ["normal"], "kidney": ["normal"]}),
    ("en", "Two focal FDG accumulations in the right ovary.", {"reproductive": ["increased"]}),
    # an SUVmax named with what it was measured in; an SUVmean of the liver is a reference
    ("en", "The mean SUVmax of the primary gastric tumors was 6.4.", {"stomach": ["increased"]}),
    ("en", "The SUVmean of the liver was 2.8.", {}),
    # a lone value inside brackets that name a place of their own is that place's
    ("zh", "多发淋巴结肿大，大者约2.0cm(腹膜后)、1.5cm(右侧腋窝，SUVmax 5.6)。", {}),
    ("zh", "多发淋巴结肿大，大者约2.0cm(腹膜后，SUVmax 7.1)、1.5cm(右侧腋窝)。", {"abdominal_lymph_nodes": ["increased"]}),
    ("zh", "肝脏多发低密度灶（最大者位于S8段，SUVmax 6.2）。", {"liver": ["increased"]}),
]


@pytest.mark.parametrize(("lang", "text", "want"), V7_RULES)
def test_v7_rules(lang: str, text: str, want: dict[str, list[str]]) -> None:
    assert extract_uptake(text, lang) == want


# ------------------------------------------------------------------------------- extractor v8 rules (issue 8)
# Rules taken from the errors of held-out set 5 (guide section 6.9), each with its own sentences (none copied from a
# set): the whole family of each error, not the sentence seen.
V8_RULES: list[tuple[str, str, dict[str, list[str]]]] = [
    # a level word right before lymph nodes that name no station is those nodes' level: it does not pass to the
    # organs of the next uptake phrase, whose texture word then states their (normal) level
    ("en", "Scan shows several FDG-avid nodes and uniform FDG uptake in the liver and spleen.",
     {"liver": ["normal"], "spleen": ["normal"]}),
    ("en", "Hypermetabolic lymphadenopathy and homogeneous marrow activity.", {"bone": ["normal"]}),
    # (nodes placed after the level word keep it)
    ("en", "Hypermetabolic nodes in the left neck and the mediastinum.",
     {"cervical_lymph_nodes": ["increased"], "mediastinal_lymph_nodes": ["increased"]}),
    ("en", "FDG-avid node adjacent to the pancreas.", {"abdominal_lymph_nodes": ["increased"]}),
    # a symmetry word inside a focal pattern is the pattern's texture, not a normal level
    ("en", "Multifocal and symmetric FDG uptake in the vertebral marrow.", {"bone": ["increased"]}),
    ("en", "Symmetric FDG uptake in the tonsils.", {"pharynx": ["normal"]}),
    # a physiological state of the body given as the reading of a level is a physiological reading (normal),
    # also where the reading names the organ again; outside a reading it only names a phase
    ("zh", "宫腔内放射性摄取增高，SUVmax 5.1，考虑为排卵期卵巢黄体所致。", {"reproductive": ["normal"]}),
    ("zh", "子宫内膜代谢增高，考虑经期子宫内膜改变。", {"reproductive": ["normal"]}),
    ("zh", "子宫内膜代谢增高，考虑子宫内膜癌。", {"reproductive": ["increased"]}),
    ("en", "Intense endometrial uptake, likely related to menstruation.", {"reproductive": ["normal"]}),
    # 锁上 is the report short form of 锁骨上 (a cervical station); the prevascular space named with its vessels
    # (纵隔血管前) is station 3A, not the vessels
    ("zh", "右锁上窝数枚小淋巴结，FDG代谢增高。", {"cervical_lymph_nodes": ["increased"]}),
    ("zh", "双锁上区淋巴结未见异常放射性浓聚。", {"cervical_lymph_nodes": ["normal"]}),
    ("zh", "纵隔血管前区另见小淋巴结，代谢活跃。", {"mediastinal_lymph_nodes": ["increased"]}),
    # a lesion placed between two organs (X与Y间, X和Y之间) is in neither
    ("zh", "肝脏与右肾之间见一软组织结节，FDG摄取增高。", {}),
    ("zh", "脾和左肾间见结节状放射性浓聚，左肾实质代谢未见异常。", {"kidney": ["normal"]}),
    # uptake said to accompany a finding (伴摄取) is a finding, and a degree word before 放射性摄取 is mild uptake;
    # denied (不伴摄取) it is no uptake, as 未见摄取
    ("zh", "右侧腹股沟及盆腔数个淋巴结，伴FDG摄取。", {"abdominal_lymph_nodes": ["increased"]}),
    ("zh", "胰尾部低密度结节，伴中度放射性摄取。", {"pancreas": ["increased"]}),
    ("zh", "腹膜后小淋巴结，不伴摄取。", {"abdominal_lymph_nodes": ["absent"]}),
    # 浓密 (dense tracer) is increased; 未段 / 未端 are typed for 末段 / 末端 and negate nothing
    ("zh", "升结肠放射性分布浓密，SUVmax 6.0。", {"intestine": ["increased"]}),
    ("zh", "回肠未端放射性分布较浓密。", {"intestine": ["increased"]}),
    ("zh", "食管未段未见异常放射性浓聚。", {"esophagus": ["normal"]}),
    # sameness with an earlier study (较前相仿, 与前片相似, 与…PET/CT图像相似) is no level: the stated level decides
    ("zh", "纵隔淋巴结代谢增高，与前片相似。", {"mediastinal_lymph_nodes": ["increased"]}),
    ("zh", "左侧髂骨放射性分布减低，较前相仿。", {"bone": ["decreased"]}),
    ("zh", "肝脏放射性摄取与周围相仿。", {"liver": ["normal"]}),
    # 放射性分布尚好 / 尚可 is a normal level, like 良好
    ("zh", "脾脏形态可，放射性分布尚好。", {"spleen": ["normal"]}),
    # what a disease can or may show is said of the disease, not of this study
    ("en", "Tuberculosis may show intense FDG uptake in the lung.", {}),
    ("en", "Brown fat can exhibit increased activity in the neck.", {}),
    # "lower" / "upper" before a side word and an organ part is anatomy ("lower left thyroid lobe"), not a level
    ("en", "Mildly increased FDG activity in the upper left thyroid lobe.", {"thyroid": ["increased"]}),
    # a layer overlying, underlying or superficial to an organ is not the organ
    ("en", "Hypermetabolic subcutaneous nodule overlying the left iliac crest.", {}),
    ("en", "Intense FDG uptake in a soft tissue mass underlying the right clavicle.", {}),
    # subclavicular nodes are infraclavicular (none of the 19) and do not end a list of stations; splenomegaly names
    # the spleen; the mediastinal background is a reference, not a node group
    ("en", "Hypermetabolic nodes in the neck, subclavicular region and mediastinum.",
     {"cervical_lymph_nodes": ["increased"], "mediastinal_lymph_nodes": ["increased"]}),
    ("en", "Massive splenomegaly with diffusely increased FDG uptake.", {"spleen": ["increased"]}),
    ("en", "The liver lesion is hypermetabolic relative to the mediastinal background.", {"liver": ["increased"]}),
    # what CT shows (CT未见明显异常) states no uptake level
    ("zh", "脾脏局灶性放射性浓聚，同机CT未见明显异常。", {"spleen": ["increased"]}),
    ("zh", "双肾放射性分布未见明显异常。", {"kidney": ["normal"]}),
    # "adjacent" places only with "to" ("adjacent subpleural nodules" are nearby lung nodules); "normal on CT" is CT's
    ("en", "Adjacent subpleural nodules are hypermetabolic.", {"lung": ["increased"]}),
    ("en", "Hypermetabolic mass adjacent to the pancreas.", {}),
    ("en", "Intense FDG uptake in the spleen, which is normal on CT.", {"spleen": ["increased"]}),
    # what the same-session CT shows at a finding reads it: nodes there make the places before them node groups
    ("zh", "双侧颈部及腹膜后见多发代谢增高灶，同机CT示多发肿大淋巴结。",
     {"cervical_lymph_nodes": ["increased"], "abdominal_lymph_nodes": ["increased"]}),
    # a region named as the part of the scan a paragraph reports (盆部PET/CT图像示…) is a heading, not a subject
    ("zh", "盆部PET/CT图像示右侧腹股沟数个小淋巴结，代谢轻度增高。", {}),
    ("zh", "颈部PET/CT图像示甲状腺左叶结节，代谢增高。", {"thyroid": ["increased"]}),
    # the choroid plexus and the pineal gland are intracranial: the brain
    ("zh", "左侧脉络丛钙化灶，放射性缺损。", {"brain": ["absent"]}),
    ("en", "Mild FDG uptake in the pineal gland.", {"brain": ["increased"]}),
    # "more intense" / "more FDG-avid" than another lesion is increased (the brain's "more intense" stays normal);
    # tibial and fibular name the bone
    ("en", "On PET the fibular lesion was more FDG-avid than the soft tissue mass.", {"bone": ["increased"]}),
    ("en", "The right tibial focus was more intense on the FDG study than the nodal disease.", {"bone": ["increased"]}),
    ("en", "Physiologic FDG uptake in the brain, more intense in the cortex.", {"brain": ["normal"]}),
    # "weak" uptake is faint (low-grade) uptake: increased
    ("en", "Weak FDG uptake in the left adrenal nodule.", {"adrenal": ["increased"]}),
    # beside an organ's resection margin (肝切缘旁) is a place beside the organ, as 结肠旁; on the margin it is the organ
    ("zh", "残胃切缘旁见软组织影，代谢增高。", {}),
    ("zh", "肝切缘见条片状影，代谢增高。", {"liver": ["increased"]}),
]


@pytest.mark.parametrize(("lang", "text", "want"), V8_RULES)
def test_v8_rules(lang: str, text: str, want: dict[str, list[str]]) -> None:
    assert extract_uptake(text, lang) == want


# Extractor version 9: rules from held-out set 6's errors (issue 8), each for the family of its wording; our own
# sentences, none copied from a set.
V9_RULES: list[tuple[str, str, dict[str, list[str]]]] = [
    # "hypoactive" / "hypoavid" is less tracer than the tissue around: decreased
    ("en", "Rim FDG uptake higher than the normal liver parenchyma surrounds a hypoactive centre.",
     {"liver": ["increased", "decreased"]}),
    ("en", "The left kidney is hypoactive on the PET images.", {"kidney": ["decreased"]}),
    # "no other / no additional / no further …" naming no organ speaks of the rest of the body, not the subject
    ("en", "A hypermetabolic mass is seen in the pancreas, and no other abnormal uptake is identified.",
     {"pancreas": ["increased"]}),
    ("en", "Intense uptake in a thyroid nodule. No additional suspicious activity.", {"thyroid": ["increased"]}),
    ("en", "PET showed a hypermetabolic lesion in the tail of the pancreas with no other abnormal uptake.",
     {"pancreas": ["increased"]}),
    ("en", "Hypermetabolic liver lesion; no other FDG-avid foci in the liver.", {"liver": ["increased", "normal"]}),
    # "whole-body PET/CT" names the scan's extent, not a place the text speaks of
    ("en", "Whole-body 18F-FDG PET/CT showed rim uptake higher than that of the surrounding liver, around a hypoactive "
     "centre.", {"liver": ["increased", "decreased"]}),
    # a colon glued to the next word (":F-FDG", a lost "18") breaks no clause
    ("en", "The adrenal nodule showed no :F-FDG avidity.", {"adrenal": ["normal"]}),
    # a range of grades is read by its top: "low to intermediate grade" uptake is above background; a grade with no
    # uptake noun is a tumour's grade
    ("en", "There is low to intermediate grade FDG activity in the left lower lobe nodule.", {"lung": ["increased"]}),
    ("en", "Low- to intermediate-grade uptake is seen in the spleen.", {"spleen": ["increased"]}),
    ("en", "Mild to intermediate metabolic activity in a right hilar node.", {"mediastinal_lymph_nodes": ["increased"]}),
    ("en", "She was treated for a low to intermediate grade lymphoma of the stomach.", {}),
    # plural uptake nouns and extent words before them
    ("en", "Widespread and diffuse FDG uptakes throughout the marrow.", {"bone": ["increased"]}),
    # a participle of a finding verb reports a finding like the verb ("a lesion … demonstrating FDG uptake")
    ("en", "Sclerotic changes of the femur, with a lytic focus in the tibia showing associated FDG uptake.",
     {"bone": ["increased"]}),
    # the jaw bones and BM (bone marrow)
    ("en", "Focal uptake in the right maxilla.", {"bone": ["increased"]}),
    ("en", "BM uptake was higher than liver uptake.", {"bone": ["increased"]}),
    # comparison signs read as their words: ">" is "greater than" (its reference is no subject), "<" is "lower than"
    ("en", "Marrow uptake > liver was seen in two thirds of the patients.", {"bone": ["increased"]}),
    ("en", "In this patient splenic uptake ≥ mediastinal blood pool.", {"spleen": ["increased"]}),
    ("en", "Residual mediastinal mass with uptake < liver.", {"mediastinal_lymph_nodes": ["normal"]}),
    # a value after the sign is what is compared with, the next organ is no reference: both thresholds are read
    ("en", "Hepatic SUVmax >3.0 and splenic SUVmax>2.8 predicted relapse.", {"liver": ["increased"], "spleen": ["increased"]}),
    # a comparison with a size, a share or a count states no level ("nodes greater than 1 cm")
    ("en", "Hilar nodes greater than 15 mm show no FDG uptake.", {"mediastinal_lymph_nodes": ["absent"]}),
    ("en", "Pulmonary nodules > 8 mm were not FDG avid.", {"lung": ["normal"]}),
    # a list goes on across an item's own figures in brackets and its number words
    ("en", "Increased FDG uptake was found in the liver (40 %), spleen and bone (25 %), and adrenal glands (n = 3).",
     {"liver": ["increased"], "spleen": ["increased"], "bone": ["increased"], "adrenal": ["increased"]}),
    ("en", "Intense uptake in the thyroid, as well as in the parotid glands and in numerous small nodes.",
     {"thyroid": ["increased"], "salivary_glands": ["increased"]}),
    # the mesocolon and the mesenterium are the mesentery's places: a list goes on across them
    ("en", "Hypermetabolic foci in the spleen, transverse mesocolon and ribs.", {"spleen": ["increased"], "bone": ["increased"]}),
    ("en", "FDG-avid disease in the neck (levels II-IV), mediastinum (4R, 7) and spleen.",
     {"cervical_lymph_nodes": ["increased"], "mediastinal_lymph_nodes": ["increased"], "spleen": ["increased"]}),
    ("en", "Hypermetabolic mesocolic lymph nodes.", {"abdominal_lymph_nodes": ["increased"]}),
    # the gastric stations beside the cardia are abdominal nodes, and keep a station list going
    ("en", "FDG-avid paratracheal, right paracardial and para-aortic lymph nodes.",
     {"mediastinal_lymph_nodes": ["increased"], "abdominal_lymph_nodes": ["increased"]}),
    # deep spaces of the face and neck and named muscles are none of the 19: a finding there takes no subject from
    # the sentence before
    ("en", "No FDG-avid cervical nodes. Focal activity is seen in the left masseter.",
     {"cervical_lymph_nodes": ["normal"]}),
    ("en", "Physiologic thyroid uptake. Intense activity in the left trapezius.", {"thyroid": ["normal"]}),
    # a mass or swelling named by a gland's word is the gland's, also beside a node statement
    ("en", "PET/CT showed an intensely avid right submandibular mass and hypermetabolic mediastinal adenopathy.",
     {"salivary_glands": ["increased"], "mediastinal_lymph_nodes": ["increased"]}),
    # the organ a lesion borders is none of its subjects ("the boundary between the mass and the bladder")
    ("en", "PET showed a rectal mass with high metabolic activity and the boundary between the mass and the uterus was "
     "unclear.", {"intestine": ["increased"]}),
    ("en", "Intense FDG uptake in a sigmoid tumor whose fat plane with the bladder is lost.", {"intestine": ["increased"]}),
    ("en", "Intense uptake in the rectal mass, whose border with the prostate is indistinct.", {"intestine": ["increased"]}),
    # a sameness comparison with no reference (background, blood pool, an organ, the other side) likens the finding
    # to another finding: no level
    ("en", "Diffuse increased uptake of both kidneys, similar to the pattern described in lupus nephritis.",
     {"kidney": ["increased"]}),
    ("en", "The adrenal nodule has uptake similar to the liver.", {"adrenal": ["normal"]}),
    # an "active lesion" of a PET report is a metabolically active one
    ("en", "No evidence of active lesion in the remaining lung.", {"lung": ["normal"]}),
    ("en", "An active focus is noted in the sternum.", {"bone": ["increased"]}),
    # a sentence that first names the images it reads ("On CT, …", "On the CT component …") and then goes on about
    # the uptake just stated places it
    ("en", "Intense uptake is seen in the right upper quadrant. On CT, this corresponds to a mass in the pancreatic head.",
     {"pancreas": ["increased"]}),
    ("en", "A hypermetabolic focus lies in the left upper abdomen. On the fused images these findings localize to the "
     "adrenal gland.", {"adrenal": ["increased"]}),
    # 增浓 (a distribution thickened with tracer) is 浓聚
    ("zh", "右颌下腺放射性分布增浓。", {"salivary_glands": ["increased"]}),
    # what the same-session CT's plain or enhanced series shows, and abnormal density or signal, is no uptake level
    ("zh", "左侧腮腺见结节，放射性增浓，同机CT平扫未见明显异常。", {"salivary_glands": ["increased"]}),
    ("zh", "甲状腺右叶放射性摄取增高，未见明确异常密度影。", {"thyroid": ["increased"]}),
    ("zh", "左侧颈部Ⅱ区淋巴结FDG摄取增高，同机CT增强扫描未见明显异常。", {"cervical_lymph_nodes": ["increased"]}),
    # the region below the clavicle is none of the 19 (the clavicle keeps its margin), IASLC station 1 is cervical
    ("zh", "右锁骨下区及双侧腋窝未见异常淋巴结浓聚。", {}),
    ("zh", "右锁骨下缘骨质破坏，放射性浓聚。", {"bone": ["increased"]}),
    ("zh", "右1R区淋巴结放射性浓聚，SUV 5.0。", {"cervical_lymph_nodes": ["increased"]}),
    # at the level of an organ's part (肾下极水平) is a level, not the organ
    ("zh", "左肾下极水平腹主动脉旁见淋巴结，代谢增高。", {"abdominal_lymph_nodes": ["increased"]}),
    # no obvious tracer uptake (未见明显放射性摄取) of a lesion is absent, as 未见明显FDG摄取; followed by a level it denies it
    ("zh", "右股骨见小片状高密度影，未见明显放射性摄取。", {"bone": ["absent"]}),
    ("zh", "肝内未见明显放射性摄取增高灶。", {"liver": ["normal"]}),
    # gallbladder surgery (胆囊术后) is its removal
    ("zh", "肝脏未见异常浓聚。胆囊术后。", {"liver": ["normal"], "gallbladder": ["absent"]}),
    # para-aortic nodes listed among thoracic stations are station 6; subaortic (主动脉下) is station 5
    ("zh", "右上气管旁、主动脉旁、隆突下见多发淋巴结，FDG摄取增高。", {"mediastinal_lymph_nodes": ["increased"]}),
    ("zh", "主动脉下淋巴结放射性浓聚。", {"mediastinal_lymph_nodes": ["increased"]}),
    ("zh", "腹膜后主动脉旁多发淋巴结代谢增高。", {"abdominal_lymph_nodes": ["increased"]}),
    ("zh", "纵隔主动脉旁淋巴结放射性浓聚。", {"mediastinal_lymph_nodes": ["increased"]}),
    # nodes placed by a great vessel of the chest are mediastinal
    ("zh", "主动脉弓左侧及右肺动脉旁见肿大淋巴结，代谢增高。", {"mediastinal_lymph_nodes": ["increased"]}),
    ("zh", "上腔静脉后方淋巴结FDG摄取增高。", {"mediastinal_lymph_nodes": ["increased"]}),
    # a vertebra's 附件 after 或 is still its appendages (bone)
    ("zh", "T8椎体或附件见放射性浓聚灶。", {"bone": ["increased"]}),
    # the spaces in front of / behind an organ are not the organ
    ("zh", "右肾前间隙见结节，放射性浓聚。", {}),
    # the junction of two lobes names the brain; "the rest of" an organ is a statement of its own, also where a texture
    # word alone gives its level
    ("zh", "左侧额顶交界处见结节，放射性浓聚，周围水肿区放射性分布稀疏，余脑实质放射性分布均匀、对称。",
     {"brain": ["increased", "decreased", "normal"]}),
    ("zh", "肝右叶见高代谢灶，SUVmax 6.1，余肝实质放射性分布均匀。", {"liver": ["increased", "normal"]}),
    ("en", "Intense focal uptake in a right hepatic lobe lesion, and the remaining liver shows homogeneous uptake.",
     {"liver": ["increased", "normal"]}),
    # a sameness word before the uptake noun with its comparison after it is the reference's level: normal; an organ's
    # own tissue compared with places the lesion there
    ("en", "The splenic lesion shows a similar FDG avidity when compared to the normal spleen.", {"spleen": ["normal"]}),
    ("en", "The nodule had comparable uptake relative to normal thyroid tissue.", {"thyroid": ["normal"]}),
    ("en", "Normal pancreatic parenchyma shows physiologic FDG uptake.", {"pancreas": ["normal"]}),
    # "equal to or greater than" the reference is at least it: increased; "less than or equal to" is lower-than
    ("en", "Bone marrow uptake equal to or greater than liver.", {"bone": ["increased"]}),
    ("en", "A residual cervical node with uptake less than or equal to mediastinal blood pool.",
     {"cervical_lymph_nodes": ["normal"]}),
    # the exception to a negated or normal statement is the abnormal place (no flip to normal)
    ("en", "No abnormal uptake except in the thyroid.", {"thyroid": ["increased"]}),
    ("en", "There was no abnormal uptake other than in the thyroid.", {"thyroid": ["increased"]}),
    ("en", "No other FDG-avid lesions were seen besides the pancreatic mass.", {"pancreas": ["increased"]}),
    ("en", "Normal FDG distribution except for intense uptake in the right adrenal gland.", {"adrenal": ["increased"]}),
    ("en", "No hypermetabolic lesions, except for a right hilar node.", {"mediastinal_lymph_nodes": ["increased"]}),
    ("en", "No abnormal uptake in the liver except for a focus in segment 7.", {"liver": ["increased", "normal"]}),
    ("en", "No abnormal uptake in the liver except for physiologic biliary excretion.", {"liver": ["normal"]}),
    # a lesion that lacks or fails to show uptake; "negative on PET"
    ("en", "The left lung nodule lacked FDG avidity.", {"lung": ["normal"]}),
    ("en", "The adrenal mass failed to show FDG uptake.", {"adrenal": ["absent"]}),
    ("en", "The pancreatic mass was negative on PET.", {"pancreas": ["normal"]}),
    # residual uptake denied is a lesion that resolved: normal; a change told with its two values is read at the later
    # one, after a treatment it is a change (the current level decides)
    ("en", "After four cycles, the previously avid cervical nodes showed no residual FDG uptake.",
     {"cervical_lymph_nodes": ["normal"]}),
    ("en", "Splenic uptake decreased from SUVmax 5.4 to 1.9 after treatment.", {}),
    ("en", "Uptake in the liver lesion increased from SUVmax 2.2 to 7.9.", {"liver": ["increased"]}),
    ("zh", "脾脏SUVmax由5.4降至1.9。", {}),
    # a degree aside inside a list keeps it going
    ("en", "FDG-avid foci were found in the ribs and, to a lesser extent, the spleen.",
     {"bone": ["increased"], "spleen": ["increased"]}),
    # an organ absent named after the word ("absent spleen", "surgical absence of the uterus"); a partial organ is not
    ("en", "Surgical absence of the uterus.", {"reproductive": ["absent"]}),
    ("en", "Postsurgical absence of the left kidney; the right kidney shows normal activity.",
     {"kidney": ["absent", "normal"]}),
    ("en", "Absent spleen.", {"spleen": ["absent"]}),
    ("en", "Resected sigmoid colon with no abnormal uptake at the anastomosis.", {"intestine": ["normal"]}),
    # a lesion no longer seen has resolved (normal); low-level uptake named with its tracer word is above background
    ("en", "The previously noted hypermetabolic adrenal nodule is no longer visible.", {"adrenal": ["normal"]}),
    ("en", "Low-level FDG uptake in bilateral hilar nodes, likely reactive.", {"mediastinal_lymph_nodes": ["increased"]}),
    ("en", "Low grade metabolic activity in a right lower lobe nodule.", {"lung": ["increased"]}),
    # the phases of the cycle named as the reading are physiological
    ("en", "Endometrial FDG uptake is mildly increased, consistent with the secretory phase.", {"reproductive": ["normal"]}),
    ("zh", "子宫内膜放射性摄取增高，考虑为分泌期改变。", {"reproductive": ["normal"]}),
]


@pytest.mark.parametrize(("lang", "text", "want"), V9_RULES)
def test_v9_rules(lang: str, text: str, want: dict[str, list[str]]) -> None:
    assert extract_uptake(text, lang) == want


# extractor v10: broad readings from held-out set 7's errors (issue 8), each with its own example sentences
V10_RULES: list[tuple[str, str, dict[str, list[str]]]] = [
    # a degree word keeps an uptake above background whatever the degree ("mildly active", "a focus of low uptake",
    # "low-level activity", "minimal uptake"); a bare "low uptake" of a whole lesion stays decreased
    ("en", "The consolidation in the left lower lobe is mildly active, likely infectious.", {"lung": ["increased"]}),
    ("en", "Moderately active nodes in the mediastinum.", {"mediastinal_lymph_nodes": ["increased"]}),
    ("en", "A tiny focus of low uptake projects over the right adrenal.", {"adrenal": ["increased"]}),
    ("en", "Low-level activity is seen in a left hilar node.", {"mediastinal_lymph_nodes": ["increased"]}),
    ("en", "Minimal uptake in a subcentimetre splenic lesion.", {"spleen": ["increased"]}),
    ("en", "The renal cyst shows low FDG uptake.", {"kidney": ["decreased"]}),
    # a position adverb set off by commas keeps the level open for the place the next clause names; "localizing to"
    # places the uptake like "corresponding to"
    ("en", "Intense uptake in the right neck, superiorly, corresponding to a level IIa node.",
     {"cervical_lymph_nodes": ["increased"]}),
    ("en", "Focal activity in the upper chest, localizing to a left hilar node.", {"mediastinal_lymph_nodes": ["increased"]}),
    ("en", "Mild uptake in the liver, posteriorly, and in the spleen.", {"liver": ["increased"], "spleen": ["increased"]}),
    # an organ word before "level" names a height, not the organ ("at renal level", "at the carinal level")
    ("en", "An FDG-avid para-aortic node at renal level.", {"abdominal_lymph_nodes": ["increased"]}),
    ("en", "A hypermetabolic nodule in the right lower lobe at the carinal level.", {"lung": ["increased"]}),
    # station and organ words: the large joints named alone and "bony" are bone; the back of the tongue is its base
    # (pharynx), the oral tongue none; laterocervical nodes are cervical; a node's own hilum is no pulmonary hilum
    ("en", "Intense FDG uptake in both knees and the right elbow, likely inflammatory arthritis.", {"bone": ["increased"]}),
    ("en", "Widespread FDG-avid bony metastases.", {"bone": ["increased"]}),
    ("en", "A hypermetabolic mass in the posterior third of the tongue; the anterior tongue is unremarkable.",
     {"pharynx": ["increased"]}),
    ("en", "Bilateral laterocervical nodes with FDG uptake (SUVmax 6.1).", {"cervical_lymph_nodes": ["increased"]}),
    ("en", "An enlarged node without an echogenic hilum; PET showed it to be FDG-avid.", {}),
    # "negative" on the PET read with any preposition and scan name is not FDG-avid (normal), "PET/CT" included
    ("en", "The adrenal nodule, negative by PET scintigraphy, is likely an adenoma.", {"adrenal": ["normal"]}),
    ("en", "A sclerotic focus in L2 was negative at PET/CT.", {"bone": ["normal"]}),
    ("en", "The thyroid nodule was PET/CT negative.", {"thyroid": ["normal"]}),
    # a level its own sentence calls physiological with a verb ("… is / appears physiologic") is normal, like
    # "…, likely physiologic"; "is not physiologic" keeps it increased; a mixed reading keeps the level
    ("en", "The intense activity in the sigmoid colon is physiological.", {"intestine": ["normal"]}),
    ("en", "Mild symmetric uptake in the palatine tonsils appears physiologic.", {"pharynx": ["normal"]}),
    ("en", "The focal gastric uptake is not physiologic and needs endoscopy.", {"stomach": ["increased"]}),
    ("en", "Focal uptake in the cecum is physiologic or inflammatory.", {"intestine": ["increased"]}),
    # a symptom named by its region is a complaint, not a place ("abdominal pain", "bone pain", "chest discomfort")
    ("en", "A woman with chest discomfort and weight loss: PET/CT showed several FDG-avid lymph nodes.", {}),
    ("en", "He reported bone pain; the PET was otherwise unremarkable apart from intense splenic uptake.",
     {"spleen": ["increased"]}),
    # one uptake statement over a list labels every item: a ranked list goes on after "followed by", across places that
    # are none of the 19 (the retroperitoneal space, bile ducts) and a citation's numbers; "the most frequent site of
    # FDG uptake" reports uptake found there
    ("en", "Bone was the commonest site of FDG uptake, followed by the retroperitoneal space, spleen and liver [12, 13].",
     {"bone": ["increased"], "spleen": ["increased"], "liver": ["increased"]}),
    ("en", "Hypermetabolic foci in the adrenal glands, the bile ducts, and the pancreas [3].",
     {"adrenal": ["increased"], "pancreas": ["increased"]}),
    # nodes placed after the node word ("in lymph nodes in the neck and pelvis", "from the neck to the abdomen") are
    # those stations' nodes; a level before nodes placed nowhere stays theirs alone
    ("en", "PET demonstrated increased FDG activity in lymph nodes from the neck to the abdomen.",
     {"cervical_lymph_nodes": ["increased"], "abdominal_lymph_nodes": ["increased"]}),
    ("en", "Intense uptake in the lymph nodes of the chest and pelvis.",
     {"mediastinal_lymph_nodes": ["increased"], "abdominal_lymph_nodes": ["increased"]}),
    ("en", "Homogeneous uptake in the spleen and marrow, with increased uptake in the lymph nodes.",
     {"spleen": ["normal"], "bone": ["normal"]}),
    # what a disease may / can / might demonstrate or have is a general statement, also across "be enlarged and"
    ("en", "In lymphoma the spleen may be enlarged and demonstrate diffusely increased FDG uptake.", {}),
    ("en", "Hibernating brown fat can demonstrate intense uptake in the paravertebral regions.", {}),
    ("en", "Reactive hilar nodes might show mildly increased uptake.", {}),
    # a whole organ named by its region word is absent like the organ ("两附件区缺如", "甲状腺区未见显示"), and so is the
    # corpus's 肾下腺 (肾上腺); a lobe is not a whole organ
    ("zh", "全子宫及双附件区术后缺如。", {"reproductive": ["absent"]}),
    ("zh", "左侧肾下腺术后缺如，右侧肾上腺未见异常放射性摄取。", {"adrenal": ["absent", "normal"]}),
    ("zh", "肝右叶术后缺如。", {}),
    # CT density and MR signal with a degree word between ("密度略减低", "信号稍增高") are CT / MR wording: no level
    ("zh", "胰头区见FDG摄取增高灶，SUVmax 7.2，同机CT示该处密度稍减低。", {"pancreas": ["increased"]}),
    ("zh", "L3椎体FDG摄取未见异常，CT示其密度轻度增高。", {"bone": ["normal"]}),
    # a place named before nodes is their station across 可见 and the nodes' own uptake words, and so is every place of
    # the list before it, also one ending in a place word (区, 旁, 周)
    ("zh", "左肺门旁FDG摄取增高的淋巴结，SUVmax 5.1。", {"mediastinal_lymph_nodes": ["increased"]}),
    ("zh", "胰头周及肝总动脉旁可见数枚高代谢淋巴结。", {"abdominal_lymph_nodes": ["increased"]}),
    ("zh", "脾门区和胃小弯旁见多发放射性浓聚的淋巴结。", {"abdominal_lymph_nodes": ["increased"]}),
    # the guide's tissues that are none of the 19 (垂体, 甲状旁腺, 胸腺, 牙龈), the ear and the mediastinal pleura take the
    # subject: nothing is carried to them
    ("zh", "双侧大脑皮层代谢未见异常，鞍区见结节状代谢增高灶。", {"brain": ["normal"]}),
    ("zh", "口咽未见异常浓聚；右侧外耳道软组织增厚伴FDG摄取增高。", {"pharynx": ["normal"]}),
    ("zh", "左肺下叶纵隔胸膜旁见结节，代谢增高。", {"lung": ["increased"]}),
    ("en", "Normal cerebral activity; mild focal uptake in the pituitary gland.", {"brain": ["normal"]}),
    ("en", "Normal thyroid uptake. Intense uptake in a left inferior parathyroid adenoma.", {"thyroid": ["normal"]}),
    # a lesion that has "now" shrunk is compared with the earlier study: a decrease told beside it is a change, no level;
    # a small organ with reduced uptake keeps its level
    ("zh", "原肝内多发转移灶，现明显缩小，FDG摄取减低，SUVmax 2.1。", {}),
    ("zh", "右肾萎缩、体积缩小，放射性摄取减低。", {"kidney": ["decreased"]}),
    # "with or without" negates nothing (不伴或伴轻度摄取 keeps the mild uptake); the reproductive organs named as a group
    # are reproductive; the perianal region and the perineum are none of the 19 and take the subject
    ("zh", "双肺散在斑片影，伴或不伴轻度FDG摄取。", {"lung": ["increased"]}),
    ("zh", "盆腔生殖器未见异常放射性浓聚。", {"reproductive": ["normal"]}),
    ("en", "No abnormal FDG uptake in the genitalia.", {"reproductive": ["normal"]}),
    ("zh", "直肠周围淋巴结未见肿大；会阴部皮肤增厚，FDG摄取增高，SUVmax 4.3。", {}),
    # every degree word with every tracer word and uptake noun is above background ("mild FDG activity", "subtle FDG
    # uptake", "trace uptake", "slight metabolic activity"), and read physiological it is normal
    ("en", "Subtle FDG uptake along the right adrenal limb.", {"adrenal": ["increased"]}),
    ("en", "Slight metabolic activity in the left thyroid lobe nodule.", {"thyroid": ["increased"]}),
    ("en", "Mild FDG activity in the ascending colon, likely physiological.", {"intestine": ["normal"]}),
    # a list goes on across what its items name at their place (metastases, a tumour, involvement) and the joins of
    # case-report prose ("together with", "along with", "in addition to")
    ("en", "Intense uptake was seen in the gastric tumor, in the hepatic metastases, and in a left supraclavicular node.",
     {"stomach": ["increased"], "liver": ["increased"], "cervical_lymph_nodes": ["increased"]}),
    ("en", "PET showed an FDG-avid mass in the left tonsil, along with multiple osseous metastases.",
     {"pharynx": ["increased"], "bone": ["increased"]}),
    ("en", "Hypermetabolic nodes in the mediastinum, and splenic involvement.",
     {"mediastinal_lymph_nodes": ["increased"], "spleen": ["increased"]}),
    # named neck nodes (Virchow, Delphian, prelaryngeal, node of Rouviere) are cervical; nodes placed near an organ past
    # a side word, or near a station's site, are that region's nodes (a mass near the organ stays none)
    ("en", "An FDG-avid Virchow node and a hypermetabolic Delphian node.", {"cervical_lymph_nodes": ["increased"]}),
    ("en", "A hypermetabolic lymph node near the right kidney; a hypermetabolic mass near the left adrenal.",
     {"abdominal_lymph_nodes": ["increased"]}),
    ("en", "FDG-avid nodes adjacent to the splenic hilum.", {"abdominal_lymph_nodes": ["increased"]}),
    # (zh) every mild degree word with every tracer word and 摄取 / 浓聚 is above background; with a decrease after it,
    # it is the decrease's degree
    ("zh", "左侧肾上腺结节见少许FDG摄取，SUVmax 2.0。", {"adrenal": ["increased"]}),
    ("zh", "甲状腺右叶结节淡薄放射性摄取。", {"thyroid": ["increased"]}),
    ("zh", "右侧额叶轻微摄取减低。", {"brain": ["decreased"]}),
    ("zh", "胰尾部见放射性分布稍浓。", {"pancreas": ["increased"]}),
    # what a lesion did with the tracer reads its level: it accumulated or concentrated FDG, "lit up", was "positive on
    # PET"; increased glucose utilization is increased metabolism
    ("en", "The right parotid nodule accumulated FDG avidly.", {"salivary_glands": ["increased"]}),
    ("en", "A sclerotic lesion in the left iliac bone was positive at PET/CT.", {"bone": ["increased"]}),
    ("en", "The cecal polyp lit up on the PET images.", {"intestine": ["increased"]}),
    ("en", "Increased glucose utilization in the left thyroid lobe.", {"thyroid": ["increased"]}),
    # a change told with only its later value is read at that value ("decreased to SUVmax 3.1": still above 2.5); what
    # is left at the background's level is normal, a level above the background's activity stays increased
    ("en", "Uptake in the right adrenal nodule declined to SUVmax 3.4.", {"adrenal": ["increased"]}),
    ("en", "Activity in the splenic lesion dropped to SUVmax 1.6 after two cycles.", {}),
    ("en", "The previously hypermetabolic hilar node now shows only background activity.",
     {"mediastinal_lymph_nodes": ["normal"]}),
    ("en", "Focal pancreatic uptake greater than background activity.", {"pancreas": ["increased"]}),
    # a negated CT / MR phrase negates the uptake words listed after it in its clause (normal, never increased); an
    # uptake in the next clause keeps its own level
    ("zh", "脾脏未见异常密度影及异常放射性浓聚灶。", {"spleen": ["normal"]}),
    ("zh", "双侧肾上腺未见明显异常密度及代谢增高灶。", {"adrenal": ["normal"]}),
    ("zh", "胰腺未见异常密度影，胰尾见FDG摄取增高灶。", {"pancreas": ["increased"]}),
    ("zh", "脾脏不大，未见异常密度及代谢。", {"spleen": ["normal"]}),
    # the verb of a negated subject keeps the negation ("No node shows …", "Neither … nor … shows …": normal, never
    # increased); a relative clause or a lead-in that is no subject ("Without contrast …") keeps its own level
    ("en", "Neither the pancreas nor the spleen demonstrates increased uptake.",
     {"pancreas": ["normal"], "spleen": ["normal"]}),
    ("en", "No hilar node shows abnormal FDG uptake.", {"mediastinal_lymph_nodes": ["normal"]}),
    ("en", "No CT correlate for the adrenal focus that shows increased uptake.", {"adrenal": ["increased"]}),
    # a finding denied after it with the other verbs of finding ("was not observed / appreciated / found") is normal;
    # what CT does not show keeps the PET level
    ("en", "Abnormal FDG uptake in the pancreas was not observed.", {"pancreas": ["normal"]}),
    ("en", "An intensely FDG-avid focus in the sacrum that was not visualized on CT.", {"bone": ["increased"]}),
    # a resolution named with its degree or time reads the level after it as normal; a second finding verb joined by
    # "and" opens a new predicate; "strong" / "marked" / "intense" with any tracer word and uptake noun is increased
    ("en", "Interim PET/CT showed complete resolution of the hypermetabolic para-aortic nodes.",
     {"abdominal_lymph_nodes": ["normal"]}),
    ("en", "Restaging PET showed resolution of the cervical nodes and revealed strong tracer accumulation in the left ilium.",
     {"bone": ["increased"]}),
    # a place after "but not" / "and not" is denied the level stated before it (it takes none; never increased); a PET
    # finding without a CT correlate keeps its level; uptake called non-specific is uptake found
    ("en", "Diffusely increased FDG uptake in the bone marrow but not in the spleen or liver.", {"bone": ["increased"]}),
    ("en", "Focal uptake in the left adrenal without a CT correlate.", {"adrenal": ["increased"]}),
    ("en", "Nonspecific FDG uptake in the right tonsil.", {"pharynx": ["increased"]}),
    # the superlatives name uptake above background; uptake "was observed / noted / found" in a place is a finding (the
    # present "activity is seen" of a normal distribution is not)
    ("en", "The highest FDG uptake was found in the left adrenal mass.", {"adrenal": ["increased"]}),
    ("en", "FDG uptake was most often observed in the parotid glands.", {"salivary_glands": ["increased"]}),
    ("en", "After injection, activity is seen in the brain and the heart.", {}),
    # named parts of bones (processes, shafts, the skull base), the anal verge and stomas, the vulva and the prostate bed
    ("en", "Focal uptake in the right coracoid process and the left femoral shaft.", {"bone": ["increased"]}),
    ("en", "Intense uptake at the anal verge and around the colostomy.", {"intestine": ["increased"]}),
    ("en", "Hypermetabolic nodule in the prostate bed after prostatectomy.", {"reproductive": ["increased", "absent"]}),
    ("zh", "斜坡及齿状突见放射性浓聚灶，SUVmax 6.2。", {"bone": ["increased"]}),
    ("zh", "外阴部见FDG摄取增高灶。", {"reproductive": ["increased"]}),
    # what a study is done to find and a question state no finding in their clause; a level called unlikely is denied
    ("en", "PET/CT was requested to rule out FDG-avid disease in the spleen.", {}),
    ("en", "PET was done to exclude metastases, and showed intense uptake in the right adrenal.", {"adrenal": ["increased"]}),
    ("en", "The left hilar node is unlikely to be FDG avid.", {"mediastinal_lymph_nodes": ["normal"]}),
    ("zh", "为明确有无胰腺高代谢病灶行PET/CT检查。", {}),
    ("zh", "行PET/CT以排除骨转移，示右侧髂骨FDG摄取增高。", {"bone": ["increased"]}),
    # a region named before an exception names no organ of its own: the organ after the exception is the abnormal place
    ("en", "No abnormal uptake in the abdomen apart from the known pancreatic mass.", {"pancreas": ["increased"]}),
    ("en", "No abnormal FDG uptake in the liver except for a focus in segment 8.", {"liver": ["increased", "normal"]}),
]


@pytest.mark.parametrize(("lang", "text", "want"), V10_RULES)
def test_v10_rules(lang: str, text: str, want: dict[str, list[str]]) -> None:
    assert extract_uptake(text, lang) == want


V11_RULES: list[tuple[str, str, dict[str, list[str]]]] = [
    # a resolution that names its own object ("resolution / disappearance / normalization of the thigh mass") reads
    # only that object: the subjects before it keep their own level
    ("en", "Interim PET/CT showed stable disease in the mediastinal (2.2 cm, SUVmax 8.1) and hilar nodes, with complete "
     "resolution of the soft tissue mass.", {"mediastinal_lymph_nodes": ["increased"]}),
    ("en", "Residual FDG-avid hilar adenopathy (max SUV 6.0), with near complete resolution of the upper extremity soft "
     "tissue mass.", {"mediastinal_lymph_nodes": ["increased"]}),
    ("en", "Persistent avid cervical (1.1 cm, SUV 5.6) and supraclavicular nodes, with disappearance of the right lower "
     "extremity mass.", {"cervical_lymph_nodes": ["increased"]}),
    ("en", "Restaging PET/CT showed persistent mediastinal adenopathy (SUVmax 7.4), with complete resolution of the "
     "previously seen left thigh soft tissue mass.", {"mediastinal_lymph_nodes": ["increased"]}),
    ("en", "Stable avid abdominal nodes (SUV 4.8), with disappearance of the subcutaneous nodules of the back.",
     {"abdominal_lymph_nodes": ["increased"]}),
    # … while a resolution of the uptake itself, or of the organ named, still reads normal
    ("en", "Intense uptake was noted in the thyroid before therapy, with interval resolution of the uptake now.",
     {"thyroid": ["normal"]}),
    ("en", "Complete resolution of the hypermetabolic cervical lymph nodes.", {"cervical_lymph_nodes": ["normal"]}),
    ("en", "Residual mediastinal adenopathy (max SUV 7.4) after therapy, with complete resolution of its uptake.",
     {"mediastinal_lymph_nodes": ["normal"]}),
    # disappearance / normalization of an uptake is normal, like resolution of it
    ("en", "The follow-up scan showed complete disappearance of FDG uptake in the gastric wall.", {"stomach": ["normal"]}),
    ("en", "Post-treatment imaging demonstrated disappearance of the uptake in the spleen.", {"spleen": ["normal"]}),
    ("en", "There was normalization of FDG uptake in the bone marrow after chemotherapy.", {"bone": ["normal"]}),
    # a reduction or decline of an uptake is a change: the remaining level decides, no label without one
    ("en", "The second scan showed only a mild reduction in FDG uptake in the hilar nodes (SUVmax: 4.4).",
     {"mediastinal_lymph_nodes": ["increased"]}),
    ("en", "Compared with baseline there was a decline in the avidity of the cervical nodes, SUVmax 3.9.",
     {"cervical_lymph_nodes": ["increased"]}),
    ("en", "There was a reduction of FDG uptake in the liver metastasis.", {}),
    ("en", "There was a moderate decline in the uptake of the cervical nodes.", {}),
    ("en", "A significant reduction in FDG uptake in the liver lesion was seen after two cycles.", {}),
    ("en", "We noted a partial reduction in uptake of the para-aortic nodes (SUV max: 5.1; see figure).",
     {"abdominal_lymph_nodes": ["increased"]}),
    # "decrease in" stays a level when said against another organ
    ("en", "There is a decrease in FDG uptake in the left kidney compared to the right kidney.",
     {"kidney": ["decreased"]}),
]


@pytest.mark.parametrize(("lang", "text", "want"), V11_RULES)
def test_v11_rules(lang: str, text: str, want: dict[str, list[str]]) -> None:
    assert extract_uptake(text, lang) == want


V12_RULES: list[tuple[str, str, dict[str, list[str]]]] = [
    # a station word placed after the node word is that node group ("nodes at the celiac region", "nodes at the left
    # supraclavicular region"), never the organ the station is named after; the ligaments between the upper abdominal
    # organs are node stations; the node word's spelling variants
    ("en", "PET showed avid lymphadenopathy at gastrohepatic, gastrosplenic and celiac regions.",
     {"abdominal_lymph_nodes": ["increased"]}),
    ("en", "There were mildly avid lymph nodes at the right supraclavicular region.",
     {"cervical_lymph_nodes": ["increased"]}),
    ("en", "Hypermetabolic nodes in the gastrocolic and splenorenal ligaments were seen.",
     {"abdominal_lymph_nodes": ["increased"]}),
    ("en", "PET/CT demonstrated FDG-avid enlarged mediastinal lymphonodes.", {"mediastinal_lymph_nodes": ["increased"]}),
    ("en", "Intense uptake was seen in several cervical lymphnodes.", {"cervical_lymph_nodes": ["increased"]}),
    # a list ends at a verb of presence after its last item: every item before it is listed, and a node word at its
    # end makes its regions node groups
    ("en", "Increased FDG uptake of left cervical, hilar, abdominal lymph nodes and several rib lesions were noted.",
     {"cervical_lymph_nodes": ["increased"], "mediastinal_lymph_nodes": ["increased"],
      "abdominal_lymph_nodes": ["increased"], "bone": ["increased"]}),
    ("en", "Intense uptake in the liver, spleen and bone marrow is also seen.",
     {"liver": ["increased"], "spleen": ["increased"], "bone": ["increased"]}),
    # a lead-in before the list's first item is no item: the first item is listed too
    ("en", "The PET scan showed that her right neck, retroperitoneum and axillary regions had enlarged nodes with "
     "moderate FDG uptake.", {"cervical_lymph_nodes": ["increased"], "abdominal_lymph_nodes": ["increased"]}),
    ("en", "PET/CT found that the liver, spleen and pancreas had intense tracer uptake.",
     {"liver": ["increased"], "spleen": ["increased"], "pancreas": ["increased"]}),
    # a denial that names its own place after the subject ("… without abnormal foci of FDG uptake in either the liver
    # or spleen") is that place's; an item brought in by "including" belongs to the last statement
    ("en", "Intense uptake in the thyroid nodule without abnormal foci of FDG uptake in either the liver or spleen.",
     {"thyroid": ["increased"], "liver": ["normal"], "spleen": ["normal"]}),
    ("en", "Avid lesion in the left adrenal, with no increased activity in both the kidneys and the spleen.",
     {"adrenal": ["increased"], "kidney": ["normal"], "spleen": ["normal"]}),
    ("en", "Hypermetabolic mass in the pancreas and no abnormal FDG uptake in any other organs, including the liver.",
     {"pancreas": ["increased"], "liver": ["normal"]}),
    ("en", "Increased uptake in the liver, including the caudate lobe.", {"liver": ["increased"]}),
    # what lies outside an organ is not the organ; a contrast before it starts a new run
    ("en", "Intense avidity in the left adrenal mass but no extra-adrenal FDG-avid disease.", {"adrenal": ["increased"]}),
    ("en", "The hepatic lesion is FDG avid, without extrahepatic hypermetabolic foci.", {"liver": ["increased"]}),
    # a vertebral level with "level", or after soft tissue "at" it, is a height, not the bone
    ("en", "Focal intense uptake within the spinal canal at the T11-T12 level.", {}),
    ("en", "Mildly increased uptake in the prevertebral soft tissue at C5.", {}),
    ("en", "Focal uptake in the L2 vertebral body.", {"bone": ["increased"]}),
    # the brain's named parts
    ("en", "Intense hypermetabolism in a hypothalamic lesion.", {"brain": ["increased"]}),
    ("en", "Avid mass at the right cerebellopontine angle.", {"brain": ["increased"]}),
    ("en", "Decreased FDG uptake in the periventricular white matter.", {"brain": ["decreased"]}),
    # ordinal words keep a list of ribs or vertebrae going
    ("en", "Increased uptake in the left second, third and fifth ribs and the right ilium.", {"bone": ["increased"]}),
    ("en", "Intense FDG uptake in the first, second, and fourth lumbar vertebrae, and the spleen.",
     {"bone": ["increased"], "spleen": ["increased"]}),
    # the orbit's apex and the spaces by the jaw are none of the 19; a place beside a named part of a bone is not it
    ("en", "An avid mass in the right orbital apex and the masticator space (SUVmax 9.1).", {}),
    ("en", "Abnormal FDG uptake in a soft tissue mass adjacent to the distal left femur (SUVmax 7.2).", {}),
    # an SUV with its abbreviation in brackets, and one said of a list of places
    ("en", "Uptake in the bilateral neck lymph nodes (standardized uptake value [SUV] max: 6.2).",
     {"cervical_lymph_nodes": ["increased"]}),
    ("en", "The SUVmax of the descending colon and the oral cavity lesion were 8.4 and 7.9, respectively.",
     {"intestine": ["increased"]}),
    # where a finding may be seen is a general statement, also at the end of a list
    ("en", "Diffuse FDG uptake in the spleen and bone marrow may be seen in patients after G-CSF therapy.", {}),
    ("en", "Thus hypermetabolic foci in the liver, lungs, and adrenals can also be seen in disseminated fungal infection.",
     {}),
    ("en", "Increased uptake in the liver, which can be seen in hepatitis.", {"liver": ["increased"]}),
    # a removal told as history is absent; a lesion named by its spinal segment is bone
    ("en", "Note that the gallbladder had been removed 3 years earlier.", {"gallbladder": ["absent"]}),
    ("en", "The left kidney has been surgically resected.", {"kidney": ["absent"]}),
    ("en", "Hypermetabolic focus corresponding to the sacral lesion.", {"bone": ["increased"]}),
    # the scan written out after "whole-body" names the scan; a figure reference whose number was dropped
    ("en", "Whole-body 18F-fluorodeoxyglucose (FDG) positron emission tomography showed intense uptake in the thyroid "
     "and no abnormal uptake elsewhere, including the liver (Fig. ).", {"thyroid": ["increased"], "liver": ["normal"]}),
    # the lung's own diseases named alone
    ("en", "PET showed mild hypermetabolism of ILD (SUVmax 3.1).", {"lung": ["increased"]}),
    ("en", "Low-grade FDG uptake in areas of pulmonary fibrosis.", {"lung": ["increased"]}),
    # a clause about the whole body inherits no subject
    ("en", "Biopsy showed no marrow involvement, and there was no abnormality in the whole body scan by PET-CT.", {}),
    # a figure's pointers keep a list going
    ("en", "There is intense uptake in cervical (long arrow), mediastinal (small arrow) and para-aortic (arrowheads) "
     "nodes.", {"cervical_lymph_nodes": ["increased"], "mediastinal_lymph_nodes": ["increased"],
               "abdominal_lymph_nodes": ["increased"]}),
    # a denied alteration of an uptake is normal
    ("en", "The PET scan did not show any alteration of liver metabolism.", {"liver": ["normal"]}),
    ("en", "No metabolic alterations were seen in the thyroid.", {"thyroid": ["normal"]}),
    # zh: a lesion at the background's level is normal
    ("zh", "左肾上腺结节，边界清楚，呈本底代谢。", {"adrenal": ["normal"]}),
    ("zh", "脾脏低密度灶，呈本底放射性摄取，考虑囊肿。", {"spleen": ["normal"]}),
    # zh: a degree word with 糖代谢 is above background (with a decrease after it, a decrease)
    ("zh", "后腹膜见数个伴轻度糖代谢的小淋巴结。", {"abdominal_lymph_nodes": ["increased"]}),
    ("zh", "肝脏多发中度糖代谢减低灶。", {"liver": ["decreased"]}),
    # zh: a degree that its next word calls physiological is the physiological uptake's
    ("zh", "胃壁均匀性中度糖代谢生理性增高。", {"stomach": ["normal"]}),
    ("zh", "肠道轻度代谢生理性增强。", {"intestine": ["normal"]}),
    # zh: an organ's artery and vein together (动静脉) are not the organ
    ("zh", "下腔静脉旁（右肾动静脉水平）淋巴结，未见代谢增高。", {"abdominal_lymph_nodes": ["normal"]}),
    # zh: plain CT's "no abnormality" after a finding states no uptake level; PET/CT's own stays normal
    ("zh", "右侧扁桃体代谢增高，SUVmax约4.2，CT未见明显异常，考虑炎性。", {"pharynx": ["increased"]}),
    ("zh", "L3椎体局灶性代谢增高，相应部位CT未见异常。", {"bone": ["increased"]}),
    ("zh", "甲状腺左叶结节，PET/CT未见明显异常。", {"thyroid": ["normal"]}),
    # en: uptake whose place points back to a lesion named before is that lesion's organ, also with the tracer's
    # abbreviation in brackets and past a paragraph break ("the region of wall thickening identified on CT")
    ("en", "CT showed a solid mass in the left kidney. PET/CT showed FDG uptake in the mass.", {"kidney": ["increased"]}),
    ("en", "A nodule was found in the thyroid. The nodule was solid (Fig. ). PET showed moderate fluorodeoxyglucose (FDG) "
     "uptake in the nodule.", {"thyroid": ["increased"]}),
    ("en", "There is circumferential wall thickening of the gastric antrum.\n\nPET/CT demonstrates focal increased FDG "
     "activity in the area of thickening seen on the CT images.", {"stomach": ["increased"]}),
    # … and a place the earlier clause denied is no subject
    ("en", "MRI showed that the mass was located in the right kidney and not in the right adrenal gland. PET/CT showed "
     "intense FDG uptake in the mass.", {"kidney": ["increased"]}),
    # a pattern word before a list item names its pattern of the list's uptake
    ("en", "PET showed hypermetabolic nodes in the neck and abdomen with diffuse liver, diffuse bone marrow, and focal "
     "gastric involvement.", {"cervical_lymph_nodes": ["increased"], "abdominal_lymph_nodes": ["increased"],
                              "liver": ["increased"], "bone": ["increased"], "stomach": ["increased"]}),
    # the tracer's concentration is its accumulation
    ("en", "PET showed intense FDG concentration in the spleen.", {"spleen": ["increased"]}),
    ("en", "There was no abnormal tracer concentration in the liver.", {"liver": ["normal"]}),
    # the region an image shows is its field of view when the finding names a place of its own
    ("en", "Sagittal PET-CT image of the thoracic spine showing intense FDG uptake in the paraspinal muscle.", {}),
    ("en", "Axial PET image of the liver showing a focal hypermetabolic lesion.", {"liver": ["increased"]}),
    # the lobes named superior / inferior are the lung's
    ("en", "The nodule in the left inferior lobe measured 2 cm, with an SUVmax of 7.3.", {"lung": ["increased"]}),
    # zh: the pleura and spaces named by the ribs are no bone
    ("zh", "左侧肋胸膜结节状增厚，放射性分布浓聚，SUV约6.1。", {}),
    ("zh", "右侧肋膈角见软组织结节，代谢增高。", {}),
    # zh: the mesentery around an organ or its lesion is not the organ
    ("zh", "部分患者在胃部病变的周围系膜见小结节，代谢未见增高。", {}),
]


@pytest.mark.parametrize(("lang", "text", "want"), V12_RULES)
def test_v12_rules(lang: str, text: str, want: dict[str, list[str]]) -> None:
    assert extract_uptake(text, lang) == want


V13_RULES: list[tuple[str, str, dict[str, list[str]]]] = [
    # a change told with its remaining level: that level decides (an SUV still at or above the threshold is increased,
    # never decreased; below it the change states no level)
    ("en", "Follow-up PET/CT: the SUV of the pancreatic mass has decreased markedly, now measuring 6.2.",
     {"pancreas": ["increased"]}),
    ("en", "At follow-up the thyroid nodule SUV has decreased, now measuring 5.5.", {"thyroid": ["increased"]}),
    ("en", "The splenic lesion showed reduced uptake, SUVmax now 4.8.", {"spleen": ["increased"]}),
    ("en", "The hepatic metastasis SUV has decreased to 7.4 after two cycles.", {"liver": ["increased"]}),
    ("en", "Uptake in the gastric wall decreased from 9.0 to 3.3 after eradication therapy.", {"stomach": ["increased"]}),
    ("en", "The hepatic metastasis SUV has decreased to 1.6 after two cycles.", {}),
    ("en", "Activity in the left adrenal nodule has diminished, with SUVmax now 1.2.", {}),
    ("en", "The renal lesion has decreased in size to 2.1 cm.", {}),
    ("en", "Decreased uptake in the left kidney, SUVmax 1.4.", {"kidney": ["decreased"]}),
    # a comparison with another lesion states no level of the organ named beside it ("similar to the liver but decreased
    # compared with the primary tumour": the liver is only the reference of the first comparison)
    ("en", "The thyroid nodule has decreased uptake in comparison to the primary breast cancer.", {}),
    ("en", "The right adrenal nodule has uptake equal to the liver but decreased uptake compared with the index lesion.",
     {"adrenal": ["normal"]}),
    ("en", "The spleen shows decreased uptake compared to the liver.", {"spleen": ["decreased"]}),
    ("en", "The left adrenal nodule shows uptake less than the primary lung tumor.", {}),
    ("en", "The thyroid nodule shows uptake lower than that of the primary tumour.", {}),
    ("en", "The thyroid nodule shows uptake lower than the liver.", {"thyroid": ["normal"]}),
    # a resolution reads over its whole list, through an item that is none of the 19 and through "as well as"; uptake
    # left or kept after it ("with minimal residual uptake in …", "but persistent uptake in …", "… persists") is
    # increased, and a denied residual uptake stays normal
    ("en", "Interim PET shows resolution of FDG uptake in the spleen, paravertebral soft tissue, and mediastinal nodes as "
           "well as in the right femur with mild residual uptake in the L4 vertebral body.",
     {"spleen": ["normal"], "mediastinal_lymph_nodes": ["normal"], "bone": ["increased", "normal"]}),
    ("en", "Complete resolution of uptake in the stomach and pancreas with persistent FDG uptake in the liver.",
     {"stomach": ["normal"], "pancreas": ["normal"], "liver": ["increased"]}),
    ("en", "Interval resolution of avidity in the thyroid but persistent uptake in the left kidney.",
     {"thyroid": ["normal"], "kidney": ["increased"]}),
    ("en", "Tracer uptake has resolved in the tonsils but persists in the stomach.",
     {"pharynx": ["normal"], "stomach": ["increased"]}),
    ("en", "Uptake in the thyroid has resolved, while uptake in the pancreas persists.",
     {"thyroid": ["normal"], "pancreas": ["increased"]}),
    ("en", "There is no residual uptake in the spleen.", {"spleen": ["normal"]}),
]


@pytest.mark.parametrize(("lang", "text", "want"), V13_RULES)
def test_v13_rules(lang: str, text: str, want: dict[str, list[str]]) -> None:
    assert extract_uptake(text, lang) == want


# Extractor v14 (general English readings; issue 8), sentences of our own.
V14_RULES: list[tuple[str, str, dict[str, list[str]]]] = [
    # the patient's diagnosis and the scan's indication state no uptake of the organ they name
    ("en", "Reduced renal uptake was seen on FDG PET/CT in a 63-year-old man with pancreatic carcinoma.",
     {"kidney": ["decreased"]}),
    ("en", "Diffusely decreased splenic activity in a 71-year-old woman with gastric cancer.", {"spleen": ["decreased"]}),
    ("en", "Focal uptake in the adrenal gland in a patient with thyroid cancer.", {"adrenal": ["increased"]}),
    ("en", "A restaging PET/CT for pancreatic cancer demonstrated new hypermetabolic foci in the liver.",
     {"liver": ["increased"]}),
    ("en", "Her staging FDG PET/CT for rectal carcinoma showed intense uptake in the right lung nodule.",
     {"lung": ["increased"]}),
    # (an organ named with a finding, not a diagnosis, stays a subject)
    ("en", "A patient with a lung mass with intense FDG uptake.", {"lung": ["increased"]}),
    ("en", "Intense uptake in the pancreatic head in a 60-year-old man with pancreatic cancer.",
     {"pancreas": ["increased"]}),
    # uptake that persisted beside one that resolved is increased ("resolved in A and persisted in B", "resolution in A
    # but persistent uptake in B")
    ("en", "Uptake resolved in the spleen and persisted in the liver.", {"spleen": ["normal"], "liver": ["increased"]}),
    ("en", "FDG avidity resolved in the thyroid and persisted in the left adrenal gland.",
     {"thyroid": ["normal"], "adrenal": ["increased"]}),
    ("en", "Follow-up PET shows resolution in the spleen but persistent uptake in the liver.",
     {"spleen": ["normal"], "liver": ["increased"]}),
    ("en", "Follow-up PET shows complete resolution in the stomach and persistent activity in the liver.",
     {"stomach": ["normal"], "liver": ["increased"]}),
    ("en", "Uptake in the pancreas increased and persisted.", {"pancreas": ["increased"]}),
    # a sentence about a tissue that is none of the 19 (its last clause, no uptake word) keeps the subject for the next
    ("en", "A hypermetabolic mass is seen in the right lung apex. There is persistent pleural thickening. However, "
           "increased metabolic activity has resolved.", {"lung": ["increased", "normal"]}),
    ("en", "There is an intensely avid mass in the pancreatic tail. There is mild biliary dilatation. Its uptake has "
           "resolved.", {"pancreas": ["increased", "normal"]}),
    # (not when that tissue is the subject of a level in its own sentence, nor through a heading)
    ("en", "There is an intensely avid mass in the pancreatic tail. The adjacent pleural effusion is small, with "
           "increased uptake.", {"pancreas": ["increased"]}),
    ("en", "Mild diffuse uptake in the thyroid. Impression: no evidence of FDG-avid malignancy.",
     {"thyroid": ["increased"]}),
    # a decrease in the centre of a lesion (its necrosis) is part of the lesion, no decreased level of its organ; a
    # photopenic centre stays absent (guide 4.3), and a decrease elsewhere stays decreased
    ("en", "An intensely FDG-avid mass is seen in the pancreatic head. There is centrally reduced uptake in the mass, "
           "compatible with necrosis.", {"pancreas": ["increased"]}),
    ("en", "A large FDG-avid liver lesion with centrally decreased activity.", {"liver": ["increased"]}),
    ("en", "A hypermetabolic mass in the left kidney with a centrally diminished uptake core.", {"kidney": ["increased"]}),
    ("en", "A hypermetabolic mass in the right lung with central photopenia.", {"lung": ["increased", "absent"]}),
    ("en", "Decreased uptake in the central liver.", {"liver": ["decreased"]}),
    ("en", "The thyroid nodule shows decreased uptake.", {"thyroid": ["decreased"]}),
    # "low" / "high" before a node station name the station ("a low right paratracheal node"), elsewhere a level
    ("en", "Moderate FDG accumulation within a low right paratracheal lymph node.",
     {"mediastinal_lymph_nodes": ["increased"]}),
    ("en", "High FDG uptake in the High paratracheal nodes.", {"mediastinal_lymph_nodes": ["increased"]}),
    ("en", "Low hepatic uptake.", {"liver": ["decreased"]}),
    ("en", "Uptake in the lower pole of the kidney is low.", {"kidney": ["decreased"]}),
    # a lead-in with the time of the scan ("On restaging", "After chemotherapy") leaves the subject after it a subject
    ("en", "After chemotherapy the spleen shows intense uptake.", {"spleen": ["increased"]}),
    ("en", "On restaging the liver shows intense uptake.", {"liver": ["increased"]}),
    ("en", "After radiotherapy bilateral adrenal glands show intense uptake.", {"adrenal": ["increased"]}),
    # (what a treatment was for is still history)
    ("en", "After chemotherapy for gastric cancer, intense uptake in the spleen.", {"spleen": ["increased"]}),
    # a vessel's wall named by an organ adjective is none of the 19 ("pulmonary arterial", "interlobar pulmonary artery");
    # a node near the vessel stays a node
    ("en", "Mild focal pulmonary arterial hypermetabolism at the site of the embolus.", {}),
    ("en", "A thrombus in the interlobar pulmonary artery with mild FDG uptake.", {}),
    ("en", "Increased uptake in a node near the pulmonary artery.", {"mediastinal_lymph_nodes": ["increased"]}),
    ("en", "Intense uptake in the interlobar nodes.", {"mediastinal_lymph_nodes": ["increased"]}),
]


@pytest.mark.parametrize(("lang", "text", "want"), V14_RULES)
def test_v14_rules(lang: str, text: str, want: dict[str, list[str]]) -> None:
    assert extract_uptake(text, lang) == want


# Extractor v15 (issue 8): a resolution verb that ends a list spread over comma clauses speaks of every item, and the
# items after the first keep the list's kind (node stations after "nodal uptake in"); adverbs between the auxiliary and
# the verb are part of it. Sentences of our own.
V15_RULES: list[tuple[str, str, dict[str, list[str]]]] = [
    ("en", "Hypermetabolic nodal activity in the neck, chest and abdomen has resolved.",
     {"cervical_lymph_nodes": ["normal"], "mediastinal_lymph_nodes": ["normal"], "abdominal_lymph_nodes": ["normal"]}),
    ("en", "Avid nodal disease in the mediastinum, retroperitoneum, and neck have resolved.",
     {"mediastinal_lymph_nodes": ["normal"], "abdominal_lymph_nodes": ["normal"], "cervical_lymph_nodes": ["normal"]}),
    ("en", "Intense uptake in the spleen, liver, and bone marrow has since normalized.",
     {"spleen": ["normal"], "liver": ["normal"], "bone": ["normal"]}),
    ("en", "Focal activity in the stomach, colon and pancreas is no longer seen.",
     {"stomach": ["normal"], "intestine": ["normal"], "pancreas": ["normal"]}),
    ("en", "Increased FDG uptake in the thyroid, adrenal glands, and kidneys have completely disappeared.",
     {"thyroid": ["normal"], "adrenal": ["normal"], "kidney": ["normal"]}),
    # (an adverb between the auxiliary and the verb, with no comma list)
    ("en", "Hypermetabolic uptake in the left adrenal gland has essentially resolved.", {"adrenal": ["normal"]}),
    ("en", "Increased nodal uptake in the chest and abdomen have nearly resolved.",
     {"mediastinal_lymph_nodes": ["normal"], "abdominal_lymph_nodes": ["normal"]}),
    ("en", "The FDG-avid lesions in the liver have now disappeared.", {"liver": ["normal"]}),
    # guards: a resolution that names its own object does not spread; a list without a resolution keeps its level
    ("en", "Hypermetabolic nodes in the neck, and the liver lesion has resolved.", {"cervical_lymph_nodes": ["increased"]}),
    ("en", "Intense uptake in the spleen, and the lung nodule has essentially resolved.", {"spleen": ["increased"]}),
    ("en", "Hypermetabolic nodes in the neck persist, and the mediastinum has resolved.",
     {"cervical_lymph_nodes": ["increased"]}),
    ("en", "Increased uptake in the liver, spleen, and pancreas.",
     {"liver": ["increased"], "spleen": ["increased"], "pancreas": ["increased"]}),
    ("en", "Abnormal nodal uptake in the neck, mediastinum, and retroperitoneum.",
     {"cervical_lymph_nodes": ["increased"], "mediastinal_lymph_nodes": ["increased"],
      "abdominal_lymph_nodes": ["increased"]}),
    # a textbook's statement of what a level WOULD mean, or of what may raise it, states no finding of the organ
    ("en", "Diffusely increased uptake in the spleen should raise the question of lymphoma.", {}),
    ("en", "Any focal uptake in the adrenal gland should be viewed with suspicion.", {}),
    ("en", "A clearly focal area of intense activity in the pancreas should be considered suspicious for malignancy.", {}),
    ("en", "Uptake in the tonsils may be increased following a viral infection.", {}),
    # (a finding stated of this study, and one called suspicious without "should", keep their level)
    ("en", "Intense focal uptake in the left adrenal gland is considered suspicious for metastasis.",
     {"adrenal": ["increased"]}),
    ("en", "Splenic uptake is increased following G-CSF therapy.", {"spleen": ["increased"]}),
]


@pytest.mark.parametrize(("lang", "text", "want"), V15_RULES)
def test_v15_rules(lang: str, text: str, want: dict[str, list[str]]) -> None:
    assert extract_uptake(text, lang) == want


# Extractor v16 (issue 8): a history lead-in that tells what a treatment was for ends at its disease word, with or
# without a comma ("After chemotherapy for gastric cancer the spleen shows …"); a resolution of an uptake named with its
# place or time between ("resolution of nodal / splenic / the previously seen FDG uptake") is normal, after a heading
# too; the one item after a list's head, opened by ", and the", is a subject of its own with its own verb and gets no
# share of the resolution ("Hypermetabolic nodes in the neck, and the liver has resolved"). Sentences of our own.
V16_RULES: list[tuple[str, str, dict[str, list[str]]]] = [
    ("en", "After chemotherapy for gastric cancer the spleen shows diffusely increased FDG uptake.",
     {"spleen": ["increased"]}),
    ("en", "After radiotherapy for head and neck cancer the thyroid shows diffusely increased uptake.",
     {"thyroid": ["increased"]}),
    ("en", "Following radiotherapy for lung cancer the liver shows increased FDG uptake.", {"liver": ["increased"]}),
    ("en", "After chemotherapy for lymphoma the spleen and bone marrow show diffusely increased uptake.",
     {"spleen": ["increased"], "bone": ["increased"]}),
    ("en", "After chemotherapy for non-small cell lung cancer the left adrenal gland shows intense FDG uptake.",
     {"adrenal": ["increased"]}),
    ("en", "After surgery for colon cancer the liver demonstrates no abnormal FDG uptake.", {"liver": ["normal"]}),
    ("en", "Status post chemotherapy for lymphoma the spleen shows increased uptake.", {"spleen": ["increased"]}),
    ("en", "S/p radiotherapy for lung cancer the liver shows increased uptake.", {"liver": ["increased"]}),
    # (the organ of the diagnosis stays history; named again after the lead-in it is the subject)
    ("en", "After chemotherapy for gastric cancer the stomach shows increased uptake.", {"stomach": ["increased"]}),
    # guards: the comma form, a lead-in with no organ after it, a level told after the lead-in, a history sentence
    ("en", "After chemotherapy for gastric cancer, the spleen shows diffusely increased FDG uptake.",
     {"spleen": ["increased"]}),
    ("en", "After chemotherapy for gastric cancer the patient underwent PET/CT.", {}),
    ("en", "Status post chemotherapy for lymphoma.", {}),
    ("en", "After radiotherapy for lung cancer increased uptake is seen in the spleen.", {"spleen": ["increased"]}),
    ("en", "Restaging after chemotherapy for gastric cancer. Increased uptake in the spleen.", {"spleen": ["increased"]}),
    ("en", "After chemotherapy the spleen shows increased uptake.", {"spleen": ["increased"]}),
    # a resolution of an uptake named with its place or time between is normal, with or without a heading
    ("en", "Interim PET: resolution of FDG uptake in the mediastinal nodes and persistent uptake in the spleen.",
     {"mediastinal_lymph_nodes": ["normal"], "spleen": ["increased"]}),
    ("en", "Follow-up PET/CT: resolution of nodal FDG uptake in the neck and persistent uptake in the spleen.",
     {"cervical_lymph_nodes": ["normal"], "spleen": ["increased"]}),
    ("en", "Restaging: resolution of the previously seen uptake in the mediastinal nodes.",
     {"mediastinal_lymph_nodes": ["normal"]}),
    ("en", "Impression: disappearance of the previously noted uptake in the liver.", {"liver": ["normal"]}),
    ("en", "Resolution of splenic FDG uptake.", {"spleen": ["normal"]}),
    ("en", "Normalization of the previous hepatic uptake.", {"liver": ["normal"]}),
    # guards: a resolution of something else, a level after the heading, a level between
    ("en", "Resolution of the lung mass; persistent uptake in the mediastinal nodes.",
     {"mediastinal_lymph_nodes": ["increased"]}),
    ("en", "Resolution of pneumonia, with new nodal uptake in the mediastinum.", {"mediastinal_lymph_nodes": ["increased"]}),
    ("en", "Restaging: persistent uptake in the mediastinal nodes.", {"mediastinal_lymph_nodes": ["increased"]}),
    ("en", "Resolution of the previously seen increased uptake in the liver.", {"liver": ["normal"]}),
    # the one item after the head, opened by ", and the", has its own verb: no list, the head keeps its level
    ("en", "Hypermetabolic nodes in the neck, and the liver has resolved.", {"cervical_lymph_nodes": ["increased"]}),
    ("en", "Intense uptake in the spleen, and the liver has normalized.", {"spleen": ["increased"]}),
    ("en", "Hypermetabolic nodes in the neck, and the mediastinum has resolved.", {"cervical_lymph_nodes": ["increased"]}),
    # guards: a list of three (with "the" or not), "and the" without a comma, the last item's own uptake word
    ("en", "Increased uptake in the liver, the spleen, and the pancreas has resolved.",
     {"liver": ["normal"], "spleen": ["normal"], "pancreas": ["normal"]}),
    ("en", "Increased uptake in the liver, spleen, and the pancreas has resolved.",
     {"liver": ["normal"], "spleen": ["normal"], "pancreas": ["normal"]}),
    ("en", "Increased uptake in the liver and the spleen has resolved.", {"liver": ["normal"], "spleen": ["normal"]}),
    ("en", "Hypermetabolic nodes in the neck, and the liver uptake has resolved.",
     {"cervical_lymph_nodes": ["increased"], "liver": ["normal"]}),
    ("en", "Hypermetabolic nodes in the neck persist, and the mediastinum has resolved.",
     {"cervical_lymph_nodes": ["increased"]}),
]


@pytest.mark.parametrize(("lang", "text", "want"), V16_RULES)
def test_v16_rules(lang: str, text: str, want: dict[str, list[str]]) -> None:
    assert extract_uptake(text, lang) == want


# Extractor v17 (issue 8): an enlargement word names its organ ("FDG-avid hepatomegaly", "non-avid prostatomegaly"), and
# "hepatosplenomegaly" names the liver and the spleen where its own uptake word stands right before it; vocabulary ("base
# of the tongue", "pericaval", the plural "uptakes"); a resection told as done after the scan's finding of that same
# organ is no absent; a "status post" lead-in ends at its resection word; new or persistent uptake beside a resolution
# of a lesion is its own finding. Sentences of our own.
V17_RULES: list[tuple[str, str, dict[str, list[str]]]] = [
    ("en", "The PET/CT shows moderately FDG-avid hepatosplenomegaly.", {"liver": ["increased"], "spleen": ["increased"]}),
    ("en", "Hypermetabolic hepatosplenomegaly is noted.", {"liver": ["increased"], "spleen": ["increased"]}),
    ("en", "Intensely FDG avid hepatomegaly.", {"liver": ["increased"]}),
    ("en", "Non-avid prostatomegaly.", {"reproductive": ["normal"]}),
    # guards: splenomegaly as before, hepatosplenomegaly with no uptake word of its own (alone, a list item, beside
    # another organ's uptake)
    ("en", "Hypermetabolic splenomegaly.", {"spleen": ["increased"]}),
    ("en", "Massive hepatosplenomegaly.", {}),
    ("en", "Hypermetabolic mediastinal nodes, hepatosplenomegaly.", {"mediastinal_lymph_nodes": ["increased"]}),
    ("en", "Hepatosplenomegaly and intense splenic uptake.", {"spleen": ["increased"]}),
    # vocabulary
    ("en", "Intense uptake in the right base of the tongue.", {"pharynx": ["increased"]}),
    ("en", "Focal FDG uptake in the base of the tongue, left side.", {"pharynx": ["increased"]}),
    ("en", "Intense uptake throughout the appendicular skeleton.", {"bone": ["increased"]}),
    ("en", "Multiple FDG-avid lesions in the axial skeleton.", {"bone": ["increased"]}),
    ("en", "Several node uptakes in the paraaortic and pericaval regions.", {"abdominal_lymph_nodes": ["increased"]}),
    ("en", "Intense uptake in a pericaval node.", {"abdominal_lymph_nodes": ["increased"]}),
    ("en", "No node uptakes in the pelvis.", {"abdominal_lymph_nodes": ["absent"]}),
    # a resection told as done after the scan's finding of that same organ: the organ was there on the scan
    ("en", "PET/CT showed an intensely FDG-avid right renal mass. A right nephrectomy was performed.",
     {"kidney": ["increased"]}),
    ("en", "CT showed a splenic mass which was hypermetabolic on PET. The patient underwent splenectomy.",
     {"spleen": ["increased"]}),
    ("en", "PET/CT demonstrated an avid thyroid nodule. Total thyroidectomy was performed.", {"thyroid": ["increased"]}),
    # guards: "status post", a resection told before the findings, or after a sentence with no PET reading of the organ;
    # a partial resection
    ("en", "Status post splenectomy. Increased uptake in the liver.", {"liver": ["increased"], "spleen": ["absent"]}),
    ("en", "Splenectomy was performed in 2018. Intense uptake in the liver.",
     {"liver": ["increased"], "spleen": ["absent"]}),
    ("en", "Intense uptake in the liver. Status post splenectomy.", {"liver": ["increased"], "spleen": ["absent"]}),
    ("en", "Splenic injury in 2010; splenectomy was performed. Intense uptake in the liver.",
     {"liver": ["increased"], "spleen": ["absent"]}),
    ("en", "The liver lesion showed intense FDG uptake on PET/CT. A partial hepatectomy was performed.",
     {"liver": ["increased"]}),
    # a "status post" lead-in ends at its resection word, comma or not
    ("en", "Status post cholecystectomy the liver shows increased uptake.",
     {"liver": ["increased"], "gallbladder": ["absent"]}),
    ("en", "Status post splenectomy the liver shows diffusely increased FDG uptake.",
     {"liver": ["increased"], "spleen": ["absent"]}),
    # guards: the comma form, the lead-in alone, a therapy lead-in (v16)
    ("en", "Status post cholecystectomy, the liver shows increased uptake.",
     {"liver": ["increased"], "gallbladder": ["absent"]}),
    ("en", "Status post cholecystectomy.", {"gallbladder": ["absent"]}),
    ("en", "Status post chemotherapy for lymphoma the spleen shows increased uptake.", {"spleen": ["increased"]}),
    # new or persistent uptake beside a resolution of a lesion is its own finding
    ("en", "Resolution of the lung mass with persistent uptake in the liver.", {"liver": ["increased"]}),
    ("en", "Resolution of the liver lesion with new uptake in the spleen.", {"spleen": ["increased"]}),
    ("en", "Resolution of the adrenal nodule with new intense uptake in the spleen.", {"spleen": ["increased"]}),
    ("en", "Interval resolution of the lung mass with residual uptake in the mediastinal nodes.",
     {"mediastinal_lymph_nodes": ["increased"]}),
    ("en", "New uptake in the spleen.", {"spleen": ["increased"]}),
    # guards: a resolution of uptake stays normal, a negated new uptake, a lesion with its own uptake, two sentences
    ("en", "Resolution of uptake in the mediastinal nodes with new uptake in the liver.",
     {"mediastinal_lymph_nodes": ["normal"], "liver": ["increased"]}),
    ("en", "No new uptake in the spleen.", {"spleen": ["normal"]}),
    ("en", "Lung mass with intense uptake.", {"lung": ["increased"]}),
    ("en", "Resolution of the lung mass. Intense uptake in the liver.", {"liver": ["increased"]}),
]


@pytest.mark.parametrize(("lang", "text", "want"), V17_RULES)
def test_v17_rules(lang: str, text: str, want: dict[str, list[str]]) -> None:
    assert extract_uptake(text, lang) == want


# Extractor v18 (issue 8, Chinese): a slight degree word with the metabolism noun (轻微代谢, 少许糖代谢) is above
# background like 轻度代谢, and a decrease after it stays a decrease; 近肺门 ("near the hilum") said of a lung lesion is the
# lung, and nodes there ("近肺门处淋巴结") are mediastinal. Sentences of our own, with guards for what stays as before.
V18_RULES: list[tuple[str, str, dict[str, list[str]]]] = [
    ("zh", "纵隔及双肺门多发淋巴结，轻微代谢，考虑炎性。", {"mediastinal_lymph_nodes": ["increased"]}),
    ("zh", "肝内多发低密度灶，轻微FDG代谢。", {"liver": ["increased"]}),
    ("zh", "腹膜后数枚小淋巴结，少许糖代谢。", {"abdominal_lymph_nodes": ["increased"]}),
    ("zh", "肝脏轻微代谢减低。", {"liver": ["decreased"]}),
    ("zh", "脑实质轻微糖代谢减低。", {"brain": ["decreased"]}),
    ("zh", "纵隔淋巴结未见轻微代谢增高。", {"mediastinal_lymph_nodes": ["normal"]}),
    ("zh", "右肺下叶背段近肺门处见一结节，FDG代谢增高，SUVmax约5.2。", {"lung": ["increased"]}),
    ("zh", "近肺门处淋巴结，代谢增高。", {"mediastinal_lymph_nodes": ["increased"]}),
    # guards: as before v18
    ("zh", "纵隔淋巴结轻度代谢。", {"mediastinal_lymph_nodes": ["increased"]}),
    ("zh", "右肺门处淋巴结，代谢增高。", {"mediastinal_lymph_nodes": ["increased"]}),
    ("zh", "双肺门淋巴结代谢增高。", {"mediastinal_lymph_nodes": ["increased"]}),
    ("zh", "右肺门区软组织肿块，FDG代谢增高。", {"lung": ["increased"]}),
    ("zh", "肝门处淋巴结代谢增高。", {"abdominal_lymph_nodes": ["increased"]}),
]


@pytest.mark.parametrize(("lang", "text", "want"), V18_RULES)
def test_v18_rules(lang: str, text: str, want: dict[str, list[str]]) -> None:
    assert extract_uptake(text, lang) == want


# Extractor v19 (guide 6.19): a hard wrap inside an English sentence is a space, another modality called normal is no
# uptake level, a diagnosis or treatment told after the finding is history, a negation with no uptake word of its
# own ends the reach of the level before it, a place adjective the lexicon does not name stays inside a list, a fronted
# exception is not what the negation after it denies; with guards.
V19_RULES: list[tuple[str, str, dict[str, list[str]]]] = [
    ("en", "Hypermetabolic mass in the\nleft upper lobe of the lung.\nNo abnormal uptake in the liver.",
     {"lung": ["increased"], "liver": ["normal"]}),
    ("en", "Increased FDG uptake in\nthe liver and\nspleen.", {"liver": ["increased"], "spleen": ["increased"]}),
    ("en", "Intense\nFDG uptake in the spleen.", {"spleen": ["increased"]}),
    ("en", "Hypermetabolic mass in the\r\nleft upper lobe.", {"lung": ["increased"]}),
    ("en", "Multiple intensely avid\n  lytic lesions throughout the axial skeleton.", {"bone": ["increased"]}),
    # guards: a capital, a numbered item, sentence punctuation, a colon or a blank line still ends the line's sentence
    ("en", "Increased FDG uptake in the liver\nSpleen: no abnormal uptake.",
     {"liver": ["increased"], "spleen": ["normal"]}),
    ("en", "Impression:\n1. Hypermetabolic liver lesion\n2. No abnormal uptake in the spleen",
     {"liver": ["increased"], "spleen": ["normal"]}),
    ("en", "Hypermetabolic liver lesion.\nspleen: no abnormal uptake.", {"liver": ["increased"], "spleen": ["normal"]}),
    ("en", "No abnormal uptake in the liver\n\nspleen with intense uptake.", {"liver": ["normal"], "spleen": ["increased"]}),
    ("zh", "肝脏未见异常放射性摄取\n脾脏FDG摄取增高。", {"liver": ["normal"], "spleen": ["increased"]}),
    # another modality called normal is no uptake level
    ("en", "Mesial temporal lobe hypermetabolism was noted on FDG-PET, despite initial unremarkable MRI.",
     {"brain": ["increased"]}),
    ("en", "Hypermetabolic liver lesion, normal CT.", {"liver": ["increased"]}),
    ("en", "Intense uptake in the spleen; the ultrasound was normal. Normal ultrasound of the kidneys.",
     {"spleen": ["increased"]}),
    # guards: a PET/CT called normal, and normal uptake, still are
    ("en", "Normal PET/CT. No abnormal uptake in the liver.", {"liver": ["normal"]}),
    ("en", "The liver had a normal CT appearance and normal FDG uptake.", {"liver": ["normal"]}),
    # what was diagnosed or treated before, told after the finding, is history
    ("en", "Intense FDG uptake in a lung nodule 1 year after the diagnosis of brain metastasis.", {"lung": ["increased"]}),
    ("en", "Intense FDG uptake in a lung nodule 1 year following the detection of renal cancer.", {"lung": ["increased"]}),
    ("en", "Intense FDG uptake in a lung nodule after treatment for gastric cancer.", {"lung": ["increased"]}),
    # guards: "after treatment" alone is a time word; the finding's own organ stays
    ("en", "After treatment the uptake in the liver resolved.", {"liver": ["normal"]}),
    ("en", "Intense uptake in the liver after the diagnosis of lymphoma.", {"liver": ["increased"]}),
    # a negation with no uptake word of its own ends the reach of the level before it: what it denies has no label
    ("en", "Intense uptake in the lung with no evidence of liver metastases.", {"lung": ["increased"]}),
    ("en", "Hypermetabolic pulmonary nodules without bone lesions.", {"lung": ["increased"]}),
    ("en", "Metabolically active pulmonary nodules and no liver lesions.", {"lung": ["increased"]}),
    ("en", "Hypermetabolic lesions in the lung without involvement of the liver.", {"lung": ["increased"]}),
    # guards: a negation with an uptake word denies it; a negation before any level; Chinese
    ("en", "Hypermetabolic pulmonary nodules without hypermetabolic bone lesions.",
     {"lung": ["increased"], "bone": ["normal"]}),
    ("en", "Intense uptake in the lung and no uptake in the liver.", {"lung": ["increased"], "liver": ["absent"]}),
    ("en", "No abnormal uptake in the liver or spleen.", {"liver": ["normal"], "spleen": ["normal"]}),
    ("en", "Mild uptake in the thyroid without nodules.", {"thyroid": ["increased"]}),
    # a place adjective the lexicon does not name stays inside a list; an image reference ends it
    ("en", "Avid metastases in the lungs, liver and paravertebral muscle.", {"lung": ["increased"], "liver": ["increased"]}),
    ("en", "Avid metastases in the lungs, iliac nodes and paravertebral muscle.",
     {"lung": ["increased"], "abdominal_lymph_nodes": ["increased"]}),
    ("en", "Persistent FDG avidity in hilar, periclavicular, and retroperitoneal lymph nodes.",
     {"mediastinal_lymph_nodes": ["increased"], "abdominal_lymph_nodes": ["increased"]}),
    ("en", "Persistent FDG avidity in hilar (arrows), periclavicular, and retroperitoneal lymph nodes on the maximum "
           "intensity projection.", {"mediastinal_lymph_nodes": ["increased"], "abdominal_lymph_nodes": ["increased"]}),
    # guards: a time word after a list is no place word
    ("en", "Intense uptake in the lungs, interval progression.", {"lung": ["increased"]}),
    ("en", "Intense uptake in the liver, previous surgery.", {"liver": ["increased"]}),
    # a fronted exception: the negation after it is not its organs'; an excepted lesion is the abnormal place
    ("en", "Apart from the hypermetabolic liver lesion, no abnormal uptake is seen.", {"liver": ["increased"]}),
    ("en", "Aside from the liver lesion, no abnormal FDG uptake.", {"liver": ["increased"]}),
    ("en", "Except for a right hilar node, no hypermetabolic lesions.", {"mediastinal_lymph_nodes": ["increased"]}),
    ("en", "Except for the liver lesion, which is intensely hypermetabolic, no abnormal uptake.", {"liver": ["increased"]}),
    ("en", "Apart from a lung nodule and a liver lesion, no abnormal uptake.",
     {"lung": ["increased"], "liver": ["increased"]}),
    ("en", "Apart from the brain, heart and bladder, no abnormal uptake is seen.", {}),
    ("en", "Except for the liver, no abnormal uptake is seen.", {}),
    # guards: physiological uptake is stated; the exception after the negation as before
    ("en", "Apart from physiological uptake in the brain and kidneys, no abnormal uptake is seen.",
     {"brain": ["normal"], "kidney": ["normal"]}),
    ("en", "No abnormal uptake except in the liver.", {"liver": ["increased"]}),
    # uptake no longer there has resolved: normal, never absent
    ("en", "There is no longer any FDG uptake in the mediastinal nodes.", {"mediastinal_lymph_nodes": ["normal"]}),
    ("en", "The mediastinal nodes are no longer FDG avid.", {"mediastinal_lymph_nodes": ["normal"]}),
    # guard: a bare "no uptake" of a lesion stays absent (4.3)
    ("en", "There is no FDG uptake in the cyst of the liver.", {"liver": ["absent"]}),
    # (v17's rule as written: the PET reading of the organ before a resection told as done keeps the organ; a later
    # module constant of the same name had made it look for CT words instead)
    ("en", "The spleen showed intense FDG uptake. Splenectomy was performed.", {"spleen": ["increased"]}),
]


@pytest.mark.parametrize(("lang", "text", "want"), V19_RULES)
def test_v19_rules(lang: str, text: str, want: dict[str, list[str]]) -> None:
    assert extract_uptake(text, lang) == want


# Extractor v20 (guide 6.20): a cold defect and a photon-deficient area are the tracer missing (absent, as a photopenic
# defect); "resolved" before the uptake noun is an uptake that went away (normal); with guards.
V20_RULES: list[tuple[str, str, dict[str, list[str]]]] = [
    ("en", "Cold defect in the spleen.", {"spleen": ["absent"]}),
    ("en", "The liver shows a cold defect.", {"liver": ["absent"]}),
    ("en", "Cold defects in both kidneys.", {"kidney": ["absent"]}),
    ("en", "Photon deficient area in the liver.", {"liver": ["absent"]}),
    ("en", "Photon-deficient areas in the spleen.", {"spleen": ["absent"]}),
    ("en", "Resolved activity in the liver.", {"liver": ["normal"]}),
    ("en", "Resolved FDG uptake in the mediastinal nodes.", {"mediastinal_lymph_nodes": ["normal"]}),
    ("en", "Interval resolved hypermetabolism in the spleen.", {"spleen": ["normal"]}),
    ("en", "Resolved activity in the liver, new intense uptake in the spleen.",
     {"liver": ["normal"], "spleen": ["increased"]}),
    # guards: "cold" without an uptake word, a denied cold defect, a cold centre of a hot lesion, "unresolved"
    ("en", "Cold abscess in the spleen.", {}),
    ("en", "No cold defect in the liver.", {"liver": ["normal"]}),
    ("en", "Hypermetabolic mass in the liver with a central cold defect.", {"liver": ["increased", "absent"]}),
    ("en", "Unresolved activity in the liver.", {}),
    ("en", "Photopenic defect in the spleen, consistent with infarct.", {"spleen": ["absent"]}),
]


@pytest.mark.parametrize(("lang", "text", "want"), V20_RULES)
def test_v20_rules(lang: str, text: str, want: dict[str, list[str]]) -> None:
    assert extract_uptake(text, lang) == want


# Extractor v21 (guide 6.21): group terms in the plural and the genitourinary tract (the urinary tract, kidney, and the
# genital organs, reproductive), also as items of a list; with guards.
V21_RULES: list[tuple[str, str, dict[str, list[str]]]] = [
    ("en", "Physiological FDG uptake was seen in the liver, spleen, gastrointestinal tracts, and genitourinary tracts.",
     {"liver": ["normal"], "spleen": ["normal"], "stomach": ["normal"], "intestine": ["normal"], "kidney": ["normal"],
      "reproductive": ["normal"]}),
    ("en", "Physiologic activity in the genitourinary tract.", {"kidney": ["normal"], "reproductive": ["normal"]}),
    ("en", "Increased FDG uptake in the GI tracts.", {"stomach": ["increased"], "intestine": ["increased"]}),
    ("en", "Normal FDG excretion in the genitourinary system.", {"kidney": ["normal"], "reproductive": ["normal"]}),
    # guards: a disease of the tract with no uptake word; the singular as before
    ("en", "Genitourinary tract infection.", {}),
    ("en", "Physiological uptake in the gastrointestinal tract.", {"stomach": ["normal"], "intestine": ["normal"]}),
]


@pytest.mark.parametrize(("lang", "text", "want"), V21_RULES)
def test_v21_rules(lang: str, text: str, want: dict[str, list[str]]) -> None:
    assert extract_uptake(text, lang) == want


# Extractor v22 (guide 6.22): a tracer word in any spelling ("18F-FDG", "F-18 FDG", "F18-FDG", "18FDG") inside an uptake
# phrase reads as "FDG" ("mild 18F-FDG uptake" = "mild FDG uptake"); with guards.
V22_RULES: list[tuple[str, str, dict[str, list[str]]]] = [
    ("en", "Mild 18F-FDG uptake in the thyroid.", {"thyroid": ["increased"]}),
    ("en", "Slight F-18 FDG uptake in the pancreas.", {"pancreas": ["increased"]}),
    ("en", "Low-grade F18-FDG uptake in the spleen.", {"spleen": ["increased"]}),
    ("en", "PET/CT showed a marked 18F-FDG uptake at the pancreatic head with no abnormal metabolic activity in other "
           "abdominal organs.", {"pancreas": ["increased"]}),
    # guards: readings that held before stay; a scan name is no uptake statement
    ("en", "Moderate 18FDG avidity in the left adrenal.", {"adrenal": ["increased"]}),
    ("en", "No 18F-FDG uptake in the spleen.", {"spleen": ["absent"]}),
    ("en", "Physiological 18F-FDG uptake in the brain.", {"brain": ["normal"]}),
    ("en", "Mild 18F-FDG uptake in the thyroid, likely physiologic.", {"thyroid": ["normal"]}),
    ("en", "18F-FDG PET/CT of the liver.", {}),
]


@pytest.mark.parametrize(("lang", "text", "want"), V22_RULES)
def test_v22_rules(lang: str, text: str, want: dict[str, list[str]]) -> None:
    assert extract_uptake(text, lang) == want


def test_tracer_aliases_copy_roles_without_overriding() -> None:
    """The alias expansion gives a spelling the roles of its FDG phrase, and a phrase the lexicon lists itself keeps
    its own roles."""
    from pet2rep.metrics.uptake import _tracer_aliases

    roles = {"mild fdg uptake": {"state": "increased"}, "18f fdg": {"context": True}, "fdg": {"context": True}}
    _tracer_aliases(roles, {"fdg": ["18f-fdg", "18FDG"]})
    assert roles["mild 18f fdg uptake"] == {"state": "increased"} and roles["mild 18fdg uptake"] == {"state": "increased"}
    assert roles["18f fdg"] == {"context": True} and roles["18fdg"] == {"context": True}
    roles["mild 18f fdg uptake"]["state"] = "x"
    assert roles["mild fdg uptake"] == {"state": "increased"}  # a copy, not the same dict


def test_hard_wrap_keeps_offsets_and_quotes_the_text_as_written() -> None:
    """The joined line break is read as a space, but statements quote the report as it was written."""
    text = "Hypermetabolic mass in the\nleft upper lobe."
    sts = extract_statements(text, "en")
    assert [s.organ for s in sts] == ["lung"]
    a, b = sts[0].span
    assert sts[0].clause == text[a:b].strip() and "\n" in sts[0].clause
