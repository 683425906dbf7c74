"""Tables as CSV, Markdown and LaTeX, with the paper's reported value in a column beside ours."""
from __future__ import annotations

from pathlib import Path

import pandas as pd

from definemed import io, paths
from definemed.reported import paper_text


def comparison(rows: list[dict]) -> pd.DataFrame:
    """Rows of {'quantity': ..., 'ours': ..., 'paper_key': ...} (plus any extra columns) -> a table
    with a 'paper' column looked up in data/paper_reported.yaml."""
    out = []
    for r in rows:
        r = dict(r)
        key = r.pop("paper_key", None)
        r["paper"] = paper_text(key) if key else "—"
        out.append(r)
    return pd.DataFrame(out)


def write_table(df: pd.DataFrame, name: str, profile: str, floatfmt: str = ".3f") -> dict[str, Path]:
    """Write figures/<profile>/tables/<name>.{csv,md,tex} atomically; return the paths."""
    d = paths.tables_dir(profile)
    out = {}
    out["csv"] = io.write_text(d / f"{name}.csv", df.to_csv(index=False))
    out["md"] = io.write_text(d / f"{name}.md", df.to_markdown(index=False, floatfmt=floatfmt) + "\n")
    fmt = lambda x: format(x, floatfmt) if isinstance(x, float) else x  # noqa: E731
    out["tex"] = io.write_text(
        d / f"{name}.tex", df.style.format(fmt).hide(axis="index").to_latex(hrules=True) + "\n"
    )
    return out
