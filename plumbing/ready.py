"""Is the server there? Ask it from this machine, as the demos will, and say which hop fails.

RUNNING only means ECS started the container: the server may still validate its licence and
load its models, or the security group may keep this machine out. `ask` tries the three hops
in turn (a TCP connection, an answer, the server activated): Thrift's `getStatus` on
transport 1, written here in the strict binary protocol the server speaks (the same bytes as
demo/sdclient.py's call, without needing the demos' requirements), or an HTTP request on
transport 4.
"""

from __future__ import annotations

from plumbing import errors, output

import socket
import struct
import time
from collections.abc import Callable
from dataclasses import dataclass, field

import constants

THRIFT, REST = 1, 4
ANSWER_MOST = 64 * 1024  # bytes of an answer read at most: a status is a few hundred
SUCCESS = 1  # ResultCode.SUCCESS: getStatus's initStatus when the server is activated

# The hops, in order; a check reports the first one that fails.
CONNECT, ANSWER, ACTIVATED, READY = "connect", "answer", "activated", "ready"

# Thrift binary protocol: message types and field types.
_CALL, _REPLY, _EXCEPTION = 1, 2, 3
_VERSION_1 = 0x80010000
_STOP, _BOOL, _BYTE, _DOUBLE, _I16, _I32, _I64, _STRING, _STRUCT, _MAP, _SET, _LIST = (
    0, 2, 3, 4, 6, 8, 10, 11, 12, 13, 14, 15,
)  # fmt: skip
_FIXED = {_BOOL: 1, _BYTE: 1, _DOUBLE: 8, _I16: 2, _I32: 4, _I64: 8}


@dataclass
class Answer:
    """What one attempt found: the hop it reached, and what the server said."""

    hop: str  # CONNECT, ANSWER or ACTIVATED when that hop failed; READY when all passed
    detail: str = ""
    status: dict = field(default_factory=dict)  # version, apiVersion, activated (Thrift)

    def summary(self) -> str:
        """What the server said, for a person: version and activation."""
        if not self.status:
            return "it answers HTTP"
        activated = "activated" if self.status.get("activated") else "not activated"
        return f"server {self.status.get('version') or '?'} (API {self.status.get('apiVersion') or '?'}), {activated}"


class _NeedMore(Exception):
    pass


class _Bad(Exception):
    pass


def _get_status_call(seqid: int = 1) -> bytes:
    name = b"getStatus"
    return (
        struct.pack(">I", _VERSION_1 | _CALL)
        + struct.pack(">i", len(name))
        + name
        + struct.pack(">i", seqid)
        + bytes([_STOP])  # getStatus takes no arguments: an empty argument struct
    )


class _Parser:
    def __init__(self, data: bytes) -> None:
        self.data, self.at = data, 0

    def take(self, size: int) -> bytes:
        if size < 0 or size > ANSWER_MOST:
            raise _Bad(f"a size of {size} bytes")
        if self.at + size > len(self.data):
            raise _NeedMore
        piece = self.data[self.at : self.at + size]
        self.at += size
        return piece

    def number(self, fmt: str) -> int:
        return struct.unpack(fmt, self.take(struct.calcsize(fmt)))[0]

    def string(self) -> bytes:
        return self.take(self.number(">i"))

    def value(self, kind: int, depth: int = 0) -> object:
        if depth > 16:
            raise _Bad("nested too deep")
        if kind in _FIXED:
            piece = self.take(_FIXED[kind])
            return int.from_bytes(piece, "big", signed=True) if kind in (_I16, _I32, _I64) else piece
        if kind == _STRING:
            return self.string()
        if kind == _STRUCT:
            return self.fields(depth + 1)
        if kind in (_LIST, _SET):
            element, count = self.number(">b"), self.number(">i")
            return [self.value(element, depth + 1) for _ in range(self._count(count))]
        if kind == _MAP:
            key, item, count = self.number(">b"), self.number(">b"), self.number(">i")
            for _ in range(self._count(count)):
                self.value(key, depth + 1)
                self.value(item, depth + 1)
            return None
        raise _Bad(f"an unknown field type {kind}")

    def _count(self, count: int) -> int:
        if not 0 <= count <= ANSWER_MOST:
            raise _Bad(f"a count of {count}")
        return count

    def fields(self, depth: int = 0) -> dict[int, object]:
        found: dict[int, object] = {}
        while True:
            kind = self.number(">b")
            if kind == _STOP:
                return found
            field_id = self.number(">h")
            found[field_id] = self.value(kind, depth)


