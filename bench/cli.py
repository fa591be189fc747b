"""What the benchmark scripts share: argument checks and a clean stop on Ctrl-C, SIGTERM or SIGHUP."""

from __future__ import annotations

import argparse
import math
import signal
import sys
from collections.abc import Callable

MAX_COUNT = 1_000_000


def count(text: str) -> int:
    """A whole number of frames, images, slots: 1 or more."""
    if not (text.strip().isascii() and text.strip().isdigit()) or not 1 <= int(text) <= MAX_COUNT:
        raise argparse.ArgumentTypeError(f"{text!r} is not a whole number from 1 to {MAX_COUNT}")
    return int(text)


def milliseconds(text: str) -> float:
    """A delay or a work time in ms: 0 or more, at most a minute."""
    value = _number(text)
    if not 0 <= value <= 60_000:
        raise argparse.ArgumentTypeError(f"{text!r} is not a number of ms from 0 to 60000")
    return value


def mbit(text: str) -> float:
    """A bandwidth in Mbit/s: more than 0, at most 100000."""
    value = _number(text)
    if not 0 < value <= 100_000:
        raise argparse.ArgumentTypeError(f"{text!r} is not a bandwidth from 0 to 100000 Mbit/s")
    return value


def _number(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a number") from None
    if not math.isfinite(value):
        raise argparse.ArgumentTypeError(f"{text!r} is not a finite number")
    return value


class Stopped(KeyboardInterrupt):
    def __init__(self, signum: int) -> None:
        super().__init__(signal.Signals(signum).name)
        self.signum = signum


def run(body: Callable[[], int]) -> int:
    """Run a benchmark; a signal unwinds it (its servers, links and temporary files go) and
    ends it in one line with 128 + the signal."""

    def stop(signum: int, _frame) -> None:
        raise Stopped(signum)

    for signum in (signal.SIGTERM, signal.SIGHUP):
        signal.signal(signum, stop)
    try:
        return body()
    except Stopped as stopped:
        print(f"benchmark stopped by {stopped}", file=sys.stderr)
        return 128 + stopped.signum
    except KeyboardInterrupt:
        print("benchmark interrupted", file=sys.stderr)
        return 130
