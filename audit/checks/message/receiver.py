"""The receiver's own verdict, side by side with ours.

A delivered message carries what the receiver concluded (Authentication-Results, RFC 8601;
Received-SPF, RFC 7208 9.1). Where it disagrees with what we conclude now, the difference
explains something: the copy was changed after delivery, a DKIM key or SPF record changed
since, or we reconstructed a different connecting IP.

Anyone on the path can add these headers, so only the receiver's own count: the topmost
Authentication-Results (receivers prepend theirs), or with --receiver-domain every one whose
authserv-id is in that domain. The others are shown, not compared.
"""

from __future__ import annotations

import re
from typing import Any

from audit.checks.message.context import MessageContext
from audit.checks.message.headers import header_texts
from audit.message.addresses import domain_of
from audit.message.authres import (
    AuthenticationResults,
    ReceivedSpf,
    ResInfo,
    parse_authentication_results,
    parse_received_spf,
)
from audit.model import CheckResult, Finding, Severity
from audit.rules.msg import MSG_RECEIVER_DISAGREES

UNAVAILABLE = "unavailable"
_UNDECIDED = {"temperror", UNAVAILABLE, "unknown", ""}
_ALIASES = {"hardfail": "fail", "bestguesspass": "none", "temperr": "temperror"}
_B_TAG = re.compile(r"(?:^|;)\s*b\s*=\s*([^;]*)", re.IGNORECASE)


def _norm(result: str | None) -> str:
    text = (result or "").strip().lower()
    return _ALIASES.get(text, text)


def _in_domain(name: str | None, domain: str) -> bool:
    return name is not None and (name == domain or name.endswith("." + domain))


def trusted_indexes(
    parsed: list[AuthenticationResults], received_spf: list[ReceivedSpf], domain: str | None
) -> tuple[list[int], list[int], str]:
    """Which headers are the receiver's own: (AR indexes, Received-SPF indexes, why)."""
    if domain:
        domain = domain.lower().rstrip(".")
        ars = [i for i, a in enumerate(parsed) if _in_domain(a.authserv_id, domain)]
        spfs = [i for i, s in enumerate(received_spf) if _in_domain(s.receiver, domain)]
        why = f"headers written by a host in {domain} (--receiver-domain)"
        if not ars and parsed and parsed[0].authserv_id is None:
            # Microsoft 365 / Outlook.com write Authentication-Results without an authserv-id
            ars, why = [0], f"the topmost Authentication-Results (no authserv-id; {domain})"
        return ars, spfs, why
    return (
        [0] if parsed else [],
        [0] if received_spf else [],
        "the topmost Authentication-Results and Received-SPF (give --receiver-domain to choose)",
    )


def _positions(ctx: MessageContext, name: str) -> list[int]:
    """Where each `name` header sits in the header section (0 = first line)."""
    return [i for i, (key, _v) in enumerate(ctx.message.items()) if key.lower() == name]


def above_the_edge(
    ctx: MessageContext, ar_idx: list[int], spf_idx: list[int]
) -> tuple[list[int], list[int]]:
    """Only headers above the Received line where the receiver took the message over count:
    anything below it came with the message, whatever authserv-id it claims (RFC 8601 5)."""
    edge = ctx.envelope.edge_index
    received = _positions(ctx, "received")
    if edge is None or not ctx.receiver_domain or edge >= len(received):
        return ar_idx, spf_idx
    limit = received[edge]
    ar_pos = _positions(ctx, "authentication-results")
    spf_pos = _positions(ctx, "received-spf")
    above_ar = [i for i in ar_idx if i < len(ar_pos) and ar_pos[i] < limit]
    above_spf = [i for i in spf_idx if i < len(spf_pos) and spf_pos[i] < limit]
    # Some milters append their header at the end of the header section instead of the top:
    # when nothing is left above the edge, the receiver's headers are the ones it signed with
    # its own authserv-id, wherever they sit.
    return (above_ar or ar_idx), (above_spf or spf_idx)


# ----------------------------------------------------------------------------- ours


