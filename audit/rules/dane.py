"""DANE for SMTP rules (RFC 7672): TLSA records at _25._tcp.<MX host>."""

from audit.model import Rule, Severity

DANE_TLSA_MISMATCH = Rule(
    "DANE301",
    "dane-tlsa-mismatch",
    Severity.CRITICAL,
    "No TLSA record matches the certificate the MX host presents: DANE senders will not deliver",
)
DANE_WITHOUT_DNSSEC = Rule(
    "DANE302",
    "dane-without-dnssec",
    Severity.MEDIUM,
    "TLSA records that do not validate as DNSSEC-secure: senders ignore them",
)
DANE_PKIX_USAGE = Rule(
    "DANE303",
    "dane-pkix-usage",
    Severity.LOW,
    "TLSA usage 0 (PKIX-TA) or 1 (PKIX-EE) on port 25: SMTP senders treat them as unusable",
)
