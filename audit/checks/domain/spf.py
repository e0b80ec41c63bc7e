"""The domain's SPF policy (RFC 7208): the record, its whole include/redirect tree, the costs.

Facts first: the record(s) found and the include/redirect tree with per-branch lookup counts
(`facts["spf"]`, rendered by the HTML report). Verdicts read the tree: missing, multiple, syntax,
permissive or missing `all`, `ptr`, over or near the 10-lookup limit (naming the costly
includes), void lookups, include targets without SPF, loops. A lookup that times out makes the
check inconclusive (DNS001), never "missing".
"""

from __future__ import annotations

from typing import Any

from audit.checks.common import DomainContext, temperror_finding
from audit.fact_types.spf import SpfFacts, SpfNode, SpfTerm
from audit.model import CheckResult, Finding, Status
from audit.net.dns import DnsStatus
from audit.rules.spf import (
    SPF_INCLUDE_LOOP,
    SPF_INCLUDE_WITHOUT_SPF,
    SPF_MISSING,
    SPF_MULTIPLE,
    SPF_NEAR_LIMIT,
    SPF_NO_ALL,
    SPF_PERMISSIVE_ALL,
    SPF_PTR,
    SPF_SYNTAX,
    SPF_TOO_MANY_LOOKUPS,
    SPF_TOO_MANY_VOID,
)
from audit.spf import MAX_LOOKUPS, MAX_VOID_LOOKUPS, Mechanism, SpfRecord
from audit.spf.parser import parse_term
from audit.spf.tree import Node, SpfTree, TermInfo, domain_tree

NEAR_LIMIT = 8


async def check(ctx: DomainContext) -> CheckResult:
    tree = await domain_tree(ctx)
    root = tree.root
    facts: dict[str, Any] = {
        "spf": SpfFacts(
            record=root.record,
            records=tuple(root.records),
            lookup_count=tree.lookup_count,
            void_lookup_count=tree.void_lookup_count,
            tree=_node_facts(root),
        ),
        "spf_terms": [_term_facts(t) for t in tree.terms],
    }
    findings: list[Finding] = []
    failed = tree.failed_lookups()
    for holder, answer in failed:
        consequence = (
            "the SPF record could not be read; this is unknown, not missing"
            if holder == ctx.domain and answer.rdtype == "TXT" and answer.name == ctx.domain
            else f"part of the SPF policy of {ctx.domain} could not be evaluated; receivers "
            "return temperror for it"
        )
        findings.append(temperror_finding(answer, answer.name, consequence))
    findings = _unique(findings)
    status = Status.INCONCLUSIVE if failed else Status.COMPLETED
    if root.kind == "temperror":
        return CheckResult(facts=facts, findings=findings, status=status)
    if root.kind == "no-spf":
        findings.append(await _missing(ctx, root))
        return CheckResult(facts=facts, findings=findings, status=status)
    findings += _record_problems(tree)
    findings += _policy_findings(tree)
    findings += _limit_findings(tree, complete=not failed)
    return CheckResult(facts=facts, findings=_unique(findings), status=status)


def _node_facts(node: Node) -> SpfNode:
    return SpfNode(
        domain=node.domain,
        via=node.via,
        record=node.record,
        lookups=node.lookups,
        total_lookups=node.total_lookups,
        void_lookups=node.void_lookups,
        error=node.error,
        children=tuple(_node_facts(c) for c in node.children),
    )


def _term_facts(term: TermInfo) -> SpfTerm:
    return SpfTerm(
        domain=term.domain,
        term=term.term,
        cost=term.cost,
        target=term.target,
        void=term.void,
        hosts=tuple(term.hosts),
        note=term.note,
        failed=term.failed.describe() if term.failed else None,
    )


def _unique(findings: list[Finding]) -> list[Finding]:
    """A domain reached by two branches is reported once per problem."""
    seen: set[tuple[str, str, str]] = set()
    out = []
    for finding in findings:
        key = (finding.rule.id, finding.target, finding.message)
        if key not in seen:
            seen.add(key)
            out.append(finding)
    return out


# --------------------------------------------------------------------------- presence, syntax


