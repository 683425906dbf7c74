"""Bad input through the command line: one line on stderr naming the file or key, exit code 1."""
import subprocess
import sys

from tests.conftest import write_config


def run(*args, env=None):
    return subprocess.run([sys.executable, "-m", "definemed", *args], capture_output=True, text=True, env=env)


def test_missing_config(tmp_path):
    p = run("corpus", "--profile", str(tmp_path / "missing.yaml"))
    assert p.returncode == 1
    assert p.stderr.strip().count("\n") == 0 and "missing.yaml: config file not found" in p.stderr


def test_unknown_key(tmp_path):
    f = write_config(tmp_path / "c.yaml", label={"bakend": "x"})
    p = run("validate-config", str(f))
    assert p.returncode == 1 and "unknown key 'label.bakend'" in p.stderr


def test_empty_local_corpus_folder_leaves_nothing(tmp_path, monkeypatch):
    import os

    (tmp_path / "empty").mkdir()
    f = write_config(tmp_path / "c.yaml", corpus={"source": "local", "local_path": str(tmp_path / "empty")})
    p = run("corpus", "--profile", str(f), env=os.environ | {"DEFINEMED_OUTPUT_ROOT": str(tmp_path / "o")})
    assert p.returncode == 1 and "empty: no .parquet or .jsonl files" in p.stderr
    assert not (tmp_path / "o" / "data" / "test" / "00_corpus").exists()  # not even an empty stage folder


def test_corpus_command_writes_shards(tmp_path):
    import os

    f = write_config(tmp_path / "c.yaml", corpus={"n_docs": 300, "shard_size": 100, "expert_sample": 50})
    p = run("corpus", "--profile", str(f), env=os.environ | {"DEFINEMED_OUTPUT_ROOT": str(tmp_path / "o")})
    assert p.returncode == 0, p.stderr
    assert len(list((tmp_path / "o" / "data" / "test" / "00_corpus" / "shards").glob("*.parquet"))) == 3
    assert (tmp_path / "o" / "data" / "test" / "manifests" / "00_corpus.json").is_file()


def test_unknown_option_is_a_usage_error_not_a_traceback(tmp_path):
    p = run("corpus", "--out", str(tmp_path))
    assert p.returncode == 2 and "No such option: --out" in p.stderr and "Traceback" not in p.stderr
