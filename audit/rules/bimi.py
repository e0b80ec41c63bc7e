"""BIMI rules (draft-brand-indicators-for-message-identification)."""

from audit.model import Rule, Severity

BIMI_INVALID = Rule(
    "BIMI001", "bimi-invalid", Severity.MEDIUM, "The default._bimi TXT record is invalid"
)
BIMI_DMARC_NOT_ENFORCING = Rule(
    "BIMI002",
    "bimi-dmarc-not-enforcing",
    Severity.MEDIUM,
    "A BIMI record is published but DMARC is not at quarantine/reject for all mail",
)
