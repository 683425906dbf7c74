"""The report's first screen (1400 x 1000 in headless Chromium) shows the claims table."""
from __future__ import annotations

import pytest

from definemed.report import build_report
from definemed.report.screen import HEIGHT, WIDTH, find_browser, first_screen, screenshot

from .test_report import CLAIMS, fake_outputs  # noqa: F401  (fixture)

pytestmark = pytest.mark.skipif(find_browser() is None, reason="no headless Chromium: apt-get install chromium-headless-shell")


def test_claims_table_on_the_first_screen(fake_outputs, tmp_path):  # noqa: F811
    from definemed import tables

    tables.write_table(CLAIMS, "claims", "rep")
    html = build_report("rep")["html"]
    box = first_screen(html)
    assert box["rows"] == len(CLAIMS) + 1
    assert 0 < box["top"] and box["bottom"] <= HEIGHT and box["right"] <= WIDTH, box
    png = screenshot(html, tmp_path / "first.png")
    assert png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def test_a_report_without_claims_has_none_on_screen(fake_outputs):  # noqa: F811
    assert first_screen(build_report("rep")["html"]) is None
