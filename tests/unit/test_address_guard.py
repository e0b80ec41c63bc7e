"""The address guard's table: which addresses a probe may connect to when DNS names them."""

from __future__ import annotations

import asyncio

import pytest

from audit.net.address_guard import (
    AddressNotPublic,
    check_address,
    is_public,
    not_public_reason,
    open_connection,
)


@pytest.mark.parametrize(
    ("address", "reason"),
    [
        ("127.0.0.1", "loopback"),
        ("127.255.0.9", "loopback"),
        ("::1", "loopback"),
        ("10.0.0.5", "private (RFC 1918)"),
        ("172.16.0.1", "private (RFC 1918)"),
        ("172.31.255.255", "private (RFC 1918)"),
        ("192.168.1.1", "private (RFC 1918)"),
        ("fd00::1", "unique local (private, RFC 4193)"),
        ("169.254.169.254", "link-local (RFC 3927; cloud metadata services live here)"),
        ("fe80::1", "link-local"),
        ("fe80::1%eth0", "link-local"),
        ("100.64.0.1", "carrier-grade NAT (shared address space, RFC 6598)"),
        ("224.0.0.251", "multicast"),
        ("ff02::1", "multicast"),
        ("0.0.0.0", "unspecified ('this network', RFC 1122)"),
        ("::", "unspecified"),
        ("240.0.0.1", "reserved (and broadcast)"),
        ("255.255.255.255", "reserved (and broadcast)"),
        ("192.0.2.1", "documentation (TEST-NET-1, RFC 5737)"),
        ("198.51.100.7", "documentation (TEST-NET-2, RFC 5737)"),
        ("203.0.113.9", "documentation (TEST-NET-3, RFC 5737)"),
        ("2001:db8::11", "documentation (RFC 3849)"),
        ("198.18.0.1", "benchmarking (RFC 2544)"),
        ("2001::1", "Teredo (RFC 4380)"),
        ("::a00:5", "IPv4-compatible (deprecated, RFC 4291)"),
        # IPv4 inside IPv6: judged by the IPv4 address reached
        ("::ffff:127.0.0.1", "loopback, as 127.0.0.1 inside ::ffff:7f00:1"),
        (
            "::ffff:169.254.169.254",
            "link-local (RFC 3927; cloud metadata services live here), "
            "as 169.254.169.254 inside ::ffff:a9fe:a9fe",
        ),  # fmt: skip
        ("2002:a00:5::1", "private (RFC 1918), as 10.0.0.5 inside 2002:a00:5::1"),
        (
            "64:ff9b::a9fe:a9fe",
            "link-local (RFC 3927; cloud metadata services live here), "
            "as 169.254.169.254 inside 64:ff9b::a9fe:a9fe",
        ),  # fmt: skip
        ("64:ff9b:1::1", "local-use NAT64 (RFC 8215)"),
        ("mx.example.com", "not an IP address"),
    ],
)
def test_non_public_addresses_say_what_they_are(address, reason):
    assert not_public_reason(address) == reason
    assert not is_public(address)
    with pytest.raises(AddressNotPublic) as refused:
        check_address(address)
    assert str(refused.value) == (
        f"refused to connect to {address}: not a public address ({reason})"
    )
    check_address(address, allow_private=True)  # --allow-private-addresses: no refusal


@pytest.mark.parametrize(
    "address",
    [
        "8.8.8.8",
        "1.1.1.1",
        "192.0.1.1",  # next to TEST-NET-1
        "172.32.0.1",  # just past 172.16/12
        "100.128.0.1",  # just past 100.64/10
        "169.253.255.255",
        "2606:4700:4700::1111",
        "::ffff:8.8.8.8",
        "2002:808:808::1",
        "64:ff9b::808:808",
    ],
)
def test_public_addresses_pass(address):
    assert not_public_reason(address) is None and is_public(address)
    check_address(address)


def test_open_connection_refuses_before_any_socket_and_takes_only_addresses():
    async def attempt(address: str, **options):
        return await open_connection(address, 9, **options)

    with pytest.raises(AddressNotPublic):
        asyncio.run(attempt("169.254.169.254"))
    # a name would be resolved again by the OS, behind the guard's back
    with pytest.raises(ValueError, match="takes an IP address"):
        asyncio.run(attempt("metadata.google.internal", allow_private=True))
