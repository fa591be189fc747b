"""The local server keeps the real server's contract; its geometry follows the protocol page."""

import threading
from functools import partial

import cv2
import numpy as np
import pytest

from localserver import detection
from localserver.server import listen_tcp
from localserver.thrift_server import accept_forever, serve_connection
from pictures import scene
from sdclient import API, ApiError, Client, Endpoint

Code = API.ResultCode
PERSONS = API.DetectionSettings(objSettings=API.ObjectDetectionSettings(enabled=True))


def jpeg_input(pixels):
    data = cv2.imencode(".jpg", pixels)[1].tobytes()
    return API.DetectionInput(
        type=API.DetectionInputType.IMG_BUFFER_ENCODED,
        params=API.InputParams(
            encImageInput=API.EncodedImageInput(format=1, buffer=data, bufferLength=len(data))
        ),
    )


def raw_input(width, height, buffer):
    return API.DetectionInput(
        type=API.DetectionInputType.IMG_BUFFER_RAW,
        params=API.InputParams(
            rawImageInput=API.RawImageInput(width=width, height=height, format=1, buffer=buffer)
        ),
    )


ONE_FIGURE = scene([(0.4, 0.3, 0.1, 0.4)])


def test_everything_but_status_and_init_needs_activation(inactive_server):
    with inactive_server.client() as api:
        assert api.call("getStatus").initStatus == Code.ERR_NOT_ACTIVATED
        assert api.call("createSession", PERSONS) == -1
        assert api.call("getSessions") == []
        assert api.call("deleteSession", 1) == Code.ERR_NOT_ACTIVATED
        assert api.call("clearSession", 1).status == Code.ERR_NOT_ACTIVATED
        assert api.call("getSessionResult", 1).status == Code.ERR_NOT_ACTIVATED
        assert (
            api.call("processInputForSession", 1, 0, jpeg_input(ONE_FIGURE))
            == Code.ERR_NOT_ACTIVATED
        )
        assert (
            api.call("runDetection", jpeg_input(ONE_FIGURE), PERSONS).status
            == Code.ERR_NOT_ACTIVATED
        )
        assert api.call("init", API.InitRequest(license="")).initStatus != Code.SUCCESS
        status = api.call("init", API.InitRequest(license="key"))
        assert status.initStatus == Code.SUCCESS and status.apiVersion == "2.1.0"
        assert status.capability.numConcurrentSessions >= 1
        assert api.call("runDetection", jpeg_input(ONE_FIGURE), PERSONS).status == Code.SUCCESS


def test_sessions(api_server):
    with api_server.client() as api:
        first = api.call("createSession", PERSONS)
        second = api.call("createSession", PERSONS)
        assert first > 0 and second > 0 and first != second
        assert api.call("createSession", PERSONS) == -1  # capability is 2
        assert [s.id for s in api.call("getSessions")] == [first, second]
        assert api.call("processInputForSession", first, 0, jpeg_input(ONE_FIGURE)) == Code.SUCCESS
        assert len(api.call("getSessionResult", first).objDetResult.objects) == 1
        cleared = api.call("clearSession", first)
        assert len(cleared.objDetResult.objects) == 1
        assert api.call("getSessionResult", first).objDetResult.objects == []
        assert api.call("deleteSession", first) == Code.SUCCESS
        assert api.call("deleteSession", first) == Code.ERR_INVALID_REQ
        assert api.call("getSessionResult", first).status == Code.ERR_INVALID_REQ
        assert (
            api.call("processInputForSession", 999, 0, jpeg_input(ONE_FIGURE))
            == Code.ERR_INVALID_REQ
        )
        assert api.call("deleteSession", second) == Code.SUCCESS


