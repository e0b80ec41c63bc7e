"""`audit receive serve`: the listener, the audit worker and the web view in one process.

The listener runs on the main thread's event loop; the worker and the web view in threads of
their own. SIGTERM/SIGINT stop it: no new sessions, audits in progress finish, messages not yet
audited stay pending in the state file and are audited at the next start.
"""

from __future__ import annotations

import asyncio
import signal
import sys
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from audit.model import Report, Severity
from audit.net.dns import Backend
from audit.receive.smtp import ListenerOptions, start_listener
from audit.receive.store import InboxStore
from audit.receive.web import InboxWeb, RenderHtml
from audit.receive.worker import AuditWorker


@dataclass
class ServeOptions:
    listen: tuple[str, int]
    web: tuple[str, int] | None
    state: Path
    listener: ListenerOptions
    backend_factory: Callable[[], Backend]
    render_html: RenderHtml  # the web view's test page (reports' HTML renderer)
    workers: int = 4
    check_timeout: float = 30.0
    fail_on: Severity = Severity.HIGH


def _say(text: str) -> None:
    print(f"audit receive: {text}", file=sys.stderr, flush=True)


def _done(fail_on: Severity) -> Callable[[int, str, str, Report], None]:
    def report(message_id: int, target: str, status: str, result: Report) -> None:
        counts = ", ".join(f"{n} {s}" for s, n in result.counts().items() if n) or "no findings"
        _say(f"#{message_id} {status} (exit {result.exit_code(fail_on)}): {counts}")

    return report


def serve(options: ServeOptions, on_ready: Callable[[str], None] | None = None) -> None:
    """Run until SIGTERM/SIGINT. Raises OSError when an address cannot be bound."""
    store = InboxStore(options.state)
    web = None
    if options.web is not None:
        web = InboxWeb(
            options.web[0], options.web[1], options.state, options.fail_on, options.render_html
        )
    worker = AuditWorker(
        options.state,
        options.listener.domain,
        options.backend_factory,
        concurrency=options.workers,
        check_timeout=options.check_timeout,
        on_done=_done(options.fail_on),
    )

    async def main() -> None:
        server = await start_listener(
            options.listen[0], options.listen[1], store, options.listener, worker.wake
        )
        bound = server.sockets[0].getsockname()
        store.set_setting("domain", options.listener.domain)  # what `new` uses by default
        tls = (
            "STARTTLS offered"
            if options.listener.tls_context
            else "STARTTLS not offered (no --tls-cert/--tls-key)"
        )
        _say(f"SMTP on {bound[0]}:{bound[1]} for @{options.listener.domain}, {tls}")
        if web is not None:
            web.start()
            _say(f"web view on http://{_url_host(web.host)}:{web.port}/")
        worker.start()
        _say(f"state {options.state}; {store.pending_count()} messages waiting for their audit")
        stop = asyncio.Event()
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGTERM, signal.SIGINT):
            loop.add_signal_handler(sig, stop.set)
        if on_ready is not None:
            on_ready(f"{bound[0]}:{bound[1]}")
        await stop.wait()
        _say("stopping")
        server.close()

    try:
        asyncio.run(main())
    finally:
        worker.stop()
        if web is not None:
            web.stop()
        store.close()


def _url_host(host: str) -> str:
    return f"[{host}]" if ":" in host else host
