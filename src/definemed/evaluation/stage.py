"""Stage 06 driver: questions -> lm-eval scores and answers per model variant -> pairwise judgments.

Writes under data/<profile>/06_evaluate/:
    questions/<task>/{test,dev}.jsonl   task-format question files (tiny: built from the fact bank)
    tasks/<task>.yaml, tasks.json       the lm-eval task YAMLs of this run and their index
    winrate_questions.parquet           qid, question, reference, pool, fact_id, relation
    variants/<label>/...                per-variant results + done.json (resume: a finished variant whose
                                        model folder and settings are unchanged is not recomputed)
    accuracy.parquet                    variant, family, kind, task, base, format, group, num_fewshot, n,
                                        acc, acc_stderr, acc_norm, acc_norm_stderr
    loglik.parquet                      per question: variant, task, num_fewshot, id, fact_id, answer,
                                        loglik (list), pred, acc, acc_norm, prompt
    generations.parquet                 variant, family, kind, qid, question, answer, ended, n_chars, backend
    judgments.parquet                   variant, qid, order (ab|ba), raw, verdict, valid, the rubric's class of
                                        each answer (label_a, label_b, detail_a, detail_b) and rubric_reason,
                                        judge, judge_model, prompt_version
    pair_outcomes.parquet               variant, qid, verdict_ab, verdict_ba, outcome (win|tie|loss|invalid),
                                        label_candidate, label_reference, reason (tie reason, or which class won)
    winrates.parquet                    variant, family, kind, win, tie, loss, invalid, n, win_rate, score + CIs
    ratios.parquet                      family, adapted, key, ratio, CI, diff, CI
    quality.parquet                     per variant: answer quality (evaluation/quality.py) with CIs
    format_changes.parquet              family, change (cpt_vs_base | slerp_vs_cpt | slerp_vs_base), diff, CI
    general.parquet                     per variant: general-question accuracy + CI, general perplexity + ratio
    weights.parquet                     variant, group, cosine (mean), cosine_min, n_tensors (vs the base)
"""
from __future__ import annotations

import gc
import hashlib
import json
import time
from pathlib import Path

import pandas as pd
from definemed.progress import tqdm

from definemed import artifacts, io
from definemed.config import Config
from definemed.evaluation import backends, generation, harness, judge as judges, measures, models, questions, winrate
from definemed.seed import set_seed

def stage_dir(cfg: Config) -> Path:
    return artifacts.evaluation_dir(cfg)


def _write_parquet(df: pd.DataFrame, path: Path) -> Path:
    with io.atomic_path(path, suffix=".parquet") as tmp:
        df.to_parquet(tmp, index=False)
    return path


# ---------------------------------------------------------------- questions and tasks

def _factbank_sets(cfg: Config) -> tuple[list[tuple[questions.QuestionSet, str]], list[dict]]:
    from definemed.corpus import fact_bank

    e = cfg.evaluate
    bank = fact_bank(cfg)
    sets = [(qs, "mmlu") for qs in questions.mmlu_sets(bank, e.mmlu_subjects, cfg.seed, e.n_dev, e.max_test_per_task)]
    sets.append((questions.medqa_set(bank, cfg.seed, e.n_dev, e.max_test_per_task), "medqa"))
    if e.heldout_sentences:  # every test fact, uncapped: the direct probe of what CPT taught (short prompts, cheap)
        sets.append((questions.heldout_sentence_set(bank, cfg.seed, e.n_dev), "facts"))
    if e.general_n_questions:  # general knowledge: is the reference the better general model, what CPT costs
        sets.append((questions.general_set(cfg.seed, e.general_n_questions, e.n_dev), "general"))
    wr = questions.winrate_questions(bank, cfg.seed, e.winrate_n_questions, e.n_dev)
    return sets, wr


def _hub_sets(cfg: Config) -> tuple[list[tuple[questions.QuestionSet, str]], list[dict]]:
    from definemed.evaluation import loaders

    return loaders.hub_question_sets(cfg)


