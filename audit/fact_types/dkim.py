"""The domain dkim check's facts: the selectors tried and each key record found."""

from __future__ import annotations

from dataclasses import dataclass, field

from audit.fact_json import INLINE


@dataclass(frozen=True, slots=True)
class DkimKeyTags:
    """What a DKIM key record says (RFC 6376 3.6.1), parsed; `errors` why it is unusable."""

    key_type: str
    key_bits: int | None
    revoked: bool  # empty p=
    testing: bool  # t=y
    strict: bool  # t=s
    hash_algorithms: tuple[str, ...]
    tags: dict[str, str]  # every tag but p=
    errors: tuple[str, ...]


@dataclass(frozen=True, slots=True)
class DkimKeyFacts:
    """One selector's TXT record (`facts.dkim.keys[]`); the parsed fields sit beside the
    record in the JSON when a record was there."""

    selector: str
    name: str
    source: str  # given | discovered
    record: str | None
    cname_chain: tuple[str, ...]
    status: str  # the DNS status of the TXT lookup
    key: DkimKeyTags | None = field(default=None, metadata=INLINE)


@dataclass(frozen=True, slots=True)
class DkimFacts:
    """`facts.dkim` of the domain dkim check."""

    selectors_tried: tuple[str, ...]
    selector_subtree: str | None  # the DNS status of _domainkey.<domain>, when asked
    discovery: bool
    discovery_note: str
    keys: tuple[DkimKeyFacts, ...]
