"""DKIM verification of every signature on a message, against the fixture zones.

Messages are signed here, at test time, with the project's test keys (fixtures/keys/msg-*,
public halves in fixtures/zones/msg-*.test.zone), then verified through the message DKIM check
with the fixture zones as the only DNS. The RFC 8463 example message verifies with the keys
the RFC publishes (fixtures/zones/football.example.com.zone).
"""

from __future__ import annotations

import asyncio
import base64
import hashlib
import threading
import time
from datetime import UTC, datetime, timedelta

import dkim
import pytest
from dkim.canonicalization import CanonicalizationPolicy
from dkim.crypto import parse_pem_private_key
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from audit.checks.message import dkim as dkim_check
from audit.message.dkim_dns import KeyLookups, dkim_clock, prefetch_keys, signature_keys
from audit.message.load import RawMessage
from audit.message_audit import make_context
from audit.model import Severity, Status
from audit.net.dns import DnsAnswer, DnsStatus, Resolver, StaticBackend, memory_backend
from tests.conftest import FIXTURES, pairs

KEYS = FIXTURES / "keys"
NOW = datetime(2026, 11, 24, 10, 0, 0, tzinfo=UTC)
SIGNER = "DKIM-Signature[0] d=msg-dkim.test s=s2048"


def key(name: str) -> bytes:
    return (KEYS / name).read_bytes()


def message(
    from_header: str = "Alice <alice@msg-dkim.test>",
    subject: str = "Your November statement",
    body: str = "Hello Bob,\r\n\r\nYour statement is ready.\r\n\r\nAlice\r\n",
) -> bytes:
    return (
        "Received: from out.msg-dkim.test (out.msg-dkim.test [192.0.2.20]) by mx.receiver.example "
        "with ESMTPS id 42; Tue, 24 Nov 2026 10:00:00 +0000\r\n"
        f"From: {from_header}\r\n"
        "To: Bob <bob@receiver.example>\r\n"
        f"Subject: {subject}\r\n"
        "Date: Tue, 24 Nov 2026 09:59:58 +0000\r\n"
        "Message-ID: <statement-42@msg-dkim.test>\r\n"
        "MIME-Version: 1.0\r\n"
        "Content-Type: text/plain; charset=us-ascii\r\n"
        f"\r\n{body}"
    ).encode()


def sign(
    raw: bytes,
    selector: str = "s2048",
    domain: str = "msg-dkim.test",
    key_file: str = "msg-dkim.test.s2048.pem",
    *,
    at: datetime = NOW,
    **options,
) -> bytes:
    """dkim.sign at time `at` (dkimpy's t= follows our clock); returns the signed message."""
    with dkim_clock(at):
        header = dkim.sign(raw, selector.encode(), domain.encode(), key(key_file), **options)
    return header + raw


def sign_custom(
    raw: bytes,
    include_headers: list[bytes],
    extra: list[tuple[bytes, bytes]] = (),
    *,
    selector: bytes = b"s2048",
    domain: bytes = b"msg-dkim.test",
    key_file: str = "msg-dkim.test.s2048.pem",
) -> bytes:
    """A signature dkim.sign refuses to make (no From in h=, an x= tag), built from dkimpy's
    own pieces so it is a correct signature over what it claims to cover."""
    signer = dkim.DKIM(raw)
    signer.signature_algorithm = b"rsa-sha256"
    signer.hasher = hashlib.sha256
    policy = CanonicalizationPolicy.from_c_value(b"relaxed/simple")
    body_hash = base64.b64encode(hashlib.sha256(policy.canonicalize_body(signer.body)).digest())
    fields = [
        (b"v", b"1"),
        (b"a", b"rsa-sha256"),
        (b"c", b"relaxed/simple"),
        (b"d", domain),
        (b"s", selector),
        *extra,
        (b"h", b" : ".join(include_headers)),
        (b"bh", body_hash),
        (b"b", b"0" * 60),
    ]
    pk = parse_pem_private_key(key(key_file))
    header = signer.gen_header(fields, include_headers, policy, b"DKIM-Signature", pk)
    return b"DKIM-Signature: " + header + raw


