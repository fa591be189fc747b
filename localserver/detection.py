"""What the local server computes: person boxes, stable ids, zones, line crossings, distancing.

The detector is pluggable: `HogPersonDetector` (OpenCV's built-in people detector, no model
to download) for real pictures, `MarkerDetector` (solid green figures) for the pictures the
tests and the rehearsal draw, so they know exactly where every person is.
"""

from __future__ import annotations

import math
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass

import cv2
import numpy as np

from localserver.api import API

KEPT_FRAMES = 600  # a session keeps the results of its most recent 600 frames
MAX_AREAS = 2


@dataclass(frozen=True)
class Box:
    """A detection in normalized coordinates: origin top left, x right, y down."""

    top: float
    left: float
    bottom: float
    right: float
    confidence: float = 1.0

    @property
    def foot(self) -> tuple[float, float]:
        """The bottom-middle point, where a person stands."""
        return ((self.left + self.right) / 2, self.bottom)


Detector = Callable[[np.ndarray, int], list[Box]]


def _normalized(rects: list, scores: list, width: int, height: int) -> list[Box]:
    return [
        Box(y / height, x / width, (y + h) / height, (x + w) / width, float(score))
        for (x, y, w, h), score in zip(rects, scores, strict=True)
    ]


class HogPersonDetector:
    """OpenCV's HOG + linear SVM people detector; `env` trades speed for recall."""

    SCALES = {
        API.ObjectDetectionEnv.NORMAL: 1.10,
        API.ObjectDetectionEnv.BUSY: 1.05,
        API.ObjectDetectionEnv.VERY_BUSY: 1.03,
    }

    def __init__(self) -> None:
        self.hog = cv2.HOGDescriptor()
        self.hog.setSVMDetector(cv2.HOGDescriptor_getDefaultPeopleDetector())

    MAX_PIXELS = 4_000_000  # its time grows with the pixels: larger frames are shrunk first

    def __call__(self, image: np.ndarray, env: int) -> list[Box]:
        height, width = image.shape[:2]
        if width * height > self.MAX_PIXELS:  # boxes are normalized, so unchanged by the scale
            scale = math.sqrt(self.MAX_PIXELS / (width * height))
            width, height = max(1, round(width * scale)), max(1, round(height * scale))
            image = cv2.resize(image, (width, height), interpolation=cv2.INTER_AREA)
        rects, weights = self.hog.detectMultiScale(
            image, winStride=(8, 8), padding=(8, 8), scale=self.SCALES.get(env, 1.05)
        )
        if len(rects) == 0:
            return []
        scores = [float(w) for w in np.ravel(weights)]
        keep = cv2.dnn.NMSBoxes([list(map(int, r)) for r in rects], scores, 0.3, 0.45)
        kept = [int(i) for i in np.ravel(keep)]
        return _normalized(
            [rects[i] for i in kept], [min(1.0, scores[i] / 2) for i in kept], width, height
        )


class MarkerDetector:
    """Finds solid green (BGR 0,255,0) figures: a stand-in person whose box is known exactly."""

    def __init__(self, min_pixels: int = 30) -> None:
        self.min_pixels = min_pixels

    def __call__(self, image: np.ndarray, env: int) -> list[Box]:
        height, width = image.shape[:2]
        mask = cv2.inRange(image, (0, 200, 0), (80, 255, 80))
        contours, _ = cv2.findContours(mask, cv2.RETR_EXTERNAL, cv2.CHAIN_APPROX_SIMPLE)
        rects = [cv2.boundingRect(c) for c in contours if cv2.contourArea(c) >= self.min_pixels]
        rects.sort(key=lambda r: (r[0], r[1]))
        return _normalized(rects, [0.99] * len(rects), width, height)


DETECTORS: dict[str, Callable[[], Detector]] = {"hog": HogPersonDetector, "marker": MarkerDetector}


class Tracker:
    """Keeps an object's id from frame to frame by nearest foot point."""

    def __init__(self, max_jump: float = 0.2, forget_after: int = 10) -> None:
        self.max_jump = max_jump
        self.forget_after = forget_after
        self.tracks: dict[int, tuple[Box, int]] = {}  # id -> (last box, frames unseen)
        self.next_id = 1

    def update(self, boxes: list[Box]) -> list[tuple[int, Box]]:
        pairs = sorted(
            (math.dist(box.foot, last.foot), track_id, index)
            for index, box in enumerate(boxes)
            for track_id, (last, _) in self.tracks.items()
        )
        assigned: dict[int, int] = {}
        used_tracks: set[int] = set()
        for distance, track_id, index in pairs:
            if distance > self.max_jump:
                break
            if index not in assigned and track_id not in used_tracks:
                assigned[index] = track_id
                used_tracks.add(track_id)
        for track_id in list(self.tracks):
            if track_id not in used_tracks:
                last, unseen = self.tracks[track_id]
                if unseen + 1 > self.forget_after:
                    del self.tracks[track_id]
                else:
                    self.tracks[track_id] = (last, unseen + 1)
        result = []
        for index, box in enumerate(boxes):
            if index not in assigned:
                assigned[index] = self.next_id
                self.next_id += 1
            self.tracks[assigned[index]] = (box, 0)
            result.append((assigned[index], box))
        return result


