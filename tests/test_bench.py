"""The frame-path benchmark runs end to end (on a few frames; its figures are not asserted)."""

import subprocess
import sys

from conftest import ROOT


def test_benchmark_reports_every_path_on_both_links():
    result = subprocess.run(
        [sys.executable, str(ROOT / "bench" / "frame_path.py"), "--frames", "6", "--delay-ms", "5"],
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
    assert len(rows) == 8
    for row in rows:
        bytes_per_frame = int(row.split("|")[4].strip().replace(",", ""))
        calls_per_frame = float(row.split("|")[5])
        if "vendor" in row:
            assert (
                bytes_per_frame > 921_600 and calls_per_frame > 2
            )  # raw RGB and a result per frame
        elif "JPEG" in row:
            assert bytes_per_frame < 200_000 and 1 < calls_per_frame < 2
    assert "the link's own limit for the demos' frames" in result.stdout
    assert "the client's own cost per frame" in result.stdout
