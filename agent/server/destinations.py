"""Where a webhook may be sent: public addresses only, unless the operator allows a network.

A destination is checked when the subscription is made and again on every delivery: the host name is
resolved, every address it resolves to must be public (or inside WEBHOOK_ALLOW_NETWORKS), and the
connection goes to the address that was checked (the name still goes in Host and, for https, in SNI
and the certificate check), so a second DNS answer cannot swap in an internal address.

Refused: loopback, link-local (cloud metadata at 169.254.169.254), private and shared ranges,
multicast, reserved and unspecified addresses, IPv4 inside IPv6 (::ffff:127.0.0.1, 64:ff9b::, 6to4),
IPv4 spelt in any form but four decimal numbers (2130706433, 0x7f000001, 127.1, 0177.0.0.1), URLs
with spaces, control characters, backslashes or user:password@, and schemes other than http(s).
"""
from __future__ import annotations

import ipaddress
import re
import socket
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from urllib.parse import urlsplit, urlunsplit

from agent.netlists import IPNetwork, parse_networks  # noqa: F401  (parse_networks is re-exported)

IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address
Resolver = Callable[[str, int], list[str]]

_LABEL = re.compile(r"^(?!-)[a-z0-9-]{1,63}(?<!-)$")
_NUMERIC_LABEL = re.compile(r"^(0x[0-9a-f]*|[0-9]+)$")
_NAT64 = ipaddress.ip_network("64:ff9b::/96")


class DestinationRefused(ValueError):
    """The URL may not be a webhook destination; the message says why (never what is there)."""


@dataclass(frozen=True)
class Destination:
    scheme: str
    host: str  # lower-case ASCII (IDNA) name, or the address itself
    port: int
    path: str  # path and query, as given
    address: IPAddress | None  # set when the URL names an address, not a host name

    @property
    def host_header(self) -> str:
        host = f"[{self.host}]" if isinstance(self.address, ipaddress.IPv6Address) else self.host
        default = 443 if self.scheme == "https" else 80
        return host if self.port == default else f"{host}:{self.port}"

    def url_for(self, address: IPAddress) -> str:
        """The same URL aimed at one checked address."""
        host = f"[{address}]" if isinstance(address, ipaddress.IPv6Address) else str(address)
        path, _, query = self.path.partition("?")
        return urlunsplit((self.scheme, f"{host}:{self.port}", path or "/", query, ""))




def parse_destination(url: str) -> Destination:
    if not isinstance(url, str) or not url:
        raise DestinationRefused("the URL is empty")
    if any(ch.isspace() or ord(ch) < 32 or ord(ch) == 127 or ch == "\\" for ch in url):
        raise DestinationRefused("the URL contains spaces, control characters or backslashes")
    try:
        parts = urlsplit(url)
        port = parts.port
    except ValueError:
        raise DestinationRefused("the URL cannot be parsed (check the host and port)") from None
    scheme = parts.scheme.lower()
    if scheme not in ("http", "https"):
        raise DestinationRefused("only http:// and https:// URLs can receive webhooks")
    if "@" in parts.netloc:
        raise DestinationRefused("the URL may not carry a user name or password")
    raw_host = parts.hostname or ""
    if not raw_host:
        raise DestinationRefused("the URL has no host")
    port = port or (443 if scheme == "https" else 80)
    if port < 1:
        raise DestinationRefused("the port must be between 1 and 65535")
    path = parts.path + (f"?{parts.query}" if parts.query else "")
    try:
        address = ipaddress.ip_address(raw_host)
    except ValueError:
        address = None
    if address is not None:
        if isinstance(address, ipaddress.IPv6Address) and address.scope_id:
            raise DestinationRefused("IPv6 zone identifiers are not accepted")
        return Destination(scheme, str(address), port, path, address)
    host = _ascii_host(raw_host)
    return Destination(scheme, host, port, path, None)


def _ascii_host(raw: str) -> str:
    try:
        host = raw.rstrip(".").encode("idna").decode("ascii").lower()
    except UnicodeError:
        raise DestinationRefused("the host name is not a valid name") from None
    labels = host.split(".")
    if _NUMERIC_LABEL.match(labels[-1]):  # browsers and resolvers read this as an IPv4 address
        raise DestinationRefused("write an IPv4 address as four decimal numbers (a.b.c.d)")
    if len(host) > 253 or not all(_LABEL.match(label) for label in labels):
        raise DestinationRefused("the host name is not a valid name")
    return host


def _embedded_ipv4(address: IPAddress) -> ipaddress.IPv4Address | None:
    if not isinstance(address, ipaddress.IPv6Address):
        return None
    if address.ipv4_mapped is not None:
        return address.ipv4_mapped
    if address in _NAT64:
        return ipaddress.IPv4Address(int(address) & 0xFFFFFFFF)
    if address.sixtofour is not None:
        return address.sixtofour
    return None


def refusal(address: IPAddress, allowed: Iterable[IPNetwork] = ()) -> str | None:
    """Why a webhook may not go to this address, or None when it may."""
    allowed = tuple(allowed)
    inner = _embedded_ipv4(address)
    checked = [address] + ([inner] if inner is not None else [])
    if all(any(a.version == n.version and a in n for n in allowed) for a in checked):
        return None
    for a in checked:
        if a.is_loopback:
            return "a loopback address"
        if a.is_link_local:
            return "a link-local address (such as cloud metadata)"
        if a.is_multicast:
            return "a multicast address"
        if a.is_unspecified:
            return "an unspecified address"
        if a.is_private or not a.is_global:
            return "a private or reserved address"
    return None


def system_resolver(host: str, port: int) -> list[str]:
    infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)
    return [info[4][0] for info in infos]


def checked_addresses(dest: Destination, allowed: Iterable[IPNetwork] = (),
                      resolver: Resolver = system_resolver) -> list[IPAddress]:
    """The addresses to connect to: every one the name resolves to must pass (no mixed answers)."""
    allowed = tuple(allowed)
    if dest.address is not None:
        addresses: list[IPAddress] = [dest.address]
    else:
        try:
            raw = resolver(dest.host, dest.port)
        except (OSError, UnicodeError):
            raise DestinationRefused("the host name does not resolve") from None
        addresses = []
        for text in raw:
            try:
                a = ipaddress.ip_address(text.split("%", 1)[0])
            except ValueError:
                continue
            if a not in addresses:
                addresses.append(a)
        if not addresses:
            raise DestinationRefused("the host name does not resolve")
    for a in addresses:
        why = refusal(a, allowed)
        if why:
            raise DestinationRefused(f"the destination is {why}; webhooks go to public addresses "
                                     "(an operator may allow a network with WEBHOOK_ALLOW_NETWORKS)")
    return addresses


def check_destination(url: str, allowed: Iterable[IPNetwork] = (),
                      resolver: Resolver = system_resolver) -> Destination:
    """Parse and check a URL; DestinationRefused says why it may not receive webhooks."""
    dest = parse_destination(url)
    checked_addresses(dest, allowed, resolver)
    return dest


def configured_networks() -> tuple[IPNetwork, ...]:
    from agent.config import get_settings

    return parse_networks(get_settings().webhook_allow_networks)
