"""Domain check families, in report order. Each module exposes `async def check(ctx)`."""

from __future__ import annotations

import importlib

from audit.checks import Check

FAMILIES = (
    "spf", "dkim", "dmarc", "mx", "ptr", "starttls", "mta_sts", "tlsrpt", "dnssec", "dane", "bimi",
    "dnsbl", "esp",
    "sending_paths",
)  # fmt: skip


def domain_checks() -> list[tuple[str, Check]]:
    return [(name, importlib.import_module(f"{__name__}.{name}").check) for name in FAMILIES]
