"""The step scripts at edges the other tests do not name: many tasks, odd task arguments,
botocore's own variables, signals after RunTask answered and while Python shuts down."""

from plumbing import arguments, clients, ecs_tasks, exit_codes, ingress, output, redaction, signals

import json
import os
from types import SimpleNamespace

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import constants
import describe_clusters
import describe_task
import stop_task
from rehearsal.local_aws import free_port


@pytest.fixture
def aws_limits(monkeypatch):
    """Clients that refuse what real AWS refuses and moto accepts: DescribeTasks of over 100.

    Returns the operations called, in order."""
    real_client = clients.client
    calls: list[str] = []

    def limited_client(service):
        aws_client = real_client(service)
        aws_client.meta.events.register(
            "before-call.*.*", lambda model, **_: calls.append(model.name)
        )

        def refuse_too_many(params, **_):
            if len(json.loads(params["body"]).get("tasks", [])) > 100:
                http = SimpleNamespace(status_code=400, headers={}, content=b"")
                return http, {
                    "Error": {
                        "Code": "InvalidParameterException",
                        "Message": "Tasks cannot be more than 100.",
                    },
                    "ResponseMetadata": {"HTTPStatusCode": 400},
                }
            return None

        aws_client.meta.events.register("before-call.ecs.DescribeTasks", refuse_too_many)
        return aws_client

    monkeypatch.setattr(clients, "client", limited_client)
    return calls


def _start(ready, count: int) -> list[str]:
    arns = []
    while len(arns) < count:
        arns += [
            task["taskArn"]
            for task in ready.ecs.run_task(
                cluster=constants.CLUSTER_NAME,
                taskDefinition=constants.TASK_FAMILY_NAME,
                launchType="FARGATE",
                count=min(10, count - len(arns)),
                startedBy=constants.STARTED_BY,
                networkConfiguration={
                    "awsvpcConfiguration": {
                        "subnets": [ready.subnet_id],
                        "securityGroups": [ready.group_id],
                    }
                },
            )["tasks"]
        ]
    return arns


@pytest.mark.parametrize("count", [100, 101, 230])
def test_any_number_of_tasks_is_described_and_stopped(ready, aws_limits, run, count):
    arns = _start(ready, count)

    described = run(describe_task, "--interval", "0")
    assert described.code == 0, described.err
    assert {task["taskArn"] for task in described.json()["tasks"]} == set(arns)
    # Not one call per task for what all of them share: their task definition.
    assert aws_limits.count("DescribeTaskDefinition") == 1
    aws_limits.clear()

    named = run(describe_task, "--interval", "0", *arns)
    assert named.code == 0, named.err

    stopped = run(stop_task, "--interval", "0")
    assert stopped.code == 0, stopped.err
    assert {task["taskArn"] for task in stopped.json()["tasks"]} == set(arns)
    left = ready.ecs.list_tasks(cluster=constants.CLUSTER_NAME, desiredStatus="RUNNING")
    assert left["taskArns"] == []


TASK_ARGUMENTS = st.one_of(
    st.text(max_size=40),
    st.sampled_from(["", " ", "\t", "a\nb", "a b", "x" * 5000, "\u00e9t\u00e9", "\x1b[2J"]),
)


