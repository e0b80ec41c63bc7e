"""audit seed, sending side without a network: --via parsing, request shapes, status mapping,
the retry/backoff/pacing schedule (fake clock), and that no secret leaks anywhere."""

from __future__ import annotations

import asyncio
import base64
import email
import json
import logging
from email import policy

import httpx
import pytest

from audit.net.dns import Resolver, memory_backend
from audit.seed.send import (
    MailgunSender,
    PostmarkSender,
    SendError,
    SendGridSender,
    SendJob,
    SmtpSender,
    backoff_delay,
    make_sender,
    send_all,
)
from audit.seed.send.base import REDACTED, Scrubber
from audit.seed.send.http_api import HttpResponse, parse_retry_after, split_message
from audit.seed.send.net import HostResolver

SECRET = "s3cr3t-Pa55-kEy-0123456789"
ENV = {
    "AUDIT_SMTP_PASSWORD": SECRET,
    "AUDIT_SENDGRID_API_KEY": SECRET,
    "AUDIT_POSTMARK_TOKEN": SECRET,
    "AUDIT_MAILGUN_API_KEY": SECRET,
}
TOKEN = "a1b2c3d4e5f60718"
MESSAGE = (
    "From: News Team <news@example.com>\r\n"
    "To: seed1@example.net\r\n"
    "Subject: Seed test\r\n"
    "Date: Mon, 01 Jan 2024 00:00:00 +0000\r\n"
    "Message-ID: <x@example.com>\r\n"
    "DKIM-Signature: v=1; a=rsa-sha256; d=example.com; s=s1; b=abc\r\n"
    f"X-Audit-Seed-Token: {TOKEN}\r\n"
    "List-Unsubscribe: <mailto:unsub@example.com>\r\n"
    "MIME-Version: 1.0\r\n"
    'Content-Type: multipart/alternative; boundary="b1"\r\n'
    "\r\n"
    "--b1\r\n"
    "Content-Type: text/plain; charset=utf-8\r\n\r\n"
    f"Hello.\r\nAudit seed token: {TOKEN}\r\n"
    "--b1\r\n"
    "Content-Type: text/html; charset=utf-8\r\n\r\n"
    f"<p>Hello. Audit seed token: {TOKEN}</p>\r\n"
    "--b1--\r\n"
).encode()


# ---------------------------------------------------------------------------- --via


def test_via_smtp_defaults_to_submission_port_without_auth():
    sender = make_sender("smtp://relay.example.com", env={})
    assert isinstance(sender, SmtpSender)
    assert (sender.host, sender.port, sender.implicit_tls, sender.username) == (
        "relay.example.com",
        587,
        False,
        None,
    )
    assert sender.password is None


def test_via_smtps_with_user_takes_password_from_env():
    sender = make_sender("smtps://mailer@relay.example.com", env=ENV, ca_file="/ca.pem")
    assert (sender.host, sender.port, sender.implicit_tls) == ("relay.example.com", 465, True)
    assert (sender.username, sender.password, sender.ca_file) == ("mailer", SECRET, "/ca.pem")


@pytest.mark.parametrize(
    "via", ["smtp://news@example.com@relay.test:2525", "smtp://news%40example.com@relay.test:2525"]
)
def test_via_smtp_user_may_be_an_address(via):
    sender = make_sender(via, env=ENV)
    assert (sender.username, sender.host, sender.port) == ("news@example.com", "relay.test", 2525)


def test_via_smtp_ipv6_literal():
    sender = make_sender("smtp://[::1]:25", env={})
    assert (sender.host, sender.port) == ("::1", 25)


def test_via_smtp_user_without_password_is_refused():
    with pytest.raises(ValueError, match=r"set \$AUDIT_SMTP_PASSWORD"):
        make_sender("smtp://mailer@relay.example.com:587", env={})


def test_via_password_in_url_is_refused_without_repeating_it():
    with pytest.raises(ValueError) as caught:
        make_sender(f"smtp://mailer:{SECRET}@relay.example.com:587", env={})
    text = str(caught.value)
    assert SECRET not in text
    assert "smtp://***@relay.example.com:587" in text and "mailer" not in text
    assert "AUDIT_SMTP_PASSWORD" in text


