"""Tables and figures of stage 02, computed only from predictions.parquet, operating_point.json and
training_log.json (restyling a plot never retrains the model)."""
from __future__ import annotations

import numpy as np
import pandas as pd

from definemed import tables
from definemed.classifier.metrics import threshold_sweep
from definemed.config import Config

SETS = {"test": "held-out LLM labels", "expert": "expert annotations"}


def _ci(m: dict, k: str) -> str:
    return f"[{m[f'{k}_lo']:.3f}, {m[f'{k}_hi']:.3f}]"


def operating_point_table(op: dict, summary: dict) -> pd.DataFrame:
    """Ours (with 95 % bootstrap intervals) beside the paper's precision 0.95 / recall 0.8."""
    rows = [
        {"quantity": "decision threshold", "evaluated on": "—", "ours": float(op["threshold"]), "95% CI": "—",
         "paper_key": "classifier.threshold"},
        {"quantity": "F-beta beta", "evaluated on": "—", "ours": float(op["beta"]), "95% CI": "—", "paper_key": "classifier.fbeta_beta"},
    ]
    for key, name in SETS.items():
        if key not in op:
            continue
        m = op[key]
        for q in ("precision", "recall", "fbeta"):
            rows.append({"quantity": q if q != "fbeta" else f"F{op['beta']:g}", "evaluated on": f"{name} (n={m['n']})",
                         "ours": m[q], "95% CI": _ci(m, q),
                         "paper_key": f"classifier.{q}" if q in ("precision", "recall") else None})
    rows.append({"quantity": "parameters", "evaluated on": "—", "ours": summary["n_params"], "95% CI": "—",
                 "paper_key": "classifier.params"})
    for r in rows:  # text, so a parameter count and a precision share one column cleanly
        r["ours"] = f"{r['ours'] / 1e6:.2f}M" if isinstance(r["ours"], int) else f"{r['ours']:.3f}"
    df = tables.comparison(rows)
    return df[["quantity", "evaluated on", "ours", "95% CI", "paper"]]


def sweeps(pred: pd.DataFrame, beta: float) -> pd.DataFrame:
    out = []
    for key, name in SETS.items():
        d = pred[pred["split"] == key]
        if len(d):
            out.append(threshold_sweep(d["label"].to_numpy(), d["score"].to_numpy(), beta).assign(set=name))
    return pd.concat(out, ignore_index=True)


def plot_threshold_study(pred: pd.DataFrame, op: dict, log_history: list[dict], cfg: Config):
    import matplotlib.pyplot as plt
    from sklearn.metrics import precision_recall_curve

    from definemed.plotting import PAPER
    from definemed.reported import paper_value

    beta, thr = cfg.classifier.fbeta_beta, cfg.classifier.threshold
    sw = sweeps(pred, beta)
    fig, ax = plt.subplots(2, 2, figsize=(13, 9), layout="constrained")
    ax = ax.ravel()
    below = dict(loc="upper center", bbox_to_anchor=(0.5, -0.14), ncol=2, fontsize=8)  # legends off the curves
    styles = {"precision": "-", "recall": "--", "fbeta": ":"}
    colors = dict(zip(SETS.values(), ("C0", "C1")))
    for name, d in sw.groupby("set"):
        for q, ls in styles.items():
            ax[0].plot(d["threshold"], d[q], ls, color=colors[name], label=f"{q if q != 'fbeta' else f'F{beta:g}'} ({name})")
    ax[0].axvline(thr, color="k", lw=0.8)
    ax[0].set(xlabel="threshold on P(medical)", ylabel="value", title="precision, recall, F-beta vs threshold", ylim=(0, 1.02))
    ax[0].legend(**below)
    pp, pr = paper_value("classifier.precision")["value"], paper_value("classifier.recall")["value"]
    for key, name in SETS.items():
        d = pred[pred["split"] == key]
        if not len(d):
            continue
        p, r, _ = precision_recall_curve(d["label"], d["score"])
        ax[1].plot(r, p, color=colors[name], label=name)
        ax[1].plot(op[key]["recall"], op[key]["precision"], "o", color=colors[name], ms=8)
    ax[1].plot(pr, pp, "*", color=PAPER, ms=13, label=f"paper at {thr:g} (R {pr:g}, P {pp:g})")
    ax[1].set(xlabel="recall", ylabel="precision", title=f"precision-recall curve (dots: threshold {thr:g})", ylim=(0, 1.02))
    ax[1].legend(**below)
    for key, name in SETS.items():
        d = pred[pred["split"] == key]
        for lab, ls in ((1, "-"), (0, "--")):
            s = d.loc[d["label"] == lab, "score"]
            if len(s):
                ax[2].hist(s, bins=np.linspace(0, 1, 41), histtype="step", ls=ls, color=colors[name],
                           label=f"{name}, label {lab}", density=True)
    ax[2].axvline(thr, color="k", lw=0.8)
    ax[2].set(xlabel="P(medical)", ylabel="density", yscale="log", title="scores by label")
    ax[2].legend(**below)
    ev = pd.DataFrame([h for h in log_history if "eval_fbeta" in h])
    tr = pd.DataFrame([h for h in log_history if "loss" in h and "eval_loss" not in h])
    if len(ev):
        ax[3].plot(ev["step"], ev["eval_fbeta"], "o-", label=f"validation F{beta:g} at {thr:g}")
        best = ev.loc[ev["eval_fbeta"].idxmax()]
        ax[3].plot(best["step"], best["eval_fbeta"], "*", ms=14, color="C3", label=f"best checkpoint (step {int(best['step'])})")
    if len(tr):
        ax[3].plot(tr["step"], tr["loss"], color="C2", alpha=0.7, label="training loss")
    ax[3].set(xlabel="step", title="early stopping on F-beta")
    ax[3].legend(**below)
    return fig


def results(cfg) -> dict:
    """Headline numbers of stage 02 for the results file (`definemed.report.results`):
    {dotted key: number or text}, read from the stage's output files."""
    from definemed import artifacts, io

    v: dict = {}
    op = io.read_json(artifacts.classifier_operating_point(cfg))
    v["classifier.threshold"] = float(op["threshold"])
    for key in ("test", "expert"):
        if key in op:
            for q in ("precision", "recall", "fbeta"):
                v[f"classifier.{key}.{q}"] = op[key][q]
                v[f"classifier.{key}.{q}_lo"], v[f"classifier.{key}.{q}_hi"] = op[key][f"{q}_lo"], op[key][f"{q}_hi"]
    from definemed.classifier.stage import load_predictions

    sw = sweeps(load_predictions(cfg), cfg.classifier.fbeta_beta)
    band = sw[(sw.threshold >= 0.1) & (sw.threshold <= 0.95)]
    for key, name in (("test", "held-out LLM labels"), ("expert", "expert annotations")):
        d = band[band["set"] == name]
        if len(d):  # how much precision and recall move over thresholds 0.1-0.95
            v[f"classifier.{key}.precision_span"] = float(d.precision.max() - d.precision.min())
            v[f"classifier.{key}.recall_span"] = float(d.recall.max() - d.recall.min())
    return v
