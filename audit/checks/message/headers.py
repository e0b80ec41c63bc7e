"""The message's format as a receiver's front door judges it (RFC 5322; Gmail's and Yahoo's
"messages must be formatted according to RFC 5322"): a parseable header section, exactly one
valid From, a sane Date, a well-formed Message-ID, no duplicated singleton headers, and a From
that does not borrow a mailbox provider's domain.

Header bytes are never trusted to be UTF-8: every value is decoded leniently (U+FFFD for bytes
that are not), so junk input gives a finding, never a traceback.
"""

from __future__ import annotations

import email.policy
import functools
import re
from datetime import UTC, datetime, timedelta
from email.header import decode_header, make_header
from email.message import Message
from email.utils import parsedate_to_datetime
from typing import Any

from email_validator import EmailNotValidError, validate_email

from audit.checks.message.context import MessageContext
from audit.message.mime import MAX_MIME_DEPTH
from audit.model import CheckResult, Finding, Severity
from audit.psl import organizational_domain
from audit.rules.msg import (
    MSG_DATE_INVALID,
    MSG_DUPLICATE_HEADER,
    MSG_FROM_INVALID,
    MSG_MESSAGE_ID_INVALID,
    MSG_MIME_TOO_DEEP,
    MSG_PROVIDER_IMPERSONATION,
    MSG_UNPARSEABLE,
)

# RFC 5322 3.6: fields that may occur at most once. Duplicated From is reported as MSG002.
SINGLETON_HEADERS = (
    "date", "from", "sender", "reply-to", "to", "cc", "bcc",
    "message-id", "in-reply-to", "references", "subject",
)  # fmt: skip
_DUPLICATE_SEVERITY = {
    "reply-to": Severity.MEDIUM,
    "bcc": Severity.MEDIUM,
    "in-reply-to": Severity.MEDIUM,
    "references": Severity.MEDIUM,
}
# Mailbox providers whose users send from the provider's own servers (and which publish
# DMARC): mail "from" them sent through anyone else's infrastructure fails DMARC.
PROVIDER_DOMAINS = frozenset(
    {
        "gmail.com", "googlemail.com",
        "yahoo.com", "yahoo.co.uk", "yahoo.fr", "yahoo.de", "yahoo.co.jp", "ymail.com",
        "rocketmail.com",
        "outlook.com", "hotmail.com", "hotmail.co.uk", "hotmail.fr", "live.com", "msn.com",
        "aol.com", "aim.com",
        "icloud.com", "me.com", "mac.com",
        "gmx.com", "gmx.de", "gmx.net", "web.de", "mail.com",
        "yandex.ru", "yandex.com", "mail.ru",
        "proton.me", "protonmail.com", "zoho.com", "fastmail.com",
        "comcast.net", "att.net", "verizon.net",
    }
)  # fmt: skip
FUTURE_TOLERANCE = timedelta(days=1)
STALE_AFTER = timedelta(days=30)

_FIELD_LINE = re.compile(rb"^[!-9;-~]+[ \t]*:")
_CONTROL = re.compile(rb"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f]")
_ATEXT = r"[A-Za-z0-9!#$%&'*+\-/=?^_`{|}~]"
_DOT_ATOM = rf"{_ATEXT}+(?:\.{_ATEXT}+)*"
_QUOTED = r'"(?:[^"\\\r\n]|\\.)*"'
_LITERAL = r"\[[!-Z^-~]*\]"
_MSG_ID = re.compile(rf"<(?:{_DOT_ATOM}|{_QUOTED})@(?:{_DOT_ATOM}|{_LITERAL})>")
_COMMENT = re.compile(r"\([^()]*\)")


# ----------------------------------------------------------------------------- header text


def decode_lenient(value: Any) -> str:
    """A header value as text: UTF-8 where the bytes are, U+FFFD where they are not."""
    text = value if isinstance(value, str) else str(value)
    try:
        data = text.encode("utf-8", "surrogateescape")
    except UnicodeEncodeError:
        data = text.encode("utf-8", "replace")
    return data.decode("utf-8", "replace")


def unfold(text: str) -> str:
    return re.sub(r"\r?\n(?=[ \t])", "", text).strip()


def header_texts(message: Message, name: str) -> list[str]:
    """Every instance of a header, topmost first, decoded leniently and unfolded."""
    wanted = name.lower()
    return [
        unfold(decode_lenient(value)) for key, value in message.raw_items() if key.lower() == wanted
    ]


def decode_words(text: str) -> str:
    """RFC 2047 encoded-words decoded for display; the text as is when they do not decode."""
    try:
        return decode_lenient(str(make_header(decode_header(text))))
    except Exception:  # noqa: BLE001 - display only: undecodable words stay as written
        return text


