"""The claims table's verdicts follow its stated rules, from a results dict."""
from __future__ import annotations

from definemed.report.claims import COLUMNS, claims_table


def _res(**values):
    return {"profile": "t", "values": values}


def _row(df, start):
    return df[df["paper claim"].str.startswith(start)].iloc[0]


def test_label_f1_interval_against_the_papers_range():
    base = {"label.stand_in": 1}
    ok = claims_table(_res(**base, **{"label.f1": 0.92, "label.f1_lo": 0.90, "label.f1_hi": 0.95}))
    far = claims_table(_res(**base, **{"label.f1": 0.70, "label.f1_lo": 0.65, "label.f1_hi": 0.75}))
    assert list(ok.columns) == COLUMNS
    assert _row(ok, "LLM labels")["reproduced"] == "yes" and "stand-in" in _row(ok, "LLM labels")["ours (95% CI)"]
    assert _row(far, "LLM labels")["reproduced"] == "no"


def test_change_claims_need_the_interval_to_exclude_zero_per_family():
    v = {}
    for fam, lo in (("mistral-7b-tiny", 5.0), ("qwen2.5-7b-tiny", -1.0)):
        v[f"cpt.{fam}.ppl_medical_after"] = 1.5
        k = f"evaluate.{fam}.facts.sentence"
        v |= {f"{k}.base": 0.25, f"{k}.cpt": 0.4, f"{k}.cpt_gain_pts": 15.0, f"{k}.cpt_gain_lo": lo,
              f"{k}.cpt_gain_hi": 20.0}
    v |= {"evaluate.mistral-7b-tiny.cpt_rel_pct_avg": 12.0}
    v |= {"evaluate.winrate.qwen2.5-7b-tiny.w_n": 0.0, "evaluate.winrate.qwen2.5-7b-tiny-slerp.w_n": 0.02,
          "evaluate.winrate.qwen2.5-7b-tiny-slerp.tie": 200, "evaluate.winrate.qwen2.5-7b-tiny-slerp.n": 216,
          "evaluate.winrate_change.qwen2.5-7b-tiny-slerp.diff": 0.02,
          "evaluate.winrate_change.qwen2.5-7b-tiny-slerp.diff_lo": -0.01,
          "evaluate.winrate_change.qwen2.5-7b-tiny-slerp.diff_hi": 0.05}
    t = claims_table(_res(**v))
    assert _row(t, "CPT raises medical knowledge")["reproduced"] == "partly"
    assert _row(t, "Mistral-7B CPT")["reproduced"] == "yes"
    assert _row(t, "adapted Qwen2.5-7B")["reproduced"] == "no"
    assert "0.000 → 0.020" in _row(t, "adapted Qwen2.5-7B")["ours (95% CI)"]


def test_failure_directions_and_stages_not_run():
    v = {"cpt.mistral-7b-tiny.ppl_medical_after": 1.0, "cpt.qwen2.5-7b-tiny.ppl_medical_after": 1.0,
         "failure.mistral-7b-tiny.typos": 5, "failure.mistral-7b-tiny-slerp.typos": 9, "failure.mistral-7b-tiny.n": 30,
         "failure.qwen2.5-7b-tiny.typos": 5, "failure.qwen2.5-7b-tiny-slerp.typos": 9, "failure.qwen2.5-7b-tiny.n": 30}
    t = claims_table(_res(**v))
    assert _row(t, "typos")["reproduced"] == "partly"  # Mistral up (as the paper), Qwen up (paper: down)
    assert _row(t, "language mixing")["reproduced"] == "not run"
    assert _row(t, "LLM labels")["reproduced"] == "not run"


