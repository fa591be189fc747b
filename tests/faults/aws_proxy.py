"""A fault proxy for AWS: a real HTTP proxy on 127.0.0.1 in front of moto_server.

Point a script at `proxy.endpoint` with AWS_ENDPOINT_URL. Each request is forwarded to the
upstream endpoint unless a rule for its operation says otherwise:

    with AwsFaultProxy(moto.endpoint) as proxy:
        proxy.throttle("StopTask", times=5)        # 5 throttling answers, as the service speaks
        proxy.server_error("RunTask")              # a 5xx, every time
        proxy.error("DescribeClusters", "InvalidSignatureException", message, status=403)
        proxy.raw("ListTasks", 500, b"<html>", "text/html")  # any body at all
        proxy.hold("RunTask", seconds=5)           # forwarded, answered 5 s late
        proxy.edit("RunTask", add_failure)         # forwarded, its JSON answer changed
        proxy.drop("ListTasks")                    # the connection closed, no answer
        proxy.silence()                            # every operation: accepted, never answered
        ...
        proxy.count("StopTask")                    # requests seen, for counting attempts
        proxy.play("DescribeTasks", handler)       # how the service behaves (see aws_like.py)

The operation is the `X-Amz-Target` header's (the JSON protocol of ECS, `AmazonEC2ContainerServiceV20141113.RunTask`, and of CloudWatch Logs, `Logs_20140328.GetLogEvents`) or the `Action` form field
(the EC2, IAM and STS query protocol). "*" names every operation. `stop()` ends every
connection and thread it started.
"""

from __future__ import annotations

import contextlib
import http.client
import json
import socket
import sys
import threading
import urllib.parse
from collections.abc import Callable
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from xml.sax.saxutils import escape

ANY = "*"
HOP_BY_HOP = {"connection", "keep-alive", "transfer-encoding", "content-length"}

# (status, code) of a throttle and of a server error, per service, as each one answers them.
THROTTLE = {
    "ecs": (400, "ThrottlingException"),
    "ec2": (503, "RequestLimitExceeded"),
    "logs": (400, "ThrottlingException"),  # CloudWatch Logs' JSON protocol (Logs_20140328.*)
}
THROTTLE_DEFAULT = (400, "Throttling")  # IAM, STS
SERVER_ERROR = {
    "ecs": (500, "ServerException"),
    "ec2": (500, "InternalError"),
    "logs": (500, "ServiceUnavailableException"),
}
SERVER_ERROR_DEFAULT = (500, "ServiceFailure")


@dataclass
class Rule:
    kind: str  # "answer", "hold", "edit", "drop" or "silent"
    times: int | None  # how many requests it still applies to; None: all
    status: int = 0
    code: str = ""
    message: str = ""
    body: bytes | None = None  # for "answer": this body as it is, instead of a made one
    content_type: str = ""
    seconds: float = 0.0
    change: Callable[[dict[str, Any]], dict[str, Any]] | None = None  # for "edit"


@dataclass
class Request:
    service: str
    operation: str
    protocol: str  # "json" or "query"


Answer = tuple[int, list[tuple[str, str]], bytes]  # status, headers, body


class Call:
    """One request handed to a behaviour (`AwsFaultProxy.play`)."""

    def __init__(self, handler: _Handler, request: Request, body: bytes) -> None:
        self.handler, self.request, self.body = handler, request, body
        self.operation, self.service = request.operation, request.service

    @property
    def params(self) -> dict[str, Any]:
        """The request's parameters: the JSON body, or the query form's fields (first values)."""
        if self.request.protocol == "json":
            return json.loads(self.body or b"{}")
        fields = urllib.parse.parse_qs(self.body.decode("utf-8", "replace"))
        return {name: values[0] for name, values in fields.items()}

    def forward(self, body: bytes | None = None) -> Answer:
        """Upstream's answer to the request (or to `body` instead)."""
        return self.handler._upstream(self.body if body is None else body)

    def error(self, code: str, message: str, status: int = 400) -> Answer:
        """An error answer as the service writes it."""
        body, content_type = _error_body(self.request, code, message)
        return status, [("Content-Type", content_type)], body


