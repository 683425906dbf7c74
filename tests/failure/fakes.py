"""A stand-in for stage 06's generations, for tests and for developing stage 07 before 06 exists.

Answers are built from the fact bank with known failure rates per model variant, so the detectors'
counts can be checked against what was planted. Never used by the pipeline itself.
"""
from __future__ import annotations

import random
from pathlib import Path

import pandas as pd

from definemed.corpus import fact_bank
from definemed.corpus.factbank import RELATIONS
from definemed.corpus.noise import add_typos, english_sentences

FILLER = ["Grundsätzlich ist es wichtig, dass Patienten gut informiert sind.",
          "Die Behandlung sollte immer individuell abgestimmt werden.",
          "Viele Faktoren spielen hierbei eine Rolle.",
          "Eine ausgewogene Ernährung und Bewegung sind ebenfalls hilfreich."]
# variant -> (p_wrong, p_english, p_typos, p_verbose, p_hedge, p_contradiction)
RATES = {"base": (0.5, 0.05, 0.3, 0.1, 0.5, 0.15), "cpt": (0.3, 0.5, 0.4, 0.5, 0.3, 0.1),
         "slerp": (0.2, 0.8, 0.2, 0.6, 0.4, 0.05), "reference": (0.1, 0.0, 0.05, 0.1, 0.5, 0.02)}


def fake_generations(cfg, n_questions: int = 30, seed: int = 0) -> pd.DataFrame:
    bank = fact_bank(cfg)
    r = random.Random(seed)
    facts = r.sample(bank.facts, min(n_questions, len(bank.facts)))
    models = []
    for f in cfg.models.foundations:
        models += [(f.name, "reference")] if f.role == "reference" else [
            (f.name, "base"), (f"{f.name}-cpt", "cpt"), (f"{f.name}-slerp", "slerp")]
    rows = []
    for model, variant in models:
        p_wrong, p_en, p_typo, p_verb, p_hedge, p_contra = RATES[variant]
        for f in facts:
            obj = f.object
            if r.random() < p_wrong:
                obj = r.choice(f.distractor_pool(bank))
            sents = [f.sentence(r.randrange(2), heldout=True)]
            sents[0] = sents[0].replace(f.object, obj) if obj != f.object else sents[0]
            if r.random() < p_hedge:
                sents.append("Im Zweifel sollte man das ärztlich abklären lassen, möglicherweise gibt es Ausnahmen.")
            else:
                sents.append("Das ist eindeutig so.")
            if r.random() < p_contra and f.relation != "indication":
                other = next(o for o in f.distractor_pool(bank) if o != obj)
                sents.append(f"Andere Quellen nennen für {f.subject} dagegen {other}.")
            if r.random() < p_verb:
                sents += r.sample(FILLER, 4) + FILLER[:2]
            if r.random() < p_en:
                sents.insert(1, english_sentences(r, 1)[0])
            text = " ".join(sents)
            if r.random() < p_typo:
                text = add_typos(text, 0.1, r)[0]
            rows.append({"model": model, "question_id": f"q{f.fact_id}",
                         "question": RELATIONS[f.relation].question.format(s=f.subject),
                         "answer": text, "reference_answer": f.object, "fact_id": f.fact_id})
    df = pd.DataFrame(rows)
    # bad input the stage must survive: an empty answer and one in another script
    df.loc[0, "answer"] = ""
    df.loc[1, "answer"] = "Это лекарство относится к группе бета-блокаторов."
    return df


def write_fake_generations(cfg, path: Path, **kw) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    fake_generations(cfg, **kw).to_parquet(path, index=False)
    return path
