"""Step 2 check: list the ACTIVE revisions of the TASK_FAMILY_NAME task definition family.

The newest revision comes first; run_task.py starts it unless TASK_FAMILY_NAME_FULL pins one.
"""

import sys

import common
import constants


def family_and_revision(arn: str) -> tuple[str, int]:
    family, revision = common.short_id(arn).split(":")
    return family, int(revision)


def list_task_definitions() -> int:
    constants.check("TASK_FAMILY_NAME")
    ecs = common.client("ecs")
    arns = common.paginate(
        ecs,
        "list_task_definitions",
        "taskDefinitionArns",
        familyPrefix=constants.TASK_FAMILY_NAME,
        status="ACTIVE",
    )
    # familyPrefix also matches longer family names that start with ours; newest first.
    arns = sorted(
        (arn for arn in arns if family_and_revision(arn)[0] == constants.TASK_FAMILY_NAME),
        key=lambda arn: family_and_revision(arn)[1],
        reverse=True,
    )
    common.show({"taskDefinitionArns": arns})
    if arns:
        common.say(
            f"{len(arns)} active revision(s) of {constants.TASK_FAMILY_NAME}; "
            f"newest: {common.short_id(arns[0])}"
        )
    else:
        common.say(
            f"no active task definition in family {constants.TASK_FAMILY_NAME}: "
            "register one with register_task_definition.py"
        )
    return common.EXIT_OK


def main(argv: list[str] | None = None) -> int:
    common.parse_args(__doc__, argv)
    return common.run(list_task_definitions)


if __name__ == "__main__":
    sys.exit(main())
