"""The REST mode: the local server's side, http_demo.py against it, and the demo against peers we did not write."""

from __future__ import annotations

import contextlib
import io
import json
import os
import socket
import subprocess
import sys
import time

import pytest
import requests
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import http_demo
import result_codes
from conftest import ROOT, start_local_server, stop_local_server
from faults.http_peer import DROP, SILENT, HttpPeer, Reply
from pictures import ONE, write_picture

FIGURE_BOX = {"left": 0.4, "top": 0.3, "right": 0.5, "bottom": 0.7}


@pytest.fixture(scope="module")
def rest_server(tmp_path_factory):
    """The local server in REST mode, given its licence in the environment as Fargate does."""
    server = start_local_server(
        tmp_path_factory.mktemp("rest"),
        "rest",
        "--detector",
        "marker",
        env={"SD_API_LICENSE_KEY": "test-licence"},
    )
    yield server
    stop_local_server(server)
    assert server.process.returncode == 0


@pytest.fixture
def picture(tmp_path):
    return write_picture(tmp_path / "street.jpg", [ONE])


def url(server) -> str:
    return f"http://127.0.0.1:{server.connection[-1]}/v1/detect"


def vendor_request(address: str, media: bytes, settings_part) -> requests.Response:
    """The request exactly as the vendor's sample client builds it: both parts as file parts."""
    files = {"media": ("media", media), "settings": ("settings", json.dumps(settings_part))}
    return requests.post(address, files=files, timeout=30)


# --- the local server's REST side


def test_vendor_style_request_finds_the_person(rest_server, picture):
    answer = vendor_request(
        url(rest_server), picture.read_bytes(), {"type": "object", "params": {"areas": []}}
    )
    assert answer.status_code == 200
    body = answer.json()
    assert body["status"] == 1
    [found] = body["result"][0]["data"]
    assert found["name"] == "person"
    assert {k: round(found[k], 3) for k in FIGURE_BOX} == FIGURE_BOX


@pytest.mark.parametrize(
    "settings_part, status",
    [
        ({"type": "mask", "params": {"areas": []}}, 5),
        ({"type": "alpr", "params": {"region": "us", "skipVehicleCheck": 1, "presetMode": "x"}}, 5),
        ({"type": "object", "params": {"areas": [FIGURE_BOX] * 3}}, 4),
        ({"type": "object", "params": {"areas": [{"left": 0.5, "top": 0, "right": 0.2}]}}, 4),
        ({"type": "faces"}, 4),
        ({"type": "object", "unknown": {"keys": "are ignored"}}, 1),
    ],
)
def test_settings_answer_the_thrift_codes(rest_server, picture, settings_part, status):
    answer = vendor_request(url(rest_server), picture.read_bytes(), settings_part)
    assert answer.status_code == 200 and answer.json()["status"] == status


def test_a_decode_bomb_is_refused_from_its_header(rest_server):
    from test_local_server_limits import jpeg_claiming

    answer = vendor_request(url(rest_server), jpeg_claiming(32000, 32000), {"type": "object"})
    assert answer.status_code == 200 and answer.json()["status"] == 4
    assert "pixels" in answer.json()["error"]


@pytest.mark.parametrize(
    "method, path, files, http_status",
    [
        ("get", "/v1/detect", None, 405),
        ("post", "/v2/detect", {"media": b"x", "settings": b"{}"}, 404),
        ("post", "/v1/detect", {"media": b"x"}, 400),
        ("post", "/v1/detect", {"media": b"x", "settings": b"not json"}, 400),
        ("post", "/v1/detect", {"media": b"x", "settings": b"[1, 2]"}, 400),
        ("post", "/v1/detect", {"media": b"x", "settings": b"[" * 100_000}, 400),
        ("post", "/v1/detect", {"media": b"x", "settings": b"\xff\xfe{}"}, 400),
        ("post", "/v1/detect", {f"part{n}": b"x" for n in range(20)}, 413),
    ],
)
def test_requests_that_are_not_detections_get_an_http_error(
    rest_server, method, path, files, http_status
):
    address = f"http://127.0.0.1:{rest_server.connection[-1]}{path}"
    answer = requests.request(method, address, files=files, timeout=30)
    assert answer.status_code == http_status
    assert answer.json()["status"] == 4 and answer.json()["error"]