class AwsFaultProxy:
    """A proxy with per-operation faults in front of an AWS endpoint (moto_server)."""

    def __init__(self, upstream: str, host: str = "127.0.0.1") -> None:
        parsed = urllib.parse.urlsplit(upstream)
        self.upstream = (parsed.hostname or "127.0.0.1", parsed.port or 80)
        self.rules: dict[str, list[Rule]] = {}
        self.behaviours: dict[str, Callable[[Call], Answer]] = {}
        self.seen: list[str] = []  # every request's operation, in order
        self.changed = threading.Condition()
        self.stopping = threading.Event()
        self.connections: set[socket.socket] = set()
        self.server = _Server((host, 0), _Handler)
        self.server.proxy = self
        self.endpoint = f"http://{host}:{self.server.server_address[1]}"
        self.thread = threading.Thread(
            target=self.server.serve_forever, kwargs={"poll_interval": 0.05}, name="aws-proxy"
        )

    # --- life

    def start(self) -> AwsFaultProxy:
        self.thread.start()
        return self

    def stop(self) -> None:
        """Stop accepting, end every connection and held answer, join every thread."""
        self.stopping.set()
        self.server.shutdown()
        with self.changed:
            for connection in list(self.connections):
                with contextlib.suppress(OSError):
                    connection.shutdown(socket.SHUT_RDWR)
        self.server.server_close()  # joins the handler threads (block_on_close)
        self.thread.join()

    def __enter__(self) -> AwsFaultProxy:
        return self.start()

    def __exit__(self, *_: object) -> None:
        self.stop()

    # --- rules

    def _add(self, operation: str, rule: Rule) -> None:
        with self.changed:
            self.rules.setdefault(operation, []).append(rule)

    def throttle(self, operation: str = ANY, times: int | None = None) -> None:
        """Answer with the service's own throttling error."""
        self._add(operation, Rule("answer", times, code="(throttle)", message="Rate exceeded"))

    def server_error(self, operation: str = ANY, times: int | None = None) -> None:
        """Answer with the service's own 5xx error."""
        self._add(
            operation,
            Rule("answer", times, code="(server error)", message="We encountered an internal error"),
        )

    def error(
        self,
        operation: str,
        code: str,
        message: str,
        status: int = 400,
        times: int | None = None,
    ) -> None:
        """Answer with an error of the test's choosing, in the service's protocol."""
        self._add(operation, Rule("answer", times, status=status, code=code, message=message))

    def raw(
        self,
        operation: str,
        status: int,
        body: bytes,
        content_type: str = "application/octet-stream",
        times: int | None = None,
    ) -> None:
        """Answer with exactly this status and body."""
        self._add(
            operation, Rule("answer", times, status=status, body=body, content_type=content_type)
        )

    def hold(self, operation: str, seconds: float, times: int | None = None) -> None:
        """Forward the request, but only after `seconds` (or until the proxy stops)."""
        self._add(operation, Rule("hold", times, seconds=seconds))

    def edit(
        self,
        operation: str,
        change: Callable[[dict[str, Any]], dict[str, Any]],
        times: int | None = None,
    ) -> None:
        """Forward the request and answer with `change(upstream's JSON answer)`."""
        self._add(operation, Rule("edit", times, change=change))

    def drop(self, operation: str = ANY, times: int | None = None) -> None:
        """Read the request, then close the connection without a word."""
        self._add(operation, Rule("drop", times))

    def silence(self, operation: str = ANY, times: int | None = None) -> None:
        """Read the request and never answer (until the proxy stops)."""
        self._add(operation, Rule("silent", times))

    def play(self, operation: str, behaviour: Callable[[Call], Answer]) -> None:
        """Answer `operation` with `behaviour(call)` whenever no fault rule takes the request.

        The behaviour may forward the request (`call.forward()`), change the answer, or answer
        with an error of the service's own (`call.error(...)`): how AWS behaves where moto
        does not (see aws_like.py). Fault rules still come first.
        """
        with self.changed:
            self.behaviours[operation] = behaviour

    def clear(self) -> None:
        with self.changed:
            self.rules.clear()

    # --- what was seen

    def count(self, operation: str) -> int:
        with self.changed:
            return sum(1 for seen in self.seen if operation in (seen, ANY))

    def wait_for(self, operation: str, count: int = 1, timeout: float = 30) -> None:
        """Block until `count` requests for `operation` have arrived."""
        with self.changed:
            if not self.changed.wait_for(
                lambda: sum(1 for seen in self.seen if operation in (seen, ANY)) >= count,
                timeout,
            ):
                raise TimeoutError(f"no {count} request(s) for {operation} within {timeout}s")

    # --- used by the handler

    def _behaviour_for(self, operation: str) -> Callable[[Call], Answer] | None:
        with self.changed:
            return self.behaviours.get(operation)

    def _rule_for(self, operation: str) -> Rule | None:
        with self.changed:
            self.seen.append(operation)
            self.changed.notify_all()
            for name in (operation, ANY):
                rules = self.rules.get(name, [])
                while rules and rules[0].times == 0:
                    rules.pop(0)
                if rules:
                    rule = rules[0]
                    if rule.times is not None:
                        rule.times -= 1
                    return rule
        return None


