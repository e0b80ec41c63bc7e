"""HTTP email APIs: one small adapter per provider, each with its documented request shape.

* SendGrid v3: `POST /v3/mail/send`, JSON (personalizations/from/subject/content/headers),
  `Authorization: Bearer KEY` (AUDIT_SENDGRID_API_KEY). 202 Accepted; id in `X-Message-Id`.
* Postmark: `POST /email`, JSON (From/To/Subject/TextBody/HtmlBody/Headers/MessageStream),
  `X-Postmark-Server-Token: TOKEN` (AUDIT_POSTMARK_TOKEN). 200; id in `MessageID`.
* Mailgun: `POST /v3/DOMAIN/messages.mime`, multipart/form-data with `to` and `message` (our
  MIME bytes as a file), HTTP Basic `api:KEY` (AUDIT_MAILGUN_API_KEY). 200; id in `id`. This is
  the one that keeps our message byte for byte; the JSON APIs rebuild it, so our custom headers
  (the seed token among them) travel in their headers field and the provider writes the rest.

Statuses: 2xx sent; 401/403 the key was refused (stop the run); 429 and 5xx (and 408) are
retryable, honouring Retry-After; any other 4xx is permanent for that message. An API host that
cannot be reached (connection refused, connect timeout) is `unreachable`; a timeout or a dropped
connection after the whole request went out is `maybe_sent` (the provider may have accepted it
and its answer got lost), never retried. Each request goes out with httpx (audit/net/
http_client.py), connecting to the addresses our Resolver found while TLS verifies the API host
name (--ca-file or the system store); connect, write and read are each bounded by the sender's
timeout, the whole call by a few of them, and the response body by MAX_RESPONSE_BYTES.
"""

from __future__ import annotations

import asyncio
import base64
import email.utils
import json
import logging
import ssl
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from email import policy
from email.message import EmailMessage, MIMEPart
from email.parser import BytesParser
from typing import Any, ClassVar
from urllib.parse import quote, urlsplit

import httpx

from audit.net.dns import Resolver
from audit.net.http_client import (
    NoConnection,
    PinnedBackend,
    PinnedTransport,
    cause_of,
    os_error,
    read_bounded,
)

from .base import Scrubber, SendError
from .net import ConnectError, HostResolver, describe_os_error, tls_context

log = logging.getLogger("audit.seed.send")

MAX_RESPONSE_BYTES = 64 * 1024
USER_AGENT = "audit-seed/0.1"
RETRYABLE_STATUS = {408, 429}
# Headers the JSON APIs set themselves (or refuse to take): everything else is carried over.
PROVIDER_HEADERS = {
    "from",
    "to",
    "cc",
    "bcc",
    "subject",
    "reply-to",
    "date",
    "message-id",
    "mime-version",
    "content-type",
    "content-transfer-encoding",
    "content-disposition",
    "received",
    "return-path",
    "delivered-to",
    "dkim-signature",
    "arc-seal",
    "arc-message-signature",
    "arc-authentication-results",
    "authentication-results",
    "x-sg-id",
    "x-sg-eid",
}


@dataclass(frozen=True)
class HttpRequest:
    """One API call, before it meets the network (what the unit tests look at)."""

    method: str
    path: str
    headers: dict[str, str]
    body: bytes


@dataclass(frozen=True)
class HttpResponse:
    status: int
    headers: dict[str, str]  # names lower-cased
    body: bytes

    def json(self) -> object:
        try:
            return json.loads(self.body.decode("utf-8", errors="replace"))
        except ValueError:
            return None


@dataclass(frozen=True)
class Attachment:
    filename: str
    content_type: str
    data: bytes


@dataclass(frozen=True)
class MessageParts:
    """Our message taken apart for the JSON APIs."""

    from_addr: str
    from_name: str
    reply_to: str | None
    subject: str
    text: str | None
    html: str | None
    headers: list[tuple[str, str]]  # the ones we carry over (token header, List-Unsubscribe...)
    attachments: list[Attachment]

    @property
    def from_header(self) -> str:
        return email.utils.formataddr((self.from_name, self.from_addr))


