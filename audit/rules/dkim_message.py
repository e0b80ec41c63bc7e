"""DKIM as a receiver verifies one message's signatures (RFC 6376 6, RFC 8301, RFC 8463)."""

from audit.model import Rule, Severity

DKIM_SIGNATURE_MISSING = Rule(
    "DKIM301",
    "dkim-signature-missing",
    Severity.HIGH,
    "The message carries no DKIM-Signature header",
)
DKIM_SIGNATURE_INVALID = Rule(
    "DKIM302",
    "dkim-signature-invalid",
    Severity.HIGH,
    "A DKIM signature does not verify (body hash, signature, key or tags)",
)
DKIM_PARTIAL_BODY = Rule(
    "DKIM303",
    "dkim-partial-body",
    Severity.MEDIUM,
    "A DKIM signature covers only the first l= bytes of the body: text can be appended",
)
DKIM_SIGNATURE_EXPIRED = Rule(
    "DKIM304",
    "dkim-signature-expired",
    Severity.HIGH,
    "A DKIM signature's x= expiry is before the verification time",
)
DKIM_FROM_NOT_SIGNED = Rule(
    "DKIM305",
    "dkim-from-not-signed",
    Severity.HIGH,
    "A DKIM signature's h= does not include From, so receivers must ignore it",
)
DKIM_FROM_NOT_OVERSIGNED = Rule(
    "DKIM306",
    "dkim-from-not-oversigned",
    Severity.LOW,
    "A passing DKIM signature lists From only as often as it appears: a From can be added",
)
DKIM_WEAK_KEY_IN_SIGNATURE = Rule(
    "DKIM307",
    "dkim-weak-key-in-signature",
    Severity.MEDIUM,
    "A DKIM signature verifies with an RSA key shorter than 2048 bits",
)
