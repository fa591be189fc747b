"""Step 3: start the API server as a Fargate task in the CLUSTER_NAME cluster.

Starts the task definition TASK_FAMILY_NAME_FULL (or the newest revision of TASK_FAMILY_NAME)
in SUBNET_NAME with SEC_GROUP_NAME. Each task bills until it is stopped, so this refuses to
start another while one of ours is running, unless --count or --force says so.
"""

from plumbing import (
    arguments,
    clients,
    deadlines,
    ecs_tasks,
    errors,
    exit_codes,
    iam_propagation,
    ingress,
    output,
    redaction,
    runner,
)

import argparse
import sys

from botocore.exceptions import BotoCoreError, ClientError

import constants


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--count",
        type=arguments.whole_number(1, 10),
        help="how many tasks to start, 1 to 10 (default: TASK_COUNT); also allows starting "
        "more while ours are running",
    )
    parser.add_argument(
        "--force", action="store_true", help="start even though tasks of ours are running"
    )


def warn_about_security_groups(ec2, group_ids: list[str], port: int) -> None:
    """Warn when no ingress rule lets the demos in on `port`, or when one lets everybody in."""
    try:
        groups = ec2.describe_security_groups(GroupIds=group_ids)["SecurityGroups"]
    except ClientError as error:
        if errors.aws_error_code(error) not in errors.DENIED_CODES:
            raise
        output.warn(f"could not check the security groups: {errors.describe_client_error(error)}")
        return
    rules = [
        rule
        for group in groups
        for rule in group["IpPermissions"]
        if rule["IpProtocol"] == "-1"
        or (rule["IpProtocol"] in ("tcp", "6") and rule["FromPort"] <= port <= rule["ToPort"])
    ]
    if not rules:
        output.warn(
            f"no inbound rule in {', '.join(group_ids)} allows TCP port {port}: the demos "
            "will hang; add one for your own address"
        )
    sources = {r["CidrIp"] for rule in rules for r in rule.get("IpRanges", [])}
    sources |= {r["CidrIpv6"] for rule in rules for r in rule.get("Ipv6Ranges", [])}
    if rules and sources and all(":" in source for source in sources):
        output.warn(
            f"TCP port {port} is open in {', '.join(group_ids)} only to IPv6 ranges, but the task "
            "gets only a public IPv4 address: the demos will hang; add a rule for your IPv4 address"
        )
    wide_open = ingress.open_to_the_internet(sources)
    if wide_open:
        output.warn(
            f"TCP port {port} is open to the whole internet ({', '.join(wide_open)}): "
            "fine for a short demo, never for production; prefer your own address"
        )


def say_lifetime(ecs, task_definition_arn: str) -> None:
    """Say how long the tasks will live: their task definition's lifetime container decides."""
    try:
        definition = ecs.describe_task_definition(taskDefinition=task_definition_arn)
    except ClientError as error:
        output.warn(f"could not read the task's lifetime: {errors.describe_client_error(error)}")
        return
    except BotoCoreError as error:
        output.warn(f"could not read the task's lifetime: {errors.describe_botocore_error(error)}")
        return
    except deadlines.DeadlineExceeded as error:
        output.warn(f"could not read the task's lifetime: {error}")
        return
    lifetime = ecs_tasks.lifetime_minutes(definition["taskDefinition"])
    if lifetime:
        output.say(
            f"it stops by itself after {lifetime} minutes (TASK_LIFETIME_MINUTES when "
            f"{ecs_tasks.short_id(task_definition_arn)} was registered); stop it sooner with stop_task.py"
        )
    else:
        output.say(
            f"{ecs_tasks.short_id(task_definition_arn)} has no lifetime limit: the task runs, and "
            "bills, until you stop it with stop_task.py"
        )


def run_task(args: argparse.Namespace) -> int:
    constants.check("CLUSTER_NAME")
    count = args.count or constants.TASK_COUNT
    task_definition = constants.TASK_DEFINITION
    network_configuration = {
        "awsvpcConfiguration": {
            "subnets": constants.SUBNET_NAME,
            "securityGroups": constants.SEC_GROUP_NAME,
            "assignPublicIp": constants.ASSIGN_PUBLIC_IP,
        }
    }
    port = constants.SD_API_TCP_PORT
    ecs = clients.client("ecs")

    running = ecs_tasks.our_tasks(ecs)
    if running and not (args.force or args.count):
        raise errors.StepFailed(
            f"{len(running)} task(s) of ours already running in cluster {constants.CLUSTER_NAME} "
            f"({', '.join(map(ecs_tasks.short_id, running))}); each one bills: stop them with "
            "stop_task.py, or pass --force (or --count N) to start more"
        )
    warn_about_security_groups(clients.client("ec2"), constants.SEC_GROUP_NAME, port)

    # A role made a moment ago (the execution role, ECS's service-linked role) may not be
    # known to ECS yet: tried again for a while, then one line saying what to check.
    for attempt in iam_propagation.attempts():
        with attempt, errors.outcome_unknown(
            "a task may have started: list_tasks.py shows it, stop_task.py stops it"
        ):
            response = ecs.run_task(
                cluster=constants.CLUSTER_NAME,
                taskDefinition=task_definition,
                launchType="FARGATE",
                platformVersion="LATEST",
                count=count,
                networkConfiguration=network_configuration,
                startedBy=constants.STARTED_BY,
                tags=[constants.PROJECT_TAG],
            )
    started = [task["taskArn"] for task in response["tasks"]]
    # From here on tasks run and bill: a signal must not end the script without naming them.
    started_line = (
        f"started task(s) {', '.join(map(ecs_tasks.short_id, started))}: stop_task.py stops them"
        if started
        else "no task started"
    )
    with errors.if_stopped_early(started_line):
        output.show(response)
        for failure in response["failures"]:
            output.say(
                "failure: "
                + redaction.aws_text(
                    f"{failure.get('arn', '')} {failure.get('reason', '')} "
                    f"{failure.get('detail', '')}".strip()
                )
            )
    if response["failures"]:
        # Nothing half-created: a partial start is undone, every task tried.
        def stop(arn: str) -> None:
            ecs.stop_task(
                cluster=constants.CLUSTER_NAME, task=arn, reason="run_task.py: partial start"
            )
            output.say(f"stopped {ecs_tasks.short_id(arn)}, started alongside the failure")

        failed = ecs_tasks.try_every_task(started, stop)
        if failed:
            raise ecs_tasks.unstopped(failed, len(started))
        raise errors.StepFailed(
            f"ECS could not start {task_definition} in {constants.CLUSTER_NAME}"
        )
    with errors.if_stopped_early(started_line):
        for task in response["tasks"]:
            output.say(f"started task {ecs_tasks.short_id(task['taskArn'])} ({task['lastStatus']})")
        say_lifetime(ecs, response["tasks"][0]["taskDefinitionArn"])
        output.say("next: describe_task.py waits for it to run and prints its address")
    return exit_codes.EXIT_OK


def main(argv: list[str] | None = None) -> int:
    args = arguments.parse_args(__doc__, argv, add_arguments)
    return runner.run(run_task, args)


if __name__ == "__main__":
    sys.exit(main())
