"""Text the zoo trains and evaluates on: corpus splits, instruction dialogues, held-out chat prompts.

Nothing here states a fact of the fact bank to a small model: the small models see general and
borderline documents only, and the medical-style instruction dialogues are about an invented bank of
entities disjoint from the real one (same question forms and answer phrasings, other names).
"""
from __future__ import annotations

import hashlib
import random
import re
from dataclasses import dataclass, field

import pyarrow.parquet as pq

from definemed import artifacts
from definemed.config import Config
from definemed.corpus import vocab
from definemed.corpus.factbank import RELATIONS, Fact, FactBank
from definemed.errors import DefinemedError

TOPIC_NAMES = {"ernaehrung": "Ernährung", "krankenversicherung": "Krankenversicherung", "tiermedizin": "Tiermedizin"}


@dataclass
class CorpusSplit:
    """Corpus documents by domain; held-out documents are excluded from every training set."""

    general: list[str] = field(default_factory=list)
    """General and borderline (health-adjacent, non-medical) documents."""
    medical: list[tuple[str, str, list[int]]] = field(default_factory=list)
    """(text, topic, fact_ids) of medical documents."""
    general_heldout: list[str] = field(default_factory=list)
    medical_heldout: list[tuple[str, str, list[int]]] = field(default_factory=list)


def is_heldout(doc_id: str, share: float) -> bool:
    h = int.from_bytes(hashlib.sha256(doc_id.encode()).digest()[:8], "little")
    return (h % 100_000) < share * 100_000


def load_corpus_split(cfg: Config) -> CorpusSplit:
    """Read the stage-00 shards with their ground truth (synthetic corpus) and split them."""
    d = artifacts.stage_dir(cfg, artifacts.CORPUS)
    shards, truths = sorted((d / "shards").glob("shard-*.parquet")), sorted((d / "truth").glob("truth-*.parquet"))
    if not shards:
        raise DefinemedError(f"{d / 'shards'}: no corpus shards (run stage 00_corpus first)")
    if len(truths) != len(shards):
        raise DefinemedError(f"{d / 'truth'}: the tiny zoo needs the synthetic corpus' ground truth "
                             f"({len(truths)} truth files for {len(shards)} shards)")
    out = CorpusSplit()
    for sp, tp in zip(shards, truths):
        docs = pq.read_table(sp, columns=["id", "text"]).to_pylist()
        truth = pq.read_table(tp, columns=["id", "domain", "topic", "fact_ids"]).to_pylist()
        for doc, t in zip(docs, truth):
            if doc["id"] != t["id"]:
                raise DefinemedError(f"{tp}: truth rows do not match {sp.name}")
            held = is_heldout(doc["id"], cfg.zoo.heldout_doc_share)
            if t["domain"] == "medical":
                (out.medical_heldout if held else out.medical).append((doc["text"], t["topic"], list(t["fact_ids"] or [])))
            else:
                (out.general_heldout if held else out.general).append(doc["text"])
    return out


def invented_bank(cfg: Config, real: FactBank) -> list[Fact]:
    """Facts about invented entities for instruction data: a bank of `zoo.sft_n_entities` drugs and
    diseases with another seed, without any fact whose subject or object names an entity of the real bank.
    With over a thousand names, most dialogues ask about a name the model has not seen in another
    dialogue, so the answer format can only be learned by copying the asked name."""
    n = cfg.zoo.sft_n_entities
    alt = FactBank(cfg.seed + cfg.zoo.sft_entity_seed_offset, n, n)
    taken = set(real.drugs) | set(real.diseases)
    return [f for f in alt.facts if f.subject not in taken and f.object not in taken]


def disguise_bank_names(texts: list[str], real: FactBank, r: random.Random) -> list[str]:
    """Every real bank name in `texts` replaced by a fresh generator name (a new one per occurrence).

    For the tokenizers' training sample: a bank name that recurs hundreds of times in the medical
    documents would become one token of its own, which the small models (pretrained without medical
    text) never read and so cannot copy; invented names in instruction data would split into parts.
    Disguised, bank names and invented names split alike, into name parts every model has trained."""
    from definemed.corpus.factbank import disease_name, drug_name

    names = sorted(set(real.drugs) | set(real.diseases), key=len, reverse=True)
    if not names:
        return list(texts)
    taken = set(names)

    def fresh(m: re.Match) -> str:
        make = disease_name if m.group(0).startswith("Morbus ") else drug_name
        while (name := make(r)) in taken:
            pass
        return name

    pat = re.compile(r"\b(?:" + "|".join(re.escape(x) for x in names) + r")\b")
    return [pat.sub(fresh, t) for t in texts]


