"""Benchmark the video frame path: the vendor sample's way against the demos' way.

For a 640x480 video it measures frames per second, bytes sent per frame and calls per frame,
on loopback and through an emulated WAN link (a proxy adding a one-way delay and a bandwidth
cap in each direction), against a server that answers at once: the figures are the client's
and the wire's, not inference. It also prints the link's own limit for the demos' frames
(bandwidth / bytes per frame) and the client's own cost per frame (decode, resize, encode,
send).

    python3 bench/frame_path.py            # or: make bench
    python3 bench/frame_path.py --frames 300 --delay-ms 40 --mbit 20

The server and the link run as child processes (`--serve`, `standins.py link`) so that they do not
share the client's interpreter.
"""

from __future__ import annotations

import argparse
import json
import socket
import subprocess
import sys
import tempfile
import threading
import time
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path[:0] = [str(ROOT), str(ROOT / "demo")]

import cli  # noqa: E402
import cv2  # noqa: E402
import numpy as np  # noqa: E402

import detection_inputs  # noqa: E402
import media  # noqa: E402
from rehearsal.local_aws import free_port  # noqa: E402
from sdclient import API, Client, Endpoint, check  # noqa: E402
from video import IN_FLIGHT, StageClock, analyse_video  # noqa: E402

SETTINGS = API.DetectionSettings(objSettings=API.ObjectDetectionSettings(enabled=True))


# --- the server that answers at once (child process)


class InstantHandler:
    """Answers every frame at once; the session result grows by one object a frame, as a real one."""

    def __init__(self) -> None:
        self.objects: list = []
        self.calls = 0
        self.bytes_in = 0

    def getStatus(self):
        # The benchmark reads the server's counters through the version string.
        counters = {"calls": self.calls, "bytes": self.bytes_in}
        return API.DetectorStatus(version=json.dumps(counters), initStatus=API.ResultCode.SUCCESS)

    def createSession(self, settings):
        self.calls += 1
        self.objects = []
        return 1

    def processInputForSession(self, sessionId, frameIndex, input):  # noqa: A002 - IDL name
        self.calls += 1
        self.objects.append(
            API.DetectedObject(
                name="person",
                objectId=1,
                top=0.2,
                left=0.3,
                bottom=0.8,
                right=0.4,
                frameIndex=frameIndex,
                confidence=0.9,
                direction=0,
            )
        )
        return API.ResultCode.SUCCESS

    def _output(self):
        return API.DetectionOutput(
            status=API.ResultCode.SUCCESS,
            objDetResult=API.ObjectDetectionResult(objects=self.objects),
        )

    def getSessionResult(self, sessionId):
        self.calls += 1
        return self._output()

    def clearSession(self, sessionId):
        self.calls += 1
        return self._output()

    def deleteSession(self, sessionId):
        self.calls += 1
        return API.ResultCode.SUCCESS


class CountingSocket:
    """The accepted socket, counting the bytes the client sends."""

    def __init__(self, sock: socket.socket, handler: InstantHandler) -> None:
        self.sock = sock
        self.handler = handler

    def recv(self, size: int) -> bytes:
        data = self.sock.recv(size)
        self.handler.bytes_in += len(data)
        return data

    def __getattr__(self, name: str):
        return getattr(self.sock, name)


def serve(port: int) -> None:
    from thriftpy2.protocol import TCyBinaryProtocolFactory
    from thriftpy2.rpc import make_server
    from thriftpy2.transport import TCyBufferedTransportFactory

    handler = InstantHandler()
    server = make_server(
        API.DetectionApi,
        handler,
        host="127.0.0.1",
        port=port,
        client_timeout=None,
        proto_factory=TCyBinaryProtocolFactory(),
        trans_factory=TCyBufferedTransportFactory(),
    )
    server.trans.listen()
    print("ready", flush=True)
    while True:
        connection = server.trans.accept()
        connection.sock = CountingSocket(connection.sock, handler)
        threading.Thread(target=server.handle, args=(connection,), daemon=True).start()


# --- the client side (this process)


def start_child(*args: str) -> subprocess.Popen:
    child = subprocess.Popen([sys.executable, __file__, *args], stdout=subprocess.PIPE, text=True)
    if child.stdout.readline().strip() != "ready":
        raise RuntimeError(f"{args[0]} did not start")
    return child


def camera_frames(count: int):
    """640x480 scenes with texture, light noise and people walking: JPEG sizes like a camera's."""
    rng = np.random.default_rng(7)
    y, x = np.mgrid[0:480, 0:640]
    background = np.dstack(
        [
            (90 + 60 * np.sin(x / 37.0) * np.cos(y / 23.0)),
            (110 + 50 * np.cos(x / 51.0 + y / 41.0)),
            (100 + 40 * np.sin((x + y) / 29.0)),
        ]
    ).astype(np.float32)
    for index in range(count):
        frame = background + rng.normal(0, 6, background.shape).astype(np.float32)
        for person in range(3):
            left = int((index * (4 + person) + person * 200) % 600)
            cv2.rectangle(
                frame,
                (left, 150 + 40 * person),
                (left + 40, 330 + 40 * person),
                (40 + 60 * person, 160, 200 - 50 * person),
                -1,
            )
        yield np.clip(frame, 0, 255).astype(np.uint8)


def make_video(path: Path, frames: int, fps: float = 10) -> media.Video:
    """A video of `camera_frames`."""
    writer = cv2.VideoWriter(str(path), cv2.VideoWriter_fourcc(*"mp4v"), fps, (640, 480))
    for frame in camera_frames(frames):
        writer.write(frame)
    writer.release()
    return media.open_input(str(path))


