"""The local server's limits, over classes of input: nothing a client sends can exhaust or stop it wrongly.

Port and socket in use, decode bombs, unions with other than one arm, buffers that disagree
with their size, messages past the maximum, idle connections, and signals at any moment.
"""

from __future__ import annotations

import contextlib
import io
import os
import random
import signal
import socket
import struct
import subprocess
import sys
import threading
import time
import zlib

import cv2
import numpy as np
import pytest
import requests
from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st
from thriftpy2.rpc import make_client

from conftest import ROOT, start_local_server, stop_local_server
from localserver import images
from localserver.thrift_server import PROTOCOL, TRANSPORT
from rehearsal.local_aws import free_port
from sdclient import API

Code = API.ResultCode
PERSONS = API.DetectionSettings(objSettings=API.ObjectDetectionSettings(enabled=True))
BUDGET = images.DEFAULT_MAX_PIXELS
FIXTURE_CHECKS = [HealthCheck.function_scoped_fixture]


def jpeg_claiming(width: int, height: int) -> bytes:
    """A small JPEG whose header claims width x height (a decode bomb when that is large)."""
    data = bytearray(cv2.imencode(".jpg", np.full((16, 16, 3), 90, np.uint8))[1].tobytes())
    sof = data.index(b"\xff\xc0")
    data[sof + 5 : sof + 9] = struct.pack(">HH", height, width)
    return bytes(data)


def png_claiming(width: int, height: int) -> bytes:
    data = bytearray(cv2.imencode(".png", np.full((16, 16, 3), 90, np.uint8))[1].tobytes())
    data[16:24] = struct.pack(">II", width, height)
    data[29:33] = struct.pack(">I", zlib.crc32(bytes(data[12:29])))
    return bytes(data)


def encoded(data: bytes, length: int | None = None):
    return API.DetectionInput(
        type=API.DetectionInputType.IMG_BUFFER_ENCODED,
        params=API.InputParams(
            encImageInput=API.EncodedImageInput(
                format=1, buffer=data, bufferLength=len(data) if length is None else length
            )
        ),
    )


def raw_client(server, timeout: float = 30):
    """A plain thriftpy2 client: it sends what it is given, unlike sdclient, which checks first."""
    options = {
        "proto_factory": PROTOCOL,
        "trans_factory": TRANSPORT,
        "timeout": int(timeout * 1000),
    }
    if "--unix-socket" in server.connection:
        options["unix_socket"] = server.connection[-1]
    else:
        options.update(host="127.0.0.1", port=int(server.connection[-1]))
    return make_client(API.DetectionApi, **options)


def proc_status(pid: int, field: str) -> str:
    with open(f"/proc/{pid}/status") as status:
        for line in status:
            if line.startswith(field + ":"):
                return line.split()[1]
    raise AssertionError(f"no {field}")


def high_water_mb(pid: int) -> float:
    return int(proc_status(pid, "VmHWM")) / 1024


# --- decode bombs: refused from the header, before decoding


@settings(max_examples=60, deadline=None)
@given(
    make=st.sampled_from([jpeg_claiming, png_claiming]),
    width=st.integers(1, 65535),
    height=st.integers(1, 65535),
)
def test_pictures_past_the_budget_are_refused_from_their_header(make, width, height):
    data = make(width, height)
    if width * height > BUDGET:
        started = time.monotonic()
        with pytest.raises(images.InvalidInput, match="pixels"):
            images.decode_encoded(data)
        assert time.monotonic() - started < 0.5
    elif width * height <= 16 * 16:
        # a header that lies about a small size may decode or not; it never exhausts
        with contextlib.suppress(images.InvalidInput):
            images.decode_encoded(data)


@pytest.mark.parametrize("make", [jpeg_claiming, png_claiming])
def test_a_decode_bomb_over_the_wire_costs_neither_memory_nor_time(api_server, make):
    bomb = make(32000, 32000)  # 1 Gpx claimed: 3 GB if decoded
    before = high_water_mb(api_server.process.pid)
    client = raw_client(api_server)
    try:
        started = time.monotonic()
        assert client.runDetection(encoded(bomb), PERSONS).status == Code.ERR_INVALID_REQ
        session = client.createSession(PERSONS)
        assert client.processInputForSession(session, 0, encoded(bomb)) == Code.ERR_INVALID_REQ
        client.deleteSession(session)
        assert time.monotonic() - started < 5
    finally:
        client.close()
    assert high_water_mb(api_server.process.pid) - before < 100


