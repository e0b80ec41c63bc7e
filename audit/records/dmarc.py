"""DMARC policy record parser (RFC 7489 6.3; RFC 9989 where it differs). Pure: no I/O.

Receivers differ, so the parser reads each record twice and keeps both readings:
- RFC 7489 (with RFC 9091's np=): `p` must directly follow `v` (6.3, 6.4), pct/rf/ri are tags
  whose bad values are syntax errors; psd= and t= are unknown tags, ignored.
- RFC 9989: `v` first, the other tags in any order (4.7, 4.8); pct/rf/ri are no longer tags
  and are ignored; psd= and t= are read.
Both agree (RFC 7489 6.6.3 step 6, RFC 9989 4.10.1) that a record without a valid `p`, or with
an invalid `sp` (or, in RFC 9989, `np`), is read as `p=none` when `rua` holds at least one
syntactically valid URI, and otherwise gets no DMARC processing at all. `DECIDING` names the
reading the verdicts follow; the other is stated beside it.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any

from audit.records.tag_list import DMARC, first_tag, parse_tag_list

POLICIES = ("none", "quarantine", "reject")
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


DECIDING = "rfc9989"  # the reading verdicts follow where the two RFCs differ
RFC_NAMES = {"rfc7489": "RFC 7489", "rfc9989": "RFC 9989"}
P_ORDER_ERROR = (
    "p= must directly follow v= (RFC 7489 6.3: 'the v and p tags MUST be present and MUST "
    "appear in that order'; RFC 9989 4.7 takes the tags after v= in any order)"
)
_ONE_STEP_DOWN = {"reject": "quarantine", "quarantine": "none", "none": "none"}


@dataclass(frozen=True)
class Reading:
    """How receivers following one RFC read a record: whether DMARC applies at all and with
    which policies, and what they find wrong with it."""

    rfc: str  # "rfc7489" | "rfc9989"
    applies: bool  # False: no DMARC processing (no valid p and no valid rua)
    p: str | None = None
    sp: str | None = None
    np: str | None = None
    testing: bool = False  # t=y: RFC 9989 applies one step less than the policy
    pct: int = 100  # RFC 7489 only; RFC 9989 has no pct
    fallback: str | None = None  # why the record is read as p=none or not applied
    errors: tuple[str, ...] = ()

    def policy_for(self, subdomain: bool, exists: bool | None = True) -> tuple[str | None, str]:
        """(policy, tag) for mail from the policy domain itself or from a subdomain of it that
        exists or not (RFC 9989 4.10.1; RFC 9091 3.2 np): np, then sp, then p."""
        if not self.applies:
            return None, ""
        if not subdomain:
            return self.p, "p"
        if exists is False and self.np:
            return self.np, "np"
        if self.sp:
            return self.sp, "sp"
        return self.p, "p"

    def disposition(self, policy: str | None) -> str:
        """What a receiver following this RFC does with failing mail under `policy`."""
        if policy is None:
            return "none"
        return _ONE_STEP_DOWN[policy] if self.testing else policy

    def to_dict(self) -> dict[str, Any]:
        return {
            "rfc": RFC_NAMES[self.rfc],
            "applies": self.applies,
            "p": self.p,
            "sp": self.sp,
            "np": self.np,
            "t": "y" if self.testing else None,
            "pct": self.pct if self.rfc == "rfc7489" else None,
            "fallback": self.fallback,
            "errors": list(self.errors),
        }


@dataclass
class DmarcRecord:
    raw: str
    tags: dict[str, str] = field(default_factory=dict)
    order: list[str] = field(default_factory=list)  # tag names as written
    policy: str | None = None  # p= as written, when it is none/quarantine/reject
    subdomain_policy: str | None = None  # sp=
    nonexistent_policy: str | None = None  # np= (RFC 9091, RFC 9989)
    adkim: str = "r"
    aspf: str = "r"
    pct: int = 100
    fo: list[str] = field(default_factory=lambda: ["0"])
    rua: list[ReportUri] = field(default_factory=list)  # the syntactically valid URIs only
    ruf: list[ReportUri] = field(default_factory=list)
    psd: str | None = None  # y / n / u (RFC 9989)
    testing: bool = False  # t=y (RFC 9989)
    errors: list[str] = field(default_factory=list)  # every syntax error, in either reading
    rfc7489_errors: list[str] = field(default_factory=list)  # of those, RFC 7489's alone
    rfc9989_errors: list[str] = field(default_factory=list)  # of those, RFC 9989's alone
    warnings: list[str] = field(default_factory=list)
    bad_policy_tags: dict[str, str] = field(default_factory=dict)  # p/sp/np with bad values

    @property
    def valid(self) -> bool:
        return not self.errors

    def _only(self, rfc: str, error: str) -> None:
        """An error one RFC finds and the other does not (the other ignores the tag)."""
        self.errors.append(error)
        (self.rfc7489_errors if rfc == "rfc7489" else self.rfc9989_errors).append(error)

    @property
    def rfc7489(self) -> Reading:
        """RFC 7489 6.3/6.4 and 6.6.3 step 6, with RFC 9091's np."""
        problem = None
        if "p" not in self.tags:
            problem = "p= is missing"
        elif "p" in self.bad_policy_tags:
            problem = f"p={self.tags['p']} is not valid"
        elif self.order[1:2] != ["p"]:
            problem = "p= does not directly follow v= (RFC 7489 6.3, 6.4)"
        elif "sp" in self.bad_policy_tags:
            problem = f"sp={self.tags['sp']} is not valid"
        return self._reading("rfc7489", problem, self.rfc9989_errors)

    @property
    def rfc9989(self) -> Reading:
        """RFC 9989 4.7, 4.8 and 4.10.1."""
        problem = None
        if "p" not in self.tags:
            problem = "p= is missing"
        else:
            bad = [t for t in ("p", "sp", "np") if t in self.bad_policy_tags]
            if bad:
                problem = f"{bad[0]}={self.tags[bad[0]]} is not valid"
        return self._reading("rfc9989", problem, self.rfc7489_errors)

    def reading(self, rfc: str = DECIDING) -> Reading:
        return self.rfc9989 if rfc == "rfc9989" else self.rfc7489

    def _reading(self, rfc: str, problem: str | None, others: list[str]) -> Reading:
        errors = tuple(e for e in self.errors if e not in others)
        testing = self.testing if rfc == "rfc9989" else False
        pct = self.pct if rfc == "rfc7489" else 100
        if problem is None:
            return Reading(
                rfc,
                True,
                self.policy,
                self.subdomain_policy,
                self.nonexistent_policy,
                testing,
                pct,
                None,
                errors,
            )
        if self.rua:
            why = f"{problem}; rua= holds a valid URI, so the record reads as p=none"
            return Reading(rfc, True, "none", None, None, testing, pct, why, errors)
        why = f"{problem} and rua= holds no valid URI: no DMARC processing"
        return Reading(rfc, False, None, None, None, False, pct, why, errors)

    def effective_policy(self, for_subdomain: bool, exists: bool | None = True) -> str | None:
        """The policy the deciding reading applies to the policy domain or a subdomain."""
        return self.reading().policy_for(for_subdomain, exists)[0]

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
            "readings": {"rfc7489": self.rfc7489.to_dict(), "rfc9989": self.rfc9989.to_dict()},
            "deciding_reading": RFC_NAMES[DECIDING],
        }


