"""The hf backend on tiny random VLMs of real architectures, through the real CLI (CPU, offline).

Every model is a folder built by tests/vlm_factory.py (config + safetensors + a trained tokenizer + the family's
real processor classes + a chat template) and run with `pet2rep generate DATASET --model hf:DIR`, no card, on
the benchmark's own zh prompt with three 200x219 JPEG slices per study.
"""

from __future__ import annotations

import importlib.util
import json
import os
import re
from pathlib import Path
from typing import Any

import pytest

os.environ.setdefault("HF_HUB_OFFLINE", "1")  # before huggingface_hub is imported: never reach the network
torch = pytest.importorskip("torch")
pytest.importorskip("torchvision")
transformers = pytest.importorskip("transformers")

import vlm_factory as vf  # noqa: E402
from PIL import Image  # noqa: E402

from pet2rep.cli import main  # noqa: E402
from pet2rep.prompts.build import make_record, report_template  # noqa: E402
from pet2rep.prompts.dataset import PromptRecord, write_dataset  # noqa: E402

# Every family of the factory: the paper's (Qwen2.5-VL, InternVL, Gemma 3 = MedGemma's architecture, LLaVA =
# LLaVA-Med's) and newer ones users add (Qwen3-VL, LLaVA-OneVision, Idefics3, SmolVLM, Llama 3.2 Vision = Mllama).
FAMILIES = [
    pytest.param(f, marks=[pytest.mark.skip(reason="SmolVLMProcessor needs num2words")]
                 if f == "smolvlm" and importlib.util.find_spec("num2words") is None else [])
    for f in ("qwen2_5_vl", "qwen3_vl", "internvl", "gemma3", "llava", "llava_onevision", "idefics3", "smolvlm",
              "mllama")
]
N_STUDIES = 4
MAX_NEW = 12
SLICES = (90, 100, 110)


# ------------------------------------------------------------------------------------------------- fixtures


pet_slice = vf.fused_slice


def _record(pid: str, images: list[str], extra: int) -> PromptRecord:
    """The real PET2Rep zh record; `extra` sentences appended to the user text vary the prompt length."""
    rec = make_record(pid, images, answer="影像所见：…")
    rec.prompt_user_text += "\n补充：" + "请注意双肺及纵隔淋巴结。" * extra
    return rec


@pytest.fixture(scope="module", autouse=True)
def one_thread():
    """Tiny models gain nothing from intra-op threads, and spinning threads slow a busy 2-core CI 4x."""
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)


@pytest.fixture(scope="session")
def dataset(tmp_path_factory) -> dict[str, Path]:
    """One folder of images and several JSONL files over them (each a dataset)."""
    root = tmp_path_factory.mktemp("hf-dataset")
    (root / "slice_prompt").mkdir()

    def images(i: int) -> list[str]:
        names = [f"slice_prompt/S{i}_{z}_coronal.jpg" for z in SLICES]
        for k, name in enumerate(names):
            pet_slice(100 * i + k).save(root / name, quality=92)
        return names

    main_recs = [_record(f"S{i}", images(i), extra=3 * i) for i in range(N_STUDIES)]
    s0 = main_recs[0].images
    Image.new("RGB", (200, 219), (0, 0, 0)).save(root / "slice_prompt/black.jpg", quality=92)
    Image.new("RGB", (200, 219), (255, 255, 255)).save(root / "slice_prompt/white.jpg", quality=92)
    (root / "slice_prompt/broken.jpg").write_bytes((root / s0[1]).read_bytes()[:40])  # a cut-off JPEG
    variants = [
        _record("S0-one", s0[:1], extra=0),  # the same text with one image
        _record("S0-black", [s0[0], "slice_prompt/black.jpg", s0[2]], extra=0),
        _record("S0-white", [s0[0], "slice_prompt/white.jpg", s0[2]], extra=0),
    ]
    files = {"main": write_dataset(main_recs + variants, root / "main.jsonl")}
    broken = [_record("S1", [main_recs[1].images[0], "slice_prompt/broken.jpg", main_recs[1].images[2]], 3)]
    Image.new("RGB", (1, 300), (128, 128, 128)).save(root / "slice_prompt/thin.jpg", quality=92)
    thin = _record("S-thin", [s0[0], "slice_prompt/thin.jpg", s0[2]], extra=1)  # Qwen's processor refuses it
    files["broken"] = write_dataset([main_recs[0], *broken, *main_recs[2:], thin], root / "broken.jsonl")
    files["twins"] = write_dataset([main_recs[0], _record("S0-twin", s0, extra=0)], root / "twins.jsonl")
    long = _record("S-long", s0, extra=0)
    long.prompt_user_text += "\n" + report_template("zh") * 6
    files["long"] = write_dataset([main_recs[0], long, *main_recs[2:]], root / "long.jsonl")
    return files