# --- unions and buffers


ARMS = {
    "rawImageInput": API.RawImageInput(width=2, height=2, format=1, buffer=b"\0" * 12),
    "encImageInput": API.EncodedImageInput(
        format=1, buffer=jpeg_claiming(16, 16), bufferLength=len(jpeg_claiming(16, 16))
    ),
    "imgFileInput": API.ImageFileInput(filename="/nonexistent.jpg"),
    "vidFileInput": API.VideoFileInput(filename="/nonexistent.mp4", processFps=5),
}


@settings(max_examples=25, deadline=None, suppress_health_check=FIXTURE_CHECKS)
@given(
    arms=st.lists(st.sampled_from(sorted(ARMS)), unique=True).filter(lambda a: len(a) != 1),
    kind=st.sampled_from(list(API.DetectionInputType._VALUES_TO_NAMES)),
)
def test_a_union_with_other_than_one_arm_is_invalid(api_server, arms, kind):
    detection_input = API.DetectionInput(
        type=kind, params=API.InputParams(**{arm: ARMS[arm] for arm in arms})
    )
    client = raw_client(api_server)
    try:
        assert client.runDetection(detection_input, PERSONS).status == Code.ERR_INVALID_REQ
        session = client.createSession(PERSONS)
        assert client.processInputForSession(session, 0, detection_input) == Code.ERR_INVALID_REQ
        assert client.deleteSession(session) == Code.SUCCESS
    finally:
        client.close()


@settings(max_examples=30, deadline=None, suppress_health_check=FIXTURE_CHECKS)
@given(
    width=st.integers(-5, 300),
    height=st.integers(-5, 300),
    off_by=st.integers(-4000, 4000).filter(lambda n: n != 0),
    length_off=st.integers(-100, 100).filter(lambda n: n != 0),
)
def test_a_buffer_that_disagrees_with_its_size_is_invalid(
    api_server, width, height, off_by, length_off
):
    raw = API.DetectionInput(
        type=API.DetectionInputType.IMG_BUFFER_RAW,
        params=API.InputParams(
            rawImageInput=API.RawImageInput(
                width=width, height=height, format=1,
                buffer=b"\x5a" * max(0, max(width, 0) * max(height, 0) * 3 + off_by),
            )
        ),
    )  # fmt: skip
    picture = cv2.imencode(".jpg", np.full((48, 64, 3), 90, np.uint8))[1].tobytes()
    client = raw_client(api_server)
    try:
        assert client.runDetection(raw, PERSONS).status == Code.ERR_INVALID_REQ
        wrong_length = encoded(picture, len(picture) + length_off)
        assert client.runDetection(wrong_length, PERSONS).status == Code.ERR_INVALID_REQ
        assert client.runDetection(encoded(picture), PERSONS).status == Code.SUCCESS
    finally:
        client.close()


# --- messages past the maximum size, idle connections


@pytest.fixture(scope="module")
def small_server(tmp_path_factory):
    """A server taking messages of at most 1 MB and closing connections idle for 1 s."""
    server = start_local_server(
        tmp_path_factory.mktemp("small"), "tcp", "--detector", "marker", "--license", "k",
        "--max-message", str(1 << 20), "--idle-timeout", "1",
    )  # fmt: skip
    yield server
    stop_local_server(server)


@pytest.mark.parametrize("size", [(1 << 20) + 400_000, 5 << 20])
def test_a_message_past_the_maximum_is_answered_invalid(small_server, size):
    before = high_water_mb(small_server.process.pid)
    client = raw_client(small_server)
    try:
        assert client.runDetection(encoded(b"\xff" * size), PERSONS).status == Code.ERR_INVALID_REQ
    finally:
        client.close()
    client = raw_client(small_server)  # the server serves on
    try:
        assert client.getStatus().initStatus == Code.SUCCESS
        big_enough = encoded(cv2.imencode(".png", np.zeros((300, 300, 3), np.uint8))[1].tobytes())
        assert client.runDetection(big_enough, PERSONS).status == Code.SUCCESS
    finally:
        client.close()
    assert high_water_mb(small_server.process.pid) - before < 60


