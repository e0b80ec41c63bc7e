"""RFC 7208 check_host(): evaluate an IP against a domain's SPF policy, keeping a full trace.

All DNS goes through the run's Resolver. A TIMEOUT or SERVFAIL is a temperror (never "no
record"); syntax errors anywhere in a record, more than 10 DNS-querying terms, more than 2 void
lookups, an include of a domain without SPF, or more than 10 MX hosts are permerrors (4.6.4).
"""

from __future__ import annotations

import ipaddress
import time
from dataclasses import dataclass

import dns.reversename

from audit.net.dns import DnsAnswer, DnsStatus, Resolver
from audit.spf.macro import MacroSyntaxError, expand, truncate_domain
from audit.spf.parser import Mechanism, SpfRecord, SpfSyntaxError, is_spf_record, parse_record
from audit.spf.trace import SpfResult, TraceStep

MAX_LOOKUPS = 10  # include, a, mx, ptr, exists, redirect (4.6.4)
MAX_VOID_LOOKUPS = 2
MAX_MX_HOSTS = 10  # address lookups per mx mechanism
MAX_PTR_NAMES = 10  # names validated per ptr mechanism or %{p}

IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address


class _Abort(Exception):
    """permerror/temperror: both propagate unchanged through include and redirect."""

    def __init__(self, result: str, reason: str):
        super().__init__(reason)
        self.result = result
        self.reason = reason


@dataclass
class _Outcome:
    result: str
    explanation: str | None = None
    matched: str | None = None
    matched_domain: str | None = None
    reason: str | None = None


def parse_ip(text: str) -> IPAddress:
    """The connecting IP; an IPv4-mapped IPv6 address is treated as the IPv4 address."""
    address = ipaddress.ip_address(text.strip())
    if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped is not None:
        return address.ipv4_mapped
    return address


def valid_domain(domain: str) -> bool:
    """4.3: a multi-label domain name with no empty or over-long label (not a literal)."""
    name = domain[:-1] if domain.endswith(".") else domain
    if not name or len(name) > 253 or name.startswith("["):
        return False
    labels = name.split(".")
    return len(labels) >= 2 and all(0 < len(label) <= 63 for label in labels)


def split_sender(sender: str, fallback_domain: str) -> tuple[str, str]:
    """(local-part, domain) of a sender; an empty local-part is "postmaster" (4.3)."""
    local, at, domain = sender.rpartition("@")
    if not at:
        return "postmaster", sender or fallback_domain
    return local or "postmaster", domain