@pytest.fixture(scope="session")
def model_dir(tiny_vlm):
    """family -> a tiny random model folder, built once per session (conftest's tiny_vlm)."""
    return tiny_vlm


def generate(dataset: Path, model: str, out: Path, *flags: str) -> tuple[int, dict[str, dict], dict]:
    """`pet2rep generate` through the CLI: exit code, records by study id, run.json."""
    rc = main(["generate", str(dataset), "--model", model, "--out", str(out), "--max-new-tokens", str(MAX_NEW),
               *flags])
    records = {}
    if (out / "predictions.jsonl").exists():
        for line in (out / "predictions.jsonl").read_text(encoding="utf-8").splitlines():
            rec = json.loads(line)
            records[rec["subject_id"]] = rec
    info = json.loads((out / "run.json").read_text(encoding="utf-8")) if (out / "run.json").exists() else {}
    return rc, records, info


@pytest.fixture(scope="session")
def family_run(dataset, model_dir, tmp_path_factory):
    """(family, batch size) -> generate's result on the main dataset (batch 1: its first N_STUDIES), once."""
    root = tmp_path_factory.mktemp("hf-runs")
    done: dict[tuple[str, int], tuple[int, dict[str, dict], dict]] = {}

    def get(family: str, batch_size: int) -> tuple[int, dict[str, dict], dict]:
        if (family, batch_size) not in done:
            limit = () if batch_size > 1 else ("--limit", str(N_STUDIES))  # one at a time: the main studies
            done[family, batch_size] = generate(dataset["main"], f"hf:{model_dir(family)}",
                                                root / f"{family}-b{batch_size}", "--batch-size", str(batch_size),
                                                *limit)
        return done[family, batch_size]

    return get


def write_card(path: Path, **card: Any) -> Path:
    path.write_text("".join(f"{k}: {json.dumps(v)}\n" for k, v in card.items()), encoding="utf-8")
    return path


def answer(rec: dict) -> tuple[str, int, int, str]:
    return rec["llm_output"][0], rec["prompt_tokens"], rec["completion_tokens"], rec["finish_reason"]


# ---------------------------------------------------------------------------------------------------- tests


@pytest.mark.parametrize("family", FAMILIES)
def test_batched_equals_one_at_a_time(family_run, family: str) -> None:
    """Greedy output at batch 3 (left-padded, prompts of different lengths) equals batch 1, study by study."""
    rc3, batched, info = family_run(family, 3)
    rc1, single, _ = family_run(family, 1)
    assert rc3 == rc1 == 0
    assert len(batched) == N_STUDIES + 3 and set(single) == {f"S{i}" for i in range(N_STUDIES)}
    lengths = [batched[f"S{i}"]["prompt_tokens"] for i in range(N_STUDIES)]
    assert lengths == sorted(set(lengths)), "the studies' prompts differ in length"
    for sid in single:
        assert answer(batched[sid]) == answer(single[sid]), sid
    for sid in batched:
        assert batched[sid]["error"] is None and batched[sid]["llm_output"][0]
        # the factory's models never emit EOS: every answer runs to max_new_tokens
        assert batched[sid]["completion_tokens"] == MAX_NEW and batched[sid]["finish_reason"] == "length"
    assert info["n_predictions"] == N_STUDIES + 3 and info["completion_tokens_new"] == MAX_NEW * (N_STUDIES + 3)


