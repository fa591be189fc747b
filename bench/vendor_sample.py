"""The vendor sample client's way, for the benchmarks: one call at a time, nothing in flight.

A video: each frame as raw RGB into a session, the whole session result asked after every frame.
Images: one `runDetection` at a time, each image sent as its JPEG file. Prints, as JSON, how many
inputs or frames went and the seconds the loop took (without the process's start).

    python3 bench/vendor_sample.py --port 9090 --input street.mp4 --limit 40
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "demo"))

import detection_inputs  # noqa: E402
import media  # noqa: E402
from sdclient import API, Client, Endpoint, check  # noqa: E402

SETTINGS = API.DetectionSettings(objSettings=API.ObjectDetectionSettings(enabled=True))


def video_loop(api: Client, video: media.Video, fps: float, limit: int) -> int:
    session = api.call("createSession", SETTINGS)
    frames = 0
    for index, frame in media.frames(video, fps):
        payload = detection_inputs.raw_frame(media.fit(frame, media.FRAME_SIZE))
        check(api.call("processInputForSession", session, index, payload), "frame")
        check(api.call("getSessionResult", session).status, "result")
        frames += 1
        if frames == limit:
            break
    api.call("deleteSession", session)
    return frames


def image_loop(api: Client, images: list[Path], limit: int) -> int:
    for path in images[:limit]:
        payload = detection_inputs.encoded(path.read_bytes())
        check(api.call("runDetection", payload, SETTINGS).status, "runDetection")
    return min(limit, len(images))


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.strip().splitlines()[0])
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--input", required=True, help="a video, or a folder of JPEG images")
    parser.add_argument("--fps", type=float, default=5.0, help="video frames per second sent")
    parser.add_argument("--limit", type=int, default=10**9, help="stop after this many")
    args = parser.parse_args(argv)
    with Client(Endpoint(host=args.host, port=args.port)) as api:
        api.call("getStatus")  # connected before the clock starts
        start = time.perf_counter()
        if Path(args.input).is_dir():
            count = image_loop(api, sorted(Path(args.input).glob("*.jpg")), args.limit)
        else:
            count = video_loop(api, media.open_input(args.input), args.fps, args.limit)
        seconds = time.perf_counter() - start
    print(json.dumps({"count": count, "seconds": seconds}))
    return 0


if __name__ == "__main__":
    sys.exit(main())
