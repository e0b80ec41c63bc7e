"""Rules about where the tool may connect: hosts named by DNS data (NET)."""

from audit.model import Rule, Severity

NET_ADDRESS_NOT_PUBLIC = Rule(
    "NET301",
    "address-not-public",
    Severity.MEDIUM,
    "A host named by DNS resolved to a non-public address, which was not contacted",
)
