"""Question sets in the task format our lm-eval tasks read, and their validation.

Task format (one JSON object per line, `<task>/{test,dev}.jsonl`):
    id        str        unique within the task
    subject   str        MMLU subject / "medqa" / relation name
    question  str        the question (or, for the held-out sentence task, the sentence before the answer)
    choices   list[str]  2-5 options
    answer    int        index of the correct option in `choices`
    fact_id   int        the fact bank entry the item asks about (-1 for real benchmarks)
    relation  str        the fact's relation ("" for real benchmarks)

The tiny profile builds the sets from the corpus's fact bank, only with phrasings the corpus never uses
(`Fact.sentence(k, heldout=True)`, `RELATIONS[rel].question`, and case vignettes written here), with
distractors of the same kind (`Fact.distractor_pool`) and the correct letter balanced over A-D.
"""
from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from definemed import io
from definemed.corpus.factbank import RELATIONS, Fact, FactBank
from definemed.errors import DefinemedError
from definemed.seed import rng

FIELDS = ("id", "subject", "question", "choices", "answer", "fact_id", "relation")
LETTERS = "ABCDE"

# Case vignettes (MedQA style). {Person}/{person} (with age), {s} (subject), {o} (object) are filled in.
# Forward vignettes ask for the fact's object; the "medication" vignette asks for the drug given the disease.
VIGNETTES = {
    "drug_class": "{Person} bringt den Medikationsplan mit; neu verordnet wurde {s}. "
                  "Zu welcher Wirkstoffgruppe gehört dieses Medikament?",
    "side_effect": "{Person} nimmt seit drei Wochen {s} ein und stellt sich mit neuen Beschwerden vor. "
                   "Welche Nebenwirkung des Medikaments ist am wahrscheinlichsten?",
    "indication": "{Person} erhält vom Hausarzt eine Dauertherapie mit {s}. "
                  "Welche Diagnose wurde bei diesem Patienten am ehesten gestellt?",
    "organ": "Bei {person} wurde {s} diagnostiziert. "
             "Welches Organ ist bei dieser Erkrankung vorrangig betroffen?",
    "cause": "Bei {person} wird {s} festgestellt; die Angehörigen fragen nach der Ursache. "
             "Wodurch wird diese Erkrankung ausgelöst?",
    "symptom": "{Person} mit bekanntem {s} kommt zur Kontrolle. "
               "Welches Leitsymptom ist bei dieser Erkrankung typisch?",
    "medication": "Bei {person} wurde {o} diagnostiziert. "
                  "Welches Medikament ist das Mittel der Wahl?",
}
PERSONS = [("Ein {a}-jähriger Patient", "einem {a}-jährigen Patienten"),
           ("Eine {a}-jährige Patientin", "einer {a}-jährigen Patientin")]


@dataclass(frozen=True)
class QuestionSet:
    """One task's items: the test split (scored) and the dev split (few-shot examples)."""

    task: str
    test: list[dict]
    dev: list[dict]


# ---------------------------------------------------------------- validation

def validate_item(item: dict, where: str) -> dict:
    """Check one item of the task format; raise DefinemedError naming the file/line and the field."""
    for f in ("id", "question", "choices", "answer"):
        if f not in item or item[f] is None:
            raise DefinemedError(f"{where}: missing field '{f}'")
    choices = item["choices"]
    if not isinstance(choices, list) or not 2 <= len(choices) <= len(LETTERS):
        raise DefinemedError(f"{where}: 'choices' must be a list of 2-{len(LETTERS)} options, got {choices!r}")
    if any(not isinstance(c, str) or not c.strip() for c in choices):
        raise DefinemedError(f"{where}: 'choices' contains an empty or non-text option")
    if len(set(choices)) != len(choices):
        raise DefinemedError(f"{where}: 'choices' contains duplicate options")
    ans = item["answer"]
    if isinstance(ans, bool) or not isinstance(ans, (int, np.integer)):
        raise DefinemedError(f"{where}: 'answer' must be an option index, got {ans!r}")
    if not 0 <= int(ans) < len(choices):
        raise DefinemedError(f"{where}: 'answer' index {ans} out of range for {len(choices)} choices")
    if not isinstance(item["question"], str) or not item["question"].strip():
        raise DefinemedError(f"{where}: 'question' is empty")
    out = {"id": str(item["id"]), "subject": str(item.get("subject", "")), "question": item["question"],
           "choices": list(choices), "answer": int(ans), "fact_id": int(item.get("fact_id", -1)),
           "relation": str(item.get("relation", ""))}
    return out


