"""notebooks/01_label.ipynb runs under papermill on a small corpus and writes its tables, figures and counts."""
import json

from definemed.config import load_config
from tests.conftest import make_corpus
from tests.conftest import SMALL_CORPUS, write_config


def test_label_notebook_runs(tmp_path, out_root):
    f = write_config(tmp_path / "c.yaml", corpus=SMALL_CORPUS, label={"n_docs": 300, "n_bootstrap": 200})
    make_corpus(load_config(f))
    from definemed.notebooks import run_notebook

    nb = json.loads(run_notebook("01_label", str(f)).read_text())
    text = "".join("".join(o.get("text", "")) for c in nb["cells"] for o in c.get("outputs", []))
    assert "STAND-IN: these labels came from the lexicon stand-in" in text
    figs, tabs = out_root / "figures" / "test", out_root / "figures" / "test" / "tables"
    assert (figs / "label_topic_shares.png").exists() and (figs / "label_probabilities.pdf").exists()
    assert "91.1 ± 2.5" in (tabs / "label_agreement.md").read_text()
    counts = json.loads((out_root / "data" / "test" / "manifests" / "01_label.json").read_text())["counts"]
    assert counts["n_docs"] == 300 and 0 <= counts["f1"] <= 1 and counts["n_expert_docs"] == 200
