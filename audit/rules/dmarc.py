"""DMARC rules (RFC 7489; RFC 9989 where it differs)."""

from audit.model import Rule, Severity

DMARC_MISSING = Rule(
    "DMARC001", "dmarc-missing", Severity.HIGH, "The domain publishes no DMARC record"
)
DMARC_MULTIPLE = Rule(
    "DMARC002", "dmarc-multiple-records", Severity.HIGH, "More than one DMARC record"
)
DMARC_SYNTAX = Rule(
    "DMARC003", "dmarc-syntax-error", Severity.HIGH, "The DMARC record does not parse"
)
DMARC_POLICY_NONE = Rule(
    "DMARC101", "dmarc-policy-none", Severity.MEDIUM, "DMARC policy does not enforce"
)
DMARC_PARTIAL_PCT = Rule(
    "DMARC102", "dmarc-partial-pct", Severity.LOW, "pct below 100 applies the policy to some mail"
)
DMARC_NO_RUA = Rule(
    "DMARC103", "dmarc-no-aggregate-reports", Severity.LOW, "No rua: no aggregate reports"
)
DMARC_REPORT_UNAUTHORIZED = Rule(
    "DMARC201",
    "dmarc-report-destination-unauthorized",
    Severity.MEDIUM,
    "An external report destination has not authorized the reports",
)
DMARC_INHERITED = Rule(
    "DMARC004",
    "dmarc-inherited-from-org-domain",
    Severity.INFO,
    "The domain has no record of its own; its organizational domain's policy applies",
)
DMARC_RFC9989_DIFFERS = Rule(
    "DMARC005",
    "dmarc-rfc9989-differs",
    Severity.LOW,
    "RFC 7489 and RFC 9989 receivers read this policy differently",
)
DMARC_SUBDOMAIN_NONE = Rule(
    "DMARC104",
    "dmarc-subdomain-policy-none",
    Severity.LOW,
    "sp=none leaves subdomains unprotected while the domain enforces",
)
DMARC_FAIL = Rule(
    "DMARC301", "dmarc-fail", Severity.HIGH, "The message fails DMARC: no aligned SPF or DKIM pass"
)
DMARC_NO_POLICY = Rule(
    "DMARC302",
    "dmarc-no-policy",
    Severity.MEDIUM,
    "The From domain publishes no DMARC policy",
)
