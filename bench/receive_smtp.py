"""Does a slow DNS server hold `audit receive` SMTP sessions? (It should not: audits run off
the SMTP path.)

Two inboxes (`audit receive serve`, the real CLI, on loopback) take the same load: N messages
over C concurrent connections.

  baseline  - audits answered from --zone-dir (no network: DNS is instant)
  dropped   - audits ask a DNS server that never answers (--timeout 2: every audit waits)

It alternates the two for --rounds rounds and prints, for each, the median wall time until
every message got its 250 (SMTP acceptance), and the ratio dropped/baseline (close to 1.0 when
the listener never waits for an audit), then how long the baseline inbox took to audit
everything and its RSS before and after.

    python bench/receive_smtp.py --messages 200 --connections 10
"""

from __future__ import annotations

import argparse
import smtplib
import statistics
import sys
import tempfile
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from tests.conftest import ZONES  # noqa: E402
from tests.infra.netutil import free_port  # noqa: E402
from tests.infra.receive_inbox import Inbox  # noqa: E402
from tests.infra.servers import DnsProxy  # noqa: E402

BODY = (
    "From: Shop <orders@inbox-sender.test>\r\nTo: <{to}>\r\nSubject: bench {i}\r\n"
    "Date: Fri, 04 Dec 2026 10:00:00 +0000\r\nMessage-ID: <{i}.{c}@inbox-sender.test>\r\n\r\n"
    + "Lorem ipsum dolor sit amet.\r\n" * 200
)


def load(inbox: Inbox, addresses: list[str], per_connection: int) -> float:
    """Seconds until every message of every connection was accepted (250)."""

    def connection(index: int) -> None:
        with smtplib.SMTP(inbox.host, inbox.port, timeout=120) as client:
            for i in range(per_connection):
                to = addresses[index]
                client.sendmail("bounce@inbox-sender.test", [to], BODY.format(to=to, i=i, c=index))

    start = time.perf_counter()
    with ThreadPoolExecutor(len(addresses)) as pool:
        list(pool.map(connection, range(len(addresses))))
    return time.perf_counter() - start


def audited(inbox: Inbox) -> int:
    import sqlite3

    with sqlite3.connect(inbox.state) as db:
        return db.execute("SELECT count(*) FROM messages WHERE status != 'pending'").fetchone()[0]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--messages", type=int, default=200)
    parser.add_argument("--connections", type=int, default=10)
    parser.add_argument("--rounds", type=int, default=3, help="alternating rounds; medians")
    args = parser.parse_args()
    per = max(1, args.messages // args.connections)
    total = per * args.connections
    work = Path(tempfile.mkdtemp(prefix="bench-receive-"))
    proxy = DnsProxy.start(free_port(), drop=True)
    results: dict[str, list[float]] = {"baseline": [], "dropped": []}
    try:
        for round_ in range(args.rounds):
            for name, options in (
                ("baseline", ["--zone-dir", str(ZONES)]),
                ("dropped", ["--dns-server", str(proxy), "--timeout", "2"]),
            ):
                inbox = Inbox.start(work / f"{name}{round_}", *options)
                try:
                    addresses = [inbox.new() for _ in range(args.connections)]
                    rss_before = inbox.rss_kib() if name == "baseline" else 0
                    results[name].append(load(inbox, addresses, per))
                    if name == "baseline" and round_ == 0:
                        start = time.perf_counter()
                        while audited(inbox) < total:
                            time.sleep(0.2)
                        audit_s = results[name][-1] + time.perf_counter() - start
                        rss = (rss_before, inbox.rss_kib())
                finally:
                    inbox.stop()
    finally:
        proxy.stop()
    baseline, dropped = (statistics.median(results[k]) for k in ("baseline", "dropped"))
    print(f"{total} messages over {args.connections} connections")
    print(f"  accepted (all 250s), medians of {args.rounds} rounds:")
    print(f"    baseline, DNS instant:    {baseline:.2f} s")
    print(f"    DNS never answers:        {dropped:.2f} s")
    print(f"  ratio dropped/baseline: {dropped / baseline:.2f}")
    print(f"  baseline: all audited after {audit_s:.2f} s ({total / audit_s:.1f} messages/s)")
    print(f"  baseline RSS: {rss[0] / 1024:.0f} MiB before, {rss[1] / 1024:.0f} MiB after")


if __name__ == "__main__":
    main()
