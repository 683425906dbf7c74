"""The filter under datatrove's executors, for the cluster: one output, whichever engine runs it.

    python -m definemed filter --profile paper --engine datatrove --executor slurm   # FineWeb2 on the hub
    python -m definemed filter --profile paper --engine datatrove --executor local --tasks 8 --workers 8

`FilterFilesStep` is a datatrove `PipelineStep`: task `rank` of `tasks` takes the input parquet files
rank::tasks (sorted; `filter.input_folder` is a local folder or an fsspec URL such as
`hf://datasets/HuggingFaceFW/fineweb-2@<commit>/data/deu_Latn/train`, read through the same reader as
stage 00), and for each file calls the shard engine's own `filter_table`: same scorer, same rule, same
`03_filter/shards/shard-XXXXX.parquet` (XXXXX = the file's index), same `scores/scores-XXXXX.parquet`,
same record of threshold, model and counts in the parquet metadata. A finished shard with the same
threshold and model is skipped (besides datatrove's own completion markers in the logging folder).
When every shard exists, `filter_stats.json` is written from those records, as the shard engine does;
for a Slurm run that happens when the command is rerun after the array finished (datatrove then
submits nothing). So CPT (stage 04) and the report read the same files whichever engine ran.
"""
from __future__ import annotations

import sys
import time
from pathlib import Path

import pyarrow as pa
from datatrove.pipeline.base import PipelineStep

from definemed.classifier.metrics import check_threshold
from definemed.errors import DefinemedError


def output_name(index: int) -> str:
    return f"shard-{index:05d}.parquet"


def read_input(url: str, path: str) -> pa.Table:
    """One input parquet file as a FineWeb2 table (the stage-00 reader, batch by batch)."""
    from definemed.corpus.schema import FINEWEB2_SCHEMA
    from definemed.corpus.streaming import _batch_table, iter_parquet

    tables = [_batch_table(b) for b in iter_parquet(url, path)]
    return pa.concat_tables(tables) if tables else FINEWEB2_SCHEMA.empty_table()


class FilterFilesStep(PipelineStep):
    """Score and filter whole input files (task rank takes files rank::world_size)."""

    name = "🩺 FineMed-de filter"
    type = "🔻 - FILTER"

    def __init__(self, input_url: str, out_dir: str | Path, model_dir: str | Path, threshold: float,
                 fingerprint: str, glob_pattern: str = "*.parquet", write_scores: bool = True,
                 scorer_kwargs: dict | None = None):
        super().__init__()
        self.input_url, self.out_dir, self.model_dir = input_url, str(out_dir), str(model_dir)
        self.threshold = check_threshold(threshold, "filter threshold")
        self.fingerprint, self.glob_pattern, self.write_scores = fingerprint, glob_pattern, write_scores
        self.scorer_kwargs = scorer_kwargs or {}
        self._scorer = None  # built lazily inside the worker process (not pickled with the pipeline)

    @property
    def scorer(self):
        if self._scorer is None:
            from definemed.classifier.inference import Scorer

            self._scorer = Scorer(self.model_dir, **self.scorer_kwargs)
        return self._scorer

    def run(self, data=None, rank: int = 0, world_size: int = 1):
        from definemed.corpus.streaming import list_parquet
        from definemed.filtering.filter import filter_table, finished_record

        out = Path(self.out_dir)
        files = list_parquet(self.input_url, self.glob_pattern)
        for i in range(rank, len(files), world_size):
            path, _ = files[i]
            name = output_name(i)
            if finished_record(out / "shards" / name, self.threshold, self.fingerprint):
                self.stat_update("shards_skipped")
                continue
            t0 = time.perf_counter()
            with self.track_time():
                s = filter_table(read_input(self.input_url, path), name, path, out, self.scorer, self.threshold,
                                 self.fingerprint, self.write_scores, t0)
            self.stat_update("shards")
            self.stat_update("documents", value=s["n_docs"])
            self.stat_update("kept", value=s["n_kept"])
            self.stat_update("dropped", value=s["n_docs"] - s["n_kept"])
        yield from ()


