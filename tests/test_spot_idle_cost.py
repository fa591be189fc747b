"""Fargate Spot, the idle stop and the cost lines, through the step scripts.

moto plays ECS (capacity providers work there); botocore's Stubber gives what moto cannot:
start and stop times, a Spot interruption, a task the idle stop ended. moto has no Price List,
so the scripts fall back to the dated table, and say so.
"""

from __future__ import annotations

from plumbing import clients, exit_codes, pricing
from plumbing import lifetime as lifetime_limits

import itertools
from datetime import datetime, timedelta, timezone

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import constants
import create_cluster
import describe_task
import run_task
import stop_task

COST_CLUSTERS = itertools.count(1)
TASK_ARN = "arn:aws:ecs:us-east-1:123456789012:task/sd-test/0f1e2d3c"
DEF_ARN = "arn:aws:ecs:us-east-1:123456789012:task-definition/sd-apiserver:7"
TABLE = f"(prices: list prices of {pricing.LIST_PRICES_DATE} for us-east-1 shipped with this project"


@pytest.fixture
def run_task_requests(monkeypatch):
    """The parameters of every RunTask the scripts send."""
    requests: list[dict] = []
    real_client = clients.client

    def recording_client(service):
        aws_client = real_client(service)
        aws_client.meta.events.register(
            "provide-client-params.ecs.RunTask", lambda params, **_: requests.append(dict(params))
        )
        return aws_client

    monkeypatch.setattr(clients, "client", recording_client)
    return requests


# --- Fargate Spot


def test_a_new_cluster_gets_both_fargate_capacity_providers(aws, run):
    result = run(create_cluster)
    assert result.code == 0, result.err
    [cluster] = aws.ecs.describe_clusters(clusters=["sd-test"])["clusters"]
    assert cluster["capacityProviders"] == ["FARGATE", "FARGATE_SPOT"]
    assert "capacity providers: FARGATE, FARGATE_SPOT" in result.err


CLUSTER_ARN = "arn:aws:ecs:us-east-1:123456789012:cluster/sd-test"


def _cluster(providers, strategy=()):
    return {
        "cluster": {
            "clusterArn": CLUSTER_ARN,
            "clusterName": "sd-test",
            "status": "ACTIVE",
            "capacityProviders": list(providers),
            "defaultCapacityProviderStrategy": list(strategy),
        }
    }


def test_an_existing_cluster_is_left_as_it_is_without_spot(stub, clean_settings, run):
    clean_settings.setenv("CLUSTER_NAME", "sd-test")
    # CreateCluster answers an existing cluster as it is (played here: moto rewrites it).
    stub("ecs").add_response("create_cluster", _cluster([]))
    result = run(create_cluster)
    assert result.code == 0, result.err
    assert "added" not in result.err  # no PutClusterCapacityProviders: the Stubber has none


def test_an_existing_cluster_gets_spot_added_keeping_what_it_had(stub, clean_settings, run):
    clean_settings.setenv("CLUSTER_NAME", "sd-test")
    clean_settings.setenv("CAPACITY_PROVIDER", "fargate_spot")
    strategy = [{"capacityProvider": "my-asg", "weight": 1, "base": 0}]
    stub("ecs").add_response("create_cluster", _cluster(["my-asg"], strategy))
    stub("ecs").add_response(
        "put_cluster_capacity_providers",
        _cluster(["my-asg", "FARGATE", "FARGATE_SPOT"], strategy),
        {
            "cluster": "sd-test",
            "capacityProviders": ["my-asg", "FARGATE", "FARGATE_SPOT"],
            "defaultCapacityProviderStrategy": strategy,
        },
    )
    result = run(create_cluster)
    assert result.code == 0, result.err
    assert "added FARGATE_SPOT to the capacity providers" in result.err
    assert result.json()["cluster"]["capacityProviders"][-1] == "FARGATE_SPOT"


def test_spot_runs_through_the_capacity_provider_not_a_launch_type(
    ready, run, clean_settings, run_task_requests
):
    clean_settings.setenv("CAPACITY_PROVIDER", "FARGATE_SPOT")
    result = run(run_task)
    assert result.code == 0, result.err
    [request] = run_task_requests
    assert request["capacityProviderStrategy"] == [{"capacityProvider": "FARGATE_SPOT", "weight": 1}]
    assert "launchType" not in request
    assert "Fargate Spot priced as On-Demand, the most Spot costs" in result.err
    assert result.json()["cost"]["spot"] is True


