"""What tasks cost: the Price List answers (botocore's Stubber: moto has no pricing), the
day-long cache, the dated table when the Price List cannot be asked, and the sums over any
settings (hypothesis)."""

from __future__ import annotations

from plumbing import pricing

import json
import os
import re
import time
from datetime import datetime, timedelta, timezone
from decimal import Decimal

import boto3
import pytest
from botocore.stub import Stubber
from hypothesis import given, settings
from hypothesis import strategies as st

import constants

REGION = "eu-west-3"


def product(usage_type: str, usd: str, region: str = REGION) -> str:
    """One Price List entry as GetProducts answers it: a JSON document in a string."""
    sku = "SKU" + str(abs(hash(usage_type)) % 10**8)
    return json.dumps(
        {
            "product": {
                "productFamily": "Compute",
                "attributes": {"regionCode": region, "usagetype": usage_type},
                "sku": sku,
            },
            "serviceCode": "AmazonECS",
            "terms": {
                "OnDemand": {
                    f"{sku}.JRTCKXETXF": {
                        "priceDimensions": {
                            f"{sku}.JRTCKXETXF.6YS6EN2CT7": {
                                "unit": "hours",
                                "pricePerUnit": {"USD": usd},
                            }
                        }
                    }
                }
            },
        }
    )


ECS_PRODUCTS = [
    product("EUW3-Fargate-vCPU-Hours:perCPU", "0.0472300000"),
    product("EUW3-Fargate-GB-Hours", "0.0051800000"),
    product("EUW3-SpotUsage-Fargate-vCPU-Hours:perCPU", "0.0141700000"),
    product("EUW3-SpotUsage-Fargate-GB-Hours", "0.0015540000"),
    # Neither Linux on x86-64 nor task size: never taken for it.
    product("EUW3-Fargate-ARM-vCPU-Hours:perCPU", "0.0377800000"),
    product("EUW3-Fargate-Windows-vCPU-Hours:perCPU", "0.0999000000"),
    product("EUW3-Fargate-EphemeralStorage-GB-Hours", "0.0001300000"),
]
IPV4_PRODUCT = product("EUW3-PublicIPv4:InUseAddress", "0.0050000000")


def ecs_request(token: str | None = None) -> dict:
    request = {
        "ServiceCode": "AmazonECS",
        "Filters": [{"Type": "TERM_MATCH", "Field": "regionCode", "Value": REGION}],
        "FormatVersion": "aws_v1",
        "MaxResults": 100,
    }
    return {**request, "NextToken": token} if token else request


VPC_REQUEST = {
    "ServiceCode": "AmazonVPC",
    "Filters": [
        {"Type": "TERM_MATCH", "Field": "regionCode", "Value": REGION},
        {"Type": "TERM_MATCH", "Field": "usagetype", "Value": "EUW3-PublicIPv4:InUseAddress"},
    ],
    "FormatVersion": "aws_v1",
    "MaxResults": 100,
}


@pytest.fixture
def cache(tmp_path, monkeypatch):
    folder = tmp_path / "cache"
    monkeypatch.setattr(pricing, "cache_dir", lambda: folder)
    return folder


@pytest.fixture
def price_list():
    """A stubbed Price List client: every answer queued by the test, every one used."""
    client = boto3.client("pricing", region_name="us-east-1")
    with Stubber(client) as stubber:
        yield stubber
        stubber.assert_no_pending_responses()


def answer_everything(price_list: Stubber, ecs_pages: list[list[str]] | None = None) -> None:
    pages = ecs_pages or [ECS_PRODUCTS]
    for number, page in enumerate(pages):
        answer = {"FormatVersion": "aws_v1", "PriceList": page}
        if number + 1 < len(pages):
            answer["NextToken"] = f"page{number + 1}"
        price_list.add_response(
            "get_products", answer, ecs_request(f"page{number}" if number else None)
        )
    price_list.add_response(
        "get_products", {"FormatVersion": "aws_v1", "PriceList": [IPV4_PRODUCT]}, VPC_REQUEST
    )


