"""The stage contract: one way to run, cache and rebuild every stage.

    record = stages.run(cfg, artifacts.FILTER)   # computes, or loads when already done

A stage is done when `data/<p>/<stage>/_stage.json` exists, its fingerprint equals the current one
and the outputs it lists are on disk with their recorded sizes. The fingerprint is a hash of
- the stage's config sections and the seed,
- the content of its code: every `definemed` module its `stage` module imports (transitively) and the
  package's data files, plus any files outside src/ it declares (prompts),
- the content digests of the outputs of the stages it reads (their `_stage.json`).
No path, file time or host enters it, so copying or moving the output tree keeps every stage done.

When the fingerprint changes, the stage's folder is cleared before it runs again (its old outputs
describe other inputs); partial work under the same fingerprint is resumed by the stage itself. The
same modules' import closure gives the Make prerequisites (`python -m definemed deps`).
"""
from __future__ import annotations

import ast
import hashlib
import importlib
import json
import os
import shutil
import time
from fnmatch import fnmatch
from functools import lru_cache
from pathlib import Path

from definemed import artifacts, io, paths
from definemed.context import FINGERPRINT_FILE, StageContext, read_marker, work_key  # noqa: F401
from definemed.errors import DefinemedError
from definemed.lock import output_lock

SRC = paths.ROOT / "src"


# ---- code closure ---------------------------------------------------------------------------
def _module_file(module: str) -> Path | None:
    p = SRC.joinpath(*module.split("."))
    if (p / "__init__.py").is_file():
        return p / "__init__.py"
    return p.with_suffix(".py") if p.with_suffix(".py").is_file() else None


@lru_cache(maxsize=None)
def _imports(file: Path) -> frozenset[str]:
    """`definemed` modules a file imports anywhere (top level or inside functions)."""
    rel = file.relative_to(SRC).with_suffix("")
    package = ".".join(rel.parts if file.name == "__init__.py" else rel.parts[:-1]).removesuffix(".__init__")
    out: set[str] = set()
    for node in ast.walk(ast.parse(file.read_text(encoding="utf-8"), str(file))):
        if isinstance(node, ast.Import):
            out.update(a.name for a in node.names)
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                parts = package.split(".")[: len(package.split(".")) - node.level + 1]
                base = ".".join(parts + ([node.module] if node.module else []))
            out.add(base)
            out.update(f"{base}.{a.name}" for a in node.names)  # `from pkg import module`
    return frozenset(m for m in out if m == "definemed" or m.startswith("definemed."))


def code_closure(*modules: str) -> list[Path]:
    """Source files of `modules` and of every definemed module they import, transitively, plus the
    data files (templates, word lists, task YAML) of each package they touch."""
    seen: set[Path] = set()
    todo = list(modules)
    while todo:
        mod = todo.pop()
        f = _module_file(mod)
        if f is None or f in seen:
            continue
        seen.add(f)
        parts = mod.split(".")
        todo.extend(".".join(parts[:i]) for i in range(1, len(parts)))  # parents run their __init__
        todo.extend(_imports(f))
    data = {d for f in seen for d in f.parent.rglob("*")
            if d.is_file() and d.suffix not in (".py", ".pyc") and "__pycache__" not in d.parts
            and f.parent != SRC / "definemed"}
    return sorted(seen | data)


def notebook_modules(stage: str) -> list[str]:
    """definemed modules imported by notebooks/src/<stage>.py (the notebook's presentation code)."""
    src = paths.NOTEBOOKS / "src" / f"{artifacts.notebook_name(stage)}.py"
    if not src.is_file():
        return []
    out = []
    for node in ast.walk(ast.parse(src.read_text(encoding="utf-8"))):
        if isinstance(node, ast.ImportFrom) and (node.module or "").startswith("definemed"):
            out += [node.module] + [f"{node.module}.{a.name}" for a in node.names]
        elif isinstance(node, ast.Import):
            out += [a.name for a in node.names if a.name.startswith("definemed")]
    return out


