"""What a DNS question gets back: typed answer values, and the seam that produces them.

`DnsAnswer` (a plain question, CNAMEs followed) and `DnssecAnswer` (asked with the DO bit, the
sections as they came) keep "unknown" (TIMEOUT, SERVFAIL, REFUSED) apart from "absent"
(NXDOMAIN, NODATA). `Backend` and `DnssecBackend` are the Protocols every source of answers
implements (the network in `dns_network`, zone files and in-memory data in `dns_zonefile`,
the run-wide cache and rate bounds in `dns_cache` / `dns_limits`); `Resolver` in `dns` sits on one.
"""

from __future__ import annotations

import enum
import functools
from collections.abc import Awaitable, Callable, Iterable
from dataclasses import dataclass
from typing import Any, Protocol

import dns.name
import dns.rdata
import dns.rdatatype
import dns.rrset

MAX_CNAME_CHAIN = 8
REFUSED = "REFUSED"  # the error of a lookup every server refused (dnspython's rcode text)


class DnsStatus(enum.Enum):
    NOERROR = "NOERROR"
    NODATA = "NODATA"
    NXDOMAIN = "NXDOMAIN"
    SERVFAIL = "SERVFAIL"
    TIMEOUT = "TIMEOUT"

    @property
    def temperror(self) -> bool:
        return self in (DnsStatus.SERVFAIL, DnsStatus.TIMEOUT)


class _Logged:
    """An answer's record texts for query logs and evidence, computed once per answer."""

    @functools.cached_property
    def _texts(self) -> tuple[str, ...]:
        raise NotImplementedError

    @property
    def records(self) -> list[str]:
        return list(self._texts)

    @property
    def record_texts(self) -> tuple[str, ...]:
        """`records` as the answer's own tuple (shared by every query log, not copied)."""
        return self._texts


@dataclass(frozen=True)
class DnsAnswer(_Logged):
    """The answer to one (name, type) question, after following CNAMEs.

    `rdata` are dnspython rdata objects for typed access (MX preference, A address);
    `records` are their master-file text forms; `txt` joins TXT character-strings.
    """

    name: str
    rdtype: str
    status: DnsStatus
    # The rdata class follows rdtype (MX has .preference/.exchange, A .address, PTR .target):
    # one static type cannot say which, so readers use the attributes of the type they asked.
    rdata: tuple[Any, ...] = ()
    cname_chain: tuple[str, ...] = ()
    elapsed_ms: float = 0.0
    error: str | None = None
    ttl: int | None = None  # how long a cache may keep it (RFC 2308 for negatives); None: the run

    @property
    def temperror(self) -> bool:
        return self.status.temperror

    @property
    def exists(self) -> bool:
        """The name exists (possibly without data of this type)."""
        return self.status in (DnsStatus.NOERROR, DnsStatus.NODATA)

    @functools.cached_property
    def _texts(self) -> tuple[str, ...]:
        # once per answer: a run-wide cache hands the same answer to every audit's query log
        return tuple(_text(r) for r in self.rdata)

    @property
    def txt(self) -> list[str]:
        """TXT records with their character-strings joined (RFC 7208 3.3), decoded leniently."""
        out = []
        for r in self.rdata:
            strings = getattr(r, "strings", None)
            if strings is not None:
                out.append(b"".join(strings).decode("utf-8", errors="replace"))
        return out

    @property
    def canonical_name(self) -> str:
        return self.cname_chain[-1] if self.cname_chain else self.name

    @property
    def refused(self) -> bool:
        """A server REFUSED the question: unknown (a temperror), never "does not exist"."""
        return refused(self.status, self.error)

    def describe(self) -> str:
        """One line for evidence: `_dmarc.example.com TXT -> TIMEOUT`, or with the servers'
        reason for a failure: `... -> SERVFAIL (REFUSED)`."""
        detail = "; ".join(self.records) if self.rdata else self.status.value
        if not self.rdata and self.error and self.temperror:
            detail += f" ({self.error})"
        return f"{self.name} {self.rdtype} -> {detail}"


_PLAIN = frozenset(range(0x20, 0x7F)) - frozenset(b'"\\')  # printed as is in a TXT string


def _text(rdata: Any) -> str:
    """`rdata.to_text()`; a TXT record of plain characters (a DKIM key, an SPF or DMARC record)
    directly, as dnspython escapes one character at a time."""
    strings = getattr(rdata, "strings", None)
    if strings is not None and all(_PLAIN.issuperset(s) for s in strings):
        return " ".join(f'"{s.decode()}"' for s in strings)
    return str(rdata.to_text())


def refused(status: DnsStatus, error: str | None) -> bool:
    """Whether a failed lookup's reason names a REFUSED answer (from any server asked)."""
    return status is DnsStatus.SERVFAIL and REFUSED in (error or "").split(", ")


def normalize_name(name: str) -> str:
    """Lower-case, no trailing dot: the form names take in keys, logs and reports."""
    return name.strip().rstrip(".").lower()


