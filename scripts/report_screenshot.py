"""The report's first screen: where the claims table lies in a 1400 x 1000 window, and a PNG of it.

    python scripts/report_screenshot.py --profile tiny     # (make screenshot)

Writes build/<profile>/report_first_screen.png; exits 1 when the claims table does not end within the
first screen. Needs headless Chromium (definemed.report.screen says how to get it).
"""
import argparse
import sys

from definemed import paths
from definemed.report.screen import HEIGHT, WIDTH, first_screen, screenshot

if __name__ == "__main__":
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--profile", default="tiny")
    args = ap.parse_args()
    html = paths.figures_dir(args.profile) / "report.html"
    box = first_screen(html)
    png = screenshot(html, paths.build_dir(args.profile) / "report_first_screen.png")
    if box is None:
        print(f"{html}: no claims table")
        sys.exit(1)
    ok = box["bottom"] <= HEIGHT and box["right"] <= WIDTH
    print(f"claims table: {box['rows']} rows, top {box['top']:.0f} px, bottom {box['bottom']:.0f} px, right "
          f"{box['right']:.0f} px in a {WIDTH} x {HEIGHT} window: {'on' if ok else 'NOT on'} the first screen; {png}")
    sys.exit(0 if ok else 1)