def build_questions(cfg: Config) -> dict:
    """Write the question files, the task YAMLs and the win-rate questions; return the task index."""
    out = stage_dir(cfg)
    sets, wr = _factbank_sets(cfg) if cfg.evaluate.source == "factbank" else _hub_sets(cfg)
    tasks_dir = out / "tasks"
    if tasks_dir.exists():
        for f in tasks_dir.glob("*.yaml"):
            f.unlink()
    index = []
    for qs, group in sets:
        files = questions.write_set(qs, out / "questions")
        fmts = ["sentence"] if group == "facts" else ["cloze"] if group == "general" else list(cfg.evaluate.formats)
        for fmt in fmts:
            subject = qs.task.removeprefix("mmlu_de_") if group == "mmlu" else group
            name = harness.write_task_yaml(tasks_dir, qs.task, fmt, files, group, subject)
            index.append({"task": name, "base": qs.task, "format": fmt, "group": group,
                          "subject": subject,
                          "n_test": len(qs.test), "n_dev": len(qs.dev)})
    io.write_json(out / "tasks.json", index)
    _write_parquet(pd.DataFrame(wr), out / "winrate_questions.parquet")
    return {"tasks": index, "winrate_questions": wr}


# ---------------------------------------------------------------- per-variant scoring and answers

def _fingerprint(v: models.Variant, cfg: Config, tasks_dir: Path, wr: list[dict]) -> str:
    from definemed import stages

    h = hashlib.sha256(stages.work_key(cfg, artifacts.EVALUATE, v.label, str(v.kind)).encode())
    h.update((v.path / "config.json").read_bytes())
    h.update(json.dumps(cfg.evaluate.model_dump(mode="json"), sort_keys=True).encode())
    h.update(str(cfg.seed).encode())
    for f in sorted(tasks_dir.glob("*.yaml")):
        h.update(harness.portable_text(f, tasks_dir.parent).encode())
    for f in sorted((tasks_dir.parent / "questions").glob("*/*.jsonl")):
        h.update(f.read_bytes())
    h.update(json.dumps([q["question"] for q in wr]).encode())
    return h.hexdigest()[:16]


def task_objects(cfg: Config, index: list[dict], tasks_dir: Path) -> dict[int, list]:
    """lm-eval Task objects per shot count, built once per stage run and reused for every model."""
    e = cfg.evaluate
    out = {}
    for k in e.num_fewshot:
        names = [t["task"] for t in index if k == 0 or t["format"] in e.fewshot_formats]
        if names:
            out[k] = harness.load_tasks(tasks_dir, names)
    return out


def score_variant(cfg: Config, v: models.Variant, model, tok, tasks: dict[int, list], tasks_dir: Path, lm=None):
    """lm-eval accuracy (zero- and few-shot) of one loaded model; returns (summary rows, per-question frame)."""
    lm = lm if lm is not None else backends.lm_for(cfg, v, model, tok)
    rows, frames = [], []
    for k, objs in tasks.items():
        res = harness.evaluate_tasks(lm, objs, tasks_dir, k, cfg.seed)
        rows += harness.summary_rows(res, v.label, k)
        frames.append(harness.sample_rows(res, v.label, k))
    return rows, pd.concat(frames, ignore_index=True)


def answer_questions(cfg: Config, v: models.Variant, model, tok, wr: list[dict]) -> pd.DataFrame:
    """Each win-rate question answered by one variant through its chat template; `ended` says whether
    the answer ended its turn within `max_new_tokens` (not cut by the budget)."""
    e = cfg.evaluate
    qs = [q["question"] for q in wr]
    if e.generation_backend == "openai":
        client = generation.OpenAIChat(*backends.endpoint_for(cfg, v), e.api_key_env)
        answers, ended = client.answer_ended(qs, e.max_new_tokens)
    else:
        prompts = generation.chat_prompts(tok, qs)
        answers, ended = generation.generate_with_ends(model, tok, prompts, e.max_new_tokens, e.gen_batch_size,
                                                       desc=f"answers {v.label}")
    return pd.DataFrame({"variant": v.label, "family": v.family, "kind": v.kind, "qid": [q["qid"] for q in wr],
                         "question": qs, "answer": answers, "ended": ended, "n_chars": [len(a) for a in answers],
                         "backend": e.generation_backend})


