"""Step 4: wait until our tasks are RUNNING, then print each one's IP and the address for the demos.

Without task ids it waits for every task that run_task.py started in CLUSTER_NAME. A task
that stops instead ends the wait with its stop code and reasons (exit 1).
"""

import argparse
import sys

import common
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
    "EssentialContainerExited": "the server exited: check its logs (set LOG_GROUP) and that the "
    "CPU has AVX2, F16C and FMA3 (Fargate x86-64 does)",
}


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("tasks", nargs="*", help="task ids or ARNs (default: every task of ours)")
    parser.add_argument(
        "--timeout",
        type=common.seconds(0, 86400, zero=False),
        default=600,
        help="seconds to wait in all, AWS calls included (default: 600)",
    )
    parser.add_argument(
        "--interval",
        type=common.seconds(0, 3600),
        default=5,
        help="seconds between checks (default: 5)",
    )


def explain_stop(task: dict) -> str:
    """Why a task stopped: its stop code and reason, each container's reason and exit code."""
    lines = [
        f"  stopCode: {common.aws_text(task.get('stopCode', '-'))}",
        f"  stoppedReason: {common.aws_text(task.get('stoppedReason', '-'))}",
    ]
    for container in task.get("containers", []):
        lines.append(
            f"  container {common.aws_text(container['name'])}: exit code "
            f"{container.get('exitCode', '-')}, reason: {common.aws_text(container.get('reason', '-'))}"
        )
    text = "\n".join(lines)
    hints = [hint for key, hint in STOP_HINTS.items() if key in text]
    return "\n".join([text, *(f"  hint: {hint}" for hint in hints)])


def network_addresses(ec2, task: dict) -> tuple[str | None, str | None, str | None]:
    """(public IP, private IP, subnet id) of a task's network interface."""
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
        except common.ClientError as error:
            if common.aws_error_code(error) != "InvalidNetworkInterfaceID.NotFound":
                raise
            interfaces = []
        for interface in interfaces:
            public_ip = interface.get("Association", {}).get("PublicIp")
    return public_ip, details.get("privateIPv4Address"), details.get("subnetId")


def server_port(ecs, task_definition_arn: str) -> int:
    """The container port the task definition maps: where the API server listens."""
    definition = ecs.describe_task_definition(taskDefinition=task_definition_arn)["taskDefinition"]
    ports = [
        mapping["containerPort"]
        for container in definition["containerDefinitions"]
        for mapping in container.get("portMappings", [])
    ]
    return ports[0] if ports else SERVER_DEFAULT_PORT


def describe_task(args: argparse.Namespace) -> int:
    cluster = constants.CLUSTER_NAME
    assign_public_ip = constants.ASSIGN_PUBLIC_IP
    ecs = common.client("ecs")
    arns = args.tasks or common.our_tasks(ecs)
    if not arns:
        stopped = common.our_tasks(ecs, "STOPPED")
        if not stopped:
            raise common.StepFailed(
                f"no task of ours in cluster {cluster}: start one with run_task.py"
            )
        arns = stopped[:1]

    tasks = common.wait_for_tasks(
        ecs,
        arns,
        settled=lambda tasks: (
            all(t["lastStatus"] == "RUNNING" for t in tasks)
            or any(t["lastStatus"] == "STOPPED" for t in tasks)
        ),
        timeout=args.timeout,
        interval=args.interval,
    )
    for task in tasks:
        if task["lastStatus"] == "STOPPED":
            common.say(f"task {common.short_id(task['taskArn'])} stopped:\n{explain_stop(task)}")
    if any(task["lastStatus"] == "STOPPED" for task in tasks):
        raise common.StepFailed("the task stopped instead of running: see the reasons above")

    ec2 = common.client("ec2")
    summary = []
    for task in tasks:
        public_ip, private_ip, subnet = network_addresses(ec2, task)
        port = server_port(ecs, task["taskDefinitionArn"])
        host = public_ip or private_ip
        summary.append(
            {
                "taskArn": task["taskArn"],
                "taskDefinitionArn": task["taskDefinitionArn"],
                "lastStatus": task["lastStatus"],
                "publicIp": public_ip,
                "privateIp": private_ip,
                "endpoint": f"{host}:{port}",
            }
        )
        name = common.short_id(task["taskArn"])
        if public_ip:
            common.say(f"task {name} is RUNNING at {public_ip} (private {private_ip})")
        elif assign_public_ip == "DISABLED":
            common.say(
                f"task {name} is RUNNING with no public IP because ASSIGN_PUBLIC_IP=DISABLED; "
                f"private IP {private_ip}, reachable only from inside the VPC"
            )
        else:
            common.say(
                f"task {name} is RUNNING with no public IP: subnet {subnet} gave it none "
                "(a private subnet? a public IP needs a subnet routed to an internet gateway); "
                f"private IP {private_ip}, reachable only from inside the VPC"
            )
        common.say(f"try the demos: cd demo && python3 get_status.py --host {host} --port {port}")
    if len(summary) > 1:
        servers = ",".join(task["endpoint"] for task in summary)
        common.say(f"all {len(summary)} servers for a batch: --host {servers}")
    common.show({"tasks": summary})
    return common.EXIT_OK


def main(argv: list[str] | None = None) -> int:
    args = common.parse_args(__doc__, argv, add_arguments)
    return common.run(describe_task, args, timeout=args.timeout)


if __name__ == "__main__":
    sys.exit(main())
