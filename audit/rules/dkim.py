"""DKIM key rules (RFC 6376, RFC 8301, RFC 8463)."""

from audit.model import Rule, Severity

DKIM_NO_KEY = Rule(
    "DKIM001", "dkim-no-key-found", Severity.MEDIUM, "No DKIM key found at any selector tried"
)
DKIM_KEY_INVALID = Rule(
    "DKIM002", "dkim-key-invalid", Severity.HIGH, "A DKIM key record does not parse"
)
DKIM_KEY_REVOKED = Rule(
    "DKIM003", "dkim-key-revoked", Severity.LOW, "A DKIM key record is revoked (empty p=)"
)
DKIM_WEAK_KEY = Rule(
    "DKIM101", "dkim-weak-key", Severity.MEDIUM, "An RSA DKIM key shorter than 2048 bits"
)
DKIM_TESTING = Rule(
    "DKIM102", "dkim-testing-mode", Severity.LOW, "A DKIM key is flagged t=y (testing)"
)
