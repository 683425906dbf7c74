"""Paper-profile benchmark loaders: public dataset records -> our task format (see questions.py).

- MMLU-de: `openGPT-X/mmlux`, configs `<subject>_DE`, splits test / dev / validation; records
  {question, choices, answer, id} (answer an index 0-3, or a letter in some exports).
- MedQA-de: `BioMistral/BioInstructQA` German items; records {question_translated, options_translated,
  correct_answer_letter, corpus_name}; options as a {letter: text} mapping, a list, or "A. ..." lines.
  Only `corpus_name == "MedQA"` items are kept, and by default only 4-option items (the 4-option MedQA
  is the field's usual variant). The exact schema of these dumps is not documented; the loaders accept
  the variants above and reject anything else with a clear error.
"""
from __future__ import annotations

import re
from typing import Iterable

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


def load_hub(dataset: str, config: str | None, split: str) -> list[dict]:
    """Records of a hub dataset split (paper profile; needs network or a populated HF cache)."""
    import datasets

    try:
        ds = datasets.load_dataset(dataset, config, split=split)
    except Exception as e:  # noqa: BLE001 - datasets raises many types
        raise DefinemedError(f"{dataset} ({config}, {split}): could not load ({type(e).__name__}: {e})") from None
    return [dict(r) for r in ds]
