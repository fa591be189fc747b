"""Start the local API server: settings as the real server's, a listening socket, signals.

Configured like the real server, from the environment (flags override):
  SD_API_TRANSPORT    1 Thrift over TCP, 2 Thrift over a Unix socket (default), 4 HTTP/REST
  SD_API_TCP_PORT     TCP port, 1026 to 65535 (default 9090)
  SD_API_TCP_LOCAL    Thrift over TCP only: 1 localhost only (default), 0 all interfaces;
                      REST listens on all interfaces (--host binds one address instead)
  SD_API_LICENSE_KEY  activates at start; REST cannot start without it
Persons are found with OpenCV's HOG people detector (or, with --detector marker, as solid
green figures); masks and licence plates answer ERR_UNSUPPORTED (status 5).
SIGTERM stops it with exit 0, at any moment; Ctrl-C with 130, SIGHUP with 129.
"""

from __future__ import annotations

import argparse
import errno
import os
import signal
import socket
import sys
import threading
from functools import partial
from pathlib import Path

from localserver.api import DEFAULT_PORT, DEFAULT_UNIX_SOCKET, REST, TCP, UNIX

DEFAULT_MAX_MESSAGE = 32 * 1024 * 1024  # a full-HD raw frame is 6 MB
DEFAULT_IDLE_TIMEOUT = 300.0


class Parser(argparse.ArgumentParser):
    """argparse that reports a bad argument in one line, exit 2."""

    def error(self, message: str) -> None:  # type: ignore[override]
        self.exit(2, f"error: {message} (see --help)\n")


def whole_number(text: str, what: str, low: int, high: int) -> int:
    """An ASCII whole number in [low, high], or ValueError naming `what`."""
    text = text.strip()
    if not (text.isascii() and text.isdigit()) or not low <= int(text) <= high:
        raise ValueError(f"{what}={text!r}: a whole number from {low} to {high}")
    return int(text)


