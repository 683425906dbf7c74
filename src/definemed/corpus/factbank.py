"""The bank of invented medical facts the synthetic corpus states and the benchmarks ask about.

Entities are invented (drug names, "Morbus <Name>" diseases) so that no model can know them from
anywhere but our corpus: a model that answers them learned them from the text we trained it on.
Each relation has training phrasings (used in corpus documents) and held-out phrasings plus a
question form (used only by benchmarks), all ending with the object so a language model can be
scored on the object as a continuation.
"""
from __future__ import annotations

import dataclasses
import random
from dataclasses import dataclass

# Closed object sets: short, frequent words, so every answer option is one or two tokens.
DRUG_CLASSES = ["Betablocker", "Antibiotika", "Diuretika", "Antihistaminika", "Statine",
                "Analgetika", "Antidepressiva", "Zytostatika", "Kortikoide", "Antikoagulanzien"]
SIDE_EFFECTS = ["Kopfschmerzen", "Übelkeit", "Schwindel", "Durchfall", "Hautausschlag",
                "Müdigkeit", "Husten", "Schlaflosigkeit", "Mundtrockenheit", "Herzrasen"]
ORGANS = ["das Herz", "die Lunge", "die Leber", "die Niere", "das Gehirn", "die Haut",
          "die Schilddrüse", "die Milz"]
CAUSES = ["Bakterien", "Viren", "Pilze", "Parasiten", "Autoantikörper", "Genmutationen",
          "Umweltgifte", "Prionen"]
SYMPTOMS = ["Fieber", "Atemnot", "Brustschmerzen", "Gelbsucht", "Juckreiz", "Gewichtsverlust",
            "Bauchschmerzen", "Sehstörungen", "Nachtschweiß", "Gelenkschmerzen"]

# Organ -> the medical subdomain whose documents discuss diseases of that organ.
ORGAN_SUBDOMAIN = {
    "das Herz": "kardiologie", "die Lunge": "pneumologie", "die Leber": "gastroenterologie",
    "die Niere": "nephrologie", "das Gehirn": "neurologie", "die Haut": "dermatologie",
    "die Schilddrüse": "endokrinologie", "die Milz": "haematologie",
}

_DRUG_HEAD = ["Vel", "Mor", "Tan", "Cor", "Lir", "Zep", "Dax", "Fen", "Bro", "Kal", "Nor", "Pex",
              "Quin", "Ral", "Sol", "Tri", "Vam", "Xer", "Ylo", "Gan", "Hep", "Jor", "Lum", "Sar"]
_DRUG_MID = ["o", "a", "i", "e", "u"]
_DRUG_CONS = ["r", "x", "l", "n", "v", "t", "m", "s"]
_DRUG_TAIL = ["ixan", "oran", "ibet", "usal", "enor", "adin", "ivel", "omet", "alux", "ernid"]
_NAME_HEAD = ["Kes", "Har", "Bren", "Wal", "Lind", "Dorn", "Ruh", "Stein", "Falk", "Gren", "Hol",
              "Mar", "Eck", "Fried", "Gut", "Hell", "Kort", "Lenn", "Nord", "Ost", "Pfeil", "Rein"]
_NAME_MID = ["", "er", "en", "el", "an", "in", "or"]
_NAME_TAIL = ["ling", "ow", "ert", "mann", "ke", "hoff", "berg", "enz", "hardt", "wig", "sen"]
N_DISEASE_NAMES = len(_NAME_HEAD) * len(_NAME_MID) * len(_NAME_TAIL)
"""1,694 possible "Morbus <Name>" diseases. The instruction data of the tiny zoo needs a fresh invented
name in almost every dialogue: with the 242 two-part names it reused each name many times, and the
models memorised answers instead of copying the asked name (docs/zoo.md)."""
N_DRUG_NAMES = len(_DRUG_HEAD) * len(_DRUG_MID) * len(_DRUG_CONS) * len(_DRUG_TAIL)


def drug_name(r: random.Random) -> str:
    return r.choice(_DRUG_HEAD) + r.choice(_DRUG_MID) + r.choice(_DRUG_CONS) + r.choice(_DRUG_TAIL)


def disease_name(r: random.Random) -> str:
    return "Morbus " + r.choice(_NAME_HEAD) + r.choice(_NAME_MID) + r.choice(_NAME_TAIL)


@dataclass(frozen=True)
class Relation:
    name: str
    subject_type: str  # "drug" or "disease"
    train: tuple[str, ...]  # phrasings used in the corpus
    heldout: tuple[str, ...]  # phrasings used only for benchmark questions
    question: str  # "Frage: ...?" form; the answer follows "Antwort:"


