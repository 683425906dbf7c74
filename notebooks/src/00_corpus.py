# %% [markdown]
# # 00 — The web corpus
# The paper filters FineWeb2-de (427.7M German web documents). The `tiny` profile replaces it with a
# seeded synthetic German corpus in FineWeb2's schema: medical documents from 11 subdomains that state
# facts from a bank of invented drugs and diseases, general topics, and health-adjacent borderline
# topics, with a long-tailed length distribution and recorded English-mixing and typo rates.
# The `paper` profile streams FineWeb2 `deu_Latn` from the Hugging Face hub into the same shards.

# %% [parameters]
profile = "tiny"

# %%
import pandas as pd
from IPython.display import Markdown, display

from definemed import artifacts, io, plotting, stages, tables
from definemed.config import load_config
from definemed.corpus.report import plot_corpus, stats_table
from definemed.corpus.stats import load_truth

cfg = load_config(profile)
plotting.setup_style(cfg)
stages.run(cfg, artifacts.CORPUS)  # computes the stage, or loads it when it is done
stats = io.read_json(artifacts.corpus_stats(cfg))
print(f"{stats['n_docs']} documents in {stats['n_shards']} shards ({cfg.corpus.source} source)")

# %% [markdown]
# ## Statistics, beside the paper's FineWeb2-de
# The paper's column gives FineWeb2-de's size; the synthetic corpus is a scale model, so only its
# shape (medical minority, long tail, noise) is meant to match, not its size.

# %%
table = stats_table(stats)
tables.write_table(table, "corpus_stats", cfg.profile)
display(table)

# %% [markdown]
# ## Document lengths by topic and label shares

# %%
if cfg.corpus.source == "synthetic":
    truth = load_truth(artifacts.stage_dir(cfg, artifacts.CORPUS))
    fig = plot_corpus(truth)
    plotting.save_figure(fig, "corpus_lengths_labels", cfg.profile)
    display(truth.groupby("domain")[["n_pretokens", "n_english_sentences", "n_typos"]].describe().T.round(1))

# %% [markdown]
# The medical documents are a minority, lengths are log-normal with a heavy tail past 4,096 tokens,
# and the planted English and typo rates are measured back from the ground truth above; later stages
# (packing, language-mix and typo detection) are checked against these numbers.
