"""Pictures of odd kinds, damaged or cut short: an image, or one line; never a one-frame video."""

from __future__ import annotations

import subprocess
import sys

import cv2
import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import media
from conftest import ROOT

PIXELS = np.random.default_rng(7).integers(0, 255, (48, 64, 3), dtype=np.uint8)
KINDS = {
    "gray.png": (".png", PIXELS[:, :, 0], []),
    "16-bit.png": (".png", PIXELS.astype(np.uint16) * 257, []),
    "rgba.png": (".png", np.dstack([PIXELS, PIXELS[:, :, 0]]), []),
    "progressive.jpg": (".jpg", PIXELS, [cv2.IMWRITE_JPEG_PROGRESSIVE, 1]),
    "gray.jpg": (".jpg", PIXELS[:, :, 0], []),
    "plain.bmp": (".bmp", PIXELS, []),
    "plain.tiff": (".tiff", PIXELS, []),
    "float.tiff": (".tiff", PIXELS.astype(np.float32) / 255, []),
    "plain.webp": (".webp", PIXELS, []),
    "plain.gif": (".gif", PIXELS, []),
}


def encoded(kind: str) -> bytes:
    suffix, pixels, params = KINDS[kind]
    ok, data = cv2.imencode(suffix, pixels, params)
    assert ok
    return data.tobytes()


@settings(
    max_examples=60,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture],
)
@given(
    kind=st.sampled_from(sorted(KINDS)),
    cut=st.floats(0.0, 1.0),
    damage=st.lists(st.tuples(st.floats(0.0, 1.0), st.integers(0, 255)), max_size=3),
)
def test_any_picture_cut_or_damaged_is_an_image_or_one_line(tmp_path, kind, cut, damage):
    data = bytearray(encoded(kind))
    for where, value in damage:
        data[int(where * (len(data) - 1))] = value
    data = bytes(data[: max(1, round(cut * len(data)))] if cut < 1 else data)
    path = tmp_path / kind
    path.write_bytes(data)
    try:
        opened = media.open_input(str(path))
    except media.InputError as error:
        assert "\n" not in str(error) and str(error).startswith(str(path))
        return
    # A file whose header says image is an image or refused, never read by FFmpeg as a video.
    if media.image_size(path):
        assert isinstance(opened, media.Image)
    if isinstance(opened, media.Image):
        assert opened.pixels.ndim == 3 and opened.pixels.dtype == np.uint8


@pytest.mark.parametrize(
    "kind", ["gray.png", "16-bit.png", "rgba.png", "progressive.jpg", "plain.gif"]
)
def test_odd_kinds_that_decode_are_images(tmp_path, kind):
    path = tmp_path / kind
    path.write_bytes(encoded(kind))
    opened = media.open_input(str(path))
    assert isinstance(opened, media.Image) and opened.pixels.shape == (48, 64, 3)


@pytest.mark.parametrize("kind, cut", [("progressive.jpg", 0.5), ("float.tiff", 1.0)])
def test_a_picture_that_does_not_decode_is_one_line_on_stderr(tmp_path, kind, cut):
    """In a process, as users run it: OpenCV's and FFmpeg's own warnings stay quiet."""
    data = encoded(kind)
    path = tmp_path / kind
    path.write_bytes(data[: int(len(data) * cut)])
    done = subprocess.run(
        [sys.executable, str(ROOT / "demo" / "detection_demo.py"), "--input", str(path)],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert done.returncode == 2
    assert done.stderr.splitlines() == [f"error: {path}: an image that does not decode "
                                        "(truncated, damaged, or a kind OpenCV cannot read, "
                                        "such as 32-bit floating-point samples)"]  # fmt: skip
