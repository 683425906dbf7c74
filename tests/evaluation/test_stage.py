"""Stage 06 end to end on tiny random models placed where zoo / 04_cpt / 05_merge put theirs:
outputs for stage 07, resume, and clear errors for missing or broken model folders."""
import shutil

import pandas as pd
import pytest

from definemed.cli import main
from definemed.config import load_config
from tests.conftest import SMALL_CORPUS, write_config

EVAL = {"mmlu_subjects": ["anatomie", "kardiologie"], "formats": ["mc", "cloze"], "heldout_sentences": True,
        "num_fewshot": [0], "n_dev": 1, "max_test_per_task": 6, "batch_size": 32, "winrate_n_questions": 6,
        "max_new_tokens": 4, "gen_batch_size": 6, "n_bootstrap": 100, "general_n_questions": 6}
# one small family and the reference: 4 variants (base, cpt, slerp, reference)
MODELS = {"foundations": [{"name": "qwen2.5-7b-tiny", "architecture": "qwen2", "role": "small"},
                          {"name": "mistral-small-24b-tiny", "architecture": "mistral", "role": "reference"}]}


def _place_models(cfg, src):
    from definemed.evaluation.models import variants

    for v in variants(cfg):
        shutil.copytree(src, v.path)


@pytest.fixture
def cfg(tmp_path, out_root, tiny_model_dir):
    path = write_config(tmp_path / "eval.yaml", corpus=SMALL_CORPUS, evaluate=EVAL, models=MODELS)
    c = load_config(path)
    _place_models(c, tiny_model_dir)
    return c, path


def _general_token_file(c, tiny_model_dir):
    """Stage 04's held-out general token file of the family, as stage 04 writes it."""
    from transformers import AutoTokenizer

    from definemed import artifacts
    from definemed.packing import write_token_file

    tok = AutoTokenizer.from_pretrained(tiny_model_dir)
    texts = ["Die Mannschaft spielt am Wochenende im Stadion.", "Viele Touristen besuchen die Altstadt.",
             "Der Garten braucht im Frühjahr viel Wasser."]
    path = artifacts.cpt_heldout(c, "qwen2.5-7b-tiny", "general")
    path.parent.mkdir(parents=True, exist_ok=True)
    write_token_file(([tok.bos_token_id or 0] + tok(t, add_special_tokens=False)["input_ids"] for t in texts), path)
    return path


