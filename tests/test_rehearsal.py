"""`make rehearse`: the whole tutorial, in order, against local stand-ins; nothing outlives it."""

import os
import re
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from conftest import ROOT

STEPS_IN_ORDER = [
    "$ python3 store_license.py",
    "$ python3 create_prerequisites.py --cidr 127.0.0.1/32",
    "$ python3 check_prerequisites.py",
    "$ python3 create_cluster.py",
    "$ python3 describe_clusters.py",
    "$ python3 register_task_definition.py",
    "$ python3 list_task_definition.py",
    "$ python3 run_task.py",
    "$ python3 list_tasks.py",
    "$ python3 describe_task.py",
    "$ python3 get_status.py",
    "$ python3 detection_demo.py",
    "$ python3 logs.py --lines 20",
    "$ python3 stop_task.py",
    "$ python3 list_tasks.py",
    "$ python3 delete_cluster.py",
    "$ python3 store_license.py --delete",
    "$ python3 delete_prerequisites.py",
]
BY_HAND = STEPS_IN_ORDER.index("$ python3 stop_task.py")


def rehearse(*args: str, tmp: Path | None = None) -> subprocess.Popen:
    """The rehearsal as `make rehearse` runs it, with a temp directory of its own to watch."""
    env = {name: value for name, value in os.environ.items() if not name.startswith("AWS_")}
    if tmp:
        env["TMPDIR"] = str(tmp)
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


@pytest.fixture
def tmp(tmp_path):
    """A temp directory for the rehearsal; empty at the end, or something was left behind."""
    folder = tmp_path / "tmp"
    folder.mkdir()
    return folder


def test_rehearsal_runs_every_step_in_order_and_leaves_nothing(tmp):
    process = rehearse(tmp=tmp)
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
    # Ready means answering: describe_task.py met the server before it said "try the demos".
    assert re.search(r"the server answers at 127[.\d]+:\d+: server \S+ \(API \S+\), activated", output)
    # The awslogs driver's part: the server's own lines, read back from the local CloudWatch Logs.
    shown = output.split("$ python3 logs.py --lines 20")[1].split("===")[0]
    assert re.search(r"\d{4}-\d\d-\d\d \d\d:\d\d:\d\dZ local API server listening on TCP", shown)
    assert '"taskArns": []' in output
    assert "rehearsal passed" in output
    # The cost lines (moto has no Price List: the shipped table, saying so), a forgotten
    # trial on Fargate Spot, and the idle stop ending it, under busybox sh when installed.
    assert "cost: $0.20 an hour for 1 task (4 vCPU, 8 GiB, Fargate On-Demand" in output
    assert re.search(r"task \S+: costs \$0\.20 an hour .* at most \$0\.81 more", output)
    assert "shipped with this project, as the Price List API answered" in output
    assert "Fargate Spot priced as On-Demand" in output
    idle_stop = output.split("A forgotten trial: a task on Fargate Spot")[1]
    if shutil.which("busybox"):
        assert "its command runs here under busybox sh" in idle_stop
        assert "no connection to port" in idle_stop
    assert "the lifetime container exited 3 after 1 minute without a connection" in idle_stop
    pids = started_pids(output)
    assert len(pids) == 2  # moto_server and the API server
    assert not any(alive(pid) for pid in pids)
    assert "ok: role sd-apiserver-demo-execution trusts ecs-tasks" in output
    assert "ok: role sd-apiserver-demo-execution can read LICENSE_SECRET" in output
    assert list(tmp.iterdir()) == []


def test_rehearsal_like_aws_shows_the_waits_a_real_user_sees(tmp):
    """make rehearse LIKE_AWS=1: the steps behind a local AWS that lags as AWS documents."""
    process = rehearse("--like-aws", tmp=tmp)
    output, _ = process.communicate(timeout=300)
    assert process.returncode == 0, output
    described = output.split("$ python3 describe_task.py")[1]
    waits = [
        "no task of ours listed in cluster sd-rehearsal yet",
        "not known to ECS yet",
        "PROVISIONING",
        "PENDING",
        "waiting for its public IP to show",
        "is RUNNING at 127.",
    ]
    positions = [described.index(wait) for wait in waits]
    assert positions == sorted(positions), described
    registered = output.split("$ python3 register_task_definition.py")[1]
    assert "ECS cannot assume" in registered.split("$ python3")[0]
    assert "rehearsal passed" in output
    assert not any(alive(pid) for pid in started_pids(output))
    assert list(tmp.iterdir()) == []


def test_ctrl_c_stops_everything(tmp):
    process = rehearse(tmp=tmp)
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
    assert list(tmp.iterdir()) == []


