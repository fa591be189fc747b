"""Step 4: wait until our tasks are RUNNING, then print each one's IP and the address for the demos.

Without task ids it waits for every task that run_task.py started in CLUSTER_NAME. For each
running task it says when the task will stop by itself (its lifetime) and how to stop it
sooner. A task that stops instead ends the wait with its stop code and reasons, and the
server's last lines (exit 1). Right after run_task.py, ECS may not know or list a new task for
a few seconds, and its public IP may show after it runs: both are waited for, a few checks with
growing pauses. Once a task runs, it checks from here that its server answers (Thrift
getStatus, or HTTP in REST mode) within --timeout, and says which hop fails if not.
"""

from plumbing import (
    arguments,
    clients,
    ecs_tasks,
    errors,
    exit_codes,
    output,
    pricing,
    ready,
    redaction,
    runner,
)
from plumbing import lifetime as lifetime_limits
from plumbing import logs as server_logs

import argparse
import sys
import time
from datetime import datetime, timedelta, timezone

from botocore.exceptions import ClientError

import constants

SERVER_DEFAULT_PORT = 9090

# What a stopped reason usually means, for the person reading it.
STOP_HINTS = {
    "CannotPullContainerError": "the task could not pull the image: it needs a route to the internet "
    "(a public subnet with ASSIGN_PUBLIC_IP=ENABLED, or a private subnet with a NAT gateway), "
    "and IMAGE_NAME must exist",
    "ResourceInitializationError": "the task could not be set up: check the execution role "
    "(TASK_EXEC_ROLE), the route to the internet, the EFS file system and its security group, "
    "and that LOG_GROUP exists",
    "OutOfMemoryError": "the server ran out of memory: raise TASK_MEMORY",
    "EssentialContainerExited": "the server exited: read its last lines below (all of them: "
    "python3 logs.py TASK_ID) and check that the CPU has AVX2, F16C and FMA3 (Fargate x86-64 does)",
    # https://docs.aws.amazon.com/AmazonECS/latest/developerguide/fargate-capacity-providers.html
    "SpotInterruption": "AWS took back the Fargate Spot capacity the task ran on, after two "
    "minutes' warning: not a crash, and nothing you did; start a new task with run_task.py, or "
    "set CAPACITY_PROVIDER=FARGATE for one that is not interrupted",
}
# The execution role could not read LICENSE_SECRET when the task started.
SECRET_HINT = (
    "ECS could not read the licence secret (LICENSE_SECRET) for the server: the execution role "
    "(TASK_EXEC_ROLE) needs ssm:GetParameters on the SSM parameter, or "
    "secretsmanager:GetSecretValue on the secret, plus kms:Decrypt if a customer-managed KMS key "
    "encrypts it; check too that the name or ARN and its region are right; if the role or its "
    "policy was made or changed a minute ago, IAM may not have reached ECS yet: start a new "
    "task with run_task.py"
)
SECRET_SIGNS = ("unable to pull secrets", "unable to retrieve secret", "accessdeniedexception")
ESSENTIAL_EXITED = "Essential container in task exited"
STOP_SOONER = "python3 stop_task.py"
# ECS is eventually consistent: "the result of an API command ... might not be immediately
# visible to all subsequent commands" (RunTask reference,
# https://docs.aws.amazon.com/AmazonECS/latest/APIReference/API_RunTask.html). A task started
# a moment ago may be answered MISSING by DescribeTasks and left out by ListTasks: that is
# "not yet" for ECS_GRACE_SECONDS, checked again pausing 1, 2, 4... seconds (at most --interval).
# A Fargate task may be RUNNING before its network interface shows its public IP: that many
# checks in all (shared by every task described), pausing 1, 2, 4... seconds (at most
# --interval), before saying it has none.
PUBLIC_IP_CHECKS = 4


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "tasks",
        nargs="*",
        type=arguments.task_reference,
        help="task ids or ARNs (default: every task of ours)",
    )
    arguments.add_wait_arguments(parser)
    parser.add_argument(
        "--from-vpc",
        action="store_true",
        help="this machine is inside the task's VPC: check the server at its private IP too",
    )


def ended_by_lifetime(task: dict) -> bool:
    """True when the lifetime container ended the task: its lifetime ran out, or it was unused."""
    return lifetime_limits.how_it_ended(task) is not None


