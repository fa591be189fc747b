"""Step 6: stop every task of ours in CLUSTER_NAME and wait until each one is STOPPED.

"Ours" are the tasks run_task.py started; --all stops every running task in the cluster.
Right after run_task.py, ECS may not list a new task for a few seconds: when none is listed,
it looks again a few times, with growing pauses, before saying there is nothing to stop.
"""

from plumbing import arguments, clients, ecs_tasks, errors, exit_codes, output, pricing, runner

import argparse
import sys
import time

import constants

# ECS is eventually consistent (RunTask reference,
# https://docs.aws.amazon.com/AmazonECS/latest/APIReference/API_RunTask.html): a task started a
# moment ago may be left out by ListTasks and answered MISSING by DescribeTasks, for up to
# ECS_GRACE_SECONDS after this step starts; meanwhile it is looked for again, pausing 1, 2, 4...
# seconds (at most --interval, at least 0.2).


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--all", action="store_true", help="stop every running task in the cluster, not only ours"
    )
    arguments.add_wait_arguments(parser)


def stop_tasks(args: argparse.Namespace) -> int:
    cluster = constants.CLUSTER_NAME
    grace = constants.ECS_GRACE_SECONDS
    public_ip = constants.ASSIGN_PUBLIC_IP == "ENABLED"  # for the cost: AWS bills the address
    ecs = clients.client("ecs")
    start = time.monotonic()

    def running() -> list[str]:
        if args.all:
            return (
                ecs.get_paginator("list_tasks")
                .paginate(cluster=cluster, desiredStatus="RUNNING")
                .build_full_result()["taskArns"]
            )
        return ecs_tasks.our_tasks(ecs)

    check = 0
    while not (arns := running()):
        wait = ecs_tasks.grace_pause(args.interval, check)
        elapsed = time.monotonic() - start
        if elapsed + wait > min(grace, args.timeout):
            output.say(
                f"no running task {'' if args.all else 'of ours '}in cluster {cluster} "
                f"(listed {check + 1} times in {elapsed:.0f}s): nothing to stop"
            )
            output.show({"tasks": []})
            return exit_codes.EXIT_OK
        if check == 0:  # a task started a moment ago may not be listed yet: look again
            output.say(f"no running task listed in cluster {cluster} yet: looking again")
        time.sleep(wait)
        check += 1

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
    # Until the grace is over, it also lists again: a task started moments before this step
    # may be listed only now, and it is stopped too.
    progress, unseen, listed_after_grace = output.Progress(), 0, False
    try:
        while True:
            if not listed_after_grace:
                listed_after_grace = time.monotonic() - start >= grace
                late = [arn for arn in running() if arn not in arns]
                if late:
                    output.say(f"listed only now: {', '.join(map(ecs_tasks.short_id, late))}")
                    arns += late
                    late_failed = ecs_tasks.try_every_task(late, stop)
                    failed.update(late_failed)
                    stopping += [arn for arn in late if arn not in late_failed]
            tasks = ecs_tasks.describe_tasks(ecs, stopping)
            known = {ecs_tasks.short_id(task["taskArn"]) for task in tasks}
            missing = [arn for arn in stopping if ecs_tasks.short_id(arn) not in known]
            status = ", ".join(f"{ecs_tasks.short_id(t['taskArn'])} {t['lastStatus']}" for t in tasks)
            ecs_tasks.last_status[:] = [status]  # for the line if --timeout ends the step
            elapsed = time.monotonic() - start
            if missing and elapsed >= grace:
                raise errors.StepFailed(
                    f"ECS does not know task(s) {', '.join(missing)} in cluster {cluster} "
                    f"(for {grace}s, ECS_GRACE_SECONDS): list_tasks.py shows what still runs"
                )
            settled = not missing and all(t["lastStatus"] == "STOPPED" for t in tasks)
            if settled and listed_after_grace:
                break
            wait = ecs_tasks.grace_pause(args.interval, unseen) if missing else args.interval
            if settled:  # all stopped; the grace's last listing is still to come
                wait = max(grace - elapsed, 0.0)
            unseen += bool(missing)
            if elapsed + wait > args.timeout:
                if settled:
                    break  # the late listing would outlast --timeout: what is stopped is said
                raise errors.StepFailed(f"gave up after {args.timeout:.0f}s: {status}")
            progress.update(f"waiting: {status}", elapsed)
            time.sleep(wait)
    finally:
        progress.close()

    prices = pricing.prices(
        ecs.meta.region_name, constants.AWS_PROFILE_NAME, budget=constants.AWS_CALL_TIMEOUT
    )
    costs = {task["taskArn"]: pricing.stopped_cost(prices, task, public_ip) for task in tasks}
    output.show(
        {
            "tasks": [
                {
                    **{
                        key: task.get(key)
                        for key in ("taskArn", "lastStatus", "stopCode", "stoppedReason")
                    },
                    "costUsd": pricing.as_json(cost) if cost is not None else None,
                }
                for task in tasks
                for cost in [costs[task["taskArn"]]]
            ],
            "prices": prices.source,
        }
    )
    for task in tasks:
        cost = costs[task["taskArn"]]
        output.say(
            f"task {ecs_tasks.short_id(task['taskArn'])} is STOPPED; it cost "
            + (pricing.dollars(cost) if cost is not None else "an unknown sum (no start time)")
        )
    known = [cost for cost in costs.values() if cost is not None]
    if known:
        output.say(
            f"the stopped task(s) cost {pricing.dollars(sum(known))} in all "
            f"(prices: {prices.source})"
        )
    if failed:
        raise ecs_tasks.unstopped(failed, len(arns))
    return exit_codes.EXIT_OK


def main(argv: list[str] | None = None) -> int:
    args = arguments.parse_args(__doc__, argv, add_arguments)
    return runner.run(stop_tasks, args, timeout=args.timeout)


if __name__ == "__main__":
    sys.exit(main())
