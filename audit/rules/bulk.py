"""Bulk-sender requirements of Gmail, Yahoo and Outlook (2024-2025)."""

from audit.model import Rule, Severity

BULK_UNMET = Rule(
    "BULK301",
    "bulk-requirements-unmet",
    Severity.MEDIUM,
    "The message misses a mailbox provider's sender requirements",
)
