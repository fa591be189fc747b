"""Shared fixtures: an isolated environment, a local ECS (moto) with a ready VPC, script runners."""

from __future__ import annotations

import functools
import json
import os
import signal
import subprocess
import sys
import threading
from dataclasses import dataclass
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

# Before anything imports boto3 or constants: no real profile, .env or metadata service.
for name in list(os.environ):
    if name.startswith("AWS_") or name in {"ENV_FILE"}:
        del os.environ[name]
os.environ.update(
    AWS_EC2_METADATA_DISABLED="true",
    AWS_ACCESS_KEY_ID="testing-key-id",
    AWS_SECRET_ACCESS_KEY="testing-secret-do-not-print",
    AWS_DEFAULT_REGION="us-east-1",
    AWS_CONFIG_FILE=os.devnull,
    AWS_SHARED_CREDENTIALS_FILE=os.devnull,
    ENV_FILE=os.devnull,
    # moto's EC2 loads thousands of AMIs for every fresh backend; no test uses one.
    MOTO_EC2_LOAD_DEFAULT_AMIS="false",
    # No price cached by a real run is read, and none is written: a folder that cannot exist.
    XDG_CACHE_HOME=os.path.join(os.devnull, "no-cache"),
    # moto knows a task the moment it starts: a second of grace, not AWS's fifteen; the tests
    # of the grace itself set their own.
    ECS_GRACE_SECONDS="1",
)
for name in [n for n in os.environ if n.startswith("SD_") or n.startswith("TASK_")]:
    del os.environ[name]

from plumbing import clients, pricing  # noqa: E402

import boto3  # noqa: E402
from moto import mock_aws  # noqa: E402
from moto.moto_api import state_manager  # noqa: E402

import create_cluster  # noqa: E402
import delete_cluster  # noqa: E402
import describe_clusters  # noqa: E402
import describe_task  # noqa: E402
import list_task_definition  # noqa: E402
import list_tasks  # noqa: E402
import register_task_definition  # noqa: E402
import run_task  # noqa: E402
import stop_task  # noqa: E402
from rehearsal import local_aws  # noqa: E402

# The tutorial's step scripts, in its order.
TUTORIAL_STEPS = [
    create_cluster,
    describe_clusters,
    register_task_definition,
    list_task_definition,
    run_task,
    list_tasks,
    describe_task,
    stop_task,
    delete_cluster,
]

# The plumbing ends a script at once on a stop signal outside its body; pytest keeps its own ways
# (runner.run still installs its handlers while a script's body runs in process).
signal.signal(signal.SIGINT, signal.default_int_handler)
for _signum in (signal.SIGTERM, signal.SIGHUP):
    signal.signal(_signum, signal.SIG_DFL)

SETTING_NAMES = [
    "AWS_PROFILE_NAME",
    "CLUSTER_NAME",
    "TASK_FAMILY_NAME",
    "TASK_FAMILY_NAME_FULL",
    "IMAGE_NAME",
    "TASK_EXEC_ROLE",
    "SUBNET_NAME",
    "SEC_GROUP_NAME",
    "TASK_CPU",
    "TASK_MEMORY",
    "TASK_COUNT",
    "ASSIGN_PUBLIC_IP",
    "SD_API_TRANSPORT",
    "SD_API_TCP_PORT",
    "SD_API_TCP_LOCAL",
    "SD_DEBUG_CRASH",
    "EFS_FILE_SYSTEM_ID",
    "LOG_GROUP",
    "LOG_RETENTION_DAYS",
    "LICENSE_SECRET",
    "TASK_LIFETIME_MINUTES",
    "TASK_IDLE_MINUTES",
    "CAPACITY_PROVIDER",
    "AWS_CALL_TIMEOUT",
]
MY_ADDRESS = "203.0.113.7/32"
EXEC_ROLE = "arn:aws:iam::123456789012:role/ecsTaskExecutionRole"  # what moto gives the role


