"""Prompt templates and the benchmark's JSONL format (read/write byte-for-byte)."""

from __future__ import annotations

import pytest
from conftest import DEMO_JSONL

from pet2rep.errors import InputError
from pet2rep.prompts.build import make_record, report_template, template_text, user_text
from pet2rep.prompts.dataset import dumps_record, read_dataset, write_dataset


def test_demo_jsonl_round_trip_is_byte_identical(seed_demo, tmp_path):
    src = seed_demo / "prompt_qwen25vl.jsonl"
    records = read_dataset(src, check_images=True)  # images lie beside the file, found by name
    assert [r.patient_id for r in records] == ["demo_001"]
    out = write_dataset(records, tmp_path / "copy.jsonl")
    assert out.read_bytes() == src.read_bytes()


def test_zh_template_reproduces_demo_prompt_exactly(demo_record):
    rec = make_record("demo_001", demo_record["prompt_image_fuse"], "zh", demo_record["answer"])
    demo_line = DEMO_JSONL.read_bytes()
    assert dumps_record(rec).encode("utf-8") == demo_line
    assert rec.prompt_system == demo_record["prompt_system"]


def test_image_tokens_follow_image_count():
    assert user_text("zh", 6).count("<image>") == 6
    assert "<image> <image>" in user_text("en", 2)
    rec = make_record("s1", [f"a{i}.jpg" for i in range(6)], "en", separate=True)
    d = rec.to_dict()
    assert list(d) == ["patient_id", "task", "prompt_system", "prompt_image_separate", "prompt_user_text", "answer"]


def test_en_template_has_same_structure_as_zh():
    zh, en = report_template("zh"), report_template("en")
    assert zh.startswith("禁食状态下静脉注射18F-FDG")
    assert zh.count("\n") == en.count("\n")
    assert zh.count("【") == en.count("【") and zh.count("[") == en.count("[")
    assert "nuclear medicine physician" in template_text("system", "en")


@pytest.mark.parametrize(
    "line, message",
    [
        ("{not json", "invalid JSON"),
        ('{"task": "PET2Rep", "prompt_image_fuse": [], "prompt_user_text": ""}', "patient_id"),
        ('{"patient_id": "a", "prompt_user_text": "x"}', "prompt_image_fuse"),
        ('{"patient_id": "a", "prompt_image_fuse": ["x.jpg"], "prompt_user_text": "<image> <image>"}', "2 <image> tokens"),
        ('{"patient_id": "a", "prompt_image_fuse": "x.jpg", "prompt_user_text": ""}', "list of image paths"),
        ('{"patient_id": "a", "prompt_image_fuse": [], "prompt_user_text": "", "answer": 5}', "'answer' must be a string"),
    ],
)
def test_bad_record_names_file_and_line(tmp_path, line, message):
    good = '{"patient_id": "ok", "prompt_image_fuse": [], "prompt_user_text": "", "answer": "r"}'
    path = tmp_path / "d.jsonl"
    path.write_text(good + "\n" + line + "\n", encoding="utf-8")
    with pytest.raises(InputError) as err:
        read_dataset(path)
    assert f"{path}:2:" in str(err.value) and message in str(err.value)
    assert "\n" not in str(err.value)


def test_missing_image_and_duplicate_ids_and_non_utf8(tmp_path):
    d = tmp_path / "ds"
    d.mkdir()
    rec = '{"patient_id": "a", "prompt_image_fuse": ["slice_prompt/a.jpg"], "prompt_user_text": "<image>"}'
    (d / "prompts.jsonl").write_text(rec + "\n", encoding="utf-8")
    assert len(read_dataset(d)) == 1
    with pytest.raises(InputError, match=r"prompts.jsonl:1: image 'slice_prompt/a.jpg' not found"):
        read_dataset(d, check_images=True)
    (d / "prompts.jsonl").write_text(rec + "\n" + rec + "\n", encoding="utf-8")
    with pytest.raises(InputError, match="duplicate patient_id 'a' .first on line 1"):
        read_dataset(d)
    (d / "prompts.jsonl").write_bytes(b'{"patient_id": "\xff"}\n')
    with pytest.raises(InputError, match="not UTF-8"):
        read_dataset(d)
