"""`python -m definemed evaluate`: stage 06 on the command line (the notebook calls the same function)."""
from __future__ import annotations

import typer


def register(app: typer.Typer) -> None:
    @app.command()
    def evaluate(
        profile: str = typer.Option("tiny", help="Profile name (configs/<name>.yaml) or a config path."),
        force: bool = typer.Option(False, help="Recompute every model variant even if its results are current."),
    ) -> None:
        """Score base / CPT / SLERP models and the reference on MMLU-de and MedQA-de (lm-eval) and
        compute win-rates against the reference model; outputs in data/<profile>/06_evaluate/."""
        from definemed import artifacts
        from definemed.cli import run_stage

        counts = run_stage(artifacts.EVALUATE, profile, force=force)["counts"]
        typer.echo(f"evaluated {counts['n_variants']} models on {counts['n_tasks']} tasks "
                   f"({counts['n_test_questions']} questions) and {counts['n_winrate_questions']} win-rate questions; "
                   f"{counts['n_invalid_judgments']} invalid judgments; {counts['wall_s']} s")