def compute_files(stage: str) -> list[Path]:
    s = artifacts.spec(stage)
    extra = [f for pattern in s.extra_code for f in sorted(paths.ROOT.glob(pattern)) if f.is_file()]
    return code_closure(f"definemed.{s.package}.stage") + extra


def presentation_files(stage: str) -> list[Path]:
    """What the stage's notebook (or report) shows it with, beyond its computation."""
    nb = [paths.NOTEBOOKS / f"{artifacts.notebook_name(stage)}.ipynb"] if artifacts.spec(stage).notebook else []
    return nb + code_closure(*notebook_modules(stage), f"definemed.{artifacts.spec(stage).package}.report")


def _digest_files(files: list[Path]) -> str:
    h = hashlib.sha256()
    for f in files:
        h.update(f.relative_to(paths.ROOT).as_posix().encode() + b"\0")
        h.update(hashlib.sha256(f.read_bytes()).digest())
    return h.hexdigest()[:16]


def code_digest(stage: str) -> str:
    """One hash of the stage's computation code (`code_files`)."""
    return hashlib.sha256(json.dumps(code_files(stage), sort_keys=True).encode()).hexdigest()[:16]


def presentation_digest(stage: str) -> str:
    return _digest_files([f for f in presentation_files(stage) if f.is_file()])


def code_files(stage: str) -> dict[str, str]:
    """{repository-relative path: short content hash} of the stage's computation code (what a refusal
    names when the code changed)."""
    return {f.relative_to(paths.ROOT).as_posix(): hashlib.sha256(f.read_bytes()).hexdigest()[:16]
            for f in compute_files(stage)}


# ---- operational keys -----------------------------------------------------------------------
OPERATIONAL_KEYS: dict[str, str] = {
    # how fast, where and how loudly a stage works, never what it computes: outside every fingerprint,
    # so changing one never reruns, clears or refuses a stage (docs/CONTRACTS.md, "Clearing policy")
    "corpus.stream_workers": "parallel download workers; the documents do not depend on them",
    "label.flush_every": "how often partial labels are synced to disk",
    "label.on_settings_change": "what the labeling store does with partial work of other settings",
    "label.max_invalid_share": "when to stop on bad replies; finished labels are the same",
    "label.openai.base_url": "where the served model answers",
    "label.openai.api_key_env": "name of the key's variable",
    "label.openai.concurrency": "requests in flight",
    "label.openai.timeout_s": "client timeout",
    "label.openai.retries": "client retries",
    "label.openai.backoff_s": "client back-off",
    "label.openai.backoff_max_s": "client back-off cap",
    "label.openai.max_consecutive_failures": "when to stop on a dead server",
    "label.openai.max_failed_share": "when to stop on failures",
    "label.transformers.batch_size": "prompts per forward pass",
    "classifier.torch_threads": "CPU threads",
    "filter.batch_size": "documents per forward pass",
    "filter.prefetch_batches": "read-ahead",
    "filter.executor": "local processes or Slurm tasks",
    "filter.tasks": "how the shards are split over tasks",
    "filter.workers": "tasks run at once",
    "filter.doc_batch": "documents per datatrove batch",
    "filter.slurm_partition": "Slurm queue",
    "filter.slurm_time": "Slurm time limit",
    "filter.slurm_cpus_per_task": "Slurm allocation",
    "filter.slurm_mem_per_cpu_gb": "Slurm allocation",
    "filter.slurm_gpus_per_task": "Slurm allocation",
    "filter.slurm_venv_path": "environment on the nodes",
    "zoo.workers": "models built at once (one process each); each model's weights do not depend on it",
    "cpt.log_every": "logging cadence",
    "cpt.checkpoint_every": "checkpoint cadence",
    "cpt.nnodes": "nodes; DCP reshards a checkpoint to another world size",
    "cpt.nproc_per_node": "GPUs per node; DCP reshards",
    "cpt.dp_replicate": "HSDP replicas; DCP reshards",
    "cpt.activation_checkpointing": "recomputes activations, the same math",
    "cpt.loss_chunk_tokens": "chunks of the loss, the same sum",
    "cpt.torch_threads": "CPU threads",
    "cpt.tokenize_num_proc": "tokenizer processes; the token files do not depend on them",
    "cpt.launcher": "torchrun here or the Slurm script",
    "cpt.on_settings_change": "what a run folder of other inputs does",
    "cpt.cluster": "the memory and time plan's hardware description",
    "merge.threads": "CPU threads",
    "evaluate.lm_backend": "lm-eval backend (hf or vllm) for the same log-likelihoods",
    "evaluate.vllm_tensor_parallel_size": "GPUs per model",
    "evaluate.vllm_gpu_memory_utilization": "vLLM memory share",
    "evaluate.generation_backend": "local generation or an OpenAI-compatible server of the same model",
    "evaluate.endpoint": "server URL",
    "evaluate.endpoints": "server URLs",
    "evaluate.served_names": "model names at the server",
    "evaluate.api_key_env": "name of the key's variable",
    "evaluate.judge_endpoint": "judge server URL",
    "evaluate.batch_size": "log-likelihood requests per forward pass",
    "evaluate.gen_batch_size": "prompts per generate call",
    "evaluate.torch_threads": "CPU threads",
    "failure.judge_base_url": "judge server URL",
    "failure.judge_api_key_env": "name of the key's variable",
    "failure.judge_timeout_s": "client timeout",
    "failure.judge_retries": "client retries",
    "failure.judge_concurrency": "requests in flight",
}
"""Dotted config keys that change how a stage runs, not what it computes (logging, checkpoint cadence,
node and thread counts, servers, batch sizes): left out of every fingerprint and work key."""