@dataclass
class Result:
    code: int
    out: str
    err: str

    def json(self):
        return json.loads(self.out)


@pytest.fixture
def run(capsys):
    """Call a script's main() in process; return its exit code and captured output."""

    def call(module, *argv: str) -> Result:
        capsys.readouterr()
        code = module.main(list(argv))
        captured = capsys.readouterr()
        return Result(code, captured.out, captured.err)

    return call


@pytest.fixture(autouse=True)
def only_loopback_servers(monkeypatch):
    """describe_task.py's ready check asks a server only on loopback in tests: any other
    address (54.0.0.1, made up by a stub) is taken as a server that answers, activated, and no
    packet leaves the machine."""
    from plumbing import ready

    import ipaddress

    real_ask = ready.ask

    def ask(host: str, port: int, transport: int, timeout: float = 5) -> ready.Answer:
        if ipaddress.ip_address(host).is_loopback:
            return real_ask(host, port, transport, timeout)
        status = {"version": "(not asked)", "apiVersion": "(not asked)", "activated": True}
        return ready.Answer(ready.READY, status=status)

    monkeypatch.setattr(ready, "ask", ask)


@pytest.fixture
def clean_settings(monkeypatch):
    for name in SETTING_NAMES:
        monkeypatch.delenv(name, raising=False)
    return monkeypatch


@dataclass
class LocalAws:
    ec2: object
    ecs: object
    vpc_id: str
    subnet_id: str
    group_id: str

    def give_public_ip(self, task_arn: str) -> str:
        return local_aws.give_public_ip(self.ecs, self.ec2, os.environ["CLUSTER_NAME"], task_arn)


@pytest.fixture
def aws(clean_settings):
    """moto's ECS and EC2 with what the tutorial's prerequisites ask of a person, and settings for them."""
    with mock_aws():
        # Keep tasks RUNNING until they are stopped, as real ECS does.
        state_manager.set_transition(
            model_name="ecs::task", transition={"progression": "manual", "times": 1_000_000_000}
        )
        ec2 = boto3.client("ec2")
        ecs = boto3.client("ecs")
        ready = local_aws.create_prerequisites(ec2, boto3.client("iam"), 9090, MY_ADDRESS)
        for name, value in {
            "CLUSTER_NAME": "sd-test",
            "TASK_FAMILY_NAME": "sd-apiserver",
            "TASK_EXEC_ROLE": ready.role_arn,
            "SUBNET_NAME": ready.subnet_id,
            "SEC_GROUP_NAME": ready.group_id,
        }.items():
            clean_settings.setenv(name, value)
        yield LocalAws(ec2, ecs, ready.vpc_id, ready.subnet_id, ready.group_id)


@pytest.fixture
def aws_calls(monkeypatch):
    """Every AWS operation the scripts call, in order, by name."""
    calls: list[str] = []
    real_client = clients.client

    def counting_client(service):
        aws_client = real_client(service)
        aws_client.meta.events.register(
            "before-call.*.*", lambda model, **_: calls.append(model.name)
        )
        return aws_client

    monkeypatch.setattr(clients, "client", counting_client)
    return calls


@pytest.fixture
def reused_clients(monkeypatch):
    """One client per service for the whole test: where making clients would dominate its time."""
    monkeypatch.setattr(clients, "client", functools.cache(clients.client))


@pytest.fixture
def stub(monkeypatch):
    """botocore Stubbers for answers moto cannot give; the scripts get the stubbed clients."""
    from botocore.stub import Stubber

    stubbers: dict[str, Stubber] = {}

    def stubber(service: str) -> Stubber:
        if service not in stubbers:
            stubbers[service] = Stubber(boto3.client(service))
            stubbers[service].activate()
        return stubbers[service]

    monkeypatch.setattr(clients, "client", lambda service: stubber(service).client)
    # The Price List client too: unstubbed, it answers an error, and the shipped table stands in.
    monkeypatch.setattr(
        pricing, "pricing_client", lambda profile=None, budget=25: stubber("pricing").client
    )
    yield stubber
    for each in stubbers.values():
        each.assert_no_pending_responses()


