"""A hostile detection-API peer on loopback TCP or a Unix socket, scripted per call.

    with ApiPeer({"getStatus": Answer.garbage(b"HTTP/1.1 400 Bad Request\\r\\n\\r\\n")}) as peer:
        get_status.main([*peer.connection])

It reads each call whole (as the demos' client reads answers) and answers it as scripted for its
method: a valid answer (the default), bytes that are not Thrift, a reply declaring a huge
size, no answer at all, an answer to another call (wrong method name or sequence id), an answer
cut off by a closed connection, or a valid answer after a delay. A method's script is one
Answer for every call, or a list used in order (valid answers once it runs out). `calls` lists
every call received, in order, with its decoded arguments.
"""

from __future__ import annotations

import contextlib
import socket
import struct
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from thriftpy2.protocol.cybin import TCyBinaryProtocol
from thriftpy2.thrift import TApplicationException, TMessageType
from thriftpy2.transport.memory import TCyMemoryBuffer

import wire
from sdclient import API

Code = API.ResultCode
HUGE = 2**31 - 1


def default_answer(method: str) -> Any:
    """A valid, plausible answer for each method of DetectionApi."""
    status = API.DetectorStatus(
        version="hostile-peer",
        apiVersion="2.1.0",
        initStatus=Code.SUCCESS,
        capability=API.DetectionCapability(numConcurrentSessions=2),
    )
    output = API.DetectionOutput(
        status=Code.SUCCESS, objDetResult=API.ObjectDetectionResult(objects=[])
    )
    return {
        "init": status,
        "getStatus": status,
        "destroy": Code.SUCCESS,
        "createSession": 7,
        "getSessions": [],
        "deleteSession": Code.SUCCESS,
        "clearSession": output,
        "getSessionResult": output,
        "processInputForSession": Code.SUCCESS,
        "runDetection": output,
    }[method]


@dataclass(frozen=True)
class Call:
    method: str
    seqid: int
    args: Any


def reply(method: str, seqid: int, value: Any, kind: int = TMessageType.REPLY) -> bytes:
    """A Thrift binary reply carrying `value` as the result of `method`."""
    buffer = TCyMemoryBuffer()
    protocol = TCyBinaryProtocol(buffer)
    protocol.write_message_begin(method, kind, seqid)
    if kind == TMessageType.EXCEPTION:
        value.write(protocol)
    else:
        getattr(API.DetectionApi, method + "_result")(success=value).write(protocol)
    protocol.write_message_end()
    return buffer.getvalue()


def _header(method: str, seqid: int) -> bytes:
    name = method.encode()
    return struct.pack("!iI", -2147418110, len(name)) + name + struct.pack("!i", seqid)  # REPLY


