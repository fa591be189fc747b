"""Plumbing shared by the step scripts: arguments, AWS clients, output, errors, signals, time.

Every script's `main` parses its arguments with `parse_args`, then hands its body to `run`,
which turns a bad setting, an AWS failure, a signal or a timeout into one line on stderr and
an exit code: 0 done, 1 AWS said no (or the step failed, or timed out), 2 a setting or an
argument is invalid, 130 Ctrl-C, 128+N for signal N (SIGTERM 143, SIGHUP 129).
"""

from __future__ import annotations

# The signal handlers are installed before anything slow is imported (boto3 takes a moment,
# even the `signal` module takes milliseconds), so that Ctrl-C, SIGTERM or SIGHUP at any
# moment ends a script in one line, without a traceback. `_signal` is the C module that the
# interpreter has already loaded.
import _signal
import atexit
import os
import sys

EXIT_OK, EXIT_FAILED, EXIT_BAD_SETTING, EXIT_INTERRUPTED = 0, 1, 2, 130
_SIGNAL_NAMES = {_signal.SIGINT: "SIGINT", _signal.SIGTERM: "SIGTERM", _signal.SIGHUP: "SIGHUP"}
STOP_SIGNALS = tuple(_SIGNAL_NAMES)


def signal_line(signum: int) -> str:
    """What a script says when a stop signal ends it."""
    if signum == _signal.SIGINT:
        return "interrupted"
    return f"stopped by {_SIGNAL_NAMES.get(signum, f'signal {signum}')}"


def _exit_at_once(signum: int, _frame: object) -> None:
    # Outside a script's body there is nothing to clean up: one line, the conventional code.
    try:
        os.write(2, f"{signal_line(signum)}\n".encode())
    finally:
        os._exit(128 + signum)


def _install(handler: object) -> dict[int, object]:
    """Install `handler` for the stop signals; return the previous ones (main thread only)."""
    previous: dict[int, object] = {}
    try:
        for signum in STOP_SIGNALS:
            previous[signum] = _signal.signal(signum, handler)
    except ValueError:  # not the main thread: leave the signals alone
        pass
    return previous


_install(_exit_at_once)


def _ignore_stop_signals_at_exit() -> None:
    # The script is done and its exit code decided. Python's shutdown then puts the default
    # handlers back, and a signal in that moment would end the process with no word and a
    # code saying it was interrupted: block the stop signals for those last milliseconds.
    try:  # noqa: SIM105 (nothing is imported this early but the C modules)
        _signal.pthread_sigmask(_signal.SIG_BLOCK, STOP_SIGNALS)
    except (ValueError, OSError):
        pass


atexit.register(_ignore_stop_signals_at_exit)

import argparse  # noqa: E402
import ipaddress  # noqa: E402
import json  # noqa: E402
import random  # noqa: E402
import re  # noqa: E402
import signal  # noqa: E402
import time  # noqa: E402
from collections.abc import Callable, Iterable, Iterator  # noqa: E402
from contextlib import contextmanager, suppress  # noqa: E402
from dataclasses import dataclass  # noqa: E402
from datetime import date, datetime  # noqa: E402
from typing import Any  # noqa: E402
from urllib.parse import urlsplit  # noqa: E402

import botocore.loaders  # noqa: E402
import botocore.session  # noqa: E402
from botocore.config import Config  # noqa: E402
from botocore.exceptions import (  # noqa: E402
    BotoCoreError,
    ClientError,
    ConnectionClosedError,
    ConnectTimeoutError,
    EndpointConnectionError,
    NoCredentialsError,
    NoRegionError,
    PartialCredentialsError,
    ProfileNotFound,
    ReadTimeoutError,
)
from botocore.parsers import ResponseParserError  # noqa: E402

import constants  # noqa: E402

__all__ = ["BotoCoreError", "ClientError"]  # re-exported: scripts import common first


class StepFailed(Exception):
    """The step cannot go on; the message says why and what to do."""


class Interrupted(BaseException):
    """A stop signal arrived while a script's body ran (BaseException: nothing swallows it)."""

    def __init__(self, signum: int, operation: str | None = None) -> None:
        super().__init__(signal_line(signum))
        self.signum = signum
        self.operation = operation  # the AWS call in flight, if any


class DeadlineExceeded(BaseException):
    """The time allowed for an AWS call or a wait ran out."""


