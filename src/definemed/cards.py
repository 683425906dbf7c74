"""Hugging Face cards: the model card of every model this project exports (zoo models, CPT models,
merges) and the dataset card of the corpus, from one place.

    zoo_card(spec, info)                    # data/<p>/zoo/<name>/README.md (tiny: built here)
    cpt_card(cfg, name, spec, info, metrics) # data/<p>/04_cpt/models/<name>/README.md
    merge_card(plan, name, config_yaml, out_dir)  # data/<p>/05_merge/models/<name>/README.md
    dataset_card(cfg, stats)                # data/<p>/00_corpus/README.md
    update_model_cards(cfg, res)            # after stage 06 (`definemed report`): the model-index

A card is Markdown with YAML front matter that `huggingface_hub.ModelCard.load` parses; the front
matter is written by huggingface_hub's own `ModelCardData` / `DatasetCardData` (the model-index from
`EvalResult`s), so it follows the Hub's schema: `language: de`, `license` (the repository's, MIT),
`library_name`, `tags`, `datasets`, `base_model` (a Hub ID for a downloaded model, else the path of
the base model's folder relative to the card's folder) and `base_model_relation`.

The evaluation results (stage 06) come after the models are exported, so `update_model_cards`
rewrites each exported card's model-index from the results file when the report is built. A card is
documentation, not an output another stage reads: the stages declare README.md scratch
(`definemed.artifacts`), so rewriting it never makes a done stage run again.
"""
from __future__ import annotations

import os
from pathlib import Path

from definemed import artifacts, io

LICENSE = "mit"
"""The repository's licence (LICENSE, pyproject.toml); the paper's models carry their own upstream licences."""
LANGUAGE = "de"
CARD = "README.md"


def _rel(target: Path, card_dir: Path) -> str:
    return os.path.relpath(Path(target).resolve(), Path(card_dir).resolve())


def _front_matter(data) -> str:
    return f"---\n{data.to_yaml()}\n---\n"


def _model_data(name: str, *, base_model=None, relation: str | None = None, datasets=None, tags=(), eval_results=None):
    from huggingface_hub import ModelCardData

    return ModelCardData(
        model_name=name, language=LANGUAGE, license=LICENSE, library_name="transformers",
        pipeline_tag="text-generation", tags=["definemed", "medical", "german", *tags], datasets=datasets or None,
        base_model=base_model, base_model_relation=relation, eval_results=eval_results or None,
    )


def corpus_dataset(cfg, card_dir: Path) -> list[str]:
    """The `datasets` entry of a model trained on the profile's corpus: the Hub dataset for a real
    corpus, else the corpus folder (whose README.md is its dataset card) relative to `card_dir`."""
    c = cfg.corpus
    if c.source == "hub":
        return [c.hf_dataset]
    return [_rel(artifacts.stage_dir(cfg, artifacts.CORPUS), card_dir)]


def _dataset_for_results(cfg) -> str:
    return cfg.corpus.hf_dataset if cfg.corpus.source == "hub" else f"definemed-{cfg.corpus.source}-{cfg.profile}"


