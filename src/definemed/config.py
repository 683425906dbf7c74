"""Typed, validated configuration: one YAML file per profile (configs/tiny.yaml, configs/paper.yaml).

Every section is a pydantic model with `extra="forbid"`, so an unknown key or a wrong type is an error
that names the key and the file. Field docstrings say what each value means and why the default.
"""
from __future__ import annotations

import os
from pathlib import Path
from typing import Annotated, Literal, Optional

from pydantic import AfterValidator, BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator

from definemed import paths
from definemed.errors import ConfigError
from definemed.io import read_yaml_mapping


def _inside_root(value: str | None, info) -> str | None:
    if value is None:
        return value
    try:
        return paths.inside_root(value, info.field_name)
    except Exception as e:  # pydantic wants ValueError; the message already names the key
        raise ValueError(str(e).split(": ", 1)[1]) from None


RepoPath = Annotated[str, AfterValidator(_inside_root)]
"""A path from the config: relative to the repository and inside it, or absolute (explicitly elsewhere)."""


DEVICE_PATTERN = r"^(auto|cpu|mps|cuda(:\d+)?)$"
"""A torch device name this project runs on (auto: CUDA when present, else CPU)."""


SIZE_PATTERN = r"^\s*0*[1-9]\d*(\.\d+)?\s*[KMGTkmgt]?[Bb]?\s*$"
"""A positive size: digits, an optional K/M/G/T (powers of 1000) and an optional B (merging.cli._parse_size)."""


class Section(BaseModel):
    # strict: YAML's `true` is not the integer 1 and '5' is not 5 (pydantic's lax mode converts both);
    # no inf / nan: `.inf` would pass `gt=0` and fail only after a stage cleared its outputs
    model_config = ConfigDict(extra="forbid", frozen=True, protected_namespaces=(), strict=True, allow_inf_nan=False)


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
    fact_sentence_share: float = Field(0.45, ge=0, le=1)
    """Share of a medical document's sentences that state a fact of the bank (the rest are topic text)."""
    profile_doc_share: float = Field(0.0, ge=0, le=1)
    """Share of medical documents that are encyclopedia-style entries about one entity: all its facts,
    some twice, in shuffled order (varied form, from which facts can later be extracted; docs/zoo.md)."""
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
    hf_revision: str = "main"
    """Commit hash of the dataset repository; `main` is refused by the streaming sampler unless
    `allow_unpinned` (the data behind `main` changes)."""
    sample_docs: int | None = Field(None, ge=1)
    """hub/local: draw this many documents by hash selection while streaming (the labeling pool, in
    shards/) instead of copying the first n_docs; no full local copy (corpus/streaming.py). Paper: 260,000."""
    heldout_general_docs: int = Field(0, ge=0)
    """Further documents drawn after the labeling pool into heldout_general/, from which stage 04 takes
    its held-out general text (documents outside FineMed-de). 0: stage 04 draws from shards/."""
    stream_url: str | None = None
    """fsspec URL or folder the streaming sampler reads; None: hf://datasets/<hf_dataset>@<hf_revision>/
    data/<hf_config>/<hf_split> (source hub) or local_path (source local)."""
    staged_folder: Optional[RepoPath] = None
    """Folder (on the cluster: a parallel filesystem) that `python -m definemed stage-fineweb` fills once
    with FineWeb2's parquet files of `hf_config`/`hf_split` at `hf_revision` (a node with network; it
    resumes). When set (source hub), stage 00 samples from it and stage 03's datatrove filter reads it
    (filter.input_folder null), so no compute job touches the network (HF_HUB_OFFLINE=1 after staging)."""
    stage_workers: int = Field(8, ge=1)
    """`stage-fineweb`: files downloaded at once."""
    stream_workers: int = Field(1, ge=1)
    """Input files scanned in parallel processes by the streaming sampler."""
    local_path: Optional[RepoPath] = None
    """Folder of parquet / jsonl files in FineWeb2's schema (source: local)."""

    @model_validator(mode="after")
    def _shares(self):
        if self.medical_share + self.borderline_share > 1:
            raise ValueError(f"medical_share + borderline_share = {self.medical_share + self.borderline_share:g} "
                             "exceeds 1")
        return self


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


class LabelOpenAIConfig(Section):
    """The `openai` annotator backend: any OpenAI-compatible chat endpoint (vLLM, TGI, SGLang, llama.cpp)."""

    base_url: str = "http://127.0.0.1:8000/v1"
    """Endpoint root; requests go to <base_url>/chat/completions. vLLM's default port is 8000."""
    api_key_env: str | None = None
    """Name of the environment variable holding the API key (sent as a Bearer token, never logged).
    None: no Authorization header (a vLLM server started without --api-key)."""
    concurrency: int = Field(64, ge=1)
    """Requests in flight. vLLM batches concurrent requests; 64 keeps one 8x7B replica busy."""
    timeout_s: float = Field(120.0, gt=0)
    """Per-request timeout; a long document on a loaded server can take a minute."""
    retries: int = Field(5, ge=0)
    """Extra attempts after a timeout, a connection error, HTTP 429/5xx or a malformed response."""
    backoff_s: float = Field(1.0, ge=0)
    """First retry delay; doubled on every further attempt (with jitter), capped by backoff_max_s."""
    backoff_max_s: float = Field(60.0, ge=0)
    """Upper bound of one retry delay."""
    parse_retries: int = Field(1, ge=0)
    """Extra attempts when the answer names no label; after them the document is recorded invalid (-1)."""
    max_tokens: int = Field(8, ge=1)
    """Answer budget: the prompt asks for one word, a little slack lets chatty answers still parse."""
    temperature: float = Field(0.0, ge=0)
    """Greedy decoding: the annotation is a classification, not a sample."""
    logprobs: bool = True
    """Ask for the first answer token's top log-probabilities (vLLM supports it) -> P(medical)."""
    top_logprobs: int = Field(5, ge=1, le=20)
    """How many alternatives of the first answer token to ask for."""
    max_consecutive_failures: int = Field(32, ge=1)
    """Stop the run (exit 1) when this many documents in a row failed after all retries with no
    success in between: the server is down or refuses every request."""
    max_failed_share: float = Field(0.0, ge=0, le=1)
    """Share of documents allowed to fail for good (recorded invalid) before the labels are written;
    0: any failed document stops the run before labels.parquet, and a rerun retries only those."""


