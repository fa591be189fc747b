"""Settings come before AWS: a bad setting is named before the region or credentials matter,
.env.example's placeholders are refused, and a missing .env is met with `cp .env.example .env`."""

from __future__ import annotations

from plumbing import clients, exit_codes

import os
import shutil
import subprocess
import sys

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import check_prerequisites
import constants
import create_cluster
import delete_cluster
import describe_clusters
import describe_task
import list_task_definition
import list_tasks
import logs
import register_task_definition
import run_task
import stop_task
from conftest import ROOT, SETTING_NAMES
from rehearsal import local_aws

STEPS = [
    check_prerequisites,
    create_cluster,
    describe_clusters,
    register_task_definition,
    list_task_definition,
    run_task,
    list_tasks,
    describe_task,
    logs,
    stop_task,
    delete_cluster,
]
# A value each setting refuses.
INVALID = {
    "AWS_PROFILE_NAME": "two words",
    "CLUSTER_NAME": "no spaces allowed",
    "TASK_FAMILY_NAME": "no spaces allowed",
    "TASK_FAMILY_NAME_FULL": "sd-apiserver:latest",
    "IMAGE_NAME": "a b",
    "TASK_EXEC_ROLE": "ecsTaskExecutionRole",
    "SUBNET_NAME": "public",
    "SEC_GROUP_NAME": "default",
    "TASK_CPU": "3000",
    "TASK_MEMORY": "3",
    "TASK_COUNT": "0",
    "ASSIGN_PUBLIC_IP": "maybe",
    "SD_API_TRANSPORT": "3",
    "SD_API_TCP_PORT": "80",
    "SD_API_TCP_LOCAL": "2",
    "SD_DEBUG_CRASH": "2",
    "EFS_FILE_SYSTEM_ID": "my-efs",
    "LOG_GROUP": "bad group!",
    "LOG_RETENTION_DAYS": "8",
    "LICENSE_SECRET": "the key itself!",
    "TASK_LIFETIME_MINUTES": "forever",
    "TASK_IDLE_MINUTES": "10081",
    "CAPACITY_PROVIDER": "EC2",
    "AWS_CALL_TIMEOUT": "0",
}


def test_every_setting_has_an_invalid_value_here():
    assert set(INVALID) == set(SETTING_NAMES)


@pytest.mark.parametrize("script", STEPS, ids=lambda s: s.__name__)
def test_with_nothing_set_a_setting_is_named_not_the_region(clean_settings, run, script):
    clean_settings.delenv("AWS_DEFAULT_REGION")
    clean_settings.delenv("ENV_FILE")
    clean_settings.setattr(constants, "ENV_FILE", ROOT / "no-such-dir" / ".env")
    result = run(script)
    assert result.code == exit_codes.EXIT_BAD_SETTING, result.err
    assert "is not set" in result.err and "region" not in result.err
    assert "`cp .env.example .env`" in result.err
    assert len(result.err.splitlines()) == 1


# The waits' grace for a task just started, at its shortest: nothing is started here.
QUICK = {describe_task: ["--interval", "0.1"], stop_task: ["--interval", "0.1"]}


@given(script=st.sampled_from(STEPS), name=st.sampled_from(sorted(INVALID)))
@settings(
    max_examples=25, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
def test_a_bad_setting_a_step_uses_is_named_even_without_a_region(aws, run, script, name):
    """Whatever a step reads, it reads before making a client (which needs the region)."""
    saved = os.environ.get(name)
    os.environ[name] = INVALID[name]
    try:
        with_region = run(script, *QUICK.get(script, []))
        if with_region.code != exit_codes.EXIT_BAD_SETTING or name not in with_region.err:
            return  # this step does not use that setting (or reads another bad one first)
        region = os.environ.pop("AWS_DEFAULT_REGION")
        try:
            without_region = run(script, *QUICK.get(script, []))
        finally:
            os.environ["AWS_DEFAULT_REGION"] = region
        assert without_region.code == exit_codes.EXIT_BAD_SETTING, without_region.err
        assert without_region.err == with_region.err
    finally:
        if saved is None:
            os.environ.pop(name, None)
        else:
            os.environ[name] = saved


@pytest.mark.parametrize("script", STEPS, ids=lambda s: s.__name__)
def test_every_setting_read_comes_before_the_first_client(ready, run, monkeypatch, script):
    """Traced on a run against local AWS: no setting is read after a client (needing a region)."""
    trace: list[str] = []
    real_getattr, real_client = constants.__getattr__, clients.client

    def reading(name):
        trace.append(name)
        return real_getattr(name)

    def making(service):
        made = real_client(service)  # what it reads itself, it reads before needing the region
        trace.append("client")
        return made

    monkeypatch.setattr(constants, "__getattr__", reading)
    monkeypatch.setattr(clients, "client", making)
    run(script, *QUICK.get(script, []))
    assert "client" in trace
    first = trace.index("client")
    read_first = set(trace[:first])  # read again later is fine: already checked
    late = [name for name in trace[first:] if name in INVALID and name not in read_first]
    assert not late, f"{script.__name__} reads {late} after making a client"


@pytest.mark.parametrize(
    "script", ["check_prerequisites.py", "register_task_definition.py", "run_task.py"]
)
def test_an_unedited_copy_of_env_example_is_refused_before_aws(tmp_path, script):
    """As a person would run it: a fresh process, .env copied from .env.example, nothing edited."""
    env_file = tmp_path / ".env"
    shutil.copy(ROOT / ".env.example", env_file)
    env = {
        name: value
        for name, value in os.environ.items()
        if name not in SETTING_NAMES and not name.startswith("AWS_")
    }
    # An AWS endpoint where nothing listens: asking AWS anything would fail with exit 1.
    env.update(
        local_aws.aws_environment(f"http://127.0.0.1:{local_aws.free_port()}"),
        ENV_FILE=str(env_file),
    )
    result = subprocess.run(
        [sys.executable, script], cwd=ROOT, env=env, capture_output=True, text=True, timeout=60
    )
    assert result.returncode == exit_codes.EXIT_BAD_SETTING, result.stderr
    assert "is the placeholder from .env.example" in result.stderr
    assert f"from {env_file}" in result.stderr
    assert len(result.stderr.splitlines()) == 1 and result.stdout == ""


@given(
    name=st.sampled_from(["SUBNET_NAME", "SEC_GROUP_NAME"]),
    others=st.lists(st.integers(0x10000000, 0xFFFFFFFF), max_size=3),
    position=st.integers(0, 3),
)
@settings(
    max_examples=20, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
def test_a_placeholder_in_a_list_is_refused(clean_settings, name, others, position):
    prefix = "subnet-" if name == "SUBNET_NAME" else "sg-"
    ids = [f"{prefix}{number:08x}" for number in others]
    ids.insert(min(position, len(ids)), constants._SETTINGS[name].example)
    clean_settings.setenv(name, " , ".join(ids))
    with pytest.raises(constants.SettingError, match="placeholder from .env.example"):
        getattr(constants, name)
