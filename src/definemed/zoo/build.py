"""Building the tiny zoo: tokenizers, pretraining, instruction tuning, measurements, model cards.

`build_tiny_model` makes one folder data/<profile>/zoo/<name>/ that `AutoModelForCausalLM` and
`AutoTokenizer` load. A folder whose recorded build key (config, seed, corpus and code) matches is
reused, so an interrupted build resumes with the next model.
"""
from __future__ import annotations

import hashlib
import json
import random
import time
import zlib
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from definemed import artifacts, io, numerics, paths
from definemed.config import Config, ModelSpec, ZooModelSize
from definemed.corpus.factbank import FactBank
from definemed.errors import DefinemedError
from definemed.seed import rng, set_seed
from definemed.zoo import evaluate as ev
from definemed.zoo.model import load_model, load_tokenizer, model_config, n_params, new_model
from definemed.zoo.text import ChatData, CorpusSplit, disguise_bank_names
from definemed.zoo.tokenizer import check_family, glossary, option_token_lengths, save_tokenizer, special_ids, train_tokenizer
from definemed.zoo.train import PackedBatches, StreamBatches, pack_examples, train

BUILD_FILE = "zoo_build.json"


def model_dir(cfg: Config, name: str) -> Path:
    """data/<profile>/zoo/<name>: the folder of one foundation model (built or downloaded)."""
    return artifacts.foundation_model(cfg, name)


def zoo_seed(cfg: Config) -> int:
    return cfg.seed + cfg.zoo.seed_offset


def size_of(cfg: Config, spec: ModelSpec) -> ZooModelSize:
    return cfg.zoo.reference if spec.role == "reference" else cfg.zoo.small


def _code_hash() -> str:
    h = hashlib.sha256()
    for pkg in ("zoo", "corpus"):
        for f in sorted((paths.ROOT / "src" / "definemed" / pkg).glob("*.py")):
            if f.name != "cli.py":
                h.update(f.name.encode() + f.read_bytes())
    return h.hexdigest()[:16]


def build_key(cfg: Config, spec: ModelSpec) -> str:
    import torch
    import transformers

    data = {"zoo": cfg.zoo.model_dump(mode="json", exclude={"workers", "gate"}), "corpus": cfg.corpus.model_dump(mode="json"),
            "seed": cfg.seed, "spec": spec.model_dump(mode="json"), "code": _code_hash(),
            "torch": torch.__version__, "transformers": transformers.__version__}
    return hashlib.sha256(json.dumps(data, sort_keys=True).encode()).hexdigest()[:16]


def existing_build(cfg: Config, spec: ModelSpec) -> dict | None:
    """The recorded build of a finished folder with the same build key, else None."""
    f = model_dir(cfg, spec.name) / BUILD_FILE
    if not f.is_file() or not list(f.parent.glob("*.safetensors")):
        return None
    info = io.read_json(f)
    return info if info.get("build_key") == build_key(cfg, spec) else None


@dataclass
class Family:
    """Everything per tokenizer family: the raw tokenizer and the token streams it encodes."""

    arch: str
    tok: object
    ids: dict
    general: np.ndarray
    general_heldout: np.ndarray
    medical_heldout: np.ndarray
    known: np.ndarray
    """The known bank's encyclopedia entries (`text.known_documents`), one token stream."""
    option_lengths: dict
    name_tokens: dict
    """Mean tokens per entity name: evaluated bank names and known-bank names."""


def encode_docs(arch: str, tok, texts: list[str], ids: dict) -> np.ndarray:
    """Documents as one token stream: Mistral style `<s> text </s>`, Qwen style `text <|endoftext|>`."""
    enc = tok.encode_batch(texts, add_special_tokens=(arch == "mistral"))
    out = []
    for e in enc:
        out.extend(e.ids)
        out.append(ids["eot"])
    return np.asarray(out, dtype=np.int32)


def tokenizer_texts(cfg: Config, split: CorpusSplit, bank: FactBank) -> list[str]:
    """A seeded sample of training documents of every domain (bank names disguised as fresh invented
    names, `text.disguise_bank_names`), plus the weighted glossary of closed-set answer options."""
    docs = split.general + [t for t, _, _ in split.medical]
    g = rng(zoo_seed(cfg), "zoo-tokenizer")
    idx = sorted(g.choice(len(docs), size=min(cfg.zoo.tokenizer_docs, len(docs)), replace=False).tolist())
    sample = disguise_bank_names([docs[i] for i in idx], bank, random.Random(f"zoo-disguise-{zoo_seed(cfg)}"))
    return sample + [glossary()] * cfg.zoo.glossary_repeats


