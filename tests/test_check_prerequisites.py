"""check_prerequisites.py (step 0): each broken prerequisite is caught, alone or with others.

A model of the prerequisites (route, public IP, group, rules, role, permissions, log group,
EFS, secret) is drawn by hypothesis, built in moto, and the check must report exactly the
breakages drawn: a problem for what would stop or hide the task, a warning for the rest.
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass

import boto3
import pytest
from hypothesis import HealthCheck, Phase, example, given, settings
from hypothesis import strategies as st
from moto import mock_aws

import check_prerequisites
from conftest import MY_ADDRESS, SETTING_NAMES, Result
from rehearsal import local_aws

PORT = 9090
PRIVATE_IMAGE = "123456789012.dkr.ecr.us-east-1.amazonaws.com/sd-apiserver:latest"
SECRET_NAME = "/sd-apiserver/license"


@dataclass(frozen=True)
class World:
    """What the prerequisites look like; "ok" everywhere is a ready account."""

    route: str = "igw"  # igw, nat, none, igw_detached, nat_deleted, nat_in_private
    main_table: bool = False  # the subnet has no route table of its own: the VPC's main one
    public_ip: str = "ENABLED"
    missing_subnet: bool = False
    dns: bool = True
    nacl: str = "open"  # open, no_https_out, no_port_in
    group: str = "ok"  # ok, other_vpc, missing
    ingress: str = "mine"  # mine, none, world, ipv6 (only an IPv6 range: the task has none)
    egress: bool = True
    role: str = "ok"  # ok, missing, wrong_trust
    pull: bool = True
    logs: bool = True
    read_secret: bool = True
    private_image: bool = False
    log_group: str = "unset"  # unset, ok, missing
    efs: str = "unset"  # unset, ok, no_mount_target, no_nfs, other_vpc, missing
    secret: str = "unset"  # unset, ok, missing, own_key (without kms:Decrypt), own_key_ok,
    # sm_partial (a Secrets Manager ARN without its suffix; the role names the full one),
    # sm_partial_policy (the role's policy names that partial ARN: it matches no secret)
    service_linked_role: bool = True  # the account has ECS's service-linked role
    hostnames: bool = True  # the VPC has DNS hostnames on (EFS is mounted by name)


def statement(*actions: str, resource: str = "*") -> str:
    return json.dumps(
        {
            "Version": "2012-10-17",
            "Statement": [{"Effect": "Allow", "Action": list(actions), "Resource": resource}],
        }
    )


def build(world: World) -> dict[str, str]:
    """Make `world` in moto; return the settings that point at it."""
    ec2, iam = boto3.client("ec2"), boto3.client("iam")
    ready = local_aws.create_prerequisites(ec2, iam, PORT, MY_ADDRESS)
    role_name = ready.role_arn.rsplit("/", 1)[1]
    subnet = ec2.describe_subnets(SubnetIds=[ready.subnet_id])["Subnets"][0]
    [own_table] = ec2.describe_route_tables(
        Filters=[{"Name": "association.subnet-id", "Values": [ready.subnet_id]}]
    )["RouteTables"]
    table = own_table["RouteTableId"]
    if world.main_table:
        [association] = [
            a for a in own_table["Associations"] if a.get("SubnetId") == ready.subnet_id
        ]
        ec2.disassociate_route_table(AssociationId=association["RouteTableAssociationId"])
        [main] = ec2.describe_route_tables(
            Filters=[
                {"Name": "vpc-id", "Values": [ready.vpc_id]},
                {"Name": "association.main", "Values": ["true"]},
            ]
        )["RouteTables"]
        table = main["RouteTableId"]
        gateway = ec2.describe_internet_gateways(
            Filters=[{"Name": "attachment.vpc-id", "Values": [ready.vpc_id]}]
        )["InternetGateways"][0]["InternetGatewayId"]
        ec2.create_route(RouteTableId=table, DestinationCidrBlock="0.0.0.0/0", GatewayId=gateway)
    settings = {
        "SUBNET_NAME": ready.subnet_id,
        "SEC_GROUP_NAME": ready.group_id,
        "TASK_EXEC_ROLE": ready.role_arn,
        "ASSIGN_PUBLIC_IP": world.public_ip,
        "SD_API_TCP_PORT": str(PORT),
    }
    if world.route != "igw":
        ec2.delete_route(RouteTableId=table, DestinationCidrBlock="0.0.0.0/0")
    if world.route == "igw_detached":
        gateway = ec2.describe_internet_gateways(
            Filters=[{"Name": "attachment.vpc-id", "Values": [ready.vpc_id]}]
        )["InternetGateways"][0]["InternetGatewayId"]
        ec2.create_route(RouteTableId=table, DestinationCidrBlock="0.0.0.0/0", GatewayId=gateway)
        ec2.detach_internet_gateway(InternetGatewayId=gateway, VpcId=ready.vpc_id)
    if world.route.startswith("nat"):
        # A NAT gateway lives in a public subnet of its own, unless the world says otherwise.
        nat_subnet = ready.subnet_id
        if world.route != "nat_in_private":
            nat_subnet = ec2.create_subnet(VpcId=ready.vpc_id, CidrBlock="10.0.2.0/24")["Subnet"][
                "SubnetId"
            ]
            public = ec2.create_route_table(VpcId=ready.vpc_id)["RouteTable"]["RouteTableId"]
            gateway = ec2.describe_internet_gateways(
                Filters=[{"Name": "attachment.vpc-id", "Values": [ready.vpc_id]}]
            )["InternetGateways"][0]["InternetGatewayId"]
            ec2.create_route(
                RouteTableId=public, DestinationCidrBlock="0.0.0.0/0", GatewayId=gateway
            )
            ec2.associate_route_table(RouteTableId=public, SubnetId=nat_subnet)
        allocation = ec2.allocate_address(Domain="vpc")["AllocationId"]
        nat = ec2.create_nat_gateway(SubnetId=nat_subnet, AllocationId=allocation)
        ec2.create_route(
            RouteTableId=table,
            DestinationCidrBlock="0.0.0.0/0",
            NatGatewayId=nat["NatGateway"]["NatGatewayId"],
        )
        if world.route == "nat_deleted":
            ec2.delete_nat_gateway(NatGatewayId=nat["NatGateway"]["NatGatewayId"])
    if world.missing_subnet:
        settings["SUBNET_NAME"] += ",subnet-0000000000000dead"
    if world.nacl != "open":
        [acl] = ec2.describe_network_acls(
            Filters=[{"Name": "association.subnet-id", "Values": [ready.subnet_id]}]
        )["NetworkAcls"]
        ec2.create_network_acl_entry(
            NetworkAclId=acl["NetworkAclId"],
            RuleNumber=50,
            Protocol="6",
            RuleAction="deny",
            Egress=world.nacl == "no_https_out",
            CidrBlock="0.0.0.0/0",
            PortRange={"From": 443, "To": 443}
            if world.nacl == "no_https_out"
            else {"From": PORT, "To": PORT},
        )
    if not world.dns:
        ec2.modify_vpc_attribute(VpcId=ready.vpc_id, EnableDnsSupport={"Value": False})
    if not world.hostnames:
        ec2.modify_vpc_attribute(VpcId=ready.vpc_id, EnableDnsHostnames={"Value": False})
    if not world.service_linked_role:
        for role in iam.list_roles(PathPrefix="/aws-service-role/ecs.amazonaws.com/")["Roles"]:
            iam.delete_role(RoleName=role["RoleName"])

    group = ready.group_id
    if world.group == "other_vpc":
        other = ec2.create_vpc(CidrBlock="10.9.0.0/16")["Vpc"]["VpcId"]
        group = ec2.create_security_group(
            GroupName="elsewhere", Description="another VPC", VpcId=other
        )["GroupId"]
        ec2.authorize_security_group_ingress(
            GroupId=group,
            IpPermissions=[
                {
                    "IpProtocol": "tcp",
                    "FromPort": PORT,
                    "ToPort": PORT,
                    "IpRanges": [{"CidrIp": MY_ADDRESS}],
                }
            ],
        )
        settings["SEC_GROUP_NAME"] = group
    elif world.group == "missing":
        settings["SEC_GROUP_NAME"] = "sg-0000000000000dead"
    if world.group != "missing":
        if world.ingress == "none":
            rules = ec2.describe_security_groups(GroupIds=[group])["SecurityGroups"][0]
            ec2.revoke_security_group_ingress(GroupId=group, IpPermissions=rules["IpPermissions"])
        elif world.ingress == "world":
            ec2.authorize_security_group_ingress(
                GroupId=group, CidrIp="0.0.0.0/0", IpProtocol="tcp", FromPort=PORT, ToPort=PORT
            )
        elif world.ingress == "ipv6":
            rules = ec2.describe_security_groups(GroupIds=[group])["SecurityGroups"][0]
            ec2.revoke_security_group_ingress(GroupId=group, IpPermissions=rules["IpPermissions"])
            ec2.authorize_security_group_ingress(
                GroupId=group,
                IpPermissions=[
                    {
                        "IpProtocol": "tcp",
                        "FromPort": PORT,
                        "ToPort": PORT,
                        "Ipv6Ranges": [{"CidrIpv6": "2001:db8::/64"}],
                    }
                ],
            )
        if not world.egress:
            ec2.revoke_security_group_egress(
                GroupId=group,
                IpPermissions=[{"IpProtocol": "-1", "IpRanges": [{"CidrIp": "0.0.0.0/0"}]}],
            )

    # One inline policy per need, so that each can be taken away alone.
    iam.delete_role_policy(RoleName=role_name, PolicyName="task-execution")
    if world.pull:
        iam.put_role_policy(
            RoleName=role_name,
            PolicyName="pull",
            PolicyDocument=statement(*check_prerequisites.ECR_PULL),
        )
    if world.logs:
        iam.put_role_policy(
            RoleName=role_name,
            PolicyName="logs",
            PolicyDocument=statement(*check_prerequisites.LOGS_WRITE),
        )
    if world.read_secret:
        iam.put_role_policy(
            RoleName=role_name,
            PolicyName="secret",
            PolicyDocument=statement(
                "ssm:GetParameters",
                resource=f"arn:aws:ssm:us-east-1:123456789012:parameter{SECRET_NAME}",
            ),
        )
    if world.role == "missing":
        settings["TASK_EXEC_ROLE"] = "arn:aws:iam::123456789012:role/nobody"
    elif world.role == "wrong_trust":
        iam.update_assume_role_policy(
            RoleName=role_name,
            PolicyDocument=json.dumps(
                {
                    "Version": "2012-10-17",
                    "Statement": [
                        {
                            "Effect": "Allow",
                            "Principal": {"Service": "ec2.amazonaws.com"},
                            "Action": "sts:AssumeRole",
                        }
                    ],
                }
            ),
        )
    if world.private_image:
        settings["IMAGE_NAME"] = PRIVATE_IMAGE

    # "unset" is logging turned off; "missing" is the default group, not made yet.
    settings["LOG_GROUP"] = "off" if world.log_group == "unset" else "/ecs/sd-apiserver"
    if world.log_group == "ok":
        boto3.client("logs").create_log_group(logGroupName="/ecs/sd-apiserver")

    if world.efs == "missing":
        settings["EFS_FILE_SYSTEM_ID"] = "fs-00000000"
    elif world.efs != "unset":
        efs = boto3.client("efs")
        file_system = efs.create_file_system(CreationToken="sd")["FileSystemId"]
        settings["EFS_FILE_SYSTEM_ID"] = file_system
        if world.efs in ("ok", "no_nfs"):
            nfs_group = ec2.create_security_group(
                GroupName="efs", Description="EFS mount targets", VpcId=ready.vpc_id
            )["GroupId"]
            efs.create_mount_target(
                FileSystemId=file_system, SubnetId=subnet["SubnetId"], SecurityGroups=[nfs_group]
            )
        if world.efs == "other_vpc":
            elsewhere = ec2.create_vpc(CidrBlock="10.8.0.0/16")["Vpc"]["VpcId"]
            same_zone = ec2.create_subnet(
                VpcId=elsewhere,
                CidrBlock="10.8.1.0/24",
                AvailabilityZone=subnet["AvailabilityZone"],
            )["Subnet"]["SubnetId"]
            efs.create_mount_target(FileSystemId=file_system, SubnetId=same_zone)
        if world.efs == "ok":
            ec2.authorize_security_group_ingress(
                GroupId=nfs_group,
                IpPermissions=[
                    {
                        "IpProtocol": "tcp",
                        "FromPort": 2049,
                        "ToPort": 2049,
                        # From the task's group, or (when that is elsewhere) from the VPC.
                        **(
                            {"UserIdGroupPairs": [{"GroupId": settings["SEC_GROUP_NAME"]}]}
                            if world.group == "ok"
                            else {"IpRanges": [{"CidrIp": "10.0.0.0/16"}]}
                        ),
                    }
                ],
            )

    if world.secret.startswith("sm_"):
        full = boto3.client("secretsmanager").create_secret(Name="sd/licence", SecretString="k")[
            "ARN"
        ]
        partial = full[: -len("-AbCdEf")]
        settings["LICENSE_SECRET"] = partial
        if world.read_secret:
            iam.put_role_policy(
                RoleName=role_name,
                PolicyName="secret",
                PolicyDocument=statement(
                    "secretsmanager:GetSecretValue",
                    resource=full if world.secret == "sm_partial" else partial,
                ),
            )
    elif world.secret != "unset":
        settings["LICENSE_SECRET"] = SECRET_NAME
    if world.secret == "ok":
        boto3.client("ssm").put_parameter(Name=SECRET_NAME, Value="key", Type="SecureString")
    elif world.secret.startswith("own_key"):
        key = boto3.client("kms").create_key()["KeyMetadata"]["Arn"]
        boto3.client("ssm").put_parameter(
            Name=SECRET_NAME, Value="key", Type="SecureString", KeyId=key
        )
        if world.secret == "own_key_ok":
            iam.put_role_policy(
                RoleName=role_name,
                PolicyName="decrypt",
                PolicyDocument=statement("kms:Decrypt", resource=key),
            )
    return settings


def expected(world: World) -> tuple[set[str], set[str]]:
    """The fragments of the problems and of the warnings that `world` must produce."""
    problems, warnings = set(), set()
    if world.route == "none":
        problems.add("has no way to the internet")
    elif world.route == "igw_detached":
        problems.add("not attached to")
    elif world.route == "nat_deleted":
        problems.add("which is deleted")
    elif world.route == "nat_in_private":
        problems.add("which has no route to an internet gateway")
    elif world.route == "igw" and world.public_ip == "DISABLED":
        problems.add("but ASSIGN_PUBLIC_IP=DISABLED")
    elif world.route == "nat" and world.public_ip == "ENABLED":
        warnings.add("a public IP is of no use there")
        warnings.add("still bills, about $0.005 an hour")
    if world.missing_subnet:
        problems.add("subnet subnet-0000000000000dead does not exist")
    if not world.dns:
        problems.add("has DNS resolution turned off")
    if world.nacl == "no_https_out":
        problems.add("blocks HTTPS out to the internet")
    elif world.nacl == "no_port_in" and world.group != "missing" and world.ingress in (
        "mine",
        "world",
    ):
        problems.add(f"blocks the demos in on TCP {PORT}")
    if world.group == "missing":
        problems.add("security group sg-0000000000000dead does not exist")
    else:
        if world.group == "other_vpc":
            problems.add("not in the subnets' VPC")
        if world.ingress == "none":
            problems.add("no inbound rule")
        elif world.ingress == "world":
            warnings.add("open to the whole internet")
        elif world.ingress == "ipv6":
            problems.add("only from IPv6 ranges")
        if not world.egress:
            problems.add("no outbound rule")
    if world.role == "missing":
        problems.add("role nobody does not exist")
    else:
        if world.role == "wrong_trust":
            problems.add("does not trust ecs-tasks.amazonaws.com")
        if not world.pull:
            (problems if world.private_image else warnings).add("cannot pull")
        if not world.logs:
            (problems if world.log_group != "unset" else warnings).add("cannot write logs")
        if not world.read_secret and world.secret != "unset":
            problems.add("cannot read LICENSE_SECRET")
        if world.secret == "sm_partial_policy":  # a policy naming the ARN without its suffix
            problems.add("cannot read LICENSE_SECRET")
    if not world.service_linked_role:
        problems.add("no ECS service-linked role")
    if not world.hostnames and world.efs not in ("unset", "missing"):
        problems.add("has DNS hostnames turned off")
    if world.efs == "missing":
        problems.add("EFS file system fs-00000000 (EFS_FILE_SYSTEM_ID) does not exist")
    elif world.efs == "no_mount_target":
        problems.add("has no mount target in us-east-1")
    elif world.efs == "other_vpc":
        problems.add("has mount targets only in")
    elif world.efs == "no_nfs":
        problems.add("do not let the task in on NFS")
    if world.secret == "missing":
        problems.add(f"LICENSE_SECRET {SECRET_NAME} does not exist")
    if world.secret == "own_key" and world.role != "missing":
        problems.add("cannot decrypt LICENSE_SECRET with its key")
    return problems, warnings


@pytest.fixture
def local_aws_to_reset():
    """moto, started once and emptied before each example (starting it costs more than a check)."""
    mock = mock_aws()
    mock.start()
    yield mock
    mock.stop()


def check(world: World, mock, capsys) -> Result:
    mock.reset()
    saved = {name: os.environ.pop(name) for name in SETTING_NAMES if name in os.environ}
    try:
        os.environ.update(build(world))
        capsys.readouterr()
        code = check_prerequisites.main([])
        captured = capsys.readouterr()
        return Result(code, captured.out, captured.err)
    finally:
        for name in SETTING_NAMES:
            os.environ.pop(name, None)
        os.environ.update(saved)


SINGLE_BREAKAGES = [
    World(route="none"),
    World(route="igw_detached"),
    World(route="nat_deleted"),
    World(route="nat_in_private"),
    World(main_table=True),
    World(main_table=True, route="none"),
    World(public_ip="DISABLED"),
    World(route="nat"),
    World(route="nat", public_ip="DISABLED"),
    World(missing_subnet=True),
    World(dns=False),
    World(nacl="no_https_out"),
    World(nacl="no_port_in"),
    World(group="other_vpc"),
    World(group="missing"),
    World(ingress="none"),
    World(ingress="world"),
    World(egress=False),
    World(role="missing"),
    World(role="wrong_trust"),
    World(pull=False, private_image=True),
    World(pull=False),
    World(logs=False, log_group="ok"),
    World(logs=False),
    World(read_secret=False, secret="ok"),
    World(log_group="missing"),
    World(efs="no_mount_target"),
    World(efs="no_nfs"),
    World(efs="other_vpc"),
    World(efs="missing"),
    World(secret="missing"),
    World(secret="own_key"),
    World(secret="own_key_ok"),
    World(log_group="ok", efs="ok", secret="ok", private_image=True),  # all present and readable
    World(ingress="ipv6"),
    World(secret="sm_partial"),
    World(secret="sm_partial_policy"),
    World(service_linked_role=False),
    World(efs="ok", hostnames=False),
]

worlds = st.builds(
    World,
    route=st.sampled_from(["igw", "nat", "none", "igw_detached", "nat_deleted", "nat_in_private"]),
    main_table=st.booleans(),
    public_ip=st.sampled_from(["ENABLED", "DISABLED"]),
    missing_subnet=st.booleans(),
    dns=st.booleans(),
    nacl=st.sampled_from(["open", "no_https_out", "no_port_in"]),
    group=st.sampled_from(["ok", "other_vpc", "missing"]),
    ingress=st.sampled_from(["mine", "none", "world", "ipv6"]),
    egress=st.booleans(),
    role=st.sampled_from(["ok", "missing", "wrong_trust"]),
    pull=st.booleans(),
    logs=st.booleans(),
    read_secret=st.booleans(),
    private_image=st.booleans(),
    log_group=st.sampled_from(["unset", "ok", "missing"]),
    efs=st.sampled_from(["unset", "ok", "no_mount_target", "no_nfs", "other_vpc", "missing"]),
    secret=st.sampled_from(
        ["unset", "ok", "missing", "own_key", "own_key_ok", "sm_partial", "sm_partial_policy"]
    ),
    service_linked_role=st.booleans(),
    hostnames=st.booleans(),
)


def with_examples(test):
    for world in SINGLE_BREAKAGES:
        test = example(world=world)(test)
    return test


# No shrinking: a failing world is printed whole, and each shrink step rebuilds it in moto.
@with_examples
@given(world=worlds)
@settings(
    max_examples=12,
    deadline=None,
    phases=[Phase.explicit, Phase.reuse, Phase.generate],
    suppress_health_check=[HealthCheck.function_scoped_fixture],
)
def test_each_breakage_is_reported_and_nothing_else(
    clean_settings, reused_clients, local_aws_to_reset, capsys, world
):
    result = check(world, local_aws_to_reset, capsys)
    problems, warnings = expected(world)
    report = result.json()
    found = {finding["status"]: [] for finding in report["findings"]}
    for finding in report["findings"]:
        found[finding["status"]].append(finding["message"])
        assert (finding["status"] == "ok") == (finding["fix"] == "")
    for status, fragments in (("problem", problems), ("warning", warnings)):
        messages = found.get(status, [])
        for fragment in fragments:
            assert any(fragment in message for message in messages), (fragment, result.err)
        for message in messages:
            assert any(fragment in message for fragment in fragments), (message, world)
    assert result.code == (1 if problems else 0), result.err
    assert report["ready"] is (not problems)
    # One stderr line per finding, with its fix, plus the verdict.
    lines = result.err.strip().splitlines()
    assert len(lines) == len(report["findings"]) + 1
    assert all(line.startswith(("ok: ", "warning: ", "problem: ")) for line in lines[:-1])
    assert all("-> fix: " in line for line in lines[:-1] if not line.startswith("ok: "))


def test_only_reads(aws, run, aws_calls, clean_settings):
    clean_settings.setenv("LOG_GROUP", "/ecs/none")
    clean_settings.setenv("EFS_FILE_SYSTEM_ID", "fs-00000000")
    clean_settings.setenv("LICENSE_SECRET", SECRET_NAME)
    result = run(check_prerequisites)
    assert result.code == 1
    assert aws_calls and all(call.startswith(("Get", "List", "Describe")) for call in aws_calls), (
        aws_calls
    )


def test_ready_account_passes(aws, run):
    result = run(check_prerequisites)
    assert result.code == 0, result.err
    report = result.json()
    assert report["ready"] and report["account"] == "123456789012"
    assert {f["status"] for f in report["findings"]} == {"ok"}
    assert "ready for the tutorial" in result.err


def test_settings_are_checked_before_aws(clean_settings, run, aws_calls):
    clean_settings.delenv("AWS_DEFAULT_REGION")
    clean_settings.setenv("SUBNET_NAME", "subnet-12345678")
    clean_settings.setenv("SEC_GROUP_NAME", "sg-12345678")
    result = run(check_prerequisites)
    assert result.code == 2
    assert "TASK_EXEC_ROLE is not set" in result.err
    assert aws_calls == []


def test_a_permission_to_look_missing_is_a_warning(aws, run, monkeypatch):
    """AccessDenied on one read: that part is unchecked, said as a warning; the rest goes on."""
    from plumbing import clients

    real_client = clients.client

    def denying_client(service):
        aws_client = real_client(service)
        if service == "iam":

            def deny(**_):
                raise check_prerequisites.ClientError(
                    {"Error": {"Code": "AccessDenied", "Message": "not allowed iam:GetRole"}},
                    "GetRole",
                )

            aws_client.meta.events.register("before-call.iam.GetRole", deny)
        return aws_client

    monkeypatch.setattr(clients, "client", denying_client)
    result = run(check_prerequisites)
    assert result.code == 0, result.err
    assert "warning: could not check the execution role: access denied" in result.err
    assert "is public" in result.err


@pytest.mark.parametrize(
    "statements, answer",
    [
        ([{"Effect": "Allow", "Action": "ssm:*", "Resource": "*"}], "yes"),
        ([{"Effect": "Allow", "Action": "SSM:GetParameters", "Resource": "arn:aws:ssm:*"}], "yes"),
        ([{"Effect": "Allow", "Action": "ssm:GetParameter", "Resource": "*"}], "no"),
        ([{"Effect": "Allow", "Action": "*", "Resource": "arn:aws:ssm:*:*:parameter/other"}], "no"),
        (
            [
                {"Effect": "Allow", "Action": "*", "Resource": "*"},
                {"Effect": "Deny", "Action": "ssm:Get*", "Resource": "*"},
            ],
            "no",
        ),
        (
            [
                {
                    "Effect": "Allow",
                    "Action": "ssm:GetParameters",
                    "Resource": "*",
                    "Condition": {"StringEquals": {"aws:SourceVpc": "vpc-1"}},
                }
            ],
            "unknown",
        ),
        ([{"Effect": "Allow", "NotAction": "iam:*", "Resource": "*"}], "unknown"),
        ([], "no"),
    ],
)
def test_policy_reading(statements, answer):
    resource = "arn:aws:ssm:us-east-1:123456789012:parameter/sd-apiserver/license"
    assert check_prerequisites.may(statements, "ssm:GetParameters", resource) == answer


def test_the_default_log_group_not_made_yet_is_no_problem(aws, run):
    # Logs are on by default (/ecs/ + TASK_FAMILY_NAME); the group is made at step 2.
    result = run(check_prerequisites)
    assert result.code == 0, result.err
    assert (
        "ok: log group /ecs/sd-apiserver (LOG_GROUP) does not exist yet: "
        "register_task_definition.py makes it, tagged as this project's, keeping lines 7 days"
    ) in result.err
    assert "ok: role ecsTaskExecutionRole can write logs to /ecs/sd-apiserver" in result.err


# --- network ACLs: a deny for part of a range, ephemeral ports


def _first_match(entries, egress, port, address) -> bool:
    """AWS's rule for one packet: the lowest-numbered matching rule decides; none: denied."""
    import ipaddress

    for entry in sorted(entries, key=lambda e: e["RuleNumber"]):
        if entry["Egress"] != egress or entry["Protocol"] not in ("-1", "6"):
            continue
        ports = entry.get("PortRange") if entry["Protocol"] == "6" else None
        ports = ports or {"From": 0, "To": 65535}
        if ports["From"] <= port <= ports["To"] and ipaddress.ip_address(
            address
        ) in ipaddress.ip_network(entry["CidrBlock"]):
            return entry["RuleAction"] == "allow"
    return False