@pytest.fixture
def ready(aws, run):
    """A cluster and a registered task definition, as after steps 1 and 2."""
    import create_cluster
    import register_task_definition

    assert run(create_cluster).code == 0
    assert run(register_task_definition).code == 0
    return aws


# --- demo/ and its local API server

DEMO = ROOT / "demo"
sys.path.insert(0, str(DEMO))


@dataclass
class LocalServer:
    process: subprocess.Popen
    connection: list[str]  # the demo flags that reach it

    def client(self):
        import sdclient

        if "--unix-socket" in self.connection:
            path = self.connection[self.connection.index("--unix-socket") + 1]
            return sdclient.Client(sdclient.Endpoint(transport=sdclient.UNIX, unix_socket=path))
        port = int(self.connection[self.connection.index("--port") + 1])
        return sdclient.Client(sdclient.Endpoint(host="127.0.0.1", port=port))


def start_local_server(
    tmp_path, transport: str, *extra: str, port: int | None = None, env: dict | None = None
) -> LocalServer:
    """`python -m localserver` over "unix", "tcp" (Thrift) or "rest", once it listens."""
    if transport == "rest":
        port = port or local_aws.free_port()
        flags = ["--transport", "4", "--host", "127.0.0.1", "--port", str(port)]
        connection = ["--host", "127.0.0.1", "--port", str(port)]
    elif transport == "unix":
        path = str(tmp_path / "apiserver.sock")
        flags, connection = (
            ["--transport", "2", "--unix-socket", path],
            ["--transport", "2", "--unix-socket", path],
        )
    else:
        port = port or local_aws.free_port()
        flags = ["--transport", "1", "--port", str(port)]
        connection = ["--transport", "1", "--host", "127.0.0.1", "--port", str(port)]
    process = subprocess.Popen(
        [sys.executable, "-m", "localserver", *flags, *extra],
        cwd=ROOT,
        env={**os.environ, **(env or {})},
        stderr=subprocess.PIPE,
        text=True,
    )
    line = process.stderr.readline()  # "local API server listening on ..." once it accepts
    assert "listening" in line, line
    threading.Thread(target=process.stderr.read, daemon=True).start()  # keep the pipe drained
    return LocalServer(process, connection)


def stop_local_server(server: LocalServer) -> None:
    server.process.terminate()
    server.process.wait(timeout=10)


@pytest.fixture(scope="module", params=["tcp", "unix"])
def api_server(request, tmp_path_factory):
    """The local API server, activated, finding green figures, over TCP and over a Unix socket."""
    server = start_local_server(
        tmp_path_factory.mktemp("sock"),
        request.param,
        "--detector",
        "marker",
        "--license",
        "test-licence",
        "--max-sessions",
        "2",
    )
    yield server
    stop_local_server(server)


@pytest.fixture
def inactive_server(tmp_path):
    server = start_local_server(tmp_path, "tcp", "--detector", "marker", "--license", "")
    yield server
    stop_local_server(server)


# --- the AWS fault layer: moto_server on loopback, a fault proxy in front of it


