"""The paper profile's zoo: the foundation models from the Hugging Face hub as local folders.

`snapshot_download` with the spec's revision and `allow_patterns` (safetensors, JSON configs and
tokenizer files; `.bin` / `.pt` pickles are excluded), into data/paper/zoo/<name>/, so later stages
see the same kind of folder as in the tiny profile.
"""
from __future__ import annotations

import logging
from pathlib import Path
from typing import Callable

from definemed.config import ModelSpec
from definemed.errors import DefinemedError
from definemed.pins import is_pinned, require_pinned
from definemed.zoo.model import check_model_folder
from definemed.zoo.tokenizer import check_family

log = logging.getLogger(__name__)
PICKLE_PATTERNS = ["*.bin", "*.pt", "*.pth", "*.pkl", "*.ckpt", "*.msgpack", "*.h5", "original/*", "consolidated*"]


def resolve_hub_model(spec: ModelSpec, dest: str | Path, allow_patterns: list[str],
                      download: Callable | None = None, allow_unpinned: bool = False) -> dict:
    """Download (or find in place) one model folder; return {path, hf_id, revision, pinned}."""
    if not spec.hf_id:
        raise DefinemedError(f"models.foundations[{spec.name}].hf_id: required to download the model")
    check_family(spec.architecture, f"models.foundations[{spec.name}].architecture")
    bad = [p for p in allow_patterns if p.endswith((".bin", ".pt", ".pth", ".pkl", ".ckpt")) or p in ("*", "*.*")]
    if bad:
        raise DefinemedError(f"zoo.allow_patterns: {bad} would fetch pickled weights; list safetensors patterns only")
    require_pinned(f"models.foundations[{spec.name}].revision", spec.hf_id, spec.revision, allow_unpinned)
    if download is None:
        from huggingface_hub import snapshot_download as download
    try:
        path = download(repo_id=spec.hf_id, revision=spec.revision, local_dir=str(dest),
                        allow_patterns=list(allow_patterns), ignore_patterns=PICKLE_PATTERNS)
    except OSError as e:  # no network, HTTP errors, a gated or missing repository (requests errors are OSErrors)
        what = str(e).splitlines()[0][:200] if str(e) else type(e).__name__
        raise DefinemedError(f"models.foundations[{spec.name}].hf_id: cannot download {spec.hf_id}@{spec.revision} "
                             f"({what}); check the network, HF_TOKEN for gated models, or HF_HUB_OFFLINE") from None
    path = check_model_folder(path)
    return {"path": str(path), "hf_id": spec.hf_id, "revision": spec.revision, "pinned": is_pinned(spec.revision)}
