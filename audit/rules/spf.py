"""SPF rules (RFC 7208)."""

from audit.model import Rule, Severity

SPF_MISSING = Rule("SPF001", "spf-missing", Severity.HIGH, "The domain publishes no SPF record")
SPF_MULTIPLE = Rule(
    "SPF002", "spf-multiple-records", Severity.HIGH, "More than one SPF record: a permerror"
)
SPF_SYNTAX = Rule("SPF003", "spf-syntax-error", Severity.HIGH, "The SPF record does not parse")
SPF_PERMISSIVE_ALL = Rule(
    "SPF101", "spf-permissive-all", Severity.HIGH, "+all or ?all lets any host pass or go neutral"
)
SPF_NO_ALL = Rule("SPF102", "spf-no-all", Severity.MEDIUM, "The SPF record ends without an all")
SPF_PTR = Rule(
    "SPF103", "spf-ptr-mechanism", Severity.LOW, "The ptr mechanism is slow and deprecated"
)
SPF_TOO_MANY_LOOKUPS = Rule(
    "SPF201", "spf-too-many-lookups", Severity.HIGH, "More than 10 DNS lookups: a permerror"
)
SPF_TOO_MANY_VOID = Rule(
    "SPF202", "spf-too-many-void-lookups", Severity.HIGH, "More than 2 void lookups: a permerror"
)
SPF_INCLUDE_WITHOUT_SPF = Rule(
    "SPF203", "spf-include-without-spf", Severity.HIGH, "An include target has no SPF record"
)
SPF_NEAR_LIMIT = Rule(
    "SPF204", "spf-lookups-near-limit", Severity.LOW, "8 to 10 DNS lookups: close to the limit"
)
SPF_INCLUDE_LOOP = Rule(
    "SPF205", "spf-include-loop", Severity.HIGH, "The include/redirect chain loops back"
)
