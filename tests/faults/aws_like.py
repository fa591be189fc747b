"""What AWS documents and moto lacks, played in front of moto_server by the fault proxy.

moto answers at once and forgives: a task it starts is known, listed and RUNNING on the spot,
its public IP never comes, a new role works the moment it exists, any cpu/memory pair is a
Fargate size, and no service-linked role is ever needed. Real AWS does none of that. `LikeAws`
plays, on an `AwsFaultProxy`, each behaviour that AWS's own pages describe; each is counted in
polls (not seconds), so a test knows how many checks a script must make to see through it:

    with AwsFaultProxy(moto.endpoint) as proxy:
        aws = LikeAws(proxy, moto.endpoint, lag=2, provisioning=2, pending=2)
        ...  # run the step scripts against proxy.endpoint

The rehearsal can use it too, so that the waits a real user sees are seen there.
"""

from __future__ import annotations

import json
import re
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import boto3

from faults.aws_proxy import Answer, AwsFaultProxy, Call

# Fargate's task sizes, copied from the RegisterTaskDefinition reference (`memory`), apart
# from the scripts' own copy so that one checks the other:
# https://docs.aws.amazon.com/AmazonECS/latest/APIReference/API_RegisterTaskDefinition.html
FARGATE_SIZES = {
    256: {512, 1024, 2048},
    512: {1024, 2048, 3072, 4096},
    1024: {2048, 3072, 4096, 5120, 6144, 7168, 8192},
    2048: set(range(4096, 16384 + 1, 1024)),
    4096: set(range(8192, 30720 + 1, 1024)),
    8192: set(range(16384, 61440 + 1, 4096)),
    16384: set(range(32768, 122880 + 1, 8192)),
}
# https://docs.aws.amazon.com/AmazonECS/latest/userguide/task-cpu-memory-error.html
NO_FARGATE_SIZE = "No Fargate configuration exists for given values: {cpu} CPU, {memory} memory."

# ECS's words when it cannot assume a role that IAM has not yet made known to it: IAM is
# eventually consistent, "changes ... can take time to become visible"
# (https://docs.aws.amazon.com/IAM/latest/UserGuide/troubleshoot_general.html#troubleshoot_general_eventual-consistency).
CANNOT_ASSUME = (
    "ECS was unable to assume the role '{role}' that was provided for this task. Please verify "
    "that the role being passed has the proper trust relationship and permissions and that "
    "your IAM user has permissions to pass this role."
)
IAM_CHANGES = {
    "CreateRole",
    "PutRolePolicy",
    "AttachRolePolicy",
    "UpdateAssumeRolePolicy",
    "CreateServiceLinkedRole",
}

# RunTask in an account without AWSServiceRoleForECS, which CreateCluster makes only when the
# caller may iam:CreateServiceLinkedRole:
# https://docs.aws.amazon.com/AmazonECS/latest/developerguide/using-service-linked-roles.html
SERVICE_LINKED_PATH = "/aws-service-role/ecs.amazonaws.com/"
NO_SERVICE_LINKED_ROLE = (
    "Unable to assume the service linked role. Please verify that the ECS service linked role "
    "exists."
)


@dataclass
class _Fresh:
    """A task just started, as the ECS API sees it over the next polls."""

    missing: int  # DescribeTasks answers still to give it as a MISSING failure
    unlisted: int  # ListTasks answers still to leave it out of (any ListTasks call counts)
    provisioning: int  # DescribeTasks answers still to show it PROVISIONING
    pending: int  # then PENDING


