"""The message as the inbox delivers it: what a mailbox here would hold.

On top of the message as sent: our Return-Path and Received (trace, RFC 5321 4.4) and, once the
audit is done, an Authentication-Results header (RFC 8601) stating our SPF, DKIM and DMARC
verdicts under the inbox's domain as authserv-id, written the way receivers write theirs. A
seed run reads this copy (audit/seed: a `receive` seed), so its "what the receiver concluded"
comes from a receiver whose verdict is exact.
"""

from __future__ import annotations

import re
from typing import Any

from audit.model import Report
from audit.receive.envelope import TrueEnvelope, trace_headers
from audit.receive.store import InboxStore, MessageRecord

_VALUE = re.compile(r"[^A-Za-z0-9.@_+=-]")
_RESULT = re.compile(r"[a-z]{2,12}\Z")


def _value(text: Any) -> str:
    return _VALUE.sub("", str(text or ""))[:255]


def _result(text: Any) -> str:
    value = str(text or "").lower()
    return value if _RESULT.match(value) else "none"


def authentication_results(authserv_id: str, report: Report) -> str | None:
    """`authserv-id; spf=...; dkim=...; dmarc=...` from the audit's facts (None: no facts)."""
    facts: dict[str, Any] = {}
    for outcome in report.outcomes:
        facts.update(outcome.facts)
    parts = []
    spf = facts.get("spf")
    if isinstance(spf, dict):
        identity = "smtp.helo" if spf.get("identity") == "helo" else "smtp.mailfrom"
        who = spf.get("helo") if identity == "smtp.helo" else spf.get("sender")
        parts.append(f"spf={_result(spf.get('result'))} {identity}={_value(who)}".rstrip("="))
    signatures = facts.get("dkim")
    if isinstance(signatures, list):
        for sig in signatures[:10]:
            if isinstance(sig, dict):
                parts.append(
                    f"dkim={_result(sig.get('result'))} header.d={_value(sig.get('domain'))} "
                    f"header.s={_value(sig.get('selector'))}"
                )
        if not signatures:
            parts.append("dkim=none")
    dmarc = facts.get("dmarc")
    if isinstance(dmarc, dict):
        parts.append(
            f"dmarc={_result(dmarc.get('result'))} header.from={_value(dmarc.get('from_domain'))}"
        )
    if not parts:
        return None
    return ";\r\n\t".join([_value(authserv_id), *parts])


def delivered_copy(
    envelope: TrueEnvelope, sent: bytes, domain: str, message_id: int, report: Report | None
) -> bytes:
    """Return-Path, Received, Authentication-Results (when audited), then the message."""
    results = authentication_results(domain, report) if report is not None else None
    header = f"Authentication-Results: {results}\r\n".encode("ascii") if results else b""
    return trace_headers(envelope, domain, message_id) + header + sent


def stored_copy(
    store: InboxStore, record: MessageRecord, domain: str
) -> tuple[bytes, TrueEnvelope] | None:
    """The delivered copy of a stored message and its envelope (None: refused, no bytes)."""
    loaded = store.raw(record.id)
    if loaded is None or not loaded[1]:
        return None
    envelope = TrueEnvelope.from_dict(loaded[0])
    return delivered_copy(envelope, loaded[1], domain, record.id, record.report), envelope