def _image_tokens(model: Path, image: Image.Image) -> tuple[int, int]:
    """By the processor alone, unbatched: what one image adds to a prompt, and what two more add to one."""
    proc = transformers.AutoProcessor.from_pretrained(model)

    def n(k: int) -> int:
        content = [{"type": "text", "text": "x"}, *[{"type": "image", "image": image}] * k]
        out = proc.apply_chat_template([[{"role": "user", "content": content}]], add_generation_prompt=True,
                                       tokenize=True, return_dict=True)
        return len(out["input_ids"][0])

    return n(1) - n(0), n(3) - n(1)


def _first_step_logits(model: Path, dataset: Path, images: list[list[str]]) -> list[Any]:
    """Next-token logits of S0's prompt with each image list, through the backend's own encoding."""
    from pet2rep.backends.hf import HFBackend
    from pet2rep.runs import to_request

    backend = HFBackend({"name": "probe", "backend": "hf", "model": str(model)})
    try:
        out = []
        for imgs in images:
            req = to_request(_record("S0", imgs, extra=0), dataset.parent)
            inputs = backend._encode([backend._conversation(req)])
            with torch.inference_mode():
                out.append(backend.model(**inputs).logits[0, -1].float())
        return out
    finally:
        backend.close()


# Tiny random models whose greedy output changes when S0's middle slice becomes black or white (found by
# running them). Mllama's and Idefics3's images move the logits (checked below for every family) but not
# their greedy 12 tokens.
OUTPUT_SEES_IMAGES = {"qwen2_5_vl", "qwen3_vl", "internvl", "gemma3", "llava", "llava_onevision", "smolvlm"}


@pytest.mark.parametrize("family", FAMILIES)
def test_all_images_reach_the_model(family_run, dataset, model_dir, family: str) -> None:
    """Three images cost exactly three images' tokens, and each image moves the model.

    Evidence, per family: (1) prompt_tokens of S0 with 3 images minus S0 with 1 image (same text) is what
    two more images add according to the processor alone (unbatched), and twice what one image adds; (2) output: replacing S0's middle slice by a black
    or by a white slice changes S0's greedy output (families in OUTPUT_SEES_IMAGES); (3) first-step logits,
    through the backend's internals, for every family: replacing slice 1, 2 or 3 (each in turn) changes them.
    """
    _, recs, _ = family_run(family, 3)
    model = model_dir(family)
    s0 = [f"slice_prompt/S0_{z}_coronal.jpg" for z in SLICES]
    one, two_more = _image_tokens(model, pet_slice(0))
    assert one >= 1 and recs["S0"]["prompt_tokens"] - recs["S0-one"]["prompt_tokens"] == two_more
    if family != "llava_onevision":  # it gives a lone image its any-resolution tiles, several images one each
        assert two_more == 2 * one
    assert recs["S0-black"]["prompt_tokens"] == recs["S0-white"]["prompt_tokens"] == recs["S0"]["prompt_tokens"]
    if family in OUTPUT_SEES_IMAGES:
        text = recs["S0"]["llm_output"][0]
        assert text != recs["S0-black"]["llm_output"][0] or text != recs["S0-white"]["llm_output"][0]
    swapped = [s0[:k] + ["slice_prompt/white.jpg"] + s0[k + 1:] for k in range(3)]
    base, *changed = _first_step_logits(model, dataset["main"], [s0, *swapped])
    for k, logits in enumerate(changed):
        assert float((logits - base).abs().max()) > 1e-3, f"slice {k + 1} does not reach {family}"


def test_run_json_has_the_backends_facts(family_run, model_dir) -> None:
    """run.json records what ran: model folder, its content hash, type, classes, dtype, device, versions."""
    _, _, info = family_run("qwen2_5_vl", 3)
    facts = info["backend"]
    assert facts["backend"] == "hf" and facts["model"] == str(model_dir("qwen2_5_vl"))
    assert re.fullmatch(r"local-[0-9a-f]{12}", facts["revision"])
    assert facts["model_type"] == "qwen2_5_vl" and facts["model_class"] == "Qwen2_5_VLForConditionalGeneration"
    assert facts["processor"] == "Qwen2_5_VLProcessor"
    cuda = torch.cuda.is_available()  # CI runs this on CPU: fp32; on a GPU the backend picks bf16
    assert facts["dtype"] == ("bfloat16" if cuda else "float32") and facts["attn_implementation"] == "sdpa"
    assert facts["device"] == ("cuda:0" if cuda else "cpu") and ("cuda_device" in facts) == cuda
    assert facts["batch_size"] == 3 and facts["context"] == 4096
    assert facts["system"] == "native" and facts["images"] == "interleaved"
    assert facts["torch"] == torch.__version__ and facts["transformers"] == transformers.__version__
    assert info["status"] == "complete" and info["card"]["model"] == str(model_dir("qwen2_5_vl"))
    _, _, mllama = family_run("mllama", 3)
    assert mllama["backend"]["images"] == "first"  # Mllama's text sees images only after the first one


