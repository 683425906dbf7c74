"""Notebook 05 runs end to end under papermill on stand-in models (random, 2 layers) in a temp dir."""
import json

import torch

import numpy as np

from definemed import artifacts, paths, stages
from definemed.config import load_config
from definemed.packing import write_token_file
from tests.factories import model_config, write_random_model, write_tokenizer

from ..conftest import SMALL_CORPUS, make_corpus, write_config
from .conftest import TEXTS


def test_merge_notebook_runs(tmp_path, out_root):
    from definemed.notebooks import run_notebook

    merge = {"format_prompts": 3, "format_max_new_tokens": 3, "sweep_t": [0.0, 0.5]}
    models = {"foundations": [{"name": "qwen-tiny", "architecture": "qwen2", "role": "small"},
                              {"name": "reference-tiny", "architecture": "mistral", "role": "reference"}]}
    cfg_file = write_config(tmp_path / "small.yaml", corpus=SMALL_CORPUS, merge=merge, models=models,
                            cpt={"seq_len": 24})
    cfg = load_config(cfg_file)
    make_corpus(cfg)
    for spec in cfg.models.foundations:
        if spec.role != "small":
            continue
        mc = model_config(spec.architecture, vocab_size=300, tie_word_embeddings=spec.architecture == "qwen2")
        base = write_random_model(paths.stage_dir("test", "zoo") / spec.name, mc, seed=1)
        write_tokenizer(base, TEXTS, vocab_size=300)
        cpt = write_random_model(artifacts.cpt_model(cfg, spec.name), mc, seed=2, related=base)
        write_tokenizer(cpt, TEXTS, vocab_size=300)
        g = np.random.default_rng(0)  # stage 04's held-out token files, which 05 measures perplexity on
        for split in ("medical", "general"):
            write_token_file((g.integers(3, 300, size=int(n)) for n in g.integers(5, 40, size=12)),
                             artifacts.cpt_heldout(cfg, spec.name, split))
    for stage in ("zoo", "04_cpt"):  # stand-in models registered as the outputs of the zoo and stage 04
        stages.register(cfg, stage)
    run_notebook("05_merge", str(cfg_file))
    manifest = json.loads((out_root / "data" / "test" / "manifests" / "05_merge.json").read_text())
    assert manifest["counts"]["merged_models"] == 1 and manifest["counts"]["measured_models"] == 5
    for name in ("merge_schedule.png", "merge_tradeoff.png", "tables/merge_effect.md", "tables/merge_tradeoff.csv"):
        assert (out_root / "figures" / "test" / name).is_file(), name
    import pandas as pd

    m = pd.read_parquet(out_root / "data" / "test" / "05_merge" / "metrics.parquet").set_index("label")
    # the sweep's t = 0 merge is the base model, bit for bit
    assert m.loc["qwen-tiny-t0.00", "ppl_medical"] == m.loc["qwen-tiny", "ppl_medical"]
    assert m.loc["qwen-tiny-t0.00", "format_rate"] == m.loc["qwen-tiny", "format_rate"]
    assert torch.isfinite(torch.tensor(m["ppl_medical"].to_numpy())).all()
