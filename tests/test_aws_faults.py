"""The deploy scripts through the AWS fault proxy: one line, bounded time, nothing lost.

Scripts run in process (their `main`) against moto_server through the proxy, except where the
promise is about a process (how long it lives, a closed stdout).
"""

from plumbing import clients, deadlines, ecs_tasks, exit_codes, redaction

import json
import os
import socket
import subprocess
import sys
import threading
import time

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import constants
import describe_clusters
import describe_task
import run_task
import stop_task
from conftest import ROOT, TUTORIAL_STEPS, script_environment
from faults.aws_proxy import ANY, AwsFaultProxy

KEY_ID = os.environ["AWS_ACCESS_KEY_ID"]
SECRET = os.environ["AWS_SECRET_ACCESS_KEY"]
SESSION_TOKEN = "FwoGZXIvYXdzEJr//////////wEaDFakeSessionTokenForTests0123456789abcdefABCDEF=="


def assert_one_error_line(result, *fragments):
    assert result.code == exit_codes.EXIT_FAILED, result
    lines = result.err.strip().splitlines()
    assert lines and lines[-1].startswith("error: "), result.err
    assert sum(line.startswith("error: ") for line in lines) == 1, result.err
    for fragment in fragments:
        assert fragment in lines[-1], (fragment, lines[-1])
    for secret in (KEY_ID, SECRET, SESSION_TOKEN):
        assert secret not in result.err + result.out


def assert_sanitized(result):
    for secret in (KEY_ID, SECRET, SESSION_TOKEN):
        assert secret not in result.err + result.out
    assert "Traceback" not in result.err


# --- the proxy itself


def test_proxy_counts_and_stops_cleanly_with_answers_in_flight(fargate):
    threads = set(threading.enumerate())
    with AwsFaultProxy(fargate.server.endpoint) as proxy:
        proxy.silence("ListClusters")
        proxy.hold("DescribeClusters", seconds=60)
        proxy.throttle("ListTaskDefinitions", times=1)
        host, port = proxy.server.server_address[:2]
        waiting = [socket.create_connection((host, port)) for _ in range(2)]
        for sock, target in zip(waiting, ["ListClusters", "DescribeClusters"], strict=True):
            sock.sendall(
                b"POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 2\r\n"
                b"X-Amz-Target: AmazonEC2ContainerServiceV20141113." + target.encode() + b"\r\n\r\n{}"
            )
        proxy.wait_for("ListClusters")
        proxy.wait_for("DescribeClusters")
        started = time.monotonic()
    assert time.monotonic() - started < 5  # held and silent answers end with the proxy
    assert proxy.count("ListClusters") == proxy.count("DescribeClusters") == 1
    for sock in waiting:
        assert sock.recv(1) == b""  # the proxy closed them without an answer
        sock.close()
    assert proxy.server.socket.fileno() == -1
    assert set(threading.enumerate()) == threads


# --- one line, whatever AWS says or does


CREDENTIALS = st.sampled_from(
    [
        KEY_ID,
        SECRET,
        SESSION_TOKEN,
        "AKIAIOSFODNN7EXAMPLE",
        "ASIAY34FZKBOKMUTVV7A",
        "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY",
        "Signature=" + "0123456789abcdef" * 4,
        "X-Amz-Security-Token=" + SESSION_TOKEN,
        "Credential=AKIAIOSFODNN7EXAMPLE/20261125/us-east-1/ecs/aws4_request",
    ]
)
AWS_WORDS = st.text(
    alphabet=st.characters(blacklist_categories=("Cs",), blacklist_characters="\x00"), max_size=80
)


@st.composite
def messages_with_credentials(draw):
    """An error message with credentials, signatures or a signed request somewhere in it."""
    parts = draw(st.lists(st.one_of(AWS_WORDS, CREDENTIALS), min_size=1, max_size=6))
    parts.insert(draw(st.integers(0, len(parts))), draw(CREDENTIALS))
    message = draw(st.sampled_from([" ", "\n", ": ", ""])).join(parts)
    if draw(st.booleans()):
        message = (
            "The request signature we calculated does not match the signature you provided.\n\n"
            "The Canonical String for this request should have been\n'POST\n/\n\n"
            f"host:127.0.0.1\nx-amz-security-token:{SESSION_TOKEN}\n'\n\nThe String-to-Sign "
            f"should have been\n'AWS4-HMAC-SHA256\n{message}'"
        )
    return message