def general_perplexity(cfg: Config, v: models.Variant, model, lm=None) -> dict:
    """Perplexity on the family's held-out general text (stage 04's token file, the same documents
    and packing as stages 04 and 05 use, `definemed.lm_metrics.perplexity`). Base, CPT and SLERP of a
    family share a tokenizer, so their numbers compare; the reference has another tokenizer and no such
    file (None). None too when the file does not exist (stage 04 not run with this layout). Without a
    local model (vLLM / server backends) the lm-eval backend `lm` scores the same pieces."""
    path = artifacts.cpt_heldout(cfg, v.family, "general")
    if v.kind == "reference" or not path.with_suffix(".tokens").is_file():
        return {"ppl_general": None, "ppl_general_tokens": 0}
    r = backends.general_perplexity_of(cfg, v, model, lm, path)
    return {"ppl_general": r["ppl"], "ppl_general_tokens": r["tokens"]}


def _is_done(cfg: Config, v: models.Variant, wr: list[dict]) -> bool:
    done = stage_dir(cfg) / "variants" / v.label / "done.json"
    return done.is_file() and io.read_json(done).get("fingerprint") == _fingerprint(v, cfg, stage_dir(cfg) / "tasks", wr)


def run_variant(cfg: Config, v: models.Variant, index: list[dict], wr: list[dict], force: bool = False,
                tasks: dict[int, list] | None = None) -> dict:
    """Score and answer with one variant, or reuse its finished results; returns its done.json record."""
    import torch

    out = stage_dir(cfg)
    tasks_dir = out / "tasks"
    vdir = out / "variants" / v.label
    fp = _fingerprint(v, cfg, tasks_dir, wr)
    done = vdir / "done.json"
    if not force and done.is_file() and io.read_json(done).get("fingerprint") == fp:
        return io.read_json(done)
    t0 = time.time()
    from definemed.evaluation import serving

    with serving.served(cfg, v, vdir / "server.log"):  # evaluate.server: managed starts and stops it
        model, tok = backends.load_for(cfg, v)
        set_seed(cfg.seed)
        if tasks is None:
            tasks = task_objects(cfg, index, tasks_dir)
        lm = backends.lm_for(cfg, v, model, tok)
        rows, samples = score_variant(cfg, v, model, tok, tasks, tasks_dir, lm)
        t1 = time.time()
        gens = answer_questions(cfg, v, model, tok, wr)
        ppl = general_perplexity(cfg, v, model, lm)
        t2 = time.time()
        del lm
    _write_parquet(pd.DataFrame(rows), vdir / "accuracy.parquet")
    _write_parquet(samples, vdir / "loglik.parquet")
    _write_parquet(gens, vdir / "generations.parquet")
    del model, tok
    gc.collect()
    torch.set_num_threads(cfg.evaluate.torch_threads)
    rec = {"fingerprint": fp, "variant": v.label, "path": str(v.path), "lm_eval_s": round(t1 - t0, 2),
           "generation_s": round(t2 - t1, 2), "n_loglik_rows": len(samples), "n_answers": len(gens), **ppl}
    io.write_json(done, rec)
    return rec


# ---------------------------------------------------------------- judging and win-rates

def make_judge(cfg: Config):
    e = cfg.evaluate
    if e.judge == "reference":
        return judges.ReferenceJudge(e.min_answer_words)
    client = generation.OpenAIChat(e.judge_endpoint or e.endpoint, e.judge_model, e.api_key_env)
    return judges.LLMJudge(client, e.judge_prompt_version)


