"""Command-line arguments: --help from the script's docstring, each bad value one line (exit 2)."""

from __future__ import annotations

from plumbing.exit_codes import EXIT_BAD_SETTING
from plumbing.redaction import one_line

import argparse
import re
from collections.abc import Callable


class OneLineErrorParser(argparse.ArgumentParser):
    """argparse that reports a bad argument in one line (exit 2)."""

    def error(self, message: str) -> None:  # type: ignore[override]
        self.exit(EXIT_BAD_SETTING, f"error: {one_line(message)} (see --help)\n")


def parse_args(
    doc: str | None,
    argv: list[str] | None,
    add_arguments: Callable[[argparse.ArgumentParser], None] | None = None,
) -> argparse.Namespace:
    """Parse `argv` with the script's docstring as its `--help` text."""
    summary, _, details = (doc or "").strip().partition("\n")
    parser = OneLineErrorParser(
        description=summary,
        epilog=details.strip() or None,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    if add_arguments:
        add_arguments(parser)
    return parser.parse_args(argv)


def whole_number(low: int, high: int) -> Callable[[str], int]:
    """An argparse type: an ASCII whole number from `low` to `high`."""

    def parse(text: str) -> int:
        if not re.fullmatch(r"[0-9]{1,9}", text) or not low <= int(text) <= high:
            raise argparse.ArgumentTypeError(
                f"{text!r} is not a whole number from {low} to {high}"
            )
        return int(text)

    return parse


def seconds(low: float, high: float, *, zero: bool = True) -> Callable[[str], float]:
    """An argparse type: a plain decimal number of seconds from `low` (or above 0) to `high`.

    Refuses what float() would take but a person did not mean: nan, inf, 1e9, '٣'.
    """
    allowed = f"a number of seconds from {low:g} to {high:g}" if zero else (
        f"a number of seconds above 0, up to {high:g}"
    )

    def parse(text: str) -> float:
        plain = re.fullmatch(r"[0-9]{1,9}(\.[0-9]{0,9})?|\.[0-9]{1,9}", text)
        value = float(text) if plain else None
        if value is None or not low <= value <= high or (not zero and value == 0):
            raise argparse.ArgumentTypeError(f"{text!r} is not {allowed}")
        return value

    return parse


def task_reference(text: str) -> str:
    """An argparse type: a task id or task ARN, as ECS prints them (nothing blank, no spaces,
    no control characters, not longer than an ARN can be)."""
    if not re.fullmatch(r"[A-Za-z0-9:/_.-]{1,1600}", text, re.ASCII):
        shown = repr(text) if len(text) <= 80 else f"{text[:80]!r}... ({len(text)} characters)"
        raise argparse.ArgumentTypeError(
            f"{shown} is not a task id or task ARN (such as 0f1e2d3c4b5a69788796a5b4c3d2e1f0)"
        )
    return text


def add_wait_arguments(parser: argparse.ArgumentParser) -> None:
    """--timeout and --interval, for a step that waits on its tasks."""
    parser.add_argument(
        "--timeout",
        type=seconds(0, 86400, zero=False),
        default=600,
        help="seconds to wait in all, AWS calls included (default: 600)",
    )
    parser.add_argument(
        "--interval",
        type=seconds(0, 3600),
        default=5,
        help="seconds between checks (default: 5)",
    )
