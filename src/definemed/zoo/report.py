"""Tables and figures of the zoo step: only reads the build records the stage wrote
(data/<profile>/zoo/<name>/zoo_build.json for every model built here)."""
from __future__ import annotations

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd

from definemed import artifacts, io
from definemed.config import Config, load_config
from definemed.errors import DefinemedError
from definemed.plotting import model_color
from definemed.zoo.build import BUILD_FILE


def builds(cfg: Config) -> list[dict]:
    """The build records of the models built here (none for downloaded models), in config order."""
    out = []
    for m in cfg.models.foundations:
        f = artifacts.foundation_model(cfg, m.name) / BUILD_FILE
        if f.is_file():
            out.append(io.read_json(f))
    return out


def _stand_in_ids() -> dict[str, str]:
    """name -> hub id of the paper profile's models (what each tiny model stands in for)."""
    try:
        paper = load_config("paper")
    except DefinemedError:
        return {}
    return {m.name: m.hf_id or "" for m in paper.models.foundations}


def zoo_table(builds: list[dict]) -> pd.DataFrame:
    """One row per model: what it stands in for, size, measured perplexities, fact accuracy, format rate."""
    from definemed.tables import comparison

    ids = _stand_in_ids()
    rows = []
    for b in builds:
        m = b["metrics"]
        acc = m["fact_accuracy"]
        rows.append({
            "model": b["name"], "role": b["role"], "stand-in for": ids.get(b["stand_in_for"], b["stand_in_for"]),
            "params (M)": b["params"] / 1e6, "pretrain tokens (k)": b["pretrain"]["tokens"] / 1e3,
            "facts seen": f"{b['facts_seen']}/{b['n_facts']}",
            "ppl general": m["ppl_general"], "ppl medical": m["ppl_medical"],
            "fact acc": acc["all"], "fact acc 95% CI": f"{m['fact_accuracy_ci95'][0]:.2f}-{m['fact_accuracy_ci95'][1]:.2f}",
            "acc seen / unseen": f"{acc['seen']:.2f} / {acc['unseen']:.2f}" if "seen" in acc else "—",
            "general acc (95% CI)": f"{m['general_accuracy']:.2f} [{m['general_accuracy_ci95'][0]:.2f}, "
                                    f"{m['general_accuracy_ci95'][1]:.2f}]" if "general_accuracy" in m else "—",
            "format rate": m["format_rate"],
            "known: names entity": _chat(m, "known", "copy"), "known: asked relation": _chat(m, "known", "relation"),
            "known: gold (extraction)": _chat(m, "known", "gold"),
            "evaluated: names entity": _chat(m, "bank", "copy"),
            "known reads / fact": b.get("known_exposures_per_fact", float("nan")),
            "distinct answers / N": m.get("distinct_share", float("nan")), "paper_key": None,
        })
    return comparison(rows)


def _chat(m: dict, kind: str, key: str) -> float:
    return m.get("chat", {}).get(kind, {}).get(key, float("nan"))


def gate_table(counts: dict) -> pd.DataFrame:
    """The zoo's gate (`zoo.stage.gate`): one row per model and check, measured value, passed or not."""
    rows = [{"model": g["model"], "check": g["check"], "measured": g["value"],
             "lower 95 % / small upper": f"{g['lo']:.2f} / {g['small_hi']:.2f}" if g.get("small_hi") is not None else "",
             "passed": "yes" if g["ok"] else "no"} for g in counts.get("gate", [])]
    return pd.DataFrame(rows)


def architecture_table(builds: list[dict]) -> pd.DataFrame:
    """Architecture, tokenizer and chat format of every model built here."""
    rows = []
    for b in builds:
        a = b["architecture"]
        rows.append({"model": b["name"], "class": a["class"], "hidden": a["hidden_size"], "layers": a["num_hidden_layers"],
                     "heads (q/kv)": f"{a['num_attention_heads']}/{a['num_key_value_heads']}",
                     "MLP": a["intermediate_size"], "vocab": a["vocab_size"], "tokenizer": b["tokenizer"],
                     "chat format": b["chat_format"]})
    return pd.DataFrame(rows)


def example_answers(builds: list[dict], per_kind: int = 1) -> pd.DataFrame:
    """A few held-out chat answers per model (what instruction tuning taught)."""
    rows = []
    for b in builds:
        for kind, answers in b.get("examples", {}).items():
            for a in answers[:per_kind]:
                rows.append({"model": b["name"], "prompt kind": kind, "prompt": a.get("prompt", ""),
                             "answer": a["answer"]})
    return pd.DataFrame(rows)


def _smooth(y: list[float], k: int = 15) -> np.ndarray:
    y = np.asarray(y, float)
    if len(y) < k:
        return y
    return np.convolve(y, np.ones(k) / k, mode="valid")


def plot_losses(builds: list[dict]) -> plt.Figure:
    """Pretraining and instruction-tuning loss per model (moving average over 15 steps)."""
    fig, axes = plt.subplots(1, 2, figsize=(11, 3.6))
    for b in builds:
        for ax, phase in zip(axes, ("pretrain", "sft")):
            y = _smooth(b[phase]["losses"])
            ax.plot(np.arange(len(y)) + 1, y, color=model_color(b["name"]), label=b["name"])
    axes[0].set(title="pretraining (general text and the known bank; the reference also medical, natural share)",
                xlabel="step", ylabel="loss")
    axes[1].set(title="instruction tuning (chat template)", xlabel="step", ylabel="loss")
    axes[1].legend(loc="upper right")
    fig.tight_layout()
    return fig


def results(cfg) -> dict:
    """Headline numbers of stage zoo for the results file (`definemed.report.results`):
    {dotted key: number or text}, read from the stage's output files."""
    v: dict = {}
    for b in builds(cfg):
        m, n = b["metrics"], b["name"]
        v[f"zoo.{n}.params"] = b["params"]
        v[f"zoo.{n}.ppl_general"], v[f"zoo.{n}.ppl_medical"] = m["ppl_general"], m["ppl_medical"]
        v[f"zoo.{n}.fact_acc"], v[f"zoo.{n}.format_rate"] = m["fact_accuracy"]["all"], m["format_rate"]
        v[f"zoo.{n}.distinct_share"] = m["distinct_share"]
        for kind in ("known", "bank"):
            for key in ("copy", "relation", "gold"):
                v[f"zoo.{n}.{kind}_{key}"] = _chat(m, kind, key)
        if "general_accuracy" in m:
            v[f"zoo.{n}.general_acc"] = m["general_accuracy"]
        v[f"zoo.{n}.known_exposures_per_fact"] = b.get("known_exposures_per_fact", float("nan"))
    return v
