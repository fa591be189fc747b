"""logs.py and the server's last lines: moto's CloudWatch Logs, written where the awslogs
driver writes (group /ecs/FAMILY, stream PREFIX/CONTAINER/TASK_ID)."""

from __future__ import annotations

from plumbing import ecs_tasks
from plumbing import logs as server_logs

import json
import re
import threading
import time

import boto3
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import describe_task
import logs as logs_script
import run_task

GROUP = "/ecs/sd-apiserver"


def stream_of(task_arn: str, container: str = "sd-apiserver") -> str:
    return f"sd-apiserver/{container}/{ecs_tasks.short_id(task_arn)}"


def write(task_arn: str, *messages: str, at: float | None = None, step_ms: int = 1) -> None:
    """Put lines where the awslogs driver puts the server's output."""
    logs = boto3.client("logs")
    stream = stream_of(task_arn)
    if not logs.describe_log_streams(logGroupName=GROUP, logStreamNamePrefix=stream)[
        "logStreams"
    ]:
        logs.create_log_stream(logGroupName=GROUP, logStreamName=stream)
    start = int((at if at is not None else time.time()) * 1000)
    logs.put_log_events(
        logGroupName=GROUP,
        logStreamName=stream,
        logEvents=[
            {"timestamp": start + index * step_ms, "message": message}
            for index, message in enumerate(messages)
        ],
    )


@pytest.fixture
def task(ready, run):
    """One running task of ours, its task definition sending its output to /ecs/sd-apiserver."""
    started = run(run_task)
    assert started.code == 0, started.err
    [one] = started.json()["tasks"]
    return one["taskArn"]


def test_lines_oldest_first_with_utc_times(task, run):
    write(task, "starting", "licence ok", "listening on 0.0.0.0:9090", at=1_796_000_000)
    result = run(logs_script)
    assert result.code == 0, result.err
    assert result.out.splitlines() == [
        "2026-11-30 00:53:20Z starting",
        "2026-11-30 00:53:20Z licence ok",
        "2026-11-30 00:53:20Z listening on 0.0.0.0:9090",
    ]
    assert "3 line(s) from /ecs/sd-apiserver" in result.err
    last = run(logs_script, "--lines", "1")
    assert last.out.splitlines() == ["2026-11-30 00:53:20Z listening on 0.0.0.0:9090"]
    named = run(logs_script, ecs_tasks.short_id(task), "--json")
    objects = [json.loads(line) for line in named.out.splitlines()]
    assert [o["message"] for o in objects] == ["starting", "licence ok", "listening on 0.0.0.0:9090"]
    assert objects[0] == {
        "time": "2026-11-30T00:53:20.000+00:00",
        "task": ecs_tasks.short_id(task),
        "container": "sd-apiserver",
        "message": "starting",
        "cut": False,
    }


def test_since_keeps_only_the_newer_lines(task, run):
    now = time.time()
    write(task, "an hour ago", at=now - 3600)
    write(task, "a minute ago", at=now - 60)
    assert [line.split(" ", 2)[2] for line in run(logs_script, "--since", "10m").out.splitlines()] == [
        "a minute ago"
    ]
    assert len(run(logs_script, "--since", "2h").out.splitlines()) == 2
    moment = time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(now - 120))
    assert run(logs_script, "--since", moment).out.count("\n") == 1


def test_several_tasks_each_line_names_its_task(ready, run, clean_settings):
    clean_settings.setenv("TASK_COUNT", "2")
    first, second = (t["taskArn"] for t in run(run_task).json()["tasks"])
    write(first, "a1", "a2", at=1_796_000_000, step_ms=10)
    write(second, "b1", at=1_796_000_000.005)
    lines = run(logs_script).out.splitlines()
    assert [line.split(" ", 3)[3] for line in lines] == ["a1", "b1", "a2"]
    assert [line.split(" ")[2] for line in lines] == [
        f"[{ecs_tasks.short_id(arn)[:8]}]" for arn in (first, second, first)
    ]


HOSTILE = [
    "\x1b[2J\x1b[H cleared your screen",
    "\x1b]0;new window title\x07",
    "carriage\rreturn over the start",
    "bidi \u202e txt.exe",
    "nul \x00 and del \x7f and c1 \x9b",
    "two\nlines in one event",
]


def test_hostile_lines_are_shown_harmless(task, run):
    write(task, *HOSTILE, "x" * 100_000)
    result = run(logs_script)
    assert result.code == 0, result.err
    for line in result.out.splitlines():
        assert line.isprintable(), repr(line)
        assert len(line) < server_logs.LINE_LIMIT + 100
    assert "\\x1b[2J\\x1b[H cleared your screen" in result.out
    assert "bidi \\u202e txt.exe" in result.out
    assert "[... cut: 100000 characters in all]" in result.out
    as_json = run(logs_script, "--json")
    for line in as_json.out.splitlines():
        assert line.isascii() and line.isprintable()
    objects = [json.loads(line) for line in as_json.out.splitlines()]
    assert [o["message"] for o in objects[:-1]] == HOSTILE
    assert objects[-1]["cut"] is True and len(objects[-1]["message"]) == server_logs.LINE_LIMIT


@given(text=st.text(max_size=300))
@settings(max_examples=200, deadline=None)
def test_harmless_is_printable_and_bounded(text):
    shown = server_logs.harmless(text, limit=100)
    assert shown.isprintable()
    assert len(shown) <= 100 * 10 + 60


