"""The steps against a local AWS that behaves as AWS documents, not as moto forgives.

Each test runs the step scripts through the fault proxy with `LikeAws` (faults/aws_like.py)
playing one documented behaviour of real AWS that moto lacks, and checks what the scripts do.
"""

from __future__ import annotations

import time

import pytest

import create_cluster
import describe_task
import register_task_definition
import run_task
import stop_task
from rehearsal import local_aws


def _start(run) -> str:
    assert run(create_cluster).code == 0
    assert run(register_task_definition).code == 0
    started = run(run_task)
    assert started.code == 0, started.err
    return started.json()["tasks"][0]["taskArn"]


def _public_ip(fargate, cluster: str, arn: str) -> str:
    """What Fargate does and moto does not: a public IP on the task's interface."""
    return local_aws.give_public_ip(
        fargate.server.client("ecs"), fargate.server.client("ec2"), cluster, arn
    )


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
        cluster=through_proxy, task=old, reason="Essential container in task exited"
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
    ecs.stop_task(cluster=through_proxy, task=first, reason="first")
    second = run(run_task).json()["tasks"][0]["taskArn"]
    ecs.stop_task(cluster=through_proxy, task=second, reason="Essential container in task exited")
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
    result = run(describe_task, unknown, "--interval", "0")
    assert result.code == 1
    assert f"ECS does not know task(s) {unknown}" in result.err
    assert aws_proxy.count("DescribeTasks") == describe_task.GRACE_CHECKS + 1


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
def test_the_grace_stays_within_the_timeout(through_proxy, like_aws, run, script):
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