class LikeAws:
    """AWS's documented behaviours, played on `proxy` (in front of moto_server at `upstream`).

    lag: DescribeTasks answers a new task as MISSING, and ListTasks leaves it out, for that
        many polls each. "The Amazon ECS API follows an eventual consistency model"
        (https://docs.aws.amazon.com/AmazonECS/latest/APIReference/API_RunTask.html).
    provisioning, pending: a new task shows PROVISIONING, then PENDING, for that many
        DescribeTasks answers before RUNNING (moto starts it RUNNING)
        (https://docs.aws.amazon.com/AmazonECS/latest/developerguide/task-lifecycle-explanation.html).
    late_public_ip: DescribeNetworkInterfaces shows no public IP association on an interface
        for that many answers (the interface is made and attached while the task is
        PROVISIONING; its public IP may show later)
        (https://docs.aws.amazon.com/AmazonECS/latest/developerguide/fargate-task-networking.html).
    iam_lag: after any change to a role (CreateRole, PutRolePolicy, ...), that many
        RegisterTaskDefinition or RunTask calls naming it as execution role are refused with
        ECS's "unable to assume the role".
    secret_lag: after PutRolePolicy on a role, that many tasks started with it as execution role
        and a `secrets` entry stop at once, unable to read the secret, as ECS reports a secret
        the role may not yet read (ResourceInitializationError: unable to pull secrets)
        (https://docs.aws.amazon.com/AmazonECS/latest/developerguide/resource-initialization-error.html).
    service_linked_role: False plays an account without AWSServiceRoleForECS: RunTask fails
        until CreateServiceLinkedRole, and IAM does not show the role that moto may hold.
    Fargate's cpu/memory table is always enforced on RegisterTaskDefinition.
    Real ARN shapes: a task's id is 32 hex digits (arn:aws:ecs:REGION:ACCOUNT:task/CLUSTER/ID,
        https://docs.aws.amazon.com/AmazonECS/latest/developerguide/ecs-account-settings.html#ecs-resource-ids),
        where moto gives a UUID with dashes: the layer speaks the real shape to the scripts.
    """

    def __init__(
        self,
        proxy: AwsFaultProxy,
        upstream: str,
        lag: int = 2,
        provisioning: int = 2,
        pending: int = 2,
        late_public_ip: int = 2,
        iam_lag: int = 2,
        secret_lag: int = 0,
        service_linked_role: bool = True,
    ) -> None:
        self.proxy, self.upstream = proxy, upstream
        self.lag, self.provisioning, self.pending = lag, provisioning, pending
        self.late_public_ip, self.iam_lag, self.secret_lag = late_public_ip, iam_lag, secret_lag
        self.unreadable: dict[str, int] = {}  # role name -> tasks still unable to read secrets
        self.has_service_linked_role = service_linked_role
        self.lock = threading.Lock()
        self.fresh: dict[str, _Fresh] = {}  # task id -> how the API still sees it
        self.created: dict[str, float] = {}  # task id -> when RunTask started it
        self.interfaces: dict[str, int] = {}  # interface id -> answers still without its IP
        self.roles: dict[str, int] = {}  # role name -> ECS calls still refused
        self.refused: list[str] = []  # what was played, for tests to assert on
        plays: dict[str, Callable[[Call], Answer]] = {
            "RunTask": self._run_task,
            "DescribeTasks": self._describe_tasks,
            "ListTasks": self._list_tasks,
            "DescribeNetworkInterfaces": self._describe_network_interfaces,
            "RegisterTaskDefinition": self._register_task_definition,
            "ListRoles": self._list_roles,
            "CreateServiceLinkedRole": self._create_service_linked_role,
            "StopTask": self._forward_ecs,
            **{operation: self._iam_change for operation in IAM_CHANGES - {"CreateServiceLinkedRole"}},
        }
        for operation, behaviour in plays.items():
            proxy.play(operation, behaviour)

    def _client(self, service: str) -> Any:
        return boto3.client(
            service,
            endpoint_url=self.upstream,
            region_name="us-east-1",
            aws_access_key_id="like-aws",
            aws_secret_access_key="like-aws",
        )

    # --- ECS

    def _forward_ecs(self, call: Call) -> Answer:
        """Forward with real task ids: 32 hex digits to the scripts, moto's UUIDs to moto."""
        request = _MOTO_ID.sub(
            lambda m: "-".join(m.groups()), call.body.decode("utf-8", "replace")
        ).encode()
        status, headers, body = call.forward(request)
        real = _UUID.sub(lambda m: m.group(1) + "".join(m.groups()[1:]), body.decode())
        return status, headers, real.encode()

    def _run_task(self, call: Call) -> Answer:
        params = call.params
        with self.lock:  # made a moment ago: not yet known to ECS
            spreading = self.roles.get("AWSServiceRoleForECS", 0) > 0
            if spreading:
                self.roles["AWSServiceRoleForECS"] -= 1
        if spreading or not self._service_linked_role_exists():
            self.refused.append("RunTask: no service-linked role")
            return call.error("InvalidParameterException", NO_SERVICE_LINKED_ROLE)
        definition = self._client("ecs").describe_task_definition(
            taskDefinition=params["taskDefinition"]
        )["taskDefinition"]
        refusal = self._not_yet_assumable(call, definition.get("executionRoleArn"))
        if refusal:
            return refusal
        status, headers, body = self._forward_ecs(call)
        if status == 200:
            with self.lock:
                for task in json.loads(body).get("tasks", []):
                    self.fresh[_task_id(task["taskArn"])] = _Fresh(
                        self.lag, self.lag, self.provisioning, self.pending
                    )
                    self.created[_task_id(task["taskArn"])] = time.time()
            self._fail_to_read_secrets(params, definition, json.loads(body).get("tasks", []))
        return status, headers, body

    def _fail_to_read_secrets(self, params: dict, definition: dict, tasks: list[dict]) -> None:
        """A role whose policy was changed a moment ago may not read the secret yet."""
        role = (definition.get("executionRoleArn") or "").rsplit("/", 1)[-1]
        secrets = [
            secret["valueFrom"]
            for container in definition.get("containerDefinitions", [])
            for secret in container.get("secrets", [])
        ]
        with self.lock:
            if not secrets or self.unreadable.get(role, 0) <= 0:
                return
            self.unreadable[role] -= 1
        service = "asm" if ":secretsmanager:" in secrets[0] else "ssm"
        action = "secretsmanager:GetSecretValue" if service == "asm" else "ssm:GetParameters"
        reason = (
            "ResourceInitializationError: unable to pull secrets or registry auth: execution "
            f"resource retrieval failed: unable to retrieve secrets from {service}: service call "
            "has been retried 1 time(s): AccessDeniedException: User: arn:aws:sts::123456789012:"
            f"assumed-role/{role}/0123456789abcdef0123456789abcdef is not authorized to perform: "
            f"{action} on resource: {secrets[0]}"
        )
        for task in tasks:
            self._client("ecs").stop_task(
                cluster=params.get("cluster", "default"), task=moto_arn(task["taskArn"]), reason=reason
            )
            with self.lock:
                self.fresh.pop(_task_id(task["taskArn"]), None)

    def _describe_tasks(self, call: Call) -> Answer:
        status, headers, body = self._forward_ecs(call)
        if status != 200:
            return status, headers, body
        answer = json.loads(body)
        tasks, failures = [], list(answer.get("failures", []))
        with self.lock:
            for task in answer.get("tasks", []):
                if task["lastStatus"] == "STOPPED":  # its start is long known everywhere
                    self.fresh.pop(_task_id(task["taskArn"]), None)
                fresh = self.fresh.get(_task_id(task["taskArn"]))
                task.setdefault(
                    "createdAt", self.created.get(_task_id(task["taskArn"]), time.time() - 3600)
                )
                if fresh and fresh.missing > 0:
                    fresh.missing -= 1
                    failures.append({"arn": task["taskArn"], "reason": "MISSING"})
                    continue
                if fresh and task["lastStatus"] == "RUNNING" and fresh.provisioning > 0:
                    fresh.provisioning -= 1
                    task["lastStatus"] = "PROVISIONING"
                elif fresh and task["lastStatus"] == "RUNNING" and fresh.pending > 0:
                    fresh.pending -= 1
                    task["lastStatus"] = "PENDING"
                elif task["lastStatus"] == "RUNNING":
                    task.setdefault("startedAt", task["createdAt"])
                tasks.append(task)
        answer.update(tasks=tasks, failures=failures)
        return status, _json_headers(headers), json.dumps(answer).encode()

    def _list_tasks(self, call: Call) -> Answer:
        status, headers, body = self._forward_ecs(call)
        if status != 200:
            return status, headers, body
        answer = json.loads(body)
        if call.params.get("desiredStatus") == "STOPPED":
            return status, headers, body  # a task that has stopped was started long enough ago
        with self.lock:
            hidden = {task for task, fresh in self.fresh.items() if fresh.unlisted > 0}
            for fresh in self.fresh.values():  # each ListTasks call brings AWS closer to consistent
                fresh.unlisted -= 1
        listed = [arn for arn in answer.get("taskArns", []) if _task_id(arn) not in hidden]
        answer["taskArns"] = listed
        return status, _json_headers(headers), json.dumps(answer).encode()

    def _register_task_definition(self, call: Call) -> Answer:
        params = call.params
        if "FARGATE" in params.get("requiresCompatibilities", []):
            cpu, memory = _units(params.get("cpu")), _units(params.get("memory"))
            if memory not in FARGATE_SIZES.get(cpu, set()):
                self.refused.append(f"RegisterTaskDefinition: {cpu} CPU, {memory} memory")
                return call.error(
                    "ClientException", NO_FARGATE_SIZE.format(cpu=cpu, memory=memory)
                )
        refusal = self._not_yet_assumable(call, params.get("executionRoleArn"))
        return refusal or call.forward()

    # --- EC2

    def _describe_network_interfaces(self, call: Call) -> Answer:
        status, headers, body = call.forward()
        if status != 200:
            return status, headers, body
        asked = [value for name, value in call.params.items() if name.startswith("NetworkInterfaceId")]
        with self.lock:
            hide = False
            for interface in asked:
                left = self.interfaces.setdefault(interface, self.late_public_ip)
                if left > 0:
                    self.interfaces[interface] = left - 1
                    hide = True
        if hide:
            body = re.sub(rb"<association>.*?</association>", b"", body, flags=re.S)
        return status, headers, body

    # --- IAM

    def _iam_change(self, call: Call) -> Answer:
        status, headers, body = call.forward()
        if status == 200:
            with self.lock:
                self.roles[call.params.get("RoleName", "")] = self.iam_lag
                if call.operation == "PutRolePolicy":
                    self.unreadable[call.params.get("RoleName", "")] = self.secret_lag
        return status, headers, body

    def _not_yet_assumable(self, call: Call, role_arn: str | None) -> Answer | None:
        if not role_arn:
            return None
        name = role_arn.rsplit("/", 1)[-1]
        with self.lock:
            left = self.roles.get(name, 0)
            if left <= 0:
                return None
            self.roles[name] = left - 1
        self.refused.append(f"{call.operation}: role {name} not yet known to ECS")
        code = "ClientException" if call.operation == "RegisterTaskDefinition" else (
            "InvalidParameterException"
        )
        return call.error(code, CANNOT_ASSUME.format(role=role_arn))

    def _service_linked_role_exists(self) -> bool:
        with self.lock:
            if not self.has_service_linked_role:
                return False
        roles = self._client("iam").list_roles(PathPrefix=SERVICE_LINKED_PATH)["Roles"]
        return bool(roles)

    def _list_roles(self, call: Call) -> Answer:
        status, headers, body = call.forward()
        with self.lock:
            hidden = not self.has_service_linked_role
        if status == 200 and hidden:
            body = re.sub(
                rb"<member>(?:(?!</member>).)*?" + re.escape(SERVICE_LINKED_PATH.encode())
                + rb".*?</member>",
                b"",
                body,
                flags=re.S,
            )
        return status, headers, body

    def _create_service_linked_role(self, call: Call) -> Answer:
        with self.lock:
            existed = self.has_service_linked_role
        status, headers, body = call.forward()
        if status != 200 and not existed and b"EntityAlreadyExists" in body:
            # moto held one already (another test's account): in this account it is new.
            status, body = 200, _created_service_linked_role()
            headers = [("Content-Type", "text/xml")]
        if status == 200:
            with self.lock:
                self.has_service_linked_role = True
                self.roles["AWSServiceRoleForECS"] = self.iam_lag
        return status, headers, body