def test_no_logs_kept_is_said(ready, run, clean_settings):
    clean_settings.setenv("LOG_GROUP", "off")
    assert run(__import__("register_task_definition")).code == 0
    assert run(run_task).code == 0
    result = run(logs_script)
    assert result.code == 1
    assert "keeps no logs" in result.err
    assert result.err.strip().splitlines()[-1].startswith("error: no logs to read")


# --- every bad argument refused in one line, before any AWS call


def _since_allowed(text: str) -> bool:
    try:
        logs_script.since(text)
    except Exception:  # noqa: BLE001
        return False
    return True


@settings(max_examples=150, deadline=None, suppress_health_check=list(HealthCheck))
@given(
    flag=st.sampled_from(["--since", "--lines", "--interval", "task"]),
    value=st.one_of(
        st.text(max_size=40),
        st.sampled_from(
            ["0m", "-5m", "10x", "1e3", "nan", "٣m", "10 m", "99999999d", "2999-01-01",
             "2026-13-01", "0", "10001", "-1", "1.5", "", " ", "61", "inf", "a b", "x" * 2000]
        ),
    ),
)
def test_every_bad_argument_is_refused_in_one_line(clean_settings, capsys, aws_calls, flag, value):
    clean_settings.setenv("CLUSTER_NAME", "sd-test")
    argv = [value] if flag == "task" else [flag, value]
    if flag == "task" and value.startswith("-"):
        argv = ["--", value]
    good = {
        "--since": _since_allowed(value),
        "--lines": bool(re.fullmatch(r"[0-9]{1,9}", value)) and 1 <= int(value) <= 10_000,
        "--interval": bool(re.fullmatch(r"[0-9]{1,9}(\.[0-9]{0,9})?|\.[0-9]{1,9}", value))
        and float(value) <= 60,
        "task": bool(re.fullmatch(r"[A-Za-z0-9:/_.-]{1,1600}", value, re.ASCII)),
    }[flag]
    if good:
        return
    capsys.readouterr()
    aws_calls.clear()
    try:
        code = logs_script.main(argv)
    except SystemExit as exit_:
        code = exit_.code
    err = capsys.readouterr().err
    lines = err.strip().splitlines()
    assert code == 2, (argv, err)
    assert len(lines) == 1 and lines[0].startswith("error: "), err
    assert "Traceback" not in err
    assert aws_calls == []


# --- --follow: ends by itself when the task stops


def _later(seconds: float, action) -> threading.Thread:
    thread = threading.Thread(target=lambda: (time.sleep(seconds), action()))
    thread.start()
    return thread


@pytest.mark.timeout(60)
def test_follow_ends_when_the_task_is_stopped(task, run, aws):
    write(task, "listening")

    def stop():
        write(task, "a request", "stopping on SIGTERM")
        aws.ecs.stop_task(cluster="sd-test", task=task, reason="Task stopped by user")

    thread = _later(0.5, stop)
    result = run(logs_script, "--follow", "--interval", "0.1")
    thread.join()
    assert result.code == 0, result.err
    assert [line.split(" ", 2)[2] for line in result.out.splitlines()] == [
        "listening",
        "a request",
        "stopping on SIGTERM",
    ]
    assert "stoppedReason: Task stopped by user" in result.err


@pytest.mark.timeout(60)
def test_follow_exits_1_when_the_server_crashed(ready, run, aws, clean_settings):
    clean_settings.setenv("TASK_LIFETIME_MINUTES", "0")
    clean_settings.setenv("TASK_IDLE_MINUTES", "0")  # no lifetime container: the server alone
    assert run(__import__("register_task_definition")).code == 0
    [started] = run(run_task).json()["tasks"]
    arn = started["taskArn"]

    def crash():
        write(arn, "Illegal instruction (core dumped)")
        aws.ecs.stop_task(cluster="sd-test", task=arn, reason="Essential container in task exited")

    thread = _later(0.3, crash)
    result = run(logs_script, "--follow", "--interval", "0.1")
    thread.join()
    assert result.code == 1, result.err
    assert "Illegal instruction (core dumped)" in result.out
    assert "stoppedReason: Essential container in task exited" in result.err


# --- describe_task.py: the last 20 lines after a stop explanation


def test_describe_task_shows_the_last_20_lines_of_a_stopped_task(task, run, aws):
    write(task, *(f"line {n}" for n in range(1, 31)))
    aws.ecs.stop_task(cluster="sd-test", task=task, reason="Essential container in task exited")
    result = run(describe_task, ecs_tasks.short_id(task), "--interval", "0")
    assert result.code == 1
    err = result.err
    assert "the server's last 20 lines (/ecs/sd-apiserver):" in err
    assert err.index("stoppedReason") < err.index("line 11")
    assert "line 10\n" not in err and "line 30" in err
    assert err.strip().splitlines()[-1].startswith("error: the task ")


def test_last_lines_say_why_they_cannot_be_read(task, run, aws, monkeypatch):
    aws.ecs.stop_task(cluster="sd-test", task=task, reason="Essential container in task exited")
    boto3.client("logs").delete_log_group(logGroupName=GROUP)
    result = run(describe_task, ecs_tasks.short_id(task), "--interval", "0")
    assert result.code == 1
    assert "the server wrote nothing to /ecs/sd-apiserver" in result.err
