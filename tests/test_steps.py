"""Each step's behaviour beyond the happy path, against moto (and Stubber where moto cannot answer)."""

import datetime

import boto3
import pytest

import create_cluster
import delete_cluster
import describe_clusters
import describe_task
import list_task_definition
import register_task_definition
import run_task
import stop_task
from conftest import EXEC_ROLE, TUTORIAL_STEPS


@pytest.mark.parametrize("script", TUTORIAL_STEPS, ids=lambda s: s.__name__)
def test_help(script, capsys):
    with pytest.raises(SystemExit) as exit_:
        script.main(["--help"])
    assert exit_.value.code == 0
    out = capsys.readouterr().out
    assert out.startswith("usage:")
    assert script.__doc__.strip().splitlines()[0] in out


def test_describe_clusters_missing_cluster(aws, run):
    result = run(describe_clusters)
    assert result.code == 1
    assert (
        "error: cluster sd-test not found (MISSING): create it with create_cluster.py" in result.err
    )


# --- register_task_definition.py


def test_task_definition_is_right_for_fargate(aws, run, clean_settings):
    clean_settings.setenv("SD_API_TCP_PORT", "7070")
    clean_settings.setenv("TASK_CPU", "8192")
    clean_settings.setenv("TASK_MEMORY", "20480")
    result = run(register_task_definition)
    assert result.code == 0
    assert result.err.count("warning") == 0
    definition = aws.ecs.describe_task_definition(taskDefinition="sd-apiserver")["taskDefinition"]
    assert definition["requiresCompatibilities"] == ["FARGATE"]
    assert definition["networkMode"] == "awsvpc"
    assert definition["runtimePlatform"] == {
        "cpuArchitecture": "X86_64",
        "operatingSystemFamily": "LINUX",
    }
    assert definition["executionRoleArn"] == EXEC_ROLE
    assert (definition["cpu"], definition["memory"]) == ("8192", "20480")
    [container] = [c for c in definition["containerDefinitions"] if c["name"] == "sd-apiserver"]
    assert container["essential"] is True
    assert container["portMappings"][0]["containerPort"] == 7070
    assert {"name": "SD_API_TCP_PORT", "value": "7070"} in container["environment"]
    assert container["mountPoints"] == [{"sourceVolume": "sd-data", "containerPath": "/var/data"}]
    assert definition["volumes"] == [{"name": "sd-data"}]
    # Logs are on by default: both containers write to /ecs/ + the family.
    for each in definition["containerDefinitions"]:
        assert each["logConfiguration"]["options"]["awslogs-group"] == "/ecs/sd-apiserver"


def test_logs_off_leaves_no_log_configuration(aws, run, clean_settings):
    clean_settings.setenv("LOG_GROUP", "off")
    result = run(register_task_definition)
    assert result.code == 0, result.err
    assert "LOG_GROUP=off" in result.err
    definition = aws.ecs.describe_task_definition(taskDefinition="sd-apiserver")["taskDefinition"]
    assert all("logConfiguration" not in c for c in definition["containerDefinitions"])
    assert boto3.client("logs").describe_log_groups()["logGroups"] == []


def test_efs_and_logs(aws, run, clean_settings):
    clean_settings.setenv("EFS_FILE_SYSTEM_ID", "fs-0123456789abcdef0")
    clean_settings.setenv("LOG_GROUP", "/ecs/sd-apiserver")
    clean_settings.setenv("SD_DEBUG_CRASH", "1")
    result = run(register_task_definition)
    assert result.code == 0
    assert "warning" not in result.err
    definition = result.json()["taskDefinition"]
    assert (
        definition["volumes"][0]["efsVolumeConfiguration"]["fileSystemId"] == "fs-0123456789abcdef0"
    )
    [server] = [c for c in definition["containerDefinitions"] if c["name"] == "sd-apiserver"]
    logging = server["logConfiguration"]
    assert logging["logDriver"] == "awslogs"
    assert logging["options"]["awslogs-group"] == "/ecs/sd-apiserver"
    assert logging["options"]["awslogs-region"] == "us-east-1"


