"""The ready check: describe_task.py asks the server from here, and says which hop fails.

Against the local API server (Thrift and REST) and against loopback peers that misbehave.
"""

from __future__ import annotations

from plumbing import ready

import socket
import threading
import time

import pytest

import describe_task
from conftest import start_local_server, stop_local_server
from rehearsal import local_aws

TASK_ARN = "arn:aws:ecs:us-east-1:123456789012:task/sd-test/0f1e2d3c4b5a69788796a5b4c3d2e1f0"
DEF_ARN = "arn:aws:ecs:us-east-1:123456789012:task-definition/sd-apiserver:3"


@pytest.fixture
def listener():
    """A loopback socket that accepts connections and never says a word."""
    sock = socket.create_server(("127.0.0.1", 0))
    accepted: list[socket.socket] = []
    stop = threading.Event()

    def accept() -> None:
        sock.settimeout(0.1)
        while not stop.is_set():
            try:
                accepted.append(sock.accept()[0])
            except OSError:
                continue

    thread = threading.Thread(target=accept)
    thread.start()
    yield sock.getsockname()[1]
    stop.set()
    thread.join()
    for each in accepted:
        each.close()
    sock.close()


@pytest.fixture
def thrift_server(tmp_path):
    server = start_local_server(tmp_path, "tcp", "--license", "test-licence")
    yield int(server.connection[server.connection.index("--port") + 1])
    stop_local_server(server)


def test_an_activated_thrift_server_is_ready(thrift_server):
    answer = ready.ask("127.0.0.1", thrift_server, ready.THRIFT)
    assert answer.hop == ready.READY, answer
    assert answer.status["activated"] is True and answer.status["version"]
    assert "activated" in answer.summary()


def test_an_inactive_server_fails_the_last_hop(inactive_server):
    port = int(inactive_server.connection[inactive_server.connection.index("--port") + 1])
    answer = ready.ask("127.0.0.1", port, ready.THRIFT)
    assert answer.hop == ready.ACTIVATED and answer.status["activated"] is False


def test_a_rest_server_answers_http(tmp_path):
    server = start_local_server(tmp_path, "rest", env={"SD_API_LICENSE_KEY": "test-licence"})
    try:
        port = int(server.connection[server.connection.index("--port") + 1])
        assert ready.ask("127.0.0.1", port, ready.REST).hop == ready.READY
        # A Thrift question to a REST server is not taken for an answer.
        assert ready.ask("127.0.0.1", port, ready.THRIFT, timeout=2).hop == ready.ANSWER
    finally:
        stop_local_server(server)


def test_nothing_listening_fails_the_first_hop():
    answer = ready.ask("127.0.0.1", local_aws.free_port(), ready.THRIFT)
    assert answer.hop == ready.CONNECT and answer.detail.startswith("refused")


def test_a_silent_peer_fails_the_answer_hop_within_the_timeout(listener):
    start = time.monotonic()
    answer = ready.ask("127.0.0.1", listener, ready.THRIFT, timeout=0.5)
    assert answer.hop == ready.ANSWER and "no answer within 0.5s" in answer.detail
    assert time.monotonic() - start < 3


@pytest.mark.parametrize(
    "reply",
    [
        b"HTTP/1.1 400 Bad Request\r\n\r\n",
        b"\x80\x01\x00\x02\x00\x00\x00\x09getStatus\x00\x00\x00\x01\x0c\x00\x00\x0b\x00\x01\x7f\xff\xff\xff",
        b"\x80\x01\x00\x03\x00\x00\x00\x09getStatus\x00\x00\x00\x01\x00",
        b"\x80\x01\x00\x02\x00\x00\x00\x09getStatus\x00\x00\x00\x01\x0f\x00\x00\x0c\x7f\xff\xff\xff",
        b"\x80\x01\x00\x02" + b"\x0c\x00\x00" * 40_000,
    ],
    ids=["http", "huge-string", "exception", "huge-list", "deep-and-long"],
)
def test_a_peer_that_is_not_the_server_is_said(reply):
    sock = socket.create_server(("127.0.0.1", 0))

    def serve() -> None:
        connection, _ = sock.accept()
        with connection:
            connection.recv(1024)
            connection.sendall(reply)
            time.sleep(0.3)

    thread = threading.Thread(target=serve)
    thread.start()
    try:
        answer = ready.ask("127.0.0.1", sock.getsockname()[1], ready.THRIFT, timeout=2)
    finally:
        thread.join()
        sock.close()
    assert answer.hop == ready.ANSWER, answer
    assert answer.detail.isprintable()


def test_a_peer_that_drips_its_answer_is_cut_off():
    sock = socket.create_server(("127.0.0.1", 0))
    stop = threading.Event()

    def serve() -> None:
        connection, _ = sock.accept()
        with connection:
            connection.recv(1024)
            for byte in b"\x80\x01\x00\x02\x00\x00\x00\x09getStatus" * 100:
                if stop.wait(0.1):
                    break
                connection.sendall(bytes([byte]))

    thread = threading.Thread(target=serve)
    thread.start()
    start = time.monotonic()
    try:
        answer = ready.ask("127.0.0.1", sock.getsockname()[1], ready.THRIFT, timeout=1)
    finally:
        stop.set()
        thread.join()
        sock.close()
    assert answer.hop == ready.ANSWER and "no answer within 1s" in answer.detail
    assert time.monotonic() - start < 3


