"""The zoo step: build (tiny) or download (paper) every foundation model, measure, count.

`run(cfg)` writes data/<profile>/zoo/<name>/ per foundation model (definemed.artifacts.foundation_model),
with its build record `zoo_build.json` (tiny); `definemed.zoo.report` tabulates and plots them."""
from __future__ import annotations

import os
import resource
import signal
import threading
import time

from definemed import procs
from definemed.config import Config
from definemed.corpus import fact_bank
from definemed.errors import DefinemedError
from definemed.zoo.build import build_family, build_tiny_model, existing_build, model_dir
from definemed.zoo.hub import resolve_hub_model
from definemed.zoo.tokenizer import check_family
from definemed.zoo.text import chat_data, known_bank, known_documents, load_corpus_split

GATE_SMALL = {"copy": 0.8, "relation": 0.9, "gold": 0.5}
"""Every built instruct model, on chat questions about held-out known entities (read in pretraining,
never asked in instruction data): names the asked entity, answers the asked relation, states the
gold object (extraction). Fixed before measuring (issue of the knowledge redesign; docs/zoo.md)."""


def gate(builds: list[dict]) -> list[dict]:
    """The zoo's gate, one row per check: small models and the reference on extraction (GATE_SMALL); the
    reference also above both small models, with separated 95 % intervals, on the evaluated facts
    (held-out cloze) and on the general questions."""
    rows = []
    smalls = [b for b in builds if b["role"] == "small"]
    for b in builds:
        known = b["metrics"]["chat"]["known"]
        for k, thr in GATE_SMALL.items():
            rows.append({"model": b["name"], "check": f"known-entity chat {k} >= {thr}", "value": known.get(k),
                         "ok": bool(known.get(k, 0) >= thr)})
        if b["role"] == "reference":
            for key, label in (("fact_accuracy", "evaluated-fact cloze"), ("general_accuracy", "general questions")):
                lo = b["metrics"][f"{key}_ci95"][0]
                his = [s["metrics"][f"{key}_ci95"][1] for s in smalls]
                val = b["metrics"][key]["all"] if key == "fact_accuracy" else b["metrics"][key]
                rows.append({"model": b["name"], "check": f"{label}: lower 95 % bound above every small model's upper",
                             "value": val, "lo": lo, "small_hi": max(his) if his else None,
                             "ok": bool(his) and all(lo > h for h in his)})
    return rows


def _cost(cfg: Config, spec) -> float:
    z = cfg.zoo
    size = z.reference if spec.role == "reference" else z.small
    steps = z.pretrain_steps_reference if spec.role == "reference" else z.pretrain_steps_small
    return (steps + z.sft_steps) * size.num_layers * size.hidden_size * (size.hidden_size + size.intermediate_size)


def _build_all(cfg, specs, families, split, chat, bank, force) -> list[dict]:
    """Build the models, in `cfg.zoo.workers` processes (largest first); results in config order."""
    workers = min(cfg.zoo.workers, len(specs))
    if workers <= 1:
        return [build_tiny_model(cfg, s, families.get(s.architecture), split, chat, bank, force) for s in specs]
    import multiprocessing as mp
    from concurrent.futures import ProcessPoolExecutor

    order = sorted(range(len(specs)), key=lambda i: -_cost(cfg, specs[i]))
    pool = ProcessPoolExecutor(workers, mp_context=mp.get_context("spawn"), initializer=procs.die_with_parent,
                               initargs=(signal.SIGTERM, os.getpid()))
    try:
        # the workers start with SIGINT ignored (an ignored signal stays ignored across exec): a Ctrl-C
        # to the process group (or a kernel interrupt) reaches only us, and we stop them with SIGTERM
        # below, instead of each printing a KeyboardInterrupt traceback
        main = threading.current_thread() is threading.main_thread()  # signal.signal works only there
        previous = signal.signal(signal.SIGINT, signal.SIG_IGN) if main else None
        try:
            futures = {i: pool.submit(build_tiny_model, cfg, specs[i], families.get(specs[i].architecture), split,
                                      chat, bank, force) for i in order}
        finally:
            if main:
                signal.signal(signal.SIGINT, previous)
        return [futures[i].result() for i in range(len(specs))]
    except BaseException:
        # Ctrl-C, SIGTERM or a failed build: no worker may go on writing model folders after us, and
        # the stage lock (held by our caller) is kept until they are gone
        workers_left = [p.pid for p in (pool._processes or {}).values()]  # noqa: SLF001 (3.14 has terminate_workers)
        pool.shutdown(wait=False, cancel_futures=True)
        procs.stop(workers_left)
        raise
    finally:
        pool.shutdown(wait=True)


