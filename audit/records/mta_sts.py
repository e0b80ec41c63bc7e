"""MTA-STS policy indicator records (RFC 8461 3.1). Pure: no I/O."""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any

from audit.records.ext_fields import read_fields
from audit.records.tag_list import FIELDS, first_tag

_ID = re.compile(r"^[A-Za-z0-9]{1,32}$")


def is_sts_record(txt: str) -> bool:
    """RFC 8461 3.1: records not starting with `v=STSv1` are discarded."""
    return first_tag(txt, FIELDS) == ("v", "STSv1")


@dataclass
class StsRecord:
    raw: str
    fields: dict[str, str] = field(default_factory=dict)
    policy_id: str | None = None
    errors: list[str] = field(default_factory=list)

    @property
    def valid(self) -> bool:
        return not self.errors

    def to_dict(self) -> dict[str, Any]:
        return {"raw": self.raw, "fields": self.fields, "id": self.policy_id, "errors": self.errors}


def parse_sts_record(txt: str) -> StsRecord:
    """RFC 8461 3.1: `v=STSv1` first, `id=` 1-32 letters or digits, other fields extensions of
    the sts-ext-name / sts-ext-value grammar; anything else makes the record invalid."""
    record = StsRecord(raw=txt)
    record.fields = read_fields(txt, "STSv1", ("id",), record.errors)
    policy_id = record.fields.get("id")
    if policy_id is None:
        record.errors.append("id= is missing: senders cannot tell when the policy changes")
    elif not _ID.match(policy_id):
        record.errors.append(f"id={policy_id} must be 1-32 letters or digits")
    else:
        record.policy_id = policy_id
    return record