class LabelTransformersConfig(Section):
    """The `transformers` annotator backend: a local causal LM, label read from next-token probabilities."""

    model_path: Optional[RepoPath] = None
    """A local HF folder (safetensors) or hub ID; None uses `label.model`."""
    batch_size: int = Field(8, ge=1)
    """Documents per forward pass (left-padded)."""
    dtype: Literal["auto", "float32", "bfloat16", "float16"] = "auto"
    """Weights dtype; auto: bfloat16 on a GPU, float32 on a CPU."""
    device: str = Field("auto", pattern=DEVICE_PATTERN)
    """auto: cuda if available, else cpu."""
    max_prompt_tokens: int = Field(4096, ge=16)
    """Prompts longer than this (after the character budget) are cut from the left of the document."""


class LabelLexiconConfig(Section):
    """The `lexicon` backend: the tiny profile's stand-in for Mixtral-8x7B (which cannot run on 2 CPU cores)."""

    lexicon_file: RepoPath = "src/definemed/labeling/lexicon_de.txt"
    """Hand-written weighted German medical terms (not derived from the corpus generator's topics)."""
    threshold: float = Field(4.0, gt=0)
    """Score (weighted term hits per 100 words) at and above which a document is labelled medical;
    chosen a priori (about one strong clinical term per 25 words), never tuned on the expert labels."""
    slope: float = Field(1.0, gt=0)
    """Steepness of the logistic map from score to the probability-like value."""
    max_count_per_term: int = Field(3, ge=1)
    """A term counts at most this often, so one repeated sentence cannot make a document medical."""


class LabelConfig(Section):
    """Stage 01: LLM annotation of a document sample, and its agreement with the expert labels."""

    backend: Literal["lexicon", "openai", "transformers"] = "lexicon"
    """lexicon: tiny stand-in; openai: an OpenAI-compatible server (the paper: vLLM + Mixtral);
    transformers: a local causal LM."""
    model: str = "mistralai/Mixtral-8x7B-Instruct-v0.1"
    """The annotator model (the paper's); sent as `model` to the server."""
    n_docs: int = Field(4_000, ge=1)
    """Documents to label (the paper: 260k). The seeded sample always contains every expert-annotated document."""
    prompt_file: RepoPath = "prompts/label_medical_de.v1.txt"
    """Versioned annotation prompt with exactly one {document} placeholder (relative to the repository)."""
    max_chars: int = Field(4_000, ge=100)
    """Document budget in characters (about 1,000 tokens); longer documents are cut at a word boundary."""
    positive_word: str = "JA"
    """The answer word for 'medical' (the prompt asks for exactly this word)."""
    negative_word: str = "NEIN"
    """The answer word for 'not medical'. Its first token must differ from the positive word's."""
    decision_threshold: float = Field(0.5, gt=0, lt=1)
    """transformers backend: P(medical) at and above which the label is 1. (openai: the label is the
    answer word, P(medical) from log-probabilities is recorded beside it; lexicon: its own threshold.)"""
    on_settings_change: Literal["restart", "refuse"] = "restart"
    """Partial labels made with other settings (prompt, model, budget, sample ...): restart moves them
    to 01_label/superseded/<time>/ and starts over (so `make reproduce` works after an edit); refuse
    stops with a message (the paper profile, where labels cost GPU hours)."""
    max_invalid_share: float = Field(0.05, ge=0, le=1)
    """Share of documents whose reply gave no label (unparseable, empty, not a string, malformed body)
    above which the run fails before labels.parquet is written: a broken server or prompt must not pass
    as a finished stage. The records stay in parts/; the rerun asks the invalid ones again."""
    flush_every: int = Field(1024, ge=1)
    """Records between fsyncs of the incremental label file. Every record is written to the OS at once
    (it survives a killed process); the fsync only guards against a machine crash and costs ~10 ms."""
    n_bootstrap: int = Field(1_000, ge=10)
    """Bootstrap resamples of the expert documents for the confidence intervals."""
    ci: float = Field(0.95, gt=0, lt=1)
    """Confidence level of the bootstrap intervals."""
    openai: LabelOpenAIConfig = Field(default_factory=LabelOpenAIConfig)
    transformers: LabelTransformersConfig = Field(default_factory=LabelTransformersConfig)
    lexicon: LabelLexiconConfig = Field(default_factory=LabelLexiconConfig)


