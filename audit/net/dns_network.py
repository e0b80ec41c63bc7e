"""The network backend: questions to real DNS servers over UDP (TCP on truncation) with dnspython.

`NetworkBackend` turns what the servers say (and every way they fail) into a `DnsAnswer` or
`DnssecAnswer` status, finishes CNAME chains an authoritative-only server leaves incomplete,
and keeps REFUSED a temperror. What goes on the wire is a `Transport` (dnspython's async
resolver by default): a faster transport plugs in there without touching the status mapping.
"""

from __future__ import annotations

import ipaddress
import time
from collections.abc import Awaitable, Callable, Iterable
from dataclasses import dataclass, field
from typing import Protocol, TypeVar

import dns.asyncresolver
import dns.exception
import dns.flags
import dns.message
import dns.name
import dns.nameserver
import dns.rcode
import dns.rdata
import dns.rdatatype
import dns.resolver

from audit.net.dns_answers import (
    MAX_CNAME_CHAIN,
    DnsAnswer,
    DnssecAnswer,
    DnsStatus,
    normalize_name,
)
from audit.net.dns_wire import UdpWire, WireFailure, WireTimeout

DEFAULT_TIMEOUT = 5.0
R = TypeVar("R")


class Transport(Protocol):
    """What `NetworkBackend` asks of the wire: dnspython's `asyncresolver.Resolver.resolve`
    contract. It raises dnspython's exceptions for outcomes (NXDOMAIN with its response,
    NoNameservers with each server's error, LifetimeTimeout) and returns an Answer whose
    `response` is the message as received."""

    async def resolve(
        self,
        qname: dns.name.Name,
        rdtype: str,
        *,
        search: bool | None = None,
        raise_on_no_answer: bool = True,
    ) -> dns.resolver.Answer: ...


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
        try:
            ipaddress.ip_address(host)
        except ValueError:
            raise ValueError(f"DNS server must be an IP address, got {host!r}") from None
        return cls(host, number)


class NetworkBackend:
    """Asks real DNS servers: the system's (resolv.conf) or the ones given.

    `transport` / `dnssec_transport` replace what sends the plain and the DO+CD questions
    (default: dnspython resolvers on `servers` with `timeout`); the status mapping stays here.
    Plain questions go over the lean `dns_wire.UdpWire` unless a transport is set or `wire` is
    False (dnspython then sends them too).
    """

    def __init__(
        self,
        servers: Iterable[ServerAddress] = (),
        timeout: float = DEFAULT_TIMEOUT,
        transport: Transport | None = None,
        dnssec_transport: Transport | None = None,
        wire: bool = True,
    ):
        self._base = _dnspython_resolver(list(servers), timeout)
        self._resolver: Transport = transport if transport is not None else self._base
        self._do_resolver: Transport | None = dnssec_transport
        self._wire = _wire_for(self._base) if wire else None

    @property
    def server_count(self) -> int:
        return len(self._base.nameservers)

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
        status: DnsStatus
        rdata: list[dns.rdata.Rdata]
        error: str | None
        wired = self._wire is not None and self._resolver is self._base
        ask = self._ask_wire if wired else self._ask
        while True:
            step = await ask(current, rdtype)
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

    async def _ask_wire(self, name: str, rdtype: str) -> _Step:
        """`_ask` over the lean UDP wire (the default when no other transport is set)."""
        assert self._wire is not None
        reply, failed, error = await _over_wire(self._wire.ask, name, rdtype)
        if reply is None:
            return _Step(failed, error=error)
        if reply.nxdomain:
            return _Step(DnsStatus.NXDOMAIN, chain=reply.chain, ttl=reply.negative_ttl)
        if not reply.rdata:
            incomplete = not reply.recursion_available
            ttl = reply.negative_ttl
            return _Step(DnsStatus.NODATA, chain=reply.chain, incomplete=incomplete, ttl=ttl)
        return _Step(DnsStatus.NOERROR, rdata=reply.rdata, chain=reply.chain, ttl=reply.ttl)

    async def lookup_dnssec(self, name: str, rdtype: str) -> DnssecAnswer:
        """One question with the DO and CD bits: the sections as they came, RRSIGs included.

        CD (checking disabled) makes a validating resolver hand over data it finds bogus, so the
        validator can say why; an authoritative server ignores it. CNAMEs are not chased here.
        """
        start = time.perf_counter()
        rdtype = rdtype.upper()

        def done(
            status: DnsStatus,
            response: dns.message.Message | None = None,
            error: str | None = None,
        ) -> DnssecAnswer:
            answer = tuple(response.answer) if response is not None else ()
            authority = tuple(response.authority) if response is not None else ()
            elapsed = (time.perf_counter() - start) * 1000
            return DnssecAnswer(name, rdtype, status, answer, authority, elapsed, error)

        if self._do_resolver is None and self._wire is not None:
            message, failed, error = await _over_wire(self._wire.ask_dnssec, name, rdtype)
            if message is None:
                return done(failed, error=error)
            if message.rcode() == dns.rcode.NXDOMAIN:
                return done(DnsStatus.NXDOMAIN, message)
            return done(_found(message, rdtype), message)
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
        return done(_found(answer.response, rdtype), answer.response)

    def _dnssec_resolver(self) -> Transport:
        """A sibling of the plain resolver (same servers and timeouts) that sets DO and CD."""
        if self._do_resolver is None:
            base = self._base
            resolver = dns.asyncresolver.Resolver(configure=False)
            resolver.nameservers = list(base.nameservers)
            resolver.nameserver_ports = dict(base.nameserver_ports)
            resolver.port = base.port
            resolver.lifetime = base.lifetime
            resolver.timeout = base.timeout
            resolver.retry_servfail = False
            resolver.cache = None
            resolver.use_edns(0, dns.flags.DO, 1232)
            resolver.set_flags(dns.flags.RD | dns.flags.CD)
            self._do_resolver = resolver
        return self._do_resolver