def moto_arn(arn: str) -> str:
    """A task ARN (or id) as the layer shows it (32 hex digits) in moto's own shape (a UUID)."""
    return _MOTO_ID.sub(lambda m: "-".join(m.groups()), f"/{arn}\"")[1:-1]


def _task_id(arn: str) -> str:
    return arn.rsplit("/", 1)[-1].replace("-", "")


# moto's task ids (UUIDs) in its answers' task ARNs, and a real id (32 hex digits) in a
# request, bare or at the end of an ARN.
_UUID = re.compile(r'(:task/[^/"]+/)([0-9a-f]{8})-([0-9a-f]{4})-([0-9a-f]{4})-([0-9a-f]{4})-([0-9a-f]{12})')
_MOTO_ID = re.compile(r'(?<=[/"])([0-9a-f]{8})([0-9a-f]{4})([0-9a-f]{4})([0-9a-f]{4})([0-9a-f]{12})(?=")')


def _units(value: Any) -> int | None:
    try:
        return int(str(value))
    except ValueError:
        return None


def _json_headers(headers: list[tuple[str, str]]) -> list[tuple[str, str]]:
    return [(name, value) for name, value in headers if name.lower() != "content-length"]


def _created_service_linked_role() -> bytes:
    return (
        b"<CreateServiceLinkedRoleResponse><CreateServiceLinkedRoleResult><Role>"
        b"<Path>/aws-service-role/ecs.amazonaws.com/</Path><RoleName>AWSServiceRoleForECS"
        b"</RoleName><RoleId>AROAEXAMPLEEXAMPLE0001</RoleId><Arn>arn:aws:iam::123456789012:role/"
        b"aws-service-role/ecs.amazonaws.com/AWSServiceRoleForECS</Arn>"
        b"<CreateDate>2026-01-01T00:00:00Z</CreateDate></Role></CreateServiceLinkedRoleResult>"
        b"<ResponseMetadata><RequestId>0</RequestId></ResponseMetadata>"
        b"</CreateServiceLinkedRoleResponse>"
    )
