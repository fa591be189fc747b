"""Step 0: check the prerequisites before a task bills: network, security groups, roles, logs, EFS.

It also says what a task of these settings costs an hour, and at most.

Read-only: it creates and changes nothing. Each finding is one line on stderr with its fix,
and the whole report is JSON on stdout. Exits 0 when nothing blocks a task (warnings allowed),
1 when something would make the task fail or unreachable, 2 on a bad setting.
"""

from __future__ import annotations

from plumbing import (
    arguments,
    arns,
    clients,
    errors,
    exit_codes,
    ingress,
    licence_secret,
    output,
    pricing,
    runner,
    service_linked_role,
)

import fnmatch
import ipaddress
import sys
from collections.abc import Callable
from dataclasses import asdict, dataclass
from typing import Any, NamedTuple

from botocore.exceptions import ClientError

import constants

TASKS_PRINCIPAL = "ecs-tasks.amazonaws.com"
HTTPS = 443
NFS = 2049
ECR_PULL = (
    "ecr:GetAuthorizationToken",
    "ecr:BatchCheckLayerAvailability",
    "ecr:GetDownloadUrlForLayer",
    "ecr:BatchGetImage",
)
LOGS_WRITE = ("logs:CreateLogStream", "logs:PutLogEvents")
OK, WARNING, PROBLEM = "ok", "warning", "problem"


class Need(NamedTuple):
    """Something the execution role must be allowed, for the task to start."""

    what: str  # "write logs to /ecs/x", after "role R can" / "cannot"
    actions: tuple[str, ...]
    resource: str
    fix: str
    blocking: bool  # False: not needed with the current settings, so missing is a warning


@dataclass
class Finding:
    check: str
    status: str  # ok, warning (the task may still work) or problem (it will not)
    message: str
    fix: str = ""


class Findings(list):
    """The report, printed on stderr one line per finding as it is made."""

    def add(self, check: str, status: str, message: str, fix: str = "") -> None:
        finding = Finding(check, status, message, fix)
        self.append(finding)
        output.say(f"{status}: {message}" + (f" -> fix: {fix}" if fix else ""))

    def guarded(self, check: str, body: Callable[[], Any]) -> Any:
        """Run one check; a permission the caller lacks to look becomes a warning, not a failure."""
        try:
            return body()
        except ClientError as error:
            if not denied(error):
                raise
            self.unreadable(check, error)
            return None

    def unreadable(self, check: str, error: ClientError) -> None:
        """A permission the caller lacks to look: say so, without calling the prerequisite broken."""
        self.add(
            check,
            WARNING,
            f"could not check the {check}: {errors.describe_client_error(error)}",
            "give your identity the read permissions in the README's IAM table, or check it by hand",
        )


def denied(error: ClientError) -> bool:
    return errors.aws_error_code(error) in errors.DENIED_CODES


# --- network


def route_to_internet(ec2: Any, subnet: dict, holds_nat: bool = False) -> tuple[str, str]:
    """How the subnet reaches 0.0.0.0/0: ("igw", id), ("nat", id), ("other", id) or ("none", why).

    `holds_nat`: the subnet is a NAT gateway's, which must itself reach an internet gateway.
    """
    tables = ec2.describe_route_tables(
        Filters=[{"Name": "association.subnet-id", "Values": [subnet["SubnetId"]]}]
    )["RouteTables"]
    if not tables:  # no table of its own: the VPC's main route table applies
        tables = ec2.describe_route_tables(
            Filters=[
                {"Name": "vpc-id", "Values": [subnet["VpcId"]]},
                {"Name": "association.main", "Values": ["true"]},
            ]
        )["RouteTables"]
    for table in tables:
        for route in table["Routes"]:
            if route.get("DestinationCidrBlock") != "0.0.0.0/0":
                continue
            if route.get("State") == "blackhole":
                return "none", f"its 0.0.0.0/0 route in {table['RouteTableId']} is a blackhole"
            if route.get("GatewayId", "").startswith("igw-"):
                return internet_gateway_state(ec2, route["GatewayId"], subnet["VpcId"])
            if route.get("NatGatewayId") and holds_nat:
                return "none", f"it routes 0.0.0.0/0 to NAT gateway {route['NatGatewayId']}"
            if route.get("NatGatewayId"):
                return nat_gateway_state(ec2, route["NatGatewayId"])
            target = route.get("TransitGatewayId") or route.get("NetworkInterfaceId") or "?"
            return "other", target
    return "none", "no route to 0.0.0.0/0 in its route table"


def internet_gateway_state(ec2: Any, gateway_id: str, vpc_id: str) -> tuple[str, str]:
    """("igw", id) if the gateway is attached to the VPC, else ("none", why)."""
    [gateway] = ec2.describe_internet_gateways(InternetGatewayIds=[gateway_id])["InternetGateways"]
    attached = any(
        a["VpcId"] == vpc_id and a["State"] in ("available", "attached")
        for a in gateway.get("Attachments", [])
    )
    if attached:
        return "igw", gateway_id
    return (
        "none",
        f"its 0.0.0.0/0 route goes to internet gateway {gateway_id}, not attached to {vpc_id}",
    )