def _parse_status(data: bytes) -> dict:
    """getStatus's reply as {version, apiVersion, activated}; _NeedMore until it is whole."""
    parser = _Parser(data)
    header = parser.number(">I")
    if header & 0xFFFF0000 != _VERSION_1:
        raise _Bad("not a Thrift binary-protocol message")
    name = parser.string()
    parser.number(">i")  # sequence id
    result = parser.fields()
    if header & 0xFF == _EXCEPTION or name != b"getStatus":
        raise _Bad("an exception instead of a status")
    status = result.get(0)
    if not isinstance(status, dict):
        raise _Bad("a reply without a status")

    def text(value: object) -> str:
        raw = value.decode("utf-8", "replace") if isinstance(value, bytes) else ""
        return "".join(char if char.isprintable() else "?" for char in raw[:100])

    return {
        "version": text(status.get(1)),
        "apiVersion": text(status.get(2)),
        "activated": status.get(3) == SUCCESS,
    }


def _refused_or_unreachable(error: OSError) -> str:
    if isinstance(error, ConnectionRefusedError):
        return "refused: the address is reached, but nothing listens on the port yet"
    if isinstance(error, TimeoutError | socket.timeout):
        return "no answer to the connection request"
    return error.strerror or type(error).__name__


def ask(host: str, port: int, transport: int, timeout: float = 5) -> Answer:
    """One attempt: connect, then ask and read the whole answer, each within `timeout` seconds
    (a peer that drips its answer byte by byte is cut off too)."""
    try:
        connection = socket.create_connection((host, port), timeout=timeout)
    except OSError as error:
        return Answer(CONNECT, _refused_or_unreachable(error))
    with connection:
        try:
            if transport == REST:
                connection.sendall(
                    f"GET / HTTP/1.0\r\nHost: {host}:{port}\r\n\r\n".encode("ascii")
                )
                first = connection.recv(64)
                if not first:
                    return Answer(ANSWER, "it closed the connection without answering")
                if not first.startswith(b"HTTP/"):
                    return Answer(ANSWER, "what answers is not an HTTP server")
                return Answer(READY)
            connection.sendall(_get_status_call())
            data = b""
            ends = time.monotonic() + timeout
            while True:
                left = ends - time.monotonic()
                if left <= 0:
                    raise TimeoutError
                connection.settimeout(left)
                chunk = connection.recv(4096)
                if not chunk:
                    return Answer(ANSWER, "it closed the connection without a whole answer")
                data += chunk
                try:
                    status = _parse_status(data)
                    break
                except _NeedMore:
                    if len(data) > ANSWER_MOST:
                        return Answer(ANSWER, "its answer is not a status")
        except TimeoutError:
            return Answer(ANSWER, f"connected, but no answer within {timeout:g}s")
        except _Bad as error:
            return Answer(ANSWER, f"what answers is not the API server ({error})")
        except OSError as error:
            return Answer(ANSWER, f"the connection failed: {error.strerror or error}")
    if not status["activated"]:
        return Answer(ACTIVATED, "it answers, but is not activated", status)
    return Answer(READY, status=status)


