"""The results file: every number the prose states (README, docs' "measured" sections, the claims
table), collected from the stage outputs, never typed.

    values = collect(cfg)        # {"label.f1": 0.928, "cpt.<model>.ppl_medical_after": 1.65, ...}
    write(cfg)                   # build/<p>/results.json and results/<p>.json (committed for tiny)

Keys are dotted names; model names come from the config, so a retuned model or a new one changes the
values, not the code. A stage that has not run contributes no keys (the renderers say "not run").
Each block of generated prose (`definemed.report.prose`) and the claims table
(`definemed.report.claims`) read only this dict.
"""
from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd

from definemed import artifacts, io, paths, stages
from definemed.config import Config

RESULTS_DIR = paths.ROOT / "results"


def results_file(profile: str) -> Path:
    """results/<profile>.json: the committed copy the README and docs are checked against."""
    return RESULTS_DIR / f"{profile}.json"


def _done(cfg: Config, stage: str) -> bool:
    rec = stages.read_record(cfg, stage)
    return rec is not None and stages.outputs_present(cfg, stage, rec)


def _f(x) -> float | int | None:
    if x is None:
        return None
    if isinstance(x, (bool, np.bool_)):
        return int(x)
    if isinstance(x, (int, np.integer)):
        return int(x)
    x = float(x)
    return None if np.isnan(x) else x


def _corpus(cfg: Config, v: dict) -> None:
    s = io.read_json(artifacts.corpus_stats(cfg))
    v["corpus.n_docs"] = s["n_docs"]
    if cfg.corpus.source == "synthetic":
        from definemed.corpus.stats import load_truth

        truth = load_truth(artifacts.stage_dir(cfg, artifacts.CORPUS))
        v["corpus.medical_share"] = float(truth["is_medical"].mean())


def _label(cfg: Config, v: dict) -> None:
    s = io.read_json(artifacts.label_summary(cfg))
    v["label.n_docs"] = s["n_docs"]
    v["label.stand_in"] = int(bool(s["stand_in"]))
    f = artifacts.label_agreement(cfg)
    if f.is_file():
        a = io.read_json(f)
        for q in ("f1", "precision", "recall", "kappa"):
            v[f"label.{q}"] = a["point"][q]
            v[f"label.{q}_lo"], v[f"label.{q}_hi"] = a["ci"][q]
        v["label.human_f1"] = a["human"]["f1"]
        v["label.n_expert"] = a["n"]
        first = next(iter(a["confusion"][0]))  # "expert \\ annotator": the expert's label of the row
        conf = {r[first]: r for r in a["confusion"]}
        v["label.false_positives"] = int(conf["not medical"]["medical"])


def _classifier(cfg: Config, v: dict) -> None:
    op = io.read_json(artifacts.classifier_operating_point(cfg))
    v["classifier.threshold"] = float(op["threshold"])
    for key in ("test", "expert"):
        if key in op:
            for q in ("precision", "recall", "fbeta"):
                v[f"classifier.{key}.{q}"] = op[key][q]
                v[f"classifier.{key}.{q}_lo"], v[f"classifier.{key}.{q}_hi"] = op[key][f"{q}_lo"], op[key][f"{q}_hi"]
    from definemed.classifier.report import sweeps
    from definemed.classifier.stage import load_predictions

    sw = sweeps(load_predictions(cfg), cfg.classifier.fbeta_beta)
    band = sw[(sw.threshold >= 0.1) & (sw.threshold <= 0.95)]
    for key, name in (("test", "held-out LLM labels"), ("expert", "expert annotations")):
        d = band[band["set"] == name]
        if len(d):  # how much precision and recall move over thresholds 0.1-0.95
            v[f"classifier.{key}.precision_span"] = float(d.precision.max() - d.precision.min())
            v[f"classifier.{key}.recall_span"] = float(d.recall.max() - d.recall.min())


