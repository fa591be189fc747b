"""Any value of any setting, and of any numeric argument, of any step: accepted, or refused in
one line with exit 2 before any AWS call. Never a traceback.

In process, against the fault proxy answering every call with an error (so an accepted value
costs one quick call); the proxy counts the calls a refused value must not make.
"""

from plumbing import exit_codes

import os
import re
import subprocess
import sys

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import constants
import create_cluster
import describe_task
import list_task_definition
import register_task_definition
import run_task
import stop_task
from conftest import ROOT
from faults.aws_proxy import ANY

# A step that reads each setting (or, for settings no step reads yet, one that may).
READER = {
    "AWS_PROFILE_NAME": create_cluster,
    "AWS_CALL_TIMEOUT": create_cluster,
    "CLUSTER_NAME": create_cluster,
    "TASK_FAMILY_NAME": list_task_definition,
    "TASK_FAMILY_NAME_FULL": run_task,
    "SUBNET_NAME": run_task,
    "SEC_GROUP_NAME": run_task,
    "TASK_COUNT": run_task,
    "ASSIGN_PUBLIC_IP": run_task,
}

TRICKY = [
    "",
    " ",
    "²",
    "٣",
    "１０",
    "߁",
    "NaN",
    "nan",
    "inf",
    "-inf",
    "Infinity",
    "-1",
    "-0",
    "0",
    "1",
    "+1",
    "1.0",
    "1e3",
    "0x10",
    "1_000",
    "10",
    "4096",
    "8192",
    "9090",
    "DISABLED",
    "dısabled",
    "\t7\n",
    "9" * 30,
    "9" * 5000,
    "sd-demo",
    "arn:aws:iam::١٢٣٤٥٦٧٨٩٠١٢:role/x",
    "arn:aws:iam::123456789012:role/ecsTaskExecutionRole",
    "subnet-0123456789abcdef0",
    "sg-0123456789abcdef0,sg-0123456789abcdef1",
    "fs-0123456789abcdef0",
    "/sd-apiserver/license",
    "sd-apiserver:3",
]
ENVIRONMENT_TEXT = st.text(
    alphabet=st.characters(blacklist_categories=("Cs",), blacklist_characters="\x00"), max_size=40
)
VALUES = st.one_of(
    st.sampled_from(TRICKY),
    st.integers(-(10**12), 10**12).map(str),
    st.floats().map(str),
    ENVIRONMENT_TEXT,
)


@pytest.fixture
def refusing_aws(through_proxy, aws_proxy, clean_settings):
    """Every AWS call answered at once with an error; the proxy counts them."""
    clean_settings.setenv("AWS_MAX_ATTEMPTS", "1")
    aws_proxy.error(ANY, "AccessDeniedException", "not in this test")
    return aws_proxy


@pytest.fixture
def settings_read(monkeypatch):
    """The names of the settings a script read, in order."""
    names: list[str] = []
    real = constants._resolve

    def recording(name):
        names.append(name)
        return real(name)

    monkeypatch.setattr(constants, "_resolve", recording)
    return names


def _refused(name: str) -> bool:
    try:
        constants._resolve(name)
    except constants.SettingError:
        return True
    return False


@pytest.mark.parametrize("name", list(constants._SETTINGS))
def test_any_value_of_a_setting(refusing_aws, run, clean_settings, settings_read, name):
    script = READER.get(name, register_task_definition)

    @settings(max_examples=15, deadline=None, suppress_health_check=list(HealthCheck))
    @given(value=VALUES)
    def check(value):
        clean_settings.setenv(name, value)
        refusing_aws.seen.clear()
        settings_read.clear()
        refused = _refused(name)
        settings_read.clear()
        result = run(script)
        lines = result.err.strip().splitlines()
        if result.code == exit_codes.EXIT_BAD_SETTING:
            assert len(lines) == 1 and lines[0].startswith("error: "), result.err
            assert refusing_aws.count(ANY) == 0
            assert result.out == ""
        else:
            assert result.code in (exit_codes.EXIT_OK, exit_codes.EXIT_FAILED), result
            assert lines[-1].startswith("error: ") or result.code == 0
        if refused and name in settings_read:
            assert result.code == exit_codes.EXIT_BAD_SETTING, (value, result)
            assert name in lines[0]
        if not refused:  # an accepted value may be warned about, never refused
            assert not [line for line in lines if line.startswith("error: ") and f"{name}=" in line]

    check()


