"""The steps against a local AWS that behaves as AWS documents, not as moto forgives.

Each test runs the step scripts through the fault proxy with `LikeAws` (faults/aws_like.py)
playing one documented behaviour of real AWS that moto lacks, and checks what the scripts do.
"""

from __future__ import annotations

import re
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

import check_prerequisites
import constants
import create_cluster
import create_prerequisites
import describe_task
import register_task_definition
import run_task
import stop_task
from conftest import start_local_server, stop_local_server
from faults.aws_like import moto_arn
from rehearsal import local_aws


def _start(run) -> str:
    assert run(create_cluster).code == 0
    assert run(register_task_definition).code == 0
    started = run(run_task)
    assert started.code == 0, started.err
    return started.json()["tasks"][0]["taskArn"]


_servers: list = []  # the local API servers a test started, stopped after it


@pytest.fixture(autouse=True)
def _stop_servers():
    yield
    while _servers:
        stop_local_server(_servers.pop())


def _public_ip(fargate, cluster: str, arn: str) -> str:
    """What Fargate does and moto does not: a public IP on the task's interface, and the server
    listening there (describe_task.py's ready check asks it)."""
    public_ip = local_aws.give_public_ip(
        fargate.server.client("ecs"), fargate.server.client("ec2"), cluster, moto_arn(arn)
    )
    _servers.append(
        start_local_server(Path("."), "tcp", "--host", public_ip, "--license", "test", port=9090)
    )
    return public_ip


def test_the_steps_see_task_ids_of_the_real_shape(through_proxy, like_aws, run):
    arn = _start(run)
    assert re.fullmatch(rf"arn:aws:ecs:us-east-1:123456789012:task/{through_proxy}/[0-9a-f]{{32}}", arn)
    assert moto_arn(arn).rsplit("/", 1)[1].replace("-", "") == arn.rsplit("/", 1)[1]
    assert moto_arn(arn) != arn


# --- 1. eventual consistency right after RunTask; 2. a public IP that comes late


def test_describe_task_waits_through_the_lag_the_start_and_a_late_public_ip(
    through_proxy, like_aws, fargate, run
):
    arn = _start(run)
    public_ip = _public_ip(fargate, through_proxy, arn)
    result = run(describe_task, "--interval", "0")
    assert result.code == 0, result.err
    # Unlisted, then unknown (MISSING), then PROVISIONING, PENDING, RUNNING: all "not yet".
    err = result.err
    order = [
        f"no task of ours listed in cluster {through_proxy} yet",
        "not known to ECS yet",
        "PROVISIONING",
        "PENDING",
        "waiting for its public IP to show",
        f"is RUNNING at {public_ip}",
    ]
    positions = [err.index(text) for text in order]
    assert positions == sorted(positions), err
    [task] = result.json()["tasks"]
    assert task["taskArn"] == arn and task["publicIp"] == public_ip


def test_describe_task_never_explains_an_older_stop_in_place_of_the_new_task(
    through_proxy, like_aws, fargate, run
):
    old = _start(run)
    fargate.server.client("ecs").stop_task(
        cluster=through_proxy, task=moto_arn(old), reason="Essential container in task exited"
    )
    new = run(run_task).json()["tasks"][0]["taskArn"]  # unlisted, then MISSING, for a while
    _public_ip(fargate, through_proxy, new)
    result = run(describe_task, "--interval", "0")
    assert result.code == 0, result.err
    assert "stoppedReason" not in result.err and "stopped" not in result.err
    assert [task["taskArn"] for task in result.json()["tasks"]] == [new]


def test_describe_task_explains_the_newest_stopped_task_when_none_runs(
    through_proxy, like_aws, fargate, run
):
    ecs = fargate.server.client("ecs")
    first = _start(run)
    ecs.stop_task(cluster=through_proxy, task=moto_arn(first), reason="first")
    second = run(run_task).json()["tasks"][0]["taskArn"]
    ecs.stop_task(
        cluster=through_proxy, task=moto_arn(second), reason="Essential container in task exited"
    )
    result = run(describe_task, "--interval", "0")
    assert result.code == 1
    assert f"the newest that stopped is {second.rsplit('/', 1)[-1]}" in result.err
    assert "stoppedReason: Essential container in task exited" in result.err
    assert "stoppedReason: first" not in result.err


