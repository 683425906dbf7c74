"""Stage 07's notebook runs end to end under papermill on fake generations, and the report follows."""
from __future__ import annotations

import json

from definemed import artifacts, stages
from definemed.config import load_config
from tests.conftest import make_corpus
from definemed.failure.analysis import generations_path

from ..conftest import SMALL_CORPUS, write_config
from .fakes import write_fake_generations


def test_failure_notebook_and_report(tmp_path, out_root):
    from definemed.notebooks import run_notebook
    from definemed.report import build_report

    cfg_file = write_config(tmp_path / "small.yaml", corpus=SMALL_CORPUS,
                            failure={"n_samples": 8, "eval_n_texts": 40})
    cfg = load_config(cfg_file)
    make_corpus(cfg)
    write_fake_generations(cfg, generations_path(cfg), n_questions=10, seed=4)
    artifacts.stage_dir(cfg, artifacts.FILTER).mkdir(parents=True)  # no FineMed-de: the allow-list uses the corpus
    for stage in (artifacts.FILTER, artifacts.EVALUATE):  # hand-made generations stand for stage 06
        stages.register(cfg, stage)
    out = run_notebook("07_failure_analysis", str(cfg_file))
    nb = json.loads(out.read_text())
    text = json.dumps(nb)
    assert "STAND-IN" in text and "sampled 8 per model" in text
    m = json.loads((out_root / "data" / "test" / "manifests" / "07_failure_analysis.json").read_text())
    assert m["counts"]["n_answers"] == 8 * 7 and 0 <= m["counts"]["mixing_recall"] <= 1
    tables = out_root / "figures" / "test" / "tables"
    assert m["counts"]["realism"]["development"]["mixing_clean_flagged"] == 0
    assert "words wrongly flagged as typos" in text
    for name in ("failure_counts", "failure_verbosity", "failure_detector_quality", "failure_detector_realism"):
        assert (tables / f"{name}.md").exists()
    assert (out_root / "figures" / "test" / "failure_modes.png").exists()
    rep = build_report("test")
    md = rep["md"].read_text()
    assert "<b>07_failure_analysis</b>" in md and "#### Table: failure_counts" in md and "207" in md
    assert "## The paper's claims, checked" in md and "language mixing rises" in md  # 07 wrote the claims table
