"""Who may come in: the address ranges that open the server to the internet at large."""

from __future__ import annotations

import ipaddress
from collections.abc import Iterable

WIDE_OPEN_PREFIX = {4: 8, 6: 16}  # a range this wide or wider lets a good part of the internet in


def open_to_the_internet(ranges: Iterable[str]) -> list[str]:
    """The address ranges among `ranges` that let the internet at large in: 0.0.0.0/0, but
    also 0.0.0.0/1 and 128.0.0.0/1, or any public range of a /8 (IPv6 /16) or wider."""
    wide = []
    for text in ranges:
        try:
            network = ipaddress.ip_network(text, strict=False)
        except ValueError:
            continue
        if network.prefixlen <= WIDE_OPEN_PREFIX[network.version] and not network.is_private:
            wide.append(str(text))
    return sorted(wide)
