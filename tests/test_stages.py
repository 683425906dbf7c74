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
from tests.conftest import SMALL_CORPUS


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


# ---- the clearing policy: finished work is moved aside or refused, never deleted by an edit ------
def _edit_io(monkeypatch):
    """As if a comment had been appended to src/definemed/io.py (every stage imports it)."""
    real = stages.code_files
    monkeypatch.setattr(stages, "code_files",
                        lambda stage: {**real(stage), "src/definemed/io.py": "edited-by-a-comment"})


def _files(d):
    return sorted(f.relative_to(d).as_posix() for f in d.rglob("*") if f.is_file())


def test_a_code_edit_moves_an_expensive_stage_aside_under_supersede(small_config, monkeypatch):
    cfg = load_config(small_config)
    assert cfg.on_stage_change == "supersede" and artifacts.spec(artifacts.CORPUS).expensive
    first = stages.run(cfg, artifacts.CORPUS)
    d = artifacts.stage_dir(cfg, artifacts.CORPUS)
    before = _files(d)
    _edit_io(monkeypatch)
    rec = stages.run(cfg, artifacts.CORPUS)
    assert rec["fingerprint"] != first["fingerprint"]
    kept = d / stages.SUPERSEDED / first["fingerprint"]
    assert _files(kept) == before  # every earlier file, byte for byte where it was
    assert not any(r.startswith(stages.SUPERSEDED) for r in rec["outputs"])
    assert rec["outputs_digest"] == first["outputs_digest"]  # the same code computes the same corpus


def _refusing(small_config):
    from tests.conftest import write_config

    return load_config(write_config(small_config.parent / "refuse.yaml", corpus={**SMALL_CORPUS},
                                    on_stage_change="refuse"))


def test_a_code_edit_is_refused_in_one_line_then_adopted_without_recomputing(small_config, monkeypatch):
    from definemed.corpus import stage as corpus_stage

    cfg = _refusing(small_config)
    first = stages.run(cfg, artifacts.CORPUS)
    d = artifacts.stage_dir(cfg, artifacts.CORPUS)
    before = {f: (d / f).read_bytes() for f in _files(d)}
    _edit_io(monkeypatch)
    with pytest.raises(DefinemedError) as e:
        stages.run(cfg, artifacts.CORPUS)
    msg = str(e.value)
    assert "\n" not in msg and "module src/definemed/io.py" in msg
    assert f"python -m definemed adopt 00_corpus --profile {cfg.profile}" in msg
    assert {f: (d / f).read_bytes() for f in _files(d)} == before  # nothing moved, nothing deleted
    change = stages.adopt(cfg, artifacts.CORPUS)
    assert change["changed"] == "module src/definemed/io.py"
    monkeypatch.setattr(corpus_stage, "run", lambda cfg: pytest.fail("an adopted stage ran again"))
    rec = stages.run(cfg, artifacts.CORPUS)
    assert rec["outputs_digest"] == first["outputs_digest"] and rec["adopted"][0]["from"] == first["fingerprint"]


def test_a_config_change_names_the_key_and_force_moves_aside(small_config):
    cfg = _refusing(small_config)
    first = stages.run(cfg, artifacts.CORPUS)
    more = cfg.model_copy(update={"corpus": cfg.corpus.model_copy(update={"typo_doc_share": 0.2})})
    with pytest.raises(DefinemedError, match=r"config key corpus\.typo_doc_share\b"):
        stages.run(more, artifacts.CORPUS)
    stages.run(more, artifacts.CORPUS, force=True)
    assert (artifacts.stage_dir(cfg, artifacts.CORPUS) / stages.SUPERSEDED / first["fingerprint"] / "shards").is_dir()


def test_adopt_keeps_the_work_key_of_unfinished_work(small_config, monkeypatch):
    cfg = _refusing(small_config)
    fp, parts = stages.fingerprint(cfg, artifacts.CORPUS)
    stages.open_stage(cfg, artifacts.CORPUS, fp, parts)
    (artifacts.stage_dir(cfg, artifacts.CORPUS) / "partial.txt").write_text("half a shard")
    key = stages.work_key(cfg, artifacts.CORPUS, "shard-0")
    _edit_io(monkeypatch)
    with pytest.raises(DefinemedError, match="adopt 00_corpus"):
        stages.open_stage(cfg, artifacts.CORPUS, *stages.fingerprint(cfg, artifacts.CORPUS))
    stages.adopt(cfg, artifacts.CORPUS)
    assert stages.read_marker(cfg, artifacts.CORPUS)["fingerprint"] == stages.fingerprint(cfg, artifacts.CORPUS)[0] != fp
    assert stages.work_key(cfg, artifacts.CORPUS, "shard-0") == key  # the partial work stays resumable