def split_message(message: bytes, fallback_from: str) -> MessageParts:
    """Bodies, From, Subject and the headers to carry. Raises SendError when it has no body."""
    msg = BytesParser(policy=policy.default).parsebytes(message)
    assert isinstance(msg, EmailMessage)
    name, addr = email.utils.parseaddr(str(msg.get("From", "")))
    reply_to = email.utils.parseaddr(str(msg.get("Reply-To", "")))[1] or None
    text_part = msg.get_body(preferencelist=("plain",))
    html_part = msg.get_body(preferencelist=("html",))
    text = _content(text_part)
    html = _content(html_part)
    if not text and not html:
        raise SendError("the message has no text or HTML body", permanent=True, stop_run=True)
    headers: list[tuple[str, str]] = []
    seen: set[str] = set()
    for key, value in msg.items():
        lower = key.lower()
        if lower in PROVIDER_HEADERS or lower in seen:
            continue
        seen.add(lower)
        headers.append((key, " ".join(str(value).split())))
    attachments = [
        Attachment(
            part.get_filename() or "attachment",
            part.get_content_type(),
            payload if isinstance(payload := part.get_payload(decode=True), bytes) else b"",
        )
        for part in msg.iter_attachments()
    ]
    return MessageParts(
        from_addr=addr or fallback_from,
        from_name=name,
        reply_to=reply_to,
        subject=str(msg.get("Subject", "")).strip() or "(no subject)",
        text=text or None,
        html=html or None,
        headers=headers,
        attachments=attachments,
    )


def _content(part: MIMEPart | None) -> str | None:
    """A body part as text with plain newlines (the JSON APIs re-encode it anyway)."""
    if part is None:
        return None
    try:
        text = part.get_content()
    except LookupError:  # a charset Python does not know ("unknown-8bit"): best effort
        payload = part.get_payload(decode=True)
        raw = payload if isinstance(payload, bytes) else b""
        try:
            text = raw.decode("utf-8")
        except UnicodeDecodeError:
            text = raw.decode("latin-1")
    return text.replace("\r\n", "\n")


def parse_retry_after(value: str | None, now: Callable[[], float] = time.time) -> float | None:
    """Retry-After as seconds: delta-seconds or an HTTP-date (RFC 9110 10.2.3)."""
    if not value:
        return None
    value = value.strip()
    try:
        return max(0.0, float(value))
    except ValueError:
        pass
    try:
        when = email.utils.parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    return max(0.0, when.timestamp() - now())