def header_counts(message: Message) -> dict[str, int]:
    counts: dict[str, int] = {}
    for key, _ in message.raw_items():
        name = decode_lenient(key).lower()
        counts[name] = counts.get(name, 0) + 1
    return counts


# ----------------------------------------------------------------------------- MSG001


def _is_utf8(data: bytes) -> bool:
    try:
        data.decode("utf-8")
    except UnicodeDecodeError:
        return False
    return True


def _structure(raw: bytes) -> tuple[dict[str, Any], list[tuple[Severity, str, str]], bool]:
    """The header section as bytes: (facts, problems (severity, message, evidence), fatal)."""
    problems: list[tuple[Severity, str, str]] = []
    facts: dict[str, Any] = {"bytes": len(raw)}
    if not raw.strip():
        return facts, [(Severity.HIGH, "the input is empty", "")], True
    end = re.search(rb"\n\r?\n", raw)  # split only the header section, not a 25 MB body
    lines = (raw[: end.end()] if end else raw).split(b"\n")
    header: list[bytes] = []
    terminated = False
    for number, line in enumerate(lines):
        line = line.rstrip(b"\r")
        if not line:
            terminated = number < len(lines) - 1  # not just the end of the input
            break
        header.append(line)
    section = b"\n".join(header)
    facts.update(
        header_lines=len(header),
        header_bytes=len(section),
        blank_line_after_headers=terminated,
        eight_bit=bool(re.search(rb"[\x80-\xff]", section)),
        longest_header_line=max((len(line) for line in header), default=0),
    )
    facts["utf8"] = _is_utf8(section)
    if not header:
        return (
            facts,
            [(Severity.HIGH, "the message starts with a blank line: no headers", "")],
            True,
        )
    first = header[0]
    if not _FIELD_LINE.match(first):
        binary = _CONTROL.search(first) or b"\x00" in raw[:1024] or not _is_utf8(first)
        what = "binary data" if binary else "text that is not a header field"
        evidence = repr(first[:48]) if binary else first[:80].decode("utf-8", "replace")
        return (
            facts,
            [(Severity.HIGH, f"no header section: the first line is {what}", evidence)],
            True,
        )
    if b"\x00" in section:
        problems.append((Severity.HIGH, "the header section contains NUL bytes", ""))
    elif _CONTROL.search(section):
        problems.append((Severity.MEDIUM, "the header section contains control characters", ""))
    for number, line in enumerate(header[1:], 2):
        if line[:1] in (b" ", b"\t") or _FIELD_LINE.match(line):
            continue
        following = sum(1 for rest in header[number:] if _FIELD_LINE.match(rest))
        problems.append(
            (
                Severity.MEDIUM,
                f"line {number} of the header section is not a header field: parsers end the "
                f"headers there and read the {following} header field(s) after it as body",
                line[:80].decode("utf-8", "replace"),
            )
        )
        break
    if not terminated and not raw.endswith((b"\n", b"\r")):
        problems.append(
            (
                Severity.LOW,
                "the input ends in the middle of a header line: the message looks truncated",
                header[-1][-80:].decode("utf-8", "replace"),
            )
        )
    return facts, problems, False


# ----------------------------------------------------------------------------- MSG002


def parse_mailboxes(value: str) -> tuple[list[dict[str, Any]], list[str]]:
    """The mailboxes of an address header and the parser's complaints (RFC 5322 3.4)."""
    mailboxes, problems = _parse_mailboxes(value)
    return [{"name": n, "address": a} for n, a in mailboxes], list(problems)


# The stdlib's header parser is slow and a run sees the same From header again and again.
@functools.lru_cache(maxsize=1024)
def _parse_mailboxes(value: str) -> tuple[tuple[tuple[str, str], ...], tuple[str, ...]]:
    try:
        parsed = email.policy.default.header_factory("From", value)
    except Exception as exc:  # noqa: BLE001 - the stdlib parser has raised on odd input before
        return (), (f"unparseable ({type(exc).__name__})",)
    problems = [
        decode_lenient(str(d))
        for d in parsed.defects
        if type(d).__name__ in ("InvalidHeaderDefect", "HeaderMissingRequiredValue")
    ]
    if any(g.display_name is not None for g in parsed.groups):
        problems.append("group syntax (name: addresses;) is not allowed in From")
    mailboxes = tuple(
        (decode_lenient(a.display_name), decode_lenient(a.addr_spec))
        for a in parsed.addresses
        if a.addr_spec not in ("", "<>")
    )
    return mailboxes, tuple(problems)


