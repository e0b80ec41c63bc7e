"""The seed test message: one per seed, carrying the run's token in a header and in the body.

The header is what the IMAP collector searches for (SEARCH HEADER); the body line survives
receivers or forwarders that drop unknown headers, so a copy can still be recognised by eye.
"""

from __future__ import annotations

import datetime as dt
import email
import email.policy
import quopri
import re
import secrets
from email.message import EmailMessage
from email.utils import format_datetime, getaddresses, parseaddr

TOKEN_HEADER = "X-Audit-Seed-Token"
TOKEN_LINE = "Audit seed token: "
_TOKEN = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]{5,63}\Z")

# A template saved from a mailbox carries the trace and verdicts of its first trip; sent again
# they would be stale (old DKIM signatures fail on the changed body, old Authentication-Results
# could be mistaken for the receiver's). Bcc must never be transmitted.
_STRIP = (
    "Bcc",
    "Return-Path",
    "Delivered-To",
    "X-Original-To",
    "Received",
    "Received-SPF",
    "Authentication-Results",
    "ARC-Seal",
    "ARC-Message-Signature",
    "ARC-Authentication-Results",
    "DKIM-Signature",
    TOKEN_HEADER,
)


def new_token() -> str:
    """A fresh run token: 16 hex digits, unique enough to find one message in a mailbox."""
    return secrets.token_hex(8)


def check_token(token: str) -> str:
    """The token, or ValueError: it goes into a header and an IMAP SEARCH, so keep it plain."""
    if not _TOKEN.match(token):
        raise ValueError(f"a seed token is 6-64 letters, digits, '.', '_' or '-', not {token!r}")
    return token


def message_id(token: str, domain: str) -> str:
    return f"<audit-seed.{token}.{secrets.token_hex(6)}@{domain}>"


def build_test_message(
    from_addr: str | None,
    to_addr: str,
    token: str,
    *,
    template: bytes | None = None,
    now: dt.datetime | None = None,
    message_id_domain: str | None = None,
) -> bytes:
    """The message for one seed, as CRLF bytes ready for SMTP.

    Built in: plain text and HTML alternatives, Subject with the token, Date, Message-ID.
    With a template (.eml bytes): To becomes the seed, From becomes from_addr unless the
    template's From already has that address (its display name is kept), Date and Message-ID
    are fresh (one message per seed: receivers drop repeated Message-IDs), the token header is
    added and a token line goes into the first text part; trace and authentication headers of
    an earlier trip are dropped; everything else is kept.
    """
    check_token(token)
    now = now or dt.datetime.now(dt.UTC)
    if template is None:
        if not from_addr:
            raise ValueError("the built-in test message needs a From address")
        return _finish(_builtin(from_addr, to_addr, token), token, now, message_id_domain)
    try:
        msg = _from_template(template, from_addr, to_addr, token)
        return _finish(msg, token, now, message_id_domain)
    except TemplateError:
        raise
    except Exception as exc:  # noqa: BLE001 - whatever the email package trips on: exit 2
        raise TemplateError(f"the template cannot be used: {_one_line(exc)}") from exc


class TemplateError(ValueError):
    """The --template message cannot be turned into a test message (one line for the user)."""


def _one_line(exc: BaseException) -> str:
    text = " ".join(str(exc).split())
    text = f"{type(exc).__name__}: {text}" if text else type(exc).__name__
    return text if len(text) <= 200 else text[:197] + "..."


def _finish(
    msg: EmailMessage, token: str, now: dt.datetime, message_id_domain: str | None
) -> bytes:
    sender = parseaddr(msg.get("From", ""))[1]
    domain = message_id_domain or sender.rpartition("@")[2] or "audit.invalid"
    _set(msg, "Date", format_datetime(now if now.tzinfo else now.replace(tzinfo=dt.UTC)))
    _set(msg, "Message-ID", message_id(token, domain))
    msg[TOKEN_HEADER] = token
    return msg.as_bytes(policy=email.policy.SMTP)


def _set(msg: EmailMessage, name: str, value: str) -> None:
    """Replace a header in place (keeps its position), or add it."""
    if name in msg:
        msg.replace_header(name, value)
    else:
        msg[name] = value


def _builtin(from_addr: str, to_addr: str, token: str) -> EmailMessage:
    msg = EmailMessage(policy=email.policy.SMTP)
    msg["From"] = from_addr
    msg["To"] = to_addr
    msg["Subject"] = f"Deliverability test {token}"
    msg["Date"] = ""
    msg["Message-ID"] = ""
    msg.set_content(
        "This is a deliverability test sent by `audit seed`.\n"
        "It checks where this message lands and what the receiving server concluded\n"
        "about its authentication (SPF, DKIM, DMARC). No reply is needed.\n"
        "\n"
        f"{TOKEN_LINE}{token}\n"
    )
    msg.add_alternative(
        "<!DOCTYPE html>\n<html><body>\n"
        "<p>This is a deliverability test sent by <code>audit seed</code>.</p>\n"
        "<p>It checks where this message lands and what the receiving server concluded about "
        "its authentication (SPF, DKIM, DMARC). No reply is needed.</p>\n"
        f"<p>{TOKEN_LINE}{token}</p>\n"
        "</body></html>\n",
        subtype="html",
    )
    for part in msg.iter_parts():
        del part["MIME-Version"]  # add_alternative puts one on the part; it belongs on top only
    return msg