def nat_gateway_state(ec2: Any, nat_id: str) -> tuple[str, str]:
    """("nat", id) if the NAT gateway is available and itself in a public subnet, else ("none", why)."""
    [nat] = ec2.describe_nat_gateways(NatGatewayIds=[nat_id])["NatGateways"]
    if nat["State"] != "available":
        return "none", f"its 0.0.0.0/0 route goes to NAT gateway {nat_id}, which is {nat['State']}"
    if nat.get("ConnectivityType") == "private":
        return "none", f"its 0.0.0.0/0 route goes to {nat_id}, a private NAT gateway"
    [nat_subnet] = ec2.describe_subnets(SubnetIds=[nat["SubnetId"]])["Subnets"]
    if route_to_internet(ec2, nat_subnet, holds_nat=True)[0] != "igw":
        return "none", (
            f"its 0.0.0.0/0 route goes to NAT gateway {nat_id}, but that sits in "
            f"{nat['SubnetId']}, which has no route to an internet gateway"
        )
    return "nat", nat_id


def check_subnets(
    ec2: Any, subnet_ids: list[str], assign_public_ip: str, report: Findings
) -> list[dict]:
    """Each subnet exists, is in one VPC, and reaches the internet the way ASSIGN_PUBLIC_IP needs."""
    subnets = []
    for subnet_id in subnet_ids:
        try:
            subnets += ec2.describe_subnets(SubnetIds=[subnet_id])["Subnets"]
        except ClientError as error:
            if errors.aws_error_code(error) != "InvalidSubnetID.NotFound":
                raise
            report.add(
                "subnet",
                PROBLEM,
                f"subnet {subnet_id} does not exist in {ec2.meta.region_name}",
                "check SUBNET_NAME and the region (AWS_DEFAULT_REGION or your profile's)",
            )
    vpcs = sorted({subnet["VpcId"] for subnet in subnets})
    if len(vpcs) > 1:
        report.add(
            "subnet",
            PROBLEM,
            f"the subnets are in {len(vpcs)} VPCs ({', '.join(vpcs)}); a task's subnets share one",
            "list subnets of one VPC in SUBNET_NAME",
        )
    for vpc_id in vpcs:
        dns = ec2.describe_vpc_attribute(VpcId=vpc_id, Attribute="enableDnsSupport")
        if not dns["EnableDnsSupport"]["Value"]:
            report.add(
                "subnet",
                PROBLEM,
                f"VPC {vpc_id} has DNS resolution turned off: the task cannot resolve the image "
                "registry's name (CannotPullContainerError)",
                f"turn on DNS resolution (enableDnsSupport) for {vpc_id}",
            )
    for subnet in subnets:
        name = f"subnet {subnet['SubnetId']} ({subnet['AvailabilityZone']})"
        kind, target = route_to_internet(ec2, subnet)
        if kind == "igw" and assign_public_ip == "ENABLED":
            report.add("subnet", OK, f"{name} is public: 0.0.0.0/0 goes to {target}")
        elif kind == "igw":
            report.add(
                "subnet",
                PROBLEM,
                f"{name} routes to internet gateway {target}, but ASSIGN_PUBLIC_IP=DISABLED: "
                "without a public IP the task cannot pull its image (CannotPullContainerError)",
                "set ASSIGN_PUBLIC_IP=ENABLED, or use a private subnet with a NAT gateway",
            )
        elif kind == "nat" and assign_public_ip == "DISABLED":
            report.add(
                "subnet",
                OK,
                f"{name} is private: 0.0.0.0/0 goes to NAT gateway {target}; "
                "the server is reachable only from inside the VPC",
            )
        elif kind == "nat":
            report.add(
                "subnet",
                WARNING,
                f"{name} is private (0.0.0.0/0 goes to NAT gateway {target}): the task can pull "
                "its image, but a public IP is of no use there (and still bills, about $0.005 an "
                "hour) and the demos cannot reach it from outside the VPC",
                "use a public subnet (route to an internet gateway) to reach it from your "
                "machine, or set ASSIGN_PUBLIC_IP=DISABLED and run the demos inside the VPC",
            )
        elif kind == "other":
            report.add(
                "subnet",
                WARNING,
                f"{name} sends 0.0.0.0/0 to {target}, neither an internet nor a NAT gateway: "
                "cannot tell whether the task reaches the internet",
                "make sure that route leads to the internet, or use a public subnet",
            )
        else:
            report.add(
                "subnet",
                PROBLEM,
                f"{name} has no way to the internet ({target}): the task cannot pull its image "
                "(CannotPullContainerError)",
                "use a public subnet (0.0.0.0/0 to an internet gateway) with "
                "ASSIGN_PUBLIC_IP=ENABLED, or a private one with a NAT gateway",
            )
    return subnets


