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
    expensive: bool = False
    """Costly to recompute in the paper profile (GPU-days, API labels, downloads): a fingerprint change
    never deletes its folder; its files move to `superseded/<old fingerprint>/`, or the stage refuses
    under `on_stage_change: refuse` until `python -m definemed adopt STAGE` accepts the change
    (`definemed.stages.open_stage`). A cheap stage is cleared and run again."""


CARDS = ("*/README.md", "models/*/README.md")
"""Model cards in a stage's model folders: documentation no stage reads, whose model-index the report
fills in after stage 06 (definemed.cards), so not among the outputs a stage is done by."""

STAGES: dict[str, StageSpec] = {s.name: s for s in (
    StageSpec(CORPUS, "corpus", (), ("corpus",), scratch=("_stream/**", "_stream"), expensive=True),
    StageSpec(LABEL, "labeling", (CORPUS,), ("label", "models"), scratch=("parts/*", "parts"),
              extra_code=("prompts/*",), expensive=True),
    StageSpec(CLASSIFIER, "classifier", (CORPUS, LABEL), ("classifier",), scratch=("_run/**", "_run")),
    StageSpec(FILTER, "filtering", (CORPUS, CLASSIFIER), ("filter", "classifier"),
              scratch=("datatrove_logs/**", "datatrove_logs"), expensive=True),
    StageSpec(ZOO, "zoo", (CORPUS,), ("zoo", "models", "corpus"), scratch=CARDS, expensive=True),
    StageSpec(CPT, "training", (CORPUS, FILTER, ZOO), ("cpt", "models", "corpus"),
              scratch=("runs/*/checkpoints/**", "runs/*/checkpoints", *CARDS), expensive=True),
    StageSpec(MERGE, "merging", (CORPUS, ZOO, CPT), ("merge", "models", "corpus", "cpt"), scratch=CARDS),
    StageSpec(EVALUATE, "evaluation", (CORPUS, ZOO, CPT, MERGE), ("evaluate", "models"), expensive=True),
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


OUTPUTS: dict[str, dict[str, str]] = {
    CORPUS: {"shards": "shards", "heldout_general": "heldout_general", "truth": "truth",
             "expert_annotations": "expert_annotations.parquet", "factbank": "factbank.json", "stats": "stats.json"},
    LABEL: {"labels": "labels.parquet", "summary": "summary.json", "agreement": "agreement.json"},
    CLASSIFIER: {"model": "model", "predictions": "predictions.parquet", "operating_point": "operating_point.json",
                 "training_log": "training_log.json", "summary": "summary.json"},
    FILTER: {"shards": "shards", "scores": "scores", "stats": "filter_stats.json",
             "truth_evaluation": "truth_evaluation.json"},
    ZOO: {"model": "{name}"},
    CPT: {"model": "models/{name}", "heldout": "data/{name}/heldout_{split}", "perplexity": "perplexity.parquet"},
    MERGE: {"model": "models/{name}", "sweep_model": "sweep/{name}/t{t:.2f}", "merge_config": "configs/{label}.yaml",
            "merges": "merges.parquet", "measured": "metrics/{label}.json", "metrics": "metrics.parquet"},
    EVALUATE: {"generations": "generations.parquet", "winrate_questions": "winrate_questions.parquet"},
    FAILURE: {"detections": "detections.parquet", "detector_quality": "detector_quality.json"},
}
"""The files each stage declares, by name (relative paths, `{fields}` filled by the caller): what a stage
writes with `ctx.out(name)` and what the stages after it read with `ctx.input(stage, name)`."""


def output(p, stage: str, key: str, /, **fields) -> Path:
    """data/<profile>/<stage>/<the declared file `key`>; DefinemedError for an undeclared one."""
    declared = OUTPUTS.get(spec(stage).name, {})
    if key not in declared:
        raise DefinemedError(f"stage {stage} declares no output '{key}' (artifacts.OUTPUTS: "
                             f"{', '.join(declared) or 'none'})")
    try:
        rel = declared[key].format(**fields)
    except (KeyError, IndexError, ValueError) as e:
        raise DefinemedError(f"output '{key}' of stage {stage}: pattern {declared[key]!r} needs {e}") from None
    return stage_dir(p, stage) / rel


# ---- 00_corpus ------------------------------------------------------------------------------
def corpus_shards(p) -> Path:
    """Documents in FineWeb2's schema (shard-XXXXX.parquet): what every later stage reads."""
    return output(p, CORPUS, "shards")


def corpus_heldout_general(p) -> Path:
    """Paper profile: documents streamed after the labeling pool, stage 04's held-out general text."""
    return output(p, CORPUS, "heldout_general")


def corpus_truth(p) -> Path:
    """Ground truth per document (synthetic source only)."""
    return output(p, CORPUS, "truth")


def expert_annotations(p) -> Path:
    return output(p, CORPUS, "expert_annotations")


def factbank(p) -> Path:
    return output(p, CORPUS, "factbank")


def corpus_stats(p) -> Path:
    return output(p, CORPUS, "stats")


# ---- 01_label -------------------------------------------------------------------------------
def labels(p) -> Path:
    return output(p, LABEL, "labels")


def label_summary(p) -> Path:
    return output(p, LABEL, "summary")


def label_agreement(p) -> Path:
    return output(p, LABEL, "agreement")


# ---- 02_classifier --------------------------------------------------------------------------
def classifier_model(p) -> Path:
    return output(p, CLASSIFIER, "model")


def classifier_predictions(p) -> Path:
    return output(p, CLASSIFIER, "predictions")


def classifier_operating_point(p) -> Path:
    return output(p, CLASSIFIER, "operating_point")


def classifier_training_log(p) -> Path:
    return output(p, CLASSIFIER, "training_log")


def classifier_summary(p) -> Path:
    return output(p, CLASSIFIER, "summary")


# ---- 03_filter ------------------------------------------------------------------------------
def finemed_shards(p) -> Path:
    """FineMed-de: the corpus documents with P(medical) >= threshold, in the corpus' schema."""
    return output(p, FILTER, "shards")


def filter_scores(p) -> Path:
    return output(p, FILTER, "scores")


def filter_stats(p) -> Path:
    return output(p, FILTER, "stats")


def filter_truth_evaluation(p) -> Path:
    return output(p, FILTER, "truth_evaluation")


# ---- zoo ------------------------------------------------------------------------------------
def foundation_model(p, name: str) -> Path:
    """The instruct foundation model `name` (tiny: built here; paper: the downloaded snapshot)."""
    return output(p, ZOO, "model", name=name)


# ---- 04_cpt ---------------------------------------------------------------------------------
def cpt_model(p, name: str) -> Path:
    return output(p, CPT, "model", name=name)


def cpt_heldout(p, name: str, split: str) -> Path:
    """Held-out token file of model family `name`: 'medical' (FineMed-de) or 'general' (the rest of the
    corpus), never trained on; stages 04 and 05 measure perplexity on it."""
    return output(p, CPT, "heldout", name=name, split=split)


def cpt_perplexity(p) -> Path:
    return output(p, CPT, "perplexity")


# ---- 05_merge -------------------------------------------------------------------------------
def merged_model(p, name: str) -> Path:
    return output(p, MERGE, "model", name=name)


def merge_metrics(p) -> Path:
    return output(p, MERGE, "metrics")


# ---- 06_evaluate ----------------------------------------------------------------------------
def generations(p) -> Path:
    """Free-form answers of every model to the win-rate questions (stage 07 reads them)."""
    return output(p, EVALUATE, "generations")


def winrate_questions(p) -> Path:
    """The win-rate questions with their reference answers and fact ids (stage 07 joins them in)."""
    return output(p, EVALUATE, "winrate_questions")


def evaluation_dir(p) -> Path:
    return stage_dir(p, EVALUATE)


# ---- 07_failure_analysis --------------------------------------------------------------------
def failure_dir(p) -> Path:
    return stage_dir(p, FAILURE)