def read_items(path: str | Path) -> list[dict]:
    """Read and validate a question file (.jsonl or .parquet) in the task format."""
    path = Path(path)
    if not path.is_file():
        raise DefinemedError(f"{path}: question file not found")
    if path.suffix == ".parquet":
        import pandas as pd

        rows = pd.read_parquet(path).to_dict("records")
        rows = [{**r, "choices": list(r["choices"]) if r.get("choices") is not None else None} for r in rows]
        items = [validate_item(r, f"{path}: row {i}") for i, r in enumerate(rows)]
    else:
        items = []
        for i, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1):
            if not line.strip():
                continue
            try:
                rec = json.loads(line)
            except json.JSONDecodeError as e:
                raise DefinemedError(f"{path}: line {i}: not JSON ({e.msg})") from None
            items.append(validate_item(rec, f"{path}: line {i}"))
    if not items:
        raise DefinemedError(f"{path}: no questions")
    ids = [it["id"] for it in items]
    if len(set(ids)) != len(ids):
        raise DefinemedError(f"{path}: duplicate question ids")
    return items


def write_items(path: str | Path, items: list[dict]) -> Path:
    items = [validate_item(it, f"{path}: item {i}") for i, it in enumerate(items)]
    text = "".join(json.dumps({k: it[k] for k in FIELDS}, ensure_ascii=False) + "\n" for it in items)
    return io.write_text(path, text)


# ---------------------------------------------------------------- building from the fact bank

def _options(fact_or_answer: str, pool: list[str], g: np.random.Generator, position: int,
             n_options: int = 4) -> list[str]:
    """The correct answer at `position` among n_options - 1 distractors drawn from `pool`."""
    if len(pool) < n_options - 1:
        raise DefinemedError(f"fact bank: only {len(pool)} distractors for '{fact_or_answer}', need {n_options - 1}")
    picks = [pool[i] for i in g.choice(len(pool), size=n_options - 1, replace=False)]
    picks.insert(position, fact_or_answer)
    return picks


def _balanced_positions(n: int, g: np.random.Generator, n_options: int = 4) -> list[int]:
    pos = [i % n_options for i in range(n)]
    g.shuffle(pos)
    return pos


def _split_dev(facts: list[Fact], dev_ids: set[int]) -> tuple[list[Fact], list[Fact]]:
    return [f for f in facts if f.fact_id not in dev_ids], [f for f in facts if f.fact_id in dev_ids]


def dev_fact_ids(bank: FactBank, seed: int, n_dev: int) -> set[int]:
    """Facts reserved for few-shot examples: n_dev per relation, never asked in any test split."""
    g = rng(seed, "evaluate", "dev")
    out: set[int] = set()
    for rel in RELATIONS:
        ids = [f.fact_id for f in bank.facts if f.relation == rel]
        out.update(int(i) for i in g.choice(ids, size=min(n_dev, len(ids)), replace=False))
    return out


def _mmlu_items(facts: list[Fact], bank: FactBank, subject: str, g: np.random.Generator, split: str) -> list[dict]:
    pos = _balanced_positions(len(facts), g)
    items = []
    for f, p in zip(facts, pos):
        choices = _options(f.object, f.distractor_pool(bank), g, p)
        items.append({"id": f"{subject}-{split}-{f.fact_id}", "subject": subject,
                      "question": RELATIONS[f.relation].question.format(s=f.subject), "choices": choices,
                      "answer": p, "fact_id": f.fact_id, "relation": f.relation})
    return items


