"""No interruption leaves anything billing: Ctrl-C at every step's AWS call and at every wait.

Each script of the tutorial runs as a process against moto_server through the fault proxy
(tests/faults/aws_proxy.py). At its AWS call: the proxy holds the request, the script gets
SIGINT while it waits for the answer, and the request then reaches moto anyway, as one already
sent reaches AWS (so an interrupted run_task.py leaves a task running). At its wait: the proxy
makes tasks look slow, as Fargate's are (PENDING before RUNNING, DEPROVISIONING before
STOPPED), and SIGINT lands while the script waits. After each interruption, stop_task.py and
delete_cluster.py (what the README says to run) must leave no running task and no cluster.
"""

from __future__ import annotations

import itertools
import signal
import subprocess
import sys
import time

import pytest

import create_cluster
import delete_cluster
import describe_clusters
import describe_task
import list_task_definition
import list_tasks
import register_task_definition
import run_task
import stop_task
import store_license
from conftest import ROOT, script_environment
from faults.aws_proxy import AwsFaultProxy

KEY = "interrupt-test-licence-key"
HOLD = 1.0  # seconds the proxy holds a request: SIGINT lands within them
CLUSTERS = itertools.count(1)

# The tutorial in order: each script, the AWS operation it is interrupted at, its arguments.
TUTORIAL = [
    (create_cluster, "CreateCluster", []),
    (describe_clusters, "DescribeClusters", []),
    (store_license, "PutParameter", []),
    (register_task_definition, "RegisterTaskDefinition", []),
    (list_task_definition, "ListTaskDefinitions", []),
    (run_task, "RunTask", []),
    (list_tasks, "ListTasks", []),
    (describe_task, "DescribeTasks", ["--interval", "5"]),
    (stop_task, "StopTask", ["--interval", "5"]),
    (delete_cluster, "DeleteCluster", []),
]
# The waits, and how the proxy makes the task look while the script waits.
WAITS = {describe_task: ("RUNNING", "PENDING"), stop_task: ("STOPPED", "DEPROVISIONING")}
CASES = [(index, "call") for index in range(len(TUTORIAL))] + [
    (index, "wait") for index, (script, _, _) in enumerate(TUTORIAL) if script in WAITS
]


def slow_tasks(seen: str, shown: str):
    def change(answer: dict) -> dict:
        for task in answer.get("tasks", []):
            if task.get("lastStatus") == seen:
                task["lastStatus"] = shown
        return answer

    return change


def in_process(script, *argv: str) -> int:
    return script.main(list(argv))


@pytest.mark.parametrize(
    "index, point", CASES, ids=[f"{TUTORIAL[i][0].__name__}-{p}" for i, p in CASES]
)
def test_interrupt_leaves_nothing_billing(fargate, clean_settings, capsys, index, point):
    script, operation, argv = TUTORIAL[index]
    cluster = f"intr-{next(CLUSTERS):05d}-x"  # fixed width: moto matches names as substrings
    settings = {**fargate.settings(cluster), "LICENSE_SECRET": "/sd-apiserver/license"}
    for name, value in {**settings, "AWS_ENDPOINT_URL": fargate.server.endpoint}.items():
        clean_settings.setenv(name, value)
    clean_settings.setenv("SD_API_LICENSE_KEY", KEY)
    for earlier, _, earlier_argv in TUTORIAL[:index]:  # the steps before, as a person ran them
        if earlier is describe_task:
            earlier_argv = ["--interval", "0"]
        assert in_process(earlier, *earlier_argv) == 0, capsys.readouterr().err
    clean_settings.delenv("SD_API_LICENSE_KEY")

    with AwsFaultProxy(fargate.server.endpoint) as proxy:
        if point == "call":
            proxy.hold(operation, seconds=HOLD, times=1)
        else:
            proxy.edit("DescribeTasks", slow_tasks(*WAITS[script]))
        env = script_environment(fargate, proxy, cluster, SD_API_LICENSE_KEY=KEY)
        env.update(settings, PYTHONUNBUFFERED="1")
        process = subprocess.Popen(
            [sys.executable, f"{script.__name__}.py", *argv],
            cwd=ROOT,
            env=env,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        seen = []
        try:
            if point == "call":
                proxy.wait_for(operation, timeout=60)
                held_until = time.monotonic() + HOLD
            else:
                for line in process.stderr:
                    seen.append(line)
                    if line.startswith("waiting: "):
                        break
                else:
                    pytest.fail(f"{script.__name__} never waited: {''.join(seen)}")
            process.send_signal(signal.SIGINT)
            out, err = process.communicate(timeout=60)
        finally:
            if process.poll() is None:
                process.kill()
                process.wait()
        if point == "call":
            # The held request reaches moto after the script has gone, as a sent one reaches AWS.
            time.sleep(max(0.0, held_until - time.monotonic()) + 0.2)
    err = "".join(seen) + err
    assert process.returncode == 130, err
    assert "Traceback" not in err
    last = err.strip().splitlines()[-1]
    assert last.startswith("interrupted")
    if point == "call":
        assert f"while waiting for AWS ({operation})" in last
    assert KEY not in out + err

    ecs = fargate.server.client("ecs")
    if script is run_task and point == "call":  # ECS started it, nobody heard: it bills
        assert fargate.running(cluster)

    # What the README says to run after an interruption.
    assert in_process(stop_task, "--interval", "0") == 0, capsys.readouterr().err
    assert in_process(delete_cluster) == 0, capsys.readouterr().err
    assert fargate.running(cluster) == []
    clusters = ecs.describe_clusters(clusters=[cluster])["clusters"]
    assert all(each["status"] == "INACTIVE" for each in clusters)