# --- describe_task.py, end to end with stubbed ECS answers and a real peer on loopback


def _running_task(stub, port: int, secrets: bool, rest: bool = False):
    stub("ecs").add_response(
        "describe_tasks",
        {
            "tasks": [
                {
                    "taskArn": TASK_ARN,
                    "taskDefinitionArn": DEF_ARN,
                    "lastStatus": "RUNNING",
                    "attachments": [
                        {
                            "type": "ElasticNetworkInterface",
                            "details": [
                                {"name": "networkInterfaceId", "value": "eni-0123456789abcdef0"},
                                {"name": "privateIPv4Address", "value": "10.0.1.25"},
                            ],
                        }
                    ],
                }
            ],
            "failures": [],
        },
    )
    stub("ec2").add_response(
        "describe_network_interfaces",
        {
            "NetworkInterfaces": [
                {
                    "NetworkInterfaceId": "eni-0123456789abcdef0",
                    "Association": {"PublicIp": "127.0.0.1"},
                }
            ]
        },
    )
    server = {
        "name": "sd-apiserver",
        "portMappings": [{"containerPort": port}],
        "environment": [{"name": "SD_API_TRANSPORT", "value": "4" if rest else "1"}],
        "logConfiguration": {
            "logDriver": "awslogs",
            "options": {
                "awslogs-group": "/ecs/sd-apiserver",
                "awslogs-region": "us-east-1",
                "awslogs-stream-prefix": "sd-apiserver",
            },
        },
    }
    if secrets:
        server["secrets"] = [{"name": "SD_API_LICENSE_KEY", "valueFrom": "arn:aws:ssm:x"}]
    stub("ecs").add_response(
        "describe_task_definition", {"taskDefinition": {"containerDefinitions": [server]}}
    )


def _last_lines(stub, *messages: str) -> None:
    stub("logs").add_response(
        "get_log_events",
        {
            "events": [
                {"timestamp": 1_796_000_000_000 + n, "message": m} for n, m in enumerate(messages)
            ],
            "nextForwardToken": "f/1",
            "nextBackwardToken": "b/1",
        },
        {
            "logGroupName": "/ecs/sd-apiserver",
            "logStreamName": "sd-apiserver/sd-apiserver/0f1e2d3c4b5a69788796a5b4c3d2e1f0",
            "startFromHead": False,
            "limit": 20,
        },
    )


@pytest.fixture
def stub_settings(clean_settings):
    clean_settings.setenv("CLUSTER_NAME", "sd-test")
    clean_settings.setenv("SEC_GROUP_NAME", "sg-0123456789abcdef0")
    return clean_settings


def test_describe_task_says_what_the_server_said(stub, stub_settings, run, thrift_server):
    _running_task(stub, thrift_server, secrets=True)
    result = run(describe_task, TASK_ARN, "--interval", "0", "--timeout", "20")
    assert result.code == 0, result.err
    assert "the server answers at 127.0.0.1:" in result.err and ", activated" in result.err
    assert result.err.index("the server answers") < result.err.index("try the demos")
    [summary] = result.json()["tasks"]
    assert summary["server"]["activated"] is True


def test_an_inactive_server_with_a_licence_secret_fails_with_its_last_lines(
    stub, stub_settings, run, inactive_server
):
    port = int(inactive_server.connection[inactive_server.connection.index("--port") + 1])
    _running_task(stub, port, secrets=True)
    _last_lines(stub, "licence check failed: \x1b[31mkey refused\x1b[0m")
    result = run(describe_task, TASK_ARN, "--interval", "0.2", "--timeout", "2")
    assert result.code == 1
    assert "licence check failed: \\x1b[31mkey refused\\x1b[0m" in result.err
    last = result.err.strip().splitlines()[-1]
    assert last.startswith("error: task 0f1e2d3c4b5a69788796a5b4c3d2e1f0: the server at 127.0.0.1:")
    assert "not activated after 1s (--timeout)" in last or "not activated after 2s" in last
    assert "try the demos" not in result.err


def test_an_inactive_server_without_a_secret_is_ready_to_activate(
    stub, stub_settings, run, inactive_server
):
    port = int(inactive_server.connection[inactive_server.connection.index("--port") + 1])
    _running_task(stub, port, secrets=False)
    result = run(describe_task, TASK_ARN, "--interval", "0", "--timeout", "20")
    assert result.code == 0, result.err
    assert "not activated" in result.err and "activate_server.py" in result.err


