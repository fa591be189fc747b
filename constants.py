"""Deployment settings, read from the environment and from a `.env` file beside the scripts.

A variable already set in the environment wins over the `.env` file. A setting is checked
when a script reads it (`constants.CLUSTER_NAME`), so a script only complains about the
settings it uses. A bad or missing value raises `SettingError`, whose
message names the variable, the value, what is allowed and where the value came from.

`ENV_FILE` (environment only) points at another file instead of `.env`.
"""

from __future__ import annotations

import io
import logging
import os
import re
from collections.abc import Callable
from pathlib import Path
from typing import Any, NamedTuple

from dotenv import dotenv_values

# Fixed names: what the scripts call the things they create, so they can find them again.
CONTAINER_NAME = "sd-apiserver"
STARTED_BY = "sd-apiserver-demo"
PROJECT_TAG = {"key": "project", "value": "smartyzedetect-ecs-demo"}
DATA_VOLUME = "sd-data"
DATA_PATH = "/var/data"

# What create_prerequisites.py makes, found again (and deleted) by PROJECT_TAG.
SECURITY_GROUP_NAME = "sd-apiserver-demo"
EXECUTION_ROLE_NAME = "sd-apiserver-demo-execution"
EXECUTION_ROLE_PATH = "/sd-apiserver-demo/"
EXECUTION_POLICY_ARN = "arn:aws:iam::aws:policy/service-role/AmazonECSTaskExecutionRolePolicy"

DEFAULT_IMAGE = "public.ecr.aws/j6h6k0h7/ml/sd-apiserver:latest"

# The lifetime container: exits after TASK_LIFETIME_MINUTES, or after TASK_IDLE_MINUTES without
# a connection to the server (plumbing/lifetime.py), which stops the task.
# From Amazon ECR Public like the server's image, so the task needs no other route; pinned.
LIFETIME_CONTAINER_NAME = "lifetime"
LIFETIME_IMAGE = "public.ecr.aws/docker/library/busybox:1.36.1"
LIFETIME_CPU = 16  # cpu units and MiB taken from the task's; the server keeps the rest
LIFETIME_MEMORY = 32
LICENSE_KEY_VARIABLE = "SD_API_LICENSE_KEY"  # where the server reads its licence key

# Fargate's task sizes: the memory values (MiB) allowed with each task cpu (units of 1/1024
# vCPU), exactly as the RegisterTaskDefinition reference lists them (`memory`):
# https://docs.aws.amazon.com/AmazonECS/latest/APIReference/API_RegisterTaskDefinition.html
# Any other pair is refused by AWS ("No Fargate configuration exists for given values").
FARGATE_MEMORY = {
    256: (512, 1024, 2048),  # not 1536
    512: tuple(range(1024, 4096 + 1, 1024)),
    1024: tuple(range(2048, 8192 + 1, 1024)),
    2048: tuple(range(4096, 16384 + 1, 1024)),
    4096: tuple(range(8192, 30720 + 1, 1024)),
    8192: tuple(range(16384, 61440 + 1, 4096)),
    16384: tuple(range(32768, 122880 + 1, 8192)),
}


def fargate_memory_text(cpu: int) -> str:
    """The memory values Fargate allows with `cpu`, in words: "512, 1024 or 2048 MiB"."""
    values = FARGATE_MEMORY[cpu]
    if len(values) <= 4:
        return f"{', '.join(map(str, values[:-1]))} or {values[-1]} MiB"
    return f"{values[0]} to {values[-1]} MiB in steps of {values[1] - values[0]}"


class SettingError(Exception):
    """A setting is missing or has a value the scripts cannot use."""


