"""Progress bars: on at the command line, off inside a notebook kernel.

An executed notebook stores every redraw of a text progress bar as a separate stderr output (a
benchmark loop gave 06 about 2,000 of them), and `tqdm.auto` warns in every kernel without
ipywidgets. So every stage loop uses `definemed.progress.tqdm`: the plain `tqdm.std` bar on a
terminal, disabled in a kernel, where the stage runner's one line per stage ("[12:00:01] 04_cpt:
done in ...") is the progress report. Importing this module in a kernel also turns off the bars of
the libraries the stages call (datasets, huggingface_hub, transformers).
"""
from __future__ import annotations

import sys

from tqdm.std import tqdm as _tqdm


def in_notebook() -> bool:
    """True inside a Jupyter kernel (papermill, JupyterLab), False on the command line and in tests."""
    return "ipykernel" in sys.modules and "ipykernel.zmqshell" in sys.modules


def tqdm(*args, **kwargs):
    """`tqdm.std.tqdm`, disabled in a notebook kernel (a stage may still disable it itself)."""
    kwargs["disable"] = kwargs.get("disable", False) or in_notebook()
    return _tqdm(*args, **kwargs)


def quiet_libraries() -> None:
    """Turn off the progress bars of the Hugging Face libraries (their own switches)."""
    import datasets
    import huggingface_hub.utils
    import transformers

    datasets.disable_progress_bars()
    huggingface_hub.utils.disable_progress_bars()
    transformers.utils.logging.disable_progress_bar()


if in_notebook():
    quiet_libraries()
