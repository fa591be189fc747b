"""Step 2: register the task definition that runs the SmartyzeDetect API server on Fargate.

Each run registers a new revision of the TASK_FAMILY_NAME family. The server's own settings
(SD_API_TRANSPORT, SD_API_TCP_PORT, SD_API_TCP_LOCAL, SD_DEBUG_CRASH) go into the container's
environment; /var/data is an EFS volume when EFS_FILE_SYSTEM_ID is set, else task storage.
The licence key reaches the server from LICENSE_SECRET (ECS reads it when the task starts),
never from the task definition. A second essential container exits after
TASK_LIFETIME_MINUTES, or after TASK_IDLE_MINUTES without a connection to the server, which
stops the task (both 0: no such container, the task runs until stopped).
Both containers' output goes to CloudWatch Logs, to LOG_GROUP (by default /ecs/ + the family,
made here when missing, kept LOG_RETENTION_DAYS; LOG_GROUP=off for none).
"""

from plumbing import (
    arguments,
    clients,
    ecs_tasks,
    exit_codes,
    iam_propagation,
    licence_secret,
    log_group,
    output,
    redaction,
    runner,
)
from plumbing import lifetime as lifetime_limits

import os
import sys

import constants


def require_secret_for_rest() -> None:
    """REST mode has no activation call: the server must get its key at start."""
    if constants.SD_API_TRANSPORT == 4 and not constants.LICENSE_SECRET:
        raise constants.SettingError(
            "SD_API_TRANSPORT=4 (REST) needs LICENSE_SECRET: the server takes its licence only "
            "at start in REST mode; store the key with store_license.py and set LICENSE_SECRET "
            "to the line it prints"
        )


def warn_about_settings() -> None:
    """Say so when the settings give a server the demos cannot reach, or lose what it writes."""
    key = os.environ.get(constants.LICENSE_KEY_VARIABLE, "").strip()
    if key:
        redaction.never_print(key)
        output.warn(
            f"{constants.LICENSE_KEY_VARIABLE} is set here but was not used: a key in the task "
            "definition is readable by anyone allowed ecs:DescribeTaskDefinition; "
            + (
                "the server reads it from LICENSE_SECRET"
                if constants.LICENSE_SECRET
                else "store it with store_license.py and set LICENSE_SECRET"
            )
        )
    if constants.SD_API_TRANSPORT == 4:
        output.say(
            "note: SD_API_TRANSPORT=4: the server answers REST on all interfaces on "
            f"port {constants.SD_API_TCP_PORT}; SD_API_TCP_LOCAL does not apply to REST"
        )
    elif constants.SD_API_TRANSPORT != 1:
        output.warn(
            f"SD_API_TRANSPORT={constants.SD_API_TRANSPORT}: the server will not listen on TCP "
            "for Thrift, so the demos cannot reach it from outside the task (use 1)"
        )
    elif constants.SD_API_TCP_LOCAL == 1:
        output.warn(
            "SD_API_TCP_LOCAL=1: the server will only listen on localhost inside the task, "
            "so the demos cannot reach it (use 0)"
        )
    if constants.TASK_IDLE_MINUTES and constants.SD_API_TRANSPORT == 2:
        output.warn(
            "SD_API_TRANSPORT=2 with TASK_IDLE_MINUTES: no TCP connection is ever seen, so the "
            f"task ends after {constants.TASK_IDLE_MINUTES} minutes however it is used "
            "(set TASK_IDLE_MINUTES=0)"
        )
    if constants.SD_DEBUG_CRASH == 1 and not constants.EFS_FILE_SYSTEM_ID:
        output.warn(
            "SD_DEBUG_CRASH=1 without EFS_FILE_SYSTEM_ID: crash dumps in /var/data "
            "vanish with the task"
        )
    if constants.TASK_CPU < 2048:
        output.warn(
            f"TASK_CPU={constants.TASK_CPU}: the server runs about (threads - 1) sessions at once, "
            "so a task under 2 vCPU has no room for a detection session"
        )


def secret_arn(name_or_arn: str, sts, region: str) -> str:
    """The full ARN ECS needs: an ARN as given, an SSM parameter name in the caller's account."""
    if name_or_arn.startswith("arn:"):
        return name_or_arn
    caller = sts.get_caller_identity()
    partition = caller["Arn"].split(":")[1]
    return licence_secret.secret_arn(name_or_arn, region, caller["Account"], partition)


