"""Generation throughput: pet2rep's `hf` (and `vllm`) backends vs the benchmark's own one-at-a-time loop.

Side by side in one run, on the same model and the same inputs:

  loop       the benchmark's script style: for each study, one at a time, the chat template of that one
             conversation, the processor on its three images, ``model.generate``, decode (written here in a
             few lines; it shares the loaded model object with the hf contender, so the weights are loaded once)
  hf B       ``pet2rep.runs.run_model(dataset, "hf:DIR", batch_size=B)``: the hf backend's batched, left-padded
             generation, the run folder written as answers arrive. The backend is loaded once and handed to
             run_model through ``backend_factory`` (load time reported apart, not in the wall time)
  vllm       ``run_model(dataset, "vllm:DIR")`` (vLLM's offline engine), when ``import vllm`` works and CUDA is
             there; run after the hf model is released; engine start-up reported apart

The model is a randomly initialised Qwen2.5-VL of the real architecture, built by tests/vlm_factory.py as an
ordinary model folder (speed does not depend on weight values, so nothing is downloaded): on a GPU the real
Qwen2.5-VL-7B shape (bf16, ~8.3e9 parameters, saved once to --model-dir and reused), on CPU a tiny one.
Inputs: N studies built from the seed demo's three 200x219 fused slices (shifted, scaled in brightness and
noised per study, so every study's images differ) and the benchmark's real zh prompt (pet2rep.prompts.build.
make_record + write_dataset): ~1.5k prompt tokens, 3 x 56 of them image tokens. Every contender writes exactly
L new tokens per study (max_new_tokens = min_new_tokens = L; the tiny tokenizer's EOS is never emitted anyway),
greedy by default (``--sampling paper``: T 0.7, top-k 50, as the benchmark's script).

Reported: output tokens/s, studies/hour and the speed-up over the loop (ratio of output tokens/s); whether the
greedy outputs of each hf contender equal the loop's on the studies both ran. Targets on one GPU: hf >= 20x,
vllm >= 100x the loop.

Usage:
  python benchmarks/generate.py             # no GPU: tiny model, 8 studies, L=64, hf batches 8,4,1, best of 3
  python benchmarks/generate.py --json out.json --time-limit 480
      # GPU: 7B shape in bf16, L=1024; loop on 4 studies; hf batch 64, 32, 8 on one full batch each
      # (64, 32, 8 studies); vllm on 256 studies when importable
  python benchmarks/generate.py --dry-run --shape 7b  # the 7B plan and parameter count, nothing allocated
"""

from __future__ import annotations

import argparse
import gc
import importlib.util
import json
import os
import platform
import shutil
import signal
import sys
import tempfile
import time
from collections.abc import Iterator, Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

os.environ.setdefault("HF_HUB_OFFLINE", "1")  # never reach the network
os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")
os.environ.setdefault("VLLM_WORKER_MULTIPROC_METHOD", "spawn")  # CUDA is already up when vLLM starts

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO / "tests"))  # vlm_factory
if importlib.util.find_spec("pet2rep") is None:  # a bare checkout (a GPU machine without the install)
    sys.path.insert(0, str(REPO / "src"))
SEED_DEMO = next((p for p in (REPO.parent / "shared" / "seed-demo", Path("/work/shared/seed-demo"))
                  if (p / "prompt_qwen25vl.jsonl").exists()), REPO.parent / "shared" / "seed-demo")
FAMILY = "qwen2_5_vl"
SLICES = (90, 100, 110)
PAPER_SAMPLING = {"temperature": 0.7, "top_k": 50, "top_p": 1.0}


# --------------------------------------------------------------------------------------------------
# settings and results


@dataclass
class Row:
    """One contender's numbers (wall_s excludes model loading; load_s is that)."""

    contender: str
    batch: str
    studies: int = 0
    output_tokens: int = 0
    wall_s: float = 0.0
    load_s: float | None = None
    errors: int = 0
    note: str = ""
    status: str = "ok"  # ok | OOM | failed | skipped

    @property
    def tokens_per_s(self) -> float:
        return self.output_tokens / self.wall_s if self.wall_s > 0 else 0.0

    @property
    def studies_per_hour(self) -> float:
        return self.studies / self.wall_s * 3600 if self.wall_s > 0 else 0.0


