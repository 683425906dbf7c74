"""`python -m definemed merge CONFIG.yaml OUT_DIR [--force]`: a mergekit-style SLERP merge."""
from __future__ import annotations

from pathlib import Path
from typing import Optional

import typer


def _parse_size(text: str) -> int:
    from definemed.errors import DefinemedError

    t = text.strip().upper().removesuffix("B")
    mult = {"K": 1000, "M": 1000**2, "G": 1000**3, "T": 1000**4}
    try:
        n = int(float(t[:-1]) * mult[t[-1]]) if t and t[-1] in mult else int(t)
    except ValueError:
        raise DefinemedError(f"--max-shard-size: cannot read '{text}' (e.g. 5GB, 500M)") from None
    if n < 1:
        raise DefinemedError(f"--max-shard-size: '{text}' is not a positive size (e.g. 5GB, 500M)")
    return n


def register(app: typer.Typer) -> None:
    @app.command("merge")
    def merge_cmd(
        config: Path = typer.Argument(..., help="mergekit-style SLERP YAML naming local model folders."),
        out_dir: Path = typer.Argument(..., help="Output model folder (written atomically)."),
        force: bool = typer.Option(False, "--force", help="Replace an existing output folder."),
        threads: Optional[int] = typer.Option(None, help="Tensors merged in parallel (default: 2 x CPUs, at most 8)."),
        device: str = typer.Option("auto", help="auto | cpu | cuda | cuda:N: where the arithmetic runs."),
        max_shard_size: str = typer.Option("5GB", help="Largest output shard (mergekit's default: 5B bytes)."),
        quiet: bool = typer.Option(False, "--quiet", help="No progress bar."),
    ) -> None:
        """Merge two models by SLERP, streaming tensor by tensor (see docs/merging.md)."""
        from definemed.merging.driver import merge

        info = merge(config, out_dir, force=force, threads=threads, device=device,
                     max_shard_bytes=_parse_size(max_shard_size), progress=not quiet)
        typer.echo(f"merged {info['tensors']} tensors ({info['layers']} layers, {info['shards']} shard(s)) "
                   f"into {info['out_dir']} in {info['seconds']:.1f} s")
