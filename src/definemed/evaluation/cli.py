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
        lm_backend: str = typer.Option(None, help="Override evaluate.lm_backend: hf, vllm or server."),
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

    @app.command("plan-evaluate")
    def plan_evaluate(profile: str = typer.Option("tiny", help="Profile name (configs/<name>.yaml) or a config path.")) -> None:
        """GPUs and memory per stage-06 variant for the configured backend; exit 1 naming what does not fit."""
        from definemed.config import load_config
        from definemed.evaluation import plan

        cfg = load_config(profile)
        plans = plan.plan_all(cfg)
        e = cfg.evaluate
        typer.echo(f"stage 06 plan: lm_backend {e.lm_backend}, generation {e.generation_backend}, server {e.server}, "
                   f"{e.gpus} GPU(s) of {e.gpu_memory_gib:g} GiB")
        typer.echo(plan.table(plans))
        plan.check(plans)
