"""FSDP2 training under torchrun on CPU (gloo): equivalence with one process, HSDP, kill-and-resume,
the golden loss curve, and bad input that must fail before any work.

Regenerate the golden curve after an intended numerics change with
`DEFINEMED_UPDATE_GOLDEN=1 pytest tests/training/test_training.py -k golden`.
"""
from __future__ import annotations

import json
import os
from pathlib import Path

import numpy as np
import pytest
import torch
from safetensors.torch import load_file

from definemed.errors import DefinemedError
from definemed.packing import TokenFile, plan_packing, write_token_file
from definemed.training.launch import launch, preflight
from definemed.training.spec import RunSpec
from tests.factories import tiny_model

GOLDEN = Path(__file__).resolve().parents[1] / "assets" / "cpt_golden_loss.json"
SEQ = 64


@pytest.fixture(scope="module")
def setup(tmp_path_factory):
    d = tmp_path_factory.mktemp("cpt")
    tiny_model(d / "model", "qwen2", vocab_size=128, hidden=32, layers=2, seed=0)
    rng = np.random.default_rng(0)
    # learnable documents: arithmetic progressions mod 125, lengths log-normal around 30 tokens
    docs = []
    for n in np.clip(rng.lognormal(np.log(30), 0.7, 240).astype(int), 2, 200):
        a, step = rng.integers(3, 128), rng.integers(1, 4)
        docs.append(3 + (a + step * np.arange(n)) % 125)
    write_token_file(iter(docs), d / "tokens")
    plan_packing(TokenFile(d / "tokens").lengths, SEQ, seed=1).save(d / "plan.npz")
    return d


def _spec(d: Path, name: str, **kw) -> RunSpec:
    base = dict(model_dir=str(d / "model"), data=str(d / "tokens"), plan=str(d / "plan.npz"), out_dir=str(d / name),
                seq_len=SEQ, global_batch=4, steps=6, lr=3e-3, warmup_steps=2, checkpoint_every=3, log_every=3,
                resume=True, seed=7)
    base.update(kw)
    return RunSpec(**base)


def _weights(run: Path) -> dict:
    return load_file(str(run / "export" / "model.safetensors"))


@pytest.fixture(scope="module")
def reference(setup):
    """The uninterrupted 2-process FSDP run every other run is compared with."""
    spec = _spec(setup, "ref")
    return spec, launch(spec, 2, echo=False)


def test_golden_loss_curve(reference):
    _, metrics = reference
    losses = [m["loss"] for m in metrics]
    assert [m["step"] for m in metrics] == list(range(1, 7))
    if os.environ.get("DEFINEMED_UPDATE_GOLDEN"):
        GOLDEN.write_text(json.dumps({"loss": losses, "note": "tests/training/test_training.py reference run"}, indent=1))
    golden = json.loads(GOLDEN.read_text())["loss"]
    np.testing.assert_allclose(losses, golden, rtol=2e-4)
    assert losses[-1] < losses[0] - 0.1  # it learns


def test_first_step_loss_equals_plain_hf_model(setup, reference):
    """The sharded model (meta init, broadcast load, rebuilt rotary buffers) computes the same loss
    as the plain Hugging Face model on the first global batch."""
    from transformers import AutoModelForCausalLM

    from definemed.packing import PackedDataset, PackingPlan
    from definemed.training.loop import SequenceOrder, causal_lm_loss

    spec, metrics = reference
    plan = PackingPlan.load(spec.plan)
    ds = PackedDataset(plan, TokenFile(spec.data))
    order = SequenceOrder(plan.num_bins, spec.seed)
    items = [ds[order(j)] for j in range(spec.global_batch)]
    batch = {k: torch.from_numpy(np.stack([it[k] for it in items])) for k in ("input_ids", "position_ids", "labels")}
    model = AutoModelForCausalLM.from_pretrained(spec.model_dir, dtype=torch.float32)
    with torch.no_grad():
        loss, n = causal_lm_loss(model, batch)
    assert metrics[0]["label_tokens"] == int(n)
    assert metrics[0]["loss"] == pytest.approx(float(loss) / int(n), rel=1e-5)


