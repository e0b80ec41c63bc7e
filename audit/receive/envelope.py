"""The true envelope of one SMTP session, and the trace headers the inbox adds for it.

As the final delivery the inbox writes what any MTA writes (RFC 5321 4.4): a Received header
`from HELO ([IP]) by DOMAIN (audit receive) with ESMTPS (TLS...) id N for <RCPT>; DATE` and a
Return-Path holding MAIL FROM. Everything in them comes from the session, never from the
message; a HELO that is not a host name or address literal is shown quoted in a comment.
"""

from __future__ import annotations

import re
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime
from email.utils import format_datetime
from typing import Any

_HOSTISH = re.compile(r"(?:[A-Za-z0-9_-]{1,63}\.?)+\Z|\[[0-9A-Fa-f:.IPv]{2,60}\]\Z")
_UNSAFE = re.compile(r"[^\x21-\x7e]|[()<>\\]")


@dataclass
class TrueEnvelope:
    """What the SMTP session established; `tls_version` is None for a session in clear."""

    peer_ip: str
    peer_port: int
    helo: str  # as sent after HELO/EHLO ("" when the client sent none)
    esmtp: bool  # EHLO (True) or HELO
    mail_from: str  # "" is the null reverse-path <>
    rcpt_tos: list[str]
    arrived: str  # ISO 8601 UTC
    tls_offered: bool
    tls_version: str | None = None
    tls_cipher: str | None = None
    tls_bits: int | None = None
    size: int = 0
    extra: dict[str, Any] = field(default_factory=dict)

    @property
    def tls(self) -> bool:
        return self.tls_version is not None

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> TrueEnvelope:
        return cls(**{k: v for k, v in data.items() if k in cls.__dataclass_fields__})

    @property
    def arrived_at(self) -> datetime:
        return datetime.fromisoformat(self.arrived).astimezone(UTC)


def _safe(text: str, limit: int = 200) -> str:
    """Printable ASCII without comment delimiters: header-safe whatever the client sent."""
    return _UNSAFE.sub("?", text)[:limit]


def _protocol(envelope: TrueEnvelope) -> str:
    """RFC 3848 `with` keywords: ESMTPS when STARTTLS was used, ESMTP after EHLO, else SMTP."""
    if envelope.tls:
        return "ESMTPS"
    return "ESMTP" if envelope.esmtp else "SMTP"


def received_header(envelope: TrueEnvelope, domain: str, message_id: int) -> str:
    """Our Received header (value only, folded), RFC 5321 4.4 Time-stamp-line form."""
    literal = f"[IPv6:{envelope.peer_ip}]" if ":" in envelope.peer_ip else f"[{envelope.peer_ip}]"
    helo = envelope.helo.strip()
    if helo and _HOSTISH.match(helo):
        from_clause = f"from {helo} ({literal})"
    else:
        from_clause = f'from unknown ({literal} helo="{_safe(helo)}")'
    tls = ""
    if envelope.tls:
        bits = f" ({envelope.tls_bits} bits)" if envelope.tls_bits else ""
        tls = f" (using {_safe(envelope.tls_version or '')} with cipher " \
              f"{_safe(envelope.tls_cipher or '')}{bits})"  # fmt: skip
    for_clause = ""
    if len(envelope.rcpt_tos) == 1:  # RFC 5321 7.2: name one recipient only
        for_clause = f"\r\n\tfor <{_safe(envelope.rcpt_tos[0], 320)}>"
    date = format_datetime(envelope.arrived_at)
    return (
        f"{from_clause}\r\n\tby {domain} (audit receive) with {_protocol(envelope)}{tls}"
        f"\r\n\tid {message_id}{for_clause}; {date}"
    )


def trace_headers(envelope: TrueEnvelope, domain: str, message_id: int) -> bytes:
    """Return-Path and Received lines to put on top of the message as delivered."""
    return (
        f"Return-Path: <{_safe(envelope.mail_from, 320)}>\r\n"
        f"Received: {received_header(envelope, domain, message_id)}\r\n"
    ).encode("ascii")