# --- arguments


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


# --- AWS clients, and the time each call may take


def _client_config(core: botocore.session.Session, budget: float) -> Config:
    # A call may take `budget` seconds in all (see _Deadlines); keep the user's own retry
    # settings if they set any, else botocore's standard mode (3 attempts, throttles backed off).
    config = Config(connect_timeout=min(5, budget), read_timeout=budget)
    from_environment = {"AWS_RETRY_MODE", "AWS_MAX_ATTEMPTS"} & os.environ.keys()
    from_profile = {"retry_mode", "max_attempts"} & core.get_scoped_config().keys()
    if not (from_environment or from_profile):
        config = config.merge(Config(retries={"mode": "standard"}))
    return config


# AWS's service descriptions, read from disk once per process rather than once per client.
_SERVICE_MODELS = botocore.loaders.create_loader()


def client(service: str) -> Any:
    """A client for `service` (what boto3.client gives), with AWS_PROFILE_NAME's profile if set.

    Each call it makes, retries included, ends within AWS_CALL_TIMEOUT seconds (and within
    any enclosing `deadline`).
    """
    budget = constants.AWS_CALL_TIMEOUT
    profile = constants.AWS_PROFILE_NAME
    try:
        core = botocore.session.Session(profile=profile)
        core.register_component("data_loader", _SERVICE_MODELS)
        aws_client = core.create_client(service, config=_client_config(core, budget))
        _ = urlsplit(aws_client.meta.endpoint_url).port  # a port out of range fails only here
    except (ValueError, TypeError, LookupError) as error:
        # botocore checks some of its settings (AWS_MAX_ATTEMPTS, AWS_ENDPOINT_URL, ...) with
        # plain int() or urlsplit(): their errors name the value but not where it came from.
        raise StepFailed(
            f"the AWS configuration is not valid: {aws_text(error)} (check the AWS_* "
            "variables in the environment and your AWS config file)"
        ) from None
    _remember_credentials(core)
    endpoint = aws_client.meta.endpoint_url

    def before_call(model: Any, **_: Any) -> None:
        _last_call[:] = [model.name, endpoint]
        _deadlines.push(
            budget,
            lambda: f"AWS did not answer {model.name} within {budget:g}s at {endpoint}: "
            "check your network (and AWS_ENDPOINT_URL if set)",
            operation=model.name,
        )

    def after_call(**_: Any) -> None:
        _deadlines.pop()

    aws_client.meta.events.register("before-call.*.*", before_call)
    aws_client.meta.events.register("after-call.*.*", after_call)
    aws_client.meta.events.register("after-call-error.*.*", after_call)
    return aws_client


_last_call: list[str] = []  # [operation, endpoint] of the latest AWS call, for error messages


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
        """The AWS call in flight, if any."""
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


@contextmanager
def deadline(limit: float, message: Callable[[], str]) -> Iterator[None]:
    """End the block with DeadlineExceeded(message()) after `limit` seconds."""
    depth = _deadlines.push(limit, message)
    try:
        yield
    finally:
        _deadlines.pop(depth)


# --- output


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


# --- AWS's words, made safe to print

MESSAGE_LIMIT = 300
_known_secrets: set[str] = set()

# What must never reach a terminal or a log, whatever AWS (or something posing as AWS) says.
_SECRET_PATTERNS = [
    # Anything AWS echoes of a signed request: the canonical request and the string to sign.
    (re.compile(r"(?is)(canonical (string|request)|string[- ]to[- ]sign).*"), "[request removed]"),
    # key=value pairs of signatures, credentials and tokens.
    (
        re.compile(
            r"(?i)\b(x-amz-[\w-]*|signature|credential|authorization|[\w-]*token|"
            r"[\w-]*secret[\w-]*|password|access[_-]?key[\w-]*)\b(\s*[=:]\s*)"
            r"(\"[^\"]*\"|'[^']*'|[^\s,;&]+)"
        ),
        r"\1=[removed]",
    ),
    # AWS access key ids (AKIA..., ASIA..., ...).
    (re.compile(r"(AKIA|ASIA|AIDA|AROA|AIPA|ANPA|ANVA|ABIA|ACCA)[A-Z0-9]{12,}"), "[key id removed]"),
    # Long runs of base64 or hex: secret keys (40), signatures (64), session tokens (hundreds);
    # not the names and ids AWS means (see _random_looking).
    (re.compile(r"[A-Za-z0-9+/]{32,}={0,2}"), lambda run: _random_looking(run.group())),
    # user:password@ in a URL.
    (re.compile(r"(?i)(\w+://)[^/\s@]+@"), r"\1[removed]@"),
]


