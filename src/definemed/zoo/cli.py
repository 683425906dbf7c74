"""`python -m definemed zoo --profile P` (= `run zoo`): build or download the foundation models."""
from __future__ import annotations

import typer


def register(app: typer.Typer) -> None:
    @app.command()
    def zoo(
        profile: str = typer.Option("tiny", help="Profile name (configs/<name>.yaml) or a config path."),
        force: bool = typer.Option(False, help="Clear the zoo and build (or download) every model again."),
    ) -> None:
        """Build the tiny foundation models (tiny) or download the real ones (paper) to data/<profile>/zoo/."""
        from definemed.cli import run_stage

        rec = run_stage("zoo", profile, force=force)
        counts, wall = rec["counts"], rec["wall_time_s"]
        for name, m in counts["models"].items():
            if "ppl_general" in m:
                acc = m["fact_accuracy"]["all"]
                typer.echo(f"{name}: {m['params'] / 1e6:.2f}M params, ppl general {m['ppl_general']:.2f} / medical "
                           f"{m['ppl_medical']:.2f}, fact acc {acc:.3f}, format rate {m['format_rate']:.3f}"
                           f"{' (reused)' if m['reused'] else ''}")
            else:
                typer.echo(f"{name}: {m['path']} ({m['hf_id']}@{m['revision']})")
        typer.echo(f"zoo ({profile}): {len(counts['models'])} models in {wall:.1f} s")