@pytest.mark.parametrize(
    "bad_input",
    [
        pytest.param(
            lambda: jpeg_input(ONE_FIGURE).__class__(
                type=2,
                params=API.InputParams(
                    encImageInput=API.EncodedImageInput(
                        format=1, buffer=b"\xff\xd8\xffnot", bufferLength=6
                    )
                ),
            ),
            id="corrupt-jpeg",
        ),
        pytest.param(lambda: raw_input(4, 4, b"\0" * 47), id="raw-size-mismatch"),
        pytest.param(
            lambda: API.DetectionInput(
                type=3,
                params=API.InputParams(
                    imgFileInput=API.ImageFileInput(filename="/nonexistent.jpg")
                ),
            ),
            id="missing-file",
        ),
        pytest.param(
            lambda: API.DetectionInput(
                type=4,
                params=API.InputParams(
                    vidFileInput=API.VideoFileInput(filename="/nonexistent.mp4", processFps=5)
                ),
            ),
            id="missing-video",
        ),
        pytest.param(
            lambda: API.DetectionInput(
                type=1, params=API.InputParams(imgFileInput=API.ImageFileInput(filename="x"))
            ),
            id="type-mismatch",
        ),
    ],
)
def test_invalid_inputs(api_server, bad_input):
    with api_server.client() as api:
        assert api.call("runDetection", bad_input(), PERSONS).status == Code.ERR_INVALID_REQ
        session = api.call("createSession", PERSONS)
        try:
            if bad_input().type != API.DetectionInputType.VID_FILE_PATH:
                assert (
                    api.call("processInputForSession", session, 0, bad_input())
                    == Code.ERR_INVALID_REQ
                )
        finally:
            api.call("deleteSession", session)


def test_raw_input_of_the_right_size(api_server):
    pixels = cv2.cvtColor(ONE_FIGURE, cv2.COLOR_BGR2RGB)
    with api_server.client() as api:
        output = api.call("runDetection", raw_input(640, 480, pixels.tobytes()), PERSONS)
    assert output.status == Code.SUCCESS and len(output.objDetResult.objects) == 1


def file_input(path):
    return API.DetectionInput(
        type=API.DetectionInputType.IMG_FILE_PATH,
        params=API.InputParams(imgFileInput=API.ImageFileInput(filename=str(path))),
    )


def video_input(path, fps):
    return API.DetectionInput(
        type=API.DetectionInputType.VID_FILE_PATH,
        params=API.InputParams(vidFileInput=API.VideoFileInput(filename=str(path), processFps=fps)),
    )


def test_server_reads_files_itself(api_server, tmp_path):
    from pictures import walk, write_picture, write_video

    picture = write_picture(tmp_path / "p.png", [(0.4, 0.3, 0.1, 0.4)])
    video = write_video(tmp_path / "v.mp4", walk((0.2, 0.7), (0.8, 0.7), 20), fps=10)
    with api_server.client() as api:
        image = api.call("runDetection", file_input(picture), PERSONS)
        moving = api.call("runDetection", video_input(video, 5), PERSONS)
        too_fast = api.call("runDetection", video_input(video, 11), PERSONS)
    assert len(image.objDetResult.objects) == 1
    assert [o.frameIndex for o in moving.objDetResult.objects] == [
        0,
        2,
        4,
        6,
        8,
        10,
        12,
        14,
        16,
        18,
    ]
    assert {o.objectId for o in moving.objDetResult.objects} == {1}  # tracked as one person
    assert too_fast.status == Code.ERR_INVALID_REQ


