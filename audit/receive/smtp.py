"""The SMTP listener (aiosmtpd): which recipients it takes, what it records, when it refuses.

Every reply follows RFC 5321 with RFC 3463 enhanced codes:
* RCPT to another domain: 550 5.7.1; to an address of --domain that was never issued (and no
  --accept-any): 550 5.1.1; past --max-recipients in one transaction: 452 4.5.3.
* DATA over --max-size: read to its end, discarded, 552 5.3.4 (and recorded for the tests it
  was addressed to, RCV201); SIZE= over the limit at MAIL FROM: aiosmtpd's 552.
* More sessions than --max-sessions: 421 4.7.0 and the connection is closed; an idle session
  is closed after --session-timeout; too many messages waiting for their audit: 451 4.3.2.
* The message is stored (SQLite) *before* 250 is sent; if that fails the reply is 451 4.3.0.
The audit itself runs elsewhere (worker.py): a slow DNS server never holds an SMTP session.
"""

from __future__ import annotations

import asyncio
import logging
import ssl
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, AnyStr

from aiosmtpd.smtp import SMTP, Envelope, Session

from audit.receive.audit import refused_report
from audit.receive.envelope import TrueEnvelope
from audit.receive.store import REFUSED, InboxStore
from audit.receive.tokens import address_for, split_recipient, token_of

log = logging.getLogger("audit.receive")

TOO_BIG = "552 5.3.4 Message too big for system"


@dataclass
class ListenerOptions:
    domain: str
    max_size: int  # bytes
    accept_any: bool = False
    tls_context: ssl.SSLContext | None = None
    max_recipients: int = 100
    max_sessions: int = 50
    session_timeout: float = 300.0
    max_pending: int = 1000


class SessionCounter:
    """How many SMTP sessions are open; the cap is checked when a connection is made."""

    def __init__(self, limit: int) -> None:
        self.limit, self.open = limit, 0

    def acquire(self) -> bool:
        if self.open >= self.limit:
            return False
        self.open += 1
        return True

    def release(self) -> None:
        self.open = max(self.open - 1, 0)


def session_envelope(session: Session, envelope: Envelope, tls_offered: bool) -> TrueEnvelope:
    """The true envelope from aiosmtpd's session (peer, HELO, TLS) and envelope (MAIL, RCPT)."""
    peer = session.peer if isinstance(session.peer, tuple) else (str(session.peer), 0)
    version = cipher = bits = None
    if session.ssl:
        ssl_object = session.ssl.get("ssl_object")
        if ssl_object is not None:
            version = ssl_object.version()
            described = ssl_object.cipher()
            if described:
                cipher, bits = described[0], described[2]
    content = envelope.original_content or b""
    return TrueEnvelope(
        peer_ip=str(peer[0]),
        peer_port=int(peer[1]),
        helo=session.host_name or "",
        esmtp=bool(session.extended_smtp),
        mail_from=envelope.mail_from or "",
        rcpt_tos=list(envelope.rcpt_tos),
        arrived=datetime.now(UTC).isoformat(timespec="seconds"),
        tls_offered=tls_offered,
        tls_version=version,
        tls_cipher=cipher,
        tls_bits=bits,
        size=len(content),
    )