def test_stage_end_to_end_and_resume(cfg, tiny_model_dir):
    from definemed.evaluation import report, run_evaluation, stage_dir
    from definemed.lm_metrics import load_causal_lm, perplexity

    c, _ = cfg
    heldout = _general_token_file(c, tiny_model_dir)
    counts = run_evaluation(c)
    d = stage_dir(c)
    # mmlu x 2 subjects x 2 formats, medqa x 2 formats, held-out sentences, general questions (cloze)
    assert counts["n_variants"] == 4 and counts["n_tasks"] == 2 * 2 + 2 + 1 + 1
    acc = pd.read_parquet(d / "accuracy.parquet")
    assert set(acc.variant) == {"qwen2.5-7b-tiny", "qwen2.5-7b-tiny-cpt", "qwen2.5-7b-tiny-slerp",
                                "mistral-small-24b-tiny"}
    assert acc.acc.between(0, 1).all() and (acc.acc_stderr >= 0).all()
    ll = pd.read_parquet(d / "loglik.parquet")
    assert {"loglik", "pred", "answer", "fact_id"} <= set(ll.columns) and ll.loglik.map(len).eq(4).all()
    g = pd.read_parquet(d / "generations.parquet")
    assert len(g) == 4 * 6 and g.answer.map(lambda a: isinstance(a, str)).all()
    assert g.ended.dtype == bool
    q = pd.read_parquet(d / "quality.parquet").set_index("variant")
    assert len(q) == 4 and q.n.eq(6).all() and q.in_format_rate.between(0, 1).all()
    assert (q.in_format_rate <= q.end_of_turn_rate).all() and q.copy_rate.notna().all()
    fc = pd.read_parquet(d / "format_changes.parquet")
    assert set(fc.change) == {"cpt_vs_base", "slerp_vs_cpt", "slerp_vs_base"} and (fc["diff"] == 0).all()
    gen = pd.read_parquet(d / "general.parquet").set_index("variant")
    assert gen.n.eq(6).all() and gen.acc.between(0, 1).all() and (gen.acc_lo <= gen.acc).all()
    # general perplexity: the family's variants on stage 04's held-out file, the reference not (other tokenizer)
    model, _ = load_causal_lm(tiny_model_dir)
    want = perplexity(model, heldout, c.cpt.seq_len)["ppl"]
    assert gen.loc["qwen2.5-7b-tiny", "ppl_general"] == pytest.approx(want, rel=1e-4)
    assert gen.loc["qwen2.5-7b-tiny-slerp", "ppl_general_ratio"] == pytest.approx(1.0)
    assert pd.isna(gen.loc["mistral-small-24b-tiny", "ppl_general"])
    w = pd.read_parquet(d / "weights.parquet")
    assert set(w.variant) == {"qwen2.5-7b-tiny-cpt", "qwen2.5-7b-tiny-slerp"} and w.cosine.sub(1.0).abs().lt(1e-9).all()
    assert {"embeddings", "attention", "mlp", "norms"} <= set(w.group)
    # what notebook 06 shows and the results file holds, from these outputs
    data = report.load(c)
    mt = report.model_table(data, report.variant_order(c))
    assert list(mt.model) == report.variant_order(c) and "in format [95% CI]" in mt.columns
    assert mt.set_index("model").loc["qwen2.5-7b-tiny-cpt", "cos attention"] == pytest.approx(1.0)
    assert len(report.format_change_table(data["format_changes"])) == 3
    v = report.results(c)
    assert v["evaluate.reference"] == "mistral-small-24b-tiny"
    for key in ("evaluate.quality.qwen2.5-7b-tiny-slerp.in_format_rate_lo", "evaluate.general.mistral-small-24b-tiny.acc",
                "evaluate.general.qwen2.5-7b-tiny-cpt.ppl_ratio", "evaluate.weights.qwen2.5-7b-tiny-slerp.mlp",
                "evaluate.format_change.qwen2.5-7b-tiny.slerp_vs_cpt.diff_hi"):
        assert key in v
    from definemed.report.claims import chain

    links = chain({"values": v | {"cpt.qwen2.5-7b-tiny.ppl_medical_after": 1.0}})
    assert len(links) == 6 and set(links.verdict) <= {"holds", "does not hold", "not measured"}
    # identical models: CPT neither erodes the format nor does the merge restore it
    assert links.set_index("link").loc["3. CPT erodes the answer format", "verdict"] == "does not hold"
    j = pd.read_parquet(d / "judgments.parquet")
    assert len(j) == 3 * 6 * 2 and j.valid.all() and set(j.order) == {"ab", "ba"}
    wr = pd.read_parquet(d / "winrates.parquet")
    assert len(wr) == 3 and (wr.n + wr.invalid == 6).all()
    # identical models answer identically: the reference judge can only call ties, each with its reason
    assert (wr.tie == 6).all() and (wr.score == 0.5).all()
    assert (j.label_a == j.label_b).all() and j.rubric_reason.str.startswith(("both", "one ")).all()
    po = pd.read_parquet(d / "pair_outcomes.parquet")
    from definemed.evaluation.judge import TIE_REASONS

    assert po.reason.isin(TIE_REASONS).all() and (po.label_candidate == po.label_reference).all()
    tt = report.tie_reason_table(po, report.variant_order(c))
    assert list(tt["tie reason"])[-1] == "all ties" and (tt.set_index("tie reason").loc["all ties"] == 6).all()
    assert sum(v[k] for k in v if k.startswith("evaluate.ties.qwen2.5-7b-tiny-slerp.")) == 6
    # identical models: SLERP - reference is 0 on anatomy, with an interval containing 0
    sv = report.subject_vs_reference(c, ll)
    assert set(sv.paper_subject) == {"anatomy"} and (sv["diff"] == 0).all()
    assert v["evaluate.vs_reference.qwen2.5-7b-tiny-slerp.anatomy.mc.diff"] == 0
    assert v["evaluate.mmlu_subjects"] == "anatomie, kardiologie"
    ratios = pd.read_parquet(d / "ratios.parquet")
    assert len(ratios) == 2 * 2
    gains = report.family_gains(c, ll)
    assert set(gains.family) == {"qwen2.5-7b-tiny"}
    assert report.accuracy_table(acc, report.variant_order(c), "mc").columns[-1] == "paper"
    assert report.cpt_statement(gains, ratios)
    done = (d / "variants" / "qwen2.5-7b-tiny" / "done.json").read_text()
    again = run_evaluation(c)  # resume: nothing recomputed
    assert (d / "variants" / "qwen2.5-7b-tiny" / "done.json").read_text() == done
    assert again["n_judgments"] == counts["n_judgments"]


