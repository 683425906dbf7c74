"""Blank documents ("", whitespace, a lone ":") never reach the annotator and are counted."""
from __future__ import annotations

import pandas as pd

from definemed.labeling.annotate import label_documents
from definemed.labeling.backends.lexicon import LexiconAnnotator
from definemed.labeling.prompt import load_prompt


class SpyAnnotator(LexiconAnnotator):
    def __init__(self):
        super().__init__(load_prompt("prompts/label_medical_de.v1.txt"), "JA", "NEIN",
                         lexicon_file="src/definemed/labeling/lexicon_de.txt")
        self.seen: list[str] = []

    def annotate(self, docs, emit):
        self.seen += [d.text for d in docs]
        return super().annotate(docs, emit)


def test_blank_documents_are_not_annotated_and_are_counted(tmp_path):
    ids = ["a", "b", "c", "d", "e"]
    texts = ["Die Therapie der Pneumonie erfolgt mit einem Antibiotikum.", "", "   \n", ":", None]
    spy = SpyAnnotator()
    summary = label_documents(ids, texts, spy, tmp_path / "out", {"test": 1}, max_chars=1000)
    assert spy.seen == [texts[0]]
    assert summary["n_empty"] == 4 and summary["n_docs"] == 5 and summary["n_medical"] == 1
    labels = pd.read_parquet(tmp_path / "out" / "labels.parquet").set_index("id")["label"]
    assert labels.to_dict() == {"a": 1, "b": -1, "c": -1, "d": -1, "e": -1}  # -1: never a training label
