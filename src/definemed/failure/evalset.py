"""Labelled sets that measure the detectors instead of assuming they work.

German texts come from the corpus generator (medical documents with invented drug and disease
names, noise switched off); noise is then planted with the corpus's own functions
(`corpus.noise.english_sentences`, `corpus.noise.add_typos`), so the labels are exact:

- language mixing: half of the texts get an English span of >= `min_span_words` words (a whole
  sentence, or a fragment spliced into a German sentence); the other half stay German, with medical
  Latin phrases, drug names or a short English loanword fragment below the span threshold inserted
  into some of them (these must NOT count);
- typos: every eligible word gets a typo with probability `eval_typo_rate`.

Two hand-written sets of real German clinical text (real drug names, Latin, compounds) from outside
our generator: REAL_DE (used while developing the heuristics: a sanity check; any flag there is a
false positive) and HELDOUT_DE (written after the heuristics were frozen, never tuned on; noise is
planted into it the same way: `heldout_sets`).
"""
from __future__ import annotations

import random
from collections import Counter

from definemed import numerics
from definemed.config import Config
from definemed.corpus.generator import CorpusGenerator
from definemed.corpus.noise import add_typos, english_sentences
from definemed.failure.text import sentences

LATIN_SENTENCES = [
    "Der Befund spricht für ein Ulcus ventriculi.",
    "Sonographisch zeigt sich eine Stenose der Arteria carotis interna.",
    "Es besteht ein Zustand nach Myokardinfarkt, Status post Stentimplantation.",
    "Die Patientin leidet an Diabetes mellitus Typ 2.",
    "Verdacht auf Herpes zoster im Bereich des Nervus trigeminus.",
    "Der Musculus quadriceps femoris ist deutlich atrophiert.",
    "Bei Colitis ulcerosa ist die Mucosa des Kolons entzündet.",
    "Die Gabe erfolgt per os, alternativ intravenös.",
]
LOANWORDS = ["Follow-up", "Screening", "Check-up", "Burnout", "Update", "Feedback", "Outcome", "Compliance"]

# Hand-written German clinical text: real drugs, Latin, long compounds, abbreviations; no planted noise.
REAL_DE = [
    "Metoprolol gehört zu den Betablockern und senkt die Herzfrequenz.",
    "Ramipril ist ein ACE-Hemmer, der häufig bei Bluthochdruck verordnet wird.",
    "Als Nebenwirkung von Ibuprofen treten vor allem Magenbeschwerden auf.",
    "Amoxicillin wird bei bakteriellen Infektionen der oberen Atemwege eingesetzt.",
    "Die Schilddrüsenunterfunktion wird meist mit Levothyroxin behandelt.",
    "Bei einer Lungenembolie ist eine sofortige Antikoagulation mit Heparin notwendig.",
    "Das EKG zeigte eine ST-Hebung in den Ableitungen II, III und aVF.",
    "Die Patientin wurde mit Verdacht auf Appendizitis in die Notaufnahme gebracht.",
    "Eine Herzinsuffizienz äußert sich häufig durch Atemnot und Wassereinlagerungen in den Beinen.",
    "Der Hausarzt empfahl eine Blutzuckerkontrolle und eine Ernährungsberatung.",
    "Omeprazol hemmt die Säureproduktion im Magen und schützt die Magenschleimhaut.",
    "Nach der Operation erhielt der Patient eine Thromboseprophylaxe mit Enoxaparin.",
    "Eine Nierenfunktionsstörung erfordert häufig eine Dosisanpassung vieler Medikamente.",
    "Die Lungenfunktionsprüfung ergab eine obstruktive Ventilationsstörung.",
    "Bei Vorhofflimmern steigt das Risiko für einen Schlaganfall deutlich an.",
    "Die Magnetresonanztomographie des Kopfes war unauffällig.",
    "Simvastatin senkt den LDL-Cholesterinspiegel und damit das kardiovaskuläre Risiko.",
    "Der Patient klagte über retrosternale Schmerzen mit Ausstrahlung in den linken Arm.",
    "Die Blutkultur ergab einen Nachweis von Staphylococcus aureus.",
    "Bei Morbus Crohn kann der gesamte Verdauungstrakt betroffen sein.",
    "Die Therapie der Wahl bei Asthma bronchiale sind inhalative Kortikosteroide.",
    "Eine Hypoglykämie kann sich durch Zittern, Schwitzen und Verwirrtheit zeigen.",
    "Das Ulcus duodeni wird häufig durch Helicobacter pylori verursacht.",
    "Paracetamol sollte bei Leberschäden nur in reduzierter Dosis gegeben werden.",
    "Die Kontrolluntersuchung ist in sechs Wochen geplant.",
    "Bei anhaltendem Fieber sollte eine ärztliche Abklärung erfolgen.",
    "Die Arteria femoralis wurde für die Herzkatheteruntersuchung punktiert.",
    "Eine Pneumonie wird klinisch und radiologisch diagnostiziert.",
    "Der Blutdruck lag bei 150 zu 95 mmHg, die Herzfrequenz bei 88 Schlägen pro Minute.",
    "Die Patientin verträgt das Medikament gut und berichtet über keine Nebenwirkungen.",
]

