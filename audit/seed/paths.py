"""`audit seed run --path NAME / --esp NAME`: which declared sending path a seed run goes
through, how to send on it when --via is not given, and what its domain-audit prediction says
against what each receiver wrote (SEED406 where they disagree). Pure except for the config read.
"""

from __future__ import annotations

from typing import Any

from audit.fact_json import facts_of
from audit.fact_types.sending_paths import PathRow, SendingPathsFacts
from audit.facts.paths import SendingPath, config_paths, declared_paths
from audit.facts.prediction import aligned
from audit.model import Finding, Report
from audit.rules.seed import SEED_CONTRADICTED

# Providers the seed sender has an HTTP API transport for (audit/seed/send/via.py)
API_VIA = {"sendgrid": "sendgrid:", "postmark": "postmark:", "mailgun": "mailgun:{domain}"}


def resolve_path(
    name: str | None, esp: str | None, config: Any, known_esps: list[str]
) -> SendingPath | None:
    """The path named by --path (a [[path]] of the project config) or --esp (a provider)."""
    if name and esp:
        raise ValueError("give either --path or --esp, not both")
    if esp:
        if esp not in known_esps:
            raise ValueError(
                f"--esp {esp!r} is not a known provider (known: {', '.join(known_esps)})"
            )
        return declared_paths([esp])[0]
    if not name:
        return None
    tables = list(config.paths) if config is not None else []
    found = [p for p in config_paths(tables, known_esps) if p.name == name]
    if not found:
        known = (
            ", ".join(p.name for p in tables) or "none: no audit.toml with [[path]] tables found"
        )
        raise ValueError(
            f"--path {name!r} is not a [[path]] of the project config (known: {known})"
        )
    return found[0]


def via_for(path: SendingPath, from_domain: str) -> str:
    """How to send on the path when --via is not given: its submission relay, or the
    provider's HTTP API; ValueError when the path says neither."""
    if path.smtp:
        return f"smtp://{path.smtp}"
    if path.esp in API_VIA:
        return API_VIA[path.esp].format(domain=from_domain)
    raise ValueError(
        f"path {path.name!r} names no submission relay (smtp) and no provider API this tool "
        "sends with: give --via"
    )


def path_row(domain_report: Report | None, name: str) -> PathRow | None:
    """The path's row of the Sending paths section of the domain audit."""
    for outcome in domain_report.outcomes if domain_report else []:
        if outcome.check != "sending_paths":
            continue
        facts = facts_of(outcome.facts, "sending_paths", SendingPathsFacts)
        for row in facts.paths if facts else ():
            if row.name == name:
                return row
    return None


def predicted(row: PathRow) -> dict[str, Any]:
    """What the path prediction says a receiver will conclude (only what it could tell)."""
    out: dict[str, Any] = {}
    if row.spf.result and row.spf.result != "unknown":
        out["spf"] = row.spf.result
    if row.dkim.state not in ("", "unknown"):
        out["dkim-aligned"] = "pass" if row.alignment.dkim else "none"
    if row.dmarc:
        out["dmarc"] = row.dmarc
    return out


def receiver_says(theirs: dict[str, Any], from_domain: str) -> dict[str, str | None]:
    dkim = [r for r in theirs.get("dkim") or [] if r.get("result") == "pass"]
    passing_aligned = any(
        aligned(str((r.get("properties") or {}).get("header.d") or ""), from_domain, "r")
        for r in dkim
    )
    return {
        "spf": (theirs.get("spf") or {}).get("result"),
        "dkim-aligned": "pass" if passing_aligned else "none",
        "dmarc": (theirs.get("dmarc") or {}).get("result"),
    }


def path_checks(
    row: PathRow | None, name: str, views: list[tuple[str, dict[str, Any]]], from_domain: str
) -> tuple[list[dict[str, Any]], list[Finding]]:
    """(every comparison, SEED406 for each disagreement). `views`: (seed, the receiver's own
    verdicts) for every seed whose copy carried them."""
    if row is None or row.inconclusive:
        return [], []
    ours = predicted(row)
    checks, findings = [], []
    for seed, theirs in views:
        said = receiver_says(theirs, from_domain)
        receiver = ", ".join(i for i in theirs.get("authserv_ids") or [] if i) or "the receiver"
        for method, value in ours.items():
            if said.get(method) is None:
                continue
            agree = said[method] == value
            checks.append(
                {
                    "seed": seed,
                    "path": name,
                    "method": method,
                    "ours": value,
                    "receiver": said[method],
                    "agree": agree,
                }  # fmt: skip
            )
            if not agree:
                findings.append(
                    Finding(
                        SEED_CONTRADICTED,
                        seed,
                        message=f"path {name}: the domain audit predicted {method} {value}, "
                        f"{receiver} says {said[method]}",
                        evidence=[
                            f"prediction: {row.dmarc_reason or ''}".strip(),
                            f"receiver: {method}={said[method]}",
                        ],  # fmt: skip
                        fix="Check that the run really went through this path (its IPs, return "
                        "path and DKIM selector) and that the DNS the receiver saw is the one "
                        "audited.",
                    )
                )
    return checks, findings
