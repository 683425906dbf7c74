"""The filter as a datatrove pipeline (reader -> classifier filter -> writer), for the cluster.

    pipeline = build_pipeline(input_folder, output_folder, model_dir, threshold)
    LocalPipelineExecutor(pipeline, tasks=..., workers=..., logging_dir=...).run()
    SlurmPipelineExecutor(pipeline, tasks=..., time=..., partition=..., gpus_per_task=1, ...).run()

Each task reads input files rank::tasks (FineWeb2's parquet files, local or `hf://datasets/...`),
scores documents in batches of `doc_batch` with the same `Scorer` as the notebook path (sorted by
length inside, tokenization in a background thread, bf16 on GPU), and writes `shard-<rank>.parquet`
with the FineWeb2 fields and `score`. datatrove writes completion markers per task into `logging_dir`,
so a rerun skips finished tasks, and per-step stats (documents forwarded / dropped).
"""
from __future__ import annotations

import sys
from pathlib import Path

from datatrove.data import Document
from datatrove.pipeline.filters.base_filter import BaseFilter

from definemed.classifier.metrics import check_threshold
from definemed.corpus.schema import FINEWEB2_FIELDS
from definemed.filtering.filter import OUTPUT_SCHEMA


class MedicalClassifierFilter(BaseFilter):
    """Keeps documents with P(medical) >= threshold; the score goes into `doc.metadata['score']`."""

    name = "🩺 medical classifier"

    def __init__(self, model_dir: str | Path, threshold: float, doc_batch: int = 1024, batch_size: int = 64,
                 max_length: int = 512, bf16: bool = True, prefetch_batches: int = 4,
                 torch_threads: int | None = None, exclusion_writer=None):
        super().__init__(exclusion_writer=exclusion_writer, batch_size=doc_batch)
        self.model_dir = str(model_dir)
        self.threshold = check_threshold(threshold, "filter threshold")
        self.scorer_kwargs = dict(batch_size=batch_size, max_length=max_length, bf16=bf16,
                                  prefetch_batches=prefetch_batches, torch_threads=torch_threads)
        self._scorer = None  # built lazily inside the worker process (not pickled with the pipeline)

    @property
    def scorer(self):
        if self._scorer is None:
            from definemed.classifier.inference import Scorer

            self._scorer = Scorer(self.model_dir, **self.scorer_kwargs)
        return self._scorer

    def filter_batch(self, batch: list[Document]) -> list[bool]:
        from definemed.filtering.filter import keep_mask

        scores = self.scorer.score([d.text for d in batch])
        for d, s in zip(batch, scores):
            d.metadata["score"] = float(s)
        return keep_mask(scores, self.threshold).tolist()

    def filter(self, doc: Document) -> bool:
        return self.filter_batch([doc])[0]


def fineweb_adapter(self, document: Document) -> dict:
    """Writer adapter: FineWeb2 fields (text, id, then metadata) plus the score."""
    row = {"text": document.text, "id": document.id}
    row.update({k: document.metadata.get(k) for k in FINEWEB2_FIELDS[2:]})
    row["score"] = document.metadata["score"]
    return row


def build_pipeline(input_folder: str, output_folder: str, model_dir: str | Path, threshold: float,
                   glob_pattern: str = "*.parquet", doc_batch: int = 1024, batch_size: int = 64,
                   max_length: int = 512, bf16: bool = True, prefetch_batches: int = 4,
                   torch_threads: int | None = None, limit: int = -1) -> list:
    from datatrove.pipeline.readers import ParquetReader
    from datatrove.pipeline.writers import ParquetWriter

    return [
        ParquetReader(input_folder, glob_pattern=glob_pattern, text_key="text", id_key="id", limit=limit),
        MedicalClassifierFilter(model_dir, threshold, doc_batch=doc_batch, batch_size=batch_size,
                                max_length=max_length, bf16=bf16, prefetch_batches=prefetch_batches,
                                torch_threads=torch_threads),
        ParquetWriter(output_folder, output_filename="shard-${rank}.parquet", compression="zstd",
                      adapter=fineweb_adapter, schema=OUTPUT_SCHEMA, max_file_size=-1),
    ]


def run_datatrove(cfg, executor: str = "local", input_folder: str | None = None, output_folder: str | Path | None = None,
                  logging_dir: str | Path | None = None, model_dir: str | Path | None = None, tasks: int | None = None,
                  workers: int | None = None, limit: int = -1):
    """Run the filter pipeline of a profile with datatrove's local or Slurm executor."""
    from definemed.classifier.stage import model_dir as default_model_dir
    from definemed.errors import DefinemedError
    from definemed import artifacts

    f, c = cfg.filter, cfg.classifier
    input_folder = input_folder or f.input_folder or str(artifacts.corpus_shards(cfg))
    out = Path(output_folder) if output_folder else artifacts.stage_dir(cfg, artifacts.FILTER) / "datatrove"
    logging_dir = str(logging_dir or out.parent / (out.name + "_logs"))
    model_dir = Path(model_dir or default_model_dir(cfg))
    if not (model_dir / "model.safetensors").is_file():
        raise DefinemedError(f"{model_dir}: no model.safetensors (run stage 02_classifier first)")
    pipeline = build_pipeline(input_folder, str(out / "shards"), model_dir.resolve(), c.threshold, f.glob_pattern,
                              f.doc_batch, f.batch_size, f.max_length or c.max_length, f.bf16, f.prefetch_batches,
                              c.torch_threads, limit)
    tasks, workers = tasks or f.tasks, workers or f.workers
    if executor == "local":
        from datatrove.executor import LocalPipelineExecutor

        ex = LocalPipelineExecutor(pipeline, tasks=tasks, workers=workers, logging_dir=logging_dir)
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
    return out
