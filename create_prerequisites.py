"""Optional: create the security group and execution role the tutorial needs, and print the .env lines.

In the VPC of SUBNET_NAME (or the default VPC): a security group that lets only --cidr in on
SD_API_TCP_PORT, and an ECS task execution role with AmazonECSTaskExecutionRolePolicy plus
read access to LICENSE_SECRET when it is set. Both are tagged as this project's, so that
delete_prerequisites.py removes exactly them. It also makes ECS's service-linked role when the
account has none (RunTask needs it); that one is the account's and stays. It also makes the log
group LOG_GROUP (by default /ecs/ + TASK_FAMILY_NAME), tagged, kept LOG_RETENTION_DAYS. Running
it again is harmless: it brings all in line with the settings and --cidr (your address changed?
run it again).
"""

from __future__ import annotations

from plumbing import (
    arguments,
    arns,
    clients,
    errors,
    exit_codes,
    ingress,
    licence_secret,
    log_group,
    output,
    runner,
    service_linked_role,
    tags,
)

import argparse
import ipaddress
import json
import sys
from typing import Any

from botocore.exceptions import ClientError

import constants

TRUST_ECS_TASKS = {
    "Version": "2012-10-17",
    "Statement": [
        {
            "Effect": "Allow",
            "Principal": {"Service": "ecs-tasks.amazonaws.com"},
            "Action": "sts:AssumeRole",
        }
    ],
}
SECRET_POLICY_NAME = "read-licence-secret"


def address_range(text: str) -> str:
    """--cidr: an IPv4 range such as 203.0.113.7/32 (a bare address means just it).

    Not IPv6: a Fargate task here gets a public IPv4 address only (assignPublicIp), so a rule
    for an IPv6 range would let nobody reach it.
    """
    try:
        network = ipaddress.ip_network(text.strip(), strict=True)
    except ValueError as error:
        raise argparse.ArgumentTypeError(
            f"{text!r} is not an address range ({error}); give your own address, "
            "such as 203.0.113.7/32"
        ) from None
    if network.version == 6:
        raise argparse.ArgumentTypeError(
            f"{text!r} is an IPv6 range, but the task gets only a public IPv4 address: give "
            "your public IPv4 address, such as 203.0.113.7/32 (see the README)"
        )
    return str(network)


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--cidr",
        required=True,
        type=address_range,
        help="who may reach the server: your own public address, such as 203.0.113.7/32 "
        "(see the README for how to find it)",
    )


def find_vpc(ec2: Any, subnets: list[str] | None) -> tuple[str, list[str]]:
    """The VPC to use and the subnets to suggest: SUBNET_NAME's, else the default VPC's."""
    if subnets:
        found = ec2.describe_subnets(SubnetIds=subnets)["Subnets"]
        return found[0]["VpcId"], subnets
    vpcs = ec2.describe_vpcs(Filters=[{"Name": "is-default", "Values": ["true"]}])["Vpcs"]
    if not vpcs:
        raise errors.StepFailed(
            f"no default VPC in {ec2.meta.region_name}: set SUBNET_NAME to a subnet of the VPC "
            "to use, and run this again"
        )
    vpc_id = vpcs[0]["VpcId"]
    defaults = ec2.describe_subnets(
        Filters=[
            {"Name": "vpc-id", "Values": [vpc_id]},
            {"Name": "default-for-az", "Values": ["true"]},
        ]
    )["Subnets"]
    return vpc_id, sorted(subnet["SubnetId"] for subnet in defaults)


def is_only(rule: dict, port: int, cidr: str) -> bool:
    """Whether an inbound rule is exactly the one wanted: TCP `port` from `cidr` alone."""
    sources = {r["CidrIp"] for r in rule.get("IpRanges", [])} | {
        r["CidrIpv6"] for r in rule.get("Ipv6Ranges", [])
    }
    return (
        (rule["IpProtocol"], rule.get("FromPort"), rule.get("ToPort")) == ("tcp", port, port)
        and sources == {cidr}
        and not rule.get("UserIdGroupPairs")
        and not rule.get("PrefixListIds")
    )


