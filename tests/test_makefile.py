"""The Makefile works from a clone whose path contains a space: `make -n reproduce` (which really
runs `python -m definemed deps` to build its include file) and a cheap target that runs python."""
from __future__ import annotations

import os
import shutil
import subprocess
import sys
import time
from pathlib import Path

import pytest

from definemed import paths


def fake_venv(clone: Path) -> None:
    """clone/.venv running the shared environment's interpreter, with a fresh stamp (so make never
    tries to install anything into the shared environment)."""
    real = Path(sys.prefix)
    venv = clone / ".venv"
    (venv / "bin").mkdir(parents=True)
    os.symlink(Path(sys.executable).resolve(), venv / "bin" / "python")
    os.symlink(real / "lib", venv / "lib")
    shutil.copy(real / "pyvenv.cfg", venv / "pyvenv.cfg")
    time.sleep(0.01)
    (venv / ".installed").touch()


@pytest.mark.skipif(shutil.which("make") is None or shutil.which("git") is None, reason="needs make and git")
def test_make_from_a_path_with_a_space(tmp_path):
    clone = tmp_path / "my projects" / "definemed repo"
    files = subprocess.run(["git", "ls-files", "-z"], cwd=paths.ROOT, capture_output=True, check=True).stdout
    for rel in filter(None, files.decode().split("\0")):
        src = paths.ROOT / rel
        if src.is_file():
            (clone / rel).parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(src, clone / rel)
    fake_venv(clone)
    env = {k: v for k, v in os.environ.items() if k not in ("PYTHONPATH", "MAKEFLAGS", "MAKELEVEL")}
    env["DEFINEMED_OUTPUT_ROOT"] = str(tmp_path / "out root")

    def make(*args):
        return subprocess.run(["make", "-C", str(clone), *args], capture_output=True, text=True, env=env, timeout=300)

    p = make("check-config")
    assert p.returncode == 0, p.stderr + p.stdout
    assert "tiny: ok" in p.stdout
    p = make("-n", "reproduce")
    assert p.returncode == 0, p.stderr + p.stdout
    assert (clone / "build" / "deps.mk").stat().st_size > 0  # written by "$(PY)" -m definemed deps
    assert f'"{clone}/.venv/bin/python" -m definemed run-notebook 00_corpus --profile tiny' in p.stdout
    assert "pip install" not in p.stdout
    p = make("stages")
    assert p.returncode == 0 and "todo  00_corpus" in p.stdout


@pytest.mark.skipif(shutil.which("make") is None, reason="needs make")
@pytest.mark.parametrize("profile", ["../configs", "", "*", "paper_reported.yaml", "a b", "../../.."])
def test_clean_profile_refuses_unsafe_names_and_tracked_files(profile):
    tracked_before = subprocess.run(["git", "ls-files", "-s"], cwd=paths.ROOT, capture_output=True).stdout
    env = {k: v for k, v in os.environ.items() if k not in ("MAKEFLAGS", "MAKELEVEL")}
    p = subprocess.run(["make", "-s", "-C", str(paths.ROOT), "clean-profile", f"PROFILE={profile}"],
                       capture_output=True, text=True, env=env, timeout=60)
    assert p.returncode != 0
    assert "error: clean-profile: " in p.stderr and "nothing removed" in p.stderr or "profile name" in p.stderr
    assert (paths.CONFIGS / "tiny.yaml").is_file() and paths.PAPER_REPORTED.is_file()
    assert subprocess.run(["git", "ls-files", "-s"], cwd=paths.ROOT, capture_output=True).stdout == tracked_before


def test_clean_profile_removes_the_outputs_of_a_safe_name_only(tmp_path, monkeypatch):
    sys.path.insert(0, str(paths.ROOT / "scripts"))
    try:
        import clean_profile
    finally:
        sys.path.pop(0)
    monkeypatch.setattr(paths, "ROOT", tmp_path)  # not a git checkout: nothing is tracked there
    for kind in ("data", "figures", "build"):
        (tmp_path / kind / "mine" / "x").mkdir(parents=True)
    (tmp_path / "data" / "other").mkdir()
    assert clean_profile.main(["mine"]) == 0
    assert not any((tmp_path / k / "mine").exists() for k in ("data", "figures", "build"))
    assert (tmp_path / "data" / "other").is_dir()
    (tmp_path / "data" / "notes.yaml").write_text("kept")
    assert clean_profile.main(["notes.yaml"]) == 1  # a file, not an output folder
    assert (tmp_path / "data" / "notes.yaml").read_text() == "kept"