def _load_env_file() -> tuple[Path, dict[str, str | None], str | None]:
    """Load `$ENV_FILE`, else `.env` beside this file, without overriding the environment.

    Returns the file, the values it set (so that errors can say where a value came from) and
    what is wrong with the file, if anything: that is reported when a setting is first read,
    so that a script ends in one line rather than failing at import.
    """
    named = os.environ.get("ENV_FILE")
    if named is not None and not named.strip():
        return Path(), {}, "ENV_FILE is empty (in the environment): name a settings file, or unset it"
    path = Path(named or Path(__file__).with_name(".env"))
    if named is not None and (not path.exists() or path.is_dir()):
        problem = "is a folder" if path.is_dir() else "does not exist"
        return path, {}, f"ENV_FILE={named!r} (from the environment) {problem}: name a settings file"
    if not path.exists():
        return path, {}, None
    try:
        text = path.read_text(encoding="utf-8")
    except UnicodeDecodeError as error:
        return path, {}, f"{path} is not UTF-8 text (byte {error.start}): save it as UTF-8"
    except OSError as error:
        return path, {}, f"cannot read {path}: {error.strerror}"
    values, bad_lines = _parse_env(text)
    if bad_lines:
        # The line itself is not shown: it may hold a secret.
        return path, {}, f"line {bad_lines[0]} of {path} is not NAME=value"
    from_file = {
        name: value
        for name, value in values.items()
        if name not in os.environ and value is not None
    }
    for name, value in from_file.items():
        if "\0" in name + value or "=" in name or not name:
            return path, {}, f"{path} sets {name!r} to a value with a NUL character or a bad name"
    os.environ.update(from_file)
    # A line with a name and no `=` sets nothing, but it is not "not set" either.
    without_value = {
        name: None for name, value in values.items() if value is None and name not in os.environ
    }
    return path, {**from_file, **without_value}, None


def _parse_env(text: str) -> tuple[dict[str, str | None], list[int]]:
    """The values of a `.env` text, and the numbers of the lines python-dotenv could not parse
    (it skips them, saying so on its `dotenv.main` logger)."""
    bad_lines: list[int] = []

    class BadLines(logging.Handler):
        def emit(self, record: logging.LogRecord) -> None:
            message = record.msg if isinstance(record.msg, str) else ""
            if message.startswith("python-dotenv could not parse") and record.args:
                bad_lines.append(int(record.args[0]))

    logger, handler = logging.getLogger("dotenv.main"), BadLines()
    logger.addHandler(handler)
    propagate, logger.propagate = logger.propagate, False  # not printed: the line may be secret
    try:
        # No ${VAR} expansion: a value is what the file says, as error messages show it.
        values = dotenv_values(stream=io.StringIO(text), interpolate=False)
    finally:
        logger.removeHandler(handler)
        logger.propagate = propagate
    return values, bad_lines


def source(name: str) -> str:
    """Where the current value of `name` comes from, for error messages."""
    if name not in os.environ:
        return "not set"
    if name in _FROM_FILE and os.environ[name] == _FROM_FILE[name]:
        return f"from {ENV_FILE}"
    return "from the environment"


def _raw(name: str) -> str | None:
    value = os.environ.get(name, "").strip()
    return value or None


def _whole_number(value: str) -> int | None:
    """The value of an ASCII decimal number of at most 9 digits, else None.

    str.isdigit() also accepts '²' and '٣', which int() then refuses or reads differently.
    """
    return int(value) if re.fullmatch(r"[0-9]{1,9}", value) else None


def _bad(name: str, value: str, allowed: str) -> SettingError:
    shown = repr(value) if len(value) <= 300 else f"{value[:300]!r}... ({len(value)} characters)"
    return SettingError(f"{name}={shown} ({source(name)}) is not valid: {allowed}")


