"""Hold what receivers concluded against what the audit predicted.

Inputs are observations, one per seed: how the send went, where the copy landed, and the
message audit of the copy as received (which already parses the receiver's own
Authentication-Results and compares them with our replay of DKIM, SPF and DMARC). Out come
the seed report's outcomes: one per seed, the cross-receiver comparison, the domain-audit
predictions, and the placement summary. Pure: no I/O, so every rule is testable on its own.
"""

from __future__ import annotations

import re
from collections import defaultdict
from dataclasses import dataclass, field
from typing import Any

from audit.model import CheckOutcome, Finding, Report, Status
from audit.rules.seed import (
    SEED_CONTRADICTED,
    SEED_IN_SPAM,
    SEED_MISSING,
    SEED_NO_RECEIVER_VERDICT,
    SEED_NOT_COLLECTED,
    SEED_RECEIVER_DKIM,
    SEED_RECEIVER_DMARC,
    SEED_RECEIVER_SPF,
    SEED_SEND_FAILED,
    SEED_SEND_UNCONFIRMED,
)
from audit.seed.paths import path_checks, path_row, predicted

_POLICY_COMMENT = re.compile(r"\bp\s*=\s*(none|quarantine|reject)\b", re.IGNORECASE)


@dataclass
class SeedObservation:
    """Everything the run learned about one seed mailbox."""

    address: str
    provider: str = "generic"
    send_status: str = "sent"  # sent | failed | interrupted | skipped (run stopped before it)
    send_error: str | None = None
    folder: str | None = None  # where the copy was found; None: not found
    placement: str | None = None  # inbox | spam | other
    delay_s: float | None = None  # send to found
    collect_error: str | None = None  # the mailbox could not be read
    message_report: Report | None = None  # the message audit of the copy
    notes: list[str] = field(default_factory=list)

    @property
    def delivered(self) -> bool:
        return self.folder is not None


def receiver_view(report: Report | None) -> dict[str, Any] | None:
    """The receiver's own verdicts and the comparison with ours, from the message audit."""
    if report is None:
        return None
    for outcome in report.outcomes:
        if outcome.check == "receiver":
            facts = outcome.facts.get("receiver") or {}
            return {
                "receiver": facts.get("receiver"),
                "comparison": facts.get("comparison") or [],
                "trusted": facts.get("trusted"),
            }
    return None


def _dkim_results(theirs: dict[str, Any]) -> list[dict[str, Any]]:
    return list(theirs.get("dkim") or [])


def _dkim_summary(results: list[dict[str, Any]]) -> str:
    if not results:
        return "none"
    if any(r.get("result") == "pass" for r in results):
        return "pass"
    return results[0].get("result") or "none"


def _result(entry: dict[str, Any] | None) -> str | None:
    return (entry or {}).get("result") if entry else None


def _seed_findings(obs: SeedObservation, view: dict[str, Any] | None) -> list[Finding]:
    """Why there is no copy to judge (one finding), else what the copy shows."""
    missing = _no_copy_findings(obs)
    if missing is not None:
        return missing
    theirs = (view or {}).get("receiver") or {}
    receiver = ", ".join((view or {}).get("receiver_ids") or []) or "the receiver"
    return (
        _placement_findings(obs, view, theirs)
        + _receiver_findings(obs.address, theirs, receiver)
        + _contradictions(obs.address, view, receiver)
    )


