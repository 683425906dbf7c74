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


def write_table(df: pd.DataFrame, name: str, profile: str, floatfmt: str = ".3f") -> None:
    """Write figures/<profile>/tables/<name>.{csv,md,tex} atomically. Returns None, so a notebook cell that ends with it prints nothing."""
    d = paths.tables_dir(profile)
    io.write_text(d / f"{name}.csv", df.to_csv(index=False))
    io.write_text(d / f"{name}.md", df.to_markdown(index=False, floatfmt=floatfmt) + "\n")
    fmt = lambda x: format(x, floatfmt) if isinstance(x, float) else x  # noqa: E731
    io.write_text(
        d / f"{name}.tex", df.style.format(fmt).hide(axis="index").to_latex(hrules=True) + "\n"
    )
    from definemed.presented import record

    record("table", name, profile)  # files the table under the stage whose notebook wrote it
