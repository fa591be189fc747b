"""Plumbing shared by the step scripts: arguments, AWS clients, output and errors.

Every script's `main` parses its arguments with `parse_args`, then hands its body to `run`,
which turns a bad setting or an AWS failure into one line on stderr and an exit code:
0 done, 1 AWS said no (or the step failed), 2 a setting is missing or invalid, 130 Ctrl-C.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import sys
import time
from collections.abc import Callable
from datetime import date, datetime
from typing import Any

import boto3
import botocore.session
from botocore.config import Config
from botocore.exceptions import (
    BotoCoreError,
    ClientError,
    ConnectTimeoutError,
    EndpointConnectionError,
    NoCredentialsError,
    NoRegionError,
    PartialCredentialsError,
    ProfileNotFound,
    ReadTimeoutError,
)

import constants

EXIT_OK, EXIT_FAILED, EXIT_BAD_SETTING, EXIT_INTERRUPTED = 0, 1, 2, 130


class StepFailed(Exception):
    """The step cannot go on; the message says why and what to do."""


class OneLineErrorParser(argparse.ArgumentParser):
    """argparse that reports a bad argument in one line (exit 2)."""

    def error(self, message: str) -> None:  # type: ignore[override]
        self.exit(EXIT_BAD_SETTING, f"error: {message} (see --help)\n")


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


def _client_config(core: botocore.session.Session) -> Config:
    # Fail fast on an unreachable endpoint; keep the user's own retry settings if they set any.
    config = Config(connect_timeout=5, read_timeout=60)
    from_environment = {"AWS_RETRY_MODE", "AWS_MAX_ATTEMPTS"} & os.environ.keys()
    from_profile = {"retry_mode", "max_attempts"} & core.get_scoped_config().keys()
    if not (from_environment or from_profile):
        config = config.merge(Config(retries={"mode": "standard"}))
    return config


def client(service: str) -> Any:
    """A boto3 client for `service`, with the profile from AWS_PROFILE_NAME if set."""
    core = botocore.session.Session(profile=constants.AWS_PROFILE_NAME)
    return boto3.Session(botocore_session=core).client(service, config=_client_config(core))


def show(response: dict[str, Any]) -> None:
    """Print an AWS response as JSON on stdout, without its ResponseMetadata."""
    body = {key: value for key, value in response.items() if key != "ResponseMetadata"}
    print(json.dumps(body, indent=2, default=_json_default))


def _json_default(value: Any) -> Any:
    if isinstance(value, (datetime, date)):
        return value.isoformat()
    return str(value)


def say(message: str) -> None:
    """A line for the person running the script, on stderr."""
    print(message, file=sys.stderr, flush=True)


def warn(message: str) -> None:
    say(f"warning: {message}")


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


class Progress:
    """A status line on stderr: redrawn in place on a terminal, printed when it changes otherwise."""

    def __init__(self) -> None:
        self.on_terminal = sys.stderr.isatty()
        self.last: str | None = None

    def update(self, status: str, elapsed: float) -> None:
        if self.on_terminal:
            sys.stderr.write(f"\r\033[K{status} ({elapsed:.0f}s)")
            sys.stderr.flush()
        elif status != self.last:
            say(f"{status} ({elapsed:.0f}s)")
        self.last = status

    def close(self) -> None:
        if self.on_terminal and self.last is not None:
            sys.stderr.write("\n")


def wait_for_tasks(
    ecs: Any,
    arns: list[str],
    settled: Callable[[list[dict[str, Any]]], bool],
    timeout: float,
    interval: float,
) -> list[dict[str, Any]]:
    """Poll describe_tasks until `settled(tasks)`, showing each task's status; return the tasks."""
    progress = Progress()
    start = time.monotonic()
    try:
        while True:
            tasks = ecs.describe_tasks(cluster=constants.CLUSTER_NAME, tasks=arns)["tasks"]
            known = {short_id(task["taskArn"]) for task in tasks}
            missing = [arn for arn in arns if short_id(arn) not in known]
            if missing:
                raise StepFailed(
                    f"ECS does not know task(s) {', '.join(missing)} in cluster "
                    f"{constants.CLUSTER_NAME} (stopped tasks are forgotten after about an hour)"
                )
            status = ", ".join(f"{short_id(t['taskArn'])} {t['lastStatus']}" for t in tasks)
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


def secret_read_access(secret: str, region: str, account: str) -> tuple[list[str], str]:
    """The actions an execution role needs to read LICENSE_SECRET, and the secret's ARN."""
    if secret.startswith("arn:") and ":secretsmanager:" in secret:
        return ["secretsmanager:GetSecretValue"], secret
    if secret.startswith("arn:"):
        return ["ssm:GetParameters"], secret
    return ["ssm:GetParameters"], f"arn:aws:ssm:{region}:{account}:parameter/{secret.lstrip('/')}"


def aws_error_code(error: ClientError) -> str:
    return error.response.get("Error", {}).get("Code", "")


def run(body: Callable[..., int], *args: Any) -> int:
    """Run a script's body, turning every expected failure into one line on stderr."""
    try:
        return body(*args)
    except constants.SettingError as error:
        say(f"error: {error}")
        return EXIT_BAD_SETTING
    except StepFailed as error:
        say(f"error: {error}")
        return EXIT_FAILED
    except ClientError as error:
        say(f"error: {describe_client_error(error)}")
        return EXIT_FAILED
    except BotoCoreError as error:
        say(f"error: {describe_botocore_error(error)}")
        return EXIT_FAILED
    except KeyboardInterrupt:
        say("interrupted")
        return EXIT_INTERRUPTED


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


def describe_client_error(error: ClientError) -> str:
    """One line for an error answered by AWS, ending with its error code."""
    code = aws_error_code(error)
    message = error.response.get("Error", {}).get("Message") or str(error)
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
    else:
        text = str(error)
    return f"{text} ({name})"
