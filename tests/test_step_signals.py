"""SIGINT, SIGTERM and SIGHUP during each AWS call and each wait of the steps, and during
start-up: one line, exit 128 + the signal (130 for Ctrl-C), never a traceback.

Each script is a process against moto_server through a fault proxy that holds the answer of
the call under test, which gives the test its moment to send the signal. The cases run side
by side, each with its own proxy and cluster.
"""

import signal
import subprocess
import sys
from dataclasses import dataclass, field

import pytest

from conftest import ROOT, script_environment
from faults.aws_proxy import ANY, AwsFaultProxy

SIGNALS = [signal.SIGINT, signal.SIGTERM, signal.SIGHUP]

# Each AWS call of each step, in the order the step makes them, and the tasks it needs.
CALLS = [
    ("create_cluster.py", "CreateCluster", 0),
    ("describe_clusters.py", "DescribeClusters", 0),
    ("register_task_definition.py", "RegisterTaskDefinition", 0),
    ("list_task_definition.py", "ListTaskDefinitions", 0),
    ("run_task.py", "ListTasks", 0),
    ("run_task.py", "DescribeSecurityGroups", 0),
    ("run_task.py", "RunTask", 0),
    ("list_tasks.py", "ListTasks", 0),
    ("describe_task.py", "ListTasks", 1),
    ("describe_task.py", "DescribeTasks", 1),
    ("describe_task.py", "DescribeNetworkInterfaces", 1),
    ("describe_task.py", "DescribeTaskDefinition", 1),
    ("stop_task.py", "ListTasks", 1),
    ("stop_task.py", "StopTask", 1),
    ("stop_task.py", "DescribeTasks", 1),
    ("delete_cluster.py", "DescribeClusters", 0),
    ("delete_cluster.py", "ListTasks", 0),
    ("delete_cluster.py", "DeleteCluster", 0),
]


def _status(status):
    def change(answer):
        for task in answer.get("tasks", []):
            task["lastStatus"] = status
        return answer

    return change


# Each wait: the step, the status that keeps it waiting, and the tasks it needs.
WAITS = [("describe_task.py", "PROVISIONING"), ("stop_task.py", "DEPROVISIONING")]


@dataclass
class Case:
    script: str
    signum: int
    proxy: AwsFaultProxy
    held: str | None = None  # the call held, or None for a wait
    process: subprocess.Popen | None = None
    early_err: list[str] = field(default_factory=list)


def _start(case: Case, fargate, tasks: int) -> None:
    cluster = fargate.new_cluster(tasks=tasks)
    env = script_environment(fargate, case.proxy, cluster)
    case.process = subprocess.Popen(
        [sys.executable, str(ROOT / case.script), "--interval", "30"]
        if case.script in ("describe_task.py", "stop_task.py")
        else [sys.executable, str(ROOT / case.script)],
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        text=True,
    )


def _finish(cases: list[Case]) -> list[tuple[Case, int, str]]:
    results = []
    for case in cases:
        _, err = case.process.communicate(timeout=60)
        results.append((case, case.process.returncode, "".join(case.early_err) + err))
    return results


def _stop_all(cases: list[Case]) -> None:
    for case in cases:
        if case.process and case.process.poll() is None:
            case.process.kill()
            case.process.wait()
        case.proxy.stop()


def _assert_one_line_exit(case: Case, code: int, err: str) -> str:
    expected = "interrupted" if case.signum == signal.SIGINT else f"stopped by {case.signum.name}"
    assert code == 128 + case.signum, (case.script, case.held, case.signum.name, code, err)
    assert "Traceback" not in err, err
    last = err.strip().splitlines()[-1]
    assert last.startswith(expected), (case.script, case.held, err)
    assert sum(expected in line for line in err.splitlines()) == 1, err
    return last


