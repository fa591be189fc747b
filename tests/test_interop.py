"""Interoperability with Apache Thrift's own Python runtime, using code generated from demo/api.thrift.

Both ways: the generated client talks to the local server, and our client (and the demos)
talk to a server built from the generated code.
"""

import json
import os
import shutil
import subprocess
import sys
import threading

import cv2
import pytest

import detection_demo
import linecross_demo
from conftest import DEMO, local_aws, start_local_server, stop_local_server
from localserver import detection, images
from pictures import ONE, scene, walk, write_picture, write_video
from sdclient import Client, Endpoint


@pytest.fixture(scope="module")
def generated(tmp_path_factory):
    """The `sdapi` package that Apache Thrift's compiler generates from our IDL."""
    compiler = shutil.which("thrift")
    if compiler is None:
        message = "the Thrift compiler is missing: apt-get install thrift-compiler"
        if os.environ.get("CI"):
            pytest.fail(message)
        pytest.skip(message)
    out = tmp_path_factory.mktemp("gen")
    subprocess.run(
        [compiler, "--gen", "py", "-out", str(out), str(DEMO / "api.thrift")], check=True
    )
    sys.path.insert(0, str(out))
    from sdapi import DetectionApi, ttypes

    yield DetectionApi, ttypes
    sys.path.remove(str(out))


def apache_client(generated, port):
    from thrift.protocol import TBinaryProtocol
    from thrift.transport import TSocket, TTransport

    DetectionApi, _ = generated
    transport = TTransport.TBufferedTransport(TSocket.TSocket("127.0.0.1", port))
    transport.open()
    return DetectionApi.Client(TBinaryProtocol.TBinaryProtocol(transport)), transport


def test_apache_client_against_the_local_server(generated, tmp_path):
    _, T = generated
    server = start_local_server(tmp_path, "tcp", "--detector", "marker", "--license", "k")
    client, transport = apache_client(generated, int(server.connection[-1]))
    try:
        status = client.getStatus()
        assert status.apiVersion == "2.1.0" and status.initStatus == T.ResultCode.SUCCESS

        jpeg = cv2.imencode(".jpg", scene([ONE]))[1].tobytes()
        frame = T.DetectionInput(
            type=T.DetectionInputType.IMG_BUFFER_ENCODED,
            params=T.InputParams(
                encImageInput=T.EncodedImageInput(
                    format=T.EncodedImageFormat.JPEG, buffer=jpeg, bufferLength=len(jpeg)
                )
            ),
        )
        settings = T.DetectionSettings(
            objSettings=T.ObjectDetectionSettings(enabled=True, env=T.ObjectDetectionEnv.BUSY)
        )
        output = client.runDetection(frame, settings)
        assert output.status == T.ResultCode.SUCCESS
        [found] = output.objDetResult.objects
        assert found.left == pytest.approx(ONE[0], abs=0.01)

        session = client.createSession(settings)
        assert [s.id for s in client.getSessions()] == [session]
        assert (
            client.getSessions()[0].detectionSettings.objSettings.env == T.ObjectDetectionEnv.BUSY
        )
        assert client.processInputForSession(session, 7, frame) == T.ResultCode.SUCCESS
        assert client.getSessionResult(session).objDetResult.objects[0].frameIndex == 7
        assert client.deleteSession(session) == T.ResultCode.SUCCESS
        assert client.clearSession(session).status == T.ResultCode.ERR_INVALID_REQ
    finally:
        transport.close()
        stop_local_server(server)


