"""Stage 03: score every corpus document with the stage-02 classifier and keep P(medical) >= threshold.

Two engines over the same scorer: `filter_corpus` (shard by shard, resumable; what the notebook runs)
and a datatrove pipeline (`definemed.filtering.datatrove_step`) for the cluster.
"""
