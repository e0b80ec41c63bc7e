"""The seed test message: the token in a header and in the body, built in or from a template."""

from __future__ import annotations

import datetime as dt
import email
import email.policy

import pytest

from audit.seed.message import (
    TOKEN_HEADER,
    TOKEN_LINE,
    build_test_message,
    check_token,
    new_token,
)

NOW = dt.datetime(2026, 11, 30, 12, 0, tzinfo=dt.UTC)
TOKEN = "20261130a1b2c3-0badcafe"


def _parse(raw: bytes) -> email.message.EmailMessage:
    return email.message_from_bytes(raw, policy=email.policy.default)


def _texts(msg: email.message.EmailMessage) -> dict[str, str]:
    return {
        p.get_content_type(): p.get_content().replace("\r\n", "\n")
        for p in msg.walk()
        if p.get_content_maintype() == "text"
    }


def test_builtin_message() -> None:
    raw = build_test_message("News <news@example.com>", "seed@seeds.test", TOKEN, now=NOW)
    assert b"\r\n" in raw and b"\n" not in raw.replace(b"\r\n", b"")  # CRLF for SMTP
    msg = _parse(raw)
    assert msg[TOKEN_HEADER] == TOKEN
    assert TOKEN in msg["Subject"]
    assert (msg["From"], msg["To"]) == ("News <news@example.com>", "seed@seeds.test")
    assert msg["Date"].datetime == NOW
    assert msg["Message-ID"].startswith(f"<audit-seed.{TOKEN}.")
    assert msg["Message-ID"].endswith("@example.com>")
    assert "List-Unsubscribe" not in msg and "Bcc" not in msg
    texts = _texts(msg)
    assert set(texts) == {"text/plain", "text/html"}
    assert f"{TOKEN_LINE}{TOKEN}" in texts["text/plain"]
    assert f"{TOKEN_LINE}{TOKEN}" in texts["text/html"]
    assert [p.get("MIME-Version") for p in msg.iter_parts()] == [None, None]


def test_message_ids_differ_per_seed_and_domain_can_be_given() -> None:
    one = _parse(build_test_message("a@x.test", "s1@seeds.test", TOKEN))
    two = _parse(build_test_message("a@x.test", "s2@seeds.test", TOKEN, message_id_domain="m.test"))
    assert one["Message-ID"] != two["Message-ID"]
    assert two["Message-ID"].endswith("@m.test>")


TEMPLATE = (
    b"Return-Path: <bounce@old.test>\r\n"
    b"Received: from mx.old.test by mail.old.test\r\n"
    b"Authentication-Results: mx.old.test; dkim=pass header.d=example.com\r\n"
    b"DKIM-Signature: v=1; a=rsa-sha256; d=example.com; s=s1; b=abc\r\n"
    b"From: Acme News <NEWS@example.com>\r\n"
    b"To: someone@old.test\r\n"
    b"Bcc: hidden@old.test\r\n"
    b"Subject: Our November news\r\n"
    b"Date: Mon, 02 Nov 2026 09:00:00 +0000\r\n"
    b"Message-ID: <fixed@example.com>\r\n"
    b"List-Unsubscribe: <https://example.com/u/1>\r\n"
    b"X-Campaign: nov\r\n"
    b"MIME-Version: 1.0\r\n"
    b'Content-Type: multipart/mixed; boundary="outer"\r\n'
    b"\r\n"
    b"--outer\r\n"
    b'Content-Type: multipart/alternative; boundary="alt"\r\n'
    b"\r\n"
    b"--alt\r\n"
    b"Content-Type: text/plain; charset=iso-8859-1\r\n"
    b"Content-Transfer-Encoding: quoted-printable\r\n"
    b"\r\n"
    b"Gr=FC=DFe aus M=FCnchen\r\n"
    b"--alt\r\n"
    b"Content-Type: text/html; charset=utf-8\r\n"
    b"\r\n"
    b"<html><body><p>Hi</p></body></html>\r\n"
    b"--alt--\r\n"
    b"--outer\r\n"
    b"Content-Type: application/pdf\r\n"
    b'Content-Disposition: attachment; filename="n.pdf"\r\n'
    b"Content-Transfer-Encoding: base64\r\n"
    b"\r\n"
    b"JVBERi0xLjQK\r\n"
    b"--outer--\r\n"
)


