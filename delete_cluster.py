"""Step 6: delete the CLUSTER_NAME cluster once no task runs in it.

With tasks still running it refuses and names stop_task.py. A cluster that is already gone
is not an error.
"""

from plumbing import arguments, clients, errors, exit_codes, output, runner

import sys

from botocore.exceptions import ClientError

import constants


def refuse_running(count: int | None = None) -> errors.StepFailed:
    tasks = f"{count} running task(s)" if count else "running tasks"
    return errors.StepFailed(
        f"cluster {constants.CLUSTER_NAME} still has {tasks}: "
        "stop them with stop_task.py (--all for tasks not started by run_task.py), then run this again"
    )


def delete_cluster() -> int:
    cluster = constants.CLUSTER_NAME
    ecs = clients.client("ecs")
    found = ecs.describe_clusters(clusters=[cluster])["clusters"]
    if not found or found[0]["status"] == "INACTIVE":
        output.say(f"cluster {cluster} does not exist (already deleted?): nothing to do")
        return exit_codes.EXIT_OK
    running = (
        ecs.get_paginator("list_tasks")
        .paginate(cluster=cluster, desiredStatus="RUNNING")
        .build_full_result()["taskArns"]
    )
    if running:
        raise refuse_running(len(running))

    try:
        response = ecs.delete_cluster(cluster=cluster)
    except ClientError as error:
        code = errors.aws_error_code(error)
        if code == "ClusterNotFoundException":
            output.say(f"cluster {cluster} does not exist (already deleted?): nothing to do")
            return exit_codes.EXIT_OK
        if code == "ClusterContainsTasksException":
            raise refuse_running() from error
        raise
    output.show(response)
    output.say(f"cluster {response['cluster']['clusterName']} is {response['cluster']['status']}")
    return exit_codes.EXIT_OK


def main(argv: list[str] | None = None) -> int:
    arguments.parse_args(__doc__, argv)
    return runner.run(delete_cluster)


if __name__ == "__main__":
    sys.exit(main())