def _no_copy_findings(obs: SeedObservation) -> list[Finding] | None:
    """The send failed, the mailbox was unreadable or no copy came: None when a copy did."""
    target = obs.address
    if obs.send_status != "sent":
        if obs.send_status == "interrupted":
            # possibly sent (cut off mid-send, or no reply after the data): never re-sent, and
            # no copy arrived, so whether it was delivered is unknown
            return [
                Finding(
                    SEED_SEND_UNCONFIRMED,
                    target,
                    message=f"the send to {target} was cut off before the relay confirmed it "
                    f"({obs.send_error or 'interrupted'}) and no copy arrived: its fate is unknown",
                    evidence=[obs.send_error or "interrupted"],
                    fix="Start a new run for this seed if you need its placement; a resumed run "
                    "never sends a possibly-sent seed twice.",
                )
            ]
        return [
            Finding(
                SEED_SEND_FAILED,
                target,
                message=f"the test message was not sent to {target}: "
                f"{obs.send_error or obs.send_status}",
                evidence=[obs.send_error or obs.send_status],
                fix="Check the credentials and that the From address is an allowed sender on "
                "that path; with the environment fixed, --resume sends to the seeds not yet "
                "reached (a different --via or --from needs a new run).",
            )
        ]
    if obs.collect_error:
        return [
            Finding(
                SEED_NOT_COLLECTED,
                target,
                message=f"the mailbox of {target} could not be read: {obs.collect_error}",
                evidence=[obs.collect_error],
                fix="Check the seed's imap URL, username and the variable named by password_env.",
            )
        ]
    if not obs.delivered:
        return [
            Finding(
                SEED_MISSING,
                target,
                message=f"no copy reached {target} (inbox or spam) before the wait ended",
                evidence=obs.notes,
                fix="Look for a bounce or a 5xx in the sending log; fix the authentication "
                "findings first; re-run with a longer --wait if the receiver greylists.",
            )
        ]
    return None


def _placement_findings(
    obs: SeedObservation, view: dict[str, Any] | None, theirs: dict[str, Any]
) -> list[Finding]:
    """The copy carries no verdict of the receiver's, or landed in spam."""
    target = obs.address
    findings: list[Finding] = []
    verdict = _verdict_text(theirs)
    if not theirs and obs.message_report is not None:
        findings.append(
            Finding(
                SEED_NO_RECEIVER_VERDICT,
                target,
                message=f"the copy at {target} carries no Authentication-Results from the "
                "seed's receiver: its SPF/DKIM/DMARC verdicts are unknown",
                evidence=[(view or {}).get("trusted") or "no Authentication-Results header"],
                fix="Set authserv_id for this seed to the name its receiver writes in "
                "Authentication-Results.",
            )
        )
    if obs.placement == "spam":
        findings.append(
            Finding(
                SEED_IN_SPAM,
                target,
                message=f"the copy landed in {obs.folder}" + (f" ({verdict})" if verdict else ""),
                evidence=[f"folder: {obs.folder}"],
                fix="Fix any failing SPF/DKIM/DMARC result below first; then look at content "
                "and the sending IP's reputation.",
            )
        )
    return findings


def _receiver_findings(target: str, theirs: dict[str, Any], receiver: str) -> list[Finding]:
    """The receiver's own SPF, DKIM and DMARC results, where they did not pass."""
    findings: list[Finding] = []
    spf = theirs.get("spf")
    if spf and spf.get("result") != "pass":
        findings.append(
            Finding(
                SEED_RECEIVER_SPF,
                target,
                message=f"{receiver} says spf={spf.get('result')}"
                + (f" for smtp.mailfrom={spf['mailfrom']}" if spf.get("mailfrom") else "")
                + (f" (client {spf['client_ip']})" if spf.get("client_ip") else ""),
                evidence=[spf.get("from") or "Authentication-Results"],
                fix="List the sending path's IPs (or the ESP's include:) in the SPF record of "
                "the envelope sender's domain.",
            )
        )
    dkim = _dkim_results(theirs)
    if theirs and _dkim_summary(dkim) != "pass" and (dkim or theirs.get("dmarc")):
        shown = ", ".join(
            f"dkim={r.get('result')}"
            + (f" header.d={r['properties'].get('header.d')}" if r.get("properties") else "")
            for r in dkim
        )
        findings.append(
            Finding(
                SEED_RECEIVER_DKIM,
                target,
                message=f"{receiver} saw no passing DKIM signature"
                + (f": {shown}" if shown else " (unsigned)"),
                evidence=[shown or "no dkim= result"],
                fix="Sign with a key published in DNS, as the last step before the message "
                "leaves your systems.",
            )
        )
    dmarc = theirs.get("dmarc")
    if dmarc and dmarc.get("result") != "pass":
        comments = " ".join(dmarc.get("comments") or [])
        findings.append(
            Finding(
                SEED_RECEIVER_DMARC,
                target,
                message=f"{receiver} says dmarc={dmarc.get('result')}"
                + (f" ({comments})" if comments else ""),
                evidence=[f"dmarc={dmarc.get('result')} {comments}".strip()],
                fix="Make SPF or DKIM pass with a domain aligned to the From domain.",
            )
        )
    return findings


