"""Tokenization as its own parallel CPU step, before any GPU allocation.

    python -m definemed cpt-tokenize --profile paper    # on a CPU node; cpt.tokenize_num_proc processes
    sbatch ... python -m definemed cpt --profile paper                  # then finds the token files

`tokenize_parallel` runs the model's own (fast) tokenizer over the documents with
`datasets.Dataset.map(batched=True, num_proc=N)`: N processes, each loading the tokenizer once,
results in input order, written as uint32 Arrow cache files under the token file's folder and
streamed into the token file CPT reads (`packing.write_token_file`: `<name>.tokens` + `<name>.offsets`);
the cache is deleted afterwards. The output is identical to the single-process `tokenize_to_file`
(a test compares them), so the stage's fingerprint and packing plan do not depend on N.
"""
from __future__ import annotations

import shutil
from pathlib import Path

import numpy as np

from definemed.packing import write_token_file

_TOK = {}


def _tokenizer(model_dir: str):
    if model_dir not in _TOK:  # once per worker process
        from transformers import AutoTokenizer

        _TOK[model_dir] = AutoTokenizer.from_pretrained(model_dir, trust_remote_code=False)
    return _TOK[model_dir]


def _encode(batch: dict, model_dir: str) -> dict:
    tok = _tokenizer(model_dir)
    bos = [tok.bos_token_id] if tok.bos_token_id is not None else []
    eos = [tok.eos_token_id] if tok.eos_token_id is not None else []
    ids = tok(batch["text"], add_special_tokens=False)["input_ids"]
    return {"input_ids": [bos + x + eos for x in ids]}


def tokenize_parallel(model_dir: str | Path, texts: list[str], path: str | Path, num_proc: int = 8,
                      batch: int = 1000) -> dict:
    """Tokenize `texts` (bos + text + eos) with `num_proc` processes into the token file at `path`."""
    import datasets

    path = Path(path)
    cache = path.parent / f".{path.name}.map-cache"
    if cache.exists():
        shutil.rmtree(cache)
    cache.mkdir(parents=True)
    try:
        ds = datasets.Dataset.from_dict({"text": texts})
        feats = datasets.Features({"input_ids": datasets.Sequence(datasets.Value("uint32"))})
        out = ds.map(_encode, batched=True, batch_size=batch, num_proc=max(1, min(num_proc, len(texts))),
                     remove_columns=["text"], features=feats, fn_kwargs={"model_dir": str(model_dir)},
                     cache_file_name=str(cache / "tokens.arrow"), desc=f"tokenize {path.name}")
        col = out.with_format("numpy")

        def docs():
            for i in range(0, len(col), batch):
                for ids in col[i:i + batch]["input_ids"]:
                    yield np.asarray(ids)

        return write_token_file(docs(), path)
    finally:
        shutil.rmtree(cache, ignore_errors=True)
