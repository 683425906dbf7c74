# %% [markdown]
# # 03 — Filtering the corpus: FineMed-de
# The paper runs its classifier over the 427.7M documents of FineWeb2-de and keeps those with
# P(medical) >= 0.9: 7.3M documents, 5.1B words. Here: score every corpus shard with the stage-02
# classifier (batches sorted by length, tokenization in a background thread, bf16 on a GPU), keep the
# documents at or above the threshold, and write FineMed-de as parquet shards with the score attached.
# A rerun skips finished shards. The same filter runs as a datatrove pipeline on a cluster
# (`python -m definemed filter --engine datatrove --executor slurm`, see docs/filtering.md).

# %% [parameters]
profile = "tiny"

# %%
import pandas as pd
from IPython.display import Markdown, display

from definemed import artifacts, io, plotting, stages, tables
from definemed.config import load_config
from definemed.filtering import report
from definemed.filtering.filter import read_scores, score_histogram

cfg = load_config(profile)
plotting.setup_style(cfg)
corpus_dir = artifacts.stage_dir(cfg, artifacts.CORPUS)
threshold = cfg.classifier.threshold
if cfg.corpus.source == "synthetic":
    print(f"STAND-IN ({cfg.profile} profile): the synthetic corpus replaces FineWeb2-de and the tiny stage-02 "
          "classifier replaces the fine-tuned xlm-roberta-base; the generator's ground truth shows the filter's "
          "real precision and recall.")

# %% [markdown]
# ## Score and filter every shard (resumable)

# %%
stages.run(cfg, artifacts.FILTER)  # computes the stage, or loads it when it is done
stats = io.read_json(artifacts.filter_stats(cfg))
print(f"kept {stats['n_kept']:,} of {stats['n_docs']:,} documents at P(medical) >= {threshold:g} "
      f"({stats['n_shards'] - stats['n_shards_skipped']} shards scored, {stats['n_shards_skipped']} already done; "
      f"{stats['scored_seconds']:.1f} s of scoring in total)")

# %% [markdown]
# ## FineMed-de against the full corpus, beside the paper

# %%
table = report.comparison_table(stats)
tables.write_table(table, "filter_dataset_comparison", cfg.profile)
display(table)

# %% [markdown]
# ## Score distribution and topic composition before and after filtering

# %%
truth = report.load_truth_if_synthetic(corpus_dir)
if truth is not None:  # synthetic corpus: every score joined with the generator's truth (a small corpus)
    scores = read_scores(artifacts.stage_dir(cfg, artifacts.FILTER)).to_pandas()
    joined = report.join_truth(scores, truth, threshold)
    fig = report.plot_scores_and_composition(scores, threshold, joined)
else:  # real data: the 427.7M scores are counted file by file into a histogram, never loaded at once
    joined = None
    hist = score_histogram(artifacts.stage_dir(cfg, artifacts.FILTER), bins=50)
    fig = report.plot_score_histogram(hist, threshold)
plotting.save_figure(fig, "filter_scores_composition", cfg.profile)

# %% [markdown]
# ## The filter's real precision and recall (generator truth; tiny profile only)

# %%
if joined is not None:
    ev = report.truth_evaluation(io.read_json(artifacts.filter_truth_evaluation(cfg)))
    tables.write_table(ev, "filter_truth_evaluation", cfg.profile)
    display(ev)
    comp = report.composition(joined, "topic")
    tables.write_table(comp, "filter_topic_composition", cfg.profile)
    display(comp.round(3))
else:
    print("no generator truth for this corpus (real data): only the score distribution is shown")

# %% [markdown]
# ## Reading
# The paper kept 1.7 % of FineWeb2-de. The synthetic corpus plants many more medical documents on purpose
# (stage 04 needs enough medical text), so the kept share is not comparable; what the truth evaluation
# shows is what the paper could not measure at scale: which non-medical topics leak into FineMed-de and
# how many medical documents the threshold gives up. Computed from this run:

# %%
if joined is not None:
    dom = report.composition(joined, "domain").set_index("domain")
    leak = comp[comp["domain"] != "medical"].sort_values("kept", ascending=False).iloc[0]
    display(Markdown(
        f"FineMed-de keeps {stats['n_kept']:,} of {stats['n_docs']:,} documents ({stats['n_kept'] / stats['n_docs']:.1%}). "
        + ", ".join(f"{int(r.kept):,} of {int(r.docs):,} {d}" for d, r in dom.iterrows()) + " documents pass. "
        f"The largest non-medical group in it is **{leak.topic}**: {int(leak.kept):,} of its {int(leak.docs):,} documents "
        f"pass ({leak.share_kept:.0%}), {leak.share_of_finemed:.1%} of FineMed-de. The classifier learned from the "
        "stage-01 labels; notebook 01 shows how the annotator labelled each topic."))