@dataclass
class HttpApiSender:
    """The shared part: the call, its transport, and what a status code means."""

    provider: ClassVar[str] = "http"
    env_var: ClassVar[str] = ""
    default_base: ClassVar[str] = ""

    api_key: str = field(repr=False)
    api_base: str | None = None  # scheme://host[:port][/prefix]; tests point it at a stand-in
    ca_file: str | None = None
    timeout: float = 30.0
    resolver: Resolver | None = field(default=None, repr=False)
    # where requests go instead of the network (tests: an httpx.MockTransport); None: the API
    # host at the addresses our resolver found
    transport: httpx.AsyncBaseTransport | None = field(default=None, repr=False)

    def __post_init__(self) -> None:
        if not self.api_key:
            raise ValueError(f"{self.provider} needs an API key in ${self.env_var}")
        base = urlsplit(self.api_base or self.default_base)
        if base.scheme not in ("https", "http") or not base.hostname:
            raise ValueError(f"{self.provider}: API base must be https://HOST[:PORT]")
        self._https = base.scheme == "https"
        self._host = base.hostname
        self._port = base.port or (443 if self._https else 80)
        self._prefix = base.path.rstrip("/")
        self._scrub = Scrubber([self.api_key], ["api"])
        self._hosts = HostResolver(self.resolver, self.timeout)

    @property
    def label(self) -> str:
        host = f"[{self._host}]" if ":" in self._host else self._host
        return f"{self.provider} ({host}:{self._port})"

    # -- what each provider defines

    def build(self, mail_from: str, rcpt: str, message: bytes) -> HttpRequest:
        raise NotImplementedError

    def message_id(self, response: HttpResponse) -> str | None:
        raise NotImplementedError

    def error_detail(self, response: HttpResponse) -> str:
        return response.body.decode("utf-8", errors="replace")

    def key_refused(self, response: HttpResponse) -> bool:
        return response.status in (401, 403)

    # -- the shared call

    async def send(self, mail_from: str, rcpt: str, message: bytes) -> str | None:
        request = self.build(mail_from, rcpt, message)
        addresses = await self._hosts.addresses(self._host)
        log.debug("%s: %s %s for %s", self.label, request.method, request.path, rcpt)
        response = await self._call(addresses, request)
        return self.interpret(response)

    def interpret(self, response: HttpResponse) -> str | None:
        status = response.status
        if 200 <= status < 300:
            found = self.message_id(response)
            log.debug("%s: accepted (HTTP %s) id %s", self.label, status, found)
            return found
        detail = self._scrub.reply(self.error_detail(response))
        if self.key_refused(response):
            raise SendError(
                f"{self.label} refused the API key (HTTP {status}): check ${self.env_var}",
                permanent=True,
                stop_run=True,
                code=status,
                status=detail,
            )
        retryable = status in RETRYABLE_STATUS or status >= 500
        retry_after = parse_retry_after(response.headers.get("retry-after"))
        raise SendError(
            f"{self.label} answered HTTP {status}: {detail}".rstrip(": "),
            permanent=not retryable,
            code=status,
            status=detail,
            retry_after=retry_after if retryable else None,
        )

    async def _call(self, addresses: list[str], request: HttpRequest) -> HttpResponse:
        backend = PinnedBackend(addresses, guard=False)  # the user named this host, not DNS data
        transport = self.transport or PinnedTransport(backend, tls_context(self.ca_file))
        host = f"[{self._host}]" if ":" in self._host else self._host
        scheme = "https" if self._https else "http"
        url = f"{scheme}://{host}:{self._port}{self._prefix}{request.path}"
        headers = {"User-Agent": USER_AGENT, **request.headers}
        sent = False  # the whole request went out: from then on the provider may have it

        async def trace(event: str, info: dict[str, Any]) -> None:
            nonlocal sent
            if event == "http11.send_request_body.complete":
                sent = True

        client = httpx.AsyncClient(
            transport=transport,
            timeout=httpx.Timeout(self.timeout),
            follow_redirects=False,
            trust_env=False,
        )
        try:
            async with (
                client,
                asyncio.timeout(self.timeout * (len(addresses) + 2)),
                client.stream(
                    request.method,
                    url,
                    content=request.body,
                    headers=headers,
                    extensions={"trace": trace},
                ) as raw,
            ):
                sent = True
                try:
                    body, _ = await read_bounded(raw, MAX_RESPONSE_BYTES)
                except (httpx.HTTPError, OSError) as exc:  # the status is the verdict
                    log.debug("%s: reading the response body failed: %s", self.label, exc)
                    body = b""
                return HttpResponse(
                    raw.status_code, {k.lower(): v for k, v in raw.headers.items()}, body
                )
        except NoConnection as exc:
            last = exc.attempts.last_error or TimeoutError("timed out")
            text = f"{self.label}: {self._scrub(describe_os_error(ConnectError(last)))}"
            raise SendError(text, permanent=False, unreachable=True) from None
        except (httpx.HTTPError, TimeoutError, OSError) as exc:
            if sent:
                raise self._lost_after_request(exc) from None
            raise self._not_sent(exc) from None

    def _not_sent(self, exc: BaseException) -> SendError:
        """The TLS handshake failed or the request did not get out whole: nothing was handed
        over. An untrusted certificate stops the run (every seed would meet it)."""
        verify = cause_of(exc, ssl.SSLCertVerificationError)
        cause = verify or cause_of(exc, ssl.SSLError) or os_error(exc)
        if cause is None and isinstance(exc, (httpx.TimeoutException, TimeoutError)):
            cause = TimeoutError("timed out")
        why = describe_os_error(cause) if cause is not None else type(exc).__name__
        stop = verify is not None
        return SendError(f"{self.label}: {self._scrub(why)}", permanent=stop, stop_run=stop)

    def _lost_after_request(self, exc: BaseException) -> SendError:
        """No (readable) response after the whole request went out: it may have been accepted."""
        cause = os_error(exc)
        if isinstance(exc, (TimeoutError, httpx.TimeoutException)):
            why = f"no response within {self.timeout:g} s after the request was sent"
        elif cause is not None or isinstance(exc, httpx.ReadError):
            reason = describe_os_error(cause) if cause is not None else "read failed"
            why = f"the connection failed after the request was sent ({reason})"
        elif isinstance(exc, httpx.RemoteProtocolError) and "disconnected" in str(exc):
            why = (
                "the connection failed after the request was sent (the server closed it "
                "without an answer)"
            )
        else:
            why = f"bad HTTP response after the request was sent ({type(exc).__name__})"
        why = self._scrub(why)
        return SendError(
            f"{self.label}: {why}; the message may have been sent (not retried)",
            permanent=False,
            status=f"possibly sent: {why}",
            maybe_sent=True,
        )


