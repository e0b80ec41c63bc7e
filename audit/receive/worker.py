"""The audit worker: takes stored messages (status 'pending') and audits them, a few at a time,
in a thread of its own with its own event loop, so neither slow DNS nor a CPU-heavy message
ever stalls the SMTP listener.

The database is the queue: the listener stores a message and wakes the worker; the worker
picks the oldest pending messages. At most `concurrency` messages are in memory at once.
"""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Callable
from pathlib import Path

from audit.model import Report
from audit.net.dns import Backend
from audit.receive.audit import audit_arrival, error_report
from audit.receive.copy import delivered_copy
from audit.receive.envelope import TrueEnvelope
from audit.receive.store import AUDITED, ERROR, InboxStore
from audit.receive.tokens import address_for

Done = Callable[[int, str, str, Report], None]  # (message id, target, status, report)


class AuditWorker:
    def __init__(
        self,
        state: Path,
        domain: str,
        backend_factory: Callable[[], Backend],
        *,
        concurrency: int = 4,
        check_timeout: float = 30.0,
        on_done: Done | None = None,
    ) -> None:
        self.state, self.domain = state, domain
        self.backend_factory = backend_factory
        self.concurrency, self.check_timeout = concurrency, check_timeout
        self.on_done = on_done
        self._wake = threading.Event()
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="audit-worker", daemon=True)

    def start(self) -> None:
        self._thread.start()

    def wake(self, _message_id: int | None = None) -> None:
        self._wake.set()

    def stop(self, timeout: float = 30.0) -> None:
        """Finish the audits in progress (others stay pending for the next start)."""
        self._stop.set()
        self._wake.set()
        if self._thread.is_alive():
            self._thread.join(timeout)

    def _run(self) -> None:
        asyncio.run(self._main())

    async def _main(self) -> None:
        store = InboxStore(self.state)
        backend = self.backend_factory()
        slots = asyncio.Semaphore(self.concurrency)
        in_flight: set[int] = set()
        tasks: set[asyncio.Task[None]] = set()
        try:
            while not self._stop.is_set():
                await slots.acquire()
                if self._stop.is_set():  # stopping: what is still pending waits for next start
                    slots.release()
                    break
                self._wake.clear()
                ids = await asyncio.to_thread(store.pending, len(in_flight) + 1)
                fresh = [i for i in ids if i not in in_flight]
                if not fresh:
                    slots.release()
                    await asyncio.to_thread(self._wake.wait, 0.5)
                    continue
                message_id = fresh[0]
                in_flight.add(message_id)
                task = asyncio.create_task(self._audit(store, backend, message_id))
                tasks.add(task)

                def finished(t: asyncio.Task[None], message_id: int = message_id) -> None:
                    in_flight.discard(message_id)
                    tasks.discard(t)
                    slots.release()

                task.add_done_callback(finished)
            if tasks:
                await asyncio.gather(*tasks, return_exceptions=True)
        finally:
            store.close()

    async def _audit(self, store: InboxStore, backend: Backend, message_id: int) -> None:
        target = f"message {message_id}"
        try:
            loaded = await asyncio.to_thread(store.raw, message_id)
            if loaded is None:
                return
            data, sent, tokens = loaded
            envelope = TrueEnvelope.from_dict(data)
            if tokens:
                target = address_for(tokens[0], self.domain)
            delivered = delivered_copy(envelope, sent, self.domain, message_id, None)
            report = await asyncio.wait_for(
                audit_arrival(
                    target,
                    envelope,
                    delivered,
                    sent,
                    backend,
                    domain=self.domain,
                    check_timeout=self.check_timeout,
                ),
                self.check_timeout * 3,
            )
            status = AUDITED
        except Exception as exc:  # noqa: BLE001 - a crashed audit is a stored error result
            report = error_report(target, f"the audit failed: {type(exc).__name__}: {exc}")
            status = ERROR
        await asyncio.to_thread(store.finish_message, message_id, status, report)
        if self.on_done is not None:
            self.on_done(message_id, target, status, report)
