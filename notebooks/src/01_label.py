# %% [markdown]
# # 01 — LLM annotation and agreement with the experts
# The paper's filter starts with Mixtral-8x7B-Instruct-v0.1 labelling 260k FineWeb2-de documents as
# medical or not (F1 91.1 ± 2.5 against human experts). This notebook labels a seeded sample of the
# corpus that contains every expert-annotated document, with the annotator the profile configures
# (`openai`: an OpenAI-compatible server such as vLLM; `transformers`: a local causal LM; `lexicon`:
# the tiny profile's stand-in), and measures agreement with the expert labels.
# The prompt is the versioned file `prompts/label_medical_de.v1.txt`; labels are appended to
# `data/<profile>/01_label/parts/` as they arrive, so an interrupted run resumes where it stopped.

# %% [parameters]
profile = "tiny"

# %%
from IPython.display import Markdown, display

from definemed import artifacts, io, plotting, stages, tables
from definemed.config import load_config
from definemed.corpus.stats import load_truth
from definemed.labeling.agreement import agreement_table
from definemed.labeling.annotate import load_labels
from definemed.labeling.report import plot_probabilities, plot_topic_shares, topic_shares
from definemed.labeling.sample import load_experts
from definemed.labeling.stage import load_agreement

cfg = load_config(profile)
plotting.setup_style(cfg)
stages.run(cfg, artifacts.LABEL)  # computes the stage, or loads it when it is done
summary = io.read_json(artifacts.label_summary(cfg))
if summary["stand_in"]:
    print(f"STAND-IN: these labels came from the {summary['annotator']}, not from "
          f"{cfg.label.model} (an 8x7B model cannot run on this machine). See docs/labeling.md.")
else:
    print(f"Annotator: {summary['annotator']}")
print(f"{summary['n_docs']} documents ({summary['n_expert_docs']} with expert labels): "
      f"{summary['n_medical']} medical, {summary['n_not_medical']} not medical, {summary['n_invalid']} invalid "
      f"({summary['n_unparsed']} unparseable answers, {summary['n_empty']} empty, {summary['n_failed']} without answer); "
      f"{summary['n_not_german']} flagged as not German, {summary['n_truncated']} cut to {cfg.label.max_chars} characters; "
      f"{summary['n_resumed']} taken from an earlier run")

# %% [markdown]
# ## Agreement with the expert annotations
# Precision, recall, F1 (medical class) and Cohen's kappa on the expert-annotated documents, with
# seeded percentile-bootstrap intervals; invalid answers count as "not medical". The second expert's
# labels against the first give the human ceiling the annotator is judged against.

# %%
labels = load_labels(cfg)
experts = load_experts(artifacts.stage_dir(cfg, artifacts.CORPUS))
agr = load_agreement(cfg)
if agr is None:
    print("This corpus has no expert annotations (paper profile: supply data/<p>/00_corpus/expert_annotations.parquet).")
else:
    table = agreement_table(agr, summary["annotator_short"], summary["n_docs"])
    tables.write_table(table, "label_agreement", cfg.profile)
    tables.write_table(agr["confusion"].reset_index(), "label_confusion", cfg.profile)
    display(table)
    display(agr["confusion"])

# %% [markdown]
# ## Labels by topic and the annotator's probabilities
# Topic labels exist only for the synthetic corpus; this figure is the one place stage 01 reads them.
# Health-adjacent topics (veterinary, fitness, wellness, cosmetics, nutrition, health insurance) are
# not medical under the prompt's rubric, and are where a weak annotator errs.

# %%
if cfg.corpus.source == "synthetic":
    shares = topic_shares(labels, load_truth(artifacts.stage_dir(cfg, artifacts.CORPUS)))
    tables.write_table(shares, "label_topic_shares", cfg.profile)
    plotting.save_figure(plot_topic_shares(shares, summary["annotator_short"]), "label_topic_shares", cfg.profile)
    display(shares.groupby("domain", observed=True)[["labelled_medical", "invalid"]].mean().round(3))
fig = plot_probabilities(labels, experts, agr["confusion"] if agr else None, summary["annotator_short"])
plotting.save_figure(fig, "label_probabilities", cfg.profile)

# %%
if agr is not None:
    f1, (lo, hi) = agr["point"]["f1"] * 100, agr["ci"]["f1"]
    display(Markdown(
        f"**Reading.** The annotator reaches F1 {f1:.1f} ({lo * 100:.1f}–{hi * 100:.1f}) against the experts, "
        f"the paper's Mixtral reached 91.1 ± 2.5; the second expert reaches "
        f"{agr['human']['f1'] * 100:.1f} against the first. "
        + ("These labels are the lexicon stand-in's: its errors sit on the health-adjacent topics above, "
           "where medical vocabulary appears without human medicine being the subject."
           if summary["stand_in"] else "")))
