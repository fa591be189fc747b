"""The lifetime container: it ends a task after its lifetime, or once nobody has used it for a while.

ECS has no maximum task lifetime and no idle stop of its own, but it stops a task when an
essential container exits. So the task definition holds a small essential busybox container
whose command, a busybox `sh` script, exits after TASK_LIFETIME_MINUTES (exit code 0), or once
no TCP connection to the server's port has been open for TASK_IDLE_MINUTES (exit code
IDLE_EXIT_CODE). It shares the task's network namespace (awsvpc), so /proc/net/tcp and
/proc/net/tcp6 list the server's connections; it needs no other image and no IAM permission.
"""

from __future__ import annotations

import re
from typing import Any

import constants

POLL_SECONDS = 5  # how often it looks for connections: reading two small files
IDLE_EXIT_CODE = 3  # the lifetime container's exit code when it ends an idle task
LIFETIME_EXIT_CODE = 0

# $1 lifetime in seconds (0: none), $2 idle time in seconds (0: none), $3 the server's TCP
# port, $4 seconds between looks. Only busybox sh builtins and `sleep`: the time comes from
# /proc/uptime (seconds with two decimals, read here as hundredths), which never jumps. A connection counts when its local port is the server's
# and it is established (state 01): not the listening socket (0A), nor one closed already
# (TIME_WAIT lingers a minute) or half closed (CLOSE_WAIT: a server that leaks those would
# never be idle). A request that opens and closes between two looks goes unseen.
SCRIPT = r"""lifetime=$(($1 * 100)) idle=$(($2 * 100)) poll=$4
port=$(printf '%04X' "$3")
clock() { read -r up _ </proc/uptime; now=$((${up%.*} * 100 + 1${up#*.} - 100)); }
clock; start=$now; last=$now
while :; do
  clock
  if [ "$lifetime" -gt 0 ] && [ $((now - start)) -ge "$lifetime" ]; then
    echo "lifetime of $1 s is over: ending the task"; exit 0
  fi
  for table in /proc/net/tcp /proc/net/tcp6; do
    [ -r "$table" ] || continue
    while read -r _ local _ state _; do
      if [ "${local##*:}" = "$port" ] && [ "$state" = 01 ]; then last=$now; break; fi
    done <"$table"
  done
  if [ "$idle" -gt 0 ] && [ $((now - last)) -ge "$idle" ]; then
    echo "no connection to port $3 for $2 s: ending the task"; exit 3
  fi
  nap=$poll left=$(((start + lifetime - now + 99) / 100))
  if [ "$lifetime" -gt 0 ] && [ "$left" -lt "$nap" ]; then nap=$left; fi
  sleep "$nap"
done"""


def command(lifetime_minutes: int, idle_minutes: int, port: int) -> list[str]:
    """The lifetime container's command: `sh -c SCRIPT lifetime SECONDS SECONDS PORT POLL`.

    Without an idle stop it is `sleep SECONDS`, as before there was one.
    """
    if not idle_minutes:
        return ["sleep", str(lifetime_minutes * 60)]
    return [
        "sh",
        "-c",
        SCRIPT,
        constants.LIFETIME_CONTAINER_NAME,  # $0, the name in `ps` and in errors
        str(lifetime_minutes * 60),
        str(idle_minutes * 60),
        str(port),
        str(POLL_SECONDS),
    ]


def limits(task_definition: dict[str, Any]) -> tuple[int | None, int | None]:
    """(lifetime, idle time) in minutes that a task definition gives its tasks; None: none.

    Reads the lifetime container's command, as `container` writes it or as older revisions
    did (`sleep SECONDS`, a lifetime without idle stop).
    """
    for definition in task_definition.get("containerDefinitions", []):
        if definition.get("name") != constants.LIFETIME_CONTAINER_NAME:
            continue
        words = definition.get("command") or []
        numbers = [w for w in words[3:] if isinstance(w, str) and re.fullmatch(r"[0-9]{1,9}", w)]
        if len(words) == 2 and words[0] == "sleep" and re.fullmatch(r"[0-9]{1,9}", words[1]):
            return int(words[1]) // 60 or None, None
        if words[:2] == ["sh", "-c"] and len(words) == 8 and len(numbers) == 4:
            lifetime, idle = int(words[4]) // 60, int(words[5]) // 60
            return lifetime or None, idle or None
    return None, None


def how_it_ended(task: dict[str, Any]) -> str | None:
    """'lifetime' or 'idle' when the lifetime container ended a stopped task, else None."""
    if "Essential container in task exited" not in (task.get("stoppedReason") or ""):
        return None
    for container_state in task.get("containers", []):
        if container_state.get("name") == constants.LIFETIME_CONTAINER_NAME:
            code = container_state.get("exitCode")
            if code == LIFETIME_EXIT_CODE:
                return "lifetime"
            if code == IDLE_EXIT_CODE:
                return "idle"
    return None