def test_on_demand_keeps_the_launch_type(ready, run, run_task_requests):
    assert run(run_task).code == 0
    [request] = run_task_requests
    assert request["launchType"] == "FARGATE" and "capacityProviderStrategy" not in request


def test_an_unknown_capacity_provider_is_refused_before_aws(aws, run, clean_settings, aws_calls):
    clean_settings.setenv("CAPACITY_PROVIDER", "EC2")
    result = run(run_task)
    assert result.code == exit_codes.EXIT_BAD_SETTING
    [line] = result.err.splitlines()
    assert "CAPACITY_PROVIDER='EC2' (from the environment)" in line
    assert "FARGATE, FARGATE_SPOT" in line
    assert aws_calls == []


# --- what run_task.py says it costs


def test_run_task_says_what_the_task_costs_and_at_most(ready, run):
    result = run(run_task)
    assert result.code == 0, result.err
    assert (
        "cost: $0.20 an hour for 1 task (4 vCPU, 8 GiB, Fargate On-Demand, a public IPv4 "
        "address); at most $0.81 under its lifetime of 240 minutes, $0.11 if nobody connects "
        f"to it within 30 minutes {TABLE}, as the Price List API answered"
    ) in result.err
    cost = result.json()["cost"]
    assert cost["perHour"] == 0.2025 and cost["most"] == 0.8099 and cost["currency"] == "USD"
    assert result.json()["tasks"], "the JSON is still RunTask's answer"


def test_run_task_cost_for_several_tasks_without_limits(aws, run, clean_settings):
    clean_settings.setenv("TASK_LIFETIME_MINUTES", "0")
    clean_settings.setenv("TASK_IDLE_MINUTES", "0")
    clean_settings.setenv("ASSIGN_PUBLIC_IP", "DISABLED")
    import register_task_definition

    assert run(create_cluster).code == 0 and run(register_task_definition).code == 0
    result = run(run_task, "--count", "3")
    assert result.code == 0, result.err
    assert "cost: $0.59 an hour for 3 tasks (4 vCPU, 8 GiB, Fargate On-Demand); no most" in (
        result.err
    )
    assert result.json()["cost"]["most"] is None


# --- describe_task.py: cost so far, the idle stop, a Spot interruption


def _definition(lifetime=240, idle=30):
    return {
        "taskDefinition": {
            "cpu": "4096",
            "memory": "8192",
            "containerDefinitions": [
                {
                    "name": "lifetime",
                    "command": lifetime_limits.command(lifetime, idle, 9090),
                    "essential": True,
                },
                {"name": "sd-apiserver", "portMappings": [{"containerPort": 9090}]},
            ],
        }
    }


def _task(**extra):
    return {
        "taskArn": TASK_ARN,
        "taskDefinitionArn": DEF_ARN,
        "lastStatus": "RUNNING",
        "cpu": "4096",
        "memory": "8192",
        "attachments": [],
        **extra,
    }


@pytest.fixture
def stub_settings(clean_settings):
    clean_settings.setenv("CLUSTER_NAME", "sd-test")
    return clean_settings


def test_describe_task_says_what_a_running_task_cost_so_far(stub, stub_settings, run):
    started = datetime.now(timezone.utc) - timedelta(minutes=60)
    stub("ecs").add_response(
        "describe_tasks", {"tasks": [_task(pullStartedAt=started)], "failures": []}
    )
    stub("ecs").add_response("describe_task_definition", _definition())
    result = run(describe_task, TASK_ARN, "--interval", "0")
    assert result.code == 0, result.err
    [summary] = result.json()["tasks"]
    assert summary["idleMinutes"] == 30 and summary["lifetimeMinutes"] == 240
    cost = summary["cost"]
    # No public IP here: 4 vCPU and 8 GiB for an hour, three hours more at most.
    assert cost["perHour"] == 0.1975
    assert 0.1975 <= cost["soFar"] <= 0.1976
    assert 0.5924 <= cost["mostStill"] <= 0.5925
    assert "costs $0.20 an hour (Fargate On-Demand), $0.20 so far, at most $0.60 more" in (
        result.err
    )
    assert "it also stops after 30 minutes without a connection" in result.err