def _contradictions(target: str, view: dict[str, Any] | None, receiver: str) -> list[Finding]:
    """Where our prediction and the receiver's verdict differ."""
    findings: list[Finding] = []
    for entry in (view or {}).get("comparison") or []:
        if entry.get("agree") is not False:
            continue
        findings.append(
            Finding(
                SEED_CONTRADICTED,
                target,
                message=f"{entry['method'].upper()} {entry['subject']}: we predicted "
                f"{entry['ours']}, {receiver} says {entry['receiver']}"
                + (f" ({entry['note']})" if entry.get("note") else ""),
                evidence=[f"receiver: {entry['receiver']}", f"ours: {entry['ours']}"],
                fix="Compare the copy with the message as sent: a hop after signing changed "
                "it, the receiver saw another client IP, or DNS differs between the two views.",
            )
        )
    return findings


def _verdict_text(theirs: dict[str, Any]) -> str:
    parts = []
    if theirs.get("spf"):
        parts.append(f"spf={theirs['spf'].get('result')}")
    if theirs.get("dkim") is not None and (theirs.get("dkim") or theirs.get("dmarc")):
        parts.append(f"dkim={_dkim_summary(_dkim_results(theirs))}")
    if theirs.get("dmarc"):
        parts.append(f"dmarc={theirs['dmarc'].get('result')}")
    return " ".join(parts)


def _seed_facts(obs: SeedObservation, view: dict[str, Any] | None) -> dict[str, Any]:
    theirs = (view or {}).get("receiver") or {}
    facts: dict[str, Any] = {
        "address": obs.address,
        "provider": obs.provider,
        "send": {"status": obs.send_status, "error": obs.send_error},
        "delivered": obs.delivered,
        "folder": obs.folder,
        "placement": _placement_word(obs),
        "delay_s": None if obs.delay_s is None else round(obs.delay_s, 2),
        "receiver": {
            "authserv_ids": theirs.get("authserv_ids") or [],
            "spf": _result(theirs.get("spf")),
            "dkim": _dkim_summary(_dkim_results(theirs)) if theirs else None,
            "dmarc": _result(theirs.get("dmarc")),
            "arc": _result(theirs.get("arc")),
            "details": theirs or None,
        },
        "comparison": (view or {}).get("comparison") or [],
        "notes": list(obs.notes),
    }
    if obs.collect_error:
        facts["collect_error"] = obs.collect_error
    if obs.message_report is not None:
        facts["message_audit"] = [
            {"rule_id": f.rule.id, "severity": f.effective_severity.value, "message": f.message}
            for f in obs.message_report.findings()
        ]
    return facts


def _placement_word(obs: SeedObservation) -> str | None:
    if obs.placement:
        return obs.placement
    if obs.collect_error or obs.send_status == "interrupted":
        return "unknown"
    return "missing" if obs.send_status == "sent" else None


