"""Entry point of one training process: `torchrun --nproc-per-node N -m definemed.training.worker run.json`."""
from __future__ import annotations

import sys

from definemed.errors import DefinemedError


def main(argv: list[str]) -> int:
    if len(argv) != 1:
        print("usage: torchrun ... -m definemed.training.worker <run.json>", file=sys.stderr)
        return 2
    from definemed.training.loop import train

    try:
        train(argv[0])
    except DefinemedError as e:
        print(f"error: {e}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