async def _missing(ctx: DomainContext, root: Node) -> Finding:
    mx = await ctx.resolver.query(ctx.domain, "MX")
    hosts = [rd.exchange.to_text().rstrip(".") for rd in mx.rdata if rd.exchange.to_text() != "."]
    other = root.answer.txt if root.answer else []
    evidence = [root.answer.describe()] if root.answer else []
    if hosts:
        record = "v=spf1 mx -all"
        why = (
            f"lists the MX hosts ({', '.join(hosts)}) as senders; add ip4:/ip6:/include: "
            "for every other service that sends as this domain"
        )
    else:
        record = "v=spf1 -all"
        why = "says the domain sends no mail; list the senders instead if it does"
    return Finding(
        SPF_MISSING,
        ctx.domain,
        message=f"{ctx.domain} publishes no SPF record"
        + (f" ({len(other)} other TXT record(s))" if other else ""),
        evidence=evidence,
        fix=f'Publish {ctx.domain} TXT "{record}" ({why}).',
    )


def _record_problems(tree: SpfTree) -> list[Finding]:
    """Multiple records, syntax errors, include targets without SPF, loops: all permerrors."""
    findings = []
    root = tree.root
    for node in tree.nodes:
        where = "" if node is root else f" ({node.via} from {_parent_of(tree, node).domain})"
        evidence = [node.answer.describe()] if node.answer else []
        if node.kind == "multiple":
            merged = _merge(node.records)
            findings.append(
                Finding(
                    SPF_MULTIPLE,
                    node.domain,
                    message=f"{node.domain}{where} publishes {len(node.records)} SPF records: "
                    "receivers return permerror",
                    evidence=list(node.records),
                    fix=f'Publish one record at {node.domain}: "{merged}" and delete the others.',
                )
            )
        elif node.kind == "syntax":
            findings.append(
                Finding(
                    SPF_SYNTAX,
                    node.domain,
                    message=f"SPF record of {node.domain}{where} does not parse: "
                    f"{node.error.removeprefix('syntax error: ') if node.error else ''}",
                    evidence=[node.record or ""],
                    fix=_syntax_fix(node),
                )
            )
        elif node.kind == "no-spf" and node is not root:
            parent = _parent_of(tree, node)
            kind = "include" if (node.via or "").startswith("include:") else "redirect"
            findings.append(
                Finding(
                    SPF_INCLUDE_WITHOUT_SPF,
                    node.domain,
                    message=f"{node.via} in the record of {parent.domain}: {node.domain} "
                    f"publishes no SPF record ({_status(node)}), so every evaluation that "
                    f"reaches this {kind} is a permerror",
                    evidence=[parent.record or "", *evidence],
                    fix=f"Remove {node.via} from the record of {parent.domain}: "
                    f'"{_without(parent, node.via)}", or correct the domain name '
                    "(the provider's documentation gives the exact include).",
                )
            )
        elif node.kind == "loop":
            parent = _parent_of(tree, node)
            findings.append(
                Finding(
                    SPF_INCLUDE_LOOP,
                    root.domain,
                    message=f"the SPF include/redirect chain loops: {' -> '.join(node.path)}; "
                    "evaluation runs into the lookup limit (permerror)",
                    evidence=[
                        f"{n.domain}: {n.record}"
                        for n in tree.nodes
                        if n.record and n.domain in node.path
                    ],
                    fix=f"Remove {node.via} from the record of {parent.domain}: "
                    f'"{_without(parent, node.via)}".',
                )
            )
    return findings


def _status(node: Node) -> str:
    if node.answer is None:
        return "not looked up"
    if node.answer.status == DnsStatus.NOERROR:
        return "TXT records but none starting with v=spf1"
    return node.answer.status.value


def _parent_of(tree: SpfTree, child: Node) -> Node:
    for node in tree.nodes:
        if any(c is child for c in node.children):
            return node
    return tree.root


def _without(node: Node, via: str | None) -> str:
    """The node's record with the include/redirect term `via` removed."""
    if not node.record or not via:
        return node.record or ""
    target = via.split(":", 1)[1] if via.startswith("include:") else via.split("=", 1)[1]
    kept = []
    for word in node.record.split():
        low = word.lower().lstrip("+-~?")
        name, _, value = low.partition(":" if low.startswith("include:") else "=")
        if name in ("include", "redirect") and value.rstrip(".") == target:
            continue
        kept.append(word)
    return " ".join(kept)


