"""The README's benchmark table and the docs' benchmark sentences, generated from the committed
benchmark results (benchmarks/results.json, a copy of one `make bench` run's build/bench/results.json).

A generated block looks like

    <!-- bench:NAME (generated from benchmarks/results.json by `python benchmarks/run.py --publish`; do not edit) -->
    ...
    <!-- /bench:NAME -->

NAME `table` is the README table (one row per entry, with the machine's load while it ran); any other
NAME is a benchmark entry, rendered as its `prose` (the sentence its bench module wrote from its own
numbers) plus the load. tests/report/test_bench.py fails when a block differs from the results file.
"""
from __future__ import annotations

import json
import re
from pathlib import Path

from definemed import paths
from definemed.report import prose

RESULTS = paths.ROOT / "benchmarks" / "results.json"
_BLOCK = re.compile(r"(<!-- bench:(?P<name>[\w-]+) [^>]*-->\n)(?P<body>.*?)(<!-- /bench:(?P=name) -->)", re.S)
ORDER = ("packing", "merge", "classifier", "classifier_base", "training", "reproduce", "label", "generation",
         "corpus", "scaling")
"""Table order: the issue's targets first."""
LEGACY = ("packing", "merge", "classifier", "training", "label", "generation", "corpus", "scaling")
"""The entries of a results file made before harness 2 (issue 31 added classifier_base and reproduce)."""


def required(res: dict) -> tuple[str, ...]:
    """The entries a results file of its harness version must have."""
    return ORDER if res.get("harness", 1) >= 2 else LEGACY


def load(path: Path = RESULTS) -> dict:
    return json.loads(Path(path).read_text(encoding="utf-8"))


def _load_text(e: dict) -> str:
    a, b = e.get("load_1min_start"), e.get("load_1min_end")
    return "—" if a is None else f"{a:.1f} → {b:.1f}"


def _met(m) -> str:
    return "—" if m is None else ("**met**" if m else "**missed**")


def _cell(s: str) -> str:
    return str(s).replace("|", "\\|").replace("\n", " ")


def entries(res: dict) -> list[tuple[str, dict]]:
    e = res["entries"]
    return [(k, e[k]) for k in (*[k for k in ORDER if k in e], *sorted(set(e) - set(ORDER)))]


def table(res: dict) -> str:
    m = res.get("machine", {})
    head = (f"Run of {res.get('date', '?')} on {m.get('cpus', '?')} CPU cores ({m.get('platform', '?')}); "
            "ratios are medians of paired, alternating rounds with their spread; load is the 1-minute load "
            "average when the entry started → ended (the cores were shared with other jobs).\n\n")
    rows = ["| entry | measures | baseline | ours | result (median, spread) | same work checked | target | load |",
            "|---|---|---|---|---|---|---|---|"]
    for name, e in entries(res):
        r = e.get("row")
        if not r:
            continue
        rows.append("| " + " | ".join(_cell(x) for x in (
            name, r["measures"], r["baseline"], r["ours"], r["result"], r["equal_work"],
            f"{r['target']}: {_met(r['met'])}" if r["target"] else "—", _load_text(e))) + " |")
    return head + "\n".join(rows)


def sentence(res: dict, name: str) -> str:
    e = res["entries"].get(name)
    if e is None:
        return f"(benchmark `{name}` not in the results file)"
    return f"{e['prose'].rstrip()} (`make bench` of {res.get('date', '?')}, load average {_load_text(e)}.)"


def blocks(text: str) -> list[str]:
    return [m.group("name") for m in _BLOCK.finditer(text)]


def render(text: str, res: dict) -> str:
    """`text` with every bench block re-rendered from `res`."""
    def sub(m: re.Match) -> str:
        name = m.group("name")
        body = table(res) if name == "table" else sentence(res, name)
        return m.group(1) + body.rstrip("\n") + "\n" + m.group(4)

    return _BLOCK.sub(sub, text)


def documents() -> list[Path]:
    return prose.documents()


def update(res: dict) -> list[Path]:
    """Rewrite the bench blocks of README.md and docs/*.md; return the files that changed."""
    return prose.rewrite(documents(), lambda text: render(text, res))