def test_a_task_ecs_never_knows_ends_the_wait_after_a_bounded_grace(
    through_proxy, like_aws, aws_proxy, run
):
    assert run(create_cluster).code == 0
    unknown = "0123456789abcdef0123456789abcdef"
    started = time.monotonic()
    result = run(describe_task, unknown, "--interval", "0")
    assert result.code == 1
    assert f"ECS does not know task(s) {unknown}" in result.err
    assert "ECS_GRACE_SECONDS" in result.err and "CLUSTER_NAME" in result.err
    assert time.monotonic() - started >= constants.ECS_GRACE_SECONDS  # looked for the whole grace
    assert aws_proxy.count("DescribeTasks") >= 2


# AWS's lag is seconds, however often a script asks: the grace must be seconds too, whatever
# --interval (the reviewer's case: --interval 0.5 used to give up after two seconds).
@pytest.mark.parametrize("interval", ["0", "0.5"])
def test_a_lag_in_seconds_is_waited_out_whatever_the_interval(
    through_proxy, like_aws, fargate, run, clean_settings, interval
):
    clean_settings.setenv("ECS_GRACE_SECONDS", "8")
    like_aws.lag_seconds = 3
    ecs = fargate.server.client("ecs")
    old = _start(run)
    ecs.stop_task(cluster=through_proxy, task=moto_arn(old), reason="Essential container in task exited")
    time.sleep(3)  # the old task is long known everywhere
    new = run(run_task).json()["tasks"][0]["taskArn"]
    _public_ip(fargate, through_proxy, new)
    result = run(describe_task, "--interval", interval)
    assert result.code == 0, result.err
    assert "newest that stopped" not in result.err and "stoppedReason" not in result.err
    assert [task["taskArn"] for task in result.json()["tasks"]] == [new]


def test_stop_task_stops_a_task_listed_only_after_the_others(
    through_proxy, like_aws, fargate, run, clean_settings
):
    """One task listed, one started a moment ago and not listed yet: both are stopped."""
    clean_settings.setenv("ECS_GRACE_SECONDS", "6")
    first = _start(run)
    time.sleep(1)
    like_aws.lag_seconds = 3
    second = run(run_task, "--force").json()["tasks"][0]["taskArn"]
    result = run(stop_task, "--interval", "0.5")
    assert result.code == 0, result.err
    assert "listed only now" in result.err
    stopped = {task["taskArn"] for task in result.json()["tasks"]}
    assert stopped == {first, second}
    assert fargate.running(through_proxy) == []


def test_stop_task_right_after_a_start_finds_and_stops_the_unlisted_task(
    through_proxy, like_aws, fargate, run
):
    arn = _start(run)
    result = run(stop_task, "--interval", "0")
    assert result.code == 0, result.err
    assert "looking again" in result.err and "nothing to stop" not in result.err
    assert [task["taskArn"] for task in result.json()["tasks"]] == [arn]
    assert fargate.running(through_proxy) == []


@pytest.mark.parametrize("script", [describe_task, stop_task], ids=lambda s: s.__name__)
def test_the_grace_stays_within_the_timeout(through_proxy, like_aws, run, clean_settings, script):
    clean_settings.setenv("ECS_GRACE_SECONDS", "15")  # AWS's default, longer than the timeout
    assert run(create_cluster).code == 0
    # Nothing runs: the grace would look again, pausing 1, 2, 4 s; --timeout 1.5 cuts it short.
    started = time.monotonic()
    result = run(script, "--interval", "5", "--timeout", "1.5")
    assert time.monotonic() - started < 1.5 + 1
    assert result.code == (1 if script is describe_task else 0)
    last = result.err.strip().splitlines()[-1]
    if script is describe_task:  # what it was waiting for when the time ran out
        assert last.startswith("error: gave up after 2s: no task of ours listed in cluster")
    else:  # stop_task.py stops looking before the time is up: nothing to stop
        assert last.endswith("nothing to stop")


