"""Return path (envelope sender / bounce domain) rules for a sending path (RFC 5321, RFC 7208,
RFC 7489 3.1.2)."""

from audit.model import Rule, Severity

RP_MISSING = Rule(
    "RP001",
    "return-path-missing",
    Severity.HIGH,
    "The path's envelope (return-path) domain does not exist",
)
RP_SPF_MISSING = Rule(
    "RP002",
    "return-path-spf-missing",
    Severity.HIGH,
    "The return-path domain publishes no SPF record",
)
RP_SPF_NOT_AUTHORIZING = Rule(
    "RP003",
    "return-path-spf-not-authorizing",
    Severity.HIGH,
    "The return-path domain's SPF does not authorize the path's senders",
)
RP_NOT_ALIGNED = Rule(
    "RP004",
    "return-path-not-aligned",
    Severity.MEDIUM,
    "The return-path domain does not align with the From domain (aspf)",
)
RP_NO_BOUNCE_ROUTE = Rule(
    "RP005",
    "return-path-no-bounce-route",
    Severity.MEDIUM,
    "The return-path domain has no MX and no address: bounces cannot come back",
)
RP_CNAME_WRONG = Rule(
    "RP006",
    "return-path-cname-wrong",
    Severity.HIGH,
    "The provider's return-path record is missing or points elsewhere",
)
