"""The real-text report: loading, labels, and the measurement on a small folder written here."""
from __future__ import annotations

import json

import pytest

from definemed.errors import DefinemedError
from definemed.failure import realtext


def _write(folder, letters, web):
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "letters_dev.jsonl").write_text("\n".join(json.dumps(x) for x in letters) + "\n", encoding="utf-8")
    (folder / "web_dev.jsonl").write_text("\n".join(json.dumps(x) for x in web) + "\n", encoding="utf-8")


LETTERS = [{"id": "A.txt", "text": "Wir berichten über Ihre Patientin, die auf die lntensivstation verlegt wurde.\n"
                                   "Abdomen weich, Darmgeräusche unauff. Die Behandlung wurde durchgefürhrt."},
           {"id": "B.txt", "text": "Medikation: Pantozol 40 mg 1-0-0. Benigne essentielle Hypertonie."}]
WEB = [{"row": 0, "medical": 0, "text": "Das Hotel liegt am See. The hotel restaurant serves regional cuisine every day."},
       {"row": 2, "medical": 1, "text": "Bei Fieber hilft Paracetamol, fragen Sie Ihren Arzt."}]


def test_absent_folder_is_none_and_bad_lines_are_errors(tmp_path):
    assert realtext.load_realtext(tmp_path / "nothing") is None
    _write(tmp_path / "rt", LETTERS, WEB)
    (tmp_path / "rt" / "web_dev.jsonl").write_text("{broken\n", encoding="utf-8")
    with pytest.raises(DefinemedError, match="web_dev.jsonl:1"):
        realtext.load_realtext(tmp_path / "rt")


def test_committed_labels_load():
    labels = realtext.load_labels()
    kinds = {k[2] for k in labels}
    assert kinds == {"typo", "mixing", "split"} and set(labels.values()) == {0, 1}


def test_measure_counts_flags_precision_and_recall(tmp_path, typos, lang):
    _write(tmp_path / "rt", LETTERS, WEB)
    docs = realtext.load_realtext(tmp_path / "rt")
    labels = {("letters", "A.txt", "typo", "lntensivstation"): 1, ("letters", "A.txt", "typo", "durchgefürhrt"): 1,
              ("letters", "A.txt", "typo", "Tropponin"): 1, ("web", "0", "mixing", ""): 1}
    res = realtext.measure(typos, lang, docs, labels, seed=0)
    let, web = res["letters"], res["web"]
    assert let["typo_flags"] == 2 and let["typo_sample"]["precision"] == 1.0
    assert let["typo_genuine_known"] == 3 and let["typo_recall_genuine"] == pytest.approx(2 / 3)
    assert let["mixing_flagged_docs"] == [] and let["split_sample"]["checked"] == 0
    assert web["mixing_flagged_docs"] == ["0"] and web["mixing"]["precision"] == 1.0
    rows = realtext.summary_rows(res)
    assert {r["detector"] for r in rows} >= {"typos", "language mixing", "sentence splits", "typos (planted)"}


def test_labels_file_errors_name_the_line(tmp_path):
    p = tmp_path / "labels.jsonl"
    p.write_text('{"set": "web", "doc": "1", "detector": "typo", "item": "x", "label": 1}\n{"detector": "nope"}\n')
    with pytest.raises(DefinemedError, match="labels.jsonl:2"):
        realtext.load_labels(p)