def allows_port(rule: dict, port: int) -> bool:
    if rule["IpProtocol"] == "-1":
        return True
    return rule["IpProtocol"] in ("tcp", "6") and rule["FromPort"] <= port <= rule["ToPort"]


def sources(rule: dict) -> set[str]:
    """Who a rule lets in (or out to): CIDRs, prefix lists and security groups."""
    return (
        {r["CidrIp"] for r in rule.get("IpRanges", [])}
        | {r["CidrIpv6"] for r in rule.get("Ipv6Ranges", [])}
        | {r["PrefixListId"] for r in rule.get("PrefixListIds", [])}
        | {r["GroupId"] for r in rule.get("UserIdGroupPairs", []) if "GroupId" in r}
    )


def check_security_groups(
    ec2: Any, group_ids: list[str], vpcs: set[str], port: int, report: Findings
) -> list[dict]:
    """Each group exists in the subnets' VPC; together they let someone in on `port` and the task out."""
    groups = []
    for group_id in group_ids:
        try:
            groups += ec2.describe_security_groups(GroupIds=[group_id])["SecurityGroups"]
        except ClientError as error:
            if errors.aws_error_code(error) not in (
                "InvalidGroup.NotFound",
                "InvalidGroupId.Malformed",
            ):
                raise
            report.add(
                "security group",
                PROBLEM,
                f"security group {group_id} does not exist in {ec2.meta.region_name}",
                "check SEC_GROUP_NAME and the region, or create one with create_prerequisites.py",
            )
    for group in groups:
        if vpcs and group["VpcId"] not in vpcs:
            report.add(
                "security group",
                PROBLEM,
                f"security group {group['GroupId']} is in {group['VpcId']}, not in the subnets' "
                f"VPC {', '.join(sorted(vpcs))}: ECS refuses the task",
                "use a security group of the subnets' VPC (create_prerequisites.py makes one)",
            )
    if not groups:
        return groups
    names = ", ".join(group["GroupId"] for group in groups)
    inbound = [rule for g in groups for rule in g["IpPermissions"] if allows_port(rule, port)]
    allowed_in = set().union(*map(sources, inbound))
    ipv6_only = bool(allowed_in) and all(":" in source for source in allowed_in)
    if ipv6_only:
        # The task gets a public IPv4 address only (assignPublicIp): an IPv6 source never
        # reaches it.
        report.add(
            "security group",
            PROBLEM,
            f"the inbound rules in {names} allow TCP port {port} only from IPv6 ranges "
            f"({', '.join(sorted(allowed_in))}), but the task gets only a public IPv4 address: "
            "the demos cannot reach it",
            f"add an inbound TCP {port} rule for your public IPv4 address (for example "
            "`create_prerequisites.py --cidr YOUR.IP/32`)",
        )
    elif not inbound:
        report.add(
            "security group",
            PROBLEM,
            f"no inbound rule in {names} allows TCP port {port} (SD_API_TCP_PORT): the demos "
            "will hang",
            f"add an inbound TCP {port} rule for your own address (for example "
            "`create_prerequisites.py --cidr YOUR.IP/32`)",
        )
    elif ingress.open_to_the_internet(allowed_in):
        report.add(
            "security group",
            WARNING,
            f"TCP port {port} is open to the whole internet "
            f"({', '.join(ingress.open_to_the_internet(allowed_in))}) in {names}; the API has no "
            "authentication",
            "allow only your own address (YOUR.IP/32)",
        )
    else:
        report.add(
            "security group",
            OK,
            f"TCP port {port} is open to {', '.join(sorted(allowed_in))} in {names}",
        )
    outbound = [
        rule for g in groups for rule in g["IpPermissionsEgress"] if allows_port(rule, HTTPS)
    ]
    allowed_out = set().union(*map(sources, outbound))
    if "0.0.0.0/0" in allowed_out:
        report.add(
            "security group", OK, f"{names} {'let' if len(groups) > 1 else 'lets'} the task out to the internet (HTTPS to 0.0.0.0/0)"
        )
    elif not outbound:
        report.add(
            "security group",
            PROBLEM,
            f"no outbound rule in {names} allows HTTPS (TCP {HTTPS}): the task cannot pull its "
            "image or validate its licence",
            "add an outbound rule for all traffic (or TCP 443) to 0.0.0.0/0",
        )
    else:
        report.add(
            "security group",
            WARNING,
            f"{names} let HTTPS out only to {', '.join(sorted(allowed_out))}: the task may not "
            "reach the image registry and the licence server",
            "add an outbound rule for TCP 443 to 0.0.0.0/0 unless you use VPC endpoints",
        )
    return groups


# Ephemeral ports, where the far end of a connection answers
# (https://docs.aws.amazon.com/vpc/latest/userguide/custom-network-acl.html#nacl-ephemeral-ports):
# the task's own (Linux) for its HTTPS calls, and the demo clients'. Linux uses 32768-60999,
# Windows and macOS 49152-65535; some clients and NAT devices use anything from 1024.
TASK_EPHEMERAL = (32768, 60999)
CLIENT_EPHEMERAL = (32768, 65535)
ANY_EPHEMERAL = (1024, 65535)
Box = tuple[int, int, int, int]  # first port, last port, first address, last address


