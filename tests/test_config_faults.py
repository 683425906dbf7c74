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


@pytest.mark.parametrize("section, key, value, needle", [
    ("cpt", "lr", ".inf", "finite number"),
    ("cpt", "lr", ".nan", "finite number"),
    ("label", "openai", {"timeout_s": ".inf"}, "finite number"),
    ("evaluate", "device", "tpu", "String should match pattern"),
    ("merge", "device", "gpu0", "String should match pattern"),
    ("merge", "max_shard_size", "lots", "String should match pattern"),
    ("merge", "max_shard_size", "0GB", "String should match pattern"),
    ("corpus", "n_docs", "true", "valid integer (got True)"),  # YAML true is not 1
    ("corpus", "n_docs", "'5'", "valid integer (got '5')"),  # a quoted number is text
    ("corpus", "medical_share", "true", "valid number (got True)"),
])
def test_late_refusals_are_caught_by_validate_config_before_anything_is_deleted(
        tmp_path, out_root, cli, section, key, value, needle):
    import yaml

    raw = yaml.safe_load((paths.CONFIGS / "tiny.yaml").read_text())
    raw["profile"] = "test"
    f = tmp_path / "c.yaml"
    text = yaml.safe_dump(raw, sort_keys=False)
    if isinstance(value, dict):
        (k2, v2), = value.items()
        raw[section].setdefault(key, {})[k2] = "@@"
        text = yaml.safe_dump(raw, sort_keys=False).replace("'@@'", v2)
    else:
        raw[section][key] = "@@"
        text = yaml.safe_dump(raw, sort_keys=False).replace("'@@'", value)
    f.write_text(text)
    one_line(cli("validate-config", str(f)), f"key '{section}.{key}", needle)
    done = out_root / "data" / "test" / "04_cpt" / "finished.txt"  # a finished output of some stage
    done.parent.mkdir(parents=True)
    done.write_text("trained")
    one_line(cli("run", "04_cpt", "--profile", str(f)), f"key '{section}.{key}")
    assert done.read_text() == "trained"


def test_sizes_with_units_are_accepted():
    for size in ("5GB", "500M", "1000000", "2 gb", "1.5GB"):
        assert load_config("tiny", {"merge.max_shard_size": size}).merge.max_shard_size == size


def test_config_in_configs_must_be_named_after_its_profile(tmp_path, monkeypatch, cli):
    d = tmp_path / "configs"
    d.mkdir()
    mine = d / "mine.yaml"
    write_config(mine)  # says `profile: test`, as a copy whose profile line was not changed would
    write_config(d / "test.yaml")
    write_config(tmp_path / "elsewhere.yaml")
    monkeypatch.setattr(paths, "CONFIGS", d)
    p = cli("validate-config", str(mine))
    one_line(p, f"{mine}: key 'profile' is 'test' but the file is named 'mine.yaml'", "set `profile: mine`")
    assert cli("validate-config", str(d / "test.yaml")).returncode == 0
    # outside configs/ (tests, one-off copies): the key decides
    assert cli("validate-config", str(tmp_path / "elsewhere.yaml")).returncode == 0
