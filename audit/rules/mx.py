"""MX (RFC 5321, RFC 7505) and reverse DNS rules."""

from audit.model import Rule, Severity

MX_MISSING = Rule(
    "MX001", "mx-missing", Severity.MEDIUM, "No MX record: mail falls back to the implicit MX"
)
MX_NULL = Rule("MX002", "mx-null", Severity.INFO, "Null MX: the domain accepts no mail")
MX_HOST_UNRESOLVABLE = Rule(
    "MX003", "mx-host-unresolvable", Severity.HIGH, "An MX host has no address"
)
MX_TARGET_CNAME = Rule(
    "MX004", "mx-target-is-cname", Severity.MEDIUM, "An MX host name is a CNAME (RFC 5321 5.1)"
)
PTR_MISSING = Rule("PTR001", "ptr-missing", Severity.MEDIUM, "An MX address has no PTR record")
PTR_NOT_FCRDNS = Rule(
    "PTR002",
    "ptr-not-forward-confirmed",
    Severity.MEDIUM,
    "An MX address's PTR name does not resolve back to it",
)
MX_IP_LITERAL = Rule(
    "MX005", "mx-target-is-ip-literal", Severity.HIGH, "An MX record names an IP address"
)
MX_NULL_MIXED = Rule(
    "MX006", "mx-null-mixed", Severity.HIGH, "A null MX is published beside other MX records"
)