def never_print(secret: str) -> None:
    """Keep `secret` (a licence key, say) out of every message the scripts print from now on."""
    if secret:
        _known_secrets.add(secret)


def _random_looking(run: str) -> str:
    """'[removed]' for a long run that may be a key, signature or token; the run itself when
    each of its /-parts is a word (service-role/AmazonECSTaskExecutionRolePolicy) or an
    ECS id (32 hex digits), which AWS's messages name and a person needs to read."""
    parts = run.split("/")
    if all(re.fullmatch(r"[A-Za-z]+|[0-9a-f]{32}", part) for part in parts):
        return run
    return "[removed]"


def _remember_credentials(core: botocore.session.Session) -> None:
    """Note the credentials in use, so that no message can ever print them."""
    try:
        credentials = core.get_credentials()
        frozen = credentials.get_frozen_credentials() if credentials else None
    except Exception:  # noqa: BLE001 (the call itself will report the problem)
        return
    if frozen:
        # Real ones are 16 characters or more; a short test value would blank out words.
        _known_secrets.update(
            value
            for value in (frozen.access_key, frozen.secret_key, frozen.token)
            if value and len(value) >= 8
        )


def one_line(text: str, limit: int | None = None) -> str:
    """The first non-empty line of `text`, without control characters, cut to `limit`."""
    lines = [line.strip() for line in str(text).splitlines() if line.strip()]
    line = lines[0] if lines else ""
    line = "".join(char if char.isprintable() else " " for char in line)
    if limit and len(line) > limit:
        line = line[: limit - 3].rstrip() + "..."
    return line


def without_credentials(text: str) -> str:
    """`text` without the credentials in use: the last guard before anything is printed."""
    for secret in sorted(_known_secrets, key=len, reverse=True):
        text = text.replace(secret, "[removed]")
    return text


def aws_text(text: Any) -> str:
    """Words that came from AWS (an error message, a reason), safe to print on one line:
    no credential, signature, key, token or signed request, cut to MESSAGE_LIMIT."""
    text = without_credentials(str(text))
    for pattern, replacement in _SECRET_PATTERNS:
        text = pattern.sub(replacement, text)
    return one_line(text, MESSAGE_LIMIT)


# --- small helpers


def paginate(aws_client: Any, operation: str, result_key: str, **params: Any) -> list[Any]:
    """Every item of `result_key` across all pages of `operation`."""
    pages = aws_client.get_paginator(operation).paginate(**params)
    return [item for page in pages for item in page[result_key]]


def short_id(arn: str) -> str:
    """The last part of an ARN: a task id, or family:revision of a task definition."""
    return arn.rsplit("/", 1)[-1]


def our_tasks(ecs: Any, desired_status: str = "RUNNING") -> list[str]:
    """ARNs of the tasks that run_task.py started in CLUSTER_NAME with that desired status."""
    return paginate(
        ecs,
        "list_tasks",
        "taskArns",
        cluster=constants.CLUSTER_NAME,
        startedBy=constants.STARTED_BY,
        desiredStatus=desired_status,
    )


def lifetime_minutes(task_definition: dict[str, Any]) -> int | None:
    """The lifetime a task definition gives its tasks, in minutes (plumbing/lifetime.py).

    None when it has no lifetime container, or one without a lifetime (the task runs until
    stopped, or until unused).
    """
    from plumbing import lifetime

    return lifetime.limits(task_definition)[0]


class Progress:
    """A status line on stderr: redrawn in place on a terminal, printed when it changes otherwise."""

    def __init__(self) -> None:
        self.on_terminal = _isatty(sys.stderr)
        self.last: str | None = None

    def update(self, status: str, elapsed: float) -> None:
        if self.on_terminal:
            with suppress(OSError, ValueError):
                sys.stderr.write(f"\r\033[K{status} ({elapsed:.0f}s)")
                sys.stderr.flush()
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


DESCRIBE_TASKS_MOST = 100  # DescribeTasks takes at most 100 tasks a call