class InboxHandler:
    """aiosmtpd handler hooks: RCPT (is it one of our tests?) and DATA (store, then 250)."""

    def __init__(
        self, store: InboxStore, options: ListenerOptions, on_stored: Callable[[int], None]
    ) -> None:
        self.store, self.options, self.on_stored = store, options, on_stored

    async def handle_RCPT(
        self, server: SMTP, session: Session, envelope: Envelope, address: str, rcpt_options: list
    ) -> str:
        if len(envelope.rcpt_tos) >= self.options.max_recipients:
            return "452 4.5.3 Too many recipients"
        try:
            local, domain = split_recipient(address)
        except ValueError:
            return "501 5.1.3 Bad recipient address syntax"
        if domain != self.options.domain:
            return f"550 5.7.1 Relaying denied: this inbox takes mail for @{self.options.domain}"
        try:
            known = await asyncio.to_thread(self.store.test, local)
            if known is None:
                if not self.options.accept_any:
                    return "550 5.1.1 No such test address (issue one with `audit receive new`)"
                await asyncio.to_thread(self.store.add_test, token_of(local), domain, issued=False)
        except ValueError:
            return "550 5.1.1 No such test address"
        except Exception:  # noqa: BLE001 - a locked or broken state file: the sender retries
            log.exception("cannot look up a test address")
            return "451 4.3.0 Local error in processing; try again later"
        envelope.rcpt_tos.append(address)
        envelope.rcpt_options.extend(rcpt_options)
        return "250 2.1.5 OK"

    async def handle_DATA(self, server: SMTP, session: Session, envelope: Envelope) -> str:
        try:
            if await asyncio.to_thread(self.store.pending_count) >= self.options.max_pending:
                return "451 4.3.2 Too many messages waiting for their audit; try again later"
            true_env = session_envelope(session, envelope, self.options.tls_context is not None)
            tokens = [split_recipient(a)[0] for a in envelope.rcpt_tos]
            message_id = await asyncio.to_thread(
                self.store.add_message, tokens, true_env.to_dict(), envelope.original_content
            )
        except Exception:  # noqa: BLE001 - the sender retries a 4xx; the listener stays up
            log.exception("cannot store a message")
            return "451 4.3.0 Local error in processing; try again later"
        self.on_stored(message_id)
        return f"250 2.0.0 OK queued as {message_id}"

    def record_refusal(self, session: Session, envelope: Envelope, reply: str) -> None:
        """A message refused for its size is still a result for the tests it was sent to."""
        if not envelope.rcpt_tos:
            return
        try:
            true_env = session_envelope(session, envelope, self.options.tls_context is not None)
            tokens = [split_recipient(a)[0] for a in envelope.rcpt_tos]
            target = address_for(tokens[0], self.options.domain)
            report = refused_report(target, true_env, self.options.max_size, reply)
            message_id = self.store.add_message(
                tokens, true_env.to_dict(), None, status=REFUSED, report=report
            )
        except Exception:  # noqa: BLE001 - recording is best effort; the 552 was sent
            log.exception("cannot record a refused message")
            return
        self.on_stored(message_id)


class InboxSMTP(SMTP):
    """aiosmtpd's SMTP with a cap on concurrent sessions and a recorded size refusal."""

    def __init__(self, handler: InboxHandler, sessions: SessionCounter, **kwargs: Any) -> None:
        super().__init__(handler, **kwargs)
        self._inbox = handler
        self._sessions = sessions
        self._counted = False
        self._turned_away = False

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        fresh = self.transport is None and self._original_transport is None
        if fresh:
            if not self._sessions.acquire():
                self._turned_away = True
                transport.write(b"421 4.7.0 Too many sessions; try again later\r\n")  # type: ignore[attr-defined]
                transport.close()
                return
            self._counted = True
        super().connection_made(transport)

    def connection_lost(self, error: Exception | None) -> None:
        if self._turned_away:
            return
        if self._counted:
            self._counted = False
            self._sessions.release()
        super().connection_lost(error)

    def eof_received(self) -> bool | None:
        if self._turned_away:
            return False
        return super().eof_received()

    async def push(self, status: AnyStr) -> None:
        if isinstance(status, str) and status.startswith("552 Error: Too much mail data"):
            refusal = f"{TOO_BIG} (limit {self._inbox.options.max_size} bytes)"
            if self.session is not None and self.envelope is not None:
                self._inbox.record_refusal(self.session, self.envelope, refusal)
            await super().push(refusal)
            return
        await super().push(status)


async def start_listener(
    host: str,
    port: int,
    store: InboxStore,
    options: ListenerOptions,
    on_stored: Callable[[int], None],
) -> asyncio.Server:
    """Listen on HOST:PORT; returns the asyncio server (close() it to stop)."""
    loop = asyncio.get_running_loop()
    handler = InboxHandler(store, options, on_stored)
    sessions = SessionCounter(options.max_sessions)

    def factory() -> InboxSMTP:
        return InboxSMTP(
            handler,
            sessions,
            data_size_limit=options.max_size,
            enable_SMTPUTF8=True,
            decode_data=False,
            hostname=options.domain,
            ident="audit receive",
            tls_context=options.tls_context,
            require_starttls=False,
            timeout=options.session_timeout,
            loop=loop,
        )

    return await loop.create_server(factory, host, port, reuse_address=True)


def tls_context(cert: str, key: str) -> ssl.SSLContext:
    """The server side of STARTTLS: TLS 1.2 and later, any client (no client certificates)."""
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    context.minimum_version = ssl.TLSVersion.TLSv1_2
    context.load_cert_chain(cert, key)
    return context
