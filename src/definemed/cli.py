"""Command line: `python -m definemed <command>`; the same stage functions the notebooks call.

Bad input ends with a one-line `error: ...` on stderr and exit code 1; Ctrl-C (SIGINT) ends with
"interrupted; rerun to resume" and exit code 130 (docs/CONTRACTS.md, "Faults and exit codes").
"""
from __future__ import annotations

import sys
from typing import Optional

import typer

from definemed.errors import DefinemedError

app = typer.Typer(add_completion=False, no_args_is_help=True, pretty_exceptions_enable=False,
                  help="DeFineMed reproduction: pipeline stages as commands.")


@app.command()
def corpus(
    profile: str = typer.Option("tiny", help="Profile name (configs/<name>.yaml) or a config path."),
    n_docs: Optional[int] = typer.Option(None, help="Override corpus.n_docs."),
    force: bool = typer.Option(False, help="Replace an existing corpus."),
) -> None:
    """Stage 00: write the web corpus (synthetic, hub or local source) as parquet shards in FineWeb2's schema."""
    from definemed import artifacts

    rec = run_stage(artifacts.CORPUS, profile, {"corpus.n_docs": n_docs}, force)
    c = rec["counts"]
    typer.echo(f"{c['n_docs']} documents in {c['n_shards']} shards ({rec['wall_time_s']:.1f} s)")


def run_stage(stage: str, profile: str, overrides: dict | None = None, force: bool = False) -> dict:
    """What every stage command does: load the config, run the stage (or load it) and write its manifest."""
    from definemed import stages
    from definemed.config import load_config
    from definemed.manifest import write_manifest

    cfg = load_config(profile, overrides={k: v for k, v in (overrides or {}).items() if v is not None} or None)
    rec = stages.run(cfg, stage, force=force)
    write_manifest(cfg, stage)
    return rec


@app.command("run")
def run_cmd(
    stage: str = typer.Argument(..., help="A stage name: 00_corpus, 01_label, ..., zoo, ..., 07_failure_analysis."),
    profile: str = typer.Option("tiny", help="Profile name (configs/<name>.yaml) or a config path."),
    force: bool = typer.Option(False, help="Clear the stage's outputs and run it again even if it is done."),
) -> None:
    """Run one stage (or load it when done) and write its manifest; the same contract the notebooks use."""
    rec = run_stage(stage, profile, force=force)
    shown = {k: v for k, v in rec["counts"].items() if not isinstance(v, (dict, list))}
    typer.echo(f"{stage}: fingerprint {rec['fingerprint']}, {len(rec['outputs'])} output files; {shown}")


@app.command("run-notebook")
def run_notebook_cmd(stage: str, profile: str = typer.Option("tiny"),
                     force: bool = typer.Option(False, help="Execute even if nothing changed.")) -> None:
    """Execute notebooks/<stage>.ipynb with papermill and write its manifest."""
    from definemed.notebooks import run_notebook

    out = run_notebook(stage, profile, force=force)
    typer.echo(f"{stage} -> {out}")


@app.command("deps", hidden=True)
def deps_cmd(profile: str = typer.Option("tiny")) -> None:
    """Write the content stamps of PROFILE and print its Make rules (the Makefile writes them to
    build/<profile>/deps.mk through `python -m definemed.notebooks make-rules`)."""
    from definemed.notebooks import make_rules

    typer.echo(make_rules(profile), nl=False)


@app.command("validate-config")
def validate_config(profile: str = typer.Argument("tiny")) -> None:
    """Load and validate a config; print the resolved sections."""
    from definemed.config import load_config

    cfg = load_config(profile)
    typer.echo(f"{profile}: ok ({', '.join(k for k in cfg.model_fields if k not in ('profile', 'seed'))})")


# Each stage package contributes its commands through `definemed/<package>/cli.py: register(app)`.
# Those modules import their heavy dependencies inside the command functions, not at the top.
STAGE_PACKAGES = ["labeling", "classifier", "filtering", "zoo", "training", "merging", "evaluation",
                  "failure", "report"]


def _register_stage_commands() -> None:
    import importlib

    for pkg in STAGE_PACKAGES:
        importlib.import_module(f"definemed.{pkg}.cli").register(app)


_register_stage_commands()


INTERRUPTED = 130
"""Exit code of a run stopped by Ctrl-C / SIGINT (128 + SIGINT, the shell's convention)."""


def _fail(msg: str, code: int = 1) -> None:
    print(f"error: {msg}" if code != INTERRUPTED else msg, file=sys.stderr)
    sys.exit(code)


def main(argv: list[str] | None = None) -> None:
    """Run a command: 0 done, 1 bad input or a failed precondition (one line), 2 usage, 130 interrupted."""
    try:
        # in non-standalone mode typer *returns* the exit code of typer.Exit and of a Ctrl-C (130)
        rv = app(args=argv, standalone_mode=False)
    except KeyboardInterrupt:
        rv = INTERRUPTED
    except DefinemedError as e:
        _fail(str(e))
    except FileExistsError as e:
        _fail(str(e))
    except OSError as e:  # a file the command could not read or write: name it, no traceback
        if e.filename is None:
            raise
        where = f"{e.filename} -> {e.filename2}" if e.filename2 else f"{e.filename}"
        _fail(f"{where}: {e.strerror or type(e).__name__}")
    except (typer.Exit, SystemExit) as e:
        code = getattr(e, "exit_code", getattr(e, "code", 0))
        sys.exit(code)
    except Exception as e:  # usage errors: typer 0.29 vendors click as typer._click
        from typer._click import exceptions as click_exceptions

        if isinstance(e, click_exceptions.ClickException):
            e.show()
            sys.exit(e.exit_code)
        if isinstance(e, click_exceptions.Abort):
            rv = INTERRUPTED
        else:
            raise
    if rv == INTERRUPTED:
        _fail("interrupted; rerun to resume", INTERRUPTED)
    if isinstance(rv, int) and not isinstance(rv, bool) and rv != 0:
        sys.exit(rv)


if __name__ == "__main__":
    main()