def _filter(cfg: Config, v: dict) -> None:
    s = io.read_json(artifacts.filter_stats(cfg))
    v["filter.n_docs"], v["filter.n_kept"] = s["n_docs"], s["n_kept"]
    v["filter.kept_share"] = s["n_kept"] / max(s["n_docs"], 1)
    f = artifacts.filter_truth_evaluation(cfg)
    if f.is_file():
        t = io.read_json(f)
        for q in ("precision", "recall"):
            v[f"filter.{q}"], v[f"filter.{q}_lo"], v[f"filter.{q}_hi"] = t[q], t[f"{q}_lo"], t[f"{q}_hi"]
        from definemed.corpus.stats import load_truth
        from definemed.filtering import report
        from definemed.filtering.filter import read_scores

        scores = read_scores(artifacts.stage_dir(cfg, artifacts.FILTER)).to_pandas()
        joined = report.join_truth(scores, load_truth(artifacts.stage_dir(cfg, artifacts.CORPUS)),
                                   cfg.classifier.threshold)
        comp = report.composition(joined, "domain").set_index("domain")
        for dom in comp.index:
            v[f"filter.{dom}.docs"], v[f"filter.{dom}.kept"] = int(comp.loc[dom, "docs"]), int(comp.loc[dom, "kept"])
            v[f"filter.{dom}.share_of_finemed"] = float(comp.loc[dom, "share_of_finemed"])
        top = report.composition(joined, "topic")
        leak = top[top.domain != "medical"].sort_values("kept", ascending=False).iloc[0]
        v["filter.top_leak.topic"] = str(leak.topic)
        v["filter.top_leak.docs"], v["filter.top_leak.kept"] = int(leak.docs), int(leak.kept)
        v["filter.top_leak.share_of_finemed"] = float(leak.share_of_finemed)


def _zoo(cfg: Config, v: dict) -> None:
    from definemed.zoo.report import builds

    for b in builds(cfg):
        m, n = b["metrics"], b["name"]
        v[f"zoo.{n}.params"] = b["params"]
        v[f"zoo.{n}.ppl_general"], v[f"zoo.{n}.ppl_medical"] = m["ppl_general"], m["ppl_medical"]
        v[f"zoo.{n}.fact_acc"], v[f"zoo.{n}.format_rate"] = m["fact_accuracy"]["all"], m["format_rate"]


def _cpt(cfg: Config, v: dict) -> None:
    ppl = pd.read_parquet(artifacts.cpt_perplexity(cfg))
    for _, r in ppl.iterrows():
        v[f"cpt.{r['model']}.ppl_{r['held-out text']}_before"] = float(r["perplexity before CPT"])
        v[f"cpt.{r['model']}.ppl_{r['held-out text']}_after"] = float(r["perplexity after CPT"])
    f = artifacts.stage_dir(cfg, artifacts.CPT) / "fact_exposures.json"
    if f.is_file():
        for name, e in io.read_json(f).items():
            v[f"cpt.{name}.median_exposures"] = e["median_exposures"]
            v[f"cpt.{name}.share_facts_over_200"] = e["share_facts_over_200"]


def _merge(cfg: Config, v: dict) -> None:
    m = pd.read_parquet(artifacts.merge_metrics(cfg))
    for r in m[m.variant.isin(["base", "cpt", "slerp"])].itertuples():
        for q in ("ppl_medical", "ppl_general", "format_rate"):
            v[f"merge.{r.label}.{q}"] = _f(getattr(r, q))