@dataclass(frozen=True)
class DnssecAnswer(_Logged):
    """The answer to one (name, type) question asked with the DO bit (and CD, so a validating
    resolver hands over even data it finds bogus): the response's answer and authority sections
    as rrsets, RRSIGs included (an RRSIG rrset's `covers` is the type it signs).

    Nothing here is validated: `audit/net/dnssec.py` judges it. CNAMEs are not chased: the
    validator follows them itself, checking each hop's signature. `supported` is False when the
    backend cannot answer with DNSSEC records at all (then nothing else here means anything).
    """

    name: str
    rdtype: str
    status: DnsStatus
    answer: tuple[dns.rrset.RRset, ...] = ()
    authority: tuple[dns.rrset.RRset, ...] = ()
    elapsed_ms: float = 0.0
    error: str | None = None
    supported: bool = True

    @property
    def temperror(self) -> bool:
        return self.status.temperror

    @property
    def refused(self) -> bool:
        """A server REFUSED the question (see `DnsAnswer.refused`)."""
        return refused(self.status, self.error)

    @functools.cached_property
    def qname(self) -> dns.name.Name:
        return dns.name.from_text(self.name + ".")

    @staticmethod
    def _find(
        section: Iterable[dns.rrset.RRset],
        owner: dns.name.Name,
        rdtype: int,
        covers: int = dns.rdatatype.NONE,
    ) -> dns.rrset.RRset | None:
        for rrset in section:
            if rrset.name == owner and rrset.rdtype == rdtype and rrset.covers == covers:
                return rrset
        return None

    @property
    def rrset(self) -> dns.rrset.RRset | None:
        """The rrset asked for (owner = the name asked, not a CNAME target)."""
        return self._find(self.answer, self.qname, dns.rdatatype.from_text(self.rdtype))

    @property
    def rrsigs(self) -> dns.rrset.RRset | None:
        """The RRSIGs over `rrset`."""
        covered = dns.rdatatype.from_text(self.rdtype)
        return self._find(self.answer, self.qname, dns.rdatatype.RRSIG, covered)

    @property
    def cname(self) -> dns.rrset.RRset | None:
        """A CNAME at the name asked (when the type asked is not CNAME)."""
        if self.rdtype == "CNAME":
            return None
        return self._find(self.answer, self.qname, dns.rdatatype.CNAME)

    def signatures(self, rrset: dns.rrset.RRset) -> dns.rrset.RRset | None:
        """The RRSIGs over another rrset of this response (a CNAME, an NSEC in authority)."""
        for section in (self.answer, self.authority):
            found = self._find(section, rrset.name, dns.rdatatype.RRSIG, rrset.rdtype)
            if found is not None:
                return found
        return None

    @property
    def denial(self) -> list[dns.rrset.RRset]:
        """NSEC and NSEC3 rrsets in the authority section: the proof that something is absent."""
        kinds = (dns.rdatatype.NSEC, dns.rdatatype.NSEC3)
        return [r for r in self.authority if r.rdtype in kinds]

    @functools.cached_property
    def _texts(self) -> tuple[str, ...]:
        """For the query log: the data, its RRSIGs, and any NSEC/NSEC3 proof (once per answer:
        the run-wide cache hands it to every audit's query log)."""
        out: list[str] = []
        asked = dns.rdatatype.from_text(self.rdtype)
        for rrset in self.answer:
            owner = "" if rrset.name == self.qname else f"{rrset.name.to_text()} "
            plain = rrset.rdtype == asked and not owner
            kind = "" if plain else dns.rdatatype.to_text(rrset.rdtype) + " "
            out.extend(f"{owner}{kind}{rd.to_text()}" for rd in rrset)
        for rrset in self.authority:
            if rrset.rdtype in (dns.rdatatype.NSEC, dns.rdatatype.NSEC3):
                kind = dns.rdatatype.to_text(rrset.rdtype)
                out.extend(f"{rrset.name.to_text()} {kind} {rd.to_text()}" for rd in rrset)
        return tuple(out)

    def describe(self) -> str:
        """One line for evidence: `example.com DNSKEY (DO) -> TIMEOUT`."""
        detail = "; ".join(self.records) if self.answer else self.status.value
        return f"{self.name} {self.rdtype} (DO) -> {detail}"

    def as_answer(self) -> DnsAnswer:
        """The plain answer (status and data of the type asked), e.g. for `temperror_finding`."""
        rrset = self.rrset
        return DnsAnswer(
            self.name,
            self.rdtype,
            self.status,
            tuple(rrset) if rrset is not None else (),
            elapsed_ms=self.elapsed_ms,
            error=self.error,
        )


class Backend(Protocol):
    """Where answers come from. Must not raise for DNS outcomes: return a status instead."""

    async def lookup(self, name: str, rdtype: str) -> DnsAnswer: ...


class DnssecBackend(Backend, Protocol):
    """A Backend that can also answer with the DO bit (RRSIGs, NSEC/NSEC3 proofs). A backend
    without `lookup_dnssec` (or with it set to None) makes the Resolver answer "unsupported"."""

    async def lookup_dnssec(self, name: str, rdtype: str) -> DnssecAnswer: ...


DnssecLookup = Callable[[str, str], Awaitable[DnssecAnswer]]


def dnssec_lookup(backend: Backend) -> DnssecLookup | None:
    """The backend's DO-bit question, or None when it cannot ask one: no `lookup_dnssec`, or a
    wrapper (cache, rate bounds) over such a backend, which sets its own to None."""
    found = getattr(backend, "lookup_dnssec", None)
    return found if callable(found) else None


@dataclass(frozen=True)
class HostAddresses:
    """A host name's A and AAAA answers as one fact: the addresses, or why there are none."""

    host: str
    addresses: list[str]
    answers: tuple[DnsAnswer, ...]

    @property
    def temperror(self) -> DnsAnswer | None:
        """The lookup that failed (timeout, SERVFAIL): with no address, unknown, not absent."""
        return next((ans for ans in self.answers if ans.temperror), None)

    @property
    def absence(self) -> str:
        """Why there is no address, when both lookups were answered."""
        nxdomain = bool(self.answers) and self.answers[0].status is DnsStatus.NXDOMAIN  # A
        return f"{self.host} " + (
            "does not exist (NXDOMAIN)" if nxdomain else "has no A or AAAA record"
        )
