"""Static analysis of a domain's SPF include/redirect tree: what evaluation could cost.

Unlike check_host(), which stops at the first match and depends on the connecting IP, this walks
every branch and counts the worst case: every include/a/mx/ptr/exists/redirect term costs one of
the 10 lookups (RFC 7208 4.6.4); a/mx/exists targets that do not exist are void lookups. Each
level of the tree is fetched concurrently. Targets holding macros depend on the message and are
counted but not followed.
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass, field
from typing import Any

from audit.net.dns import DnsAnswer, DnsStatus, Resolver
from audit.run_context import RunContext
from audit.spf.evaluator import valid_domain
from audit.spf.parser import Mechanism, SpfRecord, SpfSyntaxError, is_spf_record, parse_record

MAX_NODES = 200  # a pathological fan-out stops here; 10 lookups are long exceeded by then
MAX_DEPTH = 12


@dataclass
class TermInfo:
    """One DNS-costing term of a record, as the static walk saw it."""

    domain: str  # whose record holds the term
    term: str
    cost: int
    target: str | None = None
    void: bool = False
    hosts: list[str] = field(default_factory=list)  # mx: the exchange names
    note: str | None = None
    failed: DnsAnswer | None = None  # a lookup that timed out or SERVFAILed

    def as_dict(self) -> dict[str, Any]:
        return {
            "domain": self.domain,
            "term": self.term,
            "cost": self.cost,
            "target": self.target,
            "void": self.void,
            "hosts": self.hosts,
            "note": self.note,
            "failed": self.failed.describe() if self.failed else None,
        }


@dataclass
class Node:
    """One record in the tree. `kind` says why a node was not evaluated further."""

    domain: str
    via: str | None  # "include:x", "redirect=x", None for the root
    path: tuple[str, ...]  # the domains from the root to here (for loop detection)
    record: str | None = None
    records: list[str] = field(default_factory=list)
    parsed: SpfRecord | None = None
    answer: DnsAnswer | None = None
    lookups: int = 0
    void_lookups: int = 0
    error: str | None = None
    kind: str = "ok"  # ok|temperror|no-spf|multiple|syntax|loop|macro|invalid|truncated
    children: list[Node] = field(default_factory=list)
    terms: list[TermInfo] = field(default_factory=list)

    @property
    def depth(self) -> int:
        return len(self.path) - 1

    @property
    def total_lookups(self) -> int:
        return self.lookups + sum(c.total_lookups for c in self.children)

    @property
    def total_void_lookups(self) -> int:
        return self.void_lookups + sum(c.total_void_lookups for c in self.children)

    def walk(self):
        yield self
        for child in self.children:
            yield from child.walk()

    def as_dict(self) -> dict[str, Any]:
        """The facts shape the HTML report renders (keep it exactly)."""
        return {
            "domain": self.domain,
            "via": self.via,
            "record": self.record,
            "lookups": self.lookups,
            "total_lookups": self.total_lookups,
            "void_lookups": self.void_lookups,
            "error": self.error,
            "children": [c.as_dict() for c in self.children],
        }


@dataclass
class SpfTree:
    root: Node
    truncated: bool = False

    @property
    def nodes(self) -> list[Node]:
        return list(self.root.walk())

    @property
    def lookup_count(self) -> int:
        return self.root.total_lookups

    @property
    def void_lookup_count(self) -> int:
        return self.root.total_void_lookups

    def failed_lookups(self) -> list[tuple[str, DnsAnswer]]:
        """(domain whose record needed it, answer) for every lookup that timed out/SERVFAILed."""
        out = [(n.domain, n.answer) for n in self.nodes if n.kind == "temperror" and n.answer]
        out += [(t.domain, t.failed) for t in self.terms if t.failed is not None]
        return out

    @property
    def terms(self) -> list[TermInfo]:
        return [t for n in self.nodes for t in n.terms]

    def policy_chain(self) -> list[Node]:
        """The root and the records it redirects to: the domain's effective policy."""
        chain = [self.root]
        while True:
            nxt = next(
                (c for c in chain[-1].children if (c.via or "").startswith("redirect=")), None
            )
            if nxt is None:
                return chain
            chain.append(nxt)


async def walk_tree(resolver: Resolver, domain: str) -> SpfTree:
    """Fetch and parse every record reachable by include/redirect, one level at a time."""
    root = Node(domain, None, (domain,))
    tree = SpfTree(root)
    level = [root]
    count = 1
    while level:
        await asyncio.gather(*(_load(resolver, node) for node in level))
        following: list[Node] = []
        for node in level:
            for child in node.children:
                if child.kind != "ok":
                    continue
                if count >= MAX_NODES or child.depth > MAX_DEPTH:
                    child.kind, child.error = "truncated", "not followed: the tree is too large"
                    tree.truncated = True
                    continue
                count += 1
                following.append(child)
        level = following
    return tree


