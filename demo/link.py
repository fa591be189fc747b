"""How video frames travel, decided from what the link to the server does.

Raw RGB costs no encoding but is 15 to 20 times the bytes of a JPEG. It pays only where the link
carries a raw frame in less time than the client takes to encode a JPEG and the server to decode
it: a Unix socket, or a server on this machine. Through a tunnel the address is `localhost` but
the link is a WAN, so the address says nothing: the link is measured instead, on the first calls:

1. the round trip of `getStatus`, which the server answers without work;
2. when that round trip is short, the rate at which a frame-sized payload drains: one more
   `getStatus` carrying a raw frame's bytes in a field the server does not know (Thrift reads
   and skips unknown fields, so the server does nothing with them).
"""

from __future__ import annotations

import time
from dataclasses import dataclass

from thriftpy2.thrift import TPayload, TType

from media import FRAME_SIZE
from sdclient import UNIX, Client

RAW_BYTES = FRAME_SIZE[0] * FRAME_SIZE[1] * 3
# A round trip longer than this is a network in between: the frames go as JPEG.
NETWORK_ROUND_TRIP = 0.002  # s
# Raw RGB pays when a raw frame drains in less time than a JPEG's encode and decode (~2 ms).
RAW_MIN_RATE = 400e6  # bytes/s
PROBE_FIELD = 32000  # a field id no DetectionApi method has


@dataclass(frozen=True)
class FrameFormat:
    raw: bool
    why: str

    def __str__(self) -> str:
        return "raw RGB" if self.raw else "JPEG"


class _PaddedArgs(TPayload):
    thrift_spec = {PROBE_FIELD: (TType.BINARY, "padding", False)}
    default_spec = [("padding", None)]


def round_trip(api: Client) -> float:
    """Seconds for a `getStatus` call once the connection is open (the first call opens it and
    pays for the first use of both ends): the shortest of three, or one when clearly long."""
    api.call("getStatus")
    best = float("inf")
    for _ in range(3):
        start = time.perf_counter()
        api.call("getStatus")
        best = min(best, time.perf_counter() - start)
        if best > 5 * NETWORK_ROUND_TRIP:
            break
    return best


def drain_rate(api: Client, rtt: float, size: int = RAW_BYTES, tries: int = 3) -> float:
    """Bytes a second the link carries to the server: `getStatus` padded with `size` bytes.

    The best of `tries`: the first also pays for buffers growing at both ends.
    """
    args = _PaddedArgs()
    args.padding = bytes(size)
    best = 0.0
    for _ in range(tries):
        start = time.perf_counter()
        api.send_struct("getStatus", args)
        api.receive("getStatus")
        best = max(best, size / max(time.perf_counter() - start - rtt, 1e-6))
    return best


def choose(api: Client, choice: str = "auto") -> FrameFormat:
    """The frame format for this connection: `choice` unless it is "auto", else measured."""
    if choice != "auto":
        return FrameFormat(choice == "raw", f"--frame-format {choice}")
    if api.endpoint.transport == UNIX:
        return FrameFormat(True, "Unix socket: no network to cross")
    rtt = round_trip(api)
    if rtt > NETWORK_ROUND_TRIP:
        return FrameFormat(False, f"round trip {rtt * 1000:.1f} ms: a network in between")
    rate = drain_rate(api, rtt)
    measured = f"round trip {rtt * 1000:.2f} ms, link drains {rate / 1e6:,.0f} MB/s"
    if rate >= RAW_MIN_RATE:
        return FrameFormat(True, f"{measured}: this machine")
    return FrameFormat(False, f"{measured}: a network in between")
