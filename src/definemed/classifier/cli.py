"""`python -m definemed classifier-train`: stage 02 without the notebook."""
from __future__ import annotations

from pathlib import Path
from typing import Optional

import typer


def register(app: typer.Typer) -> None:
    @app.command("classifier-train")
    def classifier_train(
        profile: str = typer.Option("tiny", help="Profile name (configs/<name>.yaml) or a config path."),
        labels: Optional[Path] = typer.Option(None, help="LLM labels parquet (default: data/<profile>/01_label/labels.parquet)."),
        threshold: Optional[float] = typer.Option(None, help="Override classifier.threshold (must be in (0, 1))."),
    ) -> None:
        """Fine-tune the medical classifier on the 01 labels; write 02_classifier/model and operating_point.json."""
        from definemed.classifier.stage import model_dir, run_classifier
        from definemed.config import load_config

        cfg = load_config(profile, overrides={"classifier.threshold": threshold} if threshold is not None else None)
        s = run_classifier(cfg, labels_file=labels)
        typer.echo(f"trained {s['n_params']:,} parameters on {s['n_train']} labels in {s['train_runtime_s']:.0f} s "
                   f"(best step {s['best_step']}, validation F-beta {s['best_val_fbeta']:.3f}) -> {model_dir(cfg)}")
