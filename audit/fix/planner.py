"""Planning the fixes: the audit's facts and findings turned into a FixPlan (audit/fix/plan.py);
see audit/fix/__init__.py for what is proposed and how it is checked."""

from __future__ import annotations

import asyncio
import datetime as dt
import inspect
from collections.abc import Callable
from typing import Any

from audit.fix.plan import Change, FixPlan, PolicyFile
from audit.model import Report
from audit.net.dns import Resolver
from audit.records.bimi import parse_bimi
from audit.records.dmarc import parse_dmarc, with_tags
from audit.records.mta_sts import parse_sts_record
from audit.records.mta_sts_policy import parse_policy
from audit.records.tlsrpt import parse_tlsrpt
from audit.spf.parser import SpfSyntaxError, is_spf_record, parse_record
from audit.spf.tree import walk_tree

STS_MAX_AGE = 604800  # a week: RFC 8461 3.2 suggests weeks once enforced; testing first


class _Rejected(ValueError):
    """A proposed value our own parser does not accept: a bug, never printed."""


def _outcome_facts(report: Report, check: str) -> dict[str, Any]:
    return next((o.facts for o in report.outcomes if o.check == check), {})


def _rules(report: Report) -> set[str]:
    return {f.rule.id for f in report.findings()}


Txt = dict[str, list[str]]  # name -> its TXT records (strings joined), read by plan_fixes


def _starts(prefix: str) -> Callable[[str], bool]:
    """Is a TXT value the record of this kind (`v=dmarc1` ...)."""
    return lambda value: value.strip().lower().startswith(prefix)


def _replace(old: list[str], is_ours: Callable[[str], bool], new_value: str | None) -> list[str]:
    """The RRset with our record replaced (others, e.g. site verifications, kept as they are)."""
    kept = [v for v in old if not is_ours(v)]
    return kept + ([new_value] if new_value else [])


# --- per family ---------------------------------------------------------------------------


async def _spf(plan: FixPlan, txt: Txt, resolver: Resolver, rules: set[str],
               parked: bool) -> None:  # fmt: skip
    domain = plan.domain
    old = txt.get(domain, [])
    current = [v for v in old if is_spf_record(v)]
    clears: list[str] = []
    if not current:
        if parked:
            _add(plan, domain, "TXT", old, _replace(old, is_spf_record, "v=spf1 -all"),
                 ["SPF001"], "the domain sends no mail: every sender fails")  # fmt: skip
        elif "SPF001" in rules:
            plan.warnings.append(
                "SPF001: no SPF record, and who sends for the domain cannot be read from DNS: "
                'publish "v=spf1 include:<your provider> -all" naming your senders, or run '
                "audit fix --parked if the domain sends no mail"
            )
        return
    if len(current) > 1:
        plan.warnings.append("SPF002: several SPF records: merge them into one by hand")
        return
    try:
        record = parse_record(current[0])
    except SpfSyntaxError as exc:
        plan.warnings.append(f"SPF003: the SPF record does not parse ({exc}): fix it by hand")
        return
    text = record.text
    notes = []
    if parked:
        text, clears = "v=spf1 -all", sorted(rules & {"SPF101", "SPF102", "SPF103", "SPF201"})
        notes.append("the domain sends no mail")
    else:
        if "SPF201" in rules:
            from audit.fix.spf_flatten import flatten

            flat = await flatten(resolver, await walk_tree(resolver, domain))
            if flat is None:
                plan.warnings.append(
                    "SPF201: the includes over the limit cannot be flattened (they use exists, "
                    "ptr or macros, or their lookups failed): remove a sender or move one to a "
                    "subdomain"
                )
            else:
                text = flat.record
                clears.append("SPF201")
                notes.append(
                    f"flattened {', '.join(flat.replaced)} ({flat.lookups_before} -> "
                    f"{flat.lookups_after} lookups). WARNING: the flattened ranges are today's "
                    "addresses of those includes; providers change them without notice: re-run "
                    "audit fix regularly and re-check before publishing"
                )
        terms = text.split()
        if "SPF103" in rules:
            terms = [t for t in terms if t.lower().lstrip("+-~?").split(":")[0] != "ptr"]
            clears.append("SPF103")
        alls = [i for i, t in enumerate(terms) if t.lower().lstrip("+-~?") == "all"]
        if "SPF101" in rules and alls:
            terms[alls[-1]] = "~all"
            clears.append("SPF101")
            notes.append("~all: mail from unlisted hosts fails softly; -all once DMARC enforces")
        if "SPF102" in rules and not alls and record.redirect is None:
            terms.append("~all")
            clears.append("SPF102")
        text = " ".join(terms)
    if text == record.text:
        return
    _check_spf(text)
    _add(plan, domain, "TXT", old, _replace(old, is_spf_record, text), clears, "; ".join(notes))


