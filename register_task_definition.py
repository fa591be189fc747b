"""Step 2: register the task definition that runs the SmartyzeDetect API server on Fargate.

Each run registers a new revision of the TASK_FAMILY_NAME family. The server's own settings
(SD_API_TRANSPORT, SD_API_TCP_PORT, SD_API_TCP_LOCAL, SD_DEBUG_CRASH) go into the container's
environment; /var/data is an EFS volume when EFS_FILE_SYSTEM_ID is set, else task storage.
The licence key reaches the server from LICENSE_SECRET (ECS reads it when the task starts),
never from the task definition. A second essential container sleeps TASK_LIFETIME_MINUTES,
then exits, which stops the task (0: no such container, the task runs until stopped).
Both containers' output goes to CloudWatch Logs, to LOG_GROUP (by default /ecs/ + the family,
made here when missing, kept LOG_RETENTION_DAYS; LOG_GROUP=off for none).
"""

import os
import sys

from plumbing import arguments, clients, ecs_tasks, exit_codes, licence_secret, output, redaction, runner
import constants
from plumbing import log_group


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


def data_volume() -> dict:
    """The /var/data volume: EFS when configured, so crash dumps outlive the task."""
    if constants.EFS_FILE_SYSTEM_ID:
        return {
            "name": constants.DATA_VOLUME,
            "efsVolumeConfiguration": {
                "fileSystemId": constants.EFS_FILE_SYSTEM_ID,
                "transitEncryption": "ENABLED",
            },
        }
    return {"name": constants.DATA_VOLUME}


def log_configuration(region: str) -> dict | None:
    if not constants.LOG_GROUP:
        return None
    return {
        "logDriver": "awslogs",
        "options": {
            "awslogs-group": constants.LOG_GROUP,
            "awslogs-region": region,
            "awslogs-stream-prefix": constants.CONTAINER_NAME,
        },
    }


def secret_arn(name_or_arn: str, sts, region: str) -> str:
    """The full ARN ECS needs: an ARN as given, an SSM parameter name in the caller's account."""
    if name_or_arn.startswith("arn:"):
        return name_or_arn
    caller = sts.get_caller_identity()
    partition = caller["Arn"].split(":")[1]
    return licence_secret.secret_arn(name_or_arn, region, caller["Account"], partition)


def lifetime_container(minutes: int) -> dict:
    """An essential container that sleeps `minutes`, then exits 0: ECS then stops the task."""
    return {
        "name": constants.LIFETIME_CONTAINER_NAME,
        "image": constants.LIFETIME_IMAGE,
        "essential": True,
        "command": ["sleep", str(minutes * 60)],
        # sleep runs as PID 1, which ignores SIGTERM: when the task is stopped by hand, kill it
        # after 2 s rather than ECS's default 30 s (its exit code is then 137, never 0).
        "stopTimeout": 2,
        "cpu": constants.LIFETIME_CPU,
        "memory": constants.LIFETIME_MEMORY,
    }


def register_task_definition() -> int:
    constants.check(
        "TASK_FAMILY_NAME", "TASK_EXEC_ROLE", "LOG_GROUP", "LOG_RETENTION_DAYS", "EFS_FILE_SYSTEM_ID"
    )
    require_secret_for_rest()
    lifetime = constants.TASK_LIFETIME_MINUTES
    # Fargate only needs task-level cpu/memory, but local ECS emulators need them on every
    # container; the containers' hard limits add up to the task's.
    cpu, memory = constants.TASK_CPU, constants.TASK_MEMORY
    if lifetime:
        cpu, memory = cpu - constants.LIFETIME_CPU, memory - constants.LIFETIME_MEMORY
    container = {
        "name": constants.CONTAINER_NAME,
        "image": constants.IMAGE_NAME,
        "essential": True,
        "cpu": cpu,
        "memory": memory,
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
    # Every setting is checked before the first AWS call.
    family, execution_role = constants.TASK_FAMILY_NAME, constants.TASK_EXEC_ROLE
    volumes = [data_volume()]
    license_secret = constants.LICENSE_SECRET
    warn_about_settings()
    ecs = clients.client("ecs")
    logging = log_configuration(ecs.meta.region_name)
    if logging:
        container["logConfiguration"] = logging
    if license_secret:
        arn = secret_arn(license_secret, clients.client("sts"), ecs.meta.region_name)
        container["secrets"] = [{"name": constants.LICENSE_KEY_VARIABLE, "valueFrom": arn}]
    # Order means nothing to ECS; moto reports only the first container of a task, so the
    # lifetime container goes first for the rehearsal to show its exit.
    containers = [container]
    if lifetime:
        containers.insert(0, lifetime_container(lifetime))
        if logging:
            containers[0]["logConfiguration"] = logging

    if logging:
        logs = clients.client("logs")
        made = log_group.ensure(logs, constants.LOG_GROUP, constants.LOG_RETENTION_DAYS)
        output.say(made)
    else:
        logs, made = None, ""
        output.say("LOG_GROUP=off: the servers' output will not be kept anywhere")

    with log_group.removed_if_failed(logs, constants.LOG_GROUP, made):
        response = ecs.register_task_definition(
            family=family,
            executionRoleArn=execution_role,
            networkMode="awsvpc",
            requiresCompatibilities=["FARGATE"],
            # The server needs an x86-64 CPU with AVX2, F16C and FMA3.
            runtimePlatform={"cpuArchitecture": "X86_64", "operatingSystemFamily": "LINUX"},
            cpu=str(constants.TASK_CPU),
            memory=str(constants.TASK_MEMORY),
            containerDefinitions=containers,
            volumes=volumes,
            tags=[constants.PROJECT_TAG],
        )
    output.show(response)
    definition = response["taskDefinition"]
    output.say(
        f"registered task definition {ecs_tasks.short_id(definition['taskDefinitionArn'])} "
        f"({definition['status']})"
    )
    if license_secret:
        output.say(
            f"the server reads its licence key from {arn} when the task starts: the execution "
            f"role needs {' and '.join(licence_secret.secret_read_actions(arn))} on it (and kms:Decrypt "
            "for a customer-managed key)"
        )
    output.say(
        f"a task of this revision stops by itself after {lifetime} minutes (TASK_LIFETIME_MINUTES)"
        if lifetime
        else "TASK_LIFETIME_MINUTES=0: a task of this revision runs, and bills, until stopped"
    )
    return exit_codes.EXIT_OK


def main(argv: list[str] | None = None) -> int:
    arguments.parse_args(__doc__, argv)
    return runner.run(register_task_definition)


if __name__ == "__main__":
    sys.exit(main())
