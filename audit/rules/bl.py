"""DNS blocklist rules: MX addresses on DNSBLs, the domain on RHSBLs."""

from audit.model import Rule, Severity

BL_QUERY_REFUSED = Rule(
    "BL001",
    "blocklist-query-refused",
    Severity.LOW,
    "A blocklist refused the query or answered nonsense, so the listing is unknown",
    temperror=True,
)
BL_LISTED = Rule(
    "BL301", "listed-on-blocklist", Severity.HIGH, "An MX address or the domain is on a blocklist"
)