def test_prompt_longer_than_the_context_is_refused(family_run, dataset, model_dir, tmp_path) -> None:
    """A study whose prompt + max_new_tokens exceed the model's context fails with the numbers; the rest run."""
    model = model_dir("qwen2_5_vl")
    _, single, _ = family_run("qwen2_5_vl", 1)
    rc, recs, info = generate(dataset["long"], f"hf:{model}", tmp_path / "long", "--batch-size", "3")
    assert rc == 1 and info["n_errors"] == 1 and set(recs) == {"S0", "S-long", "S2", "S3"}
    m = re.fullmatch(r"prompt is (\d+) tokens \+ 12 new tokens > the model's context of 4096 tokens",
                     recs["S-long"]["error"])
    assert m and int(m.group(1)) + MAX_NEW > 4096
    for sid in ("S0", "S2", "S3"):  # its batch-mates, re-encoded without it, answer as alone
        assert answer(recs[sid]) == answer(single[sid])
    # a card's `context` overrides the config's: here every study is too long, refused before generating
    card = write_card(tmp_path / "short.yaml", name="tiny-short", backend="hf", model=str(model), context=1000)
    rc, recs, _ = generate(dataset["main"], str(card), tmp_path / "short", "--limit", "2")
    assert rc == 1 and len(recs) == 2
    for sid, rec in recs.items():
        assert rec["error"] == (f"prompt is {single[sid]['prompt_tokens']} tokens + 12 new tokens > the model's "
                                "context of 1000 tokens")


def test_out_of_memory_halves_the_batch(family_run, dataset, model_dir, tmp_path, capsys) -> None:
    """A simulated CUDA OOM above batch 2 (private card hook): batch 4 -> 2, every study answered as alone.

    At batch 1 the study itself fails with the reason, and the run goes on to the next one.
    """
    model = model_dir("qwen2_5_vl")
    _, single, _ = family_run("qwen2_5_vl", 1)
    card = write_card(tmp_path / "oom.yaml", name="tiny-oom", backend="hf", model=str(model), _oom_above_batch=2)
    rc, recs, info = generate(dataset["main"], str(card), tmp_path / "oom", "--batch-size", "4",
                              "--limit", str(N_STUDIES))
    err = capsys.readouterr().err
    assert rc == 0 and len(recs) == N_STUDIES
    assert all(answer(recs[sid]) == answer(single[sid]) for sid in recs)
    warnings = re.findall(r"warning: [^\r\n]*out of memory[^\r\n]*", err)
    assert warnings == ["warning: tiny-oom: CUDA out of memory at batch size 4; going on with batch size 2"]
    batches = {}  # the backend's latency is its batch's wall time: records of one batch share it
    for sid, rec in recs.items():
        batches.setdefault(rec["latency_s"], []).append(sid)
    assert sorted(map(sorted, batches.values())) == [["S0", "S1"], ["S2", "S3"]]
    assert "_oom_above_batch" not in info["card"]  # private keys never reach run.json
    assert info["backend"]["batch_size"] == 2  # the facts at the end of the run

    card = write_card(tmp_path / "oom0.yaml", name="tiny-oom0", backend="hf", model=str(model), _oom_above_batch=0)
    rc, recs, info = generate(dataset["main"], str(card), tmp_path / "oom0", "--batch-size", "4", "--limit", "4")
    err = capsys.readouterr().err
    assert rc == 1 and info["status"] == "complete" and info["n_errors"] == N_STUDIES
    for sid, rec in recs.items():
        assert rec["error"] == f"CUDA out of memory at batch size 1 (prompt {single[sid]['prompt_tokens']} tokens)"
    assert re.findall(r"warning: [^\r\n]*out of memory[^\r\n]*", err) == [
        "warning: tiny-oom0: CUDA out of memory at batch size 4; going on with batch size 2",
        "warning: tiny-oom0: CUDA out of memory at batch size 2; going on with batch size 1",
    ]


