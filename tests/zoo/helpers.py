"""Small shared inputs for the zoo tests: a generated corpus sample and tiny model shapes."""
from __future__ import annotations

from functools import lru_cache

from definemed.config import CorpusConfig, ZooModelSize

TINY_SIZE = ZooModelSize(hidden_size=32, num_layers=2, num_heads=4, num_kv_heads=2, intermediate_size=64)


@lru_cache(maxsize=1)
def sample_texts(n: int = 300) -> tuple[str, ...]:
    from definemed.corpus.generator import CorpusGenerator

    gen = CorpusGenerator(CorpusConfig(n_drugs=20, n_diseases=20), seed=7)
    return tuple(d.record["text"] for d in gen.shard(0, n))


GOLDEN = "zoo_golden_loss.json"


def golden_run(steps: int = 25) -> list[float]:
    """A short, fully seeded pretraining run of a tiny Mistral model: the golden loss curve."""
    import numpy as np
    import torch

    from definemed.seed import set_seed
    from definemed.zoo.build import encode_docs
    from definemed.zoo.model import model_config, new_model
    from definemed.zoo.tokenizer import special_ids, train_tokenizer
    from definemed.zoo.train import StreamBatches, train

    texts = list(sample_texts())
    tok = train_tokenizer("mistral", texts, 500)
    ids = special_ids("mistral", tok)
    stream = encode_docs("mistral", tok, texts, ids)
    torch.set_num_threads(1)
    set_seed(0)
    model = new_model(model_config("mistral", TINY_SIZE, tok.get_vocab_size(), ids, 64))
    res = train(model, StreamBatches([stream], [1.0], 32, 4, np.random.default_rng(0)), steps, lr=3e-3,
                warmup=2, min_lr_ratio=0.1, weight_decay=0.1)
    return res.losses


if __name__ == "__main__":  # regenerate the committed golden curve: python -m tests.zoo.helpers
    import json
    from pathlib import Path

    out = Path(__file__).resolve().parents[1] / "assets" / GOLDEN
    out.write_text(json.dumps({"setup": "tests/zoo/helpers.py:golden_run", "losses": golden_run()}, indent=2) + "\n")
    print(f"wrote {out}")
