"""One exception type for bad input: the CLI turns it into a one-line message and exit code 1."""


class DefinemedError(Exception):
    """Bad input or a failed precondition. The message names the file, key or tensor."""


class ConfigError(DefinemedError):
    """A configuration file is missing, malformed, or has an unknown key or a wrong type."""


class Terminated(KeyboardInterrupt):
    """SIGTERM arrived (`kill PID`, make or Slurm stopping the job). A KeyboardInterrupt, so every
    cleanup written for Ctrl-C (stopping child processes, dropping temporaries) runs for it too;
    the CLI exits 143 with one line."""


def network_error_types() -> tuple[type[BaseException], ...]:
    """Exceptions of a failed network request: OSError (sockets, requests, huggingface_hub's offline and
    HTTP errors) and the HTTP client errors of httpx / httpx2 (huggingface_hub 1.x / 2.x), which are not
    OSErrors. Readers of the hub retry these and then end with one line (corpus/streaming.py)."""
    types: list[type[BaseException]] = [OSError, TimeoutError]
    for mod in ("httpx", "httpx2"):
        try:
            types.append(__import__(mod).HTTPError)
        except (ImportError, AttributeError):
            pass
    return tuple(types)
