"""The checks: one module per family under domain/ and message/, and what they share (common,
smtp_tls, caps). A check is an async function from its context to a CheckResult; the runner
(audit/runner.py, one floor up) runs them."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import TypeVar

from audit.model import CheckResult

C = TypeVar("C")
Check = Callable[[C], Awaitable[CheckResult]]
