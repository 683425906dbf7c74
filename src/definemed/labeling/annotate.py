"""Stage 01's engine: LLM annotation of German web documents.

`run_label_stage(cfg)` draws the seeded sample (all expert-annotated documents included), labels it
with the configured backend (openai | transformers | lexicon stand-in), appending one record per
document to data/<p>/01_label/parts/ as it arrives (an interrupted run resumes where it stopped), and
writes data/<p>/01_label/labels.parquet (docs/CONTRACTS.md) when every document has a label.
"""
from __future__ import annotations

import hashlib
import os
import re
import shutil
import time
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq
from definemed.progress import tqdm

from definemed import artifacts, io, paths
from definemed.config import Config
from definemed.corpus.loader import is_blank
from definemed.errors import DefinemedError
from definemed.labeling.backends.base import Annotator, Doc
from definemed.labeling.prompt import load_prompt, resolve, truncate
from definemed.labeling.sample import sample_hash, select_documents
from definemed.labeling.store import INVALID_MARK, Record, RecordStore

LABELS_SCHEMA = pa.schema([("id", pa.string()), ("label", pa.int8()), ("prob", pa.float32()),
                           ("raw", pa.string()), ("backend", pa.string()), ("latency_s", pa.float32())])

_DE = {"der", "die", "das", "und", "ist", "nicht", "mit", "von", "zu", "den", "ein", "eine", "sich", "auf",
       "für", "im", "des", "dem", "wird", "sind", "bei", "auch", "oder", "nach"}
_EN = {"the", "and", "is", "of", "to", "in", "that", "with", "for", "are", "it", "this", "was", "be", "on",
       "by", "or", "not", "as", "from", "at", "an", "can", "which"}


def looks_german(text: str) -> bool:
    """Cheap function-word vote: False when English function words outnumber German ones."""
    words = re.findall(r"[a-zäöüß]+", text.lower()[:4000])
    de = sum(map(_DE.__contains__, words))
    en = sum(map(_EN.__contains__, words))
    return de >= en or (de + en) < 3


def prepare(ids, texts, max_chars: int) -> tuple[list[Doc], list[Doc]]:
    """(documents to label, empty documents). Texts are cut to the budget; non-German ones are noted."""
    todo, empty = [], []
    for i, t in zip(ids, texts):
        t = t or ""
        if is_blank(t):  # "", whitespace, a lone ":": no model sees it; counted as n_empty
            empty.append(Doc(i, "", ("empty document",)))
            continue
        notes = () if looks_german(t) else ("not German",)
        todo.append(Doc(i, truncate(t, max_chars), notes))
    return todo, empty


def make_annotator(cfg: Config, prompt=None) -> Annotator:
    """The configured backend, with the prompt file loaded and validated."""
    lc = cfg.label
    prompt = prompt or load_prompt(lc.prompt_file, lc.positive_word, lc.negative_word)
    words = (lc.positive_word, lc.negative_word)
    if lc.backend == "lexicon":
        from definemed.labeling.backends.lexicon import LexiconAnnotator

        return LexiconAnnotator(prompt, *words, lexicon_file=lc.lexicon.lexicon_file, threshold=lc.lexicon.threshold,
                                slope=lc.lexicon.slope, max_count_per_term=lc.lexicon.max_count_per_term)
    if lc.backend == "openai":
        from definemed.labeling.backends.openai_chat import OpenAIAnnotator

        o = lc.openai
        key = None
        if o.api_key_env:
            key = os.environ.get(o.api_key_env)
            if not key:
                raise DefinemedError(f"label.openai.api_key_env: environment variable {o.api_key_env} is not set")
        return OpenAIAnnotator(prompt, *words, base_url=o.base_url, model=lc.model, api_key=key,
                               concurrency=o.concurrency, timeout_s=o.timeout_s, retries=o.retries,
                               backoff_s=o.backoff_s, backoff_max_s=o.backoff_max_s, parse_retries=o.parse_retries,
                               max_tokens=o.max_tokens, temperature=o.temperature, logprobs=o.logprobs,
                               top_logprobs=o.top_logprobs, max_consecutive_failures=o.max_consecutive_failures,
                               seed=cfg.seed)
    from definemed.labeling.backends.transformers_lm import TransformersAnnotator

    t = lc.transformers
    path = t.model_path or lc.model
    if not Path(path).is_absolute() and (paths.ROOT / path).exists():
        path = str(paths.ROOT / path)
    return TransformersAnnotator.from_pretrained(
        prompt, *words, path, dtype=t.dtype, device=t.device, trust_remote_code=cfg.models.trust_remote_code,
        batch_size=t.batch_size, max_prompt_tokens=t.max_prompt_tokens, decision_threshold=lc.decision_threshold)


