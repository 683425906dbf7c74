"""The pipeline's stages and the files they hand to each other: the one place that names them.

Every stage has a folder `data/<profile>/<stage>/`; the files another stage reads are functions here,
so no module spells another stage's name or path. `STAGES` says, per stage, which package runs it
(`definemed.<package>.stage.run(cfg) -> counts`), which stages it reads, which config sections it
depends on and which of its files are scratch (resumable work, not outputs). `definemed.stages` turns
that into the one cache rule (fingerprints) and `python -m definemed run STAGE`.
"""
from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from definemed import paths
from definemed.errors import DefinemedError

CORPUS = "00_corpus"
LABEL = "01_label"
CLASSIFIER = "02_classifier"
FILTER = "03_filter"
ZOO = "zoo"
CPT = "04_cpt"
MERGE = "05_merge"
EVALUATE = "06_evaluate"
FAILURE = "07_failure_analysis"
REPORT = "report"


@dataclass(frozen=True)
class StageSpec:
    name: str
    package: str
    """definemed.<package>: its `stage.run(cfg)` computes and writes, its `report` only reads."""
    reads: tuple[str, ...]
    """Stages whose outputs this one reads (their output digests enter its fingerprint)."""
    sections: tuple[str, ...]
    """Config sections its computation depends on (with the seed)."""
    notebook: bool = True
    """Driven by notebooks/<name>.ipynb under make; otherwise by `definemed run <name>`."""
    scratch: tuple[str, ...] = ()
    """Glob patterns (relative to the stage folder) of resumable work that is not an output."""
    extra_code: tuple[str, ...] = ()
    """Files outside src/ (relative to the repository) that its computation reads, e.g. prompts."""


CARDS = ("*/README.md", "models/*/README.md")
"""Model cards in a stage's model folders: documentation no stage reads, whose model-index the report
fills in after stage 06 (definemed.cards), so not among the outputs a stage is done by."""

STAGES: dict[str, StageSpec] = {s.name: s for s in (
    StageSpec(CORPUS, "corpus", (), ("corpus",), scratch=("_stream/**", "_stream")),
    StageSpec(LABEL, "labeling", (CORPUS,), ("label", "models"), scratch=("parts/*", "parts"),
              extra_code=("prompts/*",)),
    StageSpec(CLASSIFIER, "classifier", (CORPUS, LABEL), ("classifier",), scratch=("_run/**", "_run")),
    StageSpec(FILTER, "filtering", (CORPUS, CLASSIFIER), ("filter", "classifier"),
              scratch=("datatrove_logs/**", "datatrove_logs")),
    StageSpec(ZOO, "zoo", (CORPUS,), ("zoo", "models", "corpus"), scratch=CARDS),
    StageSpec(CPT, "training", (CORPUS, FILTER, ZOO), ("cpt", "models", "corpus"),
              scratch=("runs/*/checkpoints/**", "runs/*/checkpoints", *CARDS)),
    StageSpec(MERGE, "merging", (CORPUS, ZOO, CPT), ("merge", "models", "corpus", "cpt"), scratch=CARDS),
    StageSpec(EVALUATE, "evaluation", (CORPUS, ZOO, CPT, MERGE), ("evaluate", "models")),
    StageSpec(FAILURE, "failure", (CORPUS, FILTER, EVALUATE), ("failure", "models", "corpus"),
              extra_code=("prompts/*",)),
)}
ORDER: tuple[str, ...] = tuple(STAGES)


NOTEBOOK_NAMES = {ZOO: "03b_zoo"}
"""Notebooks named otherwise than their stage: the zoo runs after 03 and before 04, and its notebook
sorts there in a file browser, while the stage (and its data folder) keeps its short name."""


def notebook_name(stage: str) -> str:
    """File name (no suffix) of a stage's notebook: notebooks/<name>.ipynb from notebooks/src/<name>.py."""
    spec(stage)
    return NOTEBOOK_NAMES.get(stage, stage)


def spec(stage: str) -> StageSpec:
    if stage not in STAGES:
        raise DefinemedError(f"unknown stage '{stage}' (stages: {', '.join(ORDER)})")
    return STAGES[stage]


def _profile(p) -> str:
    """`p` is a profile name or a Config (anything with `.profile`)."""
    return p if isinstance(p, str) else p.profile


def stage_dir(p, stage: str) -> Path:
    """data/<profile>/<stage>/ (the stage's working folder)."""
    spec(stage)
    return paths.data_dir(_profile(p)) / stage


