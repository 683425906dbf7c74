"""The detectors on real German text: clinical letters (GraSCCo) and web documents (FineWeb2).

The development half of `shared/realtext/` (README there: sources and licences) sits beside the
repository (`<repo>/../shared/realtext`, or DEFINEMED_REALTEXT_DIR); when it is absent the report is
skipped and says so. Per set and detector it measures:

- typos: flags per 1,000 words; precision on a seeded sample of at most `SAMPLE` flags against the
  hand labels in `realtext_labels.jsonl` (beside this module); recall on the genuine errors the labels
  know (every flag of the earlier, broader detector was read, so those are the letters' real errors
  that were found); recall on typos planted into the letters with the corpus's own noise function;
- language mixing: documents flagged; precision over the flagged documents against the labels
  (a document label says whether it holds genuinely non-German running text);
- sentence splitting (letters): errors in a seeded sample of at most `SAMPLE` boundaries inside a line.

Labels (one JSON object a line): `{"set", "doc", "detector": "typo", "item": <word>, "label": 0|1}`,
`{"set", "doc", "detector": "mixing", "label": 0|1}` and `{"set", "doc", "detector": "split",
"item": "<left>|<right>", "label": 0|1}` (1 = a genuine typo / genuine foreign text / a correct
boundary). The rules used to assign them are in docs/failure.md ("Real text"). A flag without a
label is counted as `unlabelled` and left out of the precision (never guessed).
"""
from __future__ import annotations

import json
import os
import random
from collections import Counter
from pathlib import Path

from definemed import paths
from definemed.errors import DefinemedError
from definemed.failure.text import WORD, sentences

SETS = {"letters": "letters_dev.jsonl", "web": "web_dev.jsonl"}
LABELS_FILE = Path(__file__).with_name("realtext_labels.jsonl")
SAMPLE = 50
"""Flags (and sentence boundaries) checked per set: a seeded sample of this many."""
PLANT_RATE = 0.02
"""Share of the letters' 4+-letter words given a planted typo (corpus.noise.add_typos) to measure recall."""


def realtext_dir() -> Path:
    return Path(os.environ.get("DEFINEMED_REALTEXT_DIR") or paths.ROOT.parent / "shared" / "realtext")


def load_realtext(folder: str | Path | None = None) -> dict[str, list[dict]] | None:
    """{set: [{"doc", "text", "medical"?}]} or None when the folder is absent; a bad line is a
    one-line error naming the file and line."""
    folder = Path(folder) if folder else realtext_dir()
    if not folder.is_dir():
        return None
    out = {}
    for name, fname in SETS.items():
        p = folder / fname
        if not p.is_file():
            raise DefinemedError(f"{p}: real-text set missing")
        docs = []
        for n, line in enumerate(p.read_text(encoding="utf-8").splitlines(), 1):
            if not line.strip():
                continue
            try:
                r = json.loads(line)
            except json.JSONDecodeError:
                raise DefinemedError(f"{p}:{n}: not a JSON object") from None
            if not isinstance(r, dict) or not isinstance(r.get("text"), str):
                raise DefinemedError(f"{p}:{n}: needs a 'text' string")
            doc = r.get("id") if r.get("id") is not None else r.get("row")
            docs.append({"doc": str(doc if doc is not None else n), "text": r["text"], "medical": r.get("medical")})
        out[name] = docs
    return out


def load_labels(path: str | Path = LABELS_FILE) -> dict[tuple, int]:
    """{(set, doc, detector, item): label}; item is "" for document labels."""
    path = Path(path)
    if not path.is_file():
        raise DefinemedError(f"{path}: real-text labels not found")
    out = {}
    for n, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1):
        if not line.strip():
            continue
        try:
            r = json.loads(line)
        except json.JSONDecodeError:
            raise DefinemedError(f"{path}:{n}: not a JSON object") from None
        if r.get("detector") not in ("typo", "mixing", "split") or r.get("label") not in (0, 1):
            raise DefinemedError(f"{path}:{n}: needs 'detector' (typo, mixing, split) and 'label' 0 or 1")
        out[(r["set"], str(r["doc"]), r["detector"], r.get("item", ""))] = int(r["label"])
    return out


def boundaries(text: str, width: int = 25) -> list[str]:
    """Sentence boundaries inside a line, as "<left context>|<right context>" (the label key)."""
    out = []
    for line in text.splitlines():
        ss = sentences(line)
        for a, b in zip(ss, ss[1:]):
            out.append(f"{a[-width:]}|{b[:width]}")
    return out


def _sample(items: list, n: int, seed: int) -> list:
    return random.Random(seed).sample(items, n) if len(items) > n else list(items)


def _precision(keys: list[tuple], labels: dict) -> dict:
    lab = [labels[k] for k in keys if k in labels]
    return {"checked": len(lab), "unlabelled": len(keys) - len(lab), "correct": sum(lab),
            "precision": sum(lab) / len(lab) if lab else None}