@pytest.mark.parametrize(
    "settings, warning",
    [
        ({"SD_API_TRANSPORT": "2"}, "SD_API_TRANSPORT=2: the server will not listen on TCP"),
        ({"SD_API_TCP_LOCAL": "1"}, "SD_API_TCP_LOCAL=1: the server will only listen on localhost"),
        ({"SD_DEBUG_CRASH": "1"}, "crash dumps in /var/data vanish with the task"),
        ({"TASK_CPU": "1024", "TASK_MEMORY": "2048"}, "no room for a detection session"),
    ],
)
def test_register_warns_but_registers(aws, run, clean_settings, settings, warning):
    for name, value in settings.items():
        clean_settings.setenv(name, value)
    result = run(register_task_definition)
    assert result.code == 0
    assert "warning: " in result.err and warning in result.err
    assert aws.ecs.list_task_definitions()["taskDefinitionArns"]


def test_list_task_definition_newest_first_and_only_our_family(ready, run):
    assert run(register_task_definition).code == 0
    ready.ecs.register_task_definition(
        family="sd-apiserver-other",
        containerDefinitions=[{"name": "x", "image": "x", "memory": 512}],
    )
    result = run(list_task_definition)
    arns = result.json()["taskDefinitionArns"]
    assert [arn.rsplit("/", 1)[1] for arn in arns] == ["sd-apiserver:2", "sd-apiserver:1"]
    assert "newest: sd-apiserver:2" in result.err


def test_list_task_definition_empty(aws, run):
    result = run(list_task_definition)
    assert result.code == 0
    assert result.json() == {"taskDefinitionArns": []}
    assert "register one with register_task_definition.py" in result.err


# --- run_task.py


def test_run_task_parameters(ready, run, clean_settings):
    clean_settings.setenv("ASSIGN_PUBLIC_IP", "disabled")
    result = run(run_task)
    assert result.code == 0
    assert "warning" not in result.err
    [task] = result.json()["tasks"]
    assert task["startedBy"] == "sd-apiserver-demo"
    assert task["launchType"] == "FARGATE"
    assert task["taskDefinitionArn"].endswith("task-definition/sd-apiserver:1")
    tags = ready.ecs.list_tags_for_resource(resourceArn=task["taskArn"])["tags"]
    assert {"key": "project", "value": "smartyzedetect-ecs-demo"} in tags


def test_run_task_pinned_revision(ready, run, clean_settings):
    assert run(register_task_definition).code == 0
    clean_settings.setenv("TASK_FAMILY_NAME_FULL", "sd-apiserver:1")
    [task] = run(run_task).json()["tasks"]
    assert task["taskDefinitionArn"].endswith("sd-apiserver:1")


def test_run_task_refuses_a_second_copy(ready, run):
    assert run(run_task).code == 0
    again = run(run_task)
    assert again.code == 1
    assert "1 task(s) of ours already running in cluster sd-test" in again.err
    assert "stop_task.py" in again.err and "--force" in again.err
    assert again.out == ""
    assert len(ready.ecs.list_tasks(cluster="sd-test", desiredStatus="RUNNING")["taskArns"]) == 1

    assert run(run_task, "--force").code == 0
    assert run(run_task, "--count", "2").code == 0
    assert len(ready.ecs.list_tasks(cluster="sd-test", desiredStatus="RUNNING")["taskArns"]) == 4


@pytest.mark.parametrize("count", ["0", "11", "two"])
def test_run_task_bad_count(ready, capsys, count):
    with pytest.raises(SystemExit) as exit_:
        run_task.main(["--count", count])
    assert exit_.value.code == 2
    assert capsys.readouterr().err == (
        f"error: argument --count: {count!r} is not a whole number from 1 to 10 (see --help)\n"
    )


