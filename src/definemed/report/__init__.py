"""The reproduction report: every table and figure of stages 00-07 on one page (Markdown + HTML)."""
from definemed.report.build import build_report, collect

__all__ = ["build_report", "collect"]
