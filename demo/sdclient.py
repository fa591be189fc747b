"""A client for the SmartyzeDetect detection API, built from api.thrift at run time.

    with Client(Endpoint.from_settings()) as api:
        status = api.call("getStatus")

`Client.call` turns every transport failure into `ApiError` and reopens the connection on
the next call (thriftpy2 does not match replies to requests, so a connection that failed once
cannot be trusted again). `check` turns a non-SUCCESS `ResultCode` into `ApiError`.
"""

from __future__ import annotations

import socket
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import thriftpy2
from thriftpy2.protocol import TCyBinaryProtocolFactory
from thriftpy2.rpc import make_client
from thriftpy2.thrift import TApplicationException, TException, TPayload, args_to_kwargs
from thriftpy2.transport import TCyBufferedTransportFactory, TTransportException

import result_codes

API = thriftpy2.load(str(Path(__file__).with_name("api.thrift")), module_name="sdapi_thrift")

TCP, UNIX = 1, 2
DEFAULT_PORT = 9090
DEFAULT_UNIX_SOCKET = "/var/data/apiserver.sock"
# thriftpy2 waits 3 s by default; a busy server working on a full-HD frame can take longer.
DEFAULT_TIMEOUT = 60.0

PROTOCOL = TCyBinaryProtocolFactory()  # strict binary, as the server speaks
TRANSPORT = TCyBufferedTransportFactory()  # buffered, unframed


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
    """One connection to the server, opened on first use and reopened after a failure."""

    def __init__(self, endpoint: Endpoint, timeout: float = DEFAULT_TIMEOUT) -> None:
        self.endpoint = endpoint
        self.timeout = timeout
        self._client: Any = None
        self.in_flight = 0  # calls sent whose answers are not read yet

    def _connect(self) -> Any:
        options: dict[str, Any] = {
            "proto_factory": PROTOCOL,
            "trans_factory": TRANSPORT,
            "timeout": int(self.timeout * 1000),
        }
        if self.endpoint.transport == UNIX:
            options["unix_socket"] = self.endpoint.unix_socket
        else:
            options.update(host=self.endpoint.host, port=self.endpoint.port)
        try:
            return make_client(API.DetectionApi, **options)
        except (TTransportException, OSError) as error:
            raise ApiError(
                f"cannot reach the API server over {self.endpoint}: {_reason(error)}"
                f"{_reach_hint(self.endpoint)}"
            ) from None

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
        if self._client is None:
            self._client = self._connect()
        arguments = getattr(API.DetectionApi, method + "_args").thrift_spec
        with self._translate_errors(method):
            # thriftpy2's TClient has no public split of a call into its send and its receive.
            self._client._send(method, **args_to_kwargs(arguments, *args))
        self.in_flight += 1

    def receive(self, method: str) -> Any:
        """The answer to the oldest call sent and not yet received, which must be `method`."""
        with self._translate_errors(method):
            answer = self._client._recv(method)
        self.in_flight -= 1
        return answer

    @contextmanager
    def _translate_errors(self, method: str) -> Iterator[None]:
        try:
            yield
        except (TTransportException, OSError, EOFError) as error:
            self.close()
            if isinstance(error, socket.timeout) or "timed out" in str(error):
                raise ApiError(
                    f"{method}: no answer from the API server over {self.endpoint} "
                    f"within {self.timeout:.0f}s (--timeout sets the limit)"
                ) from None
            raise ApiError(
                f"{method}: lost the connection to the API server over {self.endpoint}: "
                f"{_reason(error)}"
            ) from None
        except TApplicationException as error:
            self.close()
            raise ApiError(f"{method}: the server could not handle the call: {error}") from None
        except TException as error:
            self.close()
            raise ApiError(f"{method}: {type(error).__name__}: {error}") from None

    def close(self) -> None:
        """Drop the connection (and any answers in flight); the next call opens a new one."""
        if self._client is not None:
            self._client.close()
            self._client = None
        self.in_flight = 0

    def __enter__(self) -> Client:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def _reason(error: BaseException) -> str:
    cause = error.__cause__ or error.__context__
    for candidate in (error, cause):
        if isinstance(candidate, OSError) and candidate.strerror:
            return candidate.strerror
    text = str(error) or type(error).__name__
    return text.split(": ", 1)[-1] if "Could not connect" in text else text


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
