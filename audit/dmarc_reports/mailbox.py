"""Reports read from the rua mailbox over IMAP (read-only: nothing is flagged, moved or deleted).

`imaps://USER@HOST[:PORT]` (implicit TLS, port 993) or `imap://USER@HOST[:PORT]` (STARTTLS,
required, port 143); the user may itself contain '@'. The password comes from the environment
(AUDIT_IMAP_PASSWORD) only, and is never echoed in errors. Every message is bounded in size and
the number of messages read is capped.
"""

from __future__ import annotations

import contextlib
import os
import ssl
from dataclasses import dataclass
from urllib.parse import unquote

from audit.dmarc_reports.reading import MAX_FILE_BYTES, ReadResult, Refused, parse_report_email
from audit.net.imap_text import error_text, scrub

PASSWORD_ENV = "AUDIT_IMAP_PASSWORD"
MAX_MESSAGES = 5000


class MailboxError(Exception):
    """The mailbox cannot be read at all (URL, login, TLS, folder): one line."""


@dataclass(frozen=True)
class MailboxUrl:
    implicit_tls: bool
    user: str
    host: str
    port: int

    @classmethod
    def parse(cls, text: str) -> MailboxUrl:
        scheme, sep, rest = text.partition("://")
        if not sep or scheme.lower() not in ("imap", "imaps"):
            raise MailboxError(f"{text!r}: use imaps://USER@HOST[:PORT] or imap://USER@HOST[:PORT]")
        user, at, hostport = rest.rstrip("/").rpartition("@")
        if not at or not user or not hostport:
            raise MailboxError(f"{text!r}: the user and the host are required (USER@HOST)")
        host, port = hostport, 993 if scheme.lower() == "imaps" else 143
        if hostport.startswith("["):
            host, _, tail = hostport[1:].partition("]")
            if tail:
                port = _port(text, tail.removeprefix(":"))
        elif hostport.count(":") == 1:
            host, tail = hostport.split(":")
            port = _port(text, tail)
        if not host:
            raise MailboxError(f"{text!r}: no host")
        return cls(scheme.lower() == "imaps", unquote(user), host, port)


def _port(text: str, value: str) -> int:
    if not value.isdigit() or not 0 < int(value) < 65536:
        raise MailboxError(f"{text!r}: {value!r} is not a port")
    return int(value)


def read_mailbox(
    url: MailboxUrl,
    folder: str,
    *,
    timeout: float,
    ca_file: str | None = None,
    max_messages: int = MAX_MESSAGES,
) -> ReadResult:
    """Every message in `folder` that carries a report; the others are listed as refused."""
    import imapclient
    from imapclient.exceptions import IMAPClientError

    password = os.environ.get(PASSWORD_ENV)
    if password is None:
        raise MailboxError(f"set {PASSWORD_ENV} to the mailbox password")
    context = ssl.create_default_context(cafile=ca_file)
    result = ReadResult()
    try:
        client = imapclient.IMAPClient(
            url.host, url.port, ssl=url.implicit_tls, ssl_context=context, timeout=timeout
        )
    except (OSError, IMAPClientError) as exc:
        raise MailboxError(
            f"cannot connect to {url.host}:{url.port}: {scrub(error_text(exc), password)}"
        ) from None
    try:
        if not url.implicit_tls:
            client.starttls(context)
        client.login(url.user, password)
        client.select_folder(folder, readonly=True)
        uids = sorted(client.search("ALL"))[:max_messages]
        sizes = client.fetch(uids, ["RFC822.SIZE"]) if uids else {}
        for uid in uids:
            size = int(sizes.get(uid, {}).get(b"RFC822.SIZE", 0))
            name = f"{folder}#{uid}"
            if size > MAX_FILE_BYTES:
                result.refused.append((name, f"message of {size} bytes is too large"))
                continue
            raw = client.fetch([uid], ["BODY.PEEK[]"]).get(uid, {}).get(b"BODY[]", b"")
            try:
                result.reports.append(parse_report_email(bytes(raw), name))
            except Refused as exc:
                result.refused.append((name, str(exc)))
    except (OSError, IMAPClientError, ssl.SSLError) as exc:
        raise MailboxError(f"{url.host}:{url.port}: {scrub(error_text(exc), password)}") from None
    finally:
        with contextlib.suppress(Exception):  # a broken session's logout must not hide the result
            client.logout()
    return result
