"""The rehearsal's licence secret, REST mode and task lifetime, played by the part that plays Fargate."""

import os
import re
import subprocess
import sys
import time

from conftest import ROOT
from test_rehearsal import alive, rehearse, started_pids

REST_STEPS_IN_ORDER = [
    "$ python3 store_license.py",
    "$ python3 register_task_definition.py",
    "$ python3 run_task.py",
    "read SD_API_LICENSE_KEY for the server from arn:aws:ssm:",
    "listening on HTTP 127.",
    "$ python3 describe_task.py",
    ": the server answers at 127.",  # the ready check, over HTTP
    "try the demos: cd demo && python3 http_demo.py",
    "$ python3 http_demo.py",
    "2 object(s) found",
    "$ python3 logs.py --lines 20",
    "local API server listening on HTTP",  # its own lines, from the local CloudWatch Logs
    '"POST /v1/detect HTTP/1.1" 200',
    "$ python3 stop_task.py",
    "$ python3 delete_cluster.py",
    "$ python3 store_license.py --delete",
    "deleted parameter /sd-apiserver/license",
]


def test_rest_rehearsal_reads_the_secret_and_uses_http_demo():
    process = rehearse("--rest")
    output, _ = process.communicate(timeout=300)
    assert process.returncode == 0, output
    start = 0
    for step in REST_STEPS_IN_ORDER:
        start = output.index(step, start)  # each one, in this order
    assert "note: SD_API_TRANSPORT=4" in output and "unreachable" not in output
    assert "get_status.py --host" not in output.split("$ python3 describe_task.py")[1]
    assert "rehearsal-licence" not in output  # the key itself is never shown
    pids = started_pids(output)
    assert len(pids) == 2
    assert not any(alive(pid) for pid in pids)
    workdir = re.search(r"as a person's \.env: (\S+)/rehearsal\.env", output).group(1)
    assert not os.path.exists(workdir)  # nothing left in the temp directory


def test_rehearsal_ends_the_task_when_its_lifetime_is_up(tmp_path, capsys):
    from rehearsal.rehearse import Rehearsal

    # 60 minutes of lifetime at 0.02 s a minute: the task ends 1.2 s after it starts.
    rehearsal = Rehearsal(tmp_path, seconds_per_minute=0.02, lifetime_minutes=60)
    try:
        rehearsal.start_a_task()
        server = rehearsal.api_server
        assert server.poll() is None
        ecs = rehearsal.moto.client("ecs")
        deadline = time.monotonic() + 30
        while ecs.list_tasks(cluster="sd-rehearsal", desiredStatus="RUNNING")["taskArns"]:
            assert time.monotonic() < deadline, "the lifetime did not stop the task"
            time.sleep(0.1)
        server.wait(timeout=15)  # the server ended with its task

        described = subprocess.run(
            [sys.executable, "describe_task.py", "--interval", "0.1"],
            cwd=ROOT,
            env={**rehearsal.env, "PATH": os.environ["PATH"]},
            capture_output=True,
            text=True,
            timeout=60,
        )
        assert described.returncode == 1, described.stderr
        assert "ended after its lifetime of 60 minutes" in described.stderr
        assert "stoppedReason: Essential container in task exited" in described.stderr
        assert "container lifetime: exit code 0" in described.stderr
        assert "hint" not in described.stderr
        # The server's last lines follow, the very last one sent as its task stopped.
        last_lines = described.stderr.split("the server's last")[1]
        assert "local API server listening" in last_lines
        assert "local API server stopped" in last_lines
        assert "the lifetime container exited after 60 minutes" in capsys.readouterr().out
    finally:
        rehearsal.stop()
    assert rehearsal.moto.process.poll() is not None
