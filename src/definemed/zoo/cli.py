"""`python -m definemed zoo --profile P`: build or download the foundation models, write the manifest."""
from __future__ import annotations

import time

import typer


def register(app: typer.Typer) -> None:
    @app.command()
    def zoo(
        profile: str = typer.Option("tiny", help="Profile name (configs/<name>.yaml) or a config path."),
        force: bool = typer.Option(False, help="Rebuild models even if a folder with the same build key exists."),
    ) -> None:
        """Build the tiny foundation models (tiny) or download the real ones (paper) to data/<profile>/zoo/."""
        from definemed.config import load_config
        from definemed.manifest import write_manifest
        from definemed.zoo import STAGE, build_zoo

        cfg = load_config(profile)
        t0 = time.time()
        counts = build_zoo(cfg, force=force)
        wall = time.time() - t0
        write_manifest(cfg, STAGE, wall)
        for name, m in counts["models"].items():
            if "ppl_general" in m:
                acc = m["fact_accuracy"]["all"]
                typer.echo(f"{name}: {m['params'] / 1e6:.2f}M params, ppl general {m['ppl_general']:.2f} / medical "
                           f"{m['ppl_medical']:.2f}, fact acc {acc:.3f}, format rate {m['format_rate']:.3f}"
                           f"{' (reused)' if m['reused'] else ''}")
            else:
                typer.echo(f"{name}: {m['path']} ({m['hf_id']}@{m['revision']})")
        typer.echo(f"zoo ({cfg.profile}): {len(counts['models'])} models in {wall:.1f} s")