def seed_outcome(obs: SeedObservation) -> CheckOutcome:
    view = receiver_view(obs.message_report)
    if view is not None:
        ids = ((view.get("receiver") or {}).get("authserv_ids")) or []
        view["receiver_ids"] = list(dict.fromkeys(i for i in ids if i))
    findings = _seed_findings(obs, view)
    status = Status.COMPLETED
    if any(f.rule.temperror for f in findings):
        status = Status.INCONCLUSIVE
    return CheckOutcome(
        f"seed {obs.address}",
        obs.address,
        status,
        facts={"seed": _seed_facts(obs, view)},
        findings=findings,
    )


def cross_receiver_outcome(observations: list[SeedObservation]) -> CheckOutcome:
    """DKIM (per d= and s=), SPF or DMARC passing at one seed's receiver and not at another's."""
    by_subject: dict[str, dict[str, set[str]]] = defaultdict(lambda: defaultdict(set))
    for obs in observations:
        view = receiver_view(obs.message_report)
        theirs = (view or {}).get("receiver") or {}
        if not theirs:
            continue
        for res in _dkim_results(theirs):
            props = res.get("properties") or {}
            subject = f"DKIM d={props.get('header.d') or '?'}"
            if props.get("header.s"):
                subject += f" s={props['header.s']}"
            by_subject[subject][res.get("result") or "none"].add(obs.address)
        for method in ("spf", "dmarc"):
            result = _result(theirs.get(method))
            if result:
                by_subject[method.upper()][result].add(obs.address)
    findings = []
    summary = {}
    for subject, results in sorted(by_subject.items()):
        summary[subject] = {k: sorted(v) for k, v in results.items()}
        passed = results.get("pass", set())
        failing = {k: v - passed for k, v in results.items() if k != "pass"}
        failing = {k: v for k, v in failing.items() if v}
        if not passed or not failing:
            continue  # a seed is never held against itself (two signatures, one d=)
        shown = "; ".join(f"{k} at {', '.join(sorted(v))}" for k, v in sorted(failing.items()))
        findings.append(
            Finding(
                SEED_CONTRADICTED,
                subject,
                message=f"{subject}: pass at {', '.join(sorted(passed))} but {shown}: the "
                "receivers saw different messages or different clients",
                evidence=[f"{k}: {', '.join(sorted(v))}" for k, v in sorted(results.items())],
                fix="Find the hop that differs: a forwarder or a receiver-side gateway that "
                "rewrites the message (DKIM), or a different outbound IP per destination "
                "(SPF).",
            )
        )
    return CheckOutcome(
        "receivers", "all seeds", Status.COMPLETED, facts={"by_result": summary}, findings=findings
    )


def _predicted_policy(domain_report: Report | None) -> tuple[str | None, bool]:
    """(the p= the domain audit found, whether it found out at all)."""
    for outcome in domain_report.outcomes if domain_report else []:
        if outcome.check == "dmarc":
            if outcome.status is not Status.COMPLETED:
                return None, False
            parsed = ((outcome.facts.get("dmarc") or {}).get("parsed")) or {}
            return parsed.get("p"), True
    return None, False


def predictions_outcome(
    domain_report: Report | None,
    observations: list[SeedObservation],
    from_domain: str,
    path: str | None = None,
) -> CheckOutcome:
    """What the domain audit predicts receivers see, checked against what they wrote."""
    if domain_report is None:
        return CheckOutcome(
            "predictions",
            from_domain,
            Status.SKIPPED,
            error="the domain audit of the From domain did not run",
        )
    policy, known = _predicted_policy(domain_report)
    if not known:
        return CheckOutcome(
            "predictions",
            from_domain,
            Status.INCONCLUSIVE,
            error=f"the DMARC policy of {from_domain} could not be read by the domain audit",
            facts={"dmarc_policy": None},
        )
    findings: list[Finding] = []
    checked = []
    for obs in observations:
        applied = _applied_policy(obs, policy, from_domain)
        if applied is not None:
            checked.append(applied[0])
            findings.extend(applied[1])
    keys = _published_keys(domain_report)
    dkim_checks: list[dict[str, Any]] = []
    for obs in observations:
        findings.extend(_dkim_prediction(obs, keys, from_domain, dkim_checks))
    facts: dict[str, Any] = {
        "dmarc_policy": policy,
        "dkim_keys": sorted(keys),
        "dkim_checks": dkim_checks,
        "domain_findings": [
            {"rule_id": f.rule.id, "target": f.target, "message": f.message}
            for f in domain_report.findings()
        ],
        "dmarc_policy_checks": checked,
    }
    if path:
        facts["path"] = _path_prediction(domain_report, observations, path, from_domain, findings)
    return CheckOutcome(
        "predictions", from_domain, Status.COMPLETED, facts=facts, findings=findings
    )


