"""SPF as a receiver evaluates it for one message (RFC 7208 2.6 results)."""

from audit.model import Rule, Severity

SPF_NOT_PASS = Rule(
    "SPF301",
    "spf-not-pass",
    Severity.MEDIUM,
    "SPF did not pass for the connecting IP and MAIL FROM",
)
SPF_ERROR = Rule(
    "SPF302", "spf-error", Severity.HIGH, "SPF evaluation ended in temperror or permerror"
)
