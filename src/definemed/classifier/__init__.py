"""Stage 02: the XLM-RoBERTa medical classifier (fine-tuning, early stopping on F-beta, threshold study).

Heavy modules (train, inference, stage) import torch / transformers; `metrics` is pure numpy.
"""
