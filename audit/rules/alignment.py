"""Identifier alignment (RFC 7489 3.1): a pass only counts for DMARC when it is aligned."""

from audit.model import Rule, Severity

ALN_DKIM_NOT_ALIGNED = Rule(
    "ALN301",
    "dkim-not-aligned",
    Severity.MEDIUM,
    "DKIM passes, but no passing signature's d= aligns with the From domain",
)
ALN_SPF_NOT_ALIGNED = Rule(
    "ALN302",
    "spf-not-aligned",
    Severity.MEDIUM,
    "SPF passes, but the MAIL FROM domain does not align with the From domain",
)
