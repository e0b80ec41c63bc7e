"""The one road to DNS: an async resolver that keeps "unknown" apart from "absent".

Every DNS question the tool asks goes through `Resolver.query`. It

* tells NOERROR, NODATA, NXDOMAIN, SERVFAIL and TIMEOUT apart (a temperror is never "no record"),
* caches per run and merges identical in-flight queries (one network question per name/type),
* records every question it really asked (name, type, status, answers, milliseconds), so a
  report can show the evidence behind each fact.

Where the answers come from is a `Backend`: the network (system resolver or given servers), a
directory of zone files (fully offline), or in-memory data for unit tests.
"""

from __future__ import annotations

import asyncio
import enum
import functools
import time
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Protocol

import dns.asyncresolver
import dns.dnssec
import dns.exception
import dns.flags
import dns.message
import dns.name
import dns.nameserver
import dns.rdata
import dns.rdataclass
import dns.rdatatype
import dns.resolver
import dns.reversename
import dns.rrset
import dns.zone

from audit.model import QueryRecord

MAX_CNAME_CHAIN = 8
DEFAULT_TIMEOUT = 5.0
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


@dataclass(frozen=True)
class DnsAnswer:
    """The answer to one (name, type) question, after following CNAMEs.

    `rdata` are dnspython rdata objects for typed access (MX preference, A address);
    `records` are their master-file text forms; `txt` joins TXT character-strings.
    """

    name: str
    rdtype: str
    status: DnsStatus
    rdata: tuple[dns.rdata.Rdata, ...] = ()
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

    @property
    def records(self) -> list[str]:
        return list(self._texts)

    @functools.cached_property
    def _texts(self) -> tuple[str, ...]:
        # once per answer: a run-wide cache hands the same answer to every audit's query log
        return tuple(r.to_text() for r in self.rdata)

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


def refused(status: DnsStatus, error: str | None) -> bool:
    """Whether a failed lookup's reason names a REFUSED answer (from any server asked)."""
    return status is DnsStatus.SERVFAIL and REFUSED in (error or "").split(", ")


def normalize_name(name: str) -> str:
    """Lower-case, no trailing dot: the form names take in keys, logs and reports."""
    return name.strip().rstrip(".").lower()


@dataclass(frozen=True)
class DnssecAnswer:
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

    @property
    def qname(self) -> dns.name.Name:
        return dns.name.from_text(self.name + ".")

    def _find(self, section, owner, rdtype, covers=dns.rdatatype.NONE) -> dns.rrset.RRset | None:
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

    @property
    def records(self) -> list[str]:
        """For the query log: the data, its RRSIGs, and any NSEC/NSEC3 proof."""
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
        return out

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


# --------------------------------------------------------------------------- network backend


@dataclass(frozen=True)
class ServerAddress:
    host: str
    port: int = 53

    @classmethod
    def parse(cls, text: str) -> ServerAddress:
        """`HOST`, `HOST:PORT`, `[V6]:PORT` or a bare IPv6 address."""
        text = text.strip()
        if not text:
            raise ValueError("empty DNS server address")
        if text.startswith("["):
            host, _, rest = text[1:].partition("]")
            port = rest[1:] if rest.startswith(":") else ""
        elif text.count(":") == 1:
            host, port = text.split(":")
        else:
            host, port = text, ""
        if text.endswith(":") and not text.startswith("["):
            raise ValueError(f"empty DNS server port in {text!r}")
        if port and not port.isdigit():
            raise ValueError(f"invalid DNS server port in {text!r}")
        number = int(port) if port else 53
        if not 0 < number < 65536:
            raise ValueError(f"DNS server port out of range in {text!r}")
        import ipaddress

        try:
            ipaddress.ip_address(host)
        except ValueError:
            raise ValueError(f"DNS server must be an IP address, got {host!r}") from None
        return cls(host, number)