def wait_until_ready(
    host: str,
    port: int,
    transport: int,
    seconds: float,
    interval: float,
    accept_inactive: bool,
    on_wait: Callable[[Answer, float], None] | None = None,
) -> Answer:
    """Ask until the server answers (and is activated, unless `accept_inactive`), or until
    `seconds` have passed; return the last answer."""
    start = time.monotonic()
    while True:
        left = seconds - (time.monotonic() - start)
        answer = ask(host, port, transport, timeout=max(0.2, min(5, left)))
        if answer.hop == READY or (answer.hop == ACTIVATED and accept_inactive):
            return answer
        elapsed = time.monotonic() - start
        if elapsed + interval >= seconds:
            return answer
        if on_wait:
            on_wait(answer, elapsed)
        time.sleep(interval)


def server_transport(definition: dict) -> int:
    """The server's SD_API_TRANSPORT in a task definition (1, Thrift over TCP, by default)."""
    for container in definition.get("containerDefinitions", []):
        if container.get("name") != constants.CONTAINER_NAME:
            continue
        for variable in container.get("environment", []):
            if variable.get("name") == "SD_API_TRANSPORT" and variable.get("value", "").isdigit():
                return int(variable["value"])
    return THRIFT


def licence_at_start(definition: dict) -> bool:
    """Whether the server gets its licence key when it starts (a `secrets` entry for it)."""
    return any(
        secret.get("name") == constants.LICENSE_KEY_VARIABLE
        for container in definition.get("containerDefinitions", [])
        for secret in container.get("secrets", [])
    )


def check(
    name: str,
    host: str,
    port: int,
    definition: dict,
    seconds: float,
    interval: float,
    last_lines: Callable[[], str],
) -> Answer:
    """Wait until the task's server answers from here; StepFailed naming the hop that fails."""
    transport = server_transport(definition)
    with_licence = licence_at_start(definition)
    progress = output.Progress()

    def waiting(answer: Answer, elapsed: float) -> None:
        progress.update(f"task {name}: waiting for the server at {host}:{port} ({answer.detail})", elapsed)

    try:
        answer = wait_until_ready(
            host, port, transport, seconds, max(interval, 0.2), not with_licence, waiting
        )
    finally:
        progress.close()
    if answer.hop == READY or (answer.hop == ACTIVATED and not with_licence):
        output.say(f"task {name}: the server answers at {host}:{port}: {answer.summary()}")
        if answer.hop == ACTIVATED:  # no licence at start: activated by hand
            output.say(
                f"task {name}: activate it first: cd demo && python3 activate_server.py "
                f"--host {host} --port {port}"
            )
        return answer
    where = f"{host}:{port}"
    after = f"after {seconds:.0f}s (--timeout)"
    if answer.hop == CONNECT and answer.detail.startswith("refused"):
        output.say(last_lines())
        raise errors.StepFailed(
            f"task {name} is RUNNING but its server does not listen at {where} {after}: it is "
            "still starting, or it failed (its last lines are above)"
        )
    if answer.hop == CONNECT:
        groups = constants.optional("SEC_GROUP_NAME")
        group = f"security group {','.join(groups)}" if groups else "the task's security group"
        raise errors.StepFailed(
            f"no TCP connection from here to task {name} at {where} {after} ({answer.detail}): "
            f"the {group} must let your address in on port {port} (check_prerequisites.py "
            "checks it), and your address may have changed since create_prerequisites.py: run "
            "it again with --cidr YOUR-ADDRESS/32 (curl https://checkip.amazonaws.com)"
        )
    output.say(last_lines())
    if answer.hop == ANSWER:
        raise errors.StepFailed(
            f"task {name}: the connection to {where} opens, but the server gives no answer "
            f"{after} ({answer.detail}): it is still starting (licence check, models), or "
            "stuck; its last lines are above"
        )
    raise errors.StepFailed(
        f"task {name}: the server at {where} answers but is not activated {after}, although "
        "it got LICENSE_SECRET's key at start: the key was refused or could not be checked "
        "online (its last lines are above)"
    )


def not_checked(name: str, private_ip: str | None) -> str:
    """The line for a task with only a private IP: said, not waited for."""
    return (
        f"task {name}: not checked whether the server answers: this machine has no route to "
        f"the private IP {private_ip} (from inside the VPC: describe_task.py --from-vpc)"
    )
