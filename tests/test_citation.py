"""The repository says how to cite it and under which licence it is released."""
import tomllib

import yaml

from definemed import paths


def test_license_file_matches_pyproject():
    license = tomllib.loads((paths.ROOT / "pyproject.toml").read_text())["project"]["license"]
    assert license == "MIT" and (paths.ROOT / "LICENSE").read_text().startswith("MIT License")


def test_citation_names_the_paper_and_this_repository():
    cff = yaml.safe_load((paths.ROOT / "CITATION.cff").read_text())
    assert cff["cff-version"] == "1.2.0" and cff["type"] == "software" and cff["license"] == "MIT"
    paper = cff["preferred-citation"]
    assert "arXiv:2604.19394" in [i["value"] for i in paper["identifiers"]]
    assert [a.get("family-names") for a in paper["authors"][:4]] == ["Doll", "Schulze Buschhoff", "Satheesh", "Abdelwahab"]
