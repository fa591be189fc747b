"""Our ECS tasks: finding them, reading their lifetime, and stopping each without losing one."""

from __future__ import annotations

from plumbing import output
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
import re
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
    """The lifetime a task definition gives its tasks: its lifetime container's sleep, in minutes.

    None when it has no lifetime container (the task runs until stopped).
    """
    for container in task_definition.get("containerDefinitions", []):
        command = container.get("command") or []
        if (
            container.get("name") == constants.LIFETIME_CONTAINER_NAME
            and len(command) == 2
            and command[0] == "sleep"
            and re.fullmatch(r"[0-9]+", command[1])
        ):
            return int(command[1]) // 60
    return None


def wait_for_tasks(
    ecs: Any,
    arns: list[str],
    settled: Callable[[list[dict[str, Any]]], bool],
    timeout: float,
    interval: float,
) -> list[dict[str, Any]]:
    """Poll describe_tasks until `settled(tasks)`, showing each task's status; return the tasks.

    Gives up before a check that would end after `timeout`; `runner.run(..., timeout=)` bounds
    the whole step, a call that hangs inside the wait included.
    """
    progress = output.Progress()
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
            last_status[:] = [status]
            elapsed = time.monotonic() - start
            if settled(tasks):
                return tasks
            if elapsed + interval > timeout:
                raise StepFailed(f"gave up after {timeout:.0f}s: {status}")
            progress.update(f"waiting: {status}", elapsed)
            time.sleep(interval)
    finally:
        progress.close()


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
