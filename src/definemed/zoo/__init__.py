"""The foundation models of the study, as local Hugging Face folders: data/<profile>/zoo/<name>/.

tiny profile: small Mistral / Qwen2 stand-ins built here from the synthetic corpus (tokenizers,
pretraining, instruction tuning; see docs/zoo.md). paper profile: the real instruct models resolved
from the hub with pinned revisions, safetensors only.

    from definemed.zoo import model_dir, load_model
    model = load_model(model_dir(cfg, "qwen2.5-7b-tiny"))
"""
from __future__ import annotations



def __getattr__(name: str):
    """Lazy: `python -m definemed <command>` imports every stage package's cli, and importing the zoo's
    builder pulls in torch and transformers (about 2 s), which a command such as `merge` never uses."""
    if name == "model_dir":
        from definemed.zoo.build import model_dir

        return model_dir
    if name in ("check_model_folder", "load_model", "load_tokenizer"):
        from definemed.zoo import model

        return getattr(model, name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


__all__ = ["check_model_folder", "load_model", "load_tokenizer", "model_dir"]