def _merge(records: list[str]) -> str:
    """One record holding every mechanism of the duplicates, ending in the strictest all."""
    terms: list[str] = []
    alls: list[str] = []
    modifiers: list[str] = []
    for record in records:
        for word in record.split()[1:]:
            low = word.lower()
            if low.lstrip("+-~?") == "all":
                alls.append(low if low[0] in "+-~?" else "+" + low)
            elif "=" in word.split(":")[0]:
                if word.split("=")[0].lower() not in {m.split("=")[0].lower() for m in modifiers}:
                    modifiers.append(word)
            elif word not in terms:
                terms.append(word)
    order = ["-all", "~all", "?all", "+all"]
    final = min(alls, key=order.index) if alls else "~all"
    final = final.lstrip("+") if final == "+all" else final
    return " ".join(["v=spf1", *terms, final, *modifiers])


def _syntax_fix(node: Node) -> str:
    """The record with the bad terms dropped, when that leaves something that parses."""
    record = node.record or ""
    kept, dropped = [], []
    for word in record.split(" ")[1:]:
        if not word:
            continue
        try:
            parse_term(word)
        except ValueError:
            dropped.append(word)
            continue
        kept.append(word)
    if dropped:
        fixed = " ".join(["v=spf1", *kept])
        return (
            f"Correct or remove {', '.join(repr(d) for d in dropped)}: e.g. publish "
            f'"{fixed}" at {node.domain} (check that what the bad term meant is still covered).'
        )
    return f"Correct the record of {node.domain} against RFC 7208 section 12 (ABNF): {node.error}"


# --------------------------------------------------------------------------- policy strength


def _with_all(record: str, qualifier: str) -> str:
    words = record.split()
    out = []
    for word in words:
        if word.lower().lstrip("+-~?") == "all":
            out.append(qualifier + "all")
        else:
            out.append(word)
    return " ".join(out)


def _policy_findings(tree: SpfTree) -> list[Finding]:
    findings: list[Finding] = []
    chain = tree.policy_chain()
    chain_ids = {id(n) for n in chain}
    for node in tree.nodes:
        record = node.parsed
        if record is None or node.record is None:
            continue
        in_policy = id(node) in chain_ids
        last_all = record.all
        if last_all is not None and (
            last_all.qualifier == "+" or (in_policy and last_all.qualifier == "?")
        ):
            findings.append(_permissive(tree, node, last_all, in_policy))
        if in_policy and any(m.name == "ptr" for m in record.mechanisms):
            findings.append(_ptr(node, record))
    end = chain[-1]
    if end.parsed is not None and end.parsed.all is None and end.parsed.redirect is None:
        findings.append(_no_all(tree, end))
    return findings


def _permissive(tree: SpfTree, node: Node, mech: Mechanism, in_policy: bool) -> Finding:
    root = tree.root
    if in_policy:
        effect = (
            "any host on the internet passes SPF"
            if mech.qualifier == "+"
            else "any host gets neutral: SPF protects nothing"
        )
        where = "" if node is root else f" ({node.via}, the effective policy of {root.domain})"
    else:
        effect = f"this include matches every IP, so any host passes SPF for {root.domain}"
        where = f" (reached by {node.via})"
    return Finding(
        SPF_PERMISSIVE_ALL,
        node.domain,
        message=f"'{mech.text}' in the SPF record of {node.domain}{where}: {effect}",
        evidence=[node.record or ""],
        fix=(
            f'Publish {node.domain} TXT "{_with_all(node.record or "", "-")}" '
            f'(or "{_with_all(node.record or "", "~")}" while you confirm every sender is listed).'
            if in_policy or node.domain == root.domain
            else f"Remove {node.via} from the policy of {root.domain} (or have its owner end it "
            f'in -all): "{_without(_parent_of(tree, node), node.via)}".'
        ),
    )


def _ptr(node: Node, record: SpfRecord) -> Finding:
    kept = [
        w for w in (node.record or "").split() if w.lower().lstrip("+-~?").split(":")[0] != "ptr"
    ]
    ptrs = [m.text for m in record.mechanisms if m.name == "ptr"]
    return Finding(
        SPF_PTR,
        node.domain,
        message=f"{', '.join(ptrs)} in the SPF record of {node.domain}: slow, unreliable and "
        "deprecated (RFC 7208 5.5); some receivers ignore it",
        evidence=[node.record or ""],
        fix=f'Publish "{" ".join(kept)}" at {node.domain}, adding ip4:/ip6: or a: terms for the '
        "hosts the ptr term used to cover.",
    )


