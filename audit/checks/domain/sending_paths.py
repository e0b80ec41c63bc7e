"""Sending paths: for every way the domain's mail leaves (declared with --esp / --sending-ip /
--return-path / --helo, or a provider detected in DNS), what receivers will conclude.

Per path: the envelope (return-path) domain exists, publishes SPF that authorizes the path's
senders, aligns with From, can receive bounces, and carries the provider's record where the
provider asks for one; the DKIM keys the path signs with; the DMARC result and disposition the
published policy gives its mail; and what Gmail displays. Paths are evaluated concurrently; a
DNS temperror makes that path inconclusive (DNS001), never a missing record.
"""

from __future__ import annotations

import asyncio

from audit.checks.common import DomainContext, temperror_finding
from audit.checks.domain.submission import check_relay
from audit.esp.detect import detect, run_profiles
from audit.facts.dmarc_policy import discover_policy
from audit.facts.path_facts import PathFacts, Policy, gather_path, path_summary
from audit.facts.paths import with_detected
from audit.facts.prediction import DISPOSITION_TEXT, aligned
from audit.model import CheckResult, Finding, Severity, Status
from audit.psl import organizational_domain
from audit.records.dmarc import with_tags
from audit.rules.esp_paths import ESP_DEFAULT_RETURN_PATH, ESP_DKIM_NOT_CONFIGURED
from audit.rules.path import PATH_DMARC_FAILS, PATH_VIA_SHOWN
from audit.rules.rp import (
    RP_CNAME_WRONG,
    RP_MISSING,
    RP_NO_BOUNCE_ROUTE,
    RP_NOT_ALIGNED,
    RP_SPF_MISSING,
    RP_SPF_NOT_AUTHORIZING,
)

_SEVERITY_BY_DISPOSITION = {
    "reject": Severity.CRITICAL,
    "quarantine": Severity.HIGH,
    "none": Severity.MEDIUM,
}


async def check(ctx: DomainContext) -> CheckResult:
    profiles = await run_profiles(ctx)
    seen = await detect(ctx, profiles)  # the ESP check's detection, shared through the run
    paths = with_detected(ctx.sending_paths, seen.detections)
    if not paths:
        # the ESP check reports the failed detection lookups (DNS001) once
        return CheckResult(
            facts={
                "sending_paths": {
                    "from_domain": ctx.domain,
                    "paths": [],
                    "note": "no sending path declared (--esp, --sending-ip, --return-path, "
                    "--helo) or detected",
                }
            },
            status=Status.INCONCLUSIVE if seen.failed else Status.COMPLETED,
        )
    found = await discover_policy(ctx.resolver, ctx.domain)
    if found.temperror is not None:
        return CheckResult(
            facts={"sending_paths": {"from_domain": ctx.domain, "paths": []}},
            findings=[
                temperror_finding(
                    found.temperror,
                    ctx.domain,
                    "the DMARC policy could not be read: no path verdict can be predicted",
                )
            ],
            status=Status.INCONCLUSIVE,
        )
    records = found.records_at(found.policy_at)
    record = found.record
    policy = Policy(record, found.policy_at if record else None, found)
    gathered, relays = await asyncio.gather(
        asyncio.gather(
            *(
                gather_path(ctx.resolver, ctx.domain, p, profiles.get(p.esp or ""), policy)
                for p in paths
            )
        ),
        asyncio.gather(*(check_relay(ctx, p.smtp) for p in paths if p.smtp)),
    )
    relay_of = dict(zip([p.name for p in paths if p.smtp], relays, strict=True))
    findings: list[Finding] = []
    rows = []
    for facts in gathered:
        path_findings = judge(facts, policy)
        relay = relay_of.get(facts.path.name)
        if relay:
            path_findings += relay[1]
        findings += path_findings
        fixes = list(dict.fromkeys(f.fix for f in path_findings if f.fix))
        rows.append(path_summary(facts, fixes) | {"smtp": relay[0] if relay else None})
    inconclusive = any(f.temperror or f.lookup_errors for f in gathered)
    inconclusive = inconclusive or any(r[2] for r in relays)
    return CheckResult(
        facts={
            "sending_paths": {
                "from_domain": ctx.domain,
                "dmarc": {
                    "policy_domain": policy.policy_domain,
                    "record": record.raw if record else None,
                    "records": records,
                },
                "paths": rows,
            }
        },
        findings=findings,
        status=Status.INCONCLUSIVE if inconclusive else Status.COMPLETED,
    )