def test_the_prerequisites_fixture_account_has_the_service_linked_role(fargate):
    roles = fargate.server.client("iam").list_roles(
        PathPrefix="/aws-service-role/ecs.amazonaws.com/"
    )["Roles"]
    assert roles


# --- 3. IAM takes seconds to propagate


@pytest.fixture
def quick_iam_retries(monkeypatch):
    from plumbing import iam_propagation

    monkeypatch.setattr(iam_propagation, "FIRST_PAUSE", 0.01)
    return iam_propagation


def _made_prerequisites(run, clean_settings) -> dict[str, str]:
    made = run(create_prerequisites, "--cidr", "203.0.113.7/32")
    assert made.code == 0, made.err
    lines = dict(line.split("=", 1) for line in made.out.strip().splitlines())
    for name, value in lines.items():
        clean_settings.setenv(name, value)
    return lines


def test_a_role_just_made_is_waited_for_then_used(
    through_proxy, like_aws, aws_proxy, run, clean_settings, quick_iam_retries
):
    _made_prerequisites(run, clean_settings)  # the role is new or changed: ECS sees it late
    assert run(create_cluster).code == 0
    registered = run(register_task_definition)
    assert registered.code == 0, registered.err
    assert registered.err.count("ECS cannot assume") == like_aws.iam_lag
    assert "takes seconds to reach ECS; trying again" in registered.err
    assert aws_proxy.count("RegisterTaskDefinition") == like_aws.iam_lag + 1

    _made_prerequisites(run, clean_settings)  # changed again, just before RunTask
    started = run(run_task)
    assert started.code == 0, started.err
    assert started.err.count("ECS cannot assume") == like_aws.iam_lag
    assert len(started.json()["tasks"]) == 1


def test_a_role_ecs_never_may_assume_ends_in_one_line_naming_the_trust_policy(
    through_proxy, like_aws, run, clean_settings, quick_iam_retries, monkeypatch
):
    monkeypatch.setattr(quick_iam_retries, "PROPAGATION_SECONDS", 0.1)
    role = _made_prerequisites(run, clean_settings)["TASK_EXEC_ROLE"]
    like_aws.roles[role.rsplit("/", 1)[-1]] = 1_000
    result = run(register_task_definition)
    assert result.code == 1
    last = result.err.strip().splitlines()[-1]
    assert last.startswith(f"error: ECS cannot assume role {role} (tried for")
    assert "trust policy must let ecs-tasks.amazonaws.com assume it" in last
    assert "iam:PassRole" in last and last.endswith("(ClientException)")


def test_a_task_started_before_its_secret_policy_spread_is_explained_then_runs_again(
    through_proxy, fargate, aws_proxy, run, clean_settings, quick_iam_retries
):
    from faults.aws_like import LikeAws

    LikeAws(aws_proxy, fargate.server.endpoint, secret_lag=1)
    name = f"/sd-spread/{through_proxy}"
    fargate.server.client("ssm").put_parameter(Name=name, Value="k", Type="SecureString")
    clean_settings.setenv("LICENSE_SECRET", name)
    _made_prerequisites(run, clean_settings)  # the policy to read the secret: just now
    assert run(create_cluster).code == 0
    assert run(register_task_definition).code == 0
    first = run(run_task).json()["tasks"][0]["taskArn"]
    explained = run(describe_task, first, "--interval", "0")
    assert explained.code == 1
    assert "unable to pull secrets" in explained.err
    assert "IAM may not have reached ECS yet: start a new task with run_task.py" in explained.err
    second = run(run_task)  # a minute later, as the hint says: the policy has spread
    assert second.code == 0, second.err
    arn = second.json()["tasks"][0]["taskArn"]
    _public_ip(fargate, through_proxy, arn)
    assert run(describe_task, arn, "--interval", "0").code == 0


# --- 4. an account without ECS's service-linked role


@pytest.fixture
def new_account(fargate, aws_proxy):
    """An account that never used ECS: no service-linked role, and no right to make one by the way."""
    from faults.aws_like import LikeAws

    return LikeAws(aws_proxy, fargate.server.endpoint, service_linked_role=False)