def register_task_definition() -> int:
    # Every setting is checked before the first AWS call.
    constants.check(
        "TASK_FAMILY_NAME", "TASK_EXEC_ROLE", "IMAGE_NAME", "TASK_CPU", "TASK_MEMORY",
        "TASK_LIFETIME_MINUTES", "TASK_IDLE_MINUTES", "SD_API_TRANSPORT", "SD_API_TCP_PORT",
        "SD_API_TCP_LOCAL", "SD_DEBUG_CRASH", "LOG_GROUP", "LOG_RETENTION_DAYS",
        "EFS_FILE_SYSTEM_ID", "LICENSE_SECRET",
    )
    require_secret_for_rest()
    warn_about_settings()
    lifetime, idle = constants.TASK_LIFETIME_MINUTES, constants.TASK_IDLE_MINUTES
    ecs = clients.client("ecs")
    region = ecs.meta.region_name
    arn = constants.LICENSE_SECRET and secret_arn(
        constants.LICENSE_SECRET, clients.client("sts"), region
    )

    server = {
        "name": constants.CONTAINER_NAME,
        "image": constants.IMAGE_NAME,
        "essential": True,
        # Fargate only needs the task's cpu and memory, but local ECS emulators need them on
        # every container: the containers' hard limits add up to the task's.
        "cpu": constants.TASK_CPU - (constants.LIFETIME_CPU if lifetime or idle else 0),
        "memory": constants.TASK_MEMORY - (constants.LIFETIME_MEMORY if lifetime or idle else 0),
        "portMappings": [{"containerPort": constants.SD_API_TCP_PORT, "protocol": "tcp"}],
        "environment": [
            {"name": "SD_API_TRANSPORT", "value": str(constants.SD_API_TRANSPORT)},
            {"name": "SD_API_TCP_PORT", "value": str(constants.SD_API_TCP_PORT)},
            {"name": "SD_API_TCP_LOCAL", "value": str(constants.SD_API_TCP_LOCAL)},
            {"name": "SD_DEBUG_CRASH", "value": str(constants.SD_DEBUG_CRASH)},
        ],
        "mountPoints": [
            {"sourceVolume": constants.DATA_VOLUME, "containerPath": constants.DATA_PATH}
        ],
    }
    if arn:  # the licence key: ECS reads it from the secret when the task starts
        server["secrets"] = [{"name": constants.LICENSE_KEY_VARIABLE, "valueFrom": arn}]
    # Each container's output to CloudWatch Logs, stream sd-apiserver/CONTAINER/TASK_ID.
    logging = constants.LOG_GROUP and {
        "logDriver": "awslogs",
        "options": {
            "awslogs-group": constants.LOG_GROUP,
            "awslogs-region": region,
            "awslogs-stream-prefix": constants.CONTAINER_NAME,
        },
    }
    if logging:
        server["logConfiguration"] = logging
    # An essential container that exits after TASK_LIFETIME_MINUTES (0), or after
    # TASK_IDLE_MINUTES without a connection to the server's port (3): ECS then stops the task
    # (plumbing/lifetime.py: busybox sh reading /proc/net/tcp; without an idle stop, a sleep).
    # Its process runs as PID 1, which ignores SIGTERM: when the task is stopped by hand, it is
    # killed after 2 s rather than ECS's default 30 s (its exit code is then 137).
    lifetime_container = {
        "name": constants.LIFETIME_CONTAINER_NAME,
        "image": constants.LIFETIME_IMAGE,
        "essential": True,
        "command": lifetime_limits.command(lifetime, idle, constants.SD_API_TCP_PORT),
        "stopTimeout": 2,
        "cpu": constants.LIFETIME_CPU,
        "memory": constants.LIFETIME_MEMORY,
        **({"logConfiguration": logging} if logging else {}),
    }
    # /var/data: EFS when configured, so crash dumps outlive the task; else task storage.
    data_volume = {"name": constants.DATA_VOLUME}
    if constants.EFS_FILE_SYSTEM_ID:
        data_volume["efsVolumeConfiguration"] = {
            "fileSystemId": constants.EFS_FILE_SYSTEM_ID,
            "transitEncryption": "ENABLED",
        }

    if logging:
        logs = clients.client("logs")
        made = log_group.ensure(logs, constants.LOG_GROUP, constants.LOG_RETENTION_DAYS)
        output.say(made)
    else:
        logs, made = None, ""
        output.say("LOG_GROUP=off: the servers' output will not be kept anywhere")

    # A role made a moment ago may not be known to ECS yet: tried again for a while.
    with log_group.removed_if_failed(logs, constants.LOG_GROUP, made):
        for attempt in iam_propagation.attempts():
            with attempt:
                response = ecs.register_task_definition(
                    family=constants.TASK_FAMILY_NAME,
                    executionRoleArn=constants.TASK_EXEC_ROLE,
                    networkMode="awsvpc",
                    requiresCompatibilities=["FARGATE"],
                    # The server needs an x86-64 CPU with AVX2, F16C and FMA3.
                    runtimePlatform={"cpuArchitecture": "X86_64", "operatingSystemFamily": "LINUX"},
                    cpu=str(constants.TASK_CPU),
                    memory=str(constants.TASK_MEMORY),
                    # Order means nothing to ECS; moto reports only the first container of a
                    # task, so the lifetime container goes first for the rehearsal to show its exit.
                    containerDefinitions=[lifetime_container, server] if lifetime or idle else [server],
                    volumes=[data_volume],
                    tags=[constants.PROJECT_TAG],
                )
    output.show(response)
    definition = response["taskDefinition"]
    output.say(
        f"registered task definition {ecs_tasks.short_id(definition['taskDefinitionArn'])} "
        f"({definition['status']})"
    )
    if arn:
        output.say(
            f"the server reads its licence key from {arn} when the task starts: the execution "
            f"role needs {' and '.join(licence_secret.secret_read_actions(arn))} on it (and kms:Decrypt "
            "for a customer-managed key)"
        )
    output.say(
        f"a task of this revision stops by itself after {lifetime} minutes (TASK_LIFETIME_MINUTES)"
        if lifetime
        else "TASK_LIFETIME_MINUTES=0: a task of this revision runs, and bills, until stopped"
        + (" or unused" if idle else "")
    )
    if idle:
        output.say(
            f"and after {idle} minutes without a connection to port {constants.SD_API_TCP_PORT} "
            "(TASK_IDLE_MINUTES)"
        )
    return exit_codes.EXIT_OK


def main(argv: list[str] | None = None) -> int:
    arguments.parse_args(__doc__, argv)
    return runner.run(register_task_definition)


if __name__ == "__main__":
    sys.exit(main())
