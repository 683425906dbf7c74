"""A model of FSDP / HSDP step time against the number of nodes (weak scaling), and the CPT
GPU-hours it implies. Every input is a config value (`cpt.cluster`) or the architecture's
parameter count; the assumptions are listed in `ASSUMPTIONS` and printed beside the table.

Per micro batch and GPU, with P parameters, shard group size S, compute dtype 2 bytes and fp32
gradient reduction (ring collectives, each GPU sends and receives (S-1)/S of the buffer):
- compute: tokens x FLOPs per token / (peak x planned MFU);
- FSDP traffic: all-gather of the bf16 parameters in forward and again in backward
  (2 x 2P (S-1)/S bytes), reduce-scatter of the fp32 gradients (4P (S-1)/S), every micro batch
  (`accumulate: reduce_scatter`);
- HSDP adds, once per step, the all-reduce of the fp32 gradient shard across R replicas
  (2 x 4P/S x (R-1)/R bytes), always over the inter-node links.
A ring's speed is set by its slowest link: NVLink when the group stays inside a node, otherwise
the GPU's share of the node's InfiniBand. FSDP hides `overlap` of the communication behind
compute; the rest adds to the step time. Efficiency = tokens/s per GPU relative to one node.
"""
from __future__ import annotations

import math

import pandas as pd

from definemed.config import Config
from definemed.errors import DefinemedError
from definemed.training import plan as plan_lib
from definemed.training.flops import flops_per_token, peak_flops

ASSUMPTIONS = (
    "per-GPU compute at the planned MFU (cpt.cluster.planned_mfu), the same on every node count",
    "ring collectives at comm_efficiency of the link bandwidth; a ring crossing nodes runs at the "
    "GPU's InfiniBand share (inter_node_gb_s), inside a node at NVLink speed (intra_node_gb_s)",
    "FSDP hides `overlap` of each micro batch's communication behind its compute; the HSDP "
    "all-reduce at the end of a step is hidden to the same share",
    "weak scaling: every GPU keeps its micro batches per step, so the global batch grows with the "
    "GPUs (the paper's global batch 32 with micro batch 1 stops at 32 GPUs)",
    "no stragglers, no I/O or checkpoint time, no network contention between jobs",
)


def step_model(params: int, fpt: float, tokens_per_micro: int, micro_per_step: int, gpus_per_node: int,
               nodes: int, mode: str, cluster) -> dict:
    """Time per optimizer step and its parts for one node count ('fsdp': shard over all GPUs;
    'hsdp': shard inside a node, replicate across nodes)."""
    world = nodes * gpus_per_node
    shard = world if mode == "fsdp" else gpus_per_node
    replicas = world // shard
    peak = peak_flops(cluster.gpu)
    t_compute = tokens_per_micro * fpt / (peak * cluster.planned_mfu)
    link = cluster.intra_node_gb_s if shard <= gpus_per_node else cluster.inter_node_gb_s
    bw = link * 1e9 * cluster.comm_efficiency
    ring = (shard - 1) / shard
    t_fsdp = (2 * 2 * params + 4 * params) * ring / bw
    t_ar = (2 * 4 * params / shard * (replicas - 1) / replicas) / (cluster.inter_node_gb_s * 1e9 * cluster.comm_efficiency)
    exposed_micro = max(0.0, t_fsdp - cluster.overlap * t_compute)
    t_step = micro_per_step * (t_compute + exposed_micro) + (1 - cluster.overlap) * t_ar
    tokens = world * micro_per_step * tokens_per_micro
    return {"nodes": nodes, "gpus": world, "mode": mode, "mesh": f"{replicas} x {shard}",
            "step_s": t_step, "compute_s": micro_per_step * t_compute,
            "comm_s": micro_per_step * t_fsdp + t_ar, "exposed_comm_s": t_step - micro_per_step * t_compute,
            "tokens_per_s": tokens / t_step, "global_batch": world * micro_per_step * tokens_per_micro}


def cluster_config(cfg: Config) -> Config:
    """The profile the cluster tables are computed for: this one if it plans for GPUs, else the
    paper profile (the tiny profile runs on CPU; its cluster numbers would say nothing)."""
    if cfg.cpt.cluster.gpu is not None:
        return cfg
    from definemed.config import load_config

    return load_config("paper")


