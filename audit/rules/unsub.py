"""One-click unsubscribe (RFC 2369, RFC 8058) as Gmail and Yahoo require it of bulk senders."""

from audit.model import Rule, Severity

UNSUB_MISSING = Rule(
    "UNSUB301",
    "list-unsubscribe-missing",
    Severity.MEDIUM,
    "The message has no List-Unsubscribe header",
)
UNSUB_ONE_CLICK_MISSING = Rule(
    "UNSUB302",
    "one-click-missing",
    Severity.MEDIUM,
    "No RFC 8058 one-click unsubscribe: an https URI plus List-Unsubscribe-Post",
)
UNSUB_NOT_SIGNED = Rule(
    "UNSUB303",
    "unsubscribe-not-signed",
    Severity.MEDIUM,
    "No passing DKIM signature covers both List-Unsubscribe and List-Unsubscribe-Post",
)
UNSUB_MAILTO_ONLY = Rule(
    "UNSUB304",
    "mailto-only",
    Severity.MEDIUM,
    "List-Unsubscribe offers only mailto: URIs; Gmail and Yahoo need https one-click",
)
