"""DNS-level rules shared by every family."""

from audit.model import Rule, Severity

DNS_TEMPERROR = Rule(
    "DNS001",
    "dns-temperror",
    Severity.MEDIUM,
    "A DNS lookup timed out or failed, so a verdict could not be reached",
    temperror=True,
)
