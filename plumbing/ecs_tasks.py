"""Our ECS tasks: finding them, reading their lifetime, and stopping each without losing one."""

from __future__ import annotations

from plumbing import lifetime
from plumbing.deadlines import DeadlineExceeded
from plumbing.errors import (
    NETWORK_ERRORS,
    THROTTLE_CODES,
    StepFailed,
    add_detail,
    aws_error_code,
    describe_botocore_error,
    describe_client_error,
)
from plumbing.signals import Interrupted

import random
import time
from collections.abc import Callable
from typing import Any

from botocore.exceptions import BotoCoreError, ClientError

import constants

DESCRIBE_TASKS_MOST = 100  # DescribeTasks takes at most 100 tasks a call
TASK_ROUNDS = 4  # rounds over the tasks still throttled, on top of botocore's own retries

last_status: list[str] = []  # what a wait saw last, for the line when time runs out


def short_id(arn: str) -> str:
    """The last part of an ARN: a task id, or family:revision of a task definition."""
    return arn.rsplit("/", 1)[-1]


def our_tasks(ecs: Any, desired_status: str = "RUNNING") -> list[str]:
    """ARNs of the tasks that run_task.py started in CLUSTER_NAME with that desired status."""
    return (
        ecs.get_paginator("list_tasks")
        .paginate(
            cluster=constants.CLUSTER_NAME,
            startedBy=constants.STARTED_BY,
            desiredStatus=desired_status,
        )
        .build_full_result()["taskArns"]
    )


def describe_tasks(ecs: Any, arns: list[str]) -> list[dict[str, Any]]:
    """describe_tasks for any number of tasks, in calls of at most DESCRIBE_TASKS_MOST."""
    return [
        task
        for start in range(0, len(arns), DESCRIBE_TASKS_MOST)
        for task in ecs.describe_tasks(
            cluster=constants.CLUSTER_NAME, tasks=arns[start : start + DESCRIBE_TASKS_MOST]
        )["tasks"]
    ]


def lifetime_minutes(task_definition: dict[str, Any]) -> int | None:
    """The lifetime a task definition gives its tasks, in minutes (plumbing/lifetime.py).

    None when it has no lifetime container, or one without a lifetime (the task runs until
    stopped, or until unused).
    """
    return lifetime.limits(task_definition)[0]


def grace_pause(interval: float, check: int) -> float:
    """The pause before look number `check` (0, 1, ...) for a task ECS may not know yet:
    1, 2, 4... s, at most `interval`, at least a fifth of a second (so that a grace counted in
    seconds is not a burst of calls)."""
    return max(min(interval, 2.0**check), 0.2)


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
                if isinstance(error, NETWORK_ERRORS):
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
