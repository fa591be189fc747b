"""The demos as on Windows: no SIGHUP, SIGALRM or setitimer, and a console in cp1252 or ASCII.

Each demo runs as a process whose `signal` lacks what Windows' lacks (tests/windows_like) and
whose stdout and stderr are not UTF-8, against a local server started the same way. It must do
its work, print no traceback, show a name its console cannot take as a backslash escape, and
keep its JSON results exact (ASCII, the same as on a UTF-8 console).
"""

from __future__ import annotations

import json
import signal
import socket
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path

import pytest

import get_status
import wire
from conftest import DEMO, start_local_server, stop_local_server, windows_like_environment
from faults.api_peer import wait_for
from pictures import walk, write_picture, write_video
from sdclient import UNIX, ApiError, Client, Endpoint

ENCODINGS = ["cp1252", "ascii"]
# A name neither console can show whole: "ß" is in cp1252, not in ASCII; "東京" in neither.
NAME = "Straße-東京"
LICENCE = "windows-licence-7"
DEMO_SCRIPTS = sorted(
    path.name for path in DEMO.glob("*.py") if 'if __name__ == "__main__":' in path.read_text()
)


@dataclass
class Done:
    code: int
    out: bytes
    err: bytes
    encoding: str

    @property
    def text_out(self) -> str:
        return self.out.decode(self.encoding)  # strict: the child wrote what its console takes

    @property
    def text_err(self) -> str:
        return self.err.decode(self.encoding)


def as_console_shows(text: str, encoding: str) -> str:
    return text.encode(encoding, "backslashreplace").decode(encoding)


def run_demo(script: str, *argv: str, encoding: str, **extra: str) -> Done:
    done = subprocess.run(
        [sys.executable, str(DEMO / script), *argv],
        capture_output=True,
        env=windows_like_environment(encoding, **extra),
        timeout=120,
    )
    result = Done(done.returncode, done.stdout, done.stderr, encoding)
    assert b"Traceback" not in done.stderr, result.text_err
    if encoding == "ascii":
        assert done.stdout.isascii() and done.stderr.isascii()
    return result


@pytest.fixture(scope="module")
def server(tmp_path_factory):
    """The local Thrift server, itself started as on Windows (over TCP: Windows has no Unix sockets)."""
    running = start_local_server(
        tmp_path_factory.mktemp("windows-like"),
        "tcp",
        "--detector",
        "marker",
        "--license",
        LICENCE,
        "--max-sessions",
        "2",
        env=windows_like_environment("cp1252"),
    )
    yield running
    stop_local_server(running)


@pytest.fixture(scope="module")
def rest_server(tmp_path_factory):
    running = start_local_server(
        tmp_path_factory.mktemp("windows-like-rest"),
        "rest",
        "--detector",
        "marker",
        "--license",
        LICENCE,
        env=windows_like_environment("ascii"),
    )
    yield running
    stop_local_server(running)


@pytest.fixture(scope="module")
def inputs(tmp_path_factory) -> dict[str, Path]:
    folder = tmp_path_factory.mktemp("inputs")
    walking = walk((0.5, 0.3), (0.5, 0.8), 20) + walk((0.5, 0.8), (0.5, 0.3), 20)
    return {
        "picture": write_picture(folder / f"{NAME}.png", [(0.1, 0.2, 0.08, 0.4)]),
        "pair": write_picture(folder / "pair.png", [(0.3, 0.4, 0.08, 0.4), (0.5, 0.4, 0.08, 0.4)]),
        "video": write_video(folder / f"{NAME}.mp4", walking),
        "long": write_video(folder / "long.mp4", walk((0.1, 0.5), (0.9, 0.5), 150) * 2),
    }


def sessions(server) -> list:
    with server.client() as api:
        return api.call("getSessions")


def test_the_child_lacks_what_windows_lacks():
    """The premise: tests/windows_like takes effect in a child, and leaves this process alone."""
    probe = (
        "import json, signal, _signal, sys; names = ['SIGHUP', 'SIGALRM', 'setitimer', "
        "'getitimer', 'pthread_sigmask']; print(json.dumps([sys.stdout.encoding, "
        "[n for n in names if hasattr(signal, n) or hasattr(_signal, n)]]))"
    )
    done = subprocess.run(
        [sys.executable, "-c", probe],
        capture_output=True,
        text=True,
        env=windows_like_environment("cp1252"),
        timeout=60,
    )
    assert json.loads(done.stdout) == ["cp1252", []], done.stderr
    assert hasattr(signal, "SIGHUP") and hasattr(signal, "setitimer")


