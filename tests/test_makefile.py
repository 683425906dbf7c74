"""The Makefile works from a clone whose path contains a space: `make -n reproduce` (which really
runs `python -m definemed.notebooks make-rules` to build its include file) and a cheap target that runs
python. And Make decides by content: in a clone whose pipeline has run, touching every file reruns
nothing, while editing one notebook reruns that stage, the stages after it and the report."""
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


def tracked_files() -> list[str]:
    files = subprocess.run(["git", "ls-files", "-z"], cwd=paths.ROOT, capture_output=True, check=True).stdout
    return [rel for rel in filter(None, files.decode().split("\0")) if (paths.ROOT / rel).is_file()]


def clone_of_the_repository(clone: Path) -> list[str]:
    """The tracked files copied to `clone` (the working tree as it is, uncommitted edits included)."""
    rels = tracked_files()
    for rel in rels:
        (clone / rel).parent.mkdir(parents=True, exist_ok=True)
        shutil.copy2(paths.ROOT / rel, clone / rel)
    fake_venv(clone)
    return rels


def maker(clone: Path, env_extra: dict | None = None):
    env = {k: v for k, v in os.environ.items() if k not in ("PYTHONPATH", "MAKEFLAGS", "MAKELEVEL")}
    env.update(env_extra or {})

    def make(*args):
        return subprocess.run(["make", "-C", str(clone), *args], capture_output=True, text=True, env=env, timeout=300)
    return make


needs_make = pytest.mark.skipif(shutil.which("make") is None or shutil.which("git") is None, reason="needs make and git")


@needs_make
def test_make_from_a_path_with_a_space(tmp_path):
    clone = tmp_path / "my projects" / "definemed repo"
    clone_of_the_repository(clone)
    make = maker(clone, {"DEFINEMED_OUTPUT_ROOT": str(tmp_path / "out root")})

    p = make("check-config")
    assert p.returncode == 0, p.stderr + p.stdout
    assert "tiny: ok" in p.stdout
    p = make("-n", "reproduce")
    assert p.returncode == 0, p.stderr + p.stdout
    assert (clone / "build" / "tiny" / "deps.mk").stat().st_size > 0  # written by "$(PY)" -m definemed.notebooks
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


def _set_time(files, t: float) -> None:
    for f in files:
        os.utime(f, (t, t))


def _work(out: str) -> list[str]:
    """The lines of `make -n reproduce` other than its final message."""
    return [line for line in out.splitlines() if line.strip() and "reproduce (tiny): done" not in line
            and not line.startswith("make: ")]


@needs_make
def test_touched_files_rerun_nothing_and_an_edit_reruns_its_stage_and_after(tmp_path):
    from definemed import artifacts

    clone = tmp_path / "clone"
    rels = clone_of_the_repository(clone)
    make = maker(clone)
    p = make("-n", "reproduce")  # a fresh clone: every notebook and the report are to run
    assert p.returncode == 0, p.stderr + p.stdout
    assert sum("run-notebook" in line for line in p.stdout.splitlines()) == len(artifacts.STAGES)
    # what a finished `make reproduce` leaves: every manifest and the report, newer than the stamps
    # (times in the past, so make sees no clock skew)
    now = time.time() - 1000
    _set_time([f for f in (clone / "build").rglob("*") if f.is_file()], now)
    done = [clone / "data" / "tiny" / "manifests" / f"{s}.json" for s in artifacts.STAGES]
    done += [clone / "figures" / "tiny" / "report.html"]
    done += [clone / f"notebooks/{artifacts.notebook_name(s)}.ipynb" for s in artifacts.STAGES]
    for f in done:
        f.parent.mkdir(parents=True, exist_ok=True)
        f.touch()
    _set_time(done, now + 10)
    p = make("-n", "reproduce")
    assert p.returncode == 0 and _work(p.stdout) == [], p.stdout

    # every tracked file touched after the run (what a checkout or a copy does to file times);
    # .venv/.installed as `make setup` leaves it (its rule compares pyproject.toml by time)
    _set_time([clone / r for r in rels], now + 100)
    _set_time([clone / ".venv" / ".installed"], now + 101)
    assert (clone / "notebooks" / "src" / "05_merge.py").stat().st_mtime > done[0].stat().st_mtime
    p = make("-n", "reproduce")
    assert p.returncode == 0 and _work(p.stdout) == [], "touched, unchanged files rerun nothing:\n" + p.stdout
    p = make("-n", "reproduce")
    assert _work(p.stdout) == [], p.stdout

    # an edit of stage 05's notebook source: its notebook is regenerated, 05 and the stages after it rerun
    src = clone / "notebooks" / "src" / "05_merge.py"
    src.write_text(src.read_text(encoding="utf-8") + "\n# %%\nprint('edited')\n", encoding="utf-8")
    p = make("-n", "reproduce")
    ran = [line.split("run-notebook ")[1].split()[0] for line in p.stdout.splitlines() if "run-notebook" in line]
    assert ran == ["05_merge", "06_evaluate", "07_failure_analysis"], p.stdout
    assert "py2nb.py notebooks/src/05_merge.py" in p.stdout and "-m definemed report" in p.stdout