@dataclass
class Run:
    path: str
    link: str
    frames: int
    seconds: float
    calls: int
    bytes_sent: int
    clock: StageClock | None = None

    @property
    def fps(self) -> float:
        return self.frames / self.seconds


def vendor_style(api: Client, video: media.Video) -> int:
    """The vendor sample: raw RGB frames, the whole session result after every one."""
    session = api.call("createSession", SETTINGS)
    frames = 0
    for index, frame in media.frames(video, video.fps):
        check(
            api.call(
                "processInputForSession",
                session,
                index,
                detection_inputs.raw_frame(media.fit(frame, media.FRAME_SIZE)),
            ),
            "frame",
        )
        check(api.call("getSessionResult", session).status, "result")
        frames += 1
    api.call("deleteSession", session)
    return frames


def measure(
    path: str,
    link: str,
    port: int,
    video: media.Video,
    raw: bool = False,
    in_flight: int = IN_FLIGHT,
) -> Run:
    with Client(Endpoint(host="127.0.0.1", port=port)) as api:
        before = json.loads(api.call("getStatus").version)
        clock = None
        start = time.perf_counter()
        if path == "vendor sample":
            frames = vendor_style(api, video)
        else:
            clock = StageClock()
            _, sent = analyse_video(
                api, video, SETTINGS, video.fps, media.FRAME_SIZE, raw, in_flight, clock
            )
            frames = len(sent)
        seconds = time.perf_counter() - start
        after = json.loads(api.call("getStatus").version)
    # The counters include the two getStatus calls' requests, a few dozen bytes each.
    return Run(
        path,
        link,
        frames,
        seconds,
        after["calls"] - before["calls"],
        after["bytes"] - before["bytes"],
        clock,
    )


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.strip().splitlines()[0])
    parser.add_argument("--frames", type=cli.count, default=120, help="video length (default: 120)")
    parser.add_argument(
        "--delay-ms", type=cli.milliseconds, default=20, help="one-way delay (default: 20)"
    )
    parser.add_argument(
        "--mbit", type=cli.mbit, default=50, help="bandwidth each way (default: 50)"
    )
    parser.add_argument("--serve", type=int, help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.serve:
        serve(args.serve)
        return 0
    return cli.run(lambda: benchmark(args))


def benchmark(args: argparse.Namespace) -> int:

    server_port, proxy_port = free_port(), free_port()
    children = [start_child("--serve", str(server_port))]
    link = subprocess.Popen(
        [sys.executable, str(ROOT / "bench" / "standins.py"), "link", str(proxy_port),
         str(server_port), "--delay-ms", str(args.delay_ms), "--mbit", str(args.mbit)],
        stdout=subprocess.PIPE,
        text=True,
    )  # fmt: skip
    if link.stdout.readline().strip() != "ready":
        raise RuntimeError("the emulated link did not start")
    children.append(link)
    wan = f"WAN {args.delay_ms:g} ms each way, {args.mbit:g} Mbit/s"
    runs: list[Run] = []
    try:
        with tempfile.TemporaryDirectory() as folder:
            video = make_video(Path(folder) / "bench.mp4", args.frames)
            for link, port in (("loopback", server_port), (wan, proxy_port)):
                runs.append(measure("vendor sample", link, port, video))
                runs.append(measure("demos, raw RGB", link, port, video, raw=True))
                runs.append(measure("demos, JPEG", link, port, video, raw=False))
                runs.append(
                    measure("demos, JPEG, one at a time", link, port, video, raw=False, in_flight=1)
                )
    finally:
        for child in children:
            child.kill()
            child.wait()
    report(runs, wan, args)
    return 0


def report(runs: list[Run], wan: str, args: argparse.Namespace) -> None:
    print(
        f"\n{args.frames} frames of 640x480 video; server answers at once; {IN_FLIGHT} frames in flight\n"
    )
    print("| link | frame path | frames/s | bytes sent/frame | calls/frame |")
    print("| --- | --- | ---: | ---: | ---: |")
    for run in runs:
        print(
            f"| {run.link} | {run.path} | {run.fps:.1f} | {run.bytes_sent / run.frames:,.0f} | {run.calls / run.frames:.2f} |"
        )
    by_key = {(r.link, r.path): r for r in runs}
    vendor, jpeg = by_key[(wan, "vendor sample")], by_key[(wan, "demos, JPEG")]
    limit = args.mbit * 1e6 / (jpeg.bytes_sent / jpeg.frames * 8)
    print(f"\nover the {wan} link:")
    print(f"  demos (JPEG) vs vendor sample: {jpeg.fps / vendor.fps:.1f}x the frames per second")
    print(
        f"  the link's own limit for the demos' frames: {limit:.1f} frames/s; the demos reach {jpeg.fps / limit:.0%} of it"
    )
    loop_vendor, loop_raw = (
        by_key[("loopback", "vendor sample")],
        by_key[("loopback", "demos, raw RGB")],
    )
    print(
        f"on loopback: demos (raw RGB, what auto picks there) vs vendor sample: {loop_raw.fps / loop_vendor.fps:.1f}x"
    )
    print("\nthe client's own cost per frame (loopback):")
    for run in runs:
        if run.clock and run.link == "loopback":
            print(f"  {run.path}: {run.clock.report(run.frames)}")


if __name__ == "__main__":
    sys.exit(main())