@dataclass
class Report:
    machine: dict[str, Any]
    settings: dict[str, Any]
    rows: list[Row] = field(default_factory=list)
    equal: dict[str, str] = field(default_factory=dict)
    notes: list[str] = field(default_factory=list)

    def to_json(self) -> dict[str, Any]:
        base = next((r for r in self.rows if r.contender == "loop" and r.status == "ok"), None)
        rows = []
        for r in self.rows:
            d = asdict(r)
            d.update(tokens_per_s=round(r.tokens_per_s, 3), studies_per_hour=round(r.studies_per_hour, 2),
                     speedup=round(r.tokens_per_s / base.tokens_per_s, 3)
                     if base and r.status == "ok" and base.tokens_per_s else None)
            rows.append(d)
        return {"machine": self.machine, "settings": self.settings, "rows": rows, "outputs_equal": self.equal,
                "notes": self.notes}


def log(msg: str) -> None:
    print(msg, file=sys.stderr, flush=True)


def machine_info() -> dict[str, Any]:
    import torch
    import transformers

    cpu = platform.processor() or platform.machine()
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    info: dict[str, Any] = {"cpu": f"{cpu} ({os.cpu_count()} cores)", "torch": torch.__version__,
                            "transformers": transformers.__version__, "python": platform.python_version()}
    if torch.cuda.is_available():
        props = torch.cuda.get_device_properties(0)
        info["gpu"] = f"{props.name} ({props.total_memory / 2**30:.0f} GiB)"
        info["cuda"] = torch.version.cuda
    if importlib.util.find_spec("vllm") is not None:
        try:
            from importlib.metadata import version

            info["vllm"] = version("vllm")
        except Exception:  # noqa: BLE001
            info["vllm"] = "?"
    return info


# --------------------------------------------------------------------------------------------------
# model and inputs


def shape_overrides(shape: str) -> dict[str, dict[str, Any]]:
    """config_overrides for build_tiny_vlm: the real 7B shape, or the tiny default with the real pixel budget."""
    import vlm_factory as vf

    seven_b = vf.QWEN2_5_VL_7B_SHAPE
    if shape == "7b":
        return seven_b
    # tiny LM and vision tower, but the real image processor limits: a 200x219 slice -> 56 image tokens
    return {"image_processor": dict(seven_b["image_processor"])}


def build_model(model_dir: Path, shape: str, dtype: str, device: str) -> tuple[Path, float, bool]:
    """The random model folder (built once; reused when its marker matches). (folder, seconds, reused)."""
    import vlm_factory as vf

    marker = model_dir / "bench_model.json"
    want = {"family": FAMILY, "shape": shape, "dtype": dtype}
    if marker.is_file() and (model_dir / "config.json").is_file():
        try:
            if json.loads(marker.read_text()) == want:
                return model_dir, 0.0, True
        except (json.JSONDecodeError, OSError):
            pass
    if model_dir.exists():
        shutil.rmtree(model_dir)
    t0 = time.perf_counter()
    tmp = model_dir.with_name(model_dir.name + ".part")
    shutil.rmtree(tmp, ignore_errors=True)
    vf.build_tiny_vlm(FAMILY, tmp, seed=0, config_overrides=shape_overrides(shape), dtype=dtype, device=device)
    (tmp / "bench_model.json").write_text(json.dumps(want) + "\n")
    os.replace(tmp, model_dir)
    os.sync()  # the ~16 GB just written would otherwise be flushed to disk while the first contender is timed
    _free_memory()
    return model_dir, time.perf_counter() - t0, False


def count_parameters_meta(shape: str) -> tuple[int, Any]:
    """Parameters of the model of `shape`, built on the meta device (nothing allocated); and its config."""
    import torch
    import vlm_factory as vf
    from transformers import AutoModelForImageTextToText

    config, _ = vf.tiny_vlm_parts(FAMILY, config_overrides=shape_overrides(shape))
    with torch.device("meta"):
        model = AutoModelForImageTextToText.from_config(config, dtype=torch.bfloat16)
    return sum(p.numel() for p in model.parameters()), config


