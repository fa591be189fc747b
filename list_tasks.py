"""Step 4 and step 6 check: list the tasks in the CLUSTER_NAME cluster that are meant to run.

Only tasks whose desired status is RUNNING are listed, so once stop_task.py has run the
list is empty even while a task is still shutting down.
"""

from plumbing import arguments, clients, exit_codes, output, runner

import sys

import constants


def list_tasks() -> int:
    constants.check("CLUSTER_NAME")
    ecs = clients.client("ecs")
    arns = (
        ecs.get_paginator("list_tasks")
        .paginate(cluster=constants.CLUSTER_NAME, desiredStatus="RUNNING")
        .build_full_result()["taskArns"]
    )
    output.show({"taskArns": arns})
    output.say(f"{len(arns)} task(s) running in cluster {constants.CLUSTER_NAME}")
    if not arns:
        # ECS is eventually consistent (RunTask reference): a task started a second ago may
        # not be listed yet.
        output.say(
            "a task started a few seconds ago may not be listed yet: describe_task.py waits for it"
        )
    return exit_codes.EXIT_OK


def main(argv: list[str] | None = None) -> int:
    arguments.parse_args(__doc__, argv)
    return runner.run(list_tasks)


if __name__ == "__main__":
    sys.exit(main())
