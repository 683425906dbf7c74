"""Paper-profile benchmark loaders: public files -> our task format (see questions.py). No loading
script and no pickle is run; each source is one file at a pinned commit, fetched with
`huggingface_hub.hf_hub_download` and parsed here against a recorded schema.

- MMLU-de: `LumiOpen/opengpt-x_mmlux`, a script-free mirror of openGPT-X/mmlux (now Eurolingua/mmlux,
  a loading-script dataset): one JSONL file per subject and split, `hendrycks_<subject>_DE_<split>.jsonl`,
  records {question: str, choices: [str] x 4, answer: int 0-3, id: str} (MMLUX_SCHEMA).
- MedQA-de: `BioMistral/BioInstructQA`, whose loading script datasets 5.x refuses; its archive
  `data.zip` holds the translations as plain JSON, `langs_processed/German-full.json`: a list of
  {identifier, corpus_name, question_translated, options_translated: {letter: text},
  correct_answer_letter, ...} (BIOINSTRUCTQA_SCHEMA lists the fields read; the script's own reader
  uses the same ones). Only `corpus_name == "MedQA"` items are kept, by default only 4-option items.
  German has only a test split: the few-shot examples are `n_dev` items held out of it (seeded).

A record that lacks a field or has another type stops the run with a message naming the file and the
record (`check_schema`), so a change upstream fails loudly instead of scoring garbage.
"""
from __future__ import annotations

import json
import re
import zipfile
from pathlib import Path
from typing import Callable, Iterable

from definemed.errors import DefinemedError
from definemed.evaluation.questions import LETTERS, validate_item

_OPTION_LINE = re.compile(r"^\s*\(?([A-E])[\).:]\s*(.+?)\s*$")


def _answer_index(ans, n: int, where: str) -> int:
    if isinstance(ans, str) and ans.strip().upper() in LETTERS[:n] and len(ans.strip()) == 1:
        return LETTERS.index(ans.strip().upper())
    try:
        return int(ans)
    except (TypeError, ValueError):
        raise DefinemedError(f"{where}: answer {ans!r} is neither an index nor a letter") from None


def mmlux_record(rec: dict, subject: str, i: int, source: str = "openGPT-X/mmlux") -> dict:
    """One mmlux record -> task item."""
    where = f"{source} {subject}_DE: record {i}"
    for f in ("question", "choices", "answer"):
        if f not in rec:
            raise DefinemedError(f"{where}: missing field '{f}'")
    choices = list(rec["choices"]) if rec["choices"] is not None else None
    item = {"id": str(rec.get("id", f"{subject}-{i}")), "subject": subject, "question": rec["question"],
            "choices": choices, "answer": _answer_index(rec["answer"], len(choices or []), where),
            "fact_id": -1, "relation": ""}
    return validate_item(item, where)


def parse_options(opts, where: str) -> list[str]:
    """BioInstructQA options: {letter: text}, [text, ...] or 'A. text\\nB. text' -> ordered texts."""
    if isinstance(opts, dict):
        keys = sorted(k for k in opts if opts[k] is not None)
        if keys != list(LETTERS[: len(keys)]):
            raise DefinemedError(f"{where}: option keys {keys} are not A, B, C ...")
        return [str(opts[k]) for k in keys]
    if isinstance(opts, (list, tuple)):
        return [str(o) for o in opts]
    if isinstance(opts, str):
        found = [_OPTION_LINE.match(line) for line in opts.splitlines() if line.strip()]
        if not found or any(m is None for m in found):
            raise DefinemedError(f"{where}: options text is not 'A. ...' lines")
        letters = [m.group(1) for m in found]
        if letters != list(LETTERS[: len(letters)]):
            raise DefinemedError(f"{where}: option letters {letters} out of order")
        return [m.group(2) for m in found]
    raise DefinemedError(f"{where}: options of type {type(opts).__name__} not understood")


