"""`audit fix DOMAIN`: the records (and MTA-STS policy file) that clear the domain's findings."""

from __future__ import annotations

import asyncio
from pathlib import Path

import click

from audit.cli_common import BadInput, _backend, _emit, dns_options


@click.command()
@click.argument("domain")
@dns_options
@click.option("--no-probes", is_flag=True,
              help="No network probes beyond DNS (never with --zone-dir).")  # fmt: skip
@click.option(
    "--allow-private-addresses",
    is_flag=True,
    help="Let the probes connect to loopback, private, link-local and other non-public "
    "addresses that DNS names (refused by default: DNS data is not trusted). For labs and tests.",
)
@click.option(
    "--parked",
    is_flag=True,
    help="The domain sends and receives no mail: propose null MX, v=spf1 -all, DMARC reject.",
)
@click.option("--format", "fmt", type=click.Choice(("terminal", "json", "zone")),
              default="terminal", show_default=True,
              help="terminal: table, snippet, files; zone: the snippet only.")  # fmt: skip
@click.option("--output", "-o", type=click.Path(dir_okay=False, path_type=Path), default=None,
              help="Write to FILE instead of standard output.")  # fmt: skip
def fix(
    domain: str,
    dns_servers: tuple[str, ...],
    zone_dir: Path | None,
    timeout: float,
    no_probes: bool,
    allow_private_addresses: bool,
    parked: bool,
    fmt: str,
    output: Path | None,
) -> None:
    """Turn DOMAIN's findings into records to publish: a zone-file snippet and a table (name,
    type, old, new) for SPF (flattened when over 10 lookups), the next DMARC step, MTA-STS
    (record and policy file), TLS-RPT, BIMI, and null MX for a parked domain."""
    from audit.domain_audit import audit_domain
    from audit.domains import normalize_domain
    from audit.fix.planner import plan_fixes
    from audit.net.dns import Resolver
    from reports.fix import render_fix

    try:
        name = normalize_domain(domain)
    except ValueError as exc:
        raise BadInput(str(exc)) from None
    backend = _backend(dns_servers, zone_dir, timeout)

    async def run():
        report = await audit_domain(
            name,
            backend,
            probes=not no_probes and zone_dir is None,
            timeout=timeout,
            allow_private_addresses=allow_private_addresses,
        )
        return await plan_fixes(report, Resolver(backend), parked=parked)

    _emit(render_fix(fmt, asyncio.run(run())), output)


def attach_fix_plans(reports: list, backend) -> None:
    """The HTML report's "Fix it" section: a FixPlan per domain report, computed over the same
    DNS the audit used. A failure here never costs the report: the section is left out."""
    from audit.fix.planner import plan_fixes
    from audit.model import Report
    from audit.net.dns import Resolver

    async def run(report: Report) -> None:
        try:
            report.fix_plan = await plan_fixes(report, Resolver(backend))
        except Exception as exc:  # noqa: BLE001 - the report matters more than its fix section
            click.echo(f"audit: warning: no Fix it section for {report.target}: {exc}", err=True)

    async def all_of() -> None:
        await asyncio.gather(*(run(r) for r in reports if r.kind == "domain"))

    asyncio.run(all_of())
