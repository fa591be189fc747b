"""Time limits on a block of code, nested, on one SIGALRM timer.

Where the platform has no SIGALRM or `setitimer` (Windows), no limit is set here: each AWS call
is then bounded only by botocore's own connect and read timeouts and its retry limit (see
`clients`), and a wait by its own clock between calls; what is lost is the bound on the step
as a whole while one call hangs (up to AWS_CALL_TIMEOUT per attempt).
"""

from __future__ import annotations

import signal
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

SUPPORTED = hasattr(signal, "SIGALRM") and hasattr(signal, "setitimer")


class DeadlineExceeded(BaseException):
    """The time allowed for an AWS call or a wait ran out."""


@dataclass
class _Deadline:
    at: float
    message: Callable[[], str]
    operation: str | None  # the AWS call it bounds, if it bounds one


class _Deadlines:
    """Nested time limits on one SIGALRM timer; the earliest one fires, with its message.

    Whatever timer was set before (pytest-timeout's, for one) is put back when the last
    limit is gone.
    """

    def __init__(self) -> None:
        self.stack: list[_Deadline] = []
        self.saved: tuple[Any, float, float] | None = None

    def push(
        self, limit: float, message: Callable[[], str], operation: str | None = None
    ) -> int:
        if not SUPPORTED:
            return len(self.stack)
        if not self.stack:
            try:
                handler = signal.signal(signal.SIGALRM, self._fire)
            except ValueError:  # not the main thread: no limit
                return len(self.stack)
            remaining, _ = signal.getitimer(signal.ITIMER_REAL)
            self.saved = (handler, remaining, time.monotonic())
        self.stack.append(_Deadline(time.monotonic() + limit, message, operation))
        self._arm()
        return len(self.stack) - 1

    def pop(self, depth: int | None = None) -> None:
        """Drop the innermost limit, or every limit from `depth` inwards."""
        if self.saved is None:
            return
        del self.stack[len(self.stack) - 1 if depth is None else depth :]
        if self.stack:
            self._arm()
            return
        signal.setitimer(signal.ITIMER_REAL, 0)
        handler, remaining, since = self.saved
        self.saved = None
        signal.signal(signal.SIGALRM, handler)
        if remaining:
            signal.setitimer(
                signal.ITIMER_REAL, max(remaining - (time.monotonic() - since), 0.001)
            )

    def operation(self) -> str | None:
        calls = [each.operation for each in self.stack if each.operation]
        return calls[-1] if calls else None

    def _earliest(self) -> int:
        return min(range(len(self.stack)), key=lambda index: self.stack[index].at)

    def _arm(self) -> None:
        # setitimer(0) would disarm: a limit already past fires in a microsecond instead.
        left = self.stack[self._earliest()].at - time.monotonic()
        signal.setitimer(signal.ITIMER_REAL, max(left, 1e-6))

    def _fire(self, _signum: int, _frame: object) -> None:
        if not self.stack:
            return
        # The exception unwinds this limit and every one inside it: drop them now.
        index = self._earliest()
        message = self.stack[index].message()
        self.pop(index)
        raise DeadlineExceeded(message)


_deadlines = _Deadlines()


def push(limit: float, message: Callable[[], str], operation: str | None = None) -> int:
    """Start a limit of `limit` seconds; returns its depth, for `pop`."""
    return _deadlines.push(limit, message, operation)


def pop(depth: int | None = None) -> None:
    """End the innermost limit, or every limit from `depth` inwards."""
    _deadlines.pop(depth)


def current_operation() -> str | None:
    """The AWS call in flight, if any."""
    return _deadlines.operation()


@contextmanager
def deadline(limit: float, message: Callable[[], str]) -> Iterator[None]:
    """End the block with DeadlineExceeded(message()) after `limit` seconds."""
    depth = push(limit, message)
    try:
        yield
    finally:
        pop(depth)
