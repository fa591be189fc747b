"""No interruption leaves anything billing: Ctrl-C at every step's AWS call and at every wait.

Each script of the tutorial runs as a process against moto_server, through a forwarder on
loopback that lets the request reach moto (so its effect happens, as on AWS) but holds the
answer until the script has been sent SIGINT. For the waits, the forwarder makes tasks look
slow, as Fargate's are (PENDING before RUNNING, DEPROVISIONING before STOPPED). After each
interruption, stop_task.py and delete_cluster.py (what the README says to run) must leave no
running task and no cluster.
"""

from __future__ import annotations

import http.client
import json
import os
import signal
import subprocess
import sys
import threading
import urllib.parse
import urllib.request
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

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
from conftest import ROOT
from rehearsal import local_aws

CLUSTER = "sd-interrupted"
KEY = "interrupt-test-licence-key"

# The tutorial in order: each script and the AWS operation whose answer is held.
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
# The waits, and how the forwarder makes the task look while the script waits.
WAITS = {
    describe_task: {'"lastStatus": "RUNNING"': '"lastStatus": "PENDING"'},
    stop_task: {'"lastStatus": "STOPPED"': '"lastStatus": "DEPROVISIONING"'},
}
CASES = [(index, "call") for index in range(len(TUTORIAL))] + [
    (index, "wait") for index, (script, _, _) in enumerate(TUTORIAL) if script in WAITS
]


def operation_of(headers, body: bytes) -> str:
    target = headers.get("X-Amz-Target")
    if target:
        return target.rsplit(".", 1)[-1]
    return urllib.parse.parse_qs(body.decode(errors="replace")).get("Action", [""])[0]


class Forwarder(ThreadingHTTPServer):
    """Loopback HTTP forwarder to moto that can hold one operation's answer or rewrite answers."""

    daemon_threads = True

    def __init__(self, moto_port: int) -> None:
        super().__init__(("127.0.0.1", 0), ForwardingHandler)
        self.moto_port = moto_port
        self.hold: str | None = None
        self.rewrite: dict[str, str] = {}
        self.held = threading.Event()
        self.release = threading.Event()

    @property
    def endpoint(self) -> str:
        return f"http://127.0.0.1:{self.server_address[1]}"


class ForwardingHandler(BaseHTTPRequestHandler):
    server: Forwarder

    def do_POST(self) -> None:
        body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
        operation = operation_of(self.headers, body)
        upstream = http.client.HTTPConnection("127.0.0.1", self.server.moto_port, timeout=30)
        headers = {k: v for k, v in self.headers.items() if k.lower() != "host"}
        upstream.request(self.command, self.path, body=body, headers=headers)
        answer = upstream.getresponse()
        content = answer.read()
        upstream.close()
        if operation == "DescribeTasks" and self.server.rewrite:
            text = json.dumps(json.loads(content))
            for old, new in self.server.rewrite.items():
                text = text.replace(old, new)
            content = text.encode()
        if operation == self.server.hold and not self.server.held.is_set():
            self.server.held.set()  # moto has done it; the script has not heard back
            self.server.release.wait(timeout=60)
        try:
            self.send_response(answer.status)
            for name, value in answer.getheaders():
                if name.lower() not in {"content-length", "transfer-encoding", "connection"}:
                    self.send_header(name, value)
            self.send_header("Content-Length", str(len(content)))
            self.end_headers()
            self.wfile.write(content)
        except OSError:
            pass  # the interrupted script has gone

    def log_message(self, *_: object) -> None:
        pass


@pytest.fixture(scope="module")
def moto_server():
    server = local_aws.MotoServer().start()
    yield server
    server.stop()