def measure(typos, language, docs: dict[str, list[dict]], labels: dict, seed: int) -> dict:
    """Every real-text number of the report (see the module docstring); `typos` and `language` are the
    stage-07 detectors."""
    from definemed.corpus.noise import add_typos

    res: dict = {}
    for name, items in docs.items():
        words = flags = 0
        typo_keys, flagged_docs, examples = [], [], []
        for d in items:
            v = typos.detect(d["text"])
            words += len(WORD.findall(d["text"]))
            flags += v.details.get("n_typos", 0)
            typo_keys += [(name, d["doc"], "typo", w) for w in v.details.get("typos", [])]
            examples += [(d["doc"], e) for e in v.evidence]
            if language.detect(d["text"]).flag:
                flagged_docs.append(d["doc"])
        sample = _sample(typo_keys, SAMPLE, seed)
        genuine = {k for k, lab in labels.items() if k[0] == name and k[2] == "typo" and lab == 1}
        found = Counter(k for k in typo_keys if k in genuine)
        r = {"n_docs": len(items), "words": words, "typo_flags": flags,
             "typo_per_1000": 1000.0 * flags / max(words, 1),
             "typo_sample": _precision(sample, labels),
             "typo_genuine_known": len(genuine), "typo_genuine_found": len(found),
             "typo_recall_genuine": len(found) / len(genuine) if genuine else None,
             "typo_flagged_words": sorted(Counter(k[3] for k in typo_keys).items(), key=lambda x: -x[1])[:40],
             "mixing_flagged_docs": flagged_docs,
             "mixing": _precision([(name, doc, "mixing", "") for doc in flagged_docs], labels)}
        mix_pos = {k[1] for k, lab in labels.items() if k[0] == name and k[2] == "mixing" and lab == 1}
        r["mixing_false_docs"] = [doc for doc in flagged_docs if labels.get((name, doc, "mixing", "")) == 0]
        r["mixing_genuine_known"] = len(mix_pos)
        r["mixing_recall_known"] = len(mix_pos & set(flagged_docs)) / len(mix_pos) if mix_pos else None
        if name == "letters":
            bkeys = [(name, d["doc"], "split", b) for d in items for b in boundaries(d["text"])]
            r["split_sample"] = _precision(_sample(bkeys, SAMPLE, seed), labels)
            s = r["split_sample"]
            r["split_error_rate"] = (s["checked"] - s["correct"]) / s["checked"] if s["checked"] else None
            rng = random.Random(seed)
            planted = hit = 0
            for d in items:
                noisy, pairs, _ = add_typos(d["text"], PLANT_RATE, rng)
                got = Counter(typos.detect(noisy).details.get("typos", []))
                want = Counter(t for _, t in pairs)
                planted += sum(want.values())
                hit += sum((got & want).values())
            r["planted"], r["planted_found"] = planted, hit
            r["planted_recall"] = hit / planted if planted else None
        res[name] = r
    return res


def summary_rows(res: dict) -> list[dict]:
    """The rows of notebook 07's real-text table."""
    rows = []
    for name, r in res.items():
        s = r["typo_sample"]
        rows.append({"set": name, "detector": "typos", "words": r["words"], "flags": r["typo_flags"],
                     "per_1000_words": r["typo_per_1000"], "checked": s["checked"], "precision": s["precision"],
                     "recall": r["typo_recall_genuine"],
                     "note": f"recall on {r['typo_genuine_known']} genuine errors found by hand"})
        if "planted_recall" in r:
            rows.append({"set": name, "detector": "typos (planted)", "words": r["words"], "flags": r["planted_found"],
                         "per_1000_words": None, "checked": r["planted"], "precision": None,
                         "recall": r["planted_recall"], "note": f"{r['planted']} typos planted at rate {PLANT_RATE}"})
        m = r["mixing"]
        rows.append({"set": name, "detector": "language mixing", "words": r["words"],
                     "flags": len(r["mixing_flagged_docs"]), "per_1000_words": None, "checked": m["checked"],
                     "precision": m["precision"], "recall": r["mixing_recall_known"],
                     "note": f"documents flagged of {r['n_docs']}; false: {len(r['mixing_false_docs'])}"})
        if "split_sample" in r:
            s = r["split_sample"]
            rows.append({"set": name, "detector": "sentence splits", "words": r["words"], "flags": None,
                         "per_1000_words": None, "checked": s["checked"], "precision": s["precision"],
                         "recall": None, "note": f"error rate {r['split_error_rate']}"})
    return rows


SHORT_PROBES = ("Der", "Impressum", "Kontakt", "Startseite")
"""One-word inputs a web page is full of; a stand-in classifier gave them P(medical) 0.993."""


def classifier_on_web(scorer, docs: list[dict], threshold: float) -> dict:
    """The stage-02 classifier on the real web pages (hand label `medical`): ROC AUC, how many
    non-medical pages score at or above the threshold (with the first of them), the medical pages'
    scores, and the scores of one-word inputs (0 by the short-input rule of classifier.inference)."""
    from sklearn.metrics import roc_auc_score

    labelled = [d for d in docs if d.get("medical") in (0, 1)]
    if not labelled:
        raise DefinemedError("web_dev.jsonl: no document carries a 'medical' label of 0 or 1")
    scores = scorer.score([d["text"] for d in labelled])
    y = [int(d["medical"]) for d in labelled]
    neg_hi = [(float(s), d["text"][:80].replace("\n", " ")) for s, d, t in zip(scores, labelled, y)
              if t == 0 and s >= threshold]
    return {"n": len(labelled), "n_medical": sum(y),
            "auc": float(roc_auc_score(y, scores)) if 0 < sum(y) < len(y) else None,
            "threshold": threshold, "nonmedical_at_threshold": len(neg_hi),
            "nonmedical_examples": sorted(neg_hi, reverse=True)[:5],
            "medical_scores": [float(s) for s, t in zip(scores, y) if t == 1],
            "short_inputs": dict(zip(SHORT_PROBES, map(float, scorer.score(list(SHORT_PROBES)))))}
