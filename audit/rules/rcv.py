"""What the self-hosted test inbox (audit receive) saw in the SMTP session itself."""

from audit.model import Rule, Severity

RCV_OVER_SIZE = Rule(
    "RCV201",
    "message-over-size-limit",
    Severity.HIGH,
    "The message was larger than the inbox accepts (--max-size) and was refused with 552",
)
RCV_SENT_WITHOUT_TLS = Rule(
    "RCV301",
    "sent-without-tls",
    Severity.MEDIUM,
    "The sending path delivered without STARTTLS although the receiver offered it",
)
RCV_ENVELOPE_DIFFERS = Rule(
    "RCV302",
    "envelope-differs-from-headers",
    Severity.LOW,
    "The Return-Path or Received header the message carries disagrees with the true envelope",
)
RCV_TLS_NOT_OFFERED = Rule(
    "RCV303",
    "tls-not-offered",
    Severity.INFO,
    "The inbox offered no STARTTLS (no --tls-cert/--tls-key): the sender's TLS was not tested",
)
