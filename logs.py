"""Steps 4 and 5: the server's log lines of our tasks, oldest first, with their UTC times.

Without task ids it reads the tasks that run_task.py started in CLUSTER_NAME (when none runs,
the one that stopped last); with several tasks, each line names its task. --follow prints new
lines as they come and ends by itself once the tasks have stopped, with each stop reason:
exit 0, or 1 when a task ended in a crash. The lines are in CloudWatch Logs (the task
definition's log group, LOG_GROUP), where they are kept LOG_RETENTION_DAYS. Control
characters in a line are shown as escapes (\\x1b), and a line over 2000 characters is cut.
"""

from plumbing import arguments, clients, ecs_tasks, errors, exit_codes, output, runner
from plumbing import lifetime as lifetime_limits
from plumbing import logs as server_logs

import argparse
import os
import re
import sys
import time
from datetime import datetime, timedelta, timezone

import constants
import describe_task

UNITS = {"s": 1, "m": 60, "h": 3600, "d": 86400, "w": 604800}
SINCE_MOST = timedelta(days=3653)  # CloudWatch Logs keeps events ten years at most
DEFAULT_LINES = 100


def since(text: str) -> datetime:
    """An argparse type: how far back to start, as a duration (10m, 2h, 3d) or an ISO 8601
    time (2026-12-05T14:00, UTC unless it says otherwise)."""
    now = datetime.now(timezone.utc)
    duration = re.fullmatch(r"([0-9]{1,7})([smhdw])", text)
    moment = None
    if duration:
        seconds = int(duration.group(1)) * UNITS[duration.group(2)]
        if 0 < seconds <= SINCE_MOST.total_seconds():
            moment = now - timedelta(seconds=seconds)
    elif re.fullmatch(r"[0-9]{4}-[0-9]{2}-[0-9]{2}([T ][0-9:.]{2,15}(Z|[+-][0-9]{2}:?[0-9]{2})?)?", text):
        try:
            moment = datetime.fromisoformat(text.replace("Z", "+00:00"))
        except ValueError:
            moment = None
        if moment is not None:
            moment = moment if moment.tzinfo else moment.replace(tzinfo=timezone.utc)
            if not now - SINCE_MOST <= moment <= now + timedelta(minutes=5):
                moment = None
    if moment is None:
        shown = repr(text) if len(text) <= 80 else f"{text[:80]!r}... ({len(text)} characters)"
        raise argparse.ArgumentTypeError(
            f"{shown} is not a time to start from: a duration such as 30s, 10m, 2h, 3d or 1w "
            "(at most ten years), or an ISO 8601 time not in the future, such as "
            "2026-12-05T14:00 (UTC) or 2026-12-05T15:00+01:00"
        )
    return moment


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "tasks",
        nargs="*",
        type=arguments.task_reference,
        help="task ids or ARNs (default: every task of ours)",
    )
    parser.add_argument(
        "--since", type=since, help="start this long ago (10m, 2h) or at this ISO time"
    )
    parser.add_argument(
        "--lines",
        type=arguments.whole_number(1, server_logs.EVENTS_MOST),
        help=f"only the last N lines (default: {DEFAULT_LINES}, or all since --since)",
    )
    parser.add_argument("--json", action="store_true", help="one JSON object a line")
    parser.add_argument(
        "--follow",
        action="store_true",
        help="print new lines as they come; ends by itself when the tasks stop",
    )
    parser.add_argument(
        "--interval",
        type=arguments.seconds(0, 60),
        default=2,
        help="seconds between reads while following (default: 2)",
    )


class StdoutGone(Exception):
    """Whoever read the lines went away (`| head`): nothing more to print."""


def print_lines(pairs: list, as_json: bool, label: bool) -> None:
    try:
        for place, event in pairs:
            line = (
                server_logs.json_line(event, place)
                if as_json
                else server_logs.text_line(event, place, label)
            )
            sys.stdout.write(line + "\n")
        sys.stdout.flush()
    except (OSError, ValueError, AttributeError) as error:
        try:  # what is left in the buffer goes nowhere, also at exit
            os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        except (OSError, ValueError, AttributeError):
            sys.stdout = open(os.devnull, "w")  # noqa: SIM115 (open until the process ends)
        raise StdoutGone from error


def crashed(task: dict) -> bool:
    """A task that ended by a failure: it failed to start, or its server exited."""
    if describe_task.ended_by_lifetime(task):
        return False
    return task.get("stopCode") in ("TaskFailedToStart", "EssentialContainerExited") or (
        describe_task.ESSENTIAL_EXITED in (task.get("stoppedReason") or "")
    )