def mmlu_sets(bank: FactBank, subjects: list[str], seed: int, n_dev: int, max_test: int | None) -> list[QuestionSet]:
    """MMLU-style questions per medical subdomain: the fact's question form, 4 same-type options."""
    by_sub = bank.by_subdomain()
    dev_ids = dev_fact_ids(bank, seed, n_dev)
    out = []
    for subject in subjects:
        if subject not in by_sub:
            raise DefinemedError(f"evaluate.mmlu_subjects: '{subject}' is not a subdomain of the fact bank "
                                 f"(have: {', '.join(sorted(by_sub))})")
        g = rng(seed, "evaluate", "mmlu", subject)
        test, dev = _split_dev(sorted(by_sub[subject], key=lambda f: f.fact_id), dev_ids)
        if max_test and len(test) > max_test:
            test = [test[i] for i in sorted(g.choice(len(test), size=max_test, replace=False))]
        if len(dev) < n_dev:  # few dev facts fell into this subject: add dev facts of its relations
            rels = {f.relation for f in test}
            dev += [f for f in bank.facts if f.fact_id in dev_ids and f.relation in rels and f not in dev]
        out.append(QuestionSet(f"mmlu_de_{subject}", _mmlu_items(test, bank, subject, g, "test"),
                               _mmlu_items(dev[: max(n_dev, 1)], bank, subject, g, "dev")))
    return out


def _vignette_items(facts: list[Fact], bank: FactBank, g: np.random.Generator, split: str) -> list[dict]:
    specs: list[tuple[Fact, str]] = [(f, f.relation) for f in facts]
    specs += [(f, "medication") for f in facts if f.relation == "indication"]
    pos = _balanced_positions(len(specs), g)
    items = []
    for (f, kind), p in zip(specs, pos):
        age = int(g.integers(19, 86))
        first, other = PERSONS[int(g.integers(2))]
        question = VIGNETTES[kind].format(Person=first.format(a=age), person=other.format(a=age),
                                          s=f.subject, o=f.object)
        if kind == "medication":
            # the drug is the answer; distractors are drugs with a different indication
            answer = f.subject
            pool = [x.subject for x in bank.facts if x.relation == "indication" and x.object != f.object]
        else:
            answer, pool = f.object, f.distractor_pool(bank)
        items.append({"id": f"medqa-{split}-{kind}-{f.fact_id}", "subject": kind, "question": question,
                      "choices": _options(answer, pool, g, p), "answer": p, "fact_id": f.fact_id,
                      "relation": f.relation})
    return items


def medqa_set(bank: FactBank, seed: int, n_dev: int, max_test: int | None) -> QuestionSet:
    """MedQA-style case vignettes ("Ein 54-jähriger Patient ... Welche Diagnose ...?") over all facts."""
    g = rng(seed, "evaluate", "medqa")
    test, dev = _split_dev(bank.facts, dev_fact_ids(bank, seed, n_dev))
    test_items = _vignette_items(test, bank, g, "test")
    if max_test and len(test_items) > max_test:
        keep = sorted(g.choice(len(test_items), size=max_test, replace=False))
        test_items = [test_items[i] for i in keep]
    dev_items = _vignette_items(dev, bank, g, "dev")
    return QuestionSet("medqa_de", test_items, dev_items[: max(n_dev, 1)])


def heldout_sentence_set(bank: FactBank, seed: int, n_dev: int) -> QuestionSet:
    """Held-out sentences cut before the object (the fact as a continuation), for the tiny profile."""
    g = rng(seed, "evaluate", "heldout")
    test, dev = _split_dev(bank.facts, dev_fact_ids(bank, seed, n_dev))

    def items(facts, split):
        pos = _balanced_positions(len(facts), g)
        out = []
        for f, p in zip(facts, pos):
            sent = f.sentence(f.fact_id % 2, heldout=True)
            cut = sent.rindex(f.object)
            out.append({"id": f"heldout-{split}-{f.fact_id}", "subject": f.relation,
                        "question": sent[:cut].rstrip(), "choices": _options(f.object, f.distractor_pool(bank), g, p),
                        "answer": p, "fact_id": f.fact_id, "relation": f.relation})
        return out

    return QuestionSet("facts_de_heldout", items(test, "test"), items(dev, "dev")[: max(n_dev, 1)])