@functools.lru_cache(maxsize=1024)  # syntax only: a pure function of the text
def address_problem(address: str) -> str | None:
    """Why an addr-spec is not valid (syntax only, email-validator), or None."""
    try:
        validate_email(
            address,
            check_deliverability=False,
            test_environment=True,  # the reserved .test names used by fixtures are syntax-valid
            allow_quoted_local=True,
        )
    except EmailNotValidError as exc:
        return str(exc)
    except Exception as exc:  # noqa: BLE001 - a validator bug must not stop the audit
        return f"could not be validated ({type(exc).__name__})"
    return None


def _from_findings(ctx: MessageContext, facts: dict[str, Any]) -> tuple[list[Finding], str | None]:
    """MSG002 and the single From domain (None when there is no single valid one)."""
    froms = header_texts(ctx.message, "From")
    senders = header_texts(ctx.message, "Sender")
    evidence = [f"From: {v}" for v in froms] + [f"Sender: {v}" for v in senders]
    problems: list[str] = []
    severity = Severity.HIGH
    mailboxes: list[dict[str, Any]] = []  # parsed, then each marked valid or not
    if not froms:
        problems.append("the message has no From header (RFC 5322 3.6 requires exactly one)")
    elif len(froms) > 1:
        problems.append(
            f"the message has {len(froms)} From headers: receivers reject it or judge DMARC "
            "on one of them, and which one differs between them"
        )
    else:
        mailboxes, syntax = parse_mailboxes(froms[0])
        problems += [f"From is malformed: {p}" for p in syntax]
        if not mailboxes and not syntax:
            problems.append("From holds no address")
        for box in mailboxes:
            why = address_problem(box["address"])
            box["valid"] = why is None
            if why:
                problems.append(f"{box['address']!r} is not a valid address: {why}")
        if len(mailboxes) > 1:
            if not senders:
                problems.append(
                    f"From lists {len(mailboxes)} mailboxes and there is no Sender header "
                    "(RFC 5322 3.6.2 requires one)"
                )
            else:
                if not problems:
                    severity = Severity.MEDIUM
                problems.append(
                    f"From lists {len(mailboxes)} mailboxes: DMARC needs a single From domain "
                    "and many receivers reject multi-author mail (RFC 7489 6.6.1)"
                )
    facts["from_addresses"] = mailboxes
    findings = []
    if problems:
        findings.append(
            Finding(
                MSG_FROM_INVALID,
                ctx.name,
                message="; ".join(problems),
                evidence=evidence or ["(no From header)"],
                fix="Send with exactly one From header holding one address, e.g. "
                "`From: Example News <news@example.com>` (quote display names that contain "
                "commas or other specials).",
                severity=severity,
            )
        )
    domain = None
    if len(froms) == 1 and len(mailboxes) == 1 and mailboxes[0].get("valid"):
        address = mailboxes[0]["address"]
        domain = address.rsplit("@", 1)[1].strip("[]").rstrip(".").lower() or None
    return findings, domain


# ----------------------------------------------------------------------------- MSG003


def _receipt_time(ctx: MessageContext) -> tuple[datetime | None, str]:
    """When the receiver got the message: the date of the topmost dated Received header."""
    for index, value in enumerate(header_texts(ctx.message, "Received")):
        if ";" not in value:
            continue
        when = _parse_date(value.rsplit(";", 1)[1])
        if when is not None:
            return when, f"Received[{index}]"
    return None, ""


def _parse_date(text: str) -> datetime | None:
    text = _COMMENT.sub(" ", text).strip()
    if not text:
        return None
    try:
        when = parsedate_to_datetime(text)
    except (TypeError, ValueError, IndexError, OverflowError):
        return None
    if when is None:
        return None
    return when if when.tzinfo else when.replace(tzinfo=UTC)


def _days(delta: timedelta) -> str:
    days = abs(delta).total_seconds() / 86400
    return f"{days:.1f} days" if days < 10 else f"{days:.0f} days"


