"""DNSSEC and DANE against real servers.

Knot serves `dnssec.test` and signs it inline, with four children:

* `secure.dnssec.test`: signed by Knot, its DS in the parent; MX hosts mx1-mx4 whose TLSA
  records match the test certificate (mx1: `3 1 1` leaf key; mx4: `2 0 1` the CA), do not match
  it (mx2), or use a PKIX usage (mx3);
* `bogus.dnssec.test`: signed by Knot, but the parent's DS names no key it has;
* `expired.dnssec.test`: signed offline (dnspython) with signatures that ended yesterday, served
  as is; its DS in the parent is right;
* `unsigned.dnssec.test`: not signed, no DS; it publishes a TLSA record all the same.

The trust anchor is the parent's DS, read back from Knot's key store at start. Every MX address
is 127.0.0.1, where a small STARTTLS server presents the test certificate (leaf + CA).
"""

from __future__ import annotations

import asyncio
import hashlib
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

import pytest

from audit.domain_audit import audit_domain
from audit.model import Report, Status
from audit.net.dns import DnsStatus, NetworkBackend, Resolver, ServerAddress
from audit.net.dnssec import Security, Validator, load_trust_anchors
from audit.records.tlsa import tlsa_record
from tests.infra.certs import TestCA
from tests.infra.dnssec_zones import ds_record, new_key, sign_zone, zone_text
from tests.infra.servers import KnotServer, ServerError
from tests.infra.starttls_server import StartTlsServer
from tests.integration.conftest import _require_knot
from tests.json_output import report_of

SIGNED_BY_KNOT = "dnssec.test secure.dnssec.test bogus.dnssec.test"
WRONG_DIGEST = hashlib.sha256(b"no key has this digest").hexdigest()
MX_HOSTS = [f"mx{i}.secure.dnssec.test" for i in range(1, 5)]

HEAD = """$TTL 300
@ SOA ns1 hostmaster 1 3600 600 86400 300
@ NS ns1
ns1 A 127.0.0.1
"""


def zone(origin: str, body: str) -> str:
    return f"$ORIGIN {origin}.\n{HEAD}{body}"


def parent_zone(expired_ds: str) -> str:
    return zone(
        "dnssec.test",
        f"""secure NS ns1.secure
ns1.secure A 127.0.0.1
;; @DS@ secure.dnssec.test
bogus NS ns1.bogus
ns1.bogus A 127.0.0.1
bogus DS 4242 13 2 {WRONG_DIGEST}
expired NS ns1.expired
ns1.expired A 127.0.0.1
{expired_ds}
unsigned NS ns1.unsigned
ns1.unsigned A 127.0.0.1
""",
    )


def mail_zone(origin: str, extra: str = "") -> str:
    return zone(origin, f"@ MX 10 mx\nmx A 127.0.0.1\n{extra}")


@dataclass
class SignedSetup:
    knot: KnotServer
    anchor_file: Path
    zone_dir: Path
    smtp: StartTlsServer
    ca_file: Path
    leaf_tlsa: str  # "3 1 1 ..." for the certificate the server presents


