"""Running a step's body: every way it can end becomes one line on stderr and an exit code.

0 done, 1 AWS said no (or the step failed, or timed out, or an internal error), 2 a setting or
an argument is not valid, 130 Ctrl-C, 128+N for signal N (SIGTERM 143, SIGHUP 129).
"""

from __future__ import annotations

from plumbing import clients, deadlines, ecs_tasks, signals
from plumbing.deadlines import DeadlineExceeded
from plumbing.errors import StepFailed, describe_botocore_error, describe_client_error
from plumbing.exit_codes import EXIT_BAD_SETTING, EXIT_FAILED, for_signal
from plumbing.output import say
from plumbing.redaction import aws_text, one_line, without_credentials

import os
import signal
import traceback
from collections.abc import Callable
from pathlib import Path
from typing import Any

import botocore.parsers
from botocore.exceptions import BotoCoreError, ClientError
from botocore.parsers import ResponseParserError

import constants

_BOTOCORE_PARSERS = Path(botocore.parsers.__file__).resolve()
DEBUG_VARIABLE = "SD_DEBUG"  # set to 1: an internal error shows its traceback


def run(body: Callable[..., int], *args: Any, timeout: float | None = None) -> int:
    """Run a script's body, turning every failure into one line on stderr and an exit code.

    With `timeout` (a wait's --timeout), the whole body ends within that many seconds.
    """
    previous = signals.install(_raise_interrupted)
    clients.last_call.clear()
    ecs_tasks.last_status.clear()
    try:
        try:
            if timeout is None:
                return body(*args)
            with deadlines.deadline(timeout, lambda: _gave_up(timeout)):
                return body(*args)
        finally:
            signals.install(signals.exit_at_once)
            deadlines.pop(0)
    except constants.SettingError as error:
        return _fail(EXIT_BAD_SETTING, str(error), error)
    except StepFailed as error:
        return _fail(EXIT_FAILED, str(error), error)
    except ClientError as error:
        return _fail(EXIT_FAILED, describe_client_error(error), error)
    except BotoCoreError as error:
        return _fail(EXIT_FAILED, describe_botocore_error(error), error)
    except DeadlineExceeded as error:
        return _fail(EXIT_FAILED, str(error), error)
    except signals.Interrupted as error:
        return _interrupted(error.signum, error)
    except KeyboardInterrupt as error:
        return _interrupted(signal.SIGINT, error)
    except Exception as error:
        if isinstance(error, ResponseParserError) or _raised_by_botocores_parser(error):
            operation, endpoint = clients.last_call or ["an AWS call", "the endpoint"]
            what = aws_text(f"{type(error).__name__}: {error}")
            return _fail(
                EXIT_FAILED,
                f"{endpoint} answered {operation} with something that is not a valid AWS "
                f"answer ({what}): check AWS_ENDPOINT_URL if set",
                error,
            )
        return _internal_error(error)
    finally:
        for signum, handler in previous.items():
            signal.signal(signum, handler)


def _raised_by_botocores_parser(error: Exception) -> bool:
    """Whether `error` came out of botocore reading an answer (a body that is not UTF-8, say)."""
    frames = traceback.extract_tb(error.__traceback__)
    return bool(frames) and Path(frames[-1].filename).resolve() == _BOTOCORE_PARSERS


def _internal_error(error: Exception) -> int:
    """A fault of the script's own code: said as such, with the way to see where.

    Behind an endpoint of the user's own (AWS_ENDPOINT_URL), an answer AWS would never give
    (a member missing, of another type) ends here too: the line says so.
    """
    debug = os.environ.get(DEBUG_VARIABLE, "").strip().lower() in ("1", "true", "yes")
    if debug:
        say(without_credentials("".join(traceback.format_exception(error))).rstrip())
    what = aws_text(f"{type(error).__name__}: {error}")
    after, cause = "", "a bug in this script"
    if clients.last_call:
        operation, endpoint = clients.last_call
        after = f" after {operation} at {endpoint}"
        if os.environ.get("AWS_ENDPOINT_URL", "").strip():
            cause = (
                "AWS_ENDPOINT_URL is set: its answer may not be one AWS gives; if it is AWS's, "
                + cause
            )
    how = "the traceback is above" if debug else f"run it again with {DEBUG_VARIABLE}=1 to see the traceback"
    return _fail(EXIT_FAILED, f"internal error ({what}){after}: {cause}; {how}, and report it", error)


def _gave_up(timeout: float) -> str:
    operation = deadlines.current_operation()
    if ecs_tasks.last_status:
        return f"gave up after {timeout:.0f}s: {ecs_tasks.last_status[0]}"
    if operation:
        return f"gave up after {timeout:.0f}s (--timeout) waiting for AWS to answer {operation}"
    return f"gave up after {timeout:.0f}s (--timeout)"


def _raise_interrupted(signum: int, _frame: object) -> None:
    raise signals.Interrupted(signum, deadlines.current_operation())


def _fail(code: int, text: str, error: BaseException) -> int:
    detail = getattr(error, "detail", "")
    say("error: " + one_line(without_credentials(f"{text}; {detail}" if detail else text)))
    return code


def _interrupted(signum: int, error: BaseException) -> int:
    operation = getattr(error, "operation", None)
    text = signals.signal_line(signum)
    if operation:
        text += f" while waiting for AWS ({operation})"
    detail = getattr(error, "detail", "")
    say(one_line(f"{text}: {detail}" if detail else text))
    return for_signal(signum)