class NetworkBackend:
    """Asks real DNS servers: the system's (resolv.conf) or the ones given."""

    def __init__(self, servers: Iterable[ServerAddress] = (), timeout: float = DEFAULT_TIMEOUT):
        servers = list(servers)
        if servers:
            self._resolver = dns.asyncresolver.Resolver(configure=False)
            self._resolver.nameservers = [
                dns.nameserver.Do53Nameserver(s.host, s.port) for s in servers
            ]
        else:
            self._resolver = dns.asyncresolver.Resolver()
        self._resolver.lifetime = timeout
        self._resolver.timeout = min(timeout, max(timeout / 2, 0.5))
        self._resolver.retry_servfail = False
        self._resolver.cache = None

    @property
    def server_count(self) -> int:
        return len(self._resolver.nameservers)

    async def lookup(self, name: str, rdtype: str) -> DnsAnswer:
        """Ask, and finish a CNAME chain the server left incomplete.

        An authoritative-only server (no RA flag) answers a CNAME into another zone without the
        target's data, and cuts long in-zone chains short (Knot stops after 5 hops): such an
        answer reads as NODATA. Asking again for the last target gives what a recursive
        resolver, and StaticBackend, give: the target's data with the whole chain, NXDOMAIN
        through the chain, or SERVFAIL when it is over MAX_CNAME_CHAIN hops (or loops).
        """
        start = time.perf_counter()
        rdtype = rdtype.upper()
        chain: list[str] = []
        current = name
        ttls: list[int] = []
        while True:
            step = await self._ask(current, rdtype)
            chain.extend(step.chain)
            ttls += [step.ttl] if step.ttl is not None else []
            if len(chain) > MAX_CNAME_CHAIN:
                status, rdata, error = DnsStatus.SERVFAIL, [], "CNAME chain too long"
                del chain[MAX_CNAME_CHAIN + 1 :]
                break
            status, rdata, error = step.status, step.rdata, step.error
            if status is DnsStatus.NODATA and step.chain and step.incomplete:
                current = step.chain[-1]  # each round adds a hop: bounded by the check above
                continue
            break
        elapsed = (time.perf_counter() - start) * 1000
        ttl = min(ttls) if ttls and not status.temperror else None
        return DnsAnswer(name, rdtype, status, tuple(rdata), tuple(chain), elapsed, error, ttl)

    async def _ask(self, name: str, rdtype: str) -> _Step:
        """One question to the servers, its outcome as a status (never an exception)."""
        try:
            qname = dns.name.from_text(name)
        except (dns.exception.DNSException, ValueError) as exc:
            # An unrepresentable name (label over 63 octets...) cannot exist in the DNS.
            return _Step(DnsStatus.NXDOMAIN, error=str(exc))
        try:
            answer = await self._resolver.resolve(
                qname, rdtype, search=False, raise_on_no_answer=False
            )
        except dns.resolver.NXDOMAIN as exc:
            response = exc.responses().get(qname)
            chain = _cname_chain(response, qname, rdtype) if response is not None else []
            return _Step(DnsStatus.NXDOMAIN, chain=chain, ttl=_negative_ttl(response))
        except (dns.resolver.LifetimeTimeout, dns.exception.Timeout) as exc:
            return _Step(DnsStatus.TIMEOUT, error=str(exc))
        except dns.resolver.NoNameservers as exc:
            return _server_failure(exc, qname, rdtype)
        except dns.exception.DNSException as exc:
            return _Step(DnsStatus.SERVFAIL, error=f"{type(exc).__name__}: {exc}")
        except OSError as exc:
            return _Step(DnsStatus.SERVFAIL, error=f"{type(exc).__name__}: {exc}")
        chain = _cname_chain(answer.response, qname, rdtype)
        if answer.rrset is None:
            # Without recursion the server answers only from its own zones: a chain it did not
            # finish (no data for its last name) may continue elsewhere.
            incomplete = not answer.response.flags & dns.flags.RA
            ttl = _negative_ttl(answer.response)
            return _Step(DnsStatus.NODATA, chain=chain, incomplete=incomplete, ttl=ttl)
        return _Step(DnsStatus.NOERROR, rdata=list(answer.rrset), chain=chain, ttl=answer.rrset.ttl)

    async def lookup_dnssec(self, name: str, rdtype: str) -> DnssecAnswer:
        """One question with the DO and CD bits: the sections as they came, RRSIGs included.

        CD (checking disabled) makes a validating resolver hand over data it finds bogus, so the
        validator can say why; an authoritative server ignores it. CNAMEs are not chased here.
        """
        start = time.perf_counter()
        rdtype = rdtype.upper()

        def done(status: DnsStatus, response=None, error: str | None = None) -> DnssecAnswer:
            answer = tuple(response.answer) if response is not None else ()
            authority = tuple(response.authority) if response is not None else ()
            elapsed = (time.perf_counter() - start) * 1000
            return DnssecAnswer(name, rdtype, status, answer, authority, elapsed, error)

        try:
            qname = dns.name.from_text(name)
        except (dns.exception.DNSException, ValueError) as exc:
            return done(DnsStatus.NXDOMAIN, error=str(exc))
        try:
            answer = await self._dnssec_resolver().resolve(
                qname, rdtype, search=False, raise_on_no_answer=False
            )
        except dns.resolver.NXDOMAIN as exc:
            return done(DnsStatus.NXDOMAIN, exc.responses().get(qname))
        except (dns.resolver.LifetimeTimeout, dns.exception.Timeout) as exc:
            return done(DnsStatus.TIMEOUT, error=str(exc))
        except dns.resolver.NoNameservers as exc:
            return done(DnsStatus.SERVFAIL, error=_server_failure(exc, qname, rdtype).error)
        except (dns.exception.DNSException, OSError) as exc:
            return done(DnsStatus.SERVFAIL, error=f"{type(exc).__name__}: {exc}")
        response = answer.response
        wanted = dns.rdatatype.from_text(rdtype)
        found = any(r.rdtype == wanted for r in response.answer)
        return done(DnsStatus.NOERROR if found else DnsStatus.NODATA, response)

    def _dnssec_resolver(self) -> dns.asyncresolver.Resolver:
        """A sibling of the plain resolver (same servers and timeouts) that sets DO and CD."""
        resolver = getattr(self, "_do_resolver", None)
        if resolver is None:
            resolver = dns.asyncresolver.Resolver(configure=False)
            resolver.nameservers = list(self._resolver.nameservers)
            resolver.nameserver_ports = dict(self._resolver.nameserver_ports)
            resolver.port = self._resolver.port
            resolver.lifetime = self._resolver.lifetime
            resolver.timeout = self._resolver.timeout
            resolver.retry_servfail = False
            resolver.cache = None
            resolver.use_edns(0, dns.flags.DO, 1232)
            resolver.set_flags(dns.flags.RD | dns.flags.CD)
            self._do_resolver = resolver
        return resolver