@settings(
    max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(argument=TASK_ARGUMENTS)
def test_any_task_argument_is_looked_up_or_refused_in_one_line(capsys, argument):
    """A task argument is either sent to ECS as it is, or refused (exit 2) in one line."""
    try:
        accepted = arguments.task_reference(argument) == argument
    except Exception:  # noqa: BLE001 (refused: the script must say so below)
        accepted = False
    if accepted:
        assert argument.strip() and argument.isascii() and argument.isprintable()
        assert " " not in argument and len(argument) <= 1600
        return
    with pytest.raises(SystemExit) as exit_:
        describe_task.main(["--", argument])
    err = capsys.readouterr().err
    assert exit_.value.code == 2
    assert err.count("\n") == 1 and err.startswith("error: argument tasks: ")
    assert len(err) < 300


# --- botocore's own settings, from the environment

_LOOPBACK_URL_TAIL = st.text(alphabet="0123456789x-:[]% ", max_size=8)
_ANY_TEXT = st.text(
    alphabet=st.characters(blacklist_categories=("Cs",), blacklist_characters="\x00"), max_size=30
)
BOTOCORE_VARIABLES = {
    name: _ANY_TEXT
    for name in [
        "AWS_MAX_ATTEMPTS",
        "AWS_RETRY_MODE",
        "AWS_DEFAULT_REGION",
        "AWS_DEFAULTS_MODE",
        "AWS_STS_REGIONAL_ENDPOINTS",
        "AWS_METADATA_SERVICE_TIMEOUT",
        "AWS_METADATA_SERVICE_NUM_ATTEMPTS",
        "AWS_REQUEST_MIN_COMPRESSION_SIZE_BYTES",
        "AWS_REQUEST_CHECKSUM_CALCULATION",
        "AWS_USE_FIPS_ENDPOINT",
        "AWS_USE_DUALSTACK_ENDPOINT",
        "AWS_PROFILE",
        "AWS_SDK_UA_APP_ID",
        "AWS_ACCOUNT_ID_ENDPOINT_MODE",
    ]
}
# Endpoint URLs that name no host needing DNS: unparsable, or loopback with an odd port.
for _name in ["AWS_ENDPOINT_URL", "AWS_ENDPOINT_URL_ECS"]:
    BOTOCORE_VARIABLES[_name] = st.one_of(
        _ANY_TEXT.filter(lambda text: "//" not in text),
        _LOOPBACK_URL_TAIL.map(lambda tail: "http://127.0.0.1:" + tail),
        st.sampled_from(["http://[::1", "http://127.0.0.1:99999", "ftp://127.0.0.1/", ""]),
    )


@settings(
    max_examples=80, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(data=st.data())
def test_any_botocore_variable_is_one_line(clean_settings, run, data):
    """Whatever botocore's own variables hold, a script ends in one line, never a traceback."""
    name = data.draw(st.sampled_from(sorted(BOTOCORE_VARIABLES)), label="variable")
    value = data.draw(BOTOCORE_VARIABLES[name], label="value")
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("CLUSTER_NAME", "sd-test")
        patch.setenv("AWS_CALL_TIMEOUT", "2")
        patch.setenv("AWS_MAX_ATTEMPTS", "1")
        # Nothing listens there: a call that is made is refused at once.
        patch.setenv("AWS_ENDPOINT_URL", f"http://127.0.0.1:{free_port()}")
        patch.setenv(name, value)
        result = run(describe_clusters)
    assert result.code == exit_codes.EXIT_FAILED, result
    lines = result.err.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: "), result.err


# --- a signal after RunTask answered: the tasks that bill are named


@pytest.mark.parametrize("signal_name", ["SIGINT", "SIGTERM"])
@pytest.mark.parametrize("moment", range(4))
def test_a_signal_after_run_task_answered_names_the_started_tasks(
    ready, run, monkeypatch, signal_name, moment
):
    """Ctrl-C (or SIGTERM) at each line run_task.py prints after RunTask started the tasks."""
    import signal

    import run_task

    signum = getattr(signal, signal_name)
    printed = []
    real_show, real_say = output.show, output.say

    def signal_at_moment(real):
        def output(*args):
            if ready.ecs.list_tasks(cluster=constants.CLUSTER_NAME)["taskArns"]:
                printed.append(args)
                if len(printed) == moment + 1:
                    if signum == signal.SIGINT:
                        raise KeyboardInterrupt
                    raise signals.Interrupted(signum)
            real(*args)

        return output

    monkeypatch.setattr(output, "show", signal_at_moment(real_show))
    monkeypatch.setattr(output, "say", signal_at_moment(real_say))
    result = run(run_task, "--count", "2")

    running = ready.ecs.list_tasks(cluster=constants.CLUSTER_NAME)["taskArns"]
    assert len(running) == 2
    assert result.code == 128 + signum, result
    lines = result.err.strip().splitlines()
    last = lines[-1]
    assert all(ecs_tasks.short_id(arn) in last for arn in running), last
    assert "stop_task.py" in last


def _fault(proxy, kind: str) -> None:
    operation = "DescribeTaskDefinition"
    {
        "throttled": lambda: proxy.throttle(operation),
        "server error": lambda: proxy.server_error(operation),
        "access denied": lambda: proxy.error(operation, "AccessDeniedException", "no", 400),
        "dropped": lambda: proxy.drop(operation),
        "silent": lambda: proxy.silence(operation),
        "not JSON": lambda: proxy.raw(operation, 200, b"<html>portal</html>", "text/html"),
        "empty JSON": lambda: proxy.raw(operation, 200, b"{}", "application/x-amz-json-1.1"),
    }[kind]()


@pytest.mark.parametrize(
    "kind",
    ["throttled", "server error", "access denied", "dropped", "silent", "not JSON", "empty JSON"],
)
def test_any_failure_after_run_task_started_tasks_names_them(
    fargate, aws_proxy, through_proxy, clean_settings, run, kind
):
    """Whatever goes wrong after RunTask started tasks, the script ends naming them."""
    import register_task_definition
    import run_task

    clean_settings.setenv("AWS_CALL_TIMEOUT", "2")
    clean_settings.setenv("AWS_MAX_ATTEMPTS", "2")
    assert run(register_task_definition).code == 0
    _fault(aws_proxy, kind)
    result = run(run_task, "--count", "2")

    running = fargate.running(through_proxy)
    assert len(running) == 2
    if result.code == 0:
        assert "warning: could not read the task's lifetime" in result.err, result.err
        return
    last = result.err.strip().splitlines()[-1]
    assert result.code == 1 and last.startswith("error: "), result
    assert all(ecs_tasks.short_id(arn) in last for arn in running), last
    assert "stop_task.py" in last


# --- a signal once the script is done: the exit code it decided stands


@pytest.mark.parametrize("signal_name", ["SIGINT", "SIGTERM", "SIGHUP"])
def test_a_signal_while_python_shuts_down_changes_nothing(signal_name):
    """The work is done and said; a signal during Python's shutdown adds no line, keeps the code."""
    import os
    import subprocess
    import sys

    from conftest import ROOT

    # An exit handler registered before the script's own ones runs after them, as Python
    # shuts down: it sends the signal there and gives it time to act.
    runner = (
        "import atexit, os, runpy, signal, sys, time\n"
        f"atexit.register(lambda: (os.kill(os.getpid(), signal.{signal_name}), time.sleep(0.3)))\n"
        "sys.argv = ['create_cluster.py']\n"
        "runpy.run_path('create_cluster.py', run_name='__main__')\n"
    )
    env = {
        name: value
        for name, value in os.environ.items()
        if not name.startswith(("AWS_", "SD_", "TASK_", "CLUSTER_"))
    }
    # No region: the script fails at once, before any AWS call, in one line (exit 1).
    env.update(
        ENV_FILE=os.devnull,
        CLUSTER_NAME="sd-test",
        AWS_EC2_METADATA_DISABLED="true",
        AWS_CONFIG_FILE=os.devnull,
        AWS_SHARED_CREDENTIALS_FILE=os.devnull,
    )
    done = subprocess.run(
        [sys.executable, "-c", runner], cwd=ROOT, env=env, capture_output=True, text=True,
        timeout=60,
    )
    assert done.returncode == exit_codes.EXIT_FAILED, done
    assert done.stderr.count("\n") == 1 and done.stderr.startswith("error: no AWS region"), done


# --- .env lines that name a setting: never "not set"

_DOTENV_LINES = st.sampled_from(
    [
        "CLUSTER_NAME",
        "CLUSTER_NAME ",
        "export CLUSTER_NAME",
        "CLUSTER_NAME=",
        "CLUSTER_NAME= ",
        'CLUSTER_NAME=""',
        "CLUSTER_NAME=''",
        "CLUSTER_NAME=bad name",
        "CLUSTER_NAME=sd-test",
        "export CLUSTER_NAME=sd-test",
        "CLUSTER_NAME=sd-test # a comment",
    ]
)


@settings(
    max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(
    lines=st.lists(_DOTENV_LINES, min_size=1, max_size=3),
    bom=st.booleans(),
    newline=st.sampled_from(["\n", "\r\n"]),
)
def test_a_dotenv_line_naming_a_setting_is_never_called_not_set(
    clean_settings, tmp_path, lines, bom, newline
):
    env_file = tmp_path / "settings.env"
    env_file.write_bytes(("\ufeff" if bom else "").encode() + newline.join(lines).encode() + b"\n")
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("ENV_FILE", str(env_file))
        patch.delenv("CLUSTER_NAME", raising=False)
        try:
            loaded = constants._load_env_file()
            patch.setattr(constants, "ENV_FILE", loaded[0])
            patch.setattr(constants, "_FROM_FILE", loaded[1])
            patch.setattr(constants, "_ENV_FILE_PROBLEM", loaded[2])
            try:
                value = constants.CLUSTER_NAME
            except constants.SettingError as error:
                message = str(error)
                assert "is not set" not in message, (lines, message)
                assert str(env_file) in message
                assert "\n" not in message
            else:
                assert value == "sd-test"
        finally:
            os.environ.pop("CLUSTER_NAME", None)


# --- AWS's messages: the ids and names they mean stay readable, keys still go

_HEX32 = st.text(alphabet="0123456789abcdef", min_size=32, max_size=32)
_WORD = st.text(alphabet="ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz", min_size=1, max_size=40)
_MEANT = st.one_of(
    _HEX32.map(lambda id_: f"arn:aws:ecs:us-east-1:123456789012:task/sd-demo/{id_}"),
    _HEX32.map(lambda id_: f"task/{id_}"),
    _WORD.map(lambda name: f"arn:aws:iam::aws:policy/service-role/{name}"),
    st.lists(_WORD, min_size=1, max_size=4).map("/".join),
)
_BASE64 = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/"
# A key with a digit or '+' somewhere: a 40-character key of letters and '/' only (about 1 in
# 400) reads as words and is kept; the credentials in use are removed whatever they look like.
_KEYS = st.text(alphabet=_BASE64, min_size=40, max_size=80).filter(
    lambda key: any(char.isdigit() or char == "+" for char in key)
)


@settings(max_examples=80, deadline=None)
@given(meant=_MEANT, key=_KEYS)
def test_aws_text_keeps_ids_and_names_and_removes_keys(meant, key):
    # Only the patterns: credentials other tests used in this process are removed by name.
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(redaction, "_known_secrets", set())
        assert redaction.aws_text(f"{meant} does not exist") == f"{meant} does not exist"
        assert key not in redaction.aws_text(f"{meant} was refused for {key}")


# --- open to the internet, however the ranges are written

_WIDE = st.sampled_from(
    [["0.0.0.0/0"], ["::/0"], ["0.0.0.0/1", "128.0.0.0/1"], ["64.0.0.0/2"], ["2000::/3"], ["1.0.0.0/8"]]
)


@settings(
    max_examples=12, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(ranges=_WIDE)
def test_run_task_warns_whenever_the_internet_at_large_may_come_in(ready, run, ranges):
    import run_task

    group = ready.ec2.create_security_group(
        GroupName=f"wide-{len(ready.ec2.describe_security_groups()['SecurityGroups'])}",
        Description="wide",
        VpcId=ready.vpc_id,
    )["GroupId"]
    ipv4 = [{"CidrIp": each} for each in ranges if ":" not in each]
    ipv6 = [{"CidrIpv6": each} for each in ranges if ":" in each]
    ready.ec2.authorize_security_group_ingress(
        GroupId=group,
        IpPermissions=[
            {"IpProtocol": "tcp", "FromPort": 9090, "ToPort": 9090, "IpRanges": ipv4, "Ipv6Ranges": ipv6}
        ],
    )
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("SEC_GROUP_NAME", group)
        result = run(run_task, "--force")
    assert result.code == 0, result.err
    assert "is open to the whole internet" in result.err, (ranges, result.err)
    assert all(each in result.err for each in ranges)


def test_private_and_narrow_ranges_are_not_the_internet():
    assert ingress.open_to_the_internet(["10.0.0.0/8", "203.0.113.7/32", "fd00::/8", "x"]) == []