def closed_options() -> list[str]:
    """The fact bank's closed-set answer options (every object but the diseases of `indication`)."""
    from definemed.corpus.factbank import OBJECTS_BY_RELATION

    return sorted({o for pool in OBJECTS_BY_RELATION.values() for o in pool})


def build_family(cfg: Config, arch: str, split: CorpusSplit, bank: FactBank, known: FactBank,
                 known_docs: list[str]) -> Family:
    check_family(arch)
    tok = train_tokenizer(arch, tokenizer_texts(cfg, split, bank), cfg.zoo.vocab_size)
    ids = special_ids(arch, tok)

    def mean_tokens(names):
        return float(np.mean(list(option_token_lengths(tok, names).values()))) if names else float("nan")

    return Family(
        arch, tok, ids,
        general=encode_docs(arch, tok, split.general, ids),
        general_heldout=encode_docs(arch, tok, split.general_heldout, ids),
        medical_heldout=encode_docs(arch, tok, [t for t, _, _ in split.medical_heldout], ids),
        known=encode_docs(arch, tok, known_docs, ids),
        option_lengths=option_token_lengths(tok, closed_options()),
        name_tokens={"bank": mean_tokens(bank.subjects), "known": mean_tokens(known.subjects)},
    )


def sft_examples(arch: str, hf_tok, raw_tok, dialogues: list[tuple[str, str, str]], eos_id: int) -> list[tuple[list[int], list[bool]]]:
    """Dialogues (question, answer, unread object) in the model's chat template; loss only on the assistant
    turn up to its end-of-turn, and not on the tokens of an unread object: for a question about an
    entity no model has read, the answer's form (the restated name, the phrasing, the full stop) is
    taught, never which object to name (training on facts a model cannot know teaches it to guess;
    Gekhman et al. 2024)."""
    prompts = [hf_tok.apply_chat_template([{"role": "user", "content": q}], tokenize=False, add_generation_prompt=True)
               for q, _, _ in dialogues]
    fulls = [hf_tok.apply_chat_template([{"role": "user", "content": q}, {"role": "assistant", "content": a}],
                                        tokenize=False) for q, a, _ in dialogues]
    p_enc = raw_tok.encode_batch(prompts, add_special_tokens=False)
    f_enc = raw_tok.encode_batch(fulls, add_special_tokens=False)
    out = []
    for (q, a, unread), full, p, fe in zip(dialogues, fulls, p_enc, f_enc):
        p, f = p.ids, fe.ids
        if f[:len(p)] != p or eos_id not in f[len(p):]:
            raise DefinemedError(f"zoo ({arch}): chat template does not tokenize as prompt + answer for {q!r}")
        end = len(p) + f[len(p):].index(eos_id)
        mask = [False] * len(p) + [True] * (end + 1 - len(p)) + [False] * (len(f) - end - 1)
        if unread:
            start = full.rfind(unread, 0, full.rfind(a) + len(a))
            if start < 0:
                raise DefinemedError(f"zoo ({arch}): object {unread!r} not in the answer {a!r}")
            stop = start + len(unread)
            mask = [m and not (s < stop and e > start) for m, (s, e) in zip(mask, fe.offsets)]
        out.append((f, mask))
    return out


def generation_config(arch: str, ids: dict, max_new_tokens: int):
    from transformers import GenerationConfig

    eos = [ids["eos"], ids["eot"]] if arch == "qwen2" else ids["eos"]
    return GenerationConfig(bos_token_id=ids["bos"], eos_token_id=eos, pad_token_id=ids["pad"],
                            do_sample=False, max_new_tokens=max_new_tokens)


def model_card(spec: ModelSpec, info: dict) -> str:
    from definemed.cards import zoo_card

    return zoo_card(spec, info)