def test_run_task_warns_without_ingress_rule(ready, run):
    ready.ec2.revoke_security_group_ingress(
        GroupId=ready.group_id,
        IpPermissions=[
            {
                "IpProtocol": "tcp",
                "FromPort": 9090,
                "ToPort": 9090,
                "IpRanges": [{"CidrIp": "203.0.113.7/32"}],
            }
        ],
    )
    result = run(run_task)
    assert result.code == 0
    assert f"warning: no inbound rule in {ready.group_id} allows TCP port 9090" in result.err


def test_run_task_warns_when_open_to_the_world(ready, run):
    ready.ec2.authorize_security_group_ingress(
        GroupId=ready.group_id,
        IpPermissions=[
            {
                "IpProtocol": "tcp",
                "FromPort": 9000,
                "ToPort": 9100,
                "IpRanges": [{"CidrIp": "0.0.0.0/0"}],
            }
        ],
    )
    result = run(run_task)
    assert result.code == 0
    assert "warning: TCP port 9090 is open to the whole internet (0.0.0.0/0)" in result.err
    assert "no inbound rule" not in result.err


def test_run_task_warns_when_only_ipv6_may_come_in(ready, run):
    ready.ec2.revoke_security_group_ingress(
        GroupId=ready.group_id,
        IpPermissions=ready.ec2.describe_security_groups(GroupIds=[ready.group_id])[
            "SecurityGroups"
        ][0]["IpPermissions"],
    )
    ready.ec2.authorize_security_group_ingress(
        GroupId=ready.group_id,
        IpPermissions=[
            {
                "IpProtocol": "tcp",
                "FromPort": 9090,
                "ToPort": 9090,
                "Ipv6Ranges": [{"CidrIpv6": "2001:db8::/64"}],
            }
        ],
    )
    result = run(run_task)
    assert result.code == 0
    assert "only to IPv6 ranges, but the task gets only a public IPv4 address" in result.err


def test_run_task_unknown_task_definition(aws, run):
    assert run(create_cluster).code == 0
    result = run(run_task)
    assert result.code == 1
    assert (
        result.err
        == "error: RunTask failed: Unable to describe task definition. (ClientException)\n"
    )


def _security_groups_ok(stub):
    stub("ec2").add_response(
        "describe_security_groups",
        {
            "SecurityGroups": [
                {
                    "GroupId": "sg-0123456789abcdef0",
                    "IpPermissions": [
                        {
                            "IpProtocol": "tcp",
                            "FromPort": 9090,
                            "ToPort": 9090,
                            "IpRanges": [{"CidrIp": "198.51.100.1/32"}],
                        }
                    ],
                }
            ]
        },
    )


@pytest.fixture
def stub_settings(clean_settings):
    for name, value in {
        "CLUSTER_NAME": "sd-test",
        "TASK_FAMILY_NAME": "sd-apiserver",
        "SUBNET_NAME": "subnet-0123456789abcdef0",
        "SEC_GROUP_NAME": "sg-0123456789abcdef0",
    }.items():
        clean_settings.setenv(name, value)
    return clean_settings


def test_run_task_failures_are_an_error(stub, stub_settings, run):
    stub("ecs").add_response("list_tasks", {"taskArns": []})
    _security_groups_ok(stub)
    stub("ecs").add_response(
        "run_task",
        {
            "tasks": [],
            "failures": [
                {
                    "arn": "arn:aws:ecs:us-east-1:1:cluster/sd-test",
                    "reason": "RESOURCE:FARGATE",
                    "detail": "capacity",
                }
            ],
        },
    )
    result = run(run_task)
    assert result.code == 1
    assert (
        "failure: arn:aws:ecs:us-east-1:1:cluster/sd-test RESOURCE:FARGATE capacity" in result.err
    )
    assert result.err.strip().splitlines()[-1].startswith("error: ECS could not start sd-apiserver")


