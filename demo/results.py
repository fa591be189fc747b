"""The server's answer, shown: checked for holes, summed up in readable lines, or as JSON.

The JSON is `json.dumps` with its default `ensure_ascii`: plain ASCII, exact on any console.
"""

from __future__ import annotations

import json
from itertools import groupby

from sdclient import API, ApiError, to_plain


def print_json(value) -> None:
    print(json.dumps(to_plain(value), indent=2))


def _direction(detected) -> str:
    return API.CrossDirection._VALUES_TO_NAMES.get(detected.direction, "UNKNOWN").replace(
        "CROSS_", ""
    )


def _count(objects: list) -> str:
    if not objects:
        return "none"
    names = sorted({_name(o) for o in objects})
    return ", ".join(f"{sum(_name(o) == name for o in objects)} {name}" for name in names)


# The server may leave optional fields out: the summary says so rather than fail.
def _name(detected) -> str:
    return str(detected.name or "object")


def frame_index(detected) -> int:
    return detected.frameIndex if isinstance(detected.frameIndex, int) else 0


def _confidence(detected) -> str:
    value = detected.confidence
    return f"{value:.2f}" if isinstance(value, float | int) else "?"


def check_answer(output, doing: str) -> None:
    """Refuse a DetectionOutput the demos cannot read: a list with a hole, a pair missing half."""
    results = [output.objDetResult, output.socialDetResult, output.lineCrossResult]
    results += [output.maskDetResult, output.alprResult]
    for result in filter(None, results):
        for field in ("objects", "violations"):
            items = getattr(result, field, None) or []
            if any(item is None for item in items):
                raise ApiError(f"{doing}: the server's answer has an empty item in {field}")
            if field == "violations" and any(v.first is None or v.second is None for v in items):
                raise ApiError(f"{doing}: the server's answer has a violation without its objects")


def summary(output, frames: list[int]) -> list[str]:
    """Readable lines: counts per frame (runs of equal counts together), crossings, violations, plates."""
    lines = []
    if output.objDetResult is not None:
        objects = output.objDetResult.objects or []
        ids = sorted({o.objectId for o in objects if isinstance(o.objectId, int)})
        lines.append(f"objects: {len(ids)} distinct ({', '.join(map(str, ids)) or 'none'})")
        found: dict[int, list] = {index: [] for index in frames}
        for detected in objects:
            found.setdefault(frame_index(detected), []).append(detected)
        counts = [(index, _count(found[index])) for index in sorted(found)]
        for count, run in groupby(counts, key=lambda pair: pair[1]):
            indices = [index for index, _ in run]
            span = f"{indices[0]}-{indices[-1]}" if len(indices) > 1 else f"{indices[0]}"
            lines.append(f"  {'frames' if len(indices) > 1 else 'frame'} {span}: {count}")
    if output.lineCrossResult is not None:
        crossings = output.lineCrossResult.violations or []
        lines.append(f"line crossings: {len(crossings)}")
        for crossing in crossings:
            lines.append(
                f"  frame {frame_index(crossing.second)}: {_name(crossing.second)} "
                f"{crossing.second.objectId} crossed {_direction(crossing.second)}"
            )
    if output.socialDetResult is not None:
        violations = output.socialDetResult.violations or []
        lines.append(f"social distancing violations: {len(violations)}")
        for violation in violations:
            lines.append(
                f"  frame {frame_index(violation.first)}: {violation.first.objectId} and "
                f"{violation.second.objectId} too close"
            )
    if output.maskDetResult is not None:
        faces = output.maskDetResult.objects or []
        lines.append(f"faces: {len(faces)}")
        lines += [f"  frame {frame_index(f)}: {_name(f)} ({_confidence(f)})" for f in faces]
    if output.alprResult is not None:
        plates = output.alprResult.objects or []
        lines.append(f"licence plates: {len(plates)}")
        for plate in plates:
            readings = [d for d in plate.detections or [] if d is not None]
            best = max(readings, key=lambda d: _confidence(d) != "?" and d.confidence, default=None)
            text = f"{best.plate} ({_confidence(best)})" if best else "unread"
            lines.append(f"  frame {frame_index(plate)}: {text}")
    return lines
