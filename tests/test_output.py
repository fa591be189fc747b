"""What the steps print: progress redrawn in place without escape sequences, any status text."""

from __future__ import annotations

from plumbing import output

import io

import pytest
from hypothesis import given
from hypothesis import strategies as st


class Terminal(io.StringIO):
    def isatty(self) -> bool:
        return True


def screen(written: str) -> str:
    """What a terminal shows of `written`: each carriage return goes back to the line's start."""
    line: list[str] = []
    column = 0
    for char in written:
        if char == "\r":
            column = 0
            continue
        if char == "\n":
            line, column = [], 0
            continue
        if column < len(line):
            line[column] = char
        else:
            line.append(char)
        column += 1
    return "".join(line)


@given(st.lists(st.text(st.characters(blacklist_categories=["Cc", "Cs"]), max_size=40), min_size=1, max_size=6))
def test_progress_on_a_terminal_shows_the_latest_status_alone(statuses):
    terminal = Terminal()
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(output.sys, "stderr", terminal)
        progress = output.Progress()
        for elapsed, status in enumerate(statuses):
            progress.update(status, elapsed)
    shown = screen(terminal.getvalue())
    latest = f"{statuses[-1]} ({len(statuses) - 1}s)"
    assert shown.rstrip(" ") == latest.rstrip(" ")
    assert "\x1b" not in terminal.getvalue()
