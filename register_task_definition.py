"""Step 2: register the task definition that runs the SmartyzeDetect API server on Fargate.

Each run registers a new revision of the TASK_FAMILY_NAME family. The server's own settings
(SD_API_TRANSPORT, SD_API_TCP_PORT, SD_API_TCP_LOCAL, SD_DEBUG_CRASH) go into the container's
environment; /var/data is an EFS volume when EFS_FILE_SYSTEM_ID is set, else task storage.
"""

import sys

import common
import constants


def warn_about_settings() -> None:
    """Say so when the settings give a server the demos cannot reach, or lose what it writes."""
    if constants.SD_API_TRANSPORT != 1:
        common.warn(
            f"SD_API_TRANSPORT={constants.SD_API_TRANSPORT}: the server will not listen on TCP "
            "for Thrift, so the demos cannot reach it from outside the task (use 1)"
        )
    elif constants.SD_API_TCP_LOCAL == 1:
        common.warn(
            "SD_API_TCP_LOCAL=1: the server will only listen on localhost inside the task, "
            "so the demos cannot reach it (use 0)"
        )
    if constants.SD_DEBUG_CRASH == 1 and not constants.EFS_FILE_SYSTEM_ID:
        common.warn(
            "SD_DEBUG_CRASH=1 without EFS_FILE_SYSTEM_ID: crash dumps in /var/data "
            "vanish with the task"
        )
    if constants.TASK_CPU < 2048:
        common.warn(
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


def register_task_definition() -> int:
    constants.check("TASK_FAMILY_NAME", "TASK_EXEC_ROLE", "LOG_GROUP", "EFS_FILE_SYSTEM_ID")
    container = {
        "name": constants.CONTAINER_NAME,
        "image": constants.IMAGE_NAME,
        "essential": True,
        # Fargate only needs task-level cpu/memory; giving the container the same is also
        # what local ECS emulators need to start it.
        "cpu": constants.TASK_CPU,
        "memory": constants.TASK_MEMORY,
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
    ecs = common.client("ecs")
    logging = log_configuration(ecs.meta.region_name)
    if logging:
        container["logConfiguration"] = logging
    warn_about_settings()

    response = ecs.register_task_definition(
        family=constants.TASK_FAMILY_NAME,
        executionRoleArn=constants.TASK_EXEC_ROLE,
        networkMode="awsvpc",
        requiresCompatibilities=["FARGATE"],
        # The server needs an x86-64 CPU with AVX2, F16C and FMA3.
        runtimePlatform={"cpuArchitecture": "X86_64", "operatingSystemFamily": "LINUX"},
        cpu=str(constants.TASK_CPU),
        memory=str(constants.TASK_MEMORY),
        containerDefinitions=[container],
        volumes=[data_volume()],
        tags=[constants.PROJECT_TAG],
    )
    common.show(response)
    definition = response["taskDefinition"]
    common.say(
        f"registered task definition {common.short_id(definition['taskDefinitionArn'])} "
        f"({definition['status']})"
    )
    return common.EXIT_OK


def main(argv: list[str] | None = None) -> int:
    common.parse_args(__doc__, argv)
    return common.run(register_task_definition)


if __name__ == "__main__":
    sys.exit(main())