def test_run_task_partial_start_is_undone(stub, stub_settings, run):
    started = "arn:aws:ecs:us-east-1:123456789012:task/sd-test/abc"
    stub("ecs").add_response("list_tasks", {"taskArns": []})
    _security_groups_ok(stub)
    stub("ecs").add_response(
        "run_task",
        {
            "tasks": [{"taskArn": started, "lastStatus": "PROVISIONING"}],
            "failures": [{"reason": "RESOURCE:ENI"}],
        },
    )
    stub("ecs").add_response(
        "stop_task",
        {"task": {"taskArn": started}},
        {"cluster": "sd-test", "task": started, "reason": "run_task.py: partial start"},
    )
    result = run(run_task, "--count", "2")
    assert result.code == 1
    assert "stopped abc, started alongside the failure" in result.err


def test_run_task_goes_on_when_it_may_not_read_security_groups(stub, stub_settings, run):
    stub("ecs").add_response("list_tasks", {"taskArns": []})
    stub("ec2").add_client_error(
        "describe_security_groups",
        "UnauthorizedOperation",
        "You are not authorized to perform this operation. User: arn:aws:iam::1:user/me is not authorized to perform: ec2:DescribeSecurityGroups",
    )
    stub("ecs").add_response(
        "run_task",
        {
            "tasks": [
                {
                    "taskArn": "arn:aws:ecs:r:1:task/sd-test/t1",
                    "taskDefinitionArn": DEF_ARN,
                    "lastStatus": "PROVISIONING",
                }
            ],
            "failures": [],
        },
    )
    stub("ecs").add_response(
        "describe_task_definition", {"taskDefinition": {"containerDefinitions": []}}
    )
    result = run(run_task)
    assert result.code == 0
    assert "sd-apiserver:1 has no lifetime limit" in result.err
    assert "warning: could not check the security groups" in result.err
    assert "ec2:DescribeSecurityGroups" in result.err


# --- describe_task.py

TASK_ARN = "arn:aws:ecs:us-east-1:123456789012:task/sd-test/0f1e2d3c"
DEF_ARN = "arn:aws:ecs:us-east-1:123456789012:task-definition/sd-apiserver:1"


def _task(status, **extra):
    return {"taskArn": TASK_ARN, "taskDefinitionArn": DEF_ARN, "lastStatus": status, **extra}


def test_describe_task_waits_and_shows_progress(stub, stub_settings, run):
    stub("ecs").add_response("list_tasks", {"taskArns": [TASK_ARN]})
    for status in ["PROVISIONING", "PENDING", "PENDING"]:
        stub("ecs").add_response("describe_tasks", {"tasks": [_task(status)], "failures": []})
    result = _describe_running(stub, run, public_ip="54.210.1.2")
    assert result.code == 0, result.err
    assert result.err.index("waiting: 0f1e2d3c PROVISIONING") < result.err.index(
        "waiting: 0f1e2d3c PENDING"
    )
    assert result.err.count("waiting: 0f1e2d3c PENDING") == 1  # printed when it changes
    assert result.json()["tasks"][0]["endpoint"] == "54.210.1.2:9090"


def _describe_running(stub, run, public_ip=None, *argv, interface_checks=1):
    attachments = [
        {
            "type": "ElasticNetworkInterface",
            "details": [
                {"name": "networkInterfaceId", "value": "eni-0123456789abcdef0"},
                {"name": "privateIPv4Address", "value": "10.0.1.25"},
                {"name": "subnetId", "value": "subnet-0123456789abcdef0"},
            ],
        }
    ]
    stub("ecs").add_response(
        "describe_tasks", {"tasks": [_task("RUNNING", attachments=attachments)], "failures": []}
    )
    interface = {"NetworkInterfaceId": "eni-0123456789abcdef0"}
    if public_ip:
        interface["Association"] = {"PublicIp": public_ip}
    for _ in range(interface_checks):
        stub("ec2").add_response(
            "describe_network_interfaces", {"NetworkInterfaces": [interface]}
        )
    stub("ecs").add_response(
        "describe_task_definition",
        {
            "taskDefinition": {
                "containerDefinitions": [
                    {"name": "sd-apiserver", "portMappings": [{"containerPort": 9090}]}
                ]
            }
        },
    )
    return run(describe_task, "--interval", "0", *argv)


