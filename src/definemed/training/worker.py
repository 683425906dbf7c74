"""Entry point of one training process: `torchrun --nproc-per-node N -m definemed.training.worker run.json`.

Any failure ends with one line `error: <what>` on stderr (after the traceback, for an unexpected
exception), so the launcher and a Slurm log show the worker's own reason, not torchrun's summary.
"""
from __future__ import annotations

import sys
import traceback

from definemed.errors import DefinemedError


def main(argv: list[str]) -> int:
    if len(argv) != 1:
        print("usage: torchrun ... -m definemed.training.worker <run.json>", file=sys.stderr)
        return 2
    import os
    import signal

    from definemed import procs
    from definemed.training.loop import train

    # torchrun starts each worker in a session of its own: if torchrun dies (even by SIGKILL) the
    # worker gets SIGTERM, which the loop answers by checkpointing and stopping (definemed.procs)
    procs.die_with_parent(signal.SIGTERM, os.getppid())

    try:
        train(argv[0])
    except DefinemedError as e:
        print(f"error: {e}", file=sys.stderr, flush=True)
        return 1
    except Exception as e:  # noqa: BLE001 - reported as one line, traceback kept in the log
        traceback.print_exc()
        text = " ".join(str(e).split())[:400]
        print(f"error: {type(e).__name__}: {text}", file=sys.stderr, flush=True)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
