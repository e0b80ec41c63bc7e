"""ARC chain validation (RFC 8617 5.2): did every intermediary that sealed the message leave a
chain that still validates? A receiver uses a passing chain from a trusted sealer to accept
forwarded mail whose own DKIM or SPF broke on the way (mailing lists, forwarders).

dkimpy validates the chain, with keys prefetched through our resolver (the same prefetch as
DKIM) and on our clock. A chain whose highest seal already says cv=fail is reported as
cv=fail (RFC 8617 5.2 step 3; dkimpy calls it a terminated chain).
"""

from __future__ import annotations

import asyncio
from datetime import datetime
from typing import TYPE_CHECKING, Any

import dkim

from audit.checks.common import temperror_finding
from audit.checks.message.dkim import INLINE_BYTES, key_lookups
from audit.checks.message.verdicts import ArcVerdict
from audit.message.dkim_dns import KeyLookups, dkim_clock, header_fields
from audit.message.dkim_verify import Arc
from audit.model import CheckResult, Finding, Status
from audit.net.dns import DnsAnswer, DnsStatus
from audit.rules.arc import ARC_CHAIN_INVALID

if TYPE_CHECKING:
    from audit.checks.message.context import MessageContext

ARC_HEADERS = (b"arc-seal", b"arc-message-signature", b"arc-authentication-results")
NO_ARC = "the message carries no ARC headers"


async def arc_verdict(ctx: MessageContext) -> ArcVerdict:
    """cv none | pass | fail and each instance's sealer (computed once per message)."""
    return await ctx.shared("arc", lambda: _evaluate(ctx))


async def _evaluate(ctx: MessageContext) -> ArcVerdict:
    if not may_carry_arc(ctx.raw):
        return ArcVerdict("none", NO_ARC)
    lookups = await key_lookups(ctx)
    if len(ctx.raw) <= INLINE_BYTES:
        return validate_chain(ctx.raw, lookups, ctx.now)
    return await asyncio.to_thread(validate_chain, ctx.raw, lookups, ctx.now)


def may_carry_arc(raw: bytes) -> bool:
    """False when no header name can be an ARC one (no "arc-" in the header section at all):
    most mail, which then skips dkimpy's parse of the whole message."""
    end = min((i for i in (raw.find(b"\r\n\r\n"), raw.find(b"\n\n")) if i >= 0), default=len(raw))
    return b"arc-" in raw[:end].lower()


def _text(value: Any) -> Any:
    return value.decode("utf-8", errors="replace") if isinstance(value, bytes) else value


def _instance(result: dict[bytes | str, Any]) -> dict[str, Any]:
    return {
        "i": result.get("instance"),
        "d": _text(result.get("as-domain")),
        "s": _text(result.get("as-selector")),
        "cv": _text(result.get("cv")),
        "ams_ok": bool(result.get("ams-valid")) if "ams-valid" in result else None,
        "as_ok": bool(result.get("as-valid")) if "as-valid" in result else None,
        "ams_d": _text(result.get("ams-domain")),
        "ams_s": _text(result.get("ams-selector")),
    }


def validate_chain(raw: bytes, lookups: KeyLookups, now: datetime) -> ArcVerdict:
    """Validate the ARC chain of `raw` with keys from `lookups`, at time `now`."""
    dnsfunc = lookups.dnsfunc()
    try:
        arc = Arc(raw, minkey=1024)
    except Exception as exc:  # noqa: BLE001 - dkimpy's parser raises on junk
        if any(name.lower() in ARC_HEADERS for name, _ in header_fields(raw)):
            return ArcVerdict("fail", f"the header section does not parse ({exc})"[:300])
        return ArcVerdict("none", NO_ARC)
    try:
        with dkim_clock(now):
            cv, results, reason = arc.verify(dnsfunc=dnsfunc)
    except Exception as exc:  # noqa: BLE001 - dkimpy raises DKIMException and worse on junk
        cv, results, reason = dkim.CV_Fail, [], f"{type(exc).__name__}: {exc}"[:300]
    instances = sorted((_instance(r) for r in results), key=lambda r: r["i"] or 0)
    reason = _text(reason) or ""
    if cv == dkim.CV_None:
        return ArcVerdict("none", NO_ARC, instances)
    if cv == dkim.CV_Pass:
        return ArcVerdict("pass", f"all {len(instances)} ARC sets validate", instances)
    if cv is None:  # a seal recorded cv=fail: the chain ended there (RFC 8617 5.2 step 3)
        return ArcVerdict("fail", f"{reason} (cv=fail recorded by a sealer)", instances)
    temperror = bool(dnsfunc.temperrors or dnsfunc.unknown)
    if temperror:
        failed = ", ".join(a.describe() for a in dnsfunc.temperrors) or ", ".join(dnsfunc.unknown)
        reason = f"a key lookup failed ({failed}): {reason}"
    return ArcVerdict("fail", reason, instances, temperror=temperror)


async def check(ctx: MessageContext) -> CheckResult:
    verdict = await ctx.arc_verdict()
    facts = {"arc": verdict.to_dict()}
    if verdict.temperror:
        lookups = await key_lookups(ctx)
        arc_keys = {f"{i.get('s')}._domainkey.{i.get('d')}".lower() for i in verdict.instances}
        arc_keys |= {
            f"{i.get('ams_s')}._domainkey.{i.get('ams_d')}".lower() for i in verdict.instances
        }
        failed = [a for a in lookups.temperrors() if a.name in arc_keys] or lookups.temperrors()
        if not failed:
            failed = [DnsAnswer(ctx.name, "TXT", DnsStatus.SERVFAIL, error=verdict.reason)]
        return CheckResult(
            facts=facts,
            findings=[
                temperror_finding(a, ctx.name, "the ARC chain could not be validated")
                for a in failed
            ],
            status=Status.INCONCLUSIVE,
        )
    findings = []
    if verdict.cv == "fail":
        sealers = ", ".join(f"i={i['i']} {i['d']}" for i in verdict.instances) or "none readable"
        findings.append(
            Finding(
                ARC_CHAIN_INVALID,
                ctx.name,
                message=f"the ARC chain does not validate: {verdict.reason}; receivers will not "
                "use it to accept this message if its own DKIM/SPF broke in forwarding",
                evidence=[f"sealers: {sealers}"]
                + [
                    f"ARC set i={i['i']}: seal {'ok' if i['as_ok'] else 'bad'}, "
                    f"message signature {'ok' if i['ams_ok'] else 'bad'}, cv={i['cv']}"
                    for i in verdict.instances
                ],
                fix="The intermediary whose set fails (the highest failing i=) must seal "
                "after its last change to the message and publish the key its ARC-Seal names; "
                "if you run it, check its ARC signing configuration and key record.",
            )
        )
    return CheckResult(facts=facts, findings=findings)