@pytest.fixture
def run(zone_data):
    """run(raw) -> (verdicts, CheckResult) through the check, fixture zones as the DNS."""

    def go(raw: bytes, *, now: datetime = NOW, backend=None):
        resolver = Resolver(backend or StaticBackend(zone_data))
        ctx = make_context(RawMessage("m.eml", raw), resolver, now=now)

        async def both():
            return await dkim_check.dkim_verdicts(ctx), await dkim_check.check(ctx)

        verdicts, result = asyncio.run(both())
        return verdicts, result

    return go


def severities(result) -> dict[tuple[str, str], Severity]:
    return {(f.rule.id, f.target): f.effective_severity for f in result.findings}


# --------------------------------------------------------------------------- scenarios


def test_pass_fills_every_field(run):
    verdicts, result = run(sign(message()))
    (v,) = verdicts
    assert (v.index, v.result, v.domain, v.selector) == (0, "pass", "msg-dkim.test", "s2048")
    assert (v.algorithm, v.canonicalization, v.identity) == (
        "rsa-sha256",
        "relaxed/simple",
        "@msg-dkim.test",
    )
    assert v.signed_headers[:3] == ["from", "to", "subject"]
    assert v.signed_headers.count("from") == 2  # dkimpy over-signs From by default
    assert (v.body_length, v.body_hash_ok, v.key_type, v.key_bits) == (None, True, "rsa", 2048)
    assert (v.timestamp, v.expiration, v.expired) == (int(NOW.timestamp()), None, False)
    assert (v.from_signed, v.from_oversigned) == (True, True)
    assert v.reason == "signature verifies with the key at s2048._domainkey.msg-dkim.test"
    assert v.header.startswith("DKIM-Signature: v=1; a=rsa-sha256;")
    assert pairs(result) == set()
    assert result.status is Status.COMPLETED
    assert result.facts["dkim"] == [v.to_dict()]


def test_tampered_body_is_a_body_hash_failure(run):
    signed = sign(message())
    verdicts, result = run(signed.replace(b"statement is ready", b"statement is READY"))
    (v,) = verdicts
    assert (v.result, v.body_hash_ok) == ("fail", False)
    assert v.reason.startswith("body hash did not verify")
    assert pairs(result) == {("DKIM302", SIGNER)}
    assert severities(result)[("DKIM302", SIGNER)] is Severity.HIGH


def test_tampered_header_is_a_signature_failure(run):
    signed = sign(message())
    verdicts, result = run(signed.replace(b"Your November statement", b"Your December statement"))
    (v,) = verdicts
    assert (v.result, v.body_hash_ok) == ("fail", True)
    assert v.reason.startswith("signature did not verify")
    assert pairs(result) == {("DKIM302", SIGNER)}


def test_added_from_header_breaks_an_oversigned_signature(run):
    signed = sign(message())
    forged = signed.replace(b"To: Bob", b"From: CEO <ceo@msg-dkim.test>\r\nTo: Bob", 1)
    verdicts, result = run(forged)
    assert verdicts[0].result == "fail"
    assert ("DKIM302", SIGNER) in pairs(result)


def test_l_tag_with_appended_text(run):
    signed = sign(message(), length=True)
    appended = signed + b"\r\nUrgent: confirm your account at https://phish.example/\r\n"
    verdicts, result = run(appended)
    (v,) = verdicts
    canonical = CanonicalizationPolicy.from_c_value(b"relaxed/simple").canonicalize_body(
        dkim.DKIM(message()).body
    )
    assert (v.result, v.body_length, v.body_hash_ok) == ("pass", len(canonical), True)
    assert pairs(result) == {("DKIM303", SIGNER)}
    finding = result.findings[0]
    assert "bytes after the signed part" in finding.message
    assert finding.effective_severity is Severity.HIGH


def test_l_tag_without_appended_text_still_reported_at_rule_severity(run):
    verdicts, result = run(sign(message(), length=True))
    assert verdicts[0].result == "pass"
    assert pairs(result) == {("DKIM303", SIGNER)}
    assert severities(result)[("DKIM303", SIGNER)] is Severity.MEDIUM
    assert "nothing follows the signed part" in result.findings[0].message


def test_l_tag_does_not_protect_the_signed_part(run):
    signed = sign(message(), length=True)
    verdicts, result = run(signed.replace(b"Hello Bob", b"Hello Eve"))
    assert (verdicts[0].result, verdicts[0].body_hash_ok) == ("fail", False)
    assert pairs(result) == {("DKIM302", SIGNER), ("DKIM303", SIGNER)}


