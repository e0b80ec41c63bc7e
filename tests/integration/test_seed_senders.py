"""audit seed, sending side, against real servers on loopback.

SMTP: aiosmtpd relays with STARTTLS (or implicit TLS) and AUTH, certificates from the test CA.
HTTP: the provider stand-ins of tests/infra/api_standin.py, which check the documented request
shape and relay into an aiosmtpd sink, so every test asserts that the copy really arrived.
Backoff sleeps are recorded, not slept (`sleep=` injected): no test waits for a retry.
"""

from __future__ import annotations

import asyncio
import email
import os
from collections.abc import Callable
from email import policy
from pathlib import Path

import pytest

from audit.net.dns import Resolver, memory_backend
from audit.seed.send import SendJob, make_sender, send_all
from tests.infra.certs import TestCA
from tests.infra.netutil import free_port, refused_port, retry_port_clash

try:
    from aiosmtpd.controller import Controller
    from aiosmtpd.smtp import AuthResult, LoginPassword
except ImportError:  # pragma: no cover - installed with the test extras
    if os.environ.get("CI", "").lower() not in ("", "0", "false", "no"):
        pytest.fail("aiosmtpd is not installed (CI is set: these tests must run)", pytrace=False)
    pytest.skip("aiosmtpd is not installed", allow_module_level=True)

from tests.infra.api_standin import HANG_UP, ApiStandin

pytestmark = pytest.mark.filterwarnings("ignore:Requiring AUTH while not requiring TLS")

PASSWORD = "Rel4y-pa55word-9f8e7d"
API_KEY = "SG.standin-key-0a1b2c3d4e5f"
FROM = "news@example.test"
TOKEN_HEADER = "X-Audit-Seed-Token"


def message_for(rcpt: str, token: str) -> bytes:
    return (
        f"From: News <{FROM}>\r\n"
        f"To: {rcpt}\r\n"
        "Subject: Seed test\r\n"
        "Date: Mon, 01 Jan 2024 00:00:00 +0000\r\n"
        f"Message-ID: <{token}@example.test>\r\n"
        f"{TOKEN_HEADER}: {token}\r\n"
        "MIME-Version: 1.0\r\n"
        "Content-Type: text/plain; charset=utf-8\r\n"
        "\r\n"
        f"Hello seed.\r\nAudit seed token: {token}\r\n"
    ).encode()


class Recorder:
    """aiosmtpd handler: keeps every message; scripted RCPT answers by local part."""

    def __init__(self) -> None:
        self.messages: list[dict] = []
        self.auth_attempts: list[str] = []
        self._deferred: set[str] = set()

    async def handle_RCPT(self, server, session, envelope, address, rcpt_options):  # noqa: N802
        local = address.split("@")[0]
        if local.startswith("flaky") and address not in self._deferred:
            self._deferred.add(address)
            return "451 4.3.0 Try again later"
        if local.startswith("nobody"):
            return "550 5.1.1 No such user"
        envelope.rcpt_tos.append(address)
        return "250 OK"

    async def handle_DATA(self, server, session, envelope):  # noqa: N802
        self.messages.append(
            {
                "mail_from": envelope.mail_from,
                "rcpt_tos": list(envelope.rcpt_tos),
                "content": envelope.original_content or envelope.content,
                "tls": server.transport.get_extra_info("ssl_object") is not None,
                "login": session.auth_data if session.authenticated else None,
            }
        )
        return "250 2.0.0 Ok: queued as Q1234ABC"

    def authenticator(self, server, session, envelope, mechanism, auth_data):
        if not isinstance(auth_data, LoginPassword):
            return AuthResult(success=False, handled=False)
        self.auth_attempts.append(auth_data.login.decode())
        ok = auth_data.login == b"mailer" and auth_data.password == PASSWORD.encode()
        return AuthResult(success=ok, handled=False, auth_data=auth_data.login.decode())

    def find(self, token: str) -> list[dict]:
        return [m for m in self.messages if token.encode() in m["content"]]


