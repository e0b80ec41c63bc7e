"""What a message check gets: the message, its reconstructed envelope, the run's resolver, the
clock, and shared verdicts computed once however many checks ask for them.

Checks run concurrently. A check that needs another family's verdict (DMARC needs DKIM and SPF;
"via" needs DKIM and SPF; unsubscribe needs which headers a passing signature covers) awaits the
shared getter below; the first caller starts the work, later callers await the same task.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from datetime import datetime
from email.message import Message
from typing import Any

from audit.message.envelope import Envelope
from audit.net.dns import Resolver
from audit.net.once import OnceCache


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
    _shared: OnceCache[str, Any] = field(default_factory=OnceCache, repr=False)

    def shared(self, key: str, compute: Callable[[], Awaitable[Any]]) -> Awaitable[Any]:
        """Run `compute` once per context; every caller awaits the same result."""
        return self._shared.get(key, compute)
