"""`python -m definemed cpt`: stage 04 without the notebook (same functions); `train` for one spec;
`plan-cpt` (memory and time plan); `cpt-prepare` / `cpt-publish` (the Slurm script's first and last
step, the same done-contract as the stage: `definemed.training.run_record`)."""
from __future__ import annotations

import sys
from pathlib import Path
from typing import Optional

import typer


def register(app: typer.Typer) -> None:
    @app.command()
    def cpt(
        profile: str = typer.Option("tiny", help="Profile name or config path."),
        nproc: Optional[int] = typer.Option(None, help="Processes (default cpt.nproc_per_node; operational, "
                                                       "outside the fingerprint)."),
        force: bool = typer.Option(False, help="Start stage 04 over (its files move to superseded/)."),
    ) -> None:
        """Stage 04 through the stage runner (record, lock, manifest): tokenize FineMed-de, plan the packing
        and train each small foundation model with FSDP2, resuming finished steps."""
        from definemed import artifacts
        from definemed.runner import run_stage

        rec = run_stage(artifacts.CPT, profile, {"cpt.nproc_per_node": nproc}, force)
        c = rec["counts"]
        for name, steps in (c.get("steps") or {}).items():
            typer.echo(f"{name}: {steps} steps, final loss {(c.get('final_loss') or {}).get(name)}")

    @app.command("cpt-tokenize")
    def cpt_tokenize(profile: str = typer.Option("tiny", help="Profile name or config path.")) -> None:
        """Stage 04's CPU part: split FineMed-de, tokenize it with cpt.tokenize_num_proc processes and plan
        the packing of every small model, so the stage's GPU job finds its token files ready."""
        from definemed.config import load_config
        from definemed.training import run_record, stage

        cfg = load_config(profile)
        # open the stage folder under the fingerprint the runner will use, as the runner does (never
        # deleting CPT runs under cpt.on_settings_change: refuse), so the GPU job resumes this work
        run_record.claim_stage(cfg)
        splits = stage.lazy_splits(cfg)  # read only if some model needs it
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

    @app.command("plan-cpt")
    def plan_cpt(
        profile: str = typer.Option("tiny", help="Profile name or config path."),
        model: Optional[str] = typer.Option(None, help="Only this small foundation model."),
        write_docs: bool = typer.Option(False, "--write-docs",
                                        help="Regenerate the GPU-hours table of docs/training.md from this plan."),
    ) -> None:
        """Memory per GPU and time of the configured CPT: compute at the planned MFU and what the
        scaling model gives the configured mesh (MFU, GPU-hours, days, Slurm jobs). Refuses a
        configuration that does not fit."""
        from definemed import paths
        from definemed.config import load_config
        from definemed.training import plan as plan_lib
        from definemed.training import scaling, stage

        cfg = load_config(profile)
        names = [model] if model else stage.small_models(cfg)
        plans = [plan_lib.plan_for(cfg, name) for name in names]
        for p in plans:
            typer.echo(plan_lib.format_plan(p))
            if p.gpu is not None:
                typer.echo(scaling.format_modelled(scaling.modelled(cfg, p.model), cfg.cpt.cluster.job_hours))
        for p in plans:
            plan_lib.check_fits(p, cfg)
        if write_docs:
            doc = paths.ROOT / "docs" / "training.md"
            changed = scaling.write_docs(cfg, names, doc)
            typer.echo(f"{doc}: {'updated' if changed else 'already up to date'}")

    @app.command("cpt-prepare")
    def cpt_prepare(
        model: str = typer.Option(..., help="Small foundation model name."),
        profile: str = typer.Option("paper", help="Profile name or config path."),
        nnodes: int = typer.Option(..., help="Nodes of the allocation ($SLURM_NNODES)."),
        nproc_per_node: int = typer.Option(..., help="GPUs per node."),
    ) -> None:
        """Slurm job, first step: data, memory plan, run folder claim; prints the run.json path."""
        from definemed.config import load_config
        from definemed.training import run_record

        typer.echo(run_record.slurm_prepare(load_config(profile), model, nnodes, nproc_per_node))

    @app.command("cpt-publish")
    def cpt_publish(
        model: str = typer.Option(..., help="Small foundation model name."),
        profile: str = typer.Option("paper", help="Profile name or config path."),
    ) -> None:
        """Slurm job, last step: publish a finished run (exit 0) or report it unfinished (exit 3)."""
        from definemed.config import load_config
        from definemed.training import run_record

        code, msg = run_record.slurm_publish(load_config(profile), model)
        typer.echo(msg)
        sys.exit(code)  # 3: not finished (the sbatch script requeues)
