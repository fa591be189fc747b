"""What a task costs in US dollars: Fargate's prices for a region, and the sums.

Prices come from the AWS Price List API (pricing:GetProducts, for the task's region), kept
for a day in a per-user cache folder. When it cannot be asked (no permission, no network, a
local stand-in for AWS), the list prices below, shipped with the project and dated, stand in,
and the line that shows a cost says so.

Fargate bills a task's vCPU and memory per second, with a one-minute minimum, from the start
of its image pull until it stops; a public IPv4 address is billed by the hour it is in use.
https://aws.amazon.com/fargate/pricing/ and https://aws.amazon.com/vpc/pricing/
"""

from __future__ import annotations

import json
import math
import os
import re
import sys
import time
from dataclasses import asdict, dataclass
from datetime import datetime, timezone
from decimal import ROUND_HALF_UP, ROUND_UP, Decimal
from pathlib import Path
from typing import Any

import boto3
from botocore.config import Config
from botocore.exceptions import BotoCoreError, ClientError

# AWS's published On-Demand list prices for Fargate, Linux on x86-64, in US dollars:
# (per vCPU-hour, per GB-hour). Used only when the Price List API cannot be asked.
LIST_PRICES_DATE = "2026-06"
LIST_PRICES = {
    "us-east-1": ("0.04048", "0.004445"),
    "us-east-2": ("0.04048", "0.004445"),
    "us-west-2": ("0.04048", "0.004445"),
    "eu-west-1": ("0.04048", "0.004445"),
}
LIST_PRICES_FALLBACK_REGION = "us-east-1"
PUBLIC_IPV4_HOUR = "0.005"  # per in-use public IPv4 address and hour, in every region

CACHE_SECONDS = 24 * 3600
# The Price List API answers only in a few regions; us-east-1 knows every region's prices.
PRICING_REGION = "us-east-1"
# A cost line must not hold a step up for long: a short wait, no retry, then the table.
PRICING_WAIT = (3, 6)  # seconds to connect, to read (or AWS_CALL_TIMEOUT if shorter)

# What a Price List `usagetype` ends with (after a region prefix such as USE1-), per price.
USAGE_TYPES = {
    "Fargate-vCPU-Hours:perCPU": "vcpu_hour",
    "Fargate-GB-Hours": "gb_hour",
    "SpotUsage-Fargate-vCPU-Hours:perCPU": "spot_vcpu_hour",
    "SpotUsage-Fargate-GB-Hours": "spot_gb_hour",
}
IPV4_USAGE_TYPE = "PublicIPv4:InUseAddress"


@dataclass(frozen=True)
class Prices:
    """Hourly prices in US dollars for one region, and where they come from."""

    region: str
    vcpu_hour: Decimal
    gb_hour: Decimal
    ipv4_hour: Decimal
    spot_vcpu_hour: Decimal | None  # None: not known; the On-Demand price is then the most
    spot_gb_hour: Decimal | None
    source: str  # for the line that shows a cost


def cache_dir() -> Path:
    """The per-user cache folder for this project, as each system keeps them."""
    home = Path.home()
    if sys.platform == "win32":
        base = Path(os.environ.get("LOCALAPPDATA") or home / "AppData" / "Local")
    elif sys.platform == "darwin":
        base = home / "Library" / "Caches"
    else:
        base = Path(os.environ.get("XDG_CACHE_HOME") or home / ".cache")
    return base / "sd-apiserver-demo"


def _cache_file(region: str) -> Path:
    return cache_dir() / f"fargate-prices-{region}.json"


def _read_cache(region: str, now: float) -> Prices | None:
    try:
        path = _cache_file(region)
        if now - path.stat().st_mtime > CACHE_SECONDS:
            return None
        saved = json.loads(path.read_text(encoding="utf-8"))
        return Prices(
            region=region,
            vcpu_hour=Decimal(saved["vcpu_hour"]),
            gb_hour=Decimal(saved["gb_hour"]),
            ipv4_hour=Decimal(saved["ipv4_hour"]),
            spot_vcpu_hour=_decimal_or_none(saved.get("spot_vcpu_hour")),
            spot_gb_hour=_decimal_or_none(saved.get("spot_gb_hour")),
            source=str(saved["source"]),
        )
    except (OSError, ValueError, KeyError, TypeError, ArithmeticError):
        return None  # no cache, or one this version cannot read: ask again


