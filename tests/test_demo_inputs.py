"""The demos' arguments, inputs and outputs: accepted, or refused in one line before anything is sent."""

from __future__ import annotations

import os
import resource
import struct
import subprocess
import sys
import tempfile
import time
import zlib
from pathlib import Path

import cv2
import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import activate_server
import area_demo
import clear_sessions
import detection_demo
import get_status
import linecross_demo
import lpr_demo
import mask_demo
import socialdist_demo
from conftest import DEMO
from faults.api_peer import ApiPeer
from pictures import ONE, walk, write_picture, write_video

FIXTURES = [HealthCheck.function_scoped_fixture]


@pytest.fixture
def peer(tmp_path):
    """A peer that answers well, on a Unix socket: a --port under test reaches nothing."""
    with ApiPeer(unix_socket=tmp_path / "peer.sock") as running:
        yield running


@pytest.fixture
def picture(tmp_path):
    return write_picture(tmp_path / "one.jpg", [ONE])


@pytest.fixture
def video(tmp_path):
    return write_video(tmp_path / "walk.mp4", walk((0.2, 0.5), (0.8, 0.5), 6))


def outcome(capsys, demo, argv: list[str]) -> tuple[int, str, str]:
    capsys.readouterr()
    try:
        code = demo.main(argv)
    except SystemExit as exit_:
        code = exit_.code
    out, err = capsys.readouterr()
    return code, out, err


def assert_one_line_or_done(code: int, err: str, peer: ApiPeer, accepted: int = 0) -> None:
    """Done (0), failed in one line (1), or refused in one line with nothing sent (2).

    `accepted`: the peer's connections before the run (a refused run opens none).
    """
    assert "Traceback" not in err, err
    assert code in (0, 1, 2), (code, err)
    if code:
        errors = [line for line in err.splitlines() if line.startswith("error")]
        assert len(errors) == 1, err
    if code == 2:
        assert peer.accepted == accepted, err


# --- every numeric and path argument of every demo

NUMBER_TEXT = st.one_of(
    st.text(max_size=10),
    st.floats().map(repr),
    st.integers(-(10**30), 10**30).map(str),
    st.sampled_from(["nan", "inf", "-inf", "1e309", "-0", "0", "²", "٣", "0x10", " 5", "1_0", "５"]),
)
COORDINATE_LISTS = st.lists(
    st.one_of(st.floats(-0.5, 1.5).map(repr), NUMBER_TEXT), min_size=1, max_size=5
).map(",".join)
PATH_TEXT = st.one_of(
    st.text(max_size=40),
    st.sampled_from(["", ".", "..", "/", "/proc/self/mem", "x" * 5000, "a\0b", "/dev/null"]),
    st.text(max_size=10).map(lambda stem: f"{stem}.png"),
)

DETECTION = {"--input": "{picture}"}
CASES = [  # demo, the flag under test, its values, a value it takes, the other required flags
    (get_status, "--port", NUMBER_TEXT, "9090", {}),
    # TCP would go to 127.0.0.1:1, where nothing listens: nothing can be sent there
    (get_status, "--transport", NUMBER_TEXT, "2", {"--host": "127.0.0.1", "--port": "1"}),
    (get_status, "--timeout", NUMBER_TEXT, "0.5", {}),
    (clear_sessions, "--timeout", NUMBER_TEXT, "7", {}),
    (activate_server, "--timeout", NUMBER_TEXT, "1e300", {"--license": "k"}),
    (detection_demo, "--fps", NUMBER_TEXT, "0.3", {"--input": "{video}"}),
    (detection_demo, "--timeout", NUMBER_TEXT, "2.5", DETECTION),
    (detection_demo, "--input", PATH_TEXT, "{picture}", {}),
    (detection_demo, "--output", PATH_TEXT, "copy.png", DETECTION),
    (detection_demo, "--unix-socket", PATH_TEXT, "{socket}", DETECTION),
    (mask_demo, "--port", NUMBER_TEXT, "65535", DETECTION),
    (lpr_demo, "--fps", NUMBER_TEXT, "10", DETECTION),
    (area_demo, "--area", COORDINATE_LISTS, "0,0,1,1", DETECTION),
    (linecross_demo, "--line", COORDINATE_LISTS, "0,0,1,1", {**DETECTION, "--in-point": "0,0.9"}),
    (linecross_demo, "--in-point", COORDINATE_LISTS, "1,1", {**DETECTION, "--line": "0,0.5,1,0.5"}),
]


