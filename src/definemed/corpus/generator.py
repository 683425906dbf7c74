"""Seeded generator of the synthetic German web corpus (the tiny profile's FineWeb2-de).

One shard is one independent random stream (seed, shard index), so shards can be generated in any
order, in parallel or resumed, and the same seed and size give byte-identical files.
"""
from __future__ import annotations

import json
import math
import random
import re
import string
from dataclasses import dataclass

from definemed.config import CorpusConfig
from definemed.corpus import vocab
from definemed.corpus.factbank import PROFILE_TITLES, FactBank
from definemed.corpus.noise import add_typos

_PRETOKEN = re.compile(r"\w+|[^\w\s]")
_DUMPS = ["CC-MAIN-2023-14", "CC-MAIN-2023-40", "CC-MAIN-2024-10", "CC-MAIN-2024-18", "CC-MAIN-2024-33"]


def _slots(fmt: str) -> tuple[str, ...]:
    return tuple(f for _, f, _, _ in string.Formatter().parse(fmt) if f)


_FRAMES = [(f, _slots(f)) for f in vocab.FRAMES]


def _lower_first(s: str) -> str:
    return s[0].lower() + s[1:]


def _cap(s: str) -> str:
    return s[0].upper() + s[1:]


@dataclass
class Doc:
    record: dict
    truth: dict


class CorpusGenerator:
    def __init__(self, cfg: CorpusConfig, seed: int):
        self.cfg = cfg
        self.seed = seed
        self.bank = FactBank(seed, cfg.n_drugs, cfg.n_diseases)
        self.facts_by_topic = self.bank.by_subdomain()
        shares = [cfg.medical_share, cfg.borderline_share, max(0.0, 1 - cfg.medical_share - cfg.borderline_share)]
        self.domain_cum = [sum(shares[: i + 1]) for i in range(3)]

    # -- sentences -------------------------------------------------------------------------
    def _frame(self, r: random.Random, lex: dict) -> str:
        fmt, slots = r.choice(_FRAMES)
        v = {}
        for s in slots:
            if s == "np":
                v[s] = _cap(r.choice(lex["np"]))
            elif s == "np_l":
                v[s] = r.choice(lex["np"])
            elif s == "time":
                v[s] = r.choice(vocab.TIMES)
            elif s == "time_l":
                v[s] = _lower_first(r.choice(vocab.TIMES))
            elif s == "place":
                v[s] = r.choice(lex["place"])
            elif s == "place_l":
                v[s] = _lower_first(r.choice(lex["place"]))
            elif s == "v3":
                v[s] = r.choice(vocab.V3)
            elif s == "v3p":
                v[s] = r.choice(vocab.V3P)
            else:
                v[s] = r.choice(lex[s])
        return _cap(fmt.format(**v))

    def _title(self, r: random.Random, lex: dict) -> str:
        obj = _cap(r.choice(lex["obj"]).split(" ", 1)[-1])
        return r.choice([f"{obj}: was {r.choice(lex['npl'])} wissen sollten",
                         f"Ratgeber: {obj}", f"{obj} im Überblick", f"Neues über {obj}"])

    # -- documents ---------------------------------------------------------------------------
    def _n_sentences(self, r: random.Random) -> int:
        if r.random() < self.cfg.long_tail_share:
            return min(600, int(150 + 100 * r.paretovariate(1.5)))
        return max(2, round(r.lognormvariate(math.log(10), 0.75)))

    def document(self, r: random.Random, index: int) -> Doc:
        cfg = self.cfg
        u = r.random()
        domain = "medical" if u < self.domain_cum[0] else "borderline" if u < self.domain_cum[1] else "general"
        topic = r.choice({"medical": vocab.MEDICAL, "borderline": vocab.BORDERLINE, "general": vocab.GENERAL}[domain])
        lex = vocab.LEX[topic]
        n = self._n_sentences(r)
        facts = self.facts_by_topic.get(topic, []) if domain == "medical" else []
        noisy = r.random() < cfg.typo_doc_share
        sentences: list[str] = []
        fact_ids: list[int] = []
        n_typos = n_eligible = 0
        plan: list = [None] * n  # a Fact to state, or None for a topic sentence
        title = None
        if facts and r.random() < cfg.profile_doc_share:
            # an encyclopedia-style entry: every fact of one entity, some twice, in shuffled order
            subject = r.choice(facts).subject
            own = [f for f in self.bank.facts if f.subject == subject]
            plan = own + [f for f in own if r.random() < 0.5] + [None] * max(1, n // 3)
            r.shuffle(plan)
            title = r.choice(PROFILE_TITLES).format(s=subject)
        elif facts:
            plan = [r.choice(facts) if r.random() < cfg.fact_sentence_share else None for _ in range(n)]
        for f in plan:
            u = r.random()
            if f is not None:
                s = f.sentence(r.randrange(5))
                fact_ids.append(f.fact_id)
            elif u < (0.55 if facts else 0.7):
                s = r.choice(lex["sent"])
            else:
                s = self._frame(r, lex)
            if noisy:
                s, planted, eligible = add_typos(s, cfg.typo_word_rate, r)
                n_typos += len(planted)
                n_eligible += eligible
            sentences.append(s)
        n_en = 0
        if r.random() < cfg.english_doc_share:
            n_en = r.randint(1, 3)
            for _ in range(n_en):
                sentences.insert(r.randrange(len(sentences) + 1), r.choice(vocab.ENGLISH))
        if r.random() < 0.3:
            sentences.append(r.choice(vocab.BOILER))
        paras, i = [], 0
        while i < len(sentences):
            k = r.randint(2, 6)
            paras.append(" ".join(sentences[i:i + k]))
            i += k
        text = (title or self._title(r, lex)) + "\n\n" + "\n\n".join(paras)

        uid = r.getrandbits(128)
        h = f"{uid:032x}"
        doc_id = f"<urn:uuid:{h[:8]}-{h[8:12]}-{h[12:16]}-{h[16:20]}-{h[20:]}>"
        dump = r.choice(_DUMPS)
        year = dump[8:12]
        date = f"{year}-{r.randint(1, 12):02d}-{r.randint(1, 28):02d}T{r.randint(0, 23):02d}:{r.randint(0, 59):02d}:00Z"
        host = r.choice(vocab.DOMAINS[domain])
        lang_score = round(max(0.5, 1.0 - 0.04 * n_en - r.random() * 0.05), 4)
        record = {
            "text": text,
            "id": doc_id,
            "dump": dump,
            "url": f"https://www.{host}/{topic}/artikel-{h[:10]}",
            "date": date,
            "file_path": f"s3://commoncrawl/crawl-data/{dump}/segments/{h[10:23]}/warc/CC-MAIN-{h[23:31]}.warc.gz",
            "language": "deu",
            "language_score": lang_score,
            "language_script": "Latn",
            "minhash_cluster_size": 1 + int(r.expovariate(0.7)),
            "top_langs": json.dumps({"deu_Latn_score": lang_score}),
        }
        words = text.split()
        truth = {
            "id": doc_id, "topic": topic, "domain": domain, "is_medical": int(domain == "medical"),
            "n_sentences": len(sentences), "n_words": len(words),
            "n_pretokens": len(_PRETOKEN.findall(text)),
            "n_english_sentences": n_en, "typo_noisy": noisy, "n_typos": n_typos,
            "n_typo_eligible": n_eligible, "fact_ids": fact_ids,
        }
        return Doc(record, truth)

    def shard(self, shard_index: int, n_docs: int) -> list[Doc]:
        r = random.Random(f"corpus-{self.seed}-{shard_index}")
        return [self.document(r, k) for k in range(n_docs)]
