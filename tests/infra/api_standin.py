"""Local stand-ins for the HTTP email APIs (SendGrid v3, Postmark, Mailgun), for the seed tests.

Each stand-in is an HTTPS server on 127.0.0.1 (a free port, a certificate from the test CA) in
a thread of the test process, so it dies with it. It does what the real API is documented to
do with a request, strictly enough to catch a wrong shape:

* checks the method and path, the auth header (a wrong key gets the provider's 401), and the
  documented body (JSON fields, or the multipart `to` + `message` parts); a request that does
  not match gets 400 and the reason lands in `problems`;
* relays the message into a local SMTP server (`relay=(host, port)`, e.g. an aiosmtpd sink or
  the loopback Postfix), rebuilt from the JSON for SendGrid/Postmark, byte for byte for
  Mailgun's messages.mime, so a test can assert that the copy arrived;
* answers as the provider does (202 + X-Message-Id, 200 + MessageID, 200 + id).

`script(status, headers, body)` queues canned answers served (after the shape check, instead
of relaying) to the next requests: 429 with Retry-After, a flaky 500, and so on. `script(HANG_UP)`
relays the message and then closes the connection without answering: an accepted request
whose response got lost.

    standin = ApiStandin.start("sendgrid", key="k", relay=("127.0.0.1", 2525),
                               cert_file=crt, key_file=key)
    make_sender(standin.via, ca_file=ca, env={"AUDIT_SENDGRID_API_KEY": "k"})
    standin.stop()
"""

from __future__ import annotations

import base64
import email
import json
import smtplib
import ssl
import threading
import uuid
from dataclasses import dataclass, field
from email import policy
from email.message import EmailMessage
from email.utils import formataddr, make_msgid, parseaddr
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

PROVIDERS = ("sendgrid", "postmark", "mailgun")
HANG_UP = 0  # script(HANG_UP): relay the message, then close the connection without an answer
# SendGrid refuses these in "headers" (its docs' reserved list)
SENDGRID_RESERVED = {
    "x-sg-id",
    "x-sg-eid",
    "received",
    "dkim-signature",
    "content-type",
    "content-transfer-encoding",
    "to",
    "from",
    "subject",
    "reply-to",
    "cc",
    "bcc",
}


class ShapeError(Exception):
    """The request does not match the provider's documented shape."""


@dataclass
class Recorded:
    method: str
    path: str
    headers: dict[str, str]
    body: bytes
    status: int = 0


@dataclass
class Reply:
    status: int
    headers: dict[str, str] = field(default_factory=dict)
    body: bytes = b""


def _json_reply(status: int, payload: object, **headers: str) -> Reply:
    body = json.dumps(payload).encode()
    return Reply(status, {"Content-Type": "application/json", **headers}, body)


