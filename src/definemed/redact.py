"""One redaction function for every string that comes back from a server and may be written or shown.

A server (or a proxy in front of it) can echo the request, `Authorization: Bearer <key>` included,
inside a reply: in the answer text, in an error body, in a malformed body. `redact` removes the
configured key's value, any bearer token and any `sk-...`-shaped string before such text reaches a
record, a parquet file, a log line or an error message.

    redact(text, keys=[os.environ.get(cfg.label.openai.api_key_env)])
"""
from __future__ import annotations

import os
import re
from typing import Iterable, Optional

MASK = "***"
BEARER = re.compile(r"(?i)(?<![a-z])(bearer)(\s+|%20)[A-Za-z0-9._~+/=:-]+")
"""An Authorization value: `Bearer <token>` (also URL-encoded), whatever the token looks like."""
SK_LIKE = re.compile(r"\bsk-[A-Za-z0-9_-]{6,}")
"""OpenAI-style secret keys (sk-..., sk-proj-...); a key's prefix and a few characters are enough."""
MIN_KEY_LEN = 4
"""Shorter configured keys are not replaced verbatim (a key 'a' would mask every letter a)."""


def redact(text, keys: Iterable[Optional[str]] = ()) -> str:
    """`text` as a string with every secret replaced by `***` (None -> ""; non-strings via str)."""
    if text is None:
        return ""
    s = text if isinstance(text, str) else str(text)
    for k in keys:
        if k and len(k) >= MIN_KEY_LEN:
            s = s.replace(k, MASK)
    s = BEARER.sub(lambda m: f"{m.group(1)}{m.group(2)}{MASK}", s)
    return SK_LIKE.sub(MASK, s)


def env_keys(*names: Optional[str]) -> list[str]:
    """The values of the named environment variables that are set (the keys to redact)."""
    return [v for n in names if n and (v := os.environ.get(n))]