@dataclass
class Fargate:
    """moto_server with the tutorial's prerequisites: a place to start tasks in."""

    server: local_aws.MotoServer
    ready: local_aws.Prerequisites
    clusters: int = 0

    def settings(self, cluster: str) -> dict[str, str]:
        return {
            "CLUSTER_NAME": cluster,
            "TASK_FAMILY_NAME": "sd-apiserver",
            "TASK_EXEC_ROLE": self.ready.role_arn,
            "SUBNET_NAME": self.ready.subnet_id,
            "SEC_GROUP_NAME": self.ready.group_id,
        }

    def new_cluster(self, tasks: int = 0) -> str:
        """A fresh cluster (fixed-width name: moto matches cluster names as substrings)."""
        self.clusters += 1
        cluster = f"fault-{self.clusters:05d}-x"
        ecs = self.server.client("ecs")
        ecs.create_cluster(clusterName=cluster)
        if tasks:
            self.start_tasks(cluster, tasks)
        return cluster

    def start_tasks(self, cluster: str, count: int) -> list[str]:
        ecs = self.server.client("ecs")
        ecs.register_task_definition(
            family="sd-apiserver",
            requiresCompatibilities=["FARGATE"],
            networkMode="awsvpc",
            cpu="4096",
            memory="8192",
            containerDefinitions=[
                {"name": "sd-apiserver", "image": "x", "memory": 8192, "cpu": 4096}
            ],
        )
        tasks = ecs.run_task(
            cluster=cluster,
            taskDefinition="sd-apiserver",
            launchType="FARGATE",
            count=count,
            startedBy="sd-apiserver-demo",
            networkConfiguration={
                "awsvpcConfiguration": {
                    "subnets": [self.ready.subnet_id],
                    "securityGroups": [self.ready.group_id],
                }
            },
        )["tasks"]
        return [task["taskArn"] for task in tasks]

    def running(self, cluster: str) -> list[str]:
        return self.server.client("ecs").list_tasks(cluster=cluster, desiredStatus="RUNNING")[
            "taskArns"
        ]


@pytest.fixture(scope="session")
def fargate():
    server = local_aws.MotoServer().start()
    try:
        ready = local_aws.create_prerequisites(
            server.client("ec2"), server.client("iam"), 9090, MY_ADDRESS
        )
        yield Fargate(server, ready)
    finally:
        server.stop()


@pytest.fixture
def aws_proxy(fargate):
    """A fault proxy in front of the session's moto_server; nothing of it outlives the test."""
    from faults.aws_proxy import AwsFaultProxy

    with AwsFaultProxy(fargate.server.endpoint) as proxy:
        yield proxy


@pytest.fixture
def like_aws(fargate, aws_proxy):
    """The proxy plays what AWS documents and moto lacks (faults/aws_like.py), with its defaults."""
    from faults.aws_like import LikeAws

    return LikeAws(aws_proxy, fargate.server.endpoint)


@pytest.fixture
def through_proxy(fargate, aws_proxy, clean_settings):
    """In-process scripts reach moto_server through the proxy, in a fresh cluster of their own."""
    cluster = fargate.new_cluster()
    for name, value in {**fargate.settings(cluster), "AWS_ENDPOINT_URL": aws_proxy.endpoint}.items():
        clean_settings.setenv(name, value)
    return cluster


def script_environment(fargate, proxy, cluster: str, **extra: str) -> dict[str, str]:
    """The environment of a script run as a process against `proxy`: nothing of the user's."""
    env = {
        name: value
        for name, value in os.environ.items()
        if not name.startswith(("AWS_", "SD_", "TASK_")) and name not in SETTING_NAMES
    }
    env.update(local_aws.aws_environment(proxy.endpoint))
    env.update(fargate.settings(cluster), ENV_FILE=os.devnull, **extra)
    return env


# --- a child process as on Windows: no POSIX-only signals, a console that is not UTF-8

WINDOWS_LIKE = ROOT / "tests" / "windows_like"  # its sitecustomize.py removes what Windows lacks


def windows_like_environment(
    encoding: str = "cp1252", base: dict[str, str] | None = None, **extra: str
) -> dict[str, str]:
    """`base` (default: this process's environment) for a child that runs as on Windows.

    The child's `signal` lacks SIGHUP, SIGALRM, setitimer and the rest (tests/windows_like), and
    its stdout and stderr are in `encoding`, as a Windows console in cp1252 or an ASCII terminal.
    """
    env = {name: value for name, value in (base or os.environ).items() if name != "PYTHONUTF8"}
    env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(WINDOWS_LIKE), env.get("PYTHONPATH")]))
    return {**env, "PYTHONIOENCODING": encoding, **extra}