class LossyRecorder(Recorder):
    """Takes the whole message, then loses the answer: for "vanish..." recipients it closes
    the connection, for "hang..." ones it never replies (until the client gives up)."""

    async def handle_DATA(self, server, session, envelope):  # noqa: N802
        reply = await super().handle_DATA(server, session, envelope)
        local = envelope.rcpt_tos[0].split("@")[0]
        if local.startswith("vanish"):
            server.transport.close()
        elif local.startswith("hang"):
            while not server.transport.is_closing():
                await asyncio.sleep(0.05)
        return reply


def _start(make: Callable[[], Controller]) -> Controller:
    """Start a relay on a fresh port, again on another when the port was taken meanwhile
    (aiosmtpd needs its port before it binds: it connects to it to see it listening)."""

    def start() -> Controller:
        controller = make()
        controller.start()
        return controller

    return retry_port_clash(start)


@pytest.fixture(scope="module")
def pki(tmp_path_factory) -> dict[str, str]:
    directory: Path = tmp_path_factory.mktemp("seed-pki")
    ca = TestCA()
    names = ("localhost", "127.0.0.1", "relay.example.test", "api.standin.test")
    cert, key = ca.issue(*names).write(directory, "server")
    other = TestCA("another CA").write_ca(directory / "other-ca.pem")
    return {
        "ca": str(ca.write_ca(directory / "ca.pem")),
        "other_ca": str(other),
        "cert": str(cert),
        "key": str(key),
    }


def _server_tls(pki: dict[str, str]):
    import ssl

    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    context.load_cert_chain(pki["cert"], pki["key"])
    return context


@pytest.fixture(scope="module")
def relay(pki):
    """Submission relay: STARTTLS required before AUTH, AUTH required before MAIL."""
    handler = Recorder()
    controller = _start(
        lambda: Controller(
            handler,
            hostname="127.0.0.1",
            port=free_port(),
            tls_context=_server_tls(pki),
            require_starttls=True,
            auth_required=True,
            authenticator=handler.authenticator,
        )
    )
    yield controller
    controller.stop()


@pytest.fixture(scope="module")
def smtps_relay(pki):
    handler = Recorder()
    controller = _start(
        lambda: Controller(
            handler,
            hostname="127.0.0.1",
            port=free_port(),
            ssl_context=_server_tls(pki),
            auth_required=True,
            auth_require_tls=False,  # aiosmtpd counts only STARTTLS as TLS; this is TLS already
            authenticator=handler.authenticator,
        )
    )
    yield controller
    controller.stop()


@pytest.fixture(scope="module")
def cleartext_relay():
    """Offers AUTH without TLS (a misconfigured relay): the password must not go there."""
    handler = Recorder()
    controller = _start(
        lambda: Controller(
            handler,
            hostname="127.0.0.1",
            port=free_port(),
            auth_require_tls=False,
            authenticator=handler.authenticator,
        )
    )
    yield controller
    controller.stop()


@pytest.fixture(scope="module")
def lossy_relay():
    """Plain SMTP, no AUTH: accepts every message and then loses its reply (LossyRecorder)."""
    controller = _start(lambda: Controller(LossyRecorder(), hostname="127.0.0.1", port=free_port()))
    yield controller
    controller.stop()


@pytest.fixture(scope="module")
def sink():
    """Where the API stand-ins deliver: plain SMTP on loopback."""
    controller = _start(lambda: Controller(Recorder(), hostname="127.0.0.1", port=free_port()))
    yield controller
    controller.stop()


@pytest.fixture(scope="module")
def standins(pki, sink):
    started = {
        provider: ApiStandin.start(
            provider,
            key=API_KEY,
            relay=("127.0.0.1", sink.port),
            cert_file=pki["cert"],
            key_file=pki["key"],
        )
        for provider in ("sendgrid", "postmark", "mailgun")
    }
    yield started
    for standin in started.values():
        standin.stop()


