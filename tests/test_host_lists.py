"""--host lists as people type them: the same server spelt twice is one server, not twice the slots."""

from __future__ import annotations

import argparse
import ipaddress

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import democli

# Spellings of the same address, grouped: (what the user types, which address it is).
SPELLINGS = [
    ("127.0.0.1", "v4"), (" 127.0.0.1 ", "v4"),
    ("::1", "v6"), ("0:0:0:0:0:0:0:1", "v6"), ("[::1]", "v6"), ("[0::1]", "v6"),
    ("localhost", "name"), ("LocalHost", "name"), ("localhost.", "name"),
    ("127.0.0.2", "other"),
]  # fmt: skip
PORTS = [None, 9090, 9091]


def typed(spelling: str, port: int | None) -> str:
    if port is None:
        return spelling
    bare = spelling.strip()
    if ":" in bare and not bare.startswith("["):
        bare = f"[{bare}]"
    return f"{bare}:{port}"


@settings(
    max_examples=80, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(
    st.lists(st.tuples(st.sampled_from(SPELLINGS), st.sampled_from(PORTS)), min_size=1, max_size=6)
)
def test_each_server_is_used_once_however_it_is_spelt(capsys, servers):
    capsys.readouterr()
    text = ",".join(typed(spelling, port) for (spelling, _), port in servers)
    args = democli.parser("demo").parse_args(["--host", text, "--port", "9090", "--input", "x"])
    used = democli.endpoints(args)
    distinct = {(address, port or 9090) for (_, address), port in servers}
    assert len(used) == len(distinct)
    warned = capsys.readouterr().err.splitlines()
    assert len(warned) == len(servers) - len(distinct)
    assert all("listed more than once; it is used once" in line for line in warned)


@settings(max_examples=150, deadline=None)
@given(
    st.text(st.sampled_from("abz019.-_:/[] \t@%,é"), max_size=24)
    | st.sampled_from(["http://127.0.0.1:9090/", "127.0.0.1/x", "host name", "[::1]:80", "a..b"])
)
def test_any_host_text_is_an_address_or_one_line(text):
    """What --host takes is an IP address or a DNS name (with a port): never a URL or a path."""
    try:
        hosts = democli.host_list(text)
    except argparse.ArgumentTypeError as error:
        assert "\n" not in str(error)
        return
    for host, port in hosts:
        assert "/" not in host and not any(c.isspace() for c in host) and "@" not in host
        assert port is None or 1 <= port <= 65535
        bare = host.strip("[]")
        try:
            ipaddress.ip_address(bare)
        except ValueError:
            assert all(label for label in bare.rstrip(".").split(".")), host
