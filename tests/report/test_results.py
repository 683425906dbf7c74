"""The committed results file changes only when a number (or the set of done stages) changes."""
from __future__ import annotations

import json
import os

from definemed import artifacts
from definemed.report import results


def _res(fingerprint: str, f1: float) -> dict:
    return {"profile": "tiny", "seed": 1, "stages": {s: fingerprint for s in artifacts.ORDER},
            "values": {"label.f1": f1}}


def test_new_fingerprints_alone_leave_the_committed_file_alone(tmp_path):
    f = tmp_path / "tiny.json"
    assert results.publish(_res("aaaa", 0.9), f)
    saved = json.loads(f.read_text())
    assert saved["stages"] == list(artifacts.ORDER), "no fingerprint in the committed file"
    os.utime(f, (1, 1))
    assert not results.publish(_res("bbbb", 0.9), f), "code edits change fingerprints, not the file"
    assert f.stat().st_mtime == 1
    assert results.publish(_res("bbbb", 0.91), f)
    assert json.loads(f.read_text())["values"] == {"label.f1": 0.91}


def test_the_committed_results_file_is_in_its_committed_form():
    res = results.load("tiny")
    assert res == results.committed(res), "results/tiny.json carries fingerprints: `make reproduce` would rewrite it"