ENV_VAR = {
    "sendgrid": "AUDIT_SENDGRID_API_KEY",
    "postmark": "AUDIT_POSTMARK_TOKEN",
    "mailgun": "AUDIT_MAILGUN_API_KEY",
}


class Sleeps(list):
    async def __call__(self, seconds: float) -> None:
        self.append(seconds)


def _send(sender, jobs, **options):
    sleeps = Sleeps()
    options.setdefault("rate", 0)
    results = asyncio.run(send_all(sender, jobs, sleep=sleeps, **options))
    return results, sleeps


def _smtp_sender(controller, pki, *, scheme="smtp", password=PASSWORD, ca="ca"):
    return make_sender(
        f"{scheme}://mailer@127.0.0.1:{controller.port}",
        ca_file=pki[ca],
        timeout=5,
        env={"AUDIT_SMTP_PASSWORD": password},
        helo="sender.example.test",
    )


def _secret_free(results, *secrets: str) -> None:
    for result in results:
        text = repr(result) + str(result.as_dict())
        for secret in secrets:
            assert secret not in text


# ---------------------------------------------------------------------------- SMTP


def test_smtp_starttls_auth_delivers_the_token_intact(relay, pki):
    message = message_for("seed1@example.net", "tok-smtp-1")
    results, _ = _send(_smtp_sender(relay, pki), [SendJob(FROM, "seed1@example.net", message)])
    [result] = results
    assert (result.ok, result.provider_id, result.attempts) == (True, "Q1234ABC", 1)
    [got] = relay.handler.find("tok-smtp-1")
    assert (got["mail_from"], got["rcpt_tos"], got["tls"], got["login"]) == (
        FROM,
        ["seed1@example.net"],
        True,
        "mailer",
    )
    assert got["content"].rstrip(b"\r\n") == message.rstrip(b"\r\n")
    parsed = email.message_from_bytes(got["content"], policy=policy.default)
    assert parsed[TOKEN_HEADER] == "tok-smtp-1"


def test_smtps_implicit_tls_delivers(smtps_relay, pki):
    message = message_for("seed2@example.net", "tok-smtps-1")
    sender = _smtp_sender(smtps_relay, pki, scheme="smtps")
    [result], _ = _send(sender, [SendJob(FROM, "seed2@example.net", message)])
    assert result.ok
    [got] = smtps_relay.handler.find("tok-smtps-1")
    assert (got["tls"], got["login"]) == (True, "mailer")


def test_smtp_one_message_per_seed(relay, pki):
    seeds = ["seed3@example.net", "seed4@example.org"]
    jobs = [SendJob(FROM, s, message_for(s, f"tok-per-seed-{i}")) for i, s in enumerate(seeds)]
    results, _ = _send(_smtp_sender(relay, pki), jobs)
    assert [r.ok for r in results] == [True, True]
    for i, seed in enumerate(seeds):
        [got] = relay.handler.find(f"tok-per-seed-{i}")
        assert got["rcpt_tos"] == [seed]


def test_smtp_wrong_password_is_a_permanent_stop(relay, pki):
    sender = _smtp_sender(relay, pki, password="not-the-password-123")
    jobs = [
        SendJob(FROM, "seed5@example.net", message_for("seed5@example.net", "tok-bad-pw")),
        SendJob(FROM, "seed6@example.net", message_for("seed6@example.net", "tok-bad-pw-2")),
    ]
    results, sleeps = _send(sender, jobs)
    first, second = results
    assert (first.ok, first.permanent, first.stop_run, first.code, first.attempts) == (
        False,
        True,
        True,
        535,
        1,
    )
    assert "authentication failed" in first.error and "AUDIT_SMTP_PASSWORD" in first.error
    assert (second.ok, second.skipped, second.attempts) == (False, True, 0)
    assert sleeps == []
    assert relay.handler.find("tok-bad-pw") == []
    _secret_free(results, "not-the-password-123")


