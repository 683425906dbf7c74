"""Forward-pass FLOPs of an encoder classifier, for the cost estimate of filtering the web.

Counts multiply-adds as 2 FLOPs: per layer and token 2 * (4 d^2 + 2 d f) for the projections and
feed-forward, plus 4 T d for attention scores and values over a sequence of T tokens; embeddings are
lookups (no FLOPs); the classification head (d^2 + 2 d) runs once per document.
"""
from __future__ import annotations


def encoder_flops_per_doc(hidden: int, layers: int, intermediate: int, tokens: float) -> float:
    d, f, t = hidden, intermediate, float(tokens)
    per_layer = 2 * (4 * d * d + 2 * d * f) * t + 4 * t * t * d
    head = 2 * (d * d + 2 * d)
    return layers * per_layer + head


def config_flops_per_doc(config, tokens: float) -> float:
    """The same from a transformers config (XLMRobertaConfig or compatible)."""
    return encoder_flops_per_doc(config.hidden_size, config.num_hidden_layers, config.intermediate_size, tokens)


def gpu_hours(n_docs: float, flops_per_doc: float, peak_flops: float, mfu: float) -> float:
    """GPU-hours to run `n_docs` forward passes at a model-FLOP utilisation `mfu` of `peak_flops`."""
    return n_docs * flops_per_doc / (peak_flops * mfu) / 3600.0
