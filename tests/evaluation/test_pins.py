"""`validate-config` refuses a hub revision that is not a 40-hex commit unless that key is allowed:
the paper profile pins everything but evaluate.medqa_revision (no public commit found), which it lists."""
from definemed.config import check_pins, load_config
from tests.conftest import run_main, write_config


def test_paper_profile_pins_every_revision_but_the_one_listed(capsys):
    cfg = load_config("paper")
    assert check_pins(cfg) == ["warning: unpinned revision allowed: evaluate.medqa_revision (BioMistral/BioInstructQA@main)"]
    r = run_main(capsys, "validate-config", "paper")
    assert r.returncode == 0 and "evaluate.medqa_revision" in r.stderr and "paper: ok" in r.stdout


def test_validate_config_refuses_main_unless_allowed(tmp_path, capsys):
    f = write_config(tmp_path / "p.yaml", profile="paper", allow_unpinned_keys=[],
                     classifier={"revision": "main"})
    r = run_main(capsys, "validate-config", f)
    assert r.returncode == 1 and r.stderr.count("\n") == 1
    assert r.stderr.startswith("error: classifier.revision (FacebookAI/xlm-roberta-base@main), evaluate.medqa_revision")
    f = write_config(tmp_path / "q.yaml", profile="paper", allow_unpinned=True, classifier={"revision": "main"})
    r = run_main(capsys, "validate-config", f)
    assert r.returncode == 0 and r.stderr.count("warning: unpinned revision allowed") == 2
