"""Bad files and paths through the command line: one line naming the file, key or option, exit code 1,
and nothing half-written."""
from __future__ import annotations

import json
import os

import pytest

from tests.conftest import run_main, write_config
from tests.labeling.helpers import record, register_corpus, write_corpus


@pytest.fixture
def cli(capsys, out_root):
    return lambda *args, **_: run_main(capsys, *args)


def one_line(p, *needles):
    assert p.returncode == 1, (p.stdout, p.stderr[-2000:])
    err = [x for x in p.stderr.splitlines() if x.strip() and "%|" not in x]  # (progress bars aside)
    assert len(err) == 1 and err[0].startswith("error: "), p.stderr[-2000:]
    for n in needles:
        assert n in p.stderr, p.stderr


def local_corpus(folder, last: bytes):
    folder.mkdir()
    lines = [json.dumps(record(i, f"Dokument {i}")).encode() for i in range(5)]
    (folder / "docs.jsonl").write_bytes(b"\n".join(lines + [last]) + b"\n")
    return folder


@pytest.mark.parametrize("last, message", [
    (json.dumps(record(5, "x")).replace('"x"', '"Gr\\u00f6\\u00dfe"').encode().replace(b"\\u00f6\\u00df", "öß".encode("latin-1")),
     "docs.jsonl:6: not UTF-8 text"),
    (json.dumps(record(5, "x")).replace('"x"', "12345").encode(), "docs.jsonl:6: field 'text' is int, not a string"),
    (json.dumps(record(5, "x")).replace('"x"', "null").encode(), "docs.jsonl:6: field 'text' is null"),
])
def test_bad_local_corpus_names_the_line(tmp_path, out_root, cli, last, message):
    src = local_corpus(tmp_path / "src", last)
    f = write_config(tmp_path / "c.yaml", corpus={"source": "local", "local_path": str(src), "n_docs": 100,
                                                   "shard_size": 100})
    one_line(cli("corpus", "--profile", f, out_root=out_root), message)
    assert not list(out_root.rglob("*.parquet")) and not list(out_root.rglob("stats.json"))


def test_local_corpus_smaller_than_n_docs_is_written(tmp_path, out_root, cli):
    src = local_corpus(tmp_path / "src", json.dumps(record(5, "sechs")).encode())
    f = write_config(tmp_path / "c.yaml", corpus={"source": "local", "local_path": str(src), "n_docs": 100,
                                                   "shard_size": 4})
    p = cli("corpus", "--profile", f, out_root=out_root)
    assert p.returncode == 0, p.stderr
    assert "6 documents in 2 shards" in p.stdout


def test_truncated_shard_read_by_label(tmp_path, out_root, cli):
    d = write_corpus(out_root, [f"Dokument {i} krank" for i in range(120)], shard_size=50)
    f = write_config(tmp_path / "c.yaml", label={"n_docs": 60})
    register_corpus(out_root, f)
    shard = d / "shards" / "shard-00001.parquet"
    data = shard.read_bytes()  # damaged in place: same size, footer gone (a disk or copy fault)
    shard.write_bytes(data[:-200] + bytes(200))
    one_line(cli("label", "--profile", f, out_root=out_root), f"{shard}: unreadable parquet shard")
    out = out_root / "data" / "test" / "01_label"
    assert not (out / "labels.parquet").exists() and not (out / "parts").exists()


def test_output_that_is_a_file_and_unwritable_parents(tmp_path, out_root, cli, monkeypatch):
    f = write_config(tmp_path / "c.yaml", corpus={"n_docs": 50, "shard_size": 50, "expert_sample": 10})
    stage_dir = out_root / "data" / "test" / "00_corpus"
    stage_dir.parent.mkdir(parents=True)
    stage_dir.write_text("keep me")
    for args in ((), ("--force",)):
        p = cli("corpus", "--profile", f, *args)
        one_line(p, str(stage_dir))  # one line naming the path: "Not a directory" or "File exists"
        assert "Not a directory" in p.stderr or "File exists" in p.stderr, p.stderr
    assert stage_dir.read_text() == "keep me"  # a file the stage did not write is never removed
    monkeypatch.setenv("DEFINEMED_OUTPUT_ROOT", "/sys/definemed-out")  # a parent nobody may write
    one_line(cli("corpus", "--profile", f), "/sys/definemed-out")