@pytest.fixture(scope="module")
def setup(tmp_path_factory: pytest.TempPathFactory):
    _require_knot()
    base = tmp_path_factory.mktemp("dnssec")
    ca = TestCA()
    cert = ca.issue(*MX_HOSTS, "mx.unsigned.dnssec.test", "127.0.0.1")
    cert_path, key_path = cert.write(base / "tls", "mx")
    ca_file = ca.write_ca(base / "tls" / "ca.pem")
    leaf_tlsa = tlsa_record(cert.der)
    ca_sha256 = hashlib.sha256(cert.chain[1].public_bytes(_der())).hexdigest()

    zones = base / "zones"
    zones.mkdir()
    expired_key = new_key()
    expired = sign_zone(mail_zone("expired.dnssec.test"), "expired.dnssec.test.", expired_key,
                        expired=True)  # fmt: skip
    files = {
        "dnssec.test": parent_zone(ds_record("expired.dnssec.test.", expired_key)),
        "secure.dnssec.test": zone(
            "secure.dnssec.test",
            "".join(f"@ MX {10 * i} mx{i}\nmx{i} A 127.0.0.1\n" for i in range(1, 5))
            + f"_25._tcp.mx1 TLSA {leaf_tlsa}\n"
            + f"_25._tcp.mx2 TLSA 3 1 1 {WRONG_DIGEST}\n"
            + f"_25._tcp.mx3 TLSA 1{leaf_tlsa[1:]}\n"
            + f"_25._tcp.mx4 TLSA 2 0 1 {ca_sha256}\n",
        ),
        "bogus.dnssec.test": mail_zone("bogus.dnssec.test"),
        "expired.dnssec.test": zone_text(expired),
        "unsigned.dnssec.test": mail_zone(
            "unsigned.dnssec.test", f"_25._tcp.mx TLSA {leaf_tlsa}\n"
        ),
    }
    for name, text in files.items():
        (zones / f"{name}.zone").write_text(text)

    run = base / "knot"
    with pytest.MonkeyPatch.context() as env:
        env.setenv("KNOT_SIGN", SIGNED_BY_KNOT)
        try:
            knot = KnotServer.start(run, zones)
        except ServerError as exc:
            pytest.fail(str(exc), pytrace=False)
    smtp = StartTlsServer.start(cert_path, key_path)
    try:
        anchor_file = base / "anchor.ds"
        anchor_file.write_text((run / "keys" / "dnssec.test.ds").read_text())
        yield SignedSetup(knot, anchor_file, zones, smtp, ca_file, leaf_tlsa)
    finally:
        smtp.stop()
        knot.stop()


def _der():
    from cryptography.hazmat.primitives import serialization

    return serialization.Encoding.DER


@pytest.fixture(scope="module")
def reports(setup: SignedSetup) -> dict[str, Report]:
    backend = NetworkBackend([ServerAddress(setup.knot.host, setup.knot.port)], timeout=3)
    domains = ["secure.dnssec.test", "bogus.dnssec.test", "expired.dnssec.test",
               "unsigned.dnssec.test"]  # fmt: skip

    async def run() -> dict[str, Report]:
        done = await asyncio.gather(
            *(
                audit_domain(
                    d,
                    backend,
                    timeout=3,
                    probes=True,
                    smtp_port=setup.smtp.port,
                    ca_file=str(setup.ca_file),
                    trust_anchor_file=str(setup.anchor_file),
                    discover_dkim=False,
                    blocklists=[],
                    allow_private_addresses=True,  # loopback servers
                )
                for d in domains
            )
        )
        return dict(zip(domains, done, strict=True))

    return asyncio.run(run())


def pairs(report: Report, *prefixes: str) -> set[tuple[str, str]]:
    return {(f.rule.id, f.target) for f in report.findings() if f.rule.id.startswith(prefixes)}


def outcome(report: Report, check: str):
    return next(o for o in report.outcomes if o.check == check)


def finding(report: Report, rule_id: str, target: str):
    return next(f for f in report.findings() if (f.rule.id, f.target) == (rule_id, target))


def test_signed_zone_with_its_ds_validates(reports):
    report = reports["secure.dnssec.test"]
    assert pairs(report, "DNSSEC") == set()
    dnssec = outcome(report, "dnssec")
    assert dnssec.status is Status.COMPLETED, dnssec.error
    facts = dnssec.facts["dnssec"]
    assert facts["domain"]["security"] == "secure"
    assert facts["domain"]["zone"] == "secure.dnssec.test"
    assert [h["a"]["security"] for h in facts["mx_hosts"]] == ["secure"] * 4
    assert [h["aaaa"]["status"] for h in facts["mx_hosts"]] == ["NODATA"] * 4  # proven absent
    chain = facts["domain"]["chain"]
    assert chain[0].startswith("dnssec.test DNSKEY: key ")
    assert chain[1].startswith("secure.dnssec.test DS ")


