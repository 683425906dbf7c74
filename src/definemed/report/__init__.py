"""The reproduction report: every table and figure of stages 00-07 on one page (Markdown + HTML)."""


def __getattr__(name: str):
    """Lazy (pandas): every `python -m definemed` command imports the package's cli."""
    if name in ("build_report", "collect"):
        from definemed.report import build

        return getattr(build, name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


__all__ = ["build_report", "collect"]
