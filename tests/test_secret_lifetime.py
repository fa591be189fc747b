"""The licence as a secret (store_license.py, the container's `secrets`) and the task lifetime."""

from plumbing import ecs_tasks

import json
import os
import pty
import re
import select
import subprocess
import sys
from datetime import datetime, timedelta, timezone

import boto3
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import describe_task
import register_task_definition
import run_task
import store_license
from conftest import ROOT
from rehearsal import local_aws

ACCOUNT = "123456789012"  # what moto's sts answers
SSM_ARN = f"arn:aws:ssm:eu-west-1:{ACCOUNT}:parameter/team/sd/licence"
SM_ARN = f"arn:aws:secretsmanager:us-east-1:{ACCOUNT}:secret:sd-licence-AbCdEf"
FIXTURES = settings(
    max_examples=10,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture],
)
# Keys long and odd enough that finding one in the output means it leaked.
KEYS = st.text(
    alphabet=st.characters(min_codepoint=33, max_codepoint=0x2FF, exclude_characters="\\"),
    min_size=16,
    max_size=64,
)


def containers_of(definition: dict) -> dict:
    return {container["name"]: container for container in definition["containerDefinitions"]}


def registered(aws) -> list[str]:
    return aws.ecs.list_task_definitions()["taskDefinitionArns"]


# --- the container's secrets entry


@pytest.mark.parametrize(
    "setting, value_from",
    [
        (
            "/sd-apiserver/license",
            f"arn:aws:ssm:us-east-1:{ACCOUNT}:parameter/sd-apiserver/license",
        ),
        ("sd_licence", f"arn:aws:ssm:us-east-1:{ACCOUNT}:parameter/sd_licence"),
        (SSM_ARN, SSM_ARN),
        (SM_ARN, SM_ARN),
    ],
    ids=["ssm-path", "ssm-name", "ssm-arn", "secretsmanager-arn"],
)
def test_secrets_entry(aws, run, clean_settings, setting, value_from):
    clean_settings.setenv("LICENSE_SECRET", setting)
    result = run(register_task_definition)
    assert result.code == 0, result.err
    definition = aws.ecs.describe_task_definition(taskDefinition="sd-apiserver")["taskDefinition"]
    server = containers_of(definition)["sd-apiserver"]
    assert server["secrets"] == [{"name": "SD_API_LICENSE_KEY", "valueFrom": value_from}]
    assert all(
        "secrets" not in c for n, c in containers_of(definition).items() if n != "sd-apiserver"
    )
    permission = (
        "secretsmanager:GetSecretValue" if "secretsmanager" in value_from else "ssm:GetParameters"
    )
    assert f"execution role needs {permission}" in result.err


def test_no_secrets_entry_without_a_secret(aws, run):
    result = run(register_task_definition)
    assert result.code == 0
    server = containers_of(result.json()["taskDefinition"])["sd-apiserver"]
    assert "secrets" not in server


@FIXTURES
@given(key=KEYS, secret=st.sampled_from([None, "/sd-apiserver/license", SM_ARN]))
def test_the_key_never_reaches_the_task_definition_or_the_output(
    aws, run, clean_settings, key, secret
):
    clean_settings.setenv("SD_API_LICENSE_KEY", key)
    if secret:
        clean_settings.setenv("LICENSE_SECRET", secret)
    else:
        clean_settings.delenv("LICENSE_SECRET", raising=False)
    result = run(register_task_definition)
    assert result.code == 0, result.err
    stored = aws.ecs.describe_task_definition(taskDefinition="sd-apiserver")["taskDefinition"]
    assert key not in json.dumps(stored, ensure_ascii=False, default=str)
    assert key not in result.out and key not in result.err
    assert "warning: SD_API_LICENSE_KEY is set here but was not used" in result.err
    assert (
        "reads it from LICENSE_SECRET" if secret else "store it with store_license.py"
    ) in result.err