def test_describe_task_without_public_ip_disabled(stub, stub_settings, run):
    stub_settings.setenv("ASSIGN_PUBLIC_IP", "DISABLED")
    stub("ecs").add_response("list_tasks", {"taskArns": [TASK_ARN]})
    result = _describe_running(stub, run)
    assert result.code == 0
    assert "no public IP because ASSIGN_PUBLIC_IP=DISABLED; private IP 10.0.1.25" in result.err
    [summary] = result.json()["tasks"]
    assert summary["publicIp"] is None and summary["endpoint"] == "10.0.1.25:9090"


def test_describe_task_without_public_ip_private_subnet(stub, stub_settings, run):
    stub("ecs").add_response("list_tasks", {"taskArns": [TASK_ARN]})
    # A public IP may show late: looked for again, a bounded number of times.
    result = _describe_running(stub, run, interface_checks=1 + describe_task.PUBLIC_IP_CHECKS)
    assert result.code == 0
    assert "subnet subnet-0123456789abcdef0 gave it none (a private subnet?" in result.err


def test_describe_task_reports_a_stopped_task(stub, stub_settings, run):
    stub("ecs").add_response("list_tasks", {"taskArns": [TASK_ARN]})
    stub("ecs").add_response("describe_tasks", {"tasks": [_task("PENDING")], "failures": []})
    stopped = _task(
        "STOPPED",
        stopCode="TaskFailedToStart",
        stoppedReason="CannotPullContainerError: pull image manifest has been retried 5 time(s)",
        containers=[
            {
                "name": "sd-apiserver",
                "reason": "CannotPullContainerError: i/o timeout",
                "exitCode": 1,
            }
        ],
    )
    stub("ecs").add_response("describe_tasks", {"tasks": [stopped], "failures": []})
    result = run(describe_task, "--interval", "0")
    assert result.code == 1
    assert "stopCode: TaskFailedToStart" in result.err
    assert "stoppedReason: CannotPullContainerError: pull image manifest" in result.err
    assert (
        "container sd-apiserver: exit code 1, reason: CannotPullContainerError: i/o timeout"
        in result.err
    )
    assert "hint: the task could not pull the image" in result.err
    assert (
        result.err.strip().splitlines()[-1]
        == "error: the task stopped instead of running: see the reasons above"
    )
    assert result.out == ""


def test_describe_task_explains_a_task_that_already_stopped(ready, run):
    started = run(run_task).json()["tasks"][0]["taskArn"]
    ready.ecs.stop_task(
        cluster="sd-test", task=started, reason="Essential container in task exited"
    )
    result = run(describe_task, "--interval", "0")
    assert result.code == 1
    assert "stoppedReason: Essential container in task exited" in result.err


def test_describe_task_times_out(stub, stub_settings, run):
    stub("ecs").add_response("list_tasks", {"taskArns": [TASK_ARN]})
    stub("ecs").add_response("describe_tasks", {"tasks": [_task("PROVISIONING")], "failures": []})
    result = run(describe_task, "--interval", "1", "--timeout", "0.5")
    assert result.code == 1
    assert "error: gave up after 0s: 0f1e2d3c PROVISIONING" in result.err  # rounded


def test_describe_task_with_nothing_started(aws, run):
    assert run(create_cluster).code == 0
    result = run(describe_task, "--interval", "0.1")
    assert result.code == 1
    assert "no task of ours in cluster sd-test: start one with run_task.py" in result.err


def test_describe_task_unknown_task_id(ready, run):
    result = run(describe_task, "nonexistent", "--interval", "0")
    assert result.code == 1
    assert "ECS does not know task(s) nonexistent" in result.err