def test_nothing_listening_ends_after_the_timeout_with_the_last_lines(stub, stub_settings, run):
    _running_task(stub, local_aws.free_port(), secrets=False)
    _last_lines(stub, "loading models")
    start = time.monotonic()
    result = run(describe_task, TASK_ARN, "--interval", "0.2", "--timeout", "2")
    assert time.monotonic() - start < 6
    assert result.code == 1
    assert "loading models" in result.err
    assert "does not listen at 127.0.0.1:" in result.err.strip().splitlines()[-1]


def test_a_silent_server_is_said_to_be_starting(stub, stub_settings, run, listener):
    _running_task(stub, listener, secrets=False)
    _last_lines(stub, "validating licence online")
    result = run(describe_task, TASK_ARN, "--interval", "0.2", "--timeout", "3")
    assert result.code == 1
    last = result.err.strip().splitlines()[-1]
    assert "the connection to 127.0.0.1:" in last and "opens, but the server gives no answer" in last
    assert "validating licence online" in result.err


def test_no_connection_names_the_security_group_and_the_address(
    stub, stub_settings, run, monkeypatch
):
    # A dropped SYN (a security group that does not let this address in) cannot be played on
    # loopback: the attempt is answered as it would end.
    monkeypatch.setattr(
        ready, "ask", lambda *_a, **_k: ready.Answer(ready.CONNECT, "no answer to the connection request")
    )
    _running_task(stub, 9090, secrets=False)
    result = run(describe_task, TASK_ARN, "--interval", "0.2", "--timeout", "1")
    assert result.code == 1
    last = result.err.strip().splitlines()[-1]
    assert "no TCP connection from here to task" in last
    assert "security group sg-0123456789abcdef0" in last
    assert "create_prerequisites.py" in last and "--cidr" in last


def test_a_rest_task_is_checked_over_http(stub, stub_settings, run, tmp_path):
    server = start_local_server(tmp_path, "rest", env={"SD_API_LICENSE_KEY": "test-licence"})
    try:
        port = int(server.connection[server.connection.index("--port") + 1])
        _running_task(stub, port, secrets=True, rest=True)
        result = run(describe_task, TASK_ARN, "--interval", "0", "--timeout", "20")
    finally:
        stop_local_server(server)
    assert result.code == 0, result.err
    assert "it answers HTTP" in result.err and "http_demo.py" in result.err


def test_a_private_ip_is_said_not_waited_for(stub, stub_settings, run, monkeypatch):
    stub_settings.setenv("ASSIGN_PUBLIC_IP", "DISABLED")  # no public IP is waited for either
    asked = []
    monkeypatch.setattr(ready, "ask", lambda *a, **_k: asked.append(a))
    stub("ecs").add_response(
        "describe_tasks",
        {
            "tasks": [
                {
                    "taskArn": TASK_ARN,
                    "taskDefinitionArn": DEF_ARN,
                    "lastStatus": "RUNNING",
                    "attachments": [
                        {
                            "type": "ElasticNetworkInterface",
                            "details": [
                                {"name": "networkInterfaceId", "value": "eni-0123456789abcdef0"},
                                {"name": "privateIPv4Address", "value": "10.0.1.25"},
                            ],
                        }
                    ],
                }
            ],
            "failures": [],
        },
    )
    stub("ec2").add_response(
        "describe_network_interfaces",
        {"NetworkInterfaces": [{"NetworkInterfaceId": "eni-0123456789abcdef0"}]},
    )
    stub("ecs").add_response(
        "describe_task_definition",
        {"taskDefinition": {"containerDefinitions": [{"name": "sd-apiserver"}]}},
    )
    start = time.monotonic()
    result = run(describe_task, TASK_ARN, "--interval", "1")
    assert time.monotonic() - start < 5
    assert result.code == 0, result.err
    assert asked == []
    assert "no route to the private IP 10.0.1.25" in result.err


# --- a stop signal while describe_task.py waits for the server


@pytest.mark.parametrize(
    "signum, code, said",
    [(2, 130, "interrupted"), (15, 143, "stopped by SIGTERM"), (1, 129, "stopped by SIGHUP")],
)
def test_a_signal_while_waiting_for_the_server_ends_in_one_line(
    fargate, aws_proxy, signum, code, said
):
    import signal as signals
    import subprocess
    import sys

    from conftest import ROOT, script_environment

    cluster = fargate.new_cluster()
    [arn] = fargate.start_tasks(cluster, 1)
    local_aws.give_public_ip(
        fargate.server.client("ecs"), fargate.server.client("ec2"), cluster, arn
    )  # nothing listens there: the check waits
    process = subprocess.Popen(
        [sys.executable, "describe_task.py", "--interval", "0.2"],
        cwd=ROOT,
        env=script_environment(fargate, aws_proxy, cluster),
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        seen = []
        for line in process.stderr:
            seen.append(line)
            if "waiting for the server" in line:
                break
        process.send_signal(signals.Signals(signum))
        out, rest = process.communicate(timeout=30)
    finally:
        if process.poll() is None:
            process.kill()
            process.communicate()
    err = "".join(seen) + rest
    assert process.returncode == code, err
    lines = err.strip().splitlines()
    assert lines[-1].startswith(said) and "Traceback" not in err
    assert "try the demos" not in err and out == ""
