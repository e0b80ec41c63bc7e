"""`--via`: which production path the test message takes, as one URL-like string.

    smtp://[USER@]HOST[:PORT]        SMTP submission (default port 587), STARTTLS when offered;
                                     AUTH as USER with the password from $AUDIT_SMTP_PASSWORD
    smtps://[USER@]HOST[:PORT]       the same over implicit TLS (default port 465)
    sendgrid:  | sendgrid://HOST[:PORT]          SendGrid v3 mail/send, $AUDIT_SENDGRID_API_KEY
    postmark:  | postmark://HOST[:PORT][?stream=NAME]   Postmark /email, $AUDIT_POSTMARK_TOKEN
    mailgun:DOMAIN | mailgun://DOMAIN | mailgun://HOST[:PORT]/DOMAIN
                                     Mailgun messages.mime, $AUDIT_MAILGUN_API_KEY

A USER containing "@" may be written as is (`smtp://news@example.com@relay:587`) or as `%40`.
For the APIs, HOST[:PORT] replaces the provider's API host (always HTTPS): Mailgun's EU region
(`mailgun://api.eu.mailgun.net/DOMAIN`), or a local stand-in in tests (trusted via --ca-file).
Secrets never go in --via: a password or key in the URL is refused, and no error message repeats
what was written before the "@" (the whole user part is masked: `sendgrid://***@api.sendgrid.com`).
"""

from __future__ import annotations

import os
import re
from collections.abc import Mapping
from typing import Any
from urllib.parse import parse_qs, unquote, urlsplit

from audit.net.dns import Resolver

from .base import Sender
from .http_api import HttpApiSender, MailgunSender, PostmarkSender, SendGridSender
from .smtp import PASSWORD_ENV, SMTPS_PORT, SUBMISSION_PORT, SmtpSender

SECRET_ENV_VARS = (
    PASSWORD_ENV,
    SendGridSender.env_var,
    PostmarkSender.env_var,
    MailgunSender.env_var,
)
VIA_FORMS = "smtp://[user@]host[:port], smtps://..., sendgrid:, postmark:, mailgun:DOMAIN"


SCHEMES = ("smtp", "smtps", "sendgrid", "postmark", "mailgun")
_SCHEME = re.compile(r"[A-Za-z][A-Za-z0-9+.-]*\Z")
_SAFE_OPTIONS = {"stream"}  # query values that are never secret


def _safe(via: str) -> str:
    """The --via text for an error message: the whole user part (anything before an "@" in the
    host part: a user name, a password, an API key) is masked, whatever the scheme, and so are
    query values other than stream= and any #fragment."""
    scheme, colon, rest = via.partition(":")
    known = scheme.lower() in SCHEMES or rest.startswith("//")
    if not colon or not _SCHEME.match(scheme) or not known:  # "KEY:x@host" is no scheme
        scheme, colon, rest = "", "", via
    slashes = "//" if rest.startswith("//") else ""
    rest = rest[len(slashes) :]
    authority = re.match(r"[^/?#]*", rest).group()  # type: ignore[union-attr]
    tail = rest[len(authority) :]
    if "@" in authority:
        authority = "***@" + authority.rpartition("@")[2]
    path, hash_, _fragment = tail.partition("#")
    path, question, query = path.partition("?")
    if question:
        pairs = [pair.partition("=") for pair in query.split("&")]
        query = "&".join(
            f"{k}{eq}{v if k in _SAFE_OPTIONS or not eq else '***'}" for k, eq, v in pairs
        )
    path = re.sub(r"[^/]*@", "***@", path)  # mailgun://HOST/KEY@DOMAIN and the like
    return f"{scheme}{colon}{slashes}{authority}{path}{question}{query}{hash_ and '#***'}"


def _fail(via: str, why: str) -> ValueError:
    return ValueError(f"--via {_safe(via)}: {why}")


def make_sender(
    via: str,
    *,
    ca_file: str | None = None,
    timeout: float = 30.0,
    env: Mapping[str, str] = os.environ,
    resolver: Resolver | None = None,
    helo: str | None = None,
) -> Sender:
    """The Sender for a --via string. ValueError (one clear line) for anything wrong.

    `resolver` looks up the relay/API host (our DNS layer; a network resolver is made when
    None); `helo` is the SMTP EHLO name (default: this machine's host name).
    """
    via = via.strip()
    scheme, colon, rest = via.partition(":")
    scheme = scheme.lower()
    if not colon:
        raise _fail(via, f"not a sending path; use one of {VIA_FORMS}")
    if scheme in ("smtp", "smtps"):
        return _smtp(via, scheme, ca_file, timeout, env, resolver, helo)
    if scheme in ("sendgrid", "postmark", "mailgun"):
        return _api(via, scheme, rest, ca_file, timeout, env, resolver)
    if not rest.startswith("//") or not _SCHEME.match(scheme):  # "KEY:x@host": not a scheme
        raise _fail(via, f"not a sending path; use one of {VIA_FORMS}")
    raise _fail(via, f"unknown scheme {scheme!r}; use one of {VIA_FORMS}")