def test_unsigned_child_is_dnssec001_and_its_tlsa_dane302(reports):
    report = reports["unsigned.dnssec.test"]
    assert pairs(report, "DNSSEC", "DANE") == {
        ("DNSSEC001", "unsigned.dnssec.test"),
        ("DANE302", "mx.unsigned.dnssec.test"),
    }
    unsigned = finding(report, "DNSSEC001", "unsigned.dnssec.test")
    assert "delegated from dnssec.test without a DS record" in unsigned.message
    assert "proven by a signed NSEC" in unsigned.message
    facts = outcome(report, "dnssec").facts["dnssec"]["domain"]
    assert (facts["security"], facts["at"], facts["denial_verified"]) == (
        "insecure", "unsigned.dnssec.test", True
    )  # fmt: skip


def test_ds_matching_no_key_is_bogus_with_the_reason(reports):
    report = reports["bogus.dnssec.test"]
    assert pairs(report, "DNSSEC") == {("DNSSEC002", "bogus.dnssec.test")}
    bogus = finding(report, "DNSSEC002", "bogus.dnssec.test")
    assert bogus.effective_severity.value == "critical"
    assert "fails at bogus.dnssec.test" in bogus.message
    assert "matches its DS in dnssec.test (key tag 4242)" in bogus.message
    # The fix is the DS of the key Knot really uses.
    assert "bogus.dnssec.test. IN DS " in bogus.fix and " 13 2 " in bogus.fix


def test_expired_signatures_are_bogus_with_the_date(reports):
    report = reports["expired.dnssec.test"]
    assert pairs(report, "DNSSEC") == {("DNSSEC002", "expired.dnssec.test")}
    expired = finding(report, "DNSSEC002", "expired.dnssec.test")
    assert "the DNSKEY set of expired.dnssec.test is not signed by the key its DS names" in (
        expired.message
    )
    assert "expired at 20" in expired.message
    assert expired.fix.startswith("Re-sign the zone expired.dnssec.test")


def test_dane_matches_the_presented_certificate(reports, setup):
    report = reports["secure.dnssec.test"]
    assert pairs(report, "DANE") == {
        ("DANE301", "mx2.secure.dnssec.test"),
        ("DANE303", "mx3.secure.dnssec.test"),
    }
    mismatch = finding(report, "DANE301", "mx2.secure.dnssec.test")
    assert mismatch.effective_severity.value == "critical"
    assert mismatch.fix.startswith(
        f"Publish `_25._tcp.mx2.secure.dnssec.test. IN TLSA {setup.leaf_tlsa}`"
    )
    hosts = {h["host"]: h for h in outcome(report, "dane").facts["dane"]["hosts"]}
    mx1 = hosts["mx1.secure.dnssec.test"]
    assert mx1["tlsa"]["security"] == "secure"
    assert mx1["addresses"][0]["matches"][0]["matched"] is True
    mx4 = hosts["mx4.secure.dnssec.test"]  # DANE-TA: the CA the server sent
    assert mx4["addresses"][0]["matches"][0]["note"] == "matches chain certificate 1"
    assert setup.smtp.connections > 0


def test_validator_reads_knot_directly(setup):
    """The validator on its own, for the names a DANE sender looks at."""
    resolver = Resolver(
        NetworkBackend([ServerAddress(setup.knot.host, setup.knot.port)], timeout=3)
    )
    validator = Validator(resolver, load_trust_anchors(setup.anchor_file))

    async def ask():
        return await asyncio.gather(
            validator.validate("_25._tcp.mx1.secure.dnssec.test", "TLSA"),
            validator.validate("_25._tcp.nope.secure.dnssec.test", "TLSA"),
            validator.validate("mx.unsigned.dnssec.test", "A"),
            validator.validate("secure.dnssec.test", "SOA"),
        )

    tlsa, missing, unsigned, soa = asyncio.run(ask())
    assert (tlsa.security, tlsa.records) == (Security.SECURE, [setup.leaf_tlsa])
    assert (missing.security, missing.status.value) == (Security.SECURE, "NXDOMAIN")
    assert (unsigned.security, unsigned.at) == (Security.INSECURE, "unsigned.dnssec.test")
    assert soa.secure
    asked = {(q.name, q.rdtype) for q in resolver.log}
    assert ("secure.dnssec.test", "DS") in asked and ("dnssec.test", "DNSKEY") in asked


