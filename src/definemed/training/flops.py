"""Model FLOPs utilisation: achieved model FLOPs per second over the device's peak (dense bf16).

Model FLOPs per token follow the PaLM appendix / torchtitan: 6 * N (non-embedding parameters) for
the matmuls of forward and backward, plus 12 * layers * hidden * seq_len for attention scores, plus
6 * vocab * hidden for the LM head's matmul when `vocab` is given (the head is a matmul over the
whole vocabulary whether or not it is tied to the embeddings; the embedding lookup is not: Qwen2.5's
152k x 3,584 head is 3.3 GFLOP of its 47 per token).
Activation recomputation is not counted (that would be hardware FLOPs, not model FLOPs).
"""
from __future__ import annotations

# Dense bf16 tensor-core peak FLOP/s per device (vendor datasheets, without sparsity).
PEAK_BF16_FLOPS = {
    "A100": 312e12,
    "H100 SXM": 989e12, "H100 NVL": 835e12, "H100 PCIe": 756e12, "H100": 989e12,
    "H200": 989e12,
    "B200": 2250e12,
    "L40S": 362e12, "L40": 181e12, "L4": 121e12,
    "A10G": 70e12, "A10": 125e12, "A40": 150e12, "A30": 165e12,
    "RTX 4090": 165e12, "RTX 3090": 71e12,
    "MI250X": 383e12, "MI300X": 1307e12,
}


def peak_flops(device_name: str | None) -> float | None:
    """Peak bf16 FLOP/s of a device named like torch.cuda.get_device_name(), or None if unknown."""
    if not device_name:
        return None
    name = device_name.upper()
    for key in sorted(PEAK_BF16_FLOPS, key=len, reverse=True):  # most specific first
        if key.upper() in name:
            return PEAK_BF16_FLOPS[key]
    return None


def flops_per_token(n_params_non_embedding: int, n_layers: int, hidden: int, seq_len: int, vocab: int = 0) -> float:
    return 6.0 * (n_params_non_embedding + vocab * hidden) + 12.0 * n_layers * hidden * seq_len


def mfu(tokens_per_second_per_device: float, fpt: float, peak: float | None) -> float | None:
    return None if not peak else tokens_per_second_per_device * fpt / peak
