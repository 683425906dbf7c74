"""`python -m definemed filter`: stage 03 without the notebook, with the shard engine or datatrove."""
from __future__ import annotations

from typing import Optional

import typer


def register(app: typer.Typer) -> None:
    @app.command("filter")
    def filter_cmd(
        profile: str = typer.Option("tiny", help="Profile name (configs/<name>.yaml) or a config path."),
        engine: str = typer.Option("shards", help="shards: resumable shard loop (the notebook's); datatrove: a datatrove pipeline."),
        executor: str = typer.Option("local", help="datatrove executor: local or slurm."),
        threshold: Optional[float] = typer.Option(None, help="Override classifier.threshold (must be in (0, 1))."),
        input_folder: Optional[str] = typer.Option(None, help="datatrove: input folder / fsspec URL (default: filter.input_folder)."),
        tasks: Optional[int] = typer.Option(None, help="datatrove: tasks (default: filter.tasks)."),
        workers: Optional[int] = typer.Option(None, help="datatrove: tasks at once (default: filter.workers)."),
        limit: int = typer.Option(-1, help="datatrove: documents per task at most (-1: all), for a dry run."),
    ) -> None:
        """Score the corpus with the stage-02 classifier and keep P(medical) >= threshold (FineMed-de)."""
        from definemed.config import load_config
        from definemed.errors import DefinemedError

        overrides = {"classifier.threshold": threshold} if threshold is not None else None
        if engine == "shards":
            from definemed import artifacts
            from definemed.cli import run_stage

            s = run_stage(artifacts.FILTER, profile, overrides)["counts"]
            typer.echo(f"kept {s['n_kept']:,} of {s['n_docs']:,} documents ({s['n_shards_skipped']} of {s['n_shards']} "
                       f"shards already done)")
        elif engine == "datatrove":
            from definemed.filtering.datatrove_step import run_datatrove

            if limit == 0 or limit < -1:
                raise DefinemedError(f"--limit: {limit} (documents per task: a positive number, or -1 for all)")
            counts = {k: v for k, v in {"filter.tasks": tasks, "filter.workers": workers}.items() if v is not None}
            cfg = load_config(profile, overrides={**(overrides or {}), **counts} or None)  # validates --tasks 0

            out = run_datatrove(cfg, executor=executor, input_folder=input_folder, tasks=tasks, workers=workers, limit=limit)
            typer.echo(f"datatrove ({executor}) -> {out / 'shards'}")
        else:
            raise DefinemedError(f"--engine: must be 'shards' or 'datatrove' (got {engine!r})")