class Evaluation:
    """One check_host() run: shared lookup/void counters and trace across includes."""

    def __init__(
        self,
        resolver: Resolver,
        ip: IPAddress,
        sender: str,
        helo: str | None,
        receiver: str = "unknown",
    ):
        self.resolver = resolver
        self.ip = ip
        self.ip_upper = False
        self.helo = helo
        self.receiver = receiver
        self.lookups = 0
        self.voids = 0
        self.trace: list[TraceStep] = []
        self.sender = sender
        self.local, self.sender_domain = split_sender(sender, helo or "")
        self._validated: dict[str, list[str]] = {}

    # ------------------------------------------------------------------ bookkeeping

    def note(self, depth: int, kind: str, message: str, domain: str | None = None) -> None:
        self.trace.append(TraceStep(depth, kind, message, domain))

    def count_lookup(self, depth: int, term: str, domain: str) -> None:
        self.lookups += 1
        self.note(depth, "lookup", f"{self.lookups}/{MAX_LOOKUPS} {term}", domain)
        if self.lookups > MAX_LOOKUPS:
            raise _Abort(
                "permerror",
                f"more than {MAX_LOOKUPS} DNS-querying terms: {term} at {domain} "
                f"is lookup number {self.lookups} (RFC 7208 4.6.4)",
            )

    async def query(self, depth: int, name: str, rdtype: str, domain: str) -> DnsAnswer:
        answer = await self.resolver.query(name, rdtype)
        self.note(depth, "dns", answer.describe(), domain)
        return answer

    def check_void(self, depth: int, answer: DnsAnswer, term: str, domain: str) -> bool:
        """Count a lookup that returned nothing (NXDOMAIN or no answers); True when void."""
        if answer.status not in (DnsStatus.NXDOMAIN, DnsStatus.NODATA) and answer.rdata:
            return False
        self.voids += 1
        self.note(
            depth,
            "void",
            f"{self.voids}/{MAX_VOID_LOOKUPS} {term}: {answer.name} {answer.rdtype} "
            f"-> {answer.status.value if answer.status != DnsStatus.NOERROR else 'no answers'}",
            domain,
        )
        if self.voids > MAX_VOID_LOOKUPS:
            raise _Abort(
                "permerror",
                f"more than {MAX_VOID_LOOKUPS} void lookups: {term} at {domain} found nothing "
                f"(void lookup number {self.voids}, RFC 7208 4.6.4)",
            )
        return True

    @staticmethod
    def temperror(answer: DnsAnswer, what: str) -> _Abort:
        detail = f" ({answer.error})" if answer.error else ""
        return _Abort(
            "temperror",
            f"{answer.name} {answer.rdtype} lookup for {what} gave {answer.status.value}{detail}",
        )

    # ------------------------------------------------------------------ macros

    async def expand(self, text: str, domain: str, exp: bool = False) -> str:
        async def value_of(letter: str) -> str:
            return await self.macro_value(letter, domain)

        return await expand(text, value_of, exp)

    async def expand_domain(self, spec: str | None, domain: str) -> str:
        """A domain-spec expanded for a query (or the current domain when absent)."""
        if spec is None:
            return domain
        if "%" not in spec:
            return spec
        return truncate_domain(await self.expand(spec, domain))

    async def macro_value(self, letter: str, domain: str) -> str:
        ip = self.ip
        if letter == "s":
            return f"{self.local}@{self.sender_domain}"
        if letter == "l":
            return self.local
        if letter == "o":
            return self.sender_domain
        if letter == "d":
            return domain
        if letter == "i":
            if ip.version == 4:
                return str(ip)
            nibbles = ip.exploded.replace(":", "")
            # DNS is case-insensitive; keep the caller's hex case (as the reference does).
            return ".".join(nibbles.upper() if self.ip_upper else nibbles)
        if letter == "c":
            return str(ip)
        if letter == "v":
            return "in-addr" if ip.version == 4 else "ip6"
        if letter == "h":
            return self.helo or "unknown"
        if letter == "r":
            return self.receiver
        if letter == "t":
            return str(int(time.time()))
        if letter == "p":
            names = await self.validated_names(None)
            target = domain.rstrip(".").lower()
            for name in names:
                if name == target or name.endswith("." + target):
                    return name
            return names[0] if names else "unknown"
        raise MacroSyntaxError(f"unknown macro letter {letter!r}")

    # ------------------------------------------------------------------ ptr validation

    async def validated_names(self, depth: int | None, domain: str = "") -> list[str]:
        """Names of the IP's PTR records whose A/AAAA records lead back to the IP (5.5)."""
        key = "ptr"
        if key in self._validated:
            return self._validated[key]
        reverse = dns.reversename.from_address(str(self.ip)).to_text()
        answer = await self.resolver.query(reverse, "PTR")
        if depth is not None:
            self.note(depth, "dns", answer.describe(), domain)
        names: list[str] = []
        if answer.status == DnsStatus.NOERROR:
            rdtype = "A" if self.ip.version == 4 else "AAAA"
            for rd in answer.rdata[:MAX_PTR_NAMES]:
                name = rd.target.to_text().rstrip(".").lower()
                addresses = await self.resolver.query(name, rdtype)
                if depth is not None:
                    self.note(depth, "dns", addresses.describe(), domain)
                if addresses.status != DnsStatus.NOERROR:
                    continue  # 5.5: a DNS error on an A lookup skips that name
                if any(ipaddress.ip_address(a.address) == self.ip for a in addresses.rdata):
                    names.append(name)
        self._validated[key] = names
        return names

    # ------------------------------------------------------------------ check_host

    async def check_host(
        self, domain: str, depth: int = 0, via: str | None = None, want_exp: bool = True
    ) -> _Outcome:
        """4.3-4.7 for one domain. Returns pass/fail/softfail/neutral/none; raises _Abort."""
        where = f" (via {via})" if via else ""
        if not valid_domain(domain):
            self.note(depth, "result", f"none: {domain!r} is not a valid domain name{where}")
            return _Outcome("none", reason=f"{domain!r} is not a valid domain name (4.3)")
        domain = domain.rstrip(".")
        answer = await self.query(depth, domain, "TXT", domain)
        if answer.temperror:
            raise self.temperror(answer, f"the SPF record of {domain}")
        records = [t for t in answer.txt if is_spf_record(t)]
        if not records:
            self.note(depth, "result", f"none: {domain} publishes no SPF record{where}", domain)
            status = answer.status.value
            return _Outcome("none", reason=f"{domain} publishes no SPF record ({status})")
        if len(records) > 1:
            raise _Abort("permerror", f"{domain} publishes {len(records)} SPF records (4.5)")
        self.note(depth, "record", f"{domain}{where}: {records[0]}", domain)
        try:
            record = parse_record(records[0])
        except SpfSyntaxError as exc:
            reason = f"syntax error in the SPF record of {domain}: {exc}"
            raise _Abort("permerror", reason) from None
        return await self.evaluate(record, domain, depth, want_exp)

    async def evaluate(
        self, record: SpfRecord, domain: str, depth: int, want_exp: bool
    ) -> _Outcome:
        for mech in record.mechanisms:
            if await self.matches(mech, domain, depth):
                result = mech.result
                self.note(depth, "term", f"{mech.text} matches -> {result}", domain)
                outcome = _Outcome(result, matched=mech.text, matched_domain=domain)
                if result == "fail" and want_exp and record.exp:
                    outcome.explanation = await self.explain(record.exp, domain, depth)
                return outcome
            self.note(depth, "term", f"{mech.text} does not match", domain)
        if record.redirect is not None and record.all is None:
            term = f"redirect={record.redirect}"
            self.count_lookup(depth, term, domain)
            target = await self.expand_domain(record.redirect, domain)
            outcome = await self.check_host(target, depth + 1, f"redirect={target}", want_exp)
            if outcome.result == "none":
                raise _Abort("permerror", f"redirect target {target} has no SPF record (6.1)")
            return outcome
        self.note(depth, "term", f"no term matched {domain}: default result neutral", domain)
        return _Outcome("neutral", reason=f"no term matched in the record of {domain}")

    async def matches(self, mech: Mechanism, domain: str, depth: int) -> bool:
        name = mech.name
        if name == "all":
            return True
        if name in ("ip4", "ip6"):
            return self.in_network(mech.network or "", mech.cidr4 if name == "ip4" else mech.cidr6)
        self.count_lookup(depth, mech.text, domain)
        target = await self.expand_domain(mech.domain_spec, domain)
        if name == "include":
            outcome = await self.check_host(target, depth + 1, f"include:{target}", False)
            self.note(depth + 1, "result", f"include:{target} -> {outcome.result}", target)
            if outcome.result == "none":
                raise _Abort("permerror", f"include:{target} names a domain without SPF (5.2)")
            return outcome.result == "pass"
        if name == "a":
            return await self.match_host(target, mech, domain, depth, count_void=True)
        if name == "mx":
            return await self.match_mx(target, mech, domain, depth)
        if name == "ptr":
            return await self.match_ptr(target, mech, domain, depth)
        # exists: an A query whatever the IP version (5.7)
        answer = await self.query(depth, target, "A", domain)
        if answer.temperror:
            raise self.temperror(answer, mech.text)
        return not self.check_void(depth, answer, mech.text, domain)

    def in_network(self, network: str, cidr: int | None, ip: IPAddress | None = None) -> bool:
        ip = ip or self.ip
        base = ipaddress.ip_address(network)
        if base.version != ip.version:
            return False
        length = cidr if cidr is not None else base.max_prefixlen
        return ip in ipaddress.ip_network(f"{base}/{length}", strict=False)

    async def match_host(
        self, host: str, mech: Mechanism, domain: str, depth: int, count_void: bool
    ) -> bool:
        rdtype = "A" if self.ip.version == 4 else "AAAA"
        answer = await self.query(depth, host, rdtype, domain)
        if answer.temperror:
            raise self.temperror(answer, mech.text)
        if count_void and self.check_void(depth, answer, mech.text, domain):
            return False
        cidr = mech.cidr4 if self.ip.version == 4 else mech.cidr6
        return any(self.in_network(rd.address, cidr) for rd in answer.rdata)

    async def match_mx(self, target: str, mech: Mechanism, domain: str, depth: int) -> bool:
        answer = await self.query(depth, target, "MX", domain)
        if answer.temperror:
            raise self.temperror(answer, mech.text)
        if self.check_void(depth, answer, mech.text, domain):
            return False
        hosts = sorted(answer.rdata, key=lambda rd: rd.preference)
        if len(hosts) > MAX_MX_HOSTS:
            raise _Abort(
                "permerror",
                f"{mech.text} at {domain}: {target} has {len(hosts)} MX hosts, more than "
                f"{MAX_MX_HOSTS} address lookups (4.6.4)",
            )
        for rd in hosts:
            host = rd.exchange.to_text().rstrip(".")
            if not host:
                continue  # null MX (RFC 7505)
            if await self.match_host(host, mech, domain, depth, count_void=False):
                return True
        return False

    async def match_ptr(self, target: str, mech: Mechanism, domain: str, depth: int) -> bool:
        reverse = dns.reversename.from_address(str(self.ip)).to_text()
        answer = await self.resolver.query(reverse, "PTR")
        if answer.temperror:
            self.note(depth, "dns", answer.describe() + ": ptr fails to match (5.5)", domain)
            return False
        if self.check_void(depth, answer, mech.text, domain):
            return False
        target = target.rstrip(".").lower()
        for name in await self.validated_names(depth, domain):
            if name == target or name.endswith("." + target):
                return True
        return False

    async def explain(self, spec: str, domain: str, depth: int) -> str | None:
        """6.2: the exp= text, macro-expanded; any problem means no explanation."""
        try:
            target = await self.expand_domain(spec, domain)
        except MacroSyntaxError:
            return None
        if not valid_domain(target):
            self.note(depth, "exp", f"exp={target} is not a valid domain: ignored", domain)
            return None
        answer = await self.query(depth, target, "TXT", domain)
        texts = answer.txt
        if answer.status != DnsStatus.NOERROR or len(texts) != 1 or not texts[0].isascii():
            self.note(depth, "exp", f"exp={target}: no single ASCII TXT record, ignored", domain)
            return None
        try:
            text = await self.expand(texts[0], domain, exp=True)
        except MacroSyntaxError as exc:
            self.note(depth, "exp", f"exp={target}: bad explanation string ({exc})", domain)
            return None
        self.note(depth, "exp", text, domain)
        return text


