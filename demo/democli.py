"""The command-line layer the demos share: flags, the run that ends in one line, the common flow.

`parser` gives each demo its connection flags (and a detection demo its input flags), `run`
turns every expected failure into one line on stderr and an exit code, and `detect` is the
detection demos' flow: one input through `video.py` or one call, or several as a batch
(`batch.py`); the answer shown by `results.py`, the annotated copy written by `annotation.py`.
"""

from __future__ import annotations

import argparse
import contextlib
import ipaddress
import math
import os
import socket
import sys
from collections.abc import Callable
from pathlib import Path

import batch
import interrupts
import link
import media
from annotation import annotate, check_output
from console import CheckedOutput, OutputLost, say
from detection_inputs import encoded
from media import FRAME_SIZE, Image, InputError
from results import check_answer, print_json, summary
from sdclient import (
    API,
    DEFAULT_PORT,
    DEFAULT_UNIX_SOCKET,
    TCP,
    UNIX,
    ApiError,
    Client,
    Endpoint,
    check,
)
from video import IN_FLIGHT, analyse_video

MAX_FPS = 10


class Parser(argparse.ArgumentParser):
    """argparse that reports a bad argument in one line."""

    def error(self, message: str) -> None:  # type: ignore[override]
        self.exit(2, f"error: {message} (see --help)\n")


