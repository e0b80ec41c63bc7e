"""DANE without a DNSSEC verdict: TLSA records that do not match the served certificate are
facts, never DANE301, when no trust anchor covers the zone (RFC 7672 uses only secure TLSA)."""

from __future__ import annotations

import asyncio

from audit.domain_audit import audit_domain
from audit.net.dns import build_backend
from tests.infra.certs import TestCA
from tests.infra.starttls_server import StartTlsServer

ZONE = """\
$TTL 300
@        SOA  ns.dane.test. h.dane.test. 1 3600 600 86400 300
@        NS   ns
ns       A    127.0.0.1
@        MX   10 mx1
mx1      A    127.0.0.1
_25._tcp.mx1 TLSA 3 1 1 0000000000000000000000000000000000000000000000000000000000000000
"""


def test_mismatching_tlsa_in_an_unchecked_zone_is_not_dane301(tmp_path) -> None:
    (tmp_path / "zones").mkdir()
    (tmp_path / "zones" / "dane.test.zone").write_text(ZONE)
    ca = TestCA()
    cert, key = ca.issue("mx1.dane.test").write(tmp_path, "mx1")
    server = StartTlsServer.start(cert, key, name="mx1.dane.test")
    try:
        report = asyncio.run(
            audit_domain(
                "dane.test",
                build_backend((), tmp_path / "zones", 2),
                probes=True,
                smtp_port=server.port,
                https_port=1,
                timeout=2,
                ca_file=str(ca.write_ca(tmp_path / "ca.pem")),
                allow_private_addresses=True,  # a loopback server
            )
        )
    finally:
        server.stop()
    dane = next(o for o in report.outcomes if o.check == "dane")
    assert dane.findings == []
    [host] = dane.facts["dane"]["hosts"]
    assert host["tlsa"]["security"] == "unchecked"
    assert "matched for information only" in host["note"]
    assert host["addresses"] and host["addresses"][0]["matches"]  # the facts are still there
