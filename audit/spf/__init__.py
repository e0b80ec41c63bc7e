"""SPF (RFC 7208): record parser, macro expansion and check_host() with a full trace."""

from audit.spf.evaluator import MAX_LOOKUPS, MAX_VOID_LOOKUPS, check_host, spf_query, valid_domain
from audit.spf.macro import MacroSyntaxError
from audit.spf.parser import (
    Mechanism,
    Modifier,
    SpfRecord,
    SpfSyntaxError,
    is_spf_record,
    parse_record,
)
from audit.spf.trace import SpfResult, TraceStep, render_trace

__all__ = [
    "MAX_LOOKUPS",
    "MAX_VOID_LOOKUPS",
    "MacroSyntaxError",
    "Mechanism",
    "Modifier",
    "SpfRecord",
    "SpfResult",
    "SpfSyntaxError",
    "TraceStep",
    "check_host",
    "is_spf_record",
    "parse_record",
    "render_trace",
    "spf_query",
    "valid_domain",
]