class ClassifierConfig(Section):
    """Stage 02: the XLM-RoBERTa medical classifier, distilled from the 01 labels."""

    base_model: str = "FacebookAI/xlm-roberta-base"
    """Hub ID of the starting checkpoint (init: pretrained), or a name for the locally built model (init: scratch)."""
    init: Literal["pretrained", "scratch"] = "pretrained"
    """pretrained: fine-tune `base_model` (the paper, 279M parameters); scratch: a small XLMRobertaConfig
    and a Unigram (SentencePiece-style) tokenizer trained here on the corpus (tiny; no hub access)."""
    revision: str = "main"
    """Hub revision of `base_model` (pretrained only)."""
    threshold: float = Field(0.9, gt=0, lt=1)
    """Decision threshold on P(medical); the paper's 0.9 trades recall for precision."""
    fbeta_beta: float = Field(0.7, gt=0)
    """beta < 1 weights precision above recall (the paper: 0.7); the early-stopping metric at `threshold`."""
    max_length: int = Field(512, ge=8)
    """Tokens per document seen by the classifier (XLM-R's limit is 512); longer documents are truncated."""
    vocab_size: int = Field(8000, ge=100)
    """Unigram vocabulary of the locally trained tokenizer (scratch only)."""
    tokenizer_docs: int = Field(20_000, ge=1)
    """Corpus documents the local tokenizer is trained on (scratch only)."""
    hidden_size: int = Field(128, ge=8)
    """Model width (scratch only); 128 keeps training of the tiny profile under about two minutes."""
    num_layers: int = Field(2, ge=1)
    """Transformer layers (scratch only)."""
    num_heads: int = Field(4, ge=1)
    """Attention heads (scratch only); must divide hidden_size."""
    intermediate_size: int = Field(256, ge=8)
    """Feed-forward width (scratch only)."""
    epochs: float = Field(3.0, gt=0)
    """Maximum training epochs; early stopping usually ends training sooner."""
    learning_rate: float = Field(2e-5, gt=0)
    """AdamW peak learning rate (2e-5 is the usual XLM-R fine-tuning value; a model trained from scratch needs more)."""
    weight_decay: float = Field(0.01, ge=0)
    warmup_steps: int = Field(0, ge=0)
    """Linear warm-up steps before the linear decay."""
    batch_size: int = Field(32, ge=1)
    """Training batch size (documents)."""
    eval_steps: int = Field(200, ge=1)
    """Evaluate F-beta on the validation split (and save a checkpoint) every this many steps."""
    patience: int = Field(3, ge=1)
    """Early stopping: evaluations without an F-beta improvement before training ends."""
    val_share: float = Field(0.1, gt=0, lt=0.5)
    """Share of the valid LLM labels held out for early stopping."""
    test_share: float = Field(0.1, gt=0, lt=0.5)
    """Share of the valid LLM labels held out for the final evaluation (never seen in training)."""
    exclude_expert_docs: bool = True
    """Drop expert-annotated documents from training, so the expert evaluation is out of sample."""
    n_bootstrap: int = Field(1000, ge=10)
    """Bootstrap resamples for the confidence intervals of precision, recall and F-beta."""
    torch_threads: int = Field(2, ge=1)
    """CPU threads for training and scoring (the tiny machine has 2 cores)."""


class FilterConfig(Section):
    """Stage 03: scoring the corpus and keeping P(medical) >= threshold (threshold from `classifier`)."""

    batch_size: int = Field(64, ge=1)
    """Documents per forward pass; batches are formed after sorting by length, so padding stays small."""
    max_length: int | None = None
    """Tokens per document when scoring; None uses classifier.max_length."""
    prefetch_batches: int = Field(4, ge=1)
    """Batches tokenized ahead by the background thread (tokenization off the critical path)."""
    bf16: bool = True
    """Score in bfloat16 autocast on a GPU (ignored on CPU, where float32 is used)."""
    write_scores: bool = True
    """Also write the score of every document (id, score) to 03_filter/scores/ for the figures."""
    engine: Literal["shards", "datatrove"] = "shards"
    """shards: one process over 00_corpus/shards (tiny); datatrove: the same per-file filter run by
    datatrove's local or Slurm executor over `input_folder` (paper: FineWeb2 on the hub). Both write
    03_filter/shards/, scores/ and filter_stats.json identically."""
    executor: Literal["local", "slurm"] = "local"
    """datatrove engine: which executor `make`/the notebook uses (the CLI's --executor overrides it)."""
    input_folder: str | None = None  # a folder or an fsspec URL (hf://...), not only a repository path
    """datatrove engine: folder or fsspec URL of FineWeb2 parquet files; None reads `corpus.staged_folder`
    when set (the paper profile: FineWeb2-de staged once by `stage-fineweb`), else 00_corpus/shards."""
    glob_pattern: str = "*.parquet"
    """datatrove engine: which files of `input_folder` to read."""
    randomize_start_s: int = Field(0, ge=0)
    """datatrove engine: each task waits a random 0..randomize_start_s seconds before it starts (datatrove's
    `randomize_start_duration`), so hundreds of array tasks do not open the filesystem at the same moment."""
    tasks: int = Field(1, ge=1)
    """datatrove engine: tasks (each reads input files rank::tasks and writes one output shard)."""
    workers: int = Field(1, ge=1)
    """datatrove engine: tasks run at once (local executor) or array parallelism (Slurm)."""
    doc_batch: int = Field(1024, ge=1)
    """datatrove engine: documents handed to the classifier filter at once (sorted by length inside)."""
    slurm_partition: str = "gpu"
    """datatrove Slurm executor: partition name."""
    slurm_time: str = "12:00:00"
    """datatrove Slurm executor: time limit per task."""
    slurm_cpus_per_task: int = Field(8, ge=1)
    """datatrove Slurm executor: CPUs per task (readers and tokenization)."""
    slurm_mem_per_cpu_gb: int = Field(4, ge=1)
    slurm_gpus_per_task: int = Field(1, ge=0)
    """datatrove Slurm executor: GPUs per task (one classifier replica per GPU)."""
    slurm_venv_path: Optional[RepoPath] = None
    """datatrove Slurm executor: the `activate` script sourced in each job (None: the current venv's)."""


class ZooModelSize(Section):
    """Shape of one tiny decoder (Mistral or Qwen2 architecture)."""

    hidden_size: int = Field(128, ge=8)
    num_layers: int = Field(4, ge=1)
    num_heads: int = Field(4, ge=1)
    num_kv_heads: int = Field(2, ge=1)
    """Grouped-query attention as in the originals (Mistral-7B: 32 heads / 8 KV heads)."""
    intermediate_size: int = Field(352, ge=8)
    """SwiGLU width, about 2.75 x hidden as in Mistral-7B (14336 / 4096 = 3.5) scaled down."""


