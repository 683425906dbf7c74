"""Hugging Face cards (definemed.cards): every card parses with `huggingface_hub` and carries the Hub's
metadata; stage 06's results become each exported model's model-index, with relative base models."""
from __future__ import annotations

import json
from types import SimpleNamespace

import pytest
from huggingface_hub import DatasetCard, ModelCard

from definemed import artifacts, cards
from definemed.config import load_config
from definemed.report import results


@pytest.fixture
def cfg(out_root):
    return load_config("tiny")


def _write(path, text):
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text, encoding="utf-8")
    return path


def _zoo_info(name: str) -> dict:
    loss = {"steps": 3, "tokens": 300, "final_loss": 2.5, "lr": 1e-3, "loss_tokens": 100}
    return {"stand_in_for": name.removesuffix("-tiny"), "params": 123456, "seed": 7, "build_key": "k",
            "architecture": {"model_type": "qwen2", "class": "Qwen2ForCausalLM", "num_hidden_layers": 2, "hidden_size": 64,
                             "num_attention_heads": 4, "num_key_value_heads": 2, "intermediate_size": 128,
                             "vocab_size": 1000, "tie_word_embeddings": True},
            "tokenizer": "bpe", "chat_format": "ChatML", "pretrain": loss, "sft": loss, "max_new_tokens": 24,
            "medical_topics": [], "reference_mix": 0.0, "facts_seen": 0, "n_facts": 10,
            "metrics": {"ppl_general": 20.0, "ppl_medical": 30.0, "fact_accuracy": {"all": 0.3}, "format_rate": 0.9}}


def _cpt_card(cfg, name, tmp_path):
    prepared = _write(tmp_path / "prep" / "prepared.json", json.dumps({"fingerprint": "abc"}))
    spec = SimpleNamespace(nnodes=1, nproc_per_node=2, dp_replicate=1, global_batch=8, seq_len=64, lr=1e-3,
                           warmup_steps=2, min_lr_ratio=0.1, micro_batch_size=2, data=str(prepared.parent / "tokens"))
    info = {"train": {"n_docs": 10, "n_tokens": 1000}, "plan": {"efficiency": 0.99, "num_bins": 5}}
    return cards.cpt_card(cfg, name, spec, info, [{"label_tokens": 100, "loss": 2.0}], artifacts.cpt_model(cfg, name))


def test_dataset_card_parses_with_its_metadata(cfg):
    stats = {"n_docs": 20000, "n_shards": 4, "medical_share": 0.15, "domain_share": {"general": 0.7, "medical": 0.15}}
    card = DatasetCard(cards.dataset_card(cfg, stats))
    assert card.data.language == ["de"] and card.data.license == "mit" and "synthetic" in card.data.tags
    assert card.data.size_categories == ["10K<n<100K"]
    assert "20,000 in 4 parquet shards" in card.text and "no personal data" in card.text


def test_every_exported_card_gets_stage_06s_model_index(cfg, tmp_path):
    res = results.load("tiny")  # the committed results of a full tiny run: stage 06's keys
    small = [m.name for m in cfg.models.foundations if m.role == "small"]
    for m in cfg.models.foundations:  # what zoo, 04 and 05 export
        _write(artifacts.foundation_model(cfg, m.name) / "README.md",
               cards.zoo_card(SimpleNamespace(name=m.name, role=m.role), _zoo_info(m.name)))
    for name in small:
        _write(artifacts.cpt_model(cfg, name) / "README.md", _cpt_card(cfg, name, tmp_path))
        plan = SimpleNamespace(spec=SimpleNamespace(base_model=artifacts.foundation_model(cfg, name),
                                                    other_model=artifacts.cpt_model(cfg, name)),
                               layer_map=[0], jobs=[])
        _write(artifacts.merged_model(cfg, name) / "README.md",
               cards.merge_card(plan, name + "-slerp", "merge_method: slerp\n", artifacts.merged_model(cfg, name)))
    exported = cards.exported_models(cfg)
    assert len(exported) == len(cfg.models.foundations) + 2 * len(small)
    changed = cards.update_model_cards(cfg, res)
    assert len(changed) == len(exported), "every exported model has stage-06 results"
    for label, d in exported.items():
        card = ModelCard.load(d / "README.md")
        data = card.data
        assert data.language == "de" and data.license == "mit" and data.library_name == "transformers", label
        assert data.datasets and not data.datasets[0].startswith("/"), "datasets: the corpus folder, relative"
        assert (d / data.datasets[0] / "..").resolve() == artifacts.stage_dir(cfg, artifacts.CORPUS).parent.resolve()
        metrics = {(r.dataset_split, r.metric_type): r.metric_value for r in data.eval_results}
        assert metrics, label
        v = res["values"]
        if label in small:
            assert metrics[("facts.sentence", "accuracy")] == round(v[f"evaluate.{label}.facts.sentence.base"], 4)
        if label.endswith("-slerp"):
            fam = label.removesuffix("-slerp")
            assert metrics[("winrate_questions", "win_rate")] == round(v[f"evaluate.winrate.{label}.w_n"], 4)
            assert metrics[("facts.sentence", "accuracy")] == round(v[f"evaluate.{fam}.facts.sentence.slerp"], 4)
            assert data.base_model_relation == "merge" and all(not b.startswith("/") for b in data.base_model)
            assert (d / data.base_model[0]).resolve() == artifacts.foundation_model(cfg, fam).resolve()
        if label.endswith("-cpt"):
            fam = label.removesuffix("-cpt")
            assert (d / data.base_model).resolve() == artifacts.foundation_model(cfg, fam).resolve()
            assert data.base_model_relation == "finetune"
    assert cards.update_model_cards(cfg, res) == [], "a second report changes no card"


def test_cards_are_documentation_not_stage_outputs(cfg):
    """Rewriting a card's model-index must not make a done stage run again."""
    from definemed import stages

    for stage, rel in ((artifacts.ZOO, "qwen2.5-7b-tiny/README.md"), (artifacts.CPT, "models/x/README.md"),
                       (artifacts.MERGE, "models/x/README.md")):
        assert stages._is_scratch(rel, artifacts.spec(stage))
    assert not stages._is_scratch("qwen2.5-7b-tiny/model.safetensors", artifacts.spec(artifacts.ZOO))
