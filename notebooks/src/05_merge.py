# %% [markdown]
# # 05 — Merging each CPT model back into its instruct base (layer-wise SLERP)
# Continual pre-training on medical text teaches the facts but erodes instruction following. The
# paper merges every CPT model with its instruct base by SLERP, with separate layer-wise schedules
# for the self-attention and MLP tensors. Here each small foundation model (`zoo/<name>`, t = 0) is
# merged with its CPT model (`04_cpt/models/<name>`, t = 1) by the project's streaming,
# mergekit-compatible SLERP (`python -m definemed merge`, docs/merging.md), with the schedule of the
# profile's `merge` section. Then base, CPT and merged models are measured: medical and general
# perplexity on held-out synthetic documents, and the instruction-format rate (a chat prompt
# answered with an end-of-turn token within the budget); a sweep over one global t traces the
# trade-off curve.

# %% [parameters]
profile = "tiny"

# %%
from IPython.display import display

from definemed import artifacts, plotting, stages, tables
from definemed.config import load_config
from definemed.merging import report

cfg = load_config(profile)
plotting.setup_style(cfg)
if cfg.profile != "paper":
    print(f"profile '{cfg.profile}': the models are the tiny stand-ins of the zoo step and stage 04 "
          "(not Mistral-7B / Qwen2.5-7B), and the evaluation text is held-out synthetic German text.")
print("schedule:", {"self_attn": cfg.merge.self_attn_t, "mlp": cfg.merge.mlp_t, "other": cfg.merge.default_t},
      "sweep t:", cfg.merge.sweep_t)
if len(cfg.merge.self_attn_t) == 1 and len(cfg.merge.mlp_t) == 1:
    print("one global t for every tensor (not the paper's layer-wise schedule)")
else:
    print("the paper's layer-wise, component-specific schedule; one global t is the sweep beside it")

# %% [markdown]
# ## The merges
# One schedule merge per model, plus one merge per global t of the sweep; then every variant is
# measured. A finished stage is loaded, not merged again.

# %%
stages.run(cfg, artifacts.MERGE)
display(report.load_merges(cfg))

# %% [markdown]
# ## The schedule: per-layer t of attention and MLP tensors
# Read back from each merge's `merge_report.json` (and checked against the configured anchors):
# attention moves from the base (t = 0) in the first layer to the CPT model (t = 1) in the last, the
# MLP the other way round; every other tensor sits at 0.5.

# %%
sched = report.schedule_frame(cfg)
fig = report.plot_schedule(sched)
plotting.save_figure(fig, "merge_schedule", cfg.profile)
tables.write_table(sched, "merge_schedule", cfg.profile)

# %% [markdown]
# ## What merging does: base, CPT and the schedule merge
# Perplexities are per token on stage 04's held-out documents (the same documents and definition as
# 04's before/after table); the format rate is the share of chat prompts
# answered with the end-of-turn token within the token budget. The paper reports no perplexity or
# format numbers for its merges, only that it used this kind of schedule (its column says so).

# %%
metrics = report.load_metrics(cfg)
summary = report.summary_table(metrics)
tables.write_table(summary, "merge_effect", cfg.profile)
display(summary)

# %% [markdown]
# ## The trade-off over a global t
# t = 0 is the base and t = 1 the CPT model (the merge reproduces both exactly, so those points
# must equal the base and CPT rows above); the star marks the schedule merge, drawn at its mean t of 0.5.

# %%
sweep = report.sweep_table(metrics)
tables.write_table(sweep, "merge_tradeoff", cfg.profile)
display(sweep)
fig = report.plot_tradeoff(metrics)
plotting.save_figure(fig, "merge_tradeoff", cfg.profile)

# %%
for name, d in metrics.groupby("model", sort=False):
    row = d.set_index("label")
    base, cpt, slerp = row.loc[name], row.loc[f"{name}-cpt"], row.loc[f"{name}-slerp"]
    print(f"{name}: medical ppl base {base.ppl_medical:.1f} -> CPT {cpt.ppl_medical:.1f} -> SLERP {slerp.ppl_medical:.1f}; "
          f"general ppl {base.ppl_general:.1f} -> {cpt.ppl_general:.1f} -> {slerp.ppl_general:.1f}; "
          f"format rate {base.format_rate:.2f} -> {cpt.format_rate:.2f} -> {slerp.format_rate:.2f}")

# %% [markdown]
# Reading the numbers: CPT should lower the medical perplexity and raise the general one and lose the
# chat format; a useful merge keeps most of the medical gain while recovering general perplexity and
# the format rate. The printed lines above state, for this run, how far each of those held; the sweep
# shows how non-linear the trade-off is in t (docs/tiny-calibration.md found most of the fact gain
# surviving only at t of about 0.75).