def _dnspython_resolver(servers: list[ServerAddress], timeout: float) -> dns.asyncresolver.Resolver:
    """dnspython's resolver on `servers` (none: the system's), without retries or a cache (the
    Resolver and the run cache above decide what is asked again)."""
    if servers:
        resolver = dns.asyncresolver.Resolver(configure=False)
        resolver.nameservers = [dns.nameserver.Do53Nameserver(s.host, s.port) for s in servers]
    else:
        resolver = dns.asyncresolver.Resolver()
    resolver.lifetime = timeout
    resolver.timeout = min(timeout, max(timeout / 2, 0.5))
    resolver.retry_servfail = False
    resolver.cache = None
    return resolver


def _wire_for(resolver: dns.asyncresolver.Resolver) -> UdpWire | None:
    """The lean wire on the resolver's servers and timeouts (None when a server is not plain
    DNS over port 53 style UDP/TCP, e.g. DNS over HTTPS from a resolv.conf option)."""
    servers = resolver.nameservers
    if not servers or not all(isinstance(s, dns.nameserver.Do53Nameserver) for s in servers):
        return None
    addresses = [(s.address, s.port) for s in servers]  # type: ignore[union-attr]
    return UdpWire(addresses, lifetime=resolver.lifetime, attempt_timeout=resolver.timeout)


@dataclass(frozen=True)
class _Step:
    """The outcome of one question to the servers."""

    status: DnsStatus
    rdata: list[dns.rdata.Rdata] = field(default_factory=list)
    chain: list[str] = field(default_factory=list)
    error: str | None = None
    incomplete: bool = False  # NODATA at the end of a chain the server may not have finished
    ttl: int | None = None


async def _over_wire(
    ask: Callable[[str, str], Awaitable[R]], name: str, rdtype: str
) -> tuple[R | None, DnsStatus, str | None]:
    """A question over the wire: its result, or None with the status its failure reads as."""
    try:
        return await ask(name, rdtype), DnsStatus.NOERROR, None
    except WireTimeout as exc:
        return None, DnsStatus.TIMEOUT, str(exc)
    except WireFailure as exc:
        return None, DnsStatus.SERVFAIL, str(exc)
    except (dns.exception.DNSException, ValueError) as exc:
        return None, DnsStatus.NXDOMAIN, str(exc)  # a name that cannot exist
    except OSError as exc:
        return None, DnsStatus.SERVFAIL, f"{type(exc).__name__}: {exc}"


def _found(response: dns.message.Message, rdtype: str) -> DnsStatus:
    """NOERROR when the answer section holds records of the type asked, else NODATA."""
    wanted = dns.rdatatype.from_text(rdtype)
    found = any(r.rdtype == wanted for r in response.answer)
    return DnsStatus.NOERROR if found else DnsStatus.NODATA


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
