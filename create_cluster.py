"""Step 1: create the ECS cluster named by CLUSTER_NAME.

Creating a cluster that already exists is harmless: ECS returns the existing one.
"""

import sys

import common
import constants


def create_cluster() -> int:
    constants.check("CLUSTER_NAME")
    ecs = common.client("ecs")
    response = ecs.create_cluster(
        clusterName=constants.CLUSTER_NAME,
        tags=[constants.PROJECT_TAG],
    )
    common.show(response)
    cluster = response["cluster"]
    common.say(f"cluster {cluster['clusterName']} is {cluster['status']}")
    return common.EXIT_OK


def main(argv: list[str] | None = None) -> int:
    common.parse_args(__doc__, argv)
    return common.run(create_cluster)


if __name__ == "__main__":
    sys.exit(main())
