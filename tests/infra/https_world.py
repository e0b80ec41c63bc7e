"""The world the MTA-STS and BIMI fetch tests audit: a test CA, the HTTPS test server, and Knot
serving zones that point at it.

    with https_world(base, "audit test CA (BIMI)", populate) as world:
        ...  # world.knot, world.https, world.ca, world.ca_file, world.zones
        result = asyncio.run(bimi.check(world.context("x.test")))

`populate(world)` writes zone files into `world.zones` and routes into `world.https` before Knot
starts. Knot failing to start fails the test (pytest.fail), like the other server fixtures.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from audit.checks.common import DomainContext
from audit.net.dns import NetworkBackend, Resolver, ServerAddress
from tests.infra.certs import TestCA
from tests.infra.https_server import HttpsServer
from tests.infra.servers import KnotServer, ServerError


@dataclass
class HttpsWorld:
    ca: TestCA
    ca_file: Path
    https: HttpsServer
    zones: Path
    knot: KnotServer | None = None

    def context(self, domain: str, **options: Any) -> DomainContext:
        """A probing DomainContext through this world's Knot, HTTPS port and CA."""
        assert self.knot is not None
        backend = NetworkBackend([ServerAddress(self.knot.host, self.knot.port)], timeout=3)
        settings = {
            "probes": True,
            "https_port": self.https.port,
            "ca_file": str(self.ca_file),
            "timeout": 3.0,
            "allow_private_addresses": True,  # every server here is on loopback
            **options,
        }
        return DomainContext(domain, Resolver(backend), **settings)


@contextmanager
def https_world(
    base: Path, ca_name: str, populate: Callable[[HttpsWorld], None]
) -> Iterator[HttpsWorld]:
    ca = TestCA(ca_name)
    zones = base / "zones"
    zones.mkdir()
    https = HttpsServer.start(ca, base / "certs")
    try:
        world = HttpsWorld(ca, ca.write_ca(base / "ca.pem"), https, zones)
        populate(world)
        try:
            world.knot = KnotServer.start(base / "knot", zones)
        except ServerError as exc:
            pytest.fail(str(exc), pytrace=False)
        try:
            yield world
        finally:
            world.knot.stop()
    finally:
        https.stop()
