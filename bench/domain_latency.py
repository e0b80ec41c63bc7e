"""How close a domain audit's wall time comes to (longest dependent chain) x (DNS round trip).

Every lookup against the fixture zones is delayed by --rtt milliseconds (an in-process
delaying backend: no network). The same audit runs twice in one process:

  concurrent  - as the product runs it (checks and independent lookups at the same time)
  baseline    - one lookup at a time (a lock around the backend): (number of lookups) x RTT

and prints both wall times, their ratio, the number of lookups, and the concurrent wall time in
round trips (`chain~`: close to the longest chain of dependent lookups when concurrency works).
One warm-up run first, so one-time start-up (imports, the Public Suffix List) is not timed.

    python bench/domain_latency.py --rtt 50 clean.test spf-too-many.test
"""

from __future__ import annotations

import argparse
import asyncio
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from audit.domain_audit import audit_domain  # noqa: E402
from audit.net.dns import DnsAnswer, StaticBackend, load_zone_dir  # noqa: E402


class DelayedBackend:
    """Adds a fixed round trip to every lookup; optionally one lookup at a time."""

    def __init__(self, inner: StaticBackend, rtt: float, serial: bool):
        self.inner, self.rtt = inner, rtt
        self.lock = asyncio.Lock() if serial else None
        self.count = 0

    async def lookup(self, name: str, rdtype: str) -> DnsAnswer:
        self.count += 1
        if self.lock is None:
            await asyncio.sleep(self.rtt)
            return await self.inner.lookup(name, rdtype)
        async with self.lock:
            await asyncio.sleep(self.rtt)
            return await self.inner.lookup(name, rdtype)


async def run(domain: str, rtt: float, serial: bool, data) -> tuple[float, int]:
    backend = DelayedBackend(StaticBackend(data), rtt, serial)
    start = time.perf_counter()
    report = await audit_domain(domain, backend, timeout=30)
    assert report.outcomes, "no outcomes"
    return time.perf_counter() - start, backend.count


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("domains", nargs="*", default=["clean.test", "spf-too-many.test"])
    parser.add_argument("--rtt", type=float, default=50.0, help="milliseconds per lookup")
    args = parser.parse_args()
    data = load_zone_dir(ROOT / "fixtures" / "zones")
    rtt = args.rtt / 1000
    asyncio.run(run(args.domains[0], 0.0, serial=False, data=data))  # warm-up: imports, PSL
    print(f"{'domain':<24} {'lookups':>7} {'concurrent s':>12} {'baseline s':>10} "
          f"{'speedup':>8} {'chain~':>6}")  # fmt: skip
    for domain in args.domains:
        fast, lookups = asyncio.run(run(domain, rtt, serial=False, data=data))
        slow, _ = asyncio.run(run(domain, rtt, serial=True, data=data))
        print(
            f"{domain:<24} {lookups:>7} {fast:>12.3f} {slow:>10.3f} {slow / fast:>7.1f}x "
            f"{fast / rtt:>6.1f}"
        )


if __name__ == "__main__":
    main()
