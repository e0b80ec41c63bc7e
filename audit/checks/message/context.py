"""What a message check gets: the message, its reconstructed envelope, the run's resolver, the
clock, and shared verdicts computed once however many checks ask for them.

Checks run concurrently. A check that needs another family's verdict (DMARC needs DKIM and SPF;
"via" needs DKIM and SPF; unsubscribe needs which headers a passing signature covers) asks the
context (`await ctx.dkim_verdicts()`), which asks its VerdictProviders: the real families by
default (audit.checks.message.providers), stand-ins where a test wants to pin one family's logic
down. The real getters compute once per message (`shared`): the first caller starts the work,
later callers await the same task.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from datetime import datetime
from email.message import Message
from typing import Any

from audit.checks.message.providers import VerdictProviders
from audit.checks.message.verdicts import ArcVerdict, DkimVerdict, DmarcVerdict, SpfVerdict
from audit.net.dns import Resolver


@dataclass
class EnvelopeValue:
    """One envelope fact and where it came from (a Received header, Return-Path, the CLI)."""

    value: str | None
    source: str  # e.g. "Received[2]: from mail.example.com (mail.example.com [192.0.2.1])", "--ip"


@dataclass
class Envelope:
    ip: EnvelopeValue
    helo: EnvelopeValue
    mail_from: EnvelopeValue  # "" is the null reverse-path <>; None: unknown
    receiver: EnvelopeValue  # the receiving host/domain of the hop used (by ...)
    hops: list[dict[str, Any]] = field(default_factory=list)  # every Received header, parsed
    edge_index: int | None = None  # which Received header (0 = topmost) is the receiver's edge


@dataclass
class MessageContext:
    """The message as bytes (what DKIM verifies) and parsed (what the header checks read)."""

    name: str  # file name / "stdin" / "mbox.mbox#3": the report target
    raw: bytes
    message: Message  # email.message_from_bytes(raw, policy=compat32)
    envelope: Envelope
    resolver: Resolver
    now: datetime
    receiver_domain: str | None = None
    mime_depth: int = 0  # nested MIME containers (audit.message.mime); over the cap: MSG007
    verdicts: VerdictProviders = field(default_factory=VerdictProviders)
    _shared: dict[str, asyncio.Task[Any]] = field(default_factory=dict, repr=False)

    def shared(self, key: str, compute: Callable[[], Awaitable[Any]]) -> Awaitable[Any]:
        """Run `compute` once per context; every caller awaits the same result."""
        task = self._shared.get(key)
        if task is None:
            task = asyncio.ensure_future(compute())
            self._shared[key] = task
        return asyncio.shield(task)

    async def dkim_verdicts(self) -> list[DkimVerdict]:
        """One verdict per DKIM-Signature header, topmost first."""
        return await self.verdicts.dkim(self)

    async def spf_verdict(self) -> SpfVerdict:
        return await self.verdicts.spf(self)

    async def dmarc_verdict(self) -> DmarcVerdict:
        return await self.verdicts.dmarc(self)

    async def arc_verdict(self) -> ArcVerdict:
        return await self.verdicts.arc(self)
