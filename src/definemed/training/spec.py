"""The run specification one training job reads (written by the launcher as JSON next to its outputs).

The stage builds it from `cfg.cpt` and the stage paths; `torchrun -m definemed.training.worker run.json`
runs it. Every field is validated before any process group starts.
"""
from __future__ import annotations

from pathlib import Path
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from definemed.errors import DefinemedError


class RunSpec(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True, protected_namespaces=())

    model_dir: str
    """Hugging Face folder of the model to train (safetensors)."""
    data: str
    """Token file stem (`<data>.tokens` / `<data>.offsets`, see `definemed.packing.write_token_file`)."""
    plan: str
    """Packing plan (.npz) over the token file's documents."""
    out_dir: str
    """Run folder: checkpoints/, metrics.jsonl, export/."""
    seq_len: int = Field(ge=2)
    global_batch: int = Field(ge=1)
    """Sequences per optimizer step, over all ranks."""
    micro_batch_size: int = Field(1, ge=1)
    steps: int = Field(ge=1)
    lr: float = Field(gt=0)
    min_lr_ratio: float = Field(0.1, ge=0, le=1)
    warmup_steps: int = Field(0, ge=0)
    weight_decay: float = Field(0.1, ge=0)
    betas: tuple[float, float] = (0.9, 0.95)
    eps: float = Field(1e-8, gt=0)
    grad_clip: float = Field(1.0, ge=0)
    """Max global gradient norm; 0 disables clipping."""
    dp_replicate: int = Field(1, ge=1)
    """HSDP: replicas (outer mesh dimension); the world size must be a multiple. 1 = plain FSDP."""
    nnodes: int | None = Field(None, ge=1)
    """Nodes the config plans for; the launch must match (None: any)."""
    nproc_per_node: int | None = Field(None, ge=1)
    """Processes (GPUs) per node the config plans for; the launch must match (None: any)."""
    accumulate: Literal["reduce_scatter", "no_sync"] = "reduce_scatter"
    """Gradient accumulation: reduce-scatter every micro batch (sharded gradients only; HSDP
    all-reduces across replicas on the last micro batch), or no_sync (full unsharded fp32
    gradients on every rank until the last micro batch: less communication, more memory)."""
    loss_chunk_tokens: int = Field(1024, ge=1)
    """Tokens per chunk of the LM head + cross-entropy (the full fp32 logits are never built)."""
    nonfinite_patience: int = Field(0, ge=0)
    """Steps in a row with a non-finite loss or gradient norm that are skipped (not applied)
    before the run stops; 0 stops at the first."""
    track_memory: bool = False
    """CPU only: record peak allocated bytes per step with torch's MemTracker (slow; tests and
    plan checks). On CUDA the allocator's peak is always recorded."""
    activation_checkpointing: bool = False
    mixed_precision: Literal["auto", "bf16", "fp32"] = "auto"
    """auto: bf16 parameters with fp32 gradient reduction on CUDA, fp32 on CPU."""
    checkpoint_every: int = Field(0, ge=0)
    """Steps between distributed checkpoints; 0 = only at the end."""
    keep_checkpoints: int = Field(2, ge=1)
    resume: bool = True
    """Continue from the newest complete checkpoint in out_dir/checkpoints if there is one."""
    seed: int = 1234
    torch_threads: int = Field(1, ge=1)
    """Intra-op threads per process (CPU); one per process when processes = cores."""
    log_every: int = Field(10, ge=1)
    export_dtype: Literal["auto", "float32", "bfloat16"] = "auto"
    """auto: the dtype in the foundation's config.json."""

    @classmethod
    def read(cls, path: str | Path) -> "RunSpec":
        path = Path(path)
        if not path.is_file():
            raise DefinemedError(f"{path}: run spec not found")
        try:
            return cls.model_validate_json(path.read_text(encoding="utf-8"))
        except ValidationError as e:
            err = e.errors()[0]
            raise DefinemedError(f"{path}: key '{'.'.join(map(str, err['loc']))}': {err['msg']}") from None

    def write(self, path: str | Path) -> Path:
        from definemed.io import write_text

        return write_text(path, self.model_dump_json(indent=2) + "\n")

    @property
    def run_dir(self) -> Path:
        return Path(self.out_dir)

    def check_world(self, world_size: int, local_world_size: int | None = None) -> None:
        """Mesh and batch shape must divide, and the launch must be the topology the config plans
        (nodes x processes per node): a clear error before any work."""
        local = local_world_size or world_size
        nodes = world_size // local if world_size % local == 0 else None
        if self.nproc_per_node is not None and local != self.nproc_per_node:
            raise DefinemedError(
                f"nproc_per_node: the launch has {local} processes per node, the config plans "
                f"{self.nproc_per_node} (cpt.nproc_per_node)")
        if self.nnodes is not None and nodes != self.nnodes:
            raise DefinemedError(
                f"nnodes: the launch has {world_size} ranks = {nodes or world_size / local:g} node(s) x {local}, "
                f"the config plans {self.nnodes} node(s) (cpt.nnodes; a mesh for another allocation would "
                "shard across nodes silently)")
        if world_size % self.dp_replicate:
            raise DefinemedError(
                f"dp_replicate: world size {world_size} is not a multiple of the HSDP replicate degree "
                f"{self.dp_replicate} (mesh {self.dp_replicate} x {world_size / self.dp_replicate:g})")
        shard = world_size // self.dp_replicate
        if nodes and nodes > 1 and shard % local and local % shard:
            raise DefinemedError(
                f"dp_replicate: shard groups of {shard} ranks do not align with nodes of {local} processes "
                f"(set cpt.dp_replicate to a multiple of the {nodes} nodes, e.g. {nodes})")
        per_rank = self.global_batch / world_size
        if self.global_batch % (world_size * self.micro_batch_size):
            raise DefinemedError(
                f"global_batch: {self.global_batch} sequences do not split into {world_size} ranks x "
                f"micro batches of {self.micro_batch_size} (per rank {per_rank:g})")
