"""ARC chain validation for one message (RFC 8617)."""

from audit.model import Rule, Severity

ARC_CHAIN_INVALID = Rule(
    "ARC301",
    "arc-chain-invalid",
    Severity.MEDIUM,
    "The message's ARC chain does not validate (cv=fail)",
)
