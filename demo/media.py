"""Images and videos for the demos: tell them apart by content, decode, size, encode, annotate."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import cv2
import numpy as np

FRAME_SIZE = (640, 480)  # what the server expects for person detection
PLATE_FRAME_SIZE = (1920, 1080)  # licence plates: up to full HD
JPEG_QUALITY = 90


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
    """Read `path_text` as an image if it decodes as one, else as a video, else InputError."""
    path = Path(path_text)
    if not path.exists():
        raise InputError(f"{path}: no such file")
    if not path.is_file():
        raise InputError(f"{path}: not a file")
    try:
        data = path.read_bytes()
    except OSError as error:
        raise InputError(f"{path}: cannot read it: {error.strerror}") from None
    pixels = cv2.imdecode(np.frombuffer(data, np.uint8), cv2.IMREAD_COLOR) if data else None
    if pixels is not None:
        return Image(path, data, pixels)
    capture = cv2.VideoCapture(str(path))
    try:
        readable = capture.isOpened() and capture.read()[0]
        fps = capture.get(cv2.CAP_PROP_FPS) or 25.0
        count = int(capture.get(cv2.CAP_PROP_FRAME_COUNT) or 0)
    finally:
        capture.release()
    if not readable:
        raise InputError(f"{path}: not an image or a video that can be decoded")
    return Video(path, fps, count)


def fit(pixels: np.ndarray, size: tuple[int, int]) -> np.ndarray:
    """Shrink to fit within `size` (width, height), keeping the aspect ratio; never enlarge."""
    height, width = pixels.shape[:2]
    scale = min(size[0] / width, size[1] / height)
    if scale >= 1:
        return pixels
    return cv2.resize(
        pixels, (round(width * scale), round(height * scale)), interpolation=cv2.INTER_AREA
    )


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


def _px(pixels: np.ndarray, x: float, y: float) -> tuple[int, int]:
    height, width = pixels.shape[:2]
    return round(x * width), round(y * height)


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
    if not cv2.imwrite(path, pixels):
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