@dataclass(frozen=True)
class _Step:
    """The outcome of one question to the servers."""

    status: DnsStatus
    rdata: list[dns.rdata.Rdata] = field(default_factory=list)
    chain: list[str] = field(default_factory=list)
    error: str | None = None
    incomplete: bool = False  # NODATA at the end of a chain the server may not have finished
    ttl: int | None = None


def _negative_ttl(response: dns.message.Message | None) -> int | None:
    """RFC 2308 5: a NXDOMAIN/NODATA may be cached for min(SOA TTL, SOA MINIMUM)."""
    for rrset in response.authority if response is not None else ():
        if rrset.rdtype == dns.rdatatype.SOA and len(rrset):
            return min(rrset.ttl, rrset[0].minimum)
    return None


def _server_failure(exc: dns.resolver.NoNameservers, qname: dns.name.Name, rdtype: str) -> _Step:
    """Every server failed: SERVFAIL, saying how ("REFUSED", "SERVFAIL", a too long chain).

    REFUSED is a temperror whoever sends it, with or without the RA flag: a server that will
    not answer says nothing about whether the name exists (an authoritative-only server refuses
    names outside its zones; a resolver refuses clients it does not serve; a filter refuses
    what it blocks). Reading it as NXDOMAIN would report an unknown record as missing.
    """
    errors = exc.kwargs.get("errors", [])
    reasons: list[str] = []
    for error in errors:
        problem, response = error[3], error[4] if len(error) > 4 else None
        if isinstance(problem, dns.message.ChainTooLong) and response is not None:
            # Over dnspython's own limit: report the hops, so lookup() says "too long".
            return _Step(DnsStatus.SERVFAIL, chain=_cname_chain(response, qname, rdtype))
        # dnspython records a bad rcode as its text ("REFUSED"), anything else as the exception.
        reason = problem if isinstance(problem, str) else f"{type(problem).__name__}: {problem}"
        if reason not in reasons:
            reasons.append(reason)
    return _Step(DnsStatus.SERVFAIL, error=", ".join(reasons) or str(exc))


