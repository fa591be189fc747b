"""logs.py against a CloudWatch Logs that throttles, fails or hangs (the fault proxy in front of
moto_server, speaking Logs' JSON protocol), and stop signals during a --follow."""

from __future__ import annotations

import signal
import subprocess
import sys
import time

import pytest

import logs as logs_script
from conftest import ROOT, script_environment
from test_aws_faults import assert_one_error_line

GROUP = "/ecs/sd-apiserver"
LOGGING = {
    "logDriver": "awslogs",
    "options": {
        "awslogs-group": GROUP,
        "awslogs-region": "us-east-1",
        "awslogs-stream-prefix": "sd-apiserver",
    },
}


def start_logged_task(fargate, cluster: str, *messages: str) -> str:
    """A running task whose definition logs as register_task_definition.py's does, with lines."""
    ecs, logs = fargate.server.client("ecs"), fargate.server.client("logs")
    ecs.register_task_definition(
        family="sd-apiserver",
        requiresCompatibilities=["FARGATE"],
        networkMode="awsvpc",
        cpu="4096",
        memory="8192",
        containerDefinitions=[
            {
                "name": "sd-apiserver",
                "image": "x",
                "memory": 8192,
                "cpu": 4096,
                "logConfiguration": LOGGING,
            }
        ],
    )
    [task] = ecs.run_task(
        cluster=cluster,
        taskDefinition="sd-apiserver",
        launchType="FARGATE",
        startedBy="sd-apiserver-demo",
        networkConfiguration={
            "awsvpcConfiguration": {
                "subnets": [fargate.ready.subnet_id],
                "securityGroups": [fargate.ready.group_id],
            }
        },
    )["tasks"]
    arn = task["taskArn"]
    if not logs.describe_log_groups(logGroupNamePrefix=GROUP)["logGroups"]:
        logs.create_log_group(logGroupName=GROUP)
    stream = f"sd-apiserver/sd-apiserver/{arn.rsplit('/', 1)[-1]}"
    logs.create_log_stream(logGroupName=GROUP, logStreamName=stream)
    if messages:
        now = int(time.time() * 1000)
        logs.put_log_events(
            logGroupName=GROUP,
            logStreamName=stream,
            logEvents=[{"timestamp": now + n, "message": m} for n, m in enumerate(messages)],
        )
    return arn


def test_throttled_reads_are_retried(fargate, aws_proxy, through_proxy, run):
    start_logged_task(fargate, through_proxy, "hello")
    aws_proxy.throttle("GetLogEvents", times=2)
    result = run(logs_script)
    assert result.code == 0, result.err
    assert result.out.rstrip().endswith(" hello")
    assert aws_proxy.count("GetLogEvents") == 3


def test_a_failing_logs_service_ends_in_one_line(fargate, aws_proxy, through_proxy, run):
    start_logged_task(fargate, through_proxy, "hello")
    aws_proxy.server_error("GetLogEvents")
    result = run(logs_script)
    assert result.code == 1
    [line] = result.err.strip().splitlines()
    assert line.startswith("error: GetLogEvents failed") and "(ServiceUnavailableException)" in line


def test_access_denied_names_the_action(fargate, aws_proxy, through_proxy, run):
    start_logged_task(fargate, through_proxy, "hello")
    aws_proxy.error(
        "GetLogEvents",
        "AccessDeniedException",
        "User: arn:aws:iam::123456789012:user/me is not authorized to perform: "
        "logs:GetLogEvents on resource: arn:aws:logs:us-east-1:123456789012:log-group:/ecs/x",
    )
    result = run(logs_script)
    assert result.code == 1
    assert "not allowed logs:GetLogEvents" in result.err.strip().splitlines()[-1]


def test_a_hanging_logs_service_ends_within_the_call_timeout(
    fargate, aws_proxy, through_proxy, run, clean_settings
):
    start_logged_task(fargate, through_proxy, "hello")
    clean_settings.setenv("AWS_CALL_TIMEOUT", "2")
    aws_proxy.silence("GetLogEvents")
    start = time.monotonic()
    result = run(logs_script)
    assert time.monotonic() - start < 10
    assert result.code == 1
    [line] = result.err.strip().splitlines()
    assert "did not answer GetLogEvents within 2s" in line


def test_the_last_lines_of_describe_task_survive_a_failing_logs_service(
    fargate, aws_proxy, through_proxy, run
):
    import describe_task

    arn = start_logged_task(fargate, through_proxy, "dying")
    fargate.server.client("ecs").stop_task(
        cluster=through_proxy, task=arn, reason="Essential container in task exited"
    )
    aws_proxy.server_error("GetLogEvents")
    result = run(describe_task, "--interval", "0")
    assert result.code == 1
    assert "the server's lines of task" in result.err and "could not be read" in result.err
    assert "(ServiceUnavailableException)" in result.err
    assert result.err.strip().splitlines()[-1].startswith("error: the task ")