def _file_sha(path: str) -> str:
    f = resolve(path)
    return hashlib.sha256(f.read_bytes()).hexdigest()[:16] if f.is_file() else "missing"


def fingerprint(cfg: Config, annotator: Annotator, ids) -> dict:
    """What decides the labels: a resume with a different fingerprint is refused."""
    lc = cfg.label
    fp = {"backend": lc.backend, "prompt_sha256": annotator.prompt.sha256[:16], "prompt_version": annotator.prompt.version,
          "max_chars": lc.max_chars, "words": [lc.positive_word, lc.negative_word], "sample": sample_hash(ids),
          "n_docs": len(ids)}
    if lc.backend == "lexicon":
        fp["lexicon"] = {"sha256": _file_sha(lc.lexicon.lexicon_file), "threshold": lc.lexicon.threshold,
                         "slope": lc.lexicon.slope, "max_count": lc.lexicon.max_count_per_term}
    else:
        fp["model"] = lc.transformers.model_path or lc.model if lc.backend == "transformers" else lc.model
        fp["decision_threshold"] = lc.decision_threshold
    return fp


def label_documents(ids: list[str], texts: list[str], annotator: Annotator, out_dir: Path, fp: dict, *,
                    max_chars: int, flush_every: int = 1024, max_failed_share: float = 0.0,
                    max_invalid_share: float = 1.0, on_settings_change: str = "refuse") -> dict:
    """Label documents into `out_dir` (parts/ + labels.parquet), resuming from earlier parts.

    Returns counts. Raises DefinemedError (nothing final written) if documents got no answer and their
    share exceeds `max_failed_share`; the records of the others stay, so a rerun labels only those.
    Likewise if the share of invalid replies (no label) exceeds `max_invalid_share`; then the rerun
    asks the invalid documents again (marker file `too_many_invalid.json`).
    """
    if len(set(ids)) != len(ids):
        raise DefinemedError("document ids: duplicates in the sample")
    t0 = time.time()
    store = RecordStore(out_dir, fp, flush_every, on_settings_change)
    mark = out_dir / INVALID_MARK
    done = store.done(retry_invalid=mark.exists())
    resumed = sum(i in done for i in ids)
    todo, empty = prepare([i for i in ids], texts, max_chars)
    todo = [d for d in todo if d.id not in done]
    empty = [d for d in empty if d.id not in done]
    result = None
    with store, tqdm(total=len(todo) + len(empty), desc=f"labelling ({annotator.name})", unit="doc") as bar:
        def emit(rec: Record) -> None:
            store.append(rec)
            bar.update(1)

        for d in empty:
            emit(Record(d.id, -1, None, "", annotator.name, 0.0, "empty", 0, list(d.notes)))
        if todo:
            result = annotator.annotate(todo, emit)
    failed = result.failed if result else []
    records = store.done()
    if failed:
        share = len(failed) / len(ids)
        if share > max_failed_share:
            raise DefinemedError(
                f"{out_dir / 'parts'}: {len(failed)} of {len(ids)} documents got no answer after all retries "
                f"(e.g. {failed[0].error}); rerun to label only those, or raise label.openai.max_failed_share")
        for f in failed:  # accepted as invalid
            records[f.doc.id] = dict(id=f.doc.id, label=-1, prob=None, raw=f"<no answer: {f.error}>",
                                     backend=annotator.name, latency_s=0.0, status="failed", notes=list(f.doc.notes))
    missing = [i for i in ids if i not in records]
    if missing:
        raise DefinemedError(f"{out_dir / 'parts'}: {len(missing)} documents have no record (e.g. {missing[0]})")
    invalid = [records[i] for i in ids if records[i]["status"] == "invalid"]
    if len(invalid) > max_invalid_share * len(ids):
        reasons = pd.Series([(r.get("notes") or ["?"])[-1] for r in invalid]).value_counts()
        io.write_json(mark, {"n_invalid": len(invalid), "n_docs": len(ids), "reasons": reasons.to_dict()})
        raise DefinemedError(
            f"{out_dir / 'parts'}: {len(invalid)} of {len(ids)} replies were invalid "
            f"({len(invalid) / len(ids):.1%} > label.max_invalid_share {max_invalid_share:g}; most often: "
            f"{reasons.index[0]}); records kept, fix the server or prompt and rerun to ask those again")
    mark.unlink(missing_ok=True)
    df = pd.DataFrame([records[i] for i in ids])
    table = pa.table({
        "id": pa.array(df["id"], pa.string()),
        "label": pa.array(df["label"].astype(np.int8), pa.int8()),
        "prob": pa.array(pd.to_numeric(df["prob"], errors="coerce").astype(np.float32), pa.float32()),
        "raw": pa.array(df["raw"].astype(str), pa.string()),
        "backend": pa.array(df["backend"].astype(str), pa.string()),
        "latency_s": pa.array(df["latency_s"].astype(np.float32), pa.float32()),
    }, schema=LABELS_SCHEMA)
    with io.atomic_path(out_dir / "labels.parquet", suffix=".parquet") as tmp:
        pq.write_table(table, tmp, compression="zstd")
    notes = df["notes"].map(lambda n: n if isinstance(n, list) else [])
    status = df["status"].value_counts().to_dict()
    wall = time.time() - t0
    summary = {
        "backend": annotator.name, "annotator": annotator.describe(), "annotator_short": annotator.short_name(), "stand_in": annotator.is_stand_in,
        "n_docs": len(ids), "n_resumed": resumed, "n_labelled_now": len(todo) + len(empty) - len(failed),
        "n_medical": int((df["label"] == 1).sum()), "n_not_medical": int((df["label"] == 0).sum()),
        "n_invalid": int((df["label"] == -1).sum()), "n_unparsed": int(status.get("invalid", 0)),
        "n_empty": int(status.get("empty", 0)), "n_failed": len(failed),
        "n_not_german": int(notes.map(lambda n: "not German" in n).sum()),
        "n_truncated": int(sum(len(t or "") > max_chars for t in texts)),
        "medical_share": float((df["label"] == 1).mean()), "wall_time_s": round(wall, 2),
        "docs_per_s_this_run": round((len(todo) + len(empty)) / wall, 1) if wall > 0 else None,
        "mean_latency_s": float(df["latency_s"].astype(float).mean()),
    }
    io.write_json(out_dir / "summary.json", summary)
    return summary