def build_tiny_model(cfg: Config, spec: ModelSpec, fam: Family | None, split: CorpusSplit, chat: ChatData,
                     bank: FactBank, force: bool = False) -> dict:
    """Pretrain, instruction-tune, save and measure one tiny model; return its build record."""
    import torch

    z = cfg.zoo
    check_family(spec.architecture, f"models.foundations[{spec.name}].architecture")
    if not force and (info := existing_build(cfg, spec)):
        return info | {"reused": True}
    if fam is None:
        raise DefinemedError(f"zoo: no tokenizer family for {spec.name} ({spec.architecture})")
    key = build_key(cfg, spec)  # before training: the code that made the weights
    seed = zoo_seed(cfg) + zlib.crc32(spec.name.encode()) % 100_000
    set_seed(seed)
    torch.set_num_threads(z.num_threads)
    size = size_of(cfg, spec)
    t0, cpu0 = time.time(), time.process_time()
    config = model_config(spec.architecture, size, fam.tok.get_vocab_size(), fam.ids, max(512, z.seq_len),
                          z.tie_word_embeddings)
    model = new_model(config)

    # pretraining: general text and the known bank's entries (every model); the reference also reads the
    # corpus' medical documents, at their natural share of the web text
    streams, weights, medical_topics, seen = [fam.general, fam.known], [1 - z.known_mix, z.known_mix], [], {}
    if spec.role == "reference" and z.reference_medical_mix != 0:
        medical_topics = sorted({d[1] for d in split.medical}) if z.reference_medical_topics is None \
            else list(z.reference_medical_topics)
        docs = [d for d in split.medical if d[1] in medical_topics]
        if not docs:
            raise DefinemedError(f"zoo.reference_medical_topics: no medical documents of {medical_topics}")
        streams.append(encode_docs(spec.architecture, fam.tok, [t for t, _, _ in docs], fam.ids))
        mix = z.reference_medical_mix if z.reference_medical_mix is not None else \
            len(streams[2]) / (len(streams[0]) + len(streams[2]))  # the medical share of the web's tokens
        weights = [(1 - z.known_mix) * (1 - mix), z.known_mix, (1 - z.known_mix) * mix]
        seen = ev.facts_seen(docs)
    steps = z.pretrain_steps_reference if spec.role == "reference" else z.pretrain_steps_small
    batches = StreamBatches(streams, weights, z.seq_len, z.batch_size, rng(seed, "zoo-pretrain"))
    pre = train(model, batches, steps, z.pretrain_lr, z.warmup_steps, z.min_lr_ratio, z.weight_decay,
                desc=f"{spec.name} pretrain")
    medical_epochs = float(batches.drawn[2] * z.seq_len / len(streams[2])) if len(streams) > 2 else 0.0
    known_epochs = float(batches.drawn[1] * z.seq_len / len(streams[1]))

    # instruction tuning in the model's own chat template
    with io.atomic_dir(model_dir(cfg, spec.name), force=True) as tmp:
        save_tokenizer(spec.architecture, fam.tok, tmp, model_max_length=config.max_position_embeddings)
        hf_tok = load_tokenizer(tmp)
        examples = sft_examples(spec.architecture, hf_tok, fam.tok, chat.train, fam.ids["eos"])
        ids, labels = pack_examples(examples, z.seq_len, fam.ids["pad"])
        sft = train(model, PackedBatches(ids, labels, z.sft_batch_size or z.batch_size, rng(seed, "zoo-sft")), z.sft_steps, z.sft_lr,
                    min(z.warmup_steps, z.sft_steps // 5), z.min_lr_ratio, z.weight_decay, desc=f"{spec.name} sft")
        model.generation_config = generation_config(spec.architecture, fam.ids, z.max_new_tokens)
        model.save_pretrained(tmp)
        train_s = time.time() - t0

        # measure what was saved
        t1 = time.time()
        loaded = load_model(tmp)
        eval_rng = rng(zoo_seed(cfg), "zoo-cloze")
        items = ev.cloze_items(bank, eval_rng)
        correct = ev.cloze_accuracy(loaded, fam.tok, items, add_bos=spec.architecture == "mistral")
        acc = ev.accuracy_by(items, correct, bank.facts, set(seen) if spec.role == "reference" else None)
        lo, hi = numerics.mean_ci(correct, 1000, zoo_seed(cfg), "zoo", spec.name)
        eos_ids = [fam.ids["eos"]] + ([fam.ids["eot"]] if fam.ids["eot"] != fam.ids["eos"] else [])
        answers = {kind: ev.chat_answers(loaded, hf_tok, chat.prompts(kind), z.max_new_tokens, eos_ids)
                   for kind in chat.heldout}
        all_answers = [a for v in answers.values() for a in v]
        g_items = ev.general_items(zoo_seed(cfg), 200)
        g_correct = ev.cloze_accuracy(loaded, fam.tok, g_items, add_bos=spec.architecture == "mistral")
        metrics = {
            "ppl_general": ev.perplexity(loaded, fam.general_heldout, z.seq_len, z.eval_tokens),
            "ppl_medical": ev.perplexity(loaded, fam.medical_heldout, z.seq_len, z.eval_tokens),
            "fact_accuracy": acc, "fact_accuracy_ci95": [lo, hi], "n_cloze_items": len(items),
            "general_accuracy": float(g_correct.mean()),
            "general_accuracy_ci95": list(numerics.mean_ci(g_correct, 1000, zoo_seed(cfg), "zoo-general", spec.name)),
            "n_general_items": len(g_items),
            "format_rate": ev.format_rate(all_answers),
            "format_rate_by_kind": {k: ev.format_rate(v) for k, v in answers.items()},
            "chat": {k: ev.chat_quality(answers[k], chat.heldout[k], 1000, zoo_seed(cfg), f"zoo-chat-{k}-{spec.name}")
                     for k in ("known", "bank")},
            "distinct_share": len({a["answer"] for a in all_answers}) / max(1, len(all_answers)),
            "stop_rate": float(np.mean([a["stopped"] for a in all_answers])),
            "german_rate": float(np.mean([a["german"] for a in all_answers])),
            "mean_answer_tokens": float(np.mean([a["n_tokens"] for a in all_answers])),
            "max_answer_tokens": int(max(a["n_tokens"] for a in all_answers)),
            "cut_by_cap": int(sum(not a["stopped"] and a["n_tokens"] >= z.max_new_tokens for a in all_answers)),
        }
        n_facts = len(bank.facts)
        info = {
            "name": spec.name, "role": spec.role, "architecture_family": spec.architecture,
            "stand_in_for": spec.name.removesuffix("-tiny"), "build_key": key, "seed": seed,
            "params": n_params(loaded), "architecture": {"class": type(loaded).__name__, **{
                k: getattr(config, k) for k in ("model_type", "hidden_size", "num_hidden_layers", "num_attention_heads",
                                                "num_key_value_heads", "intermediate_size", "vocab_size",
                                                "tie_word_embeddings")}},
            "tokenizer": "byte-level BPE, Qwen2 pre-tokenizer, no BOS" if spec.architecture == "qwen2"
            else "metaspace BPE with byte fallback, BOS <s>",
            "chat_format": "ChatML, end of turn <|im_end|>" if spec.architecture == "qwen2"
            else "[INST] ... [/INST], end of turn </s>",
            "pretrain": {"steps": pre.steps, "tokens": pre.tokens, "final_loss": pre.final_loss, "lr": z.pretrain_lr,
                         "wall_s": round(pre.wall_s, 2), "losses": pre.losses},
            "sft": {"steps": sft.steps, "tokens": sft.tokens, "loss_tokens": sft.loss_tokens,
                    "final_loss": sft.final_loss, "lr": z.sft_lr, "wall_s": round(sft.wall_s, 2),
                    "n_dialogues": len(examples), "packed_rows": int(len(ids)), "losses": sft.losses},
            "medical_topics": medical_topics, "reference_mix": round(weights[2], 4) if medical_topics else 0.0,
            "n_facts": n_facts, "facts_seen": len(seen), "facts_seen_share": len(seen) / n_facts,
            "fact_statements_seen": int(sum(seen.values())), "medical_epochs": round(medical_epochs, 3),
            "fact_exposures_median": float(np.median([seen.get(f.fact_id, 0) * medical_epochs for f in bank.facts])),
            "known_epochs": round(known_epochs, 3),
            "known_exposures_per_fact": round(known_epochs * 1.5 * z.known_docs_per_entity, 1),
            "tokenizer_stats": {
                "vocab_size": fam.tok.get_vocab_size(), "max_option_tokens": max(fam.option_lengths.values()),
                "share_options_1_2_tokens": sum(v <= 2 for v in fam.option_lengths.values()) / len(fam.option_lengths),
                "n_options": len(fam.option_lengths),
                "mean_name_tokens_bank": round(fam.name_tokens["bank"], 3),
                "mean_name_tokens_known": round(fam.name_tokens["known"], 3)},
            "max_new_tokens": z.max_new_tokens, "metrics": metrics, "train_s": round(train_s, 2),
            "eval_s": round(time.time() - t1, 2), "cpu_s": round(time.process_time() - cpu0, 2),
            "examples": {k: [a | {"gold": q["reference"], "subject": q["subject"]} for a, q in zip(v[:12], chat.heldout[k])]
                         for k, v in answers.items()},
        }
        io.write_json(tmp / BUILD_FILE, info)
        io.write_text(tmp / "README.md", model_card(spec, info))
    return info | {"reused": False}