def test_an_account_without_the_service_linked_role(
    through_proxy, new_account, run, clean_settings, quick_iam_retries, monkeypatch
):
    monkeypatch.setattr(quick_iam_retries, "PROPAGATION_SECONDS", 0.1)
    checked = run(check_prerequisites)
    assert checked.code == 1
    [problem] = [f for f in checked.json()["findings"] if f["status"] == "problem"]
    assert "no ECS service-linked role (AWSServiceRoleForECS)" in problem["message"]
    assert "create_prerequisites.py" in problem["fix"]
    assert "aws iam create-service-linked-role --aws-service-name ecs.amazonaws.com" in problem["fix"]

    assert run(create_cluster).code == 0
    assert run(register_task_definition).code == 0
    refused = run(run_task)
    assert refused.code == 1
    last = refused.err.strip().splitlines()[-1]
    assert "service-linked role AWSServiceRoleForECS" in last
    assert "create_prerequisites.py" in last and "create-service-linked-role" in last
    assert last.endswith("(InvalidParameterException)")

    monkeypatch.setattr(quick_iam_retries, "PROPAGATION_SECONDS", 45)
    _made_prerequisites(run, clean_settings)
    assert run(check_prerequisites).code == 0
    started = run(run_task)
    assert started.code == 0, started.err
    assert "ECS cannot assume AWSServiceRoleForECS yet" in started.err


@pytest.mark.parametrize("denied", ["CreateServiceLinkedRole", "ListRoles"])
def test_a_caller_who_may_not_make_the_service_linked_role_still_gets_the_rest(
    through_proxy, new_account, aws_proxy, run, denied
):
    """The group and execution role are made and the lines for .env printed; the missing
    service-linked role is a warning naming who must make it and how."""
    message = f"User: arn:aws:iam::123456789012:user/dev is not authorized to perform: iam:{denied}"
    aws_proxy.error(denied, "AccessDenied", message, status=403)
    made = run(create_prerequisites, "--cidr", "203.0.113.7/32")
    assert made.code == 0, made.err
    names = {line.split("=", 1)[0] for line in made.out.strip().splitlines()}
    assert names == {"SUBNET_NAME", "SEC_GROUP_NAME", "TASK_EXEC_ROLE"}
    [warning] = [line for line in made.err.splitlines() if line.startswith("warning: could not")]
    assert "AWSServiceRoleForECS" in warning and "create-service-linked-role" in warning


# --- 5. Fargate's cpu/memory table


def test_the_settings_accept_exactly_fargates_sizes(clean_settings):
    import constants
    from faults.aws_like import FARGATE_SIZES

    assert set(constants.FARGATE_MEMORY) == set(FARGATE_SIZES)
    for cpu, sizes in FARGATE_SIZES.items():
        clean_settings.setenv("TASK_CPU", str(cpu))
        for memory in range(256, 123904, 256):
            clean_settings.setenv("TASK_MEMORY", str(memory))
            try:
                constants.check("TASK_MEMORY")
            except constants.SettingError as error:
                assert memory not in sizes, (cpu, memory)
                assert f"with TASK_CPU={cpu} Fargate allows" in str(error)
            else:
                assert memory in sizes, (cpu, memory)


def test_a_size_fargate_refuses_is_refused_before_aws(through_proxy, like_aws, aws_proxy, run, clean_settings):
    clean_settings.setenv("TASK_CPU", "256")
    clean_settings.setenv("TASK_MEMORY", "1536")
    result = run(register_task_definition)
    assert result.code == 2
    assert "with TASK_CPU=256 Fargate allows 512, 1024 or 2048 MiB" in result.err
    assert aws_proxy.count("RegisterTaskDefinition") == 0


def test_the_local_aws_refuses_what_fargate_refuses(through_proxy, like_aws, fargate, aws_proxy):
    import boto3
    from botocore.exceptions import ClientError

    ecs = boto3.client("ecs", endpoint_url=aws_proxy.endpoint)
    with pytest.raises(ClientError, match="No Fargate configuration exists"):
        ecs.register_task_definition(
            family="sd-size",
            requiresCompatibilities=["FARGATE"],
            networkMode="awsvpc",
            cpu="256",
            memory="1536",
            containerDefinitions=[{"name": "x", "image": "x", "memory": 1536}],
        )


