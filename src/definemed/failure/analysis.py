"""Stage 07's computation: read stage 06's generations, sample answers, run every detector.

Input: data/<p>/06_evaluate/generations.parquet, one row per (model, question) with columns
model, question_id, question, answer, reference_answer, fact_id (a few aliases are accepted, see
ALIASES: stage 06 writes variant, qid, question, answer and keeps reference and fact_id in
winrate_questions.parquet, `artifacts.winrate_questions`, joined in on qid). Output: data/<p>/07_failure_analysis/detections.parquet, one row per sampled answer with a
flag, a status and the evidence of each failure mode.
"""
from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd
from definemed.progress import tqdm

from definemed import artifacts, io
from definemed.config import Config
from definemed.errors import DefinemedError
from definemed.failure.verdict import Verdict
from definemed.seed import rng

MODES = ("language_mixing", "typos", "verbosity", "hallucination", "overconfidence", "contradiction")
COLUMNS = ("model", "question_id", "question", "answer", "reference_answer", "fact_id")
OPTIONAL = ("reference_answer", "fact_id")
# other names the evaluation stage may use for the same column
ALIASES = {"question_id": ("qid", "id", "item_id"), "reference_answer": ("reference", "target", "gold"),
           "answer": ("generation", "response", "output"), "model": ("variant", "model_name")}


def generations_path(cfg: Config) -> Path:
    return artifacts.generations(cfg)


def read_generations(path: str | Path, questions: str | Path | None = None) -> pd.DataFrame:
    """Read and validate the generations table; a missing file or column is a one-line error.
    `questions`: stage 06's win-rate questions (`artifacts.winrate_questions`), joined in on qid for
    the reference answer and fact id when the generations do not carry them."""
    path = Path(path)
    if not path.is_file():
        raise DefinemedError(f"{path}: no generations file (run stage 06_evaluate first)")
    try:
        df = pd.read_parquet(path)
    except Exception as e:  # pyarrow raises several types for a corrupt file
        raise DefinemedError(f"{path}: not a readable parquet file ({type(e).__name__})") from None
    for col, alts in ALIASES.items():
        if col not in df.columns:
            alt = next((a for a in alts if a in df.columns), None)
            if alt:
                df = df.rename(columns={alt: col})
    qfile = Path(questions) if questions is not None else None
    if any(c not in df.columns for c in OPTIONAL) and "question_id" in df.columns and qfile and qfile.is_file():
        # stage 06 keeps the reference answer and fact id beside the questions, not in each generation
        q = pd.read_parquet(qfile)
        q = q.rename(columns={a: c for c, alts in ALIASES.items() for a in alts if a in q.columns and c not in q.columns})
        keep = ["question_id"] + [c for c in OPTIONAL if c in q.columns and c not in df.columns]
        if "question_id" in q.columns and len(keep) > 1:
            q = q[keep].astype({"question_id": str}).drop_duplicates("question_id")
            df = df.astype({"question_id": str}).merge(q, on="question_id", how="left")
    missing = [c for c in COLUMNS if c not in df.columns and c not in OPTIONAL]
    if missing:
        raise DefinemedError(f"{path}: missing column(s) {', '.join(missing)} (have: {', '.join(map(str, df.columns))})")
    if "reference_answer" not in df.columns:
        df["reference_answer"] = None
    if "fact_id" not in df.columns:
        df["fact_id"] = -1
    df = df[list(COLUMNS)].copy()
    df["answer"] = df["answer"].fillna("").astype(str)
    df["question"] = df["question"].fillna("").astype(str)
    df["question_id"] = df["question_id"].astype(str)
    df["fact_id"] = pd.to_numeric(df["fact_id"], errors="coerce").fillna(-1).astype(int)
    if df.empty:
        raise DefinemedError(f"{path}: no rows")
    dup = df.duplicated(["model", "question_id"])
    if dup.any():
        r = df[dup].iloc[0]
        raise DefinemedError(f"{path}: duplicate answer for model {r['model']!r}, question {r['question_id']!r}")
    return df


def sample_answers(df: pd.DataFrame, n: int, seed: int) -> tuple[pd.DataFrame, dict]:
    """n questions (seeded) that every model answered; the same questions for every model."""
    models = sorted(df["model"].unique())
    common = set.intersection(*(set(df.loc[df["model"] == m, "question_id"]) for m in models))
    common = sorted(common)
    if not common:
        raise DefinemedError("generations: no question was answered by every model")
    g = rng(seed, "failure", "sample")
    k = min(n, len(common))
    pick = set(np.asarray(common)[np.sort(g.choice(len(common), size=k, replace=False))].tolist())
    out = df[df["question_id"].isin(pick)].sort_values(["model", "question_id"]).reset_index(drop=True)
    return out, {"n_models": len(models), "n_common_questions": len(common), "n_sampled": k, "n_requested": n}