def build_dataset(out: Path, n: int, seed_demo: Path | None = None, seed: int = 0) -> tuple[Path, str]:
    """N studies of three perturbed copies of the seed demo's slices, with the benchmark's zh prompt.

    Without the seed demo folder (a GPU machine gets the checkout only) the three slices are synthetic
    200x219 fused-like images: the same size, so the same image token count. Returns (JSONL, source).
    """
    import numpy as np
    from PIL import Image

    from pet2rep.prompts.build import make_record
    from pet2rep.prompts.dataset import write_dataset

    seed_demo = seed_demo or SEED_DEMO
    files = [seed_demo / f"demo_{z}_coronal.jpg" for z in SLICES]
    if all(f.is_file() for f in files):
        sources = [np.asarray(Image.open(f).convert("RGB"), dtype=np.float32) for f in files]
        source = f"the seed demo's slices ({seed_demo})"
    else:
        from vlm_factory import fused_slice

        sources = [np.asarray(fused_slice(z), dtype=np.float32) for z in SLICES]
        source = f"synthetic 200x219 slices (no seed demo at {seed_demo})"
    answer = None
    if (seed_demo / "prompt_qwen25vl.jsonl").is_file():
        demo = json.loads((seed_demo / "prompt_qwen25vl.jsonl").read_text(encoding="utf-8").splitlines()[0])
        answer = demo.get("answer")
    rng = np.random.default_rng(seed)
    records = []
    for i in range(n):
        pid = f"bench{i:04d}"
        folder = out / "slice_prompt" / pid
        folder.mkdir(parents=True, exist_ok=True)
        names = []
        for z, src in zip(SLICES, sources):
            dy, dx = (int(v) for v in rng.integers(-6, 7, size=2))
            img = np.roll(src, (dy, dx), axis=(0, 1)) * rng.uniform(0.85, 1.15) + rng.normal(0, 4, src.shape)
            name = f"slice_prompt/{pid}/{pid}_{z}_coronal.jpg"
            Image.fromarray(np.clip(img, 0, 255).astype(np.uint8), "RGB").save(out / name, quality=95)
            names.append(name)
        records.append(make_record(pid, names, "zh", answer=answer))
    return write_dataset(records, out), source


# --------------------------------------------------------------------------------------------------
# the benchmark's own loop


def _conversation(rec: Any, root: Path) -> tuple[list[dict[str, Any]], list[Any]]:
    """The chat-template conversation of one record and its images, in prompt order.

    The prompt parts come from pet2rep's prompt stage (build_messages), so the loop and pet2rep see the same
    prompt; only the generation differs.
    """
    from PIL import Image

    from pet2rep.prompts.messages import ImagePart, build_messages

    conv, images = [], []
    for m in build_messages(rec, root):
        content: list[dict[str, Any]] = []
        for part in m.content:
            if isinstance(part, ImagePart):
                with Image.open(part.path) as im:
                    images.append(im.convert("RGB"))
                content.append({"type": "image"})
            else:
                content.append({"type": "text", "text": part.text})
        conv.append({"role": m.role, "content": content})
    return conv, images


def paper_loop(model: Any, processor: Any, records: Sequence[Any], root: Path, new_tokens: int,
               sampling: dict[str, Any] | None) -> Iterator[tuple[str, str, int, int]]:
    """One study at a time: (id, text, prompt tokens, new tokens), as the benchmark's script does it."""
    import torch

    tok = processor.tokenizer
    kw: dict[str, Any] = {"max_new_tokens": new_tokens, "min_new_tokens": new_tokens,
                          "pad_token_id": tok.pad_token_id}
    kw.update({"do_sample": True, **sampling} if sampling else
              {"do_sample": False, "temperature": None, "top_p": None, "top_k": None})
    device, dtype = model.get_input_embeddings().weight.device, model.dtype
    for rec in records:
        conv, images = _conversation(rec, root)
        text = processor.apply_chat_template(conv, add_generation_prompt=True, tokenize=False)
        inputs = processor(text=[text], images=images, return_tensors="pt")
        inputs = {k: (v.to(device, dtype) if v.is_floating_point() else v.to(device)) if torch.is_tensor(v) else v
                  for k, v in inputs.items()}
        n_prompt = int(inputs["input_ids"].shape[1])
        with torch.inference_mode():
            out = model.generate(**inputs, **kw)
        new = out[0, n_prompt:].tolist()
        yield rec.patient_id, tok.decode(new, skip_special_tokens=True).strip(), n_prompt, len(new)


# --------------------------------------------------------------------------------------------------
# pet2rep contenders


def _borrowed(inner: Any, batch_size: int | None = None) -> Any:
    """A Backend that delegates to a loaded one and leaves it open on close (one load, many runs)."""
    from pet2rep.backends.base import Backend

    class Borrowed(Backend):
        needs_images = inner.needs_images

        def __init__(self, card: dict[str, Any]):
            super().__init__(card)
            if batch_size is not None:
                inner.batch_size = batch_size  # the hf backend halves it on OOM: reset per contender

        def generate(self, requests: Sequence[Any]) -> Iterator[Any]:
            return inner.generate(requests)

        def describe(self) -> dict[str, Any]:
            return inner.describe()

    return Borrowed


