"""One colour per model in every figure; figures save as PNG and PDF and are recorded per stage."""
from __future__ import annotations

import json

import matplotlib.pyplot as plt

from definemed import plotting, presented
from definemed.config import load_config


def test_one_colour_per_model_from_the_config():
    cfg = load_config("tiny")
    plotting.setup_style(cfg)
    names = [m.name for m in cfg.models.foundations]
    small = [m.name for m in cfg.models.foundations if m.role == "small"]
    ref = next(m.name for m in cfg.models.foundations if m.role == "reference")
    labels = [v for n in small for v in (n, f"{n}-cpt", f"{n}-slerp")] + [ref]
    colors = plotting.model_colors(labels)
    assert len(set(colors.values())) == len(labels), "every model has its own colour"
    assert colors[ref] == plotting.REFERENCE and plotting.PAPER not in colors.values()
    plotting.setup_style(None)
    assert plotting.model_colors(labels) == colors, "the same colours without re-reading the config"
    assert set(names) <= set(colors)


def test_unknown_models_get_stable_colours():
    a, b = plotting.model_color("some-model-cpt"), plotting.model_color("some-model-cpt")
    assert a == b and a != plotting.model_color("some-model")


def test_save_figure_writes_png_pdf_and_records_the_stage(out_root, monkeypatch):
    monkeypatch.setenv(presented.ENV, "05_merge")
    fig, ax = plt.subplots()
    ax.plot([0, 1])
    assert plotting.save_figure(fig, "f", "p") is None  # nothing for a notebook cell to print
    plt.close(fig)
    d = out_root / "figures" / "p"
    assert (d / "f.png").read_bytes()[:4] == b"\x89PNG" and (d / "f.pdf").read_bytes()[:4] == b"%PDF"
    assert presented.collected("p", "05_merge") == {"tables": [], "figures": ["f"]}
    lines = presented.log_file("p", "05_merge").read_text().splitlines()
    assert json.loads(lines[0]) == {"kind": "figure", "name": "f"}


def test_domain_colours_are_fixed_and_distinct_from_the_families():
    import pytest

    from definemed import plotting
    from definemed.errors import DefinemedError

    colours = plotting.domain_colors()
    assert list(colours) == ["medical", "borderline", "general"] and len(set(colours.values())) == 3
    families = plotting.model_palette([("a", "small"), ("b", "small"), ("r", "reference")])
    assert not set(colours.values()) & set(families.values())
    with pytest.raises(DefinemedError, match="unknown domain 'medicine'"):
        plotting.domain_color("medicine")
