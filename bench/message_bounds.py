"""What the message-side bounds (issue 10) cost and save, measured against a baseline in the
same run, reported as ratios.

  mime-scan   the MIME depth scan (audit/message/mime.py) vs the stdlib parse it guards, on the
              same large multipart message: the scan's share of the parse time
  report-size the JSON report of a message with N DKIM-Signature headers, capped (as shipped)
              vs uncapped (caps.MAX_FINDINGS_PER_RULE and MAX_FACT_ITEMS set out of reach), and
              the message size for scale

    python bench/message_bounds.py --parts 100000 --signatures 10000
"""

from __future__ import annotations

import argparse
import asyncio
import email
import email.policy
import sys
import time
from datetime import UTC, datetime
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from audit.checks import caps  # noqa: E402
from audit.checks.message import dkim as dkim_check  # noqa: E402
from audit.message.load import RawMessage  # noqa: E402
from audit.message.mime import mime_depth  # noqa: E402
from audit.message_audit import audit_message  # noqa: E402
from audit.net.dns import memory_backend  # noqa: E402
from reports import render  # noqa: E402

TAIL = (
    "From: News <news@bench.example>\r\nTo: r@receiver.example\r\nSubject: x\r\n"
    "Date: Tue, 24 Nov 2026 10:00:00 +0000\r\nMessage-ID: <m@bench.example>\r\n"
)


def best_of(runs: int, fn) -> float:
    times = []
    for _ in range(runs):
        start = time.perf_counter()
        fn()
        times.append(time.perf_counter() - start)
    return min(times)


def mime_scan(parts: int) -> None:
    part = b"--x\r\nContent-Type: multipart/alternative; boundary=y\r\n\r\n--y\r\n\r\nhi\r\n"
    part += b"--y--\r\n"
    raw = (TAIL + 'Content-Type: multipart/mixed; boundary="x"\r\n\r\n').encode() + part * parts
    scan = best_of(3, lambda: mime_depth(raw))
    parse = best_of(3, lambda: email.message_from_bytes(raw, policy=email.policy.compat32))
    print(
        f"mime-scan   {len(raw) / 1e6:.1f} MB, {parts} parts: scan {scan:.2f} s, stdlib parse "
        f"{parse:.2f} s, scan/parse = {scan / parse:.2f}"
    )


def report_size(signatures: int) -> None:
    signature = (
        "DKIM-Signature: v=1; a=rsa-sha256; c=relaxed/relaxed; d=bench.example; s=s{i}; "
        "h=from:to:subject; bh=47DEQpj8HBSa+/TImW+5JCeuQeRkm5NMpJWZG3hSuFU=; b=" + "A" * 400
    )
    raw = ("".join(signature.format(i=i) + "\r\n" for i in range(signatures)) + TAIL + "\r\nhi\r\n")
    message = RawMessage("bench.eml", raw.encode())
    now = datetime(2026, 11, 24, 10, 5, tzinfo=UTC)

    def size() -> int:
        report = asyncio.run(audit_message(message, memory_backend({}), now=now))
        return len(render("json", [report]).encode())

    capped = size()
    limits = caps.MAX_FINDINGS_PER_RULE, caps.MAX_FACT_ITEMS, dkim_check.MAX_SIGNATURES
    # baseline: no caps at all, every signature verified and reported
    caps.MAX_FINDINGS_PER_RULE = caps.MAX_FACT_ITEMS = dkim_check.MAX_SIGNATURES = 10**9
    try:
        uncapped = size()
    finally:
        caps.MAX_FINDINGS_PER_RULE, caps.MAX_FACT_ITEMS, dkim_check.MAX_SIGNATURES = limits
    print(
        f"report-size {signatures} signatures, message {len(raw) / 1e6:.1f} MB: JSON capped "
        f"{capped / 1e3:.0f} kB, uncapped {uncapped / 1e3:.0f} kB, capped/uncapped = "
        f"{capped / uncapped:.4f}"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--parts", type=int, default=100_000, help="parts in the MIME message")
    parser.add_argument("--signatures", type=int, default=10_000, help="DKIM-Signature headers")
    args = parser.parse_args()
    mime_scan(args.parts)
    report_size(args.signatures)


if __name__ == "__main__":
    main()
