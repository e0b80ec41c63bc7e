"""DNSSEC validation (RFC 4033-4035, RFC 5155): the chain of trust from a trust anchor down to
one rrset, with the reason and the name when it breaks, not only a yes or no.

Every question goes through the run's Resolver (`query_dnssec`: DO and CD bits), so each one is
logged in the report and shared between checks. The walk is the one a validating resolver
makes, top-down:

* the trust anchor's DNSKEY set: a key matching the anchor (DS digest or DNSKEY) must sign it;
* below it, label by label, the DS question decides. A DS set signed by the parent leads to the
  child's DNSKEY set (a key matching a DS must sign it). A signed "no DS" (NSEC/NSEC3) at a
  delegation ends the chain: everything below is insecure (unsigned). "No DS" at a name that is
  not a zone cut keeps us in the parent zone;
* the rrset, a CNAME on the way (validated, then followed), or the proof that the data does not
  exist, against the keys of the zone it belongs to. An answer's RRSIG signer names that zone,
  so a signed answer needs DS questions only down to its zone, not for every label.

Outcomes (`Security`): secure; insecure (where the chain ends, and whether the "no DS" proof was
verified); bogus (why, at which name); indeterminate (a lookup timed out or failed: unknown,
never "unsigned"); unchecked (nothing to validate against: the backend cannot ask with the DO
bit, no trust anchor covers the name, or the anchor's zone is not served by the servers asked).

Limits, kept on purpose: a wildcard answer's proof that the name itself does not exist and the
full NSEC3 closest-encloser proof are not checked (the NSEC/NSEC3 records must be validly signed
and match or cover the name). One validator per run caches every zone's keys and every result.
"""

from __future__ import annotations

import enum
import time
from collections.abc import Awaitable, Callable, Hashable
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, TypeVar

import dns.dnssec
import dns.exception
import dns.name
import dns.rdataclass
import dns.rdatatype
import dns.rrset
import dns.zone

from audit.net.dns import DnssecAnswer, DnsStatus, Resolver
from audit.net.nsec import (
    listed_types,
    nsec3_covers,
    nsec3_digest,
    nsec3_owner_hash,
    nsec_covers,
)
from audit.net.once import Memo

T = TypeVar("T")

ROOT_ANCHORS = """\
; The IANA root zone trust anchors (https://data.iana.org/root-anchors/root-anchors.xml)
; KSK-2017
. IN DS 20326 8 2 E06D44B80B8F1D39A95C0B0D7C65D08458E880409BBC683457104237C7F8EC8D
; KSK-2024
. IN DS 38696 8 2 683D2D0ACB8C9B712A1948B27F741219298D0A450D612C483AF444A4C0FB2B16
"""

MAX_CNAME_HOPS = 8
NSEC3_MAX_ITERATIONS = 150  # RFC 9276 3.2: a validator may treat more as insecure
DS_DIGESTS = {1, 2, 4}  # SHA-1, SHA-256, SHA-384: what dns.dnssec.make_ds computes


class Security(enum.Enum):
    SECURE = "secure"
    INSECURE = "insecure"
    BOGUS = "bogus"
    INDETERMINATE = "indeterminate"
    UNCHECKED = "unchecked"


# --------------------------------------------------------------------------- trust anchors


class TrustAnchorError(ValueError):
    """A trust anchor file that cannot be used: one line saying why."""