def test_prices_come_from_the_price_list_for_the_region(cache, price_list):
    answer_everything(price_list)
    prices = pricing.prices(REGION, pricing=price_list.client)
    assert prices.vcpu_hour == Decimal("0.04723") and prices.gb_hour == Decimal("0.00518")
    assert prices.spot_vcpu_hour == Decimal("0.01417")
    assert prices.spot_gb_hour == Decimal("0.001554")
    assert prices.ipv4_hour == Decimal("0.005")
    assert prices.source.startswith(f"AWS Price List for {REGION}, asked ")


def test_every_page_is_read(cache, price_list):
    answer_everything(price_list, [ECS_PRODUCTS[4:], ECS_PRODUCTS[:2], ECS_PRODUCTS[2:4]])
    prices = pricing.prices(REGION, pricing=price_list.client)
    assert prices.vcpu_hour == Decimal("0.04723")
    assert prices.spot_gb_hour == Decimal("0.001554")


def test_the_answer_is_kept_for_a_day(cache, price_list):
    answer_everything(price_list)
    asked = pricing.prices(REGION, pricing=price_list.client)
    [saved] = cache.iterdir()
    # Within the day: no call at all (the Stubber has no answer left to give).
    assert pricing.prices(REGION, pricing=price_list.client) == asked
    # A day later: asked again.
    old = time.time() - pricing.CACHE_SECONDS - 1
    os.utime(saved, (old, old))
    answer_everything(price_list)
    assert pricing.prices(REGION, pricing=price_list.client) == asked
    price_list.assert_no_pending_responses()


def test_an_unreadable_cache_is_asked_again(cache, price_list):
    cache.mkdir()
    (cache / f"fargate-prices-{REGION}.json").write_text("{not json")
    answer_everything(price_list)
    assert pricing.prices(REGION, pricing=price_list.client).vcpu_hour == Decimal("0.04723")


@pytest.mark.parametrize(
    "code", ["AccessDeniedException", "ThrottlingException", "InternalErrorException"]
)
def test_when_the_price_list_refuses_the_table_says_so(cache, price_list, code):
    price_list.add_client_error("get_products", service_error_code=code, http_status_code=400)
    prices = pricing.prices("us-east-1", pricing=price_list.client)
    assert prices.vcpu_hour == Decimal("0.04048") and prices.gb_hour == Decimal("0.004445")
    assert prices.source == (
        f"list prices of {pricing.LIST_PRICES_DATE} for us-east-1 shipped with this project, "
        f"as the Price List API answered {code}"
    )
    assert not cache.exists(), "a refusal is not cached: the next step asks again"


def test_a_region_the_table_lacks_is_named(cache, price_list):
    price_list.add_client_error("get_products", service_error_code="AccessDeniedException")
    prices = pricing.prices("ap-southeast-7", pricing=price_list.client)
    assert "for us-east-1 (the table has no ap-southeast-7)" in prices.source


def test_an_answer_without_fargate_prices_falls_back(cache, price_list):
    price_list.add_response(
        "get_products", {"FormatVersion": "aws_v1", "PriceList": ECS_PRODUCTS[4:]}, ecs_request()
    )
    prices = pricing.prices(REGION, pricing=price_list.client)
    assert prices.source.endswith(f"as the Price List gave no Fargate prices for {REGION}")
    assert prices.spot_vcpu_hour is None


def test_an_answer_of_another_shape_falls_back(cache, price_list):
    price_list.add_response(
        "get_products", {"FormatVersion": "aws_v1", "PriceList": ["not json"]}, ecs_request()
    )
    prices = pricing.prices(REGION, pricing=price_list.client)
    assert prices.source.endswith("as the Price List answered AmazonECS in a shape not known")


def test_without_a_spot_price_spot_is_priced_at_its_most(cache, price_list):
    answer_everything(price_list, [ECS_PRODUCTS[:2]])
    prices = pricing.prices(REGION, pricing=price_list.client)
    assert pricing.spot_unknown(prices, spot=True)
    line, estimate = pricing.run_estimate(prices, 4096, 8192, 1, True, False, 240, 30)
    assert "Fargate Spot priced as On-Demand, the most Spot costs" in line
    assert estimate["perHour"] == pricing.as_json(pricing.hourly(prices, 4096, 8192, False, False))