def bioinstructqa_record(rec: dict, i: int, source: str = "BioMistral/BioInstructQA") -> dict:
    """One BioInstructQA record (German fields) -> task item."""
    where = f"{source}: record {i}"
    for f in ("question_translated", "options_translated", "correct_answer_letter"):
        if f not in rec or rec[f] is None:
            raise DefinemedError(f"{where}: missing field '{f}'")
    choices = parse_options(rec["options_translated"], where)
    letter = str(rec["correct_answer_letter"]).strip().upper()
    if letter not in LETTERS[: len(choices)] or len(letter) != 1:
        raise DefinemedError(f"{where}: correct_answer_letter {rec['correct_answer_letter']!r} "
                             f"out of range for {len(choices)} options")
    item = {"id": str(rec.get("identifier", rec.get("id", f"medqa-{i}"))), "subject": "medqa",
            "question": rec["question_translated"], "choices": choices, "answer": LETTERS.index(letter),
            "fact_id": -1, "relation": ""}
    return validate_item(item, where)


def medqa_items(records: Iterable[dict], corpus_name: str = "MedQA", n_options: int | None = 4) -> list[dict]:
    """The German MedQA items of a BioInstructQA split (other corpora and option counts skipped)."""
    out = []
    for i, rec in enumerate(records):
        if rec.get("corpus_name") != corpus_name:
            continue
        item = bioinstructqa_record(rec, i)
        if n_options and len(item["choices"]) != n_options:
            continue
        out.append(item)
    if not out:
        raise DefinemedError(f"BioInstructQA: no {corpus_name} items with {n_options} options")
    return out


MMLUX_SCHEMA = {"question": str, "choices": list, "answer": int, "id": str}
BIOINSTRUCTQA_SCHEMA = {"identifier": (str, int), "corpus_name": str, "question_translated": str,
                        "options_translated": dict, "correct_answer_letter": str}


def check_schema(rec, schema: dict, where: str) -> dict:
    """`rec` has every field of `schema` with the recorded type; else one error naming the field."""
    if not isinstance(rec, dict):
        raise DefinemedError(f"{where}: record is a {type(rec).__name__}, not an object")
    for field, typ in schema.items():
        if field not in rec:
            raise DefinemedError(f"{where}: missing field '{field}' (recorded schema: {', '.join(schema)})")
        if not isinstance(rec[field], typ) or isinstance(rec[field], bool):
            raise DefinemedError(f"{where}: field '{field}' is {type(rec[field]).__name__}, recorded schema says "
                                 f"{getattr(typ, '__name__', typ)}")
    return rec


def fetch_file(repo: str, filename: str, revision: str, allow_unpinned: bool = False,
               download: Callable | None = None) -> Path:
    """One file of a hub dataset repository at a pinned revision (cached by huggingface_hub)."""
    from definemed.pins import require_pinned

    require_pinned(f"evaluate: {repo}", repo, revision, allow_unpinned)
    if download is None:
        from huggingface_hub import hf_hub_download as download
    try:
        return Path(download(repo_id=repo, filename=filename, repo_type="dataset", revision=revision))
    except Exception as e:  # noqa: BLE001 - the hub client raises many types
        raise DefinemedError(f"{repo}@{revision}/{filename}: could not download ({type(e).__name__}: {e})") from None


def read_jsonl(path: Path, schema: dict) -> list[dict]:
    out = []
    for n, line in enumerate(Path(path).read_text(encoding="utf-8").splitlines(), 1):
        if line.strip():
            try:
                rec = json.loads(line)
            except json.JSONDecodeError:
                raise DefinemedError(f"{path}:{n}: malformed JSON line") from None
            out.append(check_schema(rec, schema, f"{Path(path).name}:{n}"))
    if not out:
        raise DefinemedError(f"{path}: no records")
    return out


def read_zip_json(path: Path, member: str, schema: dict) -> list[dict]:
    """A JSON list inside a zip archive (read as text; nothing in the archive is executed or unpickled)."""
    try:
        with zipfile.ZipFile(path) as z:
            names = z.namelist()
            match = [n for n in names if n == member or n.endswith("/" + member)]
            if not match:
                raise DefinemedError(f"{path}: no member {member} (has {len(names)} files)")
            data = json.loads(z.read(match[0]).decode("utf-8"))
    except (zipfile.BadZipFile, json.JSONDecodeError, UnicodeDecodeError) as e:
        raise DefinemedError(f"{path}!{member}: unreadable ({type(e).__name__}: {e})") from None
    if not isinstance(data, list) or not data:
        raise DefinemedError(f"{path}!{member}: expected a non-empty JSON list")
    return [check_schema(r, schema, f"{member}: record {i}") for i, r in enumerate(data)]