def _cut(box: Box, hole: Box) -> list[Box]:
    """What is left of `box` (ports x addresses) once `hole` is taken out of it."""
    p0, p1, a0, a1 = box
    q0, q1, b0, b1 = hole
    if q1 < p0 or q0 > p1 or b1 < a0 or b0 > a1:
        return [box]
    pieces = [(p0, q0 - 1, a0, a1), (q1 + 1, p1, a0, a1)]  # ports before and after the hole
    low, high = max(p0, q0), min(p1, q1)
    pieces += [(low, high, a0, b0 - 1), (low, high, b1 + 1, a1)]  # addresses around it
    return [(x0, x1, y0, y1) for x0, x1, y0, y1 in pieces if x0 <= x1 and y0 <= y1]


def nacl_allows(entries: list[dict], egress: bool, ports: tuple[int, int], cidr: str) -> bool:
    """Whether a network ACL lets all of TCP `ports` through to (egress) or from every address
    of `cidr`. Rules apply in order, the first that matches a packet decides, and a deny that
    matches part of the range (some ports, some addresses) blocks that part."""
    network = ipaddress.ip_network(cidr)
    left = [(*ports, int(network.network_address), int(network.broadcast_address))]
    for entry in sorted(entries, key=lambda e: e["RuleNumber"]):
        if entry["Egress"] != egress or "CidrBlock" not in entry:
            continue
        if entry["Protocol"] not in ("-1", "6"):
            continue
        port_range = entry.get("PortRange") if entry["Protocol"] == "6" else None
        port_range = port_range or {"From": 0, "To": 65535}
        rule = ipaddress.ip_network(entry["CidrBlock"])
        hole = (
            port_range["From"],
            port_range["To"],
            int(rule.network_address),
            int(rule.broadcast_address),
        )
        rest = [piece for box in left for piece in _cut(box, hole)]
        if rest == left:
            continue  # matches none of what is still undecided
        if entry["RuleAction"] != "allow":
            return False
        left = rest
        if not left:
            return True
    return False  # the final * rule denies what no rule allowed


def check_network_acls(
    ec2: Any, subnets: list[dict], clients: set[str], port: int, report: Findings
) -> None:
    """Each subnet's network ACL, which is stateless, lets through both ways what the task needs."""
    internet = "0.0.0.0/0"
    client_networks = sorted(c for c in clients if "/" in c and ":" not in c)
    for subnet in subnets:
        acls = ec2.describe_network_acls(
            Filters=[{"Name": "association.subnet-id", "Values": [subnet["SubnetId"]]}]
        )["NetworkAcls"]
        if not acls:
            continue
        entries, acl = acls[0]["Entries"], acls[0]["NetworkAclId"]
        needs = [
            (True, (443, 443), internet, "HTTPS out to the internet (image pull, licence check)"),
            (
                False,
                TASK_EPHEMERAL,
                internet,
                "the answers back from the internet (TCP 32768-60999 in, the task's own ports)",
            ),
            *(
                (False, (port, port), client, f"the demos in on TCP {port} from {client}")
                for client in client_networks
            ),
            *(
                (
                    True,
                    CLIENT_EPHEMERAL,
                    client,
                    f"the server's answers out to {client} (TCP 32768-65535: the ports Linux, "
                    "Windows and macOS clients answer on)",
                )
                for client in client_networks
            ),
        ]
        blocked = [
            what for egress, at, cidr, what in needs if not nacl_allows(entries, egress, at, cidr)
        ]
        narrow = [
            client
            for client in client_networks
            if nacl_allows(entries, True, CLIENT_EPHEMERAL, client)
            and not nacl_allows(entries, True, ANY_EPHEMERAL, client)
        ]
        if blocked:
            report.add(
                "network ACL",
                PROBLEM,
                f"network ACL {acl} of subnet {subnet['SubnetId']} blocks {'; '.join(blocked)}",
                f"allow that traffic in {acl} (network ACLs are stateless: both directions)",
            )
        elif narrow:
            report.add(
                "network ACL",
                WARNING,
                f"network ACL {acl} of subnet {subnet['SubnetId']} blocks part of TCP 1024-65535 "
                f"out to {', '.join(narrow)}: a client (or NAT device) answering on a port below "
                "32768 gets no answer",
                f"allow TCP 1024-65535 out to your address in {acl}",
            )
        else:
            report.add(
                "network ACL",
                OK,
                f"network ACL {acl} of subnet {subnet['SubnetId']} lets the traffic through",
            )


# --- the execution role


def as_list(value: Any) -> list:
    return value if isinstance(value, list) else [value]


