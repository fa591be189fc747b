"""Stop signals (Ctrl-C, SIGTERM, SIGHUP): what a script says when one ends it, and the handlers.

The handlers are installed when this module is imported, before anything slow (boto3 takes a
moment, even the `signal` module takes milliseconds), so that a signal at any moment ends a
script in one line, without a traceback. `_signal` is the C module the interpreter has already
loaded. A signal the platform lacks (Windows has no SIGHUP) is left out.
"""

from __future__ import annotations

import _signal
import atexit
import os

_SIGNAL_NAMES = {
    getattr(_signal, name): name for name in ("SIGINT", "SIGTERM", "SIGHUP") if hasattr(_signal, name)
}
STOP_SIGNALS = tuple(_SIGNAL_NAMES)


class Interrupted(BaseException):
    """A stop signal arrived while a script's body ran (BaseException: nothing swallows it)."""

    def __init__(self, signum: int, operation: str | None = None) -> None:
        super().__init__(signal_line(signum))
        self.signum = signum
        self.operation = operation  # the AWS call in flight, if any


def signal_line(signum: int) -> str:
    """What a script says when a stop signal ends it."""
    if signum == _signal.SIGINT:
        return "interrupted"
    return f"stopped by {_SIGNAL_NAMES.get(signum, f'signal {signum}')}"


def exit_at_once(signum: int, _frame: object) -> None:
    """Outside a script's body there is nothing to clean up: one line, the conventional code."""
    try:
        os.write(2, f"{signal_line(signum)}\n".encode())
    finally:
        os._exit(128 + signum)


def install(handler: object) -> dict[int, object]:
    """Install `handler` for the stop signals; return the previous ones (main thread only)."""
    previous: dict[int, object] = {}
    try:
        for signum in STOP_SIGNALS:
            previous[signum] = _signal.signal(signum, handler)
    except ValueError:  # not the main thread: leave the signals alone
        pass
    return previous


def _block_stop_signals_at_exit() -> None:
    # The script is done and its exit code decided. Python's shutdown then puts the default
    # handlers back, and a signal in that moment would end the process with no word and a
    # code saying it was interrupted: block the stop signals for those last milliseconds.
    # Where there are no signal masks (Windows), ignore them instead: shutdown leaves SIG_IGN.
    try:
        if hasattr(_signal, "pthread_sigmask"):
            _signal.pthread_sigmask(_signal.SIG_BLOCK, STOP_SIGNALS)
        else:
            for signum in STOP_SIGNALS:
                _signal.signal(signum, _signal.SIG_IGN)
    except (ValueError, OSError):
        pass


install(exit_at_once)
atexit.register(_block_stop_signals_at_exit)
