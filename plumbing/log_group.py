"""The CloudWatch Logs group that keeps the server's output: made, tagged and removed as ours.

A group made here carries the project's tag and a retention (LOG_RETENTION_DAYS), so old
lines do not bill forever. A group of the same name that is not tagged as ours is used as it
is and never changed or deleted.
"""

from __future__ import annotations

from plumbing import output

from collections.abc import Iterator
from contextlib import contextmanager, suppress
from typing import Any

import constants


def find(logs: Any, name: str) -> dict[str, Any] | None:
    """The log group named exactly `name`, or None."""
    # DescribeLogGroups matches a prefix: https://docs.aws.amazon.com/AmazonCloudWatchLogs/latest/APIReference/API_DescribeLogGroups.html
    groups = (
        logs.get_paginator("describe_log_groups")
        .paginate(logGroupNamePrefix=name)
        .build_full_result()["logGroups"]
    )
    return next((group for group in groups if group["logGroupName"] == name), None)


def is_ours(logs: Any, group: dict[str, Any]) -> bool:
    """Whether the group carries the project's tag."""
    arn = group.get("logGroupArn") or group["arn"].removesuffix(":*")
    tags = logs.list_tags_for_resource(resourceArn=arn).get("tags", {})
    return tags.get(constants.PROJECT_TAG["key"]) == constants.PROJECT_TAG["value"]


def ensure(logs: Any, name: str, retention_days: int) -> str:
    """Make the group if it is missing (tagged, with its retention); bring the retention of
    ours up to date. Returns a line saying what it found or did."""
    group = find(logs, name)
    if group is None:
        logs.create_log_group(
            logGroupName=name,
            tags={constants.PROJECT_TAG["key"]: constants.PROJECT_TAG["value"]},
        )
        try:
            logs.put_retention_policy(logGroupName=name, retentionInDays=retention_days)
        except BaseException:
            with suppress(Exception):  # nothing half-made: the group goes again
                logs.delete_log_group(logGroupName=name)
            raise
        return f"created log group {name}, keeping lines {retention_days} days (LOG_RETENTION_DAYS)"
    if not is_ours(logs, group):
        return (
            f"log group {name} exists and is not this project's: used as it is (its retention: "
            f"{group.get('retentionInDays') or 'never expires'})"
        )
    if group.get("retentionInDays") != retention_days:
        logs.put_retention_policy(logGroupName=name, retentionInDays=retention_days)
        return f"log group {name} (ours) now keeps lines {retention_days} days"
    return f"log group {name} (ours) is there, keeping lines {retention_days} days"


def delete_if_ours(logs: Any, name: str) -> str | None:
    """Delete the group if it is ours; a line saying what happened, None when there is none."""
    group = find(logs, name)
    if group is None:
        return None
    if not is_ours(logs, group):
        return f"log group {name} is not tagged as this project's: left alone"
    logs.delete_log_group(logGroupName=name)
    return f"deleted log group {name} and the server's lines in it"


@contextmanager
def removed_if_failed(logs: Any, name: str | None, made: str) -> Iterator[None]:
    """Around the step that needs the group: if it fails and `made` says the group was just
    created (by `ensure`), delete it again, so that nothing is left half-made."""
    try:
        yield
    except BaseException:
        if logs is not None and name and made.startswith("created"):
            with suppress(Exception):
                logs.delete_log_group(logGroupName=name)
                output.say(f"removed log group {name}, made by this run")
        raise
