"""RFC 5155 8.5: a NODATA answer needs the NSEC3 matching the query name. A validly signed
NSEC3 of another name, replayed by an attacker, must not securely hide a TLSA set."""

from __future__ import annotations

import asyncio
import base64
import time

import dns.dnssec
import dns.name
import dns.rdata
import dns.rdataclass
import dns.rdatatype
import dns.rrset

from audit.net.dns import DnssecAnswer, DnsStatus, Resolver, StaticBackend
from audit.net.dnssec import Security, TrustAnchors, Validator
from tests.infra.dnssec_zones import ds_record, new_key, sign_zone, static_data

HEAD = "$TTL 300\n@ SOA ns1 hostmaster 1 3600 600 86400 300\n@ NS ns1\nns1 A 192.0.2.53\n"
BODY = (
    "@ MX 10 mx1\nmx1 A 192.0.2.25\n_25._tcp.mx1 TLSA 3 1 1 " + "ab" * 32 + "\nother A 192.0.2.1\n"
)


def _replayed_nsec3(key, origin: dns.name.Name):
    """A signed NSEC3 for other.s.test, covering nothing but itself."""
    digest = dns.dnssec.nsec3_hash(dns.name.from_text("other.s.test."), b"", 0, 1)
    following = (int.from_bytes(base64.b32hexdecode(digest), "big") + 1).to_bytes(20, "big")
    rdata = dns.rdata.from_text(
        "IN", "NSEC3", f"1 0 0 - {base64.b32hexencode(following).decode()} A RRSIG"
    )
    owner = dns.name.from_text(digest.lower(), origin)
    nsec3 = dns.rrset.from_rdata_list(owner, 300, [rdata])
    now = time.time()
    signature = dns.dnssec.sign(
        nsec3, key[0], origin, key[1], inception=now - 3600, expiration=now + 86400
    )
    sigs = dns.rrset.RRset(owner, dns.rdataclass.IN, dns.rdatatype.RRSIG, dns.rdatatype.NSEC3)
    sigs.add(signature)
    return nsec3, sigs


def test_a_replayed_nsec3_of_another_name_does_not_prove_nodata() -> None:
    key = new_key()
    zone = sign_zone(HEAD + BODY, "s.test.", key)
    anchors = TrustAnchors.from_text(ds_record("s.test.", key), "test")
    data = static_data([zone])
    nsec3, sigs = _replayed_nsec3(key, dns.name.from_text("s.test."))

    class Replaying(StaticBackend):
        async def lookup_dnssec(self, name, rdtype):
            if name.startswith("_25._tcp.mx1") and rdtype == "TLSA":
                return DnssecAnswer(name, rdtype, DnsStatus.NODATA, (), (nsec3, sigs))
            return await super().lookup_dnssec(name, rdtype)

    async def both():
        honest = Validator(Resolver(StaticBackend(data)), anchors)
        forged = Validator(Resolver(Replaying(data)), anchors)
        return (
            await honest.validate("_25._tcp.mx1.s.test", "TLSA"),
            await forged.validate("_25._tcp.mx1.s.test", "TLSA"),
        )

    honest, forged = asyncio.run(both())
    assert honest.security is Security.SECURE and len(honest.records) == 1
    assert forged.security is Security.BOGUS
    assert "no NSEC3 matches _25._tcp.mx1.s.test" in forged.reason
