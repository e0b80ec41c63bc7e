"""Where a message check gets another family's verdict: the real getters by default.

A test that pins down one family's logic (DMARC alignment over given DKIM verdicts, the
receiver comparison over given verdicts of ours) passes stand-ins here, e.g.
`make_context(..., verdicts=VerdictProviders(dkim=fixed))`; the families it does not replace
stay real, and they read their siblings through the same providers.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING

from audit.checks.message.arc import arc_verdict
from audit.checks.message.dkim import dkim_verdicts
from audit.checks.message.dmarc import dmarc_verdict
from audit.checks.message.spf import spf_verdict
from audit.checks.message.verdicts import ArcVerdict, DkimVerdict, DmarcVerdict, SpfVerdict

if TYPE_CHECKING:
    from audit.checks.message.context import MessageContext


@dataclass(frozen=True)
class VerdictProviders:
    """One async getter per family: MessageContext -> that family's verdict for the message."""

    dkim: Callable[[MessageContext], Awaitable[list[DkimVerdict]]] = dkim_verdicts
    spf: Callable[[MessageContext], Awaitable[SpfVerdict]] = spf_verdict
    dmarc: Callable[[MessageContext], Awaitable[DmarcVerdict]] = dmarc_verdict
    arc: Callable[[MessageContext], Awaitable[ArcVerdict]] = arc_verdict