# Written after the detectors' heuristics were frozen and never used to tune them: the held-out
# check on real clinical German (no invented names). Noise is planted into it by the same functions.
HELDOUT_DE = [
    "Die Chemotherapie wurde wegen einer ausgeprägten Neutropenie um eine Woche verschoben.",
    "Bei Kindern unter zwei Jahren sollte Fieber vorzugsweise rektal gemessen werden.",
    "Eine depressive Episode wird nach ICD-10 anhand von Haupt- und Zusatzsymptomen eingeteilt.",
    "Nach der Cholezystektomie darf die Patientin wieder leichte Kost zu sich nehmen.",
    "Die Wundheilung verläuft komplikationslos, die Fäden können am zehnten Tag entfernt werden.",
    "Der HbA1c-Wert spiegelt den durchschnittlichen Blutzucker der letzten drei Monate wider.",
    "Eine Therapie mit Lithium erfordert regelmäßige Kontrollen des Serumspiegels.",
    "Bei Verdacht auf eine tiefe Beinvenenthrombose wird zunächst der D-Dimer-Test bestimmt.",
    "Die Mammographie wird Frauen zwischen fünfzig und neunundsechzig Jahren alle zwei Jahre angeboten.",
    "Eine Gürtelrose kann sehr schmerzhaft sein und sollte frühzeitig antiviral behandelt werden.",
    "Clopidogrel hemmt die Thrombozytenaggregation und wird nach einer Stentimplantation gegeben.",
    "Die Schwangere klagte über Ödeme an beiden Unterschenkeln und erhöhten Blutdruck.",
    "Eine Hyperkaliämie kann lebensbedrohliche Herzrhythmusstörungen auslösen.",
    "Der Kniegelenkerguss wurde punktiert und das Punktat mikrobiologisch untersucht.",
    "Bei Neurodermitis ist eine konsequente Hautpflege mit rückfettenden Cremes wichtig.",
    "Die Computertomographie des Thorax zeigte einen Rundherd im rechten Oberlappen.",
    "Salbutamol erweitert die Bronchien innerhalb weniger Minuten.",
    "Die Nachsorge nach einem Darmkrebs umfasst regelmäßige Koloskopien und Tumormarker.",
    "Eine Anämie zeigt sich häufig durch Blässe, Müdigkeit und eingeschränkte Belastbarkeit.",
    "Der Patient wurde über Nutzen und Risiken der Narkose ausführlich aufgeklärt.",
    "Bei einer allergischen Reaktion mit Atemnot muss sofort Adrenalin verabreicht werden.",
    "Die Sehschärfe des linken Auges hat sich nach der Kataraktoperation deutlich verbessert.",
    "Eine Schilddrüsenüberfunktion äußert sich oft durch Unruhe, Gewichtsverlust und Herzklopfen.",
    "Die Dosis von Prednisolon wird über mehrere Wochen schrittweise reduziert.",
    "Im Ultraschall fanden sich mehrere Gallensteine ohne Zeichen einer Entzündung.",
    "Das Neugeborene wurde wegen einer Gelbsucht für zwei Tage mit Lichttherapie behandelt.",
    "Die Physiotherapie soll die Beweglichkeit der Schulter nach der Operation wiederherstellen.",
    "Ein Harnwegsinfekt bei Männern gilt grundsätzlich als kompliziert.",
    "Die Blutgasanalyse ergab eine respiratorische Azidose.",
    "Bitte nehmen Sie die Tabletten morgens nüchtern mit einem Glas Wasser ein.",
]


