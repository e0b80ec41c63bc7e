"""Project config rules (audit.toml): the gate's own input judged like any other."""

from audit.model import Rule, Severity

IGNORE_EXPIRED = Rule(
    "CFG001",
    "ignore-expired",
    Severity.HIGH,
    "An [[ignore]] in the project config is past its `until` date and no longer applies",
)
TARGET_UNREACHABLE = Rule(
    "CFG002",
    "config-target-unreachable",
    Severity.HIGH,
    "A domain the project config declares does not exist (NXDOMAIN)",
)
IGNORE_UNUSED = Rule(
    "CFG003",
    "ignore-unused",
    Severity.INFO,
    "An [[ignore]] in the project config matched no finding in this run",
)
