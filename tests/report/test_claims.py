"""The claims table's verdicts follow its stated rules, from a results dict."""
from __future__ import annotations

from definemed.report.claims import COLUMNS, RULES, VERDICTS, claims_table, combine, comparable, direction


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
    assert _row(far, "LLM labels")["rule"] == RULES["range"]


def _classifier(p, p_lo, p_hi, r, r_lo, r_hi):
    k = "classifier.expert."
    return claims_table(_res(**{k + "precision": p, k + "precision_lo": p_lo, k + "precision_hi": p_hi,
                                k + "recall": r, k + "recall_lo": r_lo, k + "recall_hi": r_hi}))


def test_precision_over_recall_needs_precision_first():
    row = lambda t: _row(t, "classifier at threshold")["reproduced"]  # noqa: E731
    assert row(_classifier(0.97, 0.94, 0.99, 0.70, 0.60, 0.80)) == "yes"
    # recall above precision is not "precision over recall", however high recall is
    assert row(_classifier(0.85, 0.80, 0.90, 0.95, 0.92, 0.98)) == "no"
    assert row(_classifier(0.90, 0.85, 0.93, 0.70, 0.60, 0.80)) == "no"  # precision below the paper's 0.95
    assert row(_classifier(0.95, 0.90, 0.97, 0.90, 0.85, 0.93)) == "inconclusive"  # intervals overlap
    assert "P 0.95 [0.90, 0.97], R 0.90 [0.85, 0.93]" in _row(_classifier(0.95, 0.90, 0.97, 0.90, 0.85, 0.93),
                                                              "classifier")["ours (95% CI)"]


def test_change_claims_need_the_interval_to_exclude_zero_per_family():
    v = {}
    for fam, lo in (("mistral-7b-tiny", 5.0), ("qwen2.5-7b-tiny", -1.0)):
        v[f"cpt.{fam}.ppl_medical_after"] = 1.5
        k = f"evaluate.{fam}.facts.sentence"
        v |= {f"{k}.base": 0.25, f"{k}.cpt": 0.4, f"{k}.cpt_gain_pts": 15.0, f"{k}.cpt_gain_lo": lo,
              f"{k}.cpt_gain_hi": 20.0}
    v |= {"evaluate.mistral-7b-tiny.cpt_rel_pct_avg": 12.0, "evaluate.mistral-7b-tiny.cpt_rel_pct_avg_lo": 3.0,
          "evaluate.mistral-7b-tiny.cpt_rel_pct_avg_hi": 20.0}
    w = {"evaluate.winrate.qwen2.5-7b-tiny.w_n": 0.0, "evaluate.winrate.qwen2.5-7b-tiny.w_n_lo": 0.0,
         "evaluate.winrate.qwen2.5-7b-tiny.w_n_hi": 0.01, "evaluate.winrate.qwen2.5-7b-tiny-slerp.w_n": 0.02,
         "evaluate.winrate.qwen2.5-7b-tiny-slerp.w_n_lo": 0.0, "evaluate.winrate.qwen2.5-7b-tiny-slerp.w_n_hi": 0.04,
         "evaluate.winrate.qwen2.5-7b-tiny-slerp.tie": 200, "evaluate.winrate.qwen2.5-7b-tiny-slerp.n": 216,
         "evaluate.winrate_change.qwen2.5-7b-tiny-slerp.diff": 0.02,
         "evaluate.winrate_change.qwen2.5-7b-tiny-slerp.diff_lo": -0.01,
         "evaluate.winrate_change.qwen2.5-7b-tiny-slerp.diff_hi": 0.05}
    t = claims_table(_res(**v, **w))
    assert _row(t, "CPT raises medical knowledge")["reproduced"] == "partly"
    assert _row(t, "Mistral-7B CPT")["reproduced"] == "yes"
    assert "+12.0 [+3.0, +20.0] %" in _row(t, "Mistral-7B CPT")["ours (95% CI)"]
    assert _row(t, "adapted Qwen2.5-7B")["reproduced"] == "inconclusive"  # the interval contains 0
    assert "0.000 [0.000, 0.010] → 0.020 [0.000, 0.040]" in _row(t, "adapted Qwen2.5-7B")["ours (95% CI)"]
    w["evaluate.winrate_change.qwen2.5-7b-tiny-slerp.diff_hi"] = -0.005
    assert _row(claims_table(_res(**v, **w)), "adapted Qwen2.5-7B")["reproduced"] == "no"  # the interval contradicts it
    w["evaluate.winrate_change.qwen2.5-7b-tiny-slerp.diff_lo"] = 0.01
    w["evaluate.winrate_change.qwen2.5-7b-tiny-slerp.diff_hi"] = 0.05
    assert _row(claims_table(_res(**v, **w)), "adapted Qwen2.5-7B")["reproduced"] == "yes"