@pytest.mark.parametrize(
    "settings",
    [
        API.DetectionSettings(
            detAreaSettings=API.DetectionAreaSettings(
                enabled=True, areas=[API.DetectionArea(top=0, left=0, bottom=1, right=1)] * 3
            )
        ),
        API.DetectionSettings(
            detAreaSettings=API.DetectionAreaSettings(
                enabled=True, areas=[API.DetectionArea(top=0, left=0, bottom=1.2, right=1)]
            )
        ),
        API.DetectionSettings(
            sdSettings=API.SocialDistanceSettings(
                enabled=True,
                groundBoundary=[API.NormPoint(x=0, y=0)] * 3,
                minSeparation=[API.NormPoint(x=0, y=0), API.NormPoint(x=1, y=1)],
            )
        ),
        API.DetectionSettings(
            sdSettings=API.SocialDistanceSettings(
                enabled=True,
                groundBoundary=[
                    API.NormPoint(x=0, y=0),
                    API.NormPoint(x=1, y=0),
                    API.NormPoint(x=1, y=1),
                    API.NormPoint(x=0, y=1),
                ],
                minSeparation=[API.NormPoint(x=0, y=0)],
            )
        ),
        API.DetectionSettings(
            lineCrossSettings=API.LineCrossSettings(
                enabled=True,
                boundary=[API.NormPoint(x=0, y=0.5)],
                inPoint=API.NormPoint(x=0.5, y=1),
            )
        ),
        API.DetectionSettings(
            lineCrossSettings=API.LineCrossSettings(
                enabled=True, boundary=[API.NormPoint(x=0, y=0.5), API.NormPoint(x=1, y=0.5)]
            )
        ),
    ],
    ids=[
        "three-areas",
        "area-outside",
        "three-ground-points",
        "one-separation-point",
        "one-line-point",
        "no-in-point",
    ],
)
def test_invalid_settings(api_server, settings):
    with api_server.client() as api:
        assert api.call("createSession", settings) == -1
        assert (
            api.call("runDetection", jpeg_input(ONE_FIGURE), settings).status
            == Code.ERR_INVALID_REQ
        )