def test_rest_without_a_secret_is_refused_before_any_aws_call(aws, run, clean_settings, aws_calls):
    clean_settings.setenv("SD_API_TRANSPORT", "4")
    clean_settings.setenv("SD_API_LICENSE_KEY", "in-the-environment-is-not-enough")
    result = run(register_task_definition)
    assert result.code == 2
    [line] = result.err.splitlines()
    assert line.startswith("error: SD_API_TRANSPORT=4 (REST) needs LICENSE_SECRET")
    assert aws_calls == []
    assert registered(aws) == []


def test_rest_with_a_secret_is_not_called_unreachable(aws, run, clean_settings):
    clean_settings.setenv("SD_API_TRANSPORT", "4")
    clean_settings.setenv("SD_API_TCP_LOCAL", "1")
    clean_settings.setenv("LICENSE_SECRET", "/sd-apiserver/license")
    result = run(register_task_definition)
    assert result.code == 0, result.err
    assert "warning" not in result.err and "unreachable" not in result.err
    assert "SD_API_TCP_LOCAL does not apply to REST" in result.err
    server = containers_of(result.json()["taskDefinition"])["sd-apiserver"]
    assert {"name": "SD_API_TRANSPORT", "value": "4"} in server["environment"]


# --- the lifetime container

CPU_MEMORY = st.sampled_from(
    [
        (256, 512),
        (256, 2048),
        (512, 1024),
        (1024, 3072),
        (2048, 4096),
        (4096, 8192),
        (16384, 122880),
    ]
)


@FIXTURES
@given(minutes=st.integers(0, 10080), size=CPU_MEMORY)
def test_lifetime_over_its_whole_range(aws, run, clean_settings, minutes, size):
    cpu, memory = size
    clean_settings.setenv("TASK_LIFETIME_MINUTES", str(minutes))
    clean_settings.setenv("TASK_CPU", str(cpu))
    clean_settings.setenv("TASK_MEMORY", str(memory))
    result = run(register_task_definition)
    assert result.code == 0, result.err
    definition = aws.ecs.describe_task_definition(taskDefinition="sd-apiserver")["taskDefinition"]
    containers = containers_of(definition)
    assert containers["sd-apiserver"]["essential"] is True
    # The containers' hard limits fit the task; the server keeps the rest.
    assert sum(c["memory"] for c in containers.values()) == memory
    assert sum(c["cpu"] for c in containers.values()) == cpu
    assert ecs_tasks.lifetime_minutes(definition) == (minutes or None)
    if minutes:
        lifetime = containers["lifetime"]
        assert lifetime["essential"] is True
        assert lifetime["command"] == ["sleep", str(minutes * 60)]
        assert lifetime["stopTimeout"] == 2
        assert lifetime["image"].startswith("public.ecr.aws/docker/library/busybox:")
        assert not lifetime["image"].endswith(":latest")
        assert "portMappings" not in lifetime or not lifetime["portMappings"]
        assert f"stops by itself after {minutes} minutes" in result.err
    else:
        assert set(containers) == {"sd-apiserver"}
        assert "runs, and bills, until stopped" in result.err


def _not_a_lifetime(text: str) -> bool:
    value = text.strip()
    if not value:
        return False  # empty means the default
    return not re.fullmatch(r"[0-9]{1,5}", value) or int(value) > 10080


BAD_LIFETIMES = st.one_of(
    st.integers(10081, 10**9).map(str),
    st.integers(-(10**6), -1).map(str),
    st.sampled_from(["4h", "1.5", "1e3", "\u00b2", "0x10", "+5", "240 minutes"]),
    st.text(st.characters(exclude_characters="\x00"), min_size=1, max_size=8).filter(
        _not_a_lifetime
    ),
)


@FIXTURES
@given(value=BAD_LIFETIMES)
def test_bad_lifetime_exits_2_with_nothing_registered(aws, run, clean_settings, aws_calls, value):
    aws_calls.clear()
    clean_settings.setenv("TASK_LIFETIME_MINUTES", value)
    result = run(register_task_definition)
    assert result.code == 2, (value, result.err)
    [line] = result.err.splitlines()
    assert line.startswith("error: TASK_LIFETIME_MINUTES=")
    assert "0 for no limit" in line
    assert aws_calls == []
    assert registered(aws) == []