def redact_via(via: str) -> str:
    """--via as it may be shown or stored: the user part masked (see `_safe`)."""
    return _safe(via.strip())


def _smtp(
    via: str,
    scheme: str,
    ca_file: str | None,
    timeout: float,
    env: Mapping[str, str],
    resolver: Resolver | None,
    helo: str | None,
) -> SmtpSender:
    parts = urlsplit(via)
    if not via.lower().startswith(f"{scheme}://"):
        raise _fail(via, f"write {scheme}://[user@]host[:port]")
    netloc = parts.netloc
    userinfo, _, hostport = netloc.rpartition("@")
    if ":" in userinfo:
        raise _fail(via, f"no password in --via; put it in ${PASSWORD_ENV}")
    if parts.path not in ("", "/") or parts.query or parts.fragment:
        raise _fail(via, "nothing may follow host:port")
    check = urlsplit(f"//{hostport}")
    try:
        port = check.port
    except ValueError:
        raise _fail(via, "the port must be a number from 1 to 65535") from None
    host = check.hostname
    if not host:
        raise _fail(via, "no host name")
    implicit = scheme == "smtps"
    username = unquote(userinfo) or None
    password = env.get(PASSWORD_ENV) or None
    if username and not password:
        raise _fail(via, f"set ${PASSWORD_ENV} to the SMTP password (or remove the user name)")
    return SmtpSender(
        host=host,
        port=port or (SMTPS_PORT if implicit else SUBMISSION_PORT),
        implicit_tls=implicit,
        username=username,
        password=password if username else None,
        ca_file=ca_file,
        timeout=timeout,
        helo=helo,
        resolver=resolver,
    )


def _api(
    via: str,
    scheme: str,
    rest: str,
    ca_file: str | None,
    timeout: float,
    env: Mapping[str, str],
    resolver: Resolver | None,
) -> HttpApiSender:
    apis: dict[str, type[HttpApiSender]] = {
        "sendgrid": SendGridSender, "postmark": PostmarkSender, "mailgun": MailgunSender
    }
    cls = apis[scheme]
    api_base = None
    path = ""
    query = ""
    if rest.startswith("//"):
        parts = urlsplit(via)
        if "@" in parts.netloc:
            raise _fail(via, f"no credentials in --via; put the key in ${cls.env_var}")
        try:
            port = parts.port
        except ValueError:
            raise _fail(via, "the port must be a number from 1 to 65535") from None
        path, query = parts.path.strip("/"), parts.query
        if scheme == "mailgun" and not path and port is None and parts.hostname:
            path = parts.hostname  # mailgun://DOMAIN: the domain at the default API host
        elif parts.hostname:
            host = parts.hostname if ":" not in parts.hostname else f"[{parts.hostname}]"
            api_base = f"https://{host}" + (f":{port}" if port else "")
        if parts.fragment:
            raise _fail(via, "no #fragment here")
    else:
        path, _, query = rest.partition("?")
    if "@" in path:
        raise _fail(via, f"no credentials in --via; put the key in ${cls.env_var}")
    options = {k: v[-1] for k, v in parse_qs(query, keep_blank_values=True).items()}
    key = env.get(cls.env_var) or ""
    if not key:
        raise _fail(via, f"set ${cls.env_var} to the {scheme} API key")
    extra: dict[str, Any] = {}  # the provider subclass's own fields (domain, message_stream)
    if scheme == "mailgun":
        if not path or "/" in path:
            raise _fail(
                via, "name the sending domain: mailgun:DOMAIN or mailgun://HOST:PORT/DOMAIN"
            )
        extra["domain"] = path
    elif path:
        raise _fail(via, f"{scheme} takes no path; write {scheme}: or {scheme}://HOST[:PORT]")
    allowed = {"stream"} if scheme == "postmark" else set()
    unknown = sorted(set(options) - allowed)
    if unknown:
        raise _fail(via, f"unknown option {unknown[0]!r}")
    if "stream" in options:
        if not options["stream"]:
            raise _fail(via, "stream= needs a message stream name")
        extra["message_stream"] = options["stream"]
    return cls(
        api_key=key,
        api_base=api_base,
        ca_file=ca_file,
        timeout=timeout,
        resolver=resolver,
        **extra,
    )
