"""Stage 06: German medical benchmarks (lm-evaluation-harness) and win-rates against the reference model.

Modules: questions (task format, fact-bank question sets), loaders (mmlux / BioInstructQA records),
harness (lm-eval tasks and scoring), generation (chat answers: batched transformers or an
OpenAI-compatible endpoint), judge (pairwise judges and verdict parser), winrate (pair rules,
bootstrap), models (the variants compared), stage (the driver), report (tables and figures).
"""


def __getattr__(name: str):
    """Lazy, so that importing the package's cli (every `python -m definemed` command does) does not
    import the stage's pandas and lm-eval dependencies."""
    if name in ("run_evaluation", "stage_dir"):
        from definemed.evaluation import stage

        return getattr(stage, name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


__all__ = ["run_evaluation", "stage_dir"]