def _write_cache(prices: Prices) -> None:
    path = _cache_file(prices.region)
    temporary = path.with_name(f"{path.name}.{os.getpid()}.tmp")
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        saved = {k: (str(v) if v is not None else None) for k, v in asdict(prices).items()}
        temporary.write_text(json.dumps(saved), encoding="utf-8")
        os.replace(temporary, path)
    except OSError:
        temporary.unlink(missing_ok=True)  # a cache is a help, never a reason to fail


def _decimal_or_none(value: Any) -> Decimal | None:
    return None if value is None else Decimal(value)


def pricing_client(profile: str | None = None, budget: float = 25) -> Any:
    """A Price List client, for `profile`'s credentials (the Price List has no regional copy)."""
    session = boto3.session.Session(profile_name=profile)
    config = Config(
        connect_timeout=min(PRICING_WAIT[0], budget),
        read_timeout=min(PRICING_WAIT[1], budget),
        retries={"total_max_attempts": 1},
    )
    return session.client("pricing", region_name=PRICING_REGION, config=config)


def _usd_per_unit(product: dict[str, Any]) -> Decimal | None:
    """The On-Demand price of one Price List product, when it has exactly one in USD."""
    found = [
        Decimal(dimension["pricePerUnit"]["USD"])
        for term in product.get("terms", {}).get("OnDemand", {}).values()
        for dimension in term.get("priceDimensions", {}).values()
        if "USD" in dimension.get("pricePerUnit", {})
    ]
    return found[0] if len(found) == 1 else None


def _products(pricing: Any, service: str, filters: dict[str, str]) -> list[dict[str, Any]]:
    """Every product of `service` matching `filters`, each as the dict AWS encodes as JSON."""
    products, token = [], None
    while True:
        # https://docs.aws.amazon.com/aws-cost-management/latest/APIReference/API_pricing_GetProducts.html
        request: dict[str, Any] = {
            "ServiceCode": service,
            "Filters": [
                {"Type": "TERM_MATCH", "Field": field, "Value": value}
                for field, value in filters.items()
            ],
            "FormatVersion": "aws_v1",
            "MaxResults": 100,
        }
        if token:
            request["NextToken"] = token
        answer = pricing.get_products(**request)
        try:
            products += [json.loads(item) for item in answer.get("PriceList", [])]
        except ValueError:
            raise ValueError(f"the Price List answered {service} in a shape not known") from None
        token = answer.get("NextToken")
        if not token or len(products) > 2000:
            return products


def ask_price_list(pricing: Any, region: str, now: float) -> Prices:
    """Fargate's prices in `region` from the Price List API; ValueError if it lacks them."""
    found: dict[str, Decimal] = {}
    prefix = ""
    for product in _products(pricing, "AmazonECS", {"regionCode": region}):
        usage_type = product.get("product", {}).get("attributes", {}).get("usagetype", "")
        # The longest ending wins: "USE1-SpotUsage-Fargate-GB-Hours" also ends "-Fargate-GB-Hours".
        endings = [e for e in USAGE_TYPES if usage_type == e or usage_type.endswith("-" + e)]
        if not endings:
            continue
        ending = max(endings, key=len)
        price = _usd_per_unit(product)
        if price is not None and price > 0:
            found[USAGE_TYPES[ending]] = price
            if ending == "Fargate-vCPU-Hours:perCPU":
                prefix = usage_type[: -len(ending)]
    if "vcpu_hour" not in found or "gb_hour" not in found:
        raise ValueError(f"the Price List gave no Fargate prices for {region}")
    ipv4 = Decimal(PUBLIC_IPV4_HOUR)
    addresses = _products(
        pricing, "AmazonVPC", {"regionCode": region, "usagetype": prefix + IPV4_USAGE_TYPE}
    )
    ipv4_prices = [p for p in map(_usd_per_unit, addresses) if p]
    if ipv4_prices:
        ipv4 = max(ipv4_prices)
    asked = datetime.fromtimestamp(now, timezone.utc)
    return Prices(
        region=region,
        vcpu_hour=found["vcpu_hour"],
        gb_hour=found["gb_hour"],
        ipv4_hour=ipv4,
        spot_vcpu_hour=found.get("spot_vcpu_hour"),
        spot_gb_hour=found.get("spot_gb_hour"),
        source=f"AWS Price List for {region}, asked {asked:%Y-%m-%d %H:%M} UTC",
    )


