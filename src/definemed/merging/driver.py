"""The streaming merge: a mergekit-style SLERP config -> a Hugging Face model folder.

    merge("merge.yaml", "out/")      # or merge(spec_dict, ...)

1. validate the config (`spec.load_spec`) and both model folders (same architecture, same tensor
   names and shapes; a corrupt shard, a missing tensor or a shape mismatch is an error naming it);
2. plan every output tensor: which input tensors, which t (filters and layer gradients resolved as
   mergekit does), which dtype; the output layout is fixed before any arithmetic;
3. merge tensor by tensor on a thread pool: inputs are memory-mapped views, SLERP runs in chunks of
   2^20 elements, and each result chunk is written to its final place in the output shard; t = 0 and
   t = 1 copy the endpoint (plus 0 times the other, which turns -0.0 into +0.0 as mergekit does);
   a slice may name its own base_model (the same two models, roles swapped), as in mergekit;
4. copy the base model's tokenizer, chat template and generation config, write config.json (layer
   count and dtype updated), the normalised merge config `merge_config.yaml`, a per-tensor report
   `merge_report.json` and a model card `README.md`.

Everything is written into a temporary folder next to OUT_DIR and renamed at the end, so a failed
merge leaves no partial output; an existing OUT_DIR is refused unless force=True.
"""
from __future__ import annotations

import json
import os
import re
import shutil
import time
from concurrent.futures import FIRST_EXCEPTION, ThreadPoolExecutor, wait
from dataclasses import dataclass, field
from pathlib import Path
from typing import Optional

import torch
import yaml
from definemed.progress import tqdm

from definemed import io
from definemed.errors import DefinemedError
from definemed.finite import check_tensor
from definemed.merging.hf_folder import OutTensor, SafetensorsModel, ShardedWriter, text_config
from definemed.merging.slerp import SlerpPlan
from definemed.merging.spec import MergeSpec, layer_position, load_spec, resolve_t

LAYER_RE = re.compile(r"^(?P<prefix>.*?\blayers\.)(?P<idx>\d+)(?P<suffix>\..+)$")
TOKENIZER_FILES = (
    "tokenizer_config.json", "special_tokens_map.json", "tokenizer.json", "tokenizer.model", "added_tokens.json",
    "merges.txt", "vocab.json", "chat_template.jinja", "chat_template.json", "generation_config.json",
)
"""Copied from the base model (mergekit's list plus vocab.json)."""
DEFAULT_SHARD_BYTES = 5 * 1000**3
"""mergekit's default `--out-shard-size` (5B bytes)."""


def is_post_weight(name: str) -> bool:
    """Tensors after the decoder layers (final norm, LM head): mergekit's `post_weights`."""
    return name.startswith("lm_head.") or bool(re.match(r"^(model\.)?norm\.", name))


@dataclass
class Job:
    out: str
    base_name: str
    other_name: str
    t: Optional[float]
    """None: a non-floating tensor, copied (both inputs must agree)."""
    kind: str
    """pre, layer or post."""
    layer: Optional[int]
    shape: tuple[int, ...]
    storage_dtype: torch.dtype
    out_dtype: torch.dtype
    numel: int
    cos: float = float("nan")
    linear: bool = False
    seconds: float = 0.0
    swapped: bool = False
    """The tensor's slice names the other model as its base_model: `base_name` (t = 0) is then read from
    the other model and `other_name` (t = 1) from the base model, as mergekit does."""


@dataclass
class MergePlan:
    spec: MergeSpec
    base: SafetensorsModel
    other: SafetensorsModel
    jobs: list[Job] = field(default_factory=list)
    layer_map: list[int] = field(default_factory=list)
    """Output layer -> the input layer of its slice's base model."""

    def endpoints(self, job: Job) -> tuple[SafetensorsModel, SafetensorsModel]:
        """The models giving `job.base_name` (t = 0) and `job.other_name` (t = 1)."""
        return (self.other, self.base) if job.swapped else (self.base, self.other)


