"""A local stand-in for the SmartyzeDetect API server: the same Thrift contract, a simpler detector.

Configured like the real server, from the environment (flags override):
SD_API_TRANSPORT 1 TCP / 2 Unix socket, SD_API_TCP_PORT (default 9090), SD_API_TCP_LOCAL
1 localhost only (default) / 0 all interfaces, SD_API_LICENSE_KEY (activated at start).
Persons are found with OpenCV's HOG people detector (or, with --detector marker, as solid
green figures); masks and licence plates answer ERR_UNSUPPORTED.
"""

from __future__ import annotations

import argparse
import os
import signal
import sys
import threading
from pathlib import Path

import cv2
import numpy as np
from thriftpy2.protocol import TCyBinaryProtocolFactory
from thriftpy2.rpc import make_server
from thriftpy2.transport import TCyBufferedTransportFactory

import media
from detection import DETECTORS, Analysis, Detector, settings_problem, unsupported
from sdclient import API, DEFAULT_UNIX_SOCKET, TCP, UNIX

VERSION = "local-1.0.0"
API_VERSION = "2.1.0"
MAX_VIDEO_FPS = 10

Code = API.ResultCode


class InvalidInput(Exception):
    """The input cannot be decoded: the call answers ERR_INVALID_REQ."""


def decode_image(detection_input) -> np.ndarray:
    """The BGR image a DetectionInput carries, or InvalidInput."""
    params = detection_input.params if detection_input else None
    kind = detection_input.type if detection_input else None
    if params is None:
        raise InvalidInput("no input")
    if kind == API.DetectionInputType.IMG_BUFFER_RAW and params.rawImageInput:
        raw = params.rawImageInput
        width, height, buffer = raw.width or 0, raw.height or 0, raw.buffer or b""
        if width <= 0 or height <= 0 or len(buffer) != width * height * 3:
            raise InvalidInput("raw buffer size does not match width x height x 3")
        rgb = np.frombuffer(buffer, np.uint8).reshape(height, width, 3)
        return cv2.cvtColor(rgb, cv2.COLOR_RGB2BGR)
    if kind == API.DetectionInputType.IMG_BUFFER_ENCODED and params.encImageInput:
        buffer = params.encImageInput.buffer or b""
        image = cv2.imdecode(np.frombuffer(buffer, np.uint8), cv2.IMREAD_COLOR) if buffer else None
        if image is None:
            raise InvalidInput("not a decodable JPEG")
        return image
    if kind == API.DetectionInputType.IMG_FILE_PATH and params.imgFileInput:
        image = cv2.imread(params.imgFileInput.filename or "")
        if image is None:
            raise InvalidInput("image file missing or unreadable")
        return image
    raise InvalidInput("input type and parameters do not match")


