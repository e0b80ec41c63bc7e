"""SMTP TLS Reporting records (RFC 8460 3). Pure: no I/O."""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any

_FIELD = re.compile(r"^([A-Za-z0-9_.-]+)=(.*)$", re.DOTALL)


def is_tlsrpt_record(txt: str) -> bool:
    """RFC 8460 3: records not starting with `v=TLSRPTv1` are discarded."""
    return txt.lstrip().split(";", 1)[0].strip() == "v=TLSRPTv1"


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
    record = TlsRptRecord(raw=txt)
    parts = [p.strip() for p in txt.split(";")]
    if parts and not parts[-1]:
        parts.pop()
    for index, part in enumerate(parts):
        match = _FIELD.match(part)
        if not match:
            record.errors.append(f"{part!r} is not a field=value pair")
            continue
        name, value = match.group(1), match.group(2).strip()
        if name in record.fields:
            record.errors.append(f"{name}= appears more than once")
            continue
        record.fields[name] = value
        if index == 0 and (name != "v" or value != "TLSRPTv1"):
            record.errors.append("the record must start with v=TLSRPTv1")
    if "rua" not in record.fields:
        record.errors.append("rua= (where reports go) is missing")
        return record
    for uri in (u.strip() for u in record.fields["rua"].split(",")):
        scheme, colon, rest = uri.partition(":")
        if not colon or not rest:
            record.errors.append(f"rua= value {uri!r} is not a URI")
        elif scheme.lower() == "mailto":
            if "@" not in rest or rest.startswith("@") or rest.endswith("@"):
                record.errors.append(f"rua= {uri!r} is not a valid mailto: address")
            else:
                record.rua.append(uri)
        elif scheme.lower() == "https":
            if not rest.startswith("//") or len(rest) <= 2:
                record.errors.append(f"rua= {uri!r} is not a valid https: URI")
            else:
                record.rua.append(uri)
        else:
            record.errors.append(f"rua= {uri!r}: only mailto: and https: are allowed")
    return record
