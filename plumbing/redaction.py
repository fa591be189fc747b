"""AWS's words made safe to print: one line, no credential, signature, key, token or secret."""

from __future__ import annotations

import re
from typing import Any

import botocore.session

MESSAGE_LIMIT = 300
_known_secrets: set[str] = set()

# What must never reach a terminal or a log, whatever AWS (or something posing as AWS) says.
_SECRET_PATTERNS = [
    # Anything AWS echoes of a signed request: the canonical request and the string to sign.
    (re.compile(r"(?is)(canonical (string|request)|string[- ]to[- ]sign).*"), "[request removed]"),
    # key=value pairs of signatures, credentials and tokens.
    (
        re.compile(
            r"(?i)\b(x-amz-[\w-]*|signature|credential|authorization|[\w-]*token|"
            r"[\w-]*secret[\w-]*|password|access[_-]?key[\w-]*)\b(\s*[=:]\s*)"
            r"(\"[^\"]*\"|'[^']*'|[^\s,;&]+)"
        ),
        r"\1=[removed]",
    ),
    # AWS access key ids (AKIA..., ASIA..., ...).
    (re.compile(r"(AKIA|ASIA|AIDA|AROA|AIPA|ANPA|ANVA|ABIA|ACCA)[A-Z0-9]{12,}"), "[key id removed]"),
    # Long runs of base64 or hex: secret keys (40), signatures (64), session tokens (hundreds);
    # not the names and ids AWS means (see _random_looking).
    (re.compile(r"[A-Za-z0-9+/]{32,}={0,2}"), lambda run: _random_looking(run.group())),
    # user:password@ in a URL.
    (re.compile(r"(?i)(\w+://)[^/\s@]+@"), r"\1[removed]@"),
]


def never_print(secret: str) -> None:
    """Keep `secret` (a licence key, say) out of every message the scripts print from now on."""
    if secret:
        _known_secrets.add(secret)


def _random_looking(run: str) -> str:
    """'[removed]' for a long run that may be a key, signature or token; the run itself when
    each of its /-parts is a word (service-role/AmazonECSTaskExecutionRolePolicy) or an
    ECS id (32 hex digits), which AWS's messages name and a person needs to read."""
    parts = run.split("/")
    if all(re.fullmatch(r"[A-Za-z]+|[0-9a-f]{32}", part) for part in parts):
        return run
    return "[removed]"


def remember_credentials(core: botocore.session.Session) -> None:
    """Note the credentials in use, so that no message can ever print them."""
    try:
        credentials = core.get_credentials()
        frozen = credentials.get_frozen_credentials() if credentials else None
    except Exception:  # noqa: BLE001 (the call itself will report the problem)
        return
    if frozen:
        # Real ones are 16 characters or more; a short test value would blank out words.
        _known_secrets.update(
            value
            for value in (frozen.access_key, frozen.secret_key, frozen.token)
            if value and len(value) >= 8
        )


def one_line(text: str, limit: int | None = None) -> str:
    """The first non-empty line of `text`, without control characters, cut to `limit`."""
    lines = [line.strip() for line in str(text).splitlines() if line.strip()]
    line = lines[0] if lines else ""
    line = "".join(char if char.isprintable() else " " for char in line)
    if limit and len(line) > limit:
        line = line[: limit - 3].rstrip() + "..."
    return line


def without_credentials(text: str) -> str:
    """`text` without the credentials in use: the last guard before anything is printed."""
    for secret in sorted(_known_secrets, key=len, reverse=True):
        text = text.replace(secret, "[removed]")
    return text


def aws_text(text: Any) -> str:
    """Words that came from AWS (an error message, a reason), safe to print on one line:
    no credential, signature, key, token or signed request, cut to MESSAGE_LIMIT."""
    text = without_credentials(str(text))
    for pattern, replacement in _SECRET_PATTERNS:
        text = pattern.sub(replacement, text)
    return one_line(text, MESSAGE_LIMIT)