def is_dmarc_record(txt: str) -> bool:
    """RFC 7489 6.6.3: only TXT records that begin with v=DMARC1 are DMARC records. The tag
    name is case-insensitive, the value is not (ABNF %x44 %x4d %x41 %x52 %x43 %x31)."""
    return first_tag(txt, DMARC) == ("v", "DMARC1")


def parse_report_uris(value: str, tag: str, errors: list[str]) -> list[ReportUri]:
    uris = []
    for part in value.split(","):
        part = part.strip()
        if not part:
            errors.append(f"{tag}= has an empty URI")
            continue
        body, bang, size = part.partition("!")
        if bang and not _SIZE_RE.match(size):
            # RFC 7489 6.4: dmarc-uri = URI [ "!" 1*DIGIT [ "k" / "m" / "g" / "t" ] ]; RFC 9989
            # 4.8 keeps it as obs-dmarc-report-size. A "!" without digits matches neither, and a
            # "!" inside a URI MUST be encoded: the URI is not syntactically valid.
            errors.append(f"{tag}= URI {part!r} has an invalid size limit {'!' + size!r}")
            continue
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
    parsed = parse_tag_list(txt, DMARC)
    record.errors.extend(parsed.errors)
    record.tags = parsed.tags
    record.order = list(parsed.tags)
    if parsed.tags and parsed.first != "v":
        record.errors.append("the record must start with v=DMARC1")
    if record.tags.get("v") != "DMARC1":
        if "v" not in record.tags:
            record.errors.append("v=DMARC1 is missing")
        elif record.tags["v"].upper() == "DMARC1":
            record.warnings.append(f"v={record.tags['v']} should be written v=DMARC1")
        else:
            record.errors.append(f"v={record.tags['v']} is not DMARC1")
    if record.order[:1] == ["v"] and "p" in record.tags and record.order[1] != "p":
        record._only("rfc7489", P_ORDER_ERROR)
    _read_policy_tags(record)
    _read_modes(record)
    _read_reporting(record)
    if "p" not in record.tags:
        if record.rua:
            record.warnings.append("p= is missing; with a valid rua= receivers read p=none")
        else:
            record.errors.append("p= is missing")
    return record


