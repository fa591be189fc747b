"""create_prerequisites.py and delete_prerequisites.py: what they make passes step 0, doing it
twice changes nothing, the delete removes exactly what the create made, and refuses while used."""

from __future__ import annotations

import json

import boto3
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import check_prerequisites
import constants
import create_prerequisites
import delete_prerequisites
from conftest import MY_ADDRESS

SECRET_NAME = "/sd-apiserver/license"


@pytest.fixture
def aws_managed_policies(clean_settings, reused_clients, request):
    """The local AWS of `aws`, with AWS's managed policies (slow to load: used once)."""
    clean_settings.setenv("MOTO_IAM_LOAD_MANAGED_POLICIES", "true")
    return request.getfixturevalue("aws")


@pytest.fixture
def aws_iam(aws, reused_clients, monkeypatch):
    """The local AWS of `aws`, with a stand-in for AWS's execution policy, as moto lacks it."""
    policy = boto3.client("iam").create_policy(
        PolicyName="AmazonECSTaskExecutionRolePolicy",
        Path="/service-role/",
        PolicyDocument=json.dumps(
            {
                "Version": "2012-10-17",
                "Statement": [
                    {
                        "Effect": "Allow",
                        "Action": [*check_prerequisites.ECR_PULL, *check_prerequisites.LOGS_WRITE],
                        "Resource": "*",
                    }
                ],
            }
        ),
    )["Policy"]
    monkeypatch.setattr(constants, "EXECUTION_POLICY_ARN", policy["Arn"])
    return aws


def env_lines(out: str) -> dict[str, str]:
    return dict(line.split("=", 1) for line in out.strip().splitlines())


def everything(ec2, iam) -> tuple:
    """What exists, to compare before and after."""
    groups = ec2.describe_security_groups()["SecurityGroups"]
    roles = iam.list_roles()["Roles"]
    return (
        sorted((g["GroupId"], json.dumps(g["IpPermissions"], sort_keys=True)) for g in groups),
        sorted(r["Arn"] for r in roles),
    )


def test_created_prerequisites_pass_step_0(aws_managed_policies, run, clean_settings):
    aws_iam = aws_managed_policies
    boto3.client("ssm").put_parameter(Name=SECRET_NAME, Value="key", Type="SecureString")
    clean_settings.setenv("LICENSE_SECRET", SECRET_NAME)
    clean_settings.setenv("LOG_GROUP", "/ecs/sd")
    boto3.client("logs").create_log_group(logGroupName="/ecs/sd")
    result = run(create_prerequisites, "--cidr", "198.51.100.23/32")
    assert result.code == 0, result.err
    lines = env_lines(result.out)
    assert lines["SUBNET_NAME"] == aws_iam.subnet_id  # SUBNET_NAME was set: its VPC is used
    for name, value in lines.items():
        clean_settings.setenv(name, value)

    checked = run(check_prerequisites)
    assert checked.code == 0, checked.err
    assert not [f for f in checked.json()["findings"] if f["status"] != "ok"], checked.err
    assert "TCP port 9090 is open to 198.51.100.23/32" in checked.err
    assert "can read LICENSE_SECRET" in checked.err

    [group] = aws_iam.ec2.describe_security_groups(GroupIds=[lines["SEC_GROUP_NAME"]])[
        "SecurityGroups"
    ]
    assert group["VpcId"] == aws_iam.vpc_id
    assert {"Key": "project", "Value": constants.PROJECT_TAG["value"]} in group["Tags"]
    assert [
        (r["IpProtocol"], r["FromPort"], r["ToPort"], [x["CidrIp"] for x in r["IpRanges"]])
        for r in group["IpPermissions"]
    ] == [("tcp", 9090, 9090, ["198.51.100.23/32"])]
    iam = boto3.client("iam")
    attached = iam.list_attached_role_policies(RoleName=constants.EXECUTION_ROLE_NAME)
    assert [p["PolicyArn"] for p in attached["AttachedPolicies"]] == [
        constants.EXECUTION_POLICY_ARN
    ]


