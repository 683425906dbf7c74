"""What a reader sees first: the report in a headless browser at a fixed window size.

`first_screen(html)` opens the report in headless Chromium and returns where the claims table
(`<table id='claims'>`) lies on the page, so a test or `make screenshot` can check that the verdict is
on the first screen (1400 x 1000 pixels). `screenshot(html, png)` saves that screen as a PNG.

Chromium cannot be installed with pip (playwright downloads its browsers from its own servers); on
Debian `apt-get install chromium-headless-shell` (or `chromium`) provides it. Without a browser the
functions raise DefinemedError and the test skips, saying so.
"""
from __future__ import annotations

import json
import re
import shutil
import subprocess
import tempfile
from pathlib import Path

from definemed.errors import DefinemedError

BROWSERS = ("chromium-headless-shell", "chromium", "chromium-browser", "google-chrome", "headless_shell")
WIDTH, HEIGHT = 1400, 1000
_PROBE = """<script>window.addEventListener('load', () => {
  const t = document.getElementById('claims'); const r = t ? t.getBoundingClientRect() : null;
  document.documentElement.setAttribute('data-probe', JSON.stringify(r ? {top: r.top, bottom: r.bottom,
    left: r.left, right: r.right, rows: t.rows.length} : null));
});</script>"""


def find_browser() -> str | None:
    return next((b for b in map(shutil.which, BROWSERS) if b), None)


def _run(browser: str, args: list[str], url: str, width: int, height: int) -> str:
    flags = [] if browser.endswith("headless-shell") or browser.endswith("headless_shell") else ["--headless=new"]
    cmd = [browser, *flags, "--no-sandbox", "--disable-gpu", "--hide-scrollbars", f"--window-size={width},{height}",
           *args, url]
    out = subprocess.run(cmd, capture_output=True, text=True, timeout=120)
    if out.returncode != 0:
        raise DefinemedError(f"{browser}: exit {out.returncode}: {out.stderr.strip()[-300:]}")
    return out.stdout


def _browser() -> str:
    b = find_browser()
    if b is None:
        raise DefinemedError("no headless Chromium found (" + ", ".join(BROWSERS) + "); on Debian: "
                             "apt-get install chromium-headless-shell")
    return b


def first_screen(html: Path, width: int = WIDTH, height: int = HEIGHT) -> dict | None:
    """{top, bottom, left, right, rows} of the claims table in CSS pixels of a width x height window
    (None when the page has no claims table)."""
    text = Path(html).read_text(encoding="utf-8")
    with tempfile.TemporaryDirectory() as d:
        probe = Path(d) / "probe.html"
        probe.write_text(text.replace("</body>", _PROBE + "</body>"), encoding="utf-8")
        dom = _run(_browser(), ["--dump-dom"], probe.as_uri(), width, height)
    m = re.search(r'data-probe="([^"]*)"', dom)
    if m is None:
        raise DefinemedError(f"{html}: the browser did not run the probe")
    return json.loads(m.group(1).replace("&quot;", '"'))


def screenshot(html: Path, png: Path, width: int = WIDTH, height: int = HEIGHT) -> Path:
    png = Path(png)
    png.parent.mkdir(parents=True, exist_ok=True)
    _run(_browser(), [f"--screenshot={png}"], Path(html).resolve().as_uri(), width, height)
    if not png.is_file():
        raise DefinemedError(f"{png}: the browser wrote no screenshot")
    return png
