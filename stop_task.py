"""Step 6: stop every task of ours in CLUSTER_NAME and wait until each one is STOPPED.

"Ours" are the tasks run_task.py started; --all stops every running task in the cluster.
Right after run_task.py, ECS may not list a new task for a few seconds: when none is listed,
it looks again a few times, with growing pauses, before saying there is nothing to stop.
"""

from plumbing import arguments, clients, ecs_tasks, errors, exit_codes, output, runner

import argparse
import sys
import time

import constants

# ECS is eventually consistent (RunTask reference,
# https://docs.aws.amazon.com/AmazonECS/latest/APIReference/API_RunTask.html): a task stopped
# a moment after it started may still be answered MISSING; "not yet", this many times, pausing
# 1, 2, 4... seconds (at most --interval).
GRACE_CHECKS = 4


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--all", action="store_true", help="stop every running task in the cluster, not only ours"
    )
    arguments.add_wait_arguments(parser)


def stop_tasks(args: argparse.Namespace) -> int:
    cluster = constants.CLUSTER_NAME
    ecs = clients.client("ecs")
    start = time.monotonic()
    for check in range(GRACE_CHECKS + 1):
        if args.all:
            arns = (
                ecs.get_paginator("list_tasks")
                .paginate(cluster=cluster, desiredStatus="RUNNING")
                .build_full_result()["taskArns"]
            )
        else:
            arns = ecs_tasks.our_tasks(ecs)
        pause = min(args.interval, 2.0**check)
        if arns or check == GRACE_CHECKS or time.monotonic() - start + pause > args.timeout:
            break
        if check == 0:  # a task started a moment ago may not be listed yet: look again
            output.say(f"no running task listed in cluster {cluster} yet: looking again")
        time.sleep(pause)
    if not arns:
        output.say(
            f"no running task {'' if args.all else 'of ours '}in cluster {cluster} "
            f"(listed {check + 1} times): nothing to stop"
        )
        output.show({"tasks": []})
        return exit_codes.EXIT_OK

    def stop(arn: str) -> None:
        ecs.stop_task(cluster=cluster, task=arn, reason="stopped by stop_task.py")
        output.say(f"stopping task {ecs_tasks.short_id(arn)}")

    # Every task is tried, even when stopping one fails; those are named at the end.
    failed = ecs_tasks.try_every_task(arns, stop)
    stopping = [arn for arn in arns if arn not in failed]
    if not stopping:
        raise ecs_tasks.unstopped(failed, len(arns))

    # One loop in sight rather than botocore's `tasks_stopped` waiter, which has no progress
    # line, no growing pause, and takes a task it does not find (MISSING) for a stopped one.
    progress, unseen, start = output.Progress(), 0, time.monotonic()
    try:
        while True:
            tasks = ecs_tasks.describe_tasks(ecs, stopping)
            known = {ecs_tasks.short_id(task["taskArn"]) for task in tasks}
            missing = [arn for arn in stopping if ecs_tasks.short_id(arn) not in known]
            status = ", ".join(f"{ecs_tasks.short_id(t['taskArn'])} {t['lastStatus']}" for t in tasks)
            ecs_tasks.last_status[:] = [status]  # for the line if --timeout ends the step
            if missing and unseen >= GRACE_CHECKS:
                raise errors.StepFailed(
                    f"ECS does not know task(s) {', '.join(missing)} in cluster {cluster} "
                    f"(checked {unseen + 1} times): list_tasks.py shows what still runs"
                )
            if not missing and all(t["lastStatus"] == "STOPPED" for t in tasks):
                break
            pause = min(args.interval, 2.0**unseen) if missing else args.interval
            unseen += bool(missing)
            elapsed = time.monotonic() - start
            if elapsed + pause > args.timeout:
                raise errors.StepFailed(f"gave up after {args.timeout:.0f}s: {status}")
            progress.update(f"waiting: {status}", elapsed)
            time.sleep(pause)
    finally:
        progress.close()
    output.show(
        {
            "tasks": [
                {
                    key: task.get(key)
                    for key in ("taskArn", "lastStatus", "stopCode", "stoppedReason")
                }
                for task in tasks
            ]
        }
    )
    for task in tasks:
        output.say(f"task {ecs_tasks.short_id(task['taskArn'])} is STOPPED")
    if failed:
        raise ecs_tasks.unstopped(failed, len(arns))
    return exit_codes.EXIT_OK


def main(argv: list[str] | None = None) -> int:
    args = arguments.parse_args(__doc__, argv, add_arguments)
    return runner.run(stop_tasks, args, timeout=args.timeout)


if __name__ == "__main__":
    sys.exit(main())
