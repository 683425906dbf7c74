"""Checkpoint verification, tolerant metrics reading and launch-topology checks, without a launch."""
from __future__ import annotations

import json

import pytest

from definemed.errors import DefinemedError
from definemed.io import write_json
from definemed.training import checkpoint as ckpt
from definemed.training.loop import read_jsonl
from definemed.training.spec import RunSpec


def _fake_checkpoint(root, step: int):
    d = ckpt.step_dir(root, step)
    d.mkdir(parents=True)
    (d / "__0_0.distcp").write_bytes(b"x" * 5000)
    (d / ".metadata").write_bytes(b"meta")
    (d / "rng-rank0.safetensors").write_bytes(b"rng")
    write_json(d / "trainer_state.json", {"step": step, "cursor": 4 * step})
    write_json(d / ckpt.COMPLETE, {"step": step, **ckpt._inventory(d)})
    return d


@pytest.mark.parametrize("damage,reason", [
    (lambda d: (d / "trainer_state.json").write_text(""), "trainer_state.json:"),
    (lambda d: (d / "__0_0.distcp").write_bytes(b"x" * 10), "__0_0.distcp: 10 bytes, 5000 when saved"),
    (lambda d: (d / "rng-rank0.safetensors").write_bytes(b"RNG"), "rng-rank0.safetensors: content differs"),
    (lambda d: (d / ".metadata").unlink(), ".metadata: missing"),
])
def test_damaged_newest_checkpoint_is_named_and_the_older_intact_one_chosen(tmp_path, capsys, damage, reason):
    old = _fake_checkpoint(tmp_path, 3)
    new = _fake_checkpoint(tmp_path, 6)
    assert ckpt.latest(tmp_path) == new
    damage(new)
    assert reason in ckpt.verify(new)
    assert ckpt.latest(tmp_path) == old
    assert f"checkpoint step-0000006 is damaged ({reason}" in capsys.readouterr().out
    assert new.exists()  # reported, never deleted


def test_empty_trainer_state_is_one_line(tmp_path):
    d = _fake_checkpoint(tmp_path, 1)
    (d / "trainer_state.json").write_text("")
    with pytest.raises(DefinemedError, match=r"trainer_state.json: not valid JSON \(empty or cut short\)"):
        ckpt.read_state(d)


def test_metrics_with_partial_last_line_or_empty_file(tmp_path):
    f = tmp_path / "metrics.jsonl"
    f.write_text("")
    assert read_jsonl(f) == []
    f.write_text(json.dumps({"step": 1}) + "\n" + json.dumps({"step": 2}) + "\n" + '{"step": 3, "lo')
    assert [r["step"] for r in read_jsonl(f)] == [1, 2]
    f.write_text(json.dumps({"step": 1}) + "\n{broken\n" + json.dumps({"step": 3}) + "\n")
    with pytest.raises(DefinemedError, match="metrics.jsonl: line 2 is not valid JSON"):
        read_jsonl(f)


def _spec(**kw) -> RunSpec:
    return RunSpec(model_dir="m", data="d", plan="p", out_dir="o", seq_len=8, global_batch=32, steps=1, lr=1e-3, **kw)


def test_launch_topology_is_checked_against_the_config():
    _spec(nnodes=2, nproc_per_node=4).check_world(8, 4)
    with pytest.raises(DefinemedError, match=r"nnodes: the launch has 16 ranks = 4 node\(s\) x 4, the config plans 2"):
        _spec(nnodes=2, nproc_per_node=4).check_world(16, 4)
    with pytest.raises(DefinemedError, match="nproc_per_node: the launch has 8 processes per node"):
        _spec(nnodes=1, nproc_per_node=4).check_world(8, 8)
    # HSDP replicas that cut through nodes: 4 nodes x 4 GPUs, 2 replicas -> shard groups of 8 span 2 nodes (allowed),
    # 3 nodes x 4 GPUs with 2 replicas -> groups of 6 straddle nodes (refused)
    _spec(dp_replicate=2).check_world(16, 4)
    with pytest.raises(DefinemedError, match="do not align with nodes"):
        RunSpec(model_dir="m", data="d", plan="p", out_dir="o", seq_len=8, global_batch=24, steps=1, lr=1e-3,
                dp_replicate=2).check_world(12, 4)