def expiring(raw: bytes) -> bytes:
    t = int((NOW - timedelta(days=2)).timestamp())
    x = int((NOW - timedelta(days=1)).timestamp())
    headers = [b"from", b"from", b"to", b"subject", b"date", b"message-id"]
    return sign_custom(raw, headers, [(b"t", str(t).encode()), (b"x", str(x).encode())])


def test_expired_signature(run):
    verdicts, result = run(expiring(message()))
    (v,) = verdicts
    assert (v.result, v.expired) == ("permerror", True)
    assert v.expiration == int((NOW - timedelta(days=1)).timestamp())
    assert v.reason.startswith("signature expired at 2026-11-23 10:00:00Z")
    assert pairs(result) == {("DKIM304", SIGNER)}


def test_not_yet_expired_when_now_is_before_x(run):
    verdicts, result = run(expiring(message()), now=NOW - timedelta(hours=36))
    (v,) = verdicts
    assert (v.result, v.expired) == ("pass", False)
    assert pairs(result) == set()


def test_signature_from_the_future_follows_the_injected_clock(run):
    signed = sign(message(), at=NOW)
    verdicts, _ = run(signed, now=NOW - timedelta(days=2))
    assert verdicts[0].result == "permerror"
    assert "is in the future" in verdicts[0].reason
    verdicts, _ = run(signed, now=NOW - timedelta(hours=2))  # within the clock-drift slop
    assert verdicts[0].result == "pass"


def test_ed25519_signature(run):
    verdicts, result = run(
        sign(
            message(),
            "ed",
            key_file="msg-dkim.test.ed.key",
            signature_algorithm=b"ed25519-sha256",
        )
    )
    (v,) = verdicts
    assert (v.result, v.algorithm, v.key_type, v.key_bits) == (
        "pass",
        "ed25519-sha256",
        "ed25519",
        256,
    )
    assert pairs(result) == set()


def test_two_signatures_esp_and_aligned_both_verify(run):
    aligned = sign(message())
    both = sign(aligned, "esp", "msg-esp.test", "msg-esp.test.esp.pem")
    verdicts, result = run(both)
    assert [(v.index, v.domain, v.selector, v.result) for v in verdicts] == [
        (0, "msg-esp.test", "esp", "pass"),
        (1, "msg-dkim.test", "s2048", "pass"),
    ]
    assert pairs(result) == set()


def test_second_signature_verified_even_when_the_first_fails(run):
    aligned = sign(message())
    both = sign(aligned, "esp", "msg-esp.test", "msg-esp.test.esp.pem")
    # Corrupt only the ESP signature's key reference: the aligned one must still pass.
    broken = both.replace(b"s=esp;", b"s=gone;", 1)
    verdicts, result = run(broken)
    assert [(v.domain, v.result) for v in verdicts] == [
        ("msg-esp.test", "permerror"),
        ("msg-dkim.test", "pass"),
    ]
    target = "DKIM-Signature[0] d=msg-esp.test s=gone"
    assert pairs(result) == {("DKIM302", target)}
    # Another signature still authenticates the message: reported, but not at HIGH.
    assert severities(result)[("DKIM302", target)] is Severity.MEDIUM


def test_unsigned_message(run):
    verdicts, result = run(message())
    assert verdicts == []
    assert pairs(result) == {("DKIM301", "m.eml")}
    assert "d=msg-dkim.test" in result.findings[0].fix


def test_from_not_signed_is_reported_although_dkimpy_would_accept_it(run):
    signed = sign_custom(
        message(), [b"to", b"subject", b"date"], [(b"t", str(int(NOW.timestamp())).encode())]
    )
    verdicts, result = run(signed)
    (v,) = verdicts
    assert (v.result, v.from_signed, v.body_hash_ok) == ("permerror", False, True)
    assert v.reason.startswith("From is not signed")
    assert v.reason.endswith("(the signature itself verifies)")
    assert pairs(result) == {("DKIM305", SIGNER)}


def test_from_signed_once_is_not_oversigned(run):
    include = [b"from", b"to", b"subject", b"date", b"message-id"]
    verdicts, result = run(sign(message(), include_headers=include))
    (v,) = verdicts
    assert (v.result, v.from_signed, v.from_oversigned) == ("pass", True, False)
    assert pairs(result) == {("DKIM306", SIGNER)}
    assert result.findings[0].effective_severity is Severity.LOW


