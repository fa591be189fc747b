"""Ctrl-C, SIGTERM and SIGHUP on a demo process: the session is deleted, 128 + signal, one line."""

from __future__ import annotations

import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from conftest import DEMO, start_local_server, stop_local_server
from faults.api_peer import Answer, ApiPeer, wait_for
from pictures import walk, write_video

SIGNALS = [signal.SIGINT, signal.SIGTERM, signal.SIGHUP]
LAST_LINE = {
    signal.SIGINT: "interrupted",
    signal.SIGTERM: "stopped by SIGTERM",
    signal.SIGHUP: "stopped by SIGHUP",
}


@pytest.fixture(scope="module")
def server(tmp_path_factory):
    running = start_local_server(
        tmp_path_factory.mktemp("signals"), "tcp", "--detector", "marker", "--license", "k"
    )
    yield running
    stop_local_server(running)


@pytest.fixture(scope="module")
def long_video(tmp_path_factory):
    """Long enough that a demo is still sending frames when the signal comes."""
    frames = walk((0.1, 0.5), (0.9, 0.5), 150) * 2
    return write_video(tmp_path_factory.mktemp("video") / "long.mp4", frames, fps=10)


def sessions(server) -> list:
    with server.client() as api:
        return api.call("getSessions")


def start_demo(server, video: Path) -> subprocess.Popen:
    return subprocess.Popen(
        [
            sys.executable,
            str(DEMO / "detection_demo.py"),
            *server.connection,
            "--input",
            str(video),
            "--fps",
            "10",
            "--one-at-a-time",
        ],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        text=True,
    )


def handles_signals(process: subprocess.Popen) -> bool:
    """Whether the demo's own handlers are in place (Linux: the caught-signal mask)."""
    try:
        status = Path(f"/proc/{process.pid}/status").read_text()
    except OSError:
        return False
    caught = int(next(line for line in status.splitlines() if line.startswith("SigCgt:")).split()[1], 16)
    return all(caught >> (signum - 1) & 1 for signum in SIGNALS)


def finish(process: subprocess.Popen, signum: int) -> str:
    process.send_signal(signum)
    err = process.stderr.read()
    process.stderr.close()
    assert process.wait(timeout=60) == 128 + signum, err
    assert "Traceback" not in err, err
    assert err.strip().splitlines()[-1] == LAST_LINE[signum], err
    assert sum(line.startswith(("error", "interrupted", "stopped")) for line in err.splitlines()) == 1
    return err


@pytest.mark.skipif(not Path("/proc/self/status").exists(), reason="reads /proc")
@pytest.mark.parametrize("signum", SIGNALS, ids=lambda s: signal.Signals(s).name)
def test_signal_in_the_video_loop_deletes_the_session(server, long_video, signum):
    process = start_demo(server, long_video)
    try:
        assert wait_for(lambda: len(sessions(server)) == 1, timeout=30), "no session opened"
        time.sleep(0.2)  # frames are on their way
        finish(process, signum)
    finally:
        process.kill()
        process.wait()
    assert sessions(server) == []


@pytest.mark.skipif(not Path("/proc/self/status").exists(), reason="reads /proc")
@pytest.mark.parametrize("signum", SIGNALS, ids=lambda s: signal.Signals(s).name)
@pytest.mark.parametrize("delay", [0.0, 0.05, 0.3, 0.6])
def test_signal_at_start_up(server, long_video, signum, delay):
    """From the moment the demo runs its first line: imports, arguments, connecting, the session."""
    process = start_demo(server, long_video)
    try:
        assert wait_for(lambda: handles_signals(process), timeout=30)
        time.sleep(delay)
        finish(process, signum)
    finally:
        process.kill()
        process.wait()
    assert sessions(server) == []


def start_demo_against(peer, video: Path) -> subprocess.Popen:
    return subprocess.Popen(
        [sys.executable, str(DEMO / "detection_demo.py"), *peer.connection, "--input", str(video)],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        text=True,
    )


@pytest.mark.parametrize("signum", [signal.SIGTERM, signal.SIGINT])
def test_a_signal_while_the_session_is_created_still_deletes_it(long_video, signum):
    """The session's id is on its way when the signal comes: the demo waits for it, then deletes."""
    with ApiPeer({"createSession": Answer.valid(delay=0.5)}) as peer:
        process = start_demo_against(peer, long_video)
        try:
            assert wait_for(lambda: "createSession" in peer.methods(), timeout=30)
            finish(process, signum)
        finally:
            process.kill()
            process.wait()
        assert [call.args.sessionId for call in peer.calls if call.method == "deleteSession"] == [7]
        assert "processInputForSession" not in peer.methods()


def test_a_second_signal_does_not_cut_the_deletion_short(long_video):
    with ApiPeer({"deleteSession": Answer.valid(delay=0.5)}) as peer:
        process = start_demo_against(peer, long_video)
        try:
            assert wait_for(lambda: "processInputForSession" in peer.methods(), timeout=30)
            process.send_signal(signal.SIGTERM)
            assert wait_for(lambda: "deleteSession" in peer.methods(), timeout=30)
            asked = time.monotonic()
            finish(process, signal.SIGHUP)  # while deleteSession waits for its answer
            assert time.monotonic() - asked >= 0.4  # the demo waited for the answer
        finally:
            process.kill()
            process.wait()
        assert peer.methods().count("deleteSession") == 1
