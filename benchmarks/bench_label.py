"""Labelling throughput of the `openai` client against a local server with a fixed 50 ms latency,
at concurrency 1 and 64, side by side in one run.

With a fixed server latency L, c requests in flight ideally give c / L documents per second, so the
ideal speed-up from 1 to 64 is 64x. The client must keep at least 80 % of it: the server, not the
client (asyncio, JSON, the incremental label file), has to be the bottleneck. The server runs in its
own process so the two do not share one interpreter. The client's CPU time per document and the
machine's load average are reported too: on a loaded 2-core machine both processes wait for a core,
and the client's CPU share of one core shows whether the client itself is the limit. Each
concurrency runs 3 times, alternating (paired rounds); the efficiency is the median of the per-round
speed-ups over 64, with its spread. The same documents are labelled on both sides (counted, no
invalid answer).
"""
from __future__ import annotations

import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from common import paired, ratios, row, spread  # noqa: E402

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
        server_ms: list[float] = []

        def many() -> dict:
            s0 = _cpu_s(server.pid)
            r = _throughput(url, 64, 64 * 25)    # ideal 1,280 docs/s -> 1.25 s
            s1 = _cpu_s(server.pid)
            if s0 is not None:
                server_ms.append(1000 * (s1 - s0) / r["docs"])
            return r

        runs = paired({"c1": lambda: _throughput(url, 1, 40), "c64": many}, REPEATS)  # c1: ideal 20 docs/s -> 2 s
    finally:
        server.terminate()
        server.wait(10)
    ones, manys = runs["c1"], runs["c64"]
    speed = ratios(ones, manys, "docs_per_s", higher_is_better=True, digits=1)
    eff = {k: (round(v / 64, 3) if k != "n" else v) for k, v in speed.items()}
    many = sorted(manys, key=lambda r: r["docs_per_s"])[REPEATS // 2]
    one = sorted(ones, key=lambda r: r["docs_per_s"])[REPEATS // 2]
    met = bool(eff["median"] >= TARGET_EFFICIENCY)
    return {
        "server_latency_s": LATENCY_S,
        "c1_docs_per_s": one["docs_per_s"], "c1_ideal_docs_per_s": 1 / LATENCY_S,
        "c64_docs_per_s": many["docs_per_s"], "c64_ideal_docs_per_s": 64 / LATENCY_S,
        "docs_per_run": {"c1": ones[0]["docs"], "c64": manys[0]["docs"]},
        "c64_client_cpu_ms_per_doc": many["client_cpu_ms_per_doc"],
        "c64_client_cpu_share_of_one_core": many["client_cpu_share"],
        "c64_server_cpu_ms_per_doc": round(min(server_ms), 3) if server_ms else None,
        "cpu_count": os.cpu_count(), "speedup": speed, "ideal_speedup": 64, "efficiency": eff,
        "repeats": REPEATS, "target_efficiency": TARGET_EFFICIENCY, "meets_target": met,
        "row": row(f"`openai` labelling client against a local server with {LATENCY_S * 1000:.0f} ms latency, "
                   "concurrency 64 vs 1",
                   f"concurrency 1: {one['docs_per_s']:.1f} docs/s (ideal {1 / LATENCY_S:.0f})",
                   f"concurrency 64: {many['docs_per_s']:,.0f} docs/s (ideal {64 / LATENCY_S:,.0f})",
                   f"{spread(eff, '.2f')} of the ideal 64x",
                   f"every document labelled, none invalid ({manys[0]['docs']:,} per run)",
                   f"≥ {TARGET_EFFICIENCY:.0%} of ideal", met),
        "prose": (f"Against a local OpenAI-compatible server with a fixed {LATENCY_S * 1000:.0f} ms latency, the client "
                  f"labelled {one['docs_per_s']:.1f} documents/s at concurrency 1 and {many['docs_per_s']:,.0f} at "
                  f"concurrency 64: {speed['median']:.1f}x, {eff['median']:.2f} of the ideal 64x (spread "
                  f"{eff['min']:.2f}-{eff['max']:.2f} over {REPEATS} paired rounds; target ≥ {TARGET_EFFICIENCY}). At "
                  f"concurrency 64 the client used {many['client_cpu_ms_per_doc']:.2f} ms of CPU per document."),
    }