def judge(facts: PathFacts, policy: Policy) -> list[Finding]:
    """The findings for one path, from its facts."""
    name = facts.path.name
    if facts.temperror is not None:
        return [
            temperror_finding(
                facts.temperror,
                facts.envelope,
                f"sending path {name} could not be evaluated: inconclusive, not missing",
            )
        ]
    findings = [
        temperror_finding(
            answer,
            facts.envelope,
            f"sending path {name}: that identifier's result is temperror; the DMARC verdict "
            "is unknown unless another aligned identifier passes",
        )
        for answer in facts.lookup_errors
    ]
    findings += _return_path(facts) + _spf(facts) + _alignment(facts, policy) + _esp(facts)
    findings += _verdict(facts)
    return findings


def _label(facts: PathFacts) -> str:
    provider = f" ({facts.profile.name})" if facts.profile else ""
    return f"path {facts.path.name}{provider}"


def _return_path_record(facts: PathFacts) -> str:
    """The record the provider asks for at the return path, as far as it can be computed."""
    profile = facts.profile
    spec = profile.return_path if profile else None
    if profile is None or spec is None:
        return ""
    target = " or ".join(spec.target_patterns) or "(the value your provider shows)"
    name = (
        facts.envelope
        if facts.custom_return_path
        else f"{spec.name_patterns[0]}.{facts.from_domain}"
    )
    return (
        f"{name} {spec.record_type} {target} (the exact value is in {profile.name}'s "
        "domain authentication page)"
    )


def _return_path(facts: PathFacts) -> list[Finding]:
    if not facts.custom_return_path:
        return []
    out = []
    env = facts.envelope
    if facts.exists is False:
        out.append(
            Finding(
                RP_MISSING,
                env,
                message=f"{_label(facts)} sends with MAIL FROM @{env}, which does not exist "
                "(NXDOMAIN): receivers reject the envelope sender or SPF returns none",
                evidence=facts.evidence[:1] + [f"CNAME {c}" for c in facts.cname],
                fix=_return_path_record(facts)
                or f"Publish {env} MX 10 <your bounce host> and {env} TXT "
                f'"{_spf_record_for(facts, None)}"',
            )
        )
    if facts.return_path_ok is False and facts.profile and facts.profile.return_path:
        # return_path_ok is only ever judged against the profile's return-path spec
        profile, spec = facts.profile, facts.profile.return_path
        seen = ", ".join(facts.return_path_records) or "none"
        missing = not facts.return_path_records
        out.append(
            Finding(
                RP_CNAME_WRONG,
                env,
                message=f"{_label(facts)}: {env} "
                + (
                    f"has no {spec.record_type} record"
                    if missing
                    else f"{spec.record_type} points to {seen}, not to "
                    + " or ".join(spec.target_patterns)
                )
                + f" as {profile.name} asks",
                evidence=[f"{env} {spec.record_type} -> {seen}"],
                fix=_return_path_record(facts),
            )
        )
    if facts.exists and facts.bounce_ok is False:
        out.append(
            Finding(
                RP_NO_BOUNCE_ROUTE,
                env,
                message=f"{_label(facts)}: {env} has no MX and no address"
                + (f" ({facts.bounce_route[0]})" if facts.bounce_route else "")
                + ": bounces and feedback for this path cannot be delivered",
                evidence=facts.evidence[1:2],
                fix=_return_path_record(facts)
                if facts.profile and facts.profile.return_path
                else f"Publish {env} MX 10 <the host that processes your bounces>.",
            )
        )
    return out


def _spf_record_for(facts: PathFacts, current: str | None) -> str:
    """The SPF record that authorizes this path's senders, computed from the current one."""
    terms = []
    for sender in facts.senders or []:
        if sender.result != "pass":
            terms.append(("ip6:" if ":" in sender.ip else "ip4:") + sender.ip)
    if not facts.senders and facts.profile and facts.profile.spf_includes:
        terms.append("include:" + facts.profile.spf_includes[0])
    if not terms and facts.path.ips:
        terms = [("ip6:" if ":" in ip else "ip4:") + ip for ip in facts.path.ips]
    return with_terms(current or "v=spf1 -all", terms)


def with_terms(record: str, terms: list[str]) -> str:
    """`record` with `terms` added before its final all / redirect= (where receivers read them)."""
    words = record.split()
    at = next(
        (
            i
            for i, w in enumerate(words)
            if w.lower().lstrip("+-~?") == "all" or w.lower().startswith("redirect=")
        ),
        len(words),
    )
    new = [t for t in terms if t.lower() not in (w.lower() for w in words)]
    return " ".join(words[:at] + new + words[at:])


