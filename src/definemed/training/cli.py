"""`python -m definemed cpt`: stage 04 without the notebook (same functions), and `train` for one spec."""
from __future__ import annotations

from pathlib import Path
from typing import Optional

import typer


def register(app: typer.Typer) -> None:
    @app.command()
    def cpt(
        profile: str = typer.Option("tiny", help="Profile name or config path."),
        model: Optional[str] = typer.Option(None, help="Only this small foundation model."),
        nproc: Optional[int] = typer.Option(None, help="Processes (default cpt.nproc_per_node)."),
        force: bool = typer.Option(False, help="Retrain even if the CPT model exists."),
    ) -> None:
        """Tokenize FineMed-de, plan the packing and train each small foundation model with FSDP2."""
        from definemed.config import load_config
        from definemed.training import stage

        cfg = load_config(profile)
        names = [model] if model else stage.small_models(cfg)
        splits = stage.split_documents(cfg)
        for name in names:
            info = stage.prepare_data(cfg, name, splits)
            res = stage.train_model(cfg, name, info, nproc=nproc, force=force)
            typer.echo(f"{name}: {res['steps']} steps, loss {res['first_loss']:.3f} -> {res['final_loss']:.3f}, "
                       f"model in {res['model_dir']}")

    @app.command("cpt-tokenize")
    def cpt_tokenize(profile: str = typer.Option("tiny", help="Profile name or config path.")) -> None:
        """Stage 04's CPU part: split FineMed-de, tokenize it with cpt.tokenize_num_proc processes and plan
        the packing of every small model, so the stage's GPU job finds its token files ready."""
        import shutil

        from definemed import artifacts, io, stages
        from definemed.config import load_config
        from definemed.training import stage

        cfg = load_config(profile)
        # open the stage folder under the fingerprint the runner will use, as the runner does, so the
        # GPU job resumes this work instead of clearing it
        fp, _ = stages.fingerprint(cfg, artifacts.CPT)
        d = artifacts.stage_dir(cfg, artifacts.CPT)
        marker = d / stages.FINGERPRINT_FILE
        if not marker.is_file() or marker.read_text().strip() != fp:
            shutil.rmtree(d, ignore_errors=True)
            io.write_text(marker, fp + "\n")
        splits = stage.split_documents(cfg)
        for name in stage.small_models(cfg):
            info = stage.prepare_data(cfg, name, splits)
            typer.echo(f"{name}: {info['train']['n_tokens']:,} training tokens in {info['plan']['num_bins']:,} "
                       f"sequences -> {info['data']}")

    @app.command("train")
    def train_cmd(spec: Path = typer.Argument(..., help="run.json (definemed.training.spec.RunSpec)"),
                  nproc: int = typer.Option(1, help="Local processes.")) -> None:
        """Run one training spec on this node with torchrun (checks first)."""
        from definemed.training.launch import launch
        from definemed.training.spec import RunSpec

        metrics = launch(RunSpec.read(spec), nproc)
        typer.echo(f"{len(metrics)} steps; final loss {metrics[-1]['loss']:.4f}")
