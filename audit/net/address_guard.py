"""The address guard: no connection to a non-public address named by DNS data.

DNS data is attacker controlled. An MX host, the MTA-STS policy host or a BIMI logo URL that
resolves to 127.0.0.1, 10.0.0.5 or 169.254.169.254 would make the tool, run from a CI runner
inside a cloud account, talk to the runner itself, internal hosts or the metadata service. So
every connection made because DNS named a host goes through `open_connection` here (HTTPS:
`check_address` in audit/net/http_client.PinnedBackend, right before connecting), which
checks the very address it connects to (the caller resolved the name once, through our
resolver, and passes the address: there is no second lookup a rebinding server could answer
differently). `allow_private=True` (`--allow-private-addresses`) turns the guard off for labs
and tests. Endpoints the user gives (seed IMAP/SMTP relays, `--dns-server`) do not come here.

"Public" is what IANA's special-purpose registries leave globally reachable: everything in
`_SPECIAL` below is refused with its name, and so is anything else Python's `ipaddress` does not
call global (its tables differ between versions; the explicit list does not). Addresses that
embed an IPv4 address (IPv4-mapped, 6to4, NAT64) are judged by the IPv4 address inside.
"""

from __future__ import annotations

import asyncio
import ipaddress
from typing import Any

IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address

_SPECIAL: tuple[tuple[str, str], ...] = (
    # IPv4 (RFC 6890 and the IANA IPv4 special-purpose address registry)
    ("0.0.0.0/8", "unspecified ('this network', RFC 1122)"),
    ("10.0.0.0/8", "private (RFC 1918)"),
    ("100.64.0.0/10", "carrier-grade NAT (shared address space, RFC 6598)"),
    ("127.0.0.0/8", "loopback"),
    ("169.254.0.0/16", "link-local (RFC 3927; cloud metadata services live here)"),
    ("172.16.0.0/12", "private (RFC 1918)"),
    ("192.0.0.0/29", "IETF protocol assignment (RFC 7335)"),
    ("192.0.0.170/31", "IETF protocol assignment (NAT64 discovery, RFC 7050)"),
    ("192.0.2.0/24", "documentation (TEST-NET-1, RFC 5737)"),
    ("192.88.99.0/24", "deprecated 6to4 relay anycast (RFC 7526)"),
    ("192.168.0.0/16", "private (RFC 1918)"),
    ("198.18.0.0/15", "benchmarking (RFC 2544)"),
    ("198.51.100.0/24", "documentation (TEST-NET-2, RFC 5737)"),
    ("203.0.113.0/24", "documentation (TEST-NET-3, RFC 5737)"),
    ("224.0.0.0/4", "multicast"),
    ("240.0.0.0/4", "reserved (and broadcast)"),
    # IPv6 (the IANA IPv6 special-purpose address registry)
    ("::/128", "unspecified"),
    ("::1/128", "loopback"),
    ("::/96", "IPv4-compatible (deprecated, RFC 4291)"),
    ("64:ff9b:1::/48", "local-use NAT64 (RFC 8215)"),
    ("100::/64", "discard-only (RFC 6666)"),
    ("2001::/32", "Teredo (RFC 4380)"),
    ("2001:db8::/32", "documentation (RFC 3849)"),
    ("3fff::/20", "documentation (RFC 9637)"),
    ("5f00::/16", "segment routing SIDs (RFC 9602)"),
    ("fc00::/7", "unique local (private, RFC 4193)"),
    ("fe80::/10", "link-local"),
    ("fec0::/10", "site-local (deprecated, RFC 3879)"),
    ("ff00::/8", "multicast"),
)
_NETWORKS = tuple((ipaddress.ip_network(net), label) for net, label in _SPECIAL)
_NAT64 = ipaddress.ip_network("64:ff9b::/96")  # RFC 6052: the IPv4 address in the last 32 bits


def _embedded_ipv4(ip: ipaddress.IPv6Address) -> ipaddress.IPv4Address | None:
    """The IPv4 address an IPv4-mapped, 6to4 or well-known NAT64 address reaches."""
    if ip.ipv4_mapped is not None:
        return ip.ipv4_mapped
    if ip.sixtofour is not None:
        return ip.sixtofour
    if ip in _NAT64:
        return ipaddress.IPv4Address(int(ip) & 0xFFFFFFFF)
    return None


def not_public_reason(address: str | IPAddress) -> str | None:
    """Why `address` is not a public address ("loopback", "private (RFC 1918)" ...), or None
    when it is one. Text that is not an IP address is not public either."""
    try:
        ip = ipaddress.ip_address(str(address).strip("[]").split("%", 1)[0])
    except ValueError:
        return "not an IP address"
    if isinstance(ip, ipaddress.IPv6Address):
        inner = _embedded_ipv4(ip)
        if inner is not None:
            reason = not_public_reason(inner)
            return f"{reason}, as {inner} inside {ip}" if reason else None
    for network, label in _NETWORKS:
        if ip.version == network.version and ip in network:
            return label
    if not ip.is_global or ip.is_reserved or ip.is_multicast:
        return "not globally routable (IANA special-purpose)"
    return None


def is_public(address: str | IPAddress) -> bool:
    """Whether a connection to `address` reaches the public Internet (see `not_public_reason`)."""
    return not_public_reason(address) is None


class AddressNotPublic(ConnectionError):
    """A connection the guard refused: `address`, and `reason` it is not public."""

    def __init__(self, address: str, reason: str):
        self.address, self.reason = address, reason
        super().__init__(f"refused to connect to {address}: not a public address ({reason})")


def check_address(address: str, allow_private: bool = False) -> None:
    """Raises AddressNotPublic unless `address` is public (or private addresses are allowed)."""
    if allow_private:
        return
    reason = not_public_reason(address)
    if reason is not None:
        raise AddressNotPublic(address, reason)


async def open_connection(
    address: str, port: int, *, allow_private: bool = False, **options: Any
) -> tuple[asyncio.StreamReader, asyncio.StreamWriter]:
    """`asyncio.open_connection` to an IP address named by DNS data, after the guard.

    `address` must be an IP address (resolved once by the caller): a name would be looked up
    again by the OS resolver, which could answer differently than the address checked.
    """
    try:
        ipaddress.ip_address(address)
    except ValueError:
        raise ValueError(f"open_connection takes an IP address, not {address!r}") from None
    check_address(address, allow_private)
    return await asyncio.open_connection(address, port, **options)
