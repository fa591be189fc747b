"""What a step prints: its result as JSON on stdout; progress and diagnostics on stderr.

Any console encoding will do: a character the console cannot show (a cp1252 or ASCII console
on Windows, say) is printed as an escape, never a UnicodeEncodeError.
"""

from __future__ import annotations

import json
import os
import sys
from contextlib import suppress
from datetime import date, datetime
from typing import Any


def _escape_what_the_console_cannot_show() -> None:
    for stream in (sys.stdout, sys.stderr):
        with suppress(AttributeError, ValueError, OSError):
            stream.reconfigure(errors="backslashreplace")


_escape_what_the_console_cannot_show()


def show(response: dict[str, Any]) -> None:
    """Print an AWS response as JSON on stdout, without its ResponseMetadata."""
    body = {key: value for key, value in response.items() if key != "ResponseMetadata"}
    text = json.dumps(body, indent=2, default=_json_default)
    try:
        sys.stdout.write(text + "\n")
        sys.stdout.flush()
    except (OSError, ValueError, AttributeError):  # closed, or a reader that went away
        _drop_stdout()
        warn("stdout is closed: the result was not printed (the step goes on)")


def _drop_stdout() -> None:
    # What is left in stdout's buffer would fail again at exit: send it, and the rest, nowhere.
    devnull = open(os.devnull, "w")  # noqa: SIM115 (open until the process ends)
    try:
        os.dup2(devnull.fileno(), sys.stdout.fileno())
    except (OSError, ValueError, AttributeError):
        sys.stdout = devnull


def _json_default(value: Any) -> Any:
    if isinstance(value, (datetime, date)):
        return value.isoformat()
    return str(value)


def say(message: str) -> None:
    """A line for the person running the script, on stderr (a closed stderr is no error)."""
    with suppress(OSError, ValueError, AttributeError):
        print(message, file=sys.stderr, flush=True)


def warn(message: str) -> None:
    say(f"warning: {message}")


class Progress:
    """A status line on stderr: redrawn in place on a terminal, printed when it changes otherwise."""

    def __init__(self) -> None:
        self.on_terminal = _isatty(sys.stderr)
        self.last: str | None = None
        self.width = 0  # of the line on screen

    def update(self, status: str, elapsed: float) -> None:
        if self.on_terminal:
            line = f"{status} ({elapsed:.0f}s)"
            # Blanks over the rest of the longer line before, rather than an ANSI erase, which
            # Windows' classic console prints as it is.
            with suppress(OSError, ValueError):
                sys.stderr.write(f"\r{line.ljust(self.width)}")
                sys.stderr.flush()
            self.width = len(line)
        elif status != self.last:
            say(f"{status} ({elapsed:.0f}s)")
        self.last = status

    def close(self) -> None:
        if self.on_terminal and self.last is not None:
            say("")


def _isatty(stream: Any) -> bool:
    try:
        return bool(stream.isatty())
    except (AttributeError, ValueError):
        return False