def clean_texts(cfg: Config, n: int, seed: int) -> list[str]:
    """n German texts of 2 to 5 sentences from noise-free medical documents of the corpus generator."""
    ccfg = cfg.corpus.model_copy(update={"english_doc_share": 0.0, "typo_doc_share": 0.0, "medical_share": 1.0,
                                         "borderline_share": 0.0, "long_tail_share": 0.0})
    gen = CorpusGenerator(ccfg, cfg.seed)  # the profile's fact bank; `seed` picks the documents
    r = random.Random(f"failure-eval-{seed}")
    out = []
    while len(out) < n:
        doc = gen.document(r, len(out))
        body = doc.record["text"].split("\n\n", 1)[-1]  # drop the title
        sents = sentences(body)
        if len(sents) < 2:
            continue
        k = r.randint(2, min(5, len(sents)))
        i = r.randrange(len(sents) - k + 1)
        out.append(" ".join(sents[i:i + k]))
    return out


def _splice(sentence: str, fragment: str, r: random.Random) -> str:
    ws = sentence.rstrip(".").split(" ")
    i = r.randint(1, max(1, len(ws) - 1))
    return " ".join(ws[:i] + [fragment] + ws[i:]) + "."


def mixing_set(cfg: Config, n: int, seed: int) -> list[dict]:
    """n labelled texts: {text, label (1 = mixed), kind, planted}."""
    r = random.Random(f"failure-mixing-{seed}")
    texts = clean_texts(cfg, n, seed)
    m = cfg.failure.min_span_words
    out = []
    for t in texts:
        sents = sentences(t)
        u = r.random()
        if u < 0.25:  # a whole English sentence
            en = english_sentences(r, 1)[0]
            sents.insert(r.randrange(len(sents) + 1), en)
            out.append({"text": " ".join(sents), "label": 1, "kind": "english_sentence", "planted": en})
        elif u < 0.5:  # an English fragment of >= m words inside a German sentence
            ws = english_sentences(r, 1)[0].rstrip(".").split(" ")
            k = min(len(ws), r.randint(m, m + 3))
            a = r.randrange(len(ws) - k + 1)
            frag = " ".join(ws[a:a + k])
            j = r.randrange(len(sents))
            sents[j] = _splice(sents[j], frag, r)
            out.append({"text": " ".join(sents), "label": 1, "kind": "english_fragment", "planted": frag})
        elif u < 0.7:  # medical Latin
            lat = r.choice(LATIN_SENTENCES)
            sents.insert(r.randrange(len(sents) + 1), lat)
            out.append({"text": " ".join(sents), "label": 0, "kind": "medical_latin", "planted": lat})
        elif u < 0.8:  # a loanword, below the span threshold
            lw = r.choice(LOANWORDS)
            j = r.randrange(len(sents))
            sents[j] = _splice(sents[j], lw, r)
            out.append({"text": " ".join(sents), "label": 0, "kind": "loanword", "planted": lw})
        else:
            out.append({"text": t, "label": 0, "kind": "german", "planted": ""})
    return out


