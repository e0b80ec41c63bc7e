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
BIMI_LOGO_UNREACHABLE = Rule(
    "BIMI003",
    "bimi-logo-unreachable",
    Severity.MEDIUM,
    "The BIMI logo (l=) cannot be fetched over HTTPS with a valid certificate",
)
BIMI_LOGO_INVALID_SVG = Rule(
    "BIMI004",
    "bimi-logo-invalid-svg",
    Severity.MEDIUM,
    "The BIMI logo is not a valid SVG Tiny Portable/Secure file",
)
BIMI_VMC_INVALID = Rule(
    "BIMI005",
    "bimi-vmc-invalid",
    Severity.MEDIUM,
    "The BIMI evidence document (a=, a VMC or CMC) cannot be fetched or is not valid",
)
BIMI_NO_VMC = Rule(
    "BIMI101",
    "bimi-no-vmc",
    Severity.LOW,
    "The BIMI record names no VMC/CMC (a=): Gmail and Apple Mail show no logo",
)
BIMI_FETCH_NOT_TESTABLE = Rule(
    "BIMI301",
    "bimi-fetch-not-testable",
    Severity.MEDIUM,
    "Fetching the BIMI logo or VMC timed out, so it could not be judged",
    temperror=True,
)
