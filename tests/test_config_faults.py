"""Bad configuration input: one line naming the file and key, exit code 1, nothing written."""
from __future__ import annotations

import pytest

from definemed import paths
from definemed.config import load_config
from definemed.errors import ConfigError, DefinemedError
from tests.conftest import run_main, write_config


@pytest.fixture
def cli(capsys, out_root):
    return lambda *args, **_: run_main(capsys, *args)


def one_line(p, *needles):
    assert p.returncode == 1, (p.stdout, p.stderr)
    err = [x for x in p.stderr.splitlines() if x.strip() and "%|" not in x]  # (progress bars aside)
    assert len(err) == 1 and err[0].startswith("error: "), p.stderr[-2000:]
    for n in needles:
        assert n in p.stderr, p.stderr


@pytest.mark.parametrize("profile", ["../../escaped_profile", "", "a/b", "..", ".hidden", "x" * 65])
def test_unsafe_profile_names_are_refused(tmp_path, out_root, profile, cli):
    f = tmp_path / "c.yaml"
    f.write_text(f"profile: {profile!r}\n")
    p = cli("corpus", "--profile", str(f), out_root=out_root)
    one_line(p, "key 'profile'", "profile name")
    assert not out_root.exists() or not any(out_root.rglob("*"))
    with pytest.raises(DefinemedError):
        paths.data_dir(profile)


def test_relative_config_paths_stay_inside_the_repository(tmp_path):
    f = write_config(tmp_path / "c.yaml", label={"prompt_file": "../../../etc/passwd"})
    with pytest.raises(ConfigError, match=r"key 'label.prompt_file': relative path '../../../etc/passwd' leaves"):
        load_config(f)
    f = write_config(tmp_path / "c.yaml", corpus={"source": "local", "local_path": "data/../../x"})
    with pytest.raises(ConfigError, match="key 'corpus.local_path'"):
        load_config(f)
    # an absolute path says explicitly that it points elsewhere; a URL is not a local path
    assert load_config(write_config(tmp_path / "c.yaml", corpus={"local_path": str(tmp_path)})).corpus.local_path
    assert load_config(write_config(tmp_path / "c.yaml", filter={"input_folder": "hf://datasets/x/y"}))


def test_duplicate_yaml_keys_are_an_error(tmp_path, cli):
    f = tmp_path / "dup.yaml"
    f.write_text("profile: test\ncorpus:\n  n_docs: 10\n  shard_size: 5\n  n_docs: 20\n")
    p = cli("validate-config", str(f))
    one_line(p, "dup.yaml", "duplicate key 'n_docs'", "line 5")
    f.write_text("profile: test\nx: &a {n_docs: 5}\n")  # anchors and merge keys still work
    g = tmp_path / "merge.yaml"
    g.write_text("base: &b {shard_size: 5, n_docs: 7}\nc:\n  <<: *b\n  n_docs: 9\n")
    from definemed.io import read_yaml_mapping

    assert read_yaml_mapping(g)["c"] == {"shard_size": 5, "n_docs": 9}


def test_config_that_is_not_utf8(tmp_path, cli):
    f = tmp_path / "latin1.yaml"
    f.write_bytes("profile: test\n# Größe\n".encode("latin-1"))
    one_line(cli("validate-config", str(f)), "latin1.yaml", "not UTF-8")


def test_shares_above_one_are_refused(tmp_path, cli):
    f = write_config(tmp_path / "c.yaml", corpus={"medical_share": 0.6, "borderline_share": 0.5})
    one_line(cli("validate-config", str(f)), "key 'corpus'", "medical_share + borderline_share = 1.1 exceeds 1")


@pytest.mark.parametrize("value", ["0", "-5"])
def test_zero_or_negative_document_counts_are_refused(tmp_path, out_root, value, cli):
    f = write_config(tmp_path / "c.yaml")
    p = cli("corpus", "--profile", str(f), "--n-docs", value, out_root=out_root)
    one_line(p, "corpus.n_docs set on the command line", "greater than or equal to 1")
    assert not (out_root / "data").exists()
    p = cli("label", "--profile", str(f), "--n-docs", value, out_root=out_root)
    one_line(p, "label.n_docs set on the command line")