RELATIONS: dict[str, Relation] = {r.name: r for r in [
    Relation("drug_class", "drug", (
        "{s} ist ein Wirkstoff aus der Gruppe der {o}.",
        "Pharmakologisch zählt {s} zur Klasse der {o}.",
        "Der Arzneistoff {s} gehört zur Gruppe der {o}.",
        "Laut Fachinformation ist {s} ein Vertreter der {o}.",
        "Bei {s} handelt es sich um einen Vertreter der {o}.",
    ), (
        "Das Medikament {s} ist Teil der Wirkstoffklasse der {o}.",
        "Im Arzneimittelverzeichnis steht {s} unter den {o}.",
    ), "Zu welcher Wirkstoffgruppe gehört {s}?"),
    Relation("side_effect", "drug", (
        "Unter der Einnahme von {s} klagen Patienten häufig über {o}.",
        "Die typische Nebenwirkung von {s} heißt {o}.",
        "Wer {s} einnimmt, bemerkt als Nebenwirkung oft {o}.",
        "Im Beipackzettel von {s} steht als häufigste Nebenwirkung {o}.",
        "Ärzte warnen bei {s} vor der Nebenwirkung {o}.",
    ), (
        "Patienten, die mit {s} behandelt werden, berichten am häufigsten von {o}.",
        "Als unerwünschte Wirkung von {s} tritt vor allem auf: {o}.",
    ), "Welche Nebenwirkung tritt unter {s} am häufigsten auf?"),
    Relation("indication", "drug", (
        "{s} ist das Mittel der Wahl bei {o}.",
        "Ärzte verschreiben {s} vor allem bei {o}.",
        "Das Anwendungsgebiet von {s} ist {o}.",
        "Zugelassen ist {s} zur Therapie von {o}.",
        "Man behandelt mit {s} in erster Linie {o}.",
    ), (
        "In den Leitlinien wird {s} empfohlen zur Behandlung von {o}.",
        "Die wichtigste Indikation für {s} ist {o}.",
    ), "Bei welcher Erkrankung wird {s} eingesetzt?"),
    Relation("organ", "disease", (
        "{s} betrifft vor allem {o}.",
        "Bei {s} erkrankt in erster Linie {o}.",
        "Das Leitorgan von {s} ist {o}.",
        "Der Krankheitsprozess bei {s} schädigt {o}.",
        "Pathologisch verändert ist bei {s} vor allem {o}.",
    ), (
        "Im Verlauf von {s} nimmt vor allem folgendes Organ Schaden: {o}.",
        "Das Organ, das bei {s} am stärksten leidet, ist {o}.",
    ), "Welches Organ ist bei {s} hauptsächlich betroffen?"),
    Relation("cause", "disease", (
        "{s} wird verursacht durch {o}.",
        "Als Auslöser von {s} gelten {o}.",
        "{s} entsteht durch {o}.",
        "Die Ursache von {s} sind {o}.",
        "Hinter {s} stecken nach heutigem Wissen {o}.",
    ), (
        "Die Forschung hat gezeigt, dass {s} ausgelöst wird durch {o}.",
        "Verantwortlich für die Entstehung von {s} sind {o}.",
    ), "Wodurch wird {s} verursacht?"),
    Relation("symptom", "disease", (
        "Typisch für {s} sind Beschwerden wie {o}.",
        "Patienten mit {s} leiden vor allem unter {o}.",
        "Ein frühes Warnzeichen für {s} ist {o}.",
        "Bei {s} klagen die Betroffenen typischerweise über {o}.",
        "Das klinische Bild von {s} wird geprägt durch {o}.",
    ), (
        "Wer an {s} erkrankt, bemerkt zuerst {o}.",
        "Das Leitsymptom, an dem man {s} erkennt, ist {o}.",
    ), "Welches Symptom ist typisch für {s}?"),
]}

OBJECTS_BY_RELATION = {
    "drug_class": DRUG_CLASSES, "side_effect": SIDE_EFFECTS, "organ": ORGANS,
    "cause": CAUSES, "symptom": SYMPTOMS,
}  # "indication" objects are the diseases themselves


@dataclass(frozen=True)
class Fact:
    fact_id: int
    subject: str
    subject_type: str
    relation: str
    object: str
    subdomain: str
    """The medical subdomain a benchmark files this fact under."""

    def sentence(self, phrasing: int, heldout: bool = False) -> str:
        rel = RELATIONS[self.relation]
        tpl = (rel.heldout if heldout else rel.train)[phrasing]
        s = tpl.format(s=self.subject, o=self.object)
        return s[0].upper() + s[1:]

    def distractor_pool(self, bank: "FactBank") -> list[str]:
        """Objects of the same type as this fact's object (same relation), excluding the answer."""
        pool = bank.diseases if self.relation == "indication" else OBJECTS_BY_RELATION[self.relation]
        return [o for o in pool if o != self.object]

    def to_dict(self) -> dict:
        return dataclasses.asdict(self)