def test_missing_and_broken_model_folders(cfg, capsys):
    from definemed.errors import DefinemedError
    from definemed.evaluation import run_evaluation
    from definemed.evaluation.models import variants

    c, path = cfg
    v = variants(c)
    shutil.rmtree(v[1].path)
    with pytest.raises(DefinemedError, match="model folders missing.*qwen2.5-7b-tiny-cpt"):
        run_evaluation(c)
    shutil.copytree(v[0].path, v[1].path)
    (v[1].path / "model.safetensors").write_bytes(b"not a tensor file")
    with pytest.raises(DefinemedError, match="04_cpt/models/qwen2.5-7b-tiny: model folder does not load"):
        run_evaluation(c)
    # through the stage contract: the stages it reads must be done first, in one line
    capsys.readouterr()
    with pytest.raises(SystemExit) as e:
        main(["evaluate", "--profile", str(path)])
    err = capsys.readouterr().err
    assert e.value.code == 1 and err.startswith("error: stage 06_evaluate reads 00_corpus, which is not done")
    assert err.count("\n") == 1


def test_paper_profile_questions_from_hub_records(tmp_path, out_root, monkeypatch):
    """The paper profile's wiring: MMLU-de and MedQA-de files (a stubbed hub in the recorded schemas)
    -> task files and YAMLs."""
    from definemed.evaluation import loaders, questions
    from definemed.evaluation.stage import build_questions
    from tests.evaluation.test_loaders import FakeHub

    hub = FakeHub(tmp_path / "hub")
    real = loaders.fetch_file
    monkeypatch.setattr(loaders, "fetch_file", lambda *a, **k: real(*a[:4], download=hub))
    path = write_config(tmp_path / "paper.yaml", profile="paper",
                        evaluate={"mmlu_subjects": ["anatomy", "clinical_knowledge"], "winrate_n_questions": 4,
                                  "medqa_revision": "2" * 40})
    c = load_config(path)
    built = build_questions(c)
    assert [t["task"] for t in built["tasks"]] == ["mmlu_de_anatomy", "mmlu_de_clinical_knowledge", "medqa_de"]
    d = out_root / "data" / "test" / "06_evaluate"
    test = questions.read_items(d / "questions" / "mmlu_de_anatomy" / "test.jsonl")
    assert len(test) == 7 and test[1]["answer"] == 1
    assert len(questions.read_items(d / "questions" / "mmlu_de_anatomy" / "dev.jsonl")) == 5
    medqa = questions.read_items(d / "questions" / "medqa_de" / "test.jsonl")
    assert len(medqa) == 13 and all(m["id"].startswith("q") for m in medqa)
    wr = built["winrate_questions"]
    assert len(wr) == 4 and all(len(q["pool"]) == 3 for q in wr)
