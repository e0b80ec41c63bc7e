"""TLSA matching (pure) with test certificates, and the DNSSEC and DANE checks over signed
in-memory zones with a stand-in for the STARTTLS probe."""

from __future__ import annotations

import asyncio
import hashlib
from types import SimpleNamespace

import dns.name
import dns.rdata
import dns.zone
import pytest
from cryptography.hazmat.primitives import serialization

from audit.checks.common import DomainContext
from audit.checks.domain import dane, dnssec
from audit.model import Status
from audit.net.dns import Resolver, StaticBackend
from audit.records.tlsa import association_data, match_tlsa, tlsa_record
from tests.conftest import pairs
from tests.infra.certs import TestCA
from tests.infra.dnssec_zones import ds_record, new_key, sign_zone, static_data

DER = serialization.Encoding.DER


def tlsa(text: str):
    return dns.rdata.from_text("IN", "TLSA", text)


@pytest.fixture(scope="module")
def pki():
    ca = TestCA()
    leaf = ca.issue("mx1.d.test", "127.0.0.1")
    other = TestCA("another CA").issue("mx1.d.test")
    return SimpleNamespace(
        ca=ca,
        leaf=leaf,
        chain=[c.public_bytes(DER) for c in leaf.chain],
        other=other,
        ca_der=ca.cert.public_bytes(DER),
    )


@pytest.mark.parametrize("selector", [0, 1])
@pytest.mark.parametrize("mtype", [0, 1, 2])
def test_dane_ee_matches_the_leaf_by_every_selector_and_matching_type(pki, selector, mtype):
    record = tlsa(tlsa_record(pki.leaf.der, 3, selector, mtype))
    [result] = match_tlsa([record], pki.chain)
    assert (result.usable, result.matched, result.position) == (True, True, 0)
    [miss] = match_tlsa([record], [pki.other.der])
    assert (miss.usable, miss.matched, miss.note) == (
        True,
        False,
        "does not match the leaf certificate",
    )


def test_dane_ee_ignores_the_ca_and_dane_ta_ignores_the_leaf(pki):
    ca_as_ee = tlsa(tlsa_record(pki.ca_der, 3, 0, 1))
    leaf_as_ta = tlsa(tlsa_record(pki.leaf.der, 2, 0, 1))
    assert [r.matched for r in match_tlsa([ca_as_ee, leaf_as_ta], pki.chain)] == [False, False]


def test_dane_ta_matches_a_ca_the_server_sent_that_signs_the_leaf(pki):
    record = tlsa(f"2 0 1 {hashlib.sha256(pki.ca_der).hexdigest()}")
    [result] = match_tlsa([record], pki.chain)
    assert (result.matched, result.position, result.note) == (
        True,
        1,
        "matches chain certificate 1",
    )
    # The same CA sent behind a leaf it did not sign: no chain down to the leaf.
    [broken] = match_tlsa([record], [pki.other.der, pki.ca_der])
    assert (broken.matched, broken.position) == (False, 1)
    assert "does not sign down to the leaf" in broken.note
    [absent] = match_tlsa([record], pki.chain[:1])  # the CA not sent at all
    assert absent.matched is False


def test_pkix_usages_and_undefined_parameters_are_unusable(pki):
    spki = association_data(pki.leaf.der, 1, 1).hex()
    results = match_tlsa(
        [
            tlsa(f"0 1 1 {spki}"),
            tlsa(f"1 1 1 {spki}"),
            tlsa(f"3 2 1 {spki}"),
            tlsa(f"3 1 9 {spki}"),
        ],
        pki.chain,
    )
    assert [r.usable for r in results] == [False, False, False, False]
    assert [r.matched for r in results] == [False] * 4
    assert "PKIX-EE is unusable for SMTP" in results[1].note


def test_no_chain_matches_nothing(pki):
    [result] = match_tlsa([tlsa(tlsa_record(pki.leaf.der))], [])
    assert (result.usable, result.matched) == (True, False)


# --------------------------------------------------------------------------- the checks

SERIAL = "$TTL 300\n@ SOA ns1 hostmaster 1 3600 600 86400 300\n@ NS ns1\nns1 A 192.0.2.53\n"


@pytest.fixture(scope="module")
def signed(pki, tmp_path_factory):
    """d.test (the anchor) with MX mx1 (TLSA matches; two addresses), mx2 (TLSA mismatch; two
    addresses), mx3 (PKIX-EE only), mx4 (TLSA without its RRSIG: bogus); the child `u.d.test`
    unsigned with a TLSA record; the child `x.d.test` with expired signatures (bogus)."""
    keys = {"d": new_key(), "x": new_key()}
    good = tlsa_record(pki.leaf.der)
    bad = "3 1 1 " + "00" * 32
    body = (
        SERIAL
        + "@ MX 10 mx1\n@ MX 20 mx2\n@ MX 30 mx3\nmx1 A 192.0.2.1\nmx1 A 192.0.2.5\n"
        + "@ MX 40 mx4\nmx4 A 192.0.2.6\n"
        + f"_25._tcp.mx4 TLSA {good}\n"
        + "mx2 A 192.0.2.2\n"
        + "mx2 A 192.0.2.3\nmx3 A 192.0.2.4\n"
        + f"_25._tcp.mx1 TLSA {good}\n_25._tcp.mx2 TLSA {bad}\n_25._tcp.mx3 TLSA 1{good[1:]}\n"
        + "u NS ns1.u\nns1.u A 192.0.2.53\nx NS ns1.x\nns1.x A 192.0.2.53\n"
        + ds_record("x.d.test.", keys["x"])
        + "\n"
    )
    parent = sign_zone(body, "d.test.", keys["d"])
    with parent.writer() as txn:  # mx4's TLSA loses its signature: a bogus TLSA lookup
        txn.delete(dns.name.from_text("_25._tcp.mx4.d.test."), "RRSIG", "TLSA")
    unsigned = dns.zone.from_text(
        SERIAL + f"@ MX 10 mx\nmx A 192.0.2.9\n_25._tcp.mx TLSA {good}\n",
        origin="u.d.test.",
        relativize=False,
    )
    expired = sign_zone(
        SERIAL + "@ MX 10 mx\nmx A 192.0.2.10\n", "x.d.test.", keys["x"], expired=True
    )
    anchor = tmp_path_factory.mktemp("anchor") / "d.test.ds"
    anchor.write_text(ds_record("d.test.", keys["d"]) + "\n")
    return static_data([parent, unsigned, expired]), str(anchor)


