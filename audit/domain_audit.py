"""`audit domain`: every domain check, concurrently, over one resolver per domain."""

from __future__ import annotations

import asyncio
import functools
import time
from collections.abc import Callable, Sequence

from audit import __version__
from audit.checks import Check
from audit.checks.common import DomainContext
from audit.checks.domain import domain_checks
from audit.facts.paths import SendingPath
from audit.model import Report
from audit.net.dns import Backend, Resolver
from audit.net.run_memo import RunMemo
from audit.runner import CheckObserver, run_checks

MAX_PARALLEL_DOMAINS = 8


@functools.cache
def _checks() -> tuple[tuple[str, Check], ...]:
    """The domain checks, looked up once per process rather than once per domain (fourteen
    module lookups each time)."""
    return tuple(domain_checks())


def check_timeout(network_timeout: float) -> float:
    """A whole check may make several rounds of dependent lookups, each bounded by the timeout."""
    return max(network_timeout * 10, 10.0)


async def audit_domain(
    domain: str,
    backend: Backend,
    *,
    dkim_selectors: Sequence[str] = (),
    discover_dkim: bool = True,
    blocklists: Sequence[str] | None = None,
    probes: bool = False,
    https_port: int = 443,
    ca_file: str | None = None,
    timeout: float = 5.0,
    smtp_port: int = 25,
    trust_anchor_file: str | None = None,
    sending_paths: Sequence[SendingPath] = (),
    esp_profiles_dir: str | None = None,
    allow_private_addresses: bool = False,
    run: RunMemo | None = None,
    observer: CheckObserver | None = None,
    dkim_discovery: str = "full",
    return_path_discovery: str = "full",
) -> Report:
    resolver = Resolver(backend)
    ctx = DomainContext(
        domain,
        resolver,
        list(dkim_selectors),
        discover_dkim,
        list(blocklists) if blocklists else None,
        probes=probes,
        https_port=https_port,
        ca_file=ca_file,
        timeout=timeout,
        smtp_port=smtp_port,
        trust_anchor_file=trust_anchor_file,
        sending_paths=list(sending_paths),
        esp_profiles_dir=esp_profiles_dir,
        allow_private_addresses=allow_private_addresses,
        run=run,
        dkim_discovery=dkim_discovery,
        return_path_discovery=return_path_discovery,
    )
    start = time.perf_counter()
    outcomes = await run_checks(
        domain, ctx, _checks(), check_timeout(timeout), observer
    )
    return Report(
        kind="domain",
        target=domain,
        outcomes=outcomes,
        queries=list(resolver.log),
        tool_version=__version__,
        duration_ms=(time.perf_counter() - start) * 1000,
    )


async def audit_domains(
    domains: Sequence[str],
    backend: Backend,
    *,
    on_done: Callable[[Report], None] | None = None,
    **options,
) -> list[Report]:
    """Several domains at once (bounded), reports in the order the domains were given; one
    DNS cache and one probe memo for all of them."""
    from audit.net.dns_limits import shared_backend

    gate = asyncio.Semaphore(MAX_PARALLEL_DOMAINS)
    backend = shared_backend(backend)
    options.setdefault("run", RunMemo())

    async def one(domain: str) -> Report:
        async with gate:
            report = await audit_domain(domain, backend, **options)
        if on_done:
            on_done(report)
        return report

    return list(await asyncio.gather(*(one(d) for d in domains)))
