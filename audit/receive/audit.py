"""The audit of one arrival: the message audit with the true envelope, plus the receive check.

The message is audited as delivered (with the inbox's Return-Path and Received on top, which is
what a mailbox would hold), with the session's peer IP, HELO and MAIL FROM given outright
(EnvelopeOptions.given_by: no reconstruction) and the arrival time as the clock. A crash
anywhere becomes a stored error outcome, never a lost message.
"""

from __future__ import annotations

import time

from audit import __version__
from audit.message.load import RawMessage
from audit.message_audit import EnvelopeOptions, audit_message
from audit.model import CheckOutcome, Report, Status
from audit.net.dns import Backend
from audit.receive.envelope import TrueEnvelope
from audit.receive.verdict import ReceiveContext, check, refused_result
from audit.runner import run_check

GIVEN_BY = "SMTP session"


async def audit_arrival(
    target: str,
    envelope: TrueEnvelope,
    delivered: bytes,
    sent: bytes,
    backend: Backend,
    *,
    domain: str,
    check_timeout: float,
) -> Report:
    """The report for one delivery: `receive` first, then every message check."""
    options = EnvelopeOptions(
        ip=envelope.peer_ip,
        helo=envelope.helo or None,
        mail_from=envelope.mail_from,
        trusted_hops=0,  # our own Received is on top: the edge is the session itself
        receiver_domain=domain,
        given_by=GIVEN_BY,
    )
    report = await audit_message(
        RawMessage(target, delivered),
        backend,
        envelope=options,
        now=envelope.arrived_at,
        check_timeout=check_timeout,
    )
    ctx = ReceiveContext(envelope, sent, target)
    report.outcomes.insert(0, await run_check("receive", target, check, ctx, check_timeout))
    return report


def error_report(target: str, error: str) -> Report:
    """What is stored when the audit itself failed: the message is kept, the failure shown."""
    outcome = CheckOutcome("receive", target, Status.ERROR, error=error)
    return Report(kind="message", target=target, outcomes=[outcome], tool_version=__version__)


def refused_report(target: str, envelope: TrueEnvelope, limit: int, reply: str) -> Report:
    start = time.perf_counter()
    result = refused_result(envelope, target, limit, reply)
    outcome = CheckOutcome(
        "receive",
        target,
        Status.COMPLETED,
        facts=result.facts,
        findings=result.findings,
        duration_ms=(time.perf_counter() - start) * 1000,
    )
    return Report(kind="message", target=target, outcomes=[outcome], tool_version=__version__)