async def _ours(ctx: MessageContext) -> dict[str, Any]:
    """Our verdicts through the shared getters; a failing family is 'unavailable', not absent."""
    ours: dict[str, Any] = {}
    try:
        spf = await ctx.spf_verdict()
        ours["spf"] = {
            "result": spf.result if spf.ip else "unknown",
            "domain": spf.domain,
            "ip": spf.ip,
            "sender": spf.sender,
            "reason": spf.reason,
        }
    except Exception as exc:  # noqa: BLE001 - another family's failure must not stop this one
        ours["spf"] = {"result": UNAVAILABLE, "reason": f"{type(exc).__name__}: {exc}"}
    try:
        ours["dkim"] = list(await ctx.dkim_verdicts())
    except Exception as exc:  # noqa: BLE001
        ours["dkim"] = UNAVAILABLE
        ours["dkim_error"] = f"{type(exc).__name__}: {exc}"
    try:
        dmarc = await ctx.dmarc_verdict()
        ours["dmarc"] = {
            "result": dmarc.result,
            "from_domain": dmarc.from_domain,
            "reason": dmarc.reason,
        }
    except Exception as exc:  # noqa: BLE001
        ours["dmarc"] = {"result": UNAVAILABLE, "reason": f"{type(exc).__name__}: {exc}"}
    try:
        arc = await ctx.arc_verdict()
        undecided = arc.cv == "fail" and arc.temperror
        ours["arc"] = {"result": "temperror" if undecided else arc.cv, "reason": arc.reason}
    except Exception as exc:  # noqa: BLE001
        ours["arc"] = {"result": UNAVAILABLE, "reason": f"{type(exc).__name__}: {exc}"}
    return ours


def _ours_facts(ours: dict[str, Any]) -> dict[str, Any]:
    dkim = ours["dkim"]
    return {
        "spf": ours["spf"],
        "dkim": dkim
        if dkim == UNAVAILABLE
        else [
            {"d": v.domain, "s": v.selector, "result": v.result, "reason": v.reason} for v in dkim
        ],
        "dkim_error": ours.get("dkim_error"),
        "dmarc": ours["dmarc"],
        "arc": ours["arc"],
    }


# ----------------------------------------------------------------------------- comparison


def _b_value(header: str) -> str:
    match = _B_TAG.search(header or "")
    return re.sub(r"\s+", "", match.group(1)) if match else ""


def _matching(res: ResInfo, signatures: list[Any]) -> list[Any]:
    """Our DKIM verdicts a receiver's dkim= result speaks about (header.d/i, header.s, b)."""
    domain = res.get("header.d") or domain_of(res.get("header.i"))
    selector = res.get("header.s")
    b = res.get("header.b")
    found = list(signatures)
    if not domain and not selector and not b:
        return found if len(found) == 1 else []
    if domain:
        domain = domain.lower().rstrip(".")
        found = [v for v in found if (v.domain or "").lower().rstrip(".") == domain]
    if selector:
        found = [v for v in found if (v.selector or "").lower() == selector.lower()]
    if b and len(found) > 1:
        found = [v for v in found if _b_value(v.header).startswith(b)]
    return found


def _entry(method, subject, theirs, ours, note="", agree=None) -> dict[str, Any]:
    return {
        "method": method,
        "subject": subject,
        "receiver": theirs,
        "ours": ours,
        "agree": agree,
        "note": note,
    }


def _compare(theirs: str, ours: str, exact: bool) -> bool | None:
    """None: one side could not decide. DKIM/ARC compare pass vs not pass; SPF/DMARC exactly."""
    if theirs in _UNDECIDED or ours in _UNDECIDED:
        return None
    if exact:
        return theirs == ours
    return (theirs == "pass") == (ours == "pass")


def _dkim_entries(receiver_dkim: list[ResInfo], ours: Any) -> list[dict[str, Any]]:
    entries = []
    if ours == UNAVAILABLE:
        for res in receiver_dkim:
            d = res.get("header.d") or domain_of(res.get("header.i"))
            entries.append(_entry("dkim", f"d={d}", _norm(res.result), UNAVAILABLE))
        return entries
    for res in receiver_dkim:
        theirs = _norm(res.result)
        if theirs == "none" and not (res.get("header.d") or res.get("header.i")):
            passing = [v for v in ours if v.passed]
            our = "pass" if passing else ("none" if not ours else _norm(ours[0].result))
            note = (
                f"this copy has {len(ours)} DKIM signature(s) the receiver did not see"
                if ours
                else ""
            )
            agree = True if not ours else (False if passing else None)
            entries.append(_entry("dkim", "any signature", "none", our, note, agree))
            continue
        domain = res.get("header.d") or domain_of(res.get("header.i")) or "?"
        subject = f"d={domain}" + (f" s={res.get('header.s')}" if res.get("header.s") else "")
        matches = _matching(res, ours)
        if not matches:
            note = "this copy carries no such signature: it was removed after delivery"
            agree = False if theirs == "pass" else None
            entries.append(_entry("dkim", subject, theirs, "absent", note, agree))
            continue
        verdict = next((v for v in matches if v.passed), matches[0])
        entry = _entry("dkim", subject, theirs, verdict.result, verdict.reason)
        entry["agree"] = _compare(theirs, _norm(verdict.result), exact=False)
        entries.append(entry)
    return entries


