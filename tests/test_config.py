import pytest

from definemed.config import load_config
from definemed.errors import ConfigError
from tests.conftest import write_config


@pytest.mark.parametrize("profile", ["tiny", "paper"])
def test_committed_profiles_validate(profile):
    cfg = load_config(profile)
    assert cfg.profile == profile
    assert cfg.classifier.threshold == 0.9 and cfg.classifier.fbeta_beta == 0.7


def test_paper_profile_names_the_real_sources():
    cfg = load_config("paper")
    assert (cfg.corpus.source, cfg.corpus.hf_dataset, cfg.corpus.hf_config) == ("hub", "HuggingFaceFW/fineweb-2", "deu_Latn")
    ids = {m.hf_id for m in cfg.models.foundations}
    assert ids == {"mistralai/Mistral-7B-Instruct-v0.3", "Qwen/Qwen2.5-7B-Instruct",
                   "mistralai/Mistral-Small-24B-Instruct-2501"}
    assert cfg.label.model == "mistralai/Mixtral-8x7B-Instruct-v0.1"
    assert cfg.classifier.base_model == "FacebookAI/xlm-roberta-base"
    # MMLU-de from the script-free mirror of openGPT-X/mmlux (docs/evaluation.md says why)
    assert cfg.evaluate.mmlu_dataset == "LumiOpen/opengpt-x_mmlux" and cfg.evaluate.medqa_dataset == "BioMistral/BioInstructQA"
    from definemed.pins import is_pinned

    pinned = [cfg.corpus.hf_revision, cfg.evaluate.mmlu_revision] + [m.revision for m in cfg.models.foundations]
    assert all(is_pinned(r) for r in pinned) and not cfg.allow_unpinned
    assert len(cfg.evaluate.mmlu_subjects) == 6
    assert not cfg.models.trust_remote_code


def test_unknown_key_names_key_and_file(tmp_path):
    f = write_config(tmp_path / "c.yaml", corpus={"n_dcos": 10})
    with pytest.raises(ConfigError, match=r"c\.yaml: unknown key 'corpus\.n_dcos'"):
        load_config(f)


def test_wrong_type_names_key_and_file(tmp_path):
    f = write_config(tmp_path / "c.yaml", corpus={"n_docs": "many"})
    with pytest.raises(ConfigError, match=r"c\.yaml: key 'corpus\.n_docs'"):
        load_config(f)


def test_out_of_range_threshold(tmp_path):
    f = write_config(tmp_path / "c.yaml", classifier={"threshold": 1.5})
    with pytest.raises(ConfigError, match=r"classifier\.threshold"):
        load_config(f)


def test_missing_and_malformed_files(tmp_path):
    with pytest.raises(ConfigError, match="config file not found"):
        load_config(tmp_path / "nope.yaml")
    bad = tmp_path / "bad.yaml"
    bad.write_text("profile: tiny\ncorpus: [1, 2\n")
    with pytest.raises(ConfigError, match=r"bad\.yaml: malformed YAML"):
        load_config(bad)