def _chain_values(fmt_cpt_hi=-0.2, slerp_fmt_lo=0.1, facts_lo=2.0, win_lo=0.01, base_fmt_lo=0.7):
    f, v = "qwen2.5-7b-tiny", {"evaluate.reference": "ref-tiny"}
    v[f"cpt.{f}.ppl_medical_after"] = 1.5
    v |= {f"evaluate.general.{f}.acc": 0.6, f"evaluate.general.{f}.acc_lo": 0.5, f"evaluate.general.{f}.acc_hi": 0.7,
          "evaluate.general.ref-tiny.acc": 0.9, "evaluate.general.ref-tiny.acc_lo": 0.85, "evaluate.general.ref-tiny.acc_hi": 0.95,
          f"evaluate.quality.{f}.in_format_rate": base_fmt_lo + 0.1, f"evaluate.quality.{f}.in_format_rate_lo": base_fmt_lo,
          f"evaluate.quality.{f}.in_format_rate_hi": 0.95}
    k = f"evaluate.{f}.facts.sentence"
    v |= {f"{k}.base": 0.25, f"{k}.cpt": 0.5, f"{k}.slerp": 0.4, f"{k}.cpt_gain_pts": 25.0, f"{k}.cpt_gain_lo": facts_lo,
          f"{k}.cpt_gain_hi": 30.0, f"{k}.slerp_gain_pts": 15.0, f"{k}.slerp_gain_lo": facts_lo, f"{k}.slerp_gain_hi": 20.0}
    d = f"evaluate.format_change.{f}"
    v |= {f"{d}.cpt_vs_base.diff": fmt_cpt_hi - 0.1, f"{d}.cpt_vs_base.diff_lo": fmt_cpt_hi - 0.2,
          f"{d}.cpt_vs_base.diff_hi": fmt_cpt_hi, f"{d}.slerp_vs_cpt.diff": slerp_fmt_lo + 0.1,
          f"{d}.slerp_vs_cpt.diff_lo": slerp_fmt_lo, f"{d}.slerp_vs_cpt.diff_hi": slerp_fmt_lo + 0.2}
    w = f"evaluate.winrate_change.{f}-slerp"
    v |= {f"{w}.diff": win_lo + 0.05, f"{w}.diff_lo": win_lo, f"{w}.diff_hi": win_lo + 0.1}
    for lab in (f"{f}-cpt", f"{f}-slerp"):
        v |= {f"evaluate.quality.{lab}.in_format_rate": 0.5, f"evaluate.quality.{lab}.in_format_rate_lo": 0.4,
              f"evaluate.quality.{lab}.in_format_rate_hi": 0.6}
    return v


def test_chain_reads_each_link_from_the_numbers():
    from definemed.report.claims import chain, chain_sentences

    t = chain(_res(**_chain_values()))
    assert list(t.verdict) == ["holds"] * 6
    assert "reference 0.90 [0.85, 0.95]" in t.measured.iloc[0]
    broken = chain(_res(**_chain_values(fmt_cpt_hi=0.05, win_lo=-0.02, base_fmt_lo=0.3)))
    assert list(broken.verdict) == ["holds", "does not hold", "holds", "does not hold", "holds", "does not hold"]
    lines = chain_sentences(broken)
    assert lines[3].startswith("3. CPT erodes the answer format (qwen2.5-7b-tiny): does not hold: in-format change")
    # a degenerate run (None) is "not measured", never formatted
    v = _chain_values()
    v["evaluate.format_change.qwen2.5-7b-tiny.cpt_vs_base.diff_hi"] = None
    assert chain(_res(**v)).verdict.iloc[3] == "not measured"


def test_merge_rows_from_stage_06_answers():
    v = _chain_values()
    t = claims_table(_res(**v))
    assert _row(t, "SLERP merging restores")["reproduced"] == "yes"
    assert "0.50 [0.40, 0.60] (CPT)" in _row(t, "SLERP merging restores")["ours (95% CI)"]
    assert _row(t, "the merge keeps the knowledge")["reproduced"] == "yes"
    v["evaluate.format_change.qwen2.5-7b-tiny.slerp_vs_cpt.diff_lo"] = -0.1
    v["evaluate.qwen2.5-7b-tiny.facts.sentence.slerp_gain_lo"] = None
    t = claims_table(_res(**v))
    assert _row(t, "SLERP merging restores")["reproduced"] == "no"
    assert _row(t, "the merge keeps the knowledge")["reproduced"] == "not run"


def test_verbosity_and_sentence_only_failure_counts():
    f = "mistral-7b-tiny"
    v = {f"cpt.{f}.ppl_medical_after": 1.0, f"failure.{f}.n": 30, f"failure.{f}-slerp.n": 30,
         f"failure.{f}.sentences": 20, f"failure.{f}-slerp.sentences": 12,
         f"failure.{f}.language_mixing": 1, f"failure.{f}-slerp.language_mixing": 4,
         f"failure.{f}.length_ratio": 1.0, f"failure.{f}.length_ratio_lo": 0.9, f"failure.{f}.length_ratio_hi": 1.1,
         f"failure.{f}-slerp.length_ratio": 1.5, f"failure.{f}-slerp.length_ratio_lo": 1.3,
         f"failure.{f}-slerp.length_ratio_hi": 1.7, f"failure.verbosity_change.{f}-slerp.diff": 0.5,
         f"failure.verbosity_change.{f}-slerp.diff_lo": 0.3, f"failure.verbosity_change.{f}-slerp.diff_hi": 0.7}
    t = claims_table(_res(**v))
    assert _row(t, "language mixing")["ours (95% CI)"] == f"{f}: 1 of 20 → 4 of 12 (up)"
    assert _row(t, "verbosity")["reproduced"] == "yes"
    assert _row(t, "less overconfidence")["reproduced"] == "not run"
    assert _row(t, "fewer contradictions")["reproduced"] == "not run"