def test_direction_comparable_and_combine_rules():
    assert direction(0.1, 0.3, "up") == "yes" and direction(0.1, 0.3, "down") == "no"
    assert direction(-0.1, 0.3, "up") == "inconclusive" and direction(-0.3, -0.1, "down") == "yes"
    assert comparable(-0.03, 0.04) == "yes" and comparable(-0.2, 0.1) == "inconclusive"
    assert comparable(0.06, 0.2) == "no"
    assert combine(["yes", "yes"]) == "yes" and combine(["yes", "no"]) == "partly"
    assert combine(["no", "inconclusive"]) == "no" and combine(["inconclusive", "not testable here"]) == "inconclusive"
    assert combine(["not testable here"] * 2) == "not testable here" and combine([]) == "not run"


FAM = ("mistral-7b-tiny", "qwen2.5-7b-tiny")


def _failure_values(mode, base, slerp, lo, hi, n=216, **extra):
    v = {}
    for f in FAM:
        v |= {f"cpt.{f}.ppl_medical_after": 1.0, f"failure.{f}.n": n, f"failure.{f}-slerp.n": n,
              f"failure.{f}.sentences": n, f"failure.{f}-slerp.sentences": n,
              f"failure.{f}.{mode}": base, f"failure.{f}-slerp.{mode}": slerp,
              f"failure.change.{f}-slerp.{mode}.diff": (slerp - base) / n,
              f"failure.change.{f}-slerp.{mode}.diff_lo": lo, f"failure.change.{f}-slerp.{mode}.diff_hi": hi}
        v |= {k.format(f=f): x for k, x in extra.items()}
    return v


def test_failure_rows_use_the_paired_interval():
    t = claims_table(_res(**_failure_values("typos", 5, 30, 0.05, 0.17)))
    r = _row(t, "typos")
    assert r["reproduced"] == "partly"  # Mistral up (as the paper), Qwen up (paper: down)
    assert "mistral-7b-tiny: 5 of 216 → 30 of 216, flagged share +0.116 [+0.050, +0.170]" in r["ours (95% CI)"]
    assert r["rule"] == RULES["failure"]
    t = claims_table(_res(**_failure_values("hallucination", 40, 30, -0.12, 0.02)))
    assert _row(t, "fewer hallucinations")["reproduced"] == "inconclusive"
    t = claims_table(_res(**_failure_values("hallucination", 40, 10, -0.2, -0.08)))
    assert _row(t, "fewer hallucinations")["reproduced"] == "yes"
    t = claims_table(_res(**_failure_values("hallucination", 10, 40, 0.08, 0.2)))
    assert _row(t, "fewer hallucinations")["reproduced"] == "no"
    assert _row(t, "language mixing")["reproduced"] == "not run"
    assert _row(t, "LLM labels")["reproduced"] == "not run"


def test_failure_rows_not_testable_with_the_measured_reason():
    one = {"failure.{f}.multi_sentence": 3, "failure.{f}-slerp.multi_sentence": 5}
    t = claims_table(_res(**_failure_values("contradiction", 2, 1, -0.02, 0.01, **one)))
    r = _row(t, "fewer contradictions")
    assert r["reproduced"] == "not testable here"
    assert "3 of 216 base and 5 of 216 SLERP answers have two or more sentences" in r["ours (95% CI)"]
    many = {"failure.{f}.multi_sentence": 100, "failure.{f}-slerp.multi_sentence": 90}
    assert _row(claims_table(_res(**_failure_values("contradiction", 20, 5, -0.1, -0.03, **many))),
                "fewer contradictions")["reproduced"] == "yes"
    names = {"failure.{f}.typo_words": 40, "failure.{f}-slerp.typo_words": 20,
             "failure.{f}.typo_words_names": 35, "failure.{f}-slerp.typo_words_names": 15}
    r = _row(claims_table(_res(**_failure_values("typos", 40, 20, -0.15, -0.05, **names))), "typos")
    assert r["reproduced"] == "not testable here" and "50 of the 60 flagged words are mis-copied" in r["ours (95% CI)"]
    hedge = {"failure.{f}.hedged": 2, "failure.{f}-slerp.hedged": 0}
    r = _row(claims_table(_res(**_failure_values("overconfidence", 30, 10, -0.15, -0.05, **hedge))), "less overconfidence")
    assert r["reproduced"] == "not testable here" and "contain a hedging marker" in r["ours (95% CI)"]
    r = _row(claims_table(_res(**_failure_values("language_mixing", 0, 0, 0.0, 0.0))), "language mixing")
    assert r["reproduced"] == "not testable here" and "no answer of either model shows it" in r["ours (95% CI)"]