@pytest.mark.parametrize("encoding", ENCODINGS)
def test_status_activation_and_sessions(server, encoding):
    status = run_demo("get_status.py", *server.connection, encoding=encoding)
    assert status.code == 0, status.text_err
    assert "API version: 2.1.0" in status.text_out
    assert "activated: yes (SUCCESS)" in status.text_out

    as_json = run_demo("get_status.py", *server.connection, "--json", encoding=encoding)
    assert as_json.code == 0 and json.loads(as_json.text_out)["initStatus"] == "SUCCESS"

    activated = run_demo(
        "activate_server.py", *server.connection, encoding=encoding, SD_API_LICENSE_KEY=LICENCE
    )
    assert activated.code == 0, activated.text_err
    assert "is activated" in activated.text_err and LICENCE not in activated.text_err

    cleared = run_demo("clear_sessions.py", *server.connection, encoding=encoding)
    assert cleared.code == 0 and "deleted 0 session(s)" in cleared.text_err


@pytest.mark.parametrize("encoding", ENCODINGS)
def test_a_picture_with_a_name_the_console_cannot_show(server, inputs, tmp_path, encoding):
    annotated = tmp_path / f"{NAME}-boxes.jpg"
    done = run_demo(
        "detection_demo.py",
        *server.connection,
        "--input",
        str(inputs["picture"]),
        "--output",
        str(annotated),
        encoding=encoding,
    )
    assert done.code == 0, done.text_err
    assert done.text_out.splitlines() == ["objects: 1 distinct (1)", "  frame 0: 1 person"]
    line = as_console_shows(f"annotated copy written to {annotated}", encoding)
    assert done.text_err.strip().splitlines()[-1] == line
    assert "\\u6771\\u4eac" in line  # 東京, escaped
    assert annotated.stat().st_size > 0


@pytest.mark.parametrize("encoding", ENCODINGS)
def test_json_results_stay_exact(server, inputs, encoding):
    """The same JSON, byte for byte, as on a UTF-8 console (one frame format: the same pixels)."""
    argv = [*server.connection, "--input", str(inputs["video"]), "--fps", "10", "--json"]
    argv += ["--frame-format", "jpeg"]
    argv += ["--line", "0,0.5,1,0.5", "--in-point", "0.5,0.9"]
    done = run_demo("linecross_demo.py", *argv, encoding=encoding)
    assert done.code == 0, done.text_err
    on_utf8 = subprocess.run(
        [sys.executable, str(DEMO / "linecross_demo.py"), *argv],
        capture_output=True,
        env=windows_like_environment("utf-8"),
        timeout=120,
    )
    assert done.out == on_utf8.stdout and done.out.isascii()
    assert len(json.loads(done.out)["lineCrossResult"]["violations"]) == 2


@pytest.mark.parametrize("encoding", ENCODINGS)
def test_every_detection_demo(server, inputs, encoding):
    connection = [*server.connection, "--input"]
    area = run_demo(
        "area_demo.py",
        *connection,
        str(inputs["picture"]),
        "--area",
        "0,0,1,0.5",
        encoding=encoding,
    )
    assert area.code == 0 and "objects: 1 distinct" in area.text_out, area.text_err

    ground = ["--ground", "0,0.5", "1,0.5", "1,1", "0,1", "--min-separation", "0.4,0.8", "0.6,0.8"]
    social = run_demo(
        "socialdist_demo.py", *connection, str(inputs["pair"]), *ground, encoding=encoding
    )
    assert social.code == 0, social.text_err
    assert "social distancing violations: 1" in social.text_out

    for script in ("mask_demo.py", "lpr_demo.py"):  # the local server does neither: one line
        refused = run_demo(script, *connection, str(inputs["picture"]), encoding=encoding)
        assert refused.code == 1
        assert refused.text_err.strip().splitlines() == [
            "error: runDetection: this server does not support that detection (ERR_UNSUPPORTED)"
        ]


@pytest.mark.parametrize("encoding", ENCODINGS)
def test_a_batch_names_its_inputs(server, inputs, tmp_path, encoding):
    argv = [*server.connection, "--input", str(inputs["picture"]), "--input", str(inputs["video"])]
    summary = run_demo("detection_demo.py", *argv, "--fps", "10", encoding=encoding)
    assert summary.code == 0, summary.text_err
    for path in (inputs["picture"], inputs["video"]):
        assert as_console_shows(f"{path}:", encoding) in summary.text_out.splitlines()

    as_json = run_demo(
        "detection_demo.py",
        *argv,
        "--fps",
        "10",
        "--json",
        "--output",
        str(tmp_path / "copies"),
        encoding=encoding,
    )
    assert as_json.code == 0, as_json.text_err
    lines = [json.loads(line) for line in as_json.text_out.splitlines()]
    assert {line["input"] for line in lines} == {str(inputs["picture"]), str(inputs["video"])}
    assert all(line["status"] == "SUCCESS" for line in lines)
    assert {p.name for p in (tmp_path / "copies").iterdir()} == {f"{NAME}.png", f"{NAME}.mp4"}


