"""A bug of ours is said to be one, not blamed on AWS; only an unreadable answer is the endpoint's."""

from __future__ import annotations

from plumbing import exit_codes, output

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import create_cluster
import describe_clusters
import list_tasks
from conftest import TUTORIAL_STEPS
from faults.aws_proxy import ANY

# Faults our own code could make, with any message (secrets in it are still removed).
BUGS = st.builds(
    lambda kind, message: kind(message),
    st.sampled_from(
        [KeyError, TypeError, ValueError, AttributeError, IndexError, ZeroDivisionError,
         RuntimeError, UnicodeError, AssertionError, LookupError, OSError]
    ),
    st.text(max_size=60),
)


def _failing_show(bug: BaseException):
    def show(_response):
        raise bug

    return show


@settings(max_examples=25, deadline=None, suppress_health_check=list(HealthCheck))
@given(bug=BUGS, script=st.sampled_from([create_cluster, describe_clusters, list_tasks]))
def test_a_bug_after_an_aws_call_is_an_internal_error_in_one_line(
    through_proxy, run, clean_settings, bug, script
):
    clean_settings.delenv("SD_DEBUG", raising=False)
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(output, "show", _failing_show(bug))
        result = run(script)
    assert result.code == exit_codes.EXIT_FAILED, result
    [line] = result.err.strip().splitlines()
    assert line.startswith(f"error: internal error ({type(bug).__name__}"), line
    assert "SD_DEBUG=1" in line and "Traceback" not in result.err
    assert "not a valid AWS answer" not in line


def test_sd_debug_shows_the_traceback(through_proxy, run, clean_settings):
    clean_settings.setenv("SD_DEBUG", "1")
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(output, "show", _failing_show(TypeError("a bug of ours")))
        result = run(describe_clusters)
    assert result.code == exit_codes.EXIT_FAILED
    assert "Traceback (most recent call last)" in result.err
    assert "TypeError: a bug of ours" in result.err
    assert result.err.strip().splitlines()[-1].startswith("error: internal error (TypeError")


@pytest.mark.parametrize("script", TUTORIAL_STEPS, ids=lambda s: s.__name__)
def test_an_answer_botocore_cannot_parse_is_blamed_on_the_endpoint(
    through_proxy, aws_proxy, run, clean_settings, script
):
    clean_settings.setenv("AWS_MAX_ATTEMPTS", "1")
    aws_proxy.raw(ANY, 200, b"\x00\xff{not json", "application/x-amz-json-1.1")
    wait = ["--interval", "0"] if script.__name__ in ("describe_task", "stop_task") else []
    result = run(script, *wait)
    assert result.code == exit_codes.EXIT_FAILED, result
    [line] = result.err.strip().splitlines()[-1:]
    assert "is not a valid AWS answer" in line and "AWS_ENDPOINT_URL" in line, line
    assert "internal error" not in line