class ApiStandin:
    """One provider's API on https://127.0.0.1:PORT."""

    def __init__(
        self,
        provider: str,
        *,
        key: str,
        relay: tuple[str, int],
        cert_file: str | Path,
        key_file: str | Path,
        domain: str = "mg.example.test",
    ) -> None:
        if provider not in PROVIDERS:
            raise ValueError(f"unknown provider {provider}")
        self.provider = provider
        self.key = key
        self.relay = relay
        self.domain = domain
        self.requests: list[Recorded] = []
        self.problems: list[str] = []
        self.relayed: list[tuple[str, str, bytes]] = []  # (mail from, rcpt, message)
        self._scripted: list[Reply] = []
        self._lock = threading.Lock()
        context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
        context.load_cert_chain(str(cert_file), str(key_file))
        self._server = ThreadingHTTPServer(("127.0.0.1", 0), _handler_for(self))
        self._server.daemon_threads = True
        self._server.socket = context.wrap_socket(self._server.socket, server_side=True)
        self.port = self._server.server_address[1]
        self._thread = threading.Thread(
            target=self._server.serve_forever,
            kwargs={"poll_interval": 0.05},  # shutdown() waits for one poll
            name=f"{provider}-standin",
            daemon=True,
        )

    @classmethod
    def start(cls, provider: str, **options) -> ApiStandin:
        standin = cls(provider, **options)
        standin._thread.start()
        return standin

    def stop(self) -> None:
        self._server.shutdown()
        self._server.server_close()
        self._thread.join(timeout=5)

    @property
    def url(self) -> str:
        return f"https://127.0.0.1:{self.port}"

    @property
    def via(self) -> str:
        """The --via that sends through this stand-in."""
        if self.provider == "mailgun":
            return f"mailgun://127.0.0.1:{self.port}/{self.domain}"
        return f"{self.provider}://127.0.0.1:{self.port}"

    def script(self, status: int, headers: dict[str, str] | None = None, body: bytes = b"") -> None:
        """Answer the next well-formed request with this instead of relaying it."""
        with self._lock:
            self._scripted.append(Reply(status, headers or {}, body))

    # ------------------------------------------------------------------ request handling

    def handle(self, method: str, path: str, headers: dict[str, str], body: bytes) -> Reply:
        record = Recorded(method, path, headers, body)
        with self._lock:
            self.requests.append(record)
        reply = self._answer(method, path, headers, body)
        record.status = reply.status
        return reply

    def _answer(self, method: str, path: str, headers: dict[str, str], body: bytes) -> Reply:
        expected = {
            "sendgrid": "/v3/mail/send",
            "postmark": "/email",
            "mailgun": f"/v3/{self.domain}/messages.mime",
        }[self.provider]
        if method != "POST" or path != expected:
            return self._problem(404, f"{method} {path}: expected POST {expected}")
        if not self._authorized(headers):
            return self._unauthorized()
        try:
            mail_from, rcpt, message = getattr(self, f"_parse_{self.provider}")(headers, body)
        except ShapeError as exc:
            return self._problem(400, str(exc))
        with self._lock:
            scripted = self._scripted.pop(0) if self._scripted else None
        if scripted is not None and scripted.status != HANG_UP:
            return scripted
        with smtplib.SMTP(*self.relay, timeout=10) as smtp:
            smtp.sendmail(mail_from, [rcpt], message)
        with self._lock:
            self.relayed.append((mail_from, rcpt, message))
        return scripted or self._accepted(rcpt)

    def _problem(self, status: int, text: str) -> Reply:
        with self._lock:
            self.problems.append(text)
        return _json_reply(status, {"errors": [{"message": text}]})

    def _authorized(self, headers: dict[str, str]) -> bool:
        if self.provider == "sendgrid":
            return headers.get("authorization") == f"Bearer {self.key}"
        if self.provider == "postmark":
            return headers.get("x-postmark-server-token") == self.key
        expected = base64.b64encode(f"api:{self.key}".encode()).decode()
        return headers.get("authorization") == f"Basic {expected}"

    def _unauthorized(self) -> Reply:
        if self.provider == "sendgrid":
            message = "The provided authorization grant is invalid, expired, or revoked"
            return _json_reply(401, {"errors": [{"message": message, "field": None}]})
        if self.provider == "postmark":
            message = "Request does not contain a valid Server token."
            return _json_reply(401, {"ErrorCode": 10, "Message": message})
        return Reply(401, {"Content-Type": "text/plain"}, b"Forbidden")

    def _accepted(self, rcpt: str) -> Reply:
        ident = uuid.uuid4().hex
        if self.provider == "sendgrid":
            return Reply(202, {"X-Message-Id": f"sg-{ident}"})
        if self.provider == "postmark":
            payload = {"To": rcpt, "MessageID": ident, "ErrorCode": 0, "Message": "OK"}
            return _json_reply(200, payload)
        payload = {"id": f"<{ident}@{self.domain}>", "message": "Queued. Thank you."}
        return _json_reply(200, payload)

    # ------------------------------------------------------------------ documented shapes

    @staticmethod
    def _json(headers: dict[str, str], body: bytes) -> dict:
        if not headers.get("content-type", "").startswith("application/json"):
            raise ShapeError(f"Content-Type {headers.get('content-type')!r}, not application/json")
        try:
            data = json.loads(body)
        except ValueError as exc:
            raise ShapeError(f"body is not JSON: {exc}") from None
        if not isinstance(data, dict):
            raise ShapeError("body is not a JSON object")
        return data

    def _parse_sendgrid(self, headers: dict[str, str], body: bytes) -> tuple[str, str, bytes]:
        data = self._json(headers, body)
        personalizations = data.get("personalizations")
        if not isinstance(personalizations, list) or len(personalizations) != 1:
            raise ShapeError("personalizations: expected one entry (one seed per message)")
        to = personalizations[0].get("to")
        if not isinstance(to, list) or len(to) != 1 or "email" not in to[0]:
            raise ShapeError("personalizations[0].to: expected one {email}")
        sender = data.get("from")
        if not isinstance(sender, dict) or not sender.get("email"):
            raise ShapeError("from.email missing")
        subject = data.get("subject")
        if not isinstance(subject, str) or not subject:
            raise ShapeError("subject missing")
        content = data.get("content")
        if not isinstance(content, list) or not content:
            raise ShapeError("content: expected at least one {type, value}")
        types = [c.get("type") for c in content]
        if "text/plain" in types and types[0] != "text/plain":
            raise ShapeError("content: text/plain must come first")
        extra = data.get("headers", {})
        if not isinstance(extra, dict) or not all(isinstance(v, str) for v in extra.values()):
            raise ShapeError("headers: expected an object of strings")
        reserved = sorted(k for k in extra if k.lower() in SENDGRID_RESERVED)
        if reserved:
            raise ShapeError(f"headers: reserved header {reserved[0]}")
        bodies = {c["type"]: c["value"] for c in content}
        message = _rebuild(
            sender_header=_named(sender.get("name"), sender["email"]),
            rcpt=to[0]["email"],
            subject=subject,
            text=bodies.get("text/plain"),
            html=bodies.get("text/html"),
            headers=list(extra.items()),
        )
        return sender["email"], to[0]["email"], message

    def _parse_postmark(self, headers: dict[str, str], body: bytes) -> tuple[str, str, bytes]:
        if "application/json" not in headers.get("accept", ""):
            raise ShapeError("Accept: application/json missing")
        data = self._json(headers, body)
        for key in ("From", "To", "Subject"):
            if not isinstance(data.get(key), str) or not data[key]:
                raise ShapeError(f"{key} missing")
        if "," in data["To"]:
            raise ShapeError("To: expected one recipient per message")
        if not data.get("TextBody") and not data.get("HtmlBody"):
            raise ShapeError("TextBody or HtmlBody required")
        extra = data.get("Headers", [])
        if not isinstance(extra, list) or not all(
            isinstance(h, dict) and set(h) == {"Name", "Value"} for h in extra
        ):
            raise ShapeError("Headers: expected a list of {Name, Value}")
        if not isinstance(data.get("MessageStream", "outbound"), str):
            raise ShapeError("MessageStream: expected a string")
        message = _rebuild(
            sender_header=data["From"],
            rcpt=data["To"],
            subject=data["Subject"],
            text=data.get("TextBody"),
            html=data.get("HtmlBody"),
            headers=[(h["Name"], h["Value"]) for h in extra],
        )
        return parseaddr(data["From"])[1], data["To"], message

    def _parse_mailgun(self, headers: dict[str, str], body: bytes) -> tuple[str, str, bytes]:
        content_type = headers.get("content-type", "")
        if not content_type.startswith("multipart/form-data"):
            raise ShapeError(f"Content-Type {content_type!r}, not multipart/form-data")
        form = email.message_from_bytes(
            f"Content-Type: {content_type}\r\n\r\n".encode() + body, policy=policy.compat32
        )
        if not form.is_multipart():
            raise ShapeError("not a multipart form")
        fields: dict[str, bytes] = {}
        for part in form.get_payload():
            name = part.get_param("name", header="content-disposition")
            if not name:
                raise ShapeError("a form part without a name")
            fields[name] = part.get_payload(decode=True) or b""
        if set(fields) != {"to", "message"}:
            raise ShapeError(f"form fields {sorted(fields)}: expected to and message")
        rcpt = fields["to"].decode()
        message = fields["message"]
        parsed = email.message_from_bytes(message, policy=policy.compat32)
        if not parsed.get("From"):
            raise ShapeError("message: no From header (not a MIME message?)")
        return parseaddr(parsed["From"])[1], rcpt, message


