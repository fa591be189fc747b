"""Play ECS's `awslogs` log driver for the rehearsal: run a container's command, and send each
line it prints to a CloudWatch Logs stream (moto's, here), and to a file.

    python -m rehearsal.awslogs_driver --group G --stream P/C/TASK --file F -- command ...

As the driver does, it writes to a group that must exist (the task would not start otherwise)
and creates the stream, named PREFIX/CONTAINER/TASK_ID. SIGTERM or SIGINT stops the command
(SIGTERM, then SIGKILL after a grace period, as ECS's StopTask does), sends its last lines and
ends. The command gets this process's environment without the AWS_* variables.
"""

from __future__ import annotations

import argparse
import os
import signal
import subprocess
import sys
import threading
import time

import boto3

BATCH_SECONDS = 0.2  # how long lines gather before they are sent in one PutLogEvents
GRACE_SECONDS = 10


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.strip().splitlines()[0])
    parser.add_argument("--group", required=True)
    parser.add_argument("--stream", required=True)
    parser.add_argument("--file", required=True)
    parser.add_argument("command", nargs=argparse.REMAINDER)
    args = parser.parse_args(argv)
    command = args.command[1:] if args.command[:1] == ["--"] else args.command

    logs = boto3.client("logs")
    logs.create_log_stream(logGroupName=args.group, logStreamName=args.stream)
    environment = {k: v for k, v in os.environ.items() if not k.startswith("AWS_")}
    child = subprocess.Popen(
        command,
        env=environment,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        stdin=subprocess.DEVNULL,
    )

    def stop(*_: object) -> None:
        if child.poll() is None:
            child.terminate()
            killer = threading.Timer(GRACE_SECONDS, lambda: child.poll() is None and child.kill())
            killer.daemon = True
            killer.start()

    signal.signal(signal.SIGTERM, stop)
    signal.signal(signal.SIGINT, stop)

    pending: list[dict] = []
    lock = threading.Lock()
    done = threading.Event()

    def send() -> None:
        with lock:
            batch, pending[:] = list(pending), []
        if batch:
            logs.put_log_events(logGroupName=args.group, logStreamName=args.stream, logEvents=batch)

    def sender() -> None:
        while not done.wait(BATCH_SECONDS):
            send()

    thread = threading.Thread(target=sender, daemon=True)
    thread.start()
    with open(args.file, "ab") as copy:
        for raw in iter(child.stdout.readline, b""):
            copy.write(raw)
            copy.flush()
            message = raw.decode("utf-8", "replace").rstrip("\r\n")
            with lock:
                pending.append({"timestamp": int(time.time() * 1000), "message": message or " "})
    code = child.wait()
    done.set()
    thread.join()
    send()
    return code if code >= 0 else 128 - code


if __name__ == "__main__":
    sys.exit(main())
