"""The Thrift side: the DetectionApi methods, and connections held to a maximum message size."""

from __future__ import annotations

import socket
import sys
import threading
import time
from collections.abc import Callable

import cv2
from thriftpy2.protocol import TCyBinaryProtocolFactory
from thriftpy2.thrift import TApplicationException, TProcessor, TType
from thriftpy2.transport import TCyBufferedTransportFactory, TSocket, TTransportException

from localserver.api import API, API_VERSION, VERSION, Code
from localserver.detection import Analysis, Detector, settings_problem, unsupported
from localserver.images import DEFAULT_MAX_PIXELS, InvalidInput, decode_input, set_arms

MAX_VIDEO_FPS = 10
READ_CHUNK = 256 * 1024  # what one socket read may take: bounds how far a read runs past a message
DRAIN_SECONDS = 30  # how long an oversized message is read and dropped so its sender hears why

PROTOCOL = TCyBinaryProtocolFactory()  # strict binary, as the real server speaks
TRANSPORT = TCyBufferedTransportFactory()  # buffered, unframed


class Handler:
    """The DetectionApi methods, with activation, sessions and their limits."""

    def __init__(
        self,
        detector: Detector,
        max_sessions: int,
        license_key: str = "",
        max_pixels: int = DEFAULT_MAX_PIXELS,
    ) -> None:
        self.detector = detector
        self.max_sessions = max_sessions
        self.max_pixels = max_pixels
        self.activated = bool(license_key)
        self.sessions: dict[int, tuple[object, Analysis, threading.Lock]] = {}
        self.next_session = 1
        self.lock = threading.Lock()
        self.on_destroy: Callable[[], None] = lambda: None

    def _status(self, code: int | None = None):
        return API.DetectorStatus(
            version=VERSION,
            apiVersion=API_VERSION,
            initStatus=code or (Code.SUCCESS if self.activated else Code.ERR_NOT_ACTIVATED),
            capability=API.DetectionCapability(numConcurrentSessions=self.max_sessions),
            activationChallenge="",
        )

    def invalid_request(self, method: str):
        """The answer of `method` to a request it could not even read (ERR_INVALID_REQ)."""
        if method in ("init", "getStatus"):
            return self._status(Code.ERR_INVALID_REQ)
        if method == "createSession":
            return -1
        if method == "getSessions":
            return []
        if method in ("clearSession", "getSessionResult", "runDetection"):
            return API.DetectionOutput(status=Code.ERR_INVALID_REQ)
        return Code.ERR_INVALID_REQ

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
            image = decode_input(input, self.max_pixels)
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
                self._run_video(analysis, input.params)
            else:
                analysis.process(0, decode_input(input, self.max_pixels))
        except InvalidInput:
            return API.DetectionOutput(status=Code.ERR_INVALID_REQ)
        return analysis.output()

    def _run_video(self, analysis: Analysis, params) -> None:
        if params is None or set_arms(params) != ["vidFileInput"]:
            raise InvalidInput("a video input sets vidFileInput only")
        video = params.vidFileInput
        fps = video.processFps
        if not video.filename or not fps or not 1 <= fps <= MAX_VIDEO_FPS:
            raise InvalidInput("a video file and 1 to 10 frames per second are needed")
        capture = cv2.VideoCapture(video.filename)
        try:
            if not capture.isOpened():
                raise InvalidInput("video file missing or unreadable")
            width = capture.get(cv2.CAP_PROP_FRAME_WIDTH)
            height = capture.get(cv2.CAP_PROP_FRAME_HEIGHT)
            if width * height > self.max_pixels:
                raise InvalidInput("video frames larger than the pixel budget")
            step = max(1.0, (capture.get(cv2.CAP_PROP_FPS) or fps) / fps)
            index, next_kept = 0, 0.0
            while True:
                ok, frame = capture.read()
                if not ok:
                    return
                if index >= next_kept:
                    analysis.process(index, frame)
                    next_kept += step
                index += 1
        finally:
            capture.release()


class MessageTooLarge(TTransportException):
    """A message ran past the maximum size: it is answered ERR_INVALID_REQ, then dropped."""


class Connection(TSocket):
    """One client's socket, counting what each message reads."""

    def __init__(self, sock: socket.socket, max_message: int) -> None:
        super().__init__(sock=sock)
        self.max_message = max_message
        self.read_this_message = 0

    def read(self, sz: int) -> bytes:
        data = super().read(min(sz, READ_CHUNK))
        self.read_this_message += len(data)
        if self.read_this_message > self.max_message + READ_CHUNK:
            raise MessageTooLarge(message=f"a message past {self.max_message} bytes")
        return data

    def drain(self) -> None:
        """Read and drop what the peer still sends, for a while, so that it reads our answer."""
        sock = self.sock
        if sock is None:
            return
        sock.settimeout(1.0)
        deadline = time.monotonic() + DRAIN_SECONDS
        try:
            while time.monotonic() < deadline and sock.recv(READ_CHUNK):
                pass
        except OSError:
            pass  # quiet for a second (the peer waits for our answer) or gone


class Processor(TProcessor):
    """thriftpy2's processor, answering a message past the maximum size with ERR_INVALID_REQ."""

    def __init__(self, handler: Handler, connection: Connection) -> None:
        super().__init__(API.DetectionApi, handler)
        self.connection = connection
        self.refused = False

    def process_in(self, iprot):
        self.connection.read_this_message = 0
        api, _type, seqid = iprot.read_message_begin()
        if api not in self._service.thrift_services:
            iprot.skip(TType.STRUCT)
            iprot.read_message_end()
            return api, seqid, TApplicationException(TApplicationException.UNKNOWN_METHOD), None
        args = getattr(self._service, api + "_args")()
        result = getattr(self._service, api + "_result")()
        try:
            args.read(iprot)
            iprot.read_message_end()
        except (MessageTooLarge, MemoryError):  # MemoryError: a declared size thriftpy2 cannot hold
            self.refused = True
            return api, seqid, result, lambda: self._handler.invalid_request(api)
        names = [spec[1] for spec in args.thrift_spec.values()]
        return (
            api,
            seqid,
            result,
            lambda: getattr(self._handler, api)(*map(args.__dict__.get, names)),
        )


def serve_connection(client: socket.socket, handler: Handler, max_message: int) -> None:
    """Answer one client's calls until it leaves, idles past its timeout or sends nonsense."""
    connection = Connection(client, max_message)
    reader, writer = TRANSPORT.get_transport(connection), TRANSPORT.get_transport(connection)
    processor = Processor(handler, connection)
    iprot, oprot = PROTOCOL.get_protocol(reader), PROTOCOL.get_protocol(writer)
    try:
        while not processor.refused:
            processor.process(iprot, oprot)
        connection.drain()
    except (TTransportException, OSError, EOFError):
        pass  # the client left, went idle past the timeout, or the socket failed
    except Exception as error:  # noqa: BLE001 - bytes that are not this API: drop the connection
        print(f"dropped a connection: {type(error).__name__}: {error}", file=sys.stderr)
    finally:
        connection.close()


def accept_forever(
    listener: socket.socket, serve: Callable[[socket.socket], None], idle_timeout: float | None
) -> None:
    """Serve each connection in its own thread until the listening socket is closed."""
    while True:
        try:
            client, _ = listener.accept()
        except OSError:
            return  # the listening socket was closed: shutting down
        client.settimeout(idle_timeout)
        threading.Thread(target=serve, args=(client,), daemon=True).start()