@pytest.mark.parametrize(
    ("via", "shown"),
    [
        (f"sendgrid://{SECRET}@api.sendgrid.com", "sendgrid://***@api.sendgrid.com"),
        (f"postmark://{SECRET}@api.postmarkapp.com", "postmark://***@api.postmarkapp.com"),
        (f"mailgun://{SECRET}@api.mailgun.net/mg.example.com", "mailgun://***@api.mailgun.net/"),
        (f"mailgun:{SECRET}@mg.example.com", "mailgun:***@mg.example.com"),
        (f"sendgrid:{SECRET}@api.sendgrid.com", "sendgrid:***@api.sendgrid.com"),
        (f"smtp://{SECRET}@relay.example.com", "smtp://***@relay.example.com"),
        (f"smtps://apikey:{SECRET}@relay.example.com:465", "smtps://***@relay.example.com:465"),
        (f"{SECRET}:x@relay.example.com", "--via ***@relay.example.com"),
        (f"postmark:?token={SECRET}", "postmark:?token=***"),
    ],
)
def test_via_errors_never_repeat_the_user_part(via, shown):
    """A key written into --via (`sendgrid://KEY@host`) is masked in every error text."""
    with pytest.raises(ValueError) as caught:
        make_sender(via, env={})
    text = str(caught.value)
    assert SECRET not in text and SECRET[:8] not in text
    assert shown in text


@pytest.mark.parametrize(
    ("via", "needle"),
    [
        ("relay.example.com", "not a sending path"),
        ("ftp://relay.example.com", "unknown scheme 'ftp'"),
        ("smtp:relay.example.com", "smtp://[user@]host[:port]"),
        ("smtp://relay.example.com:99999", "port must be a number"),
        ("smtp://relay.example.com:587/path", "nothing may follow"),
        ("smtp://:587", "no host name"),
        ("sendgrid:extra", "sendgrid takes no path"),
        ("mailgun:", "name the sending domain"),
        ("mailgun://127.0.0.1:8443", "name the sending domain"),
        ("mailgun://api.eu.mailgun.net/a/b", "name the sending domain"),
        ("postmark://api.postmarkapp.com?stream=", "stream= needs"),
        ("postmark:?bogus=1", "unknown option 'bogus'"),
        (f"sendgrid://apikey:{SECRET}@api.sendgrid.com", "no credentials"),
    ],
)
def test_via_errors_are_one_clear_line(via, needle):
    with pytest.raises(ValueError) as caught:
        make_sender(via, env=ENV)
    text = str(caught.value)
    assert needle in text
    assert "\n" not in text
    assert text.startswith("--via ")
    assert SECRET not in text


@pytest.mark.parametrize("var", sorted(set(ENV) - {"AUDIT_SMTP_PASSWORD"}))
def test_via_api_without_key_names_the_variable(var):
    scheme = {
        "AUDIT_SENDGRID_API_KEY": "sendgrid:",
        "AUDIT_POSTMARK_TOKEN": "postmark:",
        "AUDIT_MAILGUN_API_KEY": "mailgun:example.com",
    }[var]
    with pytest.raises(ValueError, match=rf"set \${var}"):
        make_sender(scheme, env={})


def test_via_api_forms_and_host_override():
    sg = make_sender("sendgrid:", env=ENV)
    assert isinstance(sg, SendGridSender)
    assert sg.label == "sendgrid (api.sendgrid.com:443)"
    local = make_sender("sendgrid://127.0.0.1:8443", env=ENV, ca_file="/ca.pem")
    assert (local.label, local.ca_file) == ("sendgrid (127.0.0.1:8443)", "/ca.pem")
    pm = make_sender("postmark://api.postmarkapp.com?stream=broadcast", env=ENV)
    assert isinstance(pm, PostmarkSender)
    assert pm.message_stream == "broadcast"
    assert make_sender("postmark:", env=ENV).message_stream == "outbound"
    mg = make_sender("mailgun:mg.example.com", env=ENV)
    assert isinstance(mg, MailgunSender)
    assert (mg.domain, mg.label) == ("mg.example.com", "mailgun (api.mailgun.net:443)")
    assert make_sender("mailgun://mg.example.com", env=ENV).label == mg.label
    assert make_sender("mailgun://mg.example.com", env=ENV).domain == "mg.example.com"
    eu = make_sender("mailgun://api.eu.mailgun.net/mg.example.com", env=ENV)
    assert (eu.domain, eu.label) == ("mg.example.com", "mailgun (api.eu.mailgun.net:443)")


# ---------------------------------------------------------------------------- request shapes