def _cname_chain(response: dns.message.Message, qname: dns.name.Name, rdtype: str) -> list[str]:
    """The CNAME targets the response leads through from `qname`, in order (repeats kept, so a
    loop reads as a chain over MAX_CNAME_CHAIN). A CNAME question is answered, not chased."""
    if rdtype == "CNAME":
        return []
    chain: list[str] = []
    current = qname
    while len(chain) <= MAX_CNAME_CHAIN:
        targets = [
            rrset[0].target
            for rrset in response.answer
            if rrset.name == current and rrset.rdtype == dns.rdatatype.CNAME and len(rrset)
        ]
        if not targets:
            break
        current = targets[0]
        chain.append(normalize_name(current.to_text()))
    return chain


# --------------------------------------------------------------------------- static backends


Failure = DnsStatus  # an injected failure for a (name, type) or a whole name


@dataclass
class StaticData:
    """Records as a flat map name -> type -> rdata, with optional injected failures.

    `apexes` are the zone origins the data covers; a name under none of them does not exist.
    An empty `apexes` means the data is one flat namespace (in-memory test data).
    """

    nodes: dict[str, dict[str, list[dns.rdata.Rdata]]] = field(default_factory=dict)
    failures: dict[tuple[str, str | None], DnsStatus] = field(default_factory=dict)
    apexes: set[str] = field(default_factory=set)

    def add(self, name: str, rdtype: str, text: str) -> None:
        rdtype = rdtype.upper()
        rd = dns.rdata.from_text(
            dns.rdataclass.IN, rdtype, text, origin=dns.name.root, relativize=False
        )
        self.add_rdata(name, rd)

    def add_rdata(self, name: str, rd: dns.rdata.Rdata) -> None:
        rdtype = dns.rdatatype.to_text(rd.rdtype)
        bucket = self.nodes.setdefault(normalize_name(name), {}).setdefault(rdtype, [])
        if rd not in bucket:
            bucket.append(rd)

    def fail(self, name: str, status: DnsStatus, rdtype: str | None = None) -> None:
        self.failures[(normalize_name(name), rdtype.upper() if rdtype else None)] = status


