"""What a message check gets: the message, its reconstructed envelope, the run's resolver, the
clock, and shared verdicts computed once however many checks ask for them.

Checks run concurrently. A check that needs another family's verdict (DMARC needs DKIM and SPF;
"via" needs DKIM and SPF; unsubscribe needs which headers a passing signature covers) asks the
context (`await ctx.dkim_verdicts()`), which asks its VerdictProviders: the real families by
default (audit.checks.message.providers), stand-ins where a test wants to pin one family's logic
down. The real getters compute once per message (`shared`): the first caller does the work,
callers that come meanwhile wait for it, later ones get the kept result, or the same
exception (net.once.Memo: no task per shared verdict; a first caller cancelled by its check's
time limit hands the work on to those waiting).
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from datetime import datetime
from email.message import Message
from typing import Any, Protocol

from audit.checks.message.verdicts import ArcVerdict, DkimVerdict, DmarcVerdict, SpfVerdict
from audit.message.envelope import Envelope
from audit.net.dns import Resolver
from audit.net.once import Memo


class Verdicts(Protocol):
    """Where a check gets a sibling family's verdict. The real getters are
    audit.checks.message.providers.VerdictProviders (they import the families, which import
    this module: so the context names the shape, and make_context supplies the real ones)."""

    @property
    def dkim(self) -> Callable[[MessageContext], Awaitable[list[DkimVerdict]]]: ...

    @property
    def spf(self) -> Callable[[MessageContext], Awaitable[SpfVerdict]]: ...

    @property
    def dmarc(self) -> Callable[[MessageContext], Awaitable[DmarcVerdict]]: ...

    @property
    def arc(self) -> Callable[[MessageContext], Awaitable[ArcVerdict]]: ...


@dataclass
class MessageContext:
    """The message as bytes (what DKIM verifies) and parsed (what the header checks read)."""

    name: str  # file name / "stdin" / "mbox.mbox#3": the report target
    raw: bytes
    message: Message  # email.message_from_bytes(raw, policy=compat32)
    envelope: Envelope
    resolver: Resolver
    now: datetime
    verdicts: Verdicts  # the families' getters (providers.VerdictProviders: the real ones)
    receiver_domain: str | None = None
    mime_depth: int = 0  # nested MIME containers (audit.message.mime); over the cap: MSG007
    _shared: Memo[str, Any] = field(default_factory=Memo, repr=False)

    def shared(self, key: str, compute: Callable[[], Awaitable[Any]]) -> Awaitable[Any]:
        """Run `compute` once per context; every caller awaits the same result."""
        return self._shared.get(key, compute)

    async def dkim_verdicts(self) -> list[DkimVerdict]:
        """One verdict per DKIM-Signature header, topmost first."""
        return await self.verdicts.dkim(self)

    async def spf_verdict(self) -> SpfVerdict:
        return await self.verdicts.spf(self)

    async def dmarc_verdict(self) -> DmarcVerdict:
        return await self.verdicts.dmarc(self)

    async def arc_verdict(self) -> ArcVerdict:
        return await self.verdicts.arc(self)