def test_a_cheap_stage_is_cleared_and_run_again(small_config):
    cfg = _refusing(small_config)
    assert not artifacts.spec(artifacts.MERGE).expensive
    d = artifacts.stage_dir(cfg, artifacts.MERGE)
    d.mkdir(parents=True)
    (d / "metrics.parquet").write_text("old")
    (d / stages.FINGERPRINT_FILE).write_text("0123456789abcdef\n")  # the plain-text marker of earlier versions
    stages.open_stage(cfg, artifacts.MERGE, "fedcba9876543210", {"stage": artifacts.MERGE})
    assert _files(d) == [stages.FINGERPRINT_FILE]


def test_every_value_is_validated_before_anything_moves(small_config):
    cfg = load_config(small_config)
    stages.run(cfg, artifacts.CORPUS)
    d = artifacts.stage_dir(cfg, artifacts.CORPUS)
    before = _files(d)
    bad = cfg.model_copy(update={"corpus": cfg.corpus.model_copy(update={"n_docs": 0})})  # model_copy skips pydantic
    with pytest.raises(DefinemedError, match=r"config key 'corpus\.n_docs'.*nothing was moved or deleted"):
        stages.run(bad, artifacts.CORPUS, force=True)
    assert _files(d) == before


def test_operational_keys_stay_out_of_fingerprints_and_name_real_fields(small_config):
    from definemed.config import Config
    from definemed.training import stage as cpt_stage

    for key in stages.OPERATIONAL_KEYS:
        node = Config
        for part in key.split("."):
            assert part in node.model_fields, key
            node = node.model_fields[part].annotation
    cfg = load_config(small_config)
    louder = load_config(small_config, overrides={"cpt.log_every": 1, "cpt.checkpoint_every": 3, "cpt.nnodes": 2,
                                                  "cpt.torch_threads": 2, "evaluate.lm_backend": "vllm",
                                                  "evaluate.batch_size": 7})
    for stage in (artifacts.CPT, artifacts.EVALUATE):
        assert stages.fingerprint(cfg, stage, strict=False) == stages.fingerprint(louder, stage, strict=False)
    assert cpt_stage.fingerprint(cfg, "qwen2.5-7b-tiny") == cpt_stage.fingerprint(louder, "qwen2.5-7b-tiny")
    lr = load_config(small_config, overrides={"cpt.lr": 1e-4})
    assert stages.fingerprint(cfg, artifacts.CPT, strict=False)[0] != stages.fingerprint(lr, artifacts.CPT, strict=False)[0]


def test_output_digests_ignore_timings(tmp_path):
    a, b = tmp_path / "a.json", tmp_path / "b.json"
    a.write_text(json.dumps({"n": 3, "wall_s": 1.5, "per": [{"x": 1, "seconds": 0.1}]}))
    b.write_text(json.dumps({"per": [{"seconds": 9.9, "x": 1}], "wall_s": 7.0, "n": 3}))
    assert stages.content_digest(a) == stages.content_digest(b)
    b.write_text(json.dumps({"per": [{"seconds": 9.9, "x": 2}], "wall_s": 7.0, "n": 3}))
    assert stages.content_digest(a) != stages.content_digest(b)
    p, q = tmp_path / "p.parquet", tmp_path / "q.parquet"
    pd.DataFrame({"id": ["a", "b"], "latency_s": [0.1, 0.2]}).to_parquet(p)
    pd.DataFrame({"id": ["a", "b"], "latency_s": [3.0, 4.0]}).to_parquet(q)
    assert stages.content_digest(p) == stages.content_digest(q)
    pd.DataFrame({"id": ["a", "c"], "latency_s": [3.0, 4.0]}).to_parquet(q)
    assert stages.content_digest(p) != stages.content_digest(q)
    # a rerun's summary.json with a timing of other length: other size, same content, same stage digest
    assert stages.outputs_digest({"summary.json": [592, "c0ffee"]}) == stages.outputs_digest({"summary.json": [594, "c0ffee"]})
    assert stages.outputs_digest({"summary.json": [592, "c0ffee"]}) != stages.outputs_digest({"summary.json": [592, "beef"]})


def test_cli_refuses_in_one_line_and_adopt_accepts(small_config, capsys, monkeypatch):
    from tests.conftest import run_main, write_config

    cfg_file = write_config(small_config.parent / "refuse.yaml", corpus={**SMALL_CORPUS}, on_stage_change="refuse")
    assert run_main(capsys, "run", "00_corpus", "--profile", cfg_file).returncode == 0
    _edit_io(monkeypatch)
    r = run_main(capsys, "run", "00_corpus", "--profile", cfg_file)
    assert r.returncode == 1 and r.stderr.count("\n") == 1 and "adopt 00_corpus" in r.stderr
    r = run_main(capsys, "adopt", "00_corpus", "--profile", cfg_file)
    assert r.returncode == 0 and "adopted (module src/definemed/io.py)" in r.stdout
    r = run_main(capsys, "run", "00_corpus", "--profile", cfg_file)
    assert r.returncode == 0 and "done (fingerprint" in r.stdout
    m = json.loads(artifacts.manifest_file(load_config(cfg_file), artifacts.CORPUS).read_text())
    assert m["fingerprint"] == stages.fingerprint(load_config(cfg_file), artifacts.CORPUS)[0]