def _check_spf(text: str) -> None:
    try:
        parse_record(text)
    except SpfSyntaxError as exc:
        raise _Rejected(f"proposed SPF {text!r}: {exc}") from None


def _next_dmarc(raw: str, domain: str, rules: set[str]) -> tuple[str, list[str], str]:
    """One step of the rollout from the current record; rua, ruf and the rest kept."""
    record = parse_dmarc(raw)
    tags = {k: v for k, v in record.tags.items() if k not in ("v", "p", "pct")}
    policy = record.policy or "none"
    pct: int | None = None
    clears: list[str] = []
    if policy == "none":
        policy, note = "quarantine", (
            "step 1 of the rollout (none -> quarantine -> reject); to ramp gradually publish "
            "pct=25, then 50, first (DMARC102 flags the partial steps)"
        )
        clears.append("DMARC101")
    elif record.pct < 100:
        pct = record.pct * 2 if record.pct * 2 < 100 else None
        note = f"raise pct {record.pct} -> {pct or 100} at p={policy}"
        if pct is None:
            clears.append("DMARC102")
    elif policy == "quarantine":
        policy, note = "reject", "last step of the rollout: reject"
    else:
        note = ""
    if "DMARC104" in rules:
        tags["sp"] = policy if policy != "none" else "quarantine"
        clears.append("DMARC104")
    if not record.rua:
        tags["rua"] = f"mailto:dmarc-reports@{domain}"
        clears.append("DMARC103")
    head = ["v=DMARC1", f"p={policy}"] + ([f"pct={max(pct, 1)}"] if pct else [])
    return "; ".join(head + [f"{k}={v}" for k, v in tags.items()]), clears, note


def _dmarc(plan: FixPlan, txt: Txt, rules: set[str], parked: bool) -> None:
    domain = plan.domain
    name = f"_dmarc.{domain}"
    old = txt.get(name, [])
    current = [v for v in old if _starts("v=dmarc1")(v)]
    if len(current) > 1:
        plan.warnings.append("DMARC002: several DMARC records: keep one")
        return
    if not current:
        if "DMARC001" not in rules and not parked:
            return  # inherited from the organizational domain (DMARC004) or not asked
        policy = "reject" if parked else "none"
        text = f"v=DMARC1; p={policy}; rua=mailto:dmarc-reports@{domain}"
        note = ("the domain sends no mail: reject" if parked else
                "start at p=none (DMARC101 until the next step), read the aggregate reports, "
                "then audit fix again")  # fmt: skip
        clears = ["DMARC001"]
        leaves = [] if parked else ["DMARC101"]
    else:
        if parked:
            text, clears, note = with_tags(parse_dmarc(current[0]), p="reject"), ["DMARC101"], ""
        else:
            text, clears, note = _next_dmarc(current[0], domain, rules)
        if text == current[0]:
            return
        leaves = []
    parsed = parse_dmarc(text)
    if not parsed.valid:
        raise _Rejected(f"proposed DMARC {text!r}: {'; '.join(parsed.errors)}")
    clears = sorted(set(clears) & rules) or clears
    _add(plan, name, "TXT", old, _replace(old, _starts("v=dmarc1"), text), clears, note)
    plan.changes[-1].leaves = leaves


def _mx_hosts(report: Report) -> list[str]:
    mx = _outcome_facts(report, "mx").get("mx") or {}
    return [h["host"] for h in mx.get("hosts") or [] if h.get("host")]


def _mta_sts(plan: FixPlan, report: Report, txt: Txt, rules: set[str], now: dt.datetime) -> None:
    wanted = rules & {"STS001", "STS002", "STS004", "STS005"}
    if not wanted:
        return
    hosts = _mx_hosts(report)
    if not hosts:
        plan.warnings.append("MTA-STS: the domain has no MX hosts to list in a policy")
        return
    domain = plan.domain
    policy = "\r\n".join(
        ["version: STSv1", "mode: testing", *[f"mx: {h}" for h in hosts],
         f"max_age: {STS_MAX_AGE}"]  # fmt: skip
    ) + "\r\n"
    parsed = parse_policy(policy)
    if not parsed.valid:
        raise _Rejected(f"proposed MTA-STS policy: {'; '.join(parsed.errors)}")
    plan.files.append(
        PolicyFile(
            f"https://mta-sts.{domain}/.well-known/mta-sts.txt",
            policy,
            sorted(wanted & {"STS004", "STS005"}),
            "serve it as text/plain over HTTPS with a certificate valid for "
            f"mta-sts.{domain} (an A/AAAA record for that name is needed); mode: testing "
            "first (STS101 says so), enforce once TLS-RPT reports are clean",
        )
    )
    name = f"_mta-sts.{domain}"
    old = txt.get(name, [])
    record = f"v=STSv1; id={now.strftime('%Y%m%d%H%M%S')}"
    if not parse_sts_record(record).valid:
        raise _Rejected(f"proposed MTA-STS record {record!r}")
    clears = sorted(wanted & {"STS001", "STS002"})
    note = "a new id tells senders the policy changed"
    _add(plan, name, "TXT", old, _replace(old, _starts("v=stsv1"), record), clears, note)


