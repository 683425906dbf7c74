"""The whole zoo step on a shortened config: folders, loading, determinism, reuse, manifest, errors."""
import hashlib
import json

import pytest
from transformers import AutoModelForCausalLM, AutoTokenizer

from definemed import io
from definemed.cli import main
from definemed.config import load_config
from definemed.corpus import fact_bank
from tests.conftest import make_corpus
from definemed.errors import DefinemedError
from definemed import stages
from definemed.zoo import model_dir
from definemed.zoo.stage import build_zoo
from definemed.zoo.text import chat_data
from tests.conftest import SMALL_CORPUS, write_config
from tests.zoo.helpers import TINY_SIZE

SHORT_ZOO = {
    "vocab_size": 512, "glossary_repeats": 20, "tokenizer_docs": 200, "seq_len": 64, "batch_size": 4,
    "small": TINY_SIZE.model_dump(),
    "reference": {"hidden_size": 64, "num_layers": 2, "num_heads": 4, "num_kv_heads": 2, "intermediate_size": 128},
    "pretrain_steps_small": 3, "pretrain_steps_reference": 4, "sft_steps": 3, "warmup_steps": 1,
    "n_sft_dialogues": 40, "n_format_prompts": 3, "max_new_tokens": 4, "eval_tokens": 256, "workers": 2,
    "n_known_entities": 4, "known_docs_per_entity": 3, "sft_n_invented": 20, "gate": "report",
}


def _weights_hash(cfg) -> dict:
    return {m.name: hashlib.sha256((model_dir(cfg, m.name) / "model.safetensors").read_bytes()).hexdigest()
            for m in cfg.models.foundations}


@pytest.fixture(scope="module")
def zoo(tmp_path_factory):
    root = tmp_path_factory.mktemp("zoo")
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("DEFINEMED_OUTPUT_ROOT", str(root / "out"))
        mp.setenv("TQDM_DISABLE", "1")
        path = write_config(root / "short.yaml", corpus=SMALL_CORPUS, zoo=SHORT_ZOO)
        cfg = load_config(path)
        make_corpus(cfg)
        counts = stages.run(cfg, "zoo")["counts"]  # two worker processes
        first = _weights_hash(cfg)
        yield {"cfg": cfg, "path": path, "counts": counts, "first": first, "root": root, "mp": mp}


def test_every_model_folder_loads_with_the_auto_classes(zoo):
    cfg = zoo["cfg"]
    for spec in cfg.models.foundations:
        d = model_dir(cfg, spec.name)
        for f in ("config.json", "model.safetensors", "tokenizer.json", "tokenizer_config.json",
                  "generation_config.json", "README.md", "zoo_build.json"):
            assert (d / f).is_file(), f
        assert (d / "chat_template.jinja").is_file() or "chat_template" in io.read_json(d / "tokenizer_config.json")
        model = AutoModelForCausalLM.from_pretrained(d, use_safetensors=True)
        tok = AutoTokenizer.from_pretrained(d)
        assert model.config.model_type == spec.architecture
        assert tok.chat_template and tok.eos_token == ("<|im_end|>" if spec.architecture == "qwen2" else "</s>")
        gen = io.read_json(d / "generation_config.json")
        assert gen["do_sample"] is False and tok.eos_token_id in (gen["eos_token_id"] if isinstance(gen["eos_token_id"], list) else [gen["eos_token_id"]])
        card = (d / "README.md").read_text()
        info = io.read_json(d / "zoo_build.json")
        assert f"{info['params']:,}" in card and f"seed | {info['seed']}" in card and "final loss" in card
        from huggingface_hub import ModelCard

        data = ModelCard.load(d / "README.md").data
        assert data.language == "de" and data.license == "mit" and data.base_model is None  # built from scratch
        assert {r.metric_type for r in data.eval_results} >= {"perplexity", "accuracy"}
    ref = io.read_json(model_dir(cfg, "mistral-small-24b-tiny") / "zoo_build.json")
    small = io.read_json(model_dir(cfg, "mistral-7b-tiny") / "zoo_build.json")
    assert ref["params"] > 2 * small["params"] and ref["pretrain"]["tokens"] > small["pretrain"]["tokens"]
    assert small["facts_seen"] == 0 and 0 < ref["facts_seen"] < ref["n_facts"]


def test_counts_measure_format_perplexity_and_facts(zoo):
    counts = zoo["counts"]
    for name, m in counts["models"].items():
        assert 0 <= m["format_rate"] <= 1 and m["ppl_general"] > 1 and m["ppl_medical"] > 1
        assert 0 <= m["fact_accuracy"]["all"] <= 1 and m["n_cloze_items"] == 2 * len(fact_bank(zoo["cfg"]))
        assert set(m["format_rate_by_kind"]) == {"general", "known", "bank"}
        for kind in ("known", "bank"):
            q = m["chat"][kind]
            assert q["n"] > 0 and all(0 <= q[k] <= 1 for k in ("copy", "relation", "gold", "in_format"))
            assert q["gold"] <= q["relation"] and q["gold_ci95"][0] <= q["gold"] <= q["gold_ci95"][1]
        assert m["known_exposures_per_fact"] > 0 and m["max_answer_tokens"] <= zoo["cfg"].zoo.max_new_tokens
    gate = counts["gate"]
    assert {g["model"] for g in gate} == set(counts["models"]) and all(isinstance(g["ok"], bool) for g in gate)
    assert counts["known_bank"]["held_out"] > 0 and counts["known_bank"]["asked_in_sft"] > 0
    assert set(counts["tokenizers"]) == {"mistral", "qwen2"}
    from definemed.zoo import report

    builds = report.builds(zoo["cfg"])  # the report reads the build records the stage wrote
    table = report.zoo_table(builds)
    assert list(table["model"]) == [m.name for m in zoo["cfg"].models.foundations]
    assert "format rate" in table.columns and table["fact acc"].between(0, 1).all()
    assert len(report.example_answers(builds)) > 0 and len(report.architecture_table(builds)) == len(builds)
    report.plot_losses(builds)


