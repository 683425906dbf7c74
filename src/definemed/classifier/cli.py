"""`python -m definemed classifier-train`: stage 02 without the notebook (= `run 02_classifier`)."""
from __future__ import annotations

from typing import Optional

import typer


def register(app: typer.Typer) -> None:
    @app.command("classifier-train")
    def classifier_train(
        profile: str = typer.Option("tiny", help="Profile name (configs/<name>.yaml) or a config path."),
        threshold: Optional[float] = typer.Option(None, help="Override classifier.threshold (must be in (0, 1))."),
        force: bool = typer.Option(False, help="Train again even if the stage is done."),
    ) -> None:
        """Fine-tune the medical classifier on the 01 labels; write 02_classifier/model and operating_point.json."""
        from definemed import artifacts
        from definemed.runner import run_stage

        s = run_stage(artifacts.CLASSIFIER, profile, {"classifier.threshold": threshold}, force)["counts"]
        typer.echo(f"trained {s['n_params']:,} parameters on {s['n_train']} labels in {s['train_runtime_s']:.0f} s "
                   f"(best step {s['best_step']}, validation F-beta {s['best_val_fbeta']:.3f})")
