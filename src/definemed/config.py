"""Typed, validated configuration: one YAML file per profile (configs/tiny.yaml, configs/paper.yaml).

Every section is a pydantic model with `extra="forbid"`, so an unknown key or a wrong type is an error
that names the key and the file. Field docstrings say what each value means and why the default.
"""
from __future__ import annotations

import os
from pathlib import Path
from typing import Literal

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError

from definemed import paths
from definemed.errors import ConfigError


class Section(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True, protected_namespaces=())


class CorpusConfig(Section):
    """Stage 00: the web corpus (synthetic FineWeb2-de stand-in, or the real FineWeb2 `deu_Latn`)."""

    source: Literal["synthetic", "hub", "local"] = "synthetic"
    """synthetic: generated here; hub: Hugging Face streaming; local: a folder of parquet/jsonl files."""
    n_docs: int = Field(20_000, ge=1)
    """Documents to generate (synthetic) or to read at most (hub/local)."""
    shard_size: int = Field(5_000, ge=1)
    """Documents per parquet shard."""
    medical_share: float = Field(0.15, ge=0, le=1)
    """Share of medical documents. The web has ~1.7 % (7.3M / 427.7M); the tiny corpus needs more
    medical text for continual pre-training to see every fact often enough."""
    borderline_share: float = Field(0.15, ge=0, le=1)
    """Share of health-adjacent non-medical documents (fitness, wellness, cosmetics, veterinary ...)."""
    n_drugs: int = Field(50, ge=4)
    """Invented drugs in the fact bank; each carries 3 facts (class, indication, side effect)."""
    n_diseases: int = Field(50, ge=4)
    """Invented diseases in the fact bank; each carries 3 facts (organ, cause, leading symptom)."""
    english_doc_share: float = Field(0.05, ge=0, le=1)
    """Share of documents with English sentences mixed in (measured later by language-mix detection)."""
    typo_doc_share: float = Field(0.10, ge=0, le=1)
    """Share of documents with typos injected."""
    typo_word_rate: float = Field(0.03, ge=0, le=1)
    """Probability that a word of a noisy document carries a typo."""
    long_tail_share: float = Field(0.01, ge=0, le=1)
    """Share of documents drawn from the heavy (Pareto) length tail, some longer than 4,096 tokens."""
    expert_sample: int = Field(1_000, ge=0)
    """Documents with an 'expert annotation' (ground truth, read only by stages that used human labels)."""
    expert_borderline_flip: float = Field(0.10, ge=0, le=1)
    """Annotator disagreement on borderline topics: share of borderline expert labels flipped."""
    hf_dataset: str = "HuggingFaceFW/fineweb-2"
    hf_config: str = "deu_Latn"
    hf_split: str = "train"
    local_path: str | None = None
    """Folder of parquet / jsonl files in FineWeb2's schema (source: local)."""


class ModelSpec(Section):
    """One foundation model: a Hugging Face ID (paper) or a locally built stand-in (tiny)."""

    name: str
    """Short name used in tables, e.g. qwen2.5-7b."""
    hf_id: str | None = None
    """Hugging Face model ID (paper profile)."""
    revision: str = "main"
    architecture: Literal["mistral", "qwen2"] = "mistral"
    role: Literal["small", "reference"] = "small"
    """small: adapted by CPT and merged; reference: the large general model the win-rates compare with."""


class ModelsConfig(Section):
    """The foundation models of the study."""

    foundations: list[ModelSpec] = Field(default_factory=list)
    trust_remote_code: bool = False
    """Never needed for Mistral / Qwen2; kept False unless a config opts in."""


class LabelConfig(Section):
    """Stage 01: LLM annotation."""

    backend: Literal["lexicon", "openai", "transformers"] = "lexicon"
    model: str = "mistralai/Mixtral-8x7B-Instruct-v0.1"
    n_docs: int = Field(4_000, ge=1)
    """Documents to label (the paper: 260k)."""


class ClassifierConfig(Section):
    """Stage 02: the XLM-RoBERTa medical classifier."""

    base_model: str = "FacebookAI/xlm-roberta-base"
    threshold: float = Field(0.9, gt=0, lt=1)
    fbeta_beta: float = Field(0.7, gt=0)


class FilterConfig(Section):
    """Stage 03: scoring the corpus and keeping P(medical) >= threshold (threshold from `classifier`)."""

    batch_size: int = Field(64, ge=1)


class ZooConfig(Section):
    """The foundation-model step before 04: tiny stand-ins built here (tiny) or HF downloads (paper)."""

    seed_offset: int = 0


