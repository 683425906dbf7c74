"""Stage 00, the web corpus: `stage.run(cfg)` writes it (synthetic, hub or local source); `factbank`,
`generator` and `vocab` make the synthetic German text; `loader` reads shards; `report` shows them."""
from __future__ import annotations

from definemed.corpus.factbank import FactBank


def fact_bank(cfg) -> FactBank:
    """The profile's bank of invented medical facts (a pure function of the seed and corpus sizes)."""
    return FactBank(cfg.seed, cfg.corpus.n_drugs, cfg.corpus.n_diseases)
