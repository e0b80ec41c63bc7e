"""Bulk-sender readiness: the Gmail, Yahoo and Outlook sender requirements this message meets
or misses, each row pointing at the findings behind it.

Runs after the other message checks (it reads their outcomes), so the table and the findings
can never disagree. Sources: Google's email sender guidelines (2024: all senders, and 5,000+
messages a day), Yahoo's sender requirements (2024), Outlook.com's high-volume sender
requirements (2025).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

from audit.checks.message.context import MessageContext
from audit.facts.fcrdns import forward_confirm
from audit.model import CheckOutcome, CheckResult, Finding, Status
from audit.rules.bulk import BULK_UNMET

TIERS = {
    "gmail": "Gmail (all senders)",
    "gmail-bulk": "Gmail (5,000+ a day)",
    "yahoo": "Yahoo (all senders)",
    "yahoo-bulk": "Yahoo (bulk senders)",
    "outlook-bulk": "Outlook.com (5,000+ a day)",
}
_TLS_MARK = re.compile(r"\b(ESMTPS|ESMTPSA|UTF8SMTPS|LMTPS)\b|TLS", re.IGNORECASE)
_PLAIN_MARK = re.compile(r"\bwith\s+(E?SMTP|UTF8SMTP)\b(?!S)", re.IGNORECASE)


@dataclass
class Row:
    key: str
    requirement: str
    tiers: tuple[str, ...]
    status: str  # met | missed | unknown | n/a
    detail: str
    rules: list[str]  # rule ids of the findings behind a miss

    def to_dict(self) -> dict[str, Any]:
        return {
            "key": self.key,
            "requirement": self.requirement,
            "applies_to": [TIERS[t] for t in self.tiers],
            "status": self.status,
            "detail": self.detail,
            "findings": self.rules,
        }


def _fired(outcomes: list[CheckOutcome], *rule_ids: str) -> list[str]:
    return sorted({f.rule.id for o in outcomes for f in o.findings if f.rule.id in rule_ids})


def _status_of(outcomes: list[CheckOutcome], check: str) -> Status | None:
    return next((o.status for o in outcomes if o.check == check), None)


async def _fcrdns(ctx: MessageContext, ip: str | None) -> tuple[str, str]:
    if not ip:
        return "unknown", "no connecting IP known"
    found = await forward_confirm(ctx.resolver, ip)
    if found.ptr.temperror:
        return "unknown", f"PTR lookup for {ip}: {found.ptr.status.value}"
    if not found.ptr.rdata:
        return "missed", f"{ip} has no PTR record"
    if found.confirmed:
        return "met", f"{ip} -> {found.confirmed[0]} -> {ip}"
    if found.pending:
        return "unknown", f"forward lookup failed: {found.pending.describe()}"
    names = ", ".join(found.forwards)
    return "missed", f"{ip} -> {names}, which does not resolve back to {ip}"


def _tls(ctx: MessageContext) -> tuple[str, str]:
    source = ctx.envelope.ip.source
    if not source.startswith("Received["):
        return "unknown", "the edge Received header is not known"
    if _TLS_MARK.search(source) and not _PLAIN_MARK.search(source):
        return "met", "the edge hop was received over TLS"
    if _PLAIN_MARK.search(source):
        return "missed", "the edge hop was received without TLS (with SMTP/ESMTP)"
    return "unknown", "the edge Received header does not say whether TLS was used"


async def evaluate(ctx: MessageContext, outcomes: list[CheckOutcome]) -> CheckResult:
    spf = await ctx.spf_verdict()
    dkim = await ctx.dkim_verdicts()
    dmarc = await ctx.dmarc_verdict()
    dkim_pass = any(v.passed for v in dkim)
    spf_known = spf.result not in ("temperror",) and spf.ip is not None
    rows: list[Row] = []

    def row(key, requirement, tiers, met, detail, rules, known=True):
        status = "met" if met else ("missed" if known else "unknown")
        rows.append(Row(key, requirement, tiers, status, detail, rules if status != "met" else []))

    row(
        "spf-or-dkim",
        "SPF or DKIM passes",
        ("gmail", "yahoo"),
        spf.passed or dkim_pass,
        f"SPF {spf.result}; DKIM {'pass' if dkim_pass else 'no pass'}",
        _fired(outcomes, "SPF301", "SPF302", "DKIM301", "DKIM302"),
        known=spf_known or dkim_pass,
    )
    row(
        "spf-pass",
        "SPF passes",
        ("gmail-bulk", "yahoo-bulk", "outlook-bulk"),
        spf.passed,
        f"SPF {spf.result} for {spf.domain}",
        _fired(outcomes, "SPF301", "SPF302"),
        known=spf_known,
    )
    row(
        "dkim-pass",
        "DKIM passes",
        ("gmail-bulk", "yahoo-bulk", "outlook-bulk"),
        dkim_pass,
        f"{sum(v.passed for v in dkim)} of {len(dkim)} signatures pass",
        _fired(outcomes, "DKIM301", "DKIM302", "DKIM304"),
    )
    row(
        "dmarc-policy",
        "A DMARC policy is published for the From domain (p=none is enough)",
        ("gmail-bulk", "yahoo-bulk", "outlook-bulk"),
        dmarc.result not in ("none",) and dmarc.record is not None,
        dmarc.reason or dmarc.result,
        _fired(outcomes, "DMARC302"),
        known=dmarc.result != "temperror",
    )
    row(
        "dmarc-aligned",
        "The From domain aligns with SPF or DKIM (DMARC passes)",
        ("gmail-bulk", "yahoo-bulk", "outlook-bulk"),
        dmarc.dkim_aligned != [] or dmarc.spf_aligned,
        dmarc.reason,
        _fired(outcomes, "DMARC301", "ALN301", "ALN302"),
        known=dmarc.result != "temperror",
    )
    unsub_rules = _fired(outcomes, "UNSUB301", "UNSUB302", "UNSUB303", "UNSUB304")
    unsub_known = _status_of(outcomes, "unsubscribe") is Status.COMPLETED
    row(
        "one-click-unsubscribe",
        "Marketing mail offers one-click unsubscribe (RFC 8058), signed by DKIM",
        ("gmail-bulk", "yahoo-bulk"),
        not unsub_rules,
        "List-Unsubscribe with https and List-Unsubscribe-Post: List-Unsubscribe=One-Click"
        if not unsub_rules
        else "see the unsubscribe findings (transactional mail is exempt)",
        unsub_rules,
        known=unsub_known,
    )
    unsub_link = _fired(outcomes, "UNSUB301")
    row(
        "unsubscribe-link",
        "Marketing mail has a working unsubscribe (List-Unsubscribe)",
        ("outlook-bulk",),
        not unsub_link,
        "List-Unsubscribe present" if not unsub_link else "no List-Unsubscribe header",
        unsub_link,
        known=unsub_known,
    )
    fcrdns, detail = await _fcrdns(ctx, ctx.envelope.ip.value)
    row("fcrdns", "The sending IP has forward-confirmed reverse DNS", ("gmail", "yahoo"),
        fcrdns == "met", detail, [], known=fcrdns != "unknown")  # fmt: skip
    tls, detail = _tls(ctx)
    row("tls", "The message was sent over TLS", ("gmail",), tls == "met", detail, [],
        known=tls != "unknown")  # fmt: skip
    format_rules = _fired(outcomes, "MSG001", "MSG002", "MSG003", "MSG004", "MSG005")
    row(
        "rfc5322",
        "The message is formatted per RFC 5322",
        ("gmail", "yahoo"),
        not format_rules,
        "From, Date and Message-ID well formed" if not format_rules else "see the MSG findings",
        format_rules,
        known=_status_of(outcomes, "headers") is Status.COMPLETED,
    )
    impersonation = _fired(outcomes, "MSG006")
    row(
        "no-impersonation",
        "The From header does not impersonate a mailbox provider's domain",
        ("gmail",),
        not impersonation,
        "From is not a gmail.com-style address" if not impersonation else "see MSG006",
        impersonation,
        known=_status_of(outcomes, "headers") is Status.COMPLETED,
    )
    findings = []
    for tier, label in TIERS.items():
        missed = [r for r in rows if tier in r.tiers and r.status == "missed"]
        if missed:
            findings.append(
                Finding(
                    BULK_UNMET,
                    label,
                    message=f"{label}: misses " + "; ".join(r.requirement for r in missed),
                    evidence=[
                        f"{r.requirement}: {r.detail}"
                        + (f" [{', '.join(r.rules)}]" if r.rules else "")
                        for r in missed
                    ],
                    fix="Fix the findings listed: " + ", ".join(
                        sorted({rid for r in missed for rid in r.rules}) or ["see the rows"]
                    ),
                )
            )
    facts = {"bulk": [r.to_dict() for r in rows], "tiers": TIERS}
    return CheckResult(facts=facts, findings=findings)
