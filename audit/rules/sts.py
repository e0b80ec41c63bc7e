"""MTA-STS rules (RFC 8461)."""

from audit.model import Rule, Severity

STS_MISSING = Rule(
    "STS001", "mta-sts-missing", Severity.LOW, "No MTA-STS record: inbound TLS can be downgraded"
)
STS_RECORD_INVALID = Rule(
    "STS002", "mta-sts-record-invalid", Severity.MEDIUM, "The _mta-sts TXT record is invalid"
)