class Handler:
    """The DetectionApi methods, with activation, sessions and their limits."""

    def __init__(self, detector: Detector, max_sessions: int, license_key: str = "") -> None:
        self.detector = detector
        self.max_sessions = max_sessions
        self.activated = bool(license_key)
        self.sessions: dict[int, tuple[object, Analysis, threading.Lock]] = {}
        self.next_session = 1
        self.lock = threading.Lock()
        self.on_destroy = lambda: None

    def _status(self, code: int | None = None):
        return API.DetectorStatus(
            version=VERSION,
            apiVersion=API_VERSION,
            initStatus=code or (Code.SUCCESS if self.activated else Code.ERR_NOT_ACTIVATED),
            capability=API.DetectionCapability(numConcurrentSessions=self.max_sessions),
            activationChallenge="",
        )

    def init(self, request):
        if not (request and request.license and request.license.strip()):
            return self._status(Code.ERR_INVALID_REQ if not self.activated else None)
        self.activated = True
        return self._status()

    def getStatus(self):
        return self._status()

    def destroy(self):
        if not self.activated:
            return Code.ERR_NOT_ACTIVATED
        threading.Timer(0.1, self.on_destroy).start()  # after this answer has gone out
        return Code.SUCCESS

    def createSession(self, settings):
        if not self.activated or settings_problem(settings):
            return -1
        with self.lock:
            if len(self.sessions) >= self.max_sessions:
                return -1
            session_id = self.next_session
            self.next_session += 1
            self.sessions[session_id] = (
                settings,
                Analysis(settings, self.detector),
                threading.Lock(),
            )
        return session_id

    def getSessions(self):
        if not self.activated:
            return []
        with self.lock:
            return [
                API.DetectionSession(id=session_id, detectionSettings=settings)
                for session_id, (settings, _, _) in sorted(self.sessions.items())
            ]

    def deleteSession(self, sessionId):
        if not self.activated:
            return Code.ERR_NOT_ACTIVATED
        with self.lock:
            return Code.SUCCESS if self.sessions.pop(sessionId, None) else Code.ERR_INVALID_REQ

    def _session(self, session_id):
        with self.lock:
            return self.sessions.get(session_id)

    def _session_output(self, session_id: int, clear: bool):
        if not self.activated:
            return API.DetectionOutput(status=Code.ERR_NOT_ACTIVATED)
        session = self._session(session_id)
        if session is None:
            return API.DetectionOutput(status=Code.ERR_INVALID_REQ)
        _, analysis, lock = session
        with lock:
            output = analysis.output()
            if clear:
                analysis.frames.clear()
        return output

    def clearSession(self, sessionId):
        return self._session_output(sessionId, clear=True)

    def getSessionResult(self, sessionId):
        return self._session_output(sessionId, clear=False)

    def processInputForSession(self, sessionId, frameIndex, input):  # noqa: A002 - IDL name
        if not self.activated:
            return Code.ERR_NOT_ACTIVATED
        session = self._session(sessionId)
        if session is None:
            return Code.ERR_INVALID_REQ
        settings, analysis, lock = session
        if unsupported(settings):
            return Code.ERR_UNSUPPORTED
        try:
            image = decode_image(input)
        except InvalidInput:
            return Code.ERR_INVALID_REQ
        with lock:
            analysis.process(frameIndex or 0, image)
        return Code.SUCCESS

    def runDetection(self, input, settings):  # noqa: A002 - IDL name
        if not self.activated:
            return API.DetectionOutput(status=Code.ERR_NOT_ACTIVATED)
        if settings_problem(settings):
            return API.DetectionOutput(status=Code.ERR_INVALID_REQ)
        if unsupported(settings):
            return API.DetectionOutput(status=Code.ERR_UNSUPPORTED)
        analysis = Analysis(settings, self.detector)
        try:
            if input and input.type == API.DetectionInputType.VID_FILE_PATH:
                self._run_video(analysis, input.params.vidFileInput if input.params else None)
            else:
                analysis.process(0, decode_image(input))
        except InvalidInput:
            return API.DetectionOutput(status=Code.ERR_INVALID_REQ)
        return analysis.output()

    def _run_video(self, analysis: Analysis, video) -> None:
        fps = video.processFps if video else None
        if not video or not video.filename or not fps or not 1 <= fps <= MAX_VIDEO_FPS:
            raise InvalidInput("a video file and 1 to 10 frames per second are needed")
        capture = cv2.VideoCapture(video.filename)
        opened, source_fps = capture.isOpened(), capture.get(cv2.CAP_PROP_FPS)
        capture.release()
        if not opened:
            raise InvalidInput("video file missing or unreadable")
        source = media.Video(Path(video.filename), source_fps or fps, frame_count=0)
        for index, frame in media.frames(source, fps):
            analysis.process(index, frame)


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    env = os.environ.get
    parser = argparse.ArgumentParser(
        description=__doc__.strip().splitlines()[0],
        epilog="\n".join(__doc__.strip().splitlines()[2:]),
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument(
        "--transport",
        type=int,
        choices=[TCP, UNIX],
        default=int(env("SD_API_TRANSPORT") or UNIX),
        help="1 TCP, 2 Unix socket (default: SD_API_TRANSPORT, else 2, as the real server)",
    )
    parser.add_argument(
        "--port", type=int, default=int(env("SD_API_TCP_PORT") or 9090), help="TCP port"
    )
    parser.add_argument(
        "--host",
        help="address to bind (default: 127.0.0.1, or 0.0.0.0 when SD_API_TCP_LOCAL=0)",
    )
    parser.add_argument("--unix-socket", default=DEFAULT_UNIX_SOCKET, help="Unix socket path")
    parser.add_argument(
        "--license",
        default=env("SD_API_LICENSE_KEY", ""),
        help="activate at start (default: SD_API_LICENSE_KEY)",
    )
    parser.add_argument("--detector", choices=sorted(DETECTORS), default="hog")
    parser.add_argument(
        "--max-sessions",
        type=int,
        default=max(1, (os.cpu_count() or 2) - 1),
        help="concurrent sessions (default: threads - 1, at least 1)",
    )
    args = parser.parse_args(argv)
    if not 1026 <= args.port <= 65535 and args.transport == TCP:
        parser.error(f"--port {args.port}: the server takes 1026 to 65535")
    if args.host is None:
        args.host = "0.0.0.0" if env("SD_API_TCP_LOCAL", "1").strip() == "0" else "127.0.0.1"
    return args


def accept_forever(server) -> None:
    """Serve each connection in its own thread (thriftpy2's own loop only stops on Ctrl-C)."""
    while True:
        try:
            connection = server.trans.accept()
        except OSError:
            return  # the listening socket was closed: shutting down
        threading.Thread(target=server.handle, args=(connection,), daemon=True).start()


def serve(args: argparse.Namespace) -> int:
    handler = Handler(DETECTORS[args.detector](), args.max_sessions, args.license)
    options = {
        "proto_factory": TCyBinaryProtocolFactory(),
        "trans_factory": TCyBufferedTransportFactory(),
        "client_timeout": None,  # a demo may pause between frames for as long as it likes
    }
    if args.transport == UNIX:
        socket_path = Path(args.unix_socket)
        if socket_path.is_socket():
            socket_path.unlink()
        server = make_server(API.DetectionApi, handler, unix_socket=str(socket_path), **options)
        where = f"Unix socket {socket_path}"
    else:
        server = make_server(API.DetectionApi, handler, host=args.host, port=args.port, **options)
        where = f"TCP {args.host}:{args.port}"

    server.trans.listen()
    stopped = threading.Event()
    handler.on_destroy = stopped.set
    signal.signal(signal.SIGTERM, lambda *_: stopped.set())
    signal.signal(signal.SIGINT, lambda *_: stopped.set())
    threading.Thread(target=accept_forever, args=(server,), daemon=True).start()
    activation = "activated" if handler.activated else "not activated"
    print(f"local API server listening on {where} ({activation})", file=sys.stderr, flush=True)
    try:
        # Timed waits: a signal that lands on another thread is still handled within a moment.
        while not stopped.wait(0.2):
            pass
        print("local API server stopped", file=sys.stderr, flush=True)
    finally:
        server.trans.close()
        if args.transport == UNIX:
            Path(args.unix_socket).unlink(missing_ok=True)
    return 0


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    try:
        return serve(args)
    except OSError as error:
        print(f"error: cannot listen: {error.strerror or error}", file=sys.stderr)
        return 1


if __name__ == "__main__":
    sys.exit(main())