def test_comparable_to_the_reference_per_subject():
    f = "qwen2.5-7b-tiny"
    k = f"evaluate.vs_reference.{f}-slerp.anatomy.mc"
    v = {f"cpt.{f}.ppl_medical_after": 1.0, "evaluate.mmlu_subjects": "anatomie, kardiologie",
         f"{k}.n": 30, f"{k}.acc": 0.5, f"{k}.reference_acc": 0.52, f"{k}.diff": -0.02, f"{k}.diff_lo": -0.04,
         f"{k}.diff_hi": 0.03}
    r = _row(claims_table(_res(**v)), "DeFineMed-Qwen2.5-7B-SLERP comparable")
    # anatomy comparable, clinical knowledge not in the tiny subjects: only part of the claim is shown
    assert r["reproduced"] == "partly" and "Clinical Knowledge: not testable here" in r["ours (95% CI)"]
    assert "difference -0.02 [-0.04, +0.03]" in r["ours (95% CI)"]
    k2 = f"evaluate.vs_reference.{f}-slerp.clinical_knowledge.mc"
    v |= {f"{k2}.n": 30, f"{k2}.acc": 0.5, f"{k2}.reference_acc": 0.6, f"{k2}.diff": -0.1, f"{k2}.diff_lo": -0.25,
          f"{k2}.diff_hi": 0.05}
    assert _row(claims_table(_res(**v)), "DeFineMed-Qwen2.5-7B-SLERP")["reproduced"] == "partly"
    v[f"{k}.diff_lo"], v[f"{k}.diff_hi"] = -0.2, 0.1  # too wide to show comparability
    assert _row(claims_table(_res(**v)), "DeFineMed-Qwen2.5-7B-SLERP")["reproduced"] == "inconclusive"
    v[f"{k2}.diff_lo"], v[f"{k2}.diff_hi"] = -0.25, -0.06
    assert _row(claims_table(_res(**v)), "DeFineMed-Qwen2.5-7B-SLERP")["reproduced"] == "no"
    r = _row(claims_table(_res(**v)), "at the larger size")
    assert r["reproduced"] == "not run" and "merges only the small families" in r["ours (95% CI)"]


def test_every_row_states_its_rule_and_an_interval():
    v = _chain_values() | _failure_values("hallucination", 40, 10, -0.2, -0.08)
    t = claims_table(_res(**v))
    assert set(t["rule"]) <= set(RULES.values()) and set(t["reproduced"]) <= set(VERDICTS)
    decided = t[t["reproduced"].isin(["yes", "no", "partly", "inconclusive"])]
    assert len(decided) >= 3 and decided["ours (95% CI)"].str.contains(r"\[").all()


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
    assert _row(t, "SLERP merging restores")["reproduced"] == "inconclusive"  # [-0.10, +0.30] contains 0
    assert _row(t, "the merge keeps the knowledge")["reproduced"] == "not run"


def test_verbosity_and_sentence_only_failure_counts():
    f = "mistral-7b-tiny"
    v = {f"cpt.{f}.ppl_medical_after": 1.0, f"failure.{f}.n": 30, f"failure.{f}-slerp.n": 30,
         f"failure.{f}.sentences": 20, f"failure.{f}-slerp.sentences": 12,
         f"failure.{f}.language_mixing": 1, f"failure.{f}-slerp.language_mixing": 4,
         f"failure.change.{f}-slerp.language_mixing.diff": 0.1, f"failure.change.{f}-slerp.language_mixing.diff_lo": -0.05,
         f"failure.change.{f}-slerp.language_mixing.diff_hi": 0.25,
         f"failure.{f}.length_ratio": 1.0, f"failure.{f}.length_ratio_lo": 0.9, f"failure.{f}.length_ratio_hi": 1.1,
         f"failure.{f}-slerp.length_ratio": 1.5, f"failure.{f}-slerp.length_ratio_lo": 1.3,
         f"failure.{f}-slerp.length_ratio_hi": 1.7, f"failure.verbosity_change.{f}-slerp.diff": 0.5,
         f"failure.verbosity_change.{f}-slerp.diff_lo": 0.3, f"failure.verbosity_change.{f}-slerp.diff_hi": 0.7}
    t = claims_table(_res(**v))
    assert _row(t, "language mixing")["ours (95% CI)"].startswith(f"{f}: 1 of 20 → 4 of 12, flagged share")
    assert _row(t, "language mixing")["reproduced"] == "inconclusive"
    assert _row(t, "verbosity")["reproduced"] == "yes"
    assert _row(t, "less overconfidence")["reproduced"] == "not run"
    assert _row(t, "fewer contradictions")["reproduced"] == "not run"