def run_contender(dataset: Path, card: dict[str, Any], out: Path, limit: int, gen: dict[str, Any],
                  backend_cls: Any) -> tuple[float, list[dict[str, Any]]]:
    """Wall seconds of one whole run_model call and its prediction records."""
    from pet2rep.runs import read_prediction_records, run_model

    t0 = time.perf_counter()
    pred = run_model(dataset, card, out, generation=gen, progress=False, restart=True, limit=limit,
                     backend_factory=backend_cls)
    wall = time.perf_counter() - t0
    return wall, read_prediction_records(pred)


def _row_from(name: str, batch: str, wall: float, recs: list[dict[str, Any]], load_s: float | None) -> Row:
    errors = [r for r in recs if r.get("error")]
    row = Row(name, batch, studies=len(recs), output_tokens=sum(int(r.get("completion_tokens") or 0) for r in recs),
              wall_s=wall, load_s=load_s, errors=len(errors))
    if errors:
        row.note = f"{len(errors)} failed: {errors[0]['error'][:80]}"
        if any("out of memory" in str(r["error"]).lower() for r in errors):
            row.status = "OOM"
    return row


def _is_oom(exc: BaseException) -> bool:
    import torch

    return isinstance(exc, torch.OutOfMemoryError) or "out of memory" in str(exc).lower()


def _free_memory() -> None:
    gc.collect()
    try:
        import torch

        if torch.cuda.is_available():
            torch.cuda.empty_cache()
    except ImportError:
        pass


def compare(loop_texts: dict[str, str], recs: list[dict[str, Any]]) -> str:
    both = [r for r in recs if r["subject_id"] in loop_texts and not r.get("error")]
    if not both:
        return "n/a (no study in common)"
    same = sum(loop_texts[r["subject_id"]] == r["llm_output"][0] for r in both)
    verdict = f"{'yes' if same == len(both) else 'no'} ({same}/{len(both)} studies identical"
    firsts = [_first_difference(loop_texts[r["subject_id"]], r["llm_output"][0]) for r in both
              if loop_texts[r["subject_id"]] != r["llm_output"][0]]
    if firsts:
        length = max(len(r["llm_output"][0]) for r in both)
        verdict += f"; the others part at character {sorted(firsts)[len(firsts) // 2]} (median) of ~{length}"
    return verdict + ")"


def _first_difference(a: str, b: str) -> int:
    return next((i for i, (x, y) in enumerate(zip(a, b)) if x != y), min(len(a), len(b)))


# --------------------------------------------------------------------------------------------------
# the table


def table(report: Report) -> str:
    s = report.settings
    m = report.machine
    lines = [
        f"machine: {m.get('gpu') or 'no GPU'}; CPU {m['cpu']}; torch {m['torch']}, transformers "
        f"{m['transformers']}" + (f", vllm {m['vllm']}" if m.get("vllm") else ""),
        f"model: random {s['shape_label']} ({s['params']:.2e} parameters), {s['dtype']} on {s['device']}; "
        f"{s['studies']} studies x 3 images, zh PET2Rep prompt ({s['prompt_tokens']} tokens), "
        f"L = {s['new_tokens']} new tokens per study, {s['decoding']}",
        "",
        "| contender | batch | studies | output tokens | wall s | tokens/s | studies/h | speed-up |",
        "|---|---:|---:|---:|---:|---:|---:|---:|",
    ]
    base = next((r for r in report.rows if r.contender == "loop" and r.status == "ok"), None)
    for r in report.rows:
        if r.status != "ok":
            lines.append(f"| {r.contender} | {r.batch} | {r.studies or '-'} | {r.status} | - | - | - | - |")
            continue
        sp = f"{r.tokens_per_s / base.tokens_per_s:.1f}x" if base and base.tokens_per_s else "-"
        lines.append(f"| {r.contender} | {r.batch} | {r.studies} | {r.output_tokens} | {r.wall_s:.1f} | "
                     f"{r.tokens_per_s:.1f} | {r.studies_per_hour:.0f} | {sp} |")
    lines.append("")
    if base:
        n = s["studies"]
        lines.append(f"loop: timed on {base.studies} of the {n} studies, one at a time "
                     f"({base.wall_s / max(base.studies, 1):.2f} s per study; the same rate gives "
                     f"{base.wall_s / max(base.studies, 1) * n:.0f} s for all {n}, extrapolated); "
                     "speed-up = tokens/s over the loop's.")
    if s.get("repeats", 1) > 1:
        lines.append(f"loop and hf rows: the fastest of {s['repeats']} runs each (the vllm row: one run).")
    for r in report.rows:
        bits = []
        if r.load_s is not None:
            bits.append(f"load {r.load_s:.1f} s (not in wall s)")
        if r.note:
            bits.append(r.note)
        if bits:
            lines.append(f"{r.contender} {r.batch}: " + "; ".join(bits))
    for name, verdict in report.equal.items():
        lines.append(f"outputs equal ({name} vs loop, greedy): {verdict}")
    lines.extend(report.notes)
    return "\n".join(lines)


