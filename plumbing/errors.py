"""One line for each kind of AWS failure, and the detail a person needs when a step ends early."""

from __future__ import annotations

from plumbing.deadlines import DeadlineExceeded
from plumbing.redaction import aws_text
from plumbing.signals import Interrupted

import re
from collections.abc import Iterator
from contextlib import contextmanager, suppress

from botocore.exceptions import (
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

import constants


class StepFailed(Exception):
    """The step cannot go on; the message says why and what to do."""


THROTTLE_CODES = {
    "ThrottlingException",
    "Throttling",
    "TooManyRequestsException",
    "RequestLimitExceeded",
    "RequestThrottled",
    "SlowDown",
}
DENIED_CODES = {
    "AccessDenied",
    "AccessDeniedException",
    "UnauthorizedOperation",
    "UnauthorizedException",
}
_EXPIRED = {"ExpiredToken", "ExpiredTokenException", "RequestExpired"}
_BAD_CREDENTIALS = {
    "UnrecognizedClientException",
    "InvalidClientTokenId",
    "AuthFailure",
    "InvalidSignatureException",
    "SignatureDoesNotMatch",
}
# Failures of the connection itself: worth another try later.
NETWORK_ERRORS = (
    EndpointConnectionError,
    ConnectTimeoutError,
    ReadTimeoutError,
    ConnectionClosedError,
)


def aws_error_code(error: ClientError) -> str:
    """The error code AWS answered (AccessDeniedException, ...)."""
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
    elif code in ("", "Unknown") or message.lstrip().startswith("<"):
        status = error.response.get("ResponseMetadata", {}).get("HTTPStatusCode", "?")
        text = (
            f"{operation} got HTTP {status} with an answer that is not AWS's (a web page?): "
            "check AWS_ENDPOINT_URL if set, and any proxy between you and AWS"
        )
        code = code or "no error code"
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
    elif isinstance(error, ReadTimeoutError):
        text = f"AWS at {error.kwargs.get('endpoint_url')} did not answer in time, retries included: check your network (and AWS_ENDPOINT_URL if set)"
    elif isinstance(error, (EndpointConnectionError, ConnectTimeoutError)):
        text = f"cannot reach AWS at {error.kwargs.get('endpoint_url')}: check your network (and AWS_ENDPOINT_URL if set)"
    elif isinstance(error, ConnectionClosedError):
        text = f"AWS at {error.kwargs.get('endpoint_url')} closed the connection without answering: check your network (and AWS_ENDPOINT_URL if set)"
    else:
        text = aws_text(error)
    return f"{aws_text(text)} ({name})"


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