def _read_policy_tags(record: DmarcRecord) -> None:
    tags = record.tags
    if "p" in tags:
        value = tags["p"].lower()
        if value in POLICIES:
            record.policy = value
        else:
            record.bad_policy_tags["p"] = tags["p"]
            record.errors.append(f"p={tags['p']} is not none, quarantine or reject")
    for tag, attr in (("sp", "subdomain_policy"), ("np", "nonexistent_policy")):
        if tag in tags:
            value = tags[tag].lower()
            if value in POLICIES:
                setattr(record, attr, value)
            else:
                record.bad_policy_tags[tag] = tags[tag]
                record.errors.append(f"{tag}={tags[tag]} is not none, quarantine or reject")
    # psd= and t= are RFC 9989 tags: RFC 7489 receivers ignore them as unknown tags.
    if "psd" in tags:
        value = tags["psd"].lower()
        if value in ("y", "n", "u"):
            record.psd = value
        else:
            record._only("rfc9989", f"psd={tags['psd']} is not y, n or u")
    if "t" in tags:
        value = tags["t"].lower()
        if value in ("y", "n"):
            record.testing = value == "y"
        else:
            record._only("rfc9989", f"t={tags['t']} is not y or n")
    # pct=, rf= and ri= are RFC 7489 tags that RFC 9989 removed (A.6, 9.3): for RFC 9989
    # receivers they are unknown tags, ignored whatever their value.
    if "pct" in tags:
        value = tags["pct"]
        if value.isascii() and value.isdigit() and 0 <= int(value) <= 100:
            record.pct = int(value)
        else:
            record._only("rfc7489", f"pct={value} is not a whole number from 0 to 100")
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
    if "ri" in tags and not (tags["ri"].isascii() and tags["ri"].isdigit()):
        record._only("rfc7489", f"ri={tags['ri']} is not a number of seconds")
    if "rf" in tags and not all(f.strip().lower() == "afrf" for f in tags["rf"].split(":")):
        record._only("rfc7489", f"rf={tags['rf']} is not afrf")


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