def run_label_stage(cfg: Config, force: bool = False, corpus_dir: Path | None = None) -> dict:
    """Sample, label (resuming), and write data/<p>/01_label/labels.parquet; return the counts."""
    out = artifacts.stage_dir(cfg, artifacts.LABEL)
    annotator = make_annotator(cfg)  # validates the prompt, key variable and backend before any work
    sample = select_documents(corpus_dir or artifacts.stage_dir(cfg, artifacts.CORPUS), cfg.label.n_docs, cfg.seed)
    if force and out.exists():
        shutil.rmtree(out)  # only once the new run is known to be able to start
    ids = sample["id"].tolist()
    fp = fingerprint(cfg, annotator, ids)
    summary = label_documents(ids, sample["text"].tolist(), annotator, out, fp, max_chars=cfg.label.max_chars,
                              flush_every=cfg.label.flush_every, max_failed_share=cfg.label.openai.max_failed_share,
                              max_invalid_share=cfg.label.max_invalid_share,
                              on_settings_change=cfg.label.on_settings_change)
    summary["n_expert_docs"] = int(sample["is_expert"].sum())
    io.write_json(out / "summary.json", summary)
    return summary


def load_labels(cfg: Config) -> pd.DataFrame:
    f = artifacts.labels(cfg)
    if not f.exists():
        raise DefinemedError(f"{f}: no labels (run `python -m definemed label --profile {cfg.profile}`)")
    return pd.read_parquet(f)