def _missing(name: str, allowed: str) -> SettingError:
    if name in os.environ:
        return SettingError(f"{name} is empty ({source(name)}): set it to {allowed}")
    if name in _FROM_FILE:
        return SettingError(
            f"{name} has no value in {ENV_FILE} (a line without '='): set it to {allowed}"
        )
    # No ENV_FILE named and no .env beside the scripts: most likely a first run.
    first_run = "ENV_FILE" not in os.environ and not ENV_FILE.is_file()
    hint = "; there is no .env yet: `cp .env.example .env`, then edit it" if first_run else ""
    return SettingError(
        f"{name} is not set (in the environment or {ENV_FILE}): set it to {allowed}{hint}"
    )


def _example(name: str, value: str) -> SettingError:
    return SettingError(
        f"{name}={value!r} ({source(name)}) is the placeholder from .env.example: "
        f"set it to {_SETTINGS[name].required or 'your own value'}"
    )


def _pattern(regex: str, allowed: str) -> Callable[[str, str], str]:
    compiled = re.compile(regex, re.ASCII)  # \d and \w: ASCII only, as AWS wants

    def check(name: str, value: str) -> str:
        if not compiled.fullmatch(value):
            raise _bad(name, value, allowed)
        return value

    return check


def _id_list(regex: str, allowed: str, most: int) -> Callable[[str, str], list[str]]:
    compiled = re.compile(regex, re.ASCII)

    def check(name: str, value: str) -> list[str]:
        ids = [part.strip() for part in value.split(",")]
        if not ids or len(ids) > most or not all(compiled.fullmatch(i) for i in ids):
            raise _bad(name, value, allowed)
        return ids

    return check


def _integer(low: int, high: int) -> Callable[[str, str], int]:
    def check(name: str, value: str) -> int:
        number = _whole_number(value)
        if number is None or not low <= number <= high:
            raise _bad(name, value, f"a whole number from {low} to {high}")
        return number

    return check


def _numbered(meanings: dict[int, str]) -> Callable[[str, str], int]:
    allowed = ", ".join(f"{number} ({meaning})" for number, meaning in meanings.items())

    def check(name: str, value: str) -> int:
        number = _whole_number(value)
        if number not in meanings:
            raise _bad(name, value, "one of " + allowed)
        return number

    return check


def _choice(*choices: str) -> Callable[[str, str], str]:
    def check(name: str, value: str) -> str:
        if not value.isascii() or value.upper() not in choices:
            raise _bad(name, value, "one of " + ", ".join(choices))
        return value.upper()

    return check


def _task_cpu(name: str, value: str) -> int:
    allowed = "one of " + ", ".join(map(str, FARGATE_MEMORY)) + " (1024 = 1 vCPU)"
    number = _whole_number(value)
    if number not in FARGATE_MEMORY:
        raise _bad(name, value, allowed)
    return number


def _task_memory(name: str, value: str) -> int:
    cpu = _resolve("TASK_CPU")
    number = _whole_number(value)
    if number is None or number not in FARGATE_MEMORY[cpu]:
        raise _bad(name, value, f"with TASK_CPU={cpu} Fargate allows {fargate_memory_text(cpu)}")
    return number


def _lifetime(name: str, value: str) -> int:
    number = _whole_number(value)
    if number is None or number > 10080:
        raise _bad(
            name,
            value,
            "whole minutes from 1 to 10080 (a week) after which the task stops by itself, "
            "or 0 for no limit (it then bills until stopped)",
        )
    return number


def _idle(name: str, value: str) -> int:
    number = _whole_number(value)
    if number is None or number > 10080:
        raise _bad(
            name,
            value,
            "whole minutes from 1 to 10080 (a week) without a connection to the server after "
            "which the task stops by itself, or 0 to keep an unused task until its lifetime",
        )
    return number


# The retention periods CloudWatch Logs accepts, in days (PutRetentionPolicy):
# https://docs.aws.amazon.com/AmazonCloudWatchLogs/latest/APIReference/API_PutRetentionPolicy.html
LOG_RETENTION_CHOICES = (
    1, 3, 5, 7, 14, 30, 60, 90, 120, 150, 180, 365, 400, 545, 731, 1096, 1827, 2192, 2557, 2922,
    3288, 3653,
)  # fmt: skip
DEFAULT_LOG_RETENTION_DAYS = 7
LOGS_OFF = "off"  # LOG_GROUP=off: the task definition sends the containers' output nowhere