def run(check, data, domain: str, anchor: str, **options):
    ctx = DomainContext(domain, Resolver(StaticBackend(data)), trust_anchor_file=anchor, **options)
    return asyncio.run(check(ctx))


@pytest.fixture
def fake_probe(monkeypatch, pki):
    """The STARTTLS probe replaced: every address presents the test chain."""
    seen = []

    async def probe(ctx, host, address):
        seen.append((host, address))
        return SimpleNamespace(ok=True, chain_der=list(pki.chain), reason=None)

    import audit.checks.smtp_tls as starttls

    monkeypatch.setattr(starttls, "probe_mx_address", probe)
    return seen


def test_dnssec_check_secure_unsigned_and_bogus(signed):
    data, anchor = signed
    secure = run(dnssec.check, data, "d.test", anchor)
    assert secure.status is Status.COMPLETED and pairs(secure) == set()
    assert secure.facts["dnssec"]["domain"]["security"] == "secure"
    unsigned = run(dnssec.check, data, "u.d.test", anchor)
    assert pairs(unsigned) == {("DNSSEC001", "u.d.test")}
    bogus = run(dnssec.check, data, "x.d.test", anchor)
    assert pairs(bogus) == {("DNSSEC002", "x.d.test")}  # the host in the same zone: once
    [finding] = bogus.findings
    assert "expired at" in finding.message and finding.effective_severity.value == "critical"


def test_dnssec_check_skips_without_a_served_anchor(signed):
    data, _ = signed
    result = run(dnssec.check, data, "d.test", None)
    assert result.status is Status.SKIPPED and result.findings == []
    assert "is not served" in result.facts["dnssec"]["reason"]


def test_dane_check_matches_each_address(signed, fake_probe, pki):
    data, anchor = signed
    result = run(dane.check, data, "d.test", anchor, probes=True)
    assert pairs(result) == {
        ("DANE301", "mx2.d.test"),
        ("DANE303", "mx3.d.test"),
        ("DNSSEC002", "mx4.d.test"),
    }
    bogus = next(f for f in result.findings if f.rule.id == "DNSSEC002")
    assert bogus.effective_severity.value == "high"
    assert "_25._tcp.mx4.d.test TLSA has no RRSIG" in bogus.message
    assert ("mx4.d.test", "192.0.2.6") not in fake_probe  # a bogus TLSA set is not matched
    mismatch = next(f for f in result.findings if f.rule.id == "DANE301")
    assert "(192.0.2.2, 192.0.2.3)" in mismatch.message
    assert tlsa_record(pki.leaf.der) in mismatch.fix
    assert ("mx1.d.test", "192.0.2.1") in fake_probe


def test_dane_mismatch_on_one_address_targets_that_address(signed, monkeypatch, pki):
    data, anchor = signed

    async def probe(ctx, host, address):
        chain = [pki.other.der] if address == "192.0.2.5" else list(pki.chain)
        return SimpleNamespace(ok=True, chain_der=chain, reason=None)

    import audit.checks.smtp_tls as starttls

    monkeypatch.setattr(starttls, "probe_mx_address", probe)
    result = run(dane.check, data, "d.test", anchor, probes=True)
    assert ("DANE301", "mx1.d.test 192.0.2.5") in pairs(result)
    assert ("DANE301", "mx1.d.test") not in pairs(result)


def test_dane_without_dnssec_and_without_probes(signed, fake_probe):
    data, anchor = signed
    unsigned = run(dane.check, data, "u.d.test", anchor, probes=True)
    assert pairs(unsigned) == {("DANE302", "mx.u.d.test")}
    assert fake_probe == []  # insecure TLSA is not matched
    quiet = run(dane.check, data, "d.test", anchor, probes=False)
    assert pairs(quiet) == {("DANE303", "mx3.d.test"), ("DNSSEC002", "mx4.d.test")}
    hosts = quiet.facts["dane"]["hosts"]
    assert hosts[0]["note"].startswith("certificates not probed")


def test_dane_check_on_the_plain_fixture_zones_is_quiet(run_domain_check):
    result = run_domain_check(dane.check, "clean.test")
    assert result.status is Status.COMPLETED and result.findings == []


def test_unreadable_certificates_match_nothing_instead_of_raising() -> None:
    from types import SimpleNamespace

    from audit.records.tlsa import match_tlsa

    ee = SimpleNamespace(usage=3, selector=1, mtype=1, cert=b"\x00" * 32)
    ta = SimpleNamespace(usage=2, selector=0, mtype=0, cert=b"junk")
    results = match_tlsa([ee, ta], [b"not a certificate", b"junk"])
    assert [(r.usable, r.matched) for r in results] == [(True, False), (True, False)]