def test_bad_image_fails_only_its_study(family_run, dataset, model_dir, tmp_path) -> None:
    """A cut-off JPEG fails its study (file named, with the reason), and so does a 1x300 px slice that
    Qwen's processor refuses; their batch-mates answer as alone."""
    _, single, _ = family_run("qwen2_5_vl", 1)
    rc, recs, info = generate(dataset["broken"], f"hf:{model_dir('qwen2_5_vl')}", tmp_path / "broken",
                              "--batch-size", "5")
    assert rc == 1 and set(recs) == {"S0", "S1", "S2", "S3", "S-thin"} and info["n_errors"] == 2
    assert re.fullmatch(r"image 'broken\.jpg' cannot be decoded: \w+Error: .+", recs["S1"]["error"])
    assert recs["S1"]["llm_output"] == [""] and recs["S1"]["finish_reason"] == "error"
    assert recs["S-thin"]["error"] == ("the processor cannot take this study: ValueError: absolute aspect ratio "
                                       "must be smaller than 200, got 300.0")
    for sid in ("S0", "S2", "S3"):
        assert answer(recs[sid]) == answer(single[sid])


def test_stop_string_and_eos_end_an_answer(family_run, dataset, model_dir, tmp_path) -> None:
    """completion_tokens and finish_reason come from where each row ended, not from the batch's padding.

    A card stop string cuts the answers that contain it (text before it, tokens up to the one completing it);
    an EOS id (here: a token the random model really produces, set in a copy's generation_config.json) ends
    an answer there, counted but not shown. Batch-mates that hit neither run to max_new_tokens unchanged.
    """
    import shutil

    from pet2rep.backends.base import GenerationConfig
    from pet2rep.backends.hf import HFBackend
    from pet2rep.runs import to_request

    model = model_dir("qwen2_5_vl")
    _, single, _ = family_run("qwen2_5_vl", 1)
    base = {sid: single[sid]["llm_output"][0] for sid in ("S0", "S1", "S2", "S3")}
    eos_dir = shutil.copytree(model, tmp_path / "eos-model")
    backend = HFBackend({"name": "probe", "backend": "hf", "model": str(eos_dir)})
    try:  # S0's new tokens, through the backend's own encoding
        rec = _record("S0", [f"slice_prompt/S0_{z}_coronal.jpg" for z in SLICES], extra=0)
        inputs = backend._encode([backend._conversation(to_request(rec, dataset["main"].parent))])
        out = backend.model.generate(**inputs, **backend._gen_kwargs(GenerationConfig(max_new_tokens=MAX_NEW)))
        row = out[0, inputs["input_ids"].shape[1]:].tolist()
        tokenizer = backend.tokenizer
    finally:
        backend.close()

    def text_of(n: int) -> str:
        return tokenizer.decode(row[:n], skip_special_tokens=True)

    assert text_of(MAX_NEW).strip() == base["S0"]

    stop = next(m.group() for m in re.finditer(r"[A-Za-z]{2,}", base["S0"]) if m.start() > 0)
    card = write_card(tmp_path / "stop.yaml", name="tiny-stop", backend="hf", model=str(model),
                      generation={"stop": [stop]})
    rc, recs, info = generate(dataset["main"], str(card), tmp_path / "stop", "--batch-size", "4", "--limit", "4")
    assert rc == 0 and info["generation"]["stop"] == [stop]
    for sid, text in base.items():
        got = recs[sid]
        if stop in text:
            assert got["llm_output"][0] == text.split(stop)[0].strip() and got["finish_reason"] == "stop"
        else:
            assert answer(got) == answer(single[sid])
    assert recs["S0"]["completion_tokens"] == next(n for n in range(1, MAX_NEW + 1) if stop in text_of(n))

    eos = row[4]  # a token the model really produces: made its EOS in the copy's generation_config.json
    gen_config = json.loads((eos_dir / "generation_config.json").read_text())
    gen_config["eos_token_id"] = [eos]
    (eos_dir / "generation_config.json").write_text(json.dumps(gen_config))
    rc, recs, _ = generate(dataset["main"], f"hf:{eos_dir}", tmp_path / "eos", "--batch-size", "4", "--limit", "4")
    assert rc == 0
    assert recs["S0"]["completion_tokens"] == row.index(eos) + 1 and recs["S0"]["finish_reason"] == "stop"
    assert recs["S0"]["llm_output"][0] == text_of(row.index(eos)).strip()
    for got in recs.values():
        assert got["finish_reason"] == ("length" if got["completion_tokens"] == MAX_NEW else "stop")


