"""Step 1 check: show the cluster named by CLUSTER_NAME and whether it is ACTIVE.

Exits 1 when the cluster does not exist or is not ACTIVE (a deleted cluster is INACTIVE).
"""

import sys

import common
import constants


def describe_clusters() -> int:
    constants.check("CLUSTER_NAME")
    ecs = common.client("ecs")
    response = ecs.describe_clusters(clusters=[constants.CLUSTER_NAME])
    common.show(response)
    if not response["clusters"]:
        reasons = ", ".join(common.aws_text(f["reason"]) for f in response["failures"])
        raise common.StepFailed(
            f"cluster {constants.CLUSTER_NAME} not found ({reasons}): create it with create_cluster.py"
        )
    cluster = response["clusters"][0]
    common.say(
        f"cluster {cluster['clusterName']} is {cluster['status']}: "
        f"{cluster['runningTasksCount']} running task(s), {cluster['pendingTasksCount']} pending"
    )
    return common.EXIT_OK if cluster["status"] == "ACTIVE" else common.EXIT_FAILED


def main(argv: list[str] | None = None) -> int:
    common.parse_args(__doc__, argv)
    return common.run(describe_clusters)


if __name__ == "__main__":
    sys.exit(main())