def _json_request(path: str, payload: dict, headers: dict[str, str]) -> HttpRequest:
    body = json.dumps(payload, ensure_ascii=False).encode("utf-8")
    return HttpRequest(
        "POST",
        path,
        {"Content-Type": "application/json", "Accept": "application/json", **headers},
        body,
    )


def _errors_text(data: object, *keys: str) -> str | None:
    if not isinstance(data, dict):
        return None
    for key in keys:
        value = data.get(key)
        if isinstance(value, str) and value:
            return value
        if isinstance(value, list):
            texts = [str(v.get("message", v)) if isinstance(v, dict) else str(v) for v in value]
            return "; ".join(texts)
    return None


@dataclass
class SendGridSender(HttpApiSender):
    """SendGrid v3 Mail Send."""

    provider: ClassVar[str] = "sendgrid"
    env_var: ClassVar[str] = "AUDIT_SENDGRID_API_KEY"
    default_base: ClassVar[str] = "https://api.sendgrid.com"

    def build(self, mail_from: str, rcpt: str, message: bytes) -> HttpRequest:
        parts = split_message(message, mail_from)
        sender = {"email": parts.from_addr}
        if parts.from_name:
            sender["name"] = parts.from_name
        content = []  # text/plain must come first
        if parts.text:
            content.append({"type": "text/plain", "value": parts.text})
        if parts.html:
            content.append({"type": "text/html", "value": parts.html})
        payload: dict[str, object] = {
            "personalizations": [{"to": [{"email": rcpt}]}],
            "from": sender,
            "subject": parts.subject,
            "content": content,
        }
        if parts.reply_to:
            payload["reply_to"] = {"email": parts.reply_to}
        if parts.headers:
            payload["headers"] = dict(parts.headers)
        if parts.attachments:
            payload["attachments"] = [
                {
                    "content": base64.b64encode(a.data).decode(),
                    "filename": a.filename,
                    "type": a.content_type,
                    "disposition": "attachment",
                }
                for a in parts.attachments
            ]
        return _json_request("/v3/mail/send", payload, {"Authorization": f"Bearer {self.api_key}"})

    def message_id(self, response: HttpResponse) -> str | None:
        return response.headers.get("x-message-id")

    def error_detail(self, response: HttpResponse) -> str:
        return _errors_text(response.json(), "errors") or super().error_detail(response)


