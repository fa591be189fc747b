"""The lifetime container's idle stop, run as ECS runs it: its exact command under busybox sh.

Real connections to a real listener on loopback, with the times shortened to seconds (the
command takes seconds; the task definition gives it minutes * 60): an open connection keeps
the task alive past the idle time, none ends it within the idle time plus one poll, IPv6
connections count, other ports do not, and the hard lifetime holds even while connected.
"""

from __future__ import annotations

from plumbing import lifetime as lifetime_limits

import shutil
import socket
import subprocess
import time
from contextlib import ExitStack, closing

import pytest

BUSYBOX = shutil.which("busybox")
pytestmark = pytest.mark.skipif(
    BUSYBOX is None, reason="Debian's busybox is not installed (apt-get install busybox)"
)

IDLE = 3  # seconds here; minutes * 60 in a task
POLL = 1
SLACK = 1.0  # the time to start a process, on a busy machine


def container_command(port: int, lifetime: int = 0, idle: int = IDLE) -> list[str]:
    """The task definition's command for `port`, with seconds in place of minutes * 60."""
    command = lifetime_limits.command(7, 11, port)  # 7 and 11 minutes: found again below
    assert command[:4] == ["sh", "-c", lifetime_limits.SCRIPT, "lifetime"]
    assert command[4:] == ["420", "660", str(port), str(lifetime_limits.POLL_SECONDS)]
    return [*command[:4], str(lifetime), str(idle), str(port), str(POLL)]


def start(command: list[str]) -> subprocess.Popen[str]:
    return subprocess.Popen(
        [BUSYBOX, *command], stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True
    )


def ended_within(process: subprocess.Popen[str], seconds: float) -> int | None:
    try:
        return process.wait(seconds)
    except subprocess.TimeoutExpired:
        return None


_said: dict[int, str] = {}


def said(process: subprocess.Popen[str]) -> str:
    """What the process printed, once it has ended (read once, kept)."""
    if process.pid not in _said:
        _said[process.pid] = process.communicate()[0]
    return _said[process.pid]


@pytest.fixture
def stack():
    """Closes every socket and kills every process a test opens or starts."""
    with ExitStack() as opened:
        yield opened


def listener(stack: ExitStack, host: str = "127.0.0.1") -> socket.socket:
    """A listening server socket on a loopback address."""
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    server = stack.enter_context(closing(socket.socket(family, socket.SOCK_STREAM)))
    server.bind((host, 0))
    server.listen()
    return server


def connect(stack: ExitStack, server: socket.socket, host: str) -> None:
    client = stack.enter_context(closing(socket.create_connection((host, port_of(server)))))
    accepted, _ = server.accept()
    stack.enter_context(closing(accepted))
    assert client.fileno() >= 0


def port_of(server: socket.socket) -> int:
    return server.getsockname()[1]


def run(stack: ExitStack, command: list[str]) -> subprocess.Popen[str]:
    process = start(command)

    def kill() -> None:
        if process.poll() is None:
            process.kill()
        said(process)

    stack.callback(kill)
    return process


def test_no_connection_ends_it_within_the_idle_time_and_one_poll(stack):
    server = listener(stack)  # listening is not being used
    began = time.monotonic()
    process = run(stack, container_command(port_of(server)))
    code = ended_within(process, IDLE + POLL + SLACK)
    took = time.monotonic() - began
    assert code == lifetime_limits.IDLE_EXIT_CODE, said(process)
    assert took >= IDLE, f"ended after {took:.2f}s, before the idle time of {IDLE}s"
    assert f"no connection to port {port_of(server)}" in said(process)


@pytest.mark.parametrize("host", ["127.0.0.1", "::1"], ids=["ipv4", "ipv6"])
def test_an_open_connection_keeps_it_alive_then_closing_it_ends_it(stack, host):
    server = listener(stack, host)
    with ExitStack() as connection:
        connect(connection, server, host)
        process = run(stack, container_command(port_of(server)))
        assert ended_within(process, IDLE + 3 * POLL + SLACK) is None, (
            f"ended with a connection open over {host}: {said(process)}"
        )
    closed = time.monotonic()
    code = ended_within(process, IDLE + POLL + SLACK)
    assert code == lifetime_limits.IDLE_EXIT_CODE
    # Last seen at most one poll before it closed: never ended sooner than that.
    assert time.monotonic() - closed >= IDLE - POLL


def test_a_connection_to_another_port_does_not_count(stack):
    server, other = listener(stack), listener(stack)
    connect(stack, other, "127.0.0.1")
    process = run(stack, container_command(port_of(server)))
    assert ended_within(process, IDLE + POLL + SLACK) == lifetime_limits.IDLE_EXIT_CODE


def test_the_lifetime_holds_even_while_connected(stack):
    server = listener(stack)
    connect(stack, server, "127.0.0.1")
    began = time.monotonic()
    process = run(stack, container_command(port_of(server), lifetime=2, idle=60))
    assert ended_within(process, 2 + SLACK) == lifetime_limits.LIFETIME_EXIT_CODE
    assert time.monotonic() - began >= 2
    assert "lifetime of 2 s is over" in said(process)


def test_without_idle_stop_it_is_the_plain_sleep_of_before(stack):
    assert lifetime_limits.command(1, 0, 9090) == ["sleep", "60"]
    process = run(stack, ["sleep", "1"])
    assert ended_within(process, 1 + SLACK) == lifetime_limits.LIFETIME_EXIT_CODE


def test_the_script_exits_with_the_codes_describe_task_reads():
    assert f"exit {lifetime_limits.IDLE_EXIT_CODE}" in lifetime_limits.SCRIPT
    assert f"exit {lifetime_limits.LIFETIME_EXIT_CODE}" in lifetime_limits.SCRIPT
    assert lifetime_limits.IDLE_EXIT_CODE != lifetime_limits.LIFETIME_EXIT_CODE


def test_the_rehearsal_reads_the_command_as_the_scripts_write_it():
    from rehearsal import rehearse

    assert rehearse.IDLE_EXIT_CODE == lifetime_limits.IDLE_EXIT_CODE
    for lifetime, idle in [(240, 30), (240, 0), (0, 30), (10080, 10080)]:
        command = lifetime_limits.command(lifetime, idle, 9090)
        assert rehearse.lifetime_minutes(command) == lifetime