def test_missing_key_is_permerror(run):
    verdicts, result = run(sign(message(), "missing"))
    (v,) = verdicts
    assert v.result == "permerror"
    assert v.reason == "no key for missing._domainkey.msg-dkim.test (NXDOMAIN)"
    assert v.body_hash_ok is True
    target = "DKIM-Signature[0] d=msg-dkim.test s=missing"
    assert pairs(result) == {("DKIM302", target)}
    assert "missing._domainkey.msg-dkim.test TXT" in result.findings[0].fix


def test_revoked_key_is_permerror(run):
    verdicts, result = run(sign(message(), "revoked"))
    assert verdicts[0].result == "permerror"
    assert verdicts[0].reason.startswith("key revoked: revoked._domainkey.msg-dkim.test")
    assert pairs(result) == {("DKIM302", "DKIM-Signature[0] d=msg-dkim.test s=revoked")}


def test_weak_key_passes_but_is_flagged(run):
    verdicts, result = run(sign(message(), "weak", key_file="msg-dkim.test.weak.pem"))
    assert (verdicts[0].result, verdicts[0].key_bits) == ("pass", 1024)
    assert pairs(result) == {("DKIM307", "DKIM-Signature[0] d=msg-dkim.test s=weak")}


def test_rsa_sha1_is_not_acceptable(run):
    verdicts, result = run(sign(message(), signature_algorithm=b"rsa-sha1"))
    (v,) = verdicts
    assert (v.result, v.algorithm) == ("permerror", "rsa-sha1")
    assert v.reason.startswith("rsa-sha1 is not acceptable")
    assert v.reason.endswith("(the signature itself verifies)")
    assert pairs(result) == {("DKIM302", SIGNER)}


def test_key_lookup_timeout_is_temperror_not_missing(run, zone_data):
    signed = sign(message())
    backend = memory_backend({"s2048._domainkey.msg-dkim.test": [("TIMEOUT", "")]})
    verdicts, result = run(signed, backend=backend)
    (v,) = verdicts
    assert v.result == "temperror"
    assert "TIMEOUT" in v.reason
    assert pairs(result) == {("DNS001", SIGNER)}
    assert result.status is Status.INCONCLUSIVE


def test_key_of_the_wrong_type(run):
    # An ed25519 signature naming the RSA selector.
    signed = sign(
        message(), "ed", key_file="msg-dkim.test.ed.key", signature_algorithm=b"ed25519-sha256"
    )
    verdicts, _ = run(signed.replace(b"s=ed;", b"s=s2048;", 1))
    assert verdicts[0].result == "permerror"
    assert "is k=rsa, but the signature is a=ed25519-sha256" in verdicts[0].reason


# --------------------------------------------------------------------------- RFC 8463


RFC8463_MESSAGE = (
    b"DKIM-Signature: v=1; a=ed25519-sha256; c=relaxed/relaxed;\r\n"
    b" d=football.example.com; i=@football.example.com;\r\n"
    b" q=dns/txt; s=brisbane; t=1528637909; h=from : to :\r\n"
    b" subject : date : message-id : from : subject : date;\r\n"
    b" bh=2jUSOH9NhtVGCQWNr9BrIAPreKQjO6Sn7XIkfJVOzv8=;\r\n"
    b" b=/gCrinpcQOoIfuHNQIbq4pgh9kyIK3AQUdt9OdqQehSwhEIug4D11Bus\r\n"
    b" Fa3bT3FY5OsU7ZbnKELq+eXdp1Q1Dw==\r\n"
    b"DKIM-Signature: v=1; a=rsa-sha256; c=relaxed/relaxed;\r\n"
    b" d=football.example.com; i=@football.example.com;\r\n"
    b" q=dns/txt; s=test; t=1528637909; h=from : to : subject :\r\n"
    b" date : message-id : from : subject : date;\r\n"
    b" bh=2jUSOH9NhtVGCQWNr9BrIAPreKQjO6Sn7XIkfJVOzv8=;\r\n"
    b" b=F45dVWDfMbQDGHJFlXUNB2HKfbCeLRyhDXgFpEL8GwpsRe0IeIixNTe3\r\n"
    b" DhCVlUrSjV4BwcVcOF6+FF3Zo9Rpo1tFOeS9mPYQTnGdaSGsgeefOsk2Jz\r\n"
    b" dA+L10TeYt9BgDfQNZtKdN1WO//KgIqXP7OdEFE4LjFYNcUxZQ4FADY+8=\r\n"
    b"From: Joe SixPack <joe@football.example.com>\r\n"
    b"To: Suzie Q <suzie@shopping.example.net>\r\n"
    b"Subject: Is dinner ready?\r\n"
    b"Date: Fri, 11 Jul 2003 21:00:37 -0700 (PDT)\r\n"
    b"Message-ID: <20030712040037.46341.5F8J@football.example.com>\r\n"
    b"\r\n"
    b"Hi.\r\n"
    b"\r\n"
    b"We lost the game.  Are you hungry yet?\r\n"
    b"\r\n"
    b"Joe.\r\n"
)
RFC8463_NOW = datetime(2018, 6, 11, tzinfo=UTC)  # the day after the signatures' t=