class StaticBackend:
    """Answers from `StaticData` with DNS semantics: CNAME chasing, wildcards, NODATA for
    empty non-terminals, NXDOMAIN outside the loaded zones."""

    def __init__(self, data: StaticData):
        self.data = data
        self._ents: set[str] | None = None

    def _empty_non_terminals(self) -> set[str]:
        if self._ents is None:
            ents: set[str] = set()
            for name in self.data.nodes:
                labels = name.split(".")
                for i in range(1, len(labels)):
                    ents.add(".".join(labels[i:]))
            self._ents = ents
        return self._ents

    def _in_zone(self, name: str) -> bool:
        if not self.data.apexes:
            return True
        return any(name == a or name.endswith("." + a) for a in self.data.apexes)

    def _node(self, name: str) -> tuple[dict[str, list[dns.rdata.Rdata]] | None, bool]:
        """The node for `name` (or its wildcard) and whether the name exists at all."""
        node = self.data.nodes.get(name)
        if node is not None:
            return node, True
        if name in self._empty_non_terminals():
            return None, True
        # RFC 4592: the closest encloser's wildcard answers for names that do not exist.
        labels = name.split(".")
        for i in range(1, len(labels)):
            parent = ".".join(labels[i:])
            if parent in self.data.nodes or parent in self._empty_non_terminals():
                wildcard = self.data.nodes.get("*." + parent)
                return (wildcard, True) if wildcard is not None else (None, False)
        return None, False

    async def lookup(self, name: str, rdtype: str) -> DnsAnswer:
        start = time.perf_counter()
        rdtype = rdtype.upper()
        chain: list[str] = []
        current = normalize_name(name)
        for _ in range(MAX_CNAME_CHAIN + 1):
            failure = self.data.failures.get((current, rdtype)) or self.data.failures.get(
                (current, None)
            )
            if failure is not None:
                return self._answer(name, rdtype, failure, (), chain, start)
            if not _valid_name(current) or not self._in_zone(current):
                return self._answer(name, rdtype, DnsStatus.NXDOMAIN, (), chain, start)
            node, exists = self._node(current)
            if not exists:
                return self._answer(name, rdtype, DnsStatus.NXDOMAIN, (), chain, start)
            if node is None:
                return self._answer(name, rdtype, DnsStatus.NODATA, (), chain, start)
            if rdtype in node:
                return self._answer(name, rdtype, DnsStatus.NOERROR, node[rdtype], chain, start)
            if "CNAME" in node and rdtype != "CNAME":
                current = normalize_name(node["CNAME"][0].target.to_text())
                chain.append(current)
                continue
            return self._answer(name, rdtype, DnsStatus.NODATA, (), chain, start)
        return self._answer(
            name, rdtype, DnsStatus.SERVFAIL, (), chain, start, error="CNAME chain too long"
        )

    async def lookup_dnssec(self, name: str, rdtype: str) -> DnssecAnswer:
        """What a server of signed zone files answers with the DO bit: the rrset (or the first
        CNAME hop) with its RRSIGs; for NODATA/NXDOMAIN the zone's SOA and the NSEC or NSEC3
        records at or around the name. Unsigned files give the same, without signatures.

        Zone files merge the two sides of a zone cut into one node (the parent's NS, DS and NSEC
        beside the child's SOA, DNSKEY and NSEC): the zone that answers (the parent for DS, as
        RFC 4035 3.1.4.1 says) picks its side by signer name and NSEC type bitmap.
        """
        start = time.perf_counter()
        rdtype = rdtype.upper()
        plain = await self.lookup(name, rdtype)
        qtext = normalize_name(name)

        def done(answer=(), authority=(), error=plain.error) -> DnssecAnswer:
            elapsed = (time.perf_counter() - start) * 1000
            return DnssecAnswer(
                qtext, rdtype, plain.status, tuple(answer), tuple(authority), elapsed, error
            )

        zone = self._zone_of(qtext, rdtype) if _valid_name(qtext) else None
        if plain.temperror or (zone is None and self.data.apexes):
            return done()
        qname = dns.name.from_text(qtext)
        signer = dns.name.from_text(zone) if zone is not None else None
        node, _ = self._node(qtext)
        answer: list[dns.rrset.RRset] = []
        if node is not None and rdtype in node and plain.status is DnsStatus.NOERROR:
            answer = self._signed(qname, rdtype, node, signer)
        elif node is not None and "CNAME" in node and plain.cname_chain:
            answer = self._signed(qname, "CNAME", node, signer)
        authority: list[dns.rrset.RRset] = []
        if not answer and zone is not None:
            authority = self._denial(qname, zone)
        return done(answer, authority)

    def _zone_of(self, name: str, rdtype: str) -> str | None:
        """The loaded zone that answers for `name`: the deepest apex above it, or above its
        parent for DS (the parent side of a cut). None for flat in-memory data."""
        best: str | None = None
        for apex in self.data.apexes:
            if rdtype == "DS" and name == apex:
                continue
            if (name == apex or name.endswith("." + apex) or apex == "") and (
                best is None or len(apex) > len(best)
            ):
                best = apex
        return best

    @staticmethod
    def _signed(
        owner: dns.name.Name, rdtype: str, node: dict, signer: dns.name.Name | None
    ) -> list[dns.rrset.RRset]:
        """The rrset of `rdtype` at `owner` and the RRSIGs over it made by `signer`."""
        covered = dns.rdatatype.from_text(rdtype)
        out = [dns.rrset.from_rdata_list(owner, 0, node[rdtype])]
        sigs = [
            rd
            for rd in node.get("RRSIG", [])
            if rd.type_covered == covered and (signer is None or rd.signer == signer)
        ]
        if sigs:
            out.append(dns.rrset.from_rdata_list(owner, 0, sigs))
        return out

    def _denial(self, qname: dns.name.Name, zone: str) -> list[dns.rrset.RRset]:
        """The zone's SOA, and the NSEC/NSEC3 records that match or cover `qname` (only those:
        no closest-encloser or wildcard proofs), each with its RRSIGs."""
        apex = dns.name.from_text(zone)
        apex_node = self.data.nodes.get(zone, {})
        out: list[dns.rrset.RRset] = []
        if "SOA" in apex_node:
            out += self._signed(apex, "SOA", apex_node, apex)
        if "NSEC3PARAM" in apex_node:
            param = apex_node["NSEC3PARAM"][0]
            digest = dns.dnssec.nsec3_hash(qname, param.salt, param.iterations, param.algorithm)
            owners = [digest.lower() + ("." + zone if zone else ".")]
            owners += [n for n, rd in self._nsec_records(zone, "NSEC3") if _covers3(n, rd, digest)]
            kind = "NSEC3"
        else:
            qtext = normalize_name(qname.to_text())
            exact = [n for n, _ in self._nsec_records(zone, "NSEC") if n == qtext]
            owners = exact or [
                n for n, rd in self._nsec_records(zone, "NSEC") if _covers(n, rd, qname, apex)
            ]
            kind = "NSEC"
        for owner in dict.fromkeys(owners):
            node = self.data.nodes.get(owner, {})
            records = [
                rd
                for rd in node.get(kind, [])
                if kind == "NSEC3" or (owner == zone) == (dns.rdatatype.SOA in nsec_types(rd))
            ]
            if records:
                name = dns.name.from_text(owner)
                out += self._signed(name, kind, {**node, kind: records}, apex)
        return out

    def _nsec_records(self, zone: str, kind: str) -> list[tuple[str, dns.rdata.Rdata]]:
        """(owner, rdata) of every NSEC or NSEC3 record of `zone` (on its own side of a cut)."""
        out = []
        for owner, node in self.data.nodes.items():
            if kind not in node or zone not in (
                self._zone_of(owner, kind),
                self._zone_of(owner, "DS"),  # the parent side of a cut
            ):
                continue
            for rd in node[kind]:
                if kind == "NSEC3" or (owner == zone) == (dns.rdatatype.SOA in nsec_types(rd)):
                    out.append((owner, rd))
        return out

    @staticmethod
    def _answer(name, rdtype, status, rdata, chain, start, error=None) -> DnsAnswer:
        return DnsAnswer(
            normalize_name(name),
            rdtype,
            status,
            tuple(rdata),
            tuple(chain),
            (time.perf_counter() - start) * 1000,
            error,
        )