def _sendgrid() -> SendGridSender:
    return SendGridSender(api_key=SECRET, api_base="https://127.0.0.1:9")


def test_split_message_keeps_bodies_and_custom_headers_only():
    parts = split_message(MESSAGE, "fallback@example.com")
    assert (parts.from_addr, parts.from_name, parts.subject) == (
        "news@example.com",
        "News Team",
        "Seed test",
    )
    assert parts.text == f"Hello.\nAudit seed token: {TOKEN}"
    assert parts.html == f"<p>Hello. Audit seed token: {TOKEN}</p>"
    assert parts.headers == [
        ("X-Audit-Seed-Token", TOKEN),
        ("List-Unsubscribe", "<mailto:unsub@example.com>"),
    ]


def test_split_message_without_body_is_a_permanent_stop():
    with pytest.raises(SendError) as caught:
        split_message(b"From: a@example.com\r\nSubject: x\r\n\r\n", "a@example.com")
    assert caught.value.stop_run


def test_sendgrid_request_shape():
    request = _sendgrid().build("bounce@example.com", "seed1@example.net", MESSAGE)
    assert (request.method, request.path) == ("POST", "/v3/mail/send")
    assert request.headers["Authorization"] == f"Bearer {SECRET}"
    assert request.headers["Content-Type"] == "application/json"
    body = json.loads(request.body)
    assert body["personalizations"] == [{"to": [{"email": "seed1@example.net"}]}]
    assert body["from"] == {"email": "news@example.com", "name": "News Team"}
    assert body["subject"] == "Seed test"
    assert [c["type"] for c in body["content"]] == ["text/plain", "text/html"]
    assert TOKEN in body["content"][0]["value"]
    assert body["headers"] == {
        "X-Audit-Seed-Token": TOKEN,
        "List-Unsubscribe": "<mailto:unsub@example.com>",
    }


def test_postmark_request_shape():
    sender = PostmarkSender(api_key=SECRET, api_base="https://127.0.0.1:9")
    request = sender.build("bounce@example.com", "seed1@example.net", MESSAGE)
    assert (request.method, request.path) == ("POST", "/email")
    assert request.headers["X-Postmark-Server-Token"] == SECRET
    body = json.loads(request.body)
    assert body["From"] == "News Team <news@example.com>"
    assert body["To"] == "seed1@example.net"
    assert body["MessageStream"] == "outbound"
    assert TOKEN in body["TextBody"] and TOKEN in body["HtmlBody"]
    assert {"Name": "X-Audit-Seed-Token", "Value": TOKEN} in body["Headers"]


def test_mailgun_request_carries_the_message_byte_for_byte():
    sender = MailgunSender(api_key=SECRET, api_base="https://127.0.0.1:9", domain="mg.example.com")
    request = sender.build("bounce@example.com", "seed1@example.net", MESSAGE)
    assert request.path == "/v3/mg.example.com/messages.mime"
    expected = base64.b64encode(f"api:{SECRET}".encode()).decode()
    assert request.headers["Authorization"] == f"Basic {expected}"
    head = f"Content-Type: {request.headers['Content-Type']}\r\n\r\n".encode()
    form = email.message_from_bytes(head + request.body, policy=policy.compat32)
    fields = {
        part.get_param("name", header="content-disposition"): part.get_payload(decode=True)
        for part in form.get_payload()
    }
    assert fields == {"to": b"seed1@example.net", "message": MESSAGE}


# ---------------------------------------------------------------------------- statuses


def _response(status: int, body: object = b"", **headers: str) -> HttpResponse:
    raw = json.dumps(body).encode() if not isinstance(body, bytes) else body
    return HttpResponse(status, {k.replace("_", "-").lower(): v for k, v in headers.items()}, raw)


def test_success_returns_the_provider_id():
    assert _sendgrid().interpret(_response(202, b"", x_message_id="SG-1")) == "SG-1"
    pm = PostmarkSender(api_key=SECRET)
    assert pm.interpret(_response(200, {"ErrorCode": 0, "MessageID": "pm-1"})) == "pm-1"
    mg = MailgunSender(api_key=SECRET, domain="mg.example.com")
    assert mg.interpret(_response(200, {"id": "<mg-1@x>", "message": "Queued"})) == "<mg-1@x>"