def _date_findings(ctx: MessageContext, facts: dict[str, Any]) -> list[Finding]:
    dates = header_texts(ctx.message, "Date")
    fix = "Set Date to the time of sending in RFC 5322 form, e.g. `Date: Tue, 24 Nov 2026 " \
        "10:00:00 +0000`, from a clock kept in sync (NTP)."  # fmt: skip
    if not dates:
        return [
            Finding(
                MSG_DATE_INVALID,
                ctx.name,
                message="the message has no Date header (RFC 5322 3.6 requires one)",
                evidence=["(no Date header)"],
                fix=fix,
            )
        ]
    when = _parse_date(dates[0])
    if when is None:
        return [
            Finding(
                MSG_DATE_INVALID,
                ctx.name,
                message=f"the Date header does not parse as an RFC 5322 date: {dates[0][:80]!r}",
                evidence=[f"Date: {dates[0]}"],
                fix=fix,
            )
        ]
    received, source = _receipt_time(ctx)
    now = ctx.now if ctx.now.tzinfo else ctx.now.replace(tzinfo=UTC)
    reference, label = (received, f"the time it was received ({source})") if received else (
        now, "now (no dated Received header; set the clock with --now)")  # fmt: skip
    facts["date_check"] = {
        "parsed": when.isoformat(),
        "reference": reference.isoformat(),
        "reference_source": source or "now",
    }
    delta = when - reference
    evidence = [f"Date: {dates[0]}", f"reference: {reference.isoformat()} ({source or 'now'})"]
    if delta > FUTURE_TOLERANCE:
        return [
            Finding(
                MSG_DATE_INVALID,
                ctx.name,
                message=f"Date is {_days(delta)} after {label}: a future date is a spam signal",
                evidence=evidence,
                fix=fix,
            )
        ]
    if -delta > STALE_AFTER:
        stale_send = received is not None
        return [
            Finding(
                MSG_DATE_INVALID,
                ctx.name,
                message=(
                    f"Date is {_days(delta)} before {label}: the sender's clock is wrong or "
                    "an old message was resent"
                    if stale_send
                    else f"the message is {_days(delta)} old: DKIM keys and DNS records may "
                    "have changed since it was sent (replay with --now)"
                ),
                evidence=evidence,
                fix=fix if stale_send else None,
                severity=Severity.LOW if stale_send else Severity.INFO,
            )
        ]
    return []


# ----------------------------------------------------------------------------- MSG004


def message_id_valid(value: str) -> bool:
    """RFC 5322 3.6.4 msg-id: `<id-left@id-right>`, CFWS around it allowed."""
    return bool(_MSG_ID.fullmatch(_COMMENT.sub("", value).strip()))


def _message_id_findings(ctx: MessageContext, from_domain: str | None) -> list[Finding]:
    ids = header_texts(ctx.message, "Message-ID")
    domain_hint = (
        from_domain
        if from_domain and from_domain not in PROVIDER_DOMAINS
        else "your-domain.example"
    )
    fix = (
        "Generate a unique Message-ID for every message, e.g. "
        f"`Message-ID: <20261124100000.4f2a9c@{domain_hint}>` (most sending libraries do so)."
    )
    if not ids:
        return [
            Finding(
                MSG_MESSAGE_ID_INVALID,
                ctx.name,
                message="the message has no Message-ID header: Gmail rejects such messages",
                evidence=["(no Message-ID header)"],
                fix=fix,
            )
        ]
    if not message_id_valid(ids[0]):
        return [
            Finding(
                MSG_MESSAGE_ID_INVALID,
                ctx.name,
                message=f"Message-ID is not of the form <left@right>: {ids[0][:80]!r}",
                evidence=[f"Message-ID: {ids[0]}"],
                fix=fix,
                severity=Severity.MEDIUM,
            )
        ]
    return []


# ----------------------------------------------------------------------------- MSG005


def _duplicate_findings(ctx: MessageContext, counts: dict[str, int]) -> list[Finding]:
    findings = []
    for name in SINGLETON_HEADERS:
        if name == "from" or counts.get(name, 0) <= 1:
            continue
        values = header_texts(ctx.message, name)
        label = _canonical(name)
        findings.append(
            Finding(
                MSG_DUPLICATE_HEADER,
                ctx.name,
                message=f"{label} appears {counts[name]} times (RFC 5322 3.6 allows one): "
                "Gmail rejects such messages as not RFC 5322 compliant",
                evidence=[f"{label}: {v[:200]}" for v in values],
                fix=f"Emit {label} once: find where the second copy is added (template, "
                "sending library, relay) and merge the values.",
                severity=_DUPLICATE_SEVERITY.get(name),
            )
        )
    return findings


def _canonical(name: str) -> str:
    return "Message-ID" if name == "message-id" else "-".join(p.title() for p in name.split("-"))


# ----------------------------------------------------------------------------- MSG006


_D_TAG = re.compile(r"(?:^|;)\s*d\s*=\s*([^;\s]+)", re.IGNORECASE)