@dataclass
class PostmarkSender(HttpApiSender):
    """Postmark single email (`/email`); `message_stream` "outbound" or e.g. "broadcast"."""

    provider: ClassVar[str] = "postmark"
    env_var: ClassVar[str] = "AUDIT_POSTMARK_TOKEN"
    default_base: ClassVar[str] = "https://api.postmarkapp.com"
    BAD_TOKEN: ClassVar[int] = 10  # Postmark ErrorCode: bad or missing server token

    message_stream: str = "outbound"

    def build(self, mail_from: str, rcpt: str, message: bytes) -> HttpRequest:
        parts = split_message(message, mail_from)
        payload: dict[str, object] = {
            "From": parts.from_header,
            "To": rcpt,
            "Subject": parts.subject,
            "MessageStream": self.message_stream,
        }
        if parts.text:
            payload["TextBody"] = parts.text
        if parts.html:
            payload["HtmlBody"] = parts.html
        if parts.reply_to:
            payload["ReplyTo"] = parts.reply_to
        if parts.headers:
            payload["Headers"] = [{"Name": k, "Value": v} for k, v in parts.headers]
        if parts.attachments:
            payload["Attachments"] = [
                {
                    "Name": a.filename,
                    "Content": base64.b64encode(a.data).decode(),
                    "ContentType": a.content_type,
                }
                for a in parts.attachments
            ]
        return _json_request("/email", payload, {"X-Postmark-Server-Token": self.api_key})

    def message_id(self, response: HttpResponse) -> str | None:
        data = response.json()
        value = data.get("MessageID") if isinstance(data, dict) else None
        return str(value) if value else None

    def error_detail(self, response: HttpResponse) -> str:
        return _errors_text(response.json(), "Message") or super().error_detail(response)

    def key_refused(self, response: HttpResponse) -> bool:
        data = response.json()
        bad_token = isinstance(data, dict) and data.get("ErrorCode") == self.BAD_TOKEN
        return super().key_refused(response) or (response.status == 422 and bad_token)


@dataclass
class MailgunSender(HttpApiSender):
    """Mailgun `messages.mime`: our MIME bytes as they are, for one `to`."""

    provider: ClassVar[str] = "mailgun"
    env_var: ClassVar[str] = "AUDIT_MAILGUN_API_KEY"
    default_base: ClassVar[str] = "https://api.mailgun.net"  # EU: https://api.eu.mailgun.net

    domain: str = ""

    def __post_init__(self) -> None:
        super().__post_init__()
        if not self.domain:
            raise ValueError("mailgun needs the sending domain: --via mailgun:DOMAIN")

    def build(self, mail_from: str, rcpt: str, message: bytes) -> HttpRequest:
        boundary = uuid.uuid4().hex
        while boundary.encode() in message:
            boundary = uuid.uuid4().hex
        body = b"".join(
            [
                f"--{boundary}\r\n".encode(),
                b'Content-Disposition: form-data; name="to"\r\n\r\n',
                rcpt.encode("utf-8"),
                f"\r\n--{boundary}\r\n".encode(),
                b'Content-Disposition: form-data; name="message"; filename="message.mime"\r\n',
                b"Content-Type: application/octet-stream\r\n\r\n",
                message,
                f"\r\n--{boundary}--\r\n".encode(),
            ]
        )
        credentials = base64.b64encode(f"api:{self.api_key}".encode()).decode()
        headers = {
            "Authorization": f"Basic {credentials}",
            "Content-Type": f"multipart/form-data; boundary={boundary}",
            "Accept": "application/json",
        }
        path = f"/v3/{quote(self.domain, safe='')}/messages.mime"
        return HttpRequest("POST", path, headers, body)

    def message_id(self, response: HttpResponse) -> str | None:
        data = response.json()
        value = data.get("id") if isinstance(data, dict) else None
        return str(value) if value else None

    def error_detail(self, response: HttpResponse) -> str:
        return _errors_text(response.json(), "message") or super().error_detail(response)
