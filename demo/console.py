"""What the demos write to the console: lines on stderr, a progress bar, a guarded stdout.

A console that is not UTF-8 (Windows' cp1252, an ASCII terminal) cannot show every character a
server's answer or a file name may hold. When a script of this folder is the program being run,
importing this module makes stdout and stderr write such a character as a backslash escape
(`\\xe9`) rather than fail on it. JSON results stay exact: `json.dumps` escapes every non-ASCII
character itself (`\\u00e9`), so they never reach the replacement.
"""

from __future__ import annotations

import sys
import threading
import time
from collections.abc import Callable
from pathlib import Path


def say(message: str) -> None:
    """One line on stderr: progress, a warning or the error that ends the demo."""
    print(message, file=sys.stderr, flush=True)


def survive_any_encoding() -> None:
    """Write what the console's encoding lacks as backslash escapes, on stdout and stderr."""
    for stream in (sys.stdout, sys.stderr):
        reconfigure = getattr(stream, "reconfigure", None)  # None: closed, or not a text file
        if reconfigure is not None:
            reconfigure(errors="backslashreplace")


class ProgressBar:
    """Frames done so far on stderr: redrawn on a terminal, every tenth otherwise (thread-safe)."""

    def __init__(self, total: int) -> None:
        self.total = total
        self.done = 0
        self.start = time.monotonic()
        self.on_terminal = sys.stderr.isatty()
        self.lock = threading.Lock()

    def step(self) -> None:
        with self.lock:
            self._step()

    def _step(self) -> None:
        self.done += 1
        rate = self.done / max(time.monotonic() - self.start, 1e-9)
        if self.total:
            filled = int(30 * min(self.done, self.total) / self.total)
            text = f"frames {self.done}/{self.total} [{'#' * filled}{' ' * (30 - filled)}] {rate:.1f}/s"
        else:
            text = f"frames {self.done} {rate:.1f}/s"
        if self.on_terminal:
            sys.stderr.write("\r" + text)
            sys.stderr.flush()
        elif self.done % max(1, self.total // 10 or 10) == 0 or self.done == self.total:
            say(text)

    def close(self) -> None:
        if self.on_terminal and self.done:
            sys.stderr.write("\n")


class OutputLost(Exception):
    """Standard output could not be written (a closed pipe, a full disk): the results are lost."""

    def __init__(self, error: OSError) -> None:
        super().__init__(error.strerror or str(error))
        self.error = error


class CheckedOutput:
    """Standard output that remembers its first failed write, in any thread.

    The main thread gets OutputLost at once; a batch's worker threads go on, their lines
    dropped, and `democli.run` reports the loss when the batch is done.
    """

    def __init__(self, stream) -> None:
        self.stream = stream
        self.error: OSError | None = None

    def _guarded(self, action: Callable[[], object], fallback):
        if self.error is None:
            try:
                return action()
            except OSError as error:
                self.error = error
        if threading.current_thread() is threading.main_thread():
            raise OutputLost(self.error)
        return fallback

    def write(self, text: str) -> int:
        return self._guarded(lambda: self.stream.write(text), len(text))

    def flush(self) -> None:
        self._guarded(self.stream.flush, None)

    def __getattr__(self, name: str):
        return getattr(self.stream, name)


_program = getattr(sys.modules.get("__main__"), "__file__", None)
if _program and Path(_program).resolve().parent == Path(__file__).resolve().parent:
    survive_any_encoding()
