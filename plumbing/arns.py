"""ARNs as AWS spells them: in the caller's partition, and a Secrets Manager secret's in full.

ARN format: arn:PARTITION:SERVICE:REGION:ACCOUNT:RESOURCE, where the partition is `aws`,
`aws-cn` (China) or `aws-us-gov` (GovCloud)
(https://docs.aws.amazon.com/IAM/latest/UserGuide/reference-arns.html).
"""

from __future__ import annotations

from plumbing import clients, licence_secret

import re
from typing import Any


def partition_of(arn: str) -> str:
    """The partition of an ARN (the caller's, from sts:GetCallerIdentity's Arn)."""
    return arn.split(":")[1]


def in_partition(arn: str, partition: str) -> str:
    """`arn` in `partition`: an AWS managed policy's ARN is arn:aws-cn:... in China."""
    return re.sub(r"^arn:[^:]*:", f"arn:{partition}:", arn)


def full_secret_arn(secretsmanager: Any, arn: str) -> str:
    """A Secrets Manager secret's complete ARN, with the six characters that end it.

    A secret's ARN ends in "-" and six random characters; an ARN without them is a partial
    ARN, which Secrets Manager's own calls resolve but an IAM policy does not match
    (https://docs.aws.amazon.com/secretsmanager/latest/userguide/reference_iam-permissions.html#iam-resources).
    DescribeSecret gives the complete one.
    """
    return secretsmanager.describe_secret(SecretId=arn)["ARN"]


def licence_secret_arn(secret: str, region: str, account: str, partition: str) -> str:
    """LICENSE_SECRET as the exact ARN an execution role's policy must name."""
    arn = licence_secret.secret_arn(secret, region, account, partition)
    if ":secretsmanager:" in arn:
        return full_secret_arn(clients.client("secretsmanager"), arn)
    return arn