def test_run_task_says_how_long_the_task_lives(ready, run):
    result = run(run_task)
    assert result.code == 0
    assert "it stops by itself after 240 minutes" in result.err


# --- describe_task.py

TASK_ARN = "arn:aws:ecs:us-east-1:123456789012:task/sd-test/0f1e2d3c"
DEF_ARN = "arn:aws:ecs:us-east-1:123456789012:task-definition/sd-apiserver:7"


def _definition(minutes):
    containers = [{"name": "sd-apiserver", "portMappings": [{"containerPort": 9090}]}]
    if minutes:
        containers.insert(
            0, {"name": "lifetime", "command": ["sleep", str(minutes * 60)], "essential": True}
        )
    return {"taskDefinition": {"containerDefinitions": containers}}


def _running(**extra):
    return {
        "taskArn": TASK_ARN,
        "taskDefinitionArn": DEF_ARN,
        "lastStatus": "RUNNING",
        "attachments": [
            {
                "type": "ElasticNetworkInterface",
                "details": [
                    {"name": "networkInterfaceId", "value": "eni-0123456789abcdef0"},
                    {"name": "privateIPv4Address", "value": "10.0.1.25"},
                ],
            }
        ],
        **extra,
    }


@pytest.fixture
def stub_settings(clean_settings):
    clean_settings.setenv("CLUSTER_NAME", "sd-test")
    return clean_settings


