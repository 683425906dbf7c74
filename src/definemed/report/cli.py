"""`python -m definemed report --profile P`: the results file, the generated prose of README and docs
(tiny), and figures/<P>/report.md and report.html."""
from __future__ import annotations

import typer


def register(app: typer.Typer) -> None:
    @app.command()
    def report(profile: str = typer.Option("tiny", help="Profile name (configs/<name>.yaml) or a config path.")) -> None:
        """Write the results file, regenerate the README's and docs' generated blocks (tiny) and the report page."""
        from definemed.config import load_config
        from definemed.report import build_report

        cfg = load_config(profile)
        out = build_report(cfg.profile, cfg)
        typer.echo(f"report: {out['md']} and {out['html']}; results: {out['results']}")
