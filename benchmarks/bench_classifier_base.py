"""The classifier entry at the paper's XLM-R base shape (hidden 768, 12 layers, vocabulary 250,002):
the same comparison as benchmarks/bench_classifier.py (pipeline vs `Scorer`, paired rounds, the
first-token-only last layer ablated), on fewer documents. See that module's docstring."""
from __future__ import annotations

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from bench_classifier import XLMR_BASE_SHAPE  # noqa: E402
from bench_classifier import run as run_shape  # noqa: E402


def run() -> dict:
    return run_shape(XLMR_BASE_SHAPE)


if __name__ == "__main__":
    print(run())