def test_streamed_export_writes_loadable_shards_and_refuses_non_finite_weights(tmp_path):
    import torch
    from transformers import AutoModelForCausalLM

    from definemed.training.model import export_hf
    from tests.factories import tiny_model

    src = tiny_model(tmp_path / "m", "mistral", vocab_size=128, hidden=32, layers=2, tie=False)
    model = AutoModelForCausalLM.from_pretrained(src, dtype=torch.float32)
    out = export_hf(model, src, tmp_path / "out", "bfloat16", max_shard_bytes=20_000)
    assert len(list(out.glob("model-*-of-*.safetensors"))) > 1 and (out / "model.safetensors.index.json").is_file()
    back = AutoModelForCausalLM.from_pretrained(out)
    assert back.dtype == torch.bfloat16
    ref = model.state_dict()
    for k, v in back.state_dict().items():
        torch.testing.assert_close(v, ref[k].to(torch.bfloat16), atol=0, rtol=0)
    with torch.no_grad():
        model.model.layers[1].mlp.down_proj.weight[0, 0] = float("nan")
    with pytest.raises(DefinemedError, match=r"export: 1 tensor\(s\) with NaN/Inf values \(first 'model.layers.1.mlp.down_proj.weight'\)"):
        export_hf(model, src, tmp_path / "out2")
    assert not (tmp_path / "out2").exists()


def test_flipped_bytes_in_a_large_shard_are_caught_and_the_previous_checkpoint_used(tmp_path, capsys):
    """The probe: 4 flipped bytes in a shard over 1 MiB resumed with exit 0 and gave a different model."""
    old = _fake_checkpoint(tmp_path, 3)
    new = _fake_checkpoint(tmp_path, 6)
    shard = new / "__0_0.distcp"
    shard.write_bytes(bytes(range(256)) * (3 << 12))  # 3 MiB
    write_json(new / ckpt.COMPLETE, {"step": 6, **ckpt._inventory(new)})
    assert ckpt.verify(new) is None
    data = bytearray(shard.read_bytes())
    for i in (10, 1 << 20, (2 << 20) + 7, len(data) - 3):
        data[i] ^= 0xFF
    shard.write_bytes(bytes(data))  # same size: only a checksum over the whole file can tell
    assert ckpt.verify(new) == "__0_0.distcp: content differs from the saved checksum"
    assert ckpt.latest(tmp_path) == old
    assert "checkpoint step-0000006 is damaged (__0_0.distcp: content differs" in capsys.readouterr().out


def test_records_with_sha256_of_small_files_only_still_verify(tmp_path):
    d = _fake_checkpoint(tmp_path, 2)
    files = {f.name: f.stat().st_size for f in d.iterdir() if f.is_file() and f.name != ckpt.COMPLETE}
    write_json(d / ckpt.COMPLETE, {"step": 2, "files": files,
                                   "sha256": {n: ckpt._sha256(d / n) for n in files}})
    assert ckpt.verify(d) is None
    (d / "rng-rank0.safetensors").write_bytes(b"RNG")
    assert ckpt.verify(d) == "rng-rank0.safetensors: content differs from the saved checksum"


def test_non_finite_base_weights_are_refused_before_launch_naming_the_tensor(tmp_path):
    """The probe: a NaN base model gave a non-finite-loss error three times with the hint 'lower cpt.lr?'."""
    import torch
    from safetensors.torch import load_file, save_file

    from definemed.training.launch import preflight
    from tests.factories import tiny_model

    model = tmp_path / "model"
    tiny_model(model, "qwen2", vocab_size=128, hidden=32, layers=2, seed=0)
    f = model / "model.safetensors"
    sd = load_file(str(f))
    name = sorted(k for k in sd if k.endswith("mlp.up_proj.weight"))[0]
    sd[name][0, 0] = float("nan")
    save_file(sd, str(f), metadata={"format": "pt"})
    import numpy as np

    from definemed.packing import TokenFile, plan_packing, write_token_file

    write_token_file(iter([np.arange(3, 40)] * 20), tmp_path / "tokens")
    plan_packing(TokenFile(tmp_path / "tokens").lengths, 8, seed=1).save(tmp_path / "plan.npz")
    spec = RunSpec(model_dir=str(model), data=str(tmp_path / "tokens"), plan=str(tmp_path / "plan.npz"),
                   out_dir=str(tmp_path / "run"), seq_len=8, global_batch=4, steps=1, lr=1e-3)
    with pytest.raises(DefinemedError, match=rf"tensor {name} has non-finite values") as e:
        preflight(spec, 1)
    assert "cpt.lr" not in str(e.value)