def _dtype(name: Optional[str]) -> Optional[torch.dtype]:
    return getattr(torch, name) if name else None


def _split_layers(model: SafetensorsModel) -> tuple[dict[int, dict[str, str]], list[str]]:
    layers: dict[int, dict[str, str]] = {}
    rest = []
    for name in model.tensors:
        m = LAYER_RE.match(name)
        if m:
            layers.setdefault(int(m["idx"]), {})[m["prefix"] + "{}" + m["suffix"]] = name
        else:
            rest.append(name)
    return layers, rest


def plan_merge(spec: MergeSpec) -> MergePlan:
    """Open both models, check they can be merged, and resolve every output tensor."""
    base, other = SafetensorsModel(spec.base_model), SafetensorsModel(spec.other_model)
    bc, oc = text_config(base.config), text_config(other.config)
    for key in ("architectures", "model_type"):
        if base.config.get(key) != other.config.get(key):
            raise DefinemedError(f"{other.folder}: {key} {other.config.get(key)!r} differs from the base model's "
                                 f"{base.config.get(key)!r}")
    for key in ("hidden_size", "vocab_size", "num_attention_heads", "num_key_value_heads", "intermediate_size"):
        if bc.get(key) != oc.get(key):
            raise DefinemedError(f"{other.folder}: config {key} = {oc.get(key)} differs from the base model's "
                                 f"{bc.get(key)} ({spec.base_model})")
    plan = MergePlan(spec, base, other)
    b_layers, b_rest = _split_layers(base)
    o_layers, o_rest = _split_layers(other)
    if not b_layers:
        raise DefinemedError(f"{base.folder}: no decoder layers ('*.layers.N.*' tensors) found")
    head = "lm_head.weight" in base.tensors or "lm_head.weight" in other.tensors
    b_src, o_src = _tied_sources(base, b_rest, head), _tied_sources(other, o_rest, head)
    for name in sorted(set(o_src) - set(b_src)):
        raise DefinemedError(f"{base.folder}: tensor {name} is missing (present in {other.folder})")
    for name in sorted(set(b_src) - set(o_src)):
        raise DefinemedError(f"{other.folder}: tensor {name} is missing (present in {base.folder})")
    if head and "lm_head.weight" not in b_rest:
        b_rest = b_rest + ["lm_head.weight"]  # only the other model has a separate head
    sd, od = _dtype(spec.dtype), _dtype(spec.out_dtype)

    def add(out: str, bname: str, oname: str, t: float, kind: str, layer: Optional[int], swapped: bool) -> None:
        job = Job(out, bname, oname, t, kind, layer, (), torch.float32, torch.float32, 0, swapped=swapped)
        a, b = plan.endpoints(job)
        bi, oi = a.tensors[bname], b.tensors[oname]
        if bi.shape != oi.shape:
            raise DefinemedError(f"{b.folder}: tensor {oname} has shape {list(oi.shape)}, the base model's "
                                 f"{bname} has {list(bi.shape)}")
        floating = bi.dtype.is_floating_point and oi.dtype.is_floating_point
        if not floating:
            if bi.dtype != oi.dtype:
                raise DefinemedError(f"{b.folder}: tensor {oname}: non-floating dtypes differ ({oi.dtype} vs {bi.dtype})")
            storage = bi.dtype
        else:
            storage = torch.promote_types(sd or bi.dtype, sd or oi.dtype)
        job.t = t if floating else None
        job.shape, job.storage_dtype, job.numel = bi.shape, storage, bi.numel
        job.out_dtype = (od or storage) if floating else storage
        plan.jobs.append(job)

    def swapped(s) -> bool:  # the slice's base_model is the other model (mergekit's per-slice base_model)
        return s.base.model != spec.base_model

    def outside(name: str, si: int, kind: str) -> None:
        # mergekit plans the pre-weights with the first slice's base model, the post-weights with the last's
        sw = swapped(spec.slices[si])
        a_src, o_srcs = (o_src, b_src) if sw else (b_src, o_src)
        add(name, a_src[name], o_srcs[name], resolve_t(spec, si, name, 0.0), kind, None, sw)

    last = len(spec.slices) - 1
    pre = [n for n in b_rest if not is_post_weight(n)]
    post = [n for n in b_rest if is_post_weight(n)]
    for name in pre:
        outside(name, 0, "pre")
    out_idx = 0
    for si, s in enumerate(spec.slices):
        sw = swapped(s)
        (am, a_layers), (om, x_layers) = ((other, o_layers), (base, b_layers)) if sw else \
            ((base, b_layers), (other, o_layers))
        for off in range(s.n_layers):
            bl, ol = s.base.start + off, s.other.start + off
            if bl not in a_layers:
                raise DefinemedError(f"{am.folder}: layer {bl} has no tensors")
            bt, ot = a_layers[bl], x_layers.get(ol, {})
            for tpl in sorted(set(ot) - set(bt)):
                raise DefinemedError(f"{am.folder}: tensor {tpl.format(bl)} is missing "
                                     f"(present in {om.folder} as {tpl.format(ol)})")
            pos = layer_position(off, s.n_layers)
            for tpl, bname in bt.items():
                if tpl not in ot:
                    raise DefinemedError(f"{om.folder}: tensor {tpl.format(ol)} is missing")
                out = tpl.format(out_idx)
                add(out, bname, ot[tpl], resolve_t(spec, si, out, pos), "layer", out_idx, sw)
            plan.layer_map.append(bl)
            out_idx += 1
    for name in post:
        outside(name, last, "post")
    # with both models tied no lm_head.weight exists or is written (as in mergekit); a filter aimed at
    # it then matches nothing, which mergekit accepts too
    return plan


