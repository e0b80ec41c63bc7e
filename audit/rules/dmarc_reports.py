"""Rules judged from DMARC aggregate and TLS-RPT reports (the 4xx kind: observed outcomes)."""

from audit.model import Rule, Severity

DMARC_LEGIT_SOURCE_FAILING = Rule(
    "DMARC401",
    "legitimate-source-failing",
    Severity.HIGH,
    "A sender that is yours (a provider you use or your own servers) fails DMARC in the reports",
)
DMARC_SPOOFING_OBSERVED = Rule(
    "DMARC402",
    "spoofing-observed",
    Severity.MEDIUM,
    "Reports show mail with your From domain from sources that are not yours",
)
DMARC_REJECT_NOT_SAFE = Rule(
    "DMARC403",
    "reject-not-yet-safe",
    Severity.MEDIUM,
    "A stricter DMARC policy would quarantine or reject some of your legitimate mail today",
)
RPT_TLS_FAILURES_REPORTED = Rule(
    "RPT401",
    "tls-failures-reported",
    Severity.MEDIUM,
    "TLS-RPT reports show senders failing to establish a secure session with your MX hosts",
)