@settings(max_examples=15, deadline=None, suppress_health_check=list(HealthCheck))
@given(
    message=messages_with_credentials(),
    code=st.sampled_from(
        ["InvalidSignatureException", "AccessDeniedException", "ClientException", "X" * 300]
    ),
    status=st.sampled_from([400, 403, 500]),
)
def test_no_credential_in_any_error_message(
    through_proxy, aws_proxy, run, clean_settings, message, code, status
):
    clean_settings.setenv("AWS_SESSION_TOKEN", SESSION_TOKEN)
    clean_settings.setenv("AWS_MAX_ATTEMPTS", "1")
    aws_proxy.clear()
    aws_proxy.error("DescribeClusters", code, message, status=status)
    result = run(describe_clusters)
    assert_one_error_line(result)
    assert len(result.err) < 600


def test_aws_text_is_one_printable_line_without_credentials():
    @settings(max_examples=300, deadline=None)
    @given(messages_with_credentials())
    def check(message):
        redaction._known_secrets.update({KEY_ID, SECRET, SESSION_TOKEN})
        text = redaction.aws_text(message)
        assert "\n" not in text and "\r" not in text and text.isprintable()
        assert len(text) <= redaction.MESSAGE_LIMIT
        for secret in (KEY_ID, SECRET, SESSION_TOKEN, "AKIAIOSFODNN7EXAMPLE", "ASIAY34FZKBOKMUTVV7A"):
            assert secret not in text
        assert "0123456789abcdef" * 4 not in text and "Canonical" not in text

    check()


FAULTS = {
    "throttled": lambda proxy: proxy.throttle(ANY),
    "server error": lambda proxy: proxy.server_error(ANY),
    "dropped": lambda proxy: proxy.drop(ANY),
    "html": lambda proxy: proxy.raw(ANY, 502, b"<html><body>Bad Gateway\n</body></html>", "text/html"),
    "garbage": lambda proxy: proxy.raw(ANY, 200, b"\x00\xff{not json", "application/x-amz-json-1.1"),
    "empty answer": lambda proxy: proxy.raw(ANY, 200, b"{}", "application/x-amz-json-1.1"),
}


@pytest.mark.parametrize("fault", FAULTS)
@pytest.mark.parametrize("script", TUTORIAL_STEPS, ids=lambda s: s.__name__)
def test_every_script_fails_in_one_line(through_proxy, aws_proxy, run, clean_settings, script, fault):
    clean_settings.setenv("AWS_MAX_ATTEMPTS", "1")  # the retries are tested below
    FAULTS[fault](aws_proxy)
    result = run(script, *(["--interval", "0"] if script in (describe_task, stop_task) else []))
    assert_one_error_line(result)
    assert aws_proxy.count(ANY) >= 1


def test_throttles_are_retried_with_backoff(through_proxy, aws_proxy, run):
    aws_proxy.throttle("DescribeClusters", times=2)
    result = run(describe_clusters)
    assert result.code == 0, result.err
    assert aws_proxy.count("DescribeClusters") == 3


# --- bounded time


def test_default_call_budget_is_under_30_seconds(clean_settings):
    assert constants.AWS_CALL_TIMEOUT <= 25
    config = clients.client("ecs").meta.config
    assert config.read_timeout <= 25 and config.connect_timeout <= 5