def nsec_types(rd: dns.rdata.Rdata) -> set[int]:
    """The types an NSEC or NSEC3 record says exist at its owner (its type bitmap)."""
    types: set[int] = set()
    for window, bitmap in rd.windows:
        for i, byte in enumerate(bitmap):
            for bit in range(8):
                if byte & (0x80 >> bit):
                    types.add(window * 256 + i * 8 + bit)
    return types


def _covers(owner: str, rd: dns.rdata.Rdata, qname: dns.name.Name, apex: dns.name.Name) -> bool:
    """Whether the NSEC at `owner` covers `qname` (canonical order; the last one wraps)."""
    start = dns.name.from_text(owner)
    if rd.next == apex or rd.next <= start:
        return start < qname
    return start < qname < rd.next


def _covers3(owner: str, rd: dns.rdata.Rdata, digest: str) -> bool:
    """Whether the NSEC3 at `owner` covers the hash `digest` (base32hex; the last one wraps)."""
    import base64

    start = owner.split(".", 1)[0].upper()
    end = base64.b32hexencode(rd.next).decode().upper()
    digest = digest.upper()
    if end <= start:
        return digest > start or digest < end
    return start < digest < end


def _valid_name(name: str) -> bool:
    if not name or len(name) > 253:
        return False
    return all(0 < len(label) <= 63 for label in name.split("."))


