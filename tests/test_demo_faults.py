"""The demos against a hostile API peer: every fault on every call they make ends in one line.

Also: every --timeout honoured, answers that are valid Thrift but odd, and random bytes.
"""

from __future__ import annotations

import resource
import time

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import activate_server
import clear_sessions
import detection_demo
import get_status
from faults.answers import detection_outputs
from faults.api_peer import ALL_FAULTS, Answer, ApiPeer
from pictures import ONE, walk, write_picture, write_video

FAST = ["--timeout", "5"]
FIXTURES = [HealthCheck.function_scoped_fixture]


def peak_rss() -> int:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024


def one_error_line(err: str) -> str:
    """The error line, after checking it is the only one and no traceback came with it."""
    assert "Traceback" not in err, err
    errors = [line for line in err.splitlines() if line.startswith(("error", "warning"))]
    assert len(errors) == 1 and errors[0].startswith("error: "), err
    return errors[0]


@pytest.fixture(scope="module")
def video(tmp_path_factory):
    return write_video(tmp_path_factory.mktemp("video") / "walk.mp4", walk((0.2, 0.5), (0.8, 0.5), 12))


@pytest.fixture(scope="module")
def picture(tmp_path_factory):
    return write_picture(tmp_path_factory.mktemp("picture") / "one.jpg", [ONE])


def demo_for(method: str, picture, video):
    """The demo and arguments whose run makes the call `method`."""
    if method == "getStatus":
        return get_status, []
    if method == "getSessions":
        return clear_sessions, []
    if method == "init":
        return activate_server, ["--license", "k"]
    if method == "runDetection":
        return detection_demo, ["--input", str(picture)]
    return detection_demo, ["--input", str(video), "--fps", "10"]


SESSION_CALLS = ["createSession", "processInputForSession", "clearSession"]
CALLS = ["getStatus", "getSessions", "init", "runDetection", *SESSION_CALLS]


@pytest.mark.parametrize("fault", ALL_FAULTS, ids=repr)
@pytest.mark.parametrize("method", CALLS)
def test_every_fault_on_every_call_is_one_line(run, picture, video, method, fault):
    # processInputForSession: the fault comes on the fourth frame, with frames in flight.
    script = [Answer.valid()] * 3 + [fault] if method == "processInputForSession" else fault
    demo, flags = demo_for(method, picture, video)
    before = peak_rss()
    with ApiPeer({method: script}) as peer:
        started = time.monotonic()
        result = run(demo, *peer.connection, *FAST, *flags)
        elapsed = time.monotonic() - started
    assert result.code == 1, result.err
    line = one_error_line(result.err)
    assert line.startswith(f"error: {method}: "), line
    assert elapsed < 5
    assert peak_rss() - before < 100 * 2**20  # a 2 GB declared size allocated nothing
    if method in SESSION_CALLS[1:]:  # a session was open: deleted over a fresh connection
        # (calls already in flight on the dropped connection may be logged after it)
        [delete] = [call for call in peer.calls if call.method == "deleteSession"]
        assert delete.args.sessionId == 7
    assert result.out == ""


@pytest.mark.parametrize("method", CALLS)
def test_silence_ends_at_the_timeout(run, picture, video, method):
    demo, flags = demo_for(method, picture, video)
    with ApiPeer({method: Answer.silent()}) as peer:
        started = time.monotonic()
        result = run(demo, *peer.connection, "--timeout", "0.2", *flags)
        elapsed = time.monotonic() - started
    assert result.code == 1
    assert "no answer from the API server" in one_error_line(result.err)
    assert "within 0.2s" in result.err
    assert elapsed < 3


@pytest.mark.parametrize("method", ["getStatus", "clearSession"])
def test_a_trickled_answer_ends_at_the_timeout(run, picture, video, method):
    """The timeout bounds the whole answer, not the wait for each byte."""
    demo, flags = demo_for(method, picture, video)
    with ApiPeer({method: Answer.trickle(every=0.05)}) as peer:
        started = time.monotonic()
        result = run(demo, *peer.connection, "--timeout", "0.5", *flags)
        elapsed = time.monotonic() - started
    assert result.code == 1 and "within 0.5s" in one_error_line(result.err)
    assert elapsed < 3


@pytest.mark.parametrize("method", CALLS)
def test_a_late_valid_answer_within_the_timeout_is_taken(run, picture, video, method):
    demo, flags = demo_for(method, picture, video)
    with ApiPeer({method: Answer.valid(delay=0.2)}) as peer:
        result = run(demo, *peer.connection, "--timeout", "3", *flags)
    assert result.code == 0, result.err


def test_faults_over_a_unix_socket(run, tmp_path, video):
    for fault in (Answer.huge("list"), Answer.garbage(), Answer.cut(0.3)):
        with ApiPeer({"clearSession": fault}, unix_socket=tmp_path / "peer.sock") as peer:
            result = run(detection_demo, *peer.connection, *FAST, "--input", str(video))
        assert result.code == 1
        assert "Unix socket" in one_error_line(result.err)
        assert "deleteSession" in peer.methods()


@settings(max_examples=12, deadline=None, suppress_health_check=FIXTURES)
@given(timeout=st.floats(min_value=1e-9, max_value=0.3))
def test_every_positive_timeout_is_honoured(run, timeout):
    """Below a millisecond rounds up to one, never down to 0 (which would mean no limit)."""
    with ApiPeer({"getStatus": Answer.silent()}) as peer:
        started = time.monotonic()
        result = run(get_status, *peer.connection, "--timeout", repr(timeout))
        elapsed = time.monotonic() - started
    assert result.code == 1 and "no answer from the API server" in one_error_line(result.err)
    assert max(timeout, 0.001) <= elapsed < timeout + 2


@settings(max_examples=40, deadline=None, suppress_health_check=FIXTURES)
@given(data=st.binary(min_size=0, max_size=200))
def test_random_bytes_as_an_answer(run, data):
    with ApiPeer({"getStatus": Answer.raw(data, hang_up=True)}) as peer:
        result = run(get_status, *peer.connection, *FAST)
    assert result.code == 1 and one_error_line(result.err)


@settings(max_examples=30, deadline=None, suppress_health_check=FIXTURES)
@given(output=detection_outputs())
def test_odd_but_valid_answers_give_a_result_or_one_line(run, picture, tmp_path, output):
    annotated = tmp_path / "annotated.png"
    with ApiPeer({"runDetection": Answer.valid(output)}) as peer:
        result = run(
            detection_demo, *peer.connection, *FAST, "--input", str(picture), "--output", str(annotated)
        )
    assert "Traceback" not in result.err
    if result.code == 0:
        assert result.out.startswith(("objects", "social", "faces", "the answer holds no"))
        assert annotated.exists()
    else:
        assert result.code == 1 and one_error_line(result.err)
