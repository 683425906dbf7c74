"""Stage 07's paired flag changes and the measured opportunities the claims table's "not testable here"
rows read (failure/report.py), on a scripted detections table."""
from __future__ import annotations

import json

import pandas as pd

from definemed.failure import report as R
from definemed.failure.analysis import MODES


def _detections(cfg, name: str, n: int = 40) -> pd.DataFrame:
    fam = next(f.name for f in cfg.models.foundations if f.role == "small")
    rows = []
    for model, halluc, hedged, typo in ((fam, 20, 0, [name[:-1] + "q"]), (f"{fam}-slerp", 5, 3, ["Krankhiet"])):
        for i in range(n):
            rec = {"model": model, "question_id": f"q{i}", "n_sentences": 2 if i < 2 else 1,
                   "answer": "Das ist vielleicht so." if i < hedged else "Das ist so."}
            for m in MODES:
                rec[f"{m}_flag"] = False
            rec["hallucination_flag"] = i < halluc
            rec["typos_flag"] = i < 6
            rec["typos_evidence"] = json.dumps([f"{w} — in: {w} ist da." for w in typo] if i < 6 else [])
            rows.append(rec)
    return pd.DataFrame(rows), fam


def test_flag_changes_are_paired_over_the_same_questions(tiny_cfg):
    det, fam = _detections(tiny_cfg, "Velorixan")
    t = R.flag_change_table(det, tiny_cfg).set_index("failure")
    assert set(t.index) == set(R.FLAG_MODES) and (t.adapted == f"{fam}-slerp").all() and (t.n == 40).all()
    h = t.loc["hallucination"]
    assert (h.base, h.other) == (20, 5) and h["diff"] == -15 / 40 and h.diff_hi < 0
    c = t.loc["contradiction"]
    assert c["diff"] == 0 and c.diff_lo == 0 == c.diff_hi


def test_opportunities_measure_sentences_hedges_and_name_typos(tiny_cfg, bank):
    names = R.invented_names(tiny_cfg)
    assert len(names) == len({f.subject for f in bank.facts}) and all(" " not in x for x in names)
    det, fam = _detections(tiny_cfg, names[0])
    o = R.opportunity_table(det, tiny_cfg, names).set_index("model")
    assert o.loc[fam, "multi_sentence"] == 2 and o.loc[f"{fam}-slerp", "hedged"] == 3 and o.loc[fam, "hedged"] == 0
    # the base's flagged words are a mis-copied invented name, the SLERP's a German misspelling
    assert (o.loc[fam, "typo_words"], o.loc[fam, "typo_words_names"]) == (6, 6)
    assert (o.loc[f"{fam}-slerp", "typo_words"], o.loc[f"{fam}-slerp", "typo_words_names"]) == (6, 0)
    assert R.opportunity_table(det, tiny_cfg, None).typo_words_names.isna().all()