@settings(
    max_examples=20, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(
    minutes=st.integers(0, 10080),
    started=st.datetimes(
        min_value=datetime(2020, 1, 1),
        max_value=datetime(2035, 1, 1),
        timezones=st.just(timezone.utc),
    ),
    key=st.sampled_from(["startedAt", "createdAt"]),
)
def test_describe_task_says_when_a_running_task_stops(
    stub, stub_settings, run, minutes, started, key
):
    stub("ecs").add_response(
        "describe_tasks", {"tasks": [_running(**{key: started})], "failures": []}
    )
    stub("ec2").add_response(
        "describe_network_interfaces",
        {
            "NetworkInterfaces": [
                {
                    "NetworkInterfaceId": "eni-0123456789abcdef0",
                    "Association": {"PublicIp": "54.1.2.3"},
                }
            ]
        },
    )
    stub("ecs").add_response("describe_task_definition", _definition(minutes))
    result = run(describe_task, TASK_ARN, "--interval", "0")
    assert result.code == 0, result.err
    [summary] = result.json()["tasks"]
    assert summary["stopSooner"] == "python3 stop_task.py"
    if minutes:
        stop_at = started + timedelta(minutes=minutes)
        assert datetime.fromisoformat(summary["stopsBy"]) == stop_at
        assert summary["lifetimeMinutes"] == minutes
        assert (
            f"task 0f1e2d3c: it stops by itself at {stop_at:%Y-%m-%d %H:%M} UTC "
            f"(lifetime {minutes} minutes); stop it sooner with python3 stop_task.py"
        ) in result.err
    else:
        assert summary["stopsBy"] is None and summary["lifetimeMinutes"] is None
        assert (
            "no lifetime limit: it runs, and bills, until you run python3 stop_task.py"
            in result.err
        )


def test_describe_task_without_a_start_time(stub, stub_settings, run):
    stub("ecs").add_response("describe_tasks", {"tasks": [_running()], "failures": []})
    stub("ec2").add_response("describe_network_interfaces", {"NetworkInterfaces": []})
    stub("ecs").add_response("describe_task_definition", _definition(90))
    result = run(describe_task, TASK_ARN, "--interval", "0")
    assert result.code == 0
    assert "it stops by itself 90 minutes after it started" in result.err
    assert result.json()["tasks"][0]["lifetimeMinutes"] == 90


def _stopped(reason, containers, stop_code="EssentialContainerExited"):
    return {
        "taskArn": TASK_ARN,
        "taskDefinitionArn": DEF_ARN,
        "lastStatus": "STOPPED",
        "stopCode": stop_code,
        "stoppedReason": reason,
        "containers": containers,
    }


def test_a_task_ended_by_its_lifetime_is_not_a_crash(stub, stub_settings, run):
    task = _stopped(
        "Essential container in task exited",
        [{"name": "lifetime", "exitCode": 0}, {"name": "sd-apiserver", "exitCode": 137}],
    )
    stub("ecs").add_response("describe_tasks", {"tasks": [task], "failures": []})
    stub("ecs").add_response("describe_task_definition", _definition(240))
    result = run(describe_task, TASK_ARN, "--interval", "0")
    assert result.code == 1
    assert "ended after its lifetime of 240 minutes" in result.err
    assert "hint" not in result.err  # not explained as a server crash
    assert result.err.strip().splitlines()[-1] == (
        "error: the task has ended, as its lifetime ran out: nothing runs"
    )


@pytest.mark.parametrize(
    "containers",
    [
        [{"name": "lifetime", "exitCode": 137}, {"name": "sd-apiserver", "exitCode": 139}],
        [{"name": "sd-apiserver", "exitCode": 1}],
        [{"name": "lifetime"}, {"name": "sd-apiserver", "exitCode": 0}],
    ],
    ids=["server-crashed", "no-lifetime-container", "lifetime-still-running"],
)
def test_a_server_crash_is_not_called_a_lifetime_end(stub, stub_settings, run, containers):
    task = _stopped("Essential container in task exited", containers)
    stub("ecs").add_response("describe_tasks", {"tasks": [task], "failures": []})
    result = run(describe_task, TASK_ARN, "--interval", "0")
    assert result.code == 1
    assert "lifetime of" not in result.err
    assert "hint: the server exited" in result.err


@pytest.mark.parametrize(
    "reason",
    [
        "ResourceInitializationError: unable to pull secrets or registry auth: execution resource "
        "retrieval failed: unable to retrieve secrets from ssm: service call has been retried 1 "
        "time(s): AccessDeniedException: User: arn:aws:sts::1:assumed-role/ecsTaskExecutionRole "
        "is not authorized to perform: ssm:GetParameters",
        "ResourceInitializationError: unable to retrieve secret from asm: ResourceNotFoundException",
        "AccessDeniedException: kms:Decrypt",
    ],
)
def test_describe_task_explains_an_unreadable_secret(stub, stub_settings, run, reason):
    task = _stopped(reason, [{"name": "sd-apiserver"}], stop_code="TaskFailedToStart")
    stub("ecs").add_response("describe_tasks", {"tasks": [task], "failures": []})
    result = run(describe_task, TASK_ARN, "--interval", "0")
    assert result.code == 1
    assert "hint: ECS could not read the licence secret (LICENSE_SECRET)" in result.err
    for permission in ("ssm:GetParameters", "secretsmanager:GetSecretValue", "kms:Decrypt"):
        assert permission in result.err
    # IAM is eventually consistent: a policy added a moment ago may not have reached ECS.
    assert "IAM may not have reached ECS yet: start a new task with run_task.py" in result.err


# --- store_license.py


@pytest.fixture
def ssm(aws):
    return boto3.client("ssm")


def _secret_line(result) -> str:
    [line] = result.out.splitlines()
    assert line.startswith("LICENSE_SECRET=")
    return line.split("=", 1)[1]


def test_store_is_idempotent_and_overwrite_replaces(ssm, run, clean_settings):
    clean_settings.setenv("SD_API_LICENSE_KEY", "first-key-0123456789")
    first = run(store_license)
    assert first.code == 0, first.err
    arn = _secret_line(first)
    assert arn == f"arn:aws:ssm:us-east-1:{ACCOUNT}:parameter/sd-apiserver/license"
    parameter = ssm.get_parameter(Name="/sd-apiserver/license", WithDecryption=True)["Parameter"]
    assert (parameter["Type"], parameter["Value"]) == ("SecureString", "first-key-0123456789")

    clean_settings.setenv("SD_API_LICENSE_KEY", "second-key-9876543210")
    again = run(store_license)
    assert again.code == 0
    assert "already exists: kept (--overwrite replaces its key)" in again.err
    assert _secret_line(again) == arn
    assert (
        ssm.get_parameter(Name="/sd-apiserver/license", WithDecryption=True)["Parameter"]["Value"]
        == "first-key-0123456789"
    )

    replaced = run(store_license, "--overwrite")
    assert replaced.code == 0
    assert _secret_line(replaced) == arn
    assert (
        ssm.get_parameter(Name="/sd-apiserver/license", WithDecryption=True)["Parameter"]["Value"]
        == "second-key-9876543210"
    )
    for result in (first, again, replaced):
        assert "key-0123456789" not in result.out + result.err
        assert "key-9876543210" not in result.out + result.err


def test_an_existing_plain_parameter_is_named_and_overwrite_encrypts_it(ssm, run, clean_settings):
    ssm.put_parameter(Name="/sd-apiserver/license", Value="old-plain-value", Type="String")
    clean_settings.setenv("SD_API_LICENSE_KEY", "new-secret-key-5555")
    kept = run(store_license)
    assert kept.code == 0
    assert "warning: /sd-apiserver/license is a String parameter, stored unencrypted" in kept.err
    assert run(store_license, "--overwrite").code == 0
    parameter = ssm.get_parameter(Name="/sd-apiserver/license", WithDecryption=True)["Parameter"]
    assert (parameter["Type"], parameter["Value"]) == ("SecureString", "new-secret-key-5555")


def test_store_under_another_name_then_delete(ssm, run, clean_settings):
    clean_settings.setenv("SD_API_LICENSE_KEY", "a-key-for-the-team-0001")
    stored = run(store_license, "--name", "team/sd/licence")
    assert stored.code == 0
    assert _secret_line(stored).endswith(":parameter/team/sd/licence")
    deleted = run(store_license, "--delete", "--name", "team/sd/licence")
    # A name with a hierarchy takes the leading slash SSM requires.
    assert deleted.code == 0 and "deleted parameter /team/sd/licence" in deleted.err
    assert ssm.describe_parameters()["Parameters"] == []
    again = run(store_license, "--delete", "--name", "team/sd/licence")
    assert again.code == 0 and "does not exist (already deleted?)" in again.err


def test_the_key_from_a_hidden_prompt(ssm, run, clean_settings, monkeypatch):
    clean_settings.delenv("SD_API_LICENSE_KEY", raising=False)
    prompts = []

    def getpass(prompt):
        prompts.append(prompt)
        return "typed-key-never-echoed-42\n"

    monkeypatch.setattr(store_license.getpass, "getpass", getpass)
    monkeypatch.setattr(store_license.sys.stdin, "isatty", lambda: True)
    result = run(store_license)
    assert result.code == 0, result.err
    assert prompts == ["licence key (not shown): "]
    assert "typed-key-never-echoed-42" not in result.out + result.err
    assert (
        ssm.get_parameter(Name="/sd-apiserver/license", WithDecryption=True)["Parameter"]["Value"]
        == "typed-key-never-echoed-42"
    )


def test_no_key_and_no_terminal_is_a_bad_setting(ssm, run, clean_settings, monkeypatch):
    clean_settings.delenv("SD_API_LICENSE_KEY", raising=False)
    monkeypatch.setattr(store_license.sys.stdin, "isatty", lambda: False)
    result = run(store_license)
    assert result.code == 2
    [line] = result.err.splitlines()
    assert "no licence key: set SD_API_LICENSE_KEY" in line
    assert ssm.describe_parameters()["Parameters"] == []


@pytest.mark.parametrize(
    "name", ["aws/license", "/ssm/x", "bad name", "a//b", "", "/licence-\u00e9"]
)
def test_bad_parameter_name(clean_settings, aws_calls, capsys, name):
    with pytest.raises(SystemExit) as exit_:
        store_license.main(["--name", name])
    assert exit_.value.code == 2
    [line] = capsys.readouterr().err.splitlines()
    assert "is not an SSM parameter name" in line
    assert aws_calls == []


@FIXTURES
@given(key=KEYS)
def test_an_aws_error_quoting_the_key_does_not_print_it(stub, clean_settings, run, key):
    clean_settings.setenv("SD_API_LICENSE_KEY", key)
    stub("ssm").add_client_error(
        "put_parameter",
        "ValidationException",
        f"1 validation error detected: Value '{key}' at 'value' failed to satisfy constraint",
    )
    result = run(store_license)
    assert result.code == 1
    assert key.strip() not in result.out + result.err
    assert "(ValidationException)" in result.err


def test_the_key_is_stored_in_the_standard_tier_under_a_fully_qualified_name(
    ssm, run, clean_settings
):
    clean_settings.setenv("SD_API_LICENSE_KEY", "a-key-for-the-tier-0001")
    assert run(store_license, "--name", "team/tiered").code == 0
    [parameter] = ssm.describe_parameters()["Parameters"]
    assert parameter["Name"] == "/team/tiered"  # SSM refuses a hierarchy without its slash
    assert parameter["Tier"] == "Standard"  # not the account's default, which may bill


def test_a_name_too_long_with_its_arn_is_refused_before_aws(aws, run, clean_settings, aws_calls):
    clean_settings.setenv("SD_API_LICENSE_KEY", "a-key-0002")
    # 1000 characters fit SSM's name pattern, but not with arn:aws:ssm:us-east-1:...:parameter.
    result = run(store_license, "--name", "/" + "n" * 999)
    assert result.code == 2
    assert "SSM allows 1011" in result.err
    assert "PutParameter" not in aws_calls


def test_help(capsys):
    with pytest.raises(SystemExit) as exit_:
        store_license.main(["--help"])
    assert exit_.value.code == 0
    assert "--overwrite" in capsys.readouterr().out
    assert (ROOT / "store_license.py").is_file()


SSM_NAMES = st.from_regex(
    r"/?[A-Za-z0-9_.-]{1,20}(/[A-Za-z0-9_.-]{1,20}){0,3}", fullmatch=True
).filter(lambda name: not name.lstrip("/").lower().startswith(("aws", "ssm")))


@FIXTURES
@given(name=SSM_NAMES)
def test_any_ssm_name_becomes_its_arn(aws, run, clean_settings, name):
    clean_settings.setenv("LICENSE_SECRET", name)
    result = run(register_task_definition)
    assert result.code == 0, result.err
    server = containers_of(result.json()["taskDefinition"])["sd-apiserver"]
    [secret] = server["secrets"]
    assert secret["valueFrom"] == (f"arn:aws:ssm:us-east-1:{ACCOUNT}:parameter/{name.lstrip('/')}")


@pytest.fixture
def moto_server():
    server = local_aws.MotoServer().start()
    yield server
    server.stop()


def test_the_prompt_does_not_echo_the_key(moto_server):
    """On a real terminal: what is typed at the prompt never shows."""
    environment = {
        "PATH": os.environ["PATH"],
        **local_aws.aws_environment(moto_server.endpoint),
        "ENV_FILE": os.devnull,
    }
    leader, follower = pty.openpty()
    process = subprocess.Popen(
        [sys.executable, "store_license.py", "--name", "/prompted/licence"],
        cwd=ROOT,
        env=environment,
        stdin=follower,
        stdout=subprocess.PIPE,
        stderr=follower,
        start_new_session=True,
    )
    os.close(follower)
    try:
        seen = b""
        while b"(not shown): " not in seen:
            ready, _, _ = select.select([leader], [], [], 30)
            assert ready, f"no prompt on the terminal: {seen!r}"
            seen += os.read(leader, 1024)
        os.write(leader, b"typed-at-a-terminal-123\n")
        out, _ = process.communicate(timeout=60)
        while True:
            try:
                chunk = os.read(leader, 1024)
            except OSError:  # the terminal closed with the process
                break
            if not chunk:
                break
            seen += chunk
    finally:
        os.close(leader)
        if process.poll() is None:
            process.kill()
            process.wait()
    assert process.returncode == 0, seen
    assert b"typed-at-a-terminal" not in seen and "typed-at-a-terminal" not in out.decode()
    assert out.decode().startswith("LICENSE_SECRET=arn:aws:ssm:us-east-1:")
    stored = moto_server.client("ssm").get_parameter(Name="/prompted/licence", WithDecryption=True)
    assert stored["Parameter"]["Value"] == "typed-at-a-terminal-123"