def _retention(name: str, value: str) -> int:
    number = _whole_number(value)
    if number not in LOG_RETENTION_CHOICES:
        raise _bad(
            name,
            value,
            "days to keep the server's logs, one of "
            + ", ".join(map(str, LOG_RETENTION_CHOICES)),
        )
    return number


def _log_group() -> str | None:
    """LOG_GROUP: as set; None for "off"; by default /ecs/ + TASK_FAMILY_NAME, as the ECS
    console names a family's group (None when neither is set: no group is known)."""
    if _ENV_FILE_PROBLEM:
        raise SettingError(_ENV_FILE_PROBLEM)
    value = _raw("LOG_GROUP")
    if value is None:
        family = _raw("TASK_FAMILY_NAME") and _resolve("TASK_FAMILY_NAME")
        return f"/ecs/{family}" if family else None
    if value.lower() == LOGS_OFF:
        return None
    return _resolve("LOG_GROUP")


_NAME = r"[A-Za-z0-9_-]{1,255}"
_NAME_ALLOWED = "1 to 255 letters, digits, hyphens and underscores"


class Setting(NamedTuple):
    check: Callable[[str, str], Any]  # (name, text) -> value, or SettingError
    default: str | None = None
    required: str | None = None  # what to set it to, for a required setting without default
    example: str | None = None  # the placeholder in .env.example, refused as a value