def _tied_sources(model: SafetensorsModel, rest: list[str], head: bool) -> dict[str, str]:
    """Output name -> this model's tensor outside the layers. As in mergekit, whose architectures mark
    lm_head.weight optional with the input embeddings as its tied name: a model without a separate
    head gives its embeddings when the other model has one (then the head is merged and written)."""
    out = {n: n for n in rest}
    if head and "lm_head.weight" not in out:
        embed = next((n for n in rest if n.endswith("embed_tokens.weight")), None)
        if embed is not None:
            out["lm_head.weight"] = embed
    return out


def _run_job(job: Job, plan: MergePlan, writer: ShardedWriter, device: Optional[str]) -> None:
    t0 = time.perf_counter()
    model_a, model_b = plan.endpoints(job)
    a = model_a.tensor(job.base_name)
    b = model_b.tensor(job.other_name)
    out_item = job.out_dtype.itemsize

    def check_inputs() -> None:
        # NaN / Inf in an input (a diverged CPT run, a damaged file) would silently make the whole
        # output tensor NaN: refuse it by name. Chunked, releasing pages, like the merge itself.
        for model, name, flat in ((model_a, job.base_name, a), (model_b, job.other_name, b)):
            check_tensor(flat, name, model.folder,
                         release=lambda s, c, model=model, name=name: model.release(name, s, c))

    try:
        slerping = job.t is not None and job.t not in (0.0, 1.0)
        if not slerping:
            check_inputs()  # SLERP's norm pass finds a non-finite input itself (on_non_finite)
        if job.t is None:
            if not torch.equal(a, b):
                raise DefinemedError(f"{model_b.folder}: non-floating tensor {job.other_name} differs from the "
                                     "base model's; it cannot be interpolated")
            writer.write(job.out, 0, a)
        elif job.t in (0.0, 1.0):
            # t = 0 / t = 1: SLERP's coefficients are exactly (1, 0) / (0, 1), so mergekit's
            # 1·x + 0·y is the endpoint x except for its sign of zero: -0.0 + (+0.0) = +0.0.
            # endpoint + 0·(other endpoint) in the storage dtype gives the same bits (both are exact)
            step = 1 << 22
            for start in range(0, job.numel, step):
                x, y = a[start:start + step], b[start:start + step]  # memory-mapped: never written
                keep, zero = (x, y) if job.t == 0.0 else (y, x)
                r = keep.to(job.storage_dtype, copy=True).add_(zero.to(job.storage_dtype).mul(0))
                writer.write(job.out, start * out_item, r.to(job.out_dtype))
                model_a.release(job.base_name, start, step)
                model_b.release(job.other_name, start, step)
        else:
            def release(start: int, count: int) -> None:
                model_a.release(job.base_name, start, count)
                model_b.release(job.other_name, start, count)

            p = SlerpPlan(job.t, a, b, storage_dtype=job.storage_dtype, device=device, release=release,
                          on_non_finite=check_inputs)

            def write(start: int, chunk: torch.Tensor) -> None:
                writer.write(job.out, start * out_item, chunk.to(job.storage_dtype).to(job.out_dtype).cpu())

            p.combine(write)
            job.cos, job.linear = p.cos, p.linear
    finally:
        del a, b
        model_a.release(job.base_name)
        model_b.release(job.other_name)
    job.seconds = time.perf_counter() - t0