def test_a_declared_size_past_the_maximum_is_not_allocated(small_server):
    """A binary field claiming 2 GB, followed by 3 MB of it: refused once past the maximum."""
    before = high_water_mb(small_server.process.pid)
    call = struct.pack(">I", 0x80010001) + struct.pack(">I", 12) + b"runDetection"
    call += struct.pack(">i", 1)  # seqid
    # args: field 1 DetectionInput { field 2 InputParams { field 2 EncodedImageInput {
    #   field 2 binary buffer, size 2**31 - 1 } } }
    call += b"\x0c\x00\x01" + b"\x08\x00\x01" + struct.pack(">i", 2)
    call += b"\x0c\x00\x02" + b"\x0c\x00\x02" + b"\x0b\x00\x02" + struct.pack(">i", 2**31 - 1)
    with socket.create_connection(("127.0.0.1", int(small_server.connection[-1])), 30) as peer:
        peer.sendall(call)
        for _ in range(3):
            peer.sendall(b"\0" * (1 << 20))
        answer = peer.recv(4096)
    assert b"runDetection" in answer  # the reply: DetectionOutput with status 4
    assert struct.pack(">i", Code.ERR_INVALID_REQ) in answer
    assert high_water_mb(small_server.process.pid) - before < 60


@pytest.mark.parametrize("garbage", [b"GET / HTTP/1.1\r\n\r\n", b"\x80\x01\x00\x01" + b"\xff" * 64])
def test_bytes_that_are_not_thrift_drop_the_connection_not_the_server(small_server, garbage):
    with socket.create_connection(("127.0.0.1", int(small_server.connection[-1])), 10) as peer:
        peer.sendall(garbage)
        assert peer.recv(100) == b""  # closed
    client = raw_client(small_server)
    try:
        assert client.getStatus().initStatus == Code.SUCCESS
    finally:
        client.close()


def test_an_idle_connection_times_out(small_server):
    with socket.create_connection(("127.0.0.1", int(small_server.connection[-1])), 10) as idle:
        started = time.monotonic()
        assert idle.recv(1) == b""  # the server closed it
        assert 0.5 < time.monotonic() - started < 5


# --- port and socket in use


@pytest.mark.parametrize("second", ["tcp", "rest"])
def test_a_port_in_use_is_refused(tmp_path, second):
    first = start_local_server(tmp_path, "tcp", "--detector", "marker", "--license", "k")
    port = first.connection[-1]
    try:
        result = start_failing("--transport", "4" if second == "rest" else "1", "--host",
                               "127.0.0.1", "--port", port, "--license", "k")  # fmt: skip
        assert result.returncode == 1
        assert (
            result.stderr
            == f"error: cannot start: TCP 127.0.0.1:{port} is in use by another program\n"
        )
        with first.client() as api:
            assert api.call("getStatus").initStatus == Code.SUCCESS
    finally:
        stop_local_server(first)


def test_no_port_sharing_with_so_reuseport():
    """A listener that allows sharing does not make the server share: it refuses."""
    holder = socket.socket()
    holder.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEPORT, 1)
    holder.bind(("127.0.0.1", 0))
    holder.listen()
    try:
        port = str(holder.getsockname()[1])
        result = start_failing("--transport", "1", "--host", "127.0.0.1", "--port", port)
        assert result.returncode == 1 and "in use" in result.stderr
    finally:
        holder.close()


def start_failing(*flags: str) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "localserver", "--detector", "marker", *flags],
        cwd=ROOT, capture_output=True, text=True, timeout=60,
    )  # fmt: skip


def test_a_live_socket_file_is_never_removed(tmp_path):
    first = start_local_server(tmp_path, "unix", "--detector", "marker", "--license", "k")
    path = first.connection[-1]
    try:
        result = start_failing("--transport", "2", "--unix-socket", path)
        assert result.returncode == 1
        assert (
            result.stderr
            == f"error: cannot start: Unix socket {path} is in use by a running server\n"
        )
        with first.client() as api:  # still reachable: its socket file is still there
            assert api.call("getStatus").initStatus == Code.SUCCESS
    finally:
        stop_local_server(first)
    assert not os.path.exists(path)  # removed by its own server when it stopped


def test_a_stale_socket_file_is_replaced_and_other_files_left_alone(tmp_path):
    stale = tmp_path / "apiserver.sock"
    left = socket.socket(socket.AF_UNIX)
    left.bind(str(stale))
    left.close()  # the file stays, nobody listens: what a killed server leaves
    server = start_local_server(tmp_path, "unix", "--detector", "marker", "--license", "k")
    try:
        with server.client() as api:
            assert api.call("getStatus").initStatus == Code.SUCCESS
    finally:
        stop_local_server(server)
    regular = tmp_path / "notes.txt"
    regular.write_text("mine")
    result = start_failing("--transport", "2", "--unix-socket", str(regular))
    assert result.returncode == 1 and "is not a socket" in result.stderr
    assert regular.read_text() == "mine"