def test_sampling_with_a_seed_is_reproducible(dataset, model_dir, tmp_path) -> None:
    """--temperature with --seed: the same run twice gives the same reports, another seed others; two
    studies with the same prompt and images (in batches of one) do not get the same draws."""
    model = f"hf:{model_dir('llava')}"
    flags = ("--temperature", "1.0", "--batch-size", "1")
    runs = [generate(dataset["twins"], model, tmp_path / f"run{i}", *flags, "--seed", seed)[1]
            for i, seed in enumerate(("7", "7", "8"))]
    texts = [{sid: rec["llm_output"][0] for sid, rec in recs.items()} for recs in runs]
    assert texts[0] == texts[1] and texts[0] != texts[2]
    assert texts[0]["S0"] != texts[0]["S0-twin"]


def test_template_without_system_role_gets_it_folded(model_dir, dataset, tmp_path, capsys) -> None:
    """No card: a chat template that raises on a system message (as Llama 3.2 Vision's does with images)
    gets the system text folded into the user turn; Mllama's images go first."""
    import shutil

    from pet2rep.backends.hf import HFBackend
    from pet2rep.prompts.build import template_text
    from pet2rep.runs import to_request

    folder = shutil.copytree(model_dir("mllama"), tmp_path / "mllama-no-system")
    template = folder / "chat_template.jinja"
    template.write_text("{%- if messages[0]['role'] == 'system' -%}{{ raise_exception('Prompting with images is "
                        "incompatible with system messages.') }}{%- endif -%}" + template.read_text())
    rc, recs, info = generate(dataset["main"], f"hf:{folder}", tmp_path / "run", "--batch-size", "2",
                              "--limit", "2")
    assert rc == 0 and len(recs) == 2 and all(r["completion_tokens"] == MAX_NEW for r in recs.values())
    assert info["backend"]["system"] == "fold" and info["backend"]["images"] == "first"
    backend = HFBackend({"name": "probe", "backend": "hf", "model": str(folder)})
    try:
        rec = _record("S0", [f"slice_prompt/S0_{z}_coronal.jpg" for z in SLICES], extra=0)
        conv = backend._conversation(to_request(rec, dataset["main"].parent))
    finally:
        backend.close()
    assert [m["role"] for m in conv] == ["user"]
    assert [p["type"] for p in conv[0]["content"]] == ["image", "image", "image", "text"]
    assert conv[0]["content"][3]["text"].startswith(template_text("system", "zh") + "\n\n")
    # a card that says `system: native` for such a template gets it folded too, with a warning
    card = write_card(tmp_path / "native.yaml", name="tiny-native", backend="hf", model=str(folder), system="native")
    capsys.readouterr()
    rc, recs, info = generate(dataset["main"], str(card), tmp_path / "native", "--limit", "1")
    assert rc == 0 and recs["S0"]["error"] is None and info["backend"]["system"] == "fold"
    assert "refuses or drops a system message next to images; folding it" in capsys.readouterr().err


def _gpt2_folder(path: Path) -> Path:
    """A tiny text-only GPT-2 model folder (config + weights): loadable, but not an image-text model."""
    config = transformers.GPT2Config(n_layer=1, n_embd=16, n_head=2, vocab_size=64, n_positions=64,
                                     bos_token_id=0, eos_token_id=0)
    transformers.GPT2LMHeadModel(config).save_pretrained(path)
    return path


