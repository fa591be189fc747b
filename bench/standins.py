"""Stand-ins for the benchmarks and tests: an emulated WAN link and a server with set timings.

- `Link`: a TCP proxy on loopback that delays every byte by a one-way delay and caps the
  bandwidth in each direction, as a tunnel to a far server does.
- `TimedServer`: the detection API answering after a set time per detection, with a set number
  of slots (`numConcurrentSessions`); detections beyond the slots wait for one to free.

Both run in threads of the process that starts them; `python3 bench/standins.py link|server`
runs one as its own process (it prints "ready" once it accepts).
"""

from __future__ import annotations

import argparse
import contextlib
import json
import queue
import socket
import sys
import threading
import time
from collections import Counter
from collections.abc import Callable
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT / "demo") not in sys.path:
    sys.path.insert(0, str(ROOT / "demo"))

from thriftpy2.protocol import TCyBinaryProtocolFactory  # noqa: E402
from thriftpy2.rpc import make_server  # noqa: E402
from thriftpy2.transport import TCyBufferedTransportFactory  # noqa: E402

from sdclient import API  # noqa: E402

Code = API.ResultCode


# --- the emulated WAN link


def _pipe(
    source: socket.socket,
    target: socket.socket,
    delay: float,
    bits_per_second: float,
    carried: Callable[[int], None] = lambda size: None,
) -> None:
    """Carry bytes one way: each chunk leaves when the link is free, arrives `delay` later."""
    chunks: queue.Queue = queue.Queue()

    def read() -> None:
        while True:
            try:
                data = source.recv(65536)
            except OSError:
                data = b""
            chunks.put((time.monotonic(), data))
            if not data:
                return

    threading.Thread(target=read, daemon=True).start()
    link_free = 0.0
    while True:
        arrived, data = chunks.get()
        if not data:
            break
        link_free = max(arrived, link_free) + len(data) * 8 / bits_per_second
        wait = link_free + delay - time.monotonic()
        if wait > 0:
            time.sleep(wait)
        try:
            target.sendall(data)
        except OSError:
            break
        carried(len(data))
    for sock in (source, target):
        with contextlib.suppress(OSError):  # the other direction may have closed it already
            sock.shutdown(socket.SHUT_RDWR)


class Link:
    """A proxy on 127.0.0.1:`port` to 127.0.0.1:`to_port`: `delay_ms` each way, `mbit` each way."""

    def __init__(self, port: int, to_port: int, delay_ms: float, mbit: float) -> None:
        self.port, self.to_port = port, to_port
        self.delay, self.bits_per_second = delay_ms / 1000, mbit * 1e6
        self.listener = socket.create_server(("127.0.0.1", port))
        self.sockets: list[socket.socket] = []
        self.bytes_to_server = 0
        self.lock = threading.Lock()
        threading.Thread(target=self._accept, daemon=True).start()

    def _accept(self) -> None:
        while True:
            try:
                client, _ = self.listener.accept()
            except OSError:
                return  # closed
            try:
                upstream = socket.create_connection(("127.0.0.1", self.to_port))
            except OSError:
                client.close()
                continue
            for sock in (client, upstream):
                sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
                self.sockets.append(sock)
            threading.Thread(
                target=_pipe,
                args=(client, upstream, self.delay, self.bits_per_second, self._count),
                daemon=True,
            ).start()
            threading.Thread(
                target=_pipe, args=(upstream, client, self.delay, self.bits_per_second), daemon=True
            ).start()

    def _count(self, size: int) -> None:
        with self.lock:
            self.bytes_to_server += size

    def close(self) -> None:
        self.listener.close()
        for sock in self.sockets:
            with contextlib.suppress(OSError):
                sock.shutdown(socket.SHUT_RDWR)
            sock.close()


# --- the server with set timings