def _drop(tree: dict, dotted: list[str]) -> dict:
    out = dict(tree)
    for key in dotted:
        head, _, rest = key.partition(".")
        if head in out and rest and isinstance(out[head], dict):
            out[head] = _drop(out[head], [rest])
        elif not rest:
            out.pop(head, None)
    return out


def fingerprinted(cfg, section: str) -> dict:
    """A config section as it enters fingerprints and work keys: without its operational keys."""
    dump = cfg.model_dump(mode="json")[section]
    return _drop(dump, [k.split(".", 1)[1] for k in OPERATIONAL_KEYS if k.split(".", 1)[0] == section])


def validate(cfg) -> None:
    """Every config value checked again (a Config built with model_copy skips pydantic), before the
    runner moves, clears or writes anything; one line naming the key."""
    from pydantic import ValidationError

    try:
        type(cfg).model_validate(cfg.model_dump())
    except ValidationError as e:
        err = e.errors()[0]
        key = ".".join(str(x) for x in err["loc"])
        raise DefinemedError(f"config key '{key}': {err['msg']} (got {err.get('input')!r}); "
                             "nothing was moved or deleted") from None


# ---- records and fingerprints ---------------------------------------------------------------
def read_record(cfg, stage: str) -> dict | None:
    f = artifacts.record_file(cfg, stage)
    if not f.is_file():
        return None
    try:
        return io.read_json(f)
    except (ValueError, OSError):
        return None  # a damaged record is no record: the stage runs again


def _inputs(cfg, stage: str, strict: bool) -> dict:
    inputs = {}
    for up in artifacts.spec(stage).reads:
        rec = read_record(cfg, up)
        if rec is None or not outputs_present(cfg, up, rec):
            if not strict:
                inputs[up] = None
                continue
            raise DefinemedError(f"stage {stage} reads {up}, which is not done "
                                 f"(run `python -m definemed run {up} --profile {cfg.profile}`)")
        inputs[up] = rec["outputs_digest"]
    return inputs


def fingerprint(cfg, stage: str, strict: bool = True) -> tuple[str, dict]:
    """(hash, its parts). Raises when a stage this one reads is not done (strict), else counts it as None."""
    s = artifacts.spec(stage)
    parts = {"stage": stage, "seed": cfg.seed, "config": {k: fingerprinted(cfg, k) for k in s.sections},
             "code": code_digest(stage), "inputs": _inputs(cfg, stage, strict)}
    return fingerprint_of(parts), parts


