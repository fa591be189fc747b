"""Rehearse the whole tutorial on this machine: no AWS account, no cost.

Starts a local ECS/EC2/IAM endpoint (moto_server) on loopback with a VPC and a public subnet,
then runs every step script in the README's order as a person types it: step 0 (create and
check the prerequisites), the demos at step 5 against the address describe_task.py prints,
and the clean-up at step 6. Everything it starts or writes is removed at the end, also when a
step fails or on Ctrl-C. --keep stops before step 6 instead, leaves the local endpoint, the
task and its API server up, and prints what to paste to go on by hand and to clean up.

The licence key goes where the tutorial puts it: store_license.py stores it as a secret in the
local AWS, and the part that plays Fargate reads it from there and starts the API server with
it, so no activation call is needed. --rest rehearses the server's REST mode. The part that
plays Fargate also plays the task's lifetime: it stops the task as ECS does when the lifetime
container exits (--seconds-per-minute shortens the wait). --like-aws puts the steps behind a
local AWS that behaves as AWS documents where moto forgives (tests/faults/aws_like.py): a new
task unlisted and unknown for a moment, then PROVISIONING and PENDING, a public IP that shows
late, a role that ECS cannot use for a few seconds after it was made; so the rehearsal shows
the waits a real user sees. After step 6 comes a forgotten trial:
a task on Fargate Spot that nobody uses, ended by the idle stop, its minute shortened to a
couple of seconds; the lifetime container's own command runs it, under busybox sh when busybox
is installed.
"""

from __future__ import annotations

import argparse
import json
import os
import shlex
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

from rehearsal import local_aws

ROOT = Path(__file__).resolve().parent.parent
DEMO = ROOT / "demo"
CLUSTER = "sd-rehearsal"
LICENCE = "rehearsal-licence"
CLIENT_ADDRESS = "127.0.0.1/32"  # the one address the security group lets in
PASSED_THROUGH = ("PATH", "HOME", "LANG", "LC_ALL", "LC_CTYPE", "TERM", "TMPDIR")
FORGOTTEN_IDLE_MINUTES = 1
FORGOTTEN_SECONDS_PER_MINUTE = 2  # the forgotten trial's minute, here
# The lifetime container's exit code when the idle stop ends a task (plumbing/lifetime.py's;
# not imported from there: importing the plumbing installs the step scripts' signal handlers).
IDLE_EXIT_CODE = 3


def lifetime_minutes(command: list[str]) -> int:
    """The lifetime in the lifetime container's command: `sleep S`, or `sh -c SCRIPT $0 S ...`."""
    return int(command[1] if command[0] == "sleep" else command[4]) // 60


def awslogs_stream(definition: dict, task_arn: str) -> tuple[str, str] | None:
    """(group, stream) where ECS's awslogs driver puts the server's output: the stream is
    PREFIX/CONTAINER/TASK_ID. None when the task definition keeps no logs."""
    for container in definition["containerDefinitions"]:
        config = container.get("logConfiguration") or {}
        if container["name"] == "sd-apiserver" and config.get("logDriver") == "awslogs":
            options = config["options"]
            prefix, name = options["awslogs-stream-prefix"], container["name"]
            return options["awslogs-group"], f"{prefix}/{name}/{task_arn.rsplit('/', 1)[-1]}"
    return None


class RehearsalFailed(Exception):
    """A step did not do what the tutorial says; the message names it."""


def banner(title: str, typed: str | None = None) -> None:
    print(f"\n=== {title} {'=' * max(3, 76 - len(title))}", flush=True)
    if typed:
        print(f"$ {typed}", flush=True)


def isolate_from_real_aws() -> None:
    """Drop every AWS variable of the user's from this process: its own clients go to moto only."""
    for name in [name for name in os.environ if name.startswith("AWS_")]:
        del os.environ[name]
    os.environ.update(local_aws.FAKE_CREDENTIALS)
    os.environ.update(AWS_CONFIG_FILE=os.devnull, AWS_SHARED_CREDENTIALS_FILE=os.devnull)


