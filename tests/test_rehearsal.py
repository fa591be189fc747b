"""`make rehearse`: the whole tutorial, in order, against local stand-ins; nothing outlives it."""

import os
import re
import shlex
import shutil
import signal
import subprocess
import sys
import time

import pytest

from conftest import ROOT

STEPS_IN_ORDER = [
    "$ python3 create_cluster.py",
    "$ python3 describe_clusters.py",
    "$ python3 store_license.py",
    "$ python3 register_task_definition.py",
    "$ python3 list_task_definition.py",
    "$ python3 run_task.py",
    "$ python3 list_tasks.py",
    "$ python3 describe_task.py",
    "$ python3 get_status.py",
    "$ python3 detection_demo.py",
    "$ python3 stop_task.py",
    "$ python3 list_tasks.py",
    "$ python3 delete_cluster.py",
    "$ python3 store_license.py --delete",
]


def rehearse(*args: str) -> subprocess.Popen:
    env = {name: value for name, value in os.environ.items() if not name.startswith("AWS_")}
    # The rehearsal must not need (or read) anything of the user's: a .env that would break
    # every step, and real-looking AWS variables, are there to be ignored.
    env.update(AWS_PROFILE="someone-real", CLUSTER_NAME="not this one", ENV_FILE="/nonexistent")
    return subprocess.Popen(
        [sys.executable, "-m", "rehearsal.rehearse", *args],
        cwd=ROOT,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )


def started_pids(output: str) -> list[int]:
    return [int(pid) for pid in re.findall(r"\(pid (\d+)\)", output)]


def alive(pid: int) -> bool:
    try:
        with open(f"/proc/{pid}/stat") as stat:
            return stat.read().split(") ", 1)[1][0] != "Z"
    except FileNotFoundError:
        return False


def test_rehearsal_runs_every_step_in_order_and_leaves_nothing(tmp_path):
    process = rehearse()
    output, _ = process.communicate(timeout=300)
    assert process.returncode == 0, output
    positions = []
    start = 0
    for step in STEPS_IN_ORDER:
        start = output.index(step, start)
        positions.append(start)
    assert positions == sorted(positions)
    assert re.search(r"task \S+ is RUNNING at (127\.\d+\.\d+\.\d+)", output)
    # The server got its licence key from the secret at start: no activation call.
    assert "activated: yes" in output and "activate_server.py" not in output
    assert "rehearsal-licence" not in output
    assert "objects: 2 distinct (1, 2)" in output
    assert '"taskArns": []' in output
    assert "rehearsal passed" in output
    pids = started_pids(output)
    assert len(pids) == 2  # moto_server and the API server
    assert not any(alive(pid) for pid in pids)


def test_ctrl_c_stops_everything(tmp_path):
    process = rehearse()
    seen = []
    for line in process.stdout:
        seen.append(line)
        if "listening on TCP" in line:  # both local servers are up, mid-tutorial
            break
    process.send_signal(signal.SIGINT)
    rest, _ = process.communicate(timeout=60)
    output = "".join(seen) + rest
    assert process.returncode == 130, output
    assert "rehearsal interrupted" in output
    pids = started_pids(output)
    assert len(pids) == 2
    time.sleep(0.2)
    assert not any(alive(pid) for pid in pids)


def test_keep_leaves_a_local_setup_to_try_by_hand():
    process = rehearse("--keep")
    output, _ = process.communicate(timeout=300)
    pids = started_pids(output)
    try:
        assert process.returncode == 0, output
        assert all(alive(pid) for pid in pids)
        export = next(line for line in output.splitlines() if line.startswith("export "))
        env = {**os.environ}
        for assignment in shlex.split(export)[1:]:
            name, value = assignment.split("=", 1)
            env[name] = value
        again = subprocess.run(
            [sys.executable, "create_cluster.py"],
            cwd=ROOT,
            env=env,
            capture_output=True,
            text=True,
            timeout=60,
        )
        assert again.returncode == 0, again.stderr
        assert "cluster sd-rehearsal is ACTIVE" in again.stderr
    finally:
        for pid in pids:
            os.kill(pid, signal.SIGTERM)
        kept = re.search(r"as a person's \.env: (\S+)/rehearsal\.env", output)
        if kept:  # the kept settings file's folder, left for the person, not for a test
            shutil.rmtree(kept.group(1), ignore_errors=True)


@pytest.mark.parametrize("script", ["rehearsal/rehearse.py"])
def test_failed_step_is_named(tmp_path, script):
    from rehearsal.rehearse import Rehearsal, RehearsalFailed

    rehearsal = Rehearsal(tmp_path)
    rehearsal.env = {"PATH": os.environ["PATH"]}
    with pytest.raises(
        RehearsalFailed,
        match=r"Step 9: broken failed: `python3 -c 'raise SystemExit\(3\)'` exited 3",
    ):
        rehearsal.step("Step 9: broken", "-c", "raise SystemExit(3)")