def _receiver_spf(ars: list[AuthenticationResults], spfs: list[ReceivedSpf]) -> dict | None:
    client_ip = next((s.pairs.get("client-ip") for s in spfs if s.pairs.get("client-ip")), None)
    for ar in ars:
        for res in ar.methods("spf"):
            return {
                "result": _norm(res.result),
                "mailfrom": res.get("smtp.mailfrom"),
                "helo": res.get("smtp.helo"),
                "client_ip": client_ip,
                "from": f"Authentication-Results ({ar.authserv_id or 'no authserv-id'})",
            }
    for spf in spfs:
        if spf.result:
            return {
                "result": _norm(spf.result),
                "mailfrom": spf.pairs.get("envelope-from"),
                "helo": spf.pairs.get("helo"),
                "client_ip": client_ip,
                "from": f"Received-SPF ({spf.receiver or 'receiver not named'})",
            }
    return None


def _first(ars: list[AuthenticationResults], method: str) -> ResInfo | None:
    return next((r for ar in ars for r in ar.methods(method)), None)


def _spf_entry(theirs: dict | None, ours: dict[str, Any]) -> dict[str, Any] | None:
    if theirs is None:
        return None
    their_domain = domain_of(theirs["mailfrom"]) or (
        theirs["mailfrom"].lower() if theirs["mailfrom"] else None
    )
    subject = f"smtp.mailfrom={theirs['mailfrom']}" if theirs["mailfrom"] else "spf"
    entry = _entry("spf", subject, theirs["result"], ours["result"])
    entry["agree"] = _compare(theirs["result"], ours["result"], exact=True)
    notes = []
    if theirs["client_ip"] and ours.get("ip") and theirs["client_ip"] != ours.get("ip"):
        notes.append(
            f"the receiver evaluated client-ip {theirs['client_ip']}, we evaluated {ours['ip']}: "
            f"give --ip {theirs['client_ip']} (or --trusted-hops) to evaluate the same client"
        )
    if their_domain and ours.get("domain") and their_domain != ours["domain"]:
        notes.append(f"the receiver checked {their_domain}, we checked {ours['domain']}")
    if ours["result"] == "unknown":
        notes.append(ours.get("reason") or "")
    entry["note"] = "; ".join(n for n in notes if n)
    return entry


def _simple_entry(method: str, res: ResInfo | None, ours: dict[str, Any], exact: bool):
    if res is None:
        return None
    subject = f"header.from={res.get('header.from')}" if res.get("header.from") else method
    theirs = _norm(res.result)
    our = _norm(ours["result"])
    entry = _entry(method, subject, theirs, ours["result"], ours.get("reason") or "")
    entry["agree"] = _compare(theirs, our, exact)
    if method == "arc" and not {theirs, our} <= {"pass", "fail"}:
        # the receiver (or a later hop) may have sealed its own ARC set since: "none" against
        # a chain we see now says nothing; only pass against fail is a disagreement
        entry["agree"] = None
    return entry


# ----------------------------------------------------------------------------- findings


