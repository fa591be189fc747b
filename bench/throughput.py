"""Benchmark the demos as users run them: whole processes, default flags, against the vendor's way.

1. Video: `detection_demo.py --input video.mp4` on loopback and through an emulated WAN link
   reached at a local port (as through an SSH tunnel or an SSM port forward), against a server
   that answers at once, so the figures are the client's and the link's; against the vendor
   sample's loop (bench/vendor_sample.py) on the same link. The link's limit is the bytes the
   demo sent divided by the bandwidth.
2. Batch: `detection_demo.py --input folder` of JPEG images over servers that take a set time
   per detection with a set number of slots, each behind its own emulated link, with one and
   two servers, against the vendor's one-call-at-a-time loop. The limit is the slower of the
   servers' (images x work / all slots) and the links' (bytes / bandwidth of each link).

    python3 bench/throughput.py          # or: make bench
    python3 bench/throughput.py --frames 600 --images 240 --work-ms 40 --slots 3

The demo's time includes its process start; the vendor loop's does not (it times its loop,
over fewer frames or images, for its rate). Loopback demo runs: the better of two.
Servers and links run in this process's threads; the demos and the vendor loop are processes.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path[:0] = [str(ROOT), str(ROOT / "demo"), str(ROOT / "bench")]

import cli  # noqa: E402
import cv2  # noqa: E402
from frame_path import camera_frames, make_video  # noqa: E402
from standins import Link, TimedServer  # noqa: E402

import media  # noqa: E402
from rehearsal.local_aws import free_port  # noqa: E402

DEMO = ROOT / "demo" / "detection_demo.py"
VENDOR = ROOT / "bench" / "vendor_sample.py"


@dataclass
class Row:
    what: str
    link: str
    count: int
    seconds: float
    limit: float | None = None  # seconds the link or the servers need at the least
    bound: str = ""

    @property
    def rate(self) -> float:
        return self.count / self.seconds


def run_demo(host: str, folder_or_file: Path, *flags: str) -> tuple[float, str]:
    """Seconds for the demo as a whole process, and its stderr."""
    start = time.perf_counter()
    result = subprocess.run(
        [sys.executable, str(DEMO), "--host", host, "--input", str(folder_or_file), *flags],
        capture_output=True,
        text=True,
        timeout=900,
    )
    seconds = time.perf_counter() - start
    if result.returncode != 0:
        raise RuntimeError(f"the demo failed ({result.returncode}): {result.stderr[-2000:]}")
    return seconds, result.stderr


def run_vendor(port: int, source: Path, limit: int) -> tuple[int, float]:
    result = subprocess.run(
        [sys.executable, str(VENDOR), "--port", str(port), "--input", str(source),
         "--limit", str(limit)],
        capture_output=True, text=True, timeout=900, check=True,
    )  # fmt: skip
    answer = json.loads(result.stdout)
    return answer["count"], answer["seconds"]


def cost_line(stderr: str) -> str:
    return next((line for line in stderr.splitlines() if " frames (" in line), "")


def video_benchmark(args, folder: Path) -> list[Row]:
    video = make_video(folder / "camera.mp4", args.frames, fps=10)
    frames = media.sampled_count(video, 5.0)  # the demo's default --fps 5
    wan = f"WAN {args.delay_ms:g} ms, {args.mbit:g} Mbit/s"
    server = TimedServer(free_port(), 0.0, 3)
    link = Link(free_port(), server.port, args.delay_ms, args.mbit)
    rows = []
    try:
        # Loopback runs are short and this machine is shared: the better of two, alternated.
        loopback = {"demo, default flags": [], "demo, --frame-format raw": []}
        for _ in range(2):
            seconds, err = run_demo(f"127.0.0.1:{server.port}", video.path)
            loopback["demo, default flags"].append(seconds)
            seconds, _ = run_demo(f"127.0.0.1:{server.port}", video.path, "--frame-format", "raw")
            loopback["demo, --frame-format raw"].append(seconds)
        print(f"  loopback, default flags: {cost_line(err)}", file=sys.stderr)
        for what, times in loopback.items():
            rows.append(Row(what, "loopback", frames, min(times)))
        count, seconds = run_vendor(server.port, video.path, min(frames, args.vendor_frames * 5))
        rows.append(Row("vendor sample (loop only)", "loopback", count, seconds))

        before = link.bytes_to_server
        seconds, err = run_demo(f"localhost:{link.port}", video.path)
        sent = link.bytes_to_server - before
        limit = sent * 8 / (args.mbit * 1e6)
        rows.append(
            Row("demo, default flags", wan, frames, seconds, limit, f"link: {sent / frames:,.0f} B/frame")
        )  # fmt: skip
        print(f"  {wan}, default flags: {cost_line(err)}", file=sys.stderr)
        count, seconds = run_vendor(link.port, video.path, args.vendor_frames)
        rows.append(Row("vendor sample (loop only)", wan, count, seconds))
    finally:
        link.close()
        server.close()
    return rows


def make_images(folder: Path, count: int) -> int:
    """`count` camera-like JPEG images; returns their total bytes."""
    folder.mkdir()
    total = 0
    for index, frame in enumerate(camera_frames(count)):
        path = folder / f"img{index:04}.jpg"
        cv2.imwrite(str(path), frame, [cv2.IMWRITE_JPEG_QUALITY, media.JPEG_QUALITY])
        total += path.stat().st_size
    return total


def batch_benchmark(args, folder: Path) -> list[Row]:
    images = folder / "images"
    total_bytes = make_images(images, args.images)
    wan = f"WAN {args.delay_ms:g} ms, {args.mbit:g} Mbit/s"
    work = args.work_ms / 1000
    servers = [TimedServer(free_port(), work, args.slots) for _ in range(2)]
    links = [Link(free_port(), server.port, args.delay_ms, args.mbit) for server in servers]
    rows = []
    try:
        count, seconds = run_vendor(links[0].port, images, args.vendor_images)
        rows.append(Row("vendor loop (loop only), 1 server", wan, count, seconds))
        for used in (1, 2):
            hosts = ",".join(f"localhost:{each.port}" for each in links[:used])
            seconds, _ = run_demo(hosts, images, "--json")
            server_limit = args.images * work / (args.slots * used)
            link_limit = total_bytes * 8 / (args.mbit * 1e6) / used
            limit, bound = max(
                (server_limit, f"servers: {args.images} x {args.work_ms:g} ms / {args.slots * used} slots"),
                (link_limit, f"links: {total_bytes / args.images:,.0f} B/image / {used} link(s)"),
            )  # fmt: skip
            rows.append(
                Row(f"demo, {used} server{'s' if used > 1 else ''}", wan, args.images, seconds,
                    limit, bound)
            )  # fmt: skip
    finally:
        for each in links + servers:
            each.close()
    return rows


def table(title: str, unit: str, rows: list[Row]) -> None:
    print(f"\n{title}\n")
    print(f"| link | client | {unit} | seconds | {unit}/s | limit (s) | time / limit | bound by |")
    print("| --- | --- | ---: | ---: | ---: | ---: | ---: | --- |")
    for row in rows:
        limit = f"{row.limit:.2f}" if row.limit else ""
        ratio = f"{row.seconds / row.limit:.2f}x" if row.limit else ""
        print(
            f"| {row.link} | {row.what} | {row.count} | {row.seconds:.2f} | {row.rate:.1f} "
            f"| {limit} | {ratio} | {row.bound} |"
        )


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.strip().splitlines()[0])
    parser.add_argument(
        "--frames",
        type=cli.count,
        default=1200,
        help="video length, at 10 fps (default: 1200; the demo sends half at its default --fps 5)",
    )
    parser.add_argument(
        "--vendor-frames",
        type=cli.count,
        default=40,
        help="frames the vendor sample sends over the WAN (default: 40)",
    )
    parser.add_argument(
        "--images", type=cli.count, default=480, help="images in the batch (default: 480)"
    )
    parser.add_argument(
        "--vendor-images",
        type=cli.count,
        default=60,
        help="images the vendor loop sends (default: 60)",
    )
    parser.add_argument(
        "--work-ms",
        type=cli.milliseconds,
        default=40,
        help="server time per detection (default: 40)",
    )
    parser.add_argument("--slots", type=cli.count, default=3, help="server slots (default: 3)")
    parser.add_argument(
        "--delay-ms", type=cli.milliseconds, default=20, help="one-way delay (default: 20)"
    )
    parser.add_argument(
        "--mbit", type=cli.mbit, default=50, help="bandwidth each way (default: 50)"
    )
    args = parser.parse_args(argv)  # fmt: skip
    return cli.run(lambda: benchmark(args))


def benchmark(args: argparse.Namespace) -> int:
    with tempfile.TemporaryDirectory() as folder:
        print("video ...", file=sys.stderr)
        video_rows = video_benchmark(args, Path(folder))
        print("batch ...", file=sys.stderr)
        batch_rows = batch_benchmark(args, Path(folder))
    table(
        f"Video, {args.frames} frames of 640x480 at 10 fps, server answering at once",
        "frames",
        video_rows,
    )
    by = {(row.link, row.what): row for row in video_rows}
    wan = video_rows[-1].link
    demo_wan, vendor_wan = by[(wan, "demo, default flags")], by[(wan, "vendor sample (loop only)")]
    loop_auto = by[("loopback", "demo, default flags")]
    loop_raw = by[("loopback", "demo, --frame-format raw")]
    print(
        f"\nthrough the tunnel: {demo_wan.rate / vendor_wan.rate:.1f}x the vendor sample's "
        f"frames/s (target 15x), {demo_wan.seconds / demo_wan.limit:.2f}x the link's limit for "
        f"the bytes sent (target within 1.3x)"
    )
    print(
        f"loopback: default flags take {loop_auto.seconds / loop_raw.seconds:.2f}x the time of "
        f"raw frames (target: no slower)"
    )
    table(
        f"Batch, {args.images} JPEG images of 640x480, server {args.work_ms:g} ms a detection, "
        f"{args.slots} slots, each server behind its own link",
        "images",
        batch_rows,
    )
    vendor, one, two = batch_rows
    print(
        f"\nbatch over the WAN: 1 server {one.rate / vendor.rate:.1f}x the vendor loop "
        f"(target 4x), {one.seconds / one.limit:.2f}x its limit (target within 1.5x); "
        f"2 servers {one.seconds / two.seconds:.2f}x faster than 1 (target 1.5x), "
        f"{two.seconds / two.limit:.2f}x their limit"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
