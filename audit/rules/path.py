"""Per sending path verdicts: what DMARC and Gmail will make of mail sent on the path."""

from audit.model import Rule, Severity

PATH_DMARC_FAILS = Rule(
    "PATH001",
    "path-dmarc-fails",
    Severity.HIGH,
    "Neither aligned SPF nor aligned DKIM can pass on this sending path",
)
PATH_VIA_SHOWN = Rule(
    "PATH002",
    "path-via-shown",
    Severity.LOW,
    'Gmail will show "via" or a third-party mailed-by/signed-by for this sending path',
)