def test_smtp_451_once_then_250_is_retried(relay, pki):
    message = message_for("flaky1@example.net", "tok-flaky-1")
    results, sleeps = _send(
        _smtp_sender(relay, pki), [SendJob(FROM, "flaky1@example.net", message)], base_delay=0.5
    )
    [result] = results
    assert (result.ok, result.attempts) == (True, 2)
    assert sleeps == [0.5]
    assert len(relay.handler.find("tok-flaky-1")) == 1


def test_smtp_550_fails_that_seed_only(relay, pki):
    jobs = [
        SendJob(FROM, "nobody@example.net", message_for("nobody@example.net", "tok-550")),
        SendJob(FROM, "seed7@example.net", message_for("seed7@example.net", "tok-after-550")),
    ]
    results, sleeps = _send(_smtp_sender(relay, pki), jobs)
    rejected, delivered = results
    assert (rejected.ok, rejected.code, rejected.permanent, rejected.stop_run) == (
        False,
        550,
        True,
        False,
    )
    assert rejected.status == "5.1.1 No such user"
    assert delivered.ok
    assert sleeps == []


def test_smtp_password_never_sent_without_tls(cleartext_relay, pki):
    results, _ = _send(
        _smtp_sender(cleartext_relay, pki),
        [SendJob(FROM, "seed8@example.net", message_for("seed8@example.net", "tok-clear"))],
    )
    [result] = results
    assert (result.ok, result.stop_run) == (False, True)
    assert "does not offer STARTTLS" in result.error
    assert cleartext_relay.handler.auth_attempts == []


def test_smtp_untrusted_certificate_stops_the_run(relay, pki):
    sender = _smtp_sender(relay, pki, ca="other_ca")
    results, _ = _send(
        sender,
        [SendJob(FROM, "seed9@example.net", message_for("seed9@example.net", "tok-untrusted"))],
    )
    [result] = results
    assert (result.ok, result.stop_run) == (False, True)
    assert "TLS certificate not trusted" in result.error
    assert relay.handler.auth_attempts.count("mailer") == len(relay.handler.auth_attempts)


@pytest.mark.parametrize(
    ("local", "why"),
    [
        ("vanish", "the connection closed before the reply to the end of DATA"),
        ("hang", "no reply to the end of DATA within 1 s"),
    ],
)
def test_smtp_reply_lost_after_data_is_possibly_sent_and_not_retried(lossy_relay, local, why):
    sender = make_sender(f"smtp://127.0.0.1:{lossy_relay.port}", timeout=1, env={})
    rcpt, token = f"{local}1@example.net", f"tok-lost-{local}"
    after = SendJob(FROM, "seed-after@example.net", message_for("seed-after@example.net", token))
    results, sleeps = _send(
        sender, [SendJob(FROM, rcpt, message_for(rcpt, token)), after], max_attempts=4
    )
    lost, nxt = results
    assert (lost.ok, lost.maybe_sent, lost.attempts, lost.permanent, lost.stop_run) == (
        False,
        True,
        1,
        False,
        False,
    )
    assert lost.status == f"possibly sent: {why}"
    assert sleeps == []
    assert [m["rcpt_tos"] for m in lossy_relay.handler.find(token)] == [
        [rcpt],  # it did get there: a retry would have sent a second copy
        ["seed-after@example.net"],
    ]
    assert nxt.ok  # the run goes on


def _nobody_listening() -> int:
    return refused_port()  # bound but never listening: connecting is refused


