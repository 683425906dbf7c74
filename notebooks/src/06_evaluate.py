# %% [markdown]
# # 06 — German medical benchmarks and win-rates against the larger model
# The paper compares each instruct base, its continually pre-trained (CPT) model and its SLERP merge with
# the larger general model (Mistral-Small-24B-Instruct) on MMLU-de (six medical subjects of
# `openGPT-X/mmlux`) and MedQA-de, and by pairwise win-rates judged by an LLM. Its headline: the Qwen2.5-7B
# win-rate against the 24B model rises from 0.09 to 0.31 (about 3.5x) after adaptation, and Mistral-7B
# gains 6.61 % on average from CPT.
#
# Scoring uses EleutherAI lm-evaluation-harness (pinned 0.4.13) through its Python API on the local model
# folders: one log-likelihood per answer option, `acc` = argmax, `acc_norm` = argmax after dividing by the
# option's length in characters, stderr = sample std / sqrt(n). Win-rates: every model answers the same
# open questions through its chat template; a judge compares each answer with the reference model's twice,
# positions swapped; a win needs both orders to agree, disagreement is a tie.

# %% [parameters]
profile = "tiny"

# %%
import pandas as pd
from IPython.display import Markdown, display

from definemed import artifacts, plotting, stages, tables
from definemed.config import load_config
from definemed.evaluation import report
from definemed.evaluation.models import reference, variants
from definemed.report import results
from definemed.report.claims import chain, chain_sentences, claims_table

cfg = load_config(profile)
plotting.setup_style(cfg)
e = cfg.evaluate
if e.source == "factbank":
    print("STAND-IN: the benchmarks are MMLU-style questions per subdomain and MedQA-style case vignettes built "
          "from the synthetic corpus's fact bank (held-out phrasings only), not openGPT-X/mmlux and BioInstructQA.")
if e.judge == "reference":
    print("STAND-IN: the win-rate judge is a rubric (docs/evaluation.md, 'The judge rubric'): in format, about the "
          "asked entity, stating the gold object; blind to which model wrote an answer; not an LLM judge.")
counts = stages.run(cfg, artifacts.EVALUATE)["counts"]  # computes the stage, or loads it when it is done
data = report.load(cfg)
order = report.variant_order(cfg)
ref = reference(variants(cfg)).label
print(", ".join(f"{k} = {v}" for k, v in counts.items() if not isinstance(v, (dict, list))))

# %% [markdown]
# ## The documented MMLU prompt, as lm-eval renders it
# One zero-shot prompt of our MMLU-de task (letters format): lm-eval's MMLU description line (in German,
# as lm-eval words it for German MMLU), the question and the lettered options, then its continuations
# ` A` ... ` D`.

# %%
ll = data["loglik"]
ex = ll[(ll.format == "mc") & (ll.num_fewshot == 0) & (ll.group == "mmlu")].iloc[0]
print(ex.prompt + "  ->  ' A' | ' B' | ' C' | ' D'")
if "cloze" in e.formats:
    ex = ll[(ll.format == "cloze") & (ll.num_fewshot == 0) & (ll.group == "medqa")].iloc[0]
    print("\n(cloze format, MedQA-style vignette)\n" + ex.prompt + "  -> each option as a continuation")

# %% [markdown]
# ## Accuracy per subject and model
# Zero-shot accuracy (`acc`). The paper does not publish per-subject numbers; where it states a comparison
# (Anatomy, Clinical Knowledge: the adapted Qwen model comparable to the 24B model) the statement stands
# beside our row. Chance is 0.25.

# %%
acc = data["accuracy"]
for fmt in e.formats:
    t = report.accuracy_table(acc, order, fmt, 0)
    tables.write_table(t, f"evaluate_accuracy_{fmt}_0shot", cfg.profile)
    display(Markdown(f"**{fmt} format, 0-shot** (`acc`)"))
    display(t.round(3))
if e.heldout_sentences:
    t = report.accuracy_table(acc, order, "sentence", 0)
    tables.write_table(t, "evaluate_accuracy_heldout_0shot", cfg.profile)
    display(Markdown("**held-out fact sentences, 0-shot** (`acc`)"))
    display(t.round(3))

# %% [markdown]
# Few-shot (examples from the dev split, never from the test questions) and the standard errors lm-eval
# reports, for every task:

# %%
shots = [k for k in e.num_fewshot if k > 0]
for k in shots:
    for fmt in [f for f in e.fewshot_formats if f in set(acc.format)]:
        t = report.accuracy_table(acc, order, fmt, k)
        if not t.empty:
            tables.write_table(t, f"evaluate_accuracy_{fmt}_{k}shot", cfg.profile)
            display(Markdown(f"**{fmt} format, {k}-shot** (`acc`)"))
            display(t.round(3))
full = acc[["variant", "task", "num_fewshot", "n", "acc", "acc_stderr", "acc_norm", "acc_norm_stderr"]]
tables.write_table(full, "evaluate_accuracy_all", cfg.profile)
display(full.sort_values(["task", "num_fewshot"]).head(12).round(3))

