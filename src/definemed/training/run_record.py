"""The done-contract of a CPT run, shared by `make` / notebook 04 (stage 04) and the Slurm script.

Both paths call the functions here (the Slurm script through `python -m definemed cpt-prepare` and
`cpt-publish`), so they agree on what "done" and "resumable" mean. Under `data/<p>/04_cpt/`:

- `.fingerprint`: the stage runner's fingerprint of 04_cpt (`definemed.stages`: config sections,
  code, the digests of corpus, FineMed-de and zoo); the Slurm job writes it too when it claims
  the stage, so `make` later resumes the same stage instead of clearing it;
- `runs/<name>/FINGERPRINT`: the inputs the run belongs to (`stage.fingerprint`, keyed on the
  above), written when the run folder is claimed;
- `runs/<name>/run.json`, `checkpoints/`, `metrics.jsonl`, `train.log`: the resumable run;
- `runs/<name>/export/`: written by the workers after the last step;
- `models/<name>/cpt_run.json`: the run record (fingerprint, spec, steps, tokens, final loss),
  written last, atomically with the published model folder and its model card. Its presence with
  the current fingerprint is "done".

Rules: a done run is reused; a run folder of the same inputs is resumed and never deleted; a run
folder of other inputs is deleted only with `cpt.on_settings_change: restart` (or `--force`),
otherwise the stage refuses with one line. The stage folder itself follows the runner's clearing
policy (04 is expensive: moved to superseded/ or refused, `python -m definemed adopt 04_cpt` accepts
a change that does not alter the results); operational `cpt` keys (logging, checkpoint cadence,
node counts, threads) are outside every fingerprint (`stages.OPERATIONAL_KEYS`).
"""
from __future__ import annotations

import shutil
import time
from pathlib import Path

import numpy as np
import pandas as pd

from definemed import io
from definemed.config import Config
from definemed.errors import DefinemedError
from definemed.training import stage

RECORD = "cpt_run.json"
FINGERPRINT = "FINGERPRINT"
NOT_FINISHED = 3  # exit code of `cpt-publish` for a run that stopped before its last step


def run_dir(cfg: Config, name: str) -> Path:
    return stage.stage_dir(cfg) / "runs" / name


def read_record(cfg: Config, name: str) -> dict | None:
    f = stage.cpt_model_dir(cfg, name) / RECORD
    if not f.is_file():
        return None
    try:
        return io.read_json(f)
    except ValueError:
        raise DefinemedError(f"{f}: not valid JSON (delete the model folder to publish the run again)") from None


def is_done(cfg: Config, name: str, fp: str) -> bool:
    rec = read_record(cfg, name)
    return rec is not None and rec.get("fingerprint") == fp


def claim(cfg: Config, name: str, fp: str, force: bool = False) -> Path:
    """The run folder for these inputs: resumed if it is theirs, otherwise replaced or refused
    (`cpt.on_settings_change`)."""
    run = run_dir(cfg, name)
    stamp = run / FINGERPRINT
    if run.exists():
        have = stamp.read_text().strip() if stamp.is_file() else None
        if have != fp or force:
            if not force and cfg.cpt.on_settings_change == "refuse":
                raise DefinemedError(
                    f"{run}: holds a run of other inputs (fingerprint {have or 'missing'}, now {fp}); "
                    "cpt.on_settings_change is 'refuse': move the folder away or rerun with --force")
            shutil.rmtree(run)
    run.mkdir(parents=True, exist_ok=True)
    if not stamp.is_file():
        io.write_text(stamp, fp + "\n")
    return run


CLAIM_WAIT_S = 120.0  # a claim takes milliseconds; a stage run (`make`) holding the lock is refused after this


def claim_stage(cfg: Config) -> None:
    """Open 04_cpt under the stage runner's fingerprint (Slurm path), by the runner's own clearing
    policy (`stages.open_stage`: an expensive stage's files are moved aside or refused, never deleted),
    so that `make` later resumes the same stage instead of starting it again. Under the stage's lock
    (the one the stage runner holds): two model jobs starting at once claim one after the other."""
    from definemed import artifacts, lock, stages

    fp, parts = stages.fingerprint(cfg, artifacts.CPT)
    d = stage.stage_dir(cfg)
    with lock.output_lock(d, f"stage {artifacts.CPT} (profile {cfg.profile})", wait_s=CLAIM_WAIT_S):
        stages.open_stage(cfg, artifacts.CPT, fp, parts)


def spec_for(cfg: Config, name: str, info: dict, nnodes: int | None = None, nproc_per_node: int | None = None):
    """The run spec of the stage (`stage.run_spec`) with the topology the launch must have."""
    return stage.run_spec(cfg, name, info, nnodes=nnodes, nproc_per_node=nproc_per_node)


def progress(spec) -> tuple[int, bool]:
    """(last step logged, export written) of a run folder."""
    from definemed.training.launch import read_metrics

    metrics = read_metrics(spec.run_dir)
    last = metrics[-1]["step"] if metrics else 0
    return last, (spec.run_dir / "export" / "config.json").is_file()


def model_card(cfg: Config, name: str, spec, info: dict, metrics: list[dict]) -> str:
    from definemed.cards import cpt_card

    return cpt_card(cfg, name, spec, info, metrics, stage.cpt_model_dir(cfg, name))


