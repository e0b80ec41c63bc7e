"""`audit init`: a commented audit.toml written from what the domain audit finds.

What is filled in: the domains, the DKIM selectors found (the given ones and the common names
discovery tried; a custom selector DNS cannot reveal stays a commented placeholder), the DNS
servers asked, and today's findings as commented-out `[[ignore]]` examples so accepting one is
an uncomment plus a reason. Each provider the audit detected (ESP001) becomes a commented
`[[path]]` table with the DKIM selectors and return path the detection saw, and the records it
rests on. Selectors that are CNAMEs into another domain are shown with their target.
Everything taken from DNS is attacker controlled: it only ever appears in comments, with control
characters replaced, and the text is parsed back by the config loader before it is written.
"""

from __future__ import annotations

import json
import re
from collections.abc import Sequence

from audit.config import parse_config
from audit.model import Report

_UNPRINTABLE = re.compile(r"[^\x20-\x7e\u00a0-\uffff]|[\u2028\u2029\u200b-\u200f\u202a-\u202e]")


def _comment(text: str, limit: int = 90) -> str:
    """DNS data made safe for a TOML comment: one line, no control characters, bounded."""
    clean = _UNPRINTABLE.sub("?", text)
    return clean if len(clean) <= limit else clean[: limit - 3] + "..."


def _string(value: str) -> str:
    return json.dumps(value, ensure_ascii=False)  # a valid TOML basic string


def found_selectors(report: Report) -> list[tuple[str, list[str]]]:
    """(selector, CNAME chain) of every DKIM key the audit found, in the order tried."""
    out = []
    for outcome in report.outcomes:
        for key in (outcome.facts.get("dkim") or {}).get("keys") or []:
            if key.get("record"):
                out.append((key["selector"], [str(c) for c in key.get("cname_chain") or []]))
    return out


def detected_paths(report: Report) -> dict[str, dict[str, list[str]]]:
    """provider id -> {"selectors", "return_paths", "records"} from the esp check's facts."""
    out: dict[str, dict[str, list[str]]] = {}
    for outcome in report.outcomes:
        if outcome.check != "esp" or not isinstance(outcome.facts, dict):
            continue
        for item in outcome.facts.get("providers") or []:
            if not isinstance(item, dict) or not item.get("profile_id"):
                continue
            entry = out.setdefault(
                str(item["profile_id"]), {"selectors": [], "return_paths": [], "records": []}
            )
            detail = v if isinstance(v := item.get("detail"), dict) else {}
            for key, field in (("selector", "selectors"), ("return_path", "return_paths")):
                value = detail.get(key)
                if value and str(value) not in entry[field]:
                    entry[field].append(str(value))
            entry["records"].append(str(item.get("record") or item.get("name") or ""))
    return out


def _path_lines(domain: str, provider: str, seen: dict[str, list[str]]) -> list[str]:
    lines = [f"# Provider detected for {domain}: {_comment(provider)}, from:"]
    lines += [f"#   {_comment(record)}" for record in seen["records"][:5]]
    lines += [
        "# [[path]]",
        f"# name = {_string(_comment(provider + '-' + domain, 120))}",
        f"# esp = {_string(_comment(provider))}",
    ]
    if seen["selectors"]:
        names = ", ".join(_string(_comment(s)) for s in seen["selectors"])
        lines.append(f"# dkim_selectors = [{names}]")
    if seen["return_paths"]:
        lines.append(f"# return_path = {_string(_comment(seen['return_paths'][0]))}")
    else:
        placeholder = _string(_comment(f"bounces.{domain}", 200))
        lines.append(f"# return_path = {placeholder}   # the custom return path set up there")
    return lines


def render_config(reports: Sequence[Report], dns_servers: Sequence[str] = ()) -> str:
    lines = [
        "# audit.toml: what `audit check` audits (README, section \"CI gate\").",
        "# Written by `audit init` from what the DNS shows today; edit freely.",
        "",
        f"domains = [{', '.join(_string(r.target) for r in reports)}]",
        "",
        "# Messages to replay as a receiver would (globs relative to this file):",
        '# messages = ["samples/*.eml"]',
        "",
        "# Exit 1 when a finding at or above this severity is not accepted below:",
        'fail_on = "high"',
        "",
        "# Reports to write (\"-\" is standard output):",
        "# [formats]",
        '# terminal = "-"',
        '# sarif = "audit.sarif"',
        '# json = "audit-report.json"',
        "",
    ]
    if dns_servers:
        lines += [f"dns_servers = [{', '.join(_string(s) for s in dns_servers)}]", ""]
    else:
        lines += ['# dns_servers = ["192.0.2.53"]      # default: the system resolver', ""]
    lines += [
        "# timeout = 5                         # seconds per network operation",
        "# probes = false                      # DNS only: many CI runners block outbound port 25",
        "",
    ]
    for report in reports:
        domain = report.target
        selectors = found_selectors(report)
        lines.append(f"[domain.{_string(domain)}]")
        if selectors:
            for selector, chain in selectors:
                via = f" (CNAME -> {_comment(chain[-1])})" if chain else ""
                lines.append(f"# DKIM key found at {selector}._domainkey.{domain}{via}")
            names = ", ".join(_string(s) for s, _ in selectors)
            lines.append(f"dkim_selectors = [{names}]")
        else:
            lines += [
                "# No DKIM key found at the common selector names: name the one you sign with",
                '# dkim_selectors = ["selector1"]',
            ]
        lines.append("")
    for report in reports:
        for provider, seen in detected_paths(report).items():
            lines += [*_path_lines(report.target, provider, seen), ""]
    lines += [
        "# Accepted findings: each needs a reason; `until` makes it expire (then CFG001).",
        "# Today's findings, ready to accept by uncommenting one:",
    ]
    any_finding = False
    for report in reports:
        for finding in report.findings():
            any_finding = True
            lines += [
                "#",
                f"# {finding.rule.id} {finding.rule.name} "
                f"[{finding.effective_severity.value}]: {_comment(finding.message, 70)}",
                "# [[ignore]]",
                f"# rule = {_string(finding.rule.id)}",
                f"# target = {_string(_comment(finding.target, 200))}",
                '# reason = "why this is accepted for now"',
                "# until = 2027-01-01",
            ]
    if not any_finding:
        lines.append("# (no findings today)")
    text = "\n".join(lines) + "\n"
    parse_config(text)  # what we write must load; a failure here is a bug, not user input
    return text
