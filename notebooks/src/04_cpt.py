# %% [markdown]
# # 04 — Continual pre-training on FineMed-de
# The paper continues the pre-training of Mistral-7B-Instruct-v0.3 and Qwen2.5-7B-Instruct on
# FineMed-de with micro batch 1 on A100s, sharded with FSDP / HSDP, and packs documents into
# constant-length sequences by bin packing. This notebook does the same with the project's code
# (`definemed.packing`, `definemed.training`): it tokenizes FineMed-de with each model's tokenizer,
# plans best-fit-decreasing packing, trains each small foundation model with PyTorch FSDP2 under
# `torchrun` (2 processes, gloo on CPU in the tiny profile), and measures held-out perplexity on
# medical and general text before and after.

# %% [parameters]
profile = "tiny"

# %%
import pandas as pd
from IPython.display import Markdown, display

from definemed import artifacts, plotting, stages, tables
from definemed.config import load_config
from definemed.training import plan as cpt_plan
from definemed.training import report, scaling, stage

cfg = load_config(profile)
plotting.setup_style(cfg)
names = stage.small_models(cfg)
if cfg.profile != "paper":
    print("stand-in: tiny foundation models from the zoo stage instead of the 7B models; synthetic FineMed-de; "
          f"FSDP2 over {cfg.cpt.nproc_per_node} CPU processes with gloo instead of NCCL on A100s; "
          f"seq_len {cfg.cpt.seq_len} instead of 4,096; micro batch {cfg.cpt.micro_batch_size} "
          "(the paper: 1; on CPU the per-micro-batch all-gathers would dominate); "
          f"lr {cfg.cpt.lr:g} instead of 2e-5 so that tiny models learn within minutes.")
print("models adapted:", ", ".join(names))

# %% [markdown]
# ## The stage: data, packing, training, held-out perplexity
# `stages.run` tokenizes FineMed-de per model (held-out medical documents from FineMed-de and held-out
# general documents from the rest of the corpus are set aside first), plans the packing, trains each
# model in its own `torchrun` job (`definemed.training.worker`) and measures held-out perplexity
# before and after. Checkpoints (model, optimizer, scheduler, RNG, data cursor) go to
# `04_cpt/runs/<name>/checkpoints/`, so an interrupted run resumes where it stopped; a finished stage
# is loaded, not retrained.

# %%
stages.run(cfg, artifacts.CPT)
runs = report.runs_table(cfg)
display(runs)

# %% [markdown]
# ## Packing: best-fit decreasing vs padding vs concatenate-and-chunk
# Efficiency = real tokens / (sequences x seq_len). Padding each document wastes most of every
# sequence; concatenate-and-chunk wastes nothing but cuts documents and lets a sequence mix them.
# Best-fit decreasing keeps documents whole (longer ones are split into pieces) and nearly fills
# every sequence; position ids restart per piece so attention never crosses a document.

# %%
packing = tables.comparison(report.packing_table(cfg).to_dict("records"))  # the paper reports no packing efficiency
tables.write_table(packing, "cpt_packing", cfg.profile, floatfmt=".4f")
display(packing)

# %% [markdown]
# ## Training loss

# %%
fig = report.plot_loss_curves(cfg, names)
plotting.save_figure(fig, "cpt_loss_curves", cfg.profile)

# %% [markdown]
# ## How often each fact was seen (synthetic corpus only)
# The calibration runs (docs/tiny-calibration.md) saw held-out fact accuracy stay at chance below
# about 160 exposures per fact and jump by 240; whether this run's models learned the facts is
# measured in notebook 06 (held-out fact sentences).

# %%
exposures = report.exposures_table(cfg)
if exposures is None:
    print("not a synthetic corpus: fact exposures are not known")
else:
    display(exposures)
    display(Markdown("Median exposures per fact in this run: " + ", ".join(
        f"{name} {r.median_exposures:.0f} ({r.share_facts_over_200:.0%} of facts seen at least 200 times)"
        for name, r in exposures.iterrows()) + "."))

