"""A small corpus and a tiny random classifier, built once per test session in a temp dir."""
import pytest
import yaml

from definemed import paths


@pytest.fixture(scope="session")
def corpus_and_model(tmp_path_factory):
    from definemed.classifier.model import scratch_model, train_tokenizer
    from definemed.config import load_config
    from definemed.corpus.stage import build_corpus

    root = tmp_path_factory.mktemp("filter")
    raw = yaml.safe_load((paths.CONFIGS / "tiny.yaml").read_text())
    raw["profile"] = "test"
    raw["corpus"].update(n_docs=300, shard_size=100, expert_sample=20, n_drugs=10, n_diseases=10)
    raw["classifier"].update(hidden_size=16, num_layers=1, num_heads=2, intermediate_size=32, max_length=48, vocab_size=300)
    raw["filter"].update(batch_size=16)
    (root / "cfg.yaml").write_text(yaml.safe_dump(raw))
    cfg = load_config(root / "cfg.yaml")
    corpus = root / "corpus"
    build_corpus(cfg, corpus)
    import pyarrow.parquet as pq

    texts = pq.read_table(corpus / "shards" / "shard-00000.parquet")["text"].to_pylist()
    model_dir = root / "model"
    tok = train_tokenizer(texts, cfg.classifier.vocab_size, model_dir)
    scratch_model(cfg.classifier, len(tok), seed=0).save_pretrained(str(model_dir))
    return cfg, corpus, model_dir
