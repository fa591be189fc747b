"""ECS's service-linked role (AWSServiceRoleForECS): found, and made where it is missing.

RunTask needs it. CreateCluster makes it only when the caller may iam:CreateServiceLinkedRole;
an account that never had ECS and a caller without that permission have none, and RunTask
then fails with "Unable to assume the service linked role"
(https://docs.aws.amazon.com/AmazonECS/latest/developerguide/using-service-linked-roles.html).
"""

from __future__ import annotations

from plumbing import errors

from typing import Any

from botocore.exceptions import ClientError

NAME = "AWSServiceRoleForECS"
PATH = "/aws-service-role/ecs.amazonaws.com/"  # found by its path, which holds everywhere
SERVICE = "ecs.amazonaws.com"
CREATE_COMMAND = f"aws iam create-service-linked-role --aws-service-name {SERVICE}"


def find(iam: Any) -> str | None:
    """The ARN of the account's ECS service-linked role, or None."""
    roles = iam.list_roles(PathPrefix=PATH)["Roles"]
    return roles[0]["Arn"] if roles else None


def create(iam: Any) -> str:
    """Make the role; its ARN. A role made meanwhile by someone else is fine too."""
    try:
        return iam.create_service_linked_role(AWSServiceName=SERVICE)["Role"]["Arn"]
    except ClientError as error:
        # AWS: InvalidInput "Service role name AWSServiceRoleForECS has been taken in this
        # account"; moto: EntityAlreadyExists.
        if errors.aws_error_code(error) not in ("InvalidInput", "EntityAlreadyExists"):
            raise
        return find(iam) or NAME