_SETTINGS: dict[str, Setting] = {
    "AWS_PROFILE_NAME": Setting(_pattern(r"\S+", "a profile name from ~/.aws/config")),
    # How long a task started moments ago may stay unknown to ECS (MISSING) or unlisted: the
    # ECS API is eventually consistent (RunTask reference).
    "ECS_GRACE_SECONDS": Setting(_integer(0, 600), default="15"),
    "CLUSTER_NAME": Setting(
        _pattern(_NAME, _NAME_ALLOWED), required="a cluster name of " + _NAME_ALLOWED
    ),
    "TASK_FAMILY_NAME": Setting(
        _pattern(_NAME, _NAME_ALLOWED), required="a task definition family of " + _NAME_ALLOWED
    ),
    "TASK_FAMILY_NAME_FULL": Setting(
        _pattern(_NAME + r":[1-9][0-9]*", "family:revision, such as sd-apiserver:3")
    ),
    "IMAGE_NAME": Setting(_pattern(r"\S+", "a container image reference"), default=DEFAULT_IMAGE),
    "TASK_EXEC_ROLE": Setting(
        _pattern(
            r"arn:aws[a-z-]*:iam::\d{12}:role/[\w+=,.@/-]+",
            "an IAM role ARN such as arn:aws:iam::123456789012:role/ecsTaskExecutionRole",
        ),
        required="the ARN of your ECS task execution role (arn:aws:iam::ACCOUNT:role/NAME)",
        example="arn:aws:iam::000000000000:role/your-ecsTaskExecutionRole",
    ),
    "SUBNET_NAME": Setting(
        _id_list(
            r"subnet-[0-9a-f]{8,17}", "subnet ids (subnet-...), comma-separated, at most 16", 16
        ),
        required="one or more subnet ids (subnet-...), comma-separated",
        example="subnet-00000000000000000",
    ),
    "SEC_GROUP_NAME": Setting(
        _id_list(
            r"sg-[0-9a-f]{8,17}", "security group ids (sg-...), comma-separated, at most 5", 5
        ),
        required="one or more security group ids (sg-...), comma-separated",
        example="sg-00000000000000000",
    ),
    "TASK_CPU": Setting(_task_cpu, default="4096"),
    "TASK_MEMORY": Setting(_task_memory, default="8192"),
    "TASK_COUNT": Setting(_integer(1, 10), default="1"),
    "ASSIGN_PUBLIC_IP": Setting(_choice("ENABLED", "DISABLED"), default="ENABLED"),
    "SD_API_TRANSPORT": Setting(
        _numbered({1: "TCP socket", 2: "Unix socket", 4: "HTTP/REST, server 2.x"}), default="1"
    ),
    "SD_API_TCP_PORT": Setting(_integer(1026, 65535), default="9090"),
    "SD_API_TCP_LOCAL": Setting(_numbered({0: "all interfaces", 1: "localhost only"}), default="0"),
    "SD_DEBUG_CRASH": Setting(_numbered({0: "off", 1: "minidump to /var/data"}), default="0"),
    "EFS_FILE_SYSTEM_ID": Setting(_pattern(r"fs-[0-9a-f]{8,17}", "an EFS file system id (fs-...)")),
    # Default: /ecs/ + TASK_FAMILY_NAME (see _log_group); "off" sends the output nowhere.
    "LOG_GROUP": Setting(
        _pattern(
            r"[\w./#-]{1,512}",
            "a CloudWatch log group name (letters, digits, _ - / . #), or off for no logs",
        )
    ),
    "LOG_RETENTION_DAYS": Setting(
        _retention, default=str(DEFAULT_LOG_RETENTION_DAYS)
    ),
    "LICENSE_SECRET": Setting(
        _pattern(
            r"(?a)arn:aws[a-z-]*:secretsmanager:[a-z0-9-]+:\d{12}:secret:[\w/+=.@-]{1,512}"
            r"|arn:aws[a-z-]*:ssm:[a-z0-9-]+:\d{12}:parameter/[\w./-]{1,2048}"
            r"|(?!/?(?i:aws|ssm))/?[\w.-]+(?:/[\w.-]+)*",
            "the ARN of a Secrets Manager secret, or the name or ARN of an SSM SecureString "
            "parameter (such as /sd-apiserver/license), holding the licence key",
        )
    ),
    "TASK_LIFETIME_MINUTES": Setting(_lifetime, default="240"),
    "TASK_IDLE_MINUTES": Setting(_idle, default="30"),
    # FARGATE_SPOT: spare capacity at a lower price, which AWS may take back at two minutes' notice.
    "CAPACITY_PROVIDER": Setting(_choice("FARGATE", "FARGATE_SPOT"), default="FARGATE"),
    # Seconds an AWS call may take in all, retries included, before the script gives up.
    "AWS_CALL_TIMEOUT": Setting(_integer(1, 600), default="25"),
}


def _resolve(name: str) -> Any:
    if _ENV_FILE_PROBLEM:
        raise SettingError(_ENV_FILE_PROBLEM)
    setting = _SETTINGS[name]
    value = _raw(name) or setting.default
    if value is None:
        if setting.required:
            raise _missing(name, setting.required)
        return None
    if setting.example and setting.example in re.split(r"\s*,\s*", value):
        raise _example(name, value)
    return setting.check(name, value)


def check(*names: str) -> None:
    """Read each named setting now, so that a bad one is reported before AWS is asked anything."""
    for name in names:
        __getattr__(name)


def optional(name: str) -> Any:
    """A required setting's value when it is set, else None (for scripts that can do without)."""
    return __getattr__(name) if _raw(name) else None


def __getattr__(name: str) -> Any:
    if name == "TASK_DEFINITION":
        # What run_task.py starts: a pinned revision, else the family's latest ACTIVE one.
        return __getattr__("TASK_FAMILY_NAME_FULL") or __getattr__("TASK_FAMILY_NAME")
    if name == "LOG_GROUP":
        return _log_group()
    if name not in _SETTINGS:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    return _resolve(name)


ENV_FILE, _FROM_FILE, _ENV_FILE_PROBLEM = _load_env_file()