def winrate_questions(bank: FactBank, seed: int, n: int, n_dev: int) -> list[dict]:
    """Open German medical questions for the win-rates: the held-out question form of n test facts (seeded);
    `subject` is the asked entity, `reference` the gold object, `pool` the other objects of its kind."""
    g = rng(seed, "evaluate", "winrate")
    dev = dev_fact_ids(bank, seed, n_dev)
    facts = [f for f in bank.facts if f.fact_id not in dev]
    pick = sorted(g.choice(len(facts), size=min(n, len(facts)), replace=False))
    return [{"qid": f"wr-{facts[i].fact_id}", "question": RELATIONS[facts[i].relation].question.format(s=facts[i].subject),
             "reference": facts[i].object, "fact_id": facts[i].fact_id, "relation": facts[i].relation,
             "subject": facts[i].subject, "pool": facts[i].distractor_pool(bank)} for i in pick]


# General (non-medical) questions, from the corpus lexicon of the general and borderline topics. The
# models read these words together in web documents (and in the zoo's general dialogues); none of these
# question forms is a corpus frame or a zoo dialogue question (a test checks it), so an item is answered
# from what a model learned, not recalled.
GENERAL_FORMS = {
    "topic": "Zu welchem Bereich gehört {obj}?",        # -> the topic's name
    "people": "Wer beschäftigt sich vor allem mit {obj}?",  # -> the topic's people (plural noun)
    "place": "Wo trifft man {npl} am ehesten an?",        # -> one of the topic's places
}


def _general_candidates() -> list[dict]:
    """Every general item before sampling: (form, topic, slot, answer, distractor pool)."""
    from collections import Counter

    from definemed.corpus import vocab
    from definemed.zoo.text import _topic_name

    topics = vocab.GENERAL + vocab.BORDERLINE
    lex = {t: vocab.LEX[t] for t in topics}
    # a word two topics share (Gäste, Kunden, ...) has no single right topic: never asked or offered
    shared = {w for w, c in Counter(w for t in topics for k in ("npl", "obj", "place") for w in set(lex[t][k])).items()
              if c > 1}
    out = []
    for t in topics:
        others = [u for u in topics if u != t]
        own = lambda key: [w for w in lex[t][key] if w not in shared]  # noqa: E731
        pool = lambda key: [w for u in others for w in lex[u][key] if w not in shared]  # noqa: E731
        for obj in own("obj"):
            out.append({"form": "topic", "topic": t, "question": GENERAL_FORMS["topic"].format(obj=obj),
                        "answer": _topic_name(t), "pool": [_topic_name(u) for u in others]})
            if own("npl"):
                out.append({"form": "people", "topic": t, "question": GENERAL_FORMS["people"].format(obj=obj),
                            "answer": own("npl")[len(out) % len(own("npl"))], "pool": pool("npl")})
        for i, npl in enumerate(own("npl")):
            out.append({"form": "place", "topic": t, "question": GENERAL_FORMS["place"].format(npl=npl),
                        "answer": lex[t]["place"][i % len(lex[t]["place"])], "pool": pool("place")})
    return out


def general_set(seed: int, n_test: int, n_dev: int) -> QuestionSet:
    """General-knowledge questions (cloze, 4 options) built from the corpus lexicon: which topic a word
    belongs to, who deals with it, where its people meet. Distractors come from other topics; the
    correct option is balanced over the positions; seeded. Dev items are never tested."""
    g = rng(seed, "evaluate", "general")
    cands = _general_candidates()
    order = [int(i) for i in g.permutation(len(cands))]
    dev_c = [cands[i] for i in order[:n_dev]]
    test_c = [cands[i] for i in order[n_dev:n_dev + n_test]]

    def items(cs, split):
        pos = _balanced_positions(len(cs), g)
        return [{"id": f"general-{split}-{i}", "subject": c["form"], "question": c["question"],
                 "choices": _options(c["answer"], c["pool"], g, p), "answer": p, "fact_id": -1, "relation": ""}
                for i, (c, p) in enumerate(zip(cs, pos))]

    return QuestionSet("general_de", items(test_c, "test"), items(dev_c, "dev"))


def write_set(qs: QuestionSet, root: Path) -> dict[str, Path]:
    """Write a question set as <root>/<task>/{test,dev}.jsonl; return the paths."""
    d = root / qs.task
    return {"test": write_items(d / "test.jsonl", qs.test), "dev": write_items(d / "dev.jsonl", qs.dev)}