def record_file(p, stage: str) -> Path:
    """What the stage computed, under which fingerprint: written last, so it marks the stage done."""
    return stage_dir(p, stage) / "_stage.json"


def manifest_file(p, stage: str) -> Path:
    """data/<profile>/manifests/<stage>.json: provenance, and the stage's Make target."""
    if stage != REPORT:
        spec(stage)
    return paths.manifests_dir(_profile(p)) / f"{stage}.json"


# ---- 00_corpus ------------------------------------------------------------------------------
def corpus_shards(p) -> Path:
    """Documents in FineWeb2's schema (shard-XXXXX.parquet): what every later stage reads."""
    return stage_dir(p, CORPUS) / "shards"


def corpus_heldout_general(p) -> Path:
    """Paper profile: documents streamed after the labeling pool, stage 04's held-out general text."""
    return stage_dir(p, CORPUS) / "heldout_general"


def corpus_truth(p) -> Path:
    """Ground truth per document (synthetic source only)."""
    return stage_dir(p, CORPUS) / "truth"


def expert_annotations(p) -> Path:
    return stage_dir(p, CORPUS) / "expert_annotations.parquet"


def factbank(p) -> Path:
    return stage_dir(p, CORPUS) / "factbank.json"


def corpus_stats(p) -> Path:
    return stage_dir(p, CORPUS) / "stats.json"


# ---- 01_label -------------------------------------------------------------------------------
def labels(p) -> Path:
    return stage_dir(p, LABEL) / "labels.parquet"


def label_summary(p) -> Path:
    return stage_dir(p, LABEL) / "summary.json"


def label_agreement(p) -> Path:
    return stage_dir(p, LABEL) / "agreement.json"


# ---- 02_classifier --------------------------------------------------------------------------
def classifier_model(p) -> Path:
    return stage_dir(p, CLASSIFIER) / "model"


def classifier_predictions(p) -> Path:
    return stage_dir(p, CLASSIFIER) / "predictions.parquet"


def classifier_operating_point(p) -> Path:
    return stage_dir(p, CLASSIFIER) / "operating_point.json"


def classifier_training_log(p) -> Path:
    return stage_dir(p, CLASSIFIER) / "training_log.json"


def classifier_summary(p) -> Path:
    return stage_dir(p, CLASSIFIER) / "summary.json"


# ---- 03_filter ------------------------------------------------------------------------------
def finemed_shards(p) -> Path:
    """FineMed-de: the corpus documents with P(medical) >= threshold, in the corpus' schema."""
    return stage_dir(p, FILTER) / "shards"


def filter_scores(p) -> Path:
    return stage_dir(p, FILTER) / "scores"


def filter_stats(p) -> Path:
    return stage_dir(p, FILTER) / "filter_stats.json"


def filter_truth_evaluation(p) -> Path:
    return stage_dir(p, FILTER) / "truth_evaluation.json"


# ---- zoo ------------------------------------------------------------------------------------
def foundation_model(p, name: str) -> Path:
    """The instruct foundation model `name` (tiny: built here; paper: the downloaded snapshot)."""
    return stage_dir(p, ZOO) / name


# ---- 04_cpt ---------------------------------------------------------------------------------
def cpt_model(p, name: str) -> Path:
    return stage_dir(p, CPT) / "models" / name


def cpt_heldout(p, name: str, split: str) -> Path:
    """Held-out token file of model family `name`: 'medical' (FineMed-de) or 'general' (the rest of the
    corpus), never trained on; stages 04 and 05 measure perplexity on it."""
    return stage_dir(p, CPT) / "data" / name / f"heldout_{split}"


def cpt_perplexity(p) -> Path:
    return stage_dir(p, CPT) / "perplexity.parquet"


# ---- 05_merge -------------------------------------------------------------------------------
def merged_model(p, name: str) -> Path:
    return stage_dir(p, MERGE) / "models" / name


def merge_metrics(p) -> Path:
    return stage_dir(p, MERGE) / "metrics.parquet"


# ---- 06_evaluate ----------------------------------------------------------------------------
def generations(p) -> Path:
    """Free-form answers of every model to the win-rate questions (stage 07 reads them)."""
    return stage_dir(p, EVALUATE) / "generations.parquet"


def evaluation_dir(p) -> Path:
    return stage_dir(p, EVALUATE)


# ---- 07_failure_analysis --------------------------------------------------------------------
def failure_dir(p) -> Path:
    return stage_dir(p, FAILURE)
