"""DMARC policy record parser (RFC 7489 6.3; RFC 9989 where it differs). Pure: no I/O.

The parser keeps two readings apart because receivers differ: an RFC 7489 receiver honours
pct/rf/ri and treats a record without p= as invalid (unless rua= is present), an RFC 9989 one
ignores pct/rf/ri, knows np/psd/t, and treats a missing or invalid p= as none.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any

POLICIES = ("none", "quarantine", "reject")
_TAG_RE = re.compile(r"^([A-Za-z][A-Za-z0-9_]*)\s*=\s*(.*)$", re.DOTALL)
_SIZE_RE = re.compile(r"^(\d+)([kmgt]?)$", re.IGNORECASE)
_FO_VALUES = {"0", "1", "d", "s"}


@dataclass(frozen=True)
class ReportUri:
    """One rua/ruf destination: `mailto:dmarc@example.com!10m`."""

    raw: str
    scheme: str
    address: str  # the part after the scheme, without the size limit
    domain: str | None  # the mailbox domain for mailto:, host for https:
    size_limit: str | None = None

    def to_dict(self) -> dict[str, Any]:
        return {
            "uri": self.raw,
            "scheme": self.scheme,
            "address": self.address,
            "domain": self.domain,
            "size_limit": self.size_limit,
        }


@dataclass
class DmarcRecord:
    raw: str
    tags: dict[str, str] = field(default_factory=dict)
    policy: str | None = None  # p= as RFC 7489 reads it (None: invalid/missing)
    subdomain_policy: str | None = None  # sp=
    nonexistent_policy: str | None = None  # np= (RFC 9989)
    adkim: str = "r"
    aspf: str = "r"
    pct: int = 100
    fo: list[str] = field(default_factory=lambda: ["0"])
    rua: list[ReportUri] = field(default_factory=list)
    ruf: list[ReportUri] = field(default_factory=list)
    psd: str | None = None  # y / n / u (RFC 9989)
    testing: bool = False  # t=y (RFC 9989)
    errors: list[str] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)

    @property
    def valid(self) -> bool:
        return not self.errors

    @property
    def policy_rfc9989(self) -> str:
        """RFC 9989 4.7: a missing or invalid p= is treated as none."""
        return self.policy if self.policy in POLICIES else "none"

    def effective_policy(self, for_subdomain: bool) -> str | None:
        """The disposition asked for mail from the policy domain itself or a subdomain."""
        if for_subdomain and self.subdomain_policy:
            return self.subdomain_policy
        return self.policy

    def to_dict(self) -> dict[str, Any]:
        return {
            "raw": self.raw,
            "tags": dict(self.tags),
            "p": self.policy,
            "sp": self.subdomain_policy,
            "np": self.nonexistent_policy,
            "adkim": self.adkim,
            "aspf": self.aspf,
            "pct": self.pct,
            "fo": list(self.fo),
            "rua": [u.to_dict() for u in self.rua],
            "ruf": [u.to_dict() for u in self.ruf],
            "psd": self.psd,
            "t": "y" if self.testing else None,
            "errors": list(self.errors),
            "warnings": list(self.warnings),
        }


def is_dmarc_record(txt: str) -> bool:
    """RFC 7489 6.6.3: only TXT records that begin with v=DMARC1 are DMARC records. The tag
    name is case-insensitive, the value is not (ABNF %x44 %x4d %x41 %x52 %x43 %x31)."""
    head = txt.lstrip().split(";", 1)[0].replace(" ", "").replace("\t", "")
    return head[:2].lower() == "v=" and head[2:] == "DMARC1"


def parse_report_uris(value: str, tag: str, errors: list[str]) -> list[ReportUri]:
    uris = []
    for part in value.split(","):
        part = part.strip()
        if not part:
            errors.append(f"{tag}= has an empty URI")
            continue
        body, _, size = part.partition("!")
        if size and not _SIZE_RE.match(size):
            errors.append(f"{tag}= URI {part!r} has an invalid size limit {size!r}")
        scheme, colon, rest = body.partition(":")
        scheme = scheme.lower()
        if not colon or not rest:
            errors.append(f"{tag}= value {part!r} is not a URI (expected mailto:address)")
            continue
        domain: str | None = None
        if scheme == "mailto":
            local, at, host = rest.rpartition("@")
            if not at or not local or not host or "." not in host:
                errors.append(f"{tag}= {part!r} is not a valid mailto: address")
                continue
            domain = host.lower().rstrip(".")
        elif scheme in ("https", "http"):
            host = rest.lstrip("/").split("/", 1)[0].split(":", 1)[0]
            domain = host.lower() or None
        else:
            errors.append(f"{tag}= URI {part!r} uses scheme {scheme!r}; reports go to mailto:")
            continue
        uris.append(ReportUri(part, scheme, rest, domain, size or None))
    return uris


def parse_dmarc(txt: str) -> DmarcRecord:
    """Parse one DMARC TXT record; problems are collected, never raised."""
    record = DmarcRecord(raw=txt)
    parts = [p.strip() for p in txt.split(";")]
    if parts and parts[-1] == "":
        parts.pop()
    seen: list[str] = []
    for index, part in enumerate(parts):
        if not part:
            record.warnings.append("empty tag (double ';')")
            continue
        match = _TAG_RE.match(part)
        if not match:
            record.errors.append(f"{part!r} is not a tag=value pair")
            continue
        name, value = match.group(1).lower(), match.group(2).strip()
        if name in record.tags:
            record.errors.append(f"tag {name}= appears more than once")
            continue
        record.tags[name] = value
        seen.append(name)
        if index == 0 and name != "v":
            record.errors.append("the record must start with v=DMARC1")
    if record.tags.get("v") != "DMARC1":
        if "v" not in record.tags:
            record.errors.append("v=DMARC1 is missing")
        elif record.tags["v"].upper() == "DMARC1":
            record.warnings.append(f"v={record.tags['v']} should be written v=DMARC1")
        else:
            record.errors.append(f"v={record.tags['v']} is not DMARC1")
    if len(seen) > 1 and seen[0] == "v" and seen[1] != "p" and "p" in record.tags:
        record.warnings.append("RFC 7489 expects p= right after v= (RFC 9989 does not)")
    _read_policy_tags(record)
    _read_modes(record)
    _read_reporting(record)
    return record


def _read_policy_tags(record: DmarcRecord) -> None:
    tags = record.tags
    if "p" in tags:
        value = tags["p"].lower()
        if value in POLICIES:
            record.policy = value
        else:
            record.errors.append(f"p={tags['p']} is not none, quarantine or reject")
    elif "rua" in tags:
        # RFC 7489 6.6.3: a record without p= but with a valid rua= is read as p=none.
        record.policy = "none"
        record.warnings.append("p= is missing; receivers read the record as p=none")
    else:
        record.errors.append("p= is missing")
    for tag, attr in (("sp", "subdomain_policy"), ("np", "nonexistent_policy")):
        if tag in tags:
            value = tags[tag].lower()
            if value in POLICIES:
                setattr(record, attr, value)
            else:
                record.errors.append(f"{tag}={tags[tag]} is not none, quarantine or reject")
    if "psd" in tags:
        value = tags["psd"].lower()
        if value in ("y", "n", "u"):
            record.psd = value
        else:
            record.errors.append(f"psd={tags['psd']} is not y, n or u")
    if "t" in tags:
        value = tags["t"].lower()
        if value in ("y", "n"):
            record.testing = value == "y"
        else:
            record.errors.append(f"t={tags['t']} is not y or n")
    if "pct" in tags:
        value = tags["pct"]
        if value.isdigit() and 0 <= int(value) <= 100:
            record.pct = int(value)
        else:
            record.errors.append(f"pct={value} is not a whole number from 0 to 100")
    for removed in ("pct", "rf", "ri"):
        if removed in tags:
            record.warnings.append(f"{removed}= is removed in RFC 9989 and ignored by its readers")


def _read_modes(record: DmarcRecord) -> None:
    for tag in ("adkim", "aspf"):
        if tag in record.tags:
            value = record.tags[tag].lower()
            if value in ("r", "s"):
                setattr(record, tag, value)
            else:
                record.errors.append(f"{tag}={record.tags[tag]} is not r (relaxed) or s (strict)")


def _read_reporting(record: DmarcRecord) -> None:
    tags = record.tags
    if "rua" in tags:
        record.rua = parse_report_uris(tags["rua"], "rua", record.errors)
    if "ruf" in tags:
        record.ruf = parse_report_uris(tags["ruf"], "ruf", record.errors)
    if "fo" in tags:
        options = [o.strip() for o in tags["fo"].split(":")]
        bad = [o for o in options if o not in _FO_VALUES]
        if bad:
            record.errors.append(f"fo={tags['fo']} has unknown options {', '.join(bad)}")
        record.fo = [o for o in options if o in _FO_VALUES] or ["0"]
    if "ri" in tags and not tags["ri"].isdigit():
        record.errors.append(f"ri={tags['ri']} is not a number of seconds")
    if "rf" in tags and tags["rf"].lower() not in ("afrf",):
        record.errors.append(f"rf={tags['rf']} is not afrf")


def with_policy(record: DmarcRecord, policy: str) -> str:
    """The record text with p= set to `policy` (and pct removed): the next step to publish."""
    return with_tags(record, p=policy)


def with_tags(record: DmarcRecord, **changes: str) -> str:
    """The record text with `changes` applied (p= right after v=), pct removed."""
    tags = {k: v for k, v in record.tags.items() if k not in ("v", "pct")}
    tags.update(changes)
    policy = tags.pop("p", None)
    out = ["v=DMARC1"] + ([f"p={policy}"] if policy else [])
    out += [f"{name}={value}" for name, value in tags.items()]
    return "; ".join(out)