def cli(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "audit", *args], capture_output=True, text=True, timeout=120
    )


def test_cli_trust_anchor_and_exit_code(setup):
    proc = cli(
        "domain", "expired.dnssec.test", "--dns-server", setup.knot.address, "--timeout", "3",
        "--trust-anchor", str(setup.anchor_file), "--no-probes", "--format", "json",
    )  # fmt: skip
    assert proc.returncode == 1, proc.stdout + proc.stderr  # DNSSEC002 is critical
    report = report_of(proc.stdout)
    ids = {(f["rule_id"], f["target"]) for o in report["outcomes"] for f in o["findings"]}
    assert ("DNSSEC002", "expired.dnssec.test") in ids
    assert any(q["type"] == "DNSKEY" and q["name"] == "dnssec.test" for q in report["queries"])


def test_cli_rejects_a_bad_trust_anchor_file(tmp_path):
    bad = tmp_path / "anchor"
    bad.write_text("this is not a DS record\n")
    proc = cli("domain", "clean.test", "--zone-dir", "fixtures/zones", "--trust-anchor", str(bad))
    assert proc.returncode == 2
    assert "trust anchor" in proc.stderr


def test_offline_zone_dir_does_not_crash(setup):
    """The same zone files offline: without the root zone nothing can be validated (skipped);
    with the offline-signed child's own DS as anchor, its expired signatures show."""
    proc = cli("domain", "secure.dnssec.test", "--zone-dir", str(setup.zone_dir), "--format",
               "json")  # fmt: skip
    assert proc.returncode in (0, 1), proc.stderr
    report = report_of(proc.stdout)
    dnssec = next(o for o in report["outcomes"] if o["check"] == "dnssec")
    assert dnssec["status"] == "skipped"
    assert "not served" in dnssec["facts"]["dnssec"]["reason"]
    dane = next(o for o in report["outcomes"] if o["check"] == "dane")
    assert dane["status"] == "completed"

    zone_file = (setup.zone_dir / "expired.dnssec.test.zone").read_text()
    anchor = setup.zone_dir.parent / "expired.anchor"
    anchor.write_text("\n".join(line for line in zone_file.splitlines() if " DNSKEY " in line))
    proc = cli("domain", "expired.dnssec.test", "--zone-dir", str(setup.zone_dir),
               "--trust-anchor", str(anchor), "--format", "json")  # fmt: skip
    report = report_of(proc.stdout)
    found = [f for o in report["outcomes"] for f in o["findings"] if f["rule_id"] == "DNSSEC002"]
    assert [f["target"] for f in found] == ["expired.dnssec.test"]
    assert "expired at" in found[0]["message"]


@pytest.fixture(scope="module")
def nsec3_knot(tmp_path_factory: pytest.TempPathFactory):
    """The same shape signed with NSEC3 (KNOT_NSEC3=1): `nsec3.test`, a signed child with a
    TLSA record under an empty non-terminal, and an unsigned child."""
    _require_knot()
    base = tmp_path_factory.mktemp("nsec3")
    zones = base / "zones"
    zones.mkdir()
    files = {
        "nsec3.test": zone(
            "nsec3.test",
            "secure NS ns1.secure\nns1.secure A 127.0.0.1\n;; @DS@ secure.nsec3.test\n"
            "unsigned NS ns1.unsigned\nns1.unsigned A 127.0.0.1\n",
        ),
        "secure.nsec3.test": mail_zone("secure.nsec3.test", "_25._tcp.mx TLSA 3 1 1 " + "ab" * 32),
        "unsigned.nsec3.test": mail_zone("unsigned.nsec3.test"),
    }
    for name, text in files.items():
        (zones / f"{name}.zone").write_text(text + "\n")
    with pytest.MonkeyPatch.context() as env:
        env.setenv("KNOT_SIGN", "nsec3.test secure.nsec3.test")
        env.setenv("KNOT_NSEC3", "1")
        try:
            knot = KnotServer.start(base / "knot", zones)
        except ServerError as exc:
            pytest.fail(str(exc), pytrace=False)
    try:
        yield knot, base / "knot" / "keys" / "nsec3.test.ds"
    finally:
        knot.stop()


