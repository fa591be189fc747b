"""Standard output that cannot take the results: closed before start, a full disk, a reader gone.

Whatever the demo (one input, a batch whose lines come from worker threads, the REST demo):
one line on stderr, exit 1, no traceback.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys

import pytest

from conftest import DEMO
from faults.api_peer import ApiPeer
from faults.http_peer import HttpPeer, Reply
from pictures import ONE, write_picture

OK = json.dumps({"status": 1, "result": [{"data": []}]}).encode()
LINES = {
    "full-disk": "error: the results could not be written to standard output: No space left on device",
    "closed-at-start": "error: standard output is closed: the results would be lost (redirect it instead)",
    "reader-gone": "error: standard output was closed before the results were written",
}  # fmt: skip


def run_with_stdout(argv: list[str], kind: str) -> tuple[int, str]:
    if kind == "full-disk":
        with open("/dev/full", "w") as full:
            done = subprocess.run(argv, stdout=full, stderr=subprocess.PIPE, text=True, timeout=60)
        return done.returncode, done.stderr
    if kind == "closed-at-start":
        done = subprocess.run(
            argv, stderr=subprocess.PIPE, text=True, timeout=60, preexec_fn=lambda: os.close(1)
        )
        return done.returncode, done.stderr
    process = subprocess.Popen(argv, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    process.stdout.close()
    err = process.stderr.read()
    process.stderr.close()
    return process.wait(timeout=60), err


@pytest.mark.skipif(not os.path.exists("/dev/full"), reason="needs /dev/full")
@pytest.mark.parametrize("kind", sorted(LINES))
@pytest.mark.parametrize("shape", ["one image", "batch", "rest"])
def test_results_that_cannot_be_written_are_one_line(tmp_path, kind, shape):
    pictures = [write_picture(tmp_path / f"p{i}.jpg", [ONE]) for i in range(3)]
    if shape == "rest":
        with HttpPeer(lambda request: Reply(200, OK)) as peer:
            argv = [sys.executable, str(DEMO / "http_demo.py"), "-s", "127.0.0.1",
                    "-p", str(peer.port), "-i", str(pictures[0])]  # fmt: skip
            code, err = run_with_stdout(argv, kind)
    else:
        inputs = [str(pictures[0])] if shape == "one image" else [str(tmp_path)]
        with ApiPeer() as peer:
            argv = [sys.executable, str(DEMO / "detection_demo.py"), *peer.connection, "--json"]
            argv += [flag for each in inputs for flag in ("--input", each)]
            code, err = run_with_stdout(argv, kind)
    assert code == 1 and "Traceback" not in err and "Exception" not in err, err
    assert err.strip().splitlines()[-1] == LINES[kind]