@pytest.mark.parametrize("kind", ["text-only", "missing-folder", "not-a-model-folder", "hub-id-offline"])
def test_model_that_cannot_load_is_one_line_exit_2(dataset, tmp_path, capsys, kind: str) -> None:
    """Not an image-text model, a folder that does not exist or holds no model, a hub id while offline:
    one line naming the model and a hint, exit 2, no run folder."""
    target = {
        "text-only": lambda: str(_gpt2_folder(tmp_path / "gpt2")),
        "missing-folder": lambda: str(tmp_path / "no-such-model"),
        "not-a-model-folder": lambda: str(dataset["main"].parent),
        "hub-id-offline": lambda: "pet2rep-tests/no-such-model",
    }[kind]()
    capsys.readouterr()  # the GPT-2 folder's own save progress
    rc = main(["generate", str(dataset["main"]), "--model", f"hf:{target}", "--out", str(tmp_path / "out")])
    err = capsys.readouterr().err
    assert rc == 2
    lines = [line for line in err.splitlines() if line.strip()]
    assert len(lines) == 1 and "Traceback" not in err, err
    assert lines[0].startswith("pet2rep generate: error: ") and target in lines[0]
    expected = {
        "text-only": "AutoModelForImageTextToText does not know model type 'gpt2': not an image-text model?",
        "missing-folder": "no such model folder",
        "not-a-model-folder": "no config.json in this folder (not a transformers model folder?)",
        # offline (HF_HUB_OFFLINE=1, or no network); were the hub reachable, it would say the id does not exist
        "hub-id-offline": r"not found locally and the hub is unreachable \(offline\? give a local folder|"
                          r"no such model folder or hub id",
    }[kind]
    assert re.search(expected if kind == "hub-id-offline" else re.escape(expected), lines[0]), lines[0]
    assert not (tmp_path / "out" / "predictions.jsonl").exists()


def test_card_marked_not_loadable_is_refused_before_loading(dataset, tmp_path, capsys) -> None:
    """llava-med's published checkpoint needs converting: one line with the card's notes, nothing loaded."""
    rc = main(["generate", str(dataset["main"]), "--model", "llava-med", "--out", str(tmp_path / "r")])
    err = capsys.readouterr().err.strip().splitlines()
    assert rc == 2 and len(err) == 1 and "cannot be loaded as published" in err[0], err
    assert not (tmp_path / "r" / "predictions.jsonl").exists()


def test_weights_size_decides_spreading_over_gpus(model_dir, tmp_path) -> None:
    """The size that decides device_map auto: the index's total_size, else the weight files' sizes."""
    from pet2rep.backends.hf import _weights_bytes

    folder = model_dir("qwen2_5_vl")
    assert _weights_bytes(folder) == (folder / "model.safetensors").stat().st_size > 0
    (tmp_path / "model.safetensors.index.json").write_text(json.dumps({"metadata": {"total_size": 123}}))
    assert _weights_bytes(tmp_path) == 123


@pytest.mark.parametrize("setting, needle", [("batch_size: abc", "batch_size 'abc': is not a number"),
                                             ("batch_size: 0", "batch_size 0: must be >= 1"),
                                             ("max_images: 2.5", "max_images 2.5: must be a whole number")])
def test_bad_numbers_in_a_card_are_one_line(model_dir, dataset, tmp_path, capsys, setting, needle) -> None:
    """Card numbers are checked when the backend starts (the same check as the vllm and openai backends)."""
    card = tmp_path / "card.yaml"
    card.write_text(f"name: bad\nbackend: hf\nmodel: {model_dir('qwen2_5_vl')}\n{setting}\n", encoding="utf-8")
    rc = main(["generate", str(dataset["main"]), "--model", str(card), "--out", str(tmp_path / "r")])
    err = [ln for ln in capsys.readouterr().err.splitlines() if ln.startswith("pet2rep")]  # not the factory's bars
    assert rc == 2 and len(err) == 1 and needle in err[0], err
    assert not (tmp_path / "r" / "predictions.jsonl").exists()
