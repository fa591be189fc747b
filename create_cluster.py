"""Step 1: create the ECS cluster named by CLUSTER_NAME.

Creating a cluster that already exists is harmless: ECS returns the existing one.
"""

from plumbing import arguments, clients, exit_codes, output, runner

import sys

import constants


def create_cluster() -> int:
    constants.check("CLUSTER_NAME")
    ecs = clients.client("ecs")
    response = ecs.create_cluster(
        clusterName=constants.CLUSTER_NAME,
        tags=[constants.PROJECT_TAG],
    )
    output.show(response)
    cluster = response["cluster"]
    output.say(f"cluster {cluster['clusterName']} is {cluster['status']}")
    return exit_codes.EXIT_OK


def main(argv: list[str] | None = None) -> int:
    arguments.parse_args(__doc__, argv)
    return runner.run(create_cluster)


if __name__ == "__main__":
    sys.exit(main())
