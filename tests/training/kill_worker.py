"""A training worker for tests: `torchrun ... -m tests.training.kill_worker STEP run.json` trains like
definemed.training.worker, with a checkpoint collaborator that SIGKILLs every rank right after the
checkpoint of step STEP (a crash at the worst moment: the checkpoint must be complete and resumable)."""
from __future__ import annotations

import os
import signal
import sys


def kill_after(step: int):
    def on_saved(saved_step: int) -> None:
        if saved_step == step:
            os.kill(os.getpid(), signal.SIGKILL)

    return on_saved


def main(argv: list[str]) -> int:
    from definemed.training.loop import train

    train(argv[1], on_checkpoint=[kill_after(int(argv[0]))])
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