# --- signals at any moment


def catches_sigterm(pid: int) -> bool:
    return bool(int(proc_status(pid, "SigCgt"), 16) & (1 << (signal.SIGTERM - 1)))


def spawn(*flags: str) -> subprocess.Popen:
    process = subprocess.Popen(
        [sys.executable, "-m", "localserver", *flags],
        cwd=ROOT, stderr=subprocess.PIPE, text=True,
    )  # fmt: skip
    deadline = time.monotonic() + 30
    while not catches_sigterm(process.pid):  # its first lines ran: from here on, "any moment"
        assert time.monotonic() < deadline and process.poll() is None
        time.sleep(0.005)
    return process


@pytest.mark.parametrize("seed", range(4))
def test_sigterm_during_start_up_exits_0(tmp_path, seed):
    delay = random.Random(seed).uniform(0, 0.8)  # imports, detector set-up, binding, serving
    process = spawn("--transport", "2", "--unix-socket", str(tmp_path / "s.sock"), "--license", "k")
    time.sleep(delay)
    process.send_signal(signal.SIGTERM)
    _, err = process.communicate(timeout=30)
    assert process.returncode == 0, err
    assert "Traceback" not in err and "local API server stopped" in err
    assert not (tmp_path / "s.sock").exists()


@pytest.mark.parametrize(
    "transport, signum, code",
    [
        ("1", signal.SIGTERM, 0),
        ("1", signal.SIGINT, 130),
        ("1", signal.SIGHUP, 129),
        ("4", signal.SIGTERM, 0),
    ],
)
def test_a_signal_mid_detection(transport, signum, code):
    """Detections back to back keep OpenCV busy: the signal lands inside it, not between calls."""
    port = free_port()
    process = spawn(
        "--transport", transport, "--host", "127.0.0.1", "--port", str(port), "--license", "k"
    )  # fmt: skip
    assert "listening" in process.stderr.readline()
    busy = np.random.default_rng(1).integers(0, 255, (1600, 2400, 3), np.uint8)
    picture = cv2.imencode(".jpg", busy)[1].tobytes()
    most_accurate = API.DetectionSettings(
        objSettings=API.ObjectDetectionSettings(enabled=True, env=API.ObjectDetectionEnv.VERY_BUSY)
    )

    started, answered = [], []

    def detect():  # one request after another until the server is gone: always one in flight
        while process.poll() is None:
            started.append(1)
            try:
                if transport == "4":
                    files = {
                        "media": ("media", picture),
                        "settings": ("settings", '{"type": "object"}'),
                    }
                    url = f"http://127.0.0.1:{port}/v1/detect"
                    requests.post(url, files=files, timeout=60).raise_for_status()
                else:
                    client = make_client(API.DetectionApi, "127.0.0.1", port, proto_factory=PROTOCOL,
                                         trans_factory=TRANSPORT, timeout=60000)  # fmt: skip
                    client.runDetection(encoded(picture), most_accurate)
                    client.close()
            except Exception:  # noqa: BLE001 - the server stopped under it
                return
            answered.append(1)

    callers = [threading.Thread(target=detect) for _ in range(2)]
    for caller in callers:
        caller.start()
    time.sleep(1.0)  # requests sent, decoded, and in the detector
    assert process.poll() is None
    process.send_signal(signum)
    _, err = process.communicate(timeout=30)
    for caller in callers:
        caller.join(timeout=60)
    assert process.returncode == code, err
    assert "Traceback" not in err and "local API server stopped" in err
    assert len(started) > len(answered)  # the signal cut a detection short


# --- settings and flags: accepted, or refused in one line with exit 2


setting_text = st.one_of(
    st.sampled_from(["1", "2", "4", "0", "9090", "1026", "65535", "65536", "", " ", "²", "٣", "nan",
                     "-1", "1e3", "0x10", "4 ", "inf"]),
    st.text(max_size=6),
)  # fmt: skip


