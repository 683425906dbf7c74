"""`python -m definemed label --profile P`: label the sample of stage 01 (stage 01; resumes an interrupted run)."""
from __future__ import annotations

import typer


def register(app: typer.Typer) -> None:
    @app.command()
    def label(
        profile: str = typer.Option("tiny", help="Profile name (configs/<name>.yaml) or a config path."),
        backend: str = typer.Option(None, help="Override label.backend (lexicon | openai | transformers)."),
        n_docs: int = typer.Option(None, help="Override label.n_docs."),
        base_url: str = typer.Option(None, help="Override label.openai.base_url."),
        force: bool = typer.Option(False, help="Discard partial and final labels and start over."),
    ) -> None:
        """Label a seeded document sample (all expert documents included) with the LLM annotator.

        Records are appended to data/<p>/01_label/parts/ as they arrive; rerunning after an interruption
        labels only what is missing. data/<p>/01_label/labels.parquet is written when all are labelled.
        """
        from definemed import artifacts
        from definemed.runner import run_stage

        rec = run_stage(artifacts.LABEL, profile, {"label.backend": backend, "label.n_docs": n_docs,
                                              "label.openai.base_url": base_url}, force)
        s = rec["counts"]
        typer.echo(f"labelled {s['n_docs']} documents with {s['annotator']}: {s['n_medical']} medical, "
                   f"{s['n_not_medical']} not, {s['n_invalid']} invalid ({s['n_resumed']} resumed)")
