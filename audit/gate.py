"""`audit check`: everything the project config declares, as one gate for CI.

Domains go through the domain audit (with their declared DKIM selectors), messages (the
config's globs) through the message audit. Then the gate's own judgements: a declared domain
that does not exist (CFG002, on that domain's report), the config's ignores (marking what they
cover; CFG001 expired, CFG003 unused, on a report of kind "config" about the file) and the
baseline (marking findings already accepted).
"""

from __future__ import annotations

import asyncio
import datetime as dt
import glob
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from audit import __version__
from audit.config import ProjectConfig, display_path
from audit.domain_audit import MAX_PARALLEL_DOMAINS, audit_domain
from audit.esp.profiles import load_profiles
from audit.facts.paths import config_paths
from audit.message.load import load_messages
from audit.message_audit import audit_messages
from audit.model import CheckOutcome, Finding, Report, Status
from audit.net.dns import Backend
from audit.rules.cfg import TARGET_UNREACHABLE
from audit.suppress import apply_baseline, apply_ignores


class GateInputError(ValueError):
    """Something the config names cannot be used (a glob matching nothing); one line."""


@dataclass(frozen=True)
class GateOptions:
    """How to run what the config declares (the command line's share)."""

    probes: bool = True
    timeout: float = 5.0
    today: dt.date | None = None
    baseline: set[str] | None = None
    baseline_label: str = ""


def message_files(config: ProjectConfig) -> list[str]:
    """The files the `messages` globs name, in order, each once; a glob matching none is an
    error (a gate that silently audits nothing is no gate)."""
    out: list[str] = []
    for pattern in config.messages:
        full = config.resolve(pattern)
        found = sorted(p for p in glob.glob(str(full), recursive=True) if Path(p).is_file())
        if not found:
            where = display_path(config.source) if config.source else "config"
            raise GateInputError(f"{where}: messages: {pattern!r} matches no file")
        out.extend(display_path(Path(p)) for p in found)
    return list(dict.fromkeys(out))


def unreachable(report: Report) -> Finding | None:
    """CFG002 when the domain's own name was answered NXDOMAIN."""
    name = report.target.lower().rstrip(".")
    for query in report.queries:
        if query.name.lower().rstrip(".") == name and query.status == "NXDOMAIN":
            return Finding(
                TARGET_UNREACHABLE,
                report.target,
                f"{report.target} does not exist (NXDOMAIN): check the spelling in the project "
                "config, or the domain's registration and delegation",
                evidence=[f"{query.name} {query.rdtype} -> NXDOMAIN"],
                fix=f"correct or remove {report.target!r} in `domains`",
            )
    return None


def config_report(config: ProjectConfig, findings: list[Finding]) -> Report:
    """The run's verdict about the config file itself."""
    target = display_path(config.source) if config.source else "config"
    facts = {
        "source": target,
        "domains": list(config.domains),
        "messages": list(config.messages),
        "ignores": [
            {
                "rule": i.rule,
                "target": i.target,
                "reason": i.reason,
                "until": i.until.isoformat() if i.until else None,
                "line": i.line,
            }
            for i in config.ignores
        ],
    }
    outcome = CheckOutcome("config", target, Status.COMPLETED, facts=facts, findings=findings)
    return Report(kind="config", target=target, outcomes=[outcome], tool_version=__version__)


async def run_gate(
    config: ProjectConfig,
    backend: Backend,
    options: GateOptions,
    *,
    on_done: Callable[[Report], None] | None = None,
) -> list[Report]:
    """The reports of one `audit check`: domains, messages, then the config's own report."""
    files = message_files(config)
    messages = load_messages(files)  # MessageInputError for unreadable ones: bad input
    try:
        paths = config_paths(config.paths, load_profiles())
    except ValueError as exc:
        where = display_path(config.source) if config.source else "config"
        raise GateInputError(f"{where}: {exc}") from None
    gate = asyncio.Semaphore(MAX_PARALLEL_DOMAINS)

    async def one(domain: str) -> Report:  # each domain with its own selectors, all at once
        async with gate:
            report = await audit_domain(
                domain,
                backend,
                dkim_selectors=config.selectors_for(domain),
                sending_paths=paths,
                probes=options.probes,
                timeout=options.timeout,
            )
        if on_done:
            on_done(report)
        return report

    reports: list[Report] = list(await asyncio.gather(*(one(d) for d in config.domains)))
    for report in reports:
        missing = unreachable(report)
        if missing is not None:
            report.outcomes.append(
                CheckOutcome("config", report.target, Status.COMPLETED, findings=[missing])
            )
    if messages:
        reports += await audit_messages(
            messages, backend, check_timeout=max(options.timeout * 10, 10.0)
        )
    source = display_path(config.source) if config.source else "config"
    today = options.today or dt.date.today()
    gate_findings = apply_ignores(reports, config.ignores, today, source)
    reports.append(config_report(config, gate_findings))
    if options.baseline is not None:
        apply_baseline(reports, options.baseline, options.baseline_label)
    return reports
