"""Step 6: stop every task of ours in CLUSTER_NAME and wait until each one is STOPPED.

"Ours" are the tasks run_task.py started; --all stops every running task in the cluster.
"""

import argparse
import sys

from plumbing import arguments, clients, ecs_tasks, exit_codes, output, runner

import constants


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--all", action="store_true", help="stop every running task in the cluster, not only ours"
    )
    arguments.add_wait_arguments(parser)


def stop_tasks(args: argparse.Namespace) -> int:
    cluster = constants.CLUSTER_NAME
    ecs = clients.client("ecs")
    if args.all:
        arns = (
            ecs.get_paginator("list_tasks")
            .paginate(cluster=cluster, desiredStatus="RUNNING")
            .build_full_result()["taskArns"]
        )
    else:
        arns = ecs_tasks.our_tasks(ecs)
    if not arns:
        output.say(
            f"no running task {'' if args.all else 'of ours '}in cluster {cluster}: nothing to stop"
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

    tasks = ecs_tasks.wait_for_tasks(
        ecs,
        stopping,
        settled=lambda tasks: all(t["lastStatus"] == "STOPPED" for t in tasks),
        timeout=args.timeout,
        interval=args.interval,
    )
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