def _stopped(exit_code, stop_code="EssentialContainerExited", reason=None):
    return _task(
        lastStatus="STOPPED",
        stopCode=stop_code,
        stoppedReason=reason or "Essential container in task exited",
        containers=[
            {"name": "lifetime", "exitCode": exit_code},
            {"name": "sd-apiserver", "exitCode": 137},
        ],
    )


def test_a_task_the_idle_stop_ended_is_not_called_a_crash(stub, stub_settings, run):
    stub("ecs").add_response(
        "describe_tasks",
        {"tasks": [_stopped(lifetime_limits.IDLE_EXIT_CODE)], "failures": []},
    )
    stub("ecs").add_response("describe_task_definition", _definition(240, 30))
    result = run(describe_task, TASK_ARN, "--interval", "0")
    assert result.code == 1
    assert "ended after 30 minutes without a connection (TASK_IDLE_MINUTES)" in result.err
    assert "not a crash" in result.err and "hint:" not in result.err
    assert "ended after its lifetime" not in result.err
    assert "the task has ended, as nobody used it" in result.err


def test_a_task_whose_lifetime_ran_out_still_says_so(stub, stub_settings, run):
    stub("ecs").add_response("describe_tasks", {"tasks": [_stopped(0)], "failures": []})
    stub("ecs").add_response("describe_task_definition", _definition(90, 30))
    result = run(describe_task, TASK_ARN, "--interval", "0")
    assert result.code == 1
    assert "ended after its lifetime of 90 minutes" in result.err
    assert "without a connection" not in result.err and "hint:" not in result.err


def test_a_spot_interruption_is_explained(stub, stub_settings, run):
    interrupted = _task(
        lastStatus="STOPPED",
        stopCode="SpotInterruption",
        stoppedReason="Your Spot Task was interrupted.",
        capacityProviderName="FARGATE_SPOT",
        containers=[{"name": "lifetime", "exitCode": 137}, {"name": "sd-apiserver"}],
    )
    stub("ecs").add_response("describe_tasks", {"tasks": [interrupted], "failures": []})
    result = run(describe_task, TASK_ARN, "--interval", "0")
    assert result.code == 1
    assert "hint: AWS took back the Fargate Spot capacity" in result.err
    assert "two minutes' warning: not a crash" in result.err
    assert "CAPACITY_PROVIDER=FARGATE" in result.err


# --- stop_task.py: what the stopped tasks cost


def test_stop_task_says_what_each_stopped_task_cost(stub, stub_settings, run):
    stub_settings.setenv("ECS_GRACE_SECONDS", "0")  # one listing after the stop, at once
    began = datetime(2026, 12, 5, 12, 0, tzinfo=timezone.utc)
    stub("ecs").add_response("list_tasks", {"taskArns": [TASK_ARN]})
    stub("ecs").add_response("stop_task", {"task": _task()})
    stub("ecs").add_response("list_tasks", {"taskArns": []})  # the listing after the grace
    stopped = _task(
        lastStatus="STOPPED",
        pullStartedAt=began,
        stoppedAt=began + timedelta(minutes=30),
        capacityProviderName="FARGATE",
    )
    stub("ecs").add_response("describe_tasks", {"tasks": [stopped], "failures": []})
    result = run(stop_task, "--interval", "0")
    assert result.code == 0, result.err
    # Half an hour of 4 vCPU, 8 GiB and a public IPv4 address (ASSIGN_PUBLIC_IP's default).
    assert "task 0f1e2d3c is STOPPED; it cost $0.10" in result.err
    assert f"the stopped task(s) cost $0.10 in all {TABLE}" in result.err
    [task] = result.json()["tasks"]
    assert task["costUsd"] == 0.1012


def test_stop_task_against_moto_says_the_cost_is_unknown(ready, run):
    assert run(run_task).code == 0
    result = run(stop_task, "--interval", "0")
    assert result.code == 0, result.err
    assert "is STOPPED; it cost an unknown sum (no start time)" in result.err
    assert result.json()["tasks"][0]["costUsd"] is None


# --- step 0 says what a task costs; settings that defeat the idle stop are named


