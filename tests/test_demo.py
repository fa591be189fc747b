"""The demos against the local API server over TCP and a Unix socket, on pictures the tests draw."""

import json
import subprocess
import sys

import cv2
import pytest

import activate_server
import area_demo
import clear_sessions
import detection_demo
import get_status
import linecross_demo
import lpr_demo
import mask_demo
import media
import socialdist_demo
from conftest import DEMO, local_aws
from pictures import walk, write_picture, write_video

LICENCE = "secret-licence-0042"


def sessions_left(server) -> list:
    with server.client() as api:
        return api.call("getSessions")


def test_get_status(api_server, run):
    result = run(get_status, *api_server.connection)
    assert result.code == 0, result.err
    assert "API version: 2.1.0" in result.out
    assert "activated: yes (SUCCESS)" in result.out
    assert "concurrent sessions: 2" in result.out


def test_get_status_json(api_server, run):
    result = run(get_status, *api_server.connection, "--json")
    status = json.loads(result.out)
    assert status["initStatus"] == "SUCCESS" and status["apiVersion"] == "2.1.0"


def test_activation(inactive_server, run, monkeypatch, tmp_path):
    picture = write_picture(tmp_path / "one.png", [(0.4, 0.3, 0.1, 0.4)])
    refused = run(detection_demo, *inactive_server.connection, "--input", str(picture))
    assert refused.code == 1
    assert "not activated: run activate_server.py" in refused.err
    assert "(ERR_NOT_ACTIVATED)" in refused.err

    status = run(get_status, *inactive_server.connection)
    assert "activated: no (ERR_NOT_ACTIVATED)" in status.out
    assert "activate_server.py" in status.err

    monkeypatch.delenv("SD_API_LICENSE_KEY", raising=False)
    missing = run(activate_server, *inactive_server.connection)
    assert missing.code == 2 and "no licence key" in missing.err

    monkeypatch.setenv("SD_API_LICENSE_KEY", LICENCE)
    activated = run(activate_server, *inactive_server.connection, "--json")
    assert activated.code == 0, activated.err
    assert LICENCE not in activated.out + activated.err
    assert json.loads(activated.out)["initStatus"] == "SUCCESS"
    assert run(detection_demo, *inactive_server.connection, "--input", str(picture)).code == 0


def test_clear_sessions_on_inactive_server(inactive_server, run):
    result = run(clear_sessions, *inactive_server.connection)
    assert result.code == 1 and "activate_server.py" in result.err


def test_detection_on_an_image(api_server, run, tmp_path):
    picture = write_picture(tmp_path / "two.png", [(0.1, 0.2, 0.08, 0.4), (0.6, 0.3, 0.1, 0.5)])
    annotated = tmp_path / "two-boxes.jpg"
    result = run(
        detection_demo,
        *api_server.connection,
        "--input",
        str(picture),
        "--json",
        "--output",
        str(annotated),
    )
    assert result.code == 0, result.err
    output = json.loads(result.out)  # nothing but JSON on stdout
    objects = output["objDetResult"]["objects"]
    assert output["status"] == "SUCCESS"
    assert len(objects) == 2
    first = min(objects, key=lambda o: o["left"])
    assert first["left"] == pytest.approx(0.1, abs=0.01) and first["bottom"] == pytest.approx(
        0.6, abs=0.01
    )
    drawn = cv2.imread(str(annotated))
    assert drawn.shape == (480, 640, 3)


def test_detection_summary(api_server, run, tmp_path):
    picture = write_picture(tmp_path / "one.jpg", [(0.4, 0.3, 0.1, 0.4)])
    result = run(detection_demo, *api_server.connection, "--input", str(picture))
    assert result.code == 0
    assert result.out.splitlines()[0] == "objects: 1 distinct (1)"


def test_large_images_are_shrunk_to_the_frame_size(api_server, run, tmp_path):
    picture = write_picture(tmp_path / "big.png", [(0.25, 0.25, 0.1, 0.5)], size=(1920, 1440))
    result = run(detection_demo, *api_server.connection, "--input", str(picture), "--json")
    [found] = json.loads(result.out)["objDetResult"]["objects"]
    assert found["left"] == pytest.approx(0.25, abs=0.01)