def _applied_policy(
    obs: SeedObservation, policy: str | None, from_domain: str
) -> tuple[dict[str, Any], list[Finding]] | None:
    """The DMARC policy the seed's receiver says it applied, against the one the domain audit
    found (None: the receiver wrote no DMARC result)."""
    view = receiver_view(obs.message_report)
    dmarc = ((view or {}).get("receiver") or {}).get("dmarc")
    if not dmarc:
        return None
    comments = " ".join(dmarc.get("comments") or []) + " " + (dmarc.get("reason") or "")
    seen = _POLICY_COMMENT.search(comments)
    their_policy = seen.group(1).lower() if seen else None
    checked = {"seed": obs.address, "receiver_policy": their_policy, "ours": policy}
    findings = []
    if policy and their_policy and their_policy != policy:
        findings.append(
            Finding(
                SEED_CONTRADICTED,
                obs.address,
                message=f"DMARC policy of {from_domain}: the domain audit found p={policy}, "
                f"the receiver applied p={their_policy}",
                evidence=[f"dmarc={dmarc.get('result')} ({comments.strip()})"],
                fix="The receiver read another DMARC record (a cached one, or another "
                "policy domain): check for several _dmarc records and the TTL.",
            )
        )
    if policy is None and dmarc.get("result") in ("pass", "fail") and their_policy:
        findings.append(
            Finding(
                SEED_CONTRADICTED,
                obs.address,
                message=f"the domain audit found no DMARC policy for {from_domain}, the "
                f"receiver applied p={their_policy}",
                evidence=[f"dmarc={dmarc.get('result')} ({comments.strip()})"],
                fix="Check which name the receiver found the record at (organizational "
                "domain, RFC 9989 tree walk).",
            )
        )
    return checked, findings


def _path_prediction(
    domain_report: Report,
    observations: list[SeedObservation],
    path: str,
    from_domain: str,
    findings: list[Finding],
) -> dict[str, Any]:
    """The declared path's predicted verdicts checked against each receiver's (its findings
    appended to `findings`); the path's facts."""
    views = [(o.address, (receiver_view(o.message_report) or {}).get("receiver") or {})
             for o in observations]  # fmt: skip
    row = path_row(domain_report, path)
    checks, more = path_checks(row, path, [(a, t) for a, t in views if t], from_domain)
    findings.extend(more)
    return {
        "name": path,
        "predicted": predicted(row) if row else None,
        "row": row,
        "checks": checks,
    }


def _published_keys(domain_report: Report) -> dict[str, dict[str, Any]]:
    """Usable DKIM keys the domain audit found, by selector: the basis for predicting pass."""
    for outcome in domain_report.outcomes:
        if outcome.check == "dkim" and outcome.status is Status.COMPLETED:
            found = (outcome.facts.get("dkim") or {}).get("keys") or []
            return {
                str(k.get("selector", "")).lower(): k
                for k in found
                if isinstance(k, dict) and not k.get("revoked") and not k.get("errors")
            }
    return {}