def scaling_table(cfg: Config, name: str, nodes=(1, 2, 4, 8, 16)) -> pd.DataFrame:
    """Tokens/s, efficiency and the CPT's GPU-hours and days for FSDP and HSDP on 1-16 nodes."""
    c, cl = cfg.cpt.for_model(name), cfg.cpt.cluster
    a, _ = plan_lib.architecture(cfg, name)
    counts = plan_lib.param_counts(a)
    fpt = flops_per_token(counts["non_embedding"], counts["layers"], a["hidden_size"], c.seq_len, vocab=a["vocab_size"])
    base_world = c.nnodes * c.nproc_per_node
    micro_per_step = max(1, c.global_batch // (base_world * c.micro_batch_size))
    total_tokens = plan_lib.plan_for(cfg, name).tokens_total
    rows = []
    for mode in ("fsdp", "hsdp"):
        one = None
        for n in nodes:
            r = step_model(counts["total"], fpt, c.seq_len * c.micro_batch_size, micro_per_step, c.nproc_per_node,
                           n, mode, cl)
            one = one or r["tokens_per_s"] / r["gpus"]
            r["efficiency"] = r["tokens_per_s"] / r["gpus"] / one
            r["mfu"] = r["tokens_per_s"] / r["gpus"] * fpt / peak_flops(cl.gpu)
            r["gpu_hours"] = total_tokens / r["tokens_per_s"] * r["gpus"] / 3600
            r["days"] = total_tokens / r["tokens_per_s"] / 86400
            r["global_batch_sequences"] = r["gpus"] * micro_per_step * c.micro_batch_size
            r["model"] = name
            rows.append(r)
    cols = ["model", "mode", "nodes", "gpus", "mesh", "global_batch_sequences", "step_s", "compute_s", "comm_s",
            "exposed_comm_s", "tokens_per_s", "efficiency", "mfu", "gpu_hours", "days"]
    return pd.DataFrame(rows)[cols]


# the Slurm script checkpoints and requeues this long before its time limit (--signal=B:USR1@600)
JOB_MARGIN_HOURS = 10 / 60


def modelled(cfg: Config, name: str) -> dict:
    """What the scaling model gives one model's configured mesh (its `cpt.per_model` settings
    applied): mode, mesh, MFU, GPU-hours, days and the Slurm jobs of `cluster.job_hours` it takes."""
    c = cfg.cpt.for_model(name)
    mode = "hsdp" if c.dp_replicate > 1 else "fsdp"
    t = scaling_table(cfg, name, nodes=(c.nnodes,)).query("mode == @mode").iloc[0]
    jobs = math.ceil(t["days"] * 24 / (c.cluster.job_hours - JOB_MARGIN_HOURS))
    return {"mode": mode, "mesh": f"{mode.upper()} {t['mesh']}", "mfu": float(t["mfu"]),
            "gpu_hours": float(t["gpu_hours"]), "days": float(t["days"]), "jobs": jobs, "step_s": float(t["step_s"])}


def format_modelled(m: dict, job_hours: float) -> str:
    return (f"  scaling model on this mesh ({m['mesh']}, communication included): {m['mfu']:.1%} MFU, "
            f"{m['step_s']:.1f} s per step, {m['gpu_hours']:,.0f} GPU-hours, {m['days']:.1f} days, "
            f"{m['jobs']} Slurm job(s) of {job_hours:g} h")


def gpu_hour_table(cfg: Config, names: list[str]) -> pd.DataFrame:
    """CPT GPU-hours per model: at the planned MFU (the memory plan's number, compute only) and at
    the throughput the scaling model gives each model's configured mesh (its communication
    included), with the days and Slurm jobs that takes."""
    rows = []
    for name in names:
        p = plan_lib.plan_for(cfg, name)
        m = modelled(cfg, name)
        rows.append({"model": name, "parameters (B)": p.params / 1e9, "tokens (B)": p.tokens_total / 1e9,
                     "tokens source": p.tokens_source, "GFLOP per token": p.flops_per_token / 1e9,
                     "GPUs": p.world, "mesh": m["mesh"], "micro batch": p.micro_batch,
                     "GiB per GPU": p.total_bytes / 2**30, "fits": p.fits, "MFU assumed": p.mfu,
                     "GPU-hours at assumed MFU": p.gpu_hours, "modelled MFU on this mesh": m["mfu"],
                     "GPU-hours modelled": m["gpu_hours"], "days modelled": m["days"], "Slurm jobs": m["jobs"]})
    return pd.DataFrame(rows)


def docs_scaling_table(cfg: Config, names: list[str], nodes=(1, 2, 4, 8, 16)) -> str:
    """Scaling efficiency per node count, HSDP and FSDP, for the Markdown block `plan:scaling`."""
    g = cfg.cpt.nproc_per_node
    tables = {n: scaling_table(cfg, n, nodes) for n in names}
    lines = ["| nodes (GPUs) | " + " | ".join(f"{n} ({n * g})" for n in nodes) + " |",
             "|---|" + "---|" * len(nodes)]
    for mode, label in (("hsdp", "HSDP"), ("fsdp", "FSDP over all GPUs")):
        cells = []
        for i in range(len(nodes)):
            cells.append(" / ".join(f"{t[t['mode'] == mode].iloc[i]['efficiency']:.3f}" for t in tables.values()))
        lines.append(f"| {label}, {' / '.join(names)} | " + " | ".join(cells) + " |")
    return "\n".join(lines) + "\n"


def docs_table(cfg: Config, names: list[str]) -> str:
    """The Markdown table docs/training.md carries between `<!-- plan:gpu_hours -->` markers."""
    t = gpu_hour_table(cfg, names)
    lines = ["| model | GPUs, mesh, micro batch | GiB per GPU | GFLOP per token | GPU-hours at "
             f"{cfg.cpt.cluster.planned_mfu:.0%} MFU (compute only) | modelled MFU on this mesh | GPU-hours modelled "
             f"| days | Slurm jobs of {cfg.cpt.cluster.job_hours:g} h |",
             "|---|---|---|---|---|---|---|---|---|"]
    for r in t.to_dict("records"):
        lines.append(f"| {r['model']} | {r['GPUs']}, {r['mesh']}, {r['micro batch']} | {r['GiB per GPU']:.1f} | "
                     f"{r['GFLOP per token']:.1f} | {r['GPU-hours at assumed MFU']:,.0f} | "
                     f"{r['modelled MFU on this mesh']:.1%} | {r['GPU-hours modelled']:,.0f} | {r['days modelled']:.1f} | "
                     f"{r['Slurm jobs']} |")
    return "\n".join(lines) + "\n"


DOCS_BLOCKS = {"plan:gpu_hours": docs_table, "plan:scaling": docs_scaling_table}


def write_docs(cfg: Config, names: list[str], path) -> bool:
    """Replace the generated blocks of `path` (docs/training.md) with this plan's tables; True if changed."""
    import re

    from definemed.io import write_text

    text = new = path.read_text()
    for block, make in DOCS_BLOCKS.items():
        pat = re.compile(rf"(<!-- {block} [^>]*-->\n)(.*?)(<!-- /{block} -->)", re.S)
        if not pat.search(new):
            raise DefinemedError(f"{path}: no <!-- {block} ... --> block to fill")
        body = make(cfg, names)
        new = pat.sub(lambda m: m.group(1) + body + m.group(3), new)
    if new != text:
        write_text(path, new)
    return new != text


def plot_scaling(df: pd.DataFrame):
    import matplotlib.pyplot as plt

    fig, axes = plt.subplots(1, 2, figsize=(10, 3.6))
    for (model, mode), g in df.groupby(["model", "mode"]):
        axes[0].plot(g.nodes, g.tokens_per_s / 1e3, marker="o", label=f"{model}, {mode.upper()}")
        axes[1].plot(g.nodes, g.efficiency, marker="o", label=f"{model}, {mode.upper()}")
    g = df[df["mode"] == "fsdp"].groupby("nodes").tokens_per_s.first()
    first = df.groupby(["model", "mode"]).first().tokens_per_s.max()
    axes[0].plot(g.index, [first * n / 1e3 for n in g.index], color="grey", ls=":", label="linear")
    axes[0].set(xscale="log", yscale="log", xlabel="nodes", ylabel="thousand tokens / s",
                title="modelled CPT throughput")
    axes[1].axhline(1.0, color="grey", ls=":")
    axes[1].set(xscale="log", xlabel="nodes", ylabel="scaling efficiency", ylim=(0, 1.05),
                title="tokens/s per GPU vs one node")
    for ax in axes:
        ax.set_xticks(sorted(df.nodes.unique()), [str(n) for n in sorted(df.nodes.unique())])
    axes[1].legend(fontsize=7)
    fig.tight_layout()
    return fig
