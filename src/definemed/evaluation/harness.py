"""Multiple-choice scoring with EleutherAI lm-evaluation-harness (pinned 0.4.13) through its Python API.

The prompt templates are kept in the repository (`definemed/evaluation/tasks/_*_template_yaml`). For a
run, one small YAML per task is written to data/<profile>/06_evaluate/tasks/: it `include`s a template
and binds the task's local question files (`dataset_path: json`, `dataset_kwargs.data_files`). A
`TaskManager(include_path=<that folder>)` loads them, and `simple_evaluate` scores a local HF model
folder wrapped in lm-eval's `HFLM`. The same folder works with the lm-eval command line:

    lm_eval --model hf --model_args pretrained=data/tiny/zoo/qwen2.5-7b-tiny \
        --include_path data/tiny/06_evaluate/tasks --tasks mmlu_de_anatomie --log_samples ...
"""
from __future__ import annotations

import logging
import os
from unittest import mock
from pathlib import Path
from typing import Any

import pandas as pd

from definemed import io
from definemed.errors import DefinemedError

TEMPLATES = Path(__file__).resolve().parent / "tasks"
FORMATS = {"mc": "_mc_template_yaml", "cloze": "_cloze_template_yaml", "sentence": "_sentence_template_yaml"}

# lm-eval's MMLU task puts one `description` line before the (few-shot examples and the) question:
# "The following are multiple choice questions (with answers) about <subject>.\n\n"
# (lm_eval/tasks/mmlu/default/mmlu_<subject>.yaml). Our benchmarks are German, so the line is German,
# worded as lm-eval's own German MMLU (lm_eval/tasks/mmlu_prox, language "de") words it.
MC_DESCRIPTION = "Im Folgenden sind Multiple-Choice-Fragen (mit Antworten) zu {subject}.\n\n"
SUBJECT_NAMES = {
    # the paper's six MMLU-de subjects (hub source) and the MedQA task, in German
    "anatomy": "Anatomie", "clinical_knowledge": "klinischem Wissen", "college_biology": "Biologie (Hochschule)",
    "college_medicine": "Medizin (Hochschule)", "medical_genetics": "medizinischer Genetik",
    "professional_medicine": "Medizin (Beruf)", "medqa": "Medizin",
    # the tiny profile's subdomains
    "haematologie": "Hämatologie",
}


def subject_name(subject: str) -> str:
    """The German name of a benchmark subject for the description line (tiny subdomains capitalised)."""
    return SUBJECT_NAMES.get(subject, subject.replace("_", " ").capitalize())


def mc_description(subject: str) -> str:
    return MC_DESCRIPTION.format(subject=subject_name(subject))


def task_name(base: str, fmt: str) -> str:
    """mmlu_de_anatomie (mc), mmlu_de_anatomie_cloze, facts_de_heldout (sentence)."""
    return base if fmt in ("mc", "sentence") else f"{base}_{fmt}"


def write_task_yaml(tasks_dir: Path, base: str, fmt: str, files: dict[str, Path], group: str,
                    subject: str | None = None) -> str:
    """Write <tasks_dir>/<task>.yaml including the repository template of `fmt`; return the task name.
    The letter format gets lm-eval's MMLU description line about `subject` (default: the group)."""
    if fmt not in FORMATS:
        raise DefinemedError(f"evaluate.formats: unknown format '{fmt}' (have: {', '.join(FORMATS)})")
    name = task_name(base, fmt)
    spec = {
        "include": str(TEMPLATES / FORMATS[fmt]),
        "task": name,
        "tag": [f"{group}_{fmt}"],
        "dataset_kwargs": {"data_files": {k: str(Path(v).resolve()) for k, v in files.items()}},
    }
    if fmt == "mc":
        spec["description"] = mc_description(subject or group)
    io.write_yaml(tasks_dir / f"{name}.yaml", spec)
    return name


def portable_text(task_yaml: Path, stage_dir: Path) -> str:
    """A task YAML's text with its absolute paths (lm-eval's `include` and the datasets' `data_files`
    need them, since `data_files` resolve against the working folder) written relative to the stage
    folder and the template folder: what goes into a variant's fingerprint, so a moved or copied
    output tree resumes its finished variants instead of recomputing them."""
    text = task_yaml.read_text(encoding="utf-8")
    return text.replace(str(Path(stage_dir).resolve()), "<stage>").replace(str(TEMPLATES), "<templates>")


def task_manager(tasks_dir: Path):
    """lm-eval TaskManager over our task folder only (the built-in task index is not needed)."""
    from lm_eval.tasks import TaskManager

    return TaskManager(include_path=str(tasks_dir), include_defaults=False)


def load_model(model_dir: str | Path, trust_remote_code: bool = False, dtype: str = "float32", device: str = "cpu"):
    """Load a local HF causal-LM folder (safetensors only) and its tokenizer onto `device` in `dtype`
    (`backends.resolve_device_dtype` turns "auto" into cuda/bfloat16 or cpu/float32); clear error if it fails.
    `device="cuda"` places the model with device_map="auto" over every visible GPU (accelerate fills them
    in order: a 24B model in bf16, 47 GB, spans two A100-40); "cuda:N" puts it on that one GPU."""
    import torch
    from transformers import AutoModelForCausalLM, AutoTokenizer

    d = Path(model_dir)
    if not (d / "config.json").is_file():
        raise DefinemedError(f"{d}: not a Hugging Face model folder (no config.json)")
    if not any(d.glob("*.safetensors")):
        raise DefinemedError(f"{d}: no .safetensors weights (pickled .bin weights are not loaded)")
    try:
        tok = AutoTokenizer.from_pretrained(d, trust_remote_code=trust_remote_code)
        model = AutoModelForCausalLM.from_pretrained(d, use_safetensors=True, trust_remote_code=trust_remote_code,
                                                     dtype=getattr(torch, dtype), device_map=device_map(device))
    except Exception as e:  # transformers raises many types (OSError, ValueError, KeyError, safetensors errors)
        raise DefinemedError(f"{d}: model folder does not load ({type(e).__name__}: {str(e).splitlines()[0][:200]})") from None
    from definemed.finite import check_tensor

    with torch.no_grad():  # NaN / Inf weights (a diverged run) would give NaN scores that look like results
        for name, param in model.named_parameters():
            check_tensor(param.detach(), name, d)
    model.eval()
    if tok.pad_token is None:
        tok.pad_token = tok.eos_token
    return model, tok


