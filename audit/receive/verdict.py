"""The `receive` check: what only the receiving end of the SMTP session can judge.

It reads the true envelope (facts first: peer, HELO, MAIL FROM, RCPT, TLS, size) and the message
as the sender sent it (before the inbox added its own Return-Path and Received).
"""

from __future__ import annotations

import email
import email.policy
import re
from dataclasses import dataclass

from audit.message.envelope import parse_hops
from audit.model import CheckResult, Finding
from audit.receive.envelope import TrueEnvelope
from audit.rules.rcv import (
    RCV_ENVELOPE_DIFFERS,
    RCV_OVER_SIZE,
    RCV_SENT_WITHOUT_TLS,
    RCV_TLS_NOT_OFFERED,
)

_ADDRESS = re.compile(r"<([^<>]*)>")


@dataclass
class ReceiveContext:
    """One delivery: its envelope, the bytes as sent, and the test address it is reported as."""

    envelope: TrueEnvelope
    sent: bytes
    target: str


def _facts(env: TrueEnvelope) -> dict:
    return {
        "envelope": {
            "peer": f"{env.peer_ip}:{env.peer_port}",
            "helo": env.helo,
            "greeting": "EHLO" if env.esmtp else "HELO",
            "mail_from": env.mail_from,
            "rcpt_to": list(env.rcpt_tos),
            "arrived": env.arrived,
            "size": env.size,
        },
        "tls": {
            "offered": env.tls_offered,
            "used": env.tls,
            "version": env.tls_version,
            "cipher": env.tls_cipher,
            "bits": env.tls_bits,
        },
        "source": "the SMTP session itself (no reconstruction from headers)",
    }


def _host(name: str | None) -> str:
    return (name or "").strip().strip("[]").removeprefix("IPv6:").rstrip(".").lower()


def envelope_mismatches(env: TrueEnvelope, sent: bytes) -> list[tuple[str, list[str]]]:
    """(message, evidence) for each trace header of the sent message that contradicts the
    session: a Return-Path other than MAIL FROM, a topmost Received `by` other than HELO."""
    message = email.message_from_bytes(sent, policy=email.policy.compat32)
    found: list[tuple[str, list[str]]] = []
    for value in message.get_all("Return-Path") or []:
        text = " ".join(str(value).split())
        match = _ADDRESS.search(text)
        address = (match.group(1) if match else text).strip()
        if address.lower() != env.mail_from.lower():
            found.append(
                (
                    f"the message carries Return-Path <{address}> but MAIL FROM was "
                    f"<{env.mail_from}>",
                    [f"Return-Path: {text[:300]}", f"MAIL FROM:<{env.mail_from}>"],
                )
            )
    hops = parse_hops(message)
    if hops and hops[0].by and env.helo and _host(hops[0].by) != _host(env.helo):
        found.append(
            (
                f"the topmost Received header was written by {hops[0].by!r} but the host that "
                f"delivered greeted as {env.helo!r} from {env.peer_ip}",
                [hops[0].describe(), f"{'EHLO' if env.esmtp else 'HELO'} {env.helo}"],
            )
        )
    return found


async def check(ctx: ReceiveContext) -> CheckResult:
    env = ctx.envelope
    findings: list[Finding] = []
    if not env.tls_offered:
        findings.append(
            Finding(
                RCV_TLS_NOT_OFFERED,
                ctx.target,
                "STARTTLS was not offered (no --tls-cert/--tls-key): whether the sending path "
                "uses TLS was not tested",
                fix="start the inbox with --tls-cert and --tls-key",
            )
        )
    elif not env.tls:
        findings.append(
            Finding(
                RCV_SENT_WITHOUT_TLS,
                ctx.target,
                f"STARTTLS was offered; {env.peer_ip} ({env.helo or 'no HELO'}) sent the "
                "message in clear text",
                evidence=[f"EHLO reply offered STARTTLS; {env.peer_ip} never issued it"],
                fix="turn on opportunistic TLS where the mail leaves (Postfix: "
                "smtp_tls_security_level = may)",
            )
        )
    for message, evidence in envelope_mismatches(env, ctx.sent):
        findings.append(
            Finding(
                RCV_ENVELOPE_DIFFERS,
                ctx.target,
                message,
                evidence=evidence,
                fix="do not write Return-Path when sending; use one host name for HELO and "
                "for the Received headers the sending host writes",
            )
        )
    return CheckResult(facts=_facts(env), findings=findings)


def refused_result(env: TrueEnvelope, target: str, limit: int, reply: str) -> CheckResult:
    """A message refused for its size: the envelope, and RCV201 with the reply given."""
    finding = Finding(
        RCV_OVER_SIZE,
        target,
        f"the message was over the {limit} byte limit and was refused: {reply}",
        evidence=[reply],
        fix="send large files as links; or start the inbox with a larger --max-size",
    )
    return CheckResult(facts=_facts(env), findings=[finding])
