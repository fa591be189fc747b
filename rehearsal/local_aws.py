"""A local stand-in for AWS: moto_server on loopback, plus what the tutorial's prerequisites ask.

Used by the rehearsal and the tests. Nothing here ever talks to real AWS: every client is
pointed at the local endpoint with fake credentials.
"""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
import time
import urllib.request
from dataclasses import dataclass
from typing import Any

import boto3

FAKE_CREDENTIALS = {
    "AWS_ACCESS_KEY_ID": "local-rehearsal",
    "AWS_SECRET_ACCESS_KEY": "local-rehearsal",
    "AWS_DEFAULT_REGION": "us-east-1",
    "AWS_EC2_METADATA_DISABLED": "true",
}


def free_port(host: str = "127.0.0.1") -> int:
    with socket.socket() as sock:
        sock.bind((host, 0))
        return sock.getsockname()[1]


def aws_environment(endpoint: str) -> dict[str, str]:
    """Variables that point boto3 at `endpoint` with fake credentials and no user config."""
    return {
        **FAKE_CREDENTIALS,
        "AWS_ENDPOINT_URL": endpoint,
        "AWS_CONFIG_FILE": os.devnull,
        "AWS_SHARED_CREDENTIALS_FILE": os.devnull,
    }


def stop_process(process: subprocess.Popen | None, grace: float = 10) -> None:
    """Terminate a child process, killing it if it has not ended after `grace` seconds."""
    if process is None or process.poll() is not None:
        return
    process.terminate()
    try:
        process.wait(timeout=grace)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait()


class MotoServer:
    """moto_server in a child process on a free loopback port."""

    def __init__(self) -> None:
        self.port = free_port()
        self.endpoint = f"http://127.0.0.1:{self.port}"
        self.process: subprocess.Popen[bytes] | None = None

    def start(self, timeout: float = 30) -> MotoServer:
        self.process = subprocess.Popen(
            [sys.executable, "-m", "moto.server", "-H", "127.0.0.1", "-p", str(self.port)],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
            env={
                **os.environ,
                **FAKE_CREDENTIALS,
                # AWS's managed policies, as create_prerequisites.py attaches one; no AMIs,
                # which nothing here uses and which slow every fresh EC2 backend.
                "MOTO_IAM_LOAD_MANAGED_POLICIES": "true",
                "MOTO_EC2_LOAD_DEFAULT_AMIS": "false",
            },
            start_new_session=True,  # Ctrl-C goes to whoever started it, who stops it in order
        )
        deadline = time.monotonic() + timeout
        while True:
            try:
                with socket.create_connection(("127.0.0.1", self.port), timeout=1):
                    break
            except OSError:
                if self.process.poll() is not None or time.monotonic() > deadline:
                    self.stop()
                    raise RuntimeError(f"moto_server did not start on port {self.port}") from None
                time.sleep(0.1)
        # Keep tasks RUNNING until they are stopped, as real ECS does.
        self._post(
            "/moto-api/state-manager/set-transition",
            {
                "model_name": "ecs::task",
                "transition": {"progression": "manual", "times": 1_000_000_000},
            },
        )
        return self

    def _post(self, path: str, body: dict[str, Any]) -> None:
        request = urllib.request.Request(
            self.endpoint + path, data=json.dumps(body).encode(), method="POST"
        )
        with urllib.request.urlopen(request, timeout=10):
            pass

    def stop(self) -> None:
        stop_process(self.process)

    def client(self, service: str) -> Any:
        return boto3.client(
            service,
            endpoint_url=self.endpoint,
            region_name=FAKE_CREDENTIALS["AWS_DEFAULT_REGION"],
            aws_access_key_id=FAKE_CREDENTIALS["AWS_ACCESS_KEY_ID"],
            aws_secret_access_key=FAKE_CREDENTIALS["AWS_SECRET_ACCESS_KEY"],
        )


@dataclass
class Prerequisites:
    vpc_id: str
    subnet_id: str
    group_id: str
    role_arn: str


