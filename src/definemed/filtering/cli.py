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
        """Score the corpus with the stage-02 classifier and keep P(medical) >= threshold (FineMed-de)."""
        from definemed.config import load_config
        from definemed.errors import DefinemedError

        cfg = load_config(profile, overrides={"classifier.threshold": threshold} if threshold is not None else None)
        engine = engine or cfg.filter.engine
        if engine == "shards":
            from definemed.filtering.filter import filter_corpus, stage_dir

            s = filter_corpus(cfg)
            typer.echo(f"kept {s['n_kept']:,} of {s['n_docs']:,} documents ({s['n_shards_skipped']} of {s['n_shards']} "
                       f"shards already done) -> {stage_dir(cfg) / 'shards'}")
        elif engine == "datatrove":
            from definemed.filtering.datatrove_step import run_datatrove
            from definemed.filtering.filter import stage_dir

            s = run_datatrove(cfg, executor=executor, input_folder=input_folder, tasks=tasks, workers=workers)
            if "submitted" in s:
                typer.echo(f"submitted {s['submitted']} Slurm tasks for {s['n_shards']} files; rerun this command when "
                           f"they finished to write filter_stats.json (logs: {s['logging_dir']})")
            else:
                typer.echo(f"kept {s['n_kept']:,} of {s['n_docs']:,} documents -> {stage_dir(cfg) / 'shards'}")
        else:
            raise DefinemedError(f"--engine: must be 'shards' or 'datatrove' (got {engine!r})")