def _in_unit(value: float | None) -> bool:
    return value is not None and 0.0 <= value <= 1.0


def _point_ok(point) -> bool:
    return point is not None and _in_unit(point.x) and _in_unit(point.y)


def settings_problem(settings) -> str | None:
    """Why these DetectionSettings are invalid, or None."""
    if settings is None:
        return "no settings"
    areas = settings.detAreaSettings
    if areas and areas.enabled:
        listed = areas.areas or []
        if not 1 <= len(listed) <= MAX_AREAS:
            return f"detection areas: {len(listed)} given, 1 or 2 allowed"
        for area in listed:
            values = (area.top, area.left, area.bottom, area.right)
            if not all(_in_unit(v) for v in values):
                return "detection area outside [0, 1]"
            if area.top >= area.bottom or area.left >= area.right:
                return "detection area with top >= bottom or left >= right"
    distancing = settings.sdSettings
    if distancing and distancing.enabled:
        ground, separation = distancing.groundBoundary or [], distancing.minSeparation or []
        if len(ground) != 4 or not all(map(_point_ok, ground)):
            return "social distancing needs 4 ground points in [0, 1]"
        if len(separation) != 2 or not all(map(_point_ok, separation)):
            return "social distancing needs 2 separation points in [0, 1]"
        if abs(cv2.contourArea(np.float32([(p.x, p.y) for p in ground]))) < 1e-6:
            return "the ground points do not enclose an area"
        if (separation[0].x, separation[0].y) == (separation[1].x, separation[1].y):
            return "the two separation points are the same"
    line = settings.lineCrossSettings
    if line and line.enabled:
        boundary = line.boundary or []
        if len(boundary) != 2 or not all(map(_point_ok, boundary)) or not _point_ok(line.inPoint):
            return "line crossing needs 2 line points and an in-point in [0, 1]"
        if _side(boundary, (line.inPoint.x, line.inPoint.y)) == 0:
            return "the in-point lies on the line"
        if line.crossCriteria is not None and line.crossCriteria not in (
            API.LineCrossCriteria._VALUES_TO_NAMES
        ):
            return "unknown line crossing criteria"
    return None


def unsupported(settings) -> str | None:
    """What the local server cannot do: masks and licence plates need models it does not have."""
    if settings.maskSettings and settings.maskSettings.enabled:
        return "mask detection"
    if settings.alprSettings and settings.alprSettings.enabled:
        return "licence plate recognition"
    return None


def _side(boundary, point: tuple[float, float]) -> int:
    (x1, y1), (x2, y2) = (boundary[0].x, boundary[0].y), (boundary[1].x, boundary[1].y)
    cross = (x2 - x1) * (point[1] - y1) - (y2 - y1) * (point[0] - x1)
    return (cross > 1e-12) - (cross < -1e-12)


def _segments_cross(a, b, c, d) -> bool:
    def orient(p, q, r):
        value = (q[0] - p[0]) * (r[1] - p[1]) - (q[1] - p[1]) * (r[0] - p[0])
        return (value > 1e-12) - (value < -1e-12)

    return orient(a, b, c) * orient(a, b, d) <= 0 and orient(c, d, a) * orient(c, d, b) <= 0


@dataclass
class FrameResult:
    objects: list
    crossings: list
    violations: list


