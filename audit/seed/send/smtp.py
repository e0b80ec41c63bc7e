"""SMTP submission: the path most production senders use (a relay on 587 or 465).

One connection per message and one RCPT per connection, so each seed gets its own copy and its
own verdict. `smtp://` upgrades with STARTTLS when the server offers it (and refuses to send a
password if it does not); `smtps://` is TLS from the first byte. Certificates are verified
against the host name from --via, with --ca-file or the system store. stdlib smtplib runs in a
worker thread; every socket operation has the sender's timeout.

Reply codes decide what happens next: 4xx is retryable, 5xx is permanent, and a refused AUTH
(535 and friends), a refused greeting or a refused MAIL FROM stop the whole run, because no other
seed could get through either. A relay that cannot be reached at all (connection refused,
connect timeout) is `unreachable`. Once the final "." of DATA has gone out, the relay may have
queued the message even if its reply never arrives: a timeout or disconnect then is
`maybe_sent`, never retried.
"""

from __future__ import annotations

import asyncio
import logging
import re
import smtplib
import socket
import ssl
from dataclasses import dataclass, field

from audit.net.dns import Resolver

from .base import Scrubber, SendError
from .net import ConnectError, HostResolver, connect, describe_os_error, tls_context

log = logging.getLogger("audit.seed.send")

SUBMISSION_PORT = 587
SMTPS_PORT = 465
PASSWORD_ENV = "AUDIT_SMTP_PASSWORD"
AUTH_REFUSED = {530, 534, 535, 538}  # RFC 4954: auth required / too weak / bad creds / needs TLS
_QUEUE_ID = re.compile(r"queued as\s+<?([A-Za-z0-9._@-]+)", re.IGNORECASE)
_8BIT = re.compile(rb"[\x80-\xff]")
_LEADING_DOT = re.compile(rb"(?m)^\.")


class _Client(smtplib.SMTP):
    """smtplib.SMTP connecting to pre-resolved addresses; TLS still checks the host name."""

    def __init__(self, host: str, addresses: list[str], helo: str, timeout: float) -> None:
        super().__init__(local_hostname=helo, timeout=timeout)
        self._host = host  # what starttls() verifies the certificate against
        self._addresses = addresses

    def _get_socket(self, host, port, timeout):  # noqa: ARG002 - host is resolved already
        return connect(self._addresses, port, timeout, self.source_address)


class _ClientSSL(smtplib.SMTP_SSL):
    """Implicit TLS (smtps://) to pre-resolved addresses, SNI and verification by host name."""

    def __init__(
        self, host: str, addresses: list[str], helo: str, timeout: float, context: ssl.SSLContext
    ) -> None:
        super().__init__(local_hostname=helo, timeout=timeout, context=context)
        self._host = host
        self._addresses = addresses

    def _get_socket(self, host, port, timeout):  # noqa: ARG002
        sock = connect(self._addresses, port, timeout, self.source_address)
        try:
            return self.context.wrap_socket(sock, server_hostname=self._host)
        except BaseException:
            sock.close()
            raise