class CPTConfig(Section):
    """Stage 04: bin-packed continual pre-training with FSDP2 / HSDP."""

    seq_len: int = Field(256, ge=2)
    """Tokens per packed sequence. Paper profile: 4,096 (a common CPT context for 7B models; the
    paper does not state it). Tiny: 128, cheap on CPU and longer than the median document."""
    micro_batch_size: int = Field(1, ge=1)
    """The paper: micro batch 1 on memory-limited A100s."""
    global_batch: int = Field(32, ge=1)
    """Sequences per optimizer step over all ranks (gradient accumulation fills the rest).
    32 follows BioMistral's CPT of Mistral-7B-Instruct; tiny: 16 (the calibration run's batch)."""
    epochs: float = Field(3.0, gt=0)
    """Passes over FineMed-de when `steps` is not set (BioMistral: 3 epochs)."""
    steps: int | None = Field(None, ge=1)
    """Optimizer steps; None derives them from `epochs`. Tiny: set so each fact is seen > 200 times."""
    lr: float = Field(2e-5, gt=0)
    """Peak learning rate (BioMistral: 2e-5). Tiny models need 3e-3 to learn facts within minutes."""
    min_lr_ratio: float = Field(0.1, ge=0, le=1)
    """Cosine decay ends at this fraction of the peak."""
    warmup_steps: int = Field(100, ge=0)
    """Linear warm-up steps."""
    weight_decay: float = Field(0.1, ge=0)
    """AdamW weight decay on matrices (not on norms or biases)."""
    grad_clip: float = Field(1.0, ge=0)
    """Max global gradient norm; 0 disables clipping."""
    long_docs: Literal["split", "truncate"] = "split"
    """Documents longer than seq_len: split into pieces (no token lost) or truncated."""
    nproc_per_node: int = Field(2, ge=1)
    """Processes per node (one per GPU; tiny: the 2 CPU cores)."""
    nnodes: int = Field(1, ge=1)
    """Nodes (Slurm script; the notebook launches single-node runs only)."""
    dp_replicate: int = Field(1, ge=1)
    """HSDP replicas: 1 = plain FSDP over all ranks; = nnodes shards within a node and replicates
    across nodes (all-gathers stay on NVLink, only gradient all-reduce crosses nodes)."""
    activation_checkpointing: bool = False
    """Recompute each decoder layer in backward (needed for 7B+ at seq_len 4096 on 40 GB)."""
    mixed_precision: Literal["auto", "bf16", "fp32"] = "auto"
    """auto: bf16 compute with fp32 gradient reduction on GPUs, fp32 on CPU."""
    checkpoint_every: int = Field(500, ge=0)
    """Steps between distributed checkpoints (and always at the end)."""
    replay_share: float = Field(0.0, ge=0, lt=1)
    """Share of general (non-FineMed-de) web tokens mixed in to limit forgetting. 0 = the paper's
    recipe (pure FineMed-de)."""
    heldout_docs: int = Field(200, ge=1)
    """Documents held out of training for perplexity, from FineMed-de and from general text each."""
    max_docs: int | None = Field(None, ge=1)
    """Use at most this many FineMed-de documents (None: all)."""
    torch_threads: int = Field(1, ge=1)
    """Intra-op threads per process on CPU."""
    log_every: int = Field(25, ge=1)
    """Steps between log lines with tokens/s (and MFU on known GPUs)."""
class MergeConfig(Section):
    """Stage 05: layer-wise, component-specific SLERP (mergekit-style)."""

    method: Literal["slerp"] = "slerp"


class FailureConfig(Section):
    """Stage 07: failure analysis."""

    n_samples: int = Field(216, ge=1)
    """Answers per model (the paper: 216)."""


class EvaluateConfig(Section):
    """Stage 06: benchmarks and win-rates."""

    mmlu_dataset: str = "openGPT-X/mmlux"
    mmlu_subjects: list[str] = Field(
        default_factory=lambda: [
            "anatomy", "clinical_knowledge", "college_biology",
            "college_medicine", "medical_genetics", "professional_medicine",
        ]
    )
    medqa_dataset: str = "BioMistral/BioInstructQA"


class Config(Section):
    """A whole profile."""

    profile: str
    seed: int = 1234
    corpus: CorpusConfig = Field(default_factory=CorpusConfig)
    models: ModelsConfig = Field(default_factory=ModelsConfig)
    label: LabelConfig = Field(default_factory=LabelConfig)
    classifier: ClassifierConfig = Field(default_factory=ClassifierConfig)
    filter: FilterConfig = Field(default_factory=FilterConfig)
    zoo: ZooConfig = Field(default_factory=ZooConfig)
    cpt: CPTConfig = Field(default_factory=CPTConfig)
    merge: MergeConfig = Field(default_factory=MergeConfig)
    evaluate: EvaluateConfig = Field(default_factory=EvaluateConfig)
    failure: FailureConfig = Field(default_factory=FailureConfig)

    @property
    def data_dir(self) -> Path:
        return paths.data_dir(self.profile)

    @property
    def figures_dir(self) -> Path:
        return paths.figures_dir(self.profile)

    def stage_dir(self, stage: str) -> Path:
        return paths.stage_dir(self.profile, stage)


def _format_error(file: Path, err: dict) -> str:
    key = ".".join(str(x) for x in err["loc"]) or "<root>"
    if err["type"] == "extra_forbidden":
        return f"{file}: unknown key '{key}'"
    if err["type"] == "missing":
        return f"{file}: missing key '{key}'"
    return f"{file}: key '{key}': {err['msg']} (got {err.get('input')!r})"


def load_config(profile_or_path: str | os.PathLike = "tiny", overrides: dict | None = None) -> Config:
    """Load and validate a profile by name (configs/<name>.yaml) or by path.

    Raises ConfigError with a one-line message naming the file and key.
    """
    file = paths.config_file(profile_or_path)
    if not file.is_file():
        raise ConfigError(f"{file}: config file not found")
    try:
        raw = yaml.safe_load(file.read_text(encoding="utf-8"))
    except yaml.YAMLError as e:
        mark = getattr(e, "problem_mark", None)
        where = f" (line {mark.line + 1})" if mark else ""
        raise ConfigError(f"{file}: malformed YAML{where}: {getattr(e, 'problem', e)}") from None
    if not isinstance(raw, dict):
        raise ConfigError(f"{file}: expected a mapping of sections at the top level")
    for dotted, value in (overrides or {}).items():
        node = raw
        *parents, last = dotted.split(".")
        for p in parents:
            node = node.setdefault(p, {})
        node[last] = value
    try:
        return Config.model_validate(raw)
    except ValidationError as e:
        raise ConfigError(_format_error(file, e.errors()[0])) from None


def resolved(cfg: Config) -> dict:
    """The config as plain data, for manifests."""
    return cfg.model_dump(mode="json")