def test_refused_key_stops_the_run_and_never_echoes_the_key():
    body = {"errors": [{"message": f"bad key {SECRET}"}]}
    with pytest.raises(SendError) as caught:
        _sendgrid().interpret(_response(401, body))
    err = caught.value
    assert (err.permanent, err.stop_run, err.code) == (True, True, 401)
    assert "AUDIT_SENDGRID_API_KEY" in str(err)
    assert SECRET not in str(err) and SECRET not in err.status
    assert REDACTED in err.status


def test_429_is_retryable_with_retry_after():
    with pytest.raises(SendError) as caught:
        _sendgrid().interpret(_response(429, b"slow down", retry_after="3"))
    assert (caught.value.permanent, caught.value.retry_after, caught.value.code) == (
        False,
        3.0,
        429,
    )


def test_5xx_is_retryable_and_other_4xx_permanent():
    with pytest.raises(SendError) as caught:
        _sendgrid().interpret(_response(503, b"busy"))
    assert (caught.value.permanent, caught.value.retry_after) == (False, None)
    with pytest.raises(SendError) as caught:
        _sendgrid().interpret(_response(400, {"errors": [{"message": "bad from"}]}))
    assert (caught.value.permanent, caught.value.stop_run, caught.value.status) == (
        True,
        False,
        "bad from",
    )


def test_postmark_422_bad_token_stops_but_other_422_does_not():
    pm = PostmarkSender(api_key=SECRET)
    with pytest.raises(SendError) as caught:
        pm.interpret(_response(422, {"ErrorCode": 10, "Message": "Bad or missing API token"}))
    assert caught.value.stop_run
    with pytest.raises(SendError) as caught:
        pm.interpret(_response(422, {"ErrorCode": 406, "Message": "Inactive recipient"}))
    assert (caught.value.permanent, caught.value.stop_run) == (True, False)


def test_parse_retry_after():
    assert parse_retry_after("3") == 3.0
    assert parse_retry_after(" 0 ") == 0.0
    assert parse_retry_after("Wed, 21 Oct 2015 07:28:10 GMT", now=lambda: 1445412480.0) == 10.0
    assert parse_retry_after("Wed, 21 Oct 2015 07:28:00 GMT", now=lambda: 1445412490.0) == 0.0
    assert parse_retry_after("soon") is None
    assert parse_retry_after(None) is None


def test_smtp_reply_codes_map_to_retry_permanent_and_stop():
    sender = SmtpSender("relay.test", username="mailer", password=SECRET)
    transient = sender._reply_error(451, "4.3.0 try later", "RCPT TO")
    assert (transient.permanent, transient.stop_run, transient.code) == (False, False, 451)
    rejected = sender._reply_error(550, "5.1.1 no such user", "RCPT TO")
    assert (rejected.permanent, rejected.stop_run) == (True, False)
    auth = sender._reply_error(535, "5.7.8 bad credentials", "AUTH")
    assert (auth.permanent, auth.stop_run) == (True, True)
    assert "AUDIT_SMTP_PASSWORD" in str(auth)
    assert sender._reply_error(454, "4.7.0 try later", "AUTH").permanent is False
    assert sender._reply_error(554, "5.7.1 go away", "greeting").stop_run


# ---------------------------------------------------------------------------- batch schedule


class FakeTime:
    def __init__(self) -> None:
        self.now = 0.0
        self.sleeps: list[float] = []

    def clock(self) -> float:
        return self.now

    async def sleep(self, seconds: float) -> None:
        self.sleeps.append(round(seconds, 6))
        self.now += seconds


class ScriptedSender:
    """Per recipient, a list of outcomes: an exception to raise or an id to return."""

    def __init__(self, clock: FakeTime, script: dict[str, list[object]]) -> None:
        self.clock = clock
        self.script = {k: list(v) for k, v in script.items()}
        self.calls: list[tuple[str, float]] = []

    async def send(self, mail_from: str, rcpt: str, message: bytes) -> str | None:
        self.calls.append((rcpt, round(self.clock.now, 6)))
        outcome = self.script[rcpt].pop(0) if self.script.get(rcpt) else f"id-{rcpt}"
        if isinstance(outcome, BaseException):
            raise outcome
        return outcome  # type: ignore[return-value]


def _jobs(*rcpts: str) -> list[SendJob]:
    return [SendJob("news@example.com", r, MESSAGE) for r in rcpts]


def _run(sender, jobs, fake: FakeTime, **options):
    options.setdefault("rate", 0)
    return asyncio.run(send_all(sender, jobs, sleep=fake.sleep, clock=fake.clock, **options))