NACL_CIDRS = ["0.0.0.0/0", "203.0.113.0/24", "203.0.113.0/25", "203.0.113.128/25", "203.0.113.7/32"]
NACL_ENTRIES = st.lists(
    st.fixed_dictionaries(
        {
            "RuleNumber": st.integers(1, 200),
            "Egress": st.booleans(),
            "Protocol": st.sampled_from(["6", "-1", "17"]),
            "PortRange": st.tuples(st.integers(0, 65535), st.integers(0, 65535)).map(
                lambda pair: {"From": min(pair), "To": max(pair)}
            ),
            "CidrBlock": st.sampled_from(NACL_CIDRS),
            "RuleAction": st.sampled_from(["allow", "deny"]),
        }
    ),
    max_size=6,
    unique_by=lambda entry: (entry["RuleNumber"], entry["Egress"]),
)


@settings(max_examples=300, deadline=None)
@given(
    entries=NACL_ENTRIES,
    egress=st.booleans(),
    ports=st.sampled_from([(443, 443), (9090, 9090), (32768, 60999), (32768, 65535), (1024, 65535)]),
    cidr=st.sampled_from(NACL_CIDRS[1:]),
)
def test_a_network_acl_lets_a_range_through_only_when_every_packet_of_it_passes(
    entries, egress, ports, cidr
):
    import ipaddress

    network = ipaddress.ip_network(cidr)
    first, last = int(network.network_address), int(network.broadcast_address)
    # Where the answer can change: the range's ends and every rule's edges inside it.
    port_points, address_points = set(ports), {first, last}
    for entry in entries:
        edges = entry["PortRange"]
        port_points |= {p for p in (edges["From"], edges["To"], edges["From"] - 1, edges["To"] + 1)}
        rule = ipaddress.ip_network(entry["CidrBlock"])
        ends = (int(rule.network_address), int(rule.broadcast_address))
        address_points |= {ends[0], ends[1], ends[0] - 1, ends[1] + 1}
    every_packet = all(
        _first_match(entries, egress, port, str(ipaddress.ip_address(address)))
        for port in port_points
        if ports[0] <= port <= ports[1]
        for address in address_points
        if first <= address <= last
    )
    assert check_prerequisites.nacl_allows(entries, egress, ports, cidr) == every_packet


def test_a_deny_for_part_of_the_range_before_an_allow_blocks_that_part():
    entries = [
        {"RuleNumber": 10, "Egress": True, "Protocol": "6", "PortRange": {"From": 49152, "To": 65535},
         "CidrBlock": "203.0.113.0/24", "RuleAction": "deny"},
        {"RuleNumber": 20, "Egress": True, "Protocol": "-1", "CidrBlock": "0.0.0.0/0",
         "RuleAction": "allow"},
    ]
    # The old reading (the whole range inside the deny's CIDR) let this through: Windows and
    # macOS clients answer on 49152-65535.
    assert not check_prerequisites.nacl_allows(entries, True, (32768, 65535), "203.0.113.7/32")
    assert check_prerequisites.nacl_allows(entries, True, (32768, 49151), "203.0.113.7/32")
    # Part of the addresses: the deny covers 203.0.113.0/24 of 203.0.0.0/16.
    assert not check_prerequisites.nacl_allows(entries, True, (50000, 50000), "203.0.0.0/16")
    assert check_prerequisites.nacl_allows(entries, True, (50000, 50000), "198.51.100.0/24")
