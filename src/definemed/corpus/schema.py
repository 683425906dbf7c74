"""FineWeb2's document schema (the fields docs/paper-facts.md lists), and the ground-truth schema of our corpus."""
from __future__ import annotations

import pyarrow as pa

FINEWEB2_FIELDS = ["text", "id", "dump", "url", "date", "file_path", "language", "language_score",
                   "language_script", "minhash_cluster_size", "top_langs"]

FINEWEB2_SCHEMA = pa.schema([
    ("text", pa.string()), ("id", pa.string()), ("dump", pa.string()), ("url", pa.string()),
    ("date", pa.string()), ("file_path", pa.string()), ("language", pa.string()),
    ("language_score", pa.float64()), ("language_script", pa.string()),
    ("minhash_cluster_size", pa.int64()), ("top_langs", pa.string()),
])

# Ground truth the generator knows and a real crawl does not. Only stages that may see it read it:
# the expert-annotation file (01, 02) and the filter's evaluation against the truth (03, tiny only).
TRUTH_SCHEMA = pa.schema([
    ("id", pa.string()), ("topic", pa.string()), ("domain", pa.string()), ("is_medical", pa.int8()),
    ("n_sentences", pa.int32()), ("n_words", pa.int32()), ("n_pretokens", pa.int32()),
    ("n_english_sentences", pa.int16()), ("typo_noisy", pa.bool_()), ("n_typos", pa.int32()),
    ("n_typo_eligible", pa.int32()), ("fact_ids", pa.list_(pa.int32())),
])

EXPERT_SCHEMA = pa.schema([
    ("id", pa.string()), ("label", pa.int8()), ("label_a", pa.int8()), ("label_b", pa.int8()),
    ("agree", pa.bool_()),
])