@pytest.mark.parametrize("encoding", ENCODINGS)
def test_rest_demo(rest_server, inputs, tmp_path, encoding):
    annotated = tmp_path / f"{NAME}-rest.jpg"
    done = run_demo(
        "http_demo.py",
        *rest_server.connection,
        "--input",
        str(inputs["picture"]),
        "--output",
        str(annotated),
        encoding=encoding,
    )
    assert done.code == 0, done.text_err
    assert done.text_out.splitlines()[0] == "1 object(s) found"
    assert as_console_shows(f"sending {inputs['picture']} to", encoding) in done.text_err
    assert annotated.exists()


@pytest.mark.parametrize("encoding", ENCODINGS)
def test_bad_input_is_one_line(server, tmp_path, encoding):
    missing = tmp_path / f"{NAME}-missing.png"
    done = run_demo(
        "detection_demo.py", *server.connection, "--input", str(missing), encoding=encoding
    )
    assert done.code == 2
    assert done.text_err.strip().splitlines() == [
        as_console_shows(f"error: {missing}: no such file", encoding)
    ]
    host = run_demo("get_status.py", "--host", "東京:x", encoding=encoding)
    assert host.code == 2 and len(host.text_err.strip().splitlines()) == 1
    assert "\\u6771\\u4eac" in host.text_err


@pytest.mark.parametrize("encoding", ENCODINGS)
def test_every_demo_has_help(encoding):
    for script in DEMO_SCRIPTS:
        done = run_demo(script, "--help", encoding=encoding)
        assert done.code == 0 and done.text_out.startswith("usage:"), (script, done.text_err)


@pytest.mark.parametrize("signum", [signal.SIGINT, signal.SIGTERM], ids=["SIGINT", "SIGTERM"])
def test_a_signal_still_deletes_the_session(server, inputs, signum):
    """Without SIGHUP the demo still handles Ctrl-C and SIGTERM: session deleted, one line."""
    process = subprocess.Popen(
        [
            sys.executable,
            str(DEMO / "detection_demo.py"),
            *server.connection,
            "--input",
            str(inputs["long"]),
            "--fps",
            "10",
            "--one-at-a-time",
        ],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        env=windows_like_environment("cp1252"),
    )
    try:
        assert wait_for(lambda: len(sessions(server)) == 1, timeout=30), "no session opened"
        time.sleep(0.2)
        process.send_signal(signum)
        err = process.stderr.read().decode("cp1252")
        assert process.wait(timeout=60) == 128 + signum, err
    finally:
        process.stderr.close()
        process.kill()
        process.wait()
    assert "Traceback" not in err, err
    last = "interrupted" if signum == signal.SIGINT else "stopped by SIGTERM"
    assert err.strip().splitlines()[-1] == last, err
    assert sessions(server) == []


def test_no_unix_sockets(monkeypatch, capsys, tmp_path):
    """Python on Windows has no AF_UNIX: transport 2 is refused in one line, not a traceback."""
    monkeypatch.delattr(socket, "AF_UNIX")
    line = (
        "error: transport 2 (SD_API_TRANSPORT or --transport) is a Unix socket, and Python has "
        "none on this system: use 1 (TCP)"
    )
    for argv, setting in ((["--transport", "2"], "1"), ([], "2")):
        monkeypatch.setenv("SD_API_TRANSPORT", setting)
        capsys.readouterr()
        with pytest.raises(SystemExit) as stop:
            get_status.main(argv)
        assert stop.value.code == 2
        assert capsys.readouterr().err.strip().splitlines() == [line]
    with (
        pytest.raises(ApiError, match="no Unix sockets here; use TCP"),
        Client(Endpoint(transport=UNIX, unix_socket=str(tmp_path / "s.sock"))) as api,
    ):
        api.call("getStatus")


class SilentSocket:
    """A peer that never answers; remembers each wait it was asked for."""

    def __init__(self) -> None:
        self.waits: list[float] = []

    def settimeout(self, seconds: float) -> None:
        self.waits.append(seconds)

    def recv(self, _size: int) -> bytes:
        time.sleep(self.waits[-1])
        raise TimeoutError("timed out")


def test_a_wait_for_an_answer_is_cut_in_slices():
    """On Windows Ctrl-C ends no socket wait early: no single wait outlasts a slice."""
    peer = SilentSocket()
    start = time.monotonic()
    with pytest.raises(TimeoutError):
        wire.MessageReader(peer).read(1.0)
    assert 1.0 <= time.monotonic() - start < 2.0
    assert len(peer.waits) >= 4 and max(peer.waits) <= wire.WAIT_SLICE