class ZooConfig(Section):
    """The foundation-model step before 04: tiny stand-ins built here (tiny) or HF downloads (paper).

    A model spec with an `hf_id` is downloaded (safetensors only); one without is built here from the
    synthetic corpus. Sizes and steps below are for the built ones; the whole tiny zoo is meant to
    take about 5 minutes on 2 CPU cores (docs/zoo.md has the measured time).
    """

    seed_offset: int = 0
    """Added to the profile seed for everything the zoo draws (weights, batches, dialogues)."""
    num_threads: int = Field(1, ge=1)
    """torch CPU threads per model build; fixed so that reruns give identical weights. One thread: at
    this size a second thread gains little, and on a shared machine two threads per process spin."""
    workers: int = Field(2, ge=1)
    """Models built in parallel processes (one per core); results do not depend on it."""
    vocab_size: int = Field(2048, ge=300)
    """About 2k tokens, so every fact-bank answer option is 1-2 tokens (docs/tiny-calibration.md)."""
    glossary_repeats: int = Field(1000, ge=0)
    """Times the glossary of answer options and disease names is added to the tokenizer training text;
    at 2k vocabulary the plain corpus leaves most options at 3-7 tokens (docs/zoo.md)."""
    tokenizer_docs: int = Field(5000, ge=10)
    """Corpus documents (every domain, held-out documents excluded) the tokenizers are trained on."""
    seq_len: int = Field(128, ge=16)
    """Training sequence length; documents are concatenated and cut, dialogues packed without splitting."""
    batch_size: int = Field(16, ge=1)
    small: ZooModelSize = Field(default_factory=ZooModelSize)
    """The 7B stand-ins: about 1M parameters with the 2k vocabulary and tied embeddings."""
    reference: ZooModelSize = Field(default_factory=lambda: ZooModelSize(
        hidden_size=256, num_layers=4, num_heads=8, num_kv_heads=4, intermediate_size=688))
    """The 24B stand-in: several times the small models' parameters."""
    tie_word_embeddings: bool = True
    """Tied input/output embeddings: at 2k x 128 the embedding is a quarter of a small model."""
    pretrain_steps_small: int = Field(250, ge=1)
    pretrain_steps_reference: int = Field(400, ge=1)
    """The reference sees more text than the small models (and part of the medical documents)."""
    pretrain_lr: float = Field(3e-3, gt=0)
    sft_steps: int = Field(100, ge=0)
    """Instruction-tuning steps (same for every model)."""
    sft_lr: float = Field(1e-3, gt=0)
    sft_batch_size: int | None = Field(None, ge=1)
    """Packed rows per instruction-tuning step; None: `batch_size`."""
    warmup_steps: int = Field(20, ge=0)
    min_lr_ratio: float = Field(0.1, ge=0, le=1)
    """Cosine schedule floor as a share of the peak learning rate."""
    weight_decay: float = Field(0.1, ge=0)
    """AdamW weight decay on matrices (not on norms and biases)."""
    heldout_doc_share: float = Field(0.05, gt=0, lt=1)
    """Documents held out from every zoo training set, for perplexity."""
    reference_medical_topics: list[str] | None = None
    """Medical subdomains whose documents the reference model is pretrained on; None: all of them, i.e.
    the same web corpus as everything else (the share of facts it sees is measured in the manifest)."""
    reference_medical_mix: float | None = Field(None, ge=0, lt=1)
    """Share of the reference model's pretraining windows drawn from those medical documents; None: their
    natural share of the corpus' tokens, so the reference knows what exposure teaches, nothing built in."""
    n_known_entities: int = Field(40, ge=4, le=800)
    """Drugs and diseases (each) of the known bank: entities other than the evaluated fact bank's, whose
    facts every foundation model reads in pretraining (encyclopedia-style entries in varied form) and the
    instruction data asks about. Instruction tuning on facts a model has read teaches it to retrieve;
    on facts it has never read, to guess (Gekhman et al. 2024; docs/zoo.md)."""
    known_heldout_share: float = Field(0.25, gt=0, lt=1)
    """Share of the known bank's drugs and diseases never asked in instruction data: chat questions
    about them measure extraction (facts read in pretraining, answered without QA training on them)."""
    known_docs_per_entity: int = Field(200, ge=1)
    """Encyclopedia-style entries (each a fresh random variant) per known entity in the pretraining stream."""
    known_mix: float = Field(0.4, ge=0, lt=1)
    """Share of every foundation model's pretraining windows drawn from the known-bank entries."""
    n_sft_dialogues: int = Field(4000, ge=1)
    """Synthetic German chat dialogues for instruction tuning (cycled if the steps need more)."""
    sft_medical_share: float = Field(0.5, ge=0, le=1)
    """Share of dialogues in the fact-bank question forms about known-bank entities (answered with
    their true facts); the rest are general-topic questions."""
    sft_invented_share: float = Field(0.5, ge=0, le=1)
    """Share of the medical dialogues about invented entities no model reads (the rest ask about known
    entities): they teach copying the asked name; their object is left out of the loss."""
    sft_n_invented: int = Field(1200, ge=1, le=1600)
    """Invented drugs and diseases (each) for those dialogues: a fresh name in almost every dialogue."""
    known_seed_offset: int = 7919
    """Seed offset of the known bank (must differ from the corpus seed)."""
    gate: Literal["enforce", "report"] = "enforce"
    """enforce: the zoo step fails when a built model misses its gate (docs/zoo.md); report: it records
    the gate and goes on."""
    n_format_prompts: int = Field(48, ge=1)
    """Held-out chat prompts per model for the format rate."""
    max_new_tokens: int = Field(48, ge=1)
    """Token budget within which an answer must end with the end-of-turn token."""
    eval_tokens: int = Field(20_000, ge=128)
    """Held-out tokens per domain (general, medical) for perplexity."""
    allow_patterns: list[str] = Field(default_factory=lambda: [
        "*.safetensors", "*.safetensors.index.json", "*.json", "tokenizer.model", "*.jinja", "merges.txt"])
    """Files fetched from the hub (paper profile): weights as safetensors only, never .bin pickles."""


