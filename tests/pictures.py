"""Pictures and videos the tests draw: grey scenes with solid green figures (the marker detector's persons)."""

from __future__ import annotations

from pathlib import Path

import cv2
import numpy as np

WIDTH, HEIGHT = 640, 480
Figure = tuple[float, float, float, float]  # left, top, width, height, normalized


def scene(figures: list[Figure], size: tuple[int, int] = (WIDTH, HEIGHT)) -> np.ndarray:
    width, height = size
    pixels = np.full((height, width, 3), 90, np.uint8)
    for left, top, w, h in figures:
        cv2.rectangle(
            pixels,
            (round(left * width), round(top * height)),
            (round((left + w) * width) - 1, round((top + h) * height) - 1),
            (0, 255, 0),
            -1,
        )
    return pixels


def write_picture(
    path: Path, figures: list[Figure], size: tuple[int, int] = (WIDTH, HEIGHT)
) -> Path:
    assert cv2.imwrite(str(path), scene(figures, size))
    return path


def write_video(path: Path, frames: list[list[Figure]], fps: float = 10) -> Path:
    writer = cv2.VideoWriter(str(path), cv2.VideoWriter_fourcc(*"mp4v"), fps, (WIDTH, HEIGHT))
    assert writer.isOpened()
    for figures in frames:
        writer.write(scene(figures))
    writer.release()
    return path


def walk(
    start: tuple[float, float], end: tuple[float, float], steps: int, size=(0.06, 0.2)
) -> list[list[Figure]]:
    """One figure whose feet move from `start` to `end` (normalized x, y of the bottom middle)."""
    w, h = size
    frames = []
    for i in range(steps):
        t = i / (steps - 1)
        x = start[0] + (end[0] - start[0]) * t
        y = start[1] + (end[1] - start[1]) * t
        frames.append([(x - w / 2, y - h, w, h)])
    return frames


ONE = (0.4, 0.3, 0.1, 0.4)  # one figure, left top width height