def create_network(ec2: Any) -> tuple[str, str]:
    """A VPC with a public subnet (routed to an internet gateway): (VPC id, subnet id)."""
    vpc_id = ec2.create_vpc(CidrBlock="10.0.0.0/16")["Vpc"]["VpcId"]
    # moto needs DNS hostnames on the VPC to give an awsvpc task its interface.
    ec2.modify_vpc_attribute(VpcId=vpc_id, EnableDnsHostnames={"Value": True})
    gateway = ec2.create_internet_gateway()["InternetGateway"]["InternetGatewayId"]
    ec2.attach_internet_gateway(InternetGatewayId=gateway, VpcId=vpc_id)
    subnet_id = ec2.create_subnet(VpcId=vpc_id, CidrBlock="10.0.1.0/24")["Subnet"]["SubnetId"]
    routes = ec2.create_route_table(VpcId=vpc_id)["RouteTable"]["RouteTableId"]
    ec2.create_route(RouteTableId=routes, DestinationCidrBlock="0.0.0.0/0", GatewayId=gateway)
    ec2.associate_route_table(RouteTableId=routes, SubnetId=subnet_id)
    return vpc_id, subnet_id


def create_service_linked_role(iam: Any) -> None:
    """ECS's service-linked role, as an account that has used ECS has it (RunTask needs it)."""
    try:
        iam.create_service_linked_role(AWSServiceName="ecs.amazonaws.com")
    except iam.exceptions.InvalidInputException:
        pass  # already made, as AWS answers
    except iam.exceptions.ClientError as error:
        if error.response["Error"]["Code"] != "EntityAlreadyExists":  # as moto answers
            raise


def create_prerequisites(ec2: Any, iam: Any, port: int, allowed_cidr: str) -> Prerequisites:
    """A VPC with a public subnet, a security group open on `port` to one address, a role, and
    ECS's service-linked role."""
    create_service_linked_role(iam)
    vpc_id, subnet_id = create_network(ec2)
    group_id = ec2.create_security_group(
        GroupName="sd-apiserver", Description="SmartyzeDetect API server", VpcId=vpc_id
    )["GroupId"]
    ec2.authorize_security_group_ingress(
        GroupId=group_id,
        IpPermissions=[
            {
                "IpProtocol": "tcp",
                "FromPort": port,
                "ToPort": port,
                "IpRanges": [{"CidrIp": allowed_cidr, "Description": "demo client"}],
            }
        ],
    )
    trust = {
        "Version": "2012-10-17",
        "Statement": [
            {
                "Effect": "Allow",
                "Principal": {"Service": "ecs-tasks.amazonaws.com"},
                "Action": "sts:AssumeRole",
            }
        ],
    }
    role = iam.create_role(
        RoleName="ecsTaskExecutionRole", AssumeRolePolicyDocument=json.dumps(trust)
    )["Role"]
    # The actions of AWS's AmazonECSTaskExecutionRolePolicy (moto does not ship managed policies).
    permissions = {
        "Version": "2012-10-17",
        "Statement": [
            {
                "Effect": "Allow",
                "Action": [
                    "ecr:GetAuthorizationToken",
                    "ecr:BatchCheckLayerAvailability",
                    "ecr:GetDownloadUrlForLayer",
                    "ecr:BatchGetImage",
                    "logs:CreateLogStream",
                    "logs:PutLogEvents",
                ],
                "Resource": "*",
            }
        ],
    }
    iam.put_role_policy(
        RoleName="ecsTaskExecutionRole",
        PolicyName="task-execution",
        PolicyDocument=json.dumps(permissions),
    )
    return Prerequisites(vpc_id, subnet_id, group_id, role["Arn"])


def give_public_ip(ecs: Any, ec2: Any, cluster: str, task_arn: str) -> str:
    """Do what Fargate does and moto does not: put a public IP on the task's network interface.

    moto hands out addresses in 127.0.0.0/8, so a server listening there is reachable.
    """
    task = ecs.describe_tasks(cluster=cluster, tasks=[task_arn])["tasks"][0]
    details = {
        detail["name"]: detail["value"]
        for attachment in task["attachments"]
        for detail in attachment["details"]
    }
    allocation = ec2.allocate_address(Domain="vpc")
    ec2.associate_address(
        AllocationId=allocation["AllocationId"],
        NetworkInterfaceId=details["networkInterfaceId"],
    )
    return allocation["PublicIp"]


def release_task_network(ec2: Any, public_ip: str) -> None:
    """Do what Fargate does once a task has stopped, and moto does not: free its interface.

    Without it the stopped task's interface would keep its security group in use.
    """
    [address] = ec2.describe_addresses(PublicIps=[public_ip])["Addresses"]
    ec2.disassociate_address(AssociationId=address["AssociationId"])
    ec2.release_address(AllocationId=address["AllocationId"])
    ec2.delete_network_interface(NetworkInterfaceId=address["NetworkInterfaceId"])