# ---- the stage folder's marker: which fingerprint its work belongs to --------------------------
def _write_marker(cfg, stage: str, fp: str, parts: dict, work_base: str | None = None) -> None:
    io.write_json(artifacts.stage_dir(cfg, stage) / FINGERPRINT_FILE,
                  {"fingerprint": fp, "work_base": work_base or fp, "parts": parts, "code_files": code_files(stage)})


def _flat(tree, prefix: str = "") -> dict:
    if not isinstance(tree, dict):
        return {prefix: tree}
    out = {}
    for k, v in tree.items():
        out.update(_flat(v, f"{prefix}.{k}" if prefix else str(k)))
    return out


def what_changed(old: dict | None, parts: dict, files: dict) -> str:
    """The change between a marker and the current fingerprint, in words: config keys, modules,
    upstream stages, the seed (at most three of each kind named)."""
    if not old or not old.get("parts"):
        return f"fingerprint {old['fingerprint'] if old else 'missing'} -> {fingerprint_of(parts)}"
    before, said = old["parts"], []

    def name(kind: str, items: list[str]) -> None:
        if items:
            said.append(f"{kind} {', '.join(items[:3])}" + (f" and {len(items) - 3} more" if len(items) > 3 else ""))

    if before.get("seed") != parts["seed"]:
        said.append("seed")
    a, b = _flat(before.get("config", {})), _flat(parts["config"])
    keys = sorted(k for k in a.keys() | b.keys() if a.get(k) != b.get(k))
    name("config key" if len(keys) == 1 else "config keys", keys)
    fa, fb = old.get("code_files") or {}, files
    mods = sorted(k for k in fa.keys() | fb.keys() if fa.get(k) != fb.get(k))
    name("module" if len(mods) == 1 else "modules", mods)
    if not mods and before.get("code") != parts["code"]:
        said.append("code")
    ia, ib = before.get("inputs", {}), parts["inputs"]
    name("outputs of", sorted(k for k in ia.keys() | ib.keys() if ia.get(k) != ib.get(k)))
    return "; ".join(said) or "nothing recorded"


def fingerprint_of(parts: dict) -> str:
    return hashlib.sha256(json.dumps(parts, sort_keys=True).encode()).hexdigest()[:16]


# ---- outputs and their digests ----------------------------------------------------------------
def _is_scratch(rel: str, s: artifacts.StageSpec) -> bool:
    return rel in ("_stage.json", FINGERPRINT_FILE) or any(fnmatch(rel, p) for p in s.scratch) \
        or rel.split("/")[0] in (SUPERSEDED, "_units") or Path(rel).name.startswith(".")


def output_files(cfg, stage: str) -> list[Path]:
    d, s = artifacts.stage_dir(cfg, stage), artifacts.spec(stage)
    return sorted(f for f in d.rglob("*") if f.is_file() and not _is_scratch(f.relative_to(d).as_posix(), s))


VOLATILE = frozenset({"wall_s", "wall_time_s", "seconds", "scored_seconds", "plan_seconds", "merge_seconds",
                      "generation_s", "latency_s", "mean_latency_s", "docs_per_s_this_run", "tokens_per_s",
                      "label_tokens_per_s", "finished_at", "started_at", "hostname", "host",
                      "train_s", "eval_s", "cpu_s", "lm_eval_s", "train_runtime_s", "elapsed_s",
                      "train_runtime", "train_samples_per_second", "train_steps_per_second", "eval_runtime",
                      "eval_samples_per_second", "eval_steps_per_second",  # transformers' Trainer log history
                      "resumed", "reused", "n_shards_skipped"})
"""Fields that differ between two runs computing the same thing (timings, hosts, what a rerun found
already done): kept in the files
for the tables, left out of the content digest, so a rebuild with identical results does not change
the digests the stages after it are keyed by."""