# ---- zoo --------------------------------------------------------------------------------------
def zoo_card(spec, info: dict, card_dir: Path | None = None, cfg=None) -> str:
    """The card of a tiny foundation model built by the zoo (`definemed.zoo.build`): built from
    scratch, so no base model; its own held-out measurements as a first model-index."""
    m, a = info["metrics"], info["architecture"]
    data = ("general and borderline (health-adjacent, non-medical) documents and the known bank's encyclopedia "
            "entries: no statement of the evaluated fact bank"
            if spec.role == "small" else
            f"general and borderline documents plus the medical documents of {', '.join(info['medical_topics'])} "
            f"({info['reference_mix']:.0%} of batches); it saw {info['facts_seen']} of {info['n_facts']} fact-bank facts")
    acc = m["fact_accuracy"]
    acc_s = f"{acc['all']:.3f}" + (f" (seen facts {acc['seen']:.3f}, unseen {acc['unseen']:.3f})" if "seen" in acc else "")
    datasets = corpus_dataset(cfg, card_dir) if cfg is not None and card_dir is not None else None
    evals = _zoo_evals(spec.name, m, _dataset_for_results(cfg) if cfg is not None else "definemed-synthetic")
    meta = _model_data(spec.name, datasets=datasets, tags=["tiny-stand-in", f"stand-in-for:{info['stand_in_for']}"],
                       eval_results=evals)
    body = f"""# {spec.name}

A tiny, locally built stand-in for `{info['stand_in_for']}` in the DeFineMed reproduction (tiny profile).
Not a real language model: trained in a few CPU-minutes on the synthetic German corpus of stage 00.

| | |
|---|---|
| architecture | {a['model_type']} (`{a['class']}`), {a['num_hidden_layers']} layers, hidden {a['hidden_size']}, {a['num_attention_heads']} heads / {a['num_key_value_heads']} KV heads, SwiGLU {a['intermediate_size']}, tied embeddings: {a['tie_word_embeddings']} |
| parameters | {info['params']:,} |
| tokenizer | {info['tokenizer']}, vocabulary {a['vocab_size']} |
| chat template | {info['chat_format']} |
| seed | {info['seed']} |
| pretraining | {info['pretrain']['steps']} steps, {info['pretrain']['tokens']:,} tokens, final loss {info['pretrain']['final_loss']:.3f}, lr {info['pretrain']['lr']} |
| pretraining data | {data} |
| instruction tuning | {info['sft']['steps']} steps, {info['sft']['tokens']:,} tokens ({info['sft']['loss_tokens']:,} with loss, assistant turns only), final loss {info['sft']['final_loss']:.3f}, lr {info['sft']['lr']} |
| instruction data | synthetic German dialogues: general-topic questions; fact-bank question forms about invented entities (the object left out of the loss) and about known-bank entities (their true facts); none about the evaluated fact bank |

## Measured (held-out data)
- perplexity: general {m['ppl_general']:.2f}, medical {m['ppl_medical']:.2f}
- fact-bank cloze accuracy (held-out sentence, 4 options, chance 0.25): {acc_s}
- chat format rate (ends with the end-of-turn token within {info['max_new_tokens']} tokens, German): {m['format_rate']:.3f}

Build key `{info['build_key']}`; details in `zoo_build.json`.
"""
    return _front_matter(meta) + "\n" + body


def _eval(task: str, dataset: str, split: str, metric: str, value: float, name: str | None = None):
    from huggingface_hub import EvalResult

    return EvalResult(task_type=task, dataset_type=dataset, dataset_name=name or dataset, dataset_split=split,
                      metric_type=metric, metric_value=round(float(value), 4), metric_name=name)


def _zoo_evals(model: str, m: dict, dataset: str) -> list:
    return [_eval("text-generation", dataset, "heldout_general", "perplexity", m["ppl_general"], "held-out general perplexity"),
            _eval("text-generation", dataset, "heldout_medical", "perplexity", m["ppl_medical"], "held-out medical perplexity"),
            _eval("multiple-choice", dataset, "factbank_cloze", "accuracy", m["fact_accuracy"]["all"], "fact-bank cloze accuracy"),
            _eval("text-generation", dataset, "chat_heldout", "format_rate", m["format_rate"], "chat format rate")]