def _temp(**kw) -> SendError:
    return SendError("451 try later", permanent=False, code=451, **kw)


def test_backoff_delay_doubles_and_is_capped():
    assert [backoff_delay(n, 1.0, 10.0) for n in range(1, 6)] == [1, 2, 4, 8, 10]
    assert backoff_delay(1, 1.0, 10.0, retry_after=3) == 3
    assert backoff_delay(1, 1.0, 10.0, retry_after=300) == 10


def test_retries_back_off_exponentially_then_succeed():
    fake = FakeTime()
    sender = ScriptedSender(fake, {"a@x.test": [_temp(), _temp(), _temp(), "queued-1"]})
    [result] = _run(sender, _jobs("a@x.test"), fake, base_delay=1.0, max_attempts=4)
    assert fake.sleeps == [1.0, 2.0, 4.0]
    assert (result.ok, result.attempts, result.provider_id) == (True, 4, "queued-1")


def test_retries_give_up_after_max_attempts():
    fake = FakeTime()
    sender = ScriptedSender(fake, {"a@x.test": [_temp(), _temp(), _temp()]})
    [result] = _run(sender, _jobs("a@x.test"), fake, base_delay=0.5, max_attempts=3)
    assert fake.sleeps == [0.5, 1.0]
    assert (result.ok, result.attempts, result.permanent, result.code) == (False, 3, False, 451)
    assert result.error == "451 try later"


def test_retry_after_is_honoured_and_capped():
    fake = FakeTime()
    script = {"a@x.test": [_temp(retry_after=7.0), _temp(retry_after=900.0), "ok"]}
    [result] = _run(ScriptedSender(fake, script), _jobs("a@x.test"), fake, max_delay=60.0)
    assert fake.sleeps == [7.0, 60.0]
    assert result.ok


def test_permanent_error_is_not_retried_and_the_next_job_goes_on():
    fake = FakeTime()
    refused = SendError("550 no such user", permanent=True, code=550, status="5.1.1 no such user")
    sender = ScriptedSender(fake, {"a@x.test": [refused]})
    results = _run(sender, _jobs("a@x.test", "b@x.test"), fake)
    assert [(r.address, r.ok, r.attempts) for r in results] == [
        ("a@x.test", False, 1),
        ("b@x.test", True, 1),
    ]
    assert (results[0].code, results[0].status, results[0].permanent) == (
        550,
        "5.1.1 no such user",
        True,
    )
    assert fake.sleeps == []


def test_stop_run_reports_the_rest_as_not_sent():
    fake = FakeTime()
    auth = SendError("authentication failed", permanent=True, stop_run=True, code=535)
    sender = ScriptedSender(fake, {"b@x.test": [auth]})
    started: list[str] = []
    seen: list[str] = []
    results = _run(
        sender,
        _jobs("a@x.test", "b@x.test", "c@x.test", "d@x.test"),
        fake,
        before_send=started.append,
        on_result=lambda r: seen.append(r.address),
    )
    assert [c[0] for c in sender.calls] == ["a@x.test", "b@x.test"]
    assert started == ["a@x.test", "b@x.test"]
    assert seen == ["a@x.test", "b@x.test", "c@x.test", "d@x.test"]
    assert [(r.ok, r.skipped, r.stop_run, r.attempts) for r in results] == [
        (True, False, False, 1),
        (False, False, True, 1),
        (False, True, False, 0),
        (False, True, False, 0),
    ]
    assert results[2].error == "not sent: the run stopped after authentication failed"


def test_rate_spaces_attempts_retries_included():
    fake = FakeTime()
    sender = ScriptedSender(fake, {"b@x.test": [_temp()]})
    _run(sender, _jobs("a@x.test", "b@x.test", "c@x.test"), fake, rate=2.0, base_delay=0.1)
    # a at 0; b at 0.5 fails; backoff 0.1 -> 0.6, then waits for its slot at 1.0; c at 1.5
    assert sender.calls == [
        ("a@x.test", 0.0),
        ("b@x.test", 0.5),
        ("b@x.test", 1.0),
        ("c@x.test", 1.5),
    ]