# %%
fig = report.plot_accuracy(acc, order, 0)
plotting.save_figure(fig, "evaluate_accuracy", cfg.profile)

# %% [markdown]
# ## Per-family gains from CPT and merging
# Gains over the instruct base in percentage points with paired bootstrap 95 % intervals over the same
# questions, and the relative gain in percent (the paper's +6.61 % for Mistral-7B CPT is an average
# relative gain over its benchmarks; whether it is relative or in points is not stated).

# %%
gains = report.family_gains(cfg, ll, 0)
tables.write_table(gains, "evaluate_family_gains", cfg.profile)
display(gains.round(2))

# %% [markdown]
# ## Win-rates against the reference model
# W/N and (W + T/2)/N with bootstrap 95 % intervals over questions; invalid judgments (unparseable judge
# output in either order) are counted and left out of N.

# %%
wt = report.winrate_table(data["winrates"], order)
tables.write_table(wt, "evaluate_winrates", cfg.profile)
display(wt.round(3))
rt = report.ratio_table(data["ratios"])
tables.write_table(rt, "evaluate_winrate_ratios", cfg.profile)
display(rt.round(3))
fig = report.plot_winrates(data["winrates"], order, ref)
plotting.save_figure(fig, "evaluate_winrates", cfg.profile)

# %% [markdown]
# Why pairs tied: the rubric's reason for each tied pair (docs/evaluation.md, "The judge rubric"), per
# candidate model; "orders disagree" appears only under an LLM judge. Below it, a few judged pairs as
# the judge read them (its class of each answer and the reason).

# %%
tt = report.tie_reason_table(data["pair_outcomes"], order)
tables.write_table(tt, "evaluate_tie_reasons", cfg.profile)
display(tt)
jv = data["judgments"]
jv = jv[jv.order == "ab"].merge(data["winrate_questions"][["qid", "question", "reference"]], on="qid")
display(jv.sample(n=min(8, len(jv)), random_state=cfg.seed)[["variant", "question", "reference", "label_a",
                                                              "label_b", "raw"]])

# %% [markdown]
# ## The models: general competence, answer quality, distance from the base
# Per model: accuracy on general (non-medical) questions built from the corpus lexicon in question forms
# no training text uses (chance 0.25), perplexity on stage 04's held-out general text and its ratio to
# the family's base (the reference has another tokenizer: not comparable, left empty), and the quality
# of the free answers to the win-rate questions (docs/evaluation.md, "Answer quality"): distinct answers
# / N, mean words, share of German sentences of >= 3 words, end-of-turn rate, the in-format rate (ended
# *and* a non-degenerate German sentence) with its 95 % interval, copy rate (the answer names the asked
# entity), gold share (it states the right object) and the top-object share (1.0 = one object for every
# question of a relation). Last, the cosine of each CPT / SLERP tensor with the base's, mean per group.

# %%
mt = report.model_table(data, order)
tables.write_table(mt, "evaluate_models", cfg.profile)
display(mt.round(3))
fct = report.format_change_table(data["format_changes"])
tables.write_table(fct, "evaluate_format_changes", cfg.profile)
display(fct.round(3))

# %% [markdown]
# A few answers of the win-rate run (generations, judgments and per-question outcomes are saved as parquet
# in `data/<profile>/06_evaluate/` for stage 07):

# %%
g = data["generations"]
q0 = data["winrate_questions"].iloc[0]
print(f"Q: {q0.question}   (reference answer: {q0.reference})")
display(g[g.qid == q0.qid][["variant", "answer"]])
display(data["judgments"].head(4)[["variant", "qid", "order", "raw", "verdict"]])

# %% [markdown]
# ## Did CPT raise fact accuracy and the win-rate, beyond the intervals?
# Each sentence below is computed from the tables above (the paired bootstrap intervals decide).

# %%
for line in report.cpt_statement(gains, data["ratios"]):
    print("-", line)

# %% [markdown]
# ## The paper's claims, checked (stages 01-06)
# Every cell is computed from the results of the stages that have run (`definemed.report.results`), with
# the rule for "reproduced?" in `definemed.report.claims`; stage 07 completes the failure-mode rows and
# the report opens with this table.

# %%
res = results.collect(cfg)
claims = claims_table(res)
tables.write_table(claims, "claims", cfg.profile)
display(claims)

# %% [markdown]
# ## The paper's chain, link by link
# The mechanism the tiny profile is meant to show: a competent instruct base, CPT that injects facts and
# erodes the answer format, a merge that restores the format and keeps the facts, and an adapted model
# that then wins more often against the reference. Each link below is decided by a fixed rule on the
# numbers above (`definemed.report.claims.chain`): it holds or it does not, with the measured number.

# %%
links = chain(res)
tables.write_table(links, "evaluate_chain", cfg.profile)
for line in chain_sentences(links):
    print("-", line)