def check_device(device: Optional[str]) -> str:
    """'auto' | 'cpu' | 'cuda' | 'cuda:N' -> the device SLERP runs on; anything else is an error."""
    if device in (None, "auto"):
        return "cuda" if torch.cuda.is_available() else "cpu"
    if not re.fullmatch(r"cpu|mps|cuda(:\d+)?", device):
        raise DefinemedError(f"device '{device}': expected auto, cpu, mps, cuda or cuda:N (merge.device / --device)")
    if device.startswith("cuda"):
        if not torch.cuda.is_available():
            raise DefinemedError(f"device '{device}': no CUDA device available")
        if ":" in device and int(device.split(":")[1]) >= torch.cuda.device_count():
            raise DefinemedError(f"device '{device}': only {torch.cuda.device_count()} CUDA device(s)")
    return device


def default_threads() -> int:
    """Tensors in flight at once: twice the CPUs (at most 8), so page faults and writes, which block,
    overlap with arithmetic (measured on 2 cores: 4 threads 4.3 s, 2 threads 6.3 s, 1 thread 12.8 s)."""
    return max(2, min(8, 2 * (os.cpu_count() or 1)))


def _out_config(plan: MergePlan) -> dict:
    cfg = json.loads(json.dumps(plan.base.config))
    text = text_config(cfg)
    n_base = text["num_hidden_layers"]
    text["num_hidden_layers"] = len(plan.layer_map)
    if isinstance(text.get("layer_types"), list) and len(text["layer_types"]) == n_base:
        text["layer_types"] = [text["layer_types"][i] for i in plan.layer_map]
    if any(j.out == "lm_head.weight" for j in plan.jobs):
        # a tied base merged with an untied model: the merged head is written, so it must not be tied
        # on load (mergekit keeps the base's flag, and transformers would then ignore the head)
        for c in {id(cfg): cfg, id(text): text}.values():
            if c.get("tie_word_embeddings"):
                c["tie_word_embeddings"] = False
    dtype = plan.spec.out_dtype or plan.spec.dtype
    if dtype:
        cfg["dtype" if "torch_dtype" not in cfg else "torch_dtype"] = dtype
    return cfg


def model_card(plan: MergePlan, name: str, config_yaml: str, out_dir: Path | None = None) -> str:
    from definemed.cards import merge_card

    return merge_card(plan, name, config_yaml, out_dir)