def test_tuples_and_async_callbacks_are_accepted():
    fake = FakeTime()
    recorded: list[str] = []

    async def before_send(rcpt: str) -> None:
        recorded.append(rcpt)

    results = _run(
        ScriptedSender(fake, {}),
        [("news@example.com", "a@x.test", MESSAGE)],
        fake,
        before_send=before_send,
    )
    assert recorded == ["a@x.test"]
    assert results[0].as_dict()["address"] == "a@x.test"


def test_a_sender_bug_fails_the_job_without_its_text():
    fake = FakeTime()
    sender = ScriptedSender(fake, {"a@x.test": [RuntimeError(f"boom {SECRET}")]})
    [result] = _run(sender, _jobs("a@x.test"), fake)
    assert (result.ok, result.permanent) == (False, True)
    assert result.error == "unexpected RuntimeError in the sender"


def test_before_send_comes_after_the_rate_wait_once_per_job():
    """'sending' is recorded when the message is about to leave, not before the pacing wait."""
    fake = FakeTime()
    sender = ScriptedSender(fake, {"b@x.test": [_temp()]})
    started: list[tuple[str, float]] = []
    _run(
        sender,
        _jobs("a@x.test", "b@x.test", "c@x.test"),
        fake,
        rate=0.5,
        base_delay=0.1,
        before_send=lambda rcpt: started.append((rcpt, fake.now)),
    )
    first_calls = [
        next(c for c in sender.calls if c[0] == r) for r in ("a@x.test", "b@x.test", "c@x.test")
    ]
    assert started == first_calls == [("a@x.test", 0.0), ("b@x.test", 2.0), ("c@x.test", 6.0)]


def test_on_result_comes_as_each_job_finishes_with_the_send_time():
    fake = FakeTime()
    sender = ScriptedSender(fake, {"b@x.test": [SendError("550 no", permanent=True, code=550)]})
    seen: list[tuple[str, int, float | None]] = []
    wall = iter([1700000000.5, 1700000009.25])
    results = _run(
        sender,
        _jobs("a@x.test", "b@x.test", "c@x.test"),
        fake,
        wall_clock=lambda: next(wall),
        on_result=lambda r: seen.append((r.address, len(sender.calls), r.sent_at)),
    )
    assert seen == [  # called before the next job was attempted
        ("a@x.test", 1, 1700000000.5),
        ("b@x.test", 2, None),
        ("c@x.test", 3, 1700000009.25),
    ]
    assert results[0].as_dict()["sent_at"] == 1700000000.5


def test_a_possibly_sent_message_is_never_retried():
    fake = FakeTime()
    lost = SendError(
        "relay: no reply to the end of DATA within 30 s; the message may have been sent",
        permanent=False,
        status="possibly sent: no reply to the end of DATA within 30 s",
        maybe_sent=True,
    )
    sender = ScriptedSender(fake, {"a@x.test": [lost, "would-be-a-second-copy"]})
    results = _run(sender, _jobs("a@x.test", "b@x.test"), fake, max_attempts=4)
    assert [c[0] for c in sender.calls] == ["a@x.test", "b@x.test"]
    assert fake.sleeps == []
    first = results[0]
    assert (first.ok, first.maybe_sent, first.attempts, first.skipped, first.stop_run) == (
        False,
        True,
        1,
        False,
        False,
    )
    assert first.status == "possibly sent: no reply to the end of DATA within 30 s"
    assert first.sent_at is None
    assert results[1].ok


def _refused() -> SendError:
    return SendError("relay: cannot connect: connection refused", permanent=False, unreachable=True)


def test_an_unreachable_relay_costs_one_seeds_retries_not_all():
    fake = FakeTime()
    script = {r: [_refused()] * 9 for r in ("a@x.test", "b@x.test", "c@x.test")}
    sender = ScriptedSender(fake, script)
    results = _run(sender, _jobs("a@x.test", "b@x.test", "c@x.test"), fake, max_attempts=3)
    assert [c[0] for c in sender.calls] == ["a@x.test"] * 3
    assert [(r.attempts, r.stop_run, r.skipped, r.unreachable) for r in results] == [
        (3, True, False, True),
        (0, False, True, False),
        (0, False, True, False),
    ]
    assert results[1].error == (
        "not sent: the run stopped after the relay could not be reached"
        " (relay: cannot connect: connection refused)"
    )


def test_an_unreachable_relay_after_a_success_does_not_stop_the_run():
    fake = FakeTime()
    sender = ScriptedSender(fake, {"b@x.test": [_refused()] * 2})
    results = _run(sender, _jobs("a@x.test", "b@x.test", "c@x.test"), fake, max_attempts=2)
    assert [(r.ok, r.stop_run, r.skipped) for r in results] == [
        (True, False, False),
        (False, False, False),
        (True, False, False),
    ]