def role_statements(iam: Any, role_name: str) -> list[dict]:
    """The statements of every policy attached to the role and every inline one."""
    statements = []
    for policy in (
        iam.get_paginator("list_attached_role_policies")
        .paginate(RoleName=role_name)
        .build_full_result()["AttachedPolicies"]
    ):
        version = iam.get_policy(PolicyArn=policy["PolicyArn"])["Policy"]["DefaultVersionId"]
        document = iam.get_policy_version(PolicyArn=policy["PolicyArn"], VersionId=version)
        statements += as_list(document["PolicyVersion"]["Document"]["Statement"])
    for name in (
        iam.get_paginator("list_role_policies")
        .paginate(RoleName=role_name)
        .build_full_result()["PolicyNames"]
    ):
        document = iam.get_role_policy(RoleName=role_name, PolicyName=name)["PolicyDocument"]
        statements += as_list(document["Statement"])
    return statements


def _matches(patterns: Any, value: str, ignore_case: bool = False) -> bool:
    # IAM wildcards are * and ?; fnmatch also knows [...], which IAM names never contain.
    if ignore_case:
        value = value.lower()
    return any(
        fnmatch.fnmatchcase(value, pattern.lower() if ignore_case else pattern)
        for pattern in as_list(patterns)
    )


def may(statements: list[dict], action: str, resource: str) -> str:
    """ "yes", "no" or "unknown": whether the statements allow `action` on `resource`.

    Only what the role's own policies say: permission boundaries and organisation policies
    are not seen. A condition, NotAction or NotResource makes a matching statement undecidable.
    """
    allowed, unknown = False, False
    for statement in statements:
        if "Action" not in statement or "Resource" not in statement:
            relevant = True  # NotAction / NotResource: cannot be read with certainty here
            decided = False
        else:
            relevant = _matches(statement["Action"], action, ignore_case=True) and _matches(
                statement["Resource"], resource
            )
            decided = "Condition" not in statement
        if not relevant:
            continue
        if statement.get("Effect") == "Deny":
            if decided:
                return "no"
            unknown = True
        elif decided:
            allowed = True
        else:
            unknown = True
    if unknown:
        return "unknown"
    return "yes" if allowed else "no"


def check_permissions(
    statements: list[dict], role: str, needs: list[Need], report: Findings
) -> None:
    """One finding per need."""
    for what, actions, resource, fix, blocking in needs:
        answers = {action: may(statements, action, resource) for action in actions}
        missing = [action for action, answer in answers.items() if answer == "no"]
        unsure = [action for action, answer in answers.items() if answer == "unknown"]
        if missing:
            report.add(
                "execution role",
                PROBLEM if blocking else WARNING,
                f"role {role} cannot {what}: its policies do not allow {', '.join(missing)}",
                fix,
            )
        elif unsure:
            report.add(
                "execution role",
                WARNING,
                f"could not tell whether role {role} can {what}: conditions or NotAction/"
                f"NotResource in its policies cover {', '.join(unsure)}",
                fix,
            )
        else:
            report.add("execution role", OK, f"role {role} can {what}")