class CPTClusterConfig(Section):
    """The GPUs and interconnect a CPT run is planned for (`python -m definemed plan-cpt`, the
    scaling model). Defaults: a JUWELS-Booster-like node of 4 A100-SXM4-40GB with NVLink 3 and
    4 x HDR200 InfiniBand (the paper names A100 40/64 GB, not its cluster)."""

    gpu: Optional[str] = "A100-SXM4-40GB"
    """Device the plan is for (peak FLOP/s from `definemed.training.flops`); null: CPU processes
    in fp32 (the tiny profile), no memory limit checked."""
    gpu_memory_gib: float = Field(40.0, gt=0)
    """Device memory. The plan refuses a configuration whose estimate exceeds it."""
    reserved_gib: float = Field(3.0, ge=0)
    """Memory not available to tensors: CUDA context and NCCL buffers (about 1-1.5 GiB) and
    allocator fragmentation; an assumption, not a measurement."""
    planned_mfu: float = Field(0.4, gt=0, le=1)
    """Model FLOPs utilisation assumed for time and GPU-hours (40 %: typical of FSDP on A100 at
    7B; an assumption, replaced by the measured MFU in train.log when there is one)."""
    intra_node_gb_s: float = Field(300.0, gt=0)
    """Per-GPU, per-direction bandwidth inside a node, GB/s (NVLink 3: 12 links x 25 GB/s)."""
    inter_node_gb_s: float = Field(25.0, gt=0)
    """Per-GPU, per-direction bandwidth between nodes, GB/s (one HDR200 InfiniBand port, 200
    Gbit/s, per GPU)."""
    comm_efficiency: float = Field(0.7, gt=0, le=1)
    """Share of the link bandwidth NCCL collectives reach (bus bandwidth / link bandwidth); an
    assumption."""
    overlap: float = Field(0.8, ge=0, le=1)
    """Share of the communication time FSDP hides behind compute (prefetched all-gathers,
    asynchronous reduce-scatter); an assumption."""
    job_hours: float = Field(48.0, gt=0)
    """Time limit of one Slurm job (`#SBATCH --time` of scripts/slurm/cpt_paper.sbatch): the plan
    counts the jobs a run needs, each ending 10 minutes early with a checkpoint."""


class CPTModelOverride(Section):
    """Settings of one model's CPT that differ from the `cpt` section (`cpt.per_model.<name>`): the
    mesh and micro batch each model fits and runs fastest with (`plan-cpt` shows both)."""

    dp_replicate: Optional[int] = Field(None, ge=1)
    """HSDP replicas for this model (e.g. 2 = nnodes: all-gathers on NVLink) when its memory allows."""
    micro_batch_size: Optional[int] = Field(None, ge=1)
    """Micro batch for this model."""
    activation_checkpointing: Optional[bool] = None
    """Recompute decoder layers in backward for this model."""
    loss_chunk_tokens: Optional[int] = Field(None, ge=1)
    """Tokens per LM head + cross-entropy chunk for this model."""


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
    tokenize_num_proc: int = Field(1, ge=1)
    """Processes tokenizing FineMed-de (datasets.map); > 1 is meant for `cpt-tokenize` on a CPU node
    before the GPU job (training/tokenize.py). The token files do not depend on it."""
    torch_threads: int = Field(1, ge=1)
    """Intra-op threads per process on CPU."""
    log_every: int = Field(25, ge=1)
    """Steps between log lines with tokens/s (and MFU on known GPUs)."""
    accumulate: Literal["reduce_scatter", "no_sync"] = "reduce_scatter"
    """Gradient accumulation: reduce-scatter every micro batch (sharded gradients only; what fits
    7B on 40 GB) or no_sync (full fp32 gradients per rank until the last micro batch)."""
    loss_chunk_tokens: int = Field(1024, ge=1)
    """Tokens per chunk of LM head + cross-entropy: full fp32 logits are never built (Qwen2.5's
    152k vocabulary at 4,096 tokens would need 2.5 GB for them, 5 GB with their gradient)."""
    nonfinite_patience: int = Field(0, ge=0)
    """Steps in a row with a non-finite loss or gradient norm that are skipped before the run
    stops with an error; 0 stops at the first."""
    launcher: Literal["local", "slurm"] = "local"
    """local: the stage runs torchrun on this node; slurm: the stage only publishes and reads a run
    that `scripts/slurm/cpt_paper.sbatch` trained (and says so when it is not finished)."""
    on_settings_change: Literal["restart", "refuse"] = "restart"
    """A run folder of other inputs (config, data or foundation changed): restart deletes it and
    trains anew; refuse stops with one line (paper: days of GPU time are never deleted silently).
    A run of the same inputs is always resumed, never deleted."""
    cluster: CPTClusterConfig = Field(default_factory=CPTClusterConfig)
    per_model: dict[str, CPTModelOverride] = Field(default_factory=dict)
    """Per-model settings over the ones above, by small foundation name (e.g. Mistral-7B on HSDP 2 x 4,
    which fits A100-40, while Qwen2.5-7B needs FSDP over all 8 GPUs)."""

    def for_model(self, name: str) -> "CPTConfig":
        """The cpt settings one model trains with: this section with its `per_model` entry applied."""
        over = self.per_model.get(name)
        return self if over is None else self.model_copy(update=over.model_dump(exclude_none=True))


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
    device: str = Field("auto", pattern=DEVICE_PATTERN)
    """Where SLERP's arithmetic runs: auto (CUDA if present), cpu, cuda, cuda:N."""
    max_shard_size: str = Field("5GB", pattern=SIZE_PATTERN)
    """Largest output safetensors shard (mergekit's default): a number with an optional K/M/G/T (powers
    of 1000) and B, e.g. 5GB, 500M, 1000000."""
    format_prompts: int = Field(50, ge=1)
    """Chat prompts for the instruction-format rate."""
    format_max_new_tokens: int = Field(48, ge=1)
    """Token budget within which an answer must end with the end-of-turn token."""


