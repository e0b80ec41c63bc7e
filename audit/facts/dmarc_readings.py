"""Where RFC 7489 and RFC 9989 receivers read a domain's DMARC policy differently, in words.

The domain audit (DMARC005) and the message audit (the DMARC verdict's `readings`) state the
same differences from the same discovery, so the two audits agree on every reading. Each note
names both readings; `DECIDING_TEXT` says which one the verdicts follow.
"""

from __future__ import annotations

import asyncio
from typing import TYPE_CHECKING

from audit.net.dns import Resolver
from audit.psl import organizational_domain
from audit.records.dmarc import P_ORDER_ERROR, DmarcRecord, Reading, parse_dmarc

if TYPE_CHECKING:
    from audit.facts.dmarc_policy import Discovery

DECIDING_TEXT = (
    "RFC 9989's reading of the record (RFC 9989 obsoletes RFC 7489 and RFC 9091); which record "
    "applies follows RFC 7489's discovery when it finds one, and alignment uses the Public "
    "Suffix List (RFC 7489 3.2)"
)


def discovery_differences(found: Discovery) -> list[str]:
    """The two walks reach different records, or different organizational domains."""
    notes = []
    if found.rfc7489_at != found.rfc9989_at and not (found.discarded and not found.rfc9989_at):
        if found.discarded:
            rfc7489 = (
                f"RFC 7489 receivers stop at the {len(found.records_at(found.policy_at))} "
                f"records at _dmarc.{found.policy_at} and apply no DMARC (6.6.3 step 5)"
            )
        else:
            rfc7489 = "RFC 7489 receivers use " + _at(found.rfc7489_at)
        rfc9989 = f"RFC 9989 receivers use {_at(found.rfc9989_at)} (4.10 tree walk)"
        if found.discarded:
            rfc9989 = (
                "RFC 9989 receivers discard them and walk on to "
                f"{_at(found.rfc9989_at)} (4.10 step 2)"
            )
        notes.append(f"{rfc7489}; {rfc9989}{_gives(found, found.rfc9989_at)}")
    if found.policy_at and found.rfc9989_org and found.rfc9989_org != found.org_domain:
        notes.append(
            f"organizational domain of {found.domain}: {found.rfc9989_org} by RFC 9989's DNS "
            f"tree walk (4.10.2, psd= included), {found.org_domain} by the Public Suffix List "
            "(RFC 7489 3.2); relaxed alignment of an identifier between the two differs"
        )
    return notes


def record_differences(found: Discovery, record: DmarcRecord) -> list[str]:
    """The same record read by the two RFCs: the policy applied, and the syntax errors one
    of them finds and the other ignores."""
    notes = []
    r7489, r9989 = record.rfc7489, record.rfc9989
    said = {rfc: _applied(found, r) for rfc, r in (("rfc7489", r7489), ("rfc9989", r9989))}
    if said["rfc7489"] != said["rfc9989"]:
        notes.append(f"RFC 7489 receivers {said['rfc7489']}; RFC 9989 receivers {said['rfc9989']}")
    existence = found.existence
    if existence is not None and existence.rfc9989 != existence.rfc9091:
        queries = ", ".join(f"{t} {a.status.value}" for t, a in existence.answers.items())
        notes.append(
            f"{found.domain} answers {queries}: it exists for RFC 9989 (3.2.13: only NXDOMAIN "
            "means non-existent) but not for RFC 9091 (2.7: NXDOMAIN or NODATA for A, AAAA and "
            "MX), so only RFC 9091 receivers apply np= to it"
        )
    # the p= position error is already in the readings above
    rfc7489_errors = [e for e in record.rfc7489_errors if e != P_ORDER_ERROR]
    if rfc7489_errors:
        removed = [e for e in rfc7489_errors if e.split("=", 1)[0] in ("pct", "rf", "ri")]
        notes.append(
            "RFC 7489 finds "
            + "; ".join(rfc7489_errors)
            + (
                "; RFC 9989 receivers ignore pct=, rf= and ri= (tags it removed, A.6 and 9.3)"
                if removed
                else ""
            )
        )
    if record.rfc9989_errors:
        notes.append(
            "RFC 9989 finds " + "; ".join(record.rfc9989_errors) + " (its receivers use the "
            "default); RFC 7489 receivers ignore psd= and t= as unknown tags"
        )
    if record.nonexistent_policy and not found.subdomain:
        notes.append(
            f"np={record.nonexistent_policy}: RFC 9989 receivers apply it to subdomains that do "
            "not exist (NXDOMAIN), RFC 9091 receivers also to subdomains without A, AAAA or MX; "
            "plain RFC 7489 receivers apply sp= (or p=) to them"
        )
    return notes


async def alignment_differences(
    resolver: Resolver, found: Discovery, identifiers: list[tuple[str, str, str]]
) -> list[str]:
    """Passing identifiers, as (label, domain, mode), whose relaxed alignment with the From
    domain is not the same by RFC 9989's tree-walk organizational domains (4.10.2) as by the
    Public Suffix List (RFC 7489 3.2), which the verdict follows."""
    from audit.facts.dmarc_policy import tree_walk_organizational_domain

    relaxed = [
        (label, ident.lower().rstrip("."), mode)
        for label, ident, mode in identifiers
        if mode == "r" and ident and ident.lower().rstrip(".") != found.domain
    ]
    if not relaxed or found.rfc9989_org is None:
        return []
    orgs = await asyncio.gather(
        *(tree_walk_organizational_domain(resolver, ident) for _, ident, _ in relaxed)
    )
    notes = []
    for (label, ident, _), org in zip(relaxed, orgs, strict=True):
        if org is None:
            continue
        by_walk = org == found.rfc9989_org
        by_psl = organizational_domain(ident) == found.org_domain
        if by_walk != by_psl:
            notes.append(
                f"{label}{ident}: RFC 9989 tree-walk organizational domains {org} and "
                f"{found.rfc9989_org} {'match' if by_walk else 'differ'} (relaxed alignment "
                f"{'holds' if by_walk else 'fails'}), the Public Suffix List's "
                f"{'match' if by_psl else 'differ'}; the verdict follows the Public Suffix List"
            )
    return notes


def applied_text(found: Discovery, rfc: str) -> str:
    """What `rfc`'s receivers do with failing mail from the domain, in words."""
    record = found.record
    if record is None:
        return "apply no DMARC"
    return _applied(found, record.reading(rfc))


def _applied(found: Discovery, reading: Reading) -> str:
    if not reading.applies:
        return f"apply no DMARC ({reading.fallback})"
    exists = found.exists(reading.rfc)
    policy, tag = reading.policy_for(found.subdomain, exists)
    text = f"apply {tag}={policy}"
    if tag == "np":
        text += f" ({found.domain} does not exist)"
    disposition = reading.disposition(policy)
    if disposition != policy:
        text += f", as {disposition} because of t=y"
    if reading.fallback:
        text += f" ({reading.fallback})"
    return text


def _gives(found: Discovery, name: str | None) -> str:
    """What the record at `name` asks of mail from the domain, read by RFC 9989."""
    raw = found.records_at(name)
    if len(raw) != 1:
        return ""
    reading = parse_dmarc(raw[0]).rfc9989
    policy, tag = reading.policy_for(name != found.domain, found.exists("rfc9989"))
    return f", which gives {tag}={policy}" if policy else ", which is not applied"


def _at(name: str | None) -> str:
    return f"_dmarc.{name}" if name else "no record (none found)"

