"""The server's output in CloudWatch Logs, where the task definition's `awslogs` driver puts it.

The driver writes each container's output to the stream `PREFIX/CONTAINER/TASK_ID` of the
group named in the container's `logConfiguration`
(https://docs.aws.amazon.com/AmazonECS/latest/developerguide/using_awslogs.html), so the place
is read from the task's own task definition, whatever LOG_GROUP says today. A line may hold
anything the server printed: `harmless` shows control characters and escape sequences as
text, and cuts a huge line.
"""

from __future__ import annotations

from plumbing import clients, deadlines, ecs_tasks, errors

import json
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timezone
from typing import Any

from botocore.exceptions import BotoCoreError, ClientError

import constants

LINE_LIMIT = 2000  # characters shown of one log line; the rest is cut
EVENTS_MOST = 10_000  # GetLogEvents returns at most this many events a call
LAST_LINES = 20  # the server's lines shown after a stop explanation
NOT_FOUND = "ResourceNotFoundException"


@dataclass(frozen=True)
class LogPlace:
    """Where one container of one task writes its output."""

    group: str
    stream: str
    task_id: str
    container: str


def log_place(
    definition: dict[str, Any], task_arn: str, container: str = constants.CONTAINER_NAME
) -> LogPlace | None:
    """Where `container` of the task writes, per its task definition; None without awslogs."""
    for each in definition.get("containerDefinitions", []):
        config = each.get("logConfiguration") or {}
        options = config.get("options") or {}
        if each.get("name") != container or config.get("logDriver") != "awslogs":
            continue
        group, prefix = options.get("awslogs-group"), options.get("awslogs-stream-prefix")
        if not group or not prefix:
            return None  # without a prefix the driver names streams after Docker's ids
        task_id = ecs_tasks.short_id(task_arn)
        return LogPlace(group, f"{prefix}/{container}/{task_id}", task_id, container)
    return None


def harmless(text: str, limit: int = LINE_LIMIT) -> str:
    """One log line made safe for a terminal: every control character (ESC, CR, BEL, bidi
    overrides...) shown as an escape such as \\x1b, cut after `limit` characters."""
    text = text.rstrip("\r\n")
    shown = "".join(
        char if char.isprintable() else " " if char == "\t" else repr(char)[1:-1]
        for char in text[:limit]
    )
    if len(text) > limit:
        shown += f" [... cut: {len(text)} characters in all]"
    return shown


def utc(timestamp_ms: int) -> datetime:
    return datetime.fromtimestamp(timestamp_ms / 1000, timezone.utc)


def text_line(event: dict[str, Any], place: LogPlace, label: bool) -> str:
    """A log event as a line for a person: UTC time, the task when there are several, the text."""
    when = f"{utc(event['timestamp']):%Y-%m-%d %H:%M:%S}Z"
    task = f" [{place.task_id[:8]}]" if label else ""
    return f"{when}{task} {harmless(event.get('message', ''))}"


def json_line(event: dict[str, Any], place: LogPlace) -> str:
    """A log event as one JSON object (ASCII: nothing in it acts on a terminal)."""
    message = event.get("message", "").rstrip("\r\n")
    return json.dumps(
        {
            "time": utc(event["timestamp"]).isoformat(timespec="milliseconds"),
            "task": place.task_id,
            "container": place.container,
            "message": message[:LINE_LIMIT],
            "cut": len(message) > LINE_LIMIT,
        }
    )


class StreamReader:
    """Reads one stream's events in order, and later its new events (GetLogEvents' tokens)."""

    def __init__(self, logs: Any, place: LogPlace) -> None:
        self.logs = logs
        self.place = place
        self.token: str | None = None
        self.since_ms: int | None = None

    def _call(self, **params: Any) -> dict[str, Any] | None:
        # The time window goes with every call, a token's too, so that every page is cut alike.
        window = {"startTime": self.since_ms} if self.since_ms is not None else {}
        try:
            return self.logs.get_log_events(
                logGroupName=self.place.group,
                logStreamName=self.place.stream,
                **window,
                **params,
            )
        except ClientError as error:
            if errors.aws_error_code(error) == NOT_FOUND:
                return None  # the task has written nothing yet (or the group is gone)
            raise

    def first(self, since_ms: int | None = None, last: int | None = None) -> list[dict]:
        """The events since `since_ms` (all kept ones by default), only the `last` ones if given."""
        self.since_ms = since_ms
        if last is not None:
            # The newest `last` events in one call, oldest first; its forward token follows on.
            page = self._call(startFromHead=False, limit=max(1, min(last, EVENTS_MOST)))
            if page is None or not page.get("events"):
                return []  # no token kept: the next read starts from the stream's head
            self.token = page.get("nextForwardToken")
            return page["events"][-last:]
        events = []
        page = self._call(startFromHead=True)
        while page is not None and page.get("events"):
            events += page["events"]
            token = page.get("nextForwardToken")
            if token in (None, self.token):
                break
            self.token = token
            page = self._call(startFromHead=True, nextToken=token)
        return events

    def new(self) -> list[dict]:
        """The events written since the last read (none while the stream does not exist)."""
        if self.token is None:
            return self.first(self.since_ms)
        events = []
        while True:
            page = self._call(startFromHead=True, nextToken=self.token)
            if page is None:
                return events
            events += page.get("events", [])
            token = page.get("nextForwardToken")
            if not page.get("events") or token in (None, self.token):
                return events
            self.token = token


def merged(batches: list[tuple[LogPlace, list[dict]]]) -> list[tuple[LogPlace, dict]]:
    """Events of several streams in one order: by time, each stream's own order kept."""
    pairs = [(place, event) for place, events in batches for event in events]
    return sorted(pairs, key=lambda pair: pair[1].get("timestamp", 0))


def last_lines(
    definition: Callable[[], dict[str, Any]], task: dict[str, Any], count: int = LAST_LINES
) -> str:
    """The server's last `count` lines, indented, for a stop explanation (`definition` gives
    the task's task definition); or, in one line, what kept them from being read."""
    name = ecs_tasks.short_id(task["taskArn"])
    try:
        place = log_place(definition(), task["taskArn"])
        if place is None:
            return (
                "  the server's output was not kept: its task definition has no awslogs log "
                "configuration (LOG_GROUP=off); register it again with logs on"
            )
        events = StreamReader(clients.client("logs"), place).first(last=count)
    except ClientError as error:
        why = errors.describe_client_error(error)
    except BotoCoreError as error:
        why = errors.describe_botocore_error(error)
    except deadlines.DeadlineExceeded as error:
        why = str(error)
    else:
        if not events:
            return f"  the server wrote nothing to {place.group} (stream {place.stream})"
        lines = [f"  {text_line(event, place, label=False)}" for event in events]
        return "\n".join([f"  the server's last {len(lines)} lines ({place.group}):", *lines])
    return f"  the server's lines of task {name} could not be read: {why}"
