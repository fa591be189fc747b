"""A client for the SmartyzeDetect detection API, built from api.thrift at run time.

    with Client(Endpoint.from_settings()) as api:
        status = api.call("getStatus")

The wire is Thrift's strict binary protocol, unframed, as the server speaks it. `Client.call`
turns every failure, including anything the peer sends that is not a valid answer, into
`ApiError`, and reopens the connection on the next call (a connection that failed once cannot
be trusted again). `check` turns a non-SUCCESS `ResultCode` into `ApiError`.
"""

from __future__ import annotations

import socket
from collections import deque
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import thriftpy2
from thriftpy2.protocol.cybin import TCyBinaryProtocol
from thriftpy2.thrift import TApplicationException, TMessageType, TPayload, args_to_kwargs
from thriftpy2.transport.buffered import TCyBufferedTransport
from thriftpy2.transport.memory import TCyMemoryBuffer

import result_codes
import wire

API = thriftpy2.load(str(Path(__file__).with_name("api.thrift")), module_name="sdapi_thrift")

TCP, UNIX = 1, 2
DEFAULT_PORT = 9090
DEFAULT_UNIX_SOCKET = "/var/data/apiserver.sock"
# A busy server working on a full-HD frame can take a while.
DEFAULT_TIMEOUT = 60.0
MIN_TIMEOUT = 0.001  # s: what a socket can wait, at least
MAX_TIMEOUT = 1e8  # s (three years): past this the operating system refuses the timeout


class ApiError(Exception):
    """A call did not succeed: the message says why, for the person running the demo."""


code_name = result_codes.code_name


def check(code: int | None, doing: str) -> None:
    """Raise ApiError unless `code` is SUCCESS."""
    if code != API.ResultCode.SUCCESS:
        raise ApiError(f"{doing}: {result_codes.explain(code)}")


@dataclass(frozen=True)
class Endpoint:
    """Where the server listens: TCP host and port, or a Unix socket path."""

    transport: int = TCP
    host: str = "localhost"
    port: int = DEFAULT_PORT
    unix_socket: str = DEFAULT_UNIX_SOCKET

    def __str__(self) -> str:
        if self.transport == UNIX:
            return f"Unix socket {self.unix_socket}"
        return f"TCP {self.host}:{self.port}"


def require_complete(value: Any, path: str = "") -> None:
    """Check what thriftpy2 does not: required fields are set and a union has one arm.

    Raises ValueError naming the field.
    """
    if not isinstance(value, TPayload):
        if isinstance(value, list):
            for index, item in enumerate(value):
                require_complete(item, f"{path}[{index}]")
        return
    name = path or type(value).__name__
    fields = [(spec[1], spec[-1]) for spec in value.thrift_spec.values()]
    if isinstance(value, API.InputParams):
        arms = [field for field, _ in fields if getattr(value, field) is not None]
        if len(arms) != 1:
            raise ValueError(f"{name} must set exactly one of its fields, not {len(arms)}")
    for field, required in fields:
        member = getattr(value, field)
        if member is None and required is True:
            raise ValueError(f"{name}.{field} is required")
        if member is not None:
            require_complete(member, f"{name}.{field}")


