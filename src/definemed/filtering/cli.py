"""`python -m definemed filter`: stage 03 without the notebook, with the shard engine or datatrove."""
from __future__ import annotations

from typing import Optional

import typer


def register(app: typer.Typer) -> None:
    @app.command("filter")
    def filter_cmd(
        profile: str = typer.Option("tiny", help="Profile name (configs/<name>.yaml) or a config path."),
        engine: Optional[str] = typer.Option(None, help="shards: one process over 00_corpus/shards; datatrove: datatrove's executors (default: filter.engine)."),
        executor: Optional[str] = typer.Option(None, help="datatrove executor: local or slurm (default: filter.executor)."),
        threshold: Optional[float] = typer.Option(None, help="Override classifier.threshold (must be in (0, 1))."),
        input_folder: Optional[str] = typer.Option(None, help="datatrove: input folder / fsspec URL (default: filter.input_folder)."),
        tasks: Optional[int] = typer.Option(None, help="datatrove: tasks (default: filter.tasks)."),
        workers: Optional[int] = typer.Option(None, help="datatrove: tasks at once (default: filter.workers)."),
    ) -> None:
        """Score the corpus with the stage-02 classifier and keep P(medical) >= threshold (FineMed-de).
        Both engines run as stage 03 (same outputs, same stage record); a Slurm submission exits 1 with
        "submitted ...", and the same command run again after the array finished completes the stage."""
        from definemed import artifacts
        from definemed.runner import run_stage

        over = {"classifier.threshold": threshold, "filter.engine": engine, "filter.executor": executor,
                "filter.input_folder": input_folder, "filter.tasks": tasks, "filter.workers": workers}
        s = run_stage(artifacts.FILTER, profile, over)["counts"]
        typer.echo(f"kept {s['n_kept']:,} of {s['n_docs']:,} documents ({s['n_shards_skipped']} of {s['n_shards']} "
                   f"shards already done)")

    @app.command("stage-fineweb")
    def stage_fineweb(
        profile: str = typer.Option("paper", help="Profile name (configs/<name>.yaml) or a config path."),
        folder: Optional[str] = typer.Option(None, help="Target folder (default: corpus.staged_folder)."),
        source: Optional[str] = typer.Option(None, help="fsspec URL or folder to copy from (default: FineWeb2 "
                                                        "<hf_config>/<hf_split> on the hub at corpus.hf_revision)."),
        workers: Optional[int] = typer.Option(None, help="Files downloaded at once (default: corpus.stage_workers)."),
    ) -> None:
        """Download FineWeb2-de once into a folder (login node with network; resumable: rerun after a failure
        copies only what is missing); stages 00 and 03 then read that folder with HF_HUB_OFFLINE=1."""
        from pathlib import Path

        from definemed.config import load_config
        from definemed.corpus.streaming import hub_source_url, stage_files, staged_folder
        from definemed.errors import DefinemedError

        cfg = load_config(profile)
        target = Path(folder) if folder else staged_folder(cfg)
        if target is None:
            raise DefinemedError("corpus.staged_folder: not set (or pass --folder)")
        s = stage_files(source or hub_source_url(cfg), target, "*.parquet", workers or cfg.corpus.stage_workers)
        typer.echo(f"{s['n_files']} files, {s['rows_total']:,} documents, {s['bytes_total'] / 2**30:.2f} GiB in "
                   f"{s['folder']} ({s['n_copied_now']} copied now, {s['seconds']} s)")
