"""The exit codes every step script ends with."""

EXIT_OK = 0  # done
EXIT_FAILED = 1  # AWS said no, the step failed or timed out, or an internal error
EXIT_BAD_SETTING = 2  # a setting or an argument is not valid
EXIT_INTERRUPTED = 130  # Ctrl-C; any other stop signal N ends with 128 + N


def for_signal(signum: int) -> int:
    """The conventional exit code of a process ended by signal `signum`."""
    return 128 + signum
