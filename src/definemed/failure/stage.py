"""Stage 07: the failure analysis. `run(cfg)` reads stage 06's answers, samples the same questions for
every model, runs every detector and measures the detectors themselves. Writes
data/<profile>/07_failure_analysis/:

- detections.parquet       one row per sampled answer: flag, status and evidence per failure mode
- detector_quality.json    precision / recall of the detectors on labelled text with planted noise
                           (synthetic and held-out), their flag rate on hand-written clinical German, and
                           their quality on the hand-written realism sets (failure/realism.py), and,
                           when shared/realtext/ is beside the repository, on real German letters and
                           web text ("realtext", failure/realtext.py; null when absent)
- allowlist.json           the medical allow-list derived from the corpus (cached)
"""
from __future__ import annotations

from definemed import artifacts, io
from definemed.config import Config
from definemed.failure import analysis, evalset, realism, realtext


def detector_quality(cfg: Config, det: analysis.Detectors) -> dict:
    """The detectors measured on labelled text (what notebook 07's detector-quality table shows)."""
    n, seed = cfg.failure.eval_n_texts, cfg.seed
    mix, mix_rows = evalset.evaluate_mixing(det.language, evalset.mixing_set(cfg, n, seed))
    typo, _ = evalset.evaluate_typos(det.typos, evalset.typo_set(cfg, n, seed))
    ho_mix_items, ho_typo_items = evalset.heldout_sets(cfg, seed)
    ho_mix, _ = evalset.evaluate_mixing(det.language, ho_mix_items)
    ho_typo, ho_typo_rows = evalset.evaluate_typos(det.typos, ho_typo_items)
    return {
        "mixing": mix, "typos": typo, "heldout_mixing": ho_mix, "heldout_typos": ho_typo,
        "real_mixing": evalset.false_positives_on(det.language, evalset.REAL_DE),
        "real_typos": evalset.false_positives_on(det.typos, evalset.REAL_DE),
        "missed_mixing": [{"kind": r["kind"], "planted": r["planted"], "text": r["text"][:200]}
                          for r in mix_rows if r["label"] and not r["flag"]][:3],
        "heldout_false_typos": sorted({w for r in ho_typo_rows for w in r["flagged"] if w not in r["planted"]}),
        "realism": realism.realism_summary(det.typos, det.language),
        "realtext": real_text_quality(cfg, det),
    }


def real_text_quality(cfg: Config, det: analysis.Detectors) -> dict | None:
    """The detectors on the real-text development half (failure/realtext.py), or None without it."""
    docs = realtext.load_realtext()
    if docs is None:
        return None
    return {"source": str(realtext.realtext_dir().name),
            **realtext.measure(det.typos, det.language, docs, realtext.load_labels(), cfg.seed)}


def run(cfg: Config) -> dict:
    out = artifacts.failure_dir(cfg)
    gens = analysis.read_generations(analysis.generations_path(cfg), artifacts.winrate_questions(cfg))
    sample, info = analysis.sample_answers(gens, cfg.failure.n_samples, cfg.seed)
    det = analysis.Detectors(cfg)
    detections = analysis.run_detectors(sample, det, out=out / "detections.parquet")
    q = detector_quality(cfg, det)
    io.write_json(out / "detector_quality.json", q)
    return {**info, "n_answers": len(detections), "judge": cfg.failure.judge,
            "allowlist_corpus_terms": len(det.terms.corpus), "allowlist_fixed_terms": len(det.terms.fixed),
            "allowlist_source": det.terms.source,
            "flagged": {m: int(detections[f"{m}_flag"].sum()) for m in analysis.MODES},
            "not_judged": {m: int(detections[f"{m}_status"].isin(["timeout", "error"]).sum()) for m in analysis.MODES},
            "mixing_precision": q["mixing"]["precision"], "mixing_recall": q["mixing"]["recall"],
            "typo_precision": q["typos"]["precision"], "typo_recall": q["typos"]["recall"],
            "heldout_mixing_precision": q["heldout_mixing"]["precision"],
            "heldout_mixing_recall": q["heldout_mixing"]["recall"],
            "heldout_typo_precision": q["heldout_typos"]["precision"],
            "heldout_typo_recall": q["heldout_typos"]["recall"],
            "realism": {name: {"typo_precision": r["typos"]["precision"], "typo_recall": r["typos"]["recall"],
                               "typo_false_per_1000": r["typos"]["false_per_1000"],
                               "mixing_recall": r["mixing"]["recall"], "mixing_clean_flagged": r["mixing"]["flagged_clean"]}
                        for name, r in q["realism"].items()}}