def test_rfc8463_example_verifies_with_its_published_keys(run):
    verdicts, result = run(RFC8463_MESSAGE, now=RFC8463_NOW)
    assert [(v.selector, v.algorithm, v.key_type, v.key_bits, v.result) for v in verdicts] == [
        ("brisbane", "ed25519-sha256", "ed25519", 256, "pass"),
        ("test", "rsa-sha256", "rsa", 1024, "pass"),
    ]
    assert all(v.body_hash_ok and v.from_oversigned for v in verdicts)
    assert verdicts[0].signed_headers == [
        "from",
        "to",
        "subject",
        "date",
        "message-id",
        "from",
        "subject",
        "date",
    ]
    # The RFC's RSA test key is 1024 bits: it verifies, and is flagged as weak.
    assert pairs(result) == {("DKIM307", "DKIM-Signature[1] d=football.example.com s=test")}


def test_rfc8463_example_tampered(run):
    verdicts, _ = run(RFC8463_MESSAGE.replace(b"hungry", b"thirsty"), now=RFC8463_NOW)
    assert [(v.result, v.body_hash_ok) for v in verdicts] == [("fail", False), ("fail", False)]


# --------------------------------------------------------------------------- mutations


def _positions(raw: bytes, start: bytes, end: bytes) -> list[int]:
    first = raw.index(start) + len(start)
    last = raw.index(end, first)
    return [i for i in range(first, last) if raw[i : i + 1] not in (b"\r", b"\n")]


def _flip(raw: bytes, i: int) -> bytes:
    replacement = b"X" if raw[i : i + 1] != b"X" else b"Y"
    return raw[:i] + replacement + raw[i + 1 :]


def test_mutation_flip_one_byte_in_a_signed_header_or_the_body(run):
    signed = sign(message())
    positions = (
        _positions(signed, b"\r\nSubject: ", b"\r\n")
        + _positions(signed, b"\r\nFrom: ", b"\r\n")
        + _positions(signed, b"\r\nMessage-ID: ", b"\r\n")
        + _positions(signed, b"\r\n\r\n", b"Alice\r\n")
    )
    assert len(positions) > 80
    survivors = []
    for i in positions:
        verdicts, result = run(_flip(signed, i))
        if verdicts[0].result != "fail" or ("DKIM302", SIGNER) not in pairs(result):
            survivors.append((i, signed[i : i + 1]))
    assert survivors == []


def test_mutation_in_an_unsigned_header_keeps_the_pass(run):
    signed = sign(message())
    for i in _positions(signed, b"\r\nReceived: from ", b" by "):
        verdicts, _ = run(_flip(signed, i))
        assert verdicts[0].result == "pass"


# --------------------------------------------------------------------------- DNS and clock


def test_dkimpy_never_asks_dns_itself(run, monkeypatch):
    import dns.resolver

    def refuse(*args, **kwargs):
        raise AssertionError("dkimpy tried its own DNS lookup")

    monkeypatch.setattr(dns.resolver, "resolve", refuse)
    monkeypatch.setattr(dns.resolver, "query", refuse, raising=False)
    verdicts, _ = run(sign(message()))
    assert verdicts[0].result == "pass"


