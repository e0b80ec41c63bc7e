"""Bulk-sender readiness: the Gmail, Yahoo and Outlook sender requirements this message meets
or misses, each row pointing at the findings behind it.

Runs after the other message checks (it reads their outcomes), so the table and the findings
can never disagree. Sources: Google's email sender guidelines (2024: all senders, and 5,000+
messages a day), Yahoo's sender requirements (2024), Outlook.com's high-volume sender
requirements (2025).
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from audit.checks.message.context import MessageContext
from audit.checks.message.verdicts import DkimVerdict, DmarcVerdict, SpfVerdict
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


@dataclass(frozen=True)
class Seen:
    """What the requirements are judged on: the sibling checks' verdicts and findings, and the
    two facts only this table asks for (forward-confirmed rDNS, TLS on the edge hop)."""

    spf: SpfVerdict
    dkim: list[DkimVerdict]
    dmarc: DmarcVerdict
    outcomes: list[CheckOutcome]
    fcrdns: tuple[str, str]  # (met | missed | unknown, detail)
    tls: tuple[str, str]

    @property
    def dkim_pass(self) -> bool:
        return any(v.passed for v in self.dkim)

    @property
    def spf_known(self) -> bool:
        return self.spf.result not in ("temperror",) and self.spf.ip is not None

    def fired(self, *rule_ids: str) -> list[str]:
        return _fired(self.outcomes, *rule_ids)

    def completed(self, check: str) -> bool:
        return _status_of(self.outcomes, check) is Status.COMPLETED


@dataclass(frozen=True)
class Requirement:
    """One sender requirement: which senders it applies to, the findings that miss it, whether
    it is met, the evidence shown on its row, and whether the verdict is known at all."""

    key: str
    requirement: str
    tiers: tuple[str, ...]
    rules: tuple[str, ...]  # rule ids of the findings behind a miss
    met: Callable[[Seen], bool]
    detail: Callable[[Seen], str]
    known: Callable[[Seen], bool] = lambda _seen: True

    def judge(self, seen: Seen) -> Row:
        status = "met" if self.met(seen) else ("missed" if self.known(seen) else "unknown")
        rules = seen.fired(*self.rules) if status != "met" else []
        return Row(self.key, self.requirement, self.tiers, status, self.detail(seen), rules)


def _clear_of(
    key: str,
    requirement: str,
    tiers: tuple[str, ...],
    rules: tuple[str, ...],
    *,
    check: str,
    met: str,
    missed: str,
) -> Requirement:
    """A requirement met when none of `rules` fired, known when `check` completed."""
    return Requirement(
        key,
        requirement,
        tiers,
        rules,
        met=lambda s: not s.fired(*rules),
        detail=lambda s: missed if s.fired(*rules) else met,
        known=lambda s: s.completed(check),
    )


def _probed(
    key: str, requirement: str, tiers: tuple[str, ...], probe: Callable[[Seen], tuple[str, str]]
) -> Requirement:
    """A requirement judged by a probe of this table's own: (met | missed | unknown, detail)."""
    return Requirement(
        key,
        requirement,
        tiers,
        (),
        met=lambda s: probe(s)[0] == "met",
        detail=lambda s: probe(s)[1],
        known=lambda s: probe(s)[0] != "unknown",
    )


ALL = ("gmail", "yahoo")
BULK = ("gmail-bulk", "yahoo-bulk", "outlook-bulk")
_UNSUB = ("UNSUB301", "UNSUB302", "UNSUB303", "UNSUB304")
_FORMAT = ("MSG001", "MSG002", "MSG003", "MSG004", "MSG005")

