"""The licence secret (LICENSE_SECRET): its full ARN, and what may read it."""

from __future__ import annotations


def secret_arn(secret: str, region: str, account: str, partition: str = "aws") -> str:
    """LICENSE_SECRET as the full ARN ECS needs: an ARN as given, an SSM parameter name as the
    ARN of that parameter in `account` and `region`."""
    if secret.startswith("arn:"):
        return secret
    return f"arn:{partition}:ssm:{region}:{account}:parameter/{secret.lstrip('/')}"


def secret_read_actions(arn: str) -> list[str]:
    """What an execution role must be allowed, to read the secret at `arn` when a task starts."""
    if ":secretsmanager:" in arn:
        return ["secretsmanager:GetSecretValue"]
    return ["ssm:GetParameters"]
