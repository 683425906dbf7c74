"""Committed notebooks carry no outputs and exactly one `parameters` cell, and one runs under papermill."""
import json

import pytest

from definemed import artifacts, paths

NOTEBOOKS = [paths.NOTEBOOKS / f"{artifacts.notebook_name(name)}.ipynb" for name, s in artifacts.STAGES.items() if s.notebook]


def test_every_notebook_stage_has_its_notebook_and_source():
    """Each stage with notebook=True has notebooks/src/<name>.py and the generated notebooks/<name>.ipynb,
    named in run order (the zoo's is 03b_zoo: after 03, before 04)."""
    for nb in NOTEBOOKS:
        assert nb.is_file(), f"{nb.name} missing: run `make notebooks`"
        assert (paths.NOTEBOOKS / "src" / f"{nb.stem}.py").is_file()
    assert {p.stem for p in paths.NOTEBOOKS.glob("*.ipynb")} == {nb.stem for nb in NOTEBOOKS}
    assert [nb.stem for nb in NOTEBOOKS] == sorted(nb.stem for nb in NOTEBOOKS), "file names sort in run order"


@pytest.mark.parametrize("nb", NOTEBOOKS, ids=lambda p: p.name)
def test_notebooks_open_with_the_project_kernel(nb):
    assert json.loads(nb.read_text())["metadata"]["kernelspec"]["display_name"] == "DeFineMed (.venv)"


@pytest.mark.parametrize("nb", NOTEBOOKS, ids=lambda p: p.name)
def test_clean_and_one_parameters_cell(nb):
    cells = json.loads(nb.read_text())["cells"]
    assert not any(c.get("outputs") or c.get("execution_count") for c in cells), f"{nb.name} has outputs"
    tagged = [c for c in cells if "parameters" in c.get("metadata", {}).get("tags", [])]
    assert len(tagged) == 1, f"{nb.name}: {len(tagged)} parameters cells"
    assert "profile" in "".join(tagged[0]["source"])
    code = "".join("".join(c["source"]) for c in cells if c["cell_type"] == "code")
    assert "\ndef " not in "\n" + code and "\nclass " not in "\n" + code, "logic belongs in src/"


def test_corpus_notebook_runs_under_papermill(small_config, out_root, monkeypatch, capfd):
    from definemed.notebooks import run_notebook

    monkeypatch.delenv("TQDM_DISABLE", raising=False)  # the suite's switch; here the bars are the subject
    out = run_notebook("00_corpus", str(small_config))
    err = capfd.readouterr().err
    assert "00_corpus: executing notebooks/00_corpus.ipynb" in err, "the terminal names the executing notebook"
    assert "  00_corpus: corpus shards:" in err and "3/3" in err, "the kernel's bar lines reach the terminal"
    assert "without encryption" not in err, "the kernel talks over IPC, not TCP"
    nb = json.loads(out.read_text())
    outputs = [o for c in nb["cells"] for o in c.get("outputs", [])]
    assert any("image/png" in o.get("data", {}) for o in outputs), "the figure is an inline image output"
    text = json.dumps(outputs)
    assert "TqdmWarning" not in text and "PosixPath" not in text and "%|" not in text  # no progress bars
    assert nb["metadata"]["kernelspec"]["name"] == "definemed", "the executed copy names the project's kernel"
    assert not [o for o in outputs if o.get("name") == "stderr"], "a clean notebook writes nothing to stderr"
    assert (out_root / "data" / "test" / "manifests" / "00_corpus.json").exists()
    assert (out_root / "figures" / "test" / "tables" / "corpus_stats.md").exists()
    manifest = json.loads((out_root / "data" / "test" / "manifests" / "00_corpus.json").read_text())
    assert manifest["counts"]["n_docs"] == 600 and manifest["seed"] == 1234
    assert {"git_commit", "packages", "hardware", "wall_time_s", "config"} <= manifest.keys()
    assert manifest["notebook"]["tables"] == ["corpus_stats"], "the manifest lists what the notebook presented"
    assert manifest["notebook"]["figures"] == ["corpus_lengths_labels"]


@pytest.mark.parametrize("nb", NOTEBOOKS, ids=lambda p: p.name)
def test_notebook_is_generated_from_its_source(nb):
    """notebooks/*.ipynb equal scripts/py2nb.py of notebooks/src/*.py (`make notebooks` regenerates them)."""
    import importlib.util

    import nbformat

    spec = importlib.util.spec_from_file_location("py2nb", paths.ROOT / "scripts" / "py2nb.py")
    py2nb = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(py2nb)
    src = paths.NOTEBOOKS / "src" / nb.name.replace(".ipynb", ".py")
    want = nbformat.writes(py2nb.convert(src.read_text(encoding="utf-8"))) + "\n"  # nbformat.write adds it
    assert nb.read_text(encoding="utf-8") == want, f"{nb.name} differs from {src.name}: run `make notebooks`"