def test_area_demo(api_server, run, tmp_path):
    picture = write_picture(tmp_path / "zones.png", [(0.1, 0.4, 0.08, 0.4), (0.7, 0.4, 0.08, 0.4)])
    result = run(
        area_demo,
        *api_server.connection,
        "--input",
        str(picture),
        "--area",
        "0.5,0,1,0.5",
        "--json",
    )
    assert result.code == 0, result.err
    [inside] = json.loads(result.out)["objDetResult"]["objects"]
    assert inside["name"] == "area 1" and inside["left"] < 0.5


@pytest.fixture
def walker(tmp_path):
    """A figure walking down across y=0.5, then back up, at 10 frames a second."""
    frames = walk((0.5, 0.3), (0.5, 0.8), 20) + walk((0.5, 0.8), (0.5, 0.3), 20)
    return write_video(tmp_path / "walker.mp4", frames)


def test_line_crossing_both_directions(api_server, run, walker, tmp_path):
    annotated = tmp_path / "walker-annotated.mp4"
    result = run(
        linecross_demo,
        *api_server.connection,
        "--input",
        str(walker),
        "--line",
        "0,0.5,1,0.5",
        "--in-point",
        "0.5,0.9",
        "--fps",
        "10",
        "--output",
        str(annotated),
    )
    assert result.code == 0, result.err
    crossings = [line for line in result.out.splitlines() if "crossed" in line]
    assert len(crossings) == 2
    assert crossings[0].endswith("crossed IN") and crossings[1].endswith("crossed OUT")
    assert "frames 40/40" in result.err  # progress
    capture = cv2.VideoCapture(str(annotated))
    assert int(capture.get(cv2.CAP_PROP_FRAME_COUNT)) == 40
    assert sessions_left(api_server) == []


def test_line_crossing_out_to_in_only(api_server, run, walker):
    result = run(
        linecross_demo,
        *api_server.connection,
        "--input",
        str(walker),
        "--json",
        "--line",
        "0,0.5,1,0.5",
        "--in-point",
        "0.5,0.9",
        "--criteria",
        "cross",
        "--fps",
        "10",
    )
    [crossing] = json.loads(result.out)["lineCrossResult"]["violations"]
    assert crossing["second"]["direction"] == "CROSS_IN"
    assert crossing["first"]["bottom"] < 0.5 <= crossing["second"]["bottom"]


def test_line_segment_only_counts_over_the_segment(api_server, run, walker):
    result = run(
        linecross_demo,
        *api_server.connection,
        "--input",
        str(walker),
        "--json",
        "--line",
        "0,0.5,0.3,0.5",
        "--in-point",
        "0.1,0.9",
        "--criteria",
        "segment-both",
        "--fps",
        "10",
    )
    assert json.loads(result.out)["lineCrossResult"]["violations"] == []


def test_social_distancing(api_server, run, tmp_path):
    close = write_picture(
        tmp_path / "close.png",
        [(0.40, 0.4, 0.06, 0.4), (0.48, 0.4, 0.06, 0.4), (0.9, 0.4, 0.06, 0.4)],
    )
    flags = ["--ground", "0,0.5", "1,0.5", "1,1", "0,1", "--min-separation", "0.4,0.8", "0.6,0.8"]
    result = run(socialdist_demo, *api_server.connection, "--input", str(close), "--json", *flags)
    assert result.code == 0, result.err
    [violation] = json.loads(result.out)["socialDetResult"]["violations"]
    assert {violation["first"]["objectId"], violation["second"]["objectId"]} == {1, 2}
    summary = run(socialdist_demo, *api_server.connection, "--input", str(close), *flags)
    assert "social distancing violations: 1" in summary.out