def test_a_request_past_the_maximum_size_is_refused(tmp_path, picture):
    server = start_local_server(
        tmp_path, "rest", "--detector", "marker", "--license", "k", "--max-message", "65536"
    )
    try:
        answer = vendor_request(url(server), b"\xff" * 200_000, {"type": "object"})
        assert answer.status_code == 413 and answer.json()["status"] == 4
        assert vendor_request(url(server), picture.read_bytes(), {"type": "object"}).ok
    finally:
        stop_local_server(server)


area_value = st.one_of(
    st.floats(allow_nan=True, allow_infinity=True), st.text(max_size=3), st.none(), st.booleans()
)


@settings(
    max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(
    kind=st.sampled_from(["object", "mask", "alpr", "", None, 3]),
    areas=st.one_of(
        st.none(),
        st.text(max_size=3),
        st.lists(
            st.one_of(
                st.fixed_dictionaries({s: area_value for s in ("left", "top", "right", "bottom")}),
                st.integers(),
            ),
            max_size=3,
        ),
    ),
)
def test_any_settings_get_a_json_answer_never_a_server_error(rest_server, kind, areas):
    answer = vendor_request(
        url(rest_server), b"\xff\xd8\xff", {"type": kind, "params": {"areas": areas}}
    )
    assert answer.status_code in (200, 400)
    assert answer.json()["status"] in (4, 5)


@pytest.mark.parametrize(
    "key, flags, state",
    [
        (None, [], "SD_API_LICENSE_KEY is not set"),
        ("  ", [], "SD_API_LICENSE_KEY is empty"),
        ("k", ["--license", ""], "--license is empty"),
    ],
)
def test_rest_without_a_key_refuses_to_start(key, flags, state):
    env = {k: v for k, v in os.environ.items() if not k.startswith("SD_")}
    env.update(SD_API_TRANSPORT="4", **({} if key is None else {"SD_API_LICENSE_KEY": key}))
    result = subprocess.run(
        [sys.executable, "-m", "localserver", "--host", "127.0.0.1", *flags],
        cwd=ROOT, env=env, capture_output=True, text=True, timeout=60,
    )  # fmt: skip
    assert result.returncode == 2
    [line] = result.stderr.splitlines()
    assert line.startswith(f"error: {state}: the REST mode"), line


# --- http_demo.py against the local server


@pytest.mark.parametrize(
    "flags, code, out, err",
    [
        ([], 0, "1 object(s) found\n  person at left 0.400, top 0.300, right 0.500", ""),
        (["--area", "0,0,0.3,1"], 0, "0 object(s) found", ""),
        (["--area", "0,0,0.3,1", "--area", "0.3,0,1,1"], 0, "1 object(s) found", ""),
        (
            ["-t", "mask"],
            1,
            "",
            "error: detect: this server does not support that detection (ERR_UNSUPPORTED)",
        ),
        (["-t", "alpr", "-r", "us", "-n", "-m", "fast"], 1, "", "(ERR_UNSUPPORTED)"),
    ],
)
def test_demo_for_each_type(rest_server, picture, run, flags, code, out, err):
    result = run(http_demo, *rest_server.connection, "-i", str(picture), *flags)
    assert result.code == code, result.err
    assert out in result.out
    assert err in result.err
    assert "Traceback" not in result.err


def test_demo_json_and_annotated_copy(rest_server, picture, run, tmp_path):
    output = tmp_path / "boxes.png"
    result = run(
        http_demo, "-s", "127.0.0.1", "-p", rest_server.connection[-1], "-i", str(picture),
        "--json", "--output", str(output),
    )  # fmt: skip
    assert result.code == 0, result.err
    assert json.loads(result.out)["result"][0]["data"][0]["name"] == "person"
    import cv2

    annotated = cv2.imread(str(output))
    assert annotated is not None and annotated.shape[:2] == (480, 640)


@pytest.mark.parametrize(
    "flags, message",
    [
        (["--output", "x.mp4"], ".jpg or .png"),
        (["--output", "/no/such/folder/x.jpg"], "its folder does not exist"),
    ],
)
def test_demo_refuses_a_bad_output_before_sending(picture, run, flags, message):
    with HttpPeer(lambda request: Reply(200, b'{"status": 1}')) as peer:
        result = run(http_demo, "-s", "127.0.0.1", "-p", str(peer.port), "-i", str(picture), *flags)
        assert peer.requests == []
    assert result.code == 2 and message in result.err


def test_demo_refuses_to_overwrite_its_input(picture, run):
    result = run(http_demo, "-p", "9090", "-i", str(picture), "--output", str(picture))
    assert result.code == 2 and "that is the input" in result.err


@pytest.mark.parametrize(
    "flags",
    [["--area", "0.5,0,0.2,1"], ["--area", "0,0,2,1"], ["-t", "faces"], ["-r", "eu"],
     ["--area", "0,0,1,1"] * 3, ["--timeout", "0"], ["--timeout", "nan"], ["-p", "70000"],
     ["-t", "alpr", "--area", "0,0,1,1"]],
)  # fmt: skip
def test_demo_bad_arguments_in_one_line(picture, flags, capsys):
    with pytest.raises(SystemExit) as exit_:
        http_demo.main(["-i", str(picture), *flags])
    assert exit_.value.code == 2
    [line] = capsys.readouterr().err.splitlines()
    assert line.startswith("error: ")


# --- http_demo.py against REST servers we did not write


@pytest.mark.parametrize("code", sorted(set(result_codes.NAMES) - {1}) + [42])
def test_demo_names_each_status(picture, run, code):
    body = json.dumps({"status": code, "result": [], "extra": "ignored"}).encode()
    with HttpPeer(lambda request: Reply(200, body)) as peer:
        result = run(http_demo, "-s", "127.0.0.1", "-p", str(peer.port), "-i", str(picture))
        request = peer.requests[0]
    assert result.code == 1
    last = result.err.strip().splitlines()[-1]
    assert last == f"error: detect: {result_codes.explain(code, rest=True)}"
    assert b"POST /v1/detect" in request.head
    assert b'name="media"' in request.body and b'name="settings"' in request.body


def test_rest_not_activated_points_to_the_key_at_start_not_an_activation_call(picture, run):
    body = json.dumps({"status": 6, "result": []}).encode()
    with HttpPeer(lambda request: Reply(200, body)) as peer:
        result = run(http_demo, "-s", "127.0.0.1", "-p", str(peer.port), "-i", str(picture))
    assert result.code == 1
    assert "LICENSE_SECRET" in result.err and "store_license.py" in result.err
    assert "activate_server" not in result.err


def test_demo_is_lenient_on_unknown_keys(picture, run):
    body = json.dumps(
        {"status": 1, "version": 2, "result": [{"data": [
            {"name": "person", **FIGURE_BOX, "trackId": 7},
            {"name": "odd", "left": "x"},
            "not an object",
        ], "more": 1}]}
    ).encode()  # fmt: skip
    with HttpPeer(lambda request: Reply(200, body)) as peer:
        result = run(http_demo, "-s", "127.0.0.1", "-p", str(peer.port), "-i", str(picture))
    assert result.code == 0, result.err
    assert result.out.splitlines()[0] == "2 object(s) found"
    unwrapped = json.dumps({"status": "1", "result": {"data": [{"name": "person"}]}}).encode()
    with HttpPeer(lambda request: Reply(200, unwrapped)) as peer:
        result = run(http_demo, "-s", "127.0.0.1", "-p", str(peer.port), "-i", str(picture))
    assert result.code == 0 and result.out == "1 object(s) found\n  person\n", result.err


@pytest.mark.parametrize(
    "reply, message",
    [
        (Reply(500, b"<html>boom</html>", "text/html"), "the server answered HTTP 500 Canned"),
        (Reply(413, b'{"status": 4, "error": "too\\nlarge"}'), "HTTP 413 Canned: too large"),
        (Reply(200, b"<html>not json</html>", "text/html"), "is not the REST API's JSON"),
        (Reply(200, b'{"status": "one"}'), "is not the REST API's JSON"),
        (Reply(200, b'{"status": true}'), "is not the REST API's JSON"),
        (Reply(200, b'{"status": "4"}'), "(ERR_INVALID_REQ)"),
        (Reply(200, b"[1]"), "is not the REST API's JSON"),
        (
            Reply(raw=b'HTTP/1.1 200 OK\r\nContent-Length: 100\r\n\r\n{"sta'),
            "broke off: IncompleteRead(5 bytes read, 95 more expected)",
        ),
        (Reply(raw=b"SSH-2.0-OpenSSH\r\n"), "dropped the connection: its answer is not HTTP"),
        (DROP, "dropped the connection: Remote end closed connection without response"),
        (Reply(200, b"[" * (17 << 20)), "is larger than 16777216 bytes"),
    ],
)
def test_demo_http_errors_and_drops_in_one_line(picture, run, reply, message):
    with HttpPeer(lambda request: reply) as peer:
        result = run(http_demo, "-s", "127.0.0.1", "-p", str(peer.port), "-i", str(picture))
    assert result.code == 1
    last = result.err.strip().splitlines()[-1]
    assert message in last and "Traceback" not in result.err
    assert len(result.err.strip().splitlines()) == 2  # "sending ..." and the error


def test_demo_times_out_on_a_silent_server(picture, run):
    import time

    with HttpPeer(lambda request: SILENT) as peer:
        started = time.monotonic()
        result = run(
            http_demo, "-s", "127.0.0.1", "-p", str(peer.port), "-i", str(picture),
            "--timeout", "0.5",
        )  # fmt: skip
        took = time.monotonic() - started
    assert result.code == 1 and "within 0.5s" in result.err
    assert took < 5


def test_demo_refused_connection(picture, run):
    from rehearsal.local_aws import free_port

    port = free_port()
    result = run(http_demo, "-s", "127.0.0.1", "-p", str(port), "-i", str(picture))
    assert result.code == 1
    assert result.err.strip().splitlines()[-1] == (
        f"error: cannot reach the REST server at http://127.0.0.1:{port}/v1/detect: "
        "Connection refused"
    )


@pytest.mark.parametrize("transport", ["--transport=4", "SD_API_TRANSPORT=4"])
def test_thrift_demos_send_rest_users_to_http_demo(transport, picture, monkeypatch, capsys):
    import detection_demo

    argv = ["--input", str(picture)]
    if transport.startswith("--"):
        argv.append(transport)
    else:
        monkeypatch.setenv("SD_API_TRANSPORT", "4")
    with pytest.raises(SystemExit) as exit_:
        detection_demo.main(argv)
    assert exit_.value.code == 2
    [line] = capsys.readouterr().err.splitlines()
    assert "use http_demo.py" in line


def test_result_code_table_matches_the_idl():
    from sdclient import API

    assert result_codes.NAMES == API.ResultCode._VALUES_TO_NAMES
    assert set(result_codes.MEANINGS) == set(result_codes.NAMES) - {result_codes.SUCCESS}


@settings(max_examples=60, deadline=None)
@given(
    flags=st.lists(
        st.tuples(
            st.sampled_from(["--port", "--timeout", "--area", "--type", "--region", "--presetmode"]),
            st.one_of(
                st.sampled_from(["0", "1", "9090", "0.0005", "nan", "inf", "-1", "²", "1e400",
                                 "0,0,1,1", "0.5,0.5,0.5,0.6", "1,1,0,0", "nan,0,1,1", ""]),
                st.text(max_size=8),
            ),
        ),
        max_size=3,
    )
)  # fmt: skip
def test_any_demo_argument_is_accepted_or_refused_in_one_line(flags):
    argv = ["-i", "street.jpg", *(f"{flag}={value}" for flag, value in flags)]
    errors = io.StringIO()
    try:
        with contextlib.redirect_stderr(errors):
            args = http_demo.parse_args(argv)
    except SystemExit as exit_:
        assert exit_.code == 2
        [line] = errors.getvalue().splitlines()
        assert line.startswith("error: ")
    else:
        assert 0 < args.timeout < float("inf") and 1 <= args.port <= 65535
        assert len(args.area) <= 2 and all(a[0] < a[2] and a[1] < a[3] for a in args.area)


def test_rest_limits_chunked_uploads_and_idle_connections(tmp_path, picture):
    server = start_local_server(
        tmp_path, "rest", "--detector", "marker", "--license", "k",
        "--max-message", "65536", "--idle-timeout", "1",
    )  # fmt: skip
    port = int(server.connection[-1])
    try:
        boundary = "b0undary"
        head = (
            f'--{boundary}\r\nContent-Disposition: form-data; name="settings"; filename="settings"'
            f'\r\n\r\n{{"type": "object"}}\r\n--{boundary}\r\nContent-Disposition: form-data; '
            'name="media"; filename="media"\r\n\r\n'
        ).encode()

        def chunks():  # no Content-Length: the size is only known by reading
            yield head
            for _ in range(20):
                yield b"\xff" * 16384

        answer = requests.post(
            url(server), data=chunks(), timeout=30,
            headers={"Content-Type": f"multipart/form-data; boundary={boundary}"},
        )  # fmt: skip
        assert answer.status_code == 413 and answer.json()["status"] == 4
        with socket.create_connection(("127.0.0.1", port), 10) as idle:
            started = time.monotonic()
            assert idle.recv(1) == b""  # closed by the server
            assert 0.5 < time.monotonic() - started < 5
        assert vendor_request(url(server), picture.read_bytes(), {"type": "object"}).ok
    finally:
        stop_local_server(server)
    assert server.process.returncode == 0


@settings(
    max_examples=12, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(
    figures=st.lists(
        st.tuples(st.floats(0.02, 0.8), st.floats(0.02, 0.6), st.just(0.08), st.just(0.3)),
        max_size=3,
    )
    .map(sorted)
    .filter(lambda fs: all(b[0] - a[0] > 0.12 for a, b in zip(fs, fs[1:], strict=False))),
    area=st.one_of(st.none(), st.just([0.0, 0.0, 0.5, 1.0])),
)
def test_rest_and_thrift_find_the_same_boxes(rest_server, api_server, figures, area):
    """One detection code for both sides: the same picture and area give the same boxes."""
    import cv2

    from pictures import scene
    from sdclient import API

    picture = cv2.imencode(".png", scene(figures))[1].tobytes()
    areas = (
        [] if area is None else [dict(zip(("left", "top", "right", "bottom"), area, strict=True))]
    )
    body = vendor_request(url(rest_server), picture, {"type": "object", "params": {"areas": areas}})
    rest_boxes = sorted(
        tuple(round(d[k], 6) for k in ("left", "top", "right", "bottom"))
        for d in body.json()["result"][0]["data"]
    )
    thrift_settings = API.DetectionSettings(objSettings=API.ObjectDetectionSettings(enabled=True))
    if area is not None:
        left, top, right, bottom = area
        thrift_settings.detAreaSettings = API.DetectionAreaSettings(
            enabled=True, areas=[API.DetectionArea(top=top, left=left, bottom=bottom, right=right)]
        )
    encoded = API.DetectionInput(
        type=API.DetectionInputType.IMG_BUFFER_ENCODED,
        params=API.InputParams(
            encImageInput=API.EncodedImageInput(format=1, buffer=picture, bufferLength=len(picture))
        ),
    )
    with api_server.client() as api:
        objects = api.call("runDetection", encoded, thrift_settings).objDetResult.objects
    thrift_boxes = sorted(
        tuple(round(getattr(o, k), 6) for k in ("left", "top", "right", "bottom")) for o in objects
    )
    assert rest_boxes == thrift_boxes
    if area is None:
        assert len(rest_boxes) == len(figures)