def test_every_script_gives_up_on_a_silent_endpoint(fargate, aws_proxy):
    """All nine scripts as processes at once, each AWS call allowed 2 s."""
    cluster = fargate.new_cluster(tasks=1)
    aws_proxy.silence(ANY)
    env = script_environment(fargate, aws_proxy, cluster, AWS_CALL_TIMEOUT="2")
    started = time.monotonic()
    processes = {
        script: subprocess.Popen(
            [sys.executable, str(ROOT / f"{script.__name__}.py")],
            env=env,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        for script in TUTORIAL_STEPS
    }
    for script, process in processes.items():
        out, err = process.communicate(timeout=60)
        assert process.returncode == 1, (script.__name__, err)
        assert err.strip().splitlines()[-1].startswith("error: AWS did not answer"), err
        assert "within 2s" in err and "Traceback" not in err
    # Each one alone would take its start-up plus 2 s; together on two busy cores, longer.
    assert time.monotonic() - started < 40


@pytest.mark.parametrize("script", [describe_clusters, run_task, stop_task], ids=lambda s: s.__name__)
def test_without_sigalrm_a_silent_endpoint_ends_on_botocores_timeouts(fargate, aws_proxy, script):
    """As on Windows: no timer to end a call, so each attempt's read timeout and the retry
    limit bound it (3 attempts of 2 s here)."""
    cluster = fargate.new_cluster(tasks=1)
    aws_proxy.silence(ANY)
    env = script_environment(
        fargate, aws_proxy, cluster, AWS_CALL_TIMEOUT="2", PYTHONPATH=str(ROOT / "tests" / "windows_like")
    )
    started = time.monotonic()
    result = subprocess.run(
        [sys.executable, str(ROOT / f"{script.__name__}.py")],
        env=env, capture_output=True, text=True, timeout=90,
    )
    elapsed = time.monotonic() - started
    assert result.returncode == 1, result.stderr
    [line] = result.stderr.strip().splitlines()
    assert "did not answer in time" in line and "ReadTimeoutError" in line, line
    assert 2 <= elapsed < 60, elapsed  # the attempts shared the 2 s, and it ended
    assert aws_proxy.count(ANY) == clients.STANDARD_ATTEMPTS


@settings(max_examples=30, deadline=None, suppress_health_check=list(HealthCheck))
@given(budget=st.integers(1, 600), attempts=st.one_of(st.none(), st.integers(1, 10)))
def test_without_sigalrm_the_attempts_share_the_call_budget(clean_settings, budget, attempts):
    clean_settings.setenv("AWS_CALL_TIMEOUT", str(budget))
    clean_settings.delenv("AWS_MAX_ATTEMPTS", raising=False)
    if attempts:
        clean_settings.setenv("AWS_MAX_ATTEMPTS", str(attempts))
    clean_settings.setattr(deadlines, "SUPPORTED", False)
    config = clients.client("ecs").meta.config
    tries = attempts or clients.STANDARD_ATTEMPTS
    assert config.read_timeout * tries == pytest.approx(budget)
    assert config.connect_timeout <= config.read_timeout


@pytest.mark.parametrize(
    "script, operation, expected",
    [
        (describe_task, "ListTasks", "gave up after 2s (--timeout) waiting for AWS to answer ListTasks"),
        (describe_task, "DescribeTasks", "gave up after 2s (--timeout) waiting for AWS to answer DescribeTasks"),
        (stop_task, "ListTasks", "gave up after 2s (--timeout) waiting for AWS to answer ListTasks"),
        (stop_task, "StopTask", "could not stop 1 of 1 task(s)"),
        (stop_task, "DescribeTasks", "gave up after 2s (--timeout) waiting for AWS to answer DescribeTasks"),
    ],
    ids=lambda p: getattr(p, "__name__", p),
)
def test_wait_timeout_bounds_every_call_of_the_step(
    through_proxy, aws_proxy, run, fargate, script, operation, expected
):
    fargate.start_tasks(through_proxy, 1)
    aws_proxy.silence(operation)
    started = time.monotonic()
    result = run(script, "--timeout", "1.5", "--interval", "0")
    assert time.monotonic() - started < 10  # the default budget would be 25 s
    assert_one_error_line(result, expected)  # 1.5 s, rounded


# --- nothing lost


@pytest.fixture
def fast_rounds(monkeypatch):
    """try_every_task's own rounds without the pauses (botocore's retries still back off)."""
    monkeypatch.setattr(ecs_tasks.time, "sleep", lambda seconds: None)


def test_stop_task_tries_every_task_and_names_the_ones_left(
    through_proxy, aws_proxy, run, fargate, fast_rounds, clean_settings
):
    clean_settings.setenv("AWS_MAX_ATTEMPTS", "1")
    arns = fargate.start_tasks(through_proxy, 3)
    aws_proxy.throttle("StopTask")
    result = run(stop_task, "--interval", "0")
    assert_one_error_line(result, "could not stop 3 of 3 task(s)", "stop_task.py again")
    for arn in arns:
        assert ecs_tasks.short_id(arn) in result.err.splitlines()[-1]
    assert aws_proxy.count("StopTask") == 3 * ecs_tasks.TASK_ROUNDS
    assert len(fargate.running(through_proxy)) == 3


def test_stop_task_goes_on_after_one_failure(through_proxy, aws_proxy, run, fargate):
    arns = fargate.start_tasks(through_proxy, 3)
    aws_proxy.error("StopTask", "InvalidParameterException", "no", times=1)
    result = run(stop_task, "--interval", "0")
    assert_one_error_line(result, "could not stop 1 of 3 task(s)", "(InvalidParameterException)")
    assert result.err.count("is STOPPED") == 2
    [left] = fargate.running(through_proxy)
    assert left in arns and ecs_tasks.short_id(left) in result.err.splitlines()[-1]


def test_stop_task_rides_out_a_burst_of_throttles(
    through_proxy, aws_proxy, run, fargate, fast_rounds, clean_settings
):
    clean_settings.setenv("AWS_MAX_ATTEMPTS", "1")
    fargate.start_tasks(through_proxy, 3)
    aws_proxy.throttle("StopTask", times=4)
    result = run(stop_task, "--interval", "0")
    assert result.code == 0, result.err
    assert fargate.running(through_proxy) == []


def _partial_start(answer):
    answer["failures"] = [{"arn": "arn:aws:ecs:us-east-1:123456789012:cluster/x", "reason": "RESOURCE:ENI"}]
    return answer


def test_partial_run_task_undo_tries_every_task(
    through_proxy, aws_proxy, run, fargate, fast_rounds, clean_settings
):
    clean_settings.setenv("AWS_MAX_ATTEMPTS", "1")
    aws_proxy.edit("RunTask", _partial_start)
    aws_proxy.throttle("StopTask", times=2 * 3)  # two rounds over three tasks
    result = run(run_task, "--count", "3")
    assert_one_error_line(result, "ECS could not start")
    assert "failure: " in result.err and "RESOURCE:ENI" in result.err
    assert result.err.count("started alongside the failure") == 3
    assert fargate.running(through_proxy) == []


def test_partial_run_task_names_the_tasks_it_could_not_stop(
    through_proxy, aws_proxy, run, fargate, fast_rounds, clean_settings
):
    clean_settings.setenv("AWS_MAX_ATTEMPTS", "1")
    aws_proxy.edit("RunTask", _partial_start)
    aws_proxy.throttle("StopTask")
    result = run(run_task, "--count", "2")
    assert_one_error_line(result, "could not stop 2 of 2 task(s)", "run stop_task.py again")
    running = fargate.running(through_proxy)
    assert len(running) == 2
    assert all(ecs_tasks.short_id(arn) in result.err.splitlines()[-1] for arn in running)


def _closed_stdout():
    read, write = os.pipe()
    os.close(read)
    return write


def test_closed_stdout_never_stops_an_undo(fargate, aws_proxy):
    cluster = fargate.new_cluster()
    aws_proxy.edit("RunTask", _partial_start)
    env = script_environment(fargate, aws_proxy, cluster)
    stdout = _closed_stdout()
    try:
        result = subprocess.run(
            [sys.executable, str(ROOT / "run_task.py"), "--count", "2"],
            env=env,
            stdout=stdout,
            stderr=subprocess.PIPE,
            text=True,
            timeout=60,
        )
    finally:
        os.close(stdout)
    assert result.returncode == 1
    assert "Traceback" not in result.stderr and "Exception ignored" not in result.stderr
    assert "stdout is closed" in result.stderr
    assert result.stderr.count("started alongside the failure") == 2
    assert fargate.running(cluster) == []


def test_closed_stdout_in_every_script_is_no_traceback(fargate, aws_proxy):
    cluster = fargate.new_cluster(tasks=1)
    env = script_environment(fargate, aws_proxy, cluster)
    for script, *argv in [
        ["describe_clusters.py"],
        ["list_tasks.py"],
        ["stop_task.py", "--interval", "0"],
    ]:
        stdout = _closed_stdout()
        try:
            result = subprocess.run(
                [sys.executable, str(ROOT / script), *argv],
                env=env,
                stdout=stdout,
                stderr=subprocess.PIPE,
                text=True,
                timeout=60,
            )
        finally:
            os.close(stdout)
        assert result.returncode == 0, (script, result.stderr)
        assert "Traceback" not in result.stderr and "Exception ignored" not in result.stderr
    assert fargate.running(cluster) == []


@pytest.mark.parametrize(
    "message",
    [
        "The security token included in the request is invalid.",
        "The request signature we calculated does not match the signature you provided. "
        "Check your AWS Secret Access Key and signing method.",
        "User: arn:aws:iam::123456789012:user/me is not authorized to perform: ecs:RunTask on "
        "resource: arn:aws:ecs:us-east-1:123456789012:cluster/sd-demo",
        "CannotPullContainerError: pull image manifest has been retried 5 time(s): failed to "
        "resolve ref public.ecr.aws/j6h6k0h7/ml/sd-apiserver:latest",
    ],
)
def test_aws_text_keeps_what_aws_means(message):
    assert redaction.aws_text(message) == message


JSON = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | AWS_WORDS,
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(AWS_WORDS, inner, max_size=3),
    max_leaves=8,
)
ANSWER_KEYS = st.sampled_from(
    ["cluster", "clusters", "failures", "tasks", "taskArns", "taskDefinition",
     "taskDefinitionArns", "task", "nextToken", "SecurityGroups", "NetworkInterfaces"]
)