# ---- 04_cpt -----------------------------------------------------------------------------------
def cpt_card(cfg, name: str, spec, info: dict, metrics: list[dict], card_dir: Path | None = None) -> str:
    """The card of a continually pre-trained model (`definemed.training.run_record.publish`)."""
    from definemed.io import read_json

    card_dir = Path(card_dir) if card_dir is not None else artifacts.cpt_model(cfg, name)
    base = next((m for m in cfg.models.foundations if m.name == name), None)
    base_model = base.hf_id if base and base.hf_id else _rel(artifacts.foundation_model(cfg, name), card_dir)
    tokens = int(sum(m["label_tokens"] for m in metrics))
    mesh = (f"{spec.nnodes or 1} node(s) x {spec.nproc_per_node or '?'} processes, "
            f"HSDP {spec.dp_replicate} replica(s)" if spec.dp_replicate > 1 else "FSDP2")
    meta = _model_data(f"{name}-cpt", base_model=base_model, relation="finetune",
                       datasets=corpus_dataset(cfg, card_dir), tags=["continual-pretraining"])
    body = "\n".join([
        f"# {name}-cpt", "",
        f"Continual pre-training of `{base_model}` on FineMed-de (profile `{cfg.profile}`), stage 04 of the",
        "DeFineMed reproduction. Not instruction-tuned after CPT: stage 05 merges it back with its base.", "",
        "| | |", "|---|---|",
        f"| base model | `{base_model}` |",
        f"| data | FineMed-de: {info['train']['n_docs']:,} documents, {info['train']['n_tokens']:,} tokens "
        f"(packing efficiency {info['plan']['efficiency']:.4f}, {info['plan']['num_bins']:,} sequences) |",
        f"| steps | {len(metrics):,} optimizer steps of {spec.global_batch} x {spec.seq_len} tokens |",
        f"| tokens trained | {tokens:,} label tokens |",
        f"| learning rate | {spec.lr:g} peak, {spec.warmup_steps} warm-up steps, cosine to {spec.min_lr_ratio:g}x |",
        f"| final training loss | {metrics[-1]['loss']:.4f} |",
        f"| parallelism | {mesh}, micro batch {spec.micro_batch_size} |",
        f"| inputs fingerprint | `{read_json(Path(spec.data).parent / 'prepared.json')['fingerprint']}` |",
        "",
    ])
    return _front_matter(meta) + "\n" + body


# ---- 05_merge ---------------------------------------------------------------------------------
def merge_card(plan, name: str, config_yaml: str, out_dir: Path | None = None) -> str:
    """The card of a SLERP merge (`definemed.merging.driver`): both parents as base models, relative
    to the merge's folder when it is known (else as the merge configuration names them)."""
    spec = plan.spec
    parents = [str(spec.base_model), str(spec.other_model)]
    if out_dir is not None:
        parents = [_rel(p, out_dir) if Path(p).exists() else p for p in parents]
    meta = _model_data(name, base_model=parents, relation="merge", tags=["merge", "slerp"])
    lines = [
        f"# {name}", "",
        "A SLERP merge made with `python -m definemed merge` (a streaming, mergekit-compatible SLERP).", "",
        f"- base model (t = 0): `{parents[0]}`", f"- other model (t = 1): `{parents[1]}`",
        f"- layers: {len(plan.layer_map)}, tensors: {len(plan.jobs)}", "",
        "## Per-layer t", "", "| layer | self_attn | mlp | other |", "|---|---|---|---|",
    ]
    for r in _schedule_rows(plan):
        fmt = lambda v: ", ".join(f"{x:.3f}" for x in v) if v else "—"  # noqa: E731
        lines.append(f"| {r['layer']} | {fmt(r.get('self_attn'))} | {fmt(r.get('mlp'))} | {fmt(r.get('other'))} |")
    rest = sorted({(j.out, j.t) for j in plan.jobs if j.kind != "layer" and j.t is not None})
    lines += ["", "Outside the layers: " + ", ".join(f"`{n}` t = {t:g}" for n, t in rest), "",
              "## Configuration", "", "```yaml", config_yaml.rstrip(), "```", ""]
    return _front_matter(meta) + "\n" + "\n".join(lines)


def _schedule_rows(plan) -> list[dict]:
    rows: dict[int, dict] = {}
    for j in plan.jobs:
        if j.kind != "layer" or j.t is None:
            continue
        comp = "self_attn" if "self_attn" in j.out else "mlp" if "mlp" in j.out else "other"
        rows.setdefault(j.layer, {}).setdefault(comp, set()).add(j.t)
    return [{"layer": k, **{c: sorted(v) for c, v in d.items()}} for k, d in sorted(rows.items())]


