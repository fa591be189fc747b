"""The pictures the server takes, as DetectionInput: a JPEG, or a frame of raw RGB pixels."""

from __future__ import annotations

import media
from sdclient import API


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
