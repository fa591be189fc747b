"""The tutorial's steps in the README's order, in process against moto."""

import create_cluster
import delete_cluster
import describe_clusters
import describe_task
import list_task_definition
import list_tasks
import register_task_definition
import run_task
import stop_task
from conftest import start_local_server, stop_local_server


def test_whole_tutorial(aws, run, tmp_path):
    created = run(create_cluster)
    assert created.code == 0
    assert created.json()["cluster"]["clusterName"] == "sd-test"
    assert "ResponseMetadata" not in created.json()
    assert "cluster sd-test is ACTIVE" in created.err

    described = run(describe_clusters)
    assert described.code == 0
    assert described.json()["clusters"][0]["status"] == "ACTIVE"

    registered = run(register_task_definition)
    assert registered.code == 0
    definition = registered.json()["taskDefinition"]
    assert definition["family"] == "sd-apiserver"
    assert "registered task definition sd-apiserver:1" in registered.err

    listed = run(list_task_definition)
    assert listed.json()["taskDefinitionArns"] == [definition["taskDefinitionArn"]]

    started = run(run_task)
    assert started.code == 0, started.err
    [task] = started.json()["tasks"]
    assert started.json()["failures"] == []

    running = run(list_tasks)
    assert running.json()["taskArns"] == [task["taskArn"]]

    public_ip = aws.give_public_ip(task["taskArn"])
    # Fargate's part: the server listening at the task's address (moto's are on loopback).
    server = start_local_server(
        tmp_path, "tcp", "--host", public_ip, "--license", "test-licence", port=9090
    )
    try:
        found = run(describe_task, "--interval", "0")
    finally:
        stop_local_server(server)
    assert found.code == 0, found.err
    assert f"the server answers at {public_ip}:9090: server " in found.err
    [summary] = found.json()["tasks"]
    assert summary["publicIp"] == public_ip
    assert summary["privateIp"].startswith("10.")
    assert summary["endpoint"] == f"{public_ip}:9090"
    assert f"--host {public_ip} --port 9090" in found.err

    stopped = run(stop_task, "--interval", "0")
    assert stopped.code == 0, stopped.err
    assert [t["lastStatus"] for t in stopped.json()["tasks"]] == ["STOPPED"]

    assert run(list_tasks).json()["taskArns"] == []

    deleted = run(delete_cluster)
    assert deleted.code == 0, deleted.err
    assert deleted.json()["cluster"]["status"] == "INACTIVE"
    assert run(describe_clusters).code == 1