def _explain(entry: dict[str, Any]) -> tuple[str, Severity]:
    method, theirs, ours = entry["method"], entry["receiver"], entry["ours"]
    receiver_failed = theirs != "pass" and ours == "pass"
    if method == "dkim":
        if ours == "absent":
            why = "the signature the receiver verified is no longer in this copy"
        elif theirs == "none":
            why = (
                "the receiver saw no DKIM signature: the signature(s) in this copy were added "
                "after the receiver's check, so they did not count for delivery"
            )
        elif receiver_failed:
            why = (
                "the receiver saw it fail where it verifies now: the key in DNS was different "
                "(or missing) when the message arrived, or a system before the receiver's "
                "verifier changed the message; the receiver's result decided delivery"
            )
        else:
            why = (
                "this copy was altered after the receiver verified it (a footer, rewritten "
                "links, re-encoding by a client or an export), or the key was rotated since"
                + (f" (we see: {entry['note']})" if entry["note"] else "")
            )
    elif method == "spf":
        why = entry["note"] or (
            "the SPF record changed since delivery"
            if not receiver_failed
            else "the SPF record changed since delivery, or the receiver saw another client"
        )
    elif method == "dmarc":
        why = "the DMARC record or the DKIM/SPF results it rests on differ from the receiver's"
    else:
        why = "the ARC chain differs from the one the receiver validated"
    severity = Severity.MEDIUM if receiver_failed else Severity.LOW
    return why, severity


async def check(ctx: MessageContext) -> CheckResult:
    ar_values = header_texts(ctx.message, "Authentication-Results")
    spf_values = header_texts(ctx.message, "Received-SPF")
    parsed = [parse_authentication_results(v) for v in ar_values]
    received_spf = [parse_received_spf(v) for v in spf_values]
    ar_idx, spf_idx, why_trusted = trusted_indexes(parsed, received_spf, ctx.receiver_domain)
    ar_idx, spf_idx = above_the_edge(ctx, ar_idx, spf_idx)
    facts: dict[str, Any] = {
        "authentication_results": [
            {"index": i, "trusted": i in ar_idx, **a.to_dict()} for i, a in enumerate(parsed)
        ],
        "received_spf": [
            {"index": i, "trusted": i in spf_idx, **s.to_dict()} for i, s in enumerate(received_spf)
        ],
        "trusted": why_trusted,
        "receiver": None,
        "ours": None,
        "comparison": [],
    }
    trusted_ars = [parsed[i] for i in ar_idx]
    trusted_spf = [received_spf[i] for i in spf_idx]
    if not trusted_ars and not trusted_spf:
        return CheckResult(facts={"receiver": facts})
    ours = await _ours(ctx)
    theirs_spf = _receiver_spf(trusted_ars, trusted_spf)
    dkim_results = [r for ar in trusted_ars for r in ar.methods("dkim")]
    theirs_dmarc = _first(trusted_ars, "dmarc")
    theirs_arc = _first(trusted_ars, "arc")
    facts["receiver"] = {
        "authserv_ids": [a.authserv_id for a in trusted_ars],
        "spf": theirs_spf,
        "dkim": [r.to_dict() for r in dkim_results],
        "dmarc": theirs_dmarc.to_dict() if theirs_dmarc else None,
        "arc": theirs_arc.to_dict() if theirs_arc else None,
    }
    facts["ours"] = _ours_facts(ours)
    comparison = [
        _spf_entry(theirs_spf, ours["spf"]),
        *_dkim_entries(dkim_results, ours["dkim"]),
        _simple_entry("dmarc", theirs_dmarc, ours["dmarc"], exact=True),
        _simple_entry("arc", theirs_arc, ours["arc"], exact=False),
    ]
    facts["comparison"] = [e for e in comparison if e is not None]
    receiver_name = ", ".join(a.authserv_id or "?" for a in trusted_ars) or ", ".join(
        s.receiver or "?" for s in trusted_spf
    )
    evidence = [f"Authentication-Results: {a.raw}" for a in trusted_ars] + [
        f"Received-SPF: {s.raw}" for s in trusted_spf
    ]
    findings = []
    for entry in facts["comparison"]:
        if entry["agree"] is not False:
            continue
        why, severity = _explain(entry)
        label = entry["method"].upper()
        findings.append(
            Finding(
                MSG_RECEIVER_DISAGREES,
                ctx.name,
                message=f"{label} {entry['subject']}: the receiver ({receiver_name}) says "
                f"{entry['receiver']}, we say {entry['ours']}: {why}",
                evidence=evidence,
                fix="Audit the message as it left your system (the sent copy or the ESP's "
                "raw source) to see what the receiver got; if keys or records changed since, "
                "audit with --now set to the delivery time.",
                severity=severity,
            )
        )
    return CheckResult(facts={"receiver": facts}, findings=findings)
