"""The sending_paths check's facts: one row per declared or detected path, with the DMARC
result, disposition and Gmail display a receiver would reach for mail sent on it."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from audit.fact_json import OMIT_NONE


@dataclass(frozen=True, slots=True)
class PathSender:
    """SPF for one of the path's sending addresses."""

    ip: str
    result: str
    matched: str | None
    reason: str | None


@dataclass(frozen=True, slots=True)
class PathSpf:
    result: str  # pass | fail | softfail | neutral | none | permerror | temperror | unknown
    basis: str  # what the result rests on, in words
    records: tuple[str, ...]
    senders: tuple[PathSender, ...]
    include_reached: bool | None  # ESP path: the profile's include is in the SPF tree


@dataclass(frozen=True, slots=True)
class ReturnPathRecord:
    records: tuple[str, ...]  # the MX targets of an MX-type return path
    ok: bool | None  # the provider's record is in place (None: not applicable)


@dataclass(frozen=True, slots=True)
class PathDkimKey:
    """One selector's key as published for the path."""

    selector: str
    name: str
    state: str  # ok | missing | invalid | revoked | elsewhere | temperror
    record: str | None
    cname: tuple[str, ...]
    cname_ok: bool | None
    detail: str


@dataclass(frozen=True, slots=True)
class PathDkim:
    state: str  # ok | missing | provider-signs | temperror | not declared | unknown
    d: tuple[str | None, ...]  # the d= of each passing signature
    selectors: tuple[PathDkimKey, ...]


@dataclass(frozen=True, slots=True)
class SpfAlignment:
    """Whether the envelope domain aligns with the From domain under each reading; both absent
    when the path was not judged."""

    rfc7489: bool | None = field(default=None, metadata=OMIT_NONE)
    rfc9989: bool | None = field(default=None, metadata=OMIT_NONE)


@dataclass(frozen=True, slots=True)
class PathAlignment:
    spf: SpfAlignment
    dkim: bool


@dataclass(frozen=True, slots=True)
class GmailView:
    """What Gmail shows beside the sender for mail on this path."""

    from_domain: str | None
    mailed_by: str | None
    signed_by: str | None
    shows_via: bool
    via: str | None
    unauthenticated: bool
    reason: str


@dataclass(frozen=True, slots=True)
class PathRow:
    """One row of the Sending paths section (`facts.sending_paths.paths[]`)."""

    name: str
    origin: str  # declared | detected | config
    esp: str | None
    provider: str | None  # the ESP profile's display name
    envelope_domain: str
    envelope_source: str  # declared | detected | provider default | from domain
    ips: tuple[str, ...]
    helo: str | None
    inconclusive: str | None  # the failed lookup when the path could not be judged
    spf: PathSpf
    return_path_record: ReturnPathRecord
    dkim: PathDkim
    alignment: PathAlignment
    dmarc: str | None  # pass | fail | temperror | none
    disposition: str | None  # none | quarantine | reject
    dmarc_reason: str | None
    gmail: GmailView | None
    bounces_ok: bool | None
    bounce_route: tuple[str, ...]
    evidence: tuple[str, ...]
    fixes: tuple[str, ...]
    smtp: dict[str, Any] | None  # the submission relay probe (check_relay), if one is named


@dataclass(frozen=True, slots=True)
class PathDmarc:
    """The DMARC policy every path is judged against."""

    policy_domain: str | None
    record: str | None
    records: tuple[str, ...]


@dataclass(frozen=True, slots=True)
class SendingPathsFacts:
    """`facts.sending_paths`. `dmarc` is there once the policy was read; `note` says why no
    path was judged when none was declared or detected."""

    from_domain: str
    dmarc: PathDmarc | None = field(default=None, metadata=OMIT_NONE)
    paths: tuple[PathRow, ...] = ()
    note: str | None = field(default=None, metadata=OMIT_NONE)
