"""Pictures as the server receives them, checked before any decoding so that none can exhaust it."""

from __future__ import annotations

import io

import cv2
import imagesize
import numpy as np

from localserver.api import API

DEFAULT_MAX_PIXELS = 50_000_000  # a 50 Mpx picture is 150 MB decoded; far past any camera frame


class InvalidInput(Exception):
    """The input cannot be used: the call answers ERR_INVALID_REQ."""


def decode_encoded(data: bytes, max_pixels: int = DEFAULT_MAX_PIXELS) -> np.ndarray:
    """The BGR image in an encoded picture (JPEG, PNG, ...), refused from its header if too large."""
    width, height = imagesize.get(io.BytesIO(data)) if data else (-1, -1)
    if width <= 0 or height <= 0:
        raise InvalidInput("not a picture whose size can be read from its header")
    if width * height > max_pixels:
        raise InvalidInput(f"{width}x{height} is more than {max_pixels} pixels")
    image = cv2.imdecode(np.frombuffer(data, np.uint8), cv2.IMREAD_COLOR)
    if image is None or image.shape[0] * image.shape[1] > max_pixels:
        raise InvalidInput("not a decodable picture")
    return image


def decode_raw(width: int, height: int, buffer: bytes, max_pixels: int) -> np.ndarray:
    """The BGR image in an RGB_HWC buffer, which must hold exactly width x height x 3 bytes."""
    if width <= 0 or height <= 0 or width * height > max_pixels:
        raise InvalidInput(f"raw size {width}x{height} out of range")
    if len(buffer) != width * height * 3:
        raise InvalidInput("raw buffer size does not match width x height x 3")
    rgb = np.frombuffer(buffer, np.uint8).reshape(height, width, 3)
    return cv2.cvtColor(rgb, cv2.COLOR_RGB2BGR)


INPUT_ARMS = ("rawImageInput", "encImageInput", "imgFileInput", "vidFileInput")


def set_arms(params) -> list[str]:
    """The arms set in an InputParams union (thriftpy2 does not check that exactly one is)."""
    return [arm for arm in INPUT_ARMS if getattr(params, arm, None) is not None]


def decode_input(detection_input, max_pixels: int = DEFAULT_MAX_PIXELS) -> np.ndarray:
    """The BGR image a DetectionInput carries (raw, encoded or a file), or InvalidInput."""
    params = detection_input.params if detection_input else None
    if params is None:
        raise InvalidInput("no input")
    arms = set_arms(params)
    if len(arms) != 1:
        raise InvalidInput(f"InputParams is a union: {len(arms)} fields set, 1 expected")
    kind = detection_input.type
    if kind == API.DetectionInputType.IMG_BUFFER_RAW and params.rawImageInput:
        raw = params.rawImageInput
        return decode_raw(raw.width or 0, raw.height or 0, raw.buffer or b"", max_pixels)
    if kind == API.DetectionInputType.IMG_BUFFER_ENCODED and params.encImageInput:
        encoded = params.encImageInput
        buffer = encoded.buffer or b""
        if encoded.bufferLength is not None and encoded.bufferLength != len(buffer):
            raise InvalidInput("bufferLength does not match the buffer")
        return decode_encoded(buffer, max_pixels)
    if kind == API.DetectionInputType.IMG_FILE_PATH and params.imgFileInput:
        largest = max_pixels * 4 + 1024 * 1024  # more than any encoding of max_pixels needs
        try:
            with open(params.imgFileInput.filename or "", "rb") as file:
                data = file.read(largest + 1)
        except (OSError, ValueError):
            raise InvalidInput("image file missing or unreadable") from None
        if len(data) > largest:
            raise InvalidInput("image file too large")
        return decode_encoded(data, max_pixels)
    raise InvalidInput("input type and parameters do not match")
