"""MTA-STS rules (RFC 8461)."""

from audit.model import Rule, Severity

STS_MISSING = Rule(
    "STS001", "mta-sts-missing", Severity.LOW, "No MTA-STS record: inbound TLS can be downgraded"
)
STS_RECORD_INVALID = Rule(
    "STS002", "mta-sts-record-invalid", Severity.MEDIUM, "The _mta-sts TXT record is invalid"
)
STS_POLICY_UNREACHABLE = Rule(
    "STS003",
    "mta-sts-policy-unreachable",
    Severity.HIGH,
    "The MTA-STS policy file cannot be fetched over HTTPS with a valid certificate",
)
STS_POLICY_INVALID = Rule(
    "STS004",
    "mta-sts-policy-invalid",
    Severity.HIGH,
    "The MTA-STS policy file is not a valid text/plain RFC 8461 policy",
)
STS_MX_NOT_COVERED = Rule(
    "STS005",
    "mta-sts-mx-not-covered",
    Severity.HIGH,
    "An MX host matches no mx pattern of the MTA-STS policy",
)
STS_PATTERN_UNUSED = Rule(
    "STS006",
    "mta-sts-mx-pattern-unused",
    Severity.INFO,
    "An mx pattern of the MTA-STS policy matches none of the domain's MX hosts",
)
STS_TESTING_MODE = Rule(
    "STS101",
    "mta-sts-testing-mode",
    Severity.LOW,
    "The MTA-STS policy is in testing (or none) mode: senders do not enforce it",
)
STS_MAX_AGE_SHORT = Rule(
    "STS102",
    "mta-sts-max-age-short",
    Severity.LOW,
    "The MTA-STS policy's max_age is under a day",
)
STS_POLICY_NOT_TESTABLE = Rule(
    "STS301",
    "mta-sts-policy-not-testable",
    Severity.MEDIUM,
    "The MTA-STS policy fetch timed out, so the policy could not be judged",
    temperror=True,
)
STS_MX_TLS_INVALID = Rule(
    "STS007",
    "mta-sts-mx-tls-invalid",
    Severity.HIGH,
    "An MX host under an MTA-STS policy offers no STARTTLS or a certificate senders reject",
)
