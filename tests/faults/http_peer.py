"""A misbehaving HTTP server on loopback, for the REST demo: canned answers, drops, silence.

    with HttpPeer(lambda request: Reply(200, b'{"status": 3}')) as peer:
        ... http://127.0.0.1:{peer.port}/v1/detect ...

The behaviour gets the raw request (head and body, read per Content-Length) and returns a
`Reply` to send, `DROP` to close without a word, or `SILENT` to keep the connection open
and never answer (until the peer is closed).
"""

from __future__ import annotations

import socket
import threading
from collections.abc import Callable
from dataclasses import dataclass


@dataclass
class Reply:
    status: int = 200
    body: bytes = b""
    content_type: str = "application/json"
    raw: bytes | None = None  # sent as is, instead of a well-formed answer
    trickle: float = 0.0  # > 0: sent a byte at a time, this many seconds apart...
    trickle_after: int = 0  # ...after the first this many bytes, sent at once

    def encode(self) -> bytes:
        if self.raw is not None:
            return self.raw
        head = (
            f"HTTP/1.1 {self.status} Canned\r\nContent-Type: {self.content_type}\r\n"
            f"Content-Length: {len(self.body)}\r\nConnection: close\r\n\r\n"
        )
        return head.encode() + self.body


DROP, SILENT = "drop", "silent"


@dataclass
class Request:
    head: bytes
    body: bytes


class HttpPeer:
    """Listens on 127.0.0.1 at a free port; each connection is answered by `behaviour`."""

    def __init__(self, behaviour: Callable[[Request], Reply | str]) -> None:
        self.behaviour = behaviour
        self.listener = socket.create_server(("127.0.0.1", 0))
        self.port = self.listener.getsockname()[1]
        self.requests: list[Request] = []
        self.closed = threading.Event()
        self.connections: list[socket.socket] = []
        self.thread = threading.Thread(target=self._accept, daemon=True)
        self.thread.start()

    def _accept(self) -> None:
        while True:
            try:
                connection, _ = self.listener.accept()
            except OSError:
                return
            self.connections.append(connection)
            threading.Thread(target=self._serve, args=(connection,), daemon=True).start()

    def _serve(self, connection: socket.socket) -> None:
        try:
            request = self._read(connection)
            self.requests.append(request)
            action = self.behaviour(request)
            if action == SILENT:
                self.closed.wait()
            elif isinstance(action, Reply) and action.trickle > 0:
                data = action.encode()
                connection.sendall(data[: action.trickle_after])
                for byte in data[action.trickle_after :]:
                    connection.sendall(bytes([byte]))
                    if self.closed.wait(action.trickle):
                        break
            elif isinstance(action, Reply):
                connection.sendall(action.encode())
        except OSError:
            pass
        finally:
            connection.close()

    @staticmethod
    def _read(connection: socket.socket) -> Request:
        data = b""
        while b"\r\n\r\n" not in data:
            chunk = connection.recv(65536)
            if not chunk:
                break
            data += chunk
        head, _, body = data.partition(b"\r\n\r\n")
        length = 0
        for line in head.split(b"\r\n")[1:]:
            name, _, value = line.partition(b":")
            if name.strip().lower() == b"content-length":
                length = int(value.strip())
        while len(body) < length:
            chunk = connection.recv(65536)
            if not chunk:
                break
            body += chunk
        return Request(head, body)

    def close(self) -> None:
        self.closed.set()
        self.listener.close()
        for connection in self.connections:
            connection.close()

    def __enter__(self) -> HttpPeer:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