def _spf(facts: PathFacts) -> list[Finding]:
    env = facts.envelope
    if facts.provider_default or facts.exists is False:
        return []
    if not facts.spf_records:
        if facts.envelope_source == "from domain" and facts.spf_result == "unknown":
            return []  # SPF001 of the spf check says it for the domain itself
        return [
            Finding(
                RP_SPF_MISSING,
                env,
                message=f"{_label(facts)}: no SPF record at {env}, the envelope domain: SPF "
                "returns none for every message on this path",
                evidence=facts.evidence[:1],
                fix=f'Publish {env} TXT "{_spf_record_for(facts, None)}"',
            )
        ]
    if facts.spf_result in ("pass", "unknown", "temperror"):
        return []  # temperror: DNS001 says the lookup failed, not that SPF refuses
    current = facts.spf_records[0] if len(facts.spf_records) == 1 else None
    return [
        Finding(
            RP_SPF_NOT_AUTHORIZING,
            env,
            message=f"{_label(facts)}: SPF at {env} gives {facts.spf_result} for the path's "
            f"senders ({facts.spf_basis})",
            evidence=list(facts.spf_records),
            fix=f'Publish {env} TXT "{_spf_record_for(facts, current)}"'
            if current
            else f"Merge the {len(facts.spf_records)} SPF records at {env} into one that "
            "authorizes the path's senders.",
        )
    ]


def _alignment(facts: PathFacts, policy: Policy) -> list[Finding]:
    if not facts.custom_return_path or not facts.spf_aligned:
        return []
    r7489, r9989 = facts.spf_aligned["rfc7489"], facts.spf_aligned["rfc9989"]
    if r7489 and r9989:
        return []
    record = policy.record
    aspf = record.aspf if record else "r"
    readings = ""
    if r7489 != r9989:
        readings = (
            f" (RFC 7489 receivers: {'aligned' if r7489 else 'not aligned'}; RFC 9989 "
            f"receivers, whose organizational domain comes from the DMARC tree walk: "
            f"{'aligned' if r9989 else 'not aligned'})"
        )
    relaxed_would = aligned(facts.envelope, facts.from_domain, "r")
    if aspf == "s" and relaxed_would and record is not None:
        fix = (
            f"aspf=s needs MAIL FROM exactly @{facts.from_domain}: publish _dmarc."
            f'{policy.policy_domain} TXT "{with_tags(record, aspf="r")}", or rely on aligned DKIM'
        )
    else:
        org = organizational_domain(facts.from_domain)
        fix = f"Use a return path under {org}, e.g. bounces.{facts.from_domain}" + (
            f": {_return_path_record(facts)}" if facts.profile and facts.profile.return_path else ""
        )
    dkim_carries = bool(facts.dmarc and facts.dmarc.dkim_aligned)
    return [
        Finding(
            RP_NOT_ALIGNED,
            facts.envelope,
            message=f"{_label(facts)}: MAIL FROM @{facts.envelope} does not align with From "
            f"{facts.from_domain} (aspf={aspf}){readings}: SPF cannot carry DMARC on this path"
            + (" at every receiver" if r7489 != r9989 else "")
            + ("; aligned DKIM does" if dkim_carries else ""),
            evidence=[record.raw] if record else [f"no DMARC record: aspf={aspf} by default"],
            fix=fix,
            severity=Severity.LOW if dkim_carries else None,
        )
    ]


def _esp(facts: PathFacts) -> list[Finding]:
    profile = facts.profile
    if profile is None:
        return []
    out = []
    name = facts.path.name
    if facts.dkim_state in ("missing", "provider-signs") and facts.dkim_keys:
        tried = [
            f"{k.name}: {k.state}" + (f" ({k.detail})" if k.detail else "") for k in facts.dkim_keys
        ]
        own = (
            f"; {profile.name} signs with its own d={profile.signs_own_domain} instead"
            if profile.signs_own_domain
            else ""
        )
        out.append(
            Finding(
                ESP_DKIM_NOT_CONFIGURED,
                name,
                message=f"{_label(facts)}: no working DKIM key for {facts.from_domain} at "
                f"selector(s) {', '.join(k.selector for k in facts.dkim_keys)}{own}",
                evidence=tried,
                fix=f"Turn on {profile.name}'s domain authentication and publish "
                f"{_dkim_records(facts)}",
            )
        )
    if facts.provider_default:
        spec = profile.return_path
        hidden = bool(spec and not spec.literal_names())
        out.append(
            Finding(
                ESP_DEFAULT_RETURN_PATH,
                name,
                message=f"{_label(facts)} sends with its own envelope domain {facts.envelope}: "
                f"SPF passes for {facts.envelope}, which cannot align with {facts.from_domain}"
                + (
                    f" (no custom return path declared; {profile.name}'s "
                    f"{' / '.join(spec.name_patterns)} names cannot be discovered: if you have "
                    "one, give it with --return-path)"
                    if hidden and spec
                    else ""
                ),
                evidence=[f"default envelope domain of {profile.name}: {facts.envelope}"],
                fix=(
                    f"Set a custom return path in {profile.name}: {_return_path_record(facts)}"
                    if spec
                    else f"{profile.name} offers no custom return path: make DKIM aligned "
                    f"(d={facts.from_domain})."
                ),
            )
        )
    return out