def check_role(
    iam: Any, role_arn: str, identity: dict, region: str, secret_key: str | None, report: Findings
) -> None:
    """The role exists, trusts ECS tasks, and may pull, write logs and read the licence secret."""
    name = role_arn.rsplit("/", 1)[-1]
    account = role_arn.split(":")[4]
    if account != identity["Account"]:
        report.add(
            "execution role",
            PROBLEM,
            f"TASK_EXEC_ROLE is in account {account}, but you are in {identity['Account']}",
            "use a role of your own account in TASK_EXEC_ROLE",
        )
        return
    try:
        role = iam.get_role(RoleName=name)["Role"]
    except ClientError as error:
        if errors.aws_error_code(error) != "NoSuchEntity":
            raise
        report.add(
            "execution role",
            PROBLEM,
            f"role {name} does not exist",
            "create it with create_prerequisites.py, or set TASK_EXEC_ROLE to your ECS task "
            "execution role's ARN",
        )
        return
    if role["Arn"] != role_arn:
        report.add(
            "execution role",
            PROBLEM,
            f"role {name} exists as {role['Arn']}, not {role_arn}",
            f"set TASK_EXEC_ROLE={role['Arn']}",
        )
    trust = [
        statement
        for statement in as_list(role["AssumeRolePolicyDocument"].get("Statement", []))
        if statement.get("Effect") == "Allow"
        and TASKS_PRINCIPAL in as_list(statement.get("Principal", {}).get("Service", []))
        and _matches(statement.get("Action", []), "sts:AssumeRole", ignore_case=True)
    ]
    if trust:
        report.add("execution role", OK, f"role {name} trusts {TASKS_PRINCIPAL}")
    else:
        report.add(
            "execution role",
            PROBLEM,
            f"role {name} does not trust {TASKS_PRINCIPAL}: ECS cannot use it to start the task",
            f"let {TASKS_PRINCIPAL} assume the role (sts:AssumeRole) in its trust policy",
        )
    statements = role_statements(iam, name)

    image = constants.IMAGE_NAME
    private_ecr = ".dkr.ecr." in image.split("/", 1)[0]
    repository = image.split("/", 1)[-1].split("@")[0].split(":")[0]
    partition = arns.partition_of(identity["Arn"])  # aws, aws-cn, aws-us-gov
    ecr_resource = (
        f"arn:{partition}:ecr:{image.split('.')[3]}:{image.split('.')[0]}:repository/{repository}"
        if private_ecr
        else "*"
    )
    log_group = constants.LOG_GROUP
    needs = [
        Need(
            "pull a private ECR image"
            if private_ecr
            else f"pull from a private ECR repository (not needed for {image})",
            ECR_PULL,
            ecr_resource,
            "attach AmazonECSTaskExecutionRolePolicy to the role",
            private_ecr,
        ),
        Need(
            f"write logs to {log_group}"
            if log_group
            else "write logs (not needed: LOG_GROUP=off, or neither it nor TASK_FAMILY_NAME set)",
            LOGS_WRITE,
            f"arn:{partition}:logs:{region}:{identity['Account']}:log-group:{log_group or 'any'}"
            ":log-stream:x",
            "attach AmazonECSTaskExecutionRolePolicy to the role",
            bool(log_group),
        ),
    ]
    secret = constants.LICENSE_SECRET
    if secret:
        resource = licence_secret.secret_arn(secret, region, identity["Account"], partition)
        if ":secretsmanager:" in resource:
            # The exact ARN, with its six-character suffix: what a policy must match. A
            # policy naming the ARN without it matches no secret.
            try:
                resource = arns.full_secret_arn(clients.client("secretsmanager"), resource)
            except ClientError as error:
                if errors.aws_error_code(error) != "ResourceNotFoundException":
                    raise  # said above when missing
        actions = licence_secret.secret_read_actions(resource)
        needs.append(
            Need(
                f"read LICENSE_SECRET {resource}",
                tuple(actions),
                resource,
                "run create_prerequisites.py, or allow the role "
                f"{', '.join(actions)} on {resource} (and kms:Decrypt if the secret uses a key of "
                "your own)",
                True,
            )
        )
    if secret and secret_key:
        needs.append(
            Need(
                f"decrypt LICENSE_SECRET with its key {secret_key}",
                ("kms:Decrypt",),
                secret_key,
                f"allow the role kms:Decrypt on {secret_key}",
                True,
            )
        )
    check_permissions(statements, name, needs, report)


def check_service_linked_role(iam: Any, report: Findings) -> None:
    """The account has ECS's service-linked role, without which RunTask fails."""
    found = service_linked_role.find(iam)
    if found:
        report.add("service-linked role", OK, f"ECS's service-linked role exists ({found})")
        return
    report.add(
        "service-linked role",
        PROBLEM,
        f"the account has no ECS service-linked role ({service_linked_role.NAME}): RunTask "
        "would fail with 'Unable to assume the service linked role'",
        "run create_prerequisites.py, or `" + service_linked_role.CREATE_COMMAND + "` "
        "(needs iam:CreateServiceLinkedRole)",
    )


# --- logs, EFS, the secret


def check_log_group(logs: Any, name: str, report: Findings) -> None:
    groups = (
        logs.get_paginator("describe_log_groups")
        .paginate(logGroupNamePrefix=name)
        .build_full_result()["logGroups"]
    )
    if any(group["logGroupName"] == name for group in groups):
        report.add("log group", OK, f"log group {name} exists")
    else:
        # Not a problem: register_task_definition.py (or create_prerequisites.py) makes it.
        report.add(
            "log group",
            OK,
            f"log group {name} (LOG_GROUP) does not exist yet: register_task_definition.py "
            f"makes it, tagged as this project's, keeping lines {constants.LOG_RETENTION_DAYS} "
            "days (LOG_RETENTION_DAYS)",
        )


