"""The annotated copy: boxes, zones and lines drawn on the input, written whole or not at all."""

from __future__ import annotations

import os
import tempfile
from pathlib import Path

import media
from media import Image, InputError, Video
from results import frame_index

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
            flagged.setdefault(frame_index(detected), set()).add(detected.objectId)
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
        objects.setdefault(frame_index(detected), []).append(detected)
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