def test_the_tutorials_defaults_cost_what_the_readme_says():
    prices = pricing.list_prices("us-east-1", "a test")
    line, estimate = pricing.run_estimate(prices, 4096, 8192, 1, False, True, 240, 30)
    assert line.startswith(
        "cost: $0.20 an hour for 1 task (4 vCPU, 8 GiB, Fargate On-Demand, a public IPv4 "
        "address); at most $0.81 under its lifetime of 240 minutes, $0.11 if nobody "
        "connects to it within 30 minutes (prices: list prices of "
    )
    assert estimate == {
        "currency": "USD",
        "perHour": 0.2025,
        "most": 0.8099,
        "mostIfUnused": 0.1012,
        "spot": False,
        "publicIpv4": True,
        "prices": prices.source,
    }


# --- the sums, over any settings

SIZES = st.sampled_from(
    [(cpu, memory) for cpu, memories in constants.FARGATE_MEMORY.items() for memory in memories]
)
PRICES = st.builds(
    pricing.Prices,
    region=st.just(REGION),
    vcpu_hour=st.decimals("0.001", "1", places=6),
    gb_hour=st.decimals("0.0001", "0.1", places=7),
    ipv4_hour=st.decimals("0", "0.01", places=4),
    spot_vcpu_hour=st.none() | st.decimals("0.0001", "0.5", places=6),
    spot_gb_hour=st.none() | st.decimals("0.00001", "0.05", places=7),
    source=st.just("a test"),
)
MINUTES = st.integers(0, 10080)


@settings(max_examples=200, deadline=None)
@given(
    prices=PRICES,
    size=SIZES,
    count=st.integers(1, 10),
    spot=st.booleans(),
    public_ip=st.booleans(),
    lifetime=MINUTES,
    idle=MINUTES,
)
def test_what_run_task_says_adds_up(prices, size, count, spot, public_ip, lifetime, idle):
    cpu, memory = size
    line, estimate = pricing.run_estimate(
        prices, cpu, memory, count, spot, public_ip, lifetime or None, idle or None
    )
    spot_known = spot and prices.spot_vcpu_hour is not None and prices.spot_gb_hour is not None
    vcpu = prices.spot_vcpu_hour if spot_known else prices.vcpu_hour
    gb = prices.spot_gb_hour if spot_known else prices.gb_hour
    per_task = Decimal(cpu) / 1024 * vcpu + Decimal(memory) / 1024 * gb
    per_hour = count * (per_task + (prices.ipv4_hour if public_ip else 0))
    assert estimate["perHour"] == pricing.as_json(per_hour)
    assert pricing.dollars(per_hour) in line
    if lifetime:
        most = per_hour * lifetime / 60
        assert estimate["most"] == pricing.as_json(most)
        assert f"at most {pricing.dollars(most, most=True)} under its lifetime" in line
    else:
        assert estimate["most"] is None and "no most: it bills until stopped" in line
    if idle and (not lifetime or idle < lifetime):
        assert estimate["mostIfUnused"] == pricing.as_json(per_hour * idle / 60)
        assert estimate["most"] is None or estimate["mostIfUnused"] <= estimate["most"]
    else:
        assert estimate["mostIfUnused"] is None
    # A public address only adds; Spot without a Spot price is priced at On-Demand's.
    assert pricing.hourly(prices, cpu, memory, spot, False) <= per_hour / count
    if spot and not spot_known:
        assert per_hour == count * pricing.hourly(prices, cpu, memory, False, public_ip)
        assert "priced as On-Demand" in line


