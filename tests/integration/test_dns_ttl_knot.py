"""The run-wide cache keeps an answer as long as its TTL says: the TTLs as Knot serves them."""

from __future__ import annotations

import asyncio

from audit.net.dns import DnsStatus, NetworkBackend, ServerAddress


def test_ttls_of_answers_and_of_negative_answers(knot_server):
    backend = NetworkBackend([ServerAddress.parse(str(knot_server))], timeout=5)

    async def ask():
        return await asyncio.gather(
            backend.lookup("clean.test", "TXT"),
            backend.lookup("absent.clean.test", "TXT"),
            backend.lookup("clean.test", "CAA"),
        )

    present, absent, nodata = asyncio.run(ask())
    assert present.status is DnsStatus.NOERROR and present.ttl == 300  # $TTL 300
    assert absent.status is DnsStatus.NXDOMAIN and absent.ttl == 300  # min(SOA TTL, MINIMUM)
    assert nodata.status is DnsStatus.NODATA and nodata.ttl == 300