def parser(doc: str | None, *, detection: bool = True) -> Parser:
    """A parser with the connection flags and, for detection demos, the input and output flags."""
    first_line, _, details = (doc or "").strip().partition("\n")
    result = Parser(
        description=first_line,
        epilog=details.strip() or None,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    env = os.environ.get
    connection = result.add_argument_group("connection (as the server's SD_API_* settings)")
    connection.add_argument(
        "--transport",
        type=transport_value,
        default=env("SD_API_TRANSPORT") or str(TCP),
        help="1 TCP, 2 Unix socket (default: SD_API_TRANSPORT, else 1)",
    )
    connection.add_argument(
        "--host",
        type=host_list if detection else one_host,
        default="localhost",
        help="server address, host or host:port (default: localhost)"
        + ("; a comma-separated list spreads a batch over several servers" if detection else ""),
    )
    connection.add_argument(
        "--port",
        type=port_number,
        default=env("SD_API_TCP_PORT") or str(DEFAULT_PORT),
        help="TCP port (default: SD_API_TCP_PORT, else 9090)",
    )
    connection.add_argument(
        "--unix-socket", default=DEFAULT_UNIX_SOCKET, help="socket path for transport 2"
    )
    connection.add_argument(
        "--timeout", type=positive, default=60.0, help="seconds to wait for an answer (default: 60)"
    )
    result.add_argument(
        "--json",
        action="store_true",
        help="print the server's answer as JSON"
        + ("; a batch: one line per input" if detection else ""),
    )
    if detection:
        result.add_argument(
            "--input",
            action="append",
            required=True,
            help="an image or a video file, or a folder of them; repeat for a batch",
        )
        result.add_argument(
            "--output",
            help="write an annotated copy (.jpg/.png for images, .mp4/.avi for videos); "
            "for a batch, the folder for the copies",
        )
        result.add_argument(
            "--fps",
            type=fps_value,
            default=5.0,
            help=f"video frames per second to analyse, at most {MAX_FPS} (default: 5)",
        )
        result.add_argument(
            "--frame-format",
            choices=["auto", "jpeg", "raw"],
            default="auto",
            help="how video frames travel: auto measures the link and sends raw RGB where it "
            "is fast enough (a Unix socket, a server on this machine), else JPEG (default: auto)",
        )
        result.add_argument(
            "--one-at-a-time",
            action="store_true",
            help=f"wait for each frame's answer before sending the next (default: up to "
            f"{IN_FLIGHT} frames in flight)",
        )
    return result


def transport_value(text: str) -> int:
    if text.strip() == "4":  # the server's REST mode: argparse would blame a flag never passed
        say(
            "error: transport 4 (SD_API_TRANSPORT or --transport) is the server's REST mode: "
            "use http_demo.py; these demos speak Thrift (1 TCP, 2 Unix socket)"
        )
        raise SystemExit(2)
    if text.strip() == str(UNIX) and not hasattr(socket, "AF_UNIX"):  # Python on Windows
        say(
            "error: transport 2 (SD_API_TRANSPORT or --transport) is a Unix socket, and Python "
            "has none on this system: use 1 (TCP)"
        )
        raise SystemExit(2)
    if text.strip() not in (str(TCP), str(UNIX)):
        raise argparse.ArgumentTypeError(f"{text!r}: 1 (TCP) or 2 (Unix socket)")
    return int(text)


def host_list(text: str) -> list[tuple[str, int | None]]:
    """Servers as `host` or `host:port` (IPv6 as `[::1]:9090`), comma-separated."""
    hosts = []
    for part in text.split(","):
        part = part.strip()
        if "/" in part:  # http://host:port/ pasted from a browser, or a path
            raise argparse.ArgumentTypeError(
                f"{part!r} is not host or host:port (the address only, not a URL)"
            )
        port_text = None
        if part.startswith("["):
            host, bracket, rest = part[1:].partition("]")
            host = host if bracket else ""  # an unclosed [ is refused below
            if rest:
                port_text = rest[1:] if rest.startswith(":") else "?"
        elif part.count(":") == 1:
            host, _, port_text = part.partition(":")
        else:
            host = part  # a name, an IPv4 address or a bare IPv6 address
        if not host or port_text == "" or not _address(host):
            raise argparse.ArgumentTypeError(f"{part!r} is not host or host:port")
        try:
            port = port_number(port_text) if port_text is not None else None
        except argparse.ArgumentTypeError as error:
            raise argparse.ArgumentTypeError(f"{part!r}: {error}") from None
        hosts.append((host, port))
    return hosts


def _address(host: str) -> bool:
    """Whether `host` is an IP address or a DNS name (letters, digits, '-', '_', dots)."""
    try:
        ipaddress.ip_address(host)
        return True
    except ValueError:
        pass
    labels = host.rstrip(".").split(".")
    return len(host) <= 253 and all(
        0 < len(label) <= 63
        and label.isascii()
        and label.replace("-", "").replace("_", "").isalnum()
        for label in labels
    )


def one_host(text: str) -> list[tuple[str, int | None]]:
    hosts = host_list(text)
    if len(hosts) > 1:
        raise argparse.ArgumentTypeError(f"{text!r}: this script talks to one server")
    return hosts


def port_number(text: str) -> int:
    if not (text.isascii() and text.isdigit()) or not 1 <= int(text) <= 65535:
        raise argparse.ArgumentTypeError(f"{text!r} is not a port number")
    return int(text)


def positive(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        value = 0
    if not (value > 0 and math.isfinite(value)):
        raise argparse.ArgumentTypeError(f"{text!r} is not a positive number")
    return value


def fps_value(text: str) -> float:
    value = positive(text)
    if value > MAX_FPS:
        raise argparse.ArgumentTypeError(
            f"{text} frames per second: the server takes at most {MAX_FPS}"
        )
    return value


def numbers(text: str, count: int, what: str) -> list[float]:
    """`count` comma-separated numbers in [0, 1] (normalized coordinates)."""
    try:
        values = [float(part) for part in text.split(",")]
    except ValueError:
        values = []
    if len(values) != count:
        raise argparse.ArgumentTypeError(f"{text!r} is not {what}")
    if not all(0.0 <= value <= 1.0 for value in values):
        raise argparse.ArgumentTypeError(
            f"{text!r}: coordinates are normalized, each from 0 to 1 (0,0 is the top left)"
        )
    return values


def point(text: str):
    x, y = numbers(text, 2, "a point x,y")
    return API.NormPoint(x=x, y=y)


def endpoints(args: argparse.Namespace) -> list[Endpoint]:
    """The servers --host names (one for a Unix socket), each with --port unless it has its own.

    A server named twice (`a,a`, `a:9090,a` with port 9090, `::1,[0::1]`) is used once: twice
    would open twice its sessions on it, past what it runs at once.
    """
    hosts = args.host if args.transport != UNIX else args.host[:1]
    found: dict[tuple[str, int], Endpoint] = {}
    for host, port in hosts:
        key = (_same_host(host), port or args.port)
        if key in found:
            say(f"--host: {host}:{key[1]} is listed more than once; it is used once")
            continue
        found[key] = Endpoint(
            transport=args.transport,
            host=host,
            port=port or args.port,
            unix_socket=args.unix_socket,
        )
    return list(found.values())


def _same_host(host: str) -> str:
    """One spelling per address: IP addresses in their short form, names in lower case."""
    try:
        return ipaddress.ip_address(host).compressed
    except ValueError:
        return host.lower().rstrip(".")


def endpoint(args: argparse.Namespace) -> Endpoint:
    """The first server --host names."""
    return endpoints(args)[0]


def run(body: Callable[[], int]) -> int:
    """Run a demo, turning every expected failure into one line on stderr.

    Ctrl-C, SIGTERM and SIGHUP end it with 128 + the signal once its session is deleted.
    """
    if sys.stdout is None:  # started with its standard output closed (`>&-`)
        say("error: standard output is closed: the results would be lost (redirect it instead)")
        return 1
    real_stdout = sys.stdout
    sys.stdout = output = CheckedOutput(real_stdout)
    try:
        with interrupts.raising():
            code = body()
            output.flush()  # a full disk or a closed pipe is reported here, not at exit
            return code
    except InputError as error:
        say(f"error: {error}")
        return 2
    except ApiError as error:
        say(f"error: {error}")
        return 1
    except interrupts.Interrupted as stop:
        say(stop.line)
        return stop.exit_code
    except KeyboardInterrupt:
        say("interrupted")
        return 130
    except (OutputLost, BrokenPipeError) as lost:
        error = lost.error if isinstance(lost, OutputLost) else lost
        with contextlib.suppress(OSError, ValueError):
            # Python would complain again when it flushes stdout on the way out.
            os.dup2(os.open(os.devnull, os.O_WRONLY), real_stdout.fileno())
        if isinstance(error, BrokenPipeError):
            say("error: standard output was closed before the results were written")
        else:
            say(f"error: the results could not be written to standard output: {lost}")
        return 1
    finally:
        sys.stdout = real_stdout


# --- detection


def detect(args: argparse.Namespace, settings, size: tuple[int, int] = FRAME_SIZE) -> int:
    """The demos' common flow: analyse the input, print the answer, write the annotated copy.

    Several inputs, or a folder, make a batch spread over every --host (see batch.py).
    """
    if len(args.input) > 1 or _is_folder(args.input[0]):
        inputs = batch.expand_inputs(args.input)
        return batch.Batch(args, settings, inputs, endpoints(args), size).run()
    source = media.open_input(args.input[0])
    if args.output:
        check_output(args.output, source)
    with Client(endpoint(args), timeout=args.timeout) as api:
        if isinstance(source, Image):
            output = api.call("runDetection", encoded(media.image_jpeg(source, size)), settings)
            check(output.status, "runDetection")
            frames = [0]
        else:
            chosen = link.choose(api, args.frame_format)
            in_flight = 1 if args.one_at_a_time else IN_FLIGHT
            output, frames = analyse_video(
                api, source, settings, args.fps, size, chosen.raw, in_flight, why=chosen.why
            )
    check_answer(output, "runDetection" if isinstance(source, Image) else "clearSession")
    if args.json:
        print_json(output)
    else:
        print("\n".join(summary(output, frames)) or "the answer holds no results")
    if args.output:
        annotate(source, output, settings, args.output, args.fps)
        say(f"annotated copy written to {args.output}")
    return 0


def _is_folder(path_text: str) -> bool:
    """Whether --input names a folder (a path no system call takes is left to open_input)."""
    try:
        return Path(path_text).is_dir()
    except (OSError, ValueError):
        return False


def object_settings(env: str = "normal"):
    return API.ObjectDetectionSettings(
        enabled=True, env=ENVIRONMENTS[env], objectType=API.ObjectType.PERSON
    )


ENVIRONMENTS = {
    "normal": API.ObjectDetectionEnv.NORMAL,
    "busy": API.ObjectDetectionEnv.BUSY,
    "very-busy": API.ObjectDetectionEnv.VERY_BUSY,
}