@settings(max_examples=40, deadline=None, suppress_health_check=list(HealthCheck))
@given(
    script=st.sampled_from(TUTORIAL_STEPS),
    answer=st.one_of(JSON, st.dictionaries(ANSWER_KEYS, JSON, max_size=4)),
)
def test_any_answer_that_is_not_aws_is_one_line(
    through_proxy, aws_proxy, run, clean_settings, script, answer
):
    """Whatever JSON comes back from every call: done, or one line and exit 1."""
    clean_settings.setenv("AWS_MAX_ATTEMPTS", "1")
    aws_proxy.clear()
    aws_proxy.raw(ANY, 200, json.dumps(answer).encode(), "application/x-amz-json-1.1")
    result = run(script, *(["--interval", "0", "--timeout", "1"] if script in (describe_task, stop_task) else []))
    assert result.code in (exit_codes.EXIT_OK, exit_codes.EXIT_FAILED), result
    if result.code:
        assert_one_error_line(result)
    assert_sanitized(result)


def test_stop_task_retries_dropped_connections(
    through_proxy, aws_proxy, run, fargate, fast_rounds, clean_settings
):
    clean_settings.setenv("AWS_MAX_ATTEMPTS", "1")
    fargate.start_tasks(through_proxy, 2)
    aws_proxy.drop("StopTask", times=3)
    result = run(stop_task, "--interval", "0")
    assert result.code == 0, result.err
    assert fargate.running(through_proxy) == []
    assert aws_proxy.count("StopTask") == 5