def test_two_process_fsdp_equals_single_process(setup, reference):
    """Same global batch and data order on 1 process (gradient accumulation over all 4 sequences)
    and on 2 FSDP ranks (2 each, reduce-scatter): same losses and weights up to float noise."""
    _, metrics = reference
    single = launch(_spec(setup, "single", checkpoint_every=0), 1, echo=False)
    np.testing.assert_allclose([m["loss"] for m in single], [m["loss"] for m in metrics], rtol=1e-5)
    a, b = _weights(setup / "single"), _weights(setup / "ref")
    assert a.keys() == b.keys()
    for k in a:
        torch.testing.assert_close(a[k], b[k], atol=2e-5, rtol=1e-4)


def test_sigkill_after_checkpoint_then_resume_equals_uninterrupted(setup, reference):
    spec = _spec(setup, "killed")
    root = str(Path(__file__).resolve().parents[2])
    with pytest.raises(DefinemedError):  # every rank SIGKILLs itself right after the checkpoint of step 3
        launch(spec, 2, echo=False, worker=("tests.training.kill_worker", "3"),
               extra_env={"PYTHONPATH": os.pathsep.join([str(Path(root) / "src"), root])})
    assert (setup / "killed" / "checkpoints" / "step-0000003" / "COMPLETE").is_file()
    assert not (setup / "killed" / "export").exists()
    metrics = launch(_spec(setup, "killed"), 2, echo=False)
    assert [m["step"] for m in metrics] == list(range(1, 7))
    ref = _weights(setup / "ref")
    resumed = _weights(setup / "killed")
    for k in ref:
        torch.testing.assert_close(resumed[k], ref[k], atol=0, rtol=0)
    np.testing.assert_allclose([m["loss"] for m in metrics], [m["loss"] for m in reference[1]], rtol=0)


def test_hsdp_2x2_mesh_on_4_processes(setup, reference):
    """2 replicas x 2 shards, with activation checkpointing: the same losses as the FSDP reference."""
    metrics = launch(_spec(setup, "hsdp", dp_replicate=2, steps=2, checkpoint_every=0, activation_checkpointing=True),
                     4, echo=False)
    np.testing.assert_allclose([m["loss"] for m in metrics], [m["loss"] for m in reference[1][:2]], rtol=1e-5)
    assert (setup / "hsdp" / "export" / "model.safetensors").is_file()


def test_bad_input_fails_before_any_work(setup, reference, tmp_path):
    with pytest.raises(DefinemedError, match="not a multiple of the HSDP replicate degree"):
        launch(_spec(setup, "bad_mesh", dp_replicate=2), 3, echo=False)
    assert not (setup / "bad_mesh").exists()
    with pytest.raises(DefinemedError, match="seq_len"):
        plan_packing([5, 6], 1)
    # a checkpoint of another model shape
    tiny_model(tmp_path / "wider", "qwen2", vocab_size=128, hidden=48, layers=2, seed=0)
    other = _spec(setup, "ref", model_dir=str(tmp_path / "wider"))
    with pytest.raises(DefinemedError, match="another model shape: tensor 'lm_head.weight'|another model shape"):
        preflight(other, 2)
    with pytest.raises(DefinemedError, match="global_batch"):
        launch(_spec(setup, "bad_batch", global_batch=3), 2, echo=False)


def test_peak_flops_lookup_and_mfu():
    from definemed.training.flops import flops_per_token, mfu, peak_flops

    assert peak_flops("NVIDIA A100-SXM4-40GB") == 312e12
    assert peak_flops("NVIDIA H100 PCIe") == 756e12
    assert peak_flops("Intel Xeon") is None and peak_flops(None) is None
    fpt = flops_per_token(7e9, 32, 4096, 4096)
    assert mfu(3000, fpt, 312e12) == pytest.approx(3000 * fpt / 312e12)
    assert mfu(3000, fpt, None) is None


