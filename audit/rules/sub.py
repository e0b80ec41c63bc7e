"""Submission relay rules (RFC 8314, RFC 3207, RFC 4954 4)."""

from audit.model import Rule, Severity

SUB_AUTH_BEFORE_TLS = Rule(
    "SUB301",
    "submission-auth-before-tls",
    Severity.HIGH,
    "The submission relay advertises AUTH PLAIN/LOGIN before TLS",
)