@settings(max_examples=80, deadline=None)
@given(
    values=st.fixed_dictionaries(
        {},
        optional={
            "SD_API_TRANSPORT": setting_text,
            "SD_API_TCP_PORT": setting_text,
            "SD_API_TCP_LOCAL": setting_text,
            "SD_API_LICENSE_KEY": setting_text,
        },
    ),
    flags=st.lists(
        st.tuples(
            st.sampled_from(["--transport", "--port", "--max-pixels", "--max-message",
                             "--idle-timeout", "--max-sessions"]),
            setting_text,
        ),
        max_size=3,
    ),
)  # fmt: skip
def test_any_setting_is_accepted_or_refused_in_one_line(values, flags):
    from localserver.server import parse_args

    argv = [f"{flag}={value}" for flag, value in flags]
    names = ("SD_API_TRANSPORT", "SD_API_TCP_PORT", "SD_API_TCP_LOCAL", "SD_API_LICENSE_KEY")
    saved = {name: os.environ.pop(name, None) for name in names}
    os.environ.update({k: v for k, v in values.items() if "\0" not in v})
    errors = io.StringIO()
    try:
        with contextlib.redirect_stderr(errors):
            args = parse_args(argv)
    except SystemExit as exit_:
        assert exit_.code == 2
        [line] = errors.getvalue().splitlines()
        assert line.startswith("error: ")
    else:
        assert args.transport in (1, 2, 4) and 1026 <= args.port <= 65535
        assert args.license or args.transport != 4
    finally:
        for name, value in saved.items():
            os.environ.pop(name, None)
            if value is not None:
                os.environ[name] = value


@settings(max_examples=40, deadline=None, suppress_health_check=FIXTURE_CHECKS)
@given(
    kind=st.sampled_from(["free", "missing folder", "folder", "file", "long", "dangling link"]),
    name=st.text(st.characters(codec="utf-8", exclude_characters="/\0"), min_size=1, max_size=20),
)
def test_any_socket_path_listens_or_is_refused_in_one_line(tmp_path, kind, name):
    from localserver.server import CannotListen, listen_unix

    base = tmp_path / "p"
    base.mkdir(exist_ok=True)
    path = base / name
    if kind == "missing folder":
        path = base / "missing" / name
        assume(path.parent == base / "missing")  # pathlib reads "missing/." as "missing"
    elif kind == "folder":
        path.mkdir(exist_ok=True)
    elif kind == "file":
        path.write_text("keep")
    elif kind == "long":
        path = base / (name * 20)[:200]
    elif kind == "dangling link":
        path.symlink_to(base / "nowhere")
    try:
        listener = listen_unix(path)
    except CannotListen as error:
        assert "\n" not in str(error)
        if kind == "file":
            assert path.read_text() == "keep"
    else:
        listener.close()
        path.unlink()
        assert kind in ("free", "long")
    finally:
        for each in list(base.iterdir()):
            if each.is_symlink() or each.is_file() or each.is_socket():
                each.unlink()
            elif each.is_dir():
                each.rmdir()


def test_help():
    result = subprocess.run(
        [sys.executable, "-m", "localserver", "--help"],
        cwd=ROOT, capture_output=True, text=True, timeout=60,
    )  # fmt: skip
    assert result.returncode == 0 and result.stdout.startswith("usage: python -m localserver")
    assert "SD_API_LICENSE_KEY" in result.stdout


def test_detection_time_is_bounded_for_a_large_picture():
    """A 25 Mpx picture, under the pixel budget, costs the detector what a 4 Mpx one does."""
    from localserver.detection import HogPersonDetector

    detector = HogPersonDetector()

    def seconds(side: int) -> float:
        started = time.monotonic()
        assert (
            detector(np.full((side, side, 3), 127, np.uint8), API.ObjectDetectionEnv.NORMAL) == []
        )
        return time.monotonic() - started

    assert seconds(5000) < 2 * seconds(2000) + 0.5


def test_the_licence_key_is_never_printed(tmp_path):
    key = "sd-KEY-7f3a9c"
    port = free_port()
    process = subprocess.Popen(
        [sys.executable, "-m", "localserver", "--host", "127.0.0.1", "--port", str(port),
         "--detector", "marker"],
        cwd=ROOT, env={**os.environ, "SD_API_TRANSPORT": "4", "SD_API_LICENSE_KEY": key},
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
    )  # fmt: skip
    assert "listening" in process.stderr.readline()
    answer = requests.post(
        f"http://127.0.0.1:{port}/v1/detect",
        files={"media": ("media", b"x"), "settings": ("settings", '{"type": "object"}')},
        timeout=30,
    )
    assert answer.json()["status"] == Code.ERR_INVALID_REQ and key not in answer.text
    process.terminate()
    out, err = process.communicate(timeout=30)
    assert process.returncode == 0
    assert key not in out + err and "POST /v1/detect" in err