@dataclass(frozen=True)
class TrustAnchors:
    """DS and DNSKEY records per zone that are trusted as given (Unbound trust-anchor-file)."""

    ds: dict[dns.name.Name, tuple[Any, ...]]
    dnskey: dict[dns.name.Name, tuple[Any, ...]]
    source: str

    @classmethod
    def root(cls) -> TrustAnchors:
        return cls.from_text(ROOT_ANCHORS, "root (KSK-2017 20326, KSK-2024 38696)")

    @classmethod
    def from_file(cls, path: str | Path) -> TrustAnchors:
        try:
            text = Path(path).read_text(encoding="utf-8")
        except (OSError, UnicodeDecodeError) as exc:
            raise TrustAnchorError(f"cannot read trust anchor file {str(path)!r}: {exc}") from None
        return cls.from_text(text, str(path))

    @classmethod
    def from_text(cls, text: str, source: str) -> TrustAnchors:
        """DS and DNSKEY records in master-file format, for any zones; other types ignored."""
        try:
            zone = dns.zone.from_text(  # anchor files seldom give TTLs: a default for them
                "$TTL 3600\n" + text, origin=dns.name.root, relativize=False, check_origin=False
            )
        except (dns.exception.DNSException, ValueError) as exc:
            raise TrustAnchorError(f"trust anchor file {source!r} does not parse: {exc}") from None
        ds: dict[dns.name.Name, tuple[Any, ...]] = {}
        dnskey: dict[dns.name.Name, tuple[Any, ...]] = {}
        for name, node in zone.nodes.items():
            for rdataset in node.rdatasets:
                if rdataset.rdtype == dns.rdatatype.DS:
                    ds[name] = ds.get(name, ()) + tuple(rdataset)
                elif rdataset.rdtype == dns.rdatatype.DNSKEY:
                    dnskey[name] = dnskey.get(name, ()) + tuple(rdataset)
        if not ds and not dnskey:
            raise TrustAnchorError(f"trust anchor file {source!r} holds no DS or DNSKEY records")
        return cls(ds, dnskey, source)

    def closest(self, name: dns.name.Name) -> dns.name.Name | None:
        """The deepest anchored zone at or above `name`."""
        zones = [z for z in (*self.ds, *self.dnskey) if name.is_subdomain(z)]
        return max(zones, key=len) if zones else None

    def describe(self, zone: dns.name.Name) -> str:
        parts = [f"DS {d.key_tag}" for d in self.ds.get(zone, ())]
        parts += [f"DNSKEY {k.key_id()}" for k in self.dnskey.get(zone, ())]
        return ", ".join(parts)

    def trusted_keys(self, zone: dns.name.Name, keys: dns.rrset.RRset) -> list[Any]:
        """The keys of `zone`'s DNSKEY set that the anchors vouch for."""
        anchored = self.dnskey.get(zone, ())
        return [
            key
            for key in keys
            if key in anchored or any(_ds_matches(zone, key, ds) for ds in self.ds.get(zone, ()))
        ]


def load_trust_anchors(path: str | Path | None) -> TrustAnchors:
    """`--trust-anchor FILE`, or the root's anchors when none is given."""
    return TrustAnchors.from_file(path) if path else TrustAnchors.root()


# --------------------------------------------------------------------------- results


@dataclass(frozen=True)
class ZoneState:
    """How far the chain of trust reaches toward a name: the deepest zone reached and its keys
    (when secure), or where and why it stopped."""

    zone: dns.name.Name
    security: Security
    keys: dns.rrset.RRset | None = None
    reason: str = ""
    at: str | None = None
    steps: tuple[str, ...] = ()
    failed: DnssecAnswer | None = None
    denial_verified: bool | None = None


@dataclass(frozen=True)
class Validation:
    """The verdict on one (name, type): the security, why, where, and the data it covers."""

    name: str
    rdtype: str
    security: Security
    reason: str = ""
    at: str | None = None  # the name where the chain breaks (bogus) or ends (insecure)
    zone: str | None = None  # the zone the data was validated in (when secure)
    status: DnsStatus = DnsStatus.NOERROR
    rdata: tuple[Any, ...] = ()
    steps: tuple[str, ...] = ()
    failed: DnssecAnswer | None = None  # the lookup that failed (indeterminate)
    denial_verified: bool | None = None  # insecure: was the "no DS" proof checked?

    @property
    def secure(self) -> bool:
        return self.security is Security.SECURE

    @property
    def records(self) -> list[str]:
        return [rd.to_text() for rd in self.rdata]

    def to_dict(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "type": self.rdtype,
            "security": self.security.value,
            "reason": self.reason or None,
            "at": self.at,
            "zone": self.zone,
            "status": self.status.value,
            "records": self.records,
            "chain": list(self.steps),
            "denial_verified": self.denial_verified,
        }


def _text(name: dns.name.Name) -> str:
    """Names as reports show them: no trailing dot, the root as "."."""
    return name.to_text(omit_final_dot=True) if len(name) > 1 else "."