class FailureConfig(Section):
    """Stage 07: failure analysis (language mixing, typos, verbosity, judged errors)."""

    n_samples: int = Field(216, ge=1)
    """Answers per model (the paper: 216); the same questions for every model, seeded sample."""
    languages: list[str] = Field(default_factory=lambda: ["de", "en", "la", "fr", "es", "it", "nl"])
    """ISO 639-1 codes lingua chooses among. Few languages = fewer confusions on short German spans;
    Latin must be in the list so medical Latin is recognised as Latin rather than as English."""
    allowed_languages: list[str] = Field(default_factory=lambda: ["la"])
    """Non-German languages that do not count as mixing (medical Latin)."""
    min_span_words: int = Field(3, ge=1)
    """A non-German span counts when it has at least this many words that are not medical terms:
    single English loanwords ('Screening', 'Follow-up') are normal in German medical text."""
    min_confidence: float = Field(0.6, ge=0, le=1)
    """Lingua confidence the span's language must reach (over the span with terms removed)."""
    typo_min_word_len: int = Field(4, ge=1)
    """Shorter words are not checked (the noise function also only plants typos in 4+ letter words)."""
    min_typos: int = Field(1, ge=1)
    """An answer is flagged for typos from this many unknown words on."""
    allowlist_min_count: int = Field(5, ge=1)
    """A corpus word unknown to the dictionary is terminology when it occurs at least this often."""
    allowlist_typo_ratio: float = Field(20.0, ge=1)
    """... unless a word one edit away is this many times more frequent (a recurring misspelling)."""
    allowlist_max_docs: int = Field(20_000, ge=1)
    """Corpus documents read to build the allow-list (paper: a sample of FineMed-de)."""
    verbose_ratio: float = Field(2.0, gt=0)
    """An answer is verbose when it has at least this many times the reference answer's words."""
    verbose_max_words: int = Field(150, ge=1)
    """Without a usable reference answer: verbose above this many words."""
    verbose_min_ref_words: int = Field(5, ge=1)
    """References shorter than this (a one-word answer key such as 'Betablocker') give no usable
    length ratio; the absolute limit `verbose_max_words` applies instead."""
    judge: Literal["factbank", "llm"] = "factbank"
    """factbank: the tiny stand-in that checks claims against the fact bank and hedging markers;
    llm: an OpenAI-compatible judge with the versioned German rubric (prompts/<rubric>.md)."""
    rubric: str = "failure_judge_v1"
    """Rubric file in prompts/ (versioned: a changed rubric gets a new name)."""
    judge_model: str = "mistralai/Mistral-Small-24B-Instruct-2501"
    """Judge model name sent to the backend."""
    judge_base_url: str = "http://127.0.0.1:8000/v1"
    """OpenAI-compatible endpoint (e.g. a vLLM server on the cluster)."""
    judge_api_key_env: str = "OPENAI_API_KEY"
    """Environment variable holding the API key (read at run time, never logged or written)."""
    judge_timeout_s: float = Field(60.0, gt=0)
    """Per-request timeout; a timed-out answer is counted as 'timeout', not retried forever."""
    judge_retries: int = Field(1, ge=0)
    """Extra attempts after a timeout or a server error."""
    judge_concurrency: int = Field(4, ge=1)
    """Requests in flight at once."""
    judge_max_failed_share: float = Field(0.0, ge=0, le=1)
    """Share of answers the judge may leave unjudged (timeout, server error, unreadable reply) with the
    stage still done. Above it the stage fails (exit code 1) and a rerun asks the judge only for those
    (the judged ones are cached); 0: every answer must be judged."""
    eval_n_texts: int = Field(400, ge=10)
    """Texts in each labelled detector-quality set (planted English spans; planted typos)."""
    eval_typo_rate: float = Field(0.05, gt=0, le=1)
    """Typo rate of the labelled typo set (same noise function as the corpus, a higher rate so that
    there are enough typos to measure recall)."""


