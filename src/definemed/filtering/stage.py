"""Stage 03: filter the corpus with the stage-02 classifier into FineMed-de. Writes
data/<profile>/03_filter/:

- shards/shard-XXXXX.parquet   FineMed-de: kept documents (FineWeb2 fields + score), what stage 04 reads
- scores/scores-XXXXX.parquet  every document's P(medical)
- filter_stats.json            totals and per-shard counts
- truth_evaluation.json        (synthetic corpus only) the filter's precision / recall / F-beta against
                               the generator's ground truth, with bootstrap intervals
"""
from __future__ import annotations

from definemed import artifacts, io
from definemed.classifier.metrics import bootstrap_ci
from definemed.config import Config
from definemed.corpus.stats import load_truth
from definemed.filtering.filter import filter_corpus, read_scores


def run(ctx) -> dict:
    """Stage 03 (a `definemed.context.StageContext`): filter, then (synthetic corpus) score against the truth."""
    cfg: Config = ctx.cfg
    stats = filter_corpus(cfg, model_dir=ctx.input(artifacts.CLASSIFIER, "model"))
    counts = {k: v for k, v in stats.items() if k != "shards"}
    if ctx.input(artifacts.CORPUS, "truth").is_dir():
        truth = load_truth(ctx.input_stage(artifacts.CORPUS))[["id", "is_medical"]]
        d = read_scores(ctx.dir).to_pandas().merge(truth, on="id", how="left")
        c = cfg.classifier
        ev = bootstrap_ci(d["is_medical"].to_numpy(), d["score"].to_numpy(), c.threshold, c.fbeta_beta,
                          c.n_bootstrap, cfg.seed)
        io.write_json(ctx.out("truth_evaluation"), ev)
        counts.update(truth_precision=ev["precision"], truth_recall=ev["recall"])
    return counts