def _strip(obj):
    if isinstance(obj, dict):
        return {k: _strip(v) for k, v in obj.items() if k not in VOLATILE}
    if isinstance(obj, list):
        return [_strip(v) for v in obj]
    return obj


def _sha256(f: Path) -> str:
    h = hashlib.sha256()
    with open(f, "rb") as fh:
        for block in iter(lambda: fh.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()


def content_digest(f: Path) -> str:
    """sha256 of what a file says, without its volatile fields (JSON / JSON-lines keys, parquet
    columns named in VOLATILE); other files (weights, tokens) by their bytes."""
    try:
        if f.suffix == ".json":
            return hashlib.sha256(json.dumps(_strip(json.loads(f.read_bytes())), sort_keys=True).encode()).hexdigest()
        if f.suffix == ".jsonl":
            lines = [json.dumps(_strip(json.loads(line)), sort_keys=True) for line in f.read_bytes().splitlines() if line.strip()]
            return hashlib.sha256("\n".join(lines).encode()).hexdigest()
        if f.suffix == ".parquet":
            import pyarrow as pa
            import pyarrow.parquet as pq

            volatile = [c for c in pq.read_schema(f).names if c in VOLATILE]
            if volatile:
                table = pq.read_table(f).drop_columns(volatile).replace_schema_metadata(None)
                sink = pa.BufferOutputStream()
                with pa.ipc.new_stream(sink, table.schema) as w:
                    w.write_table(table)
                return hashlib.sha256(sink.getvalue().to_pybytes()).hexdigest()
    except (ValueError, OSError, ImportError):
        pass  # not what its name says: digest the bytes
    return _sha256(f)


def outputs_digest(outputs: dict) -> str:
    """The digest the stages after this one are keyed by: over each file's content digest, not its size
    (a timing written with more digits changes the size, not the content)."""
    return hashlib.sha256(json.dumps({k: v[1] for k, v in outputs.items()}, sort_keys=True).encode()).hexdigest()[:16]


def outputs_present(cfg, stage: str, rec: dict) -> bool:
    d = artifacts.stage_dir(cfg, stage)
    return all((d / rel).is_file() and (d / rel).stat().st_size == size for rel, (size, _) in rec["outputs"].items())


def is_done(cfg, stage: str) -> bool:
    rec = read_record(cfg, stage)
    if rec is None or not outputs_present(cfg, stage, rec):
        return False
    try:
        return rec["fingerprint"] == fingerprint(cfg, stage)[0]
    except DefinemedError:
        return False


# ---- the clearing policy ------------------------------------------------------------------------
SUPERSEDED = "superseded"


def _log(msg: str) -> None:
    print(f"[{time.strftime('%H:%M:%S')}] {msg}", flush=True)


def _has_work(d: Path) -> bool:
    return d.is_dir() and any(c.name not in (SUPERSEDED, FINGERPRINT_FILE) for c in d.iterdir())


def supersede(cfg, stage: str, label: str) -> Path:
    """Move everything in the stage folder except earlier superseded work to superseded/<label>/
    (renames on one file system: instant, whatever the size)."""
    d = artifacts.stage_dir(cfg, stage)
    dest = d / SUPERSEDED / label
    n = 1
    while dest.exists():
        n += 1
        dest = d / SUPERSEDED / f"{label}.{n}"
    dest.mkdir(parents=True)
    for child in sorted(d.iterdir()):
        if child.name != SUPERSEDED:
            os.replace(child, dest / child.name)
    return dest


def open_stage(cfg, stage: str, fp: str, parts: dict, force: bool = False) -> None:
    """Make the stage folder hold work of fingerprint `fp`, by the clearing policy of the stage table:
    - same fingerprint: kept (unfinished work is resumed by the stage);
    - an expensive stage (`StageSpec.expensive`) of other inputs, or forced: its files move to
      `superseded/<old fingerprint>/`, or, under `on_stage_change: refuse` (and not forced), the
      stage refuses with one line naming what changed and how to accept it (`adopt`);
    - a cheap stage of other inputs, or forced: cleared and run again.
    Nothing else ever deletes a stage's files. Called with the stage's lock held (or by the one job
    that owns the stage, `training.run_record.claim_stage`)."""
    validate(cfg)
    d = artifacts.stage_dir(cfg, stage)
    old = read_marker(cfg, stage)
    if old is not None and old["fingerprint"] == fp and not force:
        return
    if _has_work(d):
        files = code_files(stage)
        why = "--force" if force else what_changed(old, parts, files)
        if artifacts.spec(stage).expensive:
            if not force and getattr(cfg, "on_stage_change", "refuse") == "refuse":
                raise DefinemedError(
                    f"{d}: made under other inputs ({why}); on_stage_change is 'refuse': restore them, or accept "
                    f"the change with `python -m definemed adopt {stage} --profile {cfg.profile}` if it does not "
                    f"alter the results, or `run {stage} --force` to start over (its files move to {SUPERSEDED}/)")
            dest = supersede(cfg, stage, old["fingerprint"] if old else "unknown")
            _log(f"{stage}: {why}; earlier outputs moved to {dest}; running it again")
        else:
            _log(f"{stage}: {why}; clearing {d} and running it again")
            shutil.rmtree(d)
    d.mkdir(parents=True, exist_ok=True)
    _write_marker(cfg, stage, fp, parts)


def adopt(cfg, stage: str) -> dict:
    """Accept the current code and config for a stage's existing work without recomputing it (for a
    change that does not alter its results: a comment, a refactor, a logging key): the record and the
    marker get the current fingerprint, the outputs and their digest stay (so the stages after it stay
    done), the resumable work keeps its keys. Returns {stage, from, to, changed}."""
    validate(cfg)
    fp, parts = fingerprint(cfg, stage)
    d = artifacts.stage_dir(cfg, stage)
    with output_lock(d, f"stage {stage} (profile {cfg.profile})"):
        old, rec = read_marker(cfg, stage), read_record(cfg, stage)
        if old is None and rec is None:
            raise DefinemedError(f"{d}: stage {stage} has no work to adopt (run it instead)")
        if rec is not None and not outputs_present(cfg, stage, rec):
            raise DefinemedError(f"{artifacts.record_file(cfg, stage)}: outputs missing or changed on disk; "
                                 f"nothing adopted (rerun {stage})")
        change = {"stage": stage, "from": (old or rec)["fingerprint"], "to": fp,
                  "changed": what_changed(old, parts, code_files(stage)),
                  "at": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())}
        _write_marker(cfg, stage, fp, parts, work_base=old["work_base"] if old else fp)
        if rec is not None:
            rec.update(fingerprint=fp, fingerprint_parts=parts, adopted=[*rec.get("adopted", []), change])
            io.write_json(artifacts.record_file(cfg, stage), rec)
    _log(f"{stage}: adopted ({change['changed']}); fingerprint {change['from']} -> {fp}")
    return change