def variant_of(model: str, cfg: Config) -> tuple[str, str]:
    """(family, variant) of a model name: variant is base, cpt, slerp or reference."""
    roles = {f.name: f.role for f in cfg.models.foundations}
    for suffix, variant in (("-slerp", "slerp"), ("-cpt", "cpt")):
        if model.endswith(suffix):
            return model[: -len(suffix)], variant
    return model, ("reference" if roles.get(model) == "reference" else "base")


class Detectors:
    """Every detector of a profile, built once (the allow-list and the language models load here)."""

    def __init__(self, cfg: Config, use_corpus_terms: bool = True):
        from definemed.corpus import fact_bank
        from definemed.failure.claims import FactChecker
        from definemed.failure.language import LanguageMixDetector
        from definemed.failure.terms import load_terms
        from definemed.failure.typos import TypoDetector
        from definemed.failure.verbosity import VerbosityDetector

        self.cfg = cfg
        self.terms = load_terms(cfg, use_corpus=use_corpus_terms)
        self.language = LanguageMixDetector(cfg.failure, self.terms)
        self.typos = TypoDetector(cfg.failure, self.terms)
        self.verbosity = VerbosityDetector(cfg.failure)
        self.facts = FactChecker(fact_bank(cfg)) if cfg.failure.judge == "factbank" else None

    def judged(self, rows: list[dict], cache: Path | None) -> list[dict[str, Verdict]]:
        if self.facts is not None:
            return [self.facts.judge(r["answer"], r["question"], r["fact_id"] if r["fact_id"] >= 0 else None)
                    for r in rows]
        from definemed.failure.judge import require_judged, run_judge

        results = run_judge(rows, self.cfg.failure, cache=cache)
        require_judged(results, self.cfg.failure, cache)  # an unjudged answer is not a finished stage
        return results


def _cell(v: Verdict) -> dict:
    return {"flag": v.flag, "status": v.status, "evidence": json.dumps(v.evidence, ensure_ascii=False)}


def reference_model_answers(sample: pd.DataFrame, cfg: Config) -> dict[str, str]:
    """question_id -> the reference model's answer to it (empty when the reference model is not in the sample)."""
    ref = sample[[variant_of(m, cfg)[1] == "reference" for m in sample["model"]]]
    return dict(zip(ref["question_id"], ref["answer"]))


def run_detectors(sample: pd.DataFrame, det: Detectors, out: Path | None = None) -> pd.DataFrame:
    """One row per answer: <mode>_flag, <mode>_status, <mode>_evidence for every mode, plus the
    measured numbers (words, sentences, characters, length ratio, density, typos, foreign share).

    Typos and language mixing are judged only on answers that are sentences in any language
    (`evaluation.quality.is_sentence`; status `not_sentence` otherwise, `is_sentence` column).
    Verbosity compares each answer with the reference model's answer to the same question (words)."""
    from definemed.evaluation.quality import is_sentence

    cfg = det.cfg
    rows = sample.to_dict("records")
    cache = artifacts.failure_dir(cfg) / f"judge_{cfg.failure.rubric}.jsonl"
    judged = det.judged(rows, cache)
    ref_answers = reference_model_answers(sample, cfg)
    not_sentence = Verdict(False, status="not_sentence")
    recs = []
    for r, j in zip(tqdm(rows, desc="detectors", unit="answer"), judged):
        fam, var = variant_of(r["model"], cfg)
        ref = ref_answers.get(r["question_id"])
        sent = is_sentence(r["answer"], cfg.evaluate.min_answer_words)
        v = {"language_mixing": det.language.detect(r["answer"]) if sent else not_sentence,
             "typos": det.typos.detect(r["answer"]) if sent else not_sentence,
             "verbosity": det.verbosity.detect(r["answer"], ref), **j}
        rec = {**r, "family": fam, "variant": var, "is_sentence": sent, "reference_model_answer": ref or ""}
        for mode in MODES:
            rec.update({f"{mode}_{k}": x for k, x in _cell(v[mode]).items()})
        m = v["verbosity"].details
        rec.update({"n_words": m["n_words"], "n_sentences": m["n_sentences"], "n_chars": m["n_chars"],
                    "length_ratio": m["length_ratio"], "density": m["density"], "ref_coverage": m["ref_coverage"],
                    "n_typos": v["typos"].details.get("n_typos", 0 if sent else np.nan),
                    "typos_per_1000": v["typos"].details.get("per_1000_words", 0.0 if sent else np.nan),
                    "foreign_share": v["language_mixing"].details.get("foreign_share", 0.0 if sent else np.nan)})
        recs.append(rec)
    df = pd.DataFrame(recs)
    if out is not None:
        with io.atomic_path(out, suffix=".parquet") as tmp:
            df.to_parquet(tmp, index=False)
    return df