def test_stop_task_names_every_task_when_stop_task_never_answers(
    through_proxy, aws_proxy, run, fargate, clean_settings
):
    clean_settings.setenv("AWS_CALL_TIMEOUT", "1")
    arns = fargate.start_tasks(through_proxy, 3)
    aws_proxy.silence("StopTask")
    started = time.monotonic()
    result = run(stop_task, "--interval", "0")
    assert time.monotonic() - started < 10  # one second, once: not once per task
    assert_one_error_line(result, "could not stop 3 of 3 task(s)", "not tried: AWS did not answer")
    assert all(ecs_tasks.short_id(arn) in result.err for arn in arns)


@pytest.mark.parametrize("status", [400, 403, 404, 500, 502, 503])
def test_a_web_page_in_place_of_an_aws_answer_is_named_as_such(
    through_proxy, aws_proxy, run, clean_settings, status
):
    """A proxy's or portal's HTML error page: not AWS's words, and no HTML on the line."""
    clean_settings.setenv("AWS_MAX_ATTEMPTS", "1")
    page = b"<!doctype html>\n<html><head><title>Blocked</title></head><body>No</body></html>"
    aws_proxy.raw(ANY, status, page, "text/html")
    result = run(describe_clusters)
    assert_one_error_line(result)
    line = result.err.strip().splitlines()[-1]
    assert "<" not in line, line
    assert f"HTTP {status}" in line or "not a valid AWS answer" in line, line