class Client:
    """One connection to the server, opened on first use and reopened after a failure.

    Every answer is read whole and checked (see wire.py) before it is decoded, and must answer
    the call it is read for: the same method and sequence id.
    """

    def __init__(self, endpoint: Endpoint, timeout: float = DEFAULT_TIMEOUT) -> None:
        self.endpoint = endpoint
        self.timeout = timeout
        # A socket timeout of 0 would mean "never wait"; below a millisecond rounds up to it.
        self.seconds = min(max(timeout, MIN_TIMEOUT), MAX_TIMEOUT)
        self._sock: socket.socket | None = None
        self._reader: wire.MessageReader | None = None
        self._oprot: TCyBinaryProtocol | None = None
        self._pending: deque[tuple[str, int]] = deque()  # calls sent, answers not read yet
        self._seqid = 0

    @property
    def in_flight(self) -> int:
        """Calls sent whose answers are not read yet."""
        return len(self._pending)

    def _connect(self) -> None:
        try:
            if self.endpoint.transport == UNIX:
                if not hasattr(socket, "AF_UNIX"):  # Python on Windows
                    raise ApiError(f"cannot reach {self.endpoint}: no Unix sockets here; use TCP")
                sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
                try:
                    sock.settimeout(self.seconds)
                    sock.connect(self.endpoint.unix_socket)
                except BaseException:
                    sock.close()
                    raise
            else:
                address = (self.endpoint.host, self.endpoint.port)
                sock = socket.create_connection(address, timeout=self.seconds)
                sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        except (OSError, ValueError) as error:  # ValueError: a path or name no socket takes
            raise ApiError(
                f"cannot reach the API server over {self.endpoint}: {_reason(error)}"
                f"{_reach_hint(self.endpoint)}"
            ) from None
        self._sock, self._reader = sock, wire.MessageReader(sock)
        # Calls go out through thriftpy2's buffered transport: one buffer, reused.
        self._oprot = TCyBinaryProtocol(TCyBufferedTransport(_Sender(sock)))

    def call(self, method: str, *args: Any) -> Any:
        """Call `method` on the server and wait for its answer; any failure becomes ApiError."""
        self.send(method, *args)
        return self.receive(method)

    def send(self, method: str, *args: Any) -> None:
        """Send a call without waiting for its answer: `receive` reads the answers in order.

        Calls in flight on one connection take the round trip out of each call's cost; the
        server answers them in the order they were sent.
        """
        for arg in args:
            try:
                require_complete(arg)
            except ValueError as error:
                raise ApiError(f"{method}: {error}") from None
        arguments = getattr(API.DetectionApi, method + "_args")
        self.send_struct(method, arguments(**args_to_kwargs(arguments.thrift_spec, *args)))

    def send_struct(self, method: str, arguments: TPayload) -> None:
        """Send `arguments` (any struct) as a call to `method`; `receive` reads its answer."""
        if self._sock is None:
            self._connect()
        with self._translate_errors(method):
            self._sock.settimeout(self.seconds)
            self._oprot.write_message_begin(method, TMessageType.CALL, self._seqid)
            arguments.write(self._oprot)
            self._oprot.write_message_end()
            self._oprot.trans.flush()
        self._pending.append((method, self._seqid))
        self._seqid = (self._seqid + 1) & 0x7FFFFFFF

    def receive(self, method: str) -> Any:
        """The answer to the oldest call sent and not yet received, which must be `method`."""
        sent, seqid = self._pending[0]
        assert sent == method, f"the oldest call in flight is {sent}, not {method}"
        with self._translate_errors(method):
            message = self._reader.read(self.seconds)
        self._pending.popleft()
        try:
            return self._decode(method, seqid, message)
        except ApiError:
            self.close()
            raise

    def _decode(self, method: str, seqid: int, message: bytes) -> Any:
        protocol = TCyBinaryProtocol(TCyMemoryBuffer(message), strict_decode=True)
        try:
            name, kind, answer_seqid = protocol.read_message_begin()
            if kind == TMessageType.EXCEPTION:
                error = TApplicationException()
                error.read(protocol)
                raise ApiError(f"{method}: the server could not handle the call: {error}")
            if kind != TMessageType.REPLY:
                raise ApiError(f"{method}: the server sent a Thrift message that is not a reply")
            if name != method or answer_seqid != seqid:
                raise ApiError(
                    f"{method}: the server's answer is for another call ({name} #{answer_seqid}), "
                    f"not for {method} #{seqid}"
                )
            result = getattr(API.DetectionApi, method + "_result")()
            result.read(protocol)
        except ApiError:
            raise
        except Exception as error:  # noqa: BLE001 - foreign bytes: any decoding failure
            raise ApiError(
                f"{method}: the server's answer cannot be decoded ({type(error).__name__}: "
                f"{str(error)[:120]})"
            ) from None
        if result.success is None:
            raise ApiError(f"{method}: the server's answer carries no result")
        return result.success

    @contextmanager
    def _translate_errors(self, method: str) -> Iterator[None]:
        try:
            yield
        except TimeoutError:
            self.close()
            raise ApiError(
                f"{method}: no answer from the API server over {self.endpoint} "
                f"within {self.timeout:g}s (--timeout sets the limit)"
            ) from None
        except wire.Closed as error:
            self.close()
            raise ApiError(
                f"{method}: lost the connection to the API server over {self.endpoint}: {error}"
            ) from None
        except wire.WireError as error:
            self.close()
            raise ApiError(
                f"{method}: {error} (is {self.endpoint} the SmartyzeDetect API server?)"
            ) from None
        except OSError as error:
            self.close()
            raise ApiError(
                f"{method}: lost the connection to the API server over {self.endpoint}: "
                f"{_reason(error)}"
            ) from None

    def close(self) -> None:
        """Drop the connection (and any answers in flight); the next call opens a new one."""
        if self._sock is not None:
            self._sock.close()
            self._sock = self._reader = self._oprot = None
        self._pending.clear()

    def __enter__(self) -> Client:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


class _Sender:
    """What thriftpy2's buffered transport writes to: the socket, whole buffers at a time."""

    def __init__(self, sock: socket.socket) -> None:
        self.write = sock.sendall

    def flush(self) -> None:
        pass


def _reason(error: BaseException) -> str:
    if isinstance(error, OSError) and error.strerror:
        return error.strerror
    return str(error) or type(error).__name__


def _reach_hint(endpoint: Endpoint) -> str:
    if endpoint.transport == UNIX:
        return " (is the server running with SD_API_TRANSPORT=2, and /var/data mounted here?)"
    return (
        " (is the task RUNNING, is this its address, and does the security group let you in "
        f"on port {endpoint.port}?)"
    )


def to_plain(value: Any) -> Any:
    """A Thrift value as JSON-ready data: structs as dicts without unset fields, enums by name."""
    if isinstance(value, TPayload):
        plain = {}
        for spec in value.thrift_spec.values():
            field, member = spec[1], getattr(value, spec[1])
            if member is None:
                continue
            enum = spec[2] if len(spec) == 4 and hasattr(spec[2], "_VALUES_TO_NAMES") else None
            plain[field] = enum._VALUES_TO_NAMES.get(member, member) if enum else to_plain(member)
        return plain
    if isinstance(value, list):
        return [to_plain(item) for item in value]
    if isinstance(value, bytes):
        return f"<{len(value)} bytes>"
    return value
