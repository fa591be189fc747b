"""What every demo shares: the connection flags, the input, sessions, and how results are shown."""

from __future__ import annotations

import argparse
import contextlib
import ipaddress
import json
import math
import os
import sys
import tempfile
import threading
import time
from collections.abc import Callable
from itertools import groupby
from pathlib import Path

import interrupts
import link
import media
from media import FRAME_SIZE, Image, InputError, Video
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
    to_plain,
)

MAX_FPS = 10
IN_FLIGHT = 16  # video frames sent ahead of their answers on one connection


class Parser(argparse.ArgumentParser):
    """argparse that reports a bad argument in one line."""

    def error(self, message: str) -> None:  # type: ignore[override]
        self.exit(2, f"error: {message} (see --help)\n")


def parser(doc: str | None, *, detection: bool = True) -> Parser:
    """A parser with the connection flags and, for detection demos, the input and output flags."""
    summary, _, details = (doc or "").strip().partition("\n")
    result = Parser(
        description=summary,
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


def say(message: str) -> None:
    print(message, file=sys.stderr, flush=True)


class OutputLost(Exception):
    """Standard output could not be written (a closed pipe, a full disk): the results are lost."""

    def __init__(self, error: OSError) -> None:
        super().__init__(error.strerror or str(error))
        self.error = error


class CheckedOutput:
    """Standard output that remembers its first failed write, in any thread.

    The main thread gets OutputLost at once; a batch's worker threads go on, their lines
    dropped, and `run` reports the loss when the batch is done.
    """

    def __init__(self, stream) -> None:
        self.stream = stream
        self.error: OSError | None = None

    def _guarded(self, action: Callable[[], object], fallback):
        if self.error is None:
            try:
                return action()
            except OSError as error:
                self.error = error
        if threading.current_thread() is threading.main_thread():
            raise OutputLost(self.error)
        return fallback

    def write(self, text: str) -> int:
        return self._guarded(lambda: self.stream.write(text), len(text))

    def flush(self) -> None:
        self._guarded(self.stream.flush, None)

    def __getattr__(self, name: str):
        return getattr(self.stream, name)


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


def print_json(value) -> None:
    print(json.dumps(to_plain(value), indent=2))


# --- detection


def encoded(jpeg: bytes):
    """A DetectionInput carrying one JPEG image."""
    return API.DetectionInput(
        type=API.DetectionInputType.IMG_BUFFER_ENCODED,
        params=API.InputParams(
            encImageInput=API.EncodedImageInput(
                format=API.EncodedImageFormat.JPEG, buffer=jpeg, bufferLength=len(jpeg)
            )
        ),
    )


class ProgressBar:
    """Frames done so far on stderr: redrawn on a terminal, every tenth otherwise (thread-safe)."""

    def __init__(self, total: int) -> None:
        self.total = total
        self.done = 0
        self.start = time.monotonic()
        self.on_terminal = sys.stderr.isatty()
        self.lock = threading.Lock()

    def step(self) -> None:
        with self.lock:
            self._step()

    def _step(self) -> None:
        self.done += 1
        rate = self.done / max(time.monotonic() - self.start, 1e-9)
        if self.total:
            filled = int(30 * min(self.done, self.total) / self.total)
            text = f"frames {self.done}/{self.total} [{'#' * filled}{' ' * (30 - filled)}] {rate:.1f}/s"
        else:
            text = f"frames {self.done} {rate:.1f}/s"
        if self.on_terminal:
            sys.stderr.write("\r" + text)
            sys.stderr.flush()
        elif self.done % max(1, self.total // 10 or 10) == 0 or self.done == self.total:
            say(text)

    def close(self) -> None:
        if self.on_terminal and self.done:
            sys.stderr.write("\n")


def create_session(api: Client, settings) -> int:
    session_id = api.call("createSession", settings)
    if session_id >= 0:
        return session_id
    status = api.call("getStatus")
    check(status.initStatus, "createSession")
    raise ApiError(
        "createSession: the server refused a new session: every session slot may be taken "
        "(clear_sessions.py frees them) or it rejected the settings (ERR_BUSY or ERR_INVALID_REQ)"
    )


def raw_frame(pixels):
    """A DetectionInput carrying one frame as raw RGB (3 bytes a pixel, rows top to bottom)."""
    height, width = pixels.shape[:2]
    rgb = media.rgb(pixels)
    return API.DetectionInput(
        type=API.DetectionInputType.IMG_BUFFER_RAW,
        params=API.InputParams(
            rawImageInput=API.RawImageInput(
                width=width,
                height=height,
                format=API.ImageBufferFormat.RGB_HWC,
                buffer=rgb.tobytes(),
            )
        ),
    )


class StageClock:
    """Where the client's time per frame goes: decode, resize, encode, send, wait."""

    STAGES = ("decode", "resize", "encode", "send", "wait")

    def __init__(self) -> None:
        self.seconds = dict.fromkeys(self.STAGES, 0.0)
        self.mark = time.perf_counter()

    def lap(self, stage: str) -> None:
        now = time.perf_counter()
        self.seconds[stage] += now - self.mark
        self.mark = now

    def report(self, frames: int) -> str:
        parts = [f"{stage} {self.seconds[stage] / frames * 1000:.1f} ms" for stage in self.STAGES]
        return "per frame: " + ", ".join(parts) + " (wait: for the link and the server)"


def analyse_video(
    api: Client,
    video: Video,
    settings,
    fps: float,
    size: tuple[int, int],
    raw: bool = False,
    in_flight: int = IN_FLIGHT,
    clock: StageClock | None = None,
    why: str = "",
    progress: ProgressBar | None = None,
    sessions=None,
    stop: threading.Event | None = None,
) -> tuple[object, list[int]]:
    """Feed the video frame by frame into a session; the session is deleted whatever happens.

    Up to `in_flight` frames are sent ahead of their answers, so the round trip is paid once,
    not per frame (1: wait for each answer). The results are fetched once, at the end.
    Returns the session's DetectionOutput and the indices of the frames sent. In a batch,
    `progress` is the batch's bar, `sessions` (batch.OpenSessions) tracks the open session and
    `stop` ends the video early; the per-frame cost line, with `why` the frame format was
    chosen, is printed only alone.
    """
    alone = progress is None
    progress = progress or ProgressBar(media.sampled_count(video, fps))
    clock = clock or StageClock()
    sent: list[int] = []
    answered = 0
    session_id = None

    def receive_one() -> None:
        nonlocal answered
        check(api.receive("processInputForSession"), f"frame {sent[answered]}")
        answered += 1
        clock.lap("wait")
        progress.step()

    try:
        with interrupts.deferred():  # a session created must be known, to be deleted
            session_id = create_session(api, settings)
            if sessions is not None:
                sessions.add(api.endpoint, session_id)
        for index, frame in media.frames(video, fps):
            if stop is not None and stop.is_set():
                raise ApiError("stopped")
            clock.lap("decode")
            frame = media.fit(frame, size)
            clock.lap("resize")
            payload = raw_frame(frame) if raw else encoded(media.jpeg(frame))
            clock.lap("encode")
            api.send("processInputForSession", session_id, index, payload)
            sent.append(index)
            clock.lap("send")
            if api.in_flight >= in_flight:
                receive_one()
        while api.in_flight:
            receive_one()
        if alone:
            progress.close()
        output = api.call("clearSession", session_id)
        check(output.status, "clearSession")
    except BaseException:
        if alone:
            progress.close()
        api.close()  # answers may be in flight; delete the session over a fresh connection
        raise
    finally:
        if session_id is not None:
            with interrupts.deferred():
                try:
                    api.call("deleteSession", session_id)
                except ApiError as error:
                    say(f"warning: could not delete session {session_id}: {error}")
            if sessions is not None:
                sessions.discard(api.endpoint, session_id)
    if sent and alone:
        frame_format = "raw RGB" if raw else "JPEG"
        because = f" ({why})" if why else ""
        say(
            f"{len(sent)} {frame_format} frames{because}, {in_flight} in flight; "
            f"client {clock.report(len(sent))}"
        )
    return output, sent


def detect(args: argparse.Namespace, settings, size: tuple[int, int] = FRAME_SIZE) -> int:
    """The demos' common flow: analyse the input, print the answer, write the annotated copy.

    Several inputs, or a folder, make a batch spread over every --host (see batch.py).
    """
    if len(args.input) > 1 or _is_folder(args.input[0]):
        import batch  # batch builds on this module

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


IMAGE_OUTPUTS = (".jpg", ".jpeg", ".png", ".bmp", ".webp", ".tif", ".tiff")
VIDEO_OUTPUTS = (".mp4", ".avi")


def check_output(path_text: str, source: Image | Video) -> None:
    """Refuse, before anything is sent, an --output that cannot take the annotated copy."""
    path = Path(path_text)
    image = isinstance(source, Image)
    suffixes = IMAGE_OUTPUTS if image else VIDEO_OUTPUTS
    if path.suffix.lower() not in suffixes:
        kinds = ".jpg or .png (or .jpeg, .bmp, .webp, .tif)" if image else ".mp4 or .avi"
        raise InputError(
            f"--output {path_text}: the annotated copy of {'an image' if image else 'a video'} "
            f"is a {kinds}"
        )
    try:
        folder = path.resolve().parent
        if not folder.is_dir():
            raise InputError(f"{path_text}: its folder does not exist")
        if path.is_dir():
            raise InputError(f"--output {path_text} is a folder")
        if path.resolve() == source.path.resolve() or (
            path.exists() and os.path.samefile(path, source.path)
        ):
            raise InputError(f"--output {path_text}: that is the input itself; pick another name")
        with tempfile.TemporaryFile(dir=folder):  # can a file be made there?
            pass
    except (OSError, ValueError) as error:
        reason = getattr(error, "strerror", None) or str(error)
        raise InputError(f"--output {path_text!r}: cannot write there ({reason})") from None


def _direction(detected) -> str:
    return API.CrossDirection._VALUES_TO_NAMES.get(detected.direction, "UNKNOWN").replace(
        "CROSS_", ""
    )


def _count(objects: list) -> str:
    if not objects:
        return "none"
    names = sorted({_name(o) for o in objects})
    return ", ".join(f"{sum(_name(o) == name for o in objects)} {name}" for name in names)


# The server may leave optional fields out: the summary says so rather than fail.
def _name(detected) -> str:
    return str(detected.name or "object")


def _frame(detected) -> int:
    return detected.frameIndex if isinstance(detected.frameIndex, int) else 0


def _confidence(detected) -> str:
    value = detected.confidence
    return f"{value:.2f}" if isinstance(value, float | int) else "?"


def check_answer(output, doing: str) -> None:
    """Refuse a DetectionOutput the demos cannot read: a list with a hole, a pair missing half."""
    results = [output.objDetResult, output.socialDetResult, output.lineCrossResult]
    results += [output.maskDetResult, output.alprResult]
    for result in filter(None, results):
        for field in ("objects", "violations"):
            items = getattr(result, field, None) or []
            if any(item is None for item in items):
                raise ApiError(f"{doing}: the server's answer has an empty item in {field}")
            if field == "violations" and any(v.first is None or v.second is None for v in items):
                raise ApiError(f"{doing}: the server's answer has a violation without its objects")


def summary(output, frames: list[int]) -> list[str]:
    """Readable lines: counts per frame (runs of equal counts together), crossings, violations, plates."""
    lines = []
    if output.objDetResult is not None:
        objects = output.objDetResult.objects or []
        ids = sorted({o.objectId for o in objects if isinstance(o.objectId, int)})
        lines.append(f"objects: {len(ids)} distinct ({', '.join(map(str, ids)) or 'none'})")
        found: dict[int, list] = {index: [] for index in frames}
        for detected in objects:
            found.setdefault(_frame(detected), []).append(detected)
        counts = [(index, _count(found[index])) for index in sorted(found)]
        for count, run in groupby(counts, key=lambda pair: pair[1]):
            indices = [index for index, _ in run]
            span = f"{indices[0]}-{indices[-1]}" if len(indices) > 1 else f"{indices[0]}"
            lines.append(f"  {'frames' if len(indices) > 1 else 'frame'} {span}: {count}")
    if output.lineCrossResult is not None:
        crossings = output.lineCrossResult.violations or []
        lines.append(f"line crossings: {len(crossings)}")
        for crossing in crossings:
            lines.append(
                f"  frame {_frame(crossing.second)}: {_name(crossing.second)} "
                f"{crossing.second.objectId} crossed {_direction(crossing.second)}"
            )
    if output.socialDetResult is not None:
        violations = output.socialDetResult.violations or []
        lines.append(f"social distancing violations: {len(violations)}")
        for violation in violations:
            lines.append(
                f"  frame {_frame(violation.first)}: {violation.first.objectId} and "
                f"{violation.second.objectId} too close"
            )
    if output.maskDetResult is not None:
        faces = output.maskDetResult.objects or []
        lines.append(f"faces: {len(faces)}")
        lines += [f"  frame {_frame(f)}: {_name(f)} ({_confidence(f)})" for f in faces]
    if output.alprResult is not None:
        plates = output.alprResult.objects or []
        lines.append(f"licence plates: {len(plates)}")
        for plate in plates:
            readings = [d for d in plate.detections or [] if d is not None]
            best = max(readings, key=lambda d: _confidence(d) != "?" and d.confidence, default=None)
            text = f"{best.plate} ({_confidence(best)})" if best else "unread"
            lines.append(f"  frame {_frame(plate)}: {text}")
    return lines


def _flagged(output) -> dict[int, set[int]]:
    """Per frame, the ids of objects in a violation or crossing (drawn in red)."""
    flagged: dict[int, set[int]] = {}
    pairs = []
    if output.socialDetResult:
        pairs += [(v.first, v.second) for v in output.socialDetResult.violations or []]
    if output.lineCrossResult:
        pairs += [(c.second,) for c in output.lineCrossResult.violations or []]
    for pair in pairs:
        for detected in pair:
            flagged.setdefault(_frame(detected), set()).add(detected.objectId)
    return flagged


def annotate(source: Image | Video, output, settings, path: str, fps: float) -> None:
    """Write the annotated copy to `path`, whole or not at all (a partial copy is removed)."""
    final = Path(path)
    partial = final.with_name(f".{final.stem}.partial{final.suffix}")  # the suffix picks the format
    try:
        _draw_copy(source, output, settings, str(partial), fps)
        os.replace(partial, final)
    except (InputError, OSError):
        raise InputError(f"{path}: cannot write the annotated copy there") from None
    finally:
        partial.unlink(missing_ok=True)


def _draw_copy(source: Image | Video, output, settings, path: str, fps: float) -> None:
    objects: dict[int, list] = {}
    for detected in (output.objDetResult.objects if output.objDetResult else None) or []:
        objects.setdefault(_frame(detected), []).append(detected)
    flagged = _flagged(output)
    if isinstance(source, Image):
        pixels = source.pixels.copy()
        media.draw_settings(pixels, settings)
        media.draw_objects(pixels, objects.get(0, []), flagged.get(0, set()))
        media.write_image(path, pixels)
        return
    writer = None
    try:
        for index, frame in media.frames(source, fps):
            if writer is None:
                writer = media.VideoWriter(path, fps, (frame.shape[1], frame.shape[0]))
            media.draw_settings(frame, settings)
            media.draw_objects(frame, objects.get(index, []), flagged.get(index, set()))
            writer.write(frame)
    finally:
        if writer:
            writer.close()


def object_settings(env: str = "normal"):
    return API.ObjectDetectionSettings(
        enabled=True, env=ENVIRONMENTS[env], objectType=API.ObjectType.PERSON
    )


ENVIRONMENTS = {
    "normal": API.ObjectDetectionEnv.NORMAL,
    "busy": API.ObjectDetectionEnv.BUSY,
    "very-busy": API.ObjectDetectionEnv.VERY_BUSY,
}