def collect_stats(out_dir: Path, n_sources: int, threshold: float, fingerprint: str, seconds: float) -> dict | None:
    """filter_stats.json from the records of the finished shards; None while some are missing."""
    from definemed.filtering.filter import finished_record, write_filter_stats

    recs = [finished_record(Path(out_dir) / "shards" / output_name(i), threshold, fingerprint) for i in range(n_sources)]
    if any(r is None for r in recs):
        return None
    return write_filter_stats(Path(out_dir), recs, n_sources, 0, threshold, fingerprint, seconds)


def build_pipeline(cfg, input_url: str, out_dir: str | Path, model_dir: Path, threshold: float, fingerprint: str) -> list:
    f, c = cfg.filter, cfg.classifier
    kwargs = dict(batch_size=f.batch_size, max_length=f.max_length or c.max_length, bf16=f.bf16,
                  prefetch_batches=f.prefetch_batches, torch_threads=c.torch_threads)
    return [FilterFilesStep(input_url, out_dir, model_dir, threshold, fingerprint, f.glob_pattern, f.write_scores, kwargs)]


def run_datatrove(cfg, executor: str | None = None, input_folder: str | None = None, out_dir: str | Path | None = None,
                  logging_dir: str | Path | None = None, model_dir: str | Path | None = None, tasks: int | None = None,
                  workers: int | None = None, threshold: float | None = None, start_method: str = "forkserver") -> dict:
    """Run the filter of a profile with datatrove's local or Slurm executor; returns the totals
    (as `filter_corpus`), or {"submitted": ...} while a Slurm array is still running."""
    from definemed import artifacts
    from definemed.corpus.streaming import list_parquet
    from definemed.filtering.filter import model_fingerprint

    f, c = cfg.filter, cfg.classifier
    executor = executor or f.executor
    threshold = check_threshold(c.threshold if threshold is None else threshold, "classifier.threshold")
    url = input_folder or f.input_folder or str(artifacts.corpus_shards(cfg))
    out = Path(out_dir) if out_dir else artifacts.stage_dir(cfg, artifacts.FILTER)
    logging_dir = str(logging_dir or out / "datatrove_logs")
    model_dir = Path(model_dir or artifacts.classifier_model(cfg)).resolve()
    if not (model_dir / "model.safetensors").is_file():
        raise DefinemedError(f"{model_dir}: no model.safetensors (run stage 02_classifier first)")
    fingerprint = model_fingerprint(model_dir)
    n_sources = len(list_parquet(url, f.glob_pattern))
    pipeline = build_pipeline(cfg, url, out, model_dir, threshold, fingerprint)
    tasks, workers = min(tasks or f.tasks, n_sources), workers or f.workers
    t0 = time.perf_counter()
    if executor == "local":
        from datatrove.executor import LocalPipelineExecutor

        ex = LocalPipelineExecutor(pipeline, tasks=tasks, workers=workers, logging_dir=logging_dir,
                                   start_method=start_method)
    elif executor == "slurm":
        from datatrove.executor import SlurmPipelineExecutor

        ex = SlurmPipelineExecutor(
            pipeline, tasks=tasks, workers=workers, logging_dir=logging_dir, job_name="finemed-filter",
            time=f.slurm_time, partition=f.slurm_partition, cpus_per_task=f.slurm_cpus_per_task,
            mem_per_cpu_gb=f.slurm_mem_per_cpu_gb, gpus_per_task=f.slurm_gpus_per_task,
            venv_path=f.slurm_venv_path or str(Path(sys.prefix) / "bin" / "activate"),
        )
    else:
        raise DefinemedError(f"executor: must be 'local' or 'slurm' (got {executor!r})")
    ex.run()
    totals = collect_stats(out, n_sources, threshold, fingerprint, time.perf_counter() - t0)
    if totals is None:
        if executor == "local":
            raise DefinemedError(f"{out / 'shards'}: datatrove finished but shards are missing (see {logging_dir})")
        return {"submitted": tasks, "n_shards": n_sources, "logging_dir": logging_dir}
    return totals