class _Server(ThreadingHTTPServer):
    daemon_threads = False
    block_on_close = True
    allow_reuse_address = False
    proxy: AwsFaultProxy

    def handle_error(self, request: object, client_address: object) -> None:
        # A client that gave up (timed out, was killed by a signal) is part of the game.
        if not isinstance(sys.exc_info()[1], OSError):
            super().handle_error(request, client_address)


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"  # keep-alive, as botocore's connection pool expects
    timeout = 60  # an idle connection is let go even if the client never closes it
    server: _Server

    def setup(self) -> None:
        super().setup()
        with self.server.proxy.changed:
            self.server.proxy.connections.add(self.connection)

    def finish(self) -> None:
        with self.server.proxy.changed:
            self.server.proxy.connections.discard(self.connection)
        with contextlib.suppress(OSError):
            super().finish()

    def log_message(self, *_: object) -> None:  # quiet
        pass

    def do_POST(self) -> None:  # noqa: N802 (http.server's naming)
        self._handle()

    def do_GET(self) -> None:  # noqa: N802
        self._handle()

    def _handle(self) -> None:
        proxy = self.server.proxy
        body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
        request = _identify(self.headers, self.path, body)
        rule = proxy._rule_for(request.operation)
        behaviour = proxy._behaviour_for(request.operation) if rule is None else None
        if behaviour is not None:
            self._send(*behaviour(Call(self, request, body)))
        elif rule is None:
            self._forward(body)
        elif rule.kind == "edit":
            self._forward(body, rule.change)
        elif rule.kind == "answer":
            self._answer(request, rule)
        elif rule.kind == "hold":
            if proxy.stopping.wait(rule.seconds):
                self.close_connection = True
            else:
                self._forward(body)
        elif rule.kind == "drop":
            self.close_connection = True
        else:  # silent
            proxy.stopping.wait()
            self.close_connection = True

    def _upstream(self, body: bytes) -> Answer:
        upstream = http.client.HTTPConnection(*self.server.proxy.upstream, timeout=60)
        try:
            headers = {k: v for k, v in self.headers.items() if k.lower() not in HOP_BY_HOP}
            upstream.request(self.command, self.path, body=body, headers=headers)
            response = upstream.getresponse()
            answer = response.read()
        finally:
            upstream.close()
        kept = [
            (name, value)
            for name, value in response.getheaders()
            if name.lower() not in HOP_BY_HOP | {"server", "date"}
        ]
        return response.status, kept, answer

    def _forward(
        self, body: bytes, change: Callable[[dict[str, Any]], dict[str, Any]] | None = None
    ) -> None:
        status, headers, answer = self._upstream(body)
        if change and status == 200:
            answer = json.dumps(change(json.loads(answer))).encode()
        self._send(status, headers, answer)

    def _send(self, status: int, headers: list[tuple[str, str]], answer: bytes) -> None:
        self.send_response(status)
        for name, value in headers:
            self.send_header(name, value)
        self._send_body(answer)

    def _answer(self, request: Request, rule: Rule) -> None:
        status, code = rule.status, rule.code
        if code == "(throttle)":
            status, code = THROTTLE.get(request.service, THROTTLE_DEFAULT)
        elif code == "(server error)":
            status, code = SERVER_ERROR.get(request.service, SERVER_ERROR_DEFAULT)
        if rule.body is not None:
            body, content_type = rule.body, rule.content_type
        else:
            body, content_type = _error_body(request, code, rule.message)
        self.send_response(status)
        self.send_header("Content-Type", content_type)
        self.send_header("x-amzn-RequestId", "00000000-0000-4000-8000-000000000000")
        self._send_body(body)

    def _send_body(self, body: bytes) -> None:
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)


def _identify(headers: object, path: str, body: bytes) -> Request:
    """Which service and operation a request is for, and in which protocol."""
    authorization = headers.get("Authorization", "")  # type: ignore[attr-defined]
    # "... Credential=KEY/20260101/us-east-1/ecs/aws4_request, ..."
    scope = authorization.split("Credential=", 1)[-1].split(",", 1)[0].split("/")
    service = scope[3] if len(scope) > 3 else ""
    target = headers.get("X-Amz-Target")  # type: ignore[attr-defined]
    if target:
        return Request(service, target.rsplit(".", 1)[-1], "json")
    fields = urllib.parse.parse_qs(body.decode("utf-8", "replace"))
    fields.update(urllib.parse.parse_qs(urllib.parse.urlsplit(path).query))
    return Request(service, (fields.get("Action") or ["(unknown)"])[0], "query")


def _error_body(request: Request, code: str, message: str) -> tuple[bytes, str]:
    """An error answer as the service would write it."""
    if request.protocol == "json":
        body = json.dumps({"__type": code, "message": message}).encode()
        return body, "application/x-amz-json-1.1"
    code, message = escape(code), escape(message)
    if request.service == "ec2":
        xml = (
            f"<Response><Errors><Error><Code>{code}</Code><Message>{message}</Message>"
            "</Error></Errors><RequestID>0</RequestID></Response>"
        )
    else:
        xml = (
            f"<ErrorResponse><Error><Type>Sender</Type><Code>{code}</Code>"
            f"<Message>{message}</Message></Error><RequestId>0</RequestId></ErrorResponse>"
        )
    return xml.encode(), "text/xml"