def explain_stop(task: dict, lifetime: int | None = None, idle: int | None = None) -> str:
    """Why a task stopped: its stop code and reason, each container's reason and exit code."""
    lines = []
    ended = lifetime_limits.how_it_ended(task)
    if ended == "lifetime" and lifetime:
        lines.append(
            f"  ended after its lifetime of {lifetime} minutes (TASK_LIFETIME_MINUTES), as "
            "planned: not a crash; start a new task with run_task.py"
        )
    if ended == "idle" and idle:
        lines.append(
            f"  ended after {idle} minutes without a connection (TASK_IDLE_MINUTES), as "
            "planned: not a crash; start a new task with run_task.py"
        )
    lines += [
        f"  stopCode: {redaction.aws_text(task.get('stopCode', '-'))}",
        f"  stoppedReason: {redaction.aws_text(task.get('stoppedReason', '-'))}",
    ]
    for container in task.get("containers", []):
        lines.append(
            f"  container {redaction.aws_text(container['name'])}: exit code "
            f"{container.get('exitCode', '-')}, reason: {redaction.aws_text(container.get('reason', '-'))}"
        )
    text = "\n".join(lines)
    if (ended == "lifetime" and lifetime) or (ended == "idle" and idle):
        return text
    hints = [hint for key, hint in STOP_HINTS.items() if key in text]
    if any(sign in text.lower() for sign in SECRET_SIGNS):
        hints.append(SECRET_HINT)
    return "\n".join([text, *(f"  hint: {hint}" for hint in hints)])


def stops_by_itself(task: dict, lifetime: int | None) -> tuple[str | None, str]:
    """(UTC time the task stops by itself or None, a line saying so and how to stop it sooner)."""
    if not lifetime:
        return None, f"it has no lifetime limit: it runs, and bills, until you run {STOP_SOONER}"
    started = task.get("startedAt") or task.get("createdAt")
    if not isinstance(started, datetime):
        return None, (
            f"it stops by itself {lifetime} minutes after it started (ECS gave no start time); "
            f"stop it sooner with {STOP_SOONER}"
        )
    stop_at = (started + timedelta(minutes=lifetime)).astimezone(timezone.utc)
    return stop_at.isoformat(), (
        f"it stops by itself at {stop_at:%Y-%m-%d %H:%M} UTC (lifetime {lifetime} minutes); "
        f"stop it sooner with {STOP_SOONER}"
    )


def network_addresses(
    ec2, task: dict
) -> tuple[str | None, str | None, str | None, bool]:
    """(public IP, private IP, subnet id, whether EC2 knows the interface) of a task's
    network interface."""
    details = {
        detail["name"]: detail["value"]
        for attachment in task.get("attachments", [])
        if attachment["type"] == "ElasticNetworkInterface"
        for detail in attachment["details"]
    }
    public_ip = None
    if "networkInterfaceId" in details:
        try:
            interfaces = ec2.describe_network_interfaces(
                NetworkInterfaceIds=[details["networkInterfaceId"]]
            )["NetworkInterfaces"]
        except ClientError as error:
            if errors.aws_error_code(error) != "InvalidNetworkInterfaceID.NotFound":
                raise
            interfaces = []
        for interface in interfaces:
            public_ip = interface.get("Association", {}).get("PublicIp")
    else:
        interfaces = []
    return public_ip, details.get("privateIPv4Address"), details.get("subnetId"), bool(interfaces)


def server_port(definition: dict) -> int:
    """The container port the task definition maps: where the API server listens."""
    ports = [
        mapping["containerPort"]
        for container in definition["containerDefinitions"]
        for mapping in container.get("portMappings", [])
    ]
    return ports[0] if ports else SERVER_DEFAULT_PORT


def rest_mode(definition: dict) -> bool:
    """True when the task definition starts the server in REST mode (SD_API_TRANSPORT=4)."""
    return any(
        variable == {"name": "SD_API_TRANSPORT", "value": "4"}
        for container in definition["containerDefinitions"]
        for variable in container.get("environment", [])
    )