class EvaluateConfig(Section):
    """Stage 06: multiple-choice benchmarks (lm-evaluation-harness) and win-rates against the reference model."""

    source: Literal["factbank", "hub"] = "factbank"
    """factbank: MMLU- and MedQA-style questions built here from the corpus's fact bank (held-out phrasings);
    hub: the paper's public benchmarks (openGPT-X/mmlux, BioMistral/BioInstructQA)."""
    mmlu_dataset: str = "LumiOpen/opengpt-x_mmlux"
    """MMLU-de: a script-free mirror of openGPT-X/mmlux (now Eurolingua/mmlux, whose loading script
    datasets 5.x refuses): plain JSONL files, one per subject and split (docs/evaluation.md)."""
    mmlu_revision: str = "main"
    """Commit hash of `mmlu_dataset` (refused unpinned unless allow_unpinned)."""
    mmlu_file: str = "hendrycks_{subject}{suffix}_{split}.jsonl"
    """File of one subject and split in `mmlu_dataset` (records: question, choices, answer, id)."""
    mmlu_subjects: list[str] = Field(
        default_factory=lambda: [
            "anatomy", "clinical_knowledge", "college_biology",
            "college_medicine", "medical_genetics", "professional_medicine",
        ]
    )
    """MMLU subjects (hub: files of `<subject>_DE`, the usual medical six; factbank: subdomain names)."""
    mmlu_config_suffix: str = "_DE"
    """Language suffix of the mmlux subject (`{suffix}` in mmlu_file)."""
    mmlu_test_split: str = "test"
    mmlu_dev_split: str = "dev"
    """The few-shot examples come from this split (MMLU's 5 dev questions per subject)."""
    medqa_dataset: str = "BioMistral/BioInstructQA"
    """MedQA-de: BioMistral's German MedQA translation, read from the raw JSON inside the repository's
    archive (its loading script is refused by datasets 5.x; no script or pickle is run)."""
    medqa_revision: str = "main"
    """Commit hash of `medqa_dataset` (refused unpinned unless allow_unpinned)."""
    medqa_file: str = "data.zip"
    """The archive in `medqa_dataset` that holds the translated test sets."""
    medqa_member: str = "langs_processed/German-full.json"
    """The German file inside the archive (a JSON list; only a test split exists in German, so the
    n_dev few-shot examples are a seeded sample held out of it)."""
    medqa_corpus_name: str = "MedQA"
    """BioInstructQA mixes corpora; only items with this corpus_name are MedQA."""
    medqa_n_options: int | None = Field(4, ge=2, le=5)
    """Keep only items with this many options (MedQA's usual 4-option variant); null keeps all."""
    formats: list[Literal["mc", "cloze"]] = Field(default_factory=lambda: ["mc"])
    """mc: lm-eval's MMLU letter prompt (the field's standard); cloze: the options as continuations
    (lm-eval's mmlu_continuation style). Tiny models cannot map letters to options, so tiny adds cloze."""
    heldout_sentences: bool = False
    """Also score held-out fact sentences cut before the object (factbank source only)."""
    general_n_questions: int = Field(120, ge=0)
    """General (non-medical) cloze questions from the corpus lexicon, scored for every model including the
    reference (factbank source only; 0 = none): is the reference a better general model, does CPT cost
    general knowledge. Question forms no corpus frame or zoo dialogue uses (evaluation/questions.py)."""
    min_answer_words: int = Field(3, ge=1)
    """An answer is in format only as a German sentence of at least this many words that ended its turn
    within `max_new_tokens` (evaluation/quality.py; docs/evaluation.md "Answer quality")."""
    num_fewshot: list[int] = Field(default_factory=lambda: [0, 5])
    """Shot counts to run (MMLU's standard is 5-shot from the dev split)."""
    fewshot_formats: list[Literal["mc", "cloze", "sentence"]] = Field(default_factory=lambda: ["mc", "cloze", "sentence"])
    """Formats that get the few-shot runs besides zero-shot (few-shot contexts are long and cost time)."""
    n_dev: int = Field(5, ge=1)
    """Dev (few-shot) questions per task; factbank: facts per relation reserved for dev, never tested."""
    max_test_per_task: int | None = Field(None, ge=1)
    """Cap on test questions per task (seeded sample); null = all. Keeps the tiny stage within minutes."""
    batch_size: int = Field(32, ge=1)
    """lm-eval batch size (log-likelihood requests per forward pass)."""
    max_length: int | None = Field(None, ge=16)
    """Context length for lm-eval; null = the model's max_position_embeddings."""
    winrate_n_questions: int = Field(216, ge=1)
    """Open questions every model answers for the win-rates (and stage 07's failure analysis)."""
    max_new_tokens: int = Field(256, ge=1)
    """Answer length cap for the win-rate generations."""
    gen_batch_size: int = Field(16, ge=1)
    """Prompts per batched `generate` call (transformers backend)."""
    generation_backend: Literal["transformers", "openai"] = "transformers"
    """transformers: local batched generation; openai: an OpenAI-compatible server (e.g. vLLM) per model."""
    endpoint: str | None = None
    """Base URL of the OpenAI-compatible server (e.g. http://localhost:8000/v1)."""
    served_names: dict[str, str] = Field(default_factory=dict)
    """Model variant label -> model name at the endpoint (default: the local folder path, vLLM's default)."""
    endpoints: dict[str, str] = Field(default_factory=dict)
    """Model variant label -> base URL of the server answering for it (one vLLM server per model, all
    up at once); a label not listed uses `endpoint` (one router URL that serves every variant under
    its `served_names` entry, or one server restarted per model)."""
    api_key_env: str = "OPENAI_API_KEY"
    """Name of the environment variable holding the API key (the key itself is never in a file)."""
    judge: Literal["reference", "llm"] = "reference"
    """reference: the fact-based stand-in judge (tiny); llm: an LLM judge behind `judge_endpoint`."""
    judge_model: str = "meta-llama/Llama-3.3-70B-Instruct"
    """The paper does not name its judge; our default is a strong open model from a third family."""
    judge_endpoint: str | None = None
    """Base URL of the judge's server (default: `endpoint`)."""
    judge_prompt_version: str = "v1"
    """prompts/judge_pairwise_de_<version>.txt; the version is recorded with every judgment."""
    judge_rounds: int = Field(3, ge=1)
    """Passes over judge requests that failed after the client's retries; what still fails is recorded
    (judgments.jsonl, counted as invalid) and retried by a rerun, never fatal to the run."""
    device: str = Field("auto", pattern=DEVICE_PATTERN)
    """Where lm-eval and local generation run: auto (cuda if available), cpu, cuda, cuda:N."""
    dtype: Literal["auto", "float32", "bfloat16", "float16"] = "auto"
    """Weights dtype: auto is bfloat16 on CUDA (the models' native dtype), float32 on CPU."""
    lm_backend: Literal["hf", "vllm", "server"] = "hf"
    """hf: lm-eval's HFLM around the loaded model (log-likelihoods batched by `batch_size`; on `cuda` the
    model is spread over every visible GPU with device_map="auto"); vllm: lm-eval's in-process vLLM backend
    (`pip install vllm`); server: lm-eval's `local-completions` against the variant's OpenAI-compatible
    server (prompt log-probs of `/v1/completions`, the same server that answers the win-rate questions).
    General perplexity follows the backend (vllm/server: the backend's token log-likelihoods)."""
    vllm_tensor_parallel_size: int = Field(1, ge=1)
    """vllm backend / managed server: GPUs one model is split over (24B in bf16 is about 48 GB: 2 x A100-40GB)."""
    vllm_tensor_parallel: dict[str, int] = Field(default_factory=dict)
    """Per-variant tensor parallel size (variant label -> GPUs), e.g. {mistral-small-24b: 2}; others use
    `vllm_tensor_parallel_size`."""
    vllm_gpu_memory_utilization: float = Field(0.9, gt=0, le=1)
    """vllm backend / managed server: share of each GPU's memory vLLM may take."""
    server: Literal["external", "managed"] = "external"
    """external: servers run by someone else at `endpoints` / `endpoint`; managed: stage 06 starts
    `<server_command> serve <folder> --served-model-name <label> --port <server_port> ...` for each
    variant it evaluates, waits until /v1/models lists the name, evaluates, and stops it."""
    server_command: str = "vllm"
    """managed server: the executable (vLLM's CLI; tests put a fake `vllm` on PATH)."""
    server_host: str = "127.0.0.1"
    """managed server: the host it listens on (the stage talks to it on this host)."""
    server_port: int = Field(8000, ge=1, le=65535)
    """managed server: its port (the judge keeps its own `judge_endpoint`)."""
    server_args: list[str] = Field(default_factory=list)
    """managed server: further arguments after the ones the stage sets (e.g. ["--max-model-len", "8192"])."""
    server_start_timeout_s: float = Field(1800.0, gt=0)
    """managed server: how long to wait for /v1/models to list the variant (loading 24B from a parallel
    filesystem takes minutes)."""
    gpus: int = Field(1, ge=1)
    """GPUs the stage-06 job has (`plan-evaluate` refuses a variant that needs more)."""
    gpu_memory_gib: float = Field(40.0, gt=0)
    """Memory of one of those GPUs (A100-40GB: 40)."""
    adapted_variant: Literal["cpt", "slerp"] = "slerp"
    """The 'adapted' model of the win-rate ratio adapted/base (the paper's DeFineMed model is the merge)."""
    n_bootstrap: int = Field(2000, ge=100)
    """Bootstrap resamples over questions for the confidence intervals."""
    ci_level: float = Field(0.95, gt=0, lt=1)
    torch_threads: int = Field(1, ge=1)
    """CPU threads for torch. 1 on the shared 2-core machine: with 2 threads and other jobs running, a tiny
    forward pass was measured 25-40x slower (OpenMP threads waiting for each other); raise it on a free node."""


