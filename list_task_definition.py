"""Step 2 check: list the ACTIVE revisions of the TASK_FAMILY_NAME task definition family.

The newest revision comes first; run_task.py starts it unless TASK_FAMILY_NAME_FULL pins one.
"""

from plumbing import arguments, clients, ecs_tasks, exit_codes, output, runner

import sys

import constants


def family_and_revision(arn: str) -> tuple[str, int]:
    family, revision = ecs_tasks.short_id(arn).split(":")
    return family, int(revision)


def list_task_definitions() -> int:
    constants.check("TASK_FAMILY_NAME")
    ecs = clients.client("ecs")
    arns = (
        ecs.get_paginator("list_task_definitions")
        .paginate(familyPrefix=constants.TASK_FAMILY_NAME, status="ACTIVE")
        .build_full_result()["taskDefinitionArns"]
    )
    # familyPrefix also matches longer family names that start with ours; newest first.
    arns = sorted(
        (arn for arn in arns if family_and_revision(arn)[0] == constants.TASK_FAMILY_NAME),
        key=lambda arn: family_and_revision(arn)[1],
        reverse=True,
    )
    output.show({"taskDefinitionArns": arns})
    if arns:
        output.say(
            f"{len(arns)} active revision(s) of {constants.TASK_FAMILY_NAME}; "
            f"newest: {ecs_tasks.short_id(arns[0])}"
        )
    else:
        output.say(
            f"no active task definition in family {constants.TASK_FAMILY_NAME}: "
            "register one with register_task_definition.py"
        )
    return exit_codes.EXIT_OK


def main(argv: list[str] | None = None) -> int:
    arguments.parse_args(__doc__, argv)
    return runner.run(list_task_definitions)


if __name__ == "__main__":
    sys.exit(main())