async def _signing_domains(ctx: MessageContext) -> tuple[list[tuple[str, str]], str]:
    """(d=, result) of every DKIM signature: verified if the DKIM family is available."""
    try:
        verdicts = await ctx.dkim_verdicts()
        return [(v.domain or "", v.result) for v in verdicts], "verified"
    except Exception:  # noqa: BLE001 - fall back to reading d= from the headers
        found = []
        for value in header_texts(ctx.message, "DKIM-Signature"):
            match = _D_TAG.search(value)
            if match:
                found.append((match.group(1).lower().rstrip("."), "unverified"))
        return found, "read from the DKIM-Signature headers (verification unavailable)"


async def _impersonation(
    ctx: MessageContext, from_domain: str | None, facts: dict[str, Any]
) -> list[Finding]:
    if not from_domain or from_domain not in PROVIDER_DOMAINS:
        return []
    signatures, how = await _signing_domains(ctx)
    org = organizational_domain(from_domain)
    own = [(d, r) for d, r in signatures if d and organizational_domain(d) == org]
    facts["provider"] = {
        "from_domain": from_domain,
        "signatures": [{"d": d, "result": r} for d, r in signatures],
        "provider_signatures": [{"d": d, "result": r} for d, r in own],
        "how": how,
    }
    if own:
        return []  # signed by the provider (a failing signature is DKIM302's business)
    signers = ", ".join(f"d={d} ({r})" for d, r in signatures) or "no DKIM signature at all"
    return [
        Finding(
            MSG_PROVIDER_IMPERSONATION,
            from_domain,
            message=f"From is a {from_domain} address but the message carries no {from_domain} "
            f"DKIM signature ({signers}): sent from other infrastructure it fails "
            f"{from_domain}'s DMARC, and Gmail forbids impersonating provider From headers",
            evidence=[f"From: {v}" for v in header_texts(ctx.message, "From")],
            fix=f"Send as an address on a domain you control and authenticate (e.g. "
            f"`From: Name <news@yourdomain.example>`); put the {from_domain} address in "
            "Reply-To if replies should go there.",
        )
    ]


def _mime_depth_findings(ctx: MessageContext) -> list[Finding]:
    if ctx.mime_depth <= MAX_MIME_DEPTH:
        return []
    return [
        Finding(
            MSG_MIME_TOO_DEEP,
            ctx.name,
            message=f"MIME parts nest more than {MAX_MIME_DEPTH} levels deep: only the header "
            "section was read; receivers' filters stop there too and commonly reject or "
            "quarantine such a message",
            evidence=[f"nesting depth > {MAX_MIME_DEPTH} (counting stopped at {ctx.mime_depth})"],
            fix="Build the message with a flat MIME structure (multipart/mixed holding "
            "multipart/alternative is 2 levels); find the program that wraps parts in parts.",
        )
    ]


# ----------------------------------------------------------------------------- the check


def _envelope_facts(ctx: MessageContext) -> dict[str, Any]:
    env = ctx.envelope
    return {
        key: {"value": getattr(env, key).value, "source": getattr(env, key).source}
        for key in ("ip", "helo", "mail_from", "receiver")
    }


async def check(ctx: MessageContext) -> CheckResult:
    structure, problems, fatal = _structure(ctx.raw)
    counts = header_counts(ctx.message)
    first = {
        name: next(iter(header_texts(ctx.message, name)), None)
        for name in ("From", "To", "Subject", "Date", "Message-ID")
    }
    facts: dict[str, Any] = {
        "from": first["From"],
        "to": first["To"],
        "subject": decode_words(first["Subject"]) if first["Subject"] is not None else None,
        "date": first["Date"],
        "message_id": first["Message-ID"],
        "counts": {name: counts.get(name, 0) for name in SINGLETON_HEADERS},
        "structure": structure,
        "envelope": _envelope_facts(ctx),
        "hops": ctx.envelope.hops,
        "mime_depth": ctx.mime_depth,
    }
    findings = [
        Finding(
            MSG_UNPARSEABLE,
            ctx.name,
            message=message,
            evidence=[evidence] if evidence else [],
            fix="Save or export the message in RFC 5322 form (an .eml: header fields, a blank "
            "line, the body); if this is how it was sent, fix the program that built it.",
            severity=severity,
        )
        for severity, message, evidence in problems
    ]
    findings += _mime_depth_findings(ctx)
    if fatal:
        return CheckResult(facts={"headers": facts}, findings=findings)
    from_findings, from_domain = _from_findings(ctx, facts)
    findings += from_findings
    findings += _date_findings(ctx, facts)
    findings += _message_id_findings(ctx, from_domain)
    findings += _duplicate_findings(ctx, counts)
    findings += await _impersonation(ctx, from_domain, facts)
    return CheckResult(facts={"headers": facts}, findings=findings)
