"""One exception type for bad input: the CLI turns it into a one-line message and exit code 1."""


class DefinemedError(Exception):
    """Bad input or a failed precondition. The message names the file, key or tensor."""


class ConfigError(DefinemedError):
    """A configuration file is missing, malformed, or has an unknown key or a wrong type."""


class Terminated(KeyboardInterrupt):
    """SIGTERM arrived (`kill PID`, make or Slurm stopping the job). A KeyboardInterrupt, so every
    cleanup written for Ctrl-C (stopping child processes, dropping temporaries) runs for it too;
    the CLI exits 143 with one line."""