def _when(timestamp: int) -> str:
    return datetime.fromtimestamp(timestamp, UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def _ds_matches(zone: dns.name.Name, key: Any, ds: Any) -> bool:
    if key.key_id() != ds.key_tag or key.algorithm != ds.algorithm:
        return False
    try:
        made = dns.dnssec.make_ds(
            zone, key, ds.digest_type, policy=dns.dnssec.allow_all_policy, validating=True
        )
    except (dns.dnssec.UnsupportedAlgorithm, dns.dnssec.DeniedByPolicy, ValueError):
        return False
    return made.digest == ds.digest


# --------------------------------------------------------------------------- the validator


class Validator:
    """Validates rrsets for one run: zones' keys and results are computed once and shared.

    `now` (seconds since the epoch) fixes the clock RRSIG validity is judged against.
    """

    def __init__(
        self, resolver: Resolver, anchors: TrustAnchors | None = None, now: float | None = None
    ):
        self.resolver = resolver
        self.anchors = anchors or TrustAnchors.root()
        self.now = now
        self._memo: Memo[Hashable, Any] = Memo()

    async def _once(self, key: Hashable, make: Callable[[], Awaitable[T]]) -> T:
        result: T = await self._memo.get(key, make)
        return result

    def _clock(self) -> float:
        return self.now if self.now is not None else time.time()

    async def validate(self, name: str, rdtype: str) -> Validation:
        """The verdict on `name`/`rdtype` (CNAMEs followed, each hop validated)."""
        rdtype = rdtype.upper()
        try:
            qname = dns.name.from_text(name.strip().rstrip(".") + ".")
        except dns.exception.DNSException as exc:  # too long: such a name cannot exist
            return Validation(
                name, rdtype, Security.UNCHECKED, reason=str(exc), status=DnsStatus.NXDOMAIN
            )
        return await self._once(("rrset", qname, rdtype), lambda: self._validate(qname, rdtype, 0))

    async def _validate(self, qname: dns.name.Name, rdtype: str, hops: int) -> Validation:
        name = _text(qname)
        answer = await self.resolver.query_dnssec(name, rdtype)
        base: dict[str, Any] = {"name": name, "rdtype": rdtype, "status": answer.status}
        if not answer.supported:
            return Validation(**base, security=Security.UNCHECKED, reason=answer.error or "")
        if answer.temperror:
            return Validation(
                **base,
                security=Security.INDETERMINATE,
                reason=f"{name} {rdtype} (DO) lookup gave {answer.status.value}",
                failed=answer,
            )
        state = await self.zone_state(self._signer_hint(answer, qname) or qname)
        rrset, cname = answer.rrset, answer.cname
        data = tuple(rrset) if rrset is not None else ()
        if state.security is not Security.SECURE:
            result = Validation(
                **base,
                security=state.security,
                reason=state.reason,
                at=state.at,
                rdata=data,
                steps=state.steps,
                failed=state.failed,
                denial_verified=state.denial_verified,
            )
            following = state.security in (Security.INSECURE, Security.UNCHECKED)
            if cname is not None and rrset is None and following:
                return self._follow(result, await self._target(cname, rdtype, hops))
            return result
        zone, steps = _text(state.zone), state.steps
        if rrset is not None:
            problem = self._check(rrset, answer.rrsigs, state.zone, state.keys)
            if problem:
                return Validation(
                    **base, security=Security.BOGUS, reason=problem, at=name, zone=zone,
                    rdata=data, steps=steps,
                )  # fmt: skip
            step = f"{name} {rdtype}: signed by {zone}"
            return Validation(
                **base, security=Security.SECURE, zone=zone, rdata=data, steps=(*steps, step)
            )
        if cname is not None:
            problem = self._check(cname, answer.signatures(cname), state.zone, state.keys)
            if problem:
                return Validation(
                    **base, security=Security.BOGUS, reason=problem, at=name, zone=zone,
                    steps=steps,
                )  # fmt: skip
            step = f"{name} CNAME {cname[0].target.to_text()}: signed by {zone}"
            head = Validation(**base, security=Security.SECURE, zone=zone, steps=(*steps, step))
            return self._follow(head, await self._target(cname, rdtype, hops))
        problem = self._check_denial(answer, qname, rdtype, state)
        if problem:
            return Validation(
                **base, security=Security.BOGUS, reason=problem, at=name, zone=zone, steps=steps
            )
        step = f"{name} {rdtype}: {answer.status.value}, proven by a signed NSEC/NSEC3 of {zone}"
        return Validation(**base, security=Security.SECURE, zone=zone, steps=(*steps, step))

    async def _target(self, cname: dns.rrset.RRset, rdtype: str, hops: int) -> Validation:
        target = cname[0].target
        if hops >= MAX_CNAME_HOPS:
            return Validation(
                _text(target), rdtype, Security.BOGUS, reason="CNAME chain too long", at=None
            )
        # Not through the memo: a CNAME loop would wait on its own unfinished result.
        return await self._validate(target, rdtype, hops + 1)

    @staticmethod
    def _follow(head: Validation, tail: Validation) -> Validation:
        """A CNAME hop and where it leads: the weaker security of the two, the tail's data."""
        order = [Security.SECURE, Security.INSECURE, Security.UNCHECKED, Security.INDETERMINATE,
                 Security.BOGUS]  # fmt: skip
        worst = head if order.index(head.security) > order.index(tail.security) else tail
        return Validation(
            head.name,
            head.rdtype,
            worst.security,
            reason=worst.reason,
            at=worst.at,
            zone=tail.zone,
            status=tail.status,
            rdata=tail.rdata,
            steps=tuple(dict.fromkeys((*head.steps, *tail.steps))),
            failed=worst.failed,
            denial_verified=worst.denial_verified,
        )

    def _signer_hint(self, answer: DnssecAnswer, qname: dns.name.Name) -> dns.name.Name | None:
        """The zone a signed answer says it comes from (its RRSIG signer), when that zone is at
        or above the name and under a trust anchor; the keys must then prove it."""
        sigs = [r for r in (*answer.answer, *answer.authority) if r.rdtype == dns.rdatatype.RRSIG]
        sigs.sort(key=lambda r: r.name != qname)  # the name's own signatures first
        for rrset in sigs:
            for sig in rrset:
                anchor = self.anchors.closest(sig.signer)
                if qname.is_subdomain(sig.signer) and anchor is not None:
                    return sig.signer
        return None

    # ----------------------------------------------------------------- the chain of trust

    async def zone_state(self, name: dns.name.Name) -> ZoneState:
        """The chain of trust from the closest anchor down to the zone holding `name`."""
        return await self._once(("zone", name), lambda: self._zone_state(name))

    async def _zone_state(self, name: dns.name.Name) -> ZoneState:
        anchor = self.anchors.closest(name)
        if anchor is None:
            return ZoneState(
                name,
                Security.UNCHECKED,
                reason=f"DNSSEC not checked: no trust anchor at or above {_text(name)} "
                f"(anchors: {self.anchors.source})",
            )
        if name == anchor:
            return await self._anchor_state(anchor)
        parent = await self.zone_state(name.parent())
        if parent.security is not Security.SECURE:
            return parent
        return await self._descend(parent, name)

    async def _anchor_state(self, anchor: dns.name.Name) -> ZoneState:
        zone = _text(anchor)
        answer = await self.resolver.query_dnssec(zone, "DNSKEY")
        if not answer.supported:
            return ZoneState(anchor, Security.UNCHECKED, reason=answer.error or "")
        if answer.refused:
            # The server will not answer for the anchor's zone at all (an authoritative-only
            # server of other zones): nothing here is validated, so nothing is called unsigned.
            return ZoneState(
                anchor,
                Security.UNCHECKED,
                reason=f"DNSSEC not checked: the DNS server REFUSED {zone} DNSKEY, the trust "
                "anchor's keys (point --dns-server at a recursive resolver, or give "
                "--trust-anchor for a zone it serves)",
            )
        if answer.temperror:
            return _unanswered(anchor, zone, answer)
        if answer.status is DnsStatus.NXDOMAIN:
            return ZoneState(
                anchor,
                Security.UNCHECKED,
                reason=f"DNSSEC not checked: the trust anchor's zone {zone} is not served by the "
                "DNS servers or zone files asked (give --trust-anchor for a zone they serve)",
            )
        keys = answer.rrset
        if keys is None:
            return ZoneState(
                anchor, Security.BOGUS, reason=f"no DNSKEY set at the trust anchor {zone}", at=zone
            )
        trusted = self.anchors.trusted_keys(anchor, keys)
        if not trusted:
            tags = ", ".join(str(k.key_id()) for k in keys)
            return ZoneState(
                anchor,
                Security.BOGUS,
                reason=f"no DNSKEY of {zone} (key tags {tags}) matches the trust anchor "
                f"({self.anchors.describe(anchor)})",
                at=zone,
            )
        if answer.rrsigs is None:
            return ZoneState(
                anchor,
                Security.UNCHECKED,
                reason=f"DNSSEC not checked: the DNS server returns {zone} DNSKEY without its "
                "RRSIG (a resolver that drops DNSSEC records: give a validating one with "
                "--dns-server)",
            )
        anchored = dns.rrset.from_rdata_list(anchor, keys.ttl, trusted)
        problem = self._check(keys, answer.rrsigs, anchor, anchored)
        if problem:
            return ZoneState(
                anchor,
                Security.BOGUS,
                reason=f"the DNSKEY set of {zone} is not signed by its trust anchor: {problem}",
                at=zone,
            )
        tags = ", ".join(str(k.key_id()) for k in trusted)
        step = f"{zone} DNSKEY: key {tags} matches the trust anchor and signs the key set"
        return ZoneState(anchor, Security.SECURE, keys=keys, steps=(step,))

    async def _descend(self, parent: ZoneState, name: dns.name.Name) -> ZoneState:
        """One label below a secure zone: a signed child, an unsigned one, or no cut at all."""
        child, zone = _text(name), _text(parent.zone)
        ds = await self.resolver.query_dnssec(child, "DS")
        if ds.temperror:
            return _unanswered(name, child, ds, parent.steps)
        if ds.rrset is not None:
            problem = self._check(ds.rrset, ds.rrsigs, parent.zone, parent.keys)
            if problem:
                return ZoneState(
                    name,
                    Security.BOGUS,
                    reason=f"the DS set of {child} in {zone} does not validate: {problem}",
                    at=child,
                    steps=parent.steps,
                )
            return await self._child_keys(parent, name, ds.rrset)
        if ds.status is DnsStatus.NXDOMAIN:
            return parent  # no such name: the final answer's denial says so
        verdict, verified, how = self._no_ds(ds, name, parent)
        if verdict == "bogus":
            return ZoneState(name, Security.BOGUS, reason=how, at=child, steps=parent.steps)
        if verdict == "probe":
            soa = await self.resolver.query_dnssec(child, "SOA")
            if soa.temperror:
                return _unanswered(name, child, soa, parent.steps)
            verdict = "cut" if soa.rrset is not None else "none"
        if verdict == "none":
            return parent
        return ZoneState(
            name,
            Security.INSECURE,
            reason=f"{child} is delegated from {zone} without a DS record: the zone is not "
            f"signed, or its DS was never published ({how})",
            at=child,
            steps=(*parent.steps, f"{child} DS: none ({how})"),
            denial_verified=verified,
        )

    def _no_ds(
        self, ds: DnssecAnswer, name: dns.name.Name, parent: ZoneState
    ) -> tuple[str, bool, str]:
        """What an empty DS answer from a secure parent means: ("cut", verified, how) for an
        unsigned delegation, ("none", ...) for a name that is no zone cut, ("probe", False, how)
        when only an SOA question can tell, ("bogus", False, why) for a broken proof."""
        denial = ds.denial
        if not denial:
            return "probe", False, "the parent's answer has no NSEC/NSEC3 proof: not verified"
        for rrset in denial:
            problem = self._check(rrset, ds.signatures(rrset), parent.zone, parent.keys)
            if problem:
                why = f"the proof that {_text(name)} has no DS does not validate: {problem}"
                return "bogus", False, why
        nsec = [r for r in denial if r.rdtype == dns.rdatatype.NSEC]
        if nsec:
            match = next((r for r in nsec if r.name == name), None)
            return self._bitmap_verdict(match, name, "NSEC") if match else ("none", True, "")
        param = denial[0][0]
        if param.iterations > NSEC3_MAX_ITERATIONS:
            return "probe", False, f"NSEC3 with {param.iterations} iterations (RFC 9276)"
        digest = nsec3_digest(name, param)
        match = next((r for r in denial if nsec3_owner_hash(r.name) == digest), None)
        if match is not None:
            return self._bitmap_verdict(match, name, "NSEC3")
        if any(rd.flags & 1 for r in denial for rd in r):
            return "probe", True, "covered by an opt-out NSEC3"
        return "none", True, ""

    @staticmethod
    def _bitmap_verdict(match: dns.rrset.RRset, name: dns.name.Name, kind: str):
        types = listed_types(match[0])
        if dns.rdatatype.DS in types:
            why = f"the {kind} at {_text(name)} lists a DS record, yet the DS answer was empty"
            return "bogus", False, why
        if dns.rdatatype.NS in types and dns.rdatatype.SOA not in types:
            return "cut", True, f"proven by a signed {kind}"
        return "none", True, ""

    async def _child_keys(
        self, parent: ZoneState, name: dns.name.Name, ds_set: dns.rrset.RRset
    ) -> ZoneState:
        child, zone = _text(name), _text(parent.zone)
        steps = parent.steps
        usable = [
            ds
            for ds in ds_set
            if ds.digest_type in DS_DIGESTS
            and _known(ds.algorithm)
            and dns.dnssec.default_policy.ok_to_validate_ds(ds.digest_type)
        ]
        if not usable:
            algorithms = ", ".join(sorted({f"{d.algorithm}/{d.digest_type}" for d in ds_set}))
            return ZoneState(
                name,
                Security.INSECURE,
                reason=f"the DS records of {child} use only algorithms this validator does not "
                f"implement ({algorithms}): treated as unsigned (RFC 4035 5.2)",
                at=child,
                steps=steps,
            )
        answer = await self.resolver.query_dnssec(child, "DNSKEY")
        if answer.temperror:
            return _unanswered(name, child, answer, steps)
        ds_tags = ", ".join(str(d.key_tag) for d in usable)
        keys = answer.rrset
        if keys is None:
            return ZoneState(
                name,
                Security.BOGUS,
                reason=f"{zone} publishes a DS for {child} (key tag {ds_tags}) but {child} "
                f"serves no DNSKEY set ({answer.status.value})",
                at=child,
                steps=steps,
            )
        matched = [k for k in keys if any(_ds_matches(name, k, d) for d in usable)]
        if not matched:
            key_tags = ", ".join(str(k.key_id()) for k in keys)
            return ZoneState(
                name,
                Security.BOGUS,
                reason=f"no DNSKEY of {child} (key tags {key_tags}) matches its DS in {zone} "
                f"(key tag {ds_tags}): the DS is stale or wrong",
                at=child,
                steps=steps,
            )
        vouched = dns.rrset.from_rdata_list(name, keys.ttl, matched)
        problem = self._check(keys, answer.rrsigs, name, vouched)
        if problem:
            return ZoneState(
                name,
                Security.BOGUS,
                reason=f"the DNSKEY set of {child} is not signed by the key its DS names: "
                f"{problem}",
                at=child,
                steps=steps,
            )
        tags = ", ".join(str(k.key_id()) for k in matched)
        step = f"{child} DS {ds_tags} signed by {zone}; DNSKEY {tags} matches it and signs the set"
        return ZoneState(name, Security.SECURE, keys=keys, steps=(*steps, step))

    # ----------------------------------------------------------------- signatures and proofs

    def _check(
        self,
        rrset: dns.rrset.RRset,
        sigs: dns.rrset.RRset | None,
        zone: dns.name.Name,
        keys: dns.rrset.RRset | None,
    ) -> str | None:
        """None when an RRSIG by `zone` over `rrset` validates with `keys`; else why not."""
        what = f"{_text(rrset.name)} {dns.rdatatype.to_text(rrset.rdtype)}"
        if not sigs:
            return f"{what} has no RRSIG (the zone {_text(zone)} is signed)"
        ours = [s for s in sigs if s.signer == zone]
        if not ours:
            signers = ", ".join(sorted({_text(s.signer) for s in sigs}))
            return f"{what} is signed by {signers}, not by its zone {_text(zone)}"
        assert keys is not None, "only a secure zone state is checked, and it holds its keys"
        reasons: list[str] = []
        for sig in ours:
            try:
                dns.dnssec.validate_rrsig(rrset, sig, {zone: keys}, now=self._clock())
                return None
            except dns.dnssec.UnsupportedAlgorithm:
                reasons.append(f"the RRSIG over {what} uses algorithm {sig.algorithm}, unsupported")
            except dns.dnssec.ValidationFailure as exc:
                reasons.append(_explain(str(exc), sig, what, _text(zone)))
        return "; ".join(dict.fromkeys(reasons))

    def _check_denial(
        self, answer: DnssecAnswer, qname: dns.name.Name, rdtype: str, state: ZoneState
    ) -> str | None:
        """None when a signed NSEC/NSEC3 of the zone backs the NODATA/NXDOMAIN answer."""
        what = f"{_text(qname)} {rdtype} {answer.status.value}"
        denial = [r for r in answer.denial if r.name.is_subdomain(state.zone)]
        if not denial:
            zone = _text(state.zone)
            return f"{what} comes without an NSEC/NSEC3 proof (the zone {zone} is signed)"
        for rrset in denial:
            problem = self._check(rrset, answer.signatures(rrset), state.zone, state.keys)
            if problem:
                return problem
        wanted = dns.rdatatype.from_text(rdtype)
        nsec = [r for r in denial if r.rdtype == dns.rdatatype.NSEC]
        if nsec:
            match = next((r for r in nsec if r.name == qname), None)
            if answer.status is DnsStatus.NODATA and match is not None:
                listed = listed_types(match[0]) & {wanted, dns.rdatatype.CNAME}
                if listed:
                    # listed holds only `wanted` and CNAME: known types
                    kinds = ", ".join(
                        dns.rdatatype.to_text(dns.rdatatype.RdataType(t)) for t in sorted(listed)
                    )
                    return f"{what}, yet the signed NSEC at {_text(qname)} lists {kinds}"
                return None
            if (
                any(nsec_covers(r.name, r[0].next, qname, state.zone) for r in nsec)
                or match is not None
            ):
                return None
            return f"{what}: no NSEC matches or covers {_text(qname)}"
        param = denial[0][0]
        names = [qname]
        while names[-1] != state.zone and len(names[-1]) > len(state.zone):
            names.append(names[-1].parent())
        for candidate in names:
            digest = nsec3_digest(candidate, param)
            for rrset in denial:
                owner = nsec3_owner_hash(rrset.name)
                if owner == digest:
                    if candidate == qname and answer.status is DnsStatus.NODATA:
                        listed = listed_types(rrset[0]) & {wanted, dns.rdatatype.CNAME}
                        if listed:
                            return f"{what}, yet the signed NSEC3 for {_text(qname)} lists it"
                        return None
                    continue
                if answer.status is not DnsStatus.NODATA and nsec3_covers(owner, rrset[0], digest):
                    return None
        if answer.status is DnsStatus.NODATA:
            # RFC 5155 8.5: NODATA needs the NSEC3 matching the name itself (empty
            # non-terminals have one too); a signed NSEC3 of some other name proves nothing
            return f"{what}: no NSEC3 matches {_text(qname)}"
        return f"{what}: no NSEC3 matches or covers {_text(qname)}"


def _unanswered(
    zone: dns.name.Name, label: str, answer: DnssecAnswer, steps: tuple[str, ...] = ()
) -> ZoneState:
    """A zone whose DS/DNSKEY/SOA question timed out or SERVFAILed: unknown, not insecure."""
    return ZoneState(
        zone,
        Security.INDETERMINATE,
        reason=f"{label} {answer.rdtype} (DO) lookup gave {answer.status.value}",
        failed=answer,
        steps=steps,
    )


def _known(algorithm: int) -> bool:
    """An algorithm we implement and may validate: RSAMD5 and DSA (RFC 8624: MUST NOT
    validate) count as unknown, so their zones are insecure, not bogus (RFC 4035 5.2)."""
    try:
        dns.dnssec.get_algorithm_cls(algorithm)
    except dns.dnssec.UnsupportedAlgorithm:
        return False
    probe = type("Key", (), {"algorithm": algorithm})()
    return bool(dns.dnssec.default_policy.ok_to_validate(probe))


def _explain(failure: str, sig: Any, what: str, zone: str) -> str:
    """dnspython's terse failure ("expired") as a sentence naming the signature."""
    head = f"the RRSIG over {what} (key {sig.key_tag})"
    if failure == "expired":
        return f"{head} expired at {_when(sig.expiration)}"
    if failure == "not yet valid":
        return f"{head} is not valid before {_when(sig.inception)}"
    if failure == "unknown key":
        return f"{head} was made with a key that is not in the trusted DNSKEY set of {zone}"
    if failure == "verify failure":
        return f"{head} does not verify: bad signature"
    return f"{head}: {failure}"
