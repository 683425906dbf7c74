"""The stage contract (definemed.stages): one cache rule, content fingerprints, rebuilds on change."""
from __future__ import annotations

import json
import re
import shutil

import pandas as pd
import pytest

from definemed import artifacts, paths, stages
from definemed.config import load_config
from definemed.errors import DefinemedError
from definemed.manifest import write_manifest


def _n_docs_on_disk(cfg) -> int:
    return sum(len(pd.read_parquet(f, columns=["id"])) for f in artifacts.corpus_shards(cfg).glob("*.parquet"))


def _medical_share_on_disk(cfg) -> float:
    truth = pd.concat(pd.read_parquet(f) for f in artifacts.corpus_truth(cfg).glob("*.parquet"))
    return float(truth["is_medical"].mean())


def test_corpus_config_change_rebuilds_and_the_manifest_describes_the_disk(small_config):
    cfg = load_config(small_config)
    first = stages.run(cfg, artifacts.CORPUS)
    assert _n_docs_on_disk(cfg) == first["counts"]["n_docs"] == 600
    fewer = load_config(small_config, overrides={"corpus.n_docs": 300})
    rec = stages.run(fewer, artifacts.CORPUS)
    assert rec["fingerprint"] != first["fingerprint"]
    assert _n_docs_on_disk(fewer) == rec["counts"]["n_docs"] == 300  # no stale shard left behind
    more_medical = load_config(small_config, overrides={"corpus.medical_share": 0.4})
    rec = stages.run(more_medical, artifacts.CORPUS)
    write_manifest(more_medical, artifacts.CORPUS)
    m = json.loads(artifacts.manifest_file(more_medical, artifacts.CORPUS).read_text())
    assert m["config"]["corpus"]["medical_share"] == 0.4
    assert m["counts"]["medical_share"] == pytest.approx(_medical_share_on_disk(more_medical), abs=5e-5)  # stats round to 4 digits
    assert _medical_share_on_disk(more_medical) > 0.3


def test_a_done_stage_is_loaded_not_run(small_config, monkeypatch):
    from definemed.corpus import stage as corpus_stage

    cfg = load_config(small_config)
    rec = stages.run(cfg, artifacts.CORPUS)
    monkeypatch.setattr(corpus_stage, "run", lambda cfg: pytest.fail("a done stage ran again"))
    assert stages.run(cfg, artifacts.CORPUS) == rec and stages.is_done(cfg, artifacts.CORPUS)


def test_a_damaged_output_makes_the_stage_run_again(small_config):
    cfg = load_config(small_config)
    stages.run(cfg, artifacts.CORPUS)
    shard = sorted(artifacts.corpus_shards(cfg).glob("*.parquet"))[0]
    shard.write_bytes(b"truncated")
    assert not stages.is_done(cfg, artifacts.CORPUS)
    stages.run(cfg, artifacts.CORPUS)
    assert _n_docs_on_disk(cfg) == 600


def _label_300(small_config):
    return load_config(small_config, overrides={"label.n_docs": 300, "label.n_bootstrap": 50})


def test_a_copied_output_tree_stays_done(small_config, tmp_path, monkeypatch):
    from definemed.corpus import stage as corpus_stage
    from definemed.labeling import stage as label_stage

    cfg = _label_300(small_config)
    stages.run(cfg, artifacts.CORPUS)
    stages.run(cfg, artifacts.LABEL)
    copy = tmp_path / "copy"
    shutil.copytree(paths.data_dir(cfg.profile).parent.parent, copy)  # cp -r: new file times everywhere
    monkeypatch.setenv("DEFINEMED_OUTPUT_ROOT", str(copy))
    for module in (corpus_stage, label_stage):
        monkeypatch.setattr(module, "run", lambda cfg: pytest.fail("a copied, done stage ran again"))
    for stage in (artifacts.CORPUS, artifacts.LABEL):
        assert stages.is_done(cfg, stage)
        stages.run(cfg, stage)


def test_an_upstream_change_reruns_the_stage_on_the_new_inputs(small_config):
    cfg = _label_300(small_config)
    stages.run(cfg, artifacts.CORPUS)
    first = stages.run(cfg, artifacts.LABEL)
    reseeded = load_config(small_config, overrides={"corpus.n_docs": 500, "label.n_docs": 300, "label.n_bootstrap": 50})
    stages.run(reseeded, artifacts.CORPUS)
    assert not stages.is_done(reseeded, artifacts.LABEL)
    rec = stages.run(reseeded, artifacts.LABEL)
    assert rec["fingerprint"] != first["fingerprint"]
    corpus_ids = set(pd.concat(pd.read_parquet(f, columns=["id"]) for f in artifacts.corpus_shards(reseeded).glob("*.parquet"))["id"])
    labels = pd.read_parquet(artifacts.labels(reseeded))
    assert set(labels["id"]) <= corpus_ids  # labels of the new corpus, none left from the old one


def test_missing_upstream_and_unknown_stage_are_one_line_errors(small_config):
    cfg = load_config(small_config)
    with pytest.raises(DefinemedError, match=r"reads 00_corpus, which is not done \(run `python -m definemed run 00_corpus"):
        stages.run(cfg, artifacts.LABEL)
    with pytest.raises(DefinemedError, match="unknown stage '08_x'"):
        stages.run(cfg, "08_x")


def test_force_runs_a_done_stage_again(small_config, monkeypatch):
    cfg = load_config(small_config)
    stages.run(cfg, artifacts.CORPUS)
    (artifacts.stage_dir(cfg, artifacts.CORPUS) / "stray.txt").write_text("x")
    rec = stages.run(cfg, artifacts.CORPUS, force=True)
    assert "stray.txt" not in rec["outputs"] and not (artifacts.stage_dir(cfg, artifacts.CORPUS) / "stray.txt").exists()


def test_cli_run_writes_the_manifest(small_config, capsys):
    from definemed.cli import main

    main(["run", "00_corpus", "--profile", str(small_config)])
    assert "00_corpus: fingerprint" in capsys.readouterr().out
    cfg = load_config(small_config)
    m = json.loads(artifacts.manifest_file(cfg, artifacts.CORPUS).read_text())
    assert m["fingerprint"] == stages.read_record(cfg, artifacts.CORPUS)["fingerprint"] and m["counts"]["n_docs"] == 600


def test_make_prerequisites_follow_the_import_graph():
    rel = lambda f: f.relative_to(paths.ROOT).as_posix()  # noqa: E731
    deps = {s: {rel(f) for f in stages.make_deps(s)} for s in artifacts.ORDER}
    verbosity = "src/definemed/failure/verbosity.py"
    assert [s for s, d in deps.items() if verbosity in d] == [artifacts.FAILURE]
    assert "src/definemed/corpus/generator.py" in deps[artifacts.CORPUS]
    assert "prompts/label_medical_de.v1.txt" in deps[artifacts.LABEL]
    # every stage reaches stage 00 through the stages it reads, so a corpus change reaches all of them
    def reaches_corpus(s):
        return s == artifacts.CORPUS or any(reaches_corpus(u) for u in artifacts.spec(s).reads)
    assert all(reaches_corpus(s) for s in artifacts.ORDER)


def test_stage_names_are_spelled_only_in_the_artifacts_module():
    literal = re.compile(r"[\"']0[0-7]_")
    hits = [f"{rel}:{i}" for f in sorted((paths.ROOT / "src" / "definemed").rglob("*.py"))
            if f.name != "artifacts.py"
            for rel in [f.relative_to(paths.ROOT)]
            for i, line in enumerate(f.read_text(encoding="utf-8").splitlines(), 1) if literal.search(line)]
    assert hits == []