def test_template_keeps_the_message_and_adds_the_token() -> None:
    raw = build_test_message(
        "news@example.com", "seed@seeds.test", TOKEN, template=TEMPLATE, now=NOW
    )
    msg = _parse(raw)
    assert msg["To"] == "seed@seeds.test"
    assert msg["From"] == "Acme News <NEWS@example.com>"  # same address: display name kept
    assert msg[TOKEN_HEADER] == TOKEN
    assert msg["Subject"] == "Our November news"
    assert msg["List-Unsubscribe"] == "<https://example.com/u/1>"
    assert msg["X-Campaign"] == "nov"
    assert msg["Date"].datetime == NOW
    assert msg["Message-ID"] != "<fixed@example.com>"
    for gone in ("Bcc", "Received", "Return-Path", "Authentication-Results", "DKIM-Signature"):
        assert gone not in msg, gone
    texts = _texts(msg)
    assert texts["text/plain"].startswith("Grüße aus München")
    assert texts["text/plain"].rstrip().endswith(f"{TOKEN_LINE}{TOKEN}")  # the first text part
    assert texts["text/html"] == "<html><body><p>Hi</p></body></html>"  # untouched
    plain = next(p for p in msg.walk() if p.get_content_type() == "text/plain")
    assert plain["Content-Transfer-Encoding"] == "quoted-printable"  # no 8bit on the wire
    assert "MIME-Version" not in plain
    attachment = next(p for p in msg.walk() if p.get_content_type() == "application/pdf")
    assert attachment.get_content() == b"%PDF-1.4\n"


def test_template_from_is_replaced_when_the_address_differs() -> None:
    raw = build_test_message("other@example.org", "seed@seeds.test", TOKEN, template=TEMPLATE)
    assert _parse(raw)["From"] == "other@example.org"
    raw = build_test_message(None, "seed@seeds.test", TOKEN, template=TEMPLATE)
    assert _parse(raw)["From"] == "Acme News <NEWS@example.com>"


def test_html_only_template_gets_the_line_before_body_end() -> None:
    template = (
        b"From: a@example.com\r\nSubject: s\r\nContent-Type: text/html\r\n\r\n"
        b"<html><BODY><p>x</p></BODY></html>\r\n"
    )
    msg = _parse(build_test_message("a@example.com", "s@seeds.test", TOKEN, template=template))
    assert (
        msg.get_content().replace("\r\n", "\n")
        == f"<html><BODY><p>x</p><p>{TOKEN_LINE}{TOKEN}</p>\n</BODY></html>\n"
    )


def test_bad_templates_and_tokens() -> None:
    with pytest.raises(ValueError, match="no text part"):
        build_test_message(
            "a@x.test",
            "s@seeds.test",
            TOKEN,
            template=b"From: a@x.test\r\nContent-Type: image/png\r\n\r\nxx\r\n",
        )
    with pytest.raises(ValueError, match="not an email message"):
        build_test_message("a@x.test", "s@seeds.test", TOKEN, template=b"")
    with pytest.raises(ValueError, match="seed token"):
        build_test_message("a@x.test", "s@seeds.test", "bad\r\nBcc: x@y")
    with pytest.raises(ValueError):
        check_token("short")
    assert check_token(new_token()) and new_token() != new_token()


HEAD_8BIT = b"From: a@example.com\r\nSubject: s\r\nMIME-Version: 1.0\r\n"
UNKNOWN_8BIT = {  # charset="unknown-8bit" is what the email package itself writes
    "plain": HEAD_8BIT + b'Content-Type: text/plain; charset="unknown-8bit"\r\n'
    b"Content-Transfer-Encoding: 8bit\r\n\r\n"
    b"Gr\xfc\xdfe \x81 aus M\xfcnchen\r\n",
    "html": HEAD_8BIT + b'Content-Type: multipart/alternative; boundary="alt"\r\n\r\n'
    b"--alt\r\n"
    b'Content-Type: text/html; charset="unknown-8bit"\r\n'
    b"Content-Transfer-Encoding: base64\r\n\r\n"
    b"PGh0bWw+PGJvZHk+SGFsbPYgPC9ib2R5PjwvaHRtbD4=\r\n"  # <html><body>Hall\xf6 </body></html>
    b"--alt--\r\n",
}
EXPECTED_8BIT = {
    "plain": f"Gr\xfc\xdfe \x81 aus M\xfcnchen\r\n\r\n{TOKEN_LINE}{TOKEN}\r\n",
    "html": f"<html><body>Hall\xf6 <p>{TOKEN_LINE}{TOKEN}</p>\r\n</body></html>",
}


@pytest.mark.parametrize("subtype", ["plain", "html"])
def test_template_with_an_unknown_charset_keeps_its_bytes(subtype: str) -> None:
    template = UNKNOWN_8BIT[subtype]
    raw = build_test_message("a@example.com", "s@seeds.test", TOKEN, template=template)
    assert max(raw) < 0x80  # no 8-bit on the wire: quoted-printable
    part = next(p for p in _parse(raw).walk() if p.get_content_type() == f"text/{subtype}")
    assert part.get_content_charset() == "unknown-8bit"  # the label is kept
    assert part.get_payload(decode=True) == EXPECTED_8BIT[subtype].encode("latin-1")


def test_any_template_problem_is_a_one_line_value_error(monkeypatch) -> None:
    from email.errors import HeaderParseError

    import audit.seed.message as message

    def broken(msg):
        raise HeaderParseError("expected\nsomething else")

    monkeypatch.setattr(message, "_first_text_part", broken)
    with pytest.raises(ValueError, match="the template cannot be used: HeaderParseError") as caught:
        build_test_message("a@x.test", "s@seeds.test", TOKEN, template=TEMPLATE)
    assert "\n" not in str(caught.value)
