"""definemed.context: declared outputs, reads only of the stages a stage reads, one resume primitive."""
from __future__ import annotations

import numpy as np
import pytest

from definemed import artifacts, stages
from definemed.config import load_config
from definemed.context import StageContext, unit_count
from definemed.errors import DefinemedError


def test_out_and_input_are_the_declared_files(small_config):
    cfg = load_config(small_config)
    ctx = StageContext(cfg, artifacts.FILTER)
    assert ctx.input(artifacts.CLASSIFIER, "model") == artifacts.classifier_model(cfg)
    assert ctx.out("shards") == artifacts.finemed_shards(cfg)
    assert ctx.seed == cfg.seed and ctx.classifier is cfg.classifier  # code written for run(cfg) keeps working
    with pytest.raises(DefinemedError, match="stage 03_filter declares no output 'labels'"):
        ctx.out("labels")
    with pytest.raises(DefinemedError, match="does not list 01_label among the stages it reads"):
        ctx.input(artifacts.LABEL, "labels")  # 03 reads 00 and 02, never 01's files
    merge = StageContext(cfg, artifacts.MERGE)
    assert merge.input(artifacts.CPT, "heldout", name="m", split="general") == artifacts.cpt_heldout(cfg, "m", "general")
    with pytest.raises(DefinemedError, match="needs 'split'"):
        merge.input(artifacts.CPT, "heldout", name="m")


def test_a_unit_is_done_only_after_its_block_finished_for_the_same_inputs(small_config, tmp_path):
    cfg = load_config(small_config)
    ctx = StageContext(cfg, artifacts.CORPUS)
    src = tmp_path / "in.txt"
    src.write_text("abc")
    with pytest.raises(RuntimeError):
        with ctx.unit("shard-0", inputs=[src]) as u:
            assert not u.done
            raise RuntimeError("stopped half way")
    with ctx.unit("shard-0", inputs=[src]) as u:
        assert not u.done  # the failed block left no marker
    with ctx.unit("shard-0", inputs=[src]) as u:
        assert u.done
    src.write_text("abcd")  # another input
    with ctx.unit("shard-0", inputs=[src]) as u:
        assert not u.done
    with ctx.unit("shard-0", inputs=[src]) as u:
        assert u.done
    assert unit_count(cfg, artifacts.CORPUS) == 1


def test_units_belong_to_the_stage_work_they_were_made_under(small_config, monkeypatch):
    cfg = load_config(small_config)
    fp, parts = stages.fingerprint(cfg, artifacts.CORPUS)
    stages.open_stage(cfg, artifacts.CORPUS, fp, parts)
    ctx = StageContext(cfg, artifacts.CORPUS)
    with ctx.unit("shard-0"):
        pass
    real = stages.code_files
    monkeypatch.setattr(stages, "code_files", lambda s: {**real(s), "src/definemed/io.py": "edited"})
    stages.adopt(cfg, artifacts.CORPUS)  # an accepted edit keeps the unit
    with ctx.unit("shard-0") as u:
        assert u.done
    other = load_config(small_config, overrides={"corpus.typo_doc_share": 0.3})
    stages.open_stage(other, artifacts.CORPUS, *stages.fingerprint(other, artifacts.CORPUS))  # supersede: moved aside
    with StageContext(other, artifacts.CORPUS).unit("shard-0") as u:
        assert not u.done


def test_the_runner_passes_a_context_to_migrated_stages_only(small_config, monkeypatch):
    from definemed.corpus import stage as corpus_stage

    seen = {}
    monkeypatch.setattr(corpus_stage, "run", lambda ctx: seen.setdefault("arg", ctx) and {})
    cfg = load_config(small_config)
    stages.run(cfg, artifacts.CORPUS)
    assert isinstance(seen["arg"], StageContext) and seen["arg"].stage == artifacts.CORPUS
    monkeypatch.setattr(corpus_stage, "run", lambda cfg: seen.__setitem__("old", cfg) or {})
    stages.run(cfg, artifacts.CORPUS, force=True)
    assert seen["old"] is cfg


def test_merge_stage_resumes_every_merge_and_measurement_through_units(tmp_path, out_root, monkeypatch):
    from definemed.merging import stage as merge_stage
    from definemed.packing import write_token_file
    from tests.conftest import SMALL_CORPUS, make_corpus, write_config
    from tests.factories import model_config, write_random_model, write_tokenizer
    from tests.merging.conftest import TEXTS

    models = {"foundations": [{"name": "qwen-tiny", "architecture": "qwen2", "role": "small"}]}
    cfg = load_config(write_config(tmp_path / "m.yaml", corpus=SMALL_CORPUS, models=models, cpt={"seq_len": 24},
                                   merge={"format_prompts": 2, "format_max_new_tokens": 2, "sweep_t": [0.5]}))
    make_corpus(cfg)
    mc = model_config("qwen2", vocab_size=300, tie_word_embeddings=True)
    base = write_random_model(artifacts.foundation_model(cfg, "qwen-tiny"), mc, seed=1)
    write_tokenizer(base, TEXTS, vocab_size=300)
    cpt = write_random_model(artifacts.cpt_model(cfg, "qwen-tiny"), mc, seed=2, related=base)
    write_tokenizer(cpt, TEXTS, vocab_size=300)
    g = np.random.default_rng(0)
    for split in ("medical", "general"):
        write_token_file((g.integers(3, 300, size=int(n)) for n in g.integers(5, 20, size=4)),
                         artifacts.cpt_heldout(cfg, "qwen-tiny", split))
    for stage in (artifacts.ZOO, artifacts.CPT):
        stages.register(cfg, stage)
    first = stages.run(cfg, artifacts.MERGE)
    assert first["counts"]["measured_models"] == 4 and unit_count(cfg, artifacts.MERGE) == 2 + 4
    artifacts.record_file(cfg, artifacts.MERGE).unlink()  # unfinished again: the rerun resumes unit by unit
    monkeypatch.setattr(merge_stage, "merge", lambda *a, **k: pytest.fail("a finished merge ran again"))
    import definemed.lm_metrics as lm

    monkeypatch.setattr(lm, "load_causal_lm", lambda *a, **k: pytest.fail("a measured model was measured again"))
    again = stages.run(cfg, artifacts.MERGE)
    import pandas as pd

    changed = sorted(k for k in first["outputs"] if again["outputs"].get(k, [0, ""])[1] != first["outputs"][k][1])
    print("files whose content digest changed on resume:", changed)
    assert set(again["outputs"]) == set(first["outputs"])
    assert not [k for k in changed if k.startswith(("models/", "sweep/"))]  # no model was written again
    m = pd.read_parquet(artifacts.merge_metrics(cfg)).set_index("label")
    assert m.loc["qwen-tiny-t0.50", "ppl_medical"] > 0 and len(m) == 4
    assert not any(r.startswith("_units") for r in again["outputs"])
