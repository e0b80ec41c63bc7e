"""Sending providers the domain's DNS shows (ESP001), each from the record it rests on.

Facts first: every detection (provider, via, name, verbatim record) and where detection looked
(`providers`, `selectors_tried`, `return_path_names_tried`, `profiles_dir`); one informational
finding per provider. A lookup that failed is DNS001 and makes the check inconclusive: the
provider it would have shown is unknown, not absent.
"""

from __future__ import annotations

from audit.checks.common import DomainContext, temperror_finding
from audit.esp.detect import Detection, detect, run_profiles
from audit.model import CheckResult, Finding, Status
from audit.rules.esp import ESP_DETECTED


async def check(ctx: DomainContext) -> CheckResult:
    profiles = await run_profiles(ctx)
    result = await detect(ctx, profiles)
    facts = {
        "providers": [d.as_facts() for d in result.detections],
        "profiles_dir": ctx.esp_profiles_dir,
        "profiles": list(profiles),
        "selectors_tried": result.selectors_tried,
        "return_path_names_tried": result.return_path_names_tried,
    }
    findings: list[Finding] = []
    seen: set[tuple[str, str]] = set()
    for answer in result.failed:
        if (answer.name, answer.rdtype) not in seen:
            seen.add((answer.name, answer.rdtype))
            findings.append(
                temperror_finding(
                    answer,
                    answer.name,
                    "a provider this record would show cannot be detected; unknown, not absent",
                )
            )
    for pid in result.provider_ids:
        findings.append(_detected(ctx.domain, profiles[pid].name, pid, result.for_provider(pid)))
    status = Status.INCONCLUSIVE if result.failed else Status.COMPLETED
    return CheckResult(facts=facts, findings=findings, status=status)


def _detected(domain: str, name: str, pid: str, detections: list[Detection]) -> Finding:
    vias = ", ".join(dict.fromkeys(d.via for d in detections))
    return Finding(
        ESP_DETECTED,
        domain,
        message=f"{name} ({pid}) detected from {vias}",
        evidence=list(dict.fromkeys(d.record for d in detections)),
        fix=f"If {name} sends for {domain}, 'audit esp show {pid}' lists what it expects you to "
        "publish; if it no longer does, remove these records.",
    )
