"""Ctrl-C, SIGTERM and SIGHUP in the demos: one line on stderr and exit 128 + the signal.

Every demo imports this module first, so a signal during the (slow) imports that follow
already ends the demo this way. The handlers are installed only when a script of this folder is
the program being run, not when a test or a benchmark imports the demos. Inside `democli.run` a signal raises `Interrupted` (a
KeyboardInterrupt) instead, so that an open session is deleted on the way out; `deferred()`
holds a signal back over a step that must not be cut in two, such as creating or deleting a
session, and raises it when the step is done.

A signal the platform lacks is skipped. Windows has no SIGHUP: closing the console window ends a
demo without a word, and a session it had open stays until `clear_sessions.py` (or the server)
deletes it. Ctrl-Break (SIGBREAK, Windows only) ends a demo as SIGTERM does.
"""

from __future__ import annotations

import os
import signal
import sys
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

SIGNALS = tuple(
    getattr(signal, name)
    for name in ("SIGINT", "SIGTERM", "SIGHUP", "SIGBREAK")
    if hasattr(signal, name)
)


class Interrupted(KeyboardInterrupt):
    """A signal asked the demo to stop."""

    def __init__(self, signum: int) -> None:
        super().__init__(signal.Signals(signum).name)
        self.signum = signum

    @property
    def exit_code(self) -> int:
        return 128 + self.signum

    @property
    def line(self) -> str:
        return "interrupted" if self.signum == signal.SIGINT else f"stopped by {self}"


_raising = False  # inside democli.run: raise Interrupted rather than exit at once
_deferring = 0
_pending: int | None = None


def _handle(signum: int, _frame: object) -> None:
    global _pending
    if not _raising:  # nothing to clean up: end here
        os.write(2, f"{Interrupted(signum).line}\n".encode())
        os._exit(128 + signum)
    if _deferring:
        _pending = _pending or signum
        return
    raise Interrupted(signum)


@contextmanager
def raising() -> Iterator[None]:
    """Within this block a signal raises Interrupted; outside it the process ends at once."""
    global _raising
    _raising = True
    try:
        yield
    finally:
        _raising = False


@contextmanager
def deferred() -> Iterator[None]:
    """Hold signals back until the block is done, then raise the first one that came.

    Only on the main thread, where Python runs signal handlers: a batch's worker threads
    (batch.py) leave the signal to the main thread, which deletes their sessions.
    """
    global _deferring, _pending
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    _deferring += 1
    try:
        yield
    finally:
        _deferring -= 1
        if not _deferring and _pending is not None:
            signum, _pending = _pending, None
            raise Interrupted(signum)


def install() -> None:
    """Handle SIGINT, SIGTERM and SIGHUP (those of them the platform has) as this module says."""
    for signum in SIGNALS:
        signal.signal(signum, _handle)


_program = getattr(sys.modules.get("__main__"), "__file__", None)
if _program and Path(_program).resolve().parent == Path(__file__).resolve().parent:
    install()
