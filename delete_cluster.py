"""Step 6: delete the CLUSTER_NAME cluster once no task runs in it.

With tasks still running it refuses and names stop_task.py. A cluster that is already gone
is not an error.
"""

import sys

import common
import constants


def refuse_running(count: int | None = None) -> common.StepFailed:
    tasks = f"{count} running task(s)" if count else "running tasks"
    return common.StepFailed(
        f"cluster {constants.CLUSTER_NAME} still has {tasks}: "
        "stop them with stop_task.py (--all for tasks not started by run_task.py), then run this again"
    )


def delete_cluster() -> int:
    cluster = constants.CLUSTER_NAME
    ecs = common.client("ecs")
    found = ecs.describe_clusters(clusters=[cluster])["clusters"]
    if not found or found[0]["status"] == "INACTIVE":
        common.say(f"cluster {cluster} does not exist (already deleted?): nothing to do")
        return common.EXIT_OK
    running = common.paginate(
        ecs, "list_tasks", "taskArns", cluster=cluster, desiredStatus="RUNNING"
    )
    if running:
        raise refuse_running(len(running))

    try:
        response = ecs.delete_cluster(cluster=cluster)
    except common.ClientError as error:
        code = common.aws_error_code(error)
        if code == "ClusterNotFoundException":
            common.say(f"cluster {cluster} does not exist (already deleted?): nothing to do")
            return common.EXIT_OK
        if code == "ClusterContainsTasksException":
            raise refuse_running() from error
        raise
    common.show(response)
    common.say(f"cluster {response['cluster']['clusterName']} is {response['cluster']['status']}")
    return common.EXIT_OK


def main(argv: list[str] | None = None) -> int:
    common.parse_args(__doc__, argv)
    return common.run(delete_cluster)


if __name__ == "__main__":
    sys.exit(main())
