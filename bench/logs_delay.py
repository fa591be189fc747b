"""Measure how long a log line takes from being written to being shown: logs.py's polling
(GetLogEvents every --interval) against CloudWatch Logs Live Tail (StartLiveTail's stream).

It writes lines with PutLogEvents to a stream of its own, and times when each is seen by each
reader: the figure is what a person waiting on `logs.py --follow` sees, on top of the
awslogs driver's own buffering in the task.

    python3 bench/logs_delay.py              # against a local moto_server (no AWS account)
    python3 bench/logs_delay.py --aws --group /ecs/sd-apiserver   # your AWS account: costs
                                              # a few cents of Live Tail; deletes its stream

Locally, moto answers at once and never delays ingestion: that run measures the readers'
own cost (the polling interval, the call), not CloudWatch's ingestion delay.
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import threading
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))


def measure_polling(logs, group: str, stream: str, lines: int, interval: float) -> list[float]:
    delays: list[float] = []
    written: dict[str, float] = {}
    token = None  # the stream is empty: read from its head until the first line comes
    writer = threading.Thread(target=_write, args=(logs, group, stream, lines, written, "poll"))
    writer.start()
    deadline = time.monotonic() + lines * 2 + 120
    while len(delays) < lines and time.monotonic() < deadline:
        time.sleep(interval)
        page = logs.get_log_events(
            logGroupName=group,
            logStreamName=stream,
            startFromHead=True,
            **({"nextToken": token} if token else {}),
        )
        if page["events"]:
            token = page["nextForwardToken"]
        now = time.monotonic()
        for event in page["events"]:
            if event["message"] in written:
                delays.append(now - written[event["message"]])
    writer.join()
    return delays


def measure_live_tail(logs, group_arn: str, group: str, stream: str, lines: int) -> list[float]:
    delays: list[float] = []
    written: dict[str, float] = {}
    response = logs.start_live_tail(logGroupIdentifiers=[group_arn], logStreamNames=[stream])
    events = response["responseStream"]
    writer = threading.Thread(target=_write, args=(logs, group, stream, lines, written, "tail"))
    deadline = time.monotonic() + lines * 2 + 120
    try:
        for event in events:
            if "sessionStart" in event and not writer.ident:
                writer.start()  # the session is open: every line written from now on comes
            for entry in event.get("sessionUpdate", {}).get("sessionResults", []):
                if entry["message"] in written:
                    delays.append(time.monotonic() - written[entry["message"]])
            if len(delays) >= lines or time.monotonic() > deadline:
                break
    finally:
        events.close()
        if writer.ident:
            writer.join()
    return delays


def _write(logs, group: str, stream: str, lines: int, written: dict, tag: str) -> None:
    for index in range(lines):
        message = f"bench {tag} line {index} {time.time_ns()}"
        written[message] = time.monotonic()
        logs.put_log_events(
            logGroupName=group,
            logStreamName=stream,
            logEvents=[{"timestamp": int(time.time() * 1000), "message": message}],
        )
        time.sleep(0.7)


def summary(name: str, delays: list[float], lines: int) -> str:
    if not delays:
        return f"{name}: no line seen"
    return (
        f"{name}: {len(delays)}/{lines} lines seen; delay median {statistics.median(delays):.2f}s, "
        f"max {max(delays):.2f}s"
    )


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.strip().splitlines()[0])
    parser.add_argument("--aws", action="store_true", help="your AWS account, not a local moto")
    parser.add_argument("--group", default="/ecs/sd-apiserver-bench")
    parser.add_argument("--lines", type=int, default=10)
    parser.add_argument("--interval", type=float, default=2.0, help="logs.py's polling interval")
    args = parser.parse_args(argv)

    moto = None
    if not args.aws:
        from rehearsal import local_aws

        for name in [n for n in os.environ if n.startswith("AWS_")]:
            del os.environ[name]
        moto = local_aws.MotoServer().start()
        os.environ.update(local_aws.aws_environment(moto.endpoint))
    import boto3
    from botocore.config import Config

    logs = boto3.client("logs")
    # StartLiveTail's endpoint is the service's with a "streaming-" host prefix; a local
    # endpoint has no such host.
    tail_client = logs if args.aws else boto3.client(
        "logs", config=Config(inject_host_prefix=False)
    )
    stream = f"bench/logs-delay/{time.time_ns()}"
    made_group = False
    try:
        groups = logs.describe_log_groups(logGroupNamePrefix=args.group)["logGroups"]
        group = next((g for g in groups if g["logGroupName"] == args.group), None)
        if group is None:
            logs.create_log_group(logGroupName=args.group)
            made_group = True
            group = logs.describe_log_groups(logGroupNamePrefix=args.group)["logGroups"][0]
        logs.create_log_stream(logGroupName=args.group, logStreamName=stream)
        where = "AWS" if args.aws else "local moto_server"
        print(f"{where}, {args.lines} lines 0.7 s apart")
        polled = measure_polling(logs, args.group, stream, args.lines, args.interval)
        print(summary(f"polling GetLogEvents every {args.interval:g}s", polled, args.lines))
        try:
            arn = group.get("logGroupArn") or group["arn"].removesuffix(":*")
            tailed = measure_live_tail(tail_client, arn, args.group, stream, args.lines)
            print(summary("Live Tail (StartLiveTail)", tailed, args.lines))
        except Exception as error:  # noqa: BLE001 - a benchmark: say it and go on
            print(f"Live Tail (StartLiveTail): not measured: {type(error).__name__}: {error}")
    finally:
        try:
            logs.delete_log_stream(logGroupName=args.group, logStreamName=stream)
            if made_group:
                logs.delete_log_group(logGroupName=args.group)
        finally:
            if moto:
                moto.stop()
    return 0


if __name__ == "__main__":
    sys.exit(main())