def positive_seconds(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        value = float("nan")
    if not 0 < value < 1e7:
        raise argparse.ArgumentTypeError(f"{text!r} is not a positive number of seconds")
    return value


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    from localserver.detection import DETECTORS
    from localserver.images import DEFAULT_MAX_PIXELS

    doc = (__doc__ or "").strip().splitlines()
    parser = Parser(
        prog="python -m localserver",
        description="A local stand-in for the SmartyzeDetect API server (Thrift and REST).",
        epilog="\n".join(doc[2:]),
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("--transport", help="1 TCP, 2 Unix socket, 4 REST (SD_API_TRANSPORT)")
    parser.add_argument("--port", help="TCP port (SD_API_TCP_PORT, else 9090)")
    parser.add_argument(
        "--host",
        help="address to bind (default: Thrift 127.0.0.1, or 0.0.0.0 with SD_API_TCP_LOCAL=0; "
        "REST 0.0.0.0)",
    )
    parser.add_argument("--unix-socket", default=DEFAULT_UNIX_SOCKET, help="Unix socket path")
    parser.add_argument(
        "--license", help="activate at start (default: SD_API_LICENSE_KEY); never printed"
    )
    parser.add_argument("--detector", choices=sorted(DETECTORS), default="hog")
    parser.add_argument(
        "--max-sessions",
        type=whole_number_flag(1, 1024, "--max-sessions"),
        default=max(1, (os.cpu_count() or 2) - 1),
        help="concurrent sessions (default: threads - 1, at least 1)",
    )
    parser.add_argument(
        "--max-pixels",
        type=whole_number_flag(1, 1 << 31, "--max-pixels"),
        default=DEFAULT_MAX_PIXELS,
        help=f"largest picture, read from its header before decoding (default: {DEFAULT_MAX_PIXELS})",
    )
    parser.add_argument(
        "--max-message",
        type=whole_number_flag(1024, 1 << 31, "--max-message"),
        default=DEFAULT_MAX_MESSAGE,
        help=f"largest Thrift message or REST request in bytes (default: {DEFAULT_MAX_MESSAGE})",
    )
    parser.add_argument(
        "--idle-timeout",
        type=positive_seconds,
        default=DEFAULT_IDLE_TIMEOUT,
        help=f"close a connection silent for this many seconds (default: {DEFAULT_IDLE_TIMEOUT:.0f})",
    )
    args = parser.parse_args(argv)
    try:
        transport, name = setting(args.transport, "--transport", "SD_API_TRANSPORT", str(UNIX))
        if transport not in (str(TCP), str(UNIX), str(REST)):
            raise ValueError(f"{name}={transport!r}: 1 (TCP), 2 (Unix socket) or 4 (REST)")
        args.transport = int(transport)
        args.port = whole_number(
            *setting(args.port, "--port", "SD_API_TCP_PORT", str(DEFAULT_PORT)), 1026, 65535
        )
        local, _ = setting(None, "", "SD_API_TCP_LOCAL", "1")
        if local not in ("0", "1"):
            raise ValueError(f"SD_API_TCP_LOCAL={local!r}: 0 or 1")
    except ValueError as error:
        parser.exit(2, f"error: {error}\n")
    key = args.license if args.license is not None else os.environ.get("SD_API_LICENSE_KEY")
    if args.transport == REST and not (key or "").strip():
        name = "--license" if args.license is not None else "SD_API_LICENSE_KEY"
        state = "is empty" if key is not None else "is not set"
        parser.exit(
            2,
            f"error: {name} {state}: the REST mode (SD_API_TRANSPORT=4) activates at "
            "start and cannot run without a licence key\n",
        )
    args.license = (key or "").strip()
    if args.host is None:
        args.host = "0.0.0.0" if args.transport == REST or local == "0" else "127.0.0.1"
    return args


def whole_number_flag(low: int, high: int, what: str):
    """An argparse type: a whole number in [low, high]."""

    def parse(text: str) -> int:
        try:
            return whole_number(text, what, low, high)
        except ValueError as error:
            raise argparse.ArgumentTypeError(str(error)) from None

    return parse


def setting(flag_value: str | None, flag: str, variable: str, default: str) -> tuple[str, str]:
    """A setting's text and where it came from: the flag, else the variable, else the default."""
    if flag_value is not None:
        return flag_value.strip(), flag
    value = os.environ.get(variable)
    if value is not None and not value.strip():
        raise ValueError(f"{variable} is set but empty")
    return (value or default).strip(), variable


# --- listening


class CannotListen(Exception):
    """The port or socket path is taken, or cannot be bound: the server refuses to start."""


def shown(text: object) -> str:
    """A path or address for a one-line message: quoted when it holds unprintable characters."""
    text = str(text)
    return text if text.isprintable() else repr(text)


def listen_tcp(host: str, port: int) -> socket.socket:
    """A listening TCP socket; another listener on the port is refused (no SO_REUSEPORT)."""
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    listener = socket.socket(family, socket.SOCK_STREAM)
    # SO_REUSEADDR only lets a restart bind past connections in TIME_WAIT; on Linux a port
    # with a live listener stays refused. SO_REUSEPORT, which would share it, is never set.
    listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    try:
        listener.bind((host, port))
        listener.listen(128)
    except (OSError, UnicodeError, ValueError) as error:  # a host that is no address at all
        listener.close()
        if getattr(error, "errno", None) == errno.EADDRINUSE:
            raise CannotListen(f"TCP {shown(host)}:{port} is in use by another program") from None
        reason = getattr(error, "strerror", None) or error
        raise CannotListen(f"TCP {shown(host)}:{port}: {reason}") from None
    return listener


def listen_unix(path: Path) -> socket.socket:
    """A listening Unix socket; a live socket file is refused, a stale one replaced."""
    try:
        is_socket, taken = path.is_socket(), path.exists() or path.is_symlink()
    except OSError as error:  # e.g. a name too long for the file system
        raise CannotListen(f"Unix socket {shown(path)}: {error.strerror or error}") from None
    if is_socket:
        probe = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        try:
            probe.connect(str(path))
        except ConnectionRefusedError:
            path.unlink(missing_ok=True)  # stale: left by a server that is gone
        except OSError:
            pass  # bind below says what is wrong
        else:
            raise CannotListen(f"Unix socket {shown(path)} is in use by a running server")
        finally:
            probe.close()
    elif taken:
        raise CannotListen(f"{shown(path)} exists and is not a socket; it is left alone")
    listener = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    try:
        listener.bind(str(path))
        listener.listen(128)
    except (OSError, ValueError) as error:  # ValueError: a NUL in the path
        listener.close()
        if getattr(error, "errno", None) == errno.EADDRINUSE:
            raise CannotListen(f"Unix socket {shown(path)} is in use") from None
        reason = getattr(error, "strerror", None) or error
        raise CannotListen(f"Unix socket {shown(path)}: {reason}") from None
    return listener


# --- serving


class Stop:
    """What signals ask for. Until serving starts a signal ends the process at once."""

    def __init__(self) -> None:
        self.event = threading.Event()
        self.code = 0
        self.serving = False
        self.socket_file: Path | None = None

    def signalled(self, signum: int, _frame) -> None:
        self.code = 0 if signum == signal.SIGTERM else 128 + signum
        if not self.serving:
            if self.socket_file:
                self.socket_file.unlink(missing_ok=True)
            os.write(2, b"local API server stopped during start-up\n")
            os._exit(self.code)  # nothing started yet that needs an orderly stop
        self.event.set()

    def install(self) -> None:
        for name in ("SIGTERM", "SIGINT", "SIGHUP"):  # Windows has no SIGHUP: skipped there
            if hasattr(signal, name):
                signal.signal(getattr(signal, name), self.signalled)


def serve(args: argparse.Namespace, stop: Stop) -> int:
    from localserver.detection import DETECTORS
    from localserver.thrift_server import Handler, accept_forever, serve_connection

    detector = DETECTORS[args.detector]()
    if args.transport == UNIX:
        path = Path(args.unix_socket)
        listener = listen_unix(path)
        stop.socket_file = path
        where = f"Unix socket {shown(path)}"
    else:
        listener = listen_tcp(args.host, args.port)
        where = f"{'HTTP' if args.transport == REST else 'TCP'} {args.host}:{args.port}"
    try:
        if args.transport == REST:
            start_rest(args, detector, listener)
        else:
            handler = Handler(detector, args.max_sessions, args.license, args.max_pixels)
            handler.on_destroy = stop.event.set
            serve_one = partial(serve_connection, handler=handler, max_message=args.max_message)
            threading.Thread(
                target=accept_forever, args=(listener, serve_one, args.idle_timeout), daemon=True
            ).start()
        activation = "activated" if args.license else "not activated"
        print(f"local API server listening on {where} ({activation})", file=sys.stderr, flush=True)
        stop.serving = True
        # Timed waits: the main thread, which runs signal handlers, never blocks for long.
        while not stop.event.wait(0.2):
            pass
        print("local API server stopped", file=sys.stderr, flush=True)
    finally:
        stop.serving = False
        listener.close()
        if stop.socket_file:
            stop.socket_file.unlink(missing_ok=True)
    return stop.code


def start_rest(args: argparse.Namespace, detector, listener: socket.socket) -> None:
    """Werkzeug's threaded WSGI server on our listening socket, in a thread."""
    from werkzeug.serving import make_server

    from localserver.rest_server import RestApp, request_handler

    app = RestApp(detector, args.max_pixels, args.max_message)
    server = make_server(
        args.host,
        args.port,
        app,
        threaded=True,
        request_handler=request_handler(args.idle_timeout),
        fd=listener.fileno(),
    )
    server.daemon_threads = True
    threading.Thread(
        target=server.serve_forever, kwargs={"poll_interval": 0.2}, daemon=True
    ).start()


def main(argv: list[str] | None = None, stop: Stop | None = None) -> int:
    stop = stop or Stop()
    stop.install()
    try:
        args = parse_args(argv)
    except SystemExit as exit_:
        return int(exit_.code or 0)
    try:
        return serve(args, stop)
    except CannotListen as error:
        print(f"error: cannot start: {error}", file=sys.stderr)
        return 1