def build_zoo(cfg: Config, force: bool = False) -> dict:
    """Make data/<profile>/zoo/<name>/ for every foundation; record counts; return them."""
    if not cfg.models.foundations:
        raise DefinemedError("models.foundations: no foundation models in the config")
    names = [m.name for m in cfg.models.foundations]
    if len(set(names)) != len(names):
        raise DefinemedError(f"models.foundations: duplicate names in {names}")
    t0 = time.time()
    hub = [m for m in cfg.models.foundations if m.hf_id]
    local = [m for m in cfg.models.foundations if not m.hf_id]
    counts: dict = {"n_models": len(names), "models": {}}
    for spec in hub:
        counts["models"][spec.name] = resolve_hub_model(spec, model_dir(cfg, spec.name), cfg.zoo.allow_patterns,
                                                       allow_unpinned=cfg.allow_unpinned)
    if local:
        split = load_corpus_split(cfg)
        bank = fact_bank(cfg)
        chat = chat_data(cfg, bank)
        known = known_bank(cfg, bank)
        known_docs = None
        families = {}
        for spec in local:
            check_family(spec.architecture, f"models.foundations[{spec.name}].architecture")
            # tokenizers and token streams only for the models that are not reused
            if spec.architecture not in families and (force or not existing_build(cfg, spec)):
                known_docs = known_docs or known_documents(cfg, known)
                families[spec.architecture] = build_family(cfg, spec.architecture, split, bank, known, known_docs)
        builds = _build_all(cfg, local, families, split, chat, bank, force)
        for b in builds:
            counts["models"][b["name"]] = {
                k: b[k] for k in ("role", "architecture_family", "params", "seed", "facts_seen", "facts_seen_share",
                                  "fact_statements_seen", "medical_epochs", "fact_exposures_median", "known_epochs",
                                  "known_exposures_per_fact", "train_s", "eval_s", "cpu_s", "reused")
            } | {"pretrain_tokens": b["pretrain"]["tokens"], "pretrain_final_loss": b["pretrain"]["final_loss"],
                 "sft_tokens": b["sft"]["tokens"], "sft_final_loss": b["sft"]["final_loss"], **b["metrics"]}
        counts["tokenizers"] = {b["architecture_family"]: b["tokenizer_stats"] for b in builds}
        counts["n_sft_dialogues"] = len(chat.train)
        counts["n_heldout_prompts"] = {k: len(v) for k, v in chat.heldout.items()}
        counts["known_bank"] = {"entities": len(known.subjects), "facts": len(known.facts),
                                "asked_in_sft": len(chat.entities), "held_out": len(known.subjects) - len(chat.entities)}
        counts["gate"] = gate(builds)
        counts["n_docs"] = {"general_train": len(split.general), "medical_train": len(split.medical),
                            "general_heldout": len(split.general_heldout), "medical_heldout": len(split.medical_heldout)}
    counts["build_s"] = round(time.time() - t0, 2)
    ru = [resource.getrusage(w) for w in (resource.RUSAGE_SELF, resource.RUSAGE_CHILDREN)]
    counts["cpu_s"] = round(sum(r.ru_utime + r.ru_stime for r in ru), 2)
    counts["load_avg_at_end"] = round(os.getloadavg()[0], 2)
    return counts


def run(cfg: Config) -> dict:
    counts = build_zoo(cfg)
    missed = [g for g in counts.get("gate", []) if not g["ok"]]
    if missed and cfg.zoo.gate == "enforce":
        raise DefinemedError("zoo gate missed (zoo.gate: enforce; docs/zoo.md): " + "; ".join(
            f"{g['model']}: {g['check']} (measured {g['value']:.3f})" for g in missed))
    return counts