def write_json(report: Report, path: Path | None) -> None:
    if path is not None:
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = path.with_name(path.name + ".part")
        tmp.write_text(json.dumps(report.to_json(), indent=1, ensure_ascii=False) + "\n", encoding="utf-8")
        os.replace(tmp, path)


# --------------------------------------------------------------------------------------------------
# main


def parse_args(argv: list[str] | None, cuda: bool) -> argparse.Namespace:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--shape", choices=("tiny", "7b"), default=None,
                    help="model shape (default: 7b with CUDA, else tiny)")
    ap.add_argument("--dtype", choices=("bfloat16", "float16", "float32"), default=None,
                    help="default: bfloat16 on GPU, float32 on CPU")
    ap.add_argument("--model-dir", type=Path, default=None,
                    help="where the random model folder is saved once and reused "
                         f"(default: {tempfile.gettempdir()}/pet2rep-bench/qwen2_5_vl-SHAPE-DTYPE)")
    ap.add_argument("--work-dir", type=Path, default=None, help="dataset and run folders (default: a temp dir)")
    ap.add_argument("--studies", type=int, default=None, help="N studies (default 64 on GPU, 8 on CPU)")
    ap.add_argument("--new-tokens", type=int, default=None, help="L new tokens per study (1024 GPU, 64 CPU)")
    ap.add_argument("--batch-sizes", default=None, help="hf batch sizes (default '64,32,8' GPU, '8,4,1' CPU)")
    ap.add_argument("--max-batches", type=int, default=None,
                    help="each hf contender runs at most this many full batches, min(N, K*B) studies; "
                         "0: all N (default 1 on GPU, 0 on CPU)")
    ap.add_argument("--baseline-studies", type=int, default=None,
                    help="studies the loop is timed on (default 4 on GPU, all N on CPU)")
    ap.add_argument("--vllm-studies", type=int, default=None,
                    help="studies for the vllm contender (default 256 on GPU; the dataset grows to fit)")
    ap.add_argument("--vllm-memory", type=float, default=0.85, help="vLLM gpu_memory_utilization")
    ap.add_argument("--repeats", type=int, default=None,
                    help="run each loop/hf contender R times, keep the fastest (default 1 on GPU, 3 on CPU, "
                         "where other processes share the cores)")
    ap.add_argument("--threads", type=int, default=None,
                    help="torch CPU threads (default 1 without a GPU: two threads on two shared cores run up "
                         "to 20x slower whenever another process takes a core; unchanged with a GPU)")
    ap.add_argument("--contenders", default="loop,hf,vllm", help="any of loop,hf,vllm")
    ap.add_argument("--sampling", choices=("greedy", "paper"), default="greedy",
                    help="paper: T 0.7, top-k 50 (the benchmark's script); the equality check needs greedy")
    ap.add_argument("--time-limit", type=float, default=0,
                    help="seconds: a contender is skipped (its row says so) when the run has used this much, or "
                         "would pass it by the previous contender's wall time; the table is printed either way")
    ap.add_argument("--seed-demo", type=Path, default=None,
                    help=f"folder of the demo's three JPEGs (default {SEED_DEMO}; synthetic slices if absent)")
    ap.add_argument("--warmup-tokens", type=int, default=None,
                    help="new tokens of the untimed batch-1 warm-up generation (default: L)")
    ap.add_argument("--json", type=Path, default=None, help="also write the numbers here (after every row)")
    ap.add_argument("--dry-run", action="store_true",
                    help="build the config on the meta device, print parameter count and plan; allocate nothing")
    args = ap.parse_args(argv)
    args.shape = args.shape or ("7b" if cuda else "tiny")
    cuda = cuda or (args.dry_run and args.shape == "7b")  # a 7B dry run shows the GPU plan
    args.dtype = args.dtype or ("bfloat16" if cuda else "float32")
    args.studies = args.studies or (64 if cuda else 8)
    args.new_tokens = args.new_tokens or (1024 if cuda else 64)
    args.batch_sizes = [int(b) for b in (args.batch_sizes or ("64,32,8" if cuda else "8,4,1")).split(",") if b]
    args.max_batches = (1 if cuda else 0) if args.max_batches is None else args.max_batches
    args.baseline_studies = args.baseline_studies or (4 if cuda else args.studies)
    args.vllm_studies = args.vllm_studies or (256 if cuda else args.studies)
    args.repeats = args.repeats or (1 if cuda else 3)
    args.contenders = {c.strip() for c in args.contenders.split(",") if c.strip()}
    bad = args.contenders - {"loop", "hf", "vllm"}
    if bad or min(args.batch_sizes, default=0) < 1 or args.studies < 1 or args.new_tokens < 1:
        ap.error(f"bad --contenders {sorted(bad)}" if bad else "sizes must be >= 1")
    args.model_dir = args.model_dir or Path(tempfile.gettempdir()) / "pet2rep-bench" / f"{FAMILY}-{args.shape}-{args.dtype}"
    return args


