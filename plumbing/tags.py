"""The tag that marks what this project made, so it can find (and delete) only its own."""

from __future__ import annotations

import constants


def aws_tags() -> list[dict[str, str]]:
    """constants.PROJECT_TAG as EC2 and IAM spell tags."""
    return [{"Key": constants.PROJECT_TAG["key"], "Value": constants.PROJECT_TAG["value"]}]


def is_ours(tags: list[dict[str, str]] | None) -> bool:
    """Whether EC2 or IAM tags mark a resource as this project's."""
    return aws_tags()[0] in (tags or [])