@pytest.mark.parametrize("demo, flags", [(mask_demo, []), (lpr_demo, ["--region", "us"])])
def test_unsupported_detections(api_server, run, walker, tmp_path, demo, flags):
    picture = write_picture(tmp_path / "p.jpg", [(0.4, 0.3, 0.1, 0.4)])
    for source in (picture, walker):
        result = run(demo, *api_server.connection, "--input", str(source), *flags)
        assert result.code == 1
        assert "does not support that detection (ERR_UNSUPPORTED)" in result.err
        assert len(result.err.strip().splitlines()[-1:]) == 1
    assert sessions_left(api_server) == []


def test_session_deleted_after_ctrl_c(api_server, run, walker, monkeypatch):
    real_frames = media.frames

    def interrupted(*args):
        for count, frame in enumerate(real_frames(*args)):
            if count == 3:
                raise KeyboardInterrupt
            yield frame

    monkeypatch.setattr(media, "frames", interrupted)
    result = run(detection_demo, *api_server.connection, "--input", str(walker))
    assert result.code == 130 and result.err.strip().endswith("interrupted")
    assert sessions_left(api_server) == []


def test_clear_sessions(api_server, run):
    import sdclient

    with api_server.client() as api:
        settings = sdclient.API.DetectionSettings(
            objSettings=sdclient.API.ObjectDetectionSettings(enabled=True)
        )
        assert api.call("createSession", settings) > 0
    result = run(clear_sessions, *api_server.connection)
    assert result.code == 0 and "deleted 1 session(s)" in result.err
    assert sessions_left(api_server) == []


# --- bad input: one line, non-zero exit


def test_missing_and_unreadable_input(api_server, run, tmp_path):
    missing = run(detection_demo, *api_server.connection, "--input", str(tmp_path / "nope.jpg"))
    assert missing.code == 2 and missing.err == f"error: {tmp_path / 'nope.jpg'}: no such file\n"
    text = tmp_path / "notes.jpg"
    text.write_text("not a picture")
    garbage = run(detection_demo, *api_server.connection, "--input", str(text))
    assert garbage.code == 2 and "not an image or a video that can be decoded" in garbage.err
    empty = tmp_path / "empty"
    empty.mkdir()
    folder = run(detection_demo, *api_server.connection, "--input", str(empty))
    assert (
        folder.code == 2
        and folder.err == f"error: {empty}: a folder with no images or videos in it\n"
    )
    picture = write_picture(tmp_path / "p.png", [(0.4, 0.3, 0.1, 0.4)])
    nowhere = run(
        detection_demo,
        *api_server.connection,
        "--input",
        str(picture),
        "--output",
        str(tmp_path / "no" / "x.jpg"),
    )
    assert nowhere.code == 2 and "its folder does not exist" in nowhere.err


@pytest.mark.parametrize(
    "demo, flags, message",
    [
        (area_demo, ["--area", "0,0,1.5,1"], "coordinates are normalized"),
        (area_demo, ["--area", "0,0,1"], "is not an area top,left,bottom,right"),
        (area_demo, ["--area", "0.5,0,0.2,1"], "top must be above bottom"),
        (
            area_demo,
            ["--area", "0,0,.5,.5", "--area", "0,.5,.5,1", "--area", ".5,0,1,1"],
            "at most 2",
        ),
        (linecross_demo, ["--line", "0,0.5,1", "--in-point", "0.5,0.9"], "is not a line"),
        (linecross_demo, ["--line", "0,0.5,1,0.5", "--in-point", "0.5,0.5"], "lies on the line"),
        (
            linecross_demo,
            ["--line", "0,0.5,1,0.5", "--in-point", "1.2,0.9"],
            "coordinates are normalized",
        ),
        (
            socialdist_demo,
            ["--ground", "0,0", "1,0", "1,1", "--min-separation", "0,0", "1,1"],
            "expected 4 arguments",
        ),
        (
            socialdist_demo,
            ["--ground", "0,0", "1,0", "1,1", "0,1", "--min-separation", "0,0"],
            "expected 2 arguments",
        ),
        (detection_demo, ["--fps", "11"], "at most 10"),
        (detection_demo, ["--port", "http"], "not a port number"),
    ],
)
def test_bad_arguments(api_server, tmp_path, capsys, demo, flags, message):
    picture = write_picture(tmp_path / "p.png", [(0.4, 0.3, 0.1, 0.4)])
    with pytest.raises(SystemExit) as exit_:
        demo.main([*api_server.connection, "--input", str(picture), *flags])
    assert exit_.value.code == 2
    err = capsys.readouterr().err
    assert len(err.strip().splitlines()) == 1 and err.startswith("error: ") and message in err, err