class ZoneDirError(ValueError):
    """A zone directory that cannot be used (missing, unreadable, or a file that does not parse)."""


def load_zone_dir(directory: str | Path) -> StaticData:
    """Every `*.zone` file in `directory`, RFC 1035 master format; origin from `$ORIGIN` or the
    file name (`example.com.zone` -> `example.com.`)."""
    path = Path(directory)
    if not path.is_dir():
        raise ZoneDirError(f"zone directory {str(path)!r} does not exist or is not a directory")
    try:
        files = sorted(path.glob("*.zone"))
    except OSError as exc:
        raise ZoneDirError(f"cannot read zone directory {str(path)!r}: {exc.strerror}") from None
    if not files:
        raise ZoneDirError(f"zone directory {str(path)!r} holds no *.zone files")
    data = StaticData()
    for file in files:
        origin = file.name[: -len(".zone")] + "."
        try:
            text = file.read_text(encoding="utf-8")
            zone = dns.zone.from_text(
                text, origin=origin, relativize=False, check_origin=False, filename=str(file)
            )
        except OSError as exc:
            raise ZoneDirError(f"cannot read zone file {str(file)!r}: {exc.strerror}") from None
        except (dns.exception.DNSException, UnicodeDecodeError, ValueError) as exc:
            raise ZoneDirError(f"zone file {str(file)!r} does not parse: {exc}") from None
        data.apexes.add(normalize_name(zone.origin.to_text()))
        for name, node in zone.nodes.items():
            for rdataset in node.rdatasets:
                for rd in rdataset:
                    data.add_rdata(name.to_text(), rd)
    return data


def memory_backend(records: Mapping[str, Iterable[tuple[str, str]]]) -> StaticBackend:
    """In-memory data for unit tests: {"example.com": [("TXT", '"v=spf1 -all"')]}."""
    data = StaticData()
    for name, entries in records.items():
        for rdtype, text in entries:
            if rdtype.upper() in ("TIMEOUT", "SERVFAIL"):
                data.fail(name, DnsStatus(rdtype.upper()), text or None)
            else:
                data.add(name, rdtype, text)
    return StaticBackend(data)


# --------------------------------------------------------------------------- the resolver


def is_ip_literal(host: str) -> bool:
    """An IP address (optionally in brackets, as in `[192.0.2.1]`), not a name to look up."""
    import ipaddress

    try:
        ipaddress.ip_address(host.strip("[]"))
    except ValueError:
        return False
    return True


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


