"""`make clean-profile PROFILE=name`: remove data/<name>, figures/<name>, build/<name>.

The name must pass the same rule as the code (definemed.paths.check_profile: one folder name, no
separators, no '..', not empty, no wildcard), and nothing tracked by git is ever removed (so
`PROFILE=../configs`, `PROFILE=` and `PROFILE='*'` refuse, and so does a name that is a tracked file
such as `paper_reported.yaml`). One line and exit code 1 on a refusal; nothing is deleted then.
"""
from __future__ import annotations

import shutil
import subprocess
import sys

from definemed import paths
from definemed.errors import DefinemedError


def targets(profile: str) -> list:
    paths.check_profile(profile)
    return [paths.ROOT / kind / profile for kind in ("data", "figures", "build")]


def tracked(path) -> list[str]:
    """Files git tracks under `path` (none when git or the repository is absent)."""
    try:
        out = subprocess.run(["git", "-C", str(paths.ROOT), "ls-files", "-z", "--", str(path)],
                             capture_output=True, check=True).stdout
    except (OSError, subprocess.CalledProcessError):
        return []
    return [f for f in out.decode().split("\0") if f]


def clean(profile: str) -> list:
    folders = targets(profile)
    for d in folders:  # every check before the first deletion
        if d.exists() and not d.is_dir():
            raise DefinemedError(f"{d}: is a file, not the output folder of profile {profile!r}; nothing removed")
        held = tracked(d)
        if held:
            raise DefinemedError(f"{d}: holds {len(held)} file(s) tracked by git ({held[0]}, ...); nothing removed")
    removed = [d for d in folders if d.is_dir()]
    for d in removed:
        shutil.rmtree(d)
    return removed


def main(argv: list[str]) -> int:
    if len(argv) != 1:
        print("usage: clean_profile.py PROFILE", file=sys.stderr)
        return 2
    try:
        removed = clean(argv[0])
    except DefinemedError as e:
        print(f"error: clean-profile: {e}", file=sys.stderr)
        return 1
    print(f"removed {', '.join(str(d.relative_to(paths.ROOT)) for d in removed) or 'nothing (no outputs)'}")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