@dataclass(frozen=True)
class Answer:
    """What the peer does with one call: `respond(call, connection)`, or None to hang up."""

    respond: Callable[[Call, socket.socket, threading.Event], bool]
    name: str

    def __repr__(self) -> str:
        return self.name

    @staticmethod
    def valid(value: Any = None, delay: float = 0.0) -> Answer:
        """The right answer (`value`, else a plausible default), after `delay` seconds."""

        def respond(call: Call, conn: socket.socket, stop: threading.Event) -> bool:
            if delay and stop.wait(delay):
                return False
            answer = default_answer(call.method) if value is None else value
            conn.sendall(reply(call.method, call.seqid, answer))
            return True

        return Answer(respond, f"valid after {delay}s" if delay else "valid")

    @staticmethod
    def raw(
        data: bytes | Callable[[Call], bytes], name: str = "raw bytes", hang_up: bool = False
    ) -> Answer:
        """These bytes (or the bytes `data(call)` makes), then carry on or hang up."""

        def respond(call: Call, conn: socket.socket, stop: threading.Event) -> bool:
            conn.sendall(data(call) if callable(data) else data)
            return not hang_up

        return Answer(respond, name)

    @staticmethod
    def garbage(data: bytes = b"HTTP/1.1 400 Bad Request\r\nContent-Length: 0\r\n\r\n") -> Answer:
        """Bytes that are not Thrift (by default what a web server says)."""
        return Answer.raw(data, f"garbage {data[:12]!r}")

    @staticmethod
    def huge(kind: str) -> Answer:
        """A reply whose result declares a 2 GB string, binary or list, then a few bytes."""

        def data(call: Call) -> bytes:
            head = _header(call.method, call.seqid)
            if kind == "string":  # DetectorStatus.version, or the result as a string
                return head + struct.pack("!bhbh", 12, 0, 11, 1) + struct.pack("!i", HUGE) + b"x" * 64
            if kind == "binary":  # the result field itself declared as a binary
                return head + struct.pack("!bh", 11, 0) + struct.pack("!i", HUGE) + b"\0" * 64
            if kind == "list":  # a list of two billion empty structs: 1 byte each on the wire
                return head + struct.pack("!bhbi", 15, 0, 12, HUGE) + b"\0" * 4096
            if kind == "map":
                return head + struct.pack("!bhbbi", 13, 0, 8, 8, HUGE) + b"\0" * 4096
            if kind == "deep":  # lists in lists, a thousand levels down
                return head + struct.pack("!bh", 15, 0) + struct.pack("!bi", 15, 1) * 1000
            if kind == "many":  # three million booleans: small on the wire, big once decoded
                return head + struct.pack("!bhbi", 15, 0, 2, 3_000_000) + b"\1" * 3_000_000
            raise ValueError(kind)

        return Answer.raw(data, f"huge {kind}", hang_up=kind in ("deep", "many"))

    @staticmethod
    def trickle(every: float = 0.05) -> Answer:
        """A valid answer, one byte every `every` seconds."""

        def respond(call: Call, conn: socket.socket, stop: threading.Event) -> bool:
            for byte in reply(call.method, call.seqid, default_answer(call.method)):
                if stop.wait(every):
                    return False
                conn.sendall(bytes([byte]))
            return True

        return Answer(respond, "trickle")

    @staticmethod
    def silent() -> Answer:
        """No answer at all: the connection stays open and quiet until the peer stops."""

        def respond(call: Call, conn: socket.socket, stop: threading.Event) -> bool:
            stop.wait()
            return False

        return Answer(respond, "silent")

    @staticmethod
    def other_method(method: str = "getSessions") -> Answer:
        """A valid reply, but to another method (`method`, or getStatus if that is the call)."""

        def data(call: Call) -> bytes:
            other = method if method != call.method else "getStatus"
            return reply(other, call.seqid, default_answer(other))

        return Answer.raw(data, "answer to another method")

    @staticmethod
    def wrong_seqid(offset: int = 1000) -> Answer:
        """A valid reply to this method, with another call's sequence id."""

        def data(call: Call) -> bytes:
            return reply(call.method, call.seqid + offset, default_answer(call.method))

        return Answer.raw(data, "wrong sequence id")

    @staticmethod
    def exception(message: str = "internal error") -> Answer:
        """A TApplicationException, as a server says it could not handle a call."""

        def data(call: Call) -> bytes:
            error = TApplicationException(TApplicationException.INTERNAL_ERROR, message)
            return reply(call.method, call.seqid, error, TMessageType.EXCEPTION)

        return Answer.raw(data, "application exception")

    @staticmethod
    def cut(keep: float = 0.5) -> Answer:
        """The first `keep` of a valid answer, then the connection closes."""

        def respond(call: Call, conn: socket.socket, stop: threading.Event) -> bool:
            whole = reply(call.method, call.seqid, default_answer(call.method))
            conn.sendall(whole[: max(1, int(len(whole) * keep))])
            return False

        return Answer(respond, f"cut at {keep:.0%}")

    @staticmethod
    def hang_up() -> Answer:
        """Close the connection without a word."""
        return Answer(lambda call, conn, stop: False, "hang up")


