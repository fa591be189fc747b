"""The REST side (SD_API_TRANSPORT=4): POST /v1/detect with multipart parts `media` and `settings`.

The contract is inferred from the vendor's sample REST client. Answers:
- HTTP 200 {"status": 1, "result": [{"data": [...]}]} on success;
- HTTP 200 with a ResultCode other than 1 when the request was well formed but its content is
  refused, as the Thrift side would answer: 4 (ERR_INVALID_REQ) for a picture that cannot be
  decoded or is past the pixel budget, an unknown type or bad areas; 5 (ERR_UNSUPPORTED) for
  masks and plates, which the local detector does not do;
- HTTP 400 (not a multipart request with both parts, settings not a JSON object), 404, 405 or
  413 (past the maximum request size), with {"status": 4, "error": "..."}, when the request is
  not a detection request at all.
"""

from __future__ import annotations

import json
import math
import sys

from werkzeug.exceptions import HTTPException
from werkzeug.serving import WSGIRequestHandler
from werkzeug.wrappers import Request, Response

from localserver.api import API, Code
from localserver.detection import MAX_AREAS, Analysis, Detector, settings_problem
from localserver.images import InvalidInput, decode_encoded

TYPES = ("object", "mask", "alpr")
MAX_PARTS = 8


class BadRequest(Exception):
    """The request is not a detection request: an HTTP error with a JSON body."""

    def __init__(self, http_status: int, message: str) -> None:
        super().__init__(message)
        self.http_status = http_status


def answer(body: dict, http_status: int = 200) -> Response:
    return Response(json.dumps(body), status=http_status, mimetype="application/json")


def part_text(request: Request, name: str) -> bytes | None:
    """A part's bytes, sent as a file part (as the vendor's client does) or as a plain field."""
    if name in request.files:
        return request.files[name].read()
    if name in request.form:
        return request.form[name].encode()
    return None


def thrift_settings(settings: dict):
    """The Thrift DetectionSettings a REST `settings` object asks for, or ValueError."""
    kind = settings.get("type")
    params = settings.get("params") or {}
    if kind not in TYPES:
        raise ValueError(f"type {kind!r}: one of {', '.join(TYPES)}")
    if not isinstance(params, dict):
        raise ValueError("params is not an object")
    if kind == "alpr":
        return API.DetectionSettings(alprSettings=API.AlprSettings(enabled=True))
    result = API.DetectionSettings(objSettings=API.ObjectDetectionSettings(enabled=True))
    if kind == "mask":
        result.maskSettings = API.MaskDetectionSettings(enabled=True)
    areas = params.get("areas") or []
    if not isinstance(areas, list) or len(areas) > MAX_AREAS:
        raise ValueError(f"areas: a list of at most {MAX_AREAS}")
    if areas:
        result.detAreaSettings = API.DetectionAreaSettings(
            enabled=True, areas=[thrift_area(area) for area in areas]
        )
    problem = settings_problem(result)
    if problem:
        raise ValueError(problem)
    return result


def thrift_area(area) -> object:
    if not isinstance(area, dict):
        raise ValueError("an area is an object with left, top, right and bottom")
    values = {}
    for side in ("left", "top", "right", "bottom"):
        value = area.get(side)
        if (
            isinstance(value, bool)
            or not isinstance(value, (int, float))
            or not math.isfinite(value)
        ):
            raise ValueError(f"area {side}: a number from 0 to 1")
        values[side] = float(value)
    return API.DetectionArea(**values)


class RestApp:
    """The WSGI application: one detection per request, no sessions."""

    def __init__(self, detector: Detector, max_pixels: int, max_request: int) -> None:
        self.detector = detector
        self.max_pixels = max_pixels
        self.max_request = max_request

    def __call__(self, environ, start_response):
        request = Request(environ)
        request.max_content_length = self.max_request
        request.max_form_memory_size = self.max_request
        request.max_form_parts = MAX_PARTS
        try:
            response = self.detect(request)
        except BadRequest as error:
            response = answer(
                {"status": Code.ERR_INVALID_REQ, "error": str(error)}, error.http_status
            )
        except HTTPException as error:  # werkzeug's own: too large, malformed multipart
            response = answer(
                {"status": Code.ERR_INVALID_REQ, "error": error.description or error.name},
                error.code or 400,
            )
        return response(environ, start_response)

    def detect(self, request: Request) -> Response:
        if request.path.rstrip("/") != "/v1/detect":
            raise BadRequest(404, f"no such endpoint: {request.path} (POST /v1/detect)")
        if request.method != "POST":
            raise BadRequest(405, f"{request.method}: /v1/detect takes POST")
        if request.mimetype != "multipart/form-data":
            raise BadRequest(400, "send multipart/form-data with parts media and settings")
        media, settings_text = part_text(request, "media"), part_text(request, "settings")
        if media is None or settings_text is None:
            raise BadRequest(400, "both parts are needed: media and settings")
        try:
            settings = json.loads(settings_text)
        except (ValueError, RecursionError):  # RecursionError: nested past Python's limit
            raise BadRequest(400, "settings is not JSON") from None
        if not isinstance(settings, dict):
            raise BadRequest(400, "settings is not a JSON object")
        try:
            detection_settings = thrift_settings(settings)
        except ValueError as error:
            return answer({"status": Code.ERR_INVALID_REQ, "result": [], "error": str(error)})
        if settings["type"] != "object":
            return answer({"status": Code.ERR_UNSUPPORTED, "result": []})
        try:
            image = decode_encoded(media, self.max_pixels)
        except InvalidInput as error:
            return answer({"status": Code.ERR_INVALID_REQ, "result": [], "error": str(error)})
        analysis = Analysis(detection_settings, self.detector)
        analysis.process(0, image)
        objects = analysis.output().objDetResult.objects
        data = [
            {
                "name": "person",
                "left": o.left,
                "top": o.top,
                "right": o.right,
                "bottom": o.bottom,
                "confidence": o.confidence,
            }
            for o in objects
        ]
        return answer({"status": Code.SUCCESS, "result": [{"data": data}]})


def request_handler(idle_timeout: float | None) -> type[WSGIRequestHandler]:
    """Werkzeug's handler with an idle timeout on each connection."""

    class Handler(WSGIRequestHandler):
        timeout = idle_timeout

        def log_request(self, code: int | str = "-", size: int | str = "-") -> None:
            # One plain line per request (werkzeug's own adds terminal colours, even in a log file).
            print(f'{self.address_string()} "{self.requestline}" {code}', file=sys.stderr)

    return Handler
