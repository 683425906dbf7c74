"""Turn a percent-format script (cells separated by `# %%`) into a clean notebook without outputs.

    python scripts/py2nb.py notebooks/src/00_corpus.py notebooks/00_corpus.ipynb

`# %% [markdown]` starts a Markdown cell (its lines are `# `-prefixed comments);
`# %% [parameters]` starts the code cell papermill injects parameters after.
The notebook's kernel is "DeFineMed (.venv)" (`make lab` installs it; `make reproduce` runs every
notebook with the interpreter that runs papermill, whatever kernel the file names).
"""
import sys

import nbformat

KERNEL, KERNEL_DISPLAY = "definemed", "DeFineMed (.venv)"
"""The kernelspec `make lab` installs (Makefile: KERNEL)."""


def convert(src: str) -> nbformat.NotebookNode:
    nb = nbformat.v4.new_notebook()
    nb.metadata["kernelspec"] = {"name": KERNEL, "display_name": KERNEL_DISPLAY, "language": "python"}
    cells, kind, buf = [], None, []

    def flush():
        text = "\n".join(buf).strip("\n")
        if kind is None and not text:
            return
        if kind == "markdown":
            md = "\n".join(l[2:] if l.startswith("# ") else l.lstrip("#") for l in text.splitlines())
            cells.append(nbformat.v4.new_markdown_cell(md))
        else:
            c = nbformat.v4.new_code_cell(text)
            if kind == "parameters":
                c.metadata["tags"] = ["parameters"]
            cells.append(c)

    for line in src.splitlines():
        if line.startswith("# %%"):
            flush()
            buf = []
            kind = "markdown" if "[markdown]" in line else "parameters" if "[parameters]" in line else "code"
        else:
            buf.append(line)
    flush()
    for i, c in enumerate(cells):
        c["id"] = f"cell-{i:02d}"
    nb.cells = cells
    return nb


if __name__ == "__main__":
    src, dst = sys.argv[1], sys.argv[2]
    nbformat.write(convert(open(src, encoding="utf-8").read()), dst)
