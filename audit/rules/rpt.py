"""SMTP TLS Reporting rules (RFC 8460)."""

from audit.model import Rule, Severity

RPT_MISSING = Rule(
    "RPT001", "tlsrpt-missing", Severity.LOW, "No TLS-RPT record: TLS failures go unreported"
)
RPT_INVALID = Rule(
    "RPT002", "tlsrpt-invalid", Severity.MEDIUM, "The _smtp._tls TXT record is invalid"
)
