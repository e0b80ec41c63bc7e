"""`audit init`: a commented audit.toml written from what the domain audit finds.

What is filled in: the domains, the DKIM selectors found (the given ones and the common names
discovery tried; a custom selector DNS cannot reveal stays a commented placeholder), the DNS
servers asked, and today's findings as commented-out `[[ignore]]` examples so accepting one is
an uncomment plus a reason. Provider (ESP) detection is not part of this yet: selectors that are
CNAMEs into another domain are shown with their target, which usually names the provider.
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
