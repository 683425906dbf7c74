"""Reading and splitting the 01 labels; bad label files give one clear error."""
import numpy as np
import pandas as pd
import pytest

from definemed.classifier.data import read_labels, split_labels
from definemed.errors import DefinemedError


def _labels(path, labels):
    n = len(labels)
    pd.DataFrame({"id": [f"d{i}" for i in range(n)], "label": np.array(labels, dtype=np.int8),
                  "prob": np.full(n, np.nan, np.float32), "raw": [""] * n, "backend": "test",
                  "latency_s": np.zeros(n, np.float32)}).to_parquet(path)
    return path


def test_invalid_labels_are_dropped(tmp_path):
    df, counts = read_labels(_labels(tmp_path / "l.parquet", [1, 0, -1, 0, 1, -1]))
    assert len(df) == 4 and counts["n_invalid"] == 2 and set(df["label"]) == {0, 1}


@pytest.mark.parametrize("labels", [[1, 1, 1, -1], [0, 0, -1], [-1, -1]])
def test_one_class_only_is_an_error(tmp_path, labels):
    with pytest.raises(DefinemedError, match="only class"):
        read_labels(_labels(tmp_path / "l.parquet", labels))


def test_bad_label_files(tmp_path):
    with pytest.raises(DefinemedError, match="not found"):
        read_labels(tmp_path / "missing.parquet")
    (tmp_path / "corrupt.parquet").write_bytes(b"PAR1 this is not parquet")
    with pytest.raises(DefinemedError, match="unreadable"):
        read_labels(tmp_path / "corrupt.parquet")
    pd.DataFrame({"id": ["a"], "lbl": [1]}).to_parquet(tmp_path / "nocol.parquet")
    with pytest.raises(DefinemedError, match="missing column"):
        read_labels(tmp_path / "nocol.parquet")
    pd.DataFrame({"id": ["a", "b"], "label": [1, 2]}).to_parquet(tmp_path / "range.parquet")
    with pytest.raises(DefinemedError, match="outside"):
        read_labels(tmp_path / "range.parquet")


def test_split_is_stratified_disjoint_and_seeded():
    df = pd.DataFrame({"id": [f"d{i}" for i in range(500)], "label": [1] * 100 + [0] * 400})
    a, b = split_labels(df, 0.1, 0.1, 7), split_labels(df, 0.1, 0.1, 7)
    assert (a["split"] == b["split"]).all()
    counts = a.groupby("split")["label"].agg(["size", "mean"])
    assert counts.loc["val", "size"] == 50 and counts.loc["test", "size"] == 50
    assert counts["mean"].between(0.18, 0.22).all()


def test_blank_documents_are_dropped_from_training_and_counted(tmp_path, monkeypatch):
    from definemed.classifier import data
    from definemed.config import load_config
    from definemed.corpus.loader import is_blank

    assert is_blank("") and is_blank("  \n\t") and is_blank(":") and is_blank(None) and is_blank(" - ; ")
    assert not is_blank("EKG") and not is_blank("5")
    n = 40
    ids = [f"d{i}" for i in range(n)]
    labels = [i % 2 for i in range(n)]
    texts = {i: ("Die Therapie wirkt." if k % 2 else "Das Wetter ist schön.") for k, i in enumerate(ids)}
    texts["d0"], texts["d1"], texts["d2"] = "", "   ", ":"
    _labels(tmp_path / "l.parquet", labels)
    monkeypatch.setattr(data, "attach_texts", lambda df, _d: df.assign(text=df["id"].map(texts)))
    cfg = load_config("tiny")
    df, _expert, counts = data.load_classifier_data(cfg, labels_file=tmp_path / "l.parquet", corpus_dir=tmp_path)
    assert counts["n_blank_dropped"] == 3 and len(df) == n - 3
    assert not df["text"].map(is_blank).any() and set(df["split"]) == {"train", "val", "test"}