def test_a_relay_that_comes_back_within_the_retries_goes_on():
    fake = FakeTime()
    sender = ScriptedSender(fake, {"a@x.test": [_refused(), "queued"]})
    results = _run(sender, _jobs("a@x.test", "b@x.test"), fake, max_attempts=3)
    assert [(r.ok, r.attempts) for r in results] == [(True, 2), (True, 1)]


# ---------------------------------------------------------------------------- secret hygiene


def test_scrubber_removes_the_secret_and_its_auth_encodings():
    scrub = Scrubber([SECRET], ["mailer"])
    plain = base64.b64encode(f"\0mailer\0{SECRET}".encode()).decode()
    login = base64.b64encode(SECRET.encode()).decode()
    text = scrub(f"535 bad {SECRET} / AUTH PLAIN {plain} / {login}")
    assert SECRET not in text and plain not in text and login not in text
    assert text.count(REDACTED) == 3


def test_no_secret_in_reprs():
    senders = [make_sender(v, env=ENV) for v in ("smtp://u@h.test", "sendgrid:", "postmark:")]
    senders.append(make_sender("mailgun:mg.example.com", env=ENV))
    for sender in senders:
        assert SECRET not in repr(sender)
        assert SECRET not in sender.label  # type: ignore[attr-defined]


def test_no_secret_in_results_or_logs(caplog):
    """A whole batch through the HTTP path (an httpx MockTransport in place of the network):
    the key, though echoed by the server, shows up in no result, no log record and no
    exception text."""
    caplog.set_level(logging.DEBUG)
    replies = iter(
        [
            _response(500, f"oops {SECRET}".encode()),
            _response(202, b"", x_message_id="SG-9"),
            _response(401, {"errors": [{"message": f"key {SECRET} revoked"}]}),
        ]
    )
    seen: list[tuple[str, str | None]] = []

    def provider(request: httpx.Request) -> httpx.Response:
        seen.append((str(request.url), request.headers.get("authorization")))
        reply = next(replies)
        return httpx.Response(reply.status, headers=reply.headers, content=reply.body)

    sender = SendGridSender(
        api_key=SECRET, api_base="https://127.0.0.1:9", transport=httpx.MockTransport(provider)
    )
    fake = FakeTime()
    results = _run(sender, _jobs("a@x.test", "b@x.test", "c@x.test"), fake, base_delay=0.01)
    assert [(r.ok, r.skipped) for r in results] == [(True, False), (False, False), (False, True)]
    dumped = json.dumps([r.as_dict() for r in results])
    assert SECRET not in dumped
    assert REDACTED in dumped
    assert SECRET not in caplog.text
    assert "retrying" in caplog.text  # the logs did say something
    assert seen == [("https://127.0.0.1:9/v3/mail/send", f"Bearer {SECRET}")] * 3


# ---------------------------------------------------------------------------- host names


def _hosts(records) -> HostResolver:
    return HostResolver(Resolver(memory_backend(records)), timeout=1)


def test_host_names_resolve_through_our_resolver():
    hosts = _hosts({"relay.test": [("A", "192.0.2.1"), ("AAAA", "2001:db8::1")]})
    assert asyncio.run(hosts.addresses("relay.test")) == ["192.0.2.1", "2001:db8::1"]
    assert asyncio.run(hosts.addresses("192.0.2.9")) == ["192.0.2.9"]  # literal: no lookup


def test_unknown_host_stops_the_run_but_a_timeout_is_retryable():
    hosts = _hosts({"relay.test": [("TXT", '"x"')], "slow.test": [("TIMEOUT", "")]})
    outcomes = {}
    for name in ("nowhere.test", "relay.test", "slow.test"):
        with pytest.raises(SendError) as caught:
            asyncio.run(hosts.addresses(name))
        err = caught.value
        outcomes[name] = (str(err), err.permanent, err.stop_run, err.unreachable)
    assert outcomes == {
        "nowhere.test": ("nowhere.test does not exist (NXDOMAIN)", True, True, True),
        "relay.test": ("relay.test has no A or AAAA record", True, True, True),
        "slow.test": ("cannot look up slow.test: TIMEOUT", False, False, True),
    }