def check_file_system(
    efs: Any,
    ec2: Any,
    file_system_id: str,
    subnets: list[dict],
    task_groups: list[str],
    report: Findings,
) -> None:
    """The file system exists, has a mount target in each zone, and lets the task in on NFS."""
    try:
        efs.describe_file_systems(FileSystemId=file_system_id)
    except ClientError as error:
        if errors.aws_error_code(error) != "FileSystemNotFound":
            raise
        report.add(
            "file system",
            PROBLEM,
            f"EFS file system {file_system_id} (EFS_FILE_SYSTEM_ID) does not exist in this region",
            "check EFS_FILE_SYSTEM_ID and the region, or unset it",
        )
        return
    vpcs = {subnet["VpcId"] for subnet in subnets}
    for vpc_id in sorted(vpcs):
        # Fargate mounts EFS by its DNS name, which resolves only with DNS hostnames on
        # (https://docs.aws.amazon.com/efs/latest/ug/mounting-fs-mount-cmd-dns-name.html).
        hostnames = ec2.describe_vpc_attribute(VpcId=vpc_id, Attribute="enableDnsHostnames")
        if not hostnames["EnableDnsHostnames"]["Value"]:
            report.add(
                "file system",
                PROBLEM,
                f"VPC {vpc_id} has DNS hostnames turned off: the task cannot resolve the EFS "
                f"file system's name {file_system_id}.efs.REGION.amazonaws.com and would stop "
                "with ResourceInitializationError",
                f"turn on DNS hostnames (enableDnsHostnames) for {vpc_id}",
            )
    every_target = (
        efs.get_paginator("describe_mount_targets")
        .paginate(FileSystemId=file_system_id)
        .build_full_result()["MountTargets"]
    )
    targets = [target for target in every_target if target["VpcId"] in vpcs]
    if every_target and not targets:
        report.add(
            "file system",
            PROBLEM,
            f"EFS file system {file_system_id} has mount targets only in "
            f"{', '.join(sorted({t['VpcId'] for t in every_target}))}, not in the subnets' VPC",
            f"create mount targets of {file_system_id} in the subnets' VPC",
        )
        return
    zones = {target["AvailabilityZoneName"] for target in targets}
    lacking = sorted({subnet["AvailabilityZone"] for subnet in subnets} - zones)
    if lacking:
        report.add(
            "file system",
            PROBLEM,
            f"EFS file system {file_system_id} has no mount target in {', '.join(lacking)}, where "
            "the task may start: it would stop with ResourceInitializationError",
            f"create a mount target of {file_system_id} in a subnet of each of those zones",
        )
    else:
        report.add(
            "file system",
            OK,
            f"EFS file system {file_system_id} has a mount target in every zone of the subnets",
        )
    check_nfs_access(efs, ec2, targets, subnets, task_groups, report)


def check_nfs_access(
    efs: Any,
    ec2: Any,
    targets: list[dict],
    subnets: list[dict],
    task_groups: list[str],
    report: Findings,
) -> None:
    """Each mount target's security groups let the task in on NFS (TCP 2049)."""
    task_networks = [ipaddress.ip_network(subnet["CidrBlock"]) for subnet in subnets]
    for target in targets:
        groups = efs.describe_mount_target_security_groups(MountTargetId=target["MountTargetId"])
        group_ids = groups.get("SecurityGroups", [])
        if not group_ids:
            report.add(
                "file system",
                WARNING,
                f"could not tell which security groups guard mount target {target['MountTargetId']}",
                f"make sure they allow NFS (TCP {NFS}) from the task's security group",
            )
            continue
        rules = [
            rule
            for group in ec2.describe_security_groups(GroupIds=group_ids)["SecurityGroups"]
            for rule in group["IpPermissions"]
            if allows_port(rule, NFS)
        ]
        allowed = set().union(*map(sources, rules))
        networks = [ipaddress.ip_network(c) for c in allowed if "/" in c and ":" not in c]
        if allowed & set(task_groups) or all(
            any(network.subnet_of(rule) for rule in networks) for network in task_networks
        ):
            report.add(
                "file system",
                OK,
                f"mount target {target['MountTargetId']} lets the task in on NFS (TCP {NFS})",
            )
        else:
            report.add(
                "file system",
                PROBLEM,
                f"the security groups of mount target {target['MountTargetId']} "
                f"({', '.join(group_ids)}) do not let the task in on NFS (TCP {NFS}): it would "
                "stop with ResourceInitializationError",
                f"allow TCP {NFS} in {', '.join(group_ids)} from {', '.join(task_groups)}",
            )


AWS_MANAGED_KEYS = {None, "alias/aws/ssm", "alias/aws/secretsmanager"}


def check_secret_exists(secret: str, report: Findings) -> str | None:
    """LICENSE_SECRET exists (its value is never read); the ARN of its own KMS key, if any."""
    try:
        if secret.startswith("arn:") and ":secretsmanager:" in secret:
            key = clients.client("secretsmanager").describe_secret(SecretId=secret).get("KmsKeyId")
        else:
            name = secret.split(":parameter", 1)[-1] if secret.startswith("arn:") else secret
            if "/" in name and not name.startswith("/"):  # a hierarchy's name starts with /
                name = "/" + name
            found = clients.client("ssm").describe_parameters(
                ParameterFilters=[{"Key": "Name", "Values": [name]}]
            )["Parameters"]
            if not found:
                raise ClientError({"Error": {"Code": "ParameterNotFound"}}, "DescribeParameters")
            key = found[0].get("KeyId")
    except ClientError as error:
        if errors.aws_error_code(error) not in ("ResourceNotFoundException", "ParameterNotFound"):
            raise
        report.add(
            "licence secret",
            PROBLEM,
            f"LICENSE_SECRET {secret} does not exist in this region",
            "store the licence key with store_license.py, or check LICENSE_SECRET",
        )
        return None
    report.add("licence secret", OK, f"LICENSE_SECRET {secret} exists")
    if key in AWS_MANAGED_KEYS:
        return None
    if ":key/" not in key:  # an alias or a bare id: the policy names the key's ARN
        key = clients.client("kms").describe_key(KeyId=key)["KeyMetadata"]["Arn"]
    return key