def test_default_vpc_without_subnet_setting(aws_iam, run, clean_settings):
    clean_settings.delenv("SUBNET_NAME")
    result = run(create_prerequisites, "--cidr", MY_ADDRESS)
    assert result.code == 0, result.err
    lines = env_lines(result.out)
    ec2 = aws_iam.ec2
    default_vpc = ec2.describe_vpcs(Filters=[{"Name": "is-default", "Values": ["true"]}])["Vpcs"][0]
    subnets = ec2.describe_subnets(SubnetIds=lines["SUBNET_NAME"].split(","))["Subnets"]
    assert subnets and {s["VpcId"] for s in subnets} == {default_vpc["VpcId"]}
    [group] = ec2.describe_security_groups(GroupIds=[lines["SEC_GROUP_NAME"]])["SecurityGroups"]
    assert group["VpcId"] == default_vpc["VpcId"]


@given(
    cidrs=st.lists(
        st.sampled_from(["203.0.113.7/32", "198.51.100.0/24", "192.0.2.9"]),
        min_size=1,
        max_size=3,
    ),
    with_secret=st.lists(st.booleans(), min_size=3, max_size=3),
)
@settings(
    max_examples=6, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
def test_create_again_and_again_then_delete_leaves_what_was_there(
    aws_iam, run, clean_settings, cidrs, with_secret
):
    """Idempotent, follows the newest --cidr, and the delete takes away exactly what it made."""
    iam = boto3.client("iam")
    before = everything(aws_iam.ec2, iam)
    policies_before = [p["Arn"] for p in iam.list_policies(Scope="Local")["Policies"]]
    outputs = []
    for cidr, secret in zip(cidrs, with_secret[: len(cidrs)], strict=True):
        if secret:
            clean_settings.setenv("LICENSE_SECRET", SECRET_NAME)
        else:
            clean_settings.delenv("LICENSE_SECRET", raising=False)
        result = run(create_prerequisites, "--cidr", cidr)
        assert result.code == 0, result.err
        outputs.append(env_lines(result.out))
        policies = iam.list_role_policies(RoleName=constants.EXECUTION_ROLE_NAME)["PolicyNames"]
        assert policies == (["read-licence-secret"] if secret else [])
    assert all(output == outputs[0] for output in outputs)
    [group] = aws_iam.ec2.describe_security_groups(GroupIds=[outputs[0]["SEC_GROUP_NAME"]])[
        "SecurityGroups"
    ]
    [rule] = group["IpPermissions"]
    sources = [r["CidrIp"] for r in rule["IpRanges"]] + [r["CidrIpv6"] for r in rule["Ipv6Ranges"]]
    assert sources == [create_prerequisites.address_range(cidrs[-1])]

    deleted = run(delete_prerequisites)
    assert deleted.code == 0, deleted.err
    assert deleted.json()["deleted"] == {
        "securityGroups": [outputs[0]["SEC_GROUP_NAME"]],
        "roles": [constants.EXECUTION_ROLE_NAME],
        "logGroups": ["/ecs/sd-apiserver"],
    }
    assert boto3.client("logs").describe_log_groups()["logGroups"] == []
    assert everything(aws_iam.ec2, iam) == before
    assert [p["Arn"] for p in iam.list_policies(Scope="Local")["Policies"]] == policies_before
    again = run(delete_prerequisites)
    assert again.code == 0 and "nothing to delete" in again.err


def test_delete_refuses_while_a_task_uses_the_group(aws_iam, run):
    made = env_lines(run(create_prerequisites, "--cidr", MY_ADDRESS).out)
    interface = aws_iam.ec2.create_network_interface(
        SubnetId=aws_iam.subnet_id, Groups=[made["SEC_GROUP_NAME"]]
    )["NetworkInterface"]["NetworkInterfaceId"]
    iam = boto3.client("iam")
    before = everything(aws_iam.ec2, iam)
    result = run(delete_prerequisites)
    assert result.code == 1
    assert f"still used by 1 network interface(s) ({interface})" in result.err
    assert "stop_task.py" in result.err and "nothing was deleted" in result.err
    assert everything(aws_iam.ec2, iam) == before
    aws_iam.ec2.delete_network_interface(NetworkInterfaceId=interface)
    assert run(delete_prerequisites).code == 0


def test_what_is_not_ours_is_left_alone(aws_iam, run):
    aws_iam.ec2.create_security_group(
        GroupName=constants.SECURITY_GROUP_NAME, Description="someone's", VpcId=aws_iam.vpc_id
    )
    result = run(create_prerequisites, "--cidr", MY_ADDRESS)
    assert result.code == 1
    assert "is not this project's" in result.err and "left alone" in result.err
    iam = boto3.client("iam")
    with pytest.raises(iam.exceptions.NoSuchEntityException):
        iam.get_role(RoleName=constants.EXECUTION_ROLE_NAME)
    assert run(delete_prerequisites).json()["deleted"] == {
        "securityGroups": [],
        "roles": [],
        "logGroups": [],
    }
    # The run failed before the log group: none was made.
    assert boto3.client("logs").describe_log_groups()["logGroups"] == []


@pytest.mark.parametrize(
    "fault, code, said",
    [
        (
            check_prerequisites.ClientError(
                {"Error": {"Code": "LimitExceeded", "Message": "too many roles"}}, "CreateRole"
            ),
            1,
            "(LimitExceeded)",
        ),
        (KeyboardInterrupt(), 130, "interrupted"),
    ],
    ids=["aws-refuses", "ctrl-c"],
)
def test_a_failure_halfway_removes_what_this_run_made(aws_iam, run, monkeypatch, fault, code, said):
    from plumbing import clients

    real_client = clients.client

    def failing_client(service):
        aws_client = real_client(service)
        if service == "iam":

            def fail(**_):
                raise fault

            aws_client.meta.events.register("before-call.iam.CreateRole", fail)
        return aws_client

    monkeypatch.setattr(clients, "client", failing_client)
    before = everything(aws_iam.ec2, boto3.client("iam"))
    result = run(create_prerequisites, "--cidr", MY_ADDRESS)
    assert result.code == code
    assert said in result.err and "removed the security group" in result.err
    assert result.out == ""
    assert everything(aws_iam.ec2, boto3.client("iam")) == before


@pytest.mark.parametrize(
    "argv",
    [
        [],
        ["--cidr"],
        ["--cidr", "my address"],
        ["--cidr", "203.0.113.7/33"],
        ["--cidr", "203.0.113.7/24"],
        ["--cidr", "example.com"],
        ["--cidr", "2001:db8::1/128"],  # the task has only a public IPv4 address
    ],
)
def test_bad_cidr_is_one_line_and_asks_nothing(aws, run, aws_calls, argv, capsys):
    with pytest.raises(SystemExit) as exit_:
        create_prerequisites.main(argv)
    assert exit_.value.code == 2
    err = capsys.readouterr().err
    assert len(err.strip().splitlines()) == 1 and err.startswith("error: ")
    assert aws_calls == []


@pytest.mark.parametrize(
    "script", [check_prerequisites, create_prerequisites, delete_prerequisites]
)
def test_help(script, capsys):
    with pytest.raises(SystemExit) as exit_:
        script.main(["--help"])
    assert exit_.value.code == 0
    assert script.__doc__.strip().splitlines()[0] in capsys.readouterr().out


# --- the log group: made tagged with its retention, deleted only when ours


def test_log_group_made_tagged_and_deleted_only_when_ours(aws_iam, run, clean_settings):
    logs = boto3.client("logs")
    clean_settings.setenv("LOG_RETENTION_DAYS", "14")
    assert run(create_prerequisites, "--cidr", MY_ADDRESS).code == 0
    [group] = logs.describe_log_groups(logGroupNamePrefix="/ecs/sd-apiserver")["logGroups"]
    assert group["retentionInDays"] == 14
    tags = logs.list_tags_for_resource(resourceArn=group["arn"].removesuffix(":*"))["tags"]
    assert tags == {constants.PROJECT_TAG["key"]: constants.PROJECT_TAG["value"]}
    # Someone's group of another name, and LOG_GROUP pointing at it: never deleted.
    logs.create_log_group(logGroupName="/theirs")
    clean_settings.setenv("LOG_GROUP", "/theirs")
    result = run(delete_prerequisites)
    assert result.code == 0, result.err
    assert "log group /theirs is not tagged as this project's: left alone" in result.err
    assert {g["logGroupName"] for g in logs.describe_log_groups()["logGroups"]} == {
        "/theirs",
        "/ecs/sd-apiserver",
    }
    clean_settings.delenv("LOG_GROUP")
    assert run(delete_prerequisites).json()["deleted"]["logGroups"] == ["/ecs/sd-apiserver"]
