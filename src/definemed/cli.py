"""Command line: `python -m definemed <command>`; the same stage functions the notebooks call.

Bad input ends with a one-line `error: ...` on stderr and exit code 1; Ctrl-C (SIGINT) ends with
"interrupted; rerun to resume" and exit code 130, SIGTERM with "terminated (SIGTERM); rerun to resume"
and 143, after every process the command started is gone (definemed.procs; docs/CONTRACTS.md,
"Faults and exit codes").
"""
from __future__ import annotations

import sys
from typing import Optional

import typer

from definemed.errors import DefinemedError
from definemed.runner import run_stage  # noqa: F401  (the stage commands' front door; re-exported)

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


@app.command("adopt")
def adopt_cmd(
    stage: str = typer.Argument(..., help="The stage whose existing work the current code and config describe."),
    profile: str = typer.Option("tiny", help="Profile name (configs/<name>.yaml) or a config path."),
) -> None:
    """Accept a change that does not alter a stage's results (a comment, a refactor, a logging key):
    re-stamp its record under the current fingerprint, keeping its outputs and resumable work."""
    from definemed import stages
    from definemed.config import load_config

    cfg = load_config(profile)
    change = stages.adopt(cfg, stage)
    if stages.read_record(cfg, stage) is not None:
        from definemed.manifest import write_manifest

        write_manifest(cfg, stage)
    typer.echo(f"{stage}: adopted ({change['changed']}); fingerprint {change['from']} -> {change['to']}")


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
    from definemed.config import check_pins, load_config

    cfg = load_config(profile)
    for w in check_pins(cfg):  # an unpinned hub revision is refused unless allowed (configs/paper.yaml)
        typer.echo(w, err=True)
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
TERMINATED = 143
"""Exit code of a run stopped by SIGTERM (128 + 15)."""


def _fail(msg: str, code: int = 1) -> None:
    print(f"error: {msg}" if code not in (INTERRUPTED, TERMINATED) else msg, file=sys.stderr)
    sys.exit(code)


_signalled = {"term": False}


def _on_sigterm(signum, frame) -> None:  # noqa: ARG001 - signal handler signature
    import signal

    signal.signal(signal.SIGTERM, signal.SIG_IGN)  # once: a second SIGTERM must not cut the cleanup short
    from definemed.errors import Terminated

    _signalled["term"] = True  # typer turns the exception into exit code 130; this tells them apart

    raise Terminated()


def _as_process() -> None:
    """Set up the command-line process (not an in-process call from a test): SIGTERM becomes an
    exception that runs every cleanup, SIGINT's default restored (a shell without job control starts
    jobs with it ignored), and orphaned descendants come back to us (definemed.procs)."""
    import signal

    from definemed import procs

    signal.signal(signal.SIGTERM, _on_sigterm)
    if signal.getsignal(signal.SIGINT) is signal.SIG_IGN:
        signal.signal(signal.SIGINT, signal.default_int_handler)
    procs.become_subreaper()


def _stop_children() -> None:
    """Before exiting: no process we started (or that was re-parented to us) may outlive us."""
    import signal

    from definemed import procs

    signal.signal(signal.SIGINT, signal.SIG_IGN)  # the cleanup runs to its end
    signal.signal(signal.SIGTERM, signal.SIG_IGN)
    procs.stop_descendants()


def main(argv: list[str] | None = None) -> None:
    """Run a command: 0 done, 1 bad input or a failed precondition (one line), 2 usage, 130 interrupted,
    143 terminated (SIGTERM)."""
    if argv is None:
        _as_process()
        try:
            _main(argv)
        finally:
            _stop_children()
    else:
        _main(argv)


def _main(argv: list[str] | None) -> None:
    from definemed.errors import Terminated

    try:
        # in non-standalone mode typer *returns* the exit code of typer.Exit and of a Ctrl-C (130)
        rv = app(args=argv, standalone_mode=False)
    except Terminated:
        rv = TERMINATED
    except KeyboardInterrupt:
        rv = INTERRUPTED
    except DefinemedError as e:
        _fail(str(e))
    except FileExistsError as e:
        _fail(str(e))
    except OSError as e:  # a file the command could not read or write: name it, no traceback
        if e.filename is None:
            if e.errno is None:
                raise
            _fail(f"{e.strerror or type(e).__name__} (errno {e.errno}; no file named by the library)")
        where = f"{e.filename} -> {e.filename2}" if e.filename2 else f"{e.filename}"
        _fail(f"{where}: {e.strerror or type(e).__name__}")
    except (typer.Exit, SystemExit) as e:
        code = getattr(e, "exit_code", getattr(e, "code", 0))
        sys.exit(code)
    except Exception as e:  # usage errors: typer 0.29 vendors click as typer._click (Abort is typer.Abort)
        from typer._click import exceptions as click_exceptions

        from definemed.errors import network_error_types

        if isinstance(e, click_exceptions.ClickException):
            e.show()
            sys.exit(e.exit_code)
        if isinstance(e, typer.Abort):  # click wraps a KeyboardInterrupt (and so Terminated)
            rv = TERMINATED if isinstance(e.__cause__, Terminated) else INTERRUPTED
        elif isinstance(e, network_error_types()):  # a hub / server request no stage wrapped: one line
            _fail(f"network: {type(e).__name__}: {str(e).splitlines()[0][:200] if str(e) else ''}; check the "
                  "connection (or HF_ENDPOINT), or stage the data first and set HF_HUB_OFFLINE=1")
        else:
            raise
    if rv == INTERRUPTED and _signalled["term"]:
        rv = TERMINATED
    if rv == INTERRUPTED:
        _fail("interrupted; rerun to resume", INTERRUPTED)
    if rv == TERMINATED:
        _fail("terminated (SIGTERM); rerun to resume", TERMINATED)
    if isinstance(rv, int) and not isinstance(rv, bool) and rv != 0:
        sys.exit(rv)


if __name__ == "__main__":
    main()