async def _load(resolver: Resolver, node: Node) -> None:
    answer = await resolver.txt(node.domain)
    node.answer = answer
    if answer.temperror:
        node.kind = "temperror"
        node.error = f"TXT lookup gave {answer.status.value}: unknown, not missing"
        return
    node.records = [t for t in answer.txt if is_spf_record(t)]
    if not node.records:
        node.kind = "no-spf"
        node.error = f"no SPF record ({answer.status.value})"
        return
    if len(node.records) > 1:
        node.kind = "multiple"
        node.error = f"{len(node.records)} SPF records: a permerror"
        return
    node.record = node.records[0]
    try:
        node.parsed = parse_record(node.record)
    except SpfSyntaxError as exc:
        node.kind = "syntax"
        node.error = f"syntax error: {exc}"
        return
    await _analyse_terms(resolver, node, node.parsed)


async def _analyse_terms(resolver: Resolver, node: Node, record: SpfRecord) -> None:
    checks = []
    for mech in record.mechanisms:
        if not mech.costs_lookup:
            continue
        info = TermInfo(node.domain, mech.text, 1)
        node.terms.append(info)
        node.lookups += 1
        if mech.domain_spec and "%" in mech.domain_spec:
            info.note = "target holds macros: expanded per message, not followed"
            if mech.name == "include":
                node.children.append(_macro_child(node, f"include:{mech.domain_spec}"))
            continue
        target = (mech.domain_spec or node.domain).rstrip(".").lower()
        info.target = target
        if mech.name == "include":
            node.children.append(_child(node, target, f"include:{target}"))
        elif mech.name in ("a", "mx", "exists"):
            checks.append(_void_check(resolver, mech, target, info))
        elif mech.name == "ptr":
            info.note = "ptr: cost depends on the connecting IP's PTR names"
    redirect = record.redirect
    if redirect is not None:
        if record.all is not None:
            node.terms.append(
                TermInfo(node.domain, f"redirect={redirect}", 0, note="ignored: 'all' present")
            )
        else:
            node.lookups += 1
            info = TermInfo(node.domain, f"redirect={redirect}", 1)
            node.terms.append(info)
            if "%" in redirect:
                info.note = "target holds macros: expanded per message, not followed"
                node.children.append(_macro_child(node, f"redirect={redirect}"))
            else:
                info.target = redirect.rstrip(".").lower()
                node.children.append(_child(node, info.target, f"redirect={info.target}"))
    results = await asyncio.gather(*checks)
    node.void_lookups = sum(1 for void in results if void)


def _child(parent: Node, target: str, via: str) -> Node:
    child = Node(target, via, (*parent.path, target))
    if not valid_domain(target):
        child.kind, child.error = "invalid", f"{target!r} is not a valid domain name"
    elif target in parent.path:
        loop = " -> ".join((*parent.path, target))
        child.kind, child.error = "loop", f"loop: {loop}"
    return child


def _macro_child(parent: Node, via: str) -> Node:
    spec = via.split(":", 1)[1] if via.startswith("include:") else via.split("=", 1)[1]
    child = Node(spec, via, (*parent.path, spec))
    child.kind = "macro"
    child.error = "target holds macros: expanded per message, not followed"
    return child


async def _void_check(resolver: Resolver, mech: Mechanism, target: str, info: TermInfo) -> bool:
    """Whether the term's lookup finds nothing (for every sender IP); records mx hosts."""
    if mech.name == "mx":
        answers = [await resolver.query(target, "MX")]
        info.hosts = [rd.exchange.to_text().rstrip(".") for rd in answers[0].rdata]
        if len(info.hosts) > 10:
            info.note = f"{len(info.hosts)} MX hosts: more than 10 is a permerror"
    elif mech.name == "a":
        answers = list(await resolver.addresses(target))
    else:
        answers = [await resolver.query(target, "A")]
    info.failed = next((a for a in answers if a.temperror), None)
    info.void = info.failed is None and all(_void(a) for a in answers)
    return info.void


def _void(answer: DnsAnswer) -> bool:
    return answer.status in (DnsStatus.NXDOMAIN, DnsStatus.NODATA) or (
        answer.status == DnsStatus.NOERROR and not answer.rdata
    )


async def domain_tree(ctx: RunContext) -> SpfTree:
    """The audited domain's tree, walked once per run and shared: the SPF check judges it, ESP
    detection reads the provider includes in it."""
    return await ctx.once(("spf-tree",), lambda: walk_tree(ctx.resolver, ctx.domain))