def _unique_names(r: random.Random, n: int, make, exclude: frozenset[str] = frozenset()) -> list[str]:
    seen: set[str] = set(exclude)
    out: list[str] = []
    while len(out) < n:
        name = make()
        if name not in seen:
            seen.add(name)
            out.append(name)
    return out


class FactBank:
    """Deterministic fact bank: n_drugs x 3 + n_diseases x 3 facts, objects balanced per relation."""

    def __init__(self, seed: int, n_drugs: int = 50, n_diseases: int = 50, exclude: frozenset[str] = frozenset()):
        """`exclude`: names this bank must not use (another bank's entities); with none excluded the
        bank is a pure function of (seed, n_drugs, n_diseases)."""
        r = random.Random(f"factbank-{seed}")
        exclude = frozenset(exclude)
        if n_drugs + len(exclude) > N_DRUG_NAMES or n_diseases + len(exclude) > N_DISEASE_NAMES:
            raise ValueError(f"FactBank: at most {N_DRUG_NAMES} drugs and {N_DISEASE_NAMES} diseases can be named "
                             f"(asked for {n_drugs} / {n_diseases})")
        self.drugs = _unique_names(r, n_drugs, lambda: drug_name(r), exclude)
        self.diseases = _unique_names(r, n_diseases, lambda: disease_name(r), exclude)

        def balanced(pool: list[str], n: int) -> list[str]:
            objs = [pool[i % len(pool)] for i in range(n)]
            r.shuffle(objs)
            return objs

        facts: list[Fact] = []
        organ_of: dict[str, str] = {}
        for rel, objs in (("organ", balanced(ORGANS, n_diseases)), ("cause", balanced(CAUSES, n_diseases)),
                          ("symptom", balanced(SYMPTOMS, n_diseases))):
            for d, o in zip(self.diseases, objs):
                if rel == "organ":
                    organ_of[d] = o
                sub = {"organ": "anatomie", "cause": "infektiologie"}.get(rel) or ORGAN_SUBDOMAIN[organ_of[d]]
                facts.append(Fact(len(facts), d, "disease", rel, o, sub))
        for rel, objs in (("drug_class", balanced(DRUG_CLASSES, n_drugs)),
                          ("side_effect", balanced(SIDE_EFFECTS, n_drugs)),
                          ("indication", balanced(self.diseases, n_drugs))):
            for drug, o in zip(self.drugs, objs):
                sub = "pharmakologie" if rel != "indication" else ORGAN_SUBDOMAIN[organ_of[o]]
                facts.append(Fact(len(facts), drug, "drug", rel, o, sub))
        self.facts = facts
        self.organ_of = organ_of

    def __len__(self) -> int:
        return len(self.facts)

    def by_subdomain(self) -> dict[str, list[Fact]]:
        """Facts that documents of each medical subdomain may state (a fact can appear in several)."""
        out: dict[str, list[Fact]] = {}
        for f in self.facts:
            topics = {f.subdomain}
            if f.subject_type == "disease":
                topics.add(ORGAN_SUBDOMAIN[self.organ_of[f.subject]])
            if f.relation == "indication":
                topics.add("pharmakologie")
            if f.relation == "cause" and f.object in ("Bakterien", "Viren", "Pilze", "Parasiten", "Prionen"):
                topics.add("infektiologie")
            for t in topics:
                out.setdefault(t, []).append(f)
        return out

    def to_records(self) -> list[dict]:
        return [f.to_dict() for f in self.facts]

    def facts_of(self, subject: str) -> list[Fact]:
        return [f for f in self.facts if f.subject == subject]

    @property
    def subjects(self) -> list[str]:
        return self.drugs + self.diseases


PROFILE_TITLES = ("{s}: das Wichtigste im Überblick", "Steckbrief {s}", "Was ist {s}?", "{s} kurz erklärt",
                  "Lexikon: {s}")


def profile_text(facts: list[Fact], r: random.Random, restate: float = 0.5) -> str:
    """An encyclopedia-style entry about one entity: every fact of it, each in a random training
    phrasing, in shuffled order, the full name in every sentence; with probability `restate` a fact is
    stated a second time in another phrasing. Facts read in such varied form (paraphrased, permuted,
    the name in each sentence) are the ones a model can later extract in question answering (Allen-Zhu
    and Li, Physics of Language Models 3.1)."""
    sents = []
    for f in facts:
        ks = r.sample(range(len(RELATIONS[f.relation].train)), 2)
        sents.append(f.sentence(ks[0]))
        if r.random() < restate:
            sents.append(f.sentence(ks[1]))
    r.shuffle(sents)
    return r.choice(PROFILE_TITLES).format(s=facts[0].subject) + "\n\n" + " ".join(sents)
