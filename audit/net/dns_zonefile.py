"""The zone-file backend: answers from RFC 1035 master files (`--zone-dir`) or in-memory data.

`StaticBackend` gives the DNS semantics a server would (CNAME chasing, RFC 4592 wildcards,
NODATA for empty non-terminals, NXDOMAIN outside the loaded zones) and, for signed zones, the
RRSIGs and NSEC/NSEC3 records a server sends with the DO bit. Fully offline.
"""

from __future__ import annotations

import time
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, cast

import dns.dnssec
import dns.exception
import dns.name
import dns.rdata
import dns.rdataclass
import dns.rdatatype
import dns.rdtypes.ANY.CNAME
import dns.rrset
import dns.zone
from dns.rdtypes.ANY.NSEC import NSEC
from dns.rdtypes.ANY.NSEC3 import NSEC3
from dns.rdtypes.ANY.NSEC3PARAM import NSEC3PARAM

from audit.dir_files import files_in
from audit.net.dns_answers import (
    MAX_CNAME_CHAIN,
    DnsAnswer,
    DnssecAnswer,
    DnsStatus,
    normalize_name,
)
from audit.net.nsec import (
    listed_types,
    nsec3_covers,
    nsec3_digest,
    nsec3_owner_hash,
    nsec_covers,
)

Denial = NSEC | NSEC3  # the records that prove absence

Failure = DnsStatus  # an injected failure for a (name, type) or a whole name


@dataclass
class StaticData:
    """Records as a flat map name -> type -> rdata, with optional injected failures.

    `apexes` are the zone origins the data covers; a name under none of them does not exist.
    An empty `apexes` means the data is one flat namespace (in-memory test data).
    """

    # rdata of every type (as DnsAnswer.rdata): readers use the attributes of the type stored
    nodes: dict[str, dict[str, list[Any]]] = field(default_factory=dict)
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

    def _node(self, name: str) -> tuple[dict[str, list[Any]] | None, bool]:
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
                cname = cast(dns.rdtypes.ANY.CNAME.CNAME, node["CNAME"][0])
                current = normalize_name(cname.target.to_text())
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
            param = cast(NSEC3PARAM, apex_node["NSEC3PARAM"][0])
            digest = nsec3_digest(qname, param)
            owners = [digest.lower() + ("." + zone if zone else ".")]
            owners += [
                n
                for n, rd in self._nsec_records(zone, "NSEC3")
                if nsec3_covers(nsec3_owner_hash(n), rd, digest)
            ]
            kind = "NSEC3"
        else:
            qtext = normalize_name(qname.to_text())
            exact = [n for n, _ in self._nsec_records(zone, "NSEC") if n == qtext]
            owners = exact or [
                n
                for n, rd in self._nsec_records(zone, "NSEC")
                if isinstance(rd, NSEC) and nsec_covers(dns.name.from_text(n), rd.next, qname, apex)
            ]
            kind = "NSEC"
        for owner in dict.fromkeys(owners):
            node = self.data.nodes.get(owner, {})
            records: list[dns.rdata.Rdata] = [
                rd for rd in _denial_rdata(node, kind) if _own_side(owner, zone, rd)
            ]
            if records:
                name = dns.name.from_text(owner)
                out += self._signed(name, kind, {**node, kind: records}, apex)
        return out

    def _nsec_records(self, zone: str, kind: str) -> list[tuple[str, Denial]]:
        """(owner, rdata) of every NSEC or NSEC3 record of `zone` (on its own side of a cut)."""
        out: list[tuple[str, Denial]] = []
        for owner, node in self.data.nodes.items():
            if kind not in node or zone not in (
                self._zone_of(owner, kind),
                self._zone_of(owner, "DS"),  # the parent side of a cut
            ):
                continue
            out += [(owner, rd) for rd in _denial_rdata(node, kind) if _own_side(owner, zone, rd)]
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


def _denial_rdata(node: dict[str, list[Any]], kind: str) -> list[Denial]:
    """The node's NSEC or NSEC3 records (`kind`), typed for `audit.net.nsec`."""
    return cast(list[Denial], node.get(kind, []))


def _own_side(owner: str, zone: str, rd: Denial) -> bool:
    """Whether a denial record belongs to `zone`: zone files merge both sides of a cut into one
    node, and only the child's NSEC at its apex lists SOA (NSEC3 owners are hashes: no clash)."""
    if isinstance(rd, NSEC3):
        return True
    return (owner == zone) == (dns.rdatatype.SOA in listed_types(rd))


def _valid_name(name: str) -> bool:
    if not name or len(name) > 253:
        return False
    return all(0 < len(label) <= 63 for label in name.split("."))


class ZoneDirError(ValueError):
    """A zone directory that cannot be used (missing, unreadable, or a file that does not parse)."""


def load_zone_dir(directory: str | Path) -> StaticData:
    """Every `*.zone` file in `directory`, RFC 1035 master format; origin from `$ORIGIN` or the
    file name (`example.com.zone` -> `example.com.`)."""
    files = files_in(Path(directory), "*.zone", "zone files", ZoneDirError)
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
        data.apexes.add(normalize_name(zone.origin.to_text() if zone.origin else origin))
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
