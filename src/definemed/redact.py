"""One redaction function for every string that comes back from a server and may be written or shown.

A server (or a proxy in front of it) can echo the request, `Authorization: Bearer <key>` included,
inside a reply: in the answer text, in an error body, in a malformed body. `redact` removes the
configured key's value (also URL-encoded, JSON-escaped and base64-encoded: `encoded_forms`), any bearer
token (also URL-encoded) and any `sk-...`-shaped string before such text reaches a
record, a parquet file, a log line or an error message.

    redact(text, keys=[os.environ.get(cfg.label.openai.api_key_env)])
"""
from __future__ import annotations

import os
import re
from typing import Iterable, Optional

MASK = "***"
BEARER = re.compile(r"(?i)(?<![a-z])(bearer)(\s+|%20|\+)(?:%[0-9A-Fa-f]{2}|[A-Za-z0-9._~+/=:-])+")
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
            for form in sorted(encoded_forms(k), key=len, reverse=True):
                s = s.replace(form, MASK)
    s = BEARER.sub(lambda m: f"{m.group(1)}{m.group(2)}{MASK}", s)
    return SK_LIKE.sub(MASK, s)


def encoded_forms(key: str) -> set[str]:
    """The key as it may appear in an echoed request: verbatim, URL-encoded (`quote`, `quote_plus`, either
    hex case), JSON-escaped, and base64 (standard and URL-safe alphabets) at each of the three byte
    alignments it can have inside a longer encoded string (only the characters that depend on the key
    alone: the one or two it shares with its neighbours stay)."""
    import base64
    import json
    from urllib.parse import quote, quote_plus

    forms = {key, quote(key, safe=""), quote(key), quote_plus(key), json.dumps(key)[1:-1],
             json.dumps(key)[1:-1].replace("/", "\\/"), json.dumps(key, ensure_ascii=False)[1:-1]}
    forms |= {re.sub(r"%[0-9A-F]{2}", lambda m: m.group(0).lower(), f) for f in list(forms)}
    raw = key.encode()
    n = len(raw)
    for offset in range(3):
        for enc in (base64.b64encode, base64.urlsafe_b64encode):
            text = enc(b"\0" * offset + raw + b"\0\0").decode()
            core = text[-(-8 * offset // 6): (8 * (offset + n)) // 6]
            if len(core) >= MIN_KEY_LEN:
                forms.add(core)
    return {f for f in forms if len(f) >= MIN_KEY_LEN}


def env_keys(*names: Optional[str]) -> list[str]:
    """The values of the named environment variables that are set (the keys to redact)."""
    return [v for n in names if n and (v := os.environ.get(n))]