def judge_pairs(cfg: Config, gens: pd.DataFrame, wr: list[dict], judge) -> pd.DataFrame:
    """Judge every small variant's answer against the reference model's, in both orders. Beside the
    judge's verdict, every row carries the rubric's reading of both answers (`label_a`, `label_b`,
    `rubric_reason`; judge.assess): for the rubric judge that is its reasoning, for an LLM judge the
    measured classes of the two answers it compared."""
    vs = models.variants(cfg)
    ref = models.reference(vs)
    q = {x["qid"]: x for x in wr}
    g = {v: d.set_index("qid") for v, d in gens.groupby("variant")}
    items, keys = [], []
    for v in vs:
        if v.kind == "reference":
            continue
        for qid in q:
            cand = (g[v.label].at[qid, "answer"], bool(g[v.label].at[qid, "ended"]))
            refa = (g[ref.label].at[qid, "answer"], bool(g[ref.label].at[qid, "ended"]))
            for order in ("ab", "ba"):
                (a, ea), (b, eb) = (cand, refa) if order == "ab" else (refa, cand)
                items.append({"question": q[qid]["question"], "answer_a": a, "answer_b": b, "ended_a": ea,
                              "ended_b": eb, "subject": q[qid]["subject"], "reference": q[qid]["reference"],
                              "pool": list(q[qid]["pool"])})
                keys.append((v.label, qid, order))
    from definemed.evaluation.judge_store import judge_persisted

    e = cfg.evaluate
    llm = judge.name == "llm"
    jm = e.judge_model if llm else judge.model_id
    raw, _ = judge_persisted(judge, items, stage_dir(cfg) / "judgments.jsonl", jm,
                             e.judge_prompt_version if llm else "", e.judge_rounds)
    verdicts = [judges.parse_verdict(r) for r in raw]
    mw = e.min_answer_words
    la = [judges.assess(it["answer_a"], it["ended_a"], it["subject"], it["reference"], it["pool"], mw) for it in items]
    lb = [judges.assess(it["answer_b"], it["ended_b"], it["subject"], it["reference"], it["pool"], mw) for it in items]
    return pd.DataFrame({"variant": [k[0] for k in keys], "qid": [k[1] for k in keys], "order": [k[2] for k in keys],
                         "raw": [r if isinstance(r, str) else "" for r in raw], "request_failed": [r is None for r in raw],
                         "verdict": verdicts, "valid": [x is not None for x in verdicts],
                         "label_a": [x.label for x in la], "label_b": [x.label for x in lb],
                         "detail_a": [x.detail for x in la], "detail_b": [x.detail for x in lb],
                         "rubric_reason": [judges.pair_reason(x.label, y.label) for x, y in zip(la, lb)],
                         "judge": judge.name, "judge_model": jm,
                         "prompt_version": e.judge_prompt_version if llm else ""})


def outcomes_from_judgments(j: pd.DataFrame) -> pd.DataFrame:
    """One row per (variant, question): the two verdicts, the combined outcome and, when the judgments
    carry the rubric's classes, the candidate's and the reference's class and the pair's `reason`:
    for a tie with two tie verdicts the rubric's tie reason ("both wrong", ...), for a tie from two
    disagreeing orders "orders disagree", for a win or loss which class beat which."""
    p = j.pivot_table(index=["variant", "qid"], columns="order", values="verdict", aggfunc="first", dropna=False)
    p = p.reindex(columns=["ab", "ba"]).reset_index()
    p = p.astype(object).where(p.notna(), None)
    p["outcome"] = [winrate.pair_outcome(a, b) for a, b in zip(p["ab"], p["ba"])]
    p = p.rename(columns={"ab": "verdict_ab", "ba": "verdict_ba"})
    if {"label_a", "label_b"} <= set(j.columns):  # in order "ab" the candidate is A, the reference B
        lab = j[j.order == "ab"].set_index(["variant", "qid"])[["label_a", "label_b"]]
        lab = lab.rename(columns={"label_a": "label_candidate", "label_b": "label_reference"})
        p = p.merge(lab.reset_index(), on=["variant", "qid"], how="left")
        p["reason"] = [_pair_reason(o, va, vb, c, r) for o, va, vb, c, r in
                       zip(p.outcome, p.verdict_ab, p.verdict_ba, p.label_candidate, p.label_reference)]
    return p


def _pair_reason(outcome: str, va, vb, cand: str | None, ref: str | None) -> str:
    if outcome == "invalid" or cand is None or ref is None or pd.isna(cand) or pd.isna(ref):
        return "invalid judgment" if outcome == "invalid" else "no rubric classes"
    if outcome == "tie" and not (va == vb == "tie"):
        return "orders disagree"
    rubric = judges.pair_reason(cand, ref)
    if outcome == "tie" and judges.RANK[cand] != judges.RANK[ref]:
        return f"judge tie; rubric {rubric}"  # only an LLM judge can tie what the rubric separates
    if outcome in ("win", "loss") and judges.RANK[cand] == judges.RANK[ref]:
        return f"judge {outcome}; rubric {rubric}"
    return rubric


