"""pyproject.toml pins every direct dependency, and environment.yml mirrors them exactly."""
import re
import tomllib

import yaml

from definemed import paths


def _pyproject_pins() -> dict[str, str]:
    proj = tomllib.loads((paths.ROOT / "pyproject.toml").read_text())["project"]
    reqs = proj["dependencies"] + [r for extra in proj["optional-dependencies"].values() for r in extra]
    out = {}
    for r in reqs:
        m = re.fullmatch(r"([A-Za-z0-9_.\-]+)==([0-9A-Za-z.+]+)", r)
        assert m, f"pyproject.toml: dependency not pinned with ==: {r}"
        out[m[1].lower().replace("_", "-")] = m[2]
    return out


def test_environment_yml_mirrors_pyproject():
    env = yaml.safe_load((paths.ROOT / "environment.yml").read_text())
    pip = next(d["pip"] for d in env["dependencies"] if isinstance(d, dict))
    conda = {}
    for r in pip:
        name, version = r.split("==")
        conda[name.lower().replace("_", "-")] = version
    assert conda == _pyproject_pins()
    assert "python=3.11" in env["dependencies"]


def test_torch_is_the_local_cpu_build_version():
    assert _pyproject_pins()["torch"] == "2.13.0"