async def check_host(
    resolver: Resolver,
    ip: str,
    domain: str,
    sender: str,
    helo: str | None = None,
    receiver: str = "unknown",
) -> SpfResult:
    """RFC 7208 check_host(ip, domain, sender), with the trace of everything it did."""
    address = parse_ip(ip)
    run = Evaluation(resolver, address, sender, helo, receiver)
    run.ip_upper = any(c.isupper() for c in ip)
    try:
        outcome = await run.check_host(domain)
    except _Abort as exc:
        run.note(0, "error", f"{exc.result}: {exc.reason}")
        outcome = _Outcome(exc.result, reason=exc.reason)
    if outcome.result == "fail" and outcome.explanation is None:
        pass  # no exp= (or it could not be used): receivers use their default text
    return SpfResult(
        result=outcome.result,
        ip=str(address),
        domain=domain,
        sender=f"{run.local}@{run.sender_domain}",
        helo=helo,
        explanation=outcome.explanation,
        matched=outcome.matched,
        matched_domain=outcome.matched_domain,
        reason=outcome.reason,
        lookups=run.lookups,
        void_lookups=run.voids,
        trace=run.trace,
    )


async def spf_query(
    resolver: Resolver, ip: str, mail_from: str, helo: str | None = None
) -> SpfResult:
    """What spfquery does: check the MAIL FROM identity, or postmaster@HELO when it is empty.

    A domain that cannot be checked (no domain, a literal, malformed labels) gives "none" (4.3).
    """
    mail_from = (mail_from or "").strip()
    if mail_from.startswith("<") and mail_from.endswith(">"):
        mail_from = mail_from[1:-1]
    if mail_from:
        local, at, domain = mail_from.rpartition("@")
        if not at:
            domain, local = mail_from, "postmaster"
        sender = f"{local or 'postmaster'}@{domain}"
    else:
        domain = helo or ""
        sender = f"postmaster@{domain}"
    return await check_host(resolver, ip, domain, sender, helo)