def dry_run(args: argparse.Namespace, work: Path) -> int:
    import vlm_factory as vf

    params, config = count_parameters_meta(args.shape)
    tc = config.text_config
    dataset, source = build_dataset(work / "dataset", 1, args.seed_demo)
    from pet2rep.prompts.dataset import read_dataset

    _, processor = vf.tiny_vlm_parts(FAMILY, config_overrides=shape_overrides(args.shape))
    rec = read_dataset(dataset)[0]
    conv, images = _conversation(rec, dataset.parent)
    text = processor.apply_chat_template(conv, add_generation_prompt=True, tokenize=False)
    ids = processor(text=[text], images=images, return_tensors="pt")["input_ids"][0]
    n_prompt, n_image = int(ids.shape[0]), int((ids == config.image_token_id).sum())
    head_dim = tc.hidden_size // tc.num_attention_heads
    kv_per_token = 2 * tc.num_hidden_layers * tc.num_key_value_heads * head_dim * 2  # bf16 bytes
    print(f"shape {args.shape}: {params:,} parameters ({params:.3e}), {params * 2 / 2**30:.1f} GiB in bf16 "
          f"(meta device, nothing allocated)")
    print(f"text: hidden {tc.hidden_size}, layers {tc.num_hidden_layers}, heads {tc.num_attention_heads}/"
          f"{tc.num_key_value_heads} kv, vocab {tc.vocab_size}; vision depth {config.vision_config.depth}")
    print(f"prompt: {n_prompt} tokens ({n_image} of them image tokens, 3 images); L = {args.new_tokens}; "
          "KV cache per study at the end "
          f"{kv_per_token * (n_prompt + args.new_tokens) / 2**20:.0f} MiB (bf16)")
    plan = [f"loop on {min(args.baseline_studies, args.studies)} studies"] if "loop" in args.contenders else []
    if "hf" in args.contenders:
        for b in args.batch_sizes:
            n = min(args.studies, b * args.max_batches) if args.max_batches else args.studies
            plan.append(f"hf batch {b} on {n} studies (KV ~{kv_per_token * (n_prompt + args.new_tokens) * min(b, n) / 2**30:.1f} GiB)")
    if "vllm" in args.contenders:
        plan.append(f"vllm on {args.vllm_studies} studies (needs `import vllm` and CUDA)")
    print("plan: " + "; ".join(plan))
    print(f"images: {source}; model folder: {args.model_dir}")
    return 0


