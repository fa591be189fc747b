"""The throughput benchmark runs end to end on a small load (its figures are not asserted)."""

import subprocess
import sys

from conftest import ROOT


def test_throughput_benchmark_reports_every_row_and_limit():
    result = subprocess.run(
        [
            sys.executable,
            str(ROOT / "bench" / "throughput.py"),
            *("--frames", "12", "--vendor-frames", "2", "--images", "9", "--vendor-images", "2"),
            *("--work-ms", "5", "--delay-ms", "2"),
        ],
        capture_output=True,
        text=True,
        timeout=240,
    )
    assert result.returncode == 0, result.stderr
    rows = [
        line
        for line in result.stdout.splitlines()
        if line.startswith("| loopback") or line.startswith("| WAN")
    ]
    assert len(rows) == 3 + 2 + 3
    assert "raw RGB frames (round trip" in result.stderr  # loopback, default flags
    assert "JPEG frames (round trip" in result.stderr  # through the emulated tunnel
    assert "the link's limit for the bytes sent" in result.stdout
    assert "2 servers" in result.stdout and "their limit" in result.stdout
