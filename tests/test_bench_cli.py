"""The benchmarks as users run them: bad numbers refused in one line; a signal leaves nothing behind."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from conftest import ROOT

sys.path.insert(0, str(ROOT / "bench"))
import frame_path  # noqa: E402
import throughput  # noqa: E402

COUNTS = ["--frames", "--vendor-frames", "--images", "--vendor-images", "--slots"]
BAD = st.sampled_from(["0", "-1", "1.5", "x", "", "nan", "inf", "-inf", "1e9", "²", "10000000"])


@settings(max_examples=60, deadline=None)
@given(
    script=st.sampled_from(["throughput", "frame_path"]),
    flag=st.sampled_from([*COUNTS, "--work-ms", "--delay-ms", "--mbit"]),
    value=BAD,
)
def test_a_bad_number_is_refused_in_one_line_before_any_work(script, flag, value):
    module = {"throughput": throughput, "frame_path": frame_path}[script]
    if script == "frame_path" and flag not in ("--frames", "--delay-ms", "--mbit"):
        flag = "--frames"
    if flag in ("--work-ms", "--delay-ms") and value in ("0", "1.5"):
        value = "-1"  # 0 and 1.5 ms are fine delays
    if flag == "--mbit" and value == "1.5":
        value = "0"
    with pytest.raises(SystemExit) as stopped:
        module.main([f"{flag}={value}"])
    assert stopped.value.code == 2


@pytest.mark.parametrize("signum", [signal.SIGTERM, signal.SIGINT])
def test_a_signal_mid_benchmark_leaves_no_file_and_no_process(tmp_path, signum):
    env = {**os.environ, "TMPDIR": str(tmp_path)}
    process = subprocess.Popen(
        [sys.executable, str(ROOT / "bench" / "throughput.py"), "--frames", "400"],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        text=True,
        env=env,
    )
    deadline = time.monotonic() + 60
    while not any(tmp_path.iterdir()) and time.monotonic() < deadline:
        time.sleep(0.05)  # its temporary folder is made: the benchmark is under way
    time.sleep(1.0)
    process.send_signal(signum)
    err = process.communicate(timeout=60)[1]
    assert process.returncode == 128 + signum, err
    assert "Traceback" not in err
    assert err.splitlines()[-1] in ("benchmark interrupted", f"benchmark stopped by {signum.name}")
    assert list(tmp_path.iterdir()) == []
    assert not processes_naming(str(tmp_path))  # the demo processes it ran on its files


def processes_naming(text: str) -> list[str]:
    found = []
    for cmdline in Path("/proc").glob("[0-9]*/cmdline"):
        try:
            if text.encode() in cmdline.read_bytes():
                found.append(cmdline.parent.name)
        except OSError:
            pass  # ended meanwhile
    return found
