"""Pinned hub revisions: every model and data set the paper profile downloads names a commit hash.

A branch (`main`) or tag can move, so a run from it is not reproducible. `require_pinned` refuses such
a revision unless the run allows it explicitly (config `allow_unpinned: true`, or
DEFINEMED_ALLOW_UNPINNED=1 for any command), and says which key to pin.
"""
from __future__ import annotations

import logging
import os
import re

from definemed.errors import DefinemedError

log = logging.getLogger(__name__)
_SHA = re.compile(r"^[0-9a-f]{40}$")


def is_pinned(revision: str | None) -> bool:
    """A revision is pinned when it is a full 40-digit commit hash."""
    return bool(revision) and bool(_SHA.match(revision))


def allowed(flag: bool = False) -> bool:
    return bool(flag) or os.environ.get("DEFINEMED_ALLOW_UNPINNED", "") not in ("", "0")


def require_pinned(key: str, repo: str, revision: str | None, allow: bool = False) -> str:
    """Return `revision` if it is a commit hash; else raise, or warn when unpinned runs are allowed."""
    if is_pinned(revision):
        return revision
    if not allowed(allow):
        raise DefinemedError(f"{key}: revision {revision!r} of {repo} is not a commit hash; pin it "
                             "(or allow an unpinned trial: DEFINEMED_ALLOW_UNPINNED=1 or `allow_unpinned: true`)")
    log.warning("%s: downloading %s at unpinned revision %r (allowed)", key, repo, revision)
    return revision or "main"