# ---- running --------------------------------------------------------------------------------
def run(cfg, stage: str, force: bool = False) -> dict:
    """Run `stage` unless it is done; return its record (counts, outputs, fingerprint, wall time)."""
    validate(cfg)
    fp, parts = fingerprint(cfg, stage)
    rec = read_record(cfg, stage)
    if not force and rec and rec.get("fingerprint") == fp and outputs_present(cfg, stage, rec):
        _log(f"{stage}: done (fingerprint {fp}); loading its outputs")
        return rec
    d = artifacts.stage_dir(cfg, stage)
    with output_lock(d, f"stage {stage} (profile {cfg.profile})"):  # a second run refuses, never doubles the work
        return _run_locked(cfg, stage, fp, parts, rec, d, force)


def _run_locked(cfg, stage: str, fp: str, parts: dict, rec: dict | None, d: Path, force: bool) -> dict:
    old = read_marker(cfg, stage)
    if not force and old is not None and old["fingerprint"] == fp:
        if rec and rec.get("fingerprint") == fp:  # it had finished, then some outputs changed on disk
            damaged = [d / r for r, (size, _) in rec["outputs"].items()
                       if (d / r).is_file() and (d / r).stat().st_size != size]
            for f in damaged:
                f.unlink()
            _log(f"{stage}: outputs changed since it finished ({len(damaged)} damaged removed); running it again")
        else:
            _log(f"{stage}: resuming unfinished work (fingerprint {fp})")
    open_stage(cfg, stage, fp, parts, force=force)
    artifacts.record_file(cfg, stage).unlink(missing_ok=True)
    module = importlib.import_module(f"definemed.{artifacts.spec(stage).package}.stage")
    t0, cpu0, load0 = time.time(), _cpu_seconds(), os.getloadavg()[0]
    try:
        counts = _call(module.run, cfg, stage)
    except BaseException:
        if {f.name for f in d.iterdir()} == {FINGERPRINT_FILE}:  # it stopped before writing anything
            shutil.rmtree(d)
        raise
    rec = _write_record(cfg, stage, fp, parts, counts, time.time() - t0,
                        {"cpu_time_s": round(_cpu_seconds() - cpu0, 2), "load_1min_start": round(load0, 2),
                         "load_1min_end": round(os.getloadavg()[0], 2)})
    _log(f"{stage}: done in {rec['wall_time_s']:.1f} s ({len(rec['outputs'])} output files)")
    return rec