def device_map(device: str) -> str:
    """transformers' device_map for an evaluation device: all visible GPUs for "cuda", else the device."""
    return "auto" if device == "cuda" else device


def wrap_hflm(model, tok, batch_size: int, max_length: int | None = None):
    """lm-eval's HFLM around an already-loaded model (so we control how it was loaded)."""
    from lm_eval.models.huggingface import HFLM

    n_pos = getattr(model.config, "max_position_embeddings", None)
    return HFLM(pretrained=model, tokenizer=tok, batch_size=batch_size, device=str(model.device),
                max_length=max_length or n_pos)


def load_tasks(tasks_dir: Path, names: list[str]) -> list:
    """Build lm-eval Task objects once (each loads its local question files); `evaluate_tasks` can reuse
    them for every model instead of rebuilding and reloading the datasets per model."""
    return list(task_manager(tasks_dir).load(names)["tasks"].values())


def evaluate_tasks(lm, tasks: list, tasks_dir: Path, num_fewshot: int, seed: int,
                   bootstrap_iters: int = 1000) -> dict[str, Any]:
    """Run lm-eval's simple_evaluate on our tasks (names, or Task objects from `load_tasks`);
    returns its result dict (with per-sample logs)."""
    import lm_eval

    import lm_eval.evaluator

    os.environ.setdefault("HF_DATASETS_OFFLINE", "1")
    logging.getLogger("lm_eval").setLevel(logging.ERROR)
    # lm-eval's add_env_info shells out to pip / nvidia-smi (torch collect_env) on every call, about 2 s;
    # the stage manifest records packages and hardware once, so a light version is used here.
    # lm-eval draws its bars with plain tqdm (one stderr output per redraw in an executed notebook):
    # definemed.progress.tqdm is the same bar on a terminal and none in a kernel.
    import lm_eval.api.model
    import lm_eval.api.task
    import lm_eval.models.huggingface

    from definemed.progress import tqdm

    with mock.patch.object(lm_eval.evaluator, "add_env_info", _light_env_info), \
            mock.patch.object(lm_eval.models.huggingface, "tqdm", tqdm), \
            mock.patch.object(lm_eval.api.task, "tqdm", tqdm), mock.patch.object(lm_eval.api.model, "tqdm", tqdm):
        res = lm_eval.simple_evaluate(
            model=lm, tasks=tasks, num_fewshot=num_fewshot, task_manager=task_manager(tasks_dir),
            log_samples=True, bootstrap_iters=bootstrap_iters, random_seed=seed, numpy_random_seed=seed,
            torch_random_seed=seed, fewshot_random_seed=seed,
        )
    if res is None:
        raise DefinemedError("lm-eval returned no results (not rank 0?)")
    return res


def _light_env_info(storage: dict) -> None:
    import platform

    import transformers

    storage.update({"transformers_version": transformers.__version__, "python": platform.python_version(),
                    "env_info": "see data/<profile>/manifests/06_evaluate.json"})


def summary_rows(res: dict, variant: str, num_fewshot: int) -> list[dict]:
    """One row per task: acc, acc_stderr, acc_norm, acc_norm_stderr, n."""
    rows = []
    for task, m in res["results"].items():
        n = res.get("n-samples", {}).get(task, {}).get("effective")
        rows.append({"variant": variant, "task": task, "num_fewshot": num_fewshot, "n": n,
                     "acc": m.get("acc,none"), "acc_stderr": _num(m.get("acc_stderr,none")),
                     "acc_norm": m.get("acc_norm,none"), "acc_norm_stderr": _num(m.get("acc_norm_stderr,none"))})
    return rows


def _num(x) -> float:
    try:
        return float(x)
    except (TypeError, ValueError):
        return float("nan")


def sample_rows(res: dict, variant: str, num_fewshot: int) -> pd.DataFrame:
    """Per-question log-likelihoods from lm-eval's sample logs: one row per (task, question)."""
    rows = []
    for task, samples in res.get("samples", {}).items():
        for s in samples:
            lls = [float(r[0]) for r in s["filtered_resps"]]
            doc = s["doc"]
            rows.append({
                "variant": variant, "task": task, "num_fewshot": num_fewshot, "doc_id": int(s["doc_id"]),
                "id": doc.get("id"), "fact_id": int(doc.get("fact_id") if doc.get("fact_id") is not None else -1), "relation": doc.get("relation", ""),
                "answer": int(s["target"]), "loglik": lls, "pred": int(max(range(len(lls)), key=lls.__getitem__)),
                "acc": float(s["acc"]), "acc_norm": float(s["acc_norm"]),
                "prompt": s["arguments"][0][0] if s.get("arguments") else "",
            })
    return pd.DataFrame(rows)
