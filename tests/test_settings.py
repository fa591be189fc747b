"""Settings: every missing or invalid value ends in one line and exit 2, before any AWS call."""

from plumbing import exit_codes

import os
import subprocess
import sys

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
from conftest import ROOT

REQUIRED = {
    create_cluster: ["CLUSTER_NAME"],
    describe_clusters: ["CLUSTER_NAME"],
    register_task_definition: ["TASK_FAMILY_NAME", "TASK_EXEC_ROLE"],
    list_task_definition: ["TASK_FAMILY_NAME"],
    run_task: ["CLUSTER_NAME", "TASK_FAMILY_NAME", "SUBNET_NAME", "SEC_GROUP_NAME"],
    list_tasks: ["CLUSTER_NAME"],
    describe_task: ["CLUSTER_NAME"],
    stop_task: ["CLUSTER_NAME"],
    delete_cluster: ["CLUSTER_NAME"],
}


def assert_one_line_error(result, *fragments):
    assert result.code == exit_codes.EXIT_BAD_SETTING, result
    lines = result.err.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: "), result.err
    for fragment in fragments:
        assert fragment in lines[0], (fragment, lines[0])
    assert result.out == ""


@pytest.mark.parametrize(
    "script, name",
    [(script, name) for script, names in REQUIRED.items() for name in names],
    ids=lambda p: getattr(p, "__name__", p),
)
def test_missing_setting(aws, clean_settings, run, aws_calls, script, name):
    clean_settings.delenv(name)  # the other settings point at a ready local VPC
    result = run(script)
    assert_one_line_error(result, f"{name} is not set", "set it to")
    assert aws_calls == []


INVALID = [
    (create_cluster, "CLUSTER_NAME", "my cluster", "letters, digits, hyphens"),
    (register_task_definition, "TASK_EXEC_ROLE", "ecsTaskExecutionRole", "IAM role ARN"),
    (register_task_definition, "TASK_CPU", "3000", "256, 512, 1024, 2048, 4096"),
    (register_task_definition, "TASK_MEMORY", "4096", "8192 to 30720 MiB in steps of 1024"),
    (register_task_definition, "TASK_MEMORY", "8000", "with TASK_CPU=4096"),
    (register_task_definition, "SD_API_TCP_PORT", "80", "1026 to 65535"),
    (register_task_definition, "SD_API_TCP_PORT", "nine", "1026 to 65535"),
    (register_task_definition, "SD_API_TRANSPORT", "3", "1 (TCP socket)"),
    (register_task_definition, "SD_API_TCP_LOCAL", "yes", "0 (all interfaces)"),
    (register_task_definition, "SD_DEBUG_CRASH", "2", "0 (off)"),
    (register_task_definition, "EFS_FILE_SYSTEM_ID", "my-efs", "fs-"),
    (register_task_definition, "LOG_GROUP", "bad group!", "log group"),
    (register_task_definition, "IMAGE_NAME", "a b", "container image"),
    (run_task, "SUBNET_NAME", "subnet-12345678,public", "subnet ids"),
    (run_task, "SEC_GROUP_NAME", "default", "security group ids"),
    (run_task, "ASSIGN_PUBLIC_IP", "yes", "ENABLED, DISABLED"),
    (run_task, "TASK_COUNT", "0", "1 to 10"),
    (run_task, "TASK_COUNT", "11", "1 to 10"),
    (run_task, "TASK_FAMILY_NAME_FULL", "sd-apiserver:latest", "family:revision"),
    (run_task, "SD_API_TCP_PORT", "70000", "1026 to 65535"),
    (list_tasks, "CLUSTER_NAME", "x" * 256, "1 to 255"),
]


@pytest.mark.parametrize(
    "script, name, value, allowed", INVALID, ids=lambda p: getattr(p, "__name__", p)
)
def test_invalid_setting(aws, clean_settings, run, aws_calls, script, name, value, allowed):
    clean_settings.setenv(name, value)
    result = run(script)
    assert_one_line_error(result, f"{name}={value!r}", "(from the environment)", allowed)
    assert aws_calls == []


def test_scripts_check_only_what_they_use(aws, run, clean_settings):
    """Broken settings that a step does not use do not stop it."""
    for name in ["TASK_CPU", "SUBNET_NAME", "SEC_GROUP_NAME", "SD_API_TCP_PORT", "TASK_COUNT"]:
        clean_settings.setenv(name, "broken")
    assert run(create_cluster).code == 0
    assert run(list_tasks).code == 0
    assert run(list_task_definition).code == 0


def test_defaults_go_into_the_task_definition(aws, run):
    result = run(register_task_definition)
    definition = result.json()["taskDefinition"]
    assert (definition["cpu"], definition["memory"]) == ("4096", "8192")
    lifetime, container = definition["containerDefinitions"]
    assert lifetime["name"] == "lifetime" and lifetime["command"] == ["sleep", str(240 * 60)]
    assert container["image"] == "public.ecr.aws/j6h6k0h7/ml/sd-apiserver:latest"
    assert {e["name"]: e["value"] for e in container["environment"]} == {
        "SD_API_TRANSPORT": "1",
        "SD_API_TCP_PORT": "9090",
        "SD_API_TCP_LOCAL": "0",
        "SD_DEBUG_CRASH": "0",
    }


def run_script(script: str, env: dict[str, str]) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, str(ROOT / script)],
        env={**os.environ, **env},
        capture_output=True,
        text=True,
        timeout=60,
    )


def test_dotenv_values_are_read_and_named_in_errors(tmp_path):
    env_file = tmp_path / ".env"
    env_file.write_text("CLUSTER_NAME=bad name\nTASK_CPU=4096\n")
    result = run_script("describe_clusters.py", {"ENV_FILE": str(env_file)})
    assert result.returncode == 2
    assert result.stderr.strip() == (
        f"error: CLUSTER_NAME='bad name' (from {env_file}) is not valid: "
        "1 to 255 letters, digits, hyphens and underscores"
    )


def test_environment_wins_over_dotenv(tmp_path):
    env_file = tmp_path / ".env"
    env_file.write_text("TASK_FAMILY_NAME=from-file\nTASK_EXEC_ROLE=broken\n")
    result = run_script(
        "register_task_definition.py",
        {"ENV_FILE": str(env_file), "TASK_EXEC_ROLE": "also broken"},
    )
    assert result.returncode == 2
    assert "TASK_EXEC_ROLE='also broken' (from the environment)" in result.stderr


def test_missing_setting_names_the_env_file(tmp_path):
    env_file = tmp_path / "settings.env"
    env_file.write_text("# nothing yet\n")
    result = run_script("create_cluster.py", {"ENV_FILE": str(env_file)})
    assert result.returncode == 2
    assert f"CLUSTER_NAME is not set (in the environment or {env_file})" in result.stderr
    assert "Traceback" not in result.stderr