@settings(max_examples=200, deadline=None)
@given(
    prices=PRICES,
    size=SIZES,
    spot=st.booleans(),
    lifetime=st.integers(1, 10080),
    elapsed=st.floats(0, 10080 * 60 + 3600, allow_nan=False),
)
def test_so_far_and_most_still_add_up_to_the_lifetime(prices, size, spot, lifetime, elapsed):
    now = datetime(2026, 12, 5, 12, 0, tzinfo=timezone.utc)
    task = {
        "cpu": str(size[0]),
        "memory": str(size[1]),
        "pullStartedAt": now - timedelta(seconds=elapsed),
        "capacityProviderName": "FARGATE_SPOT" if spot else "FARGATE",
    }
    line, cost = pricing.running_cost(prices, task, True, lifetime, now)
    per_hour = pricing.hourly(prices, *size, spot, True)
    so_far, still = Decimal(str(cost["soFar"])), Decimal(str(cost["mostStill"]))
    whole = per_hour * lifetime / 60
    minute = per_hour / 60
    # Billed per second with a minute's minimum: so far and still cover the lifetime, give or
    # take the minimum minute at each end (and what ran past the lifetime, still 0 then).
    if elapsed <= lifetime * 60:
        assert so_far + still >= pricing.as_json(whole) - 0.0002
        assert so_far + still <= Decimal(str(pricing.as_json(whole + 2 * minute))) + Decimal(
            "0.0002"
        )
    else:
        assert still == 0
    assert so_far >= Decimal(str(pricing.as_json(minute))) - Decimal("0.0001")
    assert f"{pricing.dollars(pricing.for_seconds(per_hour, elapsed))} so far" in line


@given(amount=st.decimals("0", "100000", places=8))
def test_dollars_read_as_the_amount(amount):
    shown = pricing.dollars(amount)
    most = pricing.dollars(amount, most=True)
    if 0 < amount < Decimal("0.01"):
        assert shown == most == "less than $0.01"
        return
    assert re.fullmatch(r"\$[0-9]+\.[0-9]{2}", shown) and re.fullmatch(r"\$[0-9]+\.[0-9]{2}", most)
    assert abs(Decimal(shown[1:]) - amount) <= Decimal("0.005")
    assert Decimal("0") <= Decimal(most[1:]) - amount < Decimal("0.01")


@given(seconds=st.floats(-10, 10**6, allow_nan=False), per_hour=st.decimals("0", "10", places=5))
def test_billed_per_second_with_a_minute_at_least(seconds, per_hour):
    cost = pricing.for_seconds(per_hour, seconds)
    assert cost >= per_hour / 60
    assert cost <= per_hour * (Decimal(str(max(60, seconds))) + 1) / 3600


def test_a_stopped_task_cost_from_its_pull_to_its_stop():
    prices = pricing.list_prices("us-east-1", "a test")
    began = datetime(2026, 12, 5, 12, 0, tzinfo=timezone.utc)
    task = {
        "cpu": "4096",
        "memory": "8192",
        "pullStartedAt": began,
        "startedAt": began + timedelta(seconds=40),
        "stoppedAt": began + timedelta(minutes=30),
    }
    cost = pricing.stopped_cost(prices, task, public_ip=True)
    assert cost == pricing.hourly(prices, 4096, 8192, False, True) / 2
    assert pricing.stopped_cost(prices, {"cpu": "4096", "memory": "8192"}, True) is None


def test_the_cache_folder_is_each_systems_own(monkeypatch, tmp_path):
    monkeypatch.setattr(pricing.sys, "platform", "linux")
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path))
    assert pricing.cache_dir() == tmp_path / "sd-apiserver-demo"
    monkeypatch.delenv("XDG_CACHE_HOME")
    monkeypatch.setattr(pricing.Path, "home", lambda: tmp_path)
    assert pricing.cache_dir() == tmp_path / ".cache" / "sd-apiserver-demo"
    monkeypatch.setattr(pricing.sys, "platform", "darwin")
    assert pricing.cache_dir() == tmp_path / "Library" / "Caches" / "sd-apiserver-demo"
    monkeypatch.setattr(pricing.sys, "platform", "win32")
    monkeypatch.setenv("LOCALAPPDATA", str(tmp_path / "Local"))
    assert pricing.cache_dir() == tmp_path / "Local" / "sd-apiserver-demo"