class Analysis:
    """One detection session: frames in, DetectionOutput out."""

    def __init__(self, settings, detector: Detector) -> None:
        self.settings = settings
        self.detector = detector
        self.tracker = Tracker()
        self.frames: deque[FrameResult] = deque(maxlen=KEPT_FRAMES)
        self.last_seen: dict[int, object] = {}  # id -> its DetectedObject in the previous frame
        if settings.sdSettings and settings.sdSettings.enabled:
            ground = np.float32([(p.x, p.y) for p in settings.sdSettings.groundBoundary])
            self.to_ground = cv2.getPerspectiveTransform(
                ground, np.float32([(0, 0), (1, 0), (1, 1), (0, 1)])
            )
            a, b = self._ground([(p.x, p.y) for p in settings.sdSettings.minSeparation])
            self.min_separation = math.dist(a, b)

    def _ground(self, points: list[tuple[float, float]]) -> list[tuple[float, float]]:
        mapped = cv2.perspectiveTransform(np.float32([points]), self.to_ground)[0]
        return [tuple(map(float, p)) for p in mapped]

    def process(self, frame_index: int, image: np.ndarray) -> None:
        objects_settings = self.settings.objSettings
        env = (objects_settings.env if objects_settings else None) or API.ObjectDetectionEnv.NORMAL
        tracked = self.tracker.update(self.detector(image, env))
        objects = []
        for object_id, box in tracked:
            detected = API.DetectedObject(
                name="person",
                objectId=object_id,
                top=box.top,
                left=box.left,
                bottom=box.bottom,
                right=box.right,
                frameIndex=frame_index,
                confidence=box.confidence,
                direction=API.CrossDirection.UNKNOWN,
            )
            if objects_settings and objects_settings.detectOnlyMovingObjects:
                before = self.last_seen.get(object_id)
                if before is None or math.dist(_foot(before), box.foot) < 0.005:
                    self.last_seen[object_id] = detected
                    continue
            objects.append(detected)
        objects = self._in_areas(objects)
        crossings = self._crossings(objects)
        violations = self._too_close(objects)
        self.last_seen.update({o.objectId: o for o in objects})
        self.frames.append(FrameResult(objects, crossings, violations))

    def _in_areas(self, objects: list) -> list:
        areas = self.settings.detAreaSettings
        if not (areas and areas.enabled):
            return objects
        kept = []
        for detected in objects:
            x, y = _foot(detected)
            for number, area in enumerate(areas.areas, 1):
                if area.left <= x <= area.right and area.top <= y <= area.bottom:
                    kept.append(replace_object(detected, name=area.name or f"area {number}"))
                    break
        return kept

    def _crossings(self, objects: list) -> list:
        line = self.settings.lineCrossSettings
        if not (line and line.enabled):
            return []
        criteria = line.crossCriteria or API.LineCrossCriteria.LINE_CROSS
        both_directions = criteria in (
            API.LineCrossCriteria.LINE_CROSS_BOTH_DIR,
            API.LineCrossCriteria.LINE_SEGMENT_CROSS_BOTH_DIR,
        )
        segment_only = criteria in (
            API.LineCrossCriteria.LINE_SEGMENT_CROSS,
            API.LineCrossCriteria.LINE_SEGMENT_CROSS_BOTH_DIR,
        )
        in_side = _side(line.boundary, (line.inPoint.x, line.inPoint.y))
        ends = [(p.x, p.y) for p in line.boundary]
        crossings = []
        for detected in objects:
            before = self.last_seen.get(detected.objectId)
            if before is None:
                continue
            was, now = _side(line.boundary, _foot(before)), _side(line.boundary, _foot(detected))
            if was == 0 or now == 0 or was == now:
                continue
            if segment_only and not _segments_cross(_foot(before), _foot(detected), *ends):
                continue
            direction = (
                API.CrossDirection.CROSS_IN if now == in_side else API.CrossDirection.CROSS_OUT
            )
            if direction == API.CrossDirection.CROSS_OUT and not both_directions:
                continue
            detected.direction = direction
            crossings.append(
                API.LineCrossViolation(
                    first=replace_object(before, direction=direction), second=detected
                )
            )
        return crossings

    def _too_close(self, objects: list) -> list:
        distancing = self.settings.sdSettings
        if not (distancing and distancing.enabled) or len(objects) < 2:
            return []
        feet = self._ground([_foot(o) for o in objects])
        return [
            API.SocialDistanceViolation(first=objects[i], second=objects[j])
            for i in range(len(objects))
            for j in range(i + 1, len(objects))
            if math.dist(feet[i], feet[j]) < self.min_separation
        ]

    def output(self):
        """Everything the kept frames found, as a DetectionOutput."""
        result = API.DetectionOutput(status=API.ResultCode.SUCCESS)
        settings = self.settings
        if (
            settings.objSettings
            and settings.objSettings.enabled
            or (settings.detAreaSettings and settings.detAreaSettings.enabled)
        ):
            result.objDetResult = API.ObjectDetectionResult(
                objects=[o for frame in self.frames for o in frame.objects]
            )
        if settings.lineCrossSettings and settings.lineCrossSettings.enabled:
            result.lineCrossResult = API.LineCrossDetectionResult(
                violations=[c for frame in self.frames for c in frame.crossings]
            )
        if settings.sdSettings and settings.sdSettings.enabled:
            result.socialDetResult = API.SocialDistanceResult(
                violations=[v for frame in self.frames for v in frame.violations]
            )
        return result


def _foot(detected) -> tuple[float, float]:
    return ((detected.left + detected.right) / 2, detected.bottom)


def replace_object(detected, **changes):
    """A copy of a DetectedObject with some fields changed."""
    fields = {spec[1]: getattr(detected, spec[1]) for spec in detected.thrift_spec.values()}
    return API.DetectedObject(**{**fields, **changes})
