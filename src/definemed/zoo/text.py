"""Text the zoo trains and evaluates on: corpus splits, the known bank, instruction dialogues, held-out
chat prompts.

Nothing here states a fact of the evaluated fact bank to a small model: the small models read general
and borderline documents and the *known bank*, a second bank of entities disjoint from the evaluated
one, in encyclopedia-style entries (every foundation model read medicine before it was adapted). The
medical instruction dialogues ask about known-bank entities only and answer with their true facts, so
instruction tuning teaches retrieval of what a model has read, not guessing; a quarter of the known
entities is never asked, to measure extraction.
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
from definemed.corpus.factbank import RELATIONS, Fact, FactBank, profile_text
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


def known_bank(cfg: Config, real: FactBank) -> FactBank:
    """The known bank: `zoo.n_known_entities` drugs and diseases (each) with another seed, no name shared
    with the evaluated bank `real`."""
    n = cfg.zoo.n_known_entities
    return FactBank(cfg.seed + cfg.zoo.known_seed_offset, n, n, exclude=frozenset(real.subjects))


def invented_bank(cfg: Config, taken: set[str]) -> list[Fact]:
    """Facts about `zoo.sft_n_invented` invented drugs and diseases (each) that no model reads anywhere,
    without a name of `taken`: instruction dialogues about them teach the answer's form and copying of the
    asked name (a fresh name in almost every dialogue), with the object left out of the loss."""
    n = cfg.zoo.sft_n_invented
    alt = FactBank(cfg.seed + cfg.zoo.known_seed_offset + 1, n, n, exclude=frozenset(taken))
    return [f for f in alt.facts if f.object not in taken]


def known_split(cfg: Config, known: FactBank) -> tuple[list[str], list[str]]:
    """(entities asked in instruction data, held-out entities never asked): `zoo.known_heldout_share`
    of the drugs and of the diseases held out, seeded."""
    r = random.Random(f"zoo-known-split-{cfg.seed + cfg.zoo.seed_offset}")
    asked, held = [], []
    for names in (known.drugs, known.diseases):
        names = list(names)
        r.shuffle(names)
        k = max(1, round(len(names) * cfg.zoo.known_heldout_share))
        held += names[:k]
        asked += names[k:]
    return sorted(asked), sorted(held)


def known_documents(cfg: Config, known: FactBank) -> list[str]:
    """`zoo.known_docs_per_entity` encyclopedia-style entries per known entity (`factbank.profile_text`),
    each a fresh random variant, in a seeded order."""
    r = random.Random(f"zoo-known-docs-{cfg.seed + cfg.zoo.seed_offset}")
    docs = [profile_text(known.facts_of(s), r) for s in known.subjects for _ in range(cfg.zoo.known_docs_per_entity)]
    r.shuffle(docs)
    return docs


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


def chat_question(fact: Fact, bank: FactBank) -> dict:
    """A held-out chat prompt about `fact` with what judging its answer needs (as stage 06's questions)."""
    return {"question": RELATIONS[fact.relation].question.format(s=fact.subject), "subject": fact.subject,
            "reference": fact.object, "relation": fact.relation, "pool": fact.distractor_pool(bank)}


@dataclass
class ChatData:
    train: list[tuple[str, str, str]]
    """(question, answer, unread object) dialogues for instruction tuning; the unread object ("" for none)
    is left out of the loss (`build.sft_examples`)."""
    heldout: dict[str, list[dict]]
    """Held-out chat prompts by kind (`chat_question` records; general ones have no subject): general,
    known (known-bank entities never asked in instruction data: extraction), bank (the evaluated fact
    bank, which the small models never read)."""
    entities: list[str] = field(default_factory=list)
    """The known-bank names the training dialogues ask about."""

    def prompts(self, kind: str) -> list[str]:
        return [q["question"] for q in self.heldout[kind]]


def chat_data(cfg: Config, real: FactBank) -> ChatData:
    z = cfg.zoo
    r = random.Random(f"zoo-chat-{cfg.seed + z.seed_offset}")
    known = known_bank(cfg, real)
    asked, held = known_split(cfg, known)
    asked_set = set(asked)
    train_facts = [f for f in known.facts if f.subject in asked_set]
    held_facts = [f for f in known.facts if f.subject not in asked_set]
    invented = invented_bank(cfg, set(real.subjects) | set(known.subjects))
    train = []
    for _ in range(z.n_sft_dialogues):
        if r.random() < z.sft_medical_share:
            if r.random() < z.sft_invented_share:
                f = r.choice(invented)
                train.append((*medical_qa(r, f), f.object))
            else:
                train.append((*medical_qa(r, r.choice(train_facts)), ""))
        else:
            train.append((*general_qa(r), ""))
    seen_q = {q for q, _, _ in train}
    n = z.n_format_prompts
    n_gen = n // 3
    general, tries = [], 0
    while len(general) < n_gen and tries < 10_000:
        q, _ = general_qa(r)
        tries += 1
        if q not in seen_q and q not in general:
            general.append(q)
    bank_facts = r.sample(real.facts, min(n - len(general), len(real.facts)))
    return ChatData(train, {"general": [{"question": q, "subject": "", "reference": "", "relation": "", "pool": []}
                                        for q in general],
                            "known": [chat_question(f, known) for f in held_facts],
                            "bank": [chat_question(f, real) for f in bank_facts]},
                    asked)
