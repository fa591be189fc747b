"""The log group: LOG_GROUP's default and "off", LOG_RETENTION_DAYS, made by
register_task_definition.py when missing (tagged, with its retention), never half-made."""

from __future__ import annotations

import re

import boto3
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import constants
import register_task_definition

TAG = {constants.PROJECT_TAG["key"]: constants.PROJECT_TAG["value"]}


def group_named(logs, name: str) -> dict | None:
    groups = logs.describe_log_groups(logGroupNamePrefix=name)["logGroups"]
    return next((g for g in groups if g["logGroupName"] == name), None)


def tags_of(logs, group: dict) -> dict:
    return logs.list_tags_for_resource(resourceArn=group["arn"].removesuffix(":*"))["tags"]


def test_register_makes_the_default_group_tagged_with_its_retention(aws, run):
    result = run(register_task_definition)
    assert result.code == 0, result.err
    logs = boto3.client("logs")
    group = group_named(logs, "/ecs/sd-apiserver")
    assert group["retentionInDays"] == 7
    assert tags_of(logs, group) == TAG
    assert "created log group /ecs/sd-apiserver, keeping lines 7 days" in result.err
    again = run(register_task_definition)
    assert "log group /ecs/sd-apiserver (ours) is there, keeping lines 7 days" in again.err


def test_a_new_retention_is_applied_to_our_group(aws, run, clean_settings):
    assert run(register_task_definition).code == 0
    clean_settings.setenv("LOG_RETENTION_DAYS", "30")
    result = run(register_task_definition)
    assert result.code == 0, result.err
    assert group_named(boto3.client("logs"), "/ecs/sd-apiserver")["retentionInDays"] == 30


def test_someone_elses_group_is_used_as_it_is(aws, run, clean_settings):
    logs = boto3.client("logs")
    logs.create_log_group(logGroupName="/team/shared")
    clean_settings.setenv("LOG_GROUP", "/team/shared")
    result = run(register_task_definition)
    assert result.code == 0, result.err
    assert "log group /team/shared exists and is not this project's: used as it is" in result.err
    group = group_named(logs, "/team/shared")
    assert "retentionInDays" not in group and tags_of(logs, group) == {}
    [server] = [
        c for c in result.json()["taskDefinition"]["containerDefinitions"] if c["name"] == "sd-apiserver"
    ]
    assert server["logConfiguration"]["options"]["awslogs-group"] == "/team/shared"


@pytest.mark.parametrize("off", ["off", "OFF", " Off "])
def test_logging_off(aws, run, clean_settings, off):
    clean_settings.setenv("LOG_GROUP", off)
    result = run(register_task_definition)
    assert result.code == 0, result.err
    assert all(
        "logConfiguration" not in c for c in result.json()["taskDefinition"]["containerDefinitions"]
    )
    assert boto3.client("logs").describe_log_groups()["logGroups"] == []


@pytest.mark.parametrize("failing", ["RegisterTaskDefinition", "PutRetentionPolicy"])
def test_a_failure_after_making_the_group_removes_it(
    aws_proxy, through_proxy, run, clean_settings, failing
):
    group = f"/ecs/{through_proxy}"  # moto_server is shared: a group of this test's own
    clean_settings.setenv("LOG_GROUP", group)
    aws_proxy.error(failing, "ClientException", "no, not today")
    result = run(register_task_definition)
    assert result.code == 1
    assert result.err.strip().splitlines()[-1].startswith("error: ")
    assert "(ClientException)" in result.err
    logs = boto3.client("logs", endpoint_url=aws_proxy.endpoint)
    assert group_named(logs, group) is None
    assert f"removed log group {group}, made by this run" in result.err or failing != (
        "RegisterTaskDefinition"
    )


@settings(max_examples=60, deadline=None, suppress_health_check=list(HealthCheck))
@given(
    value=st.one_of(
        # What an environment variable can hold: no NUL, no lone surrogate.
        st.text(st.characters(exclude_categories=("Cs",), exclude_characters="\x00"), max_size=12),
        st.integers(-5, 4000).map(str),
        st.sampled_from(["٧", "7.0", "07", "1e1", "14 ", "3653", "3654", "0"]),
    )
)
def test_any_log_retention(clean_settings, capsys, value):
    clean_settings.setenv("TASK_FAMILY_NAME", "sd-apiserver")
    clean_settings.setenv("TASK_EXEC_ROLE", "arn:aws:iam::123456789012:role/r")
    clean_settings.setenv("LOG_RETENTION_DAYS", value)
    clean_settings.setenv("AWS_ENDPOINT_URL", "http://127.0.0.1:9")  # nothing answers there
    clean_settings.setenv("AWS_CALL_TIMEOUT", "1")
    capsys.readouterr()
    code = register_task_definition.main([])
    err = capsys.readouterr().err
    stripped = value.strip()
    allowed = bool(re.fullmatch(r"[0-9]{1,9}", stripped)) and int(stripped) in (
        constants.LOG_RETENTION_CHOICES
    )
    if not stripped:
        allowed = True  # empty: the default, 7
    if allowed:
        assert code == 1, err  # went on to AWS, which is not there
    else:
        assert code == 2, err
        [line] = err.strip().splitlines()
        assert line.startswith("error: LOG_RETENTION_DAYS=") and "one of 1, 3, 5, 7" in line
