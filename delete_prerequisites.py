"""Optional: delete what create_prerequisites.py made: its security group(s), execution role and log group.

Finds them by this project's tag (and their names), in every VPC of the region, and touches
nothing else (the log group LOG_GROUP only when it carries the project's tag). Refuses, deleting nothing, while a network interface (a running task, say)
still uses one of the groups: stop the task with stop_task.py first.
"""

from __future__ import annotations

from plumbing import arguments, clients, errors, exit_codes, log_group, output, runner, tags

import sys

import constants


def our_groups(ec2) -> list[dict]:
    return (
        ec2.get_paginator("describe_security_groups")
        .paginate(
            Filters=[
                {"Name": "group-name", "Values": [constants.SECURITY_GROUP_NAME]},
                {
                    "Name": f"tag:{constants.PROJECT_TAG['key']}",
                    "Values": [constants.PROJECT_TAG["value"]],
                },
            ]
        )
        .build_full_result()["SecurityGroups"]
    )


def our_roles(iam) -> list[str]:
    roles = (
        iam.get_paginator("list_roles")
        .paginate(PathPrefix=constants.EXECUTION_ROLE_PATH)
        .build_full_result()["Roles"]
    )
    return [
        role["RoleName"]
        for role in roles
        if role["RoleName"] == constants.EXECUTION_ROLE_NAME
        and tags.is_ours(iam.list_role_tags(RoleName=role["RoleName"])["Tags"])
    ]


def delete_prerequisites() -> int:
    ec2, iam = clients.client("ec2"), clients.client("iam")
    groups = [group["GroupId"] for group in our_groups(ec2)]
    roles = our_roles(iam)
    for group_id in groups:
        interfaces = (
            ec2.get_paginator("describe_network_interfaces")
            .paginate(Filters=[{"Name": "group-id", "Values": [group_id]}])
            .build_full_result()["NetworkInterfaces"]
        )
        if interfaces:
            raise errors.StepFailed(
                f"security group {group_id} is still used by {len(interfaces)} network "
                f"interface(s) ({', '.join(i['NetworkInterfaceId'] for i in interfaces)}): a task "
                "still running? stop it with stop_task.py, then run this again; nothing was deleted"
            )

    # Groups first: one still referenced elsewhere fails here, before the role is gone.
    for group_id in groups:
        ec2.delete_security_group(GroupId=group_id)
        output.say(f"deleted security group {group_id}")
    for name in roles:
        for policy in (
            iam.get_paginator("list_attached_role_policies")
            .paginate(RoleName=name)
            .build_full_result()["AttachedPolicies"]
        ):
            iam.detach_role_policy(RoleName=name, PolicyArn=policy["PolicyArn"])
        for policy_name in (
            iam.get_paginator("list_role_policies")
            .paginate(RoleName=name)
            .build_full_result()["PolicyNames"]
        ):
            iam.delete_role_policy(RoleName=name, PolicyName=policy_name)
        iam.delete_role(RoleName=name)
        output.say(f"deleted role {name}")
    logs_deleted = []
    if constants.LOG_GROUP:
        said = log_group.delete_if_ours(clients.client("logs"), constants.LOG_GROUP)
        if said:
            output.say(said)
            if said.startswith("deleted"):
                logs_deleted.append(constants.LOG_GROUP)
    if not (groups or roles or logs_deleted):
        output.say("nothing of create_prerequisites.py's found: nothing to delete")
    output.show({"deleted": {"securityGroups": groups, "roles": roles, "logGroups": logs_deleted}})
    return exit_codes.EXIT_OK


def main(argv: list[str] | None = None) -> int:
    arguments.parse_args(__doc__, argv)
    return runner.run(delete_prerequisites)


if __name__ == "__main__":
    sys.exit(main())
