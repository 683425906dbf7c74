"""Reading stage 06's generations, sampling, running every detector and counting per model."""
from __future__ import annotations

import pandas as pd
import pytest

from definemed.errors import DefinemedError
from definemed.failure import analysis, report

from .fakes import fake_generations
from .judge_server import JudgeServer


def test_reader_names_missing_columns(tmp_path):
    f = tmp_path / "g.parquet"
    pd.DataFrame({"model": ["a"], "question": ["q"]}).to_parquet(f)
    with pytest.raises(DefinemedError, match=r"missing column\(s\) question_id, answer"):
        analysis.read_generations(f)
    with pytest.raises(DefinemedError, match="no generations file"):
        analysis.read_generations(tmp_path / "none.parquet")
    (tmp_path / "bad.parquet").write_text("not parquet")
    with pytest.raises(DefinemedError, match="not a readable parquet"):
        analysis.read_generations(tmp_path / "bad.parquet")


def test_reader_accepts_aliases_and_fills_optional_columns(tmp_path):
    f = tmp_path / "g.parquet"
    pd.DataFrame({"variant": ["m", "m"], "qid": ["1", "2"], "question": ["q", None], "response": ["a", None],
                  "reference": ["r", "s"]}).to_parquet(f)
    df = analysis.read_generations(f)
    assert list(df.columns) == list(analysis.COLUMNS)
    assert df["answer"].tolist() == ["a", ""] and df["fact_id"].tolist() == [-1, -1]
    pd.DataFrame({"model": ["m", "m"], "question_id": ["1", "1"], "question": ["q", "q"],
                  "answer": ["a", "b"]}).to_parquet(f)
    with pytest.raises(DefinemedError, match="duplicate answer"):
        analysis.read_generations(f)


def test_sample_is_seeded_and_the_same_for_every_model(tiny_cfg):
    df = fake_generations(tiny_cfg, n_questions=40, seed=3)
    df = df[~((df["model"] == "qwen2.5-7b-tiny") & (df["question_id"] == df["question_id"].iloc[0]))]
    s1, info = analysis.sample_answers(df, 25, seed=7)
    s2, _ = analysis.sample_answers(df, 25, seed=7)
    pd.testing.assert_frame_equal(s1, s2)
    assert info["n_common_questions"] == 39 and info["n_sampled"] == 25
    per_model = s1.groupby("model")["question_id"].apply(frozenset)
    assert per_model.nunique() == 1 and len(per_model) == 7
    s3, info3 = analysis.sample_answers(df, 500, seed=7)
    assert info3["n_sampled"] == 39


def test_variants_and_paper_keys(tiny_cfg):
    assert analysis.variant_of("mistral-7b-tiny-slerp", tiny_cfg) == ("mistral-7b-tiny", "slerp")
    assert analysis.variant_of("qwen2.5-7b-tiny", tiny_cfg) == ("qwen2.5-7b-tiny", "base")
    assert analysis.variant_of("mistral-small-24b-tiny", tiny_cfg) == ("mistral-small-24b-tiny", "reference")
    assert report.paper_key("language_mixing", "mistral-7b", "slerp") == "failure.language_mixing_mistral_slerp"
    assert report.paper_key("typos", "qwen2.5-7b", "slerp") == "failure.typos_qwen_adapted"
    assert report.paper_key("typos", "mistral-small-24b", "base") is None
    assert report.paper_key("language_mixing", "qwen2.5-7b", "base") is None


@pytest.fixture(scope="module")
def detectors(tiny_cfg):
    return analysis.Detectors(tiny_cfg, use_corpus_terms=False)


def test_run_detectors_counts_every_mode_and_bad_input(tiny_cfg, detectors, tmp_path):
    sample, _ = analysis.sample_answers(fake_generations(tiny_cfg, n_questions=10, seed=1), 10, seed=1)
    det = analysis.run_detectors(sample, detectors, out=tmp_path / "d.parquet")
    assert (tmp_path / "d.parquet").exists() and len(det) == len(sample)
    counts = report.counts_table(det, tiny_cfg)
    assert set(counts["failure"]) == set(analysis.MODES) and (counts["n"] == 10).all()
    # the stand-in planted more English into the merged models than into the base models
    lm = counts[counts["failure"] == "language_mixing"].set_index("model")["ours"]
    assert lm["mistral-7b-tiny-slerp"] > lm["mistral-7b-tiny"]
    # the empty answer and the Cyrillic one are counted, not dropped
    assert counts["empty"].sum() > 0
    cyr = det[det["answer"].str.startswith("Это")]
    assert len(cyr) == 1 and cyr["language_mixing_flag"].all()
    paper = counts.set_index(["model", "failure"])["paper"]
    assert paper[("mistral-7b-tiny-slerp", "language_mixing")] == "207"
    assert paper[("qwen2.5-7b-tiny", "typos")] == "118"
    assert list(report.wide_counts(counts).columns) == ["model", *analysis.MODES]
    v = report.verbosity_table(det, tiny_cfg)
    assert (v["words"] > 0).all() and v.loc[v["model"] == "mistral-7b-tiny-slerp", "variant"].item() == "slerp"
    ex = report.examples(det, "language_mixing", k=2)
    assert len(ex) <= 2 and ex["evidence"].str.len().gt(0).all()
    fig = report.plot_counts(counts)
    assert fig.axes


