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
import time
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Protocol

import dns.asyncresolver
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
import dns.zone

from audit.model import QueryRecord

MAX_CNAME_CHAIN = 8
DEFAULT_TIMEOUT = 5.0


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

    @property
    def temperror(self) -> bool:
        return self.status.temperror

    @property
    def exists(self) -> bool:
        """The name exists (possibly without data of this type)."""
        return self.status in (DnsStatus.NOERROR, DnsStatus.NODATA)

    @property
    def records(self) -> list[str]:
        return [r.to_text() for r in self.rdata]

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

    def describe(self) -> str:
        """One line for evidence: `_dmarc.example.com TXT -> TIMEOUT`."""
        detail = "; ".join(self.records) if self.rdata else self.status.value
        return f"{self.name} {self.rdtype} -> {detail}"


def normalize_name(name: str) -> str:
    """Lower-case, no trailing dot: the form names take in keys, logs and reports."""
    return name.strip().rstrip(".").lower()


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
        while True:
            step = await self._ask(current, rdtype)
            chain.extend(step.chain)
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
        return DnsAnswer(name, rdtype, status, tuple(rdata), tuple(chain), elapsed, error)

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
            return _Step(DnsStatus.NXDOMAIN, chain=chain)
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
            return _Step(DnsStatus.NODATA, chain=chain, incomplete=incomplete)
        return _Step(DnsStatus.NOERROR, rdata=list(answer.rrset), chain=chain)


@dataclass(frozen=True)
class _Step:
    """The outcome of one question to the servers."""

    status: DnsStatus
    rdata: list[dns.rdata.Rdata] = field(default_factory=list)
    chain: list[str] = field(default_factory=list)
    error: str | None = None
    incomplete: bool = False  # NODATA at the end of a chain the server may not have finished


def _server_failure(exc: dns.resolver.NoNameservers, qname: dns.name.Name, rdtype: str) -> _Step:
    """Every server failed: SERVFAIL, saying how ("REFUSED", "SERVFAIL", a too long chain).

    One exception: an authoritative-only server (no RA flag) that REFUSES a name is saying the
    name is outside every zone it serves. Asked directly (`--dns-server` at a local Knot), that
    reads as NXDOMAIN, exactly as `--zone-dir` reads a name outside its zones; otherwise every
    query outside the user's zones (the RFC 9989 walk up to the TLD, reverse zones, blocklists)
    would turn an audit inconclusive. A recursive resolver's REFUSED stays a SERVFAIL.
    """
    errors = exc.kwargs.get("errors", [])
    responses = [e[4] for e in errors if len(e) > 4 and e[4] is not None]
    if responses and len(responses) == len(errors) and all(
        r.rcode() == dns.rcode.REFUSED and not r.flags & dns.flags.RA for r in responses
    ):
        return _Step(DnsStatus.NXDOMAIN, error="REFUSED by a non-recursive server: not its zone")
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


class Resolver:
    """Cache + in-flight merging + query log in front of a Backend. One per run."""

    def __init__(self, backend: Backend):
        self.backend = backend
        self._cache: dict[tuple[str, str], asyncio.Future[DnsAnswer]] = {}
        self.log: list[QueryRecord] = []

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
        return answer

    async def txt(self, name: str) -> DnsAnswer:
        return await self.query(name, "TXT")

    async def addresses(self, name: str) -> tuple[DnsAnswer, DnsAnswer]:
        """A and AAAA for a host, asked at the same time."""
        a, aaaa = await asyncio.gather(self.query(name, "A"), self.query(name, "AAAA"))
        return a, aaaa

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
