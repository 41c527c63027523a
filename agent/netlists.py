"""Lists of IP networks written by operators (e.g. WEBHOOK_ALLOW_NETWORKS=10.1.0.0/16,fd00::/8)."""
from __future__ import annotations

import ipaddress
from collections.abc import Iterable

IPNetwork = ipaddress.IPv4Network | ipaddress.IPv6Network


def parse_networks(text: str | Iterable[str] | None) -> tuple[IPNetwork, ...]:
    """`10.1.0.0/16,192.168.5.0/24` -> networks; a ValueError names an entry that is not one."""
    if not text:
        return ()
    items = text.split(",") if isinstance(text, str) else list(text)
    out: list[IPNetwork] = []
    for item in items:
        item = item.strip()
        if not item:
            continue
        try:
            out.append(ipaddress.ip_network(item, strict=False))
        except ValueError:
            raise ValueError(f"{item!r} is not a network; write it like 10.1.0.0/16 or fd00::/8") from None
    return tuple(out)
