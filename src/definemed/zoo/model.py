"""Tiny Mistral / Qwen2 configurations and the one safe way to open a model folder.

Model folders are loaded from safetensors only: a folder without `*.safetensors` is an error, and a
`.bin` pickle lying next to the weights is never read (`use_safetensors=True`).
"""
from __future__ import annotations

from pathlib import Path

from definemed.config import ZooModelSize
from definemed.errors import DefinemedError
from definemed.zoo.tokenizer import check_family


def model_config(arch: str, size: ZooModelSize, vocab_size: int, ids: dict, max_positions: int,
                 tie_word_embeddings: bool = True):
    """A transformers config of the family `arch` ('mistral' or 'qwen2') and the given shape."""
    check_family(arch)
    if size.hidden_size % size.num_heads or size.num_heads % size.num_kv_heads:
        raise DefinemedError(f"zoo size: hidden_size {size.hidden_size} must divide into num_heads "
                             f"{size.num_heads}, which must divide into num_kv_heads {size.num_kv_heads}")
    common = dict(
        vocab_size=vocab_size, hidden_size=size.hidden_size, intermediate_size=size.intermediate_size,
        num_hidden_layers=size.num_layers, num_attention_heads=size.num_heads,
        num_key_value_heads=size.num_kv_heads, max_position_embeddings=max_positions,
        tie_word_embeddings=tie_word_embeddings, bos_token_id=ids["bos"], eos_token_id=ids["eos"],
        pad_token_id=ids["pad"], rms_norm_eps=1e-6, rope_theta=1_000_000.0, initializer_range=0.02,
        use_cache=True,
    )
    if arch == "mistral":
        from transformers import MistralConfig

        return MistralConfig(sliding_window=None, head_dim=size.hidden_size // size.num_heads, **common)
    from transformers import Qwen2Config

    return Qwen2Config(use_sliding_window=False, sliding_window=None, **common)


def new_model(config):
    from transformers import AutoModelForCausalLM

    return AutoModelForCausalLM.from_config(config)


def n_params(model) -> int:
    """Distinct parameters (tied embeddings counted once)."""
    return sum(p.numel() for p in model.parameters())


def check_model_folder(path: str | Path) -> Path:
    """Raise a clear error unless `path` is a model folder with a config and safetensors weights."""
    path = Path(path)
    if not path.is_dir():
        raise DefinemedError(f"{path}: model folder not found")
    if not (path / "config.json").is_file():
        raise DefinemedError(f"{path}: not a model folder (no config.json)")
    if not list(path.glob("*.safetensors")):
        pickles = sorted(p.name for p in path.iterdir() if p.suffix in (".bin", ".pt", ".pth", ".pkl", ".ckpt"))
        hint = f" (found {', '.join(pickles)}; pickled weights are never loaded)" if pickles else ""
        raise DefinemedError(f"{path}: no *.safetensors weights{hint}")
    return path


def load_model(path: str | Path, trust_remote_code: bool = False, dtype=None):
    """AutoModelForCausalLM from a local folder, safetensors only, in eval mode."""
    from transformers import AutoModelForCausalLM

    path = check_model_folder(path)
    model = AutoModelForCausalLM.from_pretrained(
        path, use_safetensors=True, trust_remote_code=trust_remote_code, local_files_only=True,
        **({"dtype": dtype} if dtype is not None else {}),
    )
    return model.eval()


def load_tokenizer(path: str | Path, trust_remote_code: bool = False):
    from transformers import AutoTokenizer

    path = Path(path)
    if not (path / "tokenizer.json").is_file() and not (path / "tokenizer.model").is_file():
        raise DefinemedError(f"{path}: no tokenizer (tokenizer.json or tokenizer.model)")
    return AutoTokenizer.from_pretrained(path, trust_remote_code=trust_remote_code, local_files_only=True)
