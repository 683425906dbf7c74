"""DeFineMed reproduction: FineMed-de filtering, continual pre-training, SLERP merging, evaluation.

Stages (one notebook each, run in order by the Makefile):
00_corpus, 01_label, 02_classifier, 03_filter, zoo (foundation models), 04_cpt, 05_merge,
06_evaluate, 07_failure_analysis.
"""

__version__ = "0.1.0"

import sys as _sys

if "ipykernel" in _sys.modules:  # a notebook kernel: progress bars off before any library loads
    from definemed import progress as _progress  # noqa: F401
