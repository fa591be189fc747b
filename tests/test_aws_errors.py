"""AWS failures end in one line on stderr that keeps the AWS error code, exit 1, no traceback."""

from plumbing import clients, exit_codes

import os
import socket
import subprocess
import sys

import pytest

import describe_clusters
import list_tasks
from conftest import ROOT

SECRET = os.environ["AWS_SECRET_ACCESS_KEY"]


def assert_one_line_failure(result, *fragments):
    assert result.code == exit_codes.EXIT_FAILED, result
    lines = result.err.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: "), result.err
    for fragment in fragments:
        assert fragment in lines[0], (fragment, lines[0])
    assert SECRET not in result.err + result.out


@pytest.fixture
def cluster_set(clean_settings):
    clean_settings.setenv("CLUSTER_NAME", "sd-test")
    return clean_settings


def test_no_credentials(cluster_set, run):
    cluster_set.delenv("AWS_ACCESS_KEY_ID")
    cluster_set.delenv("AWS_SECRET_ACCESS_KEY")
    result = run(describe_clusters)
    assert_one_line_failure(result, "no AWS credentials found", "(NoCredentialsError)")


@pytest.mark.parametrize("variable", ["AWS_PROFILE_NAME", "AWS_PROFILE"])
def test_unknown_profile(cluster_set, run, variable):
    cluster_set.setenv(variable, "nope")
    result = run(describe_clusters)
    assert_one_line_failure(result, "AWS profile 'nope' not found", "(ProfileNotFound)")


def test_no_region(cluster_set, run):
    cluster_set.delenv("AWS_DEFAULT_REGION")
    result = run(describe_clusters)
    assert_one_line_failure(result, "no AWS region set", "(NoRegionError)")


def closed_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def test_unreachable_endpoint_fails_after_the_standard_retries(cluster_set, run, aws_calls):
    endpoint = f"http://127.0.0.1:{closed_port()}"
    cluster_set.setenv("AWS_ENDPOINT_URL", endpoint)
    attempts = []
    real_client = clients.client

    def counting_client(service):
        aws_client = real_client(service)
        aws_client.meta.events.register("before-send.*.*", lambda **_: attempts.append(1))
        return aws_client

    cluster_set.setattr(clients, "client", counting_client)
    result = run(describe_clusters)
    assert_one_line_failure(result, f"cannot reach AWS at {endpoint}", "(EndpointConnectionError)")
    assert len(attempts) == 3  # botocore's standard mode; legacy would try 5 times


def test_user_retry_settings_win(cluster_set):
    assert clients.client("ecs").meta.config.retries["mode"] == "standard"
    cluster_set.setenv("AWS_RETRY_MODE", "adaptive")
    assert clients.client("ecs").meta.config.retries["mode"] == "adaptive"


@pytest.mark.parametrize(
    "code, message, expected",
    [
        (
            "ExpiredTokenException",
            "The security token included in the request is expired",
            "your AWS credentials have expired",
        ),
        (
            "AccessDeniedException",
            "User: arn:aws:iam::123456789012:user/me is not authorized to perform: ecs:DescribeClusters on resource: *",
            "access denied: your AWS identity is not allowed ecs:DescribeClusters",
        ),
        (
            "AccessDeniedException",
            "Access denied",
            "not allowed the permission for DescribeClusters",
        ),
        (
            "UnrecognizedClientException",
            "The security token included in the request is invalid.",
            "AWS did not accept your credentials",
        ),
        (
            "ClusterNotFoundException",
            "Cluster not found.",
            "cluster sd-test not found: create it with create_cluster.py",
        ),
        (
            "InvalidParameterException",
            "Invalid cluster name",
            "DescribeClusters failed: Invalid cluster name",
        ),
    ],
)
def test_aws_answers(cluster_set, stub, run, code, message, expected):
    stub("ecs").add_client_error("describe_clusters", code, message)
    result = run(describe_clusters)
    assert_one_line_failure(result, expected, f"({code})")


def test_cluster_not_found_from_local_ecs(aws, run):
    result = run(list_tasks)
    assert_one_line_failure(result, "cluster sd-test not found", "(ClusterNotFoundException)")


def test_ctrl_c(cluster_set, stub, run, monkeypatch):
    ecs = stub("ecs").client

    def interrupted(**_):
        raise KeyboardInterrupt

    monkeypatch.setattr(ecs, "describe_clusters", interrupted)
    result = run(describe_clusters)
    assert result.code == 130 and result.err.strip() == "interrupted"


def test_no_traceback_from_a_real_process(tmp_path):
    env = {
        **os.environ,
        "CLUSTER_NAME": "sd-test",
        "AWS_ENDPOINT_URL": f"http://127.0.0.1:{closed_port()}",
    }
    result = subprocess.run(
        [sys.executable, str(ROOT / "create_cluster.py")],
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode == 1
    assert result.stdout == ""
    assert result.stderr.count("\n") == 1 and "(EndpointConnectionError)" in result.stderr
