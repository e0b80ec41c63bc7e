"""Email service provider detection (the providers a domain's DNS shows it sends through)."""

from audit.model import Rule, Severity

ESP_DETECTED = Rule(
    "ESP001",
    "esp-detected",
    Severity.INFO,
    "A sending or mailbox provider was detected, and from which record",
)
