"""The shared figure style (seaborn), one colour per model, and atomic figure saving to figures/<profile>/.

Backend: inside a Jupyter kernel (papermill, JupyterLab) the kernel's inline backend stays in charge,
so a figure made in a cell is an image output of that cell (and `display(fig)` shows an image);
everywhere else (the command line, the report, tests) matplotlib draws with Agg. Either way
`save_figure` writes the PNG and the PDF.

Colours: `setup_style(cfg)` fixes one colour per model name from the config's foundation models, the
same in every figure: each small family has a hue of the colour-blind palette, its CPT model a darker
and its SLERP merge a lighter shade of it; the reference model is dark grey. The paper's reported
values are drawn in black (`PAPER`) with a star or a bar, so they never look like one of our models.
"""
from __future__ import annotations

import hashlib
import sys
import matplotlib

if "ipykernel" not in sys.modules:  # in a kernel, keep its inline backend: figures become outputs
    matplotlib.use("Agg")
import matplotlib.colors as mcolors  # noqa: E402
import matplotlib.pyplot as plt  # noqa: E402
import seaborn as sns  # noqa: E402

from definemed import io, paths  # noqa: E402

PALETTE = "colorblind"
PAPER = "black"
"""Colour of the paper's reported values in every figure."""
REFERENCE = "#4d4d4d"
_MODEL_COLORS: dict[str, str] = {}
_SUFFIXES = {"-cpt": 0.62, "-slerp": 1.45}
"""Shade of a family's colour per variant suffix: CPT darker, SLERP lighter (1 = the base's colour)."""


def setup_style(cfg=None) -> None:
    """Seaborn theme and figure defaults; with a config, also the colour of every model it names."""
    sns.set_theme(context="notebook", style="whitegrid", palette=PALETTE)
    plt.rcParams.update({"figure.dpi": 110, "savefig.dpi": 150, "savefig.bbox": "tight",
                         "svg.hashsalt": "definemed", "pdf.compression": 6, "legend.fontsize": 8,
                         "legend.framealpha": 0.85})
    if cfg is not None:
        _MODEL_COLORS.clear()
        _MODEL_COLORS.update(model_palette([(m.name, m.role) for m in cfg.models.foundations]))


def _shade(color, factor: float) -> str:
    """factor < 1 darkens, > 1 lightens (towards white) a colour."""
    r, g, b = mcolors.to_rgb(color)
    if factor <= 1:
        return mcolors.to_hex((r * factor, g * factor, b * factor))
    t = factor - 1
    return mcolors.to_hex((r + (1 - r) * t, g + (1 - g) * t, b + (1 - b) * t))


def model_palette(foundations: list[tuple[str, str]]) -> dict[str, str]:
    """{model label: colour} for (name, role) pairs in config order, variants included."""
    hues = sns.color_palette(PALETTE, 10)
    out, i = {}, 0
    for name, role in foundations:
        if role == "reference":
            out[name] = REFERENCE
            continue
        base = mcolors.to_hex(hues[i % len(hues)])
        i += 1
        out[name] = base
        out.update({name + suffix: _shade(base, f) for suffix, f in _SUFFIXES.items()})
    return out


def model_color(label: str) -> str:
    """The colour of a model in every figure (a stable colour from its name if no config set one)."""
    if label in _MODEL_COLORS:
        return _MODEL_COLORS[label]
    family = next((label[: -len(s)] for s in _SUFFIXES if label.endswith(s)), label)
    if family in _MODEL_COLORS:
        return _shade(_MODEL_COLORS[family], _SUFFIXES[label[len(family):]])
    k = int(hashlib.sha256(family.encode()).hexdigest(), 16) % 10
    base = mcolors.to_hex(sns.color_palette(PALETTE, 10)[k])
    return _shade(base, _SUFFIXES[label[len(family):]]) if family != label else base


def model_colors(labels) -> dict[str, str]:
    """{label: colour} for a seaborn `palette=` argument."""
    return {label: model_color(label) for label in labels}


DOMAINS = ("medical", "borderline", "general")
_DOMAIN_HUES = {"medical": 3, "borderline": 5, "general": 7}
"""Index into the colour-blind palette per corpus domain: vermillion, brown, grey, none of them a model's
family hue (families take the palette from its start), the same in every figure."""


def domain_color(domain: str) -> str:
    """The colour of a corpus domain (medical / borderline / general) in every figure."""
    if domain not in _DOMAIN_HUES:
        from definemed.errors import DefinemedError

        raise DefinemedError(f"unknown domain '{domain}' (domains: {', '.join(DOMAINS)})")
    return mcolors.to_hex(sns.color_palette(PALETTE, 10)[_DOMAIN_HUES[domain]])


def domain_colors(domains=DOMAINS) -> dict[str, str]:
    """{domain: colour} for a seaborn `palette=` argument."""
    return {d: domain_color(d) for d in domains}


def save_figure(fig: plt.Figure, name: str, profile: str) -> None:
    """Save as PNG (for notebooks and the report) and PDF (for the paper). Returns None, so a notebook
    cell that ends with it prints nothing (the inline backend shows the figure).
    Inside a notebook run by `definemed run-notebook` the name is also recorded under the stage, so
    the report files the figure under the stage that made it."""
    d = paths.figures_dir(profile)
    for ext in ("png", "pdf"):
        with io.atomic_path(d / f"{name}.{ext}", suffix=f".{ext}") as tmp:
            fig.savefig(tmp, format=ext, metadata={"CreationDate": None} if ext == "pdf" else {"Software": None})
    from definemed.presented import record

    record("figure", name, profile)