@pytest.mark.timeout(120)
@pytest.mark.parametrize(
    "signum, code, said",
    [
        (signal.SIGINT, 130, "interrupted"),
        (signal.SIGTERM, 143, "stopped by SIGTERM"),
        (signal.SIGHUP, 129, "stopped by SIGHUP"),
    ],
)
def test_a_signal_during_a_follow_ends_it_in_one_line(fargate, aws_proxy, signum, code, said):
    cluster = fargate.new_cluster()
    start_logged_task(fargate, cluster, "listening")
    process = subprocess.Popen(
        [sys.executable, "logs.py", "--follow", "--interval", "0.2"],
        cwd=ROOT,
        env=script_environment(fargate, aws_proxy, cluster),
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        # Well into the follow: several rounds of reads done.
        aws_proxy.wait_for("GetLogEvents", count=4, timeout=60)
        process.send_signal(signum)
        out, err = process.communicate(timeout=30)
    finally:
        if process.poll() is None:
            process.kill()
            process.communicate()
    assert process.returncode == code, err
    assert "listening" in out
    lines = err.strip().splitlines()
    assert lines[-1].startswith(said), err
    assert sum(said in line for line in lines) == 1 and "Traceback" not in err


# The faults every step meets on its ECS calls (test_aws_faults.py), on the Logs call.
LOGS_FAULTS = {
    "throttled": lambda proxy: proxy.throttle("GetLogEvents"),
    "server error": lambda proxy: proxy.server_error("GetLogEvents"),
    "dropped": lambda proxy: proxy.drop("GetLogEvents"),
    "html": lambda proxy: proxy.raw("GetLogEvents", 502, b"<html>Bad Gateway</html>", "text/html"),
    "garbage": lambda proxy: proxy.raw(
        "GetLogEvents", 200, b"\x00\xff{not json", "application/x-amz-json-1.1"
    ),
}


@pytest.mark.parametrize("fault", sorted(LOGS_FAULTS))
@pytest.mark.parametrize("follow", [False, True], ids=["read", "follow"])
def test_every_fault_on_the_logs_call_ends_in_one_line(
    fargate, aws_proxy, through_proxy, run, clean_settings, fault, follow
):
    start_logged_task(fargate, through_proxy, "hello")
    clean_settings.setenv("AWS_MAX_ATTEMPTS", "1")
    LOGS_FAULTS[fault](aws_proxy)
    result = run(logs_script, *(["--follow", "--interval", "0"] if follow else []))
    assert_one_error_line(result)
    assert "error: internal error" not in result.err and "Traceback" not in result.err


def test_an_empty_logs_answer_is_no_lines(fargate, aws_proxy, through_proxy, run):
    start_logged_task(fargate, through_proxy, "hello")
    aws_proxy.raw("GetLogEvents", 200, b"{}", "application/x-amz-json-1.1")
    result = run(logs_script)
    assert result.code == 0, result.err
    assert result.out == "" and "0 line(s) from /ecs/sd-apiserver" in result.err


@pytest.mark.parametrize("encoding", ["ascii", "cp1252"])
def test_any_console_encoding_shows_every_line(fargate, aws_proxy, encoding):
    cluster = fargate.new_cluster()
    start_logged_task(fargate, cluster, "ready \u2713 \u65e5\u672c", "caf\u00e9")
    result = subprocess.run(
        [sys.executable, "logs.py"],
        cwd=ROOT,
        env=script_environment(fargate, aws_proxy, cluster, PYTHONIOENCODING=encoding),
        capture_output=True,
        timeout=60,
    )
    assert result.returncode == 0, result.stderr
    shown = result.stdout.decode(encoding).splitlines()
    assert shown[0].endswith(" ready \\u2713 \\u65e5\\u672c")
    assert shown[1].endswith(" caf\u00e9" if encoding == "cp1252" else " caf\\xe9")


def test_a_reader_that_goes_away_ends_it_quietly(fargate, aws_proxy):
    cluster = fargate.new_cluster()
    start_logged_task(fargate, cluster, *(f"line {n}" for n in range(3000)))
    process = subprocess.Popen(
        [sys.executable, "logs.py", "--lines", "3000"],
        cwd=ROOT,
        env=script_environment(fargate, aws_proxy, cluster),
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
    )
    process.stdout.readline()
    process.stdout.close()  # as `| head -1` does
    _, err = process.communicate(timeout=60)
    assert process.returncode == 0, err
    assert b"Traceback" not in err and b"error" not in err


@pytest.mark.timeout(120)
def test_a_signal_during_a_logs_call_names_it(fargate, aws_proxy):
    cluster = fargate.new_cluster()
    start_logged_task(fargate, cluster, "listening")
    aws_proxy.hold("GetLogEvents", seconds=120)
    process = subprocess.Popen(
        [sys.executable, "logs.py", "--follow"],
        cwd=ROOT,
        env=script_environment(fargate, aws_proxy, cluster),
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        aws_proxy.wait_for("GetLogEvents", timeout=60)
        time.sleep(0.2)
        process.send_signal(signal.SIGTERM)
        _, err = process.communicate(timeout=30)
    finally:
        if process.poll() is None:
            process.kill()
            process.communicate()
    assert process.returncode == 143, err
    [line] = err.strip().splitlines()
    assert line == "stopped by SIGTERM while waiting for AWS (GetLogEvents)"
