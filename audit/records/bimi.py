"""BIMI assertion record parser (draft-brand-indicators-for-message-identification). Pure.

`default._bimi.<domain> TXT "v=BIMI1; l=https://.../logo.svg; a=https://.../vmc.pem"`.
An empty l= with no a= (`v=BIMI1; l=; a=;`) is an explicit decline: the domain asks receivers
to show no logo. Problems are collected, never raised; warnings do not make a record invalid.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlsplit

from audit.records.tag_list import BIMI, parse_tag_list

_V_TAG_RE = re.compile(r"(^|;)\s*v\s*=\s*bimi", re.IGNORECASE)
# Tags added by later revisions of the draft than v=/l=/a=: where each is defined, so that a
# finding about one can say which text it reads.
BIMI_DRAFT = "draft-brand-indicators-for-message-identification-10"
DRAFT_TAGS = {
    "lps": f"{BIMI_DRAFT} section 4.3 (lps=, local-part as selector: true or false)",
    "avp": f"{BIMI_DRAFT} section 4.3 (avp=, avatar preference: personal or brand)",
}
AVATAR_PREFERENCES = ("personal", "brand")


@dataclass
class BimiRecord:
    raw: str
    tags: dict[str, str] = field(default_factory=dict)
    logo_url: str | None = None  # l=, None when empty or absent
    authority_url: str | None = None  # a=, None when empty or absent
    local_part_selector: bool = False  # lps=true: look up a selector made from the local-part
    avatar_preference: str = "brand"  # avp=; absent or not understood reads as brand
    errors: list[str] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)

    @property
    def valid(self) -> bool:
        return not self.errors

    @property
    def declined(self) -> bool:
        """No logo and no evidence document: the domain declines BIMI."""
        return self.valid and self.logo_url is None and self.authority_url is None

    def to_dict(self) -> dict[str, Any]:
        return {
            "raw": self.raw,
            "tags": dict(self.tags),
            "l": self.logo_url,
            "a": self.authority_url,
            "lps": self.local_part_selector,
            "avp": self.avatar_preference,
            "draft_tags": {t: DRAFT_TAGS[t] for t in DRAFT_TAGS if t in self.tags},
            "errors": list(self.errors),
            "warnings": list(self.warnings),
        }


def is_bimi_record(txt: str) -> bool:
    """A TXT record that means to be BIMI: it has a v=BIMI… tag, wherever it stands (a v= out
    of place is then a syntax error, not a record we silently skip)."""
    return bool(_V_TAG_RE.search(txt))


def parse_bimi(txt: str) -> BimiRecord:
    record = BimiRecord(raw=txt)
    parsed = parse_tag_list(txt, BIMI)
    record.errors.extend(parsed.errors)
    record.tags = parsed.tags
    if parsed.tags and parsed.first != "v":
        record.errors.append("the record must start with v=BIMI1")
    version = record.tags.get("v")
    if version is None:
        record.errors.append("v=BIMI1 is missing")
    elif version != "BIMI1":
        record.errors.append(f"v={version} is not BIMI1")
    record.logo_url = _read_uri(record, "l", "the logo")
    record.authority_url = _read_uri(record, "a", "the authority evidence (VMC)")
    if "l" not in record.tags and record.authority_url is None:
        record.errors.append("l= is missing (write l= empty to decline BIMI)")
    _read_draft_tags(record)
    if record.logo_url and not urlsplit(record.logo_url).path.lower().endswith(".svg"):
        record.warnings.append(
            f"l={record.logo_url} does not end in .svg: the logo must be an SVG Tiny PS file"
        )
    return record


def _read_uri(record: BimiRecord, tag: str, what: str) -> str | None:
    value = record.tags.get(tag, "")
    if not value:
        return None
    if "," in value:
        record.errors.append(f"{tag}= lists several URIs; only one is allowed")
        return None
    try:
        parts = urlsplit(value)
        parts.port  # noqa: B018 - raises for a port out of range
    except ValueError as exc:
        record.errors.append(f"{tag}={value} is not a valid URI: {exc}")
        return None
    if parts.scheme.lower() != "https" or not parts.netloc:
        record.errors.append(
            f"{tag}={value} is not an https:// URI ({what} must be fetched over TLS)"
        )
        return None
    return value


def _read_draft_tags(record: BimiRecord) -> None:
    """lps= and avp= (draft -10 4.3). Both are optional; a value the draft does not define is
    ignored by receivers ("Any other values MUST be ignored"), so it is a warning that names the
    draft, and the record stays valid."""
    lps = record.tags.get("lps")
    if lps in ("true", "false"):
        record.local_part_selector = lps == "true"
    elif lps is not None:
        record.warnings.append(
            f"lps={lps} is not true or false, so receivers ignore it ({DRAFT_TAGS['lps']}; "
            "a list of local-part prefixes is not that draft's form)"
        )
    avp = record.tags.get("avp")
    if avp in AVATAR_PREFERENCES:
        record.avatar_preference = avp
    elif avp is not None:
        record.warnings.append(
            f"avp={avp} is not personal or brand, so receivers ignore it and show the brand "
            f"logo ({DRAFT_TAGS['avp']})"
        )
