"""README's results section and the docs' measured sections are generated from results/tiny.json."""
from __future__ import annotations

import re

import pytest

from definemed import paths
from definemed.report import prose, results

DOCS = [f for f in prose.documents() if prose.blocks(f.read_text(encoding="utf-8"))]


def test_readme_and_docs_have_generated_blocks():
    names = {n for f in DOCS for n in prose.blocks(f.read_text(encoding="utf-8"))}
    assert {"readme", "labeling", "filtering", "training", "merging"} <= names
    assert "readme" in prose.blocks((paths.ROOT / "README.md").read_text(encoding="utf-8"))


@pytest.mark.parametrize("doc", DOCS, ids=lambda p: p.name)
def test_generated_blocks_match_the_results_file(doc):
    """Fails when a number in README's results section (or a doc's measured section) differs from
    results/tiny.json: rerun `python -m definemed report --profile tiny` (make reproduce does)."""
    text = doc.read_text(encoding="utf-8")
    want = prose.render(text, results.load(prose.PROFILE))
    assert text == want, f"{doc.name}: generated numbers differ from results/{prose.PROFILE}.json"


def test_a_changed_number_is_caught():
    readme = (paths.ROOT / "README.md").read_text(encoding="utf-8")
    res = results.load(prose.PROFILE)
    block = re.search(r"<!-- results:readme .*?<!-- /results:readme -->", readme, re.S).group(0)
    digit = re.search(r"\d", block.split("-->", 1)[1])
    assert digit, "the README's results section states numbers"
    i = readme.index(block) + len(block.split("-->", 1)[0]) + 3 + digit.start()
    edited = readme[:i] + str((int(readme[i]) + 1) % 10) + readme[i + 1:]
    assert prose.render(edited, res) != edited


def test_missing_values_render_as_not_run():
    text = "x\n<!-- results:merging (generated) -->\nold\n<!-- /results:merging -->\n"
    out = prose.render(text, {"profile": "tiny", "values": {"cpt.m.ppl_medical_after": 1.5,
                                                             "merge.m.ppl_medical": 300.0}})
    assert "| m | 300.0 | not run | not run |" in out and "old" not in out


def test_unknown_block_is_an_error():
    with pytest.raises(KeyError, match="nope"):
        prose.render("<!-- results:nope (x) -->\n<!-- /results:nope -->", {"profile": "tiny", "values": {}})