def list_prices(region: str, why: str) -> Prices:
    """The dated table shipped with the project; `why` says why the Price List was not used."""
    known = region in LIST_PRICES
    vcpu, gb = LIST_PRICES[region if known else LIST_PRICES_FALLBACK_REGION]
    where = region if known else f"{LIST_PRICES_FALLBACK_REGION} (the table has no {region})"
    return Prices(
        region=region,
        vcpu_hour=Decimal(vcpu),
        gb_hour=Decimal(gb),
        ipv4_hour=Decimal(PUBLIC_IPV4_HOUR),
        spot_vcpu_hour=None,
        spot_gb_hour=None,
        source=f"list prices of {LIST_PRICES_DATE} for {where} shipped with this project, "
        f"as {why}",
    )


def prices(
    region: str, profile: str | None = None, pricing: Any = None, budget: float = 25
) -> Prices:
    """Fargate's prices in `region`: the cache of the last day, the Price List API, or the table.

    `budget` is AWS_CALL_TIMEOUT: no wait for the Price List is longer.
    """
    now = time.time()
    cached = _read_cache(region, now)
    if cached:
        return cached
    try:
        answer = ask_price_list(pricing or pricing_client(profile, budget), region, now)
    except ClientError as error:
        code = str(error.response.get("Error", {}).get("Code") or "an error")
        code = f"HTTP {code}" if code.isdigit() else code  # an answer that is not AWS's
        return list_prices(region, f"the Price List API answered {code}")
    except ValueError as error:
        return list_prices(region, str(error))
    except (BotoCoreError, KeyError, TypeError, ArithmeticError) as error:
        # No network, no credentials, an answer of another shape: the table still tells.
        return list_prices(region, f"the Price List API could not be asked ({type(error).__name__})")
    _write_cache(answer)
    return answer


# --- the sums


def hourly(
    prices: Prices, cpu_units: int, memory_mib: int, spot: bool, public_ip: bool
) -> Decimal:
    """What one task costs an hour: vCPU, memory (Spot's or On-Demand's), its public IPv4."""
    vcpu_price, gb_price = prices.vcpu_hour, prices.gb_hour
    if spot and prices.spot_vcpu_hour is not None and prices.spot_gb_hour is not None:
        vcpu_price, gb_price = prices.spot_vcpu_hour, prices.spot_gb_hour
    compute = Decimal(cpu_units) / 1024 * vcpu_price + Decimal(memory_mib) / 1024 * gb_price
    return compute + (prices.ipv4_hour if public_ip else 0)


def spot_unknown(prices: Prices, spot: bool) -> bool:
    """True when a Spot task is priced On-Demand, as the most it can cost."""
    return spot and (prices.spot_vcpu_hour is None or prices.spot_gb_hour is None)


def for_seconds(per_hour: Decimal, seconds: float) -> Decimal:
    """What `seconds` of running cost at `per_hour`: per second, at least one minute."""
    billed = max(60, math.ceil(max(seconds, 0)))  # whole seconds, rounded up
    return per_hour * billed / 3600


def for_minutes(per_hour: Decimal, minutes: int) -> Decimal:
    return per_hour * minutes / 60


def dollars(amount: Decimal, most: bool = False) -> str:
    """`amount` as a person reads it: `$0.20`; a most is rounded up, so it is never understated."""
    if 0 < amount < Decimal("0.01"):
        return "less than $0.01"
    cents = amount.quantize(Decimal("0.01"), rounding=ROUND_UP if most else ROUND_HALF_UP)
    return f"${cents}"


def as_json(amount: Decimal) -> float:
    """A sum for the JSON output: US dollars to a hundredth of a cent."""
    return float(amount.quantize(Decimal("0.0001"), rounding=ROUND_HALF_UP))


def task_seconds(task: dict[str, Any], now: datetime | None = None) -> float | None:
    """Seconds a task has billed: from its image pull (or start) until it stopped, or now."""
    began = task.get("pullStartedAt") or task.get("startedAt") or task.get("createdAt")
    if not isinstance(began, datetime):
        return None
    ended = task.get("stoppedAt") or task.get("executionStoppedAt")
    if not isinstance(ended, datetime):
        ended = now or datetime.now(timezone.utc)
    return max(0.0, (ended - began).total_seconds())