# --- 7. a Secrets Manager ARN without its six-character suffix


def test_a_partial_secret_arn_gets_a_policy_for_the_real_secret(
    through_proxy, like_aws, fargate, run, clean_settings
):
    full = fargate.server.client("secretsmanager").create_secret(
        Name=f"sd/licence-{through_proxy}", SecretString="key"
    )["ARN"]
    partial = full[: -len("-AbCdEf")]
    clean_settings.setenv("LICENSE_SECRET", partial)
    _made_prerequisites(run, clean_settings)
    policy = fargate.server.client("iam").get_role_policy(
        RoleName="sd-apiserver-demo-execution", PolicyName="read-licence-secret"
    )["PolicyDocument"]
    [statement] = policy["Statement"]
    assert statement["Resource"] == full
    checked = run(check_prerequisites)
    assert f"can read LICENSE_SECRET {full}" in checked.err


# --- 8. partitions: China (aws-cn) and GovCloud (aws-us-gov) ARNs


ATTACHED = (
    b"<AttachRolePolicyResponse><ResponseMetadata><RequestId>0</RequestId></ResponseMetadata>"
    b"</AttachRolePolicyResponse>"
)


@pytest.mark.parametrize("partition", ["aws-cn", "aws-us-gov"])
def test_policy_arns_follow_the_callers_partition(
    through_proxy, like_aws, aws_proxy, fargate, run, clean_settings, partition
):
    def caller_elsewhere(call):
        status, headers, body = call.forward()
        return status, headers, body.replace(b"arn:aws:", f"arn:{partition}:".encode())

    attached = []

    def attach(call):  # moto holds no managed policy of another partition: note it, say done
        attached.append(call.params["PolicyArn"])
        return 200, [("Content-Type", "text/xml")], ATTACHED

    aws_proxy.play("GetCallerIdentity", caller_elsewhere)
    aws_proxy.play("AttachRolePolicy", attach)
    name = f"/sd-apiserver/{through_proxy}"
    fargate.server.client("ssm").put_parameter(Name=name, Value="k", Type="SecureString")
    clean_settings.setenv("LICENSE_SECRET", name)
    _made_prerequisites(run, clean_settings)
    assert attached == [
        f"arn:{partition}:iam::aws:policy/service-role/AmazonECSTaskExecutionRolePolicy"
    ]
    policy = fargate.server.client("iam").get_role_policy(
        RoleName="sd-apiserver-demo-execution", PolicyName="read-licence-secret"
    )["PolicyDocument"]
    secret_arn = f"arn:{partition}:ssm:us-east-1:123456789012:parameter{name}"
    assert policy["Statement"][0]["Resource"] == secret_arn
    checked = run(check_prerequisites)
    assert f"can read LICENSE_SECRET {secret_arn}" in checked.err


# --- every step, in the tutorial's order, against a local AWS that behaves like AWS


@pytest.fixture
def own_account(clean_settings):
    """A local AWS of its own (the delete at the end removes every group of ours in it)."""
    from conftest import Fargate
    from faults.aws_like import LikeAws
    from faults.aws_proxy import AwsFaultProxy

    server = local_aws.MotoServer().start()
    try:
        ready = local_aws.create_prerequisites(
            server.client("ec2"), server.client("iam"), 9090, "203.0.113.7/32"
        )
        account = Fargate(server, ready)
        with AwsFaultProxy(server.endpoint) as proxy:
            like_aws = LikeAws(proxy, server.endpoint)
            cluster = account.new_cluster()
            for name, value in {
                **account.settings(cluster),
                "AWS_ENDPOINT_URL": proxy.endpoint,
            }.items():
                clean_settings.setenv(name, value)
            yield account, cluster, like_aws
    finally:
        server.stop()


