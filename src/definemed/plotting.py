"""The shared figure style (seaborn) and atomic figure saving to figures/<profile>/."""
from __future__ import annotations

from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import seaborn as sns  # noqa: E402

from definemed import io, paths  # noqa: E402

PALETTE = "colorblind"


def setup_style() -> None:
    sns.set_theme(context="notebook", style="whitegrid", palette=PALETTE)
    plt.rcParams.update({"figure.dpi": 110, "savefig.dpi": 150, "savefig.bbox": "tight",
                         "svg.hashsalt": "definemed", "pdf.compression": 6})


def save_figure(fig: plt.Figure, name: str, profile: str) -> Path:
    """Save as PNG (for notebooks and the report) and PDF (for the paper); return the PNG path."""
    d = paths.figures_dir(profile)
    for ext in ("png", "pdf"):
        with io.atomic_path(d / f"{name}.{ext}", suffix=f".{ext}") as tmp:
            fig.savefig(tmp, format=ext, metadata={"CreationDate": None} if ext == "pdf" else {"Software": None})
    return d / f"{name}.png"