@dataclass
class SmtpSender:
    """SMTP submission to `host:port`, AUTH as `username` when one is given."""

    host: str
    port: int = SUBMISSION_PORT
    implicit_tls: bool = False
    username: str | None = None
    password: str | None = field(default=None, repr=False)
    ca_file: str | None = None
    timeout: float = 30.0
    helo: str | None = None  # EHLO name; default: this machine's host name (no DNS lookup)
    resolver: Resolver | None = field(default=None, repr=False)

    def __post_init__(self) -> None:
        if self.username and not self.password:
            raise ValueError(f"SMTP user {self.username} needs a password in ${PASSWORD_ENV}")
        self._scrub = Scrubber([self.password], [self.username])
        self._hosts = HostResolver(self.resolver, self.timeout)

    @property
    def label(self) -> str:
        scheme = "smtps" if self.implicit_tls else "smtp"
        user = f"{self.username}@" if self.username else ""
        host = f"[{self.host}]" if ":" in self.host else self.host
        # Scrubbed: some providers take the API token as the SMTP user name too (Postmark).
        return self._scrub(f"{scheme}://{user}{host}:{self.port}")

    async def send(self, mail_from: str, rcpt: str, message: bytes) -> str | None:
        addresses = await self._hosts.addresses(self.host)
        log.debug("SMTP %s: submitting for %s", self.label, rcpt)
        return await asyncio.to_thread(self._submit, addresses, mail_from, rcpt, message)

    # ------------------------------------------------------------------ blocking side

    def _submit(
        self, addresses: list[str], mail_from: str, rcpt: str, message: bytes
    ) -> str | None:
        helo = self.helo or socket.gethostname() or "localhost"
        context = tls_context(self.ca_file)
        if self.implicit_tls:
            client: smtplib.SMTP = _ClientSSL(self.host, addresses, helo, self.timeout, context)
        else:
            client = _Client(self.host, addresses, helo, self.timeout)
        try:
            return self._session(client, context, mail_from, rcpt, message)
        except SendError:
            raise
        except ConnectError as exc:
            text = f"{self.label}: {self._scrub(describe_os_error(exc))}"
            raise SendError(text, permanent=False, unreachable=True) from None
        except smtplib.SMTPResponseException as exc:
            raise self._reply_error(exc.smtp_code, exc.smtp_error, "SMTP") from None
        except smtplib.SMTPServerDisconnected:
            raise SendError(f"{self.label} closed the connection", permanent=False) from None
        except ssl.SSLCertVerificationError as exc:
            text = f"{self.label}: {describe_os_error(exc)}"
            raise SendError(text, permanent=True, stop_run=True) from None
        except (OSError, smtplib.SMTPException) as exc:
            text = f"{self.label}: {self._scrub(describe_os_error(exc))}"
            raise SendError(text, permanent=False) from None
        finally:
            _close(client)

    def _session(
        self,
        client: smtplib.SMTP,
        context: ssl.SSLContext,
        mail_from: str,
        rcpt: str,
        message: bytes,
    ) -> str | None:
        code, text = client.connect(self.host, self.port)
        if code != 220:
            raise self._reply_error(code, text, "greeting")
        self._ehlo(client)
        if not self.implicit_tls:
            if client.has_extn("starttls"):
                try:
                    client.starttls(context=context)  # verifies against client._host
                except smtplib.SMTPResponseException as exc:
                    raise self._reply_error(exc.smtp_code, exc.smtp_error, "STARTTLS") from None
                self._ehlo(client)
            elif self.username:
                raise SendError(
                    f"{self.label} does not offer STARTTLS: not sending the password in clear"
                    " (use smtps:// or a relay with STARTTLS)",
                    permanent=True,
                    stop_run=True,
                )
        if self.username:
            self._login(client)
        return self._transaction(client, mail_from, rcpt, message)

    def _ehlo(self, client: smtplib.SMTP) -> None:
        code, text = client.ehlo()
        if not 200 <= code < 300:
            code, text = client.helo()
            if not 200 <= code < 300:
                raise self._reply_error(code, text, "EHLO")

    def _login(self, client: smtplib.SMTP) -> None:
        if not client.has_extn("auth"):
            raise SendError(
                f"{self.label} offers no AUTH: cannot log in as {self.username}",
                permanent=True,
                stop_run=True,
            )
        try:
            client.login(self.username or "", self.password or "")
        except smtplib.SMTPAuthenticationError as exc:
            raise self._reply_error(exc.smtp_code, exc.smtp_error, "AUTH") from None
        except smtplib.SMTPException:
            raise SendError(
                f"{self.label}: no AUTH mechanism in common (smtplib has PLAIN, LOGIN, CRAM-MD5)",
                permanent=True,
                stop_run=True,
            ) from None

    def _transaction(self, client: smtplib.SMTP, mail_from: str, rcpt: str, message: bytes):
        message = re.sub(rb"\r?\n", b"\r\n", message)
        options: list[str] = []
        if _8BIT.search(message) and client.has_extn("8bitmime"):
            options.append("BODY=8BITMIME")
        if not (mail_from + rcpt).isascii():
            if not client.has_extn("smtputf8"):
                raise SendError(
                    f"{self.label} does not offer SMTPUTF8 for a non-ASCII address",
                    permanent=True,
                )
            options.append("SMTPUTF8")
        code, text = client.mail(mail_from, options)
        if code != 250:
            raise self._reply_error(code, text, "MAIL FROM")
        code, text = client.rcpt(rcpt)
        if code not in (250, 251):
            raise self._reply_error(code, text, "RCPT TO")
        code, text = client.docmd("DATA")
        if code != 354:
            raise self._reply_error(code, text, "DATA")
        data = _LEADING_DOT.sub(b"..", message)
        if not data.endswith(b"\r\n"):
            data += b"\r\n"
        client.send(data + b".\r\n")  # a failure in here: the message did not get through
        try:
            code, text = client.getreply()
        except smtplib.SMTPServerDisconnected as exc:
            raise self._lost_after_data(exc) from None
        if code != 250:
            raise self._reply_error(code, text, "DATA")
        reply = self._scrub.reply(text)
        log.debug("SMTP %s: accepted for %s: %s %s", self.label, rcpt, code, reply)
        found = _QUEUE_ID.search(reply)
        return found.group(1) if found else None

    def _lost_after_data(self, exc: smtplib.SMTPServerDisconnected) -> SendError:
        """No reply to the end of DATA: the relay has the whole message and may queue it."""
        if isinstance(exc.__context__, TimeoutError):
            why = f"no reply to the end of DATA within {self.timeout:g} s"
        else:
            why = "the connection closed before the reply to the end of DATA"
        return SendError(
            f"{self.label}: {why}; the message may have been sent (not retried)",
            permanent=False,
            status=f"possibly sent: {why}",
            maybe_sent=True,
        )

    def _reply_error(self, code: int, text: str | bytes, stage: str) -> SendError:
        reply = self._scrub.reply(text)
        transient = 400 <= code < 500
        if stage == "AUTH" or code in AUTH_REFUSED:
            if transient:
                return SendError(
                    f"{self.label}: authentication temporarily failed ({code} {reply})",
                    permanent=False,
                    code=code,
                    status=reply,
                )
            return SendError(
                f"{self.label}: authentication failed ({code} {reply});"
                f" check the user name and ${PASSWORD_ENV}",
                permanent=True,
                stop_run=True,
                code=code,
                status=reply,
            )
        stop = not transient and stage in ("greeting", "EHLO", "MAIL FROM", "STARTTLS")
        return SendError(
            f"{self.label}: {stage} answered {code} {reply}",
            permanent=not transient,
            stop_run=stop,
            code=code,
            status=reply,
        )


def _close(client: smtplib.SMTP) -> None:
    try:
        if client.sock is not None:
            client.quit()
    except (OSError, smtplib.SMTPException):
        pass
    finally:
        client.close()