@pytest.fixture
def tutorial_settings(moto_server, clean_settings, tmp_path):
    """An empty local AWS with the prerequisites, and a .env for the scripts pointed at it."""
    # moto's own API: empty it, then keep tasks RUNNING until stopped, as real ECS does.
    for path, body in [
        ("/moto-api/reset", {}),
        (
            "/moto-api/state-manager/set-transition",
            {"model_name": "ecs::task", "transition": {"progression": "manual", "times": 10**9}},
        ),
    ]:
        request = urllib.request.Request(
            moto_server.endpoint + path, data=json.dumps(body).encode(), method="POST"
        )
        urllib.request.urlopen(request, timeout=10).close()
    ready = local_aws.create_prerequisites(
        moto_server.client("ec2"), moto_server.client("iam"), 9090, "127.0.0.1/32"
    )
    env_file = tmp_path / ".env"
    env_file.write_text(
        f"CLUSTER_NAME={CLUSTER}\n"
        "TASK_FAMILY_NAME=sd-apiserver\n"
        f"TASK_EXEC_ROLE={ready.role_arn}\n"
        f"SUBNET_NAME={ready.subnet_id}\n"
        f"SEC_GROUP_NAME={ready.group_id}\n"
        "LICENSE_SECRET=/sd-apiserver/license\n"
    )
    for name, value in local_aws.aws_environment(moto_server.endpoint).items():
        clean_settings.setenv(name, value)
    for name, value in {
        "CLUSTER_NAME": CLUSTER,
        "TASK_FAMILY_NAME": "sd-apiserver",
        "TASK_EXEC_ROLE": ready.role_arn,
        "SUBNET_NAME": ready.subnet_id,
        "SEC_GROUP_NAME": ready.group_id,
        "LICENSE_SECRET": "/sd-apiserver/license",
    }.items():
        clean_settings.setenv(name, value)
    return env_file


def in_process(script, *argv: str) -> int:
    return script.main(list(argv))


@pytest.mark.parametrize(
    "index, point", CASES, ids=[f"{TUTORIAL[i][0].__name__}-{p}" for i, p in CASES]
)
def test_interrupt_leaves_nothing_billing(
    moto_server, tutorial_settings, clean_settings, capsys, index, point
):
    script, operation, argv = TUTORIAL[index]
    clean_settings.setenv("SD_API_LICENSE_KEY", KEY)
    for earlier, _, earlier_argv in TUTORIAL[:index]:  # the steps before, as a person ran them
        if earlier is describe_task:
            earlier_argv = ["--interval", "0"]
        assert in_process(earlier, *earlier_argv) == 0, capsys.readouterr().err
    clean_settings.delenv("SD_API_LICENSE_KEY")

    forwarder = Forwarder(moto_server.port)
    if point == "call":
        forwarder.hold = operation
    else:
        forwarder.rewrite = WAITS[script]
    threading.Thread(target=forwarder.serve_forever, daemon=True).start()
    env = {
        "PATH": os.environ["PATH"],
        **local_aws.aws_environment(forwarder.endpoint),
        "ENV_FILE": str(tutorial_settings),
        "SD_API_LICENSE_KEY": KEY,
        "PYTHONUNBUFFERED": "1",
    }
    process = subprocess.Popen(
        [sys.executable, f"{script.__name__}.py", *argv],
        cwd=ROOT,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        seen = []
        if point == "call":
            assert forwarder.held.wait(timeout=60), f"{operation} never reached the forwarder"
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
        forwarder.release.set()
        if process.poll() is None:
            process.kill()
            process.wait()
        forwarder.shutdown()
        forwarder.server_close()
    err = "".join(seen) + err
    assert process.returncode == 130, err
    assert "Traceback" not in err
    assert err.strip().splitlines()[-1].startswith("interrupted")
    assert KEY not in out + err

    ecs = moto_server.client("ecs")
    if script is run_task:  # ECS started it, the script never heard: it bills until stopped
        assert ecs.list_tasks(cluster=CLUSTER, desiredStatus="RUNNING")["taskArns"]

    # What the README says to run after an interruption.
    assert in_process(stop_task, "--interval", "0") == 0, capsys.readouterr().err
    assert in_process(delete_cluster) == 0, capsys.readouterr().err
    assert ecs.list_tasks(cluster=CLUSTER, desiredStatus="RUNNING")["taskArns"] == []
    clusters = ecs.describe_clusters(clusters=[CLUSTER])["clusters"]
    assert all(cluster["status"] == "INACTIVE" for cluster in clusters)
