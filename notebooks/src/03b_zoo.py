# %% [markdown]
# # zoo — The foundation models
# The paper adapts three instruct models: Mistral-7B-Instruct-v0.3 and Qwen2.5-7B-Instruct (the small
# ones it continues to pre-train and merge) and Mistral-Small-24B-Instruct-2501 (the larger general
# model the adapted ones are compared with). This step makes them available to stages 04-07 as
# ordinary Hugging Face folders, `data/<profile>/zoo/<name>/`.
#
# - `paper` profile: each model is downloaded from the hub (safetensors only, pinned revision).
# - `tiny` profile: no downloads. Small stand-ins are built here from the stage-00 corpus, shaped like
#   the originals in what the study measures: the same architecture classes (`MistralForCausalLM`,
#   `Qwen2ForCausalLM`), tokenizer families and chat templates; instruction-tuned so they answer in
#   their chat format; a "giant" (3.4x the parameters, more tokens) pretrained on the same web corpus
#   with its medical documents at their natural share, so whatever it knows of the facts it learned from
#   exposure, not by construction; the small ones read no medical text. See docs/zoo.md.
#
# This is the longest step of the tiny pipeline (minutes of CPU per model); a finished zoo is loaded,
# not rebuilt, so every cell below is cheap to rerun once it has run.

# %% [parameters]
profile = "tiny"

# %%
from IPython.display import Markdown, display

from definemed import artifacts, plotting, stages, tables
from definemed.config import load_config
from definemed.zoo import report

cfg = load_config(profile)
plotting.setup_style(cfg)
for m in cfg.models.foundations:
    print(f"{m.name} ({m.role}): " + (f"download {m.hf_id}@{m.revision}" if m.hf_id else
                                     f"built here, {m.architecture} architecture"))

# %% [markdown]
# ## Build (or download) every model
# `stages.run` pretrains each tiny model on general text (the reference also on the medical documents, at
# their natural share of the corpus), instruction-tunes it on German dialogues in its own chat template, saves it as a
# Hugging Face folder with a model card, and measures it on text none of them trained on.

# %%
counts = stages.run(cfg, artifacts.ZOO)["counts"]  # computes the stage, or loads it when it is done
builds = report.builds(cfg)
print(f"{counts['n_models']} models; build {counts['build_s']:.0f} s wall, {counts['cpu_s']:.0f} CPU-s")

# %% [markdown]
# ## Architecture, tokenizer and chat format

# %%
if builds:
    display(report.architecture_table(builds))

# %% [markdown]
# ## What each model knows, measured on held-out data
# Perplexity on held-out general and medical documents; fact accuracy: a held-out sentence of each
# fact, cut before its object, scored by log-likelihood against three distractors (chance 0.25);
# general accuracy: stage 06's general questions scored as cloze (chance 0.25); format rate: held-out chat
# prompts answered in German and ended with the end-of-turn token. "known": chat questions about the known
# bank's held-out entities, which every model read in pretraining but instruction tuning never asked
# about: does the answer name the asked entity, name an object of the asked relation, state the right
# one (extraction)? "evaluated": the same for the evaluated fact bank (which only the reference read).

# %%
if builds:
    table = report.zoo_table(builds)
    tables.write_table(table, "zoo", cfg.profile)
    display(table.drop(columns=["paper"]).round(3))

# %% [markdown]
# ## The gate
# Thresholds fixed before measuring (docs/zoo.md): every model names the asked entity in at least 80 % of
# answers about held-out known entities, answers the asked relation in 90 %, states the gold object in
# 50 %; the reference lies above both small models, with separated 95 % intervals, on the evaluated facts
# and on the general questions. The tiny profile records the gate (`zoo.gate: report`); a missed row is a
# finding of this run, shown here, not hidden.

# %%
gate = report.gate_table(counts)
display(gate)
missed = gate[gate["passed"] == "no"]
print(f"gate: {len(gate) - len(missed)} of {len(gate)} checks passed"
      + (": missed " + "; ".join(f"{r.model}: {r.check} ({r.measured:.2f})" for r in missed.itertuples()) if len(missed) else ""))

# %% [markdown]
# ## Training curves

# %%
if builds:
    fig = report.plot_losses(builds)
    plotting.save_figure(fig, "zoo_losses", cfg.profile)

# %% [markdown]
# ## A few answers to held-out prompts

# %%
if builds:
    display(report.example_answers(builds))

# %% [markdown]
# ## Reading

# %%
if builds:
    small = [b for b in builds if b["role"] == "small"]
    ref = next((b for b in builds if b["role"] == "reference"), None)
    acc = {b["name"]: b["metrics"]["fact_accuracy"]["all"] for b in builds}
    small_acc = ", ".join(f"{acc[b['name']]:.2f}" for b in small)
    lines = [f"The small models score {small_acc} on the evaluated facts "
             f"(chance 0.25): they never read a statement of them, which is what stage 04 is for."]
    for b in builds:
        k = b["metrics"].get("chat", {}).get("known", {})
        if k:
            lines.append(f"{b['name']}, asked about held-out known entities, names the asked entity in {k['copy']:.0%} "
                         f"of its answers and the asked relation in {k['relation']:.0%}, and states the right object in "
                         f"{k['gold']:.0%} [{k['gold_ci95'][0]:.0%}, {k['gold_ci95'][1]:.0%}] "
                         f"after about {b.get('known_exposures_per_fact', float('nan')):.0f} reads of each known fact.")
    if ref is not None:
        fa = ref["metrics"]["fact_accuracy"]
        seen = (f" ({fa['seen']:.2f} on the facts it saw, {fa['unseen']:.2f} on the others)"
                if "seen" in fa and fa.get("unseen") == fa.get("unseen") else "")
        lines.append(f"The reference ({ref['params'] / 1e6:.1f}M parameters) read {ref['facts_seen']} of "
                     f"{ref['n_facts']} evaluated facts, each about {ref.get('fact_exposures_median', float('nan')):.0f} "
                     f"times (median), and scores {fa['all']:.2f}{seen}; its medical perplexity is "
                     f"{ref['metrics']['ppl_medical']:.1f} against "
                     + ", ".join(f"{b['metrics']['ppl_medical']:.1f}" for b in small) + " for the small models.")
    display(Markdown(" ".join(lines)))