def test_same_seed_same_weights_in_one_process(zoo):
    cfg = zoo["cfg"]
    build_zoo(cfg.model_copy(update={"zoo": cfg.zoo.model_copy(update={"workers": 1})}), force=True)
    assert _weights_hash(cfg) == zoo["first"]


def test_cli_loads_the_done_zoo_and_writes_the_manifest(zoo, capsys):
    main(["zoo", "--profile", str(zoo["path"])])
    assert "zoo (" in capsys.readouterr().out
    manifest = json.loads((zoo["root"] / "out" / "data" / "test" / "manifests" / "zoo.json").read_text())
    assert manifest["stage"] == "zoo" and set(manifest["counts"]["models"]) == {m.name for m in zoo["cfg"].models.foundations}
    assert manifest["fingerprint"] == stages.read_record(zoo["cfg"], "zoo")["fingerprint"]
    assert _weights_hash(zoo["cfg"]) == zoo["first"]  # loaded, not rebuilt


def test_instruction_data_never_states_a_bank_fact(zoo):
    """Instruction data and the known bank's entries never name an evaluated entity; the dialogues ask
    only about known entities, never about the held-out ones, and answer with their true facts."""
    from definemed.zoo.text import known_bank, known_documents, known_split

    cfg = zoo["cfg"]
    bank = fact_bank(cfg)
    chat = chat_data(cfg, bank)
    known = known_bank(cfg, bank)
    asked, held = known_split(cfg, known)
    names = set(bank.subjects)
    assert not names & set(known.subjects) and not set(asked) & set(held) and set(asked) | set(held) == set(known.subjects)
    for q, a, _ in chat.train:
        assert not any(n in q or n in a for n in names), (q, a)
        assert not any(n in q for n in held), q
    truth = {(f.subject, f.object) for f in known.facts}
    medical = [(q, a) for q, a, unread in chat.train if any(n in q for n in asked)]
    assert all(not unread for q, _, unread in chat.train if any(n in q for n in asked))
    assert medical and all(any(s in a and o in a for s, o in truth) for _, a in medical)
    assert all(q["subject"] in held for q in chat.heldout["known"])
    for doc in known_documents(cfg, known)[:50]:
        assert not any(n in doc for n in names)
    assert any("hauptsächlich betroffen" in q or "Wirkstoffgruppe" in q for q, _, _ in chat.train)
    assert len(chat.heldout["bank"]) >= 1 and not set(chat.prompts("general")) & {q for q, _, _ in chat.train}


def test_no_evaluation_question_or_heldout_phrasing_is_trained_on(zoo):
    """Stage 06's questions (every format) and the held-out phrasings never occur in the corpus the
    models pretrain on, nor in the instruction dialogues; the dialogues ask in the same question forms
    only about invented entities."""
    from definemed.corpus.factbank import RELATIONS
    from definemed.evaluation import questions
    from definemed.zoo.text import load_corpus_split

    cfg = zoo["cfg"]
    bank = fact_bank(cfg)
    chat = chat_data(cfg, bank)
    split = load_corpus_split(cfg)
    corpus = "\n".join(split.general + [t for t, _, _ in split.medical])
    dialogues = "\n".join(q + "\n" + a for q, a, _ in chat.train)
    e = cfg.evaluate
    sets = questions.mmlu_sets(bank, e.mmlu_subjects, cfg.seed, e.n_dev, None) + [
        questions.medqa_set(bank, cfg.seed, e.n_dev, None), questions.heldout_sentence_set(bank, cfg.seed, e.n_dev)]
    asked = [it["question"] for qs in sets for it in qs.test] + \
        [q["question"] for q in questions.winrate_questions(bank, cfg.seed, e.winrate_n_questions, e.n_dev)]
    assert len(asked) > 300
    for q in asked:
        assert q not in corpus and q not in dialogues, q
    for f in bank.facts:
        for k in range(len(RELATIONS[f.relation].heldout)):
            assert f.sentence(k, heldout=True) not in corpus
    # the held-out phrasings' fixed words never occur in an instruction answer either
    for rel in RELATIONS.values():
        for tpl in rel.heldout:
            frame = max(tpl.replace("{s}", "|").replace("{o}", "|").split("|"), key=len).strip()
            assert frame and frame not in dialogues, frame


def test_missing_corpus_is_a_clear_error(tmp_path, out_root):
    cfg = load_config(write_config(tmp_path / "c.yaml", zoo=SHORT_ZOO))
    with pytest.raises(DefinemedError, match="no corpus shards"):
        build_zoo(cfg)