def describe_tasks(ecs: Any, arns: list[str]) -> list[dict[str, Any]]:
    """describe_tasks for any number of tasks, in calls of at most DESCRIBE_TASKS_MOST."""
    return [
        task
        for start in range(0, len(arns), DESCRIBE_TASKS_MOST)
        for task in ecs.describe_tasks(
            cluster=constants.CLUSTER_NAME, tasks=arns[start : start + DESCRIBE_TASKS_MOST]
        )["tasks"]
    ]


def wait_for_tasks(
    ecs: Any,
    arns: list[str],
    settled: Callable[[list[dict[str, Any]]], bool],
    timeout: float,
    interval: float,
) -> list[dict[str, Any]]:
    """Poll describe_tasks until `settled(tasks)`, showing each task's status; return the tasks.

    Gives up before a check that would end after `timeout`; `run(..., timeout=)` bounds the
    whole step, a call that hangs inside the wait included.
    """
    progress = Progress()
    start = time.monotonic()
    try:
        while True:
            tasks = describe_tasks(ecs, arns)
            known = {short_id(task["taskArn"]) for task in tasks}
            missing = [arn for arn in arns if short_id(arn) not in known]
            if missing:
                raise StepFailed(
                    f"ECS does not know task(s) {', '.join(missing)} in cluster "
                    f"{constants.CLUSTER_NAME} (stopped tasks are forgotten after about an hour)"
                )
            status = ", ".join(f"{short_id(t['taskArn'])} {t['lastStatus']}" for t in tasks)
            _last_status[:] = [status]
            elapsed = time.monotonic() - start
            if settled(tasks):
                return tasks
            if elapsed + interval > timeout:
                raise StepFailed(f"gave up after {timeout:.0f}s: {status}")
            progress.update(f"waiting: {status}", elapsed)
            time.sleep(interval)
    finally:
        progress.close()


def aws_tags() -> list[dict[str, str]]:
    """constants.PROJECT_TAG as EC2 and IAM spell tags."""
    return [{"Key": constants.PROJECT_TAG["key"], "Value": constants.PROJECT_TAG["value"]}]


def is_ours(tags: list[dict[str, str]] | None) -> bool:
    """Whether EC2 or IAM tags mark a resource as this project's."""
    return {"Key": constants.PROJECT_TAG["key"], "Value": constants.PROJECT_TAG["value"]} in (
        tags or []
    )


def secret_arn(secret: str, region: str, account: str, partition: str = "aws") -> str:
    """LICENSE_SECRET as the full ARN ECS needs: an ARN as given, an SSM parameter name as the
    ARN of that parameter in `account` and `region`."""
    if secret.startswith("arn:"):
        return secret
    return f"arn:{partition}:ssm:{region}:{account}:parameter/{secret.lstrip('/')}"


def secret_read_actions(arn: str) -> list[str]:
    """What an execution role must be allowed, to read the secret at `arn` when a task starts."""
    if ":secretsmanager:" in arn:
        return ["secretsmanager:GetSecretValue"]
    return ["ssm:GetParameters"]


_last_status: list[str] = []  # what the wait saw last, for the line when time runs out


# --- who may come in

WIDE_OPEN_PREFIX = {4: 8, 6: 16}  # a range this wide or wider lets a good part of the internet in


def open_to_the_internet(ranges: Iterable[str]) -> list[str]:
    """The address ranges among `ranges` that let the internet at large in: 0.0.0.0/0, but
    also 0.0.0.0/1 and 128.0.0.0/1, or any public range of a /8 (IPv6 /16) or wider."""
    wide = []
    for text in ranges:
        try:
            network = ipaddress.ip_network(text, strict=False)
        except ValueError:
            continue
        if network.prefixlen <= WIDE_OPEN_PREFIX[network.version] and not network.is_private:
            wide.append(str(text))
    return sorted(wide)


# --- stopping tasks without losing any

THROTTLE_CODES = {
    "ThrottlingException",
    "Throttling",
    "TooManyRequestsException",
    "RequestLimitExceeded",
    "RequestThrottled",
    "SlowDown",
}
_NETWORK_ERRORS = (
    EndpointConnectionError,
    ConnectTimeoutError,
    ReadTimeoutError,
    ConnectionClosedError,
)
TASK_ROUNDS = 4  # rounds over the tasks still throttled, on top of botocore's own retries