def _evaluate(cfg: Config, v: dict) -> None:
    from definemed.evaluation import report

    data = report.load(cfg)
    gains = report.family_gains(cfg, data["loglik"], 0)
    for r in gains.itertuples():
        if r.benchmark == "average":
            v[f"evaluate.{r.family}.cpt_rel_pct_avg"] = _f(r.cpt_rel_pct)
            v[f"evaluate.{r.family}.slerp_rel_pct_avg"] = _f(r.slerp_rel_pct)
            continue
        k = f"evaluate.{r.family}.{r.benchmark}.{r.format}"
        v[f"{k}.base"], v[f"{k}.n"] = _f(r.base), _f(r.n)
        for kind in ("cpt", "slerp"):
            v[f"{k}.{kind}"] = _f(getattr(r, kind))
            for q in ("gain_pts", "gain_lo", "gain_hi"):
                v[f"{k}.{kind}_{q}"] = _f(getattr(r, f"{kind}_{q}"))
    for r in data["winrates"].itertuples():
        k = f"evaluate.winrate.{r.variant}"
        v[f"{k}.win"], v[f"{k}.tie"], v[f"{k}.loss"], v[f"{k}.n"] = int(r.win), int(r.tie), int(r.loss), int(r.n)
        v[f"{k}.w_n"], v[f"{k}.w_n_lo"], v[f"{k}.w_n_hi"] = _f(r.win_rate), _f(r.win_rate_lo), _f(r.win_rate_hi)
    for r in data["ratios"][data["ratios"].key == "win_rate"].itertuples():
        k = f"evaluate.winrate_change.{r.family}-{r.adapted}"
        v[f"{k}.diff"], v[f"{k}.diff_lo"], v[f"{k}.diff_hi"] = _f(r.diff), _f(r.diff_lo), _f(r.diff_hi)
        v[f"{k}.ratio"] = _f(r.ratio)


def _failure(cfg: Config, v: dict) -> None:
    from definemed.failure import report

    counts = report.counts_table(report.load_detections(cfg), cfg)
    for r in counts.itertuples():
        v[f"failure.{r.model}.{r.failure}"] = int(r.ours)
        v[f"failure.{r.model}.n"] = int(r.n)
    q = report.load_quality(cfg)
    for key in ("mixing", "typos", "heldout_mixing", "heldout_typos"):
        for k in ("precision", "recall"):
            v[f"failure.detector.{key}.{k}"] = _f(q[key][k])


COLLECTORS = {artifacts.CORPUS: _corpus, artifacts.LABEL: _label, artifacts.CLASSIFIER: _classifier,
              artifacts.FILTER: _filter, artifacts.ZOO: _zoo, artifacts.CPT: _cpt, artifacts.MERGE: _merge,
              artifacts.EVALUATE: _evaluate, artifacts.FAILURE: _failure}


def collect(cfg: Config, upto: str | None = None) -> dict:
    """{"profile", "seed", "stages": {stage: fingerprint}, "values": {key: number|str}}
    from every done stage (up to and including `upto`)."""
    values: dict = {}
    done, missing = {}, {}
    for stage in artifacts.ORDER:
        if _done(cfg, stage):
            try:
                part: dict = {}
                COLLECTORS[stage](cfg, part)
            except (FileNotFoundError, KeyError) as e:  # a stage registered without its usual files
                missing[stage] = f"{type(e).__name__}: {e}"
            else:
                values.update(part)
                done[stage] = stages.read_record(cfg, stage)["fingerprint"]
        if stage == upto:
            break
    values = {k: (round(x, 6) if isinstance(x, float) else x) for k, x in sorted(values.items())}
    out = {"profile": cfg.profile, "seed": cfg.seed, "stages": done, "values": values}
    return out | ({"incomplete": missing} if missing else {})


def in_repo(profile: str) -> bool:
    """True when outputs go to the repository (not a test's DEFINEMED_OUTPUT_ROOT): only then are the
    committed results file and the generated prose rewritten."""
    return paths.data_dir(profile).parent.parent == paths.ROOT


def write(cfg: Config) -> Path:
    """build/<p>/results.json and its committed copy results/<p>.json (only when every stage is done)."""
    res = collect(cfg)
    out = io.write_json(paths.build_dir(cfg.profile) / "results.json", res)
    if in_repo(cfg.profile) and set(res["stages"]) == set(artifacts.ORDER):
        io.write_json(results_file(cfg.profile), res)
    return out


def load(profile: str, path: Path | None = None) -> dict:
    f = path or results_file(profile)
    return json.loads(f.read_text(encoding="utf-8"))