def task_size(task: dict[str, Any]) -> tuple[int, int] | None:
    """(cpu units, MiB) of a described task or task definition, if it says."""
    cpu, memory = str(task.get("cpu", "")), str(task.get("memory", ""))
    if re.fullmatch(r"[0-9]{1,6}", cpu) and re.fullmatch(r"[0-9]{1,7}", memory):
        return int(cpu), int(memory)
    return None


def is_spot(task: dict[str, Any]) -> bool:
    return task.get("capacityProviderName") == "FARGATE_SPOT"


def size_text(cpu_units: int, memory_mib: int) -> str:
    return f"{Decimal(cpu_units) / 1024:g} vCPU, {Decimal(memory_mib) / 1024:g} GiB"


def kind_text(prices: Prices, spot: bool, public_ip: bool) -> str:
    kind = "Fargate Spot" if spot else "Fargate On-Demand"
    if spot_unknown(prices, spot):
        kind += " priced as On-Demand, the most Spot costs"
    return kind + (", a public IPv4 address" if public_ip else "")


def run_estimate(
    prices: Prices,
    cpu_units: int,
    memory_mib: int,
    count: int,
    spot: bool,
    public_ip: bool,
    lifetime: int | None,
    idle: int | None,
) -> tuple[str, dict[str, Any]]:
    """The line and JSON saying what starting `count` tasks costs an hour, and at most."""
    per_hour = hourly(prices, cpu_units, memory_mib, spot, public_ip) * count
    tasks = f"{count} task{'s' if count > 1 else ''}"
    line = (
        f"cost: {dollars(per_hour)} an hour for {tasks} "
        f"({size_text(cpu_units, memory_mib)}, {kind_text(prices, spot, public_ip)})"
    )
    most = for_minutes(per_hour, lifetime) if lifetime else None
    if_unused = for_minutes(per_hour, idle) if idle and (not lifetime or idle < lifetime) else None
    if most is not None:
        line += f"; at most {dollars(most, most=True)} under its lifetime of {lifetime} minutes"
    else:
        line += "; no most: it bills until stopped"
    if if_unused is not None:
        line += (
            f", {dollars(if_unused, most=True)} if nobody connects to it within "
            f"{idle} minute{'s' if idle > 1 else ''}"
        )
    line += f" (prices: {prices.source})"
    return line, {
        "currency": "USD",
        "perHour": as_json(per_hour),
        "most": as_json(most) if most is not None else None,
        "mostIfUnused": as_json(if_unused) if if_unused is not None else None,
        "spot": spot,
        "publicIpv4": public_ip,
        "prices": prices.source,
    }


def running_cost(
    prices: Prices,
    task: dict[str, Any],
    public_ip: bool,
    lifetime: int | None,
    now: datetime | None = None,
    definition: dict[str, Any] | None = None,
) -> tuple[str, dict[str, Any]] | None:
    """What a running task has cost so far and the most it can still cost; None if unknown.

    Its size is the task's, else its task definition's.
    """
    size = task_size(task) or task_size(definition or {})
    if size is None:
        return None
    spot = is_spot(task)
    per_hour = hourly(prices, *size, spot, public_ip)
    seconds = task_seconds(task, now)
    so_far = for_seconds(per_hour, seconds) if seconds is not None else None
    if lifetime:
        left = max(0.0, lifetime * 60 - (seconds or 0))
        still = for_seconds(per_hour, left) if left else Decimal(0)
    else:
        still = None
    parts = [f"{dollars(per_hour)} an hour ({kind_text(prices, spot, public_ip)})"]
    parts.append(
        f"{dollars(so_far)} so far" if so_far is not None else "ECS gave no start time to sum from"
    )
    parts.append(
        f"at most {dollars(still, most=True)} more until its lifetime ends"
        if still is not None
        else "no most: it bills until stopped"
    )
    return f"costs {', '.join(parts)} (prices: {prices.source})", {
        "currency": "USD",
        "perHour": as_json(per_hour),
        "soFar": as_json(so_far) if so_far is not None else None,
        "mostStill": as_json(still) if still is not None else None,
        "spot": spot,
        "prices": prices.source,
    }


def stopped_cost(
    prices: Prices, task: dict[str, Any], public_ip: bool, now: datetime | None = None
) -> Decimal | None:
    """What a stopped (or stopping) task cost, from its pull to its stop; None if unknown."""
    size, seconds = task_size(task), task_seconds(task, now)
    if size is None or seconds is None:
        return None
    return for_seconds(hourly(prices, *size, is_spot(task), public_ip), seconds)
