"""Images and videos for the demos: tell them apart by content, decode, size, encode, annotate."""

from __future__ import annotations

import math
import os
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import imagesize

FRAME_SIZE = (640, 480)  # what the server expects for person detection
PLATE_FRAME_SIZE = (1920, 1080)  # licence plates: up to full HD
JPEG_QUALITY = 90
# An image or video frame larger than this is refused from its header, before it is decoded:
# a 5 KB JPEG can claim 32000x32000 pixels, 3 GB once decoded.
MAX_PIXELS = 50_000_000
# Files only OpenCV reads as images are decoded whole; past this size they are tried as video.
MAX_IMAGE_FILE = 256 * 1024 * 1024
# OpenCV's own limit for what it decodes, for formats imagesize cannot read the header of. OpenCV
# reads it when it loads, so it holds only where this module imports cv2 first, as in the demos.
os.environ.setdefault("OPENCV_IO_MAX_IMAGE_PIXELS", str(MAX_PIXELS))
# A file that does not decode is reported in one line; OpenCV's and FFmpeg's own warnings about
# it would add lines of their own on stderr.
os.environ.setdefault("OPENCV_LOG_LEVEL", "ERROR")
os.environ.setdefault("OPENCV_FFMPEG_LOGLEVEL", "-8")  # AV_LOG_QUIET

import cv2  # noqa: E402
import numpy as np  # noqa: E402


class InputError(Exception):
    """The input file cannot be used; the message says why."""


@dataclass
class Image:
    path: Path
    data: bytes  # the file's bytes
    pixels: np.ndarray  # BGR


@dataclass
class Video:
    path: Path
    fps: float
    frame_count: int


def open_input(path_text: str) -> Image | Video:
    """Read `path_text` as an image if it decodes as one, else as a video, else InputError.

    An image or a video whose header claims more than MAX_PIXELS is refused undecoded.
    """
    path = Path(path_text)
    try:
        if not path.exists():
            raise InputError(f"{path}: no such file")
        if not path.is_file():
            raise InputError(f"{path}: not a file")
        size = path.stat().st_size
    except (OSError, ValueError) as error:
        raise InputError(f"{path_text!r}: not a usable path ({_reason(error)})") from None
    claimed = image_size(path)
    if claimed:
        _check_pixels(path, "image", *claimed)
    if claimed or size <= MAX_IMAGE_FILE:
        image = _decode_image(path)
        if image is not None:
            return image
    if claimed:  # its header says image: FFmpeg would read a damaged one as a one-frame video
        raise InputError(
            f"{path}: an image that does not decode (truncated, damaged, or a kind OpenCV "
            "cannot read, such as 32-bit floating-point samples)"
        )
    return _open_video(path)


def image_size(path: Path) -> tuple[int, int] | None:
    """(width, height) from the image's header, without decoding it; None if not an image."""
    try:
        width, height = imagesize.get(path)  # reads the header only
    except Exception:  # noqa: BLE001 - any file: a damaged header raises many kinds
        return None
    return (width, height) if width > 0 and height > 0 else None


def _check_pixels(path: Path, what: str, width: int, height: int) -> None:
    if width * height > MAX_PIXELS:
        raise InputError(
            f"{path}: the {what} claims {width}x{height} pixels, more than the "
            f"{MAX_PIXELS // 1_000_000} Mpx the demos decode: shrink it first"
        )


def _decode_image(path: Path) -> Image | None:
    try:
        data = path.read_bytes()
    except OSError as error:
        raise InputError(f"{path}: cannot read it: {error.strerror}") from None
    try:
        if not data:
            pixels = None
        elif image_size(path):
            pixels = cv2.imdecode(np.frombuffer(data, np.uint8), cv2.IMREAD_COLOR)
        else:
            # A format no header reader knows: from the file, as OpenCV decodes some formats
            # from memory through a temporary file that it leaves behind when it refuses one.
            pixels = cv2.imread(str(path), cv2.IMREAD_COLOR)
    except cv2.error:  # OpenCV's pixel limit, for a header imagesize could not read
        raise InputError(
            f"{path}: an image larger than the {MAX_PIXELS // 1_000_000} Mpx the demos decode"
        ) from None
    return None if pixels is None else Image(path, data, pixels)


def _open_video(path: Path) -> Video:
    capture = cv2.VideoCapture(str(path))
    try:
        readable = capture.isOpened()
        if readable:
            width = int(capture.get(cv2.CAP_PROP_FRAME_WIDTH) or 0)
            height = int(capture.get(cv2.CAP_PROP_FRAME_HEIGHT) or 0)
            _check_pixels(path, "video", width, height)
            readable = capture.read()[0]
        fps = capture.get(cv2.CAP_PROP_FPS)
        fps = fps if math.isfinite(fps) and fps > 0 else 25.0
        count = capture.get(cv2.CAP_PROP_FRAME_COUNT)
        count = int(count) if math.isfinite(count) and count > 0 else 0
    except cv2.error:
        readable = False
    finally:
        capture.release()
    if not readable:
        raise InputError(f"{path}: not an image or a video that can be decoded")
    return Video(path, fps, count)


def _reason(error: Exception) -> str:
    return getattr(error, "strerror", None) or str(error)