def _from_template(
    template: bytes, from_addr: str | None, to_addr: str, token: str
) -> EmailMessage:
    msg = email.message_from_bytes(template, policy=email.policy.default)
    assert isinstance(msg, EmailMessage)
    if not msg.keys():
        raise TemplateError("the template is not an email message (no header fields)")
    for name in _STRIP:
        del msg[name]
    _set(msg, "To", to_addr)
    if from_addr:
        current = {a.lower() for _, a in getaddresses(msg.get_all("From", []))}
        if current != {parseaddr(from_addr)[1].lower()}:
            _set(msg, "From", from_addr)
    elif "From" not in msg:
        raise TemplateError("the template has no From and no From address was given")
    part = _first_text_part(msg)
    if part is None:
        raise TemplateError("the template has no text part to put the token line into")
    had_mime_version = "MIME-Version" in part
    _add_token_line(part, token)
    if part is not msg and not had_mime_version:
        del part["MIME-Version"]  # set_content adds one; it belongs on the top level only
    if "MIME-Version" not in msg:
        msg["MIME-Version"] = "1.0"
    return msg


def _first_text_part(msg: EmailMessage) -> EmailMessage | None:
    for part in msg.walk():
        if part.get_content_maintype() == "text" and not part.is_attachment():
            return part
    return None


def _add_token_line(part: EmailMessage, token: str) -> None:
    subtype = part.get_content_subtype()
    charset = part.get_content_charset() or "utf-8"
    try:
        if not _usable_charset(charset):
            raise LookupError(charset)
        content = part.get_content().replace("\r\n", "\n")  # the parser keeps CRLF
    except (LookupError, UnicodeError):
        # e.g. "unknown-8bit", which the email package itself writes for undecodable bytes:
        # the text cannot be decoded, so the token line goes into its bytes as they are.
        _add_token_line_bytes(part, token, subtype, charset)
        return
    if subtype == "html":
        line = f"<p>{TOKEN_LINE}{token}</p>\n"
        matches = list(re.finditer(r"</body\s*>", content, re.IGNORECASE))
        if matches:
            at = matches[-1].start()
            content = content[:at] + line + content[at:]
        else:
            content = content + line
    else:
        content = content.rstrip("\r\n") + f"\n\n{TOKEN_LINE}{token}\n"
    # 8bit bodies need 8BITMIME at every hop: quoted-printable is safe anywhere.
    cte = None if content.isascii() else "quoted-printable"
    try:
        part.set_content(content, subtype=subtype, charset=charset, cte=cte)
    except (LookupError, UnicodeError):
        part.set_content(content, subtype=subtype, charset="utf-8", cte=cte)


def _usable_charset(charset: str) -> bool:
    """Python knows it and it is ASCII-compatible (MIME text charsets must be)."""
    try:
        return "a\r\n".encode(charset) == b"a\r\n"
    except (LookupError, UnicodeError, ValueError):
        return False


def _add_token_line_bytes(part: EmailMessage, token: str, subtype: str, charset: str) -> None:
    """The token line added to the undecoded body bytes; the charset label is kept."""
    payload = part.get_payload(decode=True)
    body = payload if isinstance(payload, bytes) else b""
    body = body.replace(b"\r\n", b"\n")
    if subtype == "html":
        line = f"<p>{TOKEN_LINE}{token}</p>\n".encode()
        matches = list(re.finditer(rb"</body\s*>", body, re.IGNORECASE))
        at = matches[-1].start() if matches else len(body)
        body = body[:at] + line + body[at:]
    else:
        body = body.rstrip(b"\r\n") + f"\n\n{TOKEN_LINE}{token}\n".encode()
    if body.isascii() and all(len(line) <= 900 for line in body.split(b"\n")):
        cte, text = "7bit", body.decode("ascii")
    else:  # 8bit bodies need 8BITMIME at every hop: quoted-printable is safe anywhere
        cte, text = "quoted-printable", quopri.encodestring(body).decode("ascii")
    content_type = f"text/{subtype}"
    if _safe_param(charset):
        content_type += f'; charset="{charset}"'
    for name in ("Content-Type", "Content-Transfer-Encoding"):
        del part[name]
    part["Content-Type"] = content_type
    part["Content-Transfer-Encoding"] = cte
    part.set_payload(text)


def _safe_param(value: str) -> bool:
    return bool(re.fullmatch(r"[A-Za-z0-9!#$%&'+.^_`{|}~-]{1,64}", value))