@pytest.mark.parametrize("via", ["smtp://127.0.0.1:{port}", "sendgrid://127.0.0.1:{port}"])
def test_unreachable_relay_stops_after_one_seeds_retries(via, pki):
    sender = make_sender(
        via.format(port=_nobody_listening()),
        ca_file=pki["ca"],
        timeout=5,
        env={"AUDIT_SENDGRID_API_KEY": API_KEY},
    )
    rcpts = [f"seed-dead-{i}@example.net" for i in range(3)]
    jobs = [SendJob(FROM, r, message_for(r, f"tok-dead-{i}")) for i, r in enumerate(rcpts)]
    results, sleeps = _send(sender, jobs, max_attempts=3, base_delay=0.5)
    assert [(r.attempts, r.stop_run, r.skipped, r.unreachable) for r in results] == [
        (3, True, False, True),
        (0, False, True, False),
        (0, False, True, False),
    ]
    assert "cannot connect: connection refused" in results[0].error
    assert sleeps == [0.5, 1.0]  # the first seed's backoff only
    assert results[1].error.startswith(
        "not sent: the run stopped after the relay could not be reached ("
    )


def _loopback_names() -> Resolver:
    """Our resolver, answering the test names with 127.0.0.1 (no OS resolver involved)."""
    names = ("relay.example.test", "api.standin.test")
    return Resolver(memory_backend({name: [("A", "127.0.0.1")] for name in names}))


def test_smtp_by_name_resolves_through_our_resolver_and_verifies_the_name(relay, pki):
    resolver = _loopback_names()
    sender = make_sender(
        f"smtp://mailer@relay.example.test:{relay.port}",
        ca_file=pki["ca"],
        timeout=5,
        env={"AUDIT_SMTP_PASSWORD": PASSWORD},
        resolver=resolver,
    )
    rcpt = "seed10@example.net"
    [result], _ = _send(sender, [SendJob(FROM, rcpt, message_for(rcpt, "tok-by-name"))])
    assert result.ok, result.error
    assert [(q.name, q.rdtype) for q in resolver.log] == [
        ("relay.example.test", "A"),
        ("relay.example.test", "AAAA"),
    ]
    assert len(relay.handler.find("tok-by-name")) == 1


# ---------------------------------------------------------------------------- HTTP APIs


def _api_sender(standin: ApiStandin, pki, key: str = API_KEY):
    return make_sender(
        standin.via, ca_file=pki["ca"], timeout=5, env={ENV_VAR[standin.provider]: key}
    )


PROVIDERS = ["sendgrid", "postmark", "mailgun"]


@pytest.mark.parametrize("provider", PROVIDERS)
def test_api_delivers_with_the_documented_shape(provider, standins, sink, pki):
    standin = standins[provider]
    token = f"tok-{provider}-ok"
    rcpt = f"seed-{provider}@example.net"
    message = message_for(rcpt, token)
    before = len(standin.requests)
    [result], _ = _send(_api_sender(standin, pki), [SendJob(FROM, rcpt, message)])
    assert result.ok, result.error
    assert result.provider_id
    assert standin.problems == []
    assert [r.status for r in standin.requests[before:]] == [202 if provider == "sendgrid" else 200]
    [got] = sink.handler.find(token)
    assert got["rcpt_tos"] == [rcpt]
    parsed = email.message_from_bytes(got["content"], policy=policy.default)
    assert parsed[TOKEN_HEADER] == token
    assert f"Audit seed token: {token}" in parsed.get_body(("plain",)).get_content()
    if provider == "mailgun":  # the MIME endpoint relays our bytes as they are
        assert got["content"].rstrip(b"\r\n") == message.rstrip(b"\r\n")


@pytest.mark.parametrize("provider", PROVIDERS)
def test_api_429_with_retry_after_is_retried(provider, standins, sink, pki):
    standin = standins[provider]
    standin.script(429, {"Retry-After": "1"}, b'{"message": "rate limited"}')
    token = f"tok-{provider}-429"
    rcpt = f"seed-429-{provider}@example.net"
    results, sleeps = _send(
        _api_sender(standin, pki), [SendJob(FROM, rcpt, message_for(rcpt, token))], base_delay=5
    )
    [result] = results
    assert (result.ok, result.attempts) == (True, 2)
    assert sleeps == [1.0]  # the server's Retry-After, not the 5 s backoff
    assert len(sink.handler.find(token)) == 1


