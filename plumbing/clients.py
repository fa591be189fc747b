"""AWS clients, each call bounded in time: AWS_CALL_TIMEOUT seconds, retries included."""

from __future__ import annotations

from plumbing import deadlines
from plumbing.errors import StepFailed
from plumbing.redaction import aws_text, remember_credentials

import os
from typing import Any
from urllib.parse import urlsplit

import botocore.loaders
import botocore.session
from botocore.config import Config

import constants

# AWS's service descriptions, read from disk once per process rather than once per client.
_SERVICE_MODELS = botocore.loaders.create_loader()

last_call: list[str] = []  # [operation, endpoint] of the latest AWS call, for error messages


def client(service: str) -> Any:
    """A client for `service` (what boto3.client gives), with AWS_PROFILE_NAME's profile if set.

    Each call it makes, retries included, ends within AWS_CALL_TIMEOUT seconds (and within
    any enclosing `deadlines.deadline`; without SIGALRM, within botocore's timeouts per attempt).
    """
    budget = constants.AWS_CALL_TIMEOUT
    profile = constants.AWS_PROFILE_NAME
    try:
        core = botocore.session.Session(profile=profile)
        core.register_component("data_loader", _SERVICE_MODELS)
        aws_client = core.create_client(service, config=_client_config(core, budget))
        _ = urlsplit(aws_client.meta.endpoint_url).port  # a port out of range fails only here
    except (ValueError, TypeError, LookupError) as error:
        # botocore checks some of its settings (AWS_MAX_ATTEMPTS, AWS_ENDPOINT_URL, ...) with
        # plain int() or urlsplit(): their errors name the value but not where it came from.
        raise StepFailed(
            f"the AWS configuration is not valid: {aws_text(error)} (check the AWS_* "
            "variables in the environment and your AWS config file)"
        ) from None
    remember_credentials(core)
    endpoint = aws_client.meta.endpoint_url

    def before_call(model: Any, **_: Any) -> None:
        last_call[:] = [model.name, endpoint]
        deadlines.push(
            budget,
            lambda: f"AWS did not answer {model.name} within {budget:g}s at {endpoint}: "
            "check your network (and AWS_ENDPOINT_URL if set)",
            operation=model.name,
        )

    def after_call(**_: Any) -> None:
        deadlines.pop()

    aws_client.meta.events.register("before-call.*.*", before_call)
    aws_client.meta.events.register("after-call.*.*", after_call)
    aws_client.meta.events.register("after-call-error.*.*", after_call)
    return aws_client


STANDARD_ATTEMPTS = 3  # botocore's standard retry mode: the first attempt and two retries


def _client_config(core: botocore.session.Session, budget: float) -> Config:
    # A call may take `budget` seconds in all (see deadlines); keep the user's own retry
    # settings if they set any, else botocore's standard mode (3 attempts, throttles backed off).
    from_environment = {"AWS_RETRY_MODE", "AWS_MAX_ATTEMPTS"} & os.environ.keys()
    from_profile = {"retry_mode", "max_attempts"} & core.get_scoped_config().keys()
    user_retries = bool(from_environment or from_profile)
    per_attempt = budget
    if not deadlines.SUPPORTED:
        # No timer ends the call as a whole: share the budget among the attempts instead.
        attempts = core.get_config_variable("max_attempts") if user_retries else None
        per_attempt = budget / max(int(attempts or STANDARD_ATTEMPTS), 1)
    config = Config(connect_timeout=min(5, per_attempt), read_timeout=per_attempt)
    if not user_retries:
        config = config.merge(Config(retries={"mode": "standard"}))
    return config
