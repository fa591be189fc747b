"""Step 1 check: show the cluster named by CLUSTER_NAME and whether it is ACTIVE.

Exits 1 when the cluster does not exist or is not ACTIVE (a deleted cluster is INACTIVE).
"""

from plumbing import arguments, clients, errors, exit_codes, output, redaction, runner

import sys

import constants


def describe_clusters() -> int:
    constants.check("CLUSTER_NAME")
    ecs = clients.client("ecs")
    response = ecs.describe_clusters(clusters=[constants.CLUSTER_NAME])
    output.show(response)
    if not response["clusters"]:
        reasons = ", ".join(redaction.aws_text(f["reason"]) for f in response["failures"])
        raise errors.StepFailed(
            f"cluster {constants.CLUSTER_NAME} not found ({reasons}): create it with create_cluster.py"
        )
    cluster = response["clusters"][0]
    output.say(
        f"cluster {cluster['clusterName']} is {cluster['status']}: "
        f"{cluster['runningTasksCount']} running task(s), {cluster['pendingTasksCount']} pending"
    )
    return exit_codes.EXIT_OK if cluster["status"] == "ACTIVE" else exit_codes.EXIT_FAILED


def main(argv: list[str] | None = None) -> int:
    arguments.parse_args(__doc__, argv)
    return runner.run(describe_clusters)


if __name__ == "__main__":
    sys.exit(main())