def test_server_unreachable(run, tmp_path):
    picture = write_picture(tmp_path / "p.png", [(0.4, 0.3, 0.1, 0.4)])
    port = local_aws.free_port()
    tcp = run(detection_demo, "--host", "127.0.0.1", "--port", str(port), "--input", str(picture))
    assert tcp.code == 1
    assert tcp.err.startswith(
        f"error: cannot reach the API server over TCP 127.0.0.1:{port}: Connection refused"
    )
    unix = run(get_status, "--transport", "2", "--unix-socket", str(tmp_path / "none.sock"))
    assert unix.code == 1 and f"over Unix socket {tmp_path / 'none.sock'}" in unix.err


@pytest.mark.parametrize(
    "script",
    sorted(
        p.name
        for p in DEMO.glob("*.py")
        if p.stem
        not in {
            "sdclient",
            "democli",
            "media",
            "result_codes",
            "wire",
            "interrupts",
            "batch",
            "link",
            "console",
            "detection_inputs",
            "video",
            "results",
            "annotation",
        }
    ),
)
def test_every_demo_has_help(script):
    result = subprocess.run(
        [sys.executable, str(DEMO / script), "--help"], capture_output=True, text=True, timeout=60
    )
    assert result.returncode == 0 and result.stdout.startswith("usage:")


def test_demo_as_a_process(api_server, tmp_path):
    picture = write_picture(tmp_path / "p.jpg", [(0.4, 0.3, 0.1, 0.4)])
    result = subprocess.run(
        [
            sys.executable,
            str(DEMO / "detection_demo.py"),
            *api_server.connection,
            "--input",
            str(picture),
            "--json",
        ],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode == 0, result.stderr
    assert len(json.loads(result.stdout)["objDetResult"]["objects"]) == 1


# --- the frame path: frames in flight, raw or JPEG


def test_frames_in_flight_give_the_same_results_as_one_at_a_time(api_server, run, walker):
    flags = [
        *api_server.connection,
        "--input",
        str(walker),
        "--json",
        "--fps",
        "10",
        "--line",
        "0,0.5,1,0.5",
        "--in-point",
        "0.5,0.9",
    ]
    for frame_format in ("jpeg", "raw"):
        pipelined = run(linecross_demo, *flags, "--frame-format", frame_format)
        single = run(linecross_demo, *flags, "--frame-format", frame_format, "--one-at-a-time")
        assert pipelined.code == single.code == 0, pipelined.err + single.err
        assert json.loads(pipelined.out) == json.loads(single.out)
        assert len(json.loads(pipelined.out)["lineCrossResult"]["violations"]) == 2
        assert "16 in flight" in pipelined.err and "1 in flight" in single.err
        assert "per frame: decode" in pipelined.err


def test_dropped_connection_mid_video(tmp_path, run, walker, monkeypatch):
    from conftest import start_local_server

    server = start_local_server(tmp_path, "tcp", "--license", "k", "--detector", "marker")
    real_frames = media.frames

    def server_dies(*args):
        for count, frame in enumerate(real_frames(*args)):
            if count == 12:
                server.process.kill()
                server.process.wait()
            yield frame

    monkeypatch.setattr(media, "frames", server_dies)
    result = run(detection_demo, *server.connection, "--input", str(walker))
    assert result.code == 1
    last = result.err.strip().splitlines()[-1]
    assert last.startswith(
        "error: processInputForSession: lost the connection to the API server over TCP"
    ), result.err
    assert "Traceback" not in result.err