class CannedDetector:
    """A handler for the generated server: persons where a marker detector would find them."""

    def __init__(self, T):
        self.T = T
        self.sessions = {}
        self.detect = detection.MarkerDetector()

    def _objects(self, detection_input, frame_index):
        T = self.T
        pixels = images.decode_input(detection_input)  # raw or JPEG, by the same field names
        return [
            T.DetectedObject(
                name="person",
                objectId=n,
                top=b.top,
                left=b.left,
                bottom=b.bottom,
                right=b.right,
                frameIndex=frame_index,
                confidence=b.confidence,
                direction=T.CrossDirection.UNKNOWN,
            )
            for n, b in enumerate(self.detect(pixels, 1), 1)
        ]

    def getStatus(self):
        T = self.T
        return T.DetectorStatus(
            version="apache-gen",
            apiVersion="2.1.0",
            initStatus=T.ResultCode.SUCCESS,
            capability=T.DetectionCapability(numConcurrentSessions=3),
        )

    def runDetection(self, detection_input, settings):
        T = self.T
        return T.DetectionOutput(
            status=T.ResultCode.SUCCESS,
            objDetResult=T.ObjectDetectionResult(objects=self._objects(detection_input, 0)),
        )

    def createSession(self, settings):
        self.sessions[len(self.sessions) + 1] = []
        return len(self.sessions)

    def processInputForSession(self, session_id, frame_index, detection_input):
        self.sessions[session_id] += self._objects(detection_input, frame_index)
        return self.T.ResultCode.SUCCESS

    def clearSession(self, session_id):
        T = self.T
        objects = self.sessions[session_id]
        first, second = objects[0], objects[-1]
        second.direction = T.CrossDirection.CROSS_IN
        return T.DetectionOutput(
            status=T.ResultCode.SUCCESS,
            objDetResult=T.ObjectDetectionResult(objects=objects),
            lineCrossResult=T.LineCrossDetectionResult(
                violations=[T.LineCrossViolation(first=first, second=second)]
            ),
        )

    def deleteSession(self, session_id):
        self.sessions.pop(session_id)
        return self.T.ResultCode.SUCCESS

    def getSessions(self):
        return [self.T.DetectionSession(id=i) for i in self.sessions]


@pytest.fixture(params=["tcp", "unix"])
def generated_server(request, generated, tmp_path):
    from thrift.protocol import TBinaryProtocol
    from thrift.server import TServer
    from thrift.transport import TSocket, TTransport

    DetectionApi, T = generated
    handler = CannedDetector(T)
    if request.param == "unix":
        path = str(tmp_path / "gen.sock")
        socket, flags = (
            TSocket.TServerSocket(unix_socket=path),
            ["--transport", "2", "--unix-socket", path],
        )
    else:
        port = local_aws.free_port()
        socket, flags = (
            TSocket.TServerSocket(host="127.0.0.1", port=port),
            ["--host", "127.0.0.1", "--port", str(port)],
        )
    server = TServer.TThreadedServer(
        DetectionApi.Processor(handler),
        socket,
        TTransport.TBufferedTransportFactory(),
        TBinaryProtocol.TBinaryProtocolFactory(strictRead=True),
    )
    server.daemon = True
    socket.listen()
    server.serverTransport.listen = lambda: None  # already listening, so the port is ready now
    threading.Thread(target=server.serve, daemon=True).start()
    yield flags, handler
    socket.close()


def test_our_client_against_a_generated_server(generated_server, run, tmp_path):
    flags, handler = generated_server
    if "--port" in flags:
        endpoint = Endpoint(host="127.0.0.1", port=int(flags[-1]))
    else:
        endpoint = Endpoint(transport=2, unix_socket=flags[-1])
    with Client(endpoint) as api:
        status = api.call("getStatus")
    assert (status.version, status.apiVersion, status.capability.numConcurrentSessions) == (
        "apache-gen",
        "2.1.0",
        3,
    )

    picture = write_picture(tmp_path / "p.jpg", [ONE])
    result = run(detection_demo, *flags, "--input", str(picture), "--json")
    assert result.code == 0, result.err
    [found] = json.loads(result.out)["objDetResult"]["objects"]
    assert found["left"] == pytest.approx(ONE[0], abs=0.01) and found["direction"] == "UNKNOWN"

    video = write_video(tmp_path / "v.mp4", walk((0.3, 0.7), (0.7, 0.7), 10), fps=10)
    line = ["--line", "0.5,0,0.5,1", "--in-point", "0.9,0.5", "--fps", "10"]
    for frame_format in ("raw", "jpeg"):
        crossing = run(
            linecross_demo, *flags, "--input", str(video), *line, "--frame-format", frame_format
        )
        assert crossing.code == 0, crossing.err
        assert "frame 9: person 1 crossed IN" in crossing.out
        assert handler.sessions == {}  # the demo deleted its session