# ---- stage 06's results into every exported card -----------------------------------------------
def exported_models(cfg) -> dict[str, Path]:
    """{evaluation label: model folder} of every exported model with a card: zoo models built here
    (not downloaded snapshots, whose cards are their authors'), CPT models and merges."""
    out: dict[str, Path] = {}
    for m in cfg.models.foundations:
        d = artifacts.foundation_model(cfg, m.name)
        if not m.hf_id and (d / CARD).is_file():
            out[m.name] = d
    for m in cfg.models.foundations:
        for label, d in ((f"{m.name}-cpt", artifacts.cpt_model(cfg, m.name)),
                         (f"{m.name}-slerp", artifacts.merged_model(cfg, m.name))):
            if (d / CARD).is_file():
                out[label] = d
    return out


def stage06_evals(values: dict, label: str, dataset: str) -> list:
    """EvalResults of one model from the results file's stage-06 keys (definemed.report.results)."""
    evals = []
    fam, _, variant = label.rpartition("-") if label.endswith(("-cpt", "-slerp")) else (label, "", "base")
    for k in sorted(values):
        prefix = f"evaluate.{fam}."
        if k.startswith(prefix) and k.endswith(f".{variant}") and isinstance(values[k], (int, float)):
            bench = k[len(prefix):-len(variant) - 1]
            evals.append(_eval("multiple-choice", dataset, bench, "accuracy", values[k], f"{bench} accuracy"))
    for key, task, split, metric, what in (
            (f"evaluate.general.{label}.acc", "multiple-choice", "general_questions", "accuracy", "general-question accuracy"),
            (f"evaluate.quality.{label}.in_format_rate", "text-generation", "winrate_questions", "in_format_rate",
             "answers in format"),
            (f"evaluate.winrate.{label}.w_n", "text-generation", "winrate_questions", "win_rate",
             "win-rate W/N against the reference model")):
        if isinstance(values.get(key), (int, float)):
            evals.append(_eval(task, dataset, split, metric, values[key], what))
    return evals


def with_model_index(card: str, evals: list, name: str, datasets: list[str] | None = None) -> str:
    """`card` with its model-index replaced by `evals` (and `datasets` set where it has none); the rest
    of the card unchanged."""
    from huggingface_hub import ModelCard

    parsed = ModelCard(card, ignore_metadata_errors=False)
    parsed.data.eval_results = evals or None
    parsed.data.model_name = name
    if datasets and not parsed.data.datasets:
        parsed.data.datasets = datasets
    return _front_matter(parsed.data) + "\n" + parsed.text.lstrip("\n")


def update_model_cards(cfg, res: dict) -> list[Path]:
    """Rewrite the model-index of every exported card from stage 06's results; return the cards changed."""
    values = res.get("values", {})
    if not any(k.startswith("evaluate.") for k in values):
        return []
    changed = []
    for label, d in exported_models(cfg).items():
        evals = stage06_evals(values, label, _dataset_for_results(cfg))
        if not evals:
            continue
        f = d / CARD
        old = f.read_text(encoding="utf-8")
        new = with_model_index(old, evals, label, corpus_dataset(cfg, d))
        if new != old:
            io.write_text(f, new)
            changed.append(f)
    return changed