def merge(config, out_dir: str | os.PathLike, *, force: bool = False, threads: Optional[int] = None,
          device: Optional[str] = None, max_shard_bytes: int = DEFAULT_SHARD_BYTES, progress: bool = True) -> dict:
    """Run a SLERP merge; return a summary (paths, counts, seconds). See the module docstring."""
    t_start = time.perf_counter()
    out_dir = io.check_output_dir(Path(out_dir).absolute())
    device = check_device(device)
    if threads is not None and threads < 1:
        raise DefinemedError(f"threads: {threads} (--threads needs at least 1)")
    if max_shard_bytes < 1:
        raise DefinemedError(f"max_shard_size: {max_shard_bytes} bytes (--max-shard-size needs at least 1 byte)")
    if out_dir.exists() and not force:
        raise DefinemedError(f"{out_dir}: output folder exists (use --force to replace it)")
    spec = config if isinstance(config, MergeSpec) else load_spec(config)
    for m in spec.models:
        if out_dir.resolve() == m or m.is_relative_to(out_dir.resolve()):
            raise DefinemedError(f"{out_dir}: the output folder would replace the input model {m}")
    plan = plan_merge(spec)
    threads = threads or default_threads()
    try:
        with io.atomic_dir(out_dir, force=force) as tmp:
            outs = [OutTensor(j.out, j.out_dtype, j.shape) for j in plan.jobs]
            writer = ShardedWriter(tmp, outs, max_shard_bytes, metadata={"merge": "definemed-slerp"})
            # torch's intra-op thread count is left alone: it fixes how reductions split a tensor, and
            # mergekit runs with the default, so equal thread counts give bit-identical results
            order = sorted(plan.jobs, key=lambda j: -j.numel)  # big tensors first: no straggler at the end
            bar = tqdm(total=sum(j.numel for j in plan.jobs), unit="param", unit_scale=True, desc="merge",
                       disable=not progress)
            try:
                with ThreadPoolExecutor(max_workers=threads) as pool:
                    futures = {pool.submit(_run_job, j, plan, writer, device): j for j in order}
                    for f in futures:
                        f.add_done_callback(lambda f, j=futures[f]: bar.update(j.numel))
                    done, pending = wait(futures, return_when=FIRST_EXCEPTION)
                    for f in pending:
                        f.cancel()
                    for f in done:
                        f.result()
            finally:
                writer.close()
                bar.close()
            _finish(plan, tmp, out_dir.name)
    finally:
        plan.base.close()
        plan.other.close()
    merged = [j for j in plan.jobs if j.t is not None]
    return {
        "out_dir": str(out_dir), "tensors": len(plan.jobs), "layers": len(plan.layer_map),
        "shards": writer.n_shards, "bytes": writer.total_size, "threads": threads, "device": device,
        "seconds": round(time.perf_counter() - t_start, 3),
        "slerp_tensors": sum(1 for j in merged if j.t not in (0.0, 1.0)),
        "copied_tensors": sum(1 for j in plan.jobs if j.t is None or j.t in (0.0, 1.0)),
    }


def _finish(plan: MergePlan, tmp: Path, name: str) -> None:
    spec = plan.spec
    os.chmod(tmp, 0o755)  # mkdtemp makes it private
    for f in TOKENIZER_FILES:
        src = spec.base_model / f
        if src.is_file():
            shutil.copy2(src, tmp / f)
    io.write_json(tmp / "config.json", _out_config(plan))
    config_yaml = "# mergekit-compatible; normalised by definemed (absolute paths, explicit slices)\n" + \
        yaml.safe_dump(spec.to_mergekit(), sort_keys=False)
    (tmp / "merge_config.yaml").write_text(config_yaml, encoding="utf-8")
    report = {
        "source_config": spec.raw,
        "base_model": str(spec.base_model), "other_model": str(spec.other_model),
        "layer_map": plan.layer_map,
        "tensors": [{"name": j.out, "base": j.base_name, "other": j.other_name, "swapped": j.swapped,
                     "kind": j.kind, "layer": j.layer,
                     "t": j.t, "cos": None if j.cos != j.cos else round(j.cos, 6), "linear": j.linear,
                     "dtype": str(j.out_dtype).removeprefix("torch."), "shape": list(j.shape)}
                    for j in plan.jobs],
    }
    io.write_json(tmp / "merge_report.json", report)
    (tmp / "README.md").write_text(model_card(plan, name, config_yaml, tmp.parent / name), encoding="utf-8")
