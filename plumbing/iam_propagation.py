"""Waiting out IAM's propagation: ECS may not yet be able to use a role made a moment ago.

IAM is eventually consistent: a role, its trust policy or its permissions, just created or
changed, "can take time to become visible" to other services
(https://docs.aws.amazon.com/IAM/latest/UserGuide/troubleshoot_general.html#troubleshoot_general_eventual-consistency).
Meanwhile ECS answers RegisterTaskDefinition or RunTask with "unable to assume the role", and
RunTask with "Unable to assume the service linked role" right after that role was made. A step
tries again for a bounded time, saying why in one line:

    for attempt in iam_propagation.attempts():
        with attempt:
            response = ecs.run_task(...)
"""

from __future__ import annotations

from plumbing import errors, output, redaction, service_linked_role

import re
import time
from collections.abc import Iterator
from types import TracebackType

from botocore.exceptions import ClientError

PROPAGATION_SECONDS = 45  # how long to keep trying, in all
FIRST_PAUSE = 2.0  # then 4, 8, 16 s


def cannot_assume(error: BaseException) -> bool:
    """Whether `error` is ECS saying it cannot assume a role (yet)."""
    if not isinstance(error, ClientError):
        return False
    message = str(error.response.get("Error", {}).get("Message", "")).lower()
    return "unable to assume" in message


def _service_linked(error: ClientError) -> bool:
    return "service linked role" in str(error.response.get("Error", {}).get("Message", "")).lower()


def _role_named(error: ClientError) -> str:
    found = re.search(r"'(arn:[^']+)'", str(error.response.get("Error", {}).get("Message", "")))
    return found.group(1) if found else "the execution role (TASK_EXEC_ROLE)"


def explain(error: ClientError, waited: float) -> str:
    """The one line once time is up: which role, and what to check."""
    code = redaction.aws_text(errors.aws_error_code(error))
    if _service_linked(error):
        return (
            f"ECS cannot use its service-linked role {service_linked_role.NAME} (tried for "
            f"{waited:.0f}s): the account has none yet; create it with create_prerequisites.py "
            f"or `{service_linked_role.CREATE_COMMAND}` (needs iam:CreateServiceLinkedRole) "
            f"({code})"
        )
    return (
        f"ECS cannot assume role {redaction.aws_text(_role_named(error))} (tried for {waited:.0f}s): "
        "its trust policy must let ecs-tasks.amazonaws.com assume it (sts:AssumeRole), and you "
        "need iam:PassRole on it; create_prerequisites.py makes such a role "
        f"({code})"
    )


class Attempt:
    """One try: a 'cannot assume' answer from AWS is kept, not raised."""

    def __init__(self) -> None:
        self.error: ClientError | None = None

    def __enter__(self) -> Attempt:
        return self

    def __exit__(
        self,
        kind: type[BaseException] | None,
        error: BaseException | None,
        traceback: TracebackType | None,
    ) -> bool:
        if error is not None and cannot_assume(error):
            self.error = error  # type: ignore[assignment]
            return True
        return False


def attempts(limit: float | None = None) -> Iterator[Attempt]:
    """Tries of one AWS call until it is not refused for a role IAM has not yet spread, for
    at most `limit` seconds (PROPAGATION_SECONDS)."""
    limit = PROPAGATION_SECONDS if limit is None else limit
    start, pause = time.monotonic(), FIRST_PAUSE
    while True:
        attempt = Attempt()
        yield attempt
        if attempt.error is None:
            return
        waited = time.monotonic() - start
        if waited + pause > limit:
            raise errors.StepFailed(explain(attempt.error, waited))
        role = (
            service_linked_role.NAME
            if _service_linked(attempt.error)
            else _role_named(attempt.error)
        )
        output.say(
            f"ECS cannot assume {redaction.aws_text(role)} yet: a role made or changed a moment ago "
            f"takes seconds to reach ECS; trying again in {pause:g}s"
        )
        time.sleep(pause)
        pause *= 2