# The table: adding a requirement is one row.
REQUIREMENTS = (
    Requirement(
        "spf-or-dkim", "SPF or DKIM passes", ALL, ("SPF301", "SPF302", "DKIM301", "DKIM302"),
        met=lambda s: s.spf.passed or s.dkim_pass,
        detail=lambda s: f"SPF {s.spf.result}; DKIM {'pass' if s.dkim_pass else 'no pass'}",
        known=lambda s: s.spf_known or s.dkim_pass,
    ),
    Requirement(
        "spf-pass", "SPF passes", BULK, ("SPF301", "SPF302"),
        met=lambda s: s.spf.passed,
        detail=lambda s: f"SPF {s.spf.result} for {s.spf.domain}",
        known=lambda s: s.spf_known,
    ),
    Requirement(
        "dkim-pass", "DKIM passes", BULK, ("DKIM301", "DKIM302", "DKIM304"),
        met=lambda s: s.dkim_pass,
        detail=lambda s: f"{sum(v.passed for v in s.dkim)} of {len(s.dkim)} signatures pass",
    ),
    Requirement(
        "dmarc-policy", "A DMARC policy is published for the From domain (p=none is enough)",
        BULK, ("DMARC302",),
        met=lambda s: s.dmarc.result not in ("none",) and s.dmarc.record is not None,
        detail=lambda s: s.dmarc.reason or s.dmarc.result,
        known=lambda s: s.dmarc.result != "temperror",
    ),
    Requirement(
        "dmarc-aligned", "The From domain aligns with SPF or DKIM (DMARC passes)",
        BULK, ("DMARC301", "ALN301", "ALN302"),
        met=lambda s: s.dmarc.dkim_aligned != [] or s.dmarc.spf_aligned,
        detail=lambda s: s.dmarc.reason,
        known=lambda s: s.dmarc.result != "temperror",
    ),
    _clear_of(
        "one-click-unsubscribe",
        "Marketing mail offers one-click unsubscribe (RFC 8058), signed by DKIM",
        ("gmail-bulk", "yahoo-bulk"), _UNSUB, check="unsubscribe",
        met="List-Unsubscribe with https and List-Unsubscribe-Post: List-Unsubscribe=One-Click",
        missed="see the unsubscribe findings (transactional mail is exempt)",
    ),
    _clear_of(
        "unsubscribe-link", "Marketing mail has a working unsubscribe (List-Unsubscribe)",
        ("outlook-bulk",), ("UNSUB301",), check="unsubscribe",
        met="List-Unsubscribe present", missed="no List-Unsubscribe header",
    ),
    _probed(
        "fcrdns", "The sending IP has forward-confirmed reverse DNS", ALL, lambda s: s.fcrdns
    ),
    _probed("tls", "The message was sent over TLS", ("gmail",), lambda s: s.tls),
    _clear_of(
        "rfc5322", "The message is formatted per RFC 5322", ALL, _FORMAT, check="headers",
        met="From, Date and Message-ID well formed", missed="see the MSG findings",
    ),
    _clear_of(
        "no-impersonation", "The From header does not impersonate a mailbox provider's domain",
        ("gmail",), ("MSG006",), check="headers",
        met="From is not a gmail.com-style address", missed="see MSG006",
    ),
)  # fmt: skip


@dataclass
class Row:
    """One requirement judged for this message (the table in the report)."""

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
    fcrdns = await _fcrdns(ctx, ctx.envelope.ip.value)
    seen = Seen(spf, dkim, dmarc, outcomes, fcrdns, _tls(ctx))
    rows = [requirement.judge(seen) for requirement in REQUIREMENTS]
    findings = [f for tier, label in TIERS.items() if (f := _unmet(tier, label, rows))]
    facts = {"bulk": [r.to_dict() for r in rows], "tiers": TIERS}
    return CheckResult(facts=facts, findings=findings)


def _unmet(tier: str, label: str, rows: list[Row]) -> Finding | None:
    """One BULK301 per kind of sender with a requirement missed, naming the findings behind."""
    missed = [r for r in rows if tier in r.tiers and r.status == "missed"]
    if not missed:
        return None
    return Finding(
        BULK_UNMET,
        label,
        message=f"{label}: misses " + "; ".join(r.requirement for r in missed),
        evidence=[
            f"{r.requirement}: {r.detail}" + (f" [{', '.join(r.rules)}]" if r.rules else "")
            for r in missed
        ],
        fix="Fix the findings listed: "
        + ", ".join(sorted({rid for r in missed for rid in r.rules}) or ["see the rows"]),
    )