def test_step_0_says_what_a_task_costs(aws, run, clean_settings):
    import check_prerequisites

    clean_settings.setenv("CAPACITY_PROVIDER", "FARGATE_SPOT")
    result = run(check_prerequisites)
    assert result.code == 0, result.err
    assert "ok: cost: $0.20 an hour for 1 task (4 vCPU, 8 GiB, Fargate Spot" in result.err
    assert "ok: CAPACITY_PROVIDER=FARGATE_SPOT: AWS may take a Spot task back" in result.err
    assert {f["status"] for f in result.json()["findings"]} == {"ok"}


def test_step_0_warns_when_prices_may_not_be_asked(aws, run, monkeypatch):
    import boto3
    from botocore.stub import Stubber

    import check_prerequisites

    client = boto3.client("pricing", region_name="us-east-1")
    stubber = Stubber(client)
    stubber.add_client_error("get_products", service_error_code="AccessDeniedException")
    stubber.activate()
    monkeypatch.setattr(pricing, "pricing_client", lambda profile=None, budget=25: client)
    result = run(check_prerequisites)
    assert result.code == 0, result.err
    [line] = [line for line in result.err.splitlines() if line.startswith("warning: cost: ")]
    assert "as the Price List API answered AccessDeniedException" in line
    assert line.endswith("-> fix: allow your identity pricing:GetProducts for this region's own prices")
    stubber.assert_no_pending_responses()


def test_a_unix_socket_server_with_idle_stop_is_warned_about(aws, run, clean_settings):
    import check_prerequisites
    import register_task_definition

    clean_settings.setenv("SD_API_TRANSPORT", "2")
    result = run(register_task_definition)
    assert result.code == 0, result.err
    assert "no TCP connection is ever seen, so the task ends after 30 minutes" in result.err
    checked = run(check_prerequisites)
    assert "warning: with SD_API_TRANSPORT=2 no TCP connection is ever seen" in checked.err
    clean_settings.setenv("TASK_IDLE_MINUTES", "0")
    assert "no TCP connection" not in run(register_task_definition).err


# --- the Price List is a new AWS call after tasks started: Ctrl-C there, and silence there


def _started_cluster(fargate, clean_settings) -> str:
    """A fresh cluster with the task definition registered, as after steps 1 and 2."""
    import register_task_definition

    cluster = fargate.new_cluster()
    for name, value in {
        **fargate.settings(cluster),
        "AWS_ENDPOINT_URL": fargate.server.endpoint,
    }.items():
        clean_settings.setenv(name, value)
    assert register_task_definition.main([]) == 0
    return cluster


