"""Property: no input makes the message parsing, envelope reconstruction or the format,
unsubscribe and receiver checks raise, and their facts always serialise to UTF-8 JSON.

Random bytes, and a realistic message mutated byte by byte (flips, insertions, deletions,
truncation, duplicated lines), go through make_context and the checks.
"""

from __future__ import annotations

import asyncio
import json
from datetime import UTC, datetime

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from audit.checks.message import headers, receiver, unsubscribe
from audit.message.load import RawMessage
from audit.message_audit import EnvelopeOptions, make_context
from audit.model import CheckResult
from audit.net.dns import Resolver, memory_backend

VALID = (
    b"Authentication-Results: mx.receiver.example; dkim=pass header.d=sender.example "
    b"header.s=s1 header.b=AbCd; spf=pass (mx.receiver.example: domain of "
    b"bounce@sender.example designates 192.0.2.25 as permitted sender) "
    b"smtp.mailfrom=bounce@sender.example; dmarc=pass (p=reject) header.from=sender.example\r\n"
    b"Received-SPF: pass (mx.receiver.example: domain of bounce@sender.example) "
    b'client-ip=192.0.2.25; envelope-from="bounce@sender.example"; helo=mail.sender.example;\r\n'
    b"Return-Path: <bounce@sender.example>\r\n"
    b"Received: from localhost (localhost [127.0.0.1])\r\n"
    b"\tby mx.receiver.example (Postfix) with ESMTP id 4Xk2Lp; Tue, 24 Nov 2026 10:00:03 +0000\r\n"
    b"Received: from mail.sender.example ([192.0.2.25] helo=mail.sender.example)\r\n"
    b"\tby mx.receiver.example with esmtps (TLS1.3) (Exim 4.96)\r\n"
    b"\t(envelope-from <bounce@sender.example>) id 1rAbCd-0001; Tue, 24 Nov 2026 10:00:02 +0000\r\n"
    b"DKIM-Signature: v=1; a=rsa-sha256; c=relaxed/relaxed; d=sender.example; s=s1;\r\n"
    b"\th=from:to:subject:date:message-id:list-unsubscribe:list-unsubscribe-post;\r\n"
    b"\tbh=47DEQpj8HBSa+/TImW+5JCeuQeRkm5NMpJWZG3hSuFU=; b=AbCdEf0123456789\r\n"
    b"From: =?utf-8?q?Caf=C3=A9?= News <news@sender.example>\r\n"
    b"To: user@receiver.example\r\n"
    b"Subject: November offers\r\n"
    b"Date: Tue, 24 Nov 2026 10:00:00 +0000\r\n"
    b"Message-ID: <20261124100000.4f2a9c@sender.example>\r\n"
    b"List-Unsubscribe: <https://sender.example/unsub?u=abc>, <mailto:unsub@sender.example>\r\n"
    b"List-Unsubscribe-Post: List-Unsubscribe=One-Click\r\n"
    b"MIME-Version: 1.0\r\n"
    b"Content-Type: text/plain; charset=utf-8\r\n"
    b"\r\n"
    b"Hello.\r\n"
)
ZONE = {
    "sender.example": [("TXT", '"v=spf1 ip4:192.0.2.0/24 -all"')],
    "_dmarc.sender.example": [("TXT", '"v=DMARC1; p=reject"')],
    "s1._domainkey.sender.example": [("TXT", '"v=DKIM1; k=rsa; p="')],
}
CHECKS = (headers.check, unsubscribe.check, receiver.check)
SETTINGS = settings(
    max_examples=150,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)


def audit(raw: bytes, **envelope) -> None:
    ctx = make_context(
        RawMessage("fuzz.eml", raw),
        Resolver(memory_backend(ZONE)),
        envelope=EnvelopeOptions(**envelope),
        now=datetime(2026, 11, 24, 12, tzinfo=UTC),
    )
    json.dumps(ctx.envelope.hops, ensure_ascii=False).encode("utf-8")

    async def run_all() -> list[CheckResult]:
        return [await check(ctx) for check in CHECKS]

    for result in asyncio.run(run_all()):
        assert isinstance(result, CheckResult)
        json.dumps(result.facts, ensure_ascii=False).encode("utf-8")
        for finding in result.findings:
            assert finding.rule.id and finding.message


def test_the_valid_message_is_clean_enough():
    audit(VALID)
    ctx = make_context(RawMessage("v.eml", VALID), Resolver(memory_backend(ZONE)))
    result = asyncio.run(unsubscribe.check(ctx))
    # the signing path ran and decided: DKIM finds the key revoked (p= is empty), so no passing
    # signature covers List-Unsubscribe
    assert result.facts["unsubscribe"]["signed"] == "unsigned"


@SETTINGS
@given(st.binary(max_size=3000))
def test_random_bytes(data):
    audit(data)


_BYTES = st.sampled_from(
    [b"\x00", b"\xff", b"\r", b"\n", b"\r\n", b" ", b":", b";", b"(", b")", b"<", b">", b'"',
     b"=", b"@", b"[", b"]", b"\\", b"\r\n\r\n", b"\r\n ", b"=?utf-8?q?", b"\xc3", b"From: "]
)  # fmt: skip
_MUTATION = st.one_of(
    st.tuples(st.just("flip"), st.integers(0, len(VALID) - 1), st.integers(1, 255)),
    st.tuples(st.just("insert"), st.integers(0, len(VALID)), _BYTES),
    st.tuples(st.just("delete"), st.integers(0, len(VALID) - 1), st.integers(1, 40)),
    st.tuples(st.just("truncate"), st.integers(0, len(VALID)), st.just(0)),
    st.tuples(st.just("duplicate"), st.integers(0, 40), st.just(0)),
)


def mutate(raw: bytes, mutations) -> bytes:
    data = bytearray(raw)
    for op, position, arg in mutations:
        position = min(position, len(data))
        if op == "flip" and position < len(data):
            data[position] ^= arg
        elif op == "insert":
            data[position:position] = arg
        elif op == "delete":
            del data[position : position + arg]
        elif op == "truncate":
            del data[position:]
        elif op == "duplicate":
            lines = bytes(data).split(b"\n")
            if lines:
                line = lines[position % len(lines)]
                lines.insert(position % len(lines), line)
                data = bytearray(b"\n".join(lines))
    return bytes(data)


@SETTINGS
@given(st.lists(_MUTATION, min_size=1, max_size=8))
def test_mutated_messages(mutations):
    audit(mutate(VALID, mutations))


@SETTINGS
@given(
    st.lists(_MUTATION, min_size=1, max_size=4),
    st.one_of(st.none(), st.integers(0, 6)),
    st.one_of(st.none(), st.sampled_from(["receiver.example", "sender.example", "", "."])),
)
def test_mutated_messages_with_envelope_options(mutations, trusted_hops, receiver_domain):
    audit(mutate(VALID, mutations), trusted_hops=trusted_hops, receiver_domain=receiver_domain)


@SETTINGS
@given(st.text(max_size=400))
def test_arbitrary_header_text(text):
    """Any text in the headers these checks parse themselves."""
    safe = text.replace("\r", " ").replace("\n", " ")
    raw = VALID
    for name in (b"Authentication-Results", b"List-Unsubscribe", b"From", b"Date", b"Received"):
        raw = raw.replace(name + b": ", name + b": " + safe.encode("utf-8", "surrogatepass"), 1)
    audit(raw)
