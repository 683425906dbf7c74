"""`python -m definemed evaluate`: stage 06 on the command line (the notebook calls the same function)."""
from __future__ import annotations

import typer


def register(app: typer.Typer) -> None:
    @app.command()
    def evaluate(
        profile: str = typer.Option("tiny", help="Profile name (configs/<name>.yaml) or a config path."),
        force: bool = typer.Option(False, help="Recompute every model variant even if its results are current."),
        device: str = typer.Option(None, help="Override evaluate.device: auto, cpu, cuda, cuda:N."),
        dtype: str = typer.Option(None, help="Override evaluate.dtype: auto, float32, bfloat16, float16."),
        lm_backend: str = typer.Option(None, help="Override evaluate.lm_backend: hf or vllm."),
    ) -> None:
        """Score base / CPT / SLERP models and the reference on MMLU-de and MedQA-de (lm-eval) and
        compute win-rates against the reference model; outputs in data/<profile>/06_evaluate/."""
        from definemed import artifacts
        from definemed.runner import run_stage

        over = {"evaluate.device": device, "evaluate.dtype": dtype, "evaluate.lm_backend": lm_backend}
        counts = run_stage(artifacts.EVALUATE, profile, over, force=force)["counts"]
        typer.echo(f"evaluated {counts['n_variants']} models on {counts['n_tasks']} tasks "
                   f"({counts['n_test_questions']} questions) and {counts['n_winrate_questions']} win-rate questions; "
                   f"{counts['n_invalid_judgments']} invalid judgments; {counts['wall_s']} s")