@pytest.mark.gpu
def test_gpu_bf16_nccl_run(setup):
    n = min(2, torch.cuda.device_count())
    metrics = launch(_spec(setup, "gpu", steps=2, checkpoint_every=0, global_batch=4), n, echo=False)
    assert len(metrics) == 2 and np.isfinite(metrics[-1]["loss"])


def test_damaged_newest_checkpoint_is_reported_and_the_intact_one_used(setup, reference, capsys):
    """A truncated shard in the newest checkpoint and a cut last line of metrics.jsonl (a node lost
    while writing): the run names the damaged checkpoint, resumes from the older intact one and
    ends with the same weights as the uninterrupted run; nothing else is lost."""
    import shutil

    run = setup / "damaged"
    shutil.copytree(setup / "ref", run)
    shutil.rmtree(run / "export")
    shard = sorted((run / "checkpoints" / "step-0000006").glob("*.distcp"))[0]
    shard.write_bytes(shard.read_bytes()[: shard.stat().st_size // 2])
    with open(run / "metrics.jsonl", "a") as f:
        f.write('{"step": 7, "lo')
    metrics = launch(_spec(setup, "damaged"), 2, echo=True)
    out = capsys.readouterr().out
    assert f"checkpoint step-0000006 is damaged ({shard.name}:" in out
    assert "resumed from step-0000003" in out
    assert [m["step"] for m in metrics] == list(range(1, 7))
    ref = _weights(setup / "ref")
    for k, v in _weights(run).items():
        torch.testing.assert_close(v, ref[k], atol=0, rtol=0)
    from definemed.training.checkpoint import verify

    assert verify(run / "checkpoints" / "step-0000006") is None  # rewritten intact


def test_divergence_stops_with_one_line_naming_the_step_and_exports_nothing(setup, reference):
    with pytest.raises(DefinemedError, match=r"^step (\d+): loss \S+ / grad norm \S+ not finite") as e:
        launch(_spec(setup, "diverge", lr=1e6, steps=12, warmup_steps=0, checkpoint_every=0), 2, echo=False)
    assert not (setup / "diverge" / "export").exists()
    step = int(e.value.args[0].split(":")[0].split()[1])
    from definemed.training.launch import read_metrics

    rec = read_metrics(setup / "diverge")
    assert rec[-1]["step"] == step and rec[-1].get("skipped")


def test_launcher_shows_the_workers_own_error_line(setup, reference, tmp_path):
    """A weight file of another shape than its config fails inside rank 0 (not a DefinemedError): the
    launcher's message is the worker's exception line, not torchrun's summary. (A truncated weight
    file is refused before the launch, by the preflight's finiteness check naming the file.)"""
    import json
    import shutil

    broken = tmp_path / "broken"
    shutil.copytree(setup / "model", broken)
    conf = json.loads((broken / "config.json").read_text())
    conf["intermediate_size"] = conf["intermediate_size"] * 2  # the weights no longer fit the config
    (broken / "config.json").write_text(json.dumps(conf))
    with pytest.raises(DefinemedError) as e:
        launch(_spec(setup, "broken_run", model_dir=str(broken), resume=False), 2, echo=False)
    msg = str(e.value)
    assert "torchrun exited" not in msg and "\n" not in msg
    assert msg.split(":")[0].endswith(("Error", "Exception")), msg


@pytest.mark.gpu
def test_gpu_perplexity_bf16_matches_cpu_fp32(setup):
    from definemed.training.stage import perplexity

    cpu = perplexity(setup / "model", setup / "tokens", SEQ, device="cpu")
    gpu = perplexity(setup / "model", setup / "tokens", SEQ)  # auto: CUDA, bf16
    assert gpu["tokens"] == cpu["tokens"]
    assert gpu["perplexity"] == pytest.approx(cpu["perplexity"], rel=2e-2)  # bf16 weights and matmuls