def _dkim_prediction(
    obs: SeedObservation,
    keys: dict[str, dict[str, Any]],
    from_domain: str,
    checks: list[dict[str, Any]],
) -> list[Finding]:
    """The domain publishes valid keys, so we predict a DKIM pass by the From domain: a
    receiver that saw no such signature, or saw it fail, contradicts that."""
    view = receiver_view(obs.message_report)
    theirs = (view or {}).get("receiver") or {}
    if not keys or not theirs or obs.placement is None:
        return []
    domain = from_domain.lower().rstrip(".")
    results = [
        r
        for r in _dkim_results(theirs)
        if str((r.get("properties") or {}).get("header.d", "")).lower().rstrip(".") == domain
    ]
    receiver = ", ".join(dict.fromkeys(i for i in theirs.get("authserv_ids") or [] if i))
    receiver = receiver or "the receiver"
    selectors = ", ".join(sorted(keys))
    if not results:
        seen = ", ".join(f"dkim={r.get('result')}" for r in _dkim_results(theirs)) or "none"
        checks.append({"seed": obs.address, "predicted": "pass", "receiver": seen})
        return [
            Finding(
                SEED_CONTRADICTED,
                obs.address,
                message=f"DKIM d={from_domain}: the domain audit found valid keys (selectors "
                f"{selectors}), predicting signed mail to pass, but {receiver} saw no signature "
                f"by {from_domain} ({seen}): the sending path does not sign with the From domain",
                evidence=[f"published selectors: {selectors}", f"receiver: {seen}"],
                fix=f"Have the sending path sign with d={from_domain} and one of these selectors "
                "(an ESP's custom-domain DKIM setting, or OpenDKIM's SigningTable).",
            )
        ]
    findings = []
    for res in results:
        props = res.get("properties") or {}
        selector = str(props.get("header.s") or "").lower()
        result = res.get("result") or "none"
        key = keys.get(selector) if selector else (next(iter(keys.values())) if keys else None)
        checks.append({"seed": obs.address, "selector": selector, "receiver": result})
        if key is None or result == "pass":
            continue
        where = key.get("name") or f"{selector}._domainkey.{from_domain}"
        findings.append(
            Finding(
                SEED_CONTRADICTED,
                obs.address,
                message=f"DKIM d={from_domain}"
                + (f" s={selector}" if selector else "")
                + f": the domain audit found a valid key at {where} "
                f"({key.get('key_type')} {key.get('key_bits') or ''}), predicting pass, but "
                f"{receiver} says {result}: the signer's private key does not match the "
                "published key, or the message changed after signing",
                evidence=[f"{where}: {str(key.get('record') or '')[:80]}", f"receiver: {result}"],
                fix="Compare the signer's key with the published one (opendkim-testkey -d "
                f"{from_domain} -s {selector or '<selector>'}); publish the public half of the "
                "key the signer uses.",
            )
        )
    return findings


def placement_outcome(observations: list[SeedObservation]) -> CheckOutcome:
    """Inbox rate per provider: the number a pre-launch checklist asks for."""
    table: dict[str, dict[str, int]] = defaultdict(
        lambda: {"inbox": 0, "spam": 0, "other": 0, "missing": 0, "unknown": 0}
    )
    for obs in observations:
        row = table[obs.provider]
        if obs.send_status != "sent" or obs.collect_error:
            row["unknown"] += 1
        elif not obs.delivered:
            row["missing"] += 1
        else:
            row[obs.placement or "other"] += 1
    facts = {}
    for provider, row in sorted(table.items()):
        judged = row["inbox"] + row["spam"] + row["other"] + row["missing"]
        facts[provider] = {**row, "inbox_rate": round(row["inbox"] / judged, 3) if judged else None}
    return CheckOutcome("placement", "all seeds", Status.COMPLETED, facts={"placement": facts})


def confirm(
    observations: list[SeedObservation],
    domain_report: Report | None,
    from_domain: str,
    path: str | None = None,
) -> list[CheckOutcome]:
    """`path`: the declared sending path the run went through, whose prediction is checked."""
    return [
        placement_outcome(observations),
        *(seed_outcome(o) for o in observations),
        cross_receiver_outcome(observations),
        predictions_outcome(domain_report, observations, from_domain, path),
    ]