def _tlsrpt(plan: FixPlan, txt: Txt, rules: set[str]) -> None:
    wanted = rules & {"RPT001", "RPT002"}
    if not wanted:
        return
    domain = plan.domain
    name = f"_smtp._tls.{domain}"
    old = txt.get(name, [])
    rua = f"mailto:tls-reports@{domain}"
    for value in old:
        parsed = parse_tlsrpt(value)
        if parsed.rua and all(u.startswith(("mailto:", "https:")) for u in parsed.rua):
            rua = ",".join(parsed.rua)
    record = f"v=TLSRPTv1; rua={rua}"
    if not parse_tlsrpt(record).valid:
        raise _Rejected(f"proposed TLS-RPT record {record!r}")
    _add(plan, name, "TXT", old, _replace(old, _starts("v=tlsrptv1"), record), sorted(wanted))


def _bimi(plan: FixPlan, txt: Txt, rules: set[str]) -> None:
    if "BIMI001" not in rules:
        return
    name = f"default._bimi.{plan.domain}"
    old = txt.get(name, [])
    current = [v for v in old if _starts("v=bimi1")(v)]
    if len(current) != 1:
        plan.warnings.append("BIMI001: publish exactly one default._bimi TXT record")
        return
    parsed = parse_bimi(current[0])
    logo, evidence = parsed.logo_url, parsed.authority_url
    if not logo or not logo.lower().startswith("https://"):
        plan.warnings.append("BIMI001: the record has no usable https l= logo URL: fix by hand")
        return
    if evidence and not evidence.lower().startswith("https://"):
        evidence = None
    record = f"v=BIMI1; l={logo};" + (f" a={evidence};" if evidence else "")
    if not parse_bimi(record).valid:
        raise _Rejected(f"proposed BIMI record {record!r}")
    _add(plan, name, "TXT", old, _replace(old, _starts("v=bimi1"), record), ["BIMI001"])


def _null_mx(plan: FixPlan, report: Report) -> None:
    mx = _outcome_facts(report, "mx").get("mx") or {}
    if mx.get("null_mx"):
        return
    old = [r.rstrip(".") for r in mx.get("records") or []]
    _add(plan, plan.domain, "MX", old, ["0 ."], sorted({"MX001"} & _rules(report)),
         "null MX (RFC 7505): the domain accepts no mail")  # fmt: skip


def _add(plan: FixPlan, name: str, rtype: str, old: list[str], new: list[str],
         clears: list[str], note: str = "") -> None:  # fmt: skip
    plan.changes.append(Change(name, rtype, old, new, clears, note))


async def plan_fixes(
    report: Report, resolver: Resolver, *, parked: bool = False, now: dt.datetime | None = None
) -> FixPlan:
    """The changes that clear the report's findings, each parsed back before it is kept."""
    plan = FixPlan(report.target)
    rules = _rules(report)
    domain = report.target
    names = [domain, f"_dmarc.{domain}", f"_mta-sts.{domain}", f"_smtp._tls.{domain}",
             f"default._bimi.{domain}"]  # fmt: skip
    answers = await asyncio.gather(*(resolver.txt(n) for n in names))
    failed = [a for a in answers if a.temperror]
    if failed:
        plan.warnings.append(
            f"{failed[0].describe()}: the current records could not be read; nothing proposed"
        )
        return plan
    txt = {n: a.txt for n, a in zip(names, answers, strict=True)}
    now = now or dt.datetime.now(dt.UTC)
    steps = [
        lambda: _spf(plan, txt, resolver, rules, parked),
        lambda: _dmarc(plan, txt, rules, parked),
        lambda: _mta_sts(plan, report, txt, rules, now) if not parked else None,
        lambda: _tlsrpt(plan, txt, rules) if not parked else None,
        lambda: _bimi(plan, txt, rules) if not parked else None,
        lambda: _null_mx(plan, report) if parked else None,
    ]
    for step in steps:
        try:
            result = step()
            if inspect.isawaitable(result):
                await result
        except _Rejected as exc:
            plan.warnings.append(f"internal: {exc}; not proposed")
    return plan
