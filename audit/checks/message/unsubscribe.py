"""Unsubscribe the way Gmail and Yahoo require it of bulk senders (2024): a List-Unsubscribe
header (RFC 2369) with an https URI, `List-Unsubscribe-Post: List-Unsubscribe=One-Click`
(RFC 8058), and both headers covered by a passing DKIM signature (RFC 8058 section 4), so the
receiver can unsubscribe the user with one POST and trust that nobody added the link on the way.

Transactional mail is exempt from these rules; the findings say so.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import parse_qs, unquote, urlsplit

from audit.checks.message.context import MessageContext
from audit.checks.message.headers import header_texts
from audit.model import CheckResult, Finding, Status
from audit.rules.unsub import (
    UNSUB_MAILTO_ONLY,
    UNSUB_MISSING,
    UNSUB_NOT_SIGNED,
    UNSUB_ONE_CLICK_MISSING,
)

ONE_CLICK_VALUE = "List-Unsubscribe=One-Click"
_BRACKETED = re.compile(r"<([^<>]*)>")
_EXEMPT = "bulk and marketing mail need it; transactional mail is exempt"


def parse_uri(uri: str) -> dict[str, Any]:
    """One List-Unsubscribe URI with its scheme and where it leads (host or mailbox)."""
    scheme = uri.split(":", 1)[0].lower() if ":" in uri else ""
    entry: dict[str, Any] = {"uri": uri, "scheme": scheme}
    try:
        if scheme in ("http", "https"):
            entry["host"] = urlsplit(uri).hostname
        elif scheme == "mailto":
            address, _, query = uri[len("mailto:") :].partition("?")
            entry["address"] = unquote(address)
            entry["params"] = {k: v[0] for k, v in parse_qs(query).items()}
    except ValueError:
        entry["error"] = "malformed URI"
    return entry


def parse_list_unsubscribe(value: str) -> tuple[list[dict[str, Any]], list[str]]:
    """RFC 2369 2: `<uri>, <uri>`; whitespace inside the brackets is ignored (folding).

    Returns (URIs, problems). URIs outside angle brackets are reported, not used: receivers
    do not act on them.
    """
    bracketed = [re.sub(r"\s+", "", u) for u in _BRACKETED.findall(value)]
    problems = []
    if not bracketed:
        if value.strip():
            problems.append(
                f"List-Unsubscribe has no URI in angle brackets (RFC 2369): {value[:120]!r}"
            )
        else:
            problems.append("List-Unsubscribe is empty")
    return [parse_uri(u) for u in bracketed if u], problems


async def _dkim_coverage(ctx: MessageContext) -> tuple[str, list[str], list[str], str | None]:
    """(signed | unsigned | unknown, d= of passing covering signatures, evidence, error)."""
    try:
        verdicts = await ctx.dkim_verdicts()
    except Exception as exc:  # noqa: BLE001 - no DKIM verdicts: this part is undecided
        return "unknown", [], [], f"DKIM verdicts unavailable: {type(exc).__name__}: {exc}"
    evidence = []
    for v in verdicts:
        lu = "yes" if v.covers("list-unsubscribe") else "no"
        lup = "yes" if v.covers("list-unsubscribe-post") else "no"
        evidence.append(
            f"DKIM d={v.domain} s={v.selector}: {v.result}; h= covers List-Unsubscribe: {lu}, "
            f"List-Unsubscribe-Post: {lup}"
        )
    covering = [
        v.domain or "?"
        for v in verdicts
        if v.passed and v.covers("list-unsubscribe") and v.covers("list-unsubscribe-post")
    ]
    if covering:
        return "signed", covering, evidence, None
    undecided = [
        v
        for v in verdicts
        if v.result == "temperror"
        and v.covers("list-unsubscribe")
        and v.covers("list-unsubscribe-post")
    ]
    if undecided:
        return (
            "unknown",
            [],
            evidence,
            "a covering DKIM signature could not be verified (temperror)",
        )
    return "unsigned", [], evidence or ["(no DKIM-Signature header)"], None


def _unsigned_message(evidence: list[str]) -> str:
    if evidence == ["(no DKIM-Signature header)"]:
        return "the message has no DKIM signature"
    return "no passing DKIM signature lists both headers in h="


@dataclass
class _Offer:
    """What the List-Unsubscribe headers offer: the URIs by kind and the one-click POST."""

    posts: list[str]
    uris: list[dict[str, Any]] = field(default_factory=list)
    problems: list[str] = field(default_factory=list)

    @property
    def https(self) -> list[dict[str, Any]]:
        return [u for u in self.uris if u["scheme"] == "https" and u.get("host")]

    @property
    def web(self) -> list[dict[str, Any]]:
        return [u for u in self.uris if u["scheme"] in ("http", "https")]

    @property
    def mailto(self) -> list[dict[str, Any]]:
        return [u for u in self.uris if u["scheme"] == "mailto"]

    @property
    def post_ok(self) -> bool:
        return len(self.posts) == 1 and self.posts[0].strip() == ONE_CLICK_VALUE


def _offer_findings(name: str, offer: _Offer, evidence: list[str]) -> list[Finding]:
    """Only mailto (UNSUB302), or no working one-click (UNSUB303) and why."""
    post_fix = f"`List-Unsubscribe-Post: {ONE_CLICK_VALUE}`"
    if offer.mailto and not offer.web:
        return [
            Finding(
                UNSUB_MAILTO_ONLY,
                name,
                message="List-Unsubscribe offers only mailto: Gmail and Yahoo require "
                "one-click unsubscribe (an https URI plus List-Unsubscribe-Post) from bulk "
                f"senders; {_EXEMPT}",
                evidence=evidence,
                fix="Add an https endpoint that unsubscribes on a POST without further steps: "
                "`List-Unsubscribe: <https://example.com/unsub?u=TOKEN>, "
                f"<{offer.mailto[0]['uri']}>` and {post_fix}.",
            )
        ]
    if offer.https and offer.post_ok:
        return []
    return [
        Finding(
            UNSUB_ONE_CLICK_MISSING,
            name,
            message="no one-click unsubscribe (RFC 8058): " + "; ".join(_one_click_gaps(offer)),
            evidence=evidence,
            fix="Send `List-Unsubscribe: <https://example.com/unsub?u=TOKEN>` (the URL must "
            f"unsubscribe on a POST without further steps) and exactly {post_fix}.",
        )
    ]


def _one_click_gaps(offer: _Offer) -> list[str]:
    reasons = list(offer.problems)
    posts = offer.posts
    if not offer.https:
        reasons.append(
            "List-Unsubscribe has no https URI (RFC 8058 one-click needs HTTPS)"
            + (" - http is not enough" if offer.web else "")
        )
    if not posts:
        reasons.append("there is no List-Unsubscribe-Post header")
    elif len(posts) > 1:
        reasons.append(f"List-Unsubscribe-Post appears {len(posts)} times")
    elif not offer.post_ok:
        reasons.append(f"List-Unsubscribe-Post is {posts[0]!r}, not {ONE_CLICK_VALUE!r}")
    return reasons


async def check(ctx: MessageContext) -> CheckResult:
    values = header_texts(ctx.message, "List-Unsubscribe")
    posts = header_texts(ctx.message, "List-Unsubscribe-Post")
    facts: dict[str, Any] = {
        "list_unsubscribe": values,
        "list_unsubscribe_post": posts,
        "uris": [],
        "one_click": False,
        "signed": None,
        "signed_by": [],
    }
    if not values:
        missing = Finding(
            UNSUB_MISSING,
            ctx.name,
            message=f"no List-Unsubscribe header: {_EXEMPT}",
            evidence=["(no List-Unsubscribe header)"],
            fix="Add `List-Unsubscribe: <https://example.com/unsub?u=TOKEN>, "
            "<mailto:unsub@example.com?subject=unsubscribe>` and "
            f"`List-Unsubscribe-Post: {ONE_CLICK_VALUE}`, both covered by your DKIM "
            "signature (most sending services have a setting for it).",
        )
        return CheckResult(facts={"unsubscribe": facts}, findings=[missing])
    offer = _Offer(posts)
    for value in values:
        found, issues = parse_list_unsubscribe(value)
        offer.uris += found
        offer.problems += issues
    facts.update(
        uris=offer.uris,
        https=[u["uri"] for u in offer.https],
        mailto=[u["uri"] for u in offer.mailto],
        problems=list(offer.problems),
        one_click=bool(offer.https) and offer.post_ok,
    )
    evidence = [f"List-Unsubscribe: {v}" for v in values] + [
        f"List-Unsubscribe-Post: {v}" for v in posts
    ]
    findings = _offer_findings(ctx.name, offer, evidence)
    https = offer.https
    status, error = Status.COMPLETED, None
    if posts and https:
        signed, signers, dkim_evidence, error = await _dkim_coverage(ctx)
        facts.update(signed=signed, signed_by=signers, dkim=dkim_evidence)
        if signed == "unknown":
            status = Status.INCONCLUSIVE
        elif signed == "unsigned":
            findings.append(
                Finding(
                    UNSUB_NOT_SIGNED,
                    ctx.name,
                    message="List-Unsubscribe and List-Unsubscribe-Post are not covered by a "
                    f"passing DKIM signature (RFC 8058 4): {_unsigned_message(dkim_evidence)}; "
                    "receivers ignore one-click links they cannot trust",
                    evidence=evidence + dkim_evidence,
                    fix="Sign with h= including both headers, e.g. "
                    "`h=from:to:subject:date:message-id:list-unsubscribe:list-unsubscribe-post`, "
                    "with a key that verifies (your sending service's DKIM setting).",
                )
            )
    return CheckResult(facts={"unsubscribe": facts}, findings=findings, status=status, error=error)
