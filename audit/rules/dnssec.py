"""DNSSEC rules (RFC 4033-4035): is the domain's data signed, and does it validate?"""

from audit.model import Rule, Severity

DNSSEC_UNSIGNED = Rule(
    "DNSSEC001",
    "dnssec-unsigned",
    Severity.INFO,
    "The zone is not DNSSEC-signed: answers cannot be authenticated, DANE cannot be used",
)
DNSSEC_BOGUS = Rule(
    "DNSSEC002",
    "dnssec-bogus",
    Severity.CRITICAL,
    "DNSSEC validation fails: validating resolvers answer SERVFAIL, mail to the domain bounces",
)