def _verdict(facts: PathFacts) -> list[Finding]:
    dmarc, gmail = facts.dmarc, facts.gmail
    if dmarc is None or gmail is None or facts.dkim_state == "unknown":
        return []  # which key signs is unknown: no verdict to predict
    out = []
    nothing_aligned = not dmarc.dkim_aligned and not dmarc.spf_aligned
    undecided = bool(facts.lookup_errors)  # an identifier's lookup failed: DNS001 says so
    if dmarc.result == "fail" or (dmarc.result == "none" and nothing_aligned and not undecided):
        notes = f" ({'; '.join(dmarc.notes)})" if dmarc.notes else ""
        message = (
            f"{_label(facts)}: mail fails DMARC ({dmarc.reason}); the policy asks receivers to "
            f"{DISPOSITION_TEXT[dmarc.disposition]}{notes}"
            if dmarc.result == "fail"
            else f"{_label(facts)}: neither SPF nor DKIM would pass aligned (SPF "
            f"{facts.spf_result} for {facts.envelope}, DKIM {facts.dkim_state}); "
            f"{facts.from_domain} has no DMARC policy yet, so this path fails once it does"
        )
        out.append(
            Finding(
                PATH_DMARC_FAILS,
                facts.path.name,
                message=message,
                evidence=[
                    f"envelope: {facts.envelope} (SPF {facts.spf_result})",
                    f"DKIM: {facts.dkim_state}",
                    *(f"d={d.domain}: {d.result}" for d in facts.dkim),
                ],
                fix=_dmarc_fix(facts),
                severity=_SEVERITY_BY_DISPOSITION[dmarc.disposition]
                if dmarc.result == "fail"
                else Severity.LOW,
            )
        )
    foreign_mailer = gmail.mailed_by and not aligned(gmail.mailed_by, facts.from_domain, "r")
    foreign_signer = gmail.signed_by and not aligned(gmail.signed_by, facts.from_domain, "r")
    if gmail.shows_via or foreign_mailer or foreign_signer:
        if gmail.shows_via:
            shown = f'Gmail will show "{facts.from_domain} via {gmail.via}": {gmail.reason}'
        else:
            shown = (
                f'Gmail will show mailed-by {gmail.mailed_by}, not your domain (no "via": '
                f"DKIM d={gmail.signed_by} aligns)"
            )
        out.append(
            Finding(
                PATH_VIA_SHOWN,
                facts.path.name,
                message=f"{_label(facts)}: {shown}",
                evidence=[
                    f"mailed-by: {gmail.mailed_by or '(none)'}",
                    f"signed-by: {gmail.signed_by or '(none)'}",
                ],
                fix=_dmarc_fix(facts)
                if gmail.shows_via or foreign_signer
                else _return_path_fix(facts),
            )
        )
    return out


def _return_path_fix(facts: PathFacts) -> str:
    if facts.profile and facts.profile.return_path:
        return f"Set a custom return path in {facts.profile.name}: {_return_path_record(facts)}"
    return f"Send with a MAIL FROM under {organizational_domain(facts.from_domain)}."


def _dkim_records(facts: PathFacts) -> str:
    """The DKIM records to publish, one per selector, with the provider's CNAME target."""
    profile = facts.profile
    selectors = [k.selector for k in facts.dkim_keys] or list(
        profile.literal_selectors() if profile else []
    )
    patterns = profile.dkim_cname_patterns if profile else ()
    out = []
    for sel in selectors or ["<selector>"]:
        own = [p for p in patterns if p.startswith((sel + ".", sel + "-"))]
        target = " or ".join(own or patterns)
        out.append(
            f"{sel}._domainkey.{facts.from_domain} "
            + (f"CNAME {target}" if target else 'TXT "v=DKIM1; k=rsa; p=<the public key>"')
        )
    return "; ".join(out)


def _dmarc_fix(facts: PathFacts) -> str:
    """The smallest change that makes one identifier pass aligned on this path."""
    profile = facts.profile
    if profile and (facts.dkim_keys or profile.literal_selectors()):
        return (
            f"Sign with d={facts.from_domain}: turn on {profile.name}'s domain authentication "
            f"and publish {_dkim_records(facts)}"
        )
    if facts.path.dkim_selectors:
        return (
            f"Publish the signer's public key: {_dkim_records(facts)}, and sign with "
            f"d={facts.from_domain}"
        )
    strict = bool(facts.dmarc and facts.dmarc.aspf == "s")
    return (
        f"Sign the path's mail with d={facts.from_domain} (DKIM), or send with a MAIL FROM "
        + (
            f"exactly @{facts.from_domain} (aspf=s)"
            if strict
            else f"under {organizational_domain(facts.from_domain)}"
        )
        + " whose SPF lists the path's IPs"
    )
