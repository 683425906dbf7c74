"""Progress bars: on at the command line, off inside a notebook kernel.

An executed notebook stores every redraw of a text progress bar as a separate stderr output (a
benchmark loop gave 06 about 2,000 of them), and `tqdm.auto` warns in every kernel without
ipywidgets. So every stage loop uses `definemed.progress.tqdm`: the plain `tqdm.std` bar on a
terminal, disabled in a kernel, where the stage runner's one line per stage ("[12:00:01] 04_cpt:
done in ...") is the progress report. `import definemed` in a kernel also turns off the bars of the
libraries the stages call (huggingface_hub, transformers, datasets) and the widget warning of
`tqdm.auto` (`quiet_kernel`).
"""
from __future__ import annotations

import os
import sys
import warnings

from tqdm.std import TqdmWarning
from tqdm.std import tqdm as _tqdm


def in_notebook() -> bool:
    """True inside a Jupyter kernel (papermill, JupyterLab), False on the command line and in tests."""
    return "ipykernel" in sys.modules and "ipykernel.zmqshell" in sys.modules


ENV = "DEFINEMED_PROGRESS"
"""'off' turns the bars off; a kernel sets it, so the processes a stage starts from a notebook (the
zoo's build workers, torchrun) inherit it."""


def quiet() -> bool:
    return in_notebook() or os.environ.get(ENV) == "off"


def tqdm(*args, **kwargs):
    """`tqdm.std.tqdm`, disabled in a notebook kernel and in the processes it starts (otherwise as the
    caller and TQDM_DISABLE say)."""
    if quiet():
        kwargs["disable"] = True
    return _tqdm(*args, **kwargs)


def quiet_kernel() -> None:
    """In a notebook kernel: no library progress bars and no widget warning (before those libraries load)."""
    os.environ[ENV] = "off"  # inherited by worker processes, whose output the kernel captures too
    # huggingface_hub reads this once at import; transformers and datasets follow huggingface_hub's switch
    os.environ.setdefault("HF_HUB_DISABLE_PROGRESS_BARS", "1")
    os.environ.setdefault("HF_DATASETS_DISABLE_PROGRESS_BARS", "1")  # datasets' "Generating ... split" bars
    # huggingface_hub and datasets import tqdm.auto, which warns in a kernel without ipywidgets; the
    # bars it would draw as widgets are disabled here anyway, so the warning does not apply
    warnings.filterwarnings("ignore", message="IProgress not found", category=TqdmWarning)


if in_notebook():
    quiet_kernel()
