"""The DNSSEC validator over zones signed offline (dnspython) and served by the in-memory
backend (`--zone-dir` semantics): each way a chain of trust can hold or break, with its reason."""

from __future__ import annotations

import asyncio
import hashlib
import time

import dns.name
import dns.rdata
import dns.rdatatype
import dns.zone
import pytest

from audit.net.dns import (
    DnssecAnswer,
    DnsStatus,
    Resolver,
    StaticBackend,
    StaticData,
    memory_backend,
)
from audit.net.dnssec import (
    Security,
    TrustAnchorError,
    TrustAnchors,
    Validator,
    load_trust_anchors,
)
from tests.infra.dnssec_zones import ds_record, new_key, sign_zone, static_data

HEAD = "$TTL 300\n@ SOA ns1 hostmaster 1 3600 600 86400 300\n@ NS ns1\nns1 A 192.0.2.53\n"
WRONG = hashlib.sha256(b"nothing").hexdigest()
CHILDREN = ["secure", "unsigned", "mismatch", "expired", "notyet", "badsig", "nosig", "nokeys",
            "hole"]  # fmt: skip


def mail(extra: str = "") -> str:
    return HEAD + "@ MX 10 mx1\nmx1 A 192.0.2.25\n" + extra


@pytest.fixture(scope="module")
def world():
    """p.test (signed, the anchor) and one child per scenario."""
    keys = {name: new_key() for name in ["p", *CHILDREN]}
    origin = {name: f"{name}.p.test." for name in CHILDREN}
    zones = {
        "secure": sign_zone(
            mail("_25._tcp.mx1 TLSA 3 1 1 " + "ab" * 32 + "\nwww CNAME mx1\n"
                 "alias CNAME mx1.unsigned.p.test.\n*.wild TXT \"w\"\n"
                "loop1 CNAME loop2\nloop2 CNAME loop1\n"),
            origin["secure"], keys["secure"],
        ),
        "mismatch": sign_zone(mail(), origin["mismatch"], keys["mismatch"]),
        "expired": sign_zone(mail(), origin["expired"], keys["expired"], expired=True),
        "notyet": sign_zone(mail(), origin["notyet"], keys["notyet"], not_yet=True),
        "badsig": sign_zone(mail(), origin["badsig"], keys["badsig"]),
        "nosig": sign_zone(mail(), origin["nosig"], keys["nosig"]),
    }  # fmt: skip
    for name in ("unsigned", "nokeys", "hole"):
        zones[name] = dns.zone.from_text(mail(), origin=origin[name], relativize=False)
    # badsig: the MX record changed after signing; nosig: its RRSIG removed.
    with zones["badsig"].writer() as txn:
        mx = txn.get(dns.name.from_text(origin["badsig"]), "MX")
        rd = dns.rdata.from_text("IN", "MX", f"20 mx1.{origin['badsig']}")
        txn.replace(dns.name.from_text(origin["badsig"]), mx.ttl, rd)
    with zones["nosig"].writer() as txn:
        txn.delete(dns.name.from_text(origin["nosig"]), "RRSIG", "MX")
    delegations = ""
    for name in CHILDREN:
        delegations += f"{name} NS ns1.{name}\nns1.{name} A 192.0.2.53\n"
        if name in ("secure", "expired", "notyet", "badsig", "nosig", "nokeys"):
            child_key = keys[name] if name != "nokeys" else new_key()
            delegations += ds_record(origin[name], child_key) + "\n"
        elif name == "mismatch":
            delegations += f"mismatch DS 4242 13 2 {WRONG}\n"
    parent = sign_zone(HEAD + delegations, "p.test.", keys["p"])
    # hole: the parent's NSEC at the delegation removed (an unproven "no DS").
    with parent.writer() as txn:
        txn.delete(dns.name.from_text("hole.p.test."), "NSEC")
        txn.delete(dns.name.from_text("hole.p.test."), "RRSIG", "NSEC")
    data = static_data([parent, *zones.values()])
    anchors = TrustAnchors.from_text(ds_record("p.test.", keys["p"]), "test anchor")
    return data, anchors, keys


def validate(data: StaticData, anchors, *questions, now=None):
    resolver = Resolver(StaticBackend(data))
    validator = Validator(resolver, anchors, now=now)

    async def run():
        return await asyncio.gather(*(validator.validate(n, t) for n, t in questions))

    results = asyncio.run(run())
    return results if len(results) > 1 else results[0]


def test_secure_chain_from_the_anchor(world):
    data, anchors, _ = world
    mx, a, tlsa = validate(
        data, anchors, ("secure.p.test", "MX"), ("mx1.secure.p.test", "A"),
        ("_25._tcp.mx1.secure.p.test", "TLSA"),
    )  # fmt: skip
    assert (mx.security, mx.zone, mx.records) == (
        Security.SECURE,
        "secure.p.test",
        ["10 mx1.secure.p.test."],
    )
    assert a.secure and a.records == ["192.0.2.25"]
    assert tlsa.secure and tlsa.records == ["3 1 1 " + "ab" * 32]
    assert mx.steps[0].startswith("p.test DNSKEY: key ")
    assert mx.steps[1].startswith("secure.p.test DS ")