def mmlu_de(e, subject: str, split: str, allow_unpinned: bool = False, download: Callable | None = None) -> list[dict]:
    """Task items of one MMLU-de subject and split."""
    name = e.mmlu_file.format(subject=subject, suffix=e.mmlu_config_suffix, split=split)
    recs = read_jsonl(fetch_file(e.mmlu_dataset, name, e.mmlu_revision, allow_unpinned, download), MMLUX_SCHEMA)
    return [mmlux_record(r, subject, i, e.mmlu_dataset) for i, r in enumerate(recs)]


def medqa_de(e, seed: int, allow_unpinned: bool = False, download: Callable | None = None) -> tuple[list[dict], list[dict]]:
    """(test, dev) items of German MedQA; dev = `n_dev` seeded items held out of the only German split."""
    from definemed.seed import rng

    path = fetch_file(e.medqa_dataset, e.medqa_file, e.medqa_revision, allow_unpinned, download)
    items = medqa_items(read_zip_json(path, e.medqa_member, BIOINSTRUCTQA_SCHEMA), e.medqa_corpus_name, e.medqa_n_options)
    if len(items) <= e.n_dev:
        raise DefinemedError(f"{e.medqa_dataset}: {len(items)} MedQA items, too few to hold out {e.n_dev} few-shot examples")
    dev_idx = set(rng(seed, "evaluate", "medqa-dev").choice(len(items), size=e.n_dev, replace=False).tolist())
    return [it for i, it in enumerate(items) if i not in dev_idx], [it for i, it in enumerate(items) if i in dev_idx]


def hub_question_sets(cfg, download: Callable | None = None):
    """The paper profile's question sets (MMLU-de per subject, MedQA-de) and win-rate questions."""
    from definemed.evaluation.questions import QuestionSet
    from definemed.seed import rng

    from definemed.config import pin_allowed

    e = cfg.evaluate
    sets = []
    for subject in e.mmlu_subjects:
        test = mmlu_de(e, subject, e.mmlu_test_split, pin_allowed(cfg, "evaluate.mmlu_revision"), download)
        dev = mmlu_de(e, subject, e.mmlu_dev_split, pin_allowed(cfg, "evaluate.mmlu_revision"), download)
        sets.append((QuestionSet(f"mmlu_de_{subject}", test, dev[: e.n_dev]), "mmlu"))
    test, dev = medqa_de(e, cfg.seed, pin_allowed(cfg, "evaluate.medqa_revision"), download)
    sets.append((QuestionSet("medqa_de", test, dev), "medqa"))
    pick = _winrate_pick(cfg, len(test))
    wr = [{"qid": f"wr-{test[i]['id']}", "question": test[i]["question"], "reference": test[i]["choices"][test[i]["answer"]],
           "pool": [c for j, c in enumerate(test[i]["choices"]) if j != test[i]["answer"]], "fact_id": -1,
           "relation": "", "subject": ""} for i in pick]
    return sets, wr


def _winrate_pick(cfg, n_test: int) -> list[int]:
    """Indices of the MedQA-de test items stage 06 asks as open win-rate questions (seeded)."""
    from definemed.seed import rng

    g = rng(cfg.seed, "evaluate", "winrate")
    return sorted(g.choice(n_test, size=min(cfg.evaluate.winrate_n_questions, n_test), replace=False).tolist())


def heldout_questions(cfg, n: int, download: Callable | None = None) -> list[str]:
    """`n` German medical questions (MedQA-de, question text only) that stage 06 does not ask as open
    win-rate questions: the paper profile's chat prompts for stage 05's instruction-format rate (seeded
    sample; fewer when fewer remain)."""
    from definemed.config import pin_allowed
    from definemed.seed import rng

    test, _dev = medqa_de(cfg.evaluate, cfg.seed, pin_allowed(cfg, "evaluate.medqa_revision"), download)
    asked = set(_winrate_pick(cfg, len(test)))
    rest = [i for i in range(len(test)) if i not in asked]
    if not rest:
        raise DefinemedError("merge.format_prompts: every MedQA-de question is a win-rate question; none is held out")
    take = rng(cfg.seed, "merge", "heldout-prompts").permutation(len(rest))[:n]
    return [test[rest[i]]["question"] for i in sorted(take.tolist())]