def _topic_name(topic: str) -> str:
    return TOPIC_NAMES.get(topic, topic.capitalize())


def general_qa(r: random.Random) -> tuple[str, str]:
    """One general-topic question and a one-sentence German answer built from the corpus lexicon."""
    topic = r.choice(vocab.GENERAL + vocab.BORDERLINE)
    lex, name = vocab.LEX[topic], _topic_name(topic)
    obj, npl, adj = r.choice(lex["obj"]), r.choice(lex["npl"]), r.choice(lex["adj"])
    place = r.choice(lex["place"])
    np_ = r.choice(lex["np"])
    k = r.randrange(6)
    if k == 0:
        return f"Was ist beim Thema {name} wichtig?", f"Beim Thema {name} ist vor allem {obj} wichtig."
    if k == 1:
        return f"Was halten {npl} von {obj}?", f"Viele {npl} finden {obj} {adj}."
    if k == 2:
        return f"Erzähl mir etwas über {name}.", r.choice(lex["sent"])
    if k == 3:
        return f"Wo treffen sich {npl}?", f"{place} treffen sich regelmäßig {npl}."
    if k == 4:
        v = r.choice(vocab.V3)
        return f"Wer {v} {obj}?", f"{np_[0].upper() + np_[1:]} {v} {obj}."
    return f"Wie finden {npl} {obj}?", f"Für {npl} ist {obj} oft {adj}."


def medical_qa(r: random.Random, fact: Fact) -> tuple[str, str]:
    """The fact bank's question form, answered by one training phrasing that restates the subject."""
    return RELATIONS[fact.relation].question.format(s=fact.subject), fact.sentence(r.randrange(len(RELATIONS[fact.relation].train)))


@dataclass
class ChatData:
    train: list[tuple[str, str]]
    """(question, answer) dialogues for instruction tuning."""
    heldout: dict[str, list[str]]
    """Held-out prompts by kind: general, invented (held-out invented entities), bank (real fact-bank
    questions, asked only to check the answer format)."""
    entities: list[str] = field(default_factory=list)
    """The invented drug and disease names the training dialogues ask about."""
    subjects: dict[str, list[str]] = field(default_factory=dict)
    """Per kind of held-out prompt, the entity each asks about ("" for general prompts)."""


def chat_data(cfg: Config, real: FactBank) -> ChatData:
    z = cfg.zoo
    r = random.Random(f"zoo-chat-{cfg.seed + z.seed_offset}")
    facts = invented_bank(cfg, real)
    subjects = sorted({f.subject for f in facts})
    r.shuffle(subjects)
    held_subjects = set(subjects[: max(1, len(subjects) // 5)])
    train_facts = [f for f in facts if f.subject not in held_subjects]
    held_facts = [f for f in facts if f.subject in held_subjects]
    if not train_facts:
        raise DefinemedError("zoo: the invented entity bank is empty after removing real-bank names")
    train = []
    for _ in range(z.n_sft_dialogues):
        if r.random() < z.sft_medical_share:
            train.append(medical_qa(r, r.choice(train_facts)))
        else:
            train.append(general_qa(r))
    seen_q = {q for q, _ in train}
    n = z.n_format_prompts
    n_gen, n_inv = n // 3, n // 3
    general, tries = [], 0
    while len(general) < n_gen and tries < 10_000:
        q, _ = general_qa(r)
        tries += 1
        if q not in seen_q and q not in general:
            general.append(q)
    inv_facts = r.sample(held_facts, min(n_inv, len(held_facts)))
    bank_facts = r.sample(real.facts, min(n - len(general) - len(inv_facts), len(real.facts)))
    return ChatData(train, {"general": general, "invented": [medical_qa(r, f)[0] for f in inv_facts],
                            "bank": [medical_qa(r, f)[0] for f in bank_facts]},
                    sorted({f.subject for f in train_facts}),
                    {"general": [""] * len(general), "invented": [f.subject for f in inv_facts],
                     "bank": [f.subject for f in bank_facts]})