def newest_stopped(ecs, cluster: str) -> list[str]:
    """The ARN of our task that stopped last (by its start), with a line saying it is not new."""
    stopped = ecs_tasks.describe_tasks(ecs, ecs_tasks.our_tasks(ecs, "STOPPED"))
    if not stopped:
        raise errors.StepFailed(f"no task of ours in cluster {cluster}: start one with run_task.py")
    epoch = datetime.min.replace(tzinfo=timezone.utc)
    newest = max(stopped, key=lambda task: task.get("createdAt") or epoch)
    created = newest.get("createdAt")
    when = f", started {created:%Y-%m-%d %H:%M} UTC" if isinstance(created, datetime) else ""
    output.say(
        f"no task of ours is running or starting in cluster {cluster}; the newest that "
        f"stopped is {ecs_tasks.short_id(newest['taskArn'])}{when}:"
    )
    return [newest["taskArn"]]


def describe_task(args: argparse.Namespace) -> int:
    cluster = constants.CLUSTER_NAME
    assign_public_ip = constants.ASSIGN_PUBLIC_IP
    grace = constants.ECS_GRACE_SECONDS
    ecs = clients.client("ecs")
    start = time.monotonic()
    arns = list(args.tasks)

    # One loop in sight rather than botocore's `tasks_running` waiter: the waiter fails at the
    # first MISSING answer, which is how ECS answers for a few seconds a task it has just
    # started; and it knows no growing pause, no "nothing listed yet" and no progress line.
    progress, unseen = output.Progress(), 0  # unseen: grace checks used so far
    try:
        while True:
            arns = arns or ecs_tasks.our_tasks(ecs)
            tasks = ecs_tasks.describe_tasks(ecs, arns) if arns else []
            known = {ecs_tasks.short_id(task["taskArn"]) for task in tasks}
            missing = [arn for arn in arns if ecs_tasks.short_id(arn) not in known]
            if arns and not missing:
                status = ", ".join(
                    f"{ecs_tasks.short_id(t['taskArn'])} {t['lastStatus']}" for t in tasks
                )
                if all(t["lastStatus"] == "RUNNING" for t in tasks) or any(
                    t["lastStatus"] == "STOPPED" for t in tasks
                ):
                    break
                pause = args.interval
            elif time.monotonic() - start < grace:  # just started? ECS may not know it yet
                if missing:
                    status = f"{', '.join(map(ecs_tasks.short_id, missing))} not known to ECS yet"
                else:
                    status = f"no task of ours listed in cluster {cluster} yet"
                pause, unseen = ecs_tasks.grace_pause(args.interval, unseen), unseen + 1
            elif missing:
                raise errors.StepFailed(
                    f"ECS does not know task(s) {', '.join(missing)} in cluster {cluster} "
                    f"(for {grace}s, ECS_GRACE_SECONDS; stopped tasks are forgotten after about an "
                    "hour): check the task id, CLUSTER_NAME and the region"
                )
            else:
                arns = newest_stopped(ecs, cluster)
                continue
            ecs_tasks.last_status[:] = [status]  # for the line if --timeout ends the step
            elapsed = time.monotonic() - start
            if elapsed + pause > args.timeout:
                raise errors.StepFailed(f"gave up after {args.timeout:.0f}s: {status}")
            progress.update(f"waiting: {status}", elapsed)
            time.sleep(pause)
    finally:
        progress.close()

    definitions: dict[str, dict] = {}  # tasks of one revision share it: asked for once

    def definition_of(task: dict) -> dict:
        arn = task["taskDefinitionArn"]
        if arn not in definitions:
            definitions[arn] = ecs.describe_task_definition(taskDefinition=arn)["taskDefinition"]
        return definitions[arn]

    stopped = [task for task in tasks if task["lastStatus"] == "STOPPED"]
    for task in stopped:
        limits = lifetime_limits.limits(definition_of(task)) if ended_by_lifetime(task) else ()
        output.say(
            f"task {ecs_tasks.short_id(task['taskArn'])} stopped:\n{explain_stop(task, *limits)}"
        )
        output.say(server_logs.last_lines(lambda task=task: definition_of(task), task))
    if stopped:
        if all(lifetime_limits.how_it_ended(task) == "idle" for task in stopped):
            raise errors.StepFailed("the task has ended, as nobody used it: nothing runs")
        if all(ended_by_lifetime(task) for task in stopped):
            raise errors.StepFailed("the task has ended, as its lifetime ran out: nothing runs")
        raise errors.StepFailed("the task stopped instead of running: see the reasons above")

    ec2 = clients.client("ec2")
    prices = pricing.prices(
        ecs.meta.region_name, constants.AWS_PROFILE_NAME, budget=constants.AWS_CALL_TIMEOUT
    )
    summary = []
    ip_checks = 0  # of PUBLIC_IP_CHECKS, used by the tasks so far
    for task in tasks:
        public_ip, private_ip, subnet, seen = network_addresses(ec2, task)
        # Only an interface that EC2 shows without a public IP may still get one.
        waited = False
        while not public_ip and assign_public_ip == "ENABLED" and seen:
            elapsed, pause = time.monotonic() - start, min(args.interval, 2.0**ip_checks)
            if ip_checks >= PUBLIC_IP_CHECKS or elapsed + pause > args.timeout:
                break  # said below: no public IP (yet)
            if not waited:
                output.say(
                    f"task {ecs_tasks.short_id(task['taskArn'])} is RUNNING; waiting for its "
                    "public IP to show"
                )
            waited = True
            time.sleep(pause)
            ip_checks += 1
            public_ip, private_ip, subnet, seen = network_addresses(ec2, task)
        definition = definition_of(task)
        port = server_port(definition)
        lifetime = ecs_tasks.lifetime_minutes(definition)
        idle = lifetime_limits.limits(definition)[1]
        stop_at, lifetime_line = stops_by_itself(task, lifetime)
        host = public_ip or private_ip
        summary.append(
            {
                "taskArn": task["taskArn"],
                "taskDefinitionArn": task["taskDefinitionArn"],
                "lastStatus": task["lastStatus"],
                "publicIp": public_ip,
                "privateIp": private_ip,
                "endpoint": f"{host}:{port}",
                "lifetimeMinutes": lifetime,
                "idleMinutes": idle,
                "stopsBy": stop_at,
                "stopSooner": STOP_SOONER,
            }
        )
        cost = pricing.running_cost(
            prices, task, public_ip is not None, lifetime, definition=definition
        )
        summary[-1]["cost"] = cost[1] if cost else None
        name = ecs_tasks.short_id(task["taskArn"])
        if public_ip:
            output.say(f"task {name} is RUNNING at {public_ip} (private {private_ip})")
        elif assign_public_ip == "DISABLED":
            output.say(
                f"task {name} is RUNNING with no public IP because ASSIGN_PUBLIC_IP=DISABLED; "
                f"private IP {private_ip}, reachable only from inside the VPC"
            )
        else:
            output.say(
                f"task {name} is RUNNING with no public IP: subnet {subnet} gave it none "
                "(a private subnet? a public IP needs a subnet routed to an internet gateway); "
                f"private IP {private_ip}, reachable only from inside the VPC"
            )
        output.say(f"task {name}: {lifetime_line}")
        if idle:
            output.say(f"task {name}: it also stops after {idle} minutes without a connection")
        if cost:
            output.say(f"task {name}: {cost[0]}")
        if host and (public_ip or args.from_vpc):
            answer = ready.check(
                name,
                host,
                port,
                definition,
                seconds=args.timeout - (time.monotonic() - start) - 1,
                interval=args.interval,
                last_lines=lambda task=task, definition=definition: server_logs.last_lines(
                    lambda: definition, task
                ),
            )
            summary[-1]["server"] = answer.status or {"answers": True}
        else:
            output.say(ready.not_checked(name, private_ip))
        demo = "http_demo.py" if rest_mode(definition) else "get_status.py"
        output.say(f"try the demos: cd demo && python3 {demo} --host {host} --port {port}")
    if len(summary) > 1:
        servers = ",".join(task["endpoint"] for task in summary)
        output.say(f"all {len(summary)} servers for a batch: --host {servers}")
    output.show({"tasks": summary})
    return exit_codes.EXIT_OK


def main(argv: list[str] | None = None) -> int:
    args = arguments.parse_args(__doc__, argv, add_arguments)
    return runner.run(describe_task, args, timeout=args.timeout)


if __name__ == "__main__":
    sys.exit(main())
