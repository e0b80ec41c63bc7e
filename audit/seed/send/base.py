"""What every sender shares: the job, the result, the error and the Sender protocol.

A sender submits one message for one seed and either returns the provider's message id (None
when the path has none) or raises `SendError`. Retrying, pacing and stopping are not the
sender's business: `batch.send_all` decides them from the error's `permanent`, `stop_run`,
`maybe_sent`, `unreachable` and `retry_after`. Secrets (SMTP password, API keys) stay inside
the sender; every text that leaves it (error messages, server replies) goes through `Scrubber`
first.
"""

from __future__ import annotations

import base64
from collections.abc import Iterable
from dataclasses import asdict, dataclass
from typing import Any, Protocol

REDACTED = "[redacted]"
MAX_STATUS_CHARS = 300  # server replies kept in results: enough to read, not a whole page


@dataclass(frozen=True)
class SendJob:
    """One message for one seed (the message may differ per seed: a per-seed token).

    Same order as `Sender.send`; `send_all` also takes plain (mail_from, rcpt, message) tuples.
    """

    mail_from: str  # envelope sender (SMTP); From fallback for the HTTP APIs
    rcpt: str  # the seed mailbox address: the one RCPT TO / API recipient
    message: bytes  # the full RFC 5322 message


@dataclass
class SendResult:
    """What happened to one job. `skipped`: never attempted because the run was stopped.

    `maybe_sent`: the last attempt failed after the whole message had been handed over (no
    reply to the end of DATA, no HTTP response to the request), so the copy may be on its way:
    the job was not retried and must never be sent again; collect it as if sent.
    `sent_at`: time.time() (UTC epoch seconds) when the server accepted the message; None
    unless `ok`.
    """

    address: str  # the seed address
    ok: bool
    status: str = ""  # the last server reply text (scrubbed, shortened), or a short word
    code: int | None = None  # the last SMTP reply code or HTTP status
    provider_id: str | None = None  # provider message id / SMTP queue id, when given
    attempts: int = 0
    error: str | None = None  # why it failed, one line, no secrets
    permanent: bool = False  # the failure will not go away by retrying
    stop_run: bool = False  # this failure stopped the whole run (e.g. authentication)
    skipped: bool = False
    maybe_sent: bool = False  # failed after the message was handed over: possibly delivered
    unreachable: bool = False  # the last attempt could not reach the relay / API host
    sent_at: float | None = None  # time.time() when accepted (ok only)

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


class SendError(Exception):
    """A failed submission.

    `permanent`: retrying the same message will not help (5xx, 4xx API errors other than 429).
    `stop_run`: no other seed can succeed either (authentication refused, TLS certificate not
    trusted, relay refuses us): the batch stops and reports the rest as not sent.
    `retry_after`: seconds the server asked us to wait (HTTP Retry-After), when it said so.
    `maybe_sent`: the failure came after the whole message was handed over (timeout or
    disconnect while waiting for the reply to the end of DATA / for the HTTP response): it may
    have been delivered, so it must not be retried (a retry could deliver a second copy).
    `unreachable`: the relay or API host could not be reached at all (DNS failure, connection
    refused, connect timeout): nothing was handed over.
    The message must never contain a secret: build it from scrubbed text only.
    """

    def __init__(
        self,
        message: str,
        *,
        permanent: bool,
        code: int | None = None,
        status: str = "",
        retry_after: float | None = None,
        stop_run: bool = False,
        maybe_sent: bool = False,
        unreachable: bool = False,
    ) -> None:
        super().__init__(message)
        self.permanent = permanent or stop_run
        self.code = code
        self.status = status
        self.retry_after = retry_after
        self.stop_run = stop_run
        self.maybe_sent = maybe_sent
        self.unreachable = unreachable and not maybe_sent


class Sender(Protocol):
    """Submits one message for one recipient through the production path."""

    async def send(self, mail_from: str, rcpt: str, message: bytes) -> str | None:
        """Returns the provider's message id (or None); raises SendError."""
        ...


class Scrubber:
    """Removes secrets (and their base64 forms, as AUTH PLAIN/LOGIN carry them) from text."""

    def __init__(self, secrets: Iterable[str | None] = (), usernames: Iterable[str | None] = ()):
        forms: set[str] = set()
        users = [u for u in usernames if u]
        for secret in secrets:
            if not secret:
                continue
            raw = secret.encode()
            forms.add(secret)
            forms.add(base64.b64encode(raw).decode())
            forms.add(base64.b64encode(b"api:" + raw).decode())  # HTTP Basic api:KEY
            for user in users:
                plain = b"\0" + user.encode() + b"\0" + raw
                forms.add(base64.b64encode(plain).decode())
                forms.add(base64.b64encode(user.encode() + b":" + raw).decode())
        # longest first, so a secret inside a longer form does not leave the rest behind
        self._forms = sorted((f for f in forms if len(f) >= 3), key=len, reverse=True)

    def __call__(self, text: str) -> str:
        for form in self._forms:
            text = text.replace(form, REDACTED)
        return text

    def reply(self, text: str | bytes | None) -> str:
        """A server reply fit for a result: decoded, scrubbed, one line, shortened."""
        if text is None:
            return ""
        if isinstance(text, bytes):
            text = text.decode("utf-8", errors="replace")
        text = self(" ".join(text.split()))
        if len(text) > MAX_STATUS_CHARS:
            text = text[: MAX_STATUS_CHARS - 3] + "..."
        return text

    def __repr__(self) -> str:
        return f"Scrubber({len(self._forms)} forms)"