class Rehearsal:
    def __init__(
        self,
        workdir: Path,
        rest: bool = False,
        seconds_per_minute: float = 60,
        lifetime_minutes: int | None = None,
        like_aws: bool = False,
    ) -> None:
        self.workdir = workdir
        self.rest = rest
        self.seconds_per_minute = seconds_per_minute
        self.lifetime_minutes = lifetime_minutes  # None: the tutorial's default
        self.lifetime_timer: threading.Timer | None = None
        self.idle_process: subprocess.Popen[bytes] | None = None
        self.moto = local_aws.MotoServer()
        self.like_aws = like_aws
        self.proxy = None  # with --like-aws: the steps' endpoint, in front of moto
        self.api_server: subprocess.Popen[bytes] | None = None
        self.port = local_aws.free_port()
        self.env: dict[str, str] = {}
        self.env_file = workdir / "rehearsal.env"
        self.public_ip: str | None = None
        self.endpoint: str | None = None
        self.stage = "start"
        self.interrupted = False
        self.current_step: subprocess.Popen[str] | None = None

    def on_signal(self, *_: object) -> None:
        """Ctrl-C or SIGTERM: end the current step; the rehearsal stops at the next stage.

        Raising from the handler would be simpler, but the exception can land in a finalizer
        (an HTTP pool closing, say), where Python swallows it.
        """
        self.interrupted = True
        if self.current_step and self.current_step.poll() is None:
            self.current_step.terminate()
        self.end_idle_stop()

    def end_idle_stop(self) -> None:
        """End the lifetime container's command, its `sleep` with it (its own process group)."""
        process = self.idle_process
        if process and process.poll() is None:
            try:
                os.killpg(process.pid, signal.SIGTERM)
            except (AttributeError, OSError):  # no process groups (Windows), or already gone
                process.terminate()

    def enter(self, stage: str) -> None:
        """Start a stage of the rehearsal, unless it was interrupted."""
        if self.interrupted:
            raise KeyboardInterrupt
        self.stage = stage

    # --- what a person types

    def step(
        self,
        title: str,
        script: str,
        *args: str,
        cwd: Path = ROOT,
        env: dict[str, str] | None = None,
    ) -> str:
        """Run `python3 script args` under a banner, as typed; return its stdout.

        `env` adds variables a person would set for this command only.
        """
        typed = shlex.join(["python3", script, *args])
        self.enter(title)
        banner(title, typed)
        output = []
        process = self.current_step = subprocess.Popen(
            [sys.executable, script, *args],
            cwd=cwd,
            env={**self.env, **(env or {}), "PYTHONUNBUFFERED": "1"},  # lines in the order written
            stdout=subprocess.PIPE,
            text=True,
        )
        try:
            for line in process.stdout:
                sys.stdout.write(line)
                sys.stdout.flush()
                output.append(line)
            process.wait()
        except BaseException:
            process.terminate()  # interrupted: the step does not outlive the rehearsal
            process.wait()
            raise
        finally:
            process.stdout.close()
            self.current_step = None
        if self.interrupted:
            raise KeyboardInterrupt
        if process.returncode != 0:
            raise RehearsalFailed(f"{title} failed: `{typed}` exited {process.returncode}")
        return "".join(output)

    # --- what the local stand-ins need

    def start_aws(self) -> None:
        self.enter("Local AWS: moto_server on loopback, fake credentials")
        banner(self.stage)
        self.moto.start()
        print(f"moto_server is at {self.moto.endpoint} (pid {self.moto.process.pid})")
        endpoint = self.moto.endpoint
        if self.like_aws:
            sys.path.insert(0, str(ROOT / "tests"))
            from faults.aws_like import LikeAws
            from faults.aws_proxy import AwsFaultProxy

            self.proxy = AwsFaultProxy(self.moto.endpoint).start()
            LikeAws(self.proxy, self.moto.endpoint)
            endpoint = self.proxy.endpoint
            print(
                f"the steps reach it through {endpoint}, which behaves as AWS documents: a new "
                "task is unlisted and unknown for a moment, a role made a moment ago is not yet "
                "usable by ECS, a public IP shows late"
            )
        # Only what a shell needs: no AWS variable, setting or .env of the user's reaches a step.
        base = {name: os.environ[name] for name in PASSED_THROUGH if name in os.environ}
        self.env = {**base, **local_aws.aws_environment(endpoint)}

    def prepare_network(self) -> None:
        self.enter("Your AWS account: a VPC with a public subnet")
        banner(self.stage)
        vpc_id, subnet_id = local_aws.create_network(self.moto.client("ec2"))
        settings = {
            "CLUSTER_NAME": CLUSTER,
            "TASK_FAMILY_NAME": "sd-apiserver",
            "SUBNET_NAME": subnet_id,
            "SD_API_TCP_PORT": str(self.port),
        }
        self.env_file.write_text("".join(f"{name}={value}\n" for name, value in settings.items()))
        self.env["ENV_FILE"] = str(self.env_file)
        print(f"VPC {vpc_id} with public subnet {subnet_id}")
        print(f"settings for the steps, as a person's .env: {self.env_file}")
        print(self.env_file.read_text(), end="")

    def create_prerequisites(self) -> None:
        """Step 0, as a person does it: create the group and role, add the lines to .env, check."""
        created = self.step(
            "Step 0: create the security group and execution role",
            "create_prerequisites.py",
            "--cidr",
            CLIENT_ADDRESS,
        )
        with open(self.env_file, "a") as env_file:
            env_file.write("".join(line + "\n" for line in created.splitlines() if "=" in line))
        self.step("Step 0: check the prerequisites", "check_prerequisites.py")

    def started_task(self, run_task_output: str) -> tuple[dict, str]:
        """The one task run_task.py says it started, as moto knows it, and its ARN as the
        steps see it (which names its log stream)."""
        [task] = json.loads(run_task_output)["tasks"]
        seen_arn = task["taskArn"]
        if self.like_aws:  # the steps see real task ids; moto keeps its own
            from faults.aws_like import moto_arn

            task["taskArn"] = moto_arn(task["taskArn"])
        return task, seen_arn

    def do_what_fargate_does(self, run_task_output: str) -> None:
        """Give the task its public IP, read its licence secret, start the API server with it."""
        task, seen_arn = self.started_task(run_task_output)
        self.enter("Fargate's part: a public IP, the licence secret, the API server listening")
        banner(self.stage)
        ecs, ec2 = self.moto.client("ecs"), self.moto.client("ec2")
        public_ip = self.public_ip = local_aws.give_public_ip(ecs, ec2, CLUSTER, task["taskArn"])
        definition = ecs.describe_task_definition(taskDefinition=task["taskDefinitionArn"])[
            "taskDefinition"
        ]
        server_environment = self.container_environment(definition)
        log = self.workdir / "api-server.log"
        command = [sys.executable, "-m", "localserver", "--host", public_ip, "--detector", "marker"]
        logged = awslogs_stream(definition, seen_arn)
        if logged:
            # The awslogs driver's part: the server's output into the local CloudWatch Logs.
            group, stream = logged
            command = [
                *(sys.executable, "-m", "rehearsal.awslogs_driver", "--group", group),
                *("--stream", stream, "--file", str(log), "--", *command),
            ]
            server_environment = {**server_environment, **self.env}
        with open(log, "w") as log_file:
            self.api_server = subprocess.Popen(
                command,
                cwd=ROOT,
                env=server_environment,
                stdout=subprocess.DEVNULL,
                stderr=log_file,
                start_new_session=True,  # Ctrl-C reaches the rehearsal, which stops it in order
            )
        deadline = time.monotonic() + 30
        while "listening" not in log.read_text():
            self.enter(self.stage)
            if self.api_server.poll() is not None or time.monotonic() > deadline:
                raise RehearsalFailed(
                    f"the local API server did not start: {log.read_text().strip()}"
                )
            time.sleep(0.1)
        print(f"{log.read_text().strip()} (pid {self.api_server.pid})\nits log: {log}")
        if logged:
            print(f"its output goes to log group {logged[0]}, stream {logged[1]}, as on ECS")
        self.play_lifetime(task["taskArn"], definition)

    def container_environment(self, definition: dict) -> dict[str, str]:
        """What ECS gives the server's container: its `environment`, and its `secrets` resolved."""
        [server] = [
            container
            for container in definition["containerDefinitions"]
            if container["name"] == "sd-apiserver"
        ]
        environment = {name: os.environ[name] for name in PASSED_THROUGH if name in os.environ}
        environment.update({pair["name"]: pair["value"] for pair in server["environment"]})
        for secret in server.get("secrets", []):
            arn = secret["valueFrom"]
            if ":secretsmanager:" in arn:
                value = self.moto.client("secretsmanager").get_secret_value(SecretId=arn)[
                    "SecretString"
                ]
            else:
                value = self.moto.client("ssm").get_parameter(Name=arn, WithDecryption=True)[
                    "Parameter"
                ]["Value"]
            environment[secret["name"]] = value
            print(f"read {secret['name']} for the server from {arn} (not shown)")
        return environment

    def play_lifetime(self, task_arn: str, definition: dict) -> None:
        """Stop the task as ECS does when its lifetime container exits (moto runs no container)."""
        [lifetime] = [
            container
            for container in definition["containerDefinitions"]
            if container["name"] == "lifetime"
        ] or [None]
        minutes = lifetime and lifetime_minutes(lifetime["command"])
        if not minutes:
            print("the task has no lifetime limit: it runs until stopped (or unused)")
            return
        seconds = minutes * self.seconds_per_minute
        print(f"its lifetime container exits after {minutes} minutes (here in {seconds:g}s)")
        self.lifetime_timer = threading.Timer(seconds, self.end_of_lifetime, (task_arn, minutes))
        self.lifetime_timer.daemon = True
        self.lifetime_timer.start()

    def end_of_lifetime(self, task_arn: str, minutes: int) -> None:
        """The lifetime container exited 0: ECS stops the task, and with it the server."""
        ecs = self.moto.client("ecs")
        [task] = ecs.describe_tasks(cluster=CLUSTER, tasks=[task_arn])["tasks"]
        if task["lastStatus"] == "STOPPED":
            return
        # moto lists only a task's first container (here the lifetime container), exit code 0.
        ecs.stop_task(cluster=CLUSTER, task=task_arn, reason="Essential container in task exited")
        local_aws.stop_process(self.api_server)
        print(
            f"\n[Fargate] the lifetime container exited after {minutes} minutes: "
            "task stopped (Essential container in task exited)",
            flush=True,
        )

    def store_licence(self) -> None:
        """The optional first step: the key into the local SSM, LICENSE_SECRET into .env."""
        printed = self.step(
            "Prerequisites: store the licence key as a secret",
            "store_license.py",
            env={"SD_API_LICENSE_KEY": LICENCE},
        )
        [line] = [line for line in printed.splitlines() if line.startswith("LICENSE_SECRET=")]
        self.add_settings(line)

    def add_settings(self, *lines: str) -> None:
        """Add lines to the settings file, as a person edits .env."""
        env_file = Path(self.env["ENV_FILE"])
        env_file.write_text(env_file.read_text() + "".join(f"{line}\n" for line in lines))
        print(f"added to {env_file}: {', '.join(line.split('=')[0] for line in lines)}")

    def make_picture(self) -> Path:
        """A street scene of the kind the local server's marker detector sees: two figures."""
        import cv2
        import numpy as np

        picture = np.full((480, 640, 3), 90, np.uint8)
        for left, top in ((120, 150), (400, 170)):
            cv2.rectangle(picture, (left, top), (left + 50, top + 200), (0, 255, 0), -1)
        path = self.workdir / "street.jpg"
        cv2.imwrite(str(path), picture)
        return path

    # --- the tutorial

    def run(self, keep: bool = False) -> None:
        """The tutorial in order; with `keep`, up to step 5, leaving the task running."""
        self.start_a_task()
        self.step("Step 4: list the task", "list_tasks.py")
        described = self.step(
            "Step 4: wait for it and get its address", "describe_task.py", "--interval", "1"
        )
        [task] = json.loads(described)["tasks"]
        self.endpoint = task["endpoint"]
        host, port = task["endpoint"].rsplit(":", 1)
        picture = self.make_picture()
        if self.rest:
            self.try_rest_demo(host, port, picture)
        else:
            self.try_thrift_demos(host, port, picture)
        shown = self.step("Step 5: the server's log lines", "logs.py", "--lines", "20")
        if "listening" not in shown:
            raise RehearsalFailed("Step 5 failed: logs.py did not show the server's lines")
        if keep:
            return
        self.step("Step 6: stop the task", "stop_task.py", "--interval", "1")
        self.release_task_network()
        remaining = self.step("Step 6: check no task is left", "list_tasks.py")
        if json.loads(remaining)["taskArns"]:
            raise RehearsalFailed("Step 6 failed: list_tasks.py still lists tasks")
        self.forget_a_trial_on_spot()
        self.step("Step 6: delete the cluster", "delete_cluster.py")
        self.step("Step 6: delete the licence secret", "store_license.py", "--delete")
        self.step("Step 6: delete the prerequisites", "delete_prerequisites.py")

    def forget_a_trial_on_spot(self) -> None:
        """A task on Fargate Spot that nobody uses or stops: the idle stop ends it."""
        spot = {"CAPACITY_PROVIDER": "FARGATE_SPOT"}
        idle = {"TASK_IDLE_MINUTES": str(FORGOTTEN_IDLE_MINUTES)}
        self.step(
            f"A forgotten trial: a revision that ends after {FORGOTTEN_IDLE_MINUTES} minute unused",
            "register_task_definition.py",
            env=idle,
        )
        started = self.step(
            "A forgotten trial: a task on Fargate Spot (CAPACITY_PROVIDER=FARGATE_SPOT)",
            "run_task.py",
            env=spot,
        )
        task, _ = self.started_task(started)
        self.enter("Fargate's part: the lifetime container watches for connections; none come")
        banner(self.stage)
        ecs, ec2 = self.moto.client("ecs"), self.moto.client("ec2")
        self.public_ip = local_aws.give_public_ip(ecs, ec2, CLUSTER, task["taskArn"])
        definition = ecs.describe_task_definition(taskDefinition=task["taskDefinitionArn"])[
            "taskDefinition"
        ]
        code = self.play_idle_stop(definition)
        if self.interrupted:
            raise KeyboardInterrupt
        if code != IDLE_EXIT_CODE:
            raise RehearsalFailed(f"the idle stop did not end the task (exit code {code})")
        ecs.stop_task(cluster=CLUSTER, task=task["taskArn"], reason="Essential container in task exited")
        print(
            f"[Fargate] the lifetime container exited {code} after {FORGOTTEN_IDLE_MINUTES} "
            "minute without a connection: task stopped (Essential container in task exited)",
            flush=True,
        )
        self.release_task_network()
        remaining = self.step("A forgotten trial: nothing is left running", "list_tasks.py")
        if json.loads(remaining)["taskArns"]:
            raise RehearsalFailed("the idle stop left a task running")

    def play_idle_stop(self, definition: dict) -> int:
        """Run the lifetime container's command with its minute shortened; return its exit code."""
        [lifetime] = [
            container
            for container in definition["containerDefinitions"]
            if container["name"] == "lifetime"
        ]
        command = list(lifetime["command"])
        scale = FORGOTTEN_SECONDS_PER_MINUTE / 60
        # $1 lifetime, $2 idle time, $4 the poll, in seconds: shortened alike; $3 the port.
        for position in (4, 5, 7):
            seconds = int(command[position])
            command[position] = str(max(1, round(seconds * scale)) if seconds else 0)
        minute = f"a minute lasts {FORGOTTEN_SECONDS_PER_MINUTE:g}s here"
        busybox = shutil.which("busybox")
        if busybox is None:
            print(f"busybox is not installed: played without it ({minute}); nobody connects")
            time.sleep(FORGOTTEN_IDLE_MINUTES * FORGOTTEN_SECONDS_PER_MINUTE)
            return IDLE_EXIT_CODE
        print(f"its command runs here under busybox sh ({minute}); nobody connects")
        print("$ busybox " + shlex.join(command[:2]) + " '...' " + shlex.join(command[3:]))
        self.idle_process = subprocess.Popen(
            [busybox, *command], stdout=subprocess.PIPE, start_new_session=True
        )
        output, _ = self.idle_process.communicate(timeout=120)
        print(output.decode(errors="replace").strip(), flush=True)
        return self.idle_process.returncode

    def release_task_network(self) -> None:
        self.enter("Fargate's part: the stopped task's network interface goes")
        banner(self.stage)
        local_aws.release_task_network(self.moto.client("ec2"), self.public_ip)
        print(f"released {self.public_ip} and deleted the task's network interface")

    def start_a_task(self) -> None:
        """Up to step 3 and Fargate's part: the local AWS, a task, its server listening."""
        self.start_aws()
        self.prepare_network()
        self.store_licence()  # first, so the role created next may read it, and step 0 checks that
        self.create_prerequisites()
        self.choose_settings()
        self.step("Step 1: create a cluster", "create_cluster.py")
        self.step("Step 1: check it is ACTIVE", "describe_clusters.py")
        self.step("Step 2: register the task definition", "register_task_definition.py")
        self.step("Step 2: check it is listed", "list_task_definition.py")
        started = self.step("Step 3: start a task", "run_task.py")
        self.do_what_fargate_does(started)

    def choose_settings(self) -> None:
        """The settings this rehearsal adds to the prerequisites': REST mode, the lifetime."""
        lines = ["SD_API_TRANSPORT=4"] if self.rest else []
        if self.lifetime_minutes is not None:
            lines.append(f"TASK_LIFETIME_MINUTES={self.lifetime_minutes}")
        if lines:
            self.add_settings(*lines)

    def try_thrift_demos(self, host: str, port: str, picture: Path) -> None:
        connection = ["--host", host, "--port", port]
        # No activation call: the server got its licence key at start.
        self.step("Step 5: server status", "get_status.py", *connection, cwd=DEMO)
        self.step(
            "Step 5: find people",
            "detection_demo.py",
            *connection,
            "--input",
            str(picture),
            "--output",
            str(self.workdir / "street-boxes.jpg"),
            cwd=DEMO,
        )

    def try_rest_demo(self, host: str, port: str, picture: Path) -> None:
        self.step(
            "Step 5: find people over REST",
            "http_demo.py",
            "--host",
            host,
            "--port",
            port,
            "--input",
            str(picture),
            "--type",
            "object",
            "--output",
            str(self.workdir / "street-boxes.jpg"),
            cwd=DEMO,
        )

    def print_keep_instructions(self) -> None:
        """What to paste to go on by hand from step 5, and to clean up afterwards."""
        banner("Still running, as asked (KEEP=1): the rehearsal stopped before step 6")
        exports = {
            name: self.env[name]
            for name in (*local_aws.aws_environment(self.moto.endpoint), "ENV_FILE")
        }
        host, port = self.endpoint.rsplit(":", 1)
        pids = " ".join(str(p.pid) for p in (self.moto.process, self.api_server) if p)
        if sys.prefix != sys.base_prefix:
            interpreter = f". {shlex.quote(str(Path(sys.prefix) / 'bin' / 'activate'))}"
            note = "# the virtual environment with the requirements: python3 is now its own"
        else:
            interpreter = f"alias python3={shlex.quote(sys.executable)}"
            note = "# the interpreter that has the requirements"
        print(
            "Paste these lines into a shell (bash or zsh) to go on by hand:\n\n"
            f"cd {shlex.quote(str(ROOT))}\n"
            f"{interpreter}  {note}\n"
            "export " + " ".join(f"{k}={shlex.quote(v)}" for k, v in exports.items()) + "\n"
            "python3 describe_task.py  # the task is RUNNING; its API server answers at "
            f"{host}:{port}\n"
            f"(cd demo && python3 get_status.py --host {host} --port {port})\n"
            "python3 logs.py --lines 20  # its last lines (--follow: as they come, until it stops)\n\n"
            "A task you start yourself gets no public IP here (moto gives none) and no server.\n"
            "When you are done, step 6 and the clean-up of the local stand-ins:\n\n"
            "python3 stop_task.py --interval 1\n"
            "python3 delete_cluster.py\n"
            f"kill {pids}  # the local AWS (and all it holds) and the API server\n"
            f"rm -rf {shlex.quote(str(self.workdir))}  # its settings, log and pictures\n\n"
            "(delete_prerequisites.py would refuse here: moto keeps a stopped task's network\n"
            "interface, which Fargate deletes; the kill above discards the group and role.)"
        )

    def stop(self) -> None:
        if self.lifetime_timer:
            self.lifetime_timer.cancel()
        self.end_idle_stop()
        if self.idle_process:
            self.idle_process.wait()
        local_aws.stop_process(self.api_server)
        if self.proxy:
            self.proxy.stop()
        self.moto.stop()


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.strip().splitlines()[0])
    parser.add_argument(
        "--keep",
        action="store_true",
        help="stop before step 6, leaving the task, the local endpoint and the API server running",
    )
    parser.add_argument(
        "--rest", action="store_true", help="the server in REST mode, with http_demo.py at step 5"
    )
    parser.add_argument(
        "--like-aws",
        action="store_true",
        help="the steps behind a local AWS that behaves as AWS documents (lags, late IPs, IAM)",
    )
    parser.add_argument(
        "--seconds-per-minute",
        type=float,
        default=60,
        help="how long a minute of the task's lifetime lasts here (default: 60)",
    )
    args = parser.parse_args(argv)
    isolate_from_real_aws()
    workdir = Path(tempfile.mkdtemp(prefix="sd-rehearsal-"))
    rehearsal = Rehearsal(
        workdir,
        rest=args.rest,
        seconds_per_minute=args.seconds_per_minute,
        like_aws=args.like_aws,
    )
    # SIGTERM stops it as Ctrl-C does; SIGINT is set too, as a shell starts background
    # processes with it ignored.
    signal.signal(signal.SIGTERM, rehearsal.on_signal)
    signal.signal(signal.SIGINT, rehearsal.on_signal)
    started = time.monotonic()
    kept = False
    try:
        rehearsal.run(keep=args.keep)
        rehearsal.enter("the end")
        kept = args.keep
    except RehearsalFailed as error:
        print(f"\nrehearsal failed: {error}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        print("\nrehearsal interrupted", file=sys.stderr)
        return 130
    except Exception as error:  # noqa: BLE001 - a local part broke: say where, in one line
        print(
            f"\nrehearsal failed at {rehearsal.stage}: {type(error).__name__}: {error}",
            file=sys.stderr,
        )
        return 1
    finally:
        if kept:
            rehearsal.print_keep_instructions()
        else:
            rehearsal.stop()
            shutil.rmtree(workdir, ignore_errors=True)
    if kept:
        print(
            f"\nrehearsal passed: steps 0 to 5 in {time.monotonic() - started:.0f}s; the task, "
            "the local AWS and the API server are still running (see above)"
        )
    else:
        print(
            f"\nrehearsal passed: every step of the tutorial in "
            f"{time.monotonic() - started:.0f}s; nothing is left running or on disk"
        )
    return 0


if __name__ == "__main__":
    sys.exit(main())