class TimedHandler:
    """The detection API: every detection takes `work` seconds in one of `slots` slots.

    It finds one person per input; it counts calls and the bytes of the frames it is sent.
    """

    def __init__(self, work: float, slots: int) -> None:
        self.work = work
        self.slots = threading.BoundedSemaphore(slots)
        self.slot_count = slots
        self.sessions: dict[int, list] = {}
        self.next_session = 1
        self.lock = threading.Lock()
        self.detections = 0
        self.input_types: Counter = Counter()  # DetectionInputType names of the frames sent

    def getStatus(self):
        return API.DetectorStatus(
            version=json.dumps({"detections": self.detections}),
            apiVersion="2.1.0",
            initStatus=Code.SUCCESS,
            capability=API.DetectionCapability(numConcurrentSessions=self.slot_count),
        )

    def _detect(self, frame_index: int, detection_input):
        kind = API.DetectionInputType._VALUES_TO_NAMES.get(detection_input.type, "?")
        with self.lock:
            self.input_types[kind] += 1
        with self.slots:
            time.sleep(self.work)
        with self.lock:
            self.detections += 1
        return API.DetectedObject(
            name="person", objectId=1, top=0.2, left=0.3, bottom=0.8, right=0.4,
            frameIndex=frame_index, confidence=0.9, direction=0,
        )  # fmt: skip

    def runDetection(self, input, settings):  # noqa: A002 - IDL name
        found = self._detect(0, input)
        return API.DetectionOutput(
            status=Code.SUCCESS, objDetResult=API.ObjectDetectionResult(objects=[found])
        )

    def createSession(self, settings):
        with self.lock:
            if len(self.sessions) >= self.slot_count:
                return -1
            session_id = self.next_session
            self.next_session += 1
            self.sessions[session_id] = []
        return session_id

    def getSessions(self):
        with self.lock:
            return [API.DetectionSession(id=each) for each in sorted(self.sessions)]

    def processInputForSession(self, sessionId, frameIndex, input):  # noqa: A002 - IDL name
        with self.lock:
            if sessionId not in self.sessions:
                return Code.ERR_INVALID_REQ
        found = self._detect(frameIndex, input)
        with self.lock:
            if sessionId not in self.sessions:
                return Code.ERR_INVALID_REQ
            self.sessions[sessionId].append(found)
        return Code.SUCCESS

    def _output(self, session_id: int):
        with self.lock:
            objects = self.sessions.get(session_id)
        if objects is None:
            return API.DetectionOutput(status=Code.ERR_INVALID_REQ)
        return API.DetectionOutput(
            status=Code.SUCCESS, objDetResult=API.ObjectDetectionResult(objects=list(objects))
        )

    def getSessionResult(self, sessionId):
        return self._output(sessionId)

    def clearSession(self, sessionId):
        return self._output(sessionId)

    def deleteSession(self, sessionId):
        with self.lock:
            return (
                Code.SUCCESS
                if self.sessions.pop(sessionId, None) is not None
                else (Code.ERR_INVALID_REQ)
            )


class TimedServer:
    """`TimedHandler` served on 127.0.0.1:`port`, one thread per connection."""

    def __init__(self, port: int, work: float, slots: int) -> None:
        self.port = port
        self.handler = TimedHandler(work, slots)
        self.server = make_server(
            API.DetectionApi,
            self.handler,
            host="127.0.0.1",
            port=port,
            client_timeout=None,
            proto_factory=TCyBinaryProtocolFactory(),
            trans_factory=TCyBufferedTransportFactory(),
        )
        self.server.trans.listen()
        self.connections: list = []
        threading.Thread(target=self._accept, daemon=True).start()

    def _accept(self) -> None:
        while True:
            try:
                connection = self.server.trans.accept()
            except OSError:
                return  # closed
            self.connections.append(connection)
            threading.Thread(target=self._handle, args=(connection,), daemon=True).start()

    def _handle(self, connection) -> None:
        with contextlib.suppress(Exception):  # a client that goes away ends its thread
            self.server.handle(connection)

    def close(self) -> None:
        """Stop listening and drop every connection, as a server that dies."""
        self.server.trans.close()
        for connection in self.connections:
            with contextlib.suppress(Exception):
                connection.sock.shutdown(socket.SHUT_RDWR)  # wakes a thread blocked reading
            with contextlib.suppress(Exception):
                connection.close()


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.strip().splitlines()[0])
    kinds = parser.add_subparsers(dest="kind", required=True)
    link = kinds.add_parser("link", help="an emulated WAN link")
    link.add_argument("port", type=int)
    link.add_argument("to_port", type=int)
    link.add_argument("--delay-ms", type=float, default=20)
    link.add_argument("--mbit", type=float, default=50)
    server = kinds.add_parser("server", help="a server with set timings")
    server.add_argument("port", type=int)
    server.add_argument("--work-ms", type=float, default=40)
    server.add_argument("--slots", type=int, default=3)
    args = parser.parse_args(argv)
    if args.kind == "link":
        Link(args.port, args.to_port, args.delay_ms, args.mbit)
    else:
        TimedServer(args.port, args.work_ms / 1000, args.slots)
    print("ready", flush=True)
    with contextlib.suppress(KeyboardInterrupt):
        threading.Event().wait()
    return 0


if __name__ == "__main__":
    sys.exit(main())
