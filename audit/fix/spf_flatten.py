"""SPF flattening: replace `include:` terms by the addresses they stand for, until the record
needs at most 10 DNS lookups (RFC 7208 4.6.4).

Computed from the include tree (audit/spf/tree.py): the includes that cost the most are
replaced first, each by the ip4:/ip6: ranges its subtree authorizes today (its `+` ip4/ip6
terms, and the addresses of its a/mx terms, looked up now). An include whose subtree uses
`exists`, `ptr` or macros cannot be flattened and stays. The price: the provider may change its
addresses at any time and the flattened record will not follow. The result says which includes
were replaced so the team knows what to re-check.
"""

from __future__ import annotations

import ipaddress
from dataclasses import dataclass, field

from audit.net.dns import Resolver
from audit.spf.parser import Mechanism, parse_record
from audit.spf.tree import Node, SpfTree

LOOKUP_LIMIT = 10


class CannotFlatten(Exception):
    """This include's subtree holds something only a live lookup can answer."""


@dataclass
class Flattened:
    record: str
    lookups_before: int
    lookups_after: int
    replaced: list[str] = field(default_factory=list)  # include targets
    ranges: dict[str, list[str]] = field(default_factory=dict)  # include -> ip terms
    kept: list[str] = field(default_factory=list)  # includes that could not be flattened


def _cidr(mech: Mechanism, address: str) -> str:
    ip = ipaddress.ip_address(address)
    if ip.version == 4:
        return f"ip4:{address}" + (f"/{mech.cidr4}" if mech.cidr4 is not None else "")
    return f"ip6:{address}" + (f"/{mech.cidr6}" if mech.cidr6 is not None else "")


async def _addresses(resolver: Resolver, host: str) -> list[str]:
    a, aaaa = await resolver.addresses(host)
    if a.temperror or aaaa.temperror:
        raise CannotFlatten(f"the addresses of {host} could not be looked up")
    return [r.address for ans in (a, aaaa) for r in ans.rdata if hasattr(r, "address")]


async def _ranges(resolver: Resolver, node: Node) -> list[str]:
    """The ip4:/ip6: terms equivalent, today, to a pass from this node's record."""
    if node.kind != "ok" or node.parsed is None:
        raise CannotFlatten(f"{node.domain}: {node.error or node.kind}")
    children = {c.via: c for c in node.children}
    out: list[str] = []
    for mech in node.parsed.mechanisms:
        if mech.name == "all":
            continue
        if mech.qualifier != "+":
            if mech.name in ("ip4", "ip6"):
                continue  # a non-pass match inside an include is "no match" for the includer
            raise CannotFlatten(f"{mech.text} in {node.domain}: order-dependent, kept as is")
        spec = mech.domain_spec
        if spec and "%" in spec:
            raise CannotFlatten(f"{mech.text} in {node.domain} uses a macro")
        if mech.name in ("ip4", "ip6"):
            out.append(mech.text.lstrip("+"))
        elif mech.name == "a":
            out += [_cidr(mech, a) for a in await _addresses(resolver, spec or node.domain)]
        elif mech.name == "mx":
            answer = await resolver.query(spec or node.domain, "MX")
            if answer.temperror:
                raise CannotFlatten(f"the MX of {spec or node.domain} could not be looked up")
            for rr in answer.rdata:
                host = str(rr.exchange).rstrip(".")
                if host:
                    out += [_cidr(mech, a) for a in await _addresses(resolver, host)]
        elif mech.name == "include":
            child = children.get(f"include:{(spec or '').rstrip('.').lower()}")
            if child is None:
                raise CannotFlatten(f"{mech.text} in {node.domain} was not followed")
            out += await _ranges(resolver, child)
        else:  # exists, ptr
            raise CannotFlatten(f"{mech.text} in {node.domain} needs a live lookup")
    redirect = node.parsed.redirect
    if redirect and not any(m.name == "all" for m in node.parsed.mechanisms):
        child = children.get(f"redirect={redirect.rstrip('.').lower()}")
        if child is None:
            raise CannotFlatten(f"redirect={redirect} in {node.domain} was not followed")
        out += await _ranges(resolver, child)
    return list(dict.fromkeys(out))


async def flatten(resolver: Resolver, tree: SpfTree) -> Flattened | None:
    """A record within the lookup limit, or None when the tree is already within it or no
    combination of flattenable includes gets it there."""
    root = tree.root
    before = tree.lookup_count
    if before <= LOOKUP_LIMIT or root.parsed is None or root.kind != "ok":
        return None
    includes = [
        (c, c.via.split(":", 1)[1])
        for c in root.children
        if c.via and c.via.startswith("include:")
    ]
    includes.sort(key=lambda pair: pair[0].total_lookups, reverse=True)  # the costliest first
    result = Flattened(record=root.parsed.text, lookups_before=before, lookups_after=before)
    for child, target in includes:
        if result.lookups_after <= LOOKUP_LIMIT:
            break
        try:
            result.ranges[target] = await _ranges(resolver, child)
        except CannotFlatten:
            result.kept.append(target)
            continue
        result.replaced.append(target)
        result.lookups_after -= 1 + child.total_lookups
    if result.lookups_after > LOOKUP_LIMIT:
        return None
    terms: list[str] = []
    for term in root.parsed.text.split()[1:]:
        target = term.lower().removeprefix("+").removeprefix("include:").rstrip(".")
        if term.lower().lstrip("+").startswith("include:") and target in result.ranges:
            terms += result.ranges[target]
        else:
            terms.append(term)
    result.record = " ".join(["v=spf1", *dict.fromkeys(terms)])
    parse_record(result.record)  # our own parser must accept what we propose
    return result