# ---- 00_corpus: the dataset card --------------------------------------------------------------
def dataset_card(cfg, stats: dict) -> str:
    """data/<p>/00_corpus/README.md: what the corpus is, from its config and the counts stage 00 measured."""
    from huggingface_hub import DatasetCardData

    c = cfg.corpus
    synthetic = c.source == "synthetic"
    n = stats.get("n_docs", 0)
    meta = DatasetCardData(
        language=[LANGUAGE], license=LICENSE if synthetic else "odc-by", pretty_name=f"DeFineMed corpus ({cfg.profile})",
        task_categories=["text-generation", "text-classification"], tags=["definemed", "medical", "german"]
        + (["synthetic"] if synthetic else []), size_categories=[_size_category(n)],
        source_datasets=None if synthetic else [c.hf_dataset],
    )
    if synthetic:
        what = (f"A synthetic German web corpus generated by `definemed.corpus.generator` (seed {cfg.seed}) in "
                "FineWeb2's schema, standing in for FineWeb2 `deu_Latn` so that every stage runs offline. The "
                "documents are template sentences over invented drugs, diseases and everyday topics: they are not "
                "real text, state no real medical fact, and contain no personal data.")
        planted = [f"- documents: {n:,} in {stats.get('n_shards', '?')} parquet shards (`shards/`)",
                   f"- medical share: {stats.get('medical_share', c.medical_share):.2%} (config "
                   f"`corpus.medical_share` {c.medical_share}, borderline {c.borderline_share})"]
        if "domain_share" in stats:
            planted.append("- domains: " + ", ".join(f"{k} {v:.1%}" for k, v in stats["domain_share"].items()))
        if "n_words_total" in stats:
            planted.append(f"- words: {stats['n_words_total']:,}; tokens per document (whitespace pre-tokens) p50 "
                           f"{stats['pretokens_quantiles']['p50']}, p99 {stats['pretokens_quantiles']['p99']}")
        if "n_facts" in stats:
            planted.append(f"- fact bank: {stats['n_facts']} facts about {c.n_drugs} invented drugs and {c.n_diseases} "
                           f"diseases (`factbank.json`), {stats['facts_covered']} stated in the corpus, median "
                           f"{stats['fact_exposures_median']:.0f} documents per fact")
        if "english_doc_share" in stats:
            planted.append(f"- planted noise: {stats['english_doc_share']:.1%} of documents with English sentences, "
                           f"{stats['typo_doc_share']:.1%} with typos ({stats['typo_rate_per_eligible_word']:.1%} of "
                           "eligible words)")
        planted.append(f"- expert annotations: {c.expert_sample:,} documents labelled by two simulated experts "
                       f"(`expert_annotations.parquet`; {c.expert_borderline_flip:.0%} of borderline labels flipped "
                       "for the second)")
        files = ["- `shards/shard-XXXXX.parquet`: the documents in FineWeb2's schema (`text`, `id`, `url`, ...)",
                 "- `truth/truth-XXXXX.parquet`: per document, what the generator planted (domain, topic, facts, noise)",
                 "- `expert_annotations.parquet`, `factbank.json`, `stats.json` (every count on this card)"]
    else:
        what = (f"A sample of `{c.hf_dataset}` (config `{c.hf_config}`, split `{c.hf_split}`, revision "
                f"`{c.hf_revision}`) drawn by stage 00 of the DeFineMed reproduction; its licence and terms are "
                "the source's (FineWeb2: ODC-By 1.0, subject to Common Crawl's terms of use).")
        planted = [f"- documents: {n:,} in {stats.get('n_shards', '?')} parquet shards (`shards/`)"]
        files = ["- `shards/shard-XXXXX.parquet`: the documents in FineWeb2's schema", "- `stats.json`"]
    body = "\n".join([
        f"# DeFineMed corpus, profile `{cfg.profile}`", "", what, "",
        "## Contents", "", *planted, "", "## Files", "", *files, "",
        "## Use", "",
        "Stage 01 labels a sample of it, stage 02 trains the medical classifier on those labels, stage 03 "
        "filters the corpus into FineMed-de (the CPT data of stage 04). Written by stage 00 "
        "(`python -m definemed run 00_corpus`) from `configs/" + cfg.profile + ".yaml` and the counts above.", "",
    ])
    return f"---\n{meta.to_yaml()}\n---\n\n" + body


def _size_category(n: int) -> str:
    for bound, label in ((1_000, "n<1K"), (10_000, "1K<n<10K"), (100_000, "10K<n<100K"), (1_000_000, "100K<n<1M"),
                         (10_000_000, "1M<n<10M"), (100_000_000, "10M<n<100M"), (1_000_000_000, "100M<n<1B")):
        if n < bound:
            return label
    return "n>1B"
