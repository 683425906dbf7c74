"""The filter under datatrove's executors, for the cluster: one output, whichever engine runs it.

    python -m definemed filter --profile paper --engine datatrove --executor slurm   # the staged FineWeb2-de
    python -m definemed filter --profile paper --engine datatrove --executor local --tasks 8 --workers 8

`FilterFilesStep` is a datatrove `PipelineStep`: task `rank` of `tasks` takes the input parquet files
rank::tasks of the list the launcher gives it (listed once: the `stage-fineweb` manifest of
`corpus.staged_folder`, or one listing of `filter.input_folder`, a folder or an fsspec URL; tasks never
list or open footers of files that are not theirs), starts after a random 0..`filter.randomize_start_s`
seconds (datatrove's `randomize_start_duration`), and streams each file in `filter.doc_batch`-row
chunks (`iter_batches`) into the shard engine's own `filter_stream` with rolling parquet writers, so a
task holds one chunk, never a whole 4.85 GB FineWeb2 file: same scorer, same rule, same
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


def read_chunks(url: str, path: str, doc_batch: int):
    """One input parquet file as a stream of FineWeb2 tables of `doc_batch` rows (the stage-00 reader,
    `iter_batches`): one chunk in memory at a time."""
    from definemed.corpus.streaming import _batch_table, iter_parquet

    for b in iter_parquet(url, path, batch_size=doc_batch):
        yield _batch_table(b)


class FilterFilesStep(PipelineStep):
    """Score and filter whole input files (task rank takes files rank::world_size of the list it was given)."""

    name = "🩺 FineMed-de filter"
    type = "🔻 - FILTER"

    def __init__(self, input_url: str, out_dir: str | Path, model_dir: str | Path, threshold: float,
                 fingerprint: str, files: list[str], write_scores: bool = True, scorer_kwargs: dict | None = None,
                 doc_batch: int = 4096):
        super().__init__()
        self.input_url, self.out_dir, self.model_dir = input_url, str(out_dir), str(model_dir)
        self.threshold = check_threshold(threshold, "filter threshold")
        self.fingerprint, self.write_scores = fingerprint, write_scores
        self.files = list(files)  # listed once by the launcher: tasks never list the input folder themselves
        self.scorer_kwargs = scorer_kwargs or {}
        self.doc_batch = doc_batch
        self._scorer = None  # built lazily inside the worker process (not pickled with the pipeline)

    @property
    def scorer(self):
        if self._scorer is None:
            from definemed.classifier.inference import Scorer

            self._scorer = Scorer(self.model_dir, **self.scorer_kwargs)
        return self._scorer

    def run(self, data=None, rank: int = 0, world_size: int = 1):
        from definemed.corpus.streaming import with_retry
        from definemed.filtering.filter import filter_stream, finished_record

        out = Path(self.out_dir)
        for i in range(rank, len(self.files), world_size):
            path = self.files[i]
            name = output_name(i)
            if finished_record(out / "shards" / name, self.threshold, self.fingerprint):
                self.stat_update("shards_skipped")
                continue
            t0 = time.perf_counter()
            with self.track_time():  # a network error retries the file (its partial outputs are discarded)
                s = with_retry(lambda: filter_stream(read_chunks(self.input_url, path, self.doc_batch), name, path, out,
                                                     self.scorer, self.threshold, self.fingerprint, self.write_scores,
                                                     t0), path)
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


def build_pipeline(cfg, input_url: str, out_dir: str | Path, model_dir: Path, threshold: float, fingerprint: str,
                   files: list[str]) -> list:
    f, c = cfg.filter, cfg.classifier
    kwargs = dict(batch_size=f.batch_size, max_length=f.max_length or c.max_length, bf16=f.bf16,
                  prefetch_batches=f.prefetch_batches, torch_threads=c.torch_threads)
    return [FilterFilesStep(input_url, out_dir, model_dir, threshold, fingerprint, files, f.write_scores, kwargs,
                            f.doc_batch)]


def input_files(cfg, url: str) -> list[str]:
    """The input files, listed once by the launcher: the staging manifest of `corpus.staged_folder`
    when `url` is that folder (no listing at all), else one listing of `url`."""
    from definemed.corpus.streaming import list_parquet, staged_files, staged_folder

    folder = staged_folder(cfg)
    if folder is not None and Path(url).resolve() == folder.resolve():
        return [p for p, _ in staged_files(folder)]
    return [p for p, _ in list_parquet(url, cfg.filter.glob_pattern)]


def run_datatrove(cfg, executor: str | None = None, input_folder: str | None = None, out_dir: str | Path | None = None,
                  logging_dir: str | Path | None = None, model_dir: str | Path | None = None, tasks: int | None = None,
                  workers: int | None = None, threshold: float | None = None, start_method: str = "forkserver") -> dict:
    """Run the filter of a profile with datatrove's local or Slurm executor; returns the totals
    (as `filter_corpus`), or {"submitted": ...} while a Slurm array is still running."""
    from definemed import artifacts
    from definemed.filtering.filter import model_fingerprint

    f, c = cfg.filter, cfg.classifier
    executor = executor or f.executor
    threshold = check_threshold(c.threshold if threshold is None else threshold, "classifier.threshold")
    from definemed.corpus.streaming import staged_folder

    staged = staged_folder(cfg)
    url = input_folder or f.input_folder or (str(staged) if staged else str(artifacts.corpus_shards(cfg)))
    out = Path(out_dir) if out_dir else artifacts.stage_dir(cfg, artifacts.FILTER)
    logging_dir = str(logging_dir or out / "datatrove_logs")
    model_dir = Path(model_dir or artifacts.classifier_model(cfg)).resolve()
    if not (model_dir / "model.safetensors").is_file():
        raise DefinemedError(f"{model_dir}: no model.safetensors (run stage 02_classifier first)")
    fingerprint = model_fingerprint(model_dir)
    files = input_files(cfg, url)
    n_sources = len(files)
    pipeline = build_pipeline(cfg, url, out, model_dir, threshold, fingerprint, files)
    tasks, workers = min(tasks or f.tasks, n_sources), workers or f.workers
    t0 = time.perf_counter()
    if executor == "local":
        from datatrove.executor import LocalPipelineExecutor

        ex = LocalPipelineExecutor(pipeline, tasks=tasks, workers=workers, logging_dir=logging_dir,
                                   start_method=start_method, randomize_start_duration=f.randomize_start_s)
    elif executor == "slurm":
        from datatrove.executor import SlurmPipelineExecutor

        ex = SlurmPipelineExecutor(
            pipeline, tasks=tasks, workers=workers, logging_dir=logging_dir, job_name="finemed-filter",
            time=f.slurm_time, partition=f.slurm_partition, cpus_per_task=f.slurm_cpus_per_task,
            mem_per_cpu_gb=f.slurm_mem_per_cpu_gb, gpus_per_task=f.slurm_gpus_per_task,
            randomize_start_duration=f.randomize_start_s,
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