def test_proven_absence_is_secure(world):
    data, anchors, _ = world
    nodata, nxdomain = validate(
        data, anchors, ("mx1.secure.p.test", "AAAA"), ("_25._tcp.nope.secure.p.test", "TLSA")
    )
    assert (nodata.security, nodata.status) == (Security.SECURE, DnsStatus.NODATA)
    assert (nxdomain.security, nxdomain.status) == (Security.SECURE, DnsStatus.NXDOMAIN)
    assert "proven by a signed NSEC" in nxdomain.steps[-1]


def test_cname_is_validated_and_followed(world):
    data, anchors, _ = world
    inside, across = validate(data, anchors, ("www.secure.p.test", "A"),
                              ("alias.secure.p.test", "A"))  # fmt: skip
    assert (inside.security, inside.records) == (Security.SECURE, ["192.0.2.25"])
    assert any("CNAME mx1.secure.p.test." in s for s in inside.steps)
    # Into an unsigned zone: the answer is only as good as its weakest hop.
    assert (across.security, across.at, across.records) == (
        Security.INSECURE, "unsigned.p.test", ["192.0.2.25"]
    )  # fmt: skip


def test_cname_loop_ends(world):
    data, anchors, _ = world
    loop = validate(data, anchors, ("loop1.secure.p.test", "A"))
    assert loop.security in (Security.INDETERMINATE, Security.BOGUS)


def test_wildcard_answer_validates(world):
    data, anchors, _ = world
    assert validate(data, anchors, ("x.wild.secure.p.test", "TXT")).secure


def test_unsigned_delegation_is_insecure_with_a_verified_proof(world):
    data, anchors, _ = world
    result = validate(data, anchors, ("mx1.unsigned.p.test", "A"))
    assert (result.security, result.at, result.denial_verified) == (
        Security.INSECURE, "unsigned.p.test", True
    )  # fmt: skip
    assert "delegated from p.test without a DS record" in result.reason
    assert "proven by a signed NSEC" in result.reason
    assert result.records == ["192.0.2.25"]


def test_missing_ds_without_proof_is_insecure_but_says_so(world):
    data, anchors, _ = world
    result = validate(data, anchors, ("hole.p.test", "MX"))
    assert (result.security, result.at, result.denial_verified) == (
        Security.INSECURE, "hole.p.test", False
    )  # fmt: skip
    assert "no NSEC/NSEC3 proof: not verified" in result.reason


@pytest.mark.parametrize(
    ("child", "at", "reason"),
    [
        ("mismatch", "mismatch.p.test", "matches its DS in p.test (key tag 4242)"),
        ("expired", "expired.p.test", "DNSKEY (key {tag}) expired at "),
        ("notyet", "notyet.p.test", "DNSKEY (key {tag}) is not valid before "),
        ("badsig", "badsig.p.test", "the RRSIG over badsig.p.test MX (key {tag}) does not verify"),
        ("nosig", "nosig.p.test", "nosig.p.test MX has no RRSIG"),
        ("nokeys", "nokeys.p.test", "p.test publishes a DS for nokeys.p.test"),
    ],
)
def test_bogus_says_why_and_where(world, child, at, reason):
    data, anchors, keys = world
    result = validate(data, anchors, (f"{child}.p.test", "MX"))
    assert (result.security, result.at) == (Security.BOGUS, at)
    assert reason.format(tag=keys[child][1].key_id()) in result.reason


def test_injected_clock_decides_expiry(world):
    data, anchors, _ = world

    result = validate(data, anchors, ("notyet.p.test", "MX"), now=time.time() + 2 * 86400)
    assert result.secure  # in two days the signatures will be valid


def test_anchor_by_dnskey_and_a_wrong_anchor(world):
    data, _, keys = world
    by_key = TrustAnchors.from_text(f"p.test. 3600 IN DNSKEY {keys['p'][1].to_text()}", "key")
    assert validate(data, by_key, ("secure.p.test", "MX")).secure
    other = new_key()
    wrong = TrustAnchors.from_text(ds_record("p.test.", other), "wrong")
    result = validate(data, wrong, ("secure.p.test", "MX"))
    assert (result.security, result.at) == (Security.BOGUS, "p.test")
    assert f"matches the trust anchor (DS {other[1].key_id()})" in result.reason


def test_unchecked_when_nothing_to_validate_against(world):
    data, anchors, _ = world
    root = validate(data, TrustAnchors.root(), ("secure.p.test", "MX"))
    assert root.security is Security.UNCHECKED
    assert "trust anchor's zone . is not served" in root.reason
    outside = validate(data, anchors, ("example.org", "MX"))
    assert outside.security is Security.UNCHECKED
    assert "no trust anchor at or above example.org" in outside.reason


