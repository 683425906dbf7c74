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
    assert _row(ok, "LLM labels")["reproduced?"] == "yes" and "stand-in" in _row(ok, "LLM labels")["ours"]
    assert _row(far, "LLM labels")["reproduced?"] == "no"


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
    assert _row(t, "CPT raises medical knowledge")["reproduced?"] == "partly"
    assert _row(t, "Mistral-7B CPT")["reproduced?"] == "yes"
    assert _row(t, "adapted Qwen2.5-7B")["reproduced?"] == "no"
    assert "0.000 → 0.020" in _row(t, "adapted Qwen2.5-7B")["ours"]


def test_failure_directions_and_stages_not_run():
    v = {"cpt.mistral-7b-tiny.ppl_medical_after": 1.0, "cpt.qwen2.5-7b-tiny.ppl_medical_after": 1.0,
         "failure.mistral-7b-tiny.typos": 5, "failure.mistral-7b-tiny-slerp.typos": 9, "failure.mistral-7b-tiny.n": 30,
         "failure.qwen2.5-7b-tiny.typos": 5, "failure.qwen2.5-7b-tiny-slerp.typos": 9, "failure.qwen2.5-7b-tiny.n": 30}
    t = claims_table(_res(**v))
    assert _row(t, "typos")["reproduced?"] == "partly"  # Mistral up (as the paper), Qwen up (paper: down)
    assert _row(t, "language mixing")["reproduced?"] == "not run"
    assert _row(t, "LLM labels")["reproduced?"] == "not run"