def test_keys_are_asked_through_the_resolver_concurrently(zone_data):
    class Counting(StaticBackend):
        """Counts lookups in flight; each one waits (bounded) for a second to start, so
        sequential lookups show a maximum of 1 and concurrent ones a maximum of 2."""

        in_flight = 0
        max_in_flight = 0

        async def lookup(self, name, rdtype):
            Counting.in_flight += 1
            Counting.max_in_flight = max(Counting.max_in_flight, Counting.in_flight)
            try:
                for _ in range(1000):  # at most ~1 s of 1 ms naps: a cap, not a measurement
                    if Counting.max_in_flight >= 2:
                        break
                    await asyncio.sleep(0.001)
                return await super().lookup(name, rdtype)
            finally:
                Counting.in_flight -= 1

    both = sign(sign(message()), "esp", "msg-esp.test", "msg-esp.test.esp.pem")
    resolver = Resolver(Counting(zone_data))
    lookups = asyncio.run(prefetch_keys(resolver, both))
    assert sorted(lookups.answers) == [
        "esp._domainkey.msg-esp.test",
        "s2048._domainkey.msg-dkim.test",
    ]
    assert Counting.max_in_flight == 2, "the two key lookups did not overlap"
    assert sorted((q.name, q.rdtype, q.status) for q in resolver.log) == [
        ("esp._domainkey.msg-esp.test", "TXT", "NOERROR"),
        ("s2048._domainkey.msg-dkim.test", "TXT", "NOERROR"),
    ]


def test_prefetched_dnsfunc_semantics():
    lookups = KeyLookups(
        {
            "a._domainkey.x.test": DnsAnswer("a._domainkey.x.test", "TXT", DnsStatus.NXDOMAIN),
            "b._domainkey.x.test": DnsAnswer("b._domainkey.x.test", "TXT", DnsStatus.SERVFAIL),
        }
    )
    dnsfunc = lookups.dnsfunc()
    assert dnsfunc(b"a._domainkey.x.test.") is None
    with pytest.raises(dkim.DnsTimeoutError):
        dnsfunc(b"b._domainkey.x.test.")
    with pytest.raises(dkim.DnsTimeoutError):
        dnsfunc(b"c._domainkey.x.test.")  # never a query of its own
    assert dnsfunc.unknown == ["c._domainkey.x.test"]
    assert [a.name for a in dnsfunc.temperrors] == ["b._domainkey.x.test"]


def test_signature_keys_reads_dkim_and_arc_headers():
    raw = (
        b"ARC-Seal: i=1; a=rsa-sha256; cv=none; d=Fwd.Example; s=seal1; b=AAAA\r\n"
        b"ARC-Message-Signature: i=1; a=rsa-sha256; d=fwd.example;\r\n"
        b" s=ams1; h=from; bh=A; b=A\r\n"
        b"DKIM-Signature: v=1; d=msg-dkim.test; s=s2048; h=from; bh=A; b=A\r\n"
        b"From: a@msg-dkim.test\r\n\r\nbody\r\n"
    )
    assert signature_keys(raw) == [
        "seal1._domainkey.fwd.example",
        "ams1._domainkey.fwd.example",
        "s2048._domainkey.msg-dkim.test",
    ]


def test_dkim_clock_is_per_thread_and_restored():
    real_before = time.time()
    seen: list[float] = []
    with dkim_clock(datetime(2001, 1, 1, tzinfo=UTC)):
        assert dkim.time.time() == datetime(2001, 1, 1, tzinfo=UTC).timestamp()
        other = threading.Thread(target=lambda: seen.append(dkim.time.time()))
        other.start()
        other.join()
    assert seen[0] >= real_before  # another thread keeps the real clock
    assert dkim.time.time() >= real_before


# --------------------------------------------------------------------------- garbage


def test_unparseable_header_section_with_a_signature(run):
    raw = b" leading continuation\r\nDKIM-Signature: v=1; d=msg-dkim.test; s=s2048\r\n\r\nhi\r\n"
    verdicts, result = run(raw)
    (v,) = verdicts
    assert v.result == "permerror"
    assert v.domain == "msg-dkim.test"
    assert ("DKIM302", SIGNER) in pairs(result)