ALL_FAULTS = [
    Answer.garbage(),
    Answer.raw(b"\x80\x01\x00\x02\x00\x00\x00", "a Thrift header, then the end", hang_up=True),
    Answer.huge("string"),
    Answer.huge("binary"),
    Answer.huge("list"),
    Answer.huge("map"),
    Answer.huge("deep"),
    Answer.huge("many"),
    Answer.other_method(),
    Answer.wrong_seqid(),
    Answer.exception(),
    Answer.raw(
        lambda call: reply(call.method, call.seqid, default_answer(call.method), TMessageType.CALL),
        "a call, not a reply",
    ),
    Answer.cut(0.5),
    Answer.hang_up(),
]


@dataclass
class ApiPeer:
    """The peer: `start()` listens (loopback TCP, or `unix_socket`), `stop()` ends everything."""

    script: dict[str, Answer | list[Answer]] = field(default_factory=dict)
    unix_socket: Path | None = None
    calls: list[Call] = field(default_factory=list)

    def __post_init__(self) -> None:
        self._stop = threading.Event()
        self._threads: list[threading.Thread] = []
        self._connections: list[socket.socket] = []
        self._lock = threading.Lock()
        self._listener: socket.socket | None = None

    @property
    def connection(self) -> list[str]:
        """The demo flags that reach this peer."""
        if self.unix_socket:
            return ["--transport", "2", "--unix-socket", str(self.unix_socket)]
        port = self._listener.getsockname()[1]
        return ["--transport", "1", "--host", "127.0.0.1", "--port", str(port)]

    def start(self) -> ApiPeer:
        if self.unix_socket:
            listener = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
            listener.bind(str(self.unix_socket))
        else:
            listener = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
            listener.bind(("127.0.0.1", 0))
        listener.listen(16)
        listener.settimeout(0.05)
        self._listener = listener
        self._spawn(self._accept)
        return self

    def stop(self) -> None:
        self._stop.set()
        self._threads[0].join(timeout=10)  # the acceptor: no new connection after this
        with self._lock:
            for conn in self._connections:
                _shut(conn)
        for thread in self._threads:
            thread.join(timeout=10)
        self._listener.close()
        if self.unix_socket:
            self.unix_socket.unlink(missing_ok=True)

    def __enter__(self) -> ApiPeer:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    def methods(self) -> list[str]:
        return [call.method for call in self.calls]

    # --- inside

    def _spawn(self, target: Callable[..., None], *args: Any) -> None:
        thread = threading.Thread(target=target, args=args, daemon=True)
        with self._lock:
            self._threads.append(thread)
        thread.start()

    def _accept(self) -> None:
        while not self._stop.is_set():
            try:
                conn, _ = self._listener.accept()
            except TimeoutError:
                continue
            except OSError:
                return
            with self._lock:
                self._connections.append(conn)
            self._spawn(self._serve, conn)

    @property
    def accepted(self) -> int:
        """How many connections the peer has taken so far."""
        with self._lock:
            return len(self._connections)

    def _next_answer(self, method: str) -> Answer:
        with self._lock:
            scripted = self.script.get(method)
            if isinstance(scripted, list):
                return scripted.pop(0) if scripted else Answer.valid()
            return scripted or Answer.valid()

    def _serve(self, conn: socket.socket) -> None:
        reader = wire.MessageReader(conn)
        try:
            while not self._stop.is_set():
                try:
                    message = reader.read(timeout=3600)
                except (wire.WireError, OSError):
                    return
                call = _decode_call(message)
                with self._lock:
                    self.calls.append(call)
                try:
                    if not self._next_answer(call.method).respond(call, conn, self._stop):
                        return
                except OSError:  # the client hung up first
                    return
        finally:
            _shut(conn)


def _decode_call(message: bytes) -> Call:
    protocol = TCyBinaryProtocol(TCyMemoryBuffer(message))
    method, _, seqid = protocol.read_message_begin()
    args = getattr(API.DetectionApi, method + "_args")()
    args.read(protocol)
    return Call(method, seqid, args)


def _shut(conn: socket.socket) -> None:
    with contextlib.suppress(OSError):
        conn.shutdown(socket.SHUT_RDWR)
    conn.close()


def wait_for(condition: Callable[[], bool], timeout: float = 10.0) -> bool:
    """Poll `condition` until it holds or `timeout` passes."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if condition():
            return True
        time.sleep(0.01)
    return condition()