@pytest.mark.parametrize(
    "demo, flag, values, good, required", CASES, ids=[f"{c[0].__name__} {c[1]}" for c in CASES]
)
def test_any_argument_is_accepted_or_refused_in_one_line(
    capsys, peer, tmp_path, monkeypatch, picture, video, demo, flag, values, good, required
):
    monkeypatch.chdir(tmp_path)  # a relative --input or --output lands here
    names = {"picture": picture, "video": video, "socket": peer.unix_socket}
    others = [part.format(**names) for pair in required.items() for part in pair]

    def result(value: str) -> tuple[int, str, str]:
        argv = [*peer.connection, "--timeout", "5", *others, f"{flag}={value}"]
        return outcome(capsys, demo, argv)

    code, _, err = result(good.format(**names))
    assert code == 0 and peer.calls, err

    @settings(max_examples=25, deadline=None, suppress_health_check=FIXTURES)
    @given(value=values)
    def check(value):
        before = peer.accepted
        code, _, err = result(value)
        assert_one_line_or_done(code, err, peer, before)

    check()


@settings(max_examples=25, deadline=None, suppress_health_check=FIXTURES)
@given(
    ground=st.lists(COORDINATE_LISTS, min_size=0, max_size=5),
    separation=st.lists(COORDINATE_LISTS, min_size=0, max_size=3),
)
def test_social_distancing_points(capsys, peer, picture, ground, separation):
    before = peer.accepted
    argv = [*peer.connection, "--input", str(picture), "--ground", *ground]
    argv += ["--min-separation", *separation]
    code, _, err = outcome(capsys, socialdist_demo, argv)
    assert_one_line_or_done(code, err, peer, before)


# --- inputs and outputs checked before anything is sent


def refused(capsys, peer, *argv: str) -> str:
    code, out, err = outcome(capsys, detection_demo, [*peer.connection, *argv])
    assert code == 2 and out == "", err
    assert_one_line_or_done(code, err, peer)
    return err


def test_output_kind_must_fit_the_input(capsys, peer, picture, video, tmp_path):
    err = refused(capsys, peer, "--input", str(video), "--output", str(tmp_path / "out.jpg"))
    assert "the annotated copy of a video is a .mp4 or .avi" in err
    err = refused(capsys, peer, "--input", str(picture), "--output", str(tmp_path / "out.mp4"))
    assert "the annotated copy of an image is a .jpg or .png" in err
    refused(capsys, peer, "--input", str(picture), "--output", str(tmp_path / "x.txt"))
    assert not (tmp_path / "out.jpg").exists() and not (tmp_path / "out.mp4").exists()


def test_output_must_not_be_the_input(capsys, peer, picture, tmp_path, monkeypatch):
    before = picture.read_bytes()
    (tmp_path / "link.jpg").symlink_to(picture)
    os.link(picture, tmp_path / "hard.jpg")
    monkeypatch.chdir(tmp_path)
    for same in (str(picture), "one.jpg", "./sub/../one.jpg", "link.jpg", "hard.jpg"):
        (tmp_path / "sub").mkdir(exist_ok=True)
        err = refused(capsys, peer, "--input", str(picture), "--output", same)
        assert "that is the input itself" in err
    assert picture.read_bytes() == before


def test_output_folder_must_be_writable(capsys, peer, picture, tmp_path):
    assert "folder does not exist" in refused(
        capsys, peer, "--input", str(picture), "--output", str(tmp_path / "no" / "x.jpg")
    )
    assert "folder does not exist" in refused(
        capsys, peer, "--input", str(picture), "--output", str(picture / "x.jpg")
    )
    assert "cannot write there" in refused(
        capsys, peer, "--input", str(picture), "--output", "/proc/x.jpg"
    )
    (tmp_path / "taken.png").mkdir()
    assert "is a folder" in refused(
        capsys, peer, "--input", str(picture), "--output", str(tmp_path / "taken.png")
    )


def _jpeg_claiming(width: int, height: int) -> bytes:
    ok, encoded = cv2.imencode(".jpg", np.zeros((8, 8, 3), np.uint8))
    data = bytearray(encoded.tobytes())
    frame = data.find(b"\xff\xc0")  # start of frame: precision, then height, then width
    data[frame + 5 : frame + 9] = struct.pack(">HH", height, width)
    return bytes(data)


def _png_claiming(width: int, height: int) -> bytes:
    ok, encoded = cv2.imencode(".png", np.zeros((8, 8, 3), np.uint8))
    data = bytearray(encoded.tobytes())
    header = struct.pack(">II", width, height) + bytes(data[24:29])
    data[16:29] = header
    data[29:33] = struct.pack(">I", zlib.crc32(b"IHDR" + header))
    return bytes(data)