def test_timeout_is_indeterminate_never_unsigned(world):
    data, anchors, _ = world
    flaky = StaticData(dict(data.nodes), dict(data.failures), set(data.apexes))
    flaky.fail("secure.p.test", DnsStatus.TIMEOUT, "DS")
    result = validate(flaky, anchors, ("mx1.secure.p.test", "A"))
    assert result.security is Security.INDETERMINATE
    assert (result.failed.name, result.failed.rdtype) == ("secure.p.test", "DS")


def test_queries_are_logged_cached_and_shared(world):
    data, anchors, _ = world
    resolver = Resolver(StaticBackend(data))
    validator = Validator(resolver, anchors)

    async def run():
        await asyncio.gather(
            validator.validate("secure.p.test", "MX"),
            validator.validate("mx1.secure.p.test", "A"),
            validator.validate("secure.p.test", "MX"),
        )

    asyncio.run(run())
    asked = [(q.name, q.rdtype) for q in resolver.log]
    assert len(asked) == len(set(asked))  # each question once
    assert ("p.test", "DNSKEY") in asked and ("secure.p.test", "DS") in asked
    dnskey = next(q for q in resolver.log if q.name == "p.test" and q.rdtype == "DNSKEY")
    assert any(a.startswith("RRSIG DNSKEY 13 ") for a in dnskey.answers)


def test_backend_without_dnssec_support_is_unchecked():
    class Plain:
        def __init__(self):
            self.inner = memory_backend({"a.test": [("MX", "10 mx.a.test.")]})

        async def lookup(self, name, rdtype):
            return await self.inner.lookup(name, rdtype)

    resolver = Resolver(Plain())
    result = asyncio.run(Validator(resolver, TrustAnchors.root()).validate("a.test", "MX"))
    assert result.security is Security.UNCHECKED
    assert "cannot answer DNSSEC queries" in result.reason
    assert resolver.log == []


@pytest.mark.parametrize(
    ("error", "security"),
    [("REFUSED", Security.UNCHECKED), ("SERVFAIL", Security.INDETERMINATE), (None, None)],
)
def test_a_refused_trust_anchor_zone_is_not_checked_never_unsigned(world, error, security):
    """A server that REFUSES the anchor's DNSKEY (an authoritative-only server of other zones)
    gives nothing to validate: DNSSEC is "not checked", saying why; a SERVFAIL there stays
    unknown (DNS001). Neither reads as unsigned."""
    data, anchors, _ = world

    class Failing(StaticBackend):
        async def lookup_dnssec(self, name, rdtype):
            if error is not None and (name, rdtype) == ("p.test", "DNSKEY"):
                return DnssecAnswer(name, rdtype, DnsStatus.SERVFAIL, error=error)
            return await super().lookup_dnssec(name, rdtype)

    validator = Validator(Resolver(Failing(data)), anchors)
    result = asyncio.run(validator.validate("secure.p.test", "MX"))
    if error is None:
        assert result.secure  # the near miss: the same world, answered
        return
    assert result.security is security
    if error == "REFUSED":
        assert "REFUSED p.test DNSKEY" in result.reason and "--dns-server" in result.reason
    else:
        assert (result.failed.name, result.failed.rdtype) == ("p.test", "DNSKEY")


def test_static_backend_answers_the_parent_side_of_a_cut(world):
    """At a delegation the zone files hold both sides in one node: DS and its NSEC come from
    the parent, the apex records and their NSEC from the child."""
    data, _, _ = world
    backend = StaticBackend(data)
    ds = asyncio.run(backend.lookup_dnssec("unsigned.p.test", "DS"))
    assert ds.status is DnsStatus.NODATA
    assert [r.name.to_text() for r in ds.denial] == ["unsigned.p.test."]
    assert {s.signer.to_text() for s in ds.signatures(ds.denial[0])} == {"p.test."}
    soa = asyncio.run(backend.lookup_dnssec("secure.p.test", "SOA"))
    assert {s.signer.to_text() for s in soa.rrsigs} == {"secure.p.test."}
    assert soa.rrset[0].rdtype == dns.rdatatype.SOA


def test_trust_anchor_files(tmp_path):
    good = tmp_path / "anchors"
    good.write_text("; comment\nexample. IN DS 1 13 2 " + "00" * 32 + "\n")
    anchors = load_trust_anchors(good)
    assert anchors.closest(dns.name.from_text("a.b.example.")) == dns.name.from_text("example.")
    assert load_trust_anchors(None).describe(dns.name.root) == "DS 20326, DS 38696"
    for text in ("not a record at all\n", "example. IN A 192.0.2.1\n"):
        good.write_text(text)
        with pytest.raises(TrustAnchorError):
            load_trust_anchors(good)
    with pytest.raises(TrustAnchorError):
        load_trust_anchors(tmp_path / "missing")


def test_a_name_too_long_to_exist_is_not_an_error(world):
    data, anchors, _ = world
    result = validate(data, anchors, ("_25._tcp." + "a" * 60 + ".b" * 100 + ".p.test", "TLSA"))
    assert (result.security, result.status) == (Security.UNCHECKED, DnsStatus.NXDOMAIN)