class Resolver:
    """Cache + in-flight merging + query log in front of a Backend. One per run."""

    def __init__(self, backend: Backend):
        self.backend = backend
        self._cache: dict[tuple[str, str], asyncio.Future[DnsAnswer]] = {}
        self.log: list[QueryRecord] = []
        self._dnssec_cache: dict[tuple[str, str], asyncio.Future[DnssecAnswer]] = {}

    async def query(self, name: str, rdtype: str) -> DnsAnswer:
        key = (normalize_name(name), rdtype.upper())
        future = self._cache.get(key)
        if future is None:
            future = asyncio.ensure_future(self._ask(*key))
            self._cache[key] = future
        return await asyncio.shield(future)

    async def _ask(self, name: str, rdtype: str) -> DnsAnswer:
        try:
            answer = await self.backend.lookup(name, rdtype)
        except Exception as exc:  # noqa: BLE001 - a backend bug must read as unknown, not absent
            answer = DnsAnswer(name, rdtype, DnsStatus.SERVFAIL, error=f"{type(exc).__name__}")
        self._record(answer)
        return answer

    async def query_dnssec(self, name: str, rdtype: str) -> DnssecAnswer:
        """The question with the DO bit: the rrset, its RRSIGs and any NSEC/NSEC3 proof, for
        `audit/net/dnssec.py` to validate. Cached, merged and logged like `query`; a backend
        without DNSSEC support answers `supported=False` (and nothing is logged)."""
        key = (normalize_name(name), rdtype.upper())
        future = self._dnssec_cache.get(key)
        if future is None:
            future = asyncio.ensure_future(self._ask_dnssec(*key))
            self._dnssec_cache[key] = future
        return await asyncio.shield(future)

    async def _ask_dnssec(self, name: str, rdtype: str) -> DnssecAnswer:
        lookup = getattr(self.backend, "lookup_dnssec", None)
        if lookup is None:
            return DnssecAnswer(
                name,
                rdtype,
                DnsStatus.SERVFAIL,
                error="this DNS backend cannot answer DNSSEC queries",
                supported=False,
            )
        try:
            answer = await lookup(name, rdtype)
        except Exception as exc:  # noqa: BLE001 - a backend bug must read as unknown, not absent
            answer = DnssecAnswer(name, rdtype, DnsStatus.SERVFAIL, error=f"{type(exc).__name__}")
        self._record(answer)
        return answer

    def _record(self, answer: DnsAnswer | DnssecAnswer) -> None:
        """Every answer becomes evidence in the report's DNS query list."""
        self.log.append(
            QueryRecord(
                answer.name,
                answer.rdtype,
                answer.status.value,
                tuple(answer.records),
                answer.elapsed_ms,
                answer.error,
            )
        )

    async def txt(self, name: str) -> DnsAnswer:
        return await self.query(name, "TXT")

    async def addresses(self, name: str) -> tuple[DnsAnswer, DnsAnswer]:
        """A and AAAA for a host, asked at the same time."""
        a, aaaa = await asyncio.gather(self.query(name, "A"), self.query(name, "AAAA"))
        return a, aaaa

    async def host_addresses(self, host: str) -> HostAddresses:
        """Where to connect for `host` (IPv4 first): what every probe and sender asks."""
        a, aaaa = await self.addresses(host)
        found = [r.address for ans in (a, aaaa) for r in ans.rdata if hasattr(r, "address")]
        return HostAddresses(host, found, (a, aaaa))

    async def ptr(self, address: str) -> DnsAnswer:
        return await self.query(dns.reversename.from_address(address).to_text(), "PTR")


def build_backend(
    dns_servers: Iterable[str] = (),
    zone_dir: str | Path | None = None,
    timeout: float = DEFAULT_TIMEOUT,
) -> Backend:
    """Where a command's answers come from: zone files when given, else the network.

    Raises ValueError (or ZoneDirError) with a one-line message for bad input.
    """
    if zone_dir is not None:
        return StaticBackend(load_zone_dir(zone_dir))
    servers = [ServerAddress.parse(s) for s in dns_servers]
    return NetworkBackend(servers, timeout=timeout)


def build_resolver(
    dns_servers: Iterable[str] = (),
    zone_dir: str | Path | None = None,
    timeout: float = DEFAULT_TIMEOUT,
) -> Resolver:
    """A fresh resolver (its own cache and log) over `build_backend(...)`."""
    return Resolver(build_backend(dns_servers, zone_dir, timeout))
