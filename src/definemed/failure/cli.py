"""`python -m definemed failure-check`: run the stage-07 detectors on one answer (for spot checks)."""
from __future__ import annotations

import typer


def register(app: typer.Typer) -> None:
    @app.command("failure-check")
    def failure_check(
        answer: str = typer.Argument(..., help="The answer text to check."),
        question: str = typer.Option("", help="The question (gives the fact-bank judge its subject)."),
        reference: str = typer.Option("", help="The reference answer (for the length ratio)."),
        profile: str = typer.Option("tiny", help="Profile name or config path."),
    ) -> None:
        """Print each detector's verdict and evidence for one answer."""
        from definemed.config import load_config
        from definemed.failure.analysis import Detectors

        cfg = load_config(profile)
        det = Detectors(cfg)
        verdicts = {"language_mixing": det.language.detect(answer), "typos": det.typos.detect(answer),
                    "verbosity": det.verbosity.detect(answer, reference or None)}
        verdicts.update(det.judged([{"answer": answer, "question": question, "reference_answer": reference,
                                     "fact_id": -1}], cache=None)[0])
        for mode, v in verdicts.items():
            typer.echo(f"{mode:16s} {'FLAG' if v.flag else 'ok  '} [{v.status}] " + " | ".join(v.evidence))