def test_several_clients_at_once(api_server):
    errors = []

    def detect():
        try:
            with api_server.client() as api:
                for _ in range(5):
                    assert (
                        len(
                            api.call(
                                "runDetection", jpeg_input(ONE_FIGURE), PERSONS
                            ).objDetResult.objects
                        )
                        == 1
                    )
        except Exception as error:  # noqa: BLE001 - collected for the assertion below
            errors.append(error)

    threads = [threading.Thread(target=detect) for _ in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    assert errors == []


def test_client_checks_what_thriftpy2_does_not(api_server):
    with api_server.client() as api:
        with pytest.raises(ApiError, match="exactly one of its fields, not 2"):
            api.call(
                "runDetection",
                API.DetectionInput(
                    type=2,
                    params=API.InputParams(
                        encImageInput=API.EncodedImageInput(), imgFileInput=API.ImageFileInput()
                    ),
                ),
                PERSONS,
            )
        with pytest.raises(ApiError, match=r"objSettings.enabled is required"):
            api.call(
                "createSession", API.DetectionSettings(objSettings=API.ObjectDetectionSettings())
            )
        with pytest.raises(ApiError, match=r"boundary\[1\].y is required"):
            api.call(
                "createSession",
                API.DetectionSettings(
                    lineCrossSettings=API.LineCrossSettings(
                        enabled=True, boundary=[API.NormPoint(x=0, y=0), API.NormPoint(x=1)]
                    )
                ),
            )
        assert api.call("getStatus").initStatus == Code.SUCCESS


def test_client_reconnects_after_a_dropped_connection(tmp_path):
    from conftest import start_local_server, stop_local_server

    server = start_local_server(tmp_path, "tcp", "--license", "k", "--detector", "marker")
    port = int(server.connection[-1])
    with server.client() as api:
        assert api.call("getStatus").initStatus == Code.SUCCESS
        stop_local_server(server)  # the connection drops under the client
        with pytest.raises(ApiError, match="lost the connection to the API server over TCP"):
            api.call("getStatus")
        restarted = start_local_server(
            tmp_path, "tcp", "--license", "k", "--detector", "marker", port=port
        )
        try:
            assert api.call("getStatus").initStatus == Code.SUCCESS
        finally:
            stop_local_server(restarted)


def test_destroy_stops_the_server(tmp_path):
    from conftest import start_local_server

    server = start_local_server(tmp_path, "tcp", "--license", "k", "--detector", "marker")
    with server.client() as api:
        assert api.call("destroy") == Code.SUCCESS
    assert server.process.wait(timeout=10) == 0


def test_hog_detector_runs_on_a_frame():
    found = detection.HogPersonDetector()(
        np.full((480, 640, 3), 127, np.uint8), API.ObjectDetectionEnv.NORMAL
    )
    assert found == []  # a flat grey frame holds no person


# --- geometry with known boxes


class Scripted:
    """A detector that returns the boxes it is given, frame after frame."""

    def __init__(self, frames):
        self.frames = iter(frames)

    def __call__(self, image, env):
        return next(self.frames)


def person_at(x, y, w=0.04, h=0.2):
    return detection.Box(top=y - h, left=x - w / 2, bottom=y, right=x + w / 2)


def analyse(settings, frames):
    analysis = detection.Analysis(settings, Scripted(frames))
    for index in range(len(frames)):
        analysis.process(index, None)
    return analysis.output()


def line_settings(criteria, boundary=((0.0, 0.5), (1.0, 0.5)), in_point=(0.5, 0.9)):
    return API.DetectionSettings(
        lineCrossSettings=API.LineCrossSettings(
            enabled=True,
            boundary=[API.NormPoint(x=x, y=y) for x, y in boundary],
            inPoint=API.NormPoint(x=in_point[0], y=in_point[1]),
            crossCriteria=criteria,
        )
    )


DOWN_AND_UP = [[person_at(0.5, y)] for y in (0.3, 0.45, 0.55, 0.7, 0.55, 0.45, 0.3)]


@pytest.mark.parametrize(
    "criteria, expected",
    [
        (API.LineCrossCriteria.LINE_CROSS, [(2, "CROSS_IN")]),
        (API.LineCrossCriteria.LINE_CROSS_BOTH_DIR, [(2, "CROSS_IN"), (5, "CROSS_OUT")]),
        (API.LineCrossCriteria.LINE_SEGMENT_CROSS_BOTH_DIR, [(2, "CROSS_IN"), (5, "CROSS_OUT")]),
    ],
)
def test_line_crossing_directions(criteria, expected):
    output = analyse(line_settings(criteria), DOWN_AND_UP)
    found = [
        (c.second.frameIndex, API.CrossDirection._VALUES_TO_NAMES[c.second.direction])
        for c in output.lineCrossResult.violations
    ]
    assert found == expected
    first = output.lineCrossResult.violations[0].first
    assert first.frameIndex == 1 and first.bottom < 0.5


def test_line_crossing_is_judged_on_the_bottom_middle():
    # The box straddles the line from the first frame on; only its feet cross.
    frames = [[person_at(0.5, 0.45, h=0.4)], [person_at(0.5, 0.55, h=0.4)]]
    output = analyse(line_settings(API.LineCrossCriteria.LINE_CROSS), frames)
    assert len(output.lineCrossResult.violations) == 1


def test_segment_crossing_only_over_the_segment():
    segment = ((0.0, 0.5), (0.3, 0.5))
    beside = analyse(
        line_settings(API.LineCrossCriteria.LINE_SEGMENT_CROSS, segment, (0.1, 0.9)), DOWN_AND_UP
    )
    assert beside.lineCrossResult.violations == []
    whole_line = analyse(
        line_settings(API.LineCrossCriteria.LINE_CROSS, segment, (0.1, 0.9)), DOWN_AND_UP
    )
    assert len(whole_line.lineCrossResult.violations) == 1


def test_social_distance_in_ground_coordinates():
    # A ground trapezoid: far side (top) narrower, so equal pixel gaps are larger distances far away.
    settings = API.DetectionSettings(
        objSettings=API.ObjectDetectionSettings(enabled=True),
        sdSettings=API.SocialDistanceSettings(
            enabled=True,
            groundBoundary=[
                API.NormPoint(x=x, y=y) for x, y in [(0.4, 0.5), (0.6, 0.5), (1, 1), (0, 1)]
            ],
            minSeparation=[API.NormPoint(x=0.45, y=0.95), API.NormPoint(x=0.55, y=0.95)],
        ),
    )
    near = [person_at(0.46, 0.95), person_at(0.54, 0.95)]  # 0.08 apart where 0.1 is the minimum
    far = [
        person_at(0.47, 0.55),
        person_at(0.53, 0.55),
    ]  # 0.06 apart, but the ground is narrower there
    output = analyse(settings, [near, far])
    assert [
        (v.first.frameIndex, v.first.objectId, v.second.objectId)
        for v in output.socialDetResult.violations
    ] == [(0, 1, 2)]


def test_areas_keep_objects_whose_feet_are_inside():
    settings = API.DetectionSettings(
        detAreaSettings=API.DetectionAreaSettings(
            enabled=True,
            areas=[
                API.DetectionArea(top=0.5, left=0, bottom=1, right=0.5, name="door"),
                API.DetectionArea(top=0.5, left=0.5, bottom=1, right=1),
            ],
        )
    )
    output = analyse(settings, [[person_at(0.2, 0.9), person_at(0.8, 0.9), person_at(0.5, 0.3)]])
    assert sorted(o.name for o in output.objDetResult.objects) == ["area 2", "door"]


def test_tracker_keeps_ids_and_sessions_keep_600_frames():
    frames = [
        [person_at(0.1 + i * 0.0005, 0.8), person_at(0.9 - i * 0.0005, 0.8)] for i in range(650)
    ]
    output = analyse(PERSONS, frames)
    objects = output.objDetResult.objects
    assert {o.frameIndex for o in objects} == set(range(50, 650))
    assert {o.objectId for o in objects if o.left < 0.5} == {1}
    assert {o.objectId for o in objects if o.left > 0.5} == {2}


def test_only_moving_objects():
    settings = API.DetectionSettings(
        objSettings=API.ObjectDetectionSettings(enabled=True, detectOnlyMovingObjects=True)
    )
    frames = [[person_at(0.2, 0.8), person_at(0.5 + 0.05 * i, 0.8)] for i in range(3)]
    objects = analyse(settings, frames).objDetResult.objects
    assert {o.objectId for o in objects} == {2}


def test_busy_and_limit_codes_reach_the_person(tmp_path):
    """A Thrift server that answers each hard code in turn: the client names each one plainly."""
    import democli
    from conftest import local_aws

    codes = iter([Code.ERR_BUSY, Code.ERR_API_LIMIT, Code.ERR_NET_FAIL, Code.ERR_UNSUPPORTED])

    class Answering:
        def runDetection(self, input, settings):  # noqa: A002
            return API.DetectionOutput(status=next(codes))

    port = local_aws.free_port()
    listener = listen_tcp("127.0.0.1", port)
    serve = partial(serve_connection, handler=Answering(), max_message=1 << 20)
    threading.Thread(target=accept_forever, args=(listener, serve, None), daemon=True).start()
    picture = tmp_path / "p.jpg"
    cv2.imwrite(str(picture), ONE_FIGURE)
    messages = []
    for _ in range(4):
        args = democli.parser("x").parse_args(
            ["--host", "127.0.0.1", "--port", str(port), "--input", str(picture)]
        )
        with pytest.raises(ApiError) as error:
            democli.detect(args, PERSONS)
        messages.append(str(error.value))
    listener.close()
    assert "busy" in messages[0] and messages[0].endswith("(ERR_BUSY)")
    assert "API call limit" in messages[1] and messages[1].endswith("(ERR_API_LIMIT)")
    assert "licence service" in messages[2] and messages[2].endswith("(ERR_NET_FAIL)")
    assert messages[3].endswith("(ERR_UNSUPPORTED)")


def test_endpoint_from_settings(monkeypatch):
    import democli

    monkeypatch.setenv("SD_API_TRANSPORT", "2")
    monkeypatch.setenv("SD_API_TCP_PORT", "7000")
    args = democli.parser("x", detection=False).parse_args([])
    assert democli.endpoint(args) == Endpoint(transport=2, port=7000)
    assert str(Client(Endpoint(host="h", port=1)).endpoint) == "TCP h:1"