def try_every_task(arns: list[str], action: Callable[[str], Any]) -> dict[str, str]:
    """Call `action(arn)` (an AWS call such as StopTask) for every task, going on when one fails.

    Throttled or unanswered calls are tried again in later rounds with a growing pause, on
    top of botocore's own retries. Returns the tasks it failed for, each with why.
    Interrupted, it names the tasks not done yet.
    """
    failed: dict[str, str] = {}
    pending = list(arns)
    for attempt in range(TASK_ROUNDS):
        if attempt:
            time.sleep(random.uniform(0.5, 1) * 2**attempt)
        retry: list[str] = []
        for index, arn in enumerate(pending):
            try:
                action(arn)
            except ClientError as error:
                failed[arn] = describe_client_error(error)
                if aws_error_code(error) in THROTTLE_CODES:
                    retry.append(arn)
                continue
            except BotoCoreError as error:
                failed[arn] = describe_botocore_error(error)
                if isinstance(error, _NETWORK_ERRORS):
                    retry.append(arn)
                continue
            except DeadlineExceeded as error:
                # An endpoint that does not answer: waiting on each task in turn would not end.
                for rest in pending[index:]:
                    failed[rest] = str(error) if rest == arn else "not tried: AWS did not answer"
                return failed
            except (Interrupted, KeyboardInterrupt) as error:
                left = pending[index:] + [each for each in failed if each not in pending]
                add_detail(error, f"not stopped yet: {', '.join(map(short_id, left))}")
                raise
            failed.pop(arn, None)
        pending = retry
        if not pending:
            break
    return failed


def unstopped(failed: dict[str, str], total: int) -> StepFailed:
    """The error naming every task that could not be stopped, and what to do."""
    names = "; ".join(f"{short_id(arn)} ({why})" for arn, why in failed.items())
    return StepFailed(
        f"could not stop {len(failed)} of {total} task(s), still running and billing: {names}; "
        "run stop_task.py again"
    )


# --- running a script's body


def add_detail(error: BaseException, detail: str) -> None:
    """Add what the person should know to an error's one line (e.g. what may have happened)."""
    error.detail = "; ".join(filter(None, [getattr(error, "detail", ""), detail]))  # type: ignore[attr-defined]


@contextmanager
def outcome_unknown(what: str) -> Iterator[None]:
    """Around an AWS call that changes something: when it ends without a clear answer
    (interrupted, timed out, connection lost, server error), say what may have happened."""
    try:
        yield
    except (Interrupted, KeyboardInterrupt, DeadlineExceeded, ReadTimeoutError,
            ConnectionClosedError) as error:
        add_detail(error, what)
        raise
    except ClientError as error:
        if error.response.get("ResponseMetadata", {}).get("HTTPStatusCode", 0) >= 500:
            add_detail(error, what)
        raise


@contextmanager
def if_stopped_early(what: str) -> Iterator[None]:
    """After an AWS call that created something: if anything ends the block early (a signal,
    a time limit, a failure), say what was created and how to undo it."""
    try:
        yield
    except BaseException as error:
        with suppress(AttributeError):  # a few built-in exceptions take no attribute
            add_detail(error, what)
        raise


def run(body: Callable[..., int], *args: Any, timeout: float | None = None) -> int:
    """Run a script's body, turning every expected failure into one line on stderr.

    With `timeout` (a wait's --timeout), the whole body ends within that many seconds.
    """
    previous = _install(_raise_interrupted)
    _last_call.clear()
    _last_status.clear()
    try:
        try:
            if timeout is None:
                return body(*args)
            with deadline(timeout, lambda: _gave_up(timeout)):
                return body(*args)
        finally:
            _install(_exit_at_once)
            _deadlines.pop(0)
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
    except (
        ResponseParserError,
        UnicodeDecodeError,
        KeyError,
        IndexError,
        TypeError,
        ValueError,
        AttributeError,
    ) as error:
        if not _last_call:
            raise  # not an answer from AWS: a bug, shown as such
        operation, endpoint = _last_call
        what = f"{type(error).__name__}: {error}"
        return _fail(
            EXIT_FAILED,
            f"{endpoint} answered {operation} with something that is not a valid AWS answer "
            f"({aws_text(what)}): check AWS_ENDPOINT_URL if set",
            error,
        )
    except Interrupted as error:
        return _interrupted(error.signum, error)
    except KeyboardInterrupt as error:
        return _interrupted(signal.SIGINT, error)
    finally:
        for signum, handler in previous.items():
            signal.signal(signum, handler)


