"""Medical terminology the detectors must not count: drug names, medical Latin, corpus terms.

Three sources, all lowercase:
- the fact bank's entities and objects (invented drugs, "Morbus <Name>" diseases),
- a hand-written list of medical Latin words, clinical short forms and units, and drug-name suffixes
  (INN stems such as -olol, -pril),
- the corpus vocabulary: words the German dictionary does not know that occur at least `min_count`
  times in data/<p>/03_filter (FineMed-de) or, before stage 03 exists, data/<p>/00_corpus shards,
  minus words that look like a misspelling of a far more frequent word (the corpus has typos too).
"""
from __future__ import annotations

import json
from collections import Counter
from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path

import pyarrow.parquet as pq

from definemed import artifacts, io
from definemed.config import Config
from definemed.errors import DefinemedError
from definemed.failure.lexicon import GermanWords, edits1, german_words  # noqa: F401 (re-exported)
from definemed.failure.text import words


# Medical Latin (anatomy, pathology, prescriptions) that German clinical text uses untranslated.
MEDICAL_LATIN = frozenset("""
arteria arteriae vena venae nervus nervi musculus musculi ligamentum ossis ossa corpus corporis
caput collum cor cordis pectoris angina ulcus ulcera ventriculi duodeni carcinoma karzinom status
mellitus diabetes insipidus morbus communis interna internus externa externus dexter dextra sinister
sinistra anterior posterior superior inferior lateralis medialis profundus superficialis hepatis
renis pulmonis cerebri cerebelli spinalis vertebra vertebrae thoracis abdominis femoris tibiae
fibulae radii ulnae humeri cutis mucosa gastritis hepatitis nephritis appendicitis bronchitis
pneumonia pneumonie cholezystitis colitis ulcerosa crohn lupus erythematodes sclerosis multiplex
herpes zoster influenza tinea pedis pes planus hallux valgus genu varum valgum situs inversus vitium
cordis exitus letalis carotis aorta femoralis radialis brachialis subclavia jugularis saphena portae pulmonalis coronaria
mitralis tricuspidalis vagus ischiadicus medianus ulnaris trigeminus facialis opticus biceps triceps
quadriceps deltoideus gastrocnemius pankreas pancreas hepar lien thyreoidea hypophysis cortex medulla
oblongata ventrikel atrium atrii sinus nodus bronchus bronchien alveolen alveoli pleura peritoneum
aureus coli pylori pneumoniae epidermidis streptococcus staphylococcus escherichia candida albicans
helicobacter clostridium difficile mycobacterium tuberculosis
mediastinum retroperitoneum thorax abdomen perikard pericardium myokard endokard epikard
anamnese diagnose therapie prognose indikation kontraindikation symptom
syndrom
ramus rami truncus plexus tractus ductus canalis foramen fossa sulcus gyrus lobus lobi processus os
ileum ilei jejunum jejuni colon coli caecum cecum rectum recti sigma sigmoideum ascendens descendens
transversum bulbus fundus antrum corpus cavum cava vesica fellea urinaria uteri cervix ovarii tuba
glandula lingua larynx pharynx trachea oesophagus ösophagus mamma axilla inguinalis cubiti genus
manus carpi tarsi digiti hallucis pollicis capitis cruris brachii antebrachii lumbalis sacralis
cervicalis thoracica abdominalis renalis hepatica lienalis mesenterica iliaca poplitea tibialis
dorsalis plantaris palmaris venosum venosus arteriosus arteriosum chronica acuta vulgaris simplex
minor major maximus minimus longus brevis rectus obliquus
""".split())

# Suffixes of international nonproprietary drug names (WHO INN stems) and our invented drugs.
DRUG_SUFFIXES = ("olol", "pril", "sartan", "statin", "mab", "nib", "cillin", "mycin", "floxacin", "azol",
                 "prazol", "dipin", "parin", "profen", "oxetin", "tidin", "semid", "thiazid", "cyclin",
                 "vir", "afil", "triptan", "zepam", "azepam", "barbital", "caine", "kain", "cort", "ison",
                 "olon", "formin", "gliptin", "gliflozin", "platin", "rubicin", "taxel", "ixan", "oran",
                 "ibet", "usal", "enor", "adin", "ivel", "omet", "alux", "ernid",
                 # more WHO INN stems: factor-Xa and thrombin inhibitors, antiplatelets, beta-2
                 # agonists, anticholinergics, erythropoietins, butyrophenones, setrons, leukotriene
                 # antagonists, bisphosphonates, GLP-1 agonists, CDK inhibitors
                 "xaban", "gatran", "grel", "grelor", "terol", "tropium", "poetin", "peridol", "setron",
                 "lukast", "dronat", "glutid", "ciclib", "tinib")

# Clipped forms and units clinicians write (Thrombos, Duplexsono, Reha; mmol, kcal).
CLINICAL_SHORT = frozenset("""
thrombo thrombos leukos erys sono duplexsono echo reha kardio neuro pulmo gastro onko chemo physio ergo
logo intensiv pneu hypo hyper anti reani kortiko mmol µmol nmol pmol mosmol kcal mval
""".split())