def test_a_signal_during_each_aws_call_of_each_step(fargate):
    cases = []
    try:
        for index, (script, operation, tasks) in enumerate(CALLS):
            case = Case(script, SIGNALS[index % 3], AwsFaultProxy(fargate.server.endpoint).start())
            case.held = operation
            case.proxy.hold(operation, seconds=120)
            cases.append(case)
            _start(case, fargate, tasks)
        for case in cases:
            case.proxy.wait_for(case.held, timeout=60)
            case.process.send_signal(case.signum)
        for case, code, err in _finish(cases):
            last = _assert_one_line_exit(case, code, err)
            assert f"while waiting for AWS ({case.held})" in last, last
            if case.held == "RunTask":
                assert "a task may have started" in last and "stop_task.py" in last, last
    finally:
        _stop_all(cases)


def test_each_signal_during_each_wait(fargate):
    cases = []
    try:
        for script, status in WAITS:
            for signum in SIGNALS:
                case = Case(script, signum, AwsFaultProxy(fargate.server.endpoint).start())
                case.proxy.edit("DescribeTasks", _status(status))
                cases.append(case)
                _start(case, fargate, tasks=1)
        for case in cases:
            while True:  # until the step says it waits
                line = case.process.stderr.readline()
                assert line, "".join(case.early_err)
                case.early_err.append(line)
                if line.startswith("waiting: "):
                    break
            case.process.send_signal(case.signum)
        for case, code, err in _finish(cases):
            last = _assert_one_line_exit(case, code, err)
            assert "while waiting for AWS" not in last
    finally:
        _stop_all(cases)


# Modules that the plumbing imports after installing its handlers; PYTHONPROFILEIMPORTTIME makes
# the child say on stderr when each one is done, so the signal lands during the next imports.
IMPORTED = ["argparse", "signal", "dataclasses", "botocore.session", "constants"]


@pytest.mark.parametrize("signum", [signal.SIGINT, signal.SIGTERM], ids=lambda s: s.name)
@pytest.mark.parametrize("module", IMPORTED)
def test_a_signal_during_the_imports(fargate, aws_proxy, module, signum):
    aws_proxy.silence(ANY)
    env = script_environment(fargate, aws_proxy, "sd-start-up", PYTHONPROFILEIMPORTTIME="1")
    process = subprocess.Popen(
        [sys.executable, str(ROOT / "describe_clusters.py")],
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    for line in process.stderr:
        if line.rsplit("|", 1)[-1].strip() == module:
            break
    process.send_signal(signum)
    out, err = process.communicate(timeout=60)
    err = "".join(line for line in err.splitlines(True) if not line.startswith("import time:"))
    assert process.returncode == 128 + signum, (process.returncode, err)
    assert out == "" and err.count("\n") == 1 and "Traceback" not in err, err
    assert err.startswith("interrupted" if signum == signal.SIGINT else "stopped by SIGTERM")


def _partial_start(answer):
    answer["failures"] = [{"reason": "RESOURCE:ENI"}]
    return answer


def test_a_signal_during_the_undo_of_a_partial_start_names_the_tasks_left(fargate, aws_proxy):
    cluster = fargate.new_cluster()
    fargate.start_tasks(fargate.new_cluster(), 1)  # registers the task definition
    aws_proxy.edit("RunTask", _partial_start)
    aws_proxy.hold("StopTask", seconds=120)
    process = subprocess.Popen(
        [sys.executable, str(ROOT / "run_task.py"), "--count", "2"],
        env=script_environment(fargate, aws_proxy, cluster),
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        text=True,
    )
    aws_proxy.wait_for("StopTask", timeout=60)
    process.send_signal(signal.SIGTERM)
    _, err = process.communicate(timeout=60)
    assert process.returncode == 128 + signal.SIGTERM, err
    last = err.strip().splitlines()[-1]
    assert last.startswith("stopped by SIGTERM while waiting for AWS (StopTask)"), err
    left = fargate.running(cluster)
    assert len(left) == 2
    assert all(arn.rsplit("/", 1)[-1] in last for arn in left), last