def _no_all(tree: SpfTree, node: Node) -> Finding:
    record = node.parsed
    assert record is not None and node.record is not None
    words = node.record.split()
    last_mech = max((i for i, w in enumerate(words) if i and "=" not in w.split(":")[0]), default=0)
    fixed = " ".join([*words[: last_mech + 1], "-all", *words[last_mech + 1 :]])
    soft = fixed.replace(" -all", " ~all", 1)
    where = "" if node is tree.root else f" (reached by {node.via})"
    return Finding(
        SPF_NO_ALL,
        node.domain,
        message=f"the SPF record of {node.domain}{where} has no 'all' and no redirect: "
        "unlisted hosts get neutral, which protects nothing",
        evidence=[node.record],
        fix=f'Publish {node.domain} TXT "{fixed}" (or "{soft}" while you confirm every '
        "sender is listed).",
    )


# --------------------------------------------------------------------------- limits


def _tree_lines(node: Node, indent: int = 0) -> list[str]:
    via = f"{node.via} -> " if node.via else ""
    state = f" [{node.error}]" if node.error else ""
    line = (
        f"{'  ' * indent}{via}{node.domain}: {node.lookups} lookup(s) here, "
        f"{node.total_lookups} with descendants{state}"
    )
    return [line] + [x for c in node.children for x in _tree_lines(c, indent + 1)]


def _costs(tree: SpfTree) -> list[tuple[str, int]]:
    """Each direct branch of the root with what it costs (its term plus its subtree)."""
    costs = []
    for child in tree.root.children:
        costs.append((child.via or child.domain, 1 + child.total_lookups))
    for term in tree.root.terms:
        if term.cost and not term.term.lower().lstrip("+-~?").startswith(("include:", "redirect=")):
            costs.append((term.term, term.cost))
    return sorted(costs, key=lambda c: -c[1])


def _limit_findings(tree: SpfTree, complete: bool) -> list[Finding]:
    findings: list[Finding] = []
    root = tree.root
    count = tree.lookup_count
    costs = _costs(tree)
    named = ", ".join(f"{name} ({cost})" for name, cost in costs[:5])
    evidence = _tree_lines(root)
    if count > MAX_LOOKUPS:
        costly = [name for name, cost in costs if cost > 1][:3]
        findings.append(
            Finding(
                SPF_TOO_MANY_LOOKUPS,
                root.domain,
                message=f"the SPF policy of {root.domain} needs {count} DNS lookups (limit "
                f"{MAX_LOOKUPS}): receivers return permerror. Costliest: {named}",
                evidence=evidence,
                fix=_flatten_fix(root.domain, count, costly, costs),
            )
        )
    elif count >= NEAR_LIMIT and complete:
        findings.append(
            Finding(
                SPF_NEAR_LIMIT,
                root.domain,
                message=f"the SPF policy of {root.domain} needs {count} of {MAX_LOOKUPS} DNS "
                f"lookups: one more include from a provider breaks it. Costliest: {named}",
                evidence=evidence,
                fix=_flatten_fix(root.domain, count, [n for n, c in costs if c > 1][:3], costs),
            )
        )
    voids = [t for t in tree.terms if t.void]
    if len(voids) > MAX_VOID_LOOKUPS:
        findings.append(
            Finding(
                SPF_TOO_MANY_VOID,
                root.domain,
                message=f"{len(voids)} terms in the SPF policy of {root.domain} look up names "
                f"that do not exist (limit {MAX_VOID_LOOKUPS}): receivers return permerror",
                evidence=[f"{t.term} in {t.domain}: {t.target} has no records" for t in voids],
                fix="Remove the terms that point at nothing: "
                + ", ".join(f"{t.term} (in {t.domain})" for t in voids)
                + ".",
            )
        )
    return findings


def _flatten_fix(domain: str, count: int, costly: list[str], costs: list[tuple[str, int]]) -> str:
    over = max(count - MAX_LOOKUPS, 0)
    parts = []
    if over:
        parts.append(f"Cut at least {over} lookup(s) from the policy of {domain}.")
    else:
        parts.append(f"Keep headroom under the limit of {MAX_LOOKUPS} for {domain}.")
    if costly:
        parts.append(
            "Replace the costliest includes ("
            + ", ".join(costly)
            + ") with the ip4:/ip6: ranges they publish (flattening; re-check when the provider "
            "changes them), or move a sender to a subdomain with its own SPF record."
        )
    simple = [
        n
        for n, c in costs
        if c == 1
        and n.lower().lstrip("+-~?").split(":")[0].split("/")[0] in ("a", "mx", "ptr", "exists")
    ]
    if simple:
        parts.append(
            "Replace " + ", ".join(simple) + " with ip4:/ip6: terms for the hosts' addresses "
            "(no lookup needed)."
        )
    return " ".join(parts)
