"""The model server of one stage-06 variant, owned by the stage (`evaluate.server: managed`).

    with serving.served(cfg, v, log_file):   # starts `vllm serve <folder> --served-model-name <label> ...`
        ...                                  # evaluate against backends.endpoint_for(cfg, v)
                                             # the server is stopped on leaving, also on errors / Ctrl-C

Start: `<server_command> serve <folder> --served-model-name <label> --host <server_host> --port
<server_port> --tensor-parallel-size <tp> --dtype <dtype> --gpu-memory-utilization <u> <server_args...>`
in its own process group, output to `log_file`. Ready: GET /v1/models lists the label (polled once a
second up to `server_start_timeout_s`; a server that exits first is an error quoting its last log
lines). Stop: SIGTERM to the group, SIGKILL after 30 s. A port that already answers before the start
is refused (another variant's server still running would answer 404 for this one).
With `evaluate.server: external` nothing is started: `endpoints` / `endpoint` name running servers.
"""
from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import time
import urllib.error
import urllib.request
from contextlib import contextmanager
from pathlib import Path
from typing import Iterator

from definemed.errors import DefinemedError


def needs_server(cfg) -> bool:
    e = cfg.evaluate
    return e.generation_backend == "openai" or e.lm_backend == "server"


def tensor_parallel(cfg, label: str) -> int:
    e = cfg.evaluate
    return int(e.vllm_tensor_parallel.get(label, e.vllm_tensor_parallel_size))


def command(cfg, v) -> list[str]:
    e = cfg.evaluate
    dtype = "bfloat16" if e.dtype == "auto" else e.dtype
    return [e.server_command, "serve", str(v.path), "--served-model-name", v.label, "--host", e.server_host,
            "--port", str(e.server_port), "--tensor-parallel-size", str(tensor_parallel(cfg, v.label)),
            "--dtype", dtype, "--gpu-memory-utilization", str(e.vllm_gpu_memory_utilization), *e.server_args]


def listed_models(base_url: str, timeout_s: float = 5.0) -> list[str] | None:
    """Model names of GET <base_url>/models, or None while nothing answers there."""
    try:
        with urllib.request.urlopen(base_url.rstrip("/") + "/models", timeout=timeout_s) as r:
            return [m.get("id") for m in json.loads(r.read().decode()).get("data", [])]
    except (urllib.error.URLError, ConnectionError, TimeoutError, json.JSONDecodeError, AttributeError):
        return None


def _port_open(host: str, port: int) -> bool:
    with socket.socket() as s:
        s.settimeout(1.0)
        return s.connect_ex((host, port)) == 0


def _tail(path: Path, n: int = 5) -> str:
    try:
        lines = [x for x in path.read_text(errors="replace").splitlines() if x.strip()]
    except OSError:
        return ""
    return " | ".join(lines[-n:])[-600:]


def stop(proc: subprocess.Popen, grace_s: float = 30.0) -> None:
    """SIGTERM to the server's process group (it started its own session), SIGKILL after `grace_s`."""
    if proc.poll() is not None:
        return
    try:
        os.killpg(proc.pid, signal.SIGTERM)
        proc.wait(grace_s)
    except subprocess.TimeoutExpired:
        os.killpg(proc.pid, signal.SIGKILL)
        proc.wait()
    except ProcessLookupError:
        pass


@contextmanager
def served(cfg, v, log_file: Path) -> Iterator[str | None]:
    """Run variant `v`'s server for the duration of the block when the stage manages servers; yields
    its base URL (None when nothing is started)."""
    e = cfg.evaluate
    if e.server != "managed" or not needs_server(cfg):
        yield None
        return
    url = f"http://{e.server_host}:{e.server_port}/v1"
    if _port_open(e.server_host, e.server_port):
        raise DefinemedError(f"evaluate.server_port: {e.server_host}:{e.server_port} is already in use "
                             f"(models listed there: {listed_models(url)}); stop that server or pick another port")
    cmd = command(cfg, v)
    log_file.parent.mkdir(parents=True, exist_ok=True)
    with open(log_file, "ab") as log:
        log.write(f"\n$ {' '.join(cmd)}\n".encode())
        log.flush()
        try:
            proc = subprocess.Popen(cmd, stdout=log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
                                    start_new_session=True)
        except FileNotFoundError:
            raise DefinemedError(f"evaluate.server_command: {e.server_command!r} not found "
                                 "(install vLLM on the GPU node, or set evaluate.server: external)") from None
    try:
        t0 = time.monotonic()
        while True:
            names = listed_models(url)
            if names is not None and v.label in names:
                break
            if proc.poll() is not None:
                raise DefinemedError(f"{v.label}: model server exited with code {proc.returncode} before listing "
                                     f"'{v.label}' ({log_file}: {_tail(log_file)})")
            if time.monotonic() - t0 > e.server_start_timeout_s:
                raise DefinemedError(f"{v.label}: model server not ready after {e.server_start_timeout_s:g} s "
                                     f"(evaluate.server_start_timeout_s; log: {log_file})")
            time.sleep(1.0)
        yield url
    finally:
        stop(proc)