def read_logs(args: argparse.Namespace) -> int:
    cluster = constants.CLUSTER_NAME
    ecs = clients.client("ecs")
    arns = args.tasks or ecs_tasks.our_tasks(ecs) or describe_task.newest_stopped(ecs, cluster)
    tasks = ecs_tasks.describe_tasks(ecs, arns)
    known = {ecs_tasks.short_id(task["taskArn"]) for task in tasks}
    missing = [arn for arn in arns if ecs_tasks.short_id(arn) not in known]
    if missing:
        raise errors.StepFailed(
            f"ECS does not know task(s) {', '.join(missing)} in cluster {cluster} "
            "(stopped tasks are forgotten after about an hour)"
        )
    definitions: dict[str, dict] = {}
    for task in tasks:
        arn = task["taskDefinitionArn"]
        if arn not in definitions:
            definitions[arn] = ecs.describe_task_definition(taskDefinition=arn)["taskDefinition"]

    logs = clients.client("logs")
    readers = {}
    for task in tasks:
        place = server_logs.log_place(definitions[task["taskDefinitionArn"]], task["taskArn"])
        if place is None:
            output.warn(
                f"task {ecs_tasks.short_id(task['taskArn'])} keeps no logs: its task definition "
                "sends the server's output nowhere (LOG_GROUP=off)"
            )
            continue
        readers[task["taskArn"]] = server_logs.StreamReader(logs, place)
    if not readers:
        raise errors.StepFailed(
            "no logs to read: register the task definition again with logs on (LOG_GROUP "
            "unset or a group name), then start a new task"
        )
    label = len(readers) > 1
    since_ms = int(args.since.timestamp() * 1000) if args.since else None
    last = args.lines if args.lines or args.since else DEFAULT_LINES
    try:
        first = [(reader.place, reader.first(since_ms, last)) for reader in readers.values()]
        lines = server_logs.merged(first)
        if last:
            lines = lines[-last:]
        print_lines(lines, args.json, label)
        groups = sorted({reader.place.group for reader in readers.values()})
        output.say(f"{len(lines)} line(s) from {', '.join(groups)}")
        if args.follow:
            tasks = follow(ecs, list(readers), readers, args, label)
    except StdoutGone:
        return exit_codes.EXIT_OK
    return explain_ended(tasks, definitions)


def follow(ecs, arns: list[str], readers: dict, args: argparse.Namespace, label: bool) -> list:
    """Print new lines until every task has stopped (and its last lines are in); the tasks."""
    output.say(
        f"following {len(arns)} task(s): new lines as they come, until the task stops "
        "(Ctrl-C to stop sooner)"
    )
    ended_at = None
    while True:
        time.sleep(args.interval)
        tasks = ecs_tasks.describe_tasks(ecs, arns)
        batches = [(reader.place, reader.new()) for reader in readers.values()]
        print_lines(server_logs.merged(batches), args.json, label)
        if not all(task["lastStatus"] == "STOPPED" for task in tasks):
            continue
        # The driver sends what a container wrote last as it stops; it reaches CloudWatch
        # seconds later: read on a little before the last word.
        if ended_at is None:
            ended_at = time.monotonic()
            output.say("the task has stopped: reading its last lines")
        elif not any(events for _, events in batches) and (
            time.monotonic() - ended_at >= min(DRAIN_SECONDS, 2 * args.interval)
        ):
            return tasks


DRAIN_SECONDS = 5


def explain_ended(tasks: list, definitions: dict) -> int:
    stopped = [task for task in tasks if task["lastStatus"] == "STOPPED"]
    for task in stopped:
        definition = definitions.get(task["taskDefinitionArn"]) or {}
        # As describe_task.py says it: by its lifetime, by the idle stop, or why else.
        limits = lifetime_limits.limits(definition) if describe_task.ended_by_lifetime(task) else ()
        output.say(
            f"task {ecs_tasks.short_id(task['taskArn'])} stopped:\n"
            f"{describe_task.explain_stop(task, *limits)}"
        )
    if any(crashed(task) for task in stopped):
        return exit_codes.EXIT_FAILED
    return exit_codes.EXIT_OK


def main(argv: list[str] | None = None) -> int:
    args = arguments.parse_args(__doc__, argv, add_arguments)
    return runner.run(read_logs, args)


if __name__ == "__main__":
    sys.exit(main())
