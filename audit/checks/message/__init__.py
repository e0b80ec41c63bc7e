"""Message check families, in report order. Each module exposes `async def check(ctx)`."""

from __future__ import annotations

import importlib

from audit.checks import Check

FAMILIES: tuple[str, ...] = (
    "headers",
    "dkim",
    "spf",
    "dmarc",
    "arc",
    "via",
    "unsubscribe",
    "receiver",
)  # then "bulk", which reads the others' outcomes (audit/message_audit.py)


def message_checks() -> list[tuple[str, Check]]:
    return [(name, importlib.import_module(f"{__name__}.{name}").check) for name in FAMILIES]
