"""Typed, validated configuration: one YAML file per profile (configs/tiny.yaml, configs/paper.yaml).

Every section is a pydantic model with `extra="forbid"`, so an unknown key or a wrong type is an error
that names the key and the file. Field docstrings say what each value means and why the default.
"""
from __future__ import annotations

import os
from pathlib import Path
from typing import Annotated, Literal, Optional

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
    micro_batch_size: int = Field(1, ge=1)
    """The paper: micro batch 1 on memory-limited A100s."""


T = Annotated[float, Field(ge=0, le=1)]


class MergeConfig(Section):
    """Stage 05: layer-wise, component-specific SLERP (mergekit-style); base = instruct, other = CPT."""

    method: Literal["slerp"] = "slerp"
    """The paper merges by SLERP; nothing else is implemented."""
    self_attn_t: list[T] = Field(default_factory=lambda: [0.0, 0.5, 0.3, 0.7, 1.0], min_length=1)
    """t anchors for self-attention tensors, spread evenly over the layers (mergekit gradient). The paper's
    exact values are not public; BioMistral's gradient-SLERP template (same CPT-then-merge recipe)."""
    mlp_t: list[T] = Field(default_factory=lambda: [1.0, 0.5, 0.7, 0.3, 0.0], min_length=1)
    """t anchors for MLP tensors (the mirror image of self_attn_t, as in the same template)."""
    default_t: T = 0.5
    """t of every other tensor (embeddings, norms, LM head)."""
    dtype: Optional[Literal["bfloat16", "float16", "float32"]] = None
    """Dtype of the merged weights; None keeps the inputs' dtype (the paper's models are bfloat16)."""
    sweep_t: list[T] = Field(default_factory=lambda: [0.0, 0.25, 0.5, 0.75, 1.0])
    """Global t values of the trade-off sweep (one merge per value, same t for every tensor)."""
    threads: Optional[int] = Field(None, ge=1)
    """Tensors merged in parallel; None: twice the CPU count, at most 8 (blocking I/O overlaps arithmetic)."""
    device: str = "auto"
    """Where SLERP's arithmetic runs: auto (CUDA if present), cpu, cuda, cuda:N."""
    max_shard_size: str = "5GB"
    """Largest output safetensors shard (mergekit's default)."""
    eval_docs: int = Field(200, ge=1)
    """Held-out synthetic documents per domain (medical, general) for the perplexities."""
    eval_seq_len: int = Field(256, ge=8)
    """Tokens per document scored for perplexity (longer documents are cut)."""
    format_prompts: int = Field(50, ge=1)
    """Chat prompts for the instruction-format rate."""
    format_max_new_tokens: int = Field(48, ge=1)
    """Token budget within which an answer must end with the end-of-turn token."""


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