def security_group(ec2: Any, vpc_id: str, port: int, cidr: str, created: list) -> str:
    """Our group in `vpc_id`, letting only `cidr` in on TCP `port`."""
    found = ec2.describe_security_groups(
        Filters=[
            {"Name": "vpc-id", "Values": [vpc_id]},
            {"Name": "group-name", "Values": [constants.SECURITY_GROUP_NAME]},
        ]
    )["SecurityGroups"]
    if found and not tags.is_ours(found[0].get("Tags")):
        raise errors.StepFailed(
            f"security group {found[0]['GroupId']} named {constants.SECURITY_GROUP_NAME} in "
            f"{vpc_id} is not this project's (no tag {constants.PROJECT_TAG['key']}="
            f"{constants.PROJECT_TAG['value']}): left alone; use it in SEC_GROUP_NAME yourself, "
            "or rename it"
        )
    if found:
        group = found[0]
        output.say(f"security group {group['GroupId']} exists, kept")
    else:
        group_id = ec2.create_security_group(
            GroupName=constants.SECURITY_GROUP_NAME,
            Description="SmartyzeDetect API server: one address on the API port",
            VpcId=vpc_id,
            TagSpecifications=[{"ResourceType": "security-group", "Tags": tags.aws_tags()}],
        )["GroupId"]
        created.append(("security group", group_id))
        output.say(f"created security group {group_id} in {vpc_id}")
        group = ec2.describe_security_groups(GroupIds=[group_id])["SecurityGroups"][0]

    stale = [rule for rule in group["IpPermissions"] if not is_only(rule, port, cidr)]
    if stale:
        ec2.revoke_security_group_ingress(GroupId=group["GroupId"], IpPermissions=stale)
        output.say(f"removed {len(stale)} other inbound rule(s) from {group['GroupId']}")
    if len(stale) == len(group["IpPermissions"]):
        ec2.authorize_security_group_ingress(
            GroupId=group["GroupId"],
            IpPermissions=[
                {
                    "IpProtocol": "tcp",
                    "FromPort": port,
                    "ToPort": port,
                    "IpRanges": [{"CidrIp": cidr, "Description": "demo client"}],
                }
            ],
        )
    output.say(f"security group {group['GroupId']} lets {cidr} in on TCP {port}, nobody else")
    return group["GroupId"]


def ecs_service_linked_role(iam: Any) -> None:
    """ECS's service-linked role, which RunTask needs: made if the account has none yet.

    It is the account's, used by every ECS cluster: delete_prerequisites.py leaves it.
    """
    try:
        found = service_linked_role.find(iam)
        made = None if found else service_linked_role.create(iam)
    except ClientError as error:
        if errors.aws_error_code(error) not in errors.DENIED_CODES:
            raise
        # Not ours to give: the group and role are made, and the lines for .env still come.
        output.warn(
            f"could not check or create ECS's service-linked role {service_linked_role.NAME} "
            f"({errors.describe_client_error(error)}): if the account has none, someone allowed "
            f"iam:CreateServiceLinkedRole runs `{service_linked_role.CREATE_COMMAND}` once"
        )
        return
    if found:
        output.say(f"ECS's service-linked role {found} exists, kept")
        return
    output.say(
        f"created ECS's service-linked role {made} (the account's, for every cluster: "
        "delete_prerequisites.py leaves it); IAM takes seconds to spread it"
    )


