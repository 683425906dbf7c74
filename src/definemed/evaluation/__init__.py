"""Stage 06: German medical benchmarks (lm-evaluation-harness) and win-rates against the reference model.

Modules: questions (task format, fact-bank question sets), loaders (mmlux / BioInstructQA records),
harness (lm-eval tasks and scoring), generation (chat answers: batched transformers or an
OpenAI-compatible endpoint), judge (pairwise judges and verdict parser), winrate (pair rules,
bootstrap), models (the variants compared), stage (the driver), report (tables and figures).
"""
from definemed.evaluation.stage import run_evaluation, stage_dir

__all__ = ["run_evaluation", "stage_dir"]