def _named(name: str | None, address: str) -> str:
    return formataddr((name or "", address))


def _rebuild(
    *,
    sender_header: str,
    rcpt: str,
    subject: str,
    text: str | None,
    html: str | None,
    headers: list[tuple[str, str]],
) -> bytes:
    """What a JSON API sends on: its own headers, then the caller's custom ones, then bodies."""
    msg = EmailMessage()
    msg["From"] = sender_header
    msg["To"] = rcpt
    msg["Subject"] = subject
    msg["Message-ID"] = make_msgid(domain="standin.test")
    for name, value in headers:
        msg[name] = value
    if text:
        msg.set_content(text)
        if html:
            msg.add_alternative(html, subtype="html")
    elif html:
        msg.set_content(html, subtype="html")
    return msg.as_bytes(policy=policy.SMTP)


def _handler_for(standin: ApiStandin) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"
        timeout = 10

        def do_POST(self) -> None:  # noqa: N802 - http.server's naming
            self._serve()

        def do_GET(self) -> None:  # noqa: N802
            self._serve()

        def _serve(self) -> None:
            length = int(self.headers.get("Content-Length") or 0)
            body = self.rfile.read(length) if length else b""
            headers = {k.lower(): v for k, v in self.headers.items()}
            reply = standin.handle(self.command, self.path, headers, body)
            if reply.status == HANG_UP:
                self.close_connection = True
                return
            self.send_response(reply.status)
            for name, value in reply.headers.items():
                self.send_header(name, value)
            self.send_header("Content-Length", str(len(reply.body)))
            self.end_headers()
            self.wfile.write(reply.body)

        def log_message(self, format: str, *args: object) -> None:  # noqa: A002
            pass  # quiet: and never print request lines with keys

    return Handler
