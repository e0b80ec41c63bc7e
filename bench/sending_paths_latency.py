"""Sending paths are evaluated concurrently: N declared paths should cost about the wall time
of one, not N times it.

Every lookup against the fixture zones is delayed by --rtt milliseconds (the in-process
delaying backend of domain_latency.py: no network). The sending_paths check runs on
path-sg-default.test with one declared path, then with several (SendGrid, an own MTA with a
return path and two IPs, an own MTA in another organization's return path, Mailgun), each
both concurrently (as the product runs) and one lookup at a time (the baseline). Printed: wall
times, lookups, the N-paths / 1-path ratio (concurrent) and the concurrent speed-up.

    python bench/sending_paths_latency.py --rtt 50
"""

from __future__ import annotations

import argparse
import asyncio
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "bench"))

from domain_latency import DelayedBackend  # noqa: E402

from audit.checks.common import DomainContext  # noqa: E402
from audit.checks.domain import sending_paths  # noqa: E402
from audit.facts.paths import SendingPath, declared_paths  # noqa: E402
from audit.net.dns import Resolver, StaticBackend, load_zone_dir  # noqa: E402

DOMAIN = "path-sg-default.test"
ONE = declared_paths(["sendgrid"])
MANY = [
    *declared_paths(["sendgrid", "mailgun"]),
    SendingPath("own", "declared", ips=("192.0.2.200", "198.51.100.7"),
                return_path="bounces.path-own.test"),
    SendingPath("other-org", "declared", ips=("198.51.100.9",),
                return_path="bounces.path-other.test"),
]  # fmt: skip


async def run(paths, rtt: float, serial: bool, data) -> tuple[float, int, int]:
    backend = DelayedBackend(StaticBackend(data), rtt, serial)
    ctx = DomainContext(DOMAIN, Resolver(backend), sending_paths=list(paths))
    start = time.perf_counter()
    result = await sending_paths.check(ctx)
    rows = result.facts["sending_paths"]["paths"]
    return time.perf_counter() - start, backend.count, len(rows)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rtt", type=float, default=50.0, help="milliseconds per lookup")
    args = parser.parse_args()
    data = load_zone_dir(ROOT / "fixtures" / "zones")
    rtt = args.rtt / 1000
    asyncio.run(run(ONE, 0.0, False, data))  # warm-up: imports, PSL, profiles
    print(f"{'paths':>5} {'lookups':>7} {'concurrent s':>12} {'baseline s':>10} {'speedup':>8}")
    walls = {}
    for paths in (ONE, MANY):
        fast, lookups, rows = asyncio.run(run(paths, rtt, False, data))
        slow, _, _ = asyncio.run(run(paths, rtt, True, data))
        walls[rows] = fast
        print(f"{rows:>5} {lookups:>7} {fast:>12.3f} {slow:>10.3f} {slow / fast:>7.1f}x")
    (one, many), counts = walls.values(), list(walls)
    print(f"{counts[1]} paths / 1 path wall time (concurrent): {many / one:.2f}x")


if __name__ == "__main__":
    main()