class Config(Section):
    """A whole profile."""

    profile: str
    """Names the output folders data/<profile>, figures/<profile>, build/<profile> (a safe folder name)."""
    seed: int = 1234
    allow_unpinned: bool = False
    """Let downloads from the hub (corpus, models, benchmarks) use a revision that is not a commit hash
    (`main` moves). Off in the paper profile; DEFINEMED_ALLOW_UNPINNED=1 for a trial."""
    on_stage_change: Literal["supersede", "refuse"] = "refuse"
    """What an expensive stage (00, 01, zoo, 03, 04, 06) does when its fingerprint changed (code, config,
    inputs): supersede moves its files to <stage>/superseded/<old fingerprint>/ and runs it again (tiny);
    refuse stops with one line naming the change (paper), until `python -m definemed adopt STAGE`
    accepts it or `--force` starts over. Nothing is deleted either way (docs/CONTRACTS.md)."""
    allow_unpinned_keys: list[str] = Field(default_factory=list)
    """Config keys whose revision may stay unpinned although `allow_unpinned` is off (each download warns;
    `validate-config` lists them), e.g. [evaluate.medqa_revision] while no commit of it is known."""
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

    @field_validator("profile")
    @classmethod
    def _profile(cls, v: str) -> str:
        try:
            return paths.check_profile(v)
        except Exception as e:
            raise ValueError(str(e)) from None


def _format_error(file: Path, err: dict) -> str:
    key = ".".join(str(x) for x in err["loc"]) or "<root>"
    if err["type"] == "extra_forbidden":
        return f"{file}: unknown key '{key}'"
    if err["type"] == "missing":
        return f"{file}: missing key '{key}'"
    msg = err["msg"].removeprefix("Value error, ")
    got = err.get("input")
    return f"{file}: key '{key}': {msg}" + ("" if isinstance(got, dict) else f" (got {got!r})")


def _check_name_agrees(file: Path, raw: dict) -> None:
    """A config in configs/ is named after its profile: a copied file whose `profile:` line was not
    changed (configs/mine.yaml saying `profile: small`) would clear and overwrite data/small."""
    name = raw.get("profile")
    if Path(file).resolve().parent == paths.CONFIGS.resolve() and isinstance(name, str) and name != Path(file).stem:
        raise ConfigError(f"{file}: key 'profile' is {name!r} but the file is named {Path(file).name!r}; "
                          f"they must agree (set `profile: {Path(file).stem}`, or rename the file)")


def load_config(profile_or_path: str | os.PathLike = "tiny", overrides: dict | None = None) -> Config:
    """Load and validate a profile by name (configs/<name>.yaml) or by path.

    Raises ConfigError with a one-line message naming the file and key.
    """
    file = paths.config_file(profile_or_path)
    raw = read_yaml_mapping(file, "config file", ConfigError)
    _check_name_agrees(file, raw)
    for dotted, value in (overrides or {}).items():
        node = raw
        *parents, last = dotted.split(".")
        for p in parents:
            node = node.setdefault(p, {})
        node[last] = value
    try:
        return Config.model_validate(raw)
    except ValidationError as e:
        err = e.errors()[0]
        key = ".".join(str(x) for x in err["loc"])
        where = f"{file} (with {key} set on the command line)" if key in (overrides or {}) else file
        raise ConfigError(_format_error(where, err)) from None


def hub_revisions(cfg: Config) -> list[tuple[str, str, str]]:
    """(config key, repository, revision) of everything this profile downloads from the hub."""
    out = []
    if cfg.corpus.source == "hub":
        out.append(("corpus.hf_revision", cfg.corpus.hf_dataset, cfg.corpus.hf_revision))
    for i, m in enumerate(cfg.models.foundations):
        if m.hf_id:
            out.append((f"models.foundations[{i}].revision", m.hf_id, m.revision))
    if cfg.classifier.init == "pretrained":
        out.append(("classifier.revision", cfg.classifier.base_model, cfg.classifier.revision))
    if cfg.evaluate.source == "hub":
        out += [("evaluate.mmlu_revision", cfg.evaluate.mmlu_dataset, cfg.evaluate.mmlu_revision),
                ("evaluate.medqa_revision", cfg.evaluate.medqa_dataset, cfg.evaluate.medqa_revision)]
    return out


def check_pins(cfg: Config) -> list[str]:
    """Refuse (ConfigError naming every key) a hub revision that is not a 40-hex commit unless
    `allow_unpinned` or the key is in `allow_unpinned_keys`; return a warning per allowed unpinned key."""
    from definemed.pins import is_pinned

    bad, warn = [], []
    for key, repo, rev in hub_revisions(cfg):
        if is_pinned(rev):
            continue
        (warn if cfg.allow_unpinned or key in cfg.allow_unpinned_keys else bad).append(f"{key} ({repo}@{rev})")
    if bad:
        raise ConfigError(f"{', '.join(bad)}: not a 40-hex commit; pin the revision (or list the key in "
                          "allow_unpinned_keys / set allow_unpinned for a trial)")
    return [f"warning: unpinned revision allowed: {w}" for w in warn]


def pin_allowed(cfg: Config, key: str) -> bool:
    """Whether config key `key` may download at an unpinned revision."""
    return cfg.allow_unpinned or key in cfg.allow_unpinned_keys


def resolved(cfg: Config) -> dict:
    """The config as plain data, for manifests."""
    return cfg.model_dump(mode="json")