def publish(cfg: Config, name: str, spec, info: dict, wall_s: float | None = None) -> dict:
    """Copy a finished run's export to `models/<name>/` with its model card and run record (last)."""
    from definemed.training.launch import read_metrics

    metrics = read_metrics(spec.run_dir)
    last, exported = progress(spec)
    if not exported or last < spec.steps:
        raise DefinemedError(f"{spec.run_dir}: run not finished (step {last} of {spec.steps}); nothing published")
    record = {"spec": spec.model_dump(mode="json"), "foundation": name, "fingerprint": info["fingerprint"],
              "steps": len(metrics), "final_loss": metrics[-1]["loss"],
              "label_tokens": int(sum(m["label_tokens"] for m in metrics)), "wall_s": wall_s}
    with io.atomic_dir(stage.cpt_model_dir(cfg, name), force=True) as tmp:
        for f in (spec.run_dir / "export").iterdir():
            shutil.copy2(f, tmp / f.name)
        (tmp / "README.md").write_text(model_card(cfg, name, spec, info, metrics), encoding="utf-8")
        io.write_json(tmp / RECORD, record)
    return record


def write_loss_files(cfg: Config, name: str, metrics: list[dict], wall: float | None) -> None:
    loss_dir = stage.stage_dir(cfg) / "loss"
    io.write_text(loss_dir / f"{name}.csv", pd.DataFrame(metrics).to_csv(index=False))
    io.write_json(loss_dir / f"{name}.json", {"model": name, "wall_s": wall, "steps": metrics})


def train(cfg: Config, name: str, info: dict, nproc: int | None = None, force: bool = False) -> dict:
    """The make / notebook path: reuse a done run, publish a finished one, resume or start a local
    run (`cpt.launcher: local`), or say what to submit (`slurm`)."""
    from definemed.training.launch import launch, read_metrics

    fp = info["fingerprint"]
    nproc = nproc or cfg.cpt.nproc_per_node
    wall = None
    if is_done(cfg, name, fp) and not force:
        rec = read_record(cfg, name)
        spec = spec_for(cfg, name, info)
        metrics, wall = read_metrics(spec.run_dir), rec.get("wall_s")
    else:
        claim(cfg, name, fp, force=force)
        local = cfg.cpt.launcher == "local"
        spec = spec_for(cfg, name, info, nnodes=1 if local else cfg.cpt.nnodes,
                        nproc_per_node=nproc if local else cfg.cpt.nproc_per_node)
        last, exported = progress(spec)
        if not (exported and last >= spec.steps):
            if not local:
                raise DefinemedError(
                    f"{spec.run_dir}: CPT of {name} not finished (step {last} of {spec.steps}); submit "
                    f"`MODEL={name} sbatch scripts/slurm/cpt_paper.sbatch` (docs/training.md), then rerun this stage")
            t0 = time.time()
            launch(spec, nproc)
            wall = time.time() - t0
        publish(cfg, name, spec, info, wall)
        metrics = read_metrics(spec.run_dir)
    if not metrics:
        raise DefinemedError(f"{spec.run_dir / 'metrics.jsonl'}: no training steps recorded")
    write_loss_files(cfg, name, metrics, wall)
    tps = [m["tokens_per_s"] for m in metrics if m.get("tokens_per_s")]
    return {"model": name, "steps": len(metrics), "first_loss": metrics[0]["loss"], "final_loss": metrics[-1]["loss"],
            "wall_s": wall, "label_tokens_per_s": float(np.median(tps)) if tps else None,
            "label_tokens": int(sum(m["label_tokens"] for m in metrics)),
            "model_dir": str(stage.cpt_model_dir(cfg, name))}


def slurm_prepare(cfg: Config, name: str, nnodes: int, nproc_per_node: int) -> Path:
    """The Slurm job's first step (login or batch node, no GPU): data, plan check, claimed run
    folder, run.json for this allocation. Returns the spec path; refuses a done run (exit early)."""
    from definemed.training import plan as plan_lib

    if nnodes != cfg.cpt.nnodes or nproc_per_node != cfg.cpt.nproc_per_node:
        raise DefinemedError(
            f"cpt.nnodes/nproc_per_node: the allocation is {nnodes} node(s) x {nproc_per_node} GPUs, the config "
            f"plans {cfg.cpt.nnodes} x {cfg.cpt.nproc_per_node} (the mesh and memory plan depend on it): "
            "change the config or the sbatch --nodes / GPUS_PER_NODE")
    claim_stage(cfg)
    info = stage.prepare_data(cfg, name)
    if is_done(cfg, name, info["fingerprint"]):
        raise DefinemedError(f"{stage.cpt_model_dir(cfg, name)}: CPT of {name} is already done for these inputs")
    plan_lib.check_fits(plan_lib.plan_for(cfg, name, num_bins=info["plan"]["num_bins"]), cfg)
    claim(cfg, name, info["fingerprint"])
    spec = spec_for(cfg, name, info, nnodes=nnodes, nproc_per_node=nproc_per_node)
    return spec.write(spec.run_dir / "run.json")


def slurm_publish(cfg: Config, name: str) -> tuple[int, str]:
    """The Slurm job's last step: (0, message) when published (or already done), (NOT_FINISHED,
    message) when the run stopped before its last step (requeue / resubmit to resume)."""
    info = stage.prepare_data(cfg, name)
    if is_done(cfg, name, info["fingerprint"]):
        return 0, f"{stage.cpt_model_dir(cfg, name)}: already published"
    spec = spec_for(cfg, name, info, nnodes=cfg.cpt.nnodes, nproc_per_node=cfg.cpt.nproc_per_node)
    last, exported = progress(spec)
    if not (exported and last >= spec.steps):
        return NOT_FINISHED, f"{spec.run_dir}: step {last} of {spec.steps}; resubmit to resume"
    publish(cfg, name, spec, info)
    return 0, f"published {stage.cpt_model_dir(cfg, name)}"
