"""Labelling throughput of the `openai` client against a local server with a fixed 50 ms latency,
at concurrency 1 and 64, side by side in one run.

With a fixed server latency L, c requests in flight ideally give c / L documents per second, so the
ideal speed-up from 1 to 64 is 64x. The client must keep at least 80 % of it: the server, not the
client (asyncio, JSON, the incremental label file), has to be the bottleneck. The server runs in its
own process so the two do not share one interpreter. The client's CPU time per document and the
machine's load average are reported too: on a loaded 2-core machine both processes wait for a core,
and the client's CPU share of one core shows whether the client itself is the limit. Each
concurrency runs 3 times, interleaved; the best run of each counts (the median is reported too).
"""
from __future__ import annotations

import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

LATENCY_S = 0.05
TARGET_EFFICIENCY = 0.80
REPEATS = 3


def _throughput(base_url: str, concurrency: int, n_docs: int) -> dict:
    from definemed.labeling.annotate import label_documents
    from definemed.labeling.backends.openai_chat import OpenAIAnnotator
    from definemed.labeling.prompt import load_prompt

    prompt = load_prompt("prompts/label_medical_de.v1.txt")
    ann = OpenAIAnnotator(prompt, "JA", "NEIN", base_url=base_url, model="bench", concurrency=concurrency,
                          timeout_s=30, retries=2, backoff_s=0.05)
    texts = [f"Dokument {i}: Die Patientin ist krank und bekommt eine Therapie. " * 20 for i in range(n_docs)]
    ids = [f"b{concurrency}-{i}" for i in range(n_docs)]
    with tempfile.TemporaryDirectory() as d:
        c0, t0 = time.process_time(), time.perf_counter()
        s = label_documents(ids, texts, ann, Path(d), {"bench": concurrency}, max_chars=4000)
        dt, cpu = time.perf_counter() - t0, time.process_time() - c0
    assert s["n_docs"] == n_docs and s["n_invalid"] == 0
    return {"docs": n_docs, "seconds": round(dt, 3), "docs_per_s": round(n_docs / dt, 1),
            "client_cpu_ms_per_doc": round(1000 * cpu / n_docs, 3), "client_cpu_share": round(cpu / dt, 2)}


def _cpu_s(pid: int) -> float | None:
    """User + system CPU seconds of a process (Linux /proc), None elsewhere."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
        return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")
    except (OSError, ValueError, IndexError):
        return None


def run() -> dict:
    os.environ.setdefault("TQDM_DISABLE", "1")
    src = str(Path(__file__).resolve().parents[1] / "src")
    server = subprocess.Popen([sys.executable, "-m", "definemed.labeling.mock_server", "--latency", str(LATENCY_S)],
                              stdout=subprocess.PIPE, text=True,
                              env=os.environ | {"PYTHONPATH": src + os.pathsep + os.environ.get("PYTHONPATH", "")})
    try:
        line = server.stdout.readline()  # "serving http://127.0.0.1:PORT/v1"
        if not line.startswith("serving "):
            raise RuntimeError(f"mock server did not start: {line!r}")
        url = line.split()[1]
        _throughput(url, 8, 32)  # warm-up: imports, connections
        ones, manys, server_ms = [], [], []
        for _ in range(REPEATS):  # interleaved, so both see the same machine load
            ones.append(_throughput(url, 1, 40))           # ideal 20 docs/s -> 2 s
            s0 = _cpu_s(server.pid)
            manys.append(_throughput(url, 64, 64 * 25))    # ideal 1,280 docs/s -> 1.25 s
            s1 = _cpu_s(server.pid)
            if s0 is not None:
                server_ms.append(1000 * (s1 - s0) / manys[-1]["docs"])
    finally:
        server.terminate()
        server.wait(10)
    # best of the repeats: other jobs on a shared machine only ever slow a run down
    one = max(ones, key=lambda r: r["docs_per_s"])
    many = max(manys, key=lambda r: r["docs_per_s"])
    median_speedup = sorted(m["docs_per_s"] for m in manys)[REPEATS // 2] / sorted(o["docs_per_s"] for o in ones)[REPEATS // 2]
    speedup = many["docs_per_s"] / one["docs_per_s"]
    return {
        "server_latency_s": LATENCY_S,
        "c1_docs_per_s": one["docs_per_s"], "c1_ideal_docs_per_s": 1 / LATENCY_S,
        "c64_docs_per_s": many["docs_per_s"], "c64_ideal_docs_per_s": 64 / LATENCY_S,
        "c64_client_cpu_ms_per_doc": many["client_cpu_ms_per_doc"],
        "c64_client_cpu_share_of_one_core": many["client_cpu_share"],
        "c64_server_cpu_ms_per_doc": round(min(server_ms), 3) if server_ms else None,
        "load_average_1min": round(os.getloadavg()[0], 1), "cpu_count": os.cpu_count(),
        "speedup": round(speedup, 1), "ideal_speedup": 64,
        "efficiency": round(speedup / 64, 3), "median_efficiency": round(median_speedup / 64, 3),
        "repeats": REPEATS, "target_efficiency": TARGET_EFFICIENCY,
        "meets_target": speedup / 64 >= TARGET_EFFICIENCY,
    }