def test_ctrl_c_while_asking_prices_names_the_started_task(fargate, clean_settings, capsys):
    import signal
    import subprocess
    import sys

    from conftest import ROOT, script_environment
    from faults.aws_proxy import AwsFaultProxy

    cluster = _started_cluster(fargate, clean_settings)
    with AwsFaultProxy(fargate.server.endpoint) as proxy:
        proxy.hold("GetProducts", seconds=1.0, times=1)
        env = script_environment(fargate, proxy, cluster, PYTHONUNBUFFERED="1")
        process = subprocess.Popen(
            [sys.executable, "run_task.py"],
            cwd=ROOT,
            env=env,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        try:
            proxy.wait_for("GetProducts", timeout=60)
            process.send_signal(signal.SIGINT)
            _, err = process.communicate(timeout=60)
        finally:
            if process.poll() is None:
                process.kill()
                process.wait()
    assert process.returncode == 130, err
    assert "Traceback" not in err
    [running] = fargate.running(cluster)
    assert f"started task(s) {running.rsplit('/', 1)[-1]}: stop_task.py stops them" in err
    assert stop_task.main(["--interval", "0"]) == 0
    assert fargate.running(cluster) == []


def test_a_silent_price_list_costs_a_step_seconds_not_minutes(fargate, clean_settings):
    import subprocess
    import sys
    import time

    from conftest import ROOT, script_environment
    from faults.aws_proxy import AwsFaultProxy

    cluster = _started_cluster(fargate, clean_settings)
    with AwsFaultProxy(fargate.server.endpoint) as proxy:
        proxy.silence("GetProducts")
        env = script_environment(fargate, proxy, cluster, AWS_CALL_TIMEOUT="2")
        began = time.monotonic()
        done = subprocess.run(
            [sys.executable, "run_task.py"], cwd=ROOT, env=env, capture_output=True, text=True,
            timeout=120,
        )  # fmt: skip
        took = time.monotonic() - began
    assert done.returncode == 0, done.stderr
    assert "could not be asked (ReadTimeoutError)" in done.stderr
    assert took < 20, f"run_task.py took {took:.0f}s with the Price List silent"
    assert stop_task.main(["--interval", "0"]) == 0
    assert fargate.running(cluster) == []


# --- run_task.py's cost over any settings: what it says is the sum of what it started

SETTINGS_SIZES = st.sampled_from(
    [(cpu, memory) for cpu, memories in constants.FARGATE_MEMORY.items() for memory in memories]
)


@settings(
    max_examples=15, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(
    size=SETTINGS_SIZES,
    count=st.integers(1, 10),
    public_ip=st.sampled_from(["ENABLED", "DISABLED"]),
    provider=st.sampled_from(["FARGATE", "FARGATE_SPOT"]),
    lifetime=st.integers(0, 10080),
    idle=st.integers(0, 10080),
)
def test_run_task_cost_over_any_settings(
    aws, run, clean_settings, size, count, public_ip, provider, lifetime, idle
):
    import register_task_definition

    cluster = f"cost-{next(COST_CLUSTERS):05d}-x"  # fixed width: moto matches names as substrings
    for name, value in {
        "CLUSTER_NAME": cluster,
        "TASK_CPU": str(size[0]),
        "TASK_MEMORY": str(size[1]),
        "TASK_COUNT": str(count),
        "ASSIGN_PUBLIC_IP": public_ip,
        "CAPACITY_PROVIDER": provider,
        "TASK_LIFETIME_MINUTES": str(lifetime),
        "TASK_IDLE_MINUTES": str(idle),
    }.items():
        clean_settings.setenv(name, value)
    assert run(create_cluster).code == 0
    assert run(register_task_definition).code == 0
    result = run(run_task)
    assert result.code == 0, result.err
    started = result.json()["tasks"]
    assert len(started) == count
    prices = pricing.list_prices("us-east-1", "a test")
    spot, with_ip = provider == "FARGATE_SPOT", public_ip == "ENABLED"
    per_hour = count * pricing.hourly(prices, *size, spot, with_ip)
    cost = result.json()["cost"]
    assert cost["perHour"] == pricing.as_json(per_hour)
    assert cost["spot"] is spot and cost["publicIpv4"] is with_ip
    assert cost["most"] == (pricing.as_json(per_hour * lifetime / 60) if lifetime else None)
    expected_if_unused = idle and (not lifetime or idle < lifetime)
    assert cost["mostIfUnused"] == (
        pricing.as_json(per_hour * idle / 60) if expected_if_unused else None
    )
    [line] = [line for line in result.err.splitlines() if line.startswith("cost: ")]
    assert line.startswith(f"cost: {pricing.dollars(per_hour)} an hour for {count} task")
    assert ("Fargate Spot" in line) is spot and ("public IPv4" in line) is with_ip
    assert stop_task.main(["--interval", "0"]) == 0


BAD_IDLE = st.one_of(
    st.integers(10081, 10**9).map(str),
    st.integers(-(10**6), -1).map(str),
    st.sampled_from(["30m", "0.5", "1e3", "\u00b3", "0x10", "+5", "half an hour", "\u0663"]),
)


@settings(
    max_examples=10, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(value=BAD_IDLE)
def test_a_bad_idle_time_exits_2_with_nothing_registered(aws, run, clean_settings, aws_calls, value):
    import register_task_definition

    aws_calls.clear()
    clean_settings.setenv("TASK_IDLE_MINUTES", value)
    result = run(register_task_definition)
    assert result.code == exit_codes.EXIT_BAD_SETTING, (value, result.err)
    [line] = result.err.splitlines()
    assert line.startswith(f"error: TASK_IDLE_MINUTES={value!r} (from the environment)")
    assert "or 0 to keep an unused task until its lifetime" in line
    assert aws_calls == []
    assert aws.ecs.list_task_definitions()["taskDefinitionArns"] == []