@pytest.mark.parametrize(
    "name, data, claimed",
    [
        ("bomb.jpg", _jpeg_claiming(32000, 32000), "32000x32000"),
        ("bomb.png", _png_claiming(30000, 30000), "30000x30000"),
        ("wide.jpg", _jpeg_claiming(65000, 800), "65000x800"),
    ],
)
def test_an_image_claiming_too_many_pixels_is_refused_undecoded(
    capsys, peer, tmp_path, name, data, claimed
):
    bomb = tmp_path / name
    bomb.write_bytes(data)
    assert len(data) < 5000
    before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    started = time.monotonic()
    err = refused(capsys, peer, "--input", str(bomb))
    assert time.monotonic() - started < 1
    assert resource.getrusage(resource.RUSAGE_SELF).ru_maxrss - before < 50 * 1024  # KiB
    assert f"claims {claimed} pixels, more than the 50 Mpx" in err


@pytest.mark.parametrize("size", [(10000, 2), (2, 10000), (1, 1), (3, 7000)])
def test_odd_shapes_give_a_result_or_one_line(api_server, run, tmp_path, size):
    picture = tmp_path / "odd.png"
    cv2.imwrite(str(picture), np.full((size[1], size[0], 3), 90, np.uint8))
    result = run(
        detection_demo,
        *api_server.connection,
        "--input",
        str(picture),
        "--output",
        str(tmp_path / "odd-boxes.png"),
    )
    assert "Traceback" not in result.err
    if result.code == 0:
        assert result.out.startswith("objects:")
        assert cv2.imread(str(tmp_path / "odd-boxes.png")).shape[:2] == (size[1], size[0])
    else:
        assert result.code == 1 and len(result.err.strip().splitlines()) == 1, result.err


def test_closed_stdout_is_one_line(tmp_path):
    picture = write_picture(tmp_path / "one.jpg", [ONE])
    with ApiPeer() as peer:
        process = subprocess.Popen(
            [sys.executable, str(DEMO / "detection_demo.py"), *peer.connection, "--input", str(picture)],
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        process.stdout.close()  # the reader is gone before the result is printed
        err = process.stderr.read()
        process.stderr.close()
        code = process.wait(timeout=60)
    assert code == 1, err
    assert err == "error: standard output was closed before the results were written\n"


def test_a_video_with_frames_over_the_budget_is_refused_undecoded(capsys, peer, tmp_path):
    big = tmp_path / "big.avi"
    writer = cv2.VideoWriter(str(big), cv2.VideoWriter_fourcc(*"MJPG"), 5, (7200, 7000))
    writer.write(np.zeros((7000, 7200, 3), np.uint8))
    writer.release()
    started = time.monotonic()
    err = refused(capsys, peer, "--input", str(big), "--output", str(tmp_path / "out.mp4"))
    assert "the video claims 7200x7000 pixels, more than the 50 Mpx" in err
    assert time.monotonic() - started < 1


def test_an_interrupted_copy_leaves_no_file(capsys, peer, video, tmp_path, monkeypatch):
    import media

    real_write = media.VideoWriter.write
    written = []

    def write_then_stop(self, pixels):
        if len(written) == 2:
            raise KeyboardInterrupt
        written.append(1)
        real_write(self, pixels)

    monkeypatch.setattr(media.VideoWriter, "write", write_then_stop)
    code, _, err = outcome(
        capsys, detection_demo, [*peer.connection, "--input", str(video), "--output", str(tmp_path / "out.mp4")]
    )
    assert code == 130 and err.strip().endswith("interrupted"), err
    assert len(written) == 2
    assert sorted(p.name for p in tmp_path.iterdir()) == ["peer.sock", "walk.mp4"]


def test_a_format_only_opencv_reads_is_held_to_the_budget_too(tmp_path):
    """No header reader knows Radiance HDR: OpenCV's own pixel limit, set by media.py, holds."""
    big = tmp_path / "big.hdr"
    big.write_bytes(b"#?RADIANCE\nFORMAT=32-bit_rle_rgbe\n\n-Y 8000 +X 8000\n" + b"\2\2\x1f\x40" * 100)
    result = subprocess.run(
        [sys.executable, str(DEMO / "detection_demo.py"), "--host", "127.0.0.1", "--port", "1",
         "--input", str(big)],
        capture_output=True, text=True, timeout=60,
    )  # fmt: skip
    assert result.returncode == 2
    assert result.stderr == f"error: {big}: an image larger than the 50 Mpx the demos decode\n"
    # OpenCV decodes such formats from memory through a temporary file it does not remove.
    assert not list(Path(tempfile.gettempdir()).glob("__opencv_temp*"))