# --- stop_task.py


def test_stop_task_nothing_running(aws, run):
    assert run(create_cluster).code == 0
    result = run(stop_task, "--interval", "0.1")
    assert result.code == 0
    assert "nothing to stop" in result.err
    assert result.json() == {"tasks": []}


def test_stop_task_stops_every_task_of_ours_and_only_ours(ready, run):
    assert run(run_task, "--count", "2").code == 0
    foreign = ready.ecs.run_task(
        cluster="sd-test",
        taskDefinition="sd-apiserver",
        launchType="FARGATE",
        networkConfiguration={
            "awsvpcConfiguration": {
                "subnets": [ready.subnet_id],
                "securityGroups": [ready.group_id],
            }
        },
    )["tasks"][0]["taskArn"]
    result = run(stop_task, "--interval", "0")
    assert result.code == 0
    assert len(result.json()["tasks"]) == 2
    assert result.err.count("is STOPPED") == 2
    assert ready.ecs.list_tasks(cluster="sd-test", desiredStatus="RUNNING")["taskArns"] == [foreign]

    refused = run(delete_cluster)
    assert refused.code == 1 and "stop_task.py" in refused.err
    assert run(stop_task, "--all", "--interval", "0").code == 0
    assert ready.ecs.list_tasks(cluster="sd-test", desiredStatus="RUNNING")["taskArns"] == []


def test_stop_task_waits_for_stopped(stub, stub_settings, run, monkeypatch):
    monkeypatch.setenv("ECS_GRACE_SECONDS", "0")  # one listing after the stop, at once
    stub("ecs").add_response("list_tasks", {"taskArns": [TASK_ARN]})
    stub("ecs").add_response("stop_task", {"task": _task("RUNNING")})
    stub("ecs").add_response("list_tasks", {"taskArns": []})  # the listing after the grace
    stub("ecs").add_response("describe_tasks", {"tasks": [_task("DEPROVISIONING")], "failures": []})
    stub("ecs").add_response(
        "describe_tasks",
        {
            "tasks": [_task("STOPPED", stoppedAt=datetime.datetime(2026, 11, 25, 12, 0))],
            "failures": [],
        },
    )
    result = run(stop_task, "--interval", "0")
    assert result.code == 0
    assert "waiting: 0f1e2d3c DEPROVISIONING" in result.err
    assert result.json()["tasks"][0]["lastStatus"] == "STOPPED"


# --- delete_cluster.py


def test_delete_cluster_refuses_while_tasks_run(ready, run):
    assert run(run_task).code == 0
    result = run(delete_cluster)
    assert result.code == 1
    assert "cluster sd-test still has 1 running task(s): stop them with stop_task.py" in result.err
    assert ready.ecs.describe_clusters(clusters=["sd-test"])["clusters"][0]["status"] == "ACTIVE"


def test_delete_cluster_already_gone(aws, run):
    result = run(delete_cluster)
    assert result.code == 0
    assert "does not exist (already deleted?)" in result.err
    assert run(create_cluster).code == 0
    assert run(delete_cluster).code == 0
    again = run(delete_cluster)
    assert again.code == 0 and "already deleted" in again.err


def test_delete_cluster_when_aws_refuses(stub, stub_settings, run):
    stub("ecs").add_response(
        "describe_clusters",
        {"clusters": [{"clusterName": "sd-test", "status": "ACTIVE"}], "failures": []},
    )
    stub("ecs").add_response("list_tasks", {"taskArns": []})
    stub("ecs").add_client_error(
        "delete_cluster",
        "ClusterContainsTasksException",
        "The Cluster cannot be deleted while Tasks are active.",
    )
    result = run(delete_cluster)
    assert result.code == 1
    assert result.err.strip() == (
        "error: cluster sd-test still has running tasks: stop them with stop_task.py "
        "(--all for tasks not started by run_task.py), then run this again"
    )