def execution_role(
    iam: Any, secret: str | None, region: str, caller: str, created: list
) -> str:
    """Our execution role: trusts ECS tasks, may pull and write logs, and read LICENSE_SECRET.

    `caller`: the caller's ARN, whose account and partition (aws, aws-cn, aws-us-gov) it is in.
    """
    account, partition = caller.split(":")[4], arns.partition_of(caller)
    name = constants.EXECUTION_ROLE_NAME
    try:
        role = iam.get_role(RoleName=name)["Role"]
    except ClientError as error:
        if errors.aws_error_code(error) != "NoSuchEntity":
            raise
        role = iam.create_role(
            RoleName=name,
            Path=constants.EXECUTION_ROLE_PATH,
            AssumeRolePolicyDocument=json.dumps(TRUST_ECS_TASKS),
            Description="ECS task execution role for the SmartyzeDetect API server demo",
            Tags=tags.aws_tags(),
        )["Role"]
        created.append(("role", name))
        output.say(f"created role {role['Arn']}")
    else:
        if not tags.is_ours(iam.list_role_tags(RoleName=name)["Tags"]):
            raise errors.StepFailed(
                f"role {name} exists and is not this project's: left alone; set TASK_EXEC_ROLE "
                "to it yourself, or delete it"
            )
        output.say(f"role {role['Arn']} exists, kept")
        iam.update_assume_role_policy(RoleName=name, PolicyDocument=json.dumps(TRUST_ECS_TASKS))
    iam.attach_role_policy(
        RoleName=name, PolicyArn=arns.in_partition(constants.EXECUTION_POLICY_ARN, partition)
    )
    if secret:
        # The exact ARN: a Secrets Manager ARN without its six-character suffix would give a
        # policy that matches no secret.
        secret_arn = arns.licence_secret_arn(secret, region, account, partition)
        actions = licence_secret.secret_read_actions(secret_arn)
        iam.put_role_policy(
            RoleName=name,
            PolicyName=SECRET_POLICY_NAME,
            PolicyDocument=json.dumps(
                {
                    "Version": "2012-10-17",
                    "Statement": [{"Effect": "Allow", "Action": actions, "Resource": secret_arn}],
                }
            ),
        )
        output.say(f"role {name} may read {secret_arn}")
    elif SECRET_POLICY_NAME in iam.list_role_policies(RoleName=name)["PolicyNames"]:
        iam.delete_role_policy(RoleName=name, PolicyName=SECRET_POLICY_NAME)
        output.say(f"LICENSE_SECRET is not set: role {name} no longer reads a secret")
    return role["Arn"]


def undo(ec2: Any, iam: Any, created: list) -> None:
    """Remove what this run created, newest first: nothing is left half-made."""
    for kind, identifier in reversed(created):
        try:
            if kind == "role":
                for policy in iam.list_attached_role_policies(RoleName=identifier)[
                    "AttachedPolicies"
                ]:
                    iam.detach_role_policy(RoleName=identifier, PolicyArn=policy["PolicyArn"])
                for policy_name in iam.list_role_policies(RoleName=identifier)["PolicyNames"]:
                    iam.delete_role_policy(RoleName=identifier, PolicyName=policy_name)
                iam.delete_role(RoleName=identifier)
            elif kind == "log group":
                clients.client("logs").delete_log_group(logGroupName=identifier)
            else:
                ec2.delete_security_group(GroupId=identifier)
        except ClientError as error:  # the first failure is the one to report; this one is said
            output.warn(
                f"could not remove the {kind} {identifier} made by this run "
                f"({errors.describe_client_error(error)}): delete_prerequisites.py removes it"
            )
        else:
            output.say(f"removed the {kind} {identifier} made by this run")


def create_prerequisites(args: argparse.Namespace) -> int:
    port = constants.SD_API_TCP_PORT
    subnets = constants.optional("SUBNET_NAME")
    secret = constants.LICENSE_SECRET
    logs_group, retention = constants.LOG_GROUP, constants.LOG_RETENTION_DAYS
    if ingress.open_to_the_internet([args.cidr]):
        output.warn(
            f"--cidr {args.cidr} lets the whole internet reach an API without authentication"
        )

    sts, ec2, iam = clients.client("sts"), clients.client("ec2"), clients.client("iam")
    caller = sts.get_caller_identity()["Arn"]
    vpc_id, suggested_subnets = find_vpc(ec2, subnets)
    created: list[tuple[str, str]] = []
    try:
        group_id = security_group(ec2, vpc_id, port, args.cidr, created)
        role_arn = execution_role(iam, secret, ec2.meta.region_name, caller, created)
        if logs_group:
            made = log_group.ensure(clients.client("logs"), logs_group, retention)
            if made.startswith("created"):
                created.append(("log group", logs_group))
            output.say(made)
    except BaseException:
        undo(ec2, iam, created)
        raise
    ecs_service_linked_role(iam)
    output.say("put these lines in your .env (or check them with check_prerequisites.py):")
    print(f"SUBNET_NAME={','.join(suggested_subnets)}")
    print(f"SEC_GROUP_NAME={group_id}")
    print(f"TASK_EXEC_ROLE={role_arn}")
    return exit_codes.EXIT_OK


def main(argv: list[str] | None = None) -> int:
    args = arguments.parse_args(__doc__, argv, add_arguments)
    return runner.run(create_prerequisites, args)


if __name__ == "__main__":
    sys.exit(main())
