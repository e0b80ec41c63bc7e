"""SMTP TLS Reporting records (RFC 8460 3). Pure: no I/O."""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any

from audit.records.ext_fields import read_fields
from audit.records.tag_list import FIELDS, first_tag

# tlsrpt-rua = %s"rua=" tlsrpt-uri *(*WSP "," *WSP tlsrpt-uri); commas, "!" and ";" in a URI
# MUST be encoded, and RFC 3986 has no whitespace or "<>\"{}|\\^`" in a URI.
_URI_SEP = re.compile(r"[ \t]*,[ \t]*")
_SCHEME = re.compile(r"^[A-Za-z][A-Za-z0-9+.-]*$")
_NOT_URI = re.compile(r'[\x00-\x20!"<>\\^`{|}\x7f-\uffff]')


def is_tlsrpt_record(txt: str) -> bool:
    """RFC 8460 3: records not starting with `v=TLSRPTv1` are discarded."""
    return first_tag(txt, FIELDS) == ("v", "TLSRPTv1")


@dataclass
class TlsRptRecord:
    raw: str
    fields: dict[str, str] = field(default_factory=dict)
    rua: list[str] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)

    @property
    def valid(self) -> bool:
        return not self.errors

    def to_dict(self) -> dict[str, Any]:
        return {"raw": self.raw, "fields": self.fields, "rua": self.rua, "errors": self.errors}


def parse_tlsrpt(txt: str) -> TlsRptRecord:
    """RFC 8460 3: `v=TLSRPTv1` first, `rua=` a comma-separated list of mailto: or https: URIs,
    other fields extensions of the tlsrpt-ext-name / tlsrpt-ext-value grammar."""
    record = TlsRptRecord(raw=txt)
    record.fields = read_fields(txt, "TLSRPTv1", ("rua",), record.errors)
    if "rua" not in record.fields:
        record.errors.append("rua= (where reports go) is missing")
        return record
    for uri in _URI_SEP.split(record.fields["rua"]):
        problem = _uri_problem(uri)
        if problem:
            record.errors.append(problem)
        else:
            record.rua.append(uri)
    return record


def _uri_problem(uri: str) -> str | None:
    """Why one rua= entry is not a tlsrpt-uri (RFC 3986 URI, mailto: or https:), or None.
    A URI holds no whitespace: text after it (`rua=mailto:a@b.example x`) is not a URI."""
    scheme, colon, rest = uri.partition(":")
    if not colon or not rest or not _SCHEME.match(scheme):
        return f"rua= value {uri!r} is not a URI"
    if _NOT_URI.search(uri):
        return (
            f"rua= {uri!r} is not a URI: it holds whitespace, '!' or another character a URI "
            "cannot have (text after the URI?)"
        )
    if scheme.lower() == "mailto":
        if "@" not in rest or rest.startswith("@") or rest.endswith("@"):
            return f"rua= {uri!r} is not a valid mailto: address"
    elif scheme.lower() == "https":
        if not rest.startswith("//") or len(rest) <= 2:
            return f"rua= {uri!r} is not a valid https: URI"
    else:
        return f"rua= {uri!r}: only mailto: and https: are allowed"
    return None