@pytest.mark.parametrize("provider", PROVIDERS)
def test_api_flaky_500_is_retried(provider, standins, sink, pki):
    standin = standins[provider]
    standin.script(500, {}, b"internal error")
    token = f"tok-{provider}-500"
    rcpt = f"seed-500-{provider}@example.net"
    results, sleeps = _send(
        _api_sender(standin, pki),
        [SendJob(FROM, rcpt, message_for(rcpt, token))],
        base_delay=0.25,
    )
    [result] = results
    assert (result.ok, result.attempts) == (True, 2)
    assert sleeps == [0.25]
    assert len(sink.handler.find(token)) == 1


@pytest.mark.parametrize("provider", PROVIDERS)
def test_api_401_stops_the_run(provider, standins, sink, pki):
    standin = standins[provider]
    wrong = f"wrong-{provider}-key-77aa"
    rcpts = [f"seed-401-{i}-{provider}@example.net" for i in range(3)]
    jobs = [
        SendJob(FROM, r, message_for(r, f"tok-{provider}-401-{i}")) for i, r in enumerate(rcpts)
    ]
    results, sleeps = _send(_api_sender(standin, pki, key=wrong), jobs)
    assert [(r.ok, r.stop_run, r.skipped, r.attempts) for r in results] == [
        (False, True, False, 1),
        (False, False, True, 0),
        (False, False, True, 0),
    ]
    assert results[0].code == 401
    assert ENV_VAR[provider] in results[0].error
    assert sleeps == []
    assert all(sink.handler.find(f"tok-{provider}-401-{i}") == [] for i in range(3))
    _secret_free(results, wrong, API_KEY)


@pytest.mark.parametrize("provider", PROVIDERS)
def test_api_response_lost_after_the_request_is_possibly_sent(provider, standins, sink, pki):
    standin = standins[provider]
    standin.script(HANG_UP)
    token = f"tok-{provider}-hangup"
    rcpt = f"seed-hangup-{provider}@example.net"
    before = len(standin.requests)
    results, sleeps = _send(
        _api_sender(standin, pki), [SendJob(FROM, rcpt, message_for(rcpt, token))], max_attempts=4
    )
    [result] = results
    assert (result.ok, result.maybe_sent, result.attempts, result.stop_run) == (
        False,
        True,
        1,
        False,
    )
    assert result.status.startswith("possibly sent: the connection failed after the request")
    assert sleeps == []
    assert len(standin.requests) == before + 1  # not retried
    assert len(sink.handler.find(token)) == 1  # and it did go out
    _secret_free(results, API_KEY)


def test_api_untrusted_certificate_stops_the_run(standins, pki):
    standin = standins["sendgrid"]
    sender = make_sender(
        standin.via, ca_file=pki["other_ca"], timeout=5, env={ENV_VAR["sendgrid"]: API_KEY}
    )
    rcpt = "seed-cert@example.net"
    [result], _ = _send(sender, [SendJob(FROM, rcpt, message_for(rcpt, "tok-cert"))])
    assert (result.ok, result.stop_run) == (False, True)
    assert "TLS certificate not trusted" in result.error


def test_api_by_name_resolves_through_our_resolver(standins, sink, pki):
    standin = standins["sendgrid"]
    sender = make_sender(
        f"sendgrid://api.standin.test:{standin.port}",
        ca_file=pki["ca"],
        timeout=5,
        env={ENV_VAR["sendgrid"]: API_KEY},
        resolver=_loopback_names(),
    )
    rcpt = "seed-by-name@example.net"
    [result], _ = _send(sender, [SendJob(FROM, rcpt, message_for(rcpt, "tok-api-by-name"))])
    assert result.ok, result.error
    assert standin.requests[-1].headers["host"] == f"api.standin.test:{standin.port}"
    assert len(sink.handler.find("tok-api-by-name")) == 1