NUMERIC_ARGUMENTS = [
    (describe_task, "--timeout", 0, 86400, False),
    (describe_task, "--interval", 0, 3600, True),
    (stop_task, "--timeout", 0, 86400, False),
    (stop_task, "--interval", 0, 3600, True),
    (run_task, "--count", 1, 10, True),
]


def _allowed(text: str, low: float, high: float, zero: bool, whole: bool) -> bool:
    pattern = r"[0-9]{1,9}" if whole else r"[0-9]{1,9}(\.[0-9]{0,9})?|\.[0-9]{1,9}"
    if not re.fullmatch(pattern, text):
        return False
    value = float(text)
    return low <= value <= high and (zero or value > 0)


@pytest.mark.parametrize(
    "script, flag, low, high, zero",
    NUMERIC_ARGUMENTS,
    ids=[f"{s.__name__}{f}" for s, f, *_ in NUMERIC_ARGUMENTS],
)
def test_any_value_of_a_numeric_argument(
    refusing_aws, run, capsys, script, flag, low, high, zero
):
    @settings(max_examples=40, deadline=None, suppress_health_check=list(HealthCheck))
    @given(value=VALUES, joined=st.booleans())
    def check(value, joined):
        refusing_aws.seen.clear()
        argv = [f"{flag}={value}"] if joined else [flag, value]
        capsys.readouterr()
        try:
            code = script.main(argv)
        except SystemExit as exit_:
            code = exit_.code
        err = capsys.readouterr().err
        lines = err.strip().splitlines()
        if _allowed(value, low, high, zero, whole=flag == "--count"):
            assert code == exit_codes.EXIT_FAILED, (value, err)  # went on to AWS, which said no
        else:
            assert code == exit_codes.EXIT_BAD_SETTING, (value, err)
            assert len(lines) == 1 and lines[0].startswith("error: "), err
            assert refusing_aws.count(ANY) == 0

    check()


# --- the same, as a person meets it: processes


def _script(script, env, *argv):
    return subprocess.Popen(
        [sys.executable, str(ROOT / script), *argv],
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )


def test_bad_settings_and_files_as_processes(tmp_path):
    malformed = tmp_path / "malformed.env"
    malformed.write_text("CLUSTER_NAME=sd-test\nAWS_SECRET_ACCESS_KEY wJalrXUtnFEMI/K7MDENG\n")
    latin = tmp_path / "latin.env"
    latin.write_bytes("CLUSTER_NAME=caf\u00e9\n".encode("latin-1"))
    base = {
        name: value
        for name, value in os.environ.items()
        if not name.startswith(("AWS_", "SD_", "TASK_")) and name not in constants._SETTINGS
    }
    base.update(AWS_DEFAULT_REGION="us-east-1", ENV_FILE=os.devnull, CLUSTER_NAME="sd-test")
    run_settings = {
        "TASK_FAMILY_NAME": "sd-apiserver",
        "SUBNET_NAME": "subnet-0123456789abcdef0",
        "SEC_GROUP_NAME": "sg-0123456789abcdef0",
    }
    cases = {
        "TASK_COUNT=²": (
            "run_task.py",
            {**run_settings, "TASK_COUNT": "²"},
            [],
            "TASK_COUNT='²'",
        ),
        "--timeout nan": ("describe_task.py", {}, ["--timeout", "nan"], "--timeout: 'nan'"),
        "--interval -1": ("stop_task.py", {}, ["--interval", "-1"], "--interval: '-1'"),
        "--count ٣": ("run_task.py", run_settings, ["--count", "٣"], "--count: '٣'"),
        "Latin-1 .env": ("list_tasks.py", {"ENV_FILE": str(latin)}, [], "is not UTF-8"),
        "malformed .env": (
            "list_tasks.py",
            {"ENV_FILE": str(malformed)},
            [],
            f"line 2 of {malformed} is not NAME=value",
        ),
        "missing ENV_FILE": (
            "list_tasks.py",
            {"ENV_FILE": str(tmp_path / "nope.env")},
            [],
            "nope.env' (from the environment) does not exist",
        ),
        "empty": ("delete_cluster.py", {"CLUSTER_NAME": ""}, [], "CLUSTER_NAME is empty"),
    }
    processes = {
        case: _script(script, {**base, **env}, *argv)
        for case, (script, env, argv, _) in cases.items()
    }
    for case, process in processes.items():
        out, err = process.communicate(timeout=60)
        assert process.returncode == 2, (case, err)
        assert out == "" and err.count("\n") == 1 and err.startswith("error: "), (case, err)
        assert cases[case][3] in err, (case, err)
        assert "wJalrXUtnFEMI" not in err