def typo_set(cfg: Config, n: int, seed: int) -> list[dict]:
    """n texts with typos planted by corpus.noise.add_typos at eval_typo_rate: {text, planted, eligible}."""
    r = random.Random(f"failure-typos-{seed}")
    out = []
    for t in clean_texts(cfg, n, seed + 1):
        noisy, planted, eligible = add_typos(t, cfg.failure.eval_typo_rate, r)
        out.append({"text": noisy, "planted": [p[1] for p in planted], "eligible": eligible})
    return out


def _prf(tp: int, fp: int, fn: int) -> dict:
    r = numerics.rates(tp, fp, fn)
    return {"precision": r["precision"], "recall": r["recall"], "f1": r["f1"], "tp": tp, "fp": fp, "fn": fn}


def evaluate_mixing(detector, items: list[dict]) -> tuple[dict, list[dict]]:
    """Answer-level precision and recall; also the flag rate per kind of text."""
    rows = []
    for it in items:
        v = detector.detect(it["text"])
        rows.append({**it, "flag": v.flag, "evidence": "; ".join(v.evidence)})
    tp = sum(r["flag"] and r["label"] for r in rows)
    fp = sum(r["flag"] and not r["label"] for r in rows)
    fn = sum((not r["flag"]) and r["label"] for r in rows)
    res = {"n": len(rows), "positives": sum(r["label"] for r in rows), **_prf(tp, fp, fn)}
    for kind in sorted({r["kind"] for r in rows}):
        ks = [r for r in rows if r["kind"] == kind]
        res[f"flag_rate_{kind}"] = sum(r["flag"] for r in ks) / len(ks)
    return res, rows


def evaluate_typos(detector, items: list[dict]) -> tuple[dict, list[dict]]:
    """Word-level precision and recall (flagged words against planted misspellings), answer-level too,
    and the share of planted typos that happen to be German words (no dictionary can see those)."""
    tp = fp = fn = 0
    atp = afp = afn = 0
    real_words = 0
    rows = []
    for it in items:
        v = detector.detect(it["text"])
        flagged = Counter(v.details.get("typos", []))
        planted = Counter(it["planted"])
        hit = sum((flagged & planted).values())
        tp += hit
        fp += sum(flagged.values()) - hit
        fn += sum(planted.values()) - hit
        real_words += sum(1 for p in it["planted"] if p.lower() in detector.de)
        has, flag = bool(it["planted"]), v.flag
        atp += has and flag
        afp += flag and not has
        afn += has and not flag
        rows.append({**it, "flagged": list(flagged.elements())})
    res = {"n": len(items), "planted": tp + fn, **_prf(tp, fp, fn),
           **{f"answer_{k}": v for k, v in _prf(atp, afp, afn).items() if k in ("precision", "recall", "f1")},
           "planted_real_word_share": real_words / max(tp + fn, 1)}
    return res, rows


def false_positives_on(detector, texts: list[str]) -> dict:
    """Flags on text that carries no planted noise (every flag is a false positive)."""
    flags = [detector.detect(t) for t in texts]
    return {"n": len(texts), "flagged": sum(v.flag for v in flags),
            "evidence": [e for v in flags for e in v.evidence]}


def heldout_sets(cfg: Config, seed: int) -> tuple[list[dict], list[dict]]:
    """HELDOUT_DE in texts of two sentences, with noise planted as in mixing_set / typo_set:
    (mixing items, typo items). Half of the mixing texts get an English sentence."""
    r = random.Random(f"failure-heldout-{seed}")
    texts = [" ".join(HELDOUT_DE[i:i + 2]) for i in range(0, len(HELDOUT_DE) - 1)]
    mix = []
    for k, t in enumerate(texts):
        if k % 2:
            en = english_sentences(r, 1)[0]
            mix.append({"text": f"{t} {en}", "label": 1, "kind": "english_sentence", "planted": en})
        else:
            mix.append({"text": t, "label": 0, "kind": "german", "planted": ""})
    typo = []
    for t in texts:
        noisy, planted, eligible = add_typos(t, cfg.failure.eval_typo_rate, r)
        typo.append({"text": noisy, "planted": [p[1] for p in planted], "eligible": eligible})
    return mix, typo
