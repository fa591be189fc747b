"""The README's tutorial, typed as a person types it: each script a process, against moto_server."""

import json
import os
import subprocess
import sys

import pytest

from conftest import ROOT, start_local_server, stop_local_server
from rehearsal import local_aws

README_ORDER = [
    "create_cluster.py",
    "describe_clusters.py",
    "register_task_definition.py",
    "list_task_definition.py",
    "run_task.py",
    "list_tasks.py",
    "describe_task.py",
    "stop_task.py",
    "list_tasks.py",
    "delete_cluster.py",
]


WINDOWS_LIKE = ROOT / "tests" / "windows_like"

# How the scripts are run: as on Linux and macOS; and as on Windows, without the signals and
# timers it lacks, with a console that is cp1252 (or plain ASCII).
PLATFORMS = {
    "posix": {},
    "windows-cp1252": {"PYTHONPATH": str(WINDOWS_LIKE), "PYTHONIOENCODING": "cp1252"},
    "windows-ascii": {"PYTHONPATH": str(WINDOWS_LIKE), "PYTHONIOENCODING": "ascii"},
}


@pytest.fixture
def moto_server():
    server = local_aws.MotoServer().start()
    yield server
    server.stop()


@pytest.mark.parametrize("platform", PLATFORMS)
def test_readme_steps_as_processes(moto_server, tmp_path, platform):
    ready = local_aws.create_prerequisites(
        moto_server.client("ec2"), moto_server.client("iam"), 9090, "127.0.0.1/32"
    )
    env_file = tmp_path / ".env"
    env_file.write_text(
        "CLUSTER_NAME=sd-rehearsal\n"
        "TASK_FAMILY_NAME=sd-apiserver\n"
        f"TASK_EXEC_ROLE={ready.role_arn}\n"
        f"SUBNET_NAME={ready.subnet_id}\n"
        f"SEC_GROUP_NAME={ready.group_id}\n"
    )
    env = {
        name: value
        for name, value in os.environ.items()
        if not name.startswith(("AWS_", "SD_", "TASK_"))
    }
    env.update(local_aws.aws_environment(moto_server.endpoint), ENV_FILE=str(env_file))
    env.update(PLATFORMS[platform])

    outputs = {}
    try:
        run_in_order(env, outputs, moto_server, tmp_path)
    finally:
        if outputs.get("server"):
            stop_local_server(outputs["server"])
    public_ip = outputs["public_ip"]

    assert outputs["describe_clusters.py"][0]["clusters"][0]["status"] == "ACTIVE"
    assert len(outputs["list_tasks.py"][0]["taskArns"]) == 1
    [described] = outputs["describe_task.py"][0]["tasks"]
    assert public_ip.startswith("127.")
    assert described["endpoint"] == f"{public_ip}:9090"
    assert described["server"]["activated"] is True
    assert outputs["list_tasks.py"][1] == {"taskArns": []}
    assert outputs["delete_cluster.py"][0]["cluster"]["status"] == "INACTIVE"


def run_in_order(env, outputs, moto_server, tmp_path):
    for script in README_ORDER:
        argv = [sys.executable, script] + (
            ["--interval", "0.2"] if script in ("describe_task.py", "stop_task.py") else []
        )
        result = subprocess.run(
            argv, cwd=ROOT, env=env, capture_output=True, text=True, timeout=120
        )
        assert result.returncode == 0, (script, result.stderr)
        assert "Traceback" not in result.stderr
        outputs.setdefault(script, []).append(json.loads(result.stdout))
        if script == "run_task.py":
            [task] = outputs[script][0]["tasks"]
            public_ip = outputs["public_ip"] = local_aws.give_public_ip(
                moto_server.client("ecs"),
                moto_server.client("ec2"),
                "sd-rehearsal",
                task["taskArn"],
            )
            # Fargate's part: the server listening at the task's address, activated.
            outputs["server"] = start_local_server(
                tmp_path, "tcp", "--host", public_ip, "--license", "test-licence", port=9090
            )


def test_the_windows_like_child_lacks_what_windows_lacks():
    env = {**os.environ, **PLATFORMS["windows-cp1252"]}
    probe = "import signal, sys; print(hasattr(signal, 'SIGHUP'), hasattr(signal, 'setitimer'), sys.stdout.encoding)"
    result = subprocess.run([sys.executable, "-c", probe], env=env, capture_output=True, text=True)
    assert result.stdout.split() == ["False", "False", "cp1252"], result


@pytest.mark.parametrize("platform", PLATFORMS)
@pytest.mark.parametrize("value", ["sd-\u2713", "\u0441\u0434-\u0434\u0435\u043c\u043e", "sd \U0001f680"])
def test_a_setting_no_console_can_show_is_still_one_line(platform, value):
    """A value the console cannot encode is shown escaped in the error line, never lost."""
    env = {
        name: setting
        for name, setting in os.environ.items()
        if not name.startswith(("AWS_", "SD_", "TASK_"))
    }
    env.update(PLATFORMS[platform], CLUSTER_NAME=value, ENV_FILE=os.devnull)
    result = subprocess.run(
        [sys.executable, "describe_clusters.py"], cwd=ROOT, env=env, capture_output=True, timeout=60
    )
    err = result.stderr.decode("utf-8" if platform == "posix" else "cp1252")
    assert result.returncode == 2, err
    assert "Traceback" not in err
    [line] = err.splitlines()
    assert line.startswith("error: CLUSTER_NAME="), line
