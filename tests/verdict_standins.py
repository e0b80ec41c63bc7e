"""Stand-in verdicts for message-check tests, passed through the product's own seam
(make_context(..., verdicts=...)): a test that pins down how a check reads DKIM verdicts sets
them here; every family it does not set stays real."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any

from audit.checks.message.context import MessageContext
from audit.checks.message.providers import VerdictProviders

FAMILIES = ("dkim", "spf", "dmarc", "arc")


class StandInVerdicts:
    """What each stood-in family returns, or the exception its getter raises."""

    def __init__(self) -> None:
        self._values: dict[str, object] = {}

    def set(self, family: str, value: object) -> None:
        if family not in FAMILIES:
            raise ValueError(f"no verdict family {family!r}")
        self._values[family] = value

    def clear(self) -> None:
        self._values.clear()

    def providers(self) -> VerdictProviders:
        return VerdictProviders(**{family: self._getter(family) for family in self._values})

    def _getter(self, family: str) -> Callable[[MessageContext], Awaitable[Any]]:
        async def get(ctx: MessageContext) -> Any:
            value = self._values[family]
            if isinstance(value, Exception):
                raise value
            return value

        return get