def test_nsec3_proofs(nsec3_knot):
    knot, anchor = nsec3_knot
    resolver = Resolver(NetworkBackend([ServerAddress(knot.host, knot.port)], timeout=3))
    validator = Validator(resolver, load_trust_anchors(anchor))

    async def ask():
        return await asyncio.gather(
            validator.validate("_25._tcp.mx.secure.nsec3.test", "TLSA"),
            validator.validate("mx.secure.nsec3.test", "AAAA"),
            validator.validate("nope.secure.nsec3.test", "A"),
            validator.validate("mx.unsigned.nsec3.test", "A"),
        )

    tlsa, nodata, nxdomain, unsigned = asyncio.run(ask())
    assert tlsa.secure and tlsa.records == ["3 1 1 " + "ab" * 32]
    assert (nodata.security, nodata.status.value) == (Security.SECURE, "NODATA")
    assert (nxdomain.security, nxdomain.status.value) == (Security.SECURE, "NXDOMAIN")
    assert (unsigned.security, unsigned.at, unsigned.denial_verified) == (
        Security.INSECURE, "unsigned.nsec3.test", True
    )  # fmt: skip
    assert "proven by a signed NSEC3" in unsigned.reason
    nsec3 = [q for q in resolver.log if any(" NSEC3 " in a for a in q.answers)]
    assert nsec3, "Knot answered with NSEC3 proofs"


def test_dnssec_questions_over_the_wire_match_dnspython(setup: SignedSetup):
    """The DO+CD questions of the validator go over the lean wire (dns_wire) by default: the
    same sections, RRSIGs and NSEC/NSEC3 proofs as dnspython's resolver gets from Knot."""
    questions = [
        (name, rdtype)
        for name in ("secure.dnssec.test", "mx1.secure.dnssec.test", "nope.secure.dnssec.test",
                     "_25._tcp.mx1.secure.dnssec.test", "dnssec.test", "expired.dnssec.test",
                     "bogus.dnssec.test", "unsigned.dnssec.test", "outside.example")
        for rdtype in ("MX", "A", "AAAA", "TLSA", "DNSKEY", "DS", "SOA")
    ]  # fmt: skip

    async def ask(wire: bool) -> list:
        server = ServerAddress(setup.knot.host, setup.knot.port)
        backend = NetworkBackend([server], timeout=3, wire=wire)
        return list(await asyncio.gather(*(backend.lookup_dnssec(*q) for q in questions)))

    def signature(answer) -> tuple:
        sections = [sorted(r.to_text() for r in part) for part in (answer.answer, answer.authority)]
        return (answer.status, sections, answer.error)

    wire, dnspython = asyncio.run(ask(True)), asyncio.run(ask(False))
    differ = [
        f"{q}: wire {signature(a)} / dnspython {signature(b)}"
        for q, a, b in zip(questions, wire, dnspython, strict=True)
        if signature(a) != signature(b)
    ]
    assert not differ, "\n".join(differ[:20])
    by_question = dict(zip(questions, wire, strict=True))
    secure_mx = by_question["secure.dnssec.test", "MX"]
    assert secure_mx.status is DnsStatus.NOERROR and secure_mx.rrsigs is not None
    assert by_question["nope.secure.dnssec.test", "A"].status is DnsStatus.NXDOMAIN
    assert by_question["nope.secure.dnssec.test", "A"].denial  # the NSEC/NSEC3 proof came along
    assert by_question["mx1.secure.dnssec.test", "MX"].status is DnsStatus.NODATA
    refused = by_question["outside.example", "MX"]  # Knot refuses names outside its zones
    assert refused.status is DnsStatus.SERVFAIL and refused.refused