def is_drug_like(word: str) -> bool:
    w = word.lower()
    return len(w) >= 6 and w.endswith(DRUG_SUFFIXES)


@lru_cache(maxsize=4)
def bank_terms(seed: int, n_drugs: int, n_diseases: int) -> frozenset[str]:
    """Lowercase words of every fact-bank subject and object."""
    from definemed.corpus.factbank import FactBank

    bank = FactBank(seed, n_drugs, n_diseases)
    out: set[str] = set()
    for f in bank.facts:
        out.update(w.lower() for w in words(f.subject))
        out.update(w.lower() for w in words(f.object))
    return frozenset(out)


@lru_cache(maxsize=2)
def german_dictionary():
    """pyspellchecker's German dictionary (ships in the wheel; no download)."""
    from spellchecker import SpellChecker

    return SpellChecker(language="de", distance=1)


@lru_cache(maxsize=1)
def english_dictionary():
    from spellchecker import SpellChecker

    return SpellChecker(language="en", distance=1)


def corpus_shards(cfg: Config) -> tuple[str, list[Path]]:
    """Shards of FineMed-de (stage 03) if it ran, else of the raw corpus (stage 00)."""
    for stage, d in ((artifacts.FILTER, artifacts.finemed_shards(cfg)), (artifacts.CORPUS, artifacts.corpus_shards(cfg))):
        files = sorted(d.glob("shard-*.parquet"))
        if files:
            return stage, files
    raise DefinemedError(
        f"{artifacts.corpus_shards(cfg)}: no corpus shards to build the medical allow-list "
        "from (run `python -m definemed corpus` first)")


def corpus_counts(files: list[Path], max_docs: int) -> Counter:
    """Lowercase word counts over the `text` column of at most max_docs documents."""
    c: Counter = Counter()
    seen = 0
    for f in files:
        pf = pq.ParquetFile(f)
        if "text" not in pf.schema_arrow.names:
            raise DefinemedError(f"{f}: no 'text' column")
        for batch in pf.iter_batches(columns=["text"], batch_size=1000):
            for t in batch.column(0).to_pylist()[: max_docs - seen]:
                c.update(w.lower() for w in words(t or ""))
                seen += 1
            if seen >= max_docs:
                return c
    return c


_edits1 = edits1  # the name the detectors import


def derive_allowlist(counts: Counter, min_count: int, typo_ratio: float) -> list[str]:
    """Words unknown to the German dictionary, frequent in the corpus, and not one edit away from a
    word at least `typo_ratio` times more frequent (which would make them a recurring misspelling)."""
    known = german_dictionary().known
    cand = [w for w, n in counts.items() if n >= min_count and len(w) >= 3]
    unknown = set(cand) - known(cand)
    out = []
    for w in sorted(unknown):
        n = counts[w]
        if any(counts.get(v, 0) >= typo_ratio * n for v in _edits1(w)):
            continue
        out.append(w)
    return out


@dataclass
class Terms:
    """The terminology the detectors skip. `corpus` are corpus-derived words, `fixed` the rest."""

    fixed: frozenset[str]
    corpus: frozenset[str] = field(default_factory=frozenset)
    source: str = "none"

    def is_term(self, word: str) -> bool:
        w = word.lower()
        return w in self.fixed or w in self.corpus or is_drug_like(w)

    def is_fixed_term(self, word: str) -> bool:
        """Terms that are never ordinary English: the bank, medical Latin, drug-like names."""
        w = word.lower()
        return w in self.fixed or is_drug_like(w)


def load_terms(cfg: Config, use_corpus: bool = True) -> Terms:
    """The allow-list for a profile; the corpus part is cached in data/<p>/07_failure_analysis/."""
    fixed = frozenset(MEDICAL_LATIN | CLINICAL_SHORT | bank_terms(cfg.seed, cfg.corpus.n_drugs, cfg.corpus.n_diseases))
    if not use_corpus:
        return Terms(fixed)
    fc = cfg.failure
    stage, files = corpus_shards(cfg)
    key = {"stage": stage, "files": [f.name for f in files], "min_count": fc.allowlist_min_count,
           "typo_ratio": fc.allowlist_typo_ratio, "max_docs": fc.allowlist_max_docs}
    cache = artifacts.failure_dir(cfg) / "allowlist.json"
    if cache.exists():
        data = json.loads(cache.read_text(encoding="utf-8"))
        if data.get("key") == key:
            return Terms(fixed, frozenset(data["words"]), stage)
    counts = corpus_counts(files, fc.allowlist_max_docs)
    allow = derive_allowlist(counts, fc.allowlist_min_count, fc.allowlist_typo_ratio)
    io.write_json(cache, {"key": key, "n_words": len(allow), "words": allow})
    return Terms(fixed, frozenset(allow), stage)