def test_llm_judge_timeouts_are_counted_in_the_table(tiny_cfg, detectors, out_root):
    cfg = tiny_cfg.model_copy(update={"profile": "test"})
    sample, _ = analysis.sample_answers(fake_generations(tiny_cfg, n_questions=3, seed=2), 2, seed=1)
    sample.loc[sample.index[:3], "answer"] = "HAENGT " + sample.loc[sample.index[:3], "answer"]
    with JudgeServer() as srv:
        fcfg = cfg.failure.model_copy(update={"judge": "llm", "judge_base_url": srv.url, "judge_timeout_s": 0.3,
                                              "judge_retries": 0, "judge_concurrency": 4,
                                              "judge_max_failed_share": 1.0})  # count them, do not fail
        cfg = cfg.model_copy(update={"failure": fcfg})
        detectors.cfg, detectors.facts = cfg, None
        det = analysis.run_detectors(sample, detectors)
    counts = report.counts_table(det, cfg)
    hall = counts[counts["failure"] == "hallucination"]
    assert hall["not_judged"].sum() == 3
    assert hall["ours"].sum() == len(sample) - 3 - (det["answer"].str.strip() == "").sum()


def test_reader_joins_stage06_layout(tmp_path):
    """Stage 06 writes variant/qid/... and keeps reference and fact_id in winrate_questions.parquet."""
    pd.DataFrame({"variant": ["m", "m-slerp"], "family": ["m", "m"], "kind": ["base", "slerp"], "qid": ["wr-1", "wr-1"],
                  "question": ["Wozu gehört X?"] * 2, "answer": ["Statine.", None], "n_chars": [8, 0],
                  "backend": ["transformers"] * 2}).to_parquet(tmp_path / "generations.parquet")
    pd.DataFrame({"qid": ["wr-1", "wr-2"], "question": ["Wozu gehört X?", "?"], "reference": ["Betablocker", "x"],
                  "pool": [["a"], ["b"]], "fact_id": [7, 8], "relation": ["drug_class", "organ"]}).to_parquet(
        tmp_path / "winrate_questions.parquet")
    df = analysis.read_generations(tmp_path / "generations.parquet", tmp_path / "winrate_questions.parquet")
    assert df["reference_answer"].tolist() == ["Betablocker"] * 2 and df["fact_id"].tolist() == [7, 7]
    assert df["model"].tolist() == ["m", "m-slerp"] and df["answer"].tolist() == ["Statine.", ""]


def test_direction_table_compares_base_to_slerp_with_the_paper():
    rows = []
    for fam in ("mistral-7b-tiny", "qwen2.5-7b-tiny"):
        for var, lm, ty in (("base", 10, 50), ("cpt", 50, 60), ("slerp", 150, 40)):
            for mode in analysis.MODES:
                v = {"language_mixing": lm, "typos": ty}.get(mode, 5)
                rows.append({"model": f"{fam}-{var}", "family": fam, "variant": var, "failure": mode, "ours": v,
                             "n": 216})
    d = report.direction_table(pd.DataFrame(rows)).set_index(["family", "failure"])
    assert d.loc[("mistral-7b-tiny", "language_mixing"), "agrees"] == "yes"
    assert d.loc[("qwen2.5-7b-tiny", "language_mixing"), "agrees"] == "—"  # the paper gives no Qwen count
    assert d.loc[("mistral-7b-tiny", "typos"), "agrees"] == "no"  # paper: up; here 50 -> 40
    assert d.loc[("qwen2.5-7b-tiny", "typos"), "agrees"] == "yes"
    assert d.loc[("qwen2.5-7b-tiny", "hallucination"), "ours"] == "same"