def _call(run_fn, cfg, stage: str):
    """A migrated stage, `run(ctx)`, gets its StageContext; one not yet migrated, `run(cfg)`, its config."""
    import inspect

    first = next(iter(inspect.signature(run_fn).parameters), None)
    return run_fn(StageContext(cfg, stage) if first == "ctx" else cfg)


def _cpu_seconds() -> float:
    """User + system CPU seconds of this process and of its finished children (torchrun workers, pools)."""
    import resource

    ru = [resource.getrusage(w) for w in (resource.RUSAGE_SELF, resource.RUSAGE_CHILDREN)]
    return sum(r.ru_utime + r.ru_stime for r in ru)


def _write_record(cfg, stage: str, fp: str, parts: dict, counts: dict, wall: float, timing: dict | None = None) -> dict:
    d = artifacts.stage_dir(cfg, stage)
    outputs = {f.relative_to(d).as_posix(): [f.stat().st_size, content_digest(f)] for f in output_files(cfg, stage)}
    rec = {"stage": stage, "fingerprint": fp, "fingerprint_parts": parts, "counts": counts, "outputs": outputs,
           "outputs_digest": outputs_digest(outputs),
           "wall_time_s": round(wall, 2), **(timing or {}),
           "finished_at": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())}
    io.write_json(artifacts.record_file(cfg, stage), rec)
    return rec


def register(cfg, stage: str, counts: dict | None = None) -> dict:
    """Record the files already in a stage's folder as that stage's result under the current
    fingerprint, without running it: for outputs made by other means (tests that build stand-in models,
    a cluster job that ran the stage's own code), so that the stages after it can run. Stages it reads
    that are not done enter its fingerprint as missing."""
    fp, parts = fingerprint(cfg, stage, strict=False)
    d = artifacts.stage_dir(cfg, stage)
    if not d.is_dir():
        raise DefinemedError(f"{d}: nothing to register for stage {stage}")
    old = read_marker(cfg, stage)
    _write_marker(cfg, stage, fp, parts, work_base=old["work_base"] if old else fp)
    return _write_record(cfg, stage, fp, parts, counts or {}, 0.0)


def counts(cfg, stage: str) -> dict:
    """The counts of a done stage (for notebooks that show a stage run elsewhere)."""
    rec = read_record(cfg, stage)
    if rec is None:
        raise DefinemedError(f"{artifacts.record_file(cfg, stage)}: stage {stage} has not run")
    return rec["counts"]


def make_deps(stage: str) -> list[Path]:
    """Files whose change can change what `make` must redo for `stage` (compute and presentation)."""
    return sorted({*compute_files(stage), *presentation_files(stage)}
                  - {paths.NOTEBOOKS / f"{artifacts.notebook_name(stage)}.ipynb"})
