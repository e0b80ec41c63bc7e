"""What Gmail displays next to the sender."""

from audit.model import Rule, Severity

VIA_SHOWN = Rule(
    "VIA301",
    "gmail-shows-via",
    Severity.LOW,
    'Gmail shows "via another-domain" next to the sender',
)