@pytest.mark.parametrize(
    "header, reason",
    [
        ("v=1; a=rsa-sha256; d=msg-dkim.test; s=s2048; h=from; bh=AA==", "required tag b="),
        ("v=1; a=rsa-sha256; d=msg-dkim.test; d=x; s=s2048", "tag list does not parse"),
        ("v=2; a=rsa-sha256; d=msg-dkim.test; s=s2048; h=from; bh=AA==; b=AA==", "v=2"),
        ("v=1; a=rsa-md5; d=msg-dkim.test; s=s2048; h=from; bh=AA==; b=AA==", "a=rsa-md5"),
        (
            "v=1; a=rsa-sha256; d=msg-dkim.test; i=@other.test; s=s2048; h=from; bh=AA==; b=AA==",
            "i=@other.test is not in d=msg-dkim.test",
        ),
    ],
)
def test_malformed_signatures_are_permerror(run, header, reason):
    verdicts, result = run(f"DKIM-Signature: {header}\r\n".encode() + message())
    assert verdicts[0].result == "permerror"
    assert reason in verdicts[0].reason
    assert {rid for rid, _ in pairs(result)} == {"DKIM302"}


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.binary(max_size=400), st.integers(min_value=0, max_value=2000))
def test_random_and_mutated_input_never_raises(junk, position):
    signed = sign(message())
    i = position % len(signed)
    for raw in (junk, signed[:i] + junk + signed[i:], b"DKIM-Signature:" + junk + b"\r\n\r\n"):
        lookups = KeyLookups()
        verdicts = dkim_check.verify_signatures(raw, lookups, NOW)
        assert all(
            v.result in ("pass", "fail", "permerror", "temperror", "neutral") for v in verdicts
        )


def test_unusable_key_record_is_permerror(run):
    backend = memory_backend(
        {"s2048._domainkey.msg-dkim.test": [("TXT", '"v=DKIM1; k=rsa; p=not*base64"')]}
    )
    verdicts, result = run(sign(message()), backend=backend)
    (v,) = verdicts
    assert v.result == "permerror"
    assert v.reason == (
        "key record at s2048._domainkey.msg-dkim.test cannot be used: p= is not valid base64"
    )
    assert pairs(result) == {("DKIM302", SIGNER)}
    assert 'TXT "v=DKIM1; k=rsa; p=<base64 public key>"' in result.findings[0].fix


# ------------------------------------------------ issue 10 item 4: l= larger than the body
# RFC 6376 3.5: l= "MUST NOT be larger than the actual number of octets in the canonicalized
# message body": a permerror and DKIM302, not a pass (it passed before).

FULL_HEADERS = [b"from", b"from", b"to", b"subject", b"date", b"message-id"]


def _body_octets(raw: bytes) -> int:
    policy = CanonicalizationPolicy.from_c_value(b"relaxed/simple")
    return len(policy.canonicalize_body(dkim.DKIM(raw).body))


def test_l_larger_than_the_body_is_a_permerror(run):
    raw = message()
    octets = _body_octets(raw)
    signed = sign_custom(raw, FULL_HEADERS, [(b"l", str(octets + 1).encode())])
    verdicts, result = run(signed)
    (v,) = verdicts
    assert v.result == "permerror" and v.body_length == octets + 1
    assert v.reason.startswith("l= is larger than the body")
    assert f"l={octets + 1} but the canonicalized body has {octets} octets" in v.reason
    assert pairs(result) == {("DKIM302", SIGNER)}  # not DKIM303: nothing is "partly" signed
    (finding,) = result.findings
    assert finding.effective_severity is Severity.HIGH and "RFC 6376 3.5" in finding.message
    assert "Remove the l= tag" in finding.fix


def test_l_equal_to_the_body_still_passes(run):
    raw = message()
    octets = _body_octets(raw)
    verdicts, result = run(sign_custom(raw, FULL_HEADERS, [(b"l", str(octets).encode())]))
    assert (verdicts[0].result, verdicts[0].body_length) == ("pass", octets)
    assert pairs(result) == {("DKIM303", SIGNER)}


def test_l_over_the_body_beside_a_passing_signature_is_medium(run):
    raw = message()
    inner = sign(raw)  # a good whole-body signature
    outer = sign_custom(inner, FULL_HEADERS, [(b"l", b"100000")])
    verdicts, result = run(outer)
    assert [v.result for v in verdicts] == ["permerror", "pass"]
    assert result.findings[0].rule.id == "DKIM302"
    assert result.findings[0].effective_severity is Severity.MEDIUM