def main(argv: list[str] | None = None) -> int:
    import torch

    cuda = torch.cuda.is_available()
    args = parse_args(argv, cuda)
    work = args.work_dir or Path(tempfile.mkdtemp(prefix="pet2rep-genbench-"))
    work.mkdir(parents=True, exist_ok=True)
    if args.dry_run:
        return dry_run(args, work)
    if args.shape == "7b" and not cuda:
        log("warning: a 7B-shaped model on CPU takes hours per study; use --shape tiny or --dry-run")
    device = "cuda" if cuda else "cpu"
    threads = args.threads or (None if cuda else 1)
    if threads:
        torch.set_num_threads(threads)
    signal.signal(signal.SIGTERM, _terminated)  # `timeout` sends SIGTERM: still print what was measured
    started = time.perf_counter()

    from pet2rep.backends.base import load_card
    from pet2rep.backends.hf import HFBackend
    from pet2rep.prompts.dataset import read_dataset

    t0 = time.perf_counter()
    vllm_ok = "vllm" in args.contenders and cuda and importlib.util.find_spec("vllm") is not None
    n_data = max(args.studies, args.vllm_studies if vllm_ok else 0)
    dataset, source = build_dataset(work / "dataset", n_data, args.seed_demo)
    records = read_dataset(dataset)
    log(f"dataset: {n_data} studies in {dataset} ({time.perf_counter() - t0:.1f} s), images: {source}")
    model_dir, build_s, reused = build_model(args.model_dir, args.shape, args.dtype, device)
    log(f"model: {model_dir} ({'reused' if reused else f'built in {build_s:.1f} s'})")

    L = args.new_tokens
    sampling = PAPER_SAMPLING if args.sampling == "paper" else None
    gen = {"max_new_tokens": L, "min_new_tokens": L, **(sampling or {})}
    card = {**load_card(f"hf:{model_dir}"), "dtype": args.dtype}
    t0 = time.perf_counter()
    hf = HFBackend(card)
    load_s = time.perf_counter() - t0
    params = sum(p.numel() for p in hf.model.parameters())
    log(f"hf backend loaded in {load_s:.1f} s: {params:.3e} parameters, {hf.dtype} on {hf.device}")

    # warm-up, untimed: one whole-length generation at batch 1 (CUDA kernels, and the caching allocator's blocks
    # for a growing KV cache: on an H200 the first 1,024-token study took 3x the second without it), then one
    # token for the prompt length
    t0 = time.perf_counter()
    list(paper_loop(hf.model, hf.processor, records[:1], dataset.parent, args.warmup_tokens or L, None))
    log(f"warm-up: {args.warmup_tokens or L} tokens at batch 1 in {time.perf_counter() - t0:.1f} s")
    n_prompt = next(paper_loop(hf.model, hf.processor, records[:1], dataset.parent, 1, None))[2]

    report = Report(machine_info(), {
        "shape": args.shape, "shape_label": "Qwen2.5-VL-7B shape" if args.shape == "7b" else "tiny Qwen2.5-VL",
        "params": params, "dtype": args.dtype, "device": str(hf.device), "studies": args.studies,
        "prompt_tokens": n_prompt, "new_tokens": L, "decoding": "greedy" if sampling is None else
        "sampling T 0.7 top-k 50", "batch_sizes": args.batch_sizes, "max_batches": args.max_batches,
        "repeats": args.repeats, "torch_threads": torch.get_num_threads(), "images": source,
        "model_dir": str(model_dir), "model_build_s": round(build_s, 1), "hf_load_s": round(load_s, 1)})
    report.notes.append(f"hf rows: the backend is loaded once ({load_s:.1f} s, not in wall s) and handed to "
                        "run_model through backend_factory; the loop uses the same model object; wall s is the "
                        "whole run_model call (images, prompts, generation, run folder writes).")
    if args.max_batches:
        report.notes.append(f"hf rows: each batch size runs at most {args.max_batches} full batch(es) of studies "
                            "(every batch writes the same L tokens per study, so more batches give the same rate).")
    last_wall = 0.0

    def out_of_time(name: str) -> bool:
        used = time.perf_counter() - started
        if args.time_limit and used + last_wall > args.time_limit:
            report.rows.append(Row(name, "-", status="skipped", note=f"--time-limit {args.time_limit:.0f} s "
                                   f"(used {used:.0f} s, the previous contender took {last_wall:.0f} s)"))
            return True
        return False

    try:
        loop_texts: dict[str, str] = {}
        if "loop" in args.contenders:
            subset = records[: min(args.baseline_studies, args.studies)]
            row = Row("loop", "1 (one at a time)")
            try:
                for rep in range(args.repeats):
                    t0 = time.perf_counter()
                    n_done, tokens, per_study = 0, 0, []
                    for sid, text, _, n_new in paper_loop(hf.model, hf.processor, subset, dataset.parent, L,
                                                          sampling):
                        loop_texts[sid] = text
                        n_done, tokens = n_done + 1, tokens + n_new
                        per_study.append(time.perf_counter() - t0 - sum(per_study))
                        log(f"  loop {n_done}/{len(subset)}: {time.perf_counter() - t0:.1f} s")
                    wall = time.perf_counter() - t0
                    if rep == 0 or wall < row.wall_s:
                        row.studies, row.output_tokens, row.wall_s = n_done, tokens, wall
                        row.note = "per study " + ", ".join(f"{x:.1f}" for x in per_study) + " s"
            except Exception as exc:  # noqa: BLE001 - an OOM (or other failure) is a row, the run goes on
                row.status = "OOM" if _is_oom(exc) else "failed"
                row.note = f"{type(exc).__name__}: {str(exc)[:120]}"
                _free_memory()
            report.rows.append(row)
            last_wall = row.wall_s
            log(f"[done] loop: {row.tokens_per_s:.1f} tokens/s ({time.perf_counter() - started:.0f} s in)")
            write_json(report, args.json)

        for b in args.batch_sizes if "hf" in args.contenders else []:
            if out_of_time(f"pet2rep hf {b}"):
                continue
            n = min(args.studies, b * args.max_batches) if args.max_batches else args.studies
            try:
                runs = [run_contender(dataset, card, work / f"run-hf-b{b}", n, gen, _borrowed(hf, b))
                        for _ in range(args.repeats)]
                wall, recs = min(runs, key=lambda run: run[0])
                row = _row_from("pet2rep hf", str(b), wall, recs, None)
                if hf.batch_size < b:
                    row.batch = f"{b} (OOM: ran at {hf.batch_size})"
                if sampling is None and loop_texts:
                    report.equal[f"hf batch {b}"] = compare(loop_texts, recs)
            except Exception as exc:  # noqa: BLE001
                row = Row("pet2rep hf", str(b), status="OOM" if _is_oom(exc) else "failed",
                          note=f"{type(exc).__name__}: {str(exc)[:120]}")
            _free_memory()
            report.rows.append(row)
            last_wall = row.wall_s
            log(f"[done] hf batch {b}: {row.status}, {row.tokens_per_s:.1f} tokens/s "
                f"({time.perf_counter() - started:.0f} s in)")
            write_json(report, args.json)

        hf.close()
        del hf
        _free_memory()

        if "vllm" in args.contenders and not out_of_time("pet2rep vllm"):
            report.rows.append(run_vllm(args, dataset, records, model_dir, gen, work))
            write_json(report, args.json)
    except KeyboardInterrupt:
        report.notes.append(f"interrupted after {time.perf_counter() - started:.0f} s: the rows above are "
                            "what was measured")
        print(table(report))
        write_json(report, args.json)
        return 130
    if any(not v.startswith("yes") for v in report.equal.values()) and args.dtype != "float32":
        report.notes.append(f"(in {args.dtype}, batched kernels round differently from batch 1, so greedy "
                            "random-weight text may part after a while; float32 equality is tested in "
                            "tests/test_hf_backend.py)")
    print(table(report))
    write_json(report, args.json)
    return 0