def test_the_whole_tutorial_through_a_local_aws_that_behaves_like_aws(
    own_account, run, clean_settings, quick_iam_retries
):
    import delete_cluster
    import delete_prerequisites
    import describe_clusters
    import list_task_definition
    import list_tasks
    import store_license

    fargate, through_proxy, like_aws = own_account
    clean_settings.setenv("SD_API_LICENSE_KEY", "a-licence-for-the-whole-tutorial")
    stored = run(store_license, "--name", f"/sd-tutorial/{through_proxy}")
    assert stored.code == 0, stored.err
    clean_settings.setenv("LICENSE_SECRET", stored.out.strip().split("=", 1)[1])
    clean_settings.delenv("SD_API_LICENSE_KEY")
    _made_prerequisites(run, clean_settings)
    checked = run(check_prerequisites)
    assert checked.code == 0, checked.err

    assert run(create_cluster).code == 0
    assert run(describe_clusters).code == 0
    registered = run(register_task_definition)  # the role was just made: ECS sees it late
    assert registered.code == 0 and "ECS cannot assume" in registered.err
    assert run(list_task_definition).code == 0
    started = run(run_task)
    assert started.code == 0, started.err
    [task] = started.json()["tasks"]
    listed = run(list_tasks)  # a moment after the start: not listed yet, and said so
    assert listed.json()["taskArns"] == [] and "may not be listed yet" in listed.err
    public_ip = _public_ip(fargate, through_proxy, task["taskArn"])
    found = run(describe_task, "--interval", "0")
    assert found.code == 0, found.err
    assert found.json()["tasks"][0]["endpoint"] == f"{public_ip}:9090"
    assert run(list_tasks).json()["taskArns"] == [task["taskArn"]]

    stopped = run(stop_task, "--interval", "0")
    assert stopped.code == 0, stopped.err
    assert run(delete_cluster).code == 0
    local_aws.release_task_network(fargate.server.client("ec2"), public_ip)  # Fargate's part
    deleted = run(delete_prerequisites)
    assert deleted.code == 0, deleted.err
    assert run(store_license, "--delete", "--name", f"/sd-tutorial/{through_proxy}").code == 0
    assert like_aws.refused  # the local AWS did refuse, as AWS would, and the steps went on


# --- signals during the new waits: one line, exit 128 + the signal


WAITS = {
    "describe_task.py": "no task of ours listed",  # the grace after a start
    "stop_task.py": "looking again",  # the grace before "nothing to stop"
    "run_task.py": "trying again in",  # IAM propagation
}


@pytest.mark.parametrize("signum", [signal.SIGINT, signal.SIGTERM, signal.SIGHUP], ids=lambda s: s.name)
@pytest.mark.parametrize("script", sorted(WAITS))
def test_a_signal_during_each_new_wait_ends_the_step_in_one_line(
    fargate, aws_proxy, like_aws, script, signum
):
    from conftest import ROOT, script_environment

    cluster = fargate.new_cluster()
    if script == "run_task.py":
        ecs = fargate.server.client("ecs")
        ecs.register_task_definition(
            family="sd-apiserver",
            executionRoleArn=fargate.ready.role_arn,
            requiresCompatibilities=["FARGATE"],
            networkMode="awsvpc",
            cpu="4096",
            memory="8192",
            containerDefinitions=[{"name": "sd-apiserver", "image": "x", "memory": 8192}],
        )
        like_aws.roles[fargate.ready.role_arn.rsplit("/", 1)[-1]] = 1_000  # never spreads
    process = subprocess.Popen(
        [sys.executable, str(ROOT / script)],
        # AWS's grace, not the tests' second: the signal lands inside it.
        env=script_environment(fargate, aws_proxy, cluster, ECS_GRACE_SECONDS="15"),
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        seen = []
        for line in process.stderr:
            seen.append(line)
            if WAITS[script] in line:
                break
        process.send_signal(signum)
        _, rest = process.communicate(timeout=30)
    finally:
        if process.poll() is None:
            process.kill()
            process.wait()
    err = "".join(seen) + rest
    assert process.returncode == 128 + signum, err
    assert "Traceback" not in err
    expected = "interrupted" if signum == signal.SIGINT else f"stopped by {signum.name}"
    assert err.strip().splitlines()[-1].startswith(expected), err
    assert fargate.running(cluster) == []  # nothing started behind the user's back
