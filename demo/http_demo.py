"""Detect persons, masks or licence plates in one image through the server's REST mode (SD_API_TRANSPORT=4).

Example: python3 http_demo.py --host 54.210.1.2 --input street.jpg --type object --output boxes.jpg

The server must run with SD_API_TRANSPORT=4 and its licence key in SD_API_LICENSE_KEY. It takes
one image per request (no sessions: videos, line crossing and distancing need the Thrift demos).
The REST contract is inferred from the vendor's sample client: POST /v1/detect, multipart parts
`media` (the picture) and `settings` (JSON), answer {"status": N, "result": [{"data": [...]}]}.
"""

from __future__ import annotations

import argparse
import http.client
import json
import math
import os
import sys
import threading
from types import SimpleNamespace

import interrupts  # noqa: F401 (first: from here on a signal ends the demo in one line)

# isort: split
import requests
import urllib3

import democli
import media
import result_codes
from annotation import check_output
from console import say
from media import Image, InputError
from sdclient import DEFAULT_PORT, MAX_TIMEOUT, ApiError

TYPES = ("object", "mask", "alpr")
MAX_AREAS = 2
MAX_ANSWER = 16 * 1024 * 1024  # far more than any list of detections


def timeout_value(text: str) -> float:
    value = democli.positive(text)
    if not math.isfinite(value):
        raise argparse.ArgumentTypeError(f"{text!r} is not a finite number of seconds")
    # Below a millisecond a socket timeout would not be honoured; past MAX_TIMEOUT the operating
    # system refuses it.
    return min(max(value, 0.001), MAX_TIMEOUT)