def _terminated(signum: int, frame: Any) -> None:
    raise KeyboardInterrupt


def run_vllm(args: argparse.Namespace, dataset: Path, records: list[Any], model_dir: Path,
             gen: dict[str, Any], work: Path) -> Row:
    """The vllm contender (engine start-up and one warm-up request untimed), or a skipped row saying why."""
    import torch

    if importlib.util.find_spec("vllm") is None or not torch.cuda.is_available():
        why = "vllm not importable" if importlib.util.find_spec("vllm") is None else "no CUDA GPU"
        return Row("pet2rep vllm", "engine", status="skipped", note=why)
    from pet2rep.backends.base import GenerationConfig, load_backend, load_card
    from pet2rep.runs import to_request

    n = min(args.vllm_studies, len(records))
    max_len = -(-(2048 + args.new_tokens) // 1024) * 1024  # the ~1.5k-token prompt + L, rounded up
    card = {**load_card(f"vllm:{model_dir}"), "dtype": args.dtype, "max_model_len": max_len,
            "gpu_memory_utilization": args.vllm_memory}
    backend = None
    try:
        t0 = time.perf_counter()
        backend = load_backend(card)
        warm = to_request(records[0], dataset.parent, GenerationConfig(max_new_tokens=4))
        list(backend.generate([warm]))  # starts the engine
        load_s = time.perf_counter() - t0
        log(f"vllm engine started in {load_s:.1f} s")
        wall, recs = run_contender(dataset, card, work / "run-vllm", n, gen, _borrowed(backend))
        row = _row_from("pet2rep vllm", f"engine ({backend.chunk_size}/chunk)", wall, recs, load_s)
    except Exception as exc:  # noqa: BLE001
        row = Row("pet2rep vllm", "engine", status="OOM" if _is_oom(exc) else "failed",
                  note=f"{type(exc).__name__}: {str(exc)[:160]}")
    finally:
        if backend is not None:
            backend.close()
        _free_memory()
    log(f"[done] vllm: {row.status}, {row.tokens_per_s:.1f} tokens/s")
    return row


if __name__ == "__main__":
    sys.exit(main())
