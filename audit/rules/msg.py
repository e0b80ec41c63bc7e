"""Message format (RFC 5322) and the receiver's own verdict (RFC 8601 Authentication-Results)."""

from audit.model import Rule, Severity

MSG_UNPARSEABLE = Rule(
    "MSG001",
    "message-unparseable",
    Severity.HIGH,
    "The input is not a well-formed RFC 5322 message (no header section, junk, truncated)",
)
MSG_FROM_INVALID = Rule(
    "MSG002",
    "from-invalid",
    Severity.HIGH,
    "The message does not have exactly one From header holding one valid address",
)
MSG_DATE_INVALID = Rule(
    "MSG003",
    "date-missing-or-invalid",
    Severity.MEDIUM,
    "The Date header is missing, unparseable, or far from the time the message was sent",
)
MSG_MESSAGE_ID_INVALID = Rule(
    "MSG004",
    "message-id-missing-or-invalid",
    Severity.HIGH,
    "The Message-ID header is missing or not of the form <left@right>",
)
MSG_DUPLICATE_HEADER = Rule(
    "MSG005",
    "duplicate-singleton-header",
    Severity.HIGH,
    "A header that may appear at most once (RFC 5322 3.6) appears more than once",
)
MSG_PROVIDER_IMPERSONATION = Rule(
    "MSG006",
    "from-impersonates-provider",
    Severity.HIGH,
    "From uses a mailbox provider's domain (gmail.com ...) without that provider's DKIM signature",
)
MSG_MIME_TOO_DEEP = Rule(
    "MSG007",
    "mime-too-deep",
    Severity.HIGH,
    "MIME parts nest deeper than receivers' filters descend (100 levels): the body was not walked",
)
MSG_RECEIVER_DISAGREES = Rule(
    "MSG301",
    "receiver-verdict-disagrees",
    Severity.LOW,
    "The receiver's Authentication-Results disagree with the verdict we reach now",
)