def test_ctrl_c_during_the_idle_stop_stops_everything(tmp):
    process = rehearse(tmp=tmp)
    seen = []
    for line in process.stdout:
        seen.append(line)
        if "its command runs here" in line or "busybox is not installed" in line:
            break
    process.send_signal(signal.SIGINT)
    rest, _ = process.communicate(timeout=60)
    output = "".join(seen) + rest
    assert process.returncode == 130, output
    assert "rehearsal interrupted" in output
    time.sleep(0.2)
    assert not any(alive(pid) for pid in started_pids(output))
    # Nor the lifetime container's command, nor its sleep: no busybox of this run is left
    # (found by the TMPDIR it inherited, this test's own).
    assert not [
        pid
        for pid in os.listdir("/proc")
        if pid.isdigit() and f"TMPDIR={tmp}" in _environ_of(pid) and _is_busybox(pid)
    ]
    assert list(tmp.iterdir()) == []


def _environ_of(pid: str) -> str:
    try:
        with open(f"/proc/{pid}/environ", "rb") as environ:
            return environ.read().decode(errors="replace")
    except OSError:
        return ""


def _is_busybox(pid: str) -> bool:
    try:
        return os.readlink(f"/proc/{pid}/exe").endswith("busybox")
    except OSError:
        return False


def test_keep_stops_before_step_6_and_its_instructions_work_and_clean_up(tmp):
    process = rehearse("--keep", tmp=tmp)
    output, _ = process.communicate(timeout=300)
    pids = started_pids(output)
    try:
        assert process.returncode == 0, output
        for step in STEPS_IN_ORDER[:BY_HAND]:
            assert step in output
        before_step_6 = output.split("Still running")[0]
        assert "$ python3 stop_task.py" not in before_step_6
        assert "$ python3 delete_cluster.py" not in before_step_6
        assert len(pids) == 2 and all(alive(pid) for pid in pids)
        [workdir] = tmp.iterdir()  # kept, as the instructions say, until their rm -rf
        lines = output.split("Paste these lines into a shell")[1].splitlines()[2:]
        paste = lines[: lines.index("")]
        clean_up = [
            line
            for line in lines
            if line.startswith(("python3 stop", "python3 delete", "kill", "rm -rf"))
        ]
        assert any(line.startswith(". ") and "activate" in line for line in paste)
        assert str(workdir) in clean_up[-1]
        endpoint = re.search(r"answers at (127\.[\d.]+):(\d+)", output)
        assert endpoint

        # By hand: the task is still RUNNING where the server answers; the demos reach it.
        env = {k: v for k, v in os.environ.items() if not k.startswith("AWS_")}
        by_hand = subprocess.run(
            ["bash", "-c", "set -e\n" + "\n".join(paste)],
            cwd=ROOT,
            env=env,
            capture_output=True,
            text=True,
            timeout=120,
        )
        assert by_hand.returncode == 0, by_hand.stderr
        assert f"is RUNNING at {endpoint.group(1)}" in by_hand.stderr
        assert "activated: yes" in by_hand.stdout + by_hand.stderr
        assert "local API server listening" in by_hand.stdout  # logs.py, after the rehearsal

        # The clean-up it prints leaves nothing: no task, no process, no file.
        done = subprocess.run(
            ["bash", "-c", "set -e\n" + "\n".join(paste[:3] + clean_up)],
            cwd=ROOT,
            env=env,
            capture_output=True,
            text=True,
            timeout=120,
        )
        assert done.returncode == 0, done.stderr
        assert "is STOPPED" in done.stderr and "is INACTIVE" in done.stderr
        deadline = time.monotonic() + 10
        while any(alive(pid) for pid in pids) and time.monotonic() < deadline:
            time.sleep(0.1)
        assert not any(alive(pid) for pid in pids)
        assert list(tmp.iterdir()) == []
    finally:
        for pid in pids:
            if alive(pid):
                os.kill(pid, signal.SIGTERM)


@pytest.mark.parametrize("keep, flag", [("1", True), ("0", False), ("", False)])
def test_make_keep_means_keep_only_when_1(keep, flag):
    dry_run = subprocess.run(
        ["make", "-n", "rehearse", f"KEEP={keep}"], cwd=ROOT, capture_output=True, text=True
    )
    [command] = [line for line in dry_run.stdout.splitlines() if "rehearsal.rehearse" in line]
    assert ("--keep" in command.split()) is flag


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


def test_make_install_uses_a_virtual_environment_not_the_system_pip():
    """Where the system's pip is externally managed, only a venv's pip may install."""
    # As a person runs it, not as a sub-make of `make test` (which would add its own lines).
    outside_make = {k: v for k, v in os.environ.items() if k not in ("MAKEFLAGS", "MAKELEVEL", "MFLAGS")}
    dry_run = subprocess.run(
        ["make", "--no-print-directory", "-n", "-B", "install"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        env=outside_make,
    )
    commands = dry_run.stdout.splitlines()
    assert commands[0] == "python3 -m venv .venv"
    installs = [command for command in commands if "pip install" in command]
    assert installs and all(command.startswith(".venv/bin/python -m pip") for command in installs)
    requirements = (ROOT / "requirements-dev.txt").read_text()
    for folder in ("", "demo/", "localserver/"):
        if (ROOT / folder / "requirements.txt").is_file():
            assert f"-r {folder}requirements.txt" in requirements