def check_cost(region: str, size: tuple[int, int], limits: tuple[int, int], spot: bool,
               report: Findings) -> None:
    """What a task costs here, and where the prices come from; what Spot and the idle stop mean."""
    lifetime, idle = limits
    prices = pricing.prices(region, constants.AWS_PROFILE_NAME, budget=constants.AWS_CALL_TIMEOUT)
    line = pricing.run_estimate(
        prices, *size, 1, spot, constants.ASSIGN_PUBLIC_IP == "ENABLED", lifetime, idle
    )[0]
    if "AccessDenied" in prices.source:
        report.add(
            "cost", WARNING, line,
            "allow your identity pricing:GetProducts for this region's own prices",
        )  # fmt: skip
    else:
        report.add("cost", OK, line)
    if spot:
        report.add(
            "capacity",
            OK,
            "CAPACITY_PROVIDER=FARGATE_SPOT: AWS may take a Spot task back with two minutes' "
            "warning (describe_task.py then says so); create_cluster.py gives the cluster Spot",
        )
    if idle and constants.SD_API_TRANSPORT == 2:
        report.add(
            "idle stop",
            WARNING,
            f"with SD_API_TRANSPORT=2 no TCP connection is ever seen: the task ends after "
            f"{idle} minutes (TASK_IDLE_MINUTES) however it is used",
            "set TASK_IDLE_MINUTES=0, or use SD_API_TRANSPORT=1",
        )


def check_prerequisites() -> int:
    subnet_ids = constants.SUBNET_NAME
    group_ids = constants.SEC_GROUP_NAME
    role_arn = constants.TASK_EXEC_ROLE
    assign_public_ip = constants.ASSIGN_PUBLIC_IP
    port = constants.SD_API_TCP_PORT
    log_group = constants.LOG_GROUP
    file_system_id = constants.EFS_FILE_SYSTEM_ID
    secret = constants.LICENSE_SECRET
    constants.check("IMAGE_NAME")  # used by the role check
    size = constants.TASK_CPU, constants.TASK_MEMORY  # for the cost
    limits = constants.TASK_LIFETIME_MINUTES, constants.TASK_IDLE_MINUTES
    spot = constants.CAPACITY_PROVIDER == "FARGATE_SPOT"
    constants.check("SD_API_TRANSPORT")

    sts = clients.client("sts")
    identity = sts.get_caller_identity()
    region = sts.meta.region_name
    report = Findings()
    report.add(
        "identity", OK, f"AWS account {identity['Account']} as {identity['Arn']} in {region}"
    )

    ec2 = clients.client("ec2")
    subnets = (
        report.guarded("subnets", lambda: check_subnets(ec2, subnet_ids, assign_public_ip, report))
        or []
    )
    vpcs = {subnet["VpcId"] for subnet in subnets}
    groups = (
        report.guarded(
            "security groups", lambda: check_security_groups(ec2, group_ids, vpcs, port, report)
        )
        or []
    )
    allowed_sources = {
        source
        for group in groups
        for rule in group["IpPermissions"]
        if allows_port(rule, port)
        for source in sources(rule)
    }
    report.guarded("network ACLs", lambda: check_network_acls(ec2, subnets, allowed_sources, port, report))
    secret_key = (
        report.guarded("licence secret", lambda: check_secret_exists(secret, report))
        if secret
        else None
    )
    report.guarded(
        "execution role",
        lambda: check_role(clients.client("iam"), role_arn, identity, region, secret_key, report),
    )
    report.guarded(
        "service-linked role",
        lambda: check_service_linked_role(clients.client("iam"), report),
    )
    if log_group:
        report.guarded(
            "log group", lambda: check_log_group(clients.client("logs"), log_group, report)
        )
    if file_system_id:
        report.guarded(
            "file system",
            lambda: check_file_system(
                clients.client("efs"), ec2, file_system_id, subnets, group_ids, report
            ),
        )

    check_cost(region, size, limits, spot, report)

    problems = [finding for finding in report if finding.status == PROBLEM]
    warnings = [finding for finding in report if finding.status == WARNING]
    output.show(
        {
            "account": identity["Account"],
            "identity": identity["Arn"],
            "region": region,
            "ready": not problems,
            "findings": [asdict(finding) for finding in report],
        }
    )
    if problems:
        output.say(
            f"{len(problems)} problem(s) would stop or hide the task: fix them before run_task.py"
        )
        return exit_codes.EXIT_FAILED
    output.say(f"ready for the tutorial ({len(warnings)} warning(s))")
    return exit_codes.EXIT_OK


def main(argv: list[str] | None = None) -> int:
    arguments.parse_args(__doc__, argv)
    return runner.run(check_prerequisites)


if __name__ == "__main__":
    sys.exit(main())