def fit(pixels: np.ndarray, size: tuple[int, int]) -> np.ndarray:
    """Shrink to fit within `size` (width, height), keeping the aspect ratio; never enlarge."""
    height, width = pixels.shape[:2]
    scale = min(size[0] / width, size[1] / height)
    if scale >= 1:
        return pixels
    shrunk = (max(1, round(width * scale)), max(1, round(height * scale)))  # 10000x2 stays 1 high
    return cv2.resize(pixels, shrunk, interpolation=cv2.INTER_AREA)


def rgb(pixels: np.ndarray) -> np.ndarray:
    """OpenCV's BGR pixels as RGB."""
    return cv2.cvtColor(pixels, cv2.COLOR_BGR2RGB)


def jpeg(pixels: np.ndarray) -> bytes:
    ok, encoded = cv2.imencode(".jpg", pixels, [cv2.IMWRITE_JPEG_QUALITY, JPEG_QUALITY])
    if not ok:
        raise InputError("could not encode the frame as JPEG")
    return encoded.tobytes()


def image_jpeg(image: Image, size: tuple[int, int]) -> bytes:
    """The image as JPEG bytes: the file itself when it is a JPEG of fitting size."""
    height, width = image.pixels.shape[:2]
    if image.data[:3] == b"\xff\xd8\xff" and width <= size[0] and height <= size[1]:
        return image.data
    return jpeg(fit(image.pixels, size))


def frames(video: Video, fps: float) -> Iterator[tuple[int, np.ndarray]]:
    """(source frame index, frame) for `fps` frames per second of video."""
    capture = cv2.VideoCapture(str(video.path))
    step = max(1.0, video.fps / fps)
    index, next_kept = 0, 0.0
    try:
        while True:
            ok, frame = capture.read()
            if not ok:
                return
            if index >= next_kept:
                yield index, frame
                next_kept += step
            index += 1
    finally:
        capture.release()


def sampled_count(video: Video, fps: float) -> int:
    """How many frames `frames` will yield (0 when the container does not say)."""
    step = max(1.0, video.fps / fps)
    return int(np.ceil(video.frame_count / step)) if video.frame_count else 0


# --- drawing


GREEN, RED, YELLOW, CYAN = (0, 200, 0), (0, 0, 255), (0, 220, 255), (255, 200, 0)


def _px(pixels: np.ndarray, x: float | None, y: float | None) -> tuple[int, int]:
    """Pixel of a normalized point; a coordinate the server left out or sent as NaN counts as
    0, and one far outside the picture is drawn at its edge's neighbourhood."""
    height, width = pixels.shape[:2]
    return _scale(x, width), _scale(y, height)


def _scale(value: float | None, pixels: int) -> int:
    if not isinstance(value, float | int) or not math.isfinite(value):
        value = 0.0
    return round(min(max(value, -1.0), 2.0) * pixels)


def draw_objects(pixels: np.ndarray, objects: list, flagged: set[int]) -> None:
    for detected in objects:
        color = RED if detected.objectId in flagged else GREEN
        top_left = _px(pixels, detected.left, detected.top)
        cv2.rectangle(pixels, top_left, _px(pixels, detected.right, detected.bottom), color, 2)
        label = f"{detected.name or 'object'} {detected.objectId}"
        cv2.putText(
            pixels,
            label,
            (top_left[0], max(12, top_left[1] - 4)),
            cv2.FONT_HERSHEY_SIMPLEX,
            0.45,
            color,
            1,
        )


def draw_settings(pixels: np.ndarray, settings) -> None:
    """The zones, line and ground area the session was asked about."""
    areas = settings.detAreaSettings
    if areas and areas.enabled:
        for area in areas.areas or []:
            cv2.rectangle(
                pixels,
                _px(pixels, area.left, area.top),
                _px(pixels, area.right, area.bottom),
                CYAN,
                2,
            )
    line = settings.lineCrossSettings
    if line and line.enabled:
        a, b = (_px(pixels, p.x, p.y) for p in line.boundary)
        cv2.line(pixels, a, b, YELLOW, 2)
        cv2.circle(pixels, _px(pixels, line.inPoint.x, line.inPoint.y), 5, YELLOW, -1)
    distancing = settings.sdSettings
    if distancing and distancing.enabled:
        corners = np.int32([_px(pixels, p.x, p.y) for p in distancing.groundBoundary])
        cv2.polylines(pixels, [corners], True, CYAN, 1)


def write_image(path: str, pixels: np.ndarray) -> None:
    try:
        written = cv2.imwrite(path, pixels)
    except cv2.error:  # no writer for the extension: OpenCV raises rather than answer False
        written = False
    if not written:
        raise InputError(f"{path}: cannot write an image there (use .jpg or .png)")


class VideoWriter:
    """An annotated video, written frame by frame (MP4, or AVI with MJPG for .avi)."""

    def __init__(self, path: str, fps: float, size: tuple[int, int]) -> None:
        codec = "MJPG" if path.lower().endswith(".avi") else "mp4v"
        self.writer = cv2.VideoWriter(path, cv2.VideoWriter_fourcc(*codec), fps, size)
        if not self.writer.isOpened():
            raise InputError(f"{path}: cannot write a video there (use .mp4 or .avi)")

    def write(self, pixels: np.ndarray) -> None:
        self.writer.write(pixels)

    def close(self) -> None:
        self.writer.release()
