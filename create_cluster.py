"""Step 1: create the ECS cluster named by CLUSTER_NAME.

Creating a cluster that already exists is harmless: ECS returns the existing one. The cluster
gets both Fargate capacity providers, FARGATE and FARGATE_SPOT, so that run_task.py can start
a task on Fargate Spot (CAPACITY_PROVIDER=FARGATE_SPOT); an existing cluster without them gets
them added when CAPACITY_PROVIDER asks for Spot.
"""

from plumbing import arguments, clients, exit_codes, output, runner

import sys

import constants

FARGATE_PROVIDERS = ["FARGATE", "FARGATE_SPOT"]


def create_cluster() -> int:
    constants.check("CLUSTER_NAME", "CAPACITY_PROVIDER")
    ecs = clients.client("ecs")
    response = ecs.create_cluster(
        clusterName=constants.CLUSTER_NAME,
        capacityProviders=FARGATE_PROVIDERS,
        tags=[constants.PROJECT_TAG],
    )
    cluster = response["cluster"]
    providers = cluster.get("capacityProviders") or []
    if constants.CAPACITY_PROVIDER == "FARGATE_SPOT" and "FARGATE_SPOT" not in providers:
        # An existing cluster is returned as it is. PutClusterCapacityProviders replaces the
        # list and the default strategy, so both are kept as they were, with Fargate's added.
        # https://docs.aws.amazon.com/AmazonECS/latest/APIReference/API_PutClusterCapacityProviders.html
        response = ecs.put_cluster_capacity_providers(
            cluster=constants.CLUSTER_NAME,
            capacityProviders=providers + [p for p in FARGATE_PROVIDERS if p not in providers],
            defaultCapacityProviderStrategy=cluster.get("defaultCapacityProviderStrategy") or [],
        )
        cluster = response["cluster"]
        output.say(f"added {constants.CAPACITY_PROVIDER} to the capacity providers of the cluster")
    output.show(response)
    output.say(
        f"cluster {cluster['clusterName']} is {cluster['status']} "
        f"(capacity providers: {', '.join(cluster.get('capacityProviders') or ['none'])})"
    )
    return exit_codes.EXIT_OK


def main(argv: list[str] | None = None) -> int:
    arguments.parse_args(__doc__, argv)
    return runner.run(create_cluster)


if __name__ == "__main__":
    sys.exit(main())