def area(text: str) -> list[float]:
    left, top, right, bottom = democli.numbers(text, 4, "an area LEFT,TOP,RIGHT,BOTTOM")
    if left >= right or top >= bottom:
        raise argparse.ArgumentTypeError(f"{text!r}: LEFT must be below RIGHT and TOP below BOTTOM")
    return [left, top, right, bottom]


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    summary, _, details = (__doc__ or "").strip().partition("\n")
    parser = democli.Parser(
        description=summary,
        epilog=details.strip(),
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument(
        "-s",
        "--host",
        type=democli.one_host,
        default="localhost",
        help="server address, host or host:port (default: localhost)",
    )
    parser.add_argument(
        "-p",
        "--port",
        type=democli.port_number,
        default=os.environ.get("SD_API_TCP_PORT") or str(DEFAULT_PORT),
        help="TCP port (default: SD_API_TCP_PORT, else 9090)",
    )
    parser.add_argument("-i", "--input", required=True, help="an image file")
    parser.add_argument(
        "-t", "--type", choices=TYPES, default="object", help="what to detect (default: object)"
    )
    parser.add_argument(
        "-r",
        "--region",
        choices=("us", "generic"),
        default="generic",
        help="alpr: plate region (default: generic)",
    )
    parser.add_argument(
        "-n",
        "--skipvehicle",
        action="store_true",
        help="alpr: look for plates outside vehicles too",
    )
    parser.add_argument(
        "-m", "--presetmode", default="medium", help="alpr: preset mode (default: medium)"
    )
    parser.add_argument(
        "--area",
        type=area,
        action="append",
        default=[],
        help="object, mask: only this area, normalized LEFT,TOP,RIGHT,BOTTOM (0,0 top left); up to 2",
    )
    parser.add_argument("--json", action="store_true", help="print the server's answer as JSON")
    parser.add_argument("--output", help="write an annotated copy (.jpg or .png)")
    parser.add_argument(
        "--timeout",
        type=timeout_value,
        default=60.0,
        help="seconds to connect, and to wait for the answer (default: 60)",
    )
    args = parser.parse_args(argv)
    if len(args.area) > MAX_AREAS:
        parser.error(f"--area: at most {MAX_AREAS}, {len(args.area)} given")
    if args.area and args.type == "alpr":
        parser.error("--area applies to --type object and mask, not alpr")
    return args


def settings(args: argparse.Namespace) -> dict:
    """The `settings` part, as the vendor's client builds it."""
    if args.type == "alpr":
        return {
            "type": "alpr",
            "params": {
                "region": "" if args.region == "generic" else args.region,
                "skipVehicleCheck": 1 if args.skipvehicle else 0,
                "presetMode": args.presetmode,
            },
        }
    areas = [dict(zip(("left", "top", "right", "bottom"), each, strict=True)) for each in args.area]
    return {"type": args.type, "params": {"areas": areas}}


def one_line(text: str, limit: int = 200) -> str:
    flat = " ".join(text.split())
    return flat if len(flat) <= limit else flat[: limit - 3] + "..."


def post(url: str, picture: bytes, settings_part: dict, timeout: float) -> dict:
    """POST the picture and settings; the JSON answer, or ApiError in one line.

    `timeout` bounds the connection, and then the whole answer: a socket timeout alone bounds
    each read, so a server trickling a byte at a time would hold the demo for ever.
    """
    outcome: dict = {}

    def call() -> None:
        try:
            outcome["answer"] = _post(url, picture, settings_part, timeout)
        except BaseException as error:  # noqa: BLE001 - handed over to the caller's thread
            outcome["error"] = error

    worker = threading.Thread(target=call, name="http-post", daemon=True)
    worker.start()
    worker.join(2 * timeout)
    if worker.is_alive():  # the daemon thread ends with the demo
        raise ApiError(
            f"no whole answer from {url} within {2 * timeout:g}s "
            f"(--timeout {timeout:g}: to connect, then for the answer)"
        )
    if "error" in outcome:
        raise outcome["error"]
    return outcome["answer"]


def _post(url: str, picture: bytes, settings_part: dict, timeout: float) -> dict:
    files = {
        "media": ("media", picture, "image/jpeg"),
        "settings": ("settings", json.dumps(settings_part), "application/json"),
    }
    try:
        with requests.post(
            url, files=files, timeout=(timeout, timeout), stream=True, allow_redirects=False
        ) as response:
            body = response.raw.read(MAX_ANSWER + 1, decode_content=True)
    except requests.Timeout:
        raise ApiError(
            f"no answer from {url} within {timeout:g}s (--timeout sets the limit)"
        ) from None
    except requests.ConnectionError as error:
        if "aborted" in str(error):  # connected, then the server closed without an answer
            raise ApiError(f"the server at {url} dropped the connection: {reason(error)}") from None
        raise ApiError(f"cannot reach the REST server at {url}: {reason(error)}") from None
    except (requests.RequestException, urllib3.exceptions.HTTPError) as error:
        raise ApiError(f"the answer from {url} broke off: {reason(error)}") from None
    if len(body) > MAX_ANSWER:
        raise ApiError(f"the answer from {url} is larger than {MAX_ANSWER} bytes")
    try:
        answer = json.loads(body)
    except (ValueError, RecursionError):  # RecursionError: nested past Python's limit
        answer = None
    if response.is_redirect:  # the API never redirects; following one would re-send elsewhere
        raise ApiError(
            f"the server answered HTTP {response.status_code} (a redirect to "
            f"{one_line(response.headers.get('Location', '?'), 80)!r}): "
            f"is {url} the detection server's REST address?"
        )
    if response.status_code != 200:
        detail = answer.get("error") if isinstance(answer, dict) else None
        raise ApiError(
            one_line(f"the server answered HTTP {response.status_code} {response.reason or ''}")
            + (f": {one_line(str(detail))}" if detail else "")
        )
    status = answer.get("status") if isinstance(answer, dict) else None
    if isinstance(status, str) and status.strip().isascii() and status.strip().isdigit():
        answer["status"] = int(status)  # lenient: a number sent as text
    elif isinstance(status, float) and status.is_integer():
        answer["status"] = int(status)  # lenient: 1.0
    elif isinstance(status, bool) or not isinstance(status, int):
        text = body[:80].decode("utf-8", "replace")
        raise ApiError(f"the answer from {url} is not the REST API's JSON: {one_line(text)!r}")
    return answer


def reason(error: BaseException) -> str:
    """The innermost cause of a requests failure, e.g. 'Connection refused'."""
    cause, seen = error, {id(error)}
    while True:
        if isinstance(cause, OSError) and cause.strerror:
            return cause.strerror
        inner = cause.__cause__ or cause.__context__
        inner = inner or next(
            (a for a in reversed(cause.args) if isinstance(a, BaseException)), None
        )
        if inner is None or id(inner) in seen:
            break
        seen.add(id(inner))
        cause = inner
    if isinstance(cause, http.client.BadStatusLine) and not isinstance(
        cause, http.client.RemoteDisconnected
    ):
        return "its answer is not HTTP"
    return one_line(str(cause) or type(cause).__name__, 120)


def detections(answer: dict) -> list[SimpleNamespace]:
    """The `data` entries of every result, leniently: entries without a box keep what they have."""
    found = []
    results = answer.get("result")
    if isinstance(results, dict):
        results = [results]  # lenient: one result not wrapped in a list
    for result in results if isinstance(results, list) else []:
        data = result.get("data") if isinstance(result, dict) else None
        for entry in data if isinstance(data, list) else []:
            if not isinstance(entry, dict):
                continue
            box = {side: _number(entry.get(side)) for side in ("left", "top", "right", "bottom")}
            found.append(
                SimpleNamespace(name=printable(entry.get("name")), objectId=len(found) + 1, **box)
            )
    return found


def _number(value) -> float | None:
    """A normalized coordinate, or None for anything else (text, NaN, far outside the picture)."""
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        return None
    return float(value) if math.isfinite(value) and -1.0 <= value <= 2.0 else None


def printable(name, limit: int = 40) -> str:
    """A detection's name as the terminal may show it: no control characters, bounded length."""
    text = "object" if name is None else str(name)
    text = "".join(c if c.isprintable() else "?" for c in text)
    return text if len(text) <= limit else text[: limit - 3] + "..."


def describe(found: list[SimpleNamespace], kind: str) -> list[str]:
    what = {"object": "object(s)", "mask": "face(s)", "alpr": "plate(s)"}[kind]
    lines = [f"{len(found)} {what} found"]
    for each in found:
        box = ""
        if None not in (each.left, each.top, each.right, each.bottom):
            box = f" at left {each.left:.3f}, top {each.top:.3f}, right {each.right:.3f}, bottom {each.bottom:.3f}"
        lines.append(f"  {each.name}{box}")
    return lines


def run(args: argparse.Namespace) -> int:
    source = media.open_input(args.input)
    if not isinstance(source, Image):
        raise InputError(
            f"{args.input}: the REST mode takes one image; a video needs the Thrift demos"
        )
    if args.output:
        check_output(args.output, source)
    size = media.PLATE_FRAME_SIZE if args.type == "alpr" else media.FRAME_SIZE
    ((host, port),) = args.host
    port = port or args.port
    url = f"http://[{host}]:{port}/v1/detect" if ":" in host else f"http://{host}:{port}/v1/detect"
    say(f"sending {args.input} to {url}")
    answer = post(url, media.image_jpeg(source, size), settings(args), args.timeout)
    status = answer["status"]
    if status != result_codes.SUCCESS:
        raise ApiError(f"detect: {result_codes.explain(status, rest=True)}")
    found = detections(answer)
    if args.json:
        print(json.dumps(answer, indent=2))
    else:
        print("\n".join(describe(found, args.type)))
    if args.output:
        pixels = source.pixels.copy()
        media.draw_objects(
            pixels, [f for f in found if None not in (f.left, f.top, f.right, f.bottom)], set()
        )
        media.write_image(args.output, pixels)
        say(f"annotated copy written to {args.output}")
    return 0


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    return democli.run(lambda: run(args))


if __name__ == "__main__":
    sys.exit(main())