# %% [markdown]
# ## Plan against the run, and the paper-scale plan
# `python -m definemed plan-cpt` computes the memory per GPU, tokens, steps and GPU-hours of a
# configuration and refuses one that does not fit. Here its numbers stand beside the finished run
# of this profile; then the cluster tables of the paper profile (7B models on A100-40, from the
# architectures' published configs): memory per GPU, GPU-hours at the assumed MFU, and a model of
# FSDP / HSDP throughput on 1-16 nodes beside the paper's "near-linear scaling" claim.

# %%
display(pd.DataFrame([r for n in names for r in cpt_plan.plan_vs_run(cfg, n)]))
cluster_cfg = scaling.cluster_config(cfg)
cluster_names = stage.small_models(cluster_cfg)
memory = cpt_plan.plan_table([cpt_plan.plan_for(cluster_cfg, n) for n in cluster_names])
tables.write_table(memory, "cpt_memory_plan", cfg.profile, floatfmt=".2f")
gpu_hours = scaling.gpu_hour_table(cluster_cfg, cluster_names)
tables.write_table(gpu_hours, "cpt_gpu_hours", cfg.profile, floatfmt=".2f")
curve = pd.concat([scaling.scaling_table(cluster_cfg, n) for n in cluster_names], ignore_index=True)
curve_table = tables.comparison(curve.assign(paper_key="cpt.scaling").to_dict("records"))
tables.write_table(curve_table, "cpt_scaling", cfg.profile)
plotting.save_figure(scaling.plot_scaling(curve), "cpt_scaling", cfg.profile)
print(f"cluster tables for profile '{cluster_cfg.profile}' ({cluster_cfg.cpt.cluster.gpu}); assumptions:",
      *scaling.ASSUMPTIONS, sep="\n- ")
display(memory.T)
display(gpu_hours)
display(curve_table[["model", "mode", "nodes", "mesh", "tokens_per_s", "efficiency", "gpu_hours", "days", "paper"]])

# %% [markdown]
# HSDP (shard inside a node, replicate across nodes) keeps the per-micro-batch all-gathers and
# reduce-scatters on NVLink and crosses InfiniBand once per step: the model gives it the paper's
# near-linear scaling. FSDP over all GPUs sends every micro batch's traffic over InfiniBand and
# is communication-bound from two nodes on. The memory plan is the catch: on A100-40 HSDP 2 x 4
# does not fit Qwen2.5-7B (`plan-cpt` says so and names the fix), so the paper profile shards it over
# all 8 GPUs and trains Mistral-7B, which fits, on HSDP 2 x 4 (`cpt.per_model`); the GPU-hours
# table gives each configured mesh's modelled MFU, days and number of 48-h Slurm jobs. On A100-64
# or with 8 GPUs per node HSDP fits both.

# %% [markdown]
# ## Held-out perplexity before and after CPT

# %%
ppl = tables.comparison(report.perplexity_table(cfg).to_dict("records"))
tables.write_table(ppl, "cpt_perplexity", cfg.profile)
display(ppl)

# %% [markdown]
# Medical perplexity should drop clearly after CPT (the model adapts to the domain and its facts).
# General perplexity would show forgetting if it rose; in the tiny profile it can also fall, because
# the small bases read little general text and CPT replays general documents (the reading below says
# which happened). The tiny profile mixes general documents back in (`cpt.replay_share`, 20 % of the training
# characters) and uses lr 1e-3: pure FineMed-de at lr 3e-3 raised general perplexity 70-160x and
# moved the tiny models far from their base in weight space, so that the merge interpolated between
# two models that no longer shared a basin. Real CPT at lr 2e-5 stays close to its base (stage 06
# reports the base-vs-CPT weight cosine per tensor group). The paper profile keeps replay at 0.

# %%
display(Markdown("Measured here: " + "; ".join(
    f"{r['model']} {r['held-out text']} perplexity {r['perplexity before CPT']:,.1f} → {r['perplexity after CPT']:,.2f} "
    f"({r['change (x)']:.3g}x)" for _, r in report.perplexity_table(cfg).iterrows()) + ". " + " ".join(
    f"{m}: general perplexity {'rose (forgetting)' if g['change (x)'].iloc[0] > 1 else 'fell (the replayed general documents outweigh forgetting)'}."
    for m, g in report.perplexity_table(cfg).query("`held-out text` == 'general'").groupby("model"))))
