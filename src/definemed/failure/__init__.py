"""Stage 07: failure analysis of the models' German answers.

Detectors, each returning per answer a `Verdict` (flag, evidence, status):
- `language.LanguageMixDetector`: non-German spans (lingua + dictionaries; medical Latin allowed)
- `typos.TypoDetector`: pyspellchecker's German dictionary with a medical allow-list (`terms`)
- `verbosity.VerbosityDetector`: length, ratio to the reference answer, information density
- `claims.FactChecker` (tiny stand-in) or `judge.run_judge` (LLM judge, German rubric in prompts/):
  hallucination, overconfidence, contradiction
`stage.run(cfg)` is the stage (detections and detector quality), `analysis` its computation, `evalset`
measures the detectors on labelled text with planted noise, `report` makes tables and figures.
"""
from definemed.failure.verdict import Verdict

__all__ = ["Verdict"]