def test_merge_options_are_checked_before_any_work(tmp_path, cli):
    cfg = tmp_path / "m.yaml"
    cfg.write_text("merge_method: slerp\n")
    out = tmp_path / "out"
    one_line(cli("merge", cfg, out, "--device", "tpu"), "device 'tpu': expected auto, cpu")
    one_line(cli("merge", cfg, out, "--threads", "0"), "--threads needs at least 1")
    one_line(cli("merge", cfg, out, "--max-shard-size", "0"), "--max-shard-size: '0' is not a positive size")
    a_file = tmp_path / "a_file"
    a_file.write_text("x")
    one_line(cli("merge", cfg, a_file, "--force"), f"{a_file}: exists and is not a folder")
    assert a_file.read_text() == "x" and not out.exists()
    f = write_config(tmp_path / "c.yaml", merge={"device": "tpu"})
    one_line(cli("validate-config", f), "key 'merge.device'")


def test_hub_corpus_without_network_is_one_line(tmp_path, out_root):
    import subprocess
    import sys

    f = write_config(tmp_path / "c.yaml", corpus={"source": "hub", "n_docs": 10, "shard_size": 10})
    env = os.environ | {"DEFINEMED_OUTPUT_ROOT": str(out_root), "HF_HUB_OFFLINE": "1", "TQDM_DISABLE": "1"}
    p = subprocess.run([sys.executable, "-m", "definemed", "corpus", "--profile", str(f)], capture_output=True,
                       text=True, env=env, timeout=300)
    one_line(p, "corpus.hf_dataset: cannot read HuggingFaceFW/fineweb-2 (deu_Latn, train)", "corpus.source: local")
    assert not list(out_root.rglob("*.parquet"))


def test_hub_model_without_network_is_one_line(tmp_path):
    from definemed.config import ModelSpec
    from definemed.errors import DefinemedError
    from definemed.zoo.hub import resolve_hub_model

    def offline(**kw):
        raise ConnectionError("Max retries exceeded with url: /api/models/Qwen/Qwen2.5-7B-Instruct")

    rev = "a09a35458c702b33eeacc393d103063234e8bc28"  # pinned (an unpinned revision is refused before any download)
    spec = ModelSpec(name="qwen2.5-7b", hf_id="Qwen/Qwen2.5-7B-Instruct", architecture="qwen2", revision=rev)
    with pytest.raises(DefinemedError, match=r"models.foundations\[qwen2.5-7b\].hf_id: cannot download "
                                             rf"Qwen/Qwen2.5-7B-Instruct@{rev} \(Max retries") as e:
        resolve_hub_model(spec, tmp_path / "m", ["*.safetensors"], download=offline)
    assert "\n" not in str(e.value)


@pytest.mark.parametrize("args, needle", [(("--tasks", "0"), "filter.tasks set on the command line"),
                                          (("--workers", "-2"), "filter.workers set on the command line")])
def test_datatrove_counts_are_checked(tmp_path, cli, args, needle):
    f = write_config(tmp_path / "c.yaml")
    one_line(cli("filter", "--profile", f, "--engine", "datatrove", *args), needle)


def test_outputs_get_default_permissions_not_0700_or_0600(tmp_path):
    """The probe: model folders were created 0700 and files 0600 (mkdtemp / mkstemp modes kept)."""
    import os
    import stat

    from definemed import io

    old = os.umask(0o022)
    try:
        with io.atomic_dir(tmp_path / "model") as d:
            (d / "config.json").write_text("{}")
        io.write_text(tmp_path / "a.txt", "x")
        assert stat.S_IMODE((tmp_path / "model").stat().st_mode) == 0o755
        assert stat.S_IMODE((tmp_path / "a.txt").stat().st_mode) == 0o644
        os.umask(0o002)  # a group-writable setup keeps its group write bit
        io.write_text(tmp_path / "b.txt", "x")
        assert stat.S_IMODE((tmp_path / "b.txt").stat().st_mode) == 0o664
    finally:
        os.umask(old)


def test_disk_full_names_the_path_in_one_line(tmp_path, capsys, monkeypatch):
    """The probe: a full disk gave a whole traceback and no file name."""
    import errno

    from definemed import io
    from tests.conftest import run_main

    def full(*a, **k):
        raise OSError(errno.ENOSPC, "No space left on device")  # as write() raises it: no file name

    monkeypatch.setattr("pathlib.Path.write_text", full)
    with pytest.raises(OSError) as e:
        io.write_text(tmp_path / "out" / "stats.json", "{}")
    assert e.value.filename == str(tmp_path / "out" / "stats.json") and e.value.errno == errno.ENOSPC
    monkeypatch.setattr("definemed.config.load_config", lambda *a, **k: io.write_text(tmp_path / "x.json", "{}"))
    p = run_main(capsys, "validate-config", "tiny")
    assert p.returncode == 1
    assert p.stderr == f"error: {tmp_path / 'x.json'}: No space left on device\n"
