"""Detectors built once per test session (lingua's language models take about a second to load)."""
from __future__ import annotations

import pytest

from definemed.config import load_config


@pytest.fixture(scope="session")
def tiny_cfg():
    return load_config("tiny")


@pytest.fixture(scope="session")
def fixed_terms(tiny_cfg):
    from definemed.failure.terms import load_terms

    return load_terms(tiny_cfg, use_corpus=False)


@pytest.fixture(scope="session")
def lang(tiny_cfg, fixed_terms):
    from definemed.failure.language import LanguageMixDetector

    return LanguageMixDetector(tiny_cfg.failure, fixed_terms)


@pytest.fixture(scope="session")
def typos(tiny_cfg, fixed_terms):
    from definemed.failure.typos import TypoDetector

    return TypoDetector(tiny_cfg.failure, fixed_terms)


@pytest.fixture(scope="session")
def bank(tiny_cfg):
    from definemed.corpus import fact_bank

    return fact_bank(tiny_cfg)