def winrate_tables(cfg: Config, outcomes: pd.DataFrame) -> tuple[pd.DataFrame, pd.DataFrame]:
    e = cfg.evaluate
    vs = models.variants(cfg)
    rows, ratios = [], []
    per = {v.label: outcomes[outcomes.variant == v.label].sort_values("qid")["outcome"].tolist()
           for v in vs if v.kind != "reference"}
    for v in vs:
        if v.kind == "reference":
            continue
        s = winrate.summarize(per[v.label], e.n_bootstrap, cfg.seed, v.label, e.ci_level)
        rows.append({"variant": v.label, "family": v.family, "kind": v.kind, **s})
    for fam in dict.fromkeys(v.family for v in vs if v.kind != "reference"):
        for adapted in ("cpt", "slerp"):
            for key in ("win_rate", "score"):
                r = winrate.paired_ratio(per[f"{fam}-{adapted}"], per[fam], e.n_bootstrap, cfg.seed,
                                         f"{fam}-{adapted}", key, e.ci_level)
                ratios.append({"family": fam, "adapted": adapted, "key": key, **r})
    return pd.DataFrame(rows), pd.DataFrame(ratios)


# ---------------------------------------------------------------- the stage

def run_evaluation(cfg: Config, force: bool = False) -> dict:
    """Run (or resume) stage 06 for a profile; returns counts for the manifest."""
    import torch

    torch.set_num_threads(cfg.evaluate.torch_threads)
    set_seed(cfg.seed)
    out = stage_dir(cfg)
    t0 = time.time()
    built = build_questions(cfg)
    index, wr = built["tasks"], built["winrate_questions"]
    vs = models.variants(cfg)
    models.check_folders(vs)
    if torch.cuda.is_available():  # refuse a variant that cannot fit before hours of work (plan-evaluate)
        from definemed.evaluation import plan

        plan.check(plan.plan_all(cfg))
    tasks: dict[int, list] | None = None
    recs = []
    for v in tqdm(vs, desc="model variants", unit="model"):
        if tasks is None and (force or not _is_done(cfg, v, wr)):
            tasks = task_objects(cfg, index, out / "tasks")
        recs.append(run_variant(cfg, v, index, wr, force, tasks))
    meta = pd.DataFrame([{"variant": v.label, "family": v.family, "kind": v.kind} for v in vs])
    fmt = pd.DataFrame(index)[["task", "base", "format", "group", "subject"]]
    acc = pd.concat([pd.read_parquet(out / "variants" / v.label / "accuracy.parquet") for v in vs], ignore_index=True)
    acc = acc.merge(meta, on="variant").merge(fmt, on="task")
    _write_parquet(acc, out / "accuracy.parquet")
    ll = pd.concat([pd.read_parquet(out / "variants" / v.label / "loglik.parquet") for v in vs], ignore_index=True)
    ll = ll.merge(meta, on="variant").merge(fmt, on="task")
    _write_parquet(ll, out / "loglik.parquet")
    gens = pd.concat([pd.read_parquet(out / "variants" / v.label / "generations.parquet") for v in vs], ignore_index=True)
    _write_parquet(gens, artifacts.generations(cfg))
    j = judge_pairs(cfg, gens, wr, make_judge(cfg))
    _write_parquet(j, out / "judgments.parquet")
    oc = outcomes_from_judgments(j)
    _write_parquet(oc, out / "pair_outcomes.parquet")
    wrt, ratios = winrate_tables(cfg, oc)
    _write_parquet(wrt, out / "winrates.parquet")
    _write_parquet(ratios, out / "ratios.parquet")
    _write_parquet(measures.answer_quality(cfg, gens, wr), out / "quality.parquet")
    _write_parquet(measures.format_changes(cfg, gens, wr), out / "format_changes.parquet")
    _write_parquet(measures.general_scores(cfg, ll, {r["variant"]: r for r in recs}), out / "general.parquet")
    _write_parquet(measures.weight_cosines(cfg), out / "weights.parquet")
    counts = {"n_variants": len(vs), "n_tasks": len(index), "n_test_questions": int(sum(t["n_test"] for t in index)),
              "n_winrate_questions": len(wr), "n_judgments": len(j), "n_invalid_judgments": int((~j.valid).sum()),
              "n_failed_judge_requests": int(j.request_failed.sum()),
              "n_invalid_pairs": int((oc.outcome == "invalid").sum()),
              "lm_eval_s": round(sum(r["lm_eval_s"] for r in recs), 1),
              "generation_s": round(sum(r["generation_s"] for r in recs), 1), "wall_s": round(time.time() - t0, 1)}
    io.write_json(out / "stats.json", counts)
    return counts


def run(cfg: Config) -> dict:
    """Stage 06 (see the module docstring)."""
    return run_evaluation(cfg)