def _gave_up(timeout: float) -> str:
    operation = _deadlines.operation()
    if _last_status:
        return f"gave up after {timeout:.0f}s: {_last_status[0]}"
    if operation:
        return f"gave up after {timeout:.0f}s (--timeout) waiting for AWS to answer {operation}"
    return f"gave up after {timeout:.0f}s (--timeout)"


def _raise_interrupted(signum: int, _frame: object) -> None:
    raise Interrupted(signum, _deadlines.operation())


def _fail(code: int, text: str, error: BaseException) -> int:
    detail = getattr(error, "detail", "")
    say("error: " + one_line(without_credentials(f"{text}; {detail}" if detail else text)))
    return code


def _interrupted(signum: int, error: BaseException) -> int:
    operation = getattr(error, "operation", None)
    text = signal_line(signum)
    if operation:
        text += f" while waiting for AWS ({operation})"
    detail = getattr(error, "detail", "")
    say(one_line(f"{text}: {detail}" if detail else text))
    return 128 + signum


# --- one line for each kind of AWS failure

_EXPIRED = {"ExpiredToken", "ExpiredTokenException", "RequestExpired"}
DENIED_CODES = {
    "AccessDenied",
    "AccessDeniedException",
    "UnauthorizedOperation",
    "UnauthorizedException",
}
_BAD_CREDENTIALS = {
    "UnrecognizedClientException",
    "InvalidClientTokenId",
    "AuthFailure",
    "InvalidSignatureException",
    "SignatureDoesNotMatch",
}


def aws_error_code(error: ClientError) -> str:
    return str(error.response.get("Error", {}).get("Code", ""))


def describe_client_error(error: ClientError) -> str:
    """One line for an error answered by AWS, ending with its error code."""
    code = aws_text(aws_error_code(error))[:100]
    message = aws_text(error.response.get("Error", {}).get("Message") or str(error))
    operation = error.operation_name
    if code in _EXPIRED:
        text = "your AWS credentials have expired: refresh them (for example `aws sso login`) and run again"
    elif code in DENIED_CODES:
        action = re.search(r"perform: ([\w-]+:[\w-]+)", message)
        missing = action.group(1) if action else f"the permission for {operation}"
        text = f"access denied: your AWS identity is not allowed {missing} (see the README's IAM table)"
    elif code in _BAD_CREDENTIALS:
        text = f"AWS did not accept your credentials: {message}"
    elif code == "ClusterNotFoundException":
        text = f"cluster {_cluster_name_or_unknown()} not found: create it with create_cluster.py (or check CLUSTER_NAME and the region)"
    elif code in THROTTLE_CODES:
        text = f"{operation} was throttled by AWS and still is after retrying: {message}"
    else:
        text = f"{operation} failed: {message}"
    return f"{text} ({code})"


def _cluster_name_or_unknown() -> str:
    try:
        return constants.CLUSTER_NAME
    except constants.SettingError:
        return "(unknown)"


def describe_botocore_error(error: BotoCoreError) -> str:
    """One line for a failure before AWS answered: credentials, profile, region, network."""
    name = type(error).__name__
    if isinstance(error, NoCredentialsError):
        text = "no AWS credentials found: run `aws configure`, or set AWS_PROFILE_NAME to a configured profile"
    elif isinstance(error, PartialCredentialsError):
        text = f"incomplete AWS credentials: {error}"
    elif isinstance(error, ProfileNotFound):
        text = f"AWS profile {error.kwargs.get('profile')!r} not found in your AWS config (check AWS_PROFILE_NAME / AWS_PROFILE)"
    elif isinstance(error, NoRegionError):
        text = "no AWS region set: set AWS_DEFAULT_REGION, or `region` in your AWS profile"
    elif isinstance(error, (EndpointConnectionError, ConnectTimeoutError, ReadTimeoutError)):
        text = f"cannot reach AWS at {error.kwargs.get('endpoint_url')}: check your network (and AWS_ENDPOINT_URL if set)"
    elif isinstance(error, ConnectionClosedError):
        text = f"AWS at {error.kwargs.get('endpoint_url')} closed the connection without answering: check your network (and AWS_ENDPOINT_URL if set)"
    else:
        text = aws_text(error)
    return f"{aws_text(text)} ({name})"
