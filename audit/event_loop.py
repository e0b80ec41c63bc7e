"""The event loop of a long run (a domain list, its worker processes): uvloop's when it is
installed, else asyncio's own.

uvloop's loop is written in C (on libuv): scheduling a callback or a timer and reading a socket
cost a fraction of what asyncio's pure-Python loop spends, and a batch run schedules hundreds of
callbacks per domain. It is optional: without it (or with AUDIT_EVENT_LOOP=asyncio, how the
tests run both ways) the same code runs on asyncio's loop; the results are the same.
"""

from __future__ import annotations

import asyncio
import os
from collections.abc import Callable, Coroutine
from typing import Any, TypeVar

T = TypeVar("T")
ENV = "AUDIT_EVENT_LOOP"  # "asyncio" forces asyncio's loop; unset or "uvloop": uvloop if there


def loop_factory() -> Callable[[], asyncio.AbstractEventLoop] | None:
    """uvloop's new_event_loop when installed and not turned off; None: asyncio's default."""
    if os.environ.get(ENV, "").strip().lower() == "asyncio":
        return None
    try:
        import uvloop
    except ImportError:
        return None
    return uvloop.new_event_loop


def loop_name() -> str:
    """Which loop `run` uses here: "uvloop" or "asyncio"."""
    return "asyncio" if loop_factory() is None else "uvloop"


def run(main: Coroutine[Any, Any, T]) -> T:
    """asyncio.run(main) on the loop loop_factory chooses."""
    with asyncio.Runner(loop_factory=loop_factory()) as runner:
        return runner.run(main)
