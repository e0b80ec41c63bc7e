"""Session fixtures for the real servers on loopback, started from the scripts in tests/infra/:

* `knot_server`: Knot DNS serving every fixtures/zones/*.zone on a free port. It is the string
  "127.0.0.1:PORT" (pass it to --dns-server) with `.host`, `.port`, `.dns_server`, `.address`.
* `drop_proxy`: the same kind of endpoint, for a proxy that drops every query (timeouts).
* `delay_proxy(ms)`: a factory for proxies in front of Knot that delay every answer.

Every test in this directory is marked `integration`. Without Knot installed the tests are
skipped locally, and fail under CI (env CI set): CI must run them, never skip them.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from tests.conftest import ZONES
from tests.infra.require import skip_or_fail
from tests.infra.servers import DnsProxy, Endpoint, KnotServer, ServerError, knot_installed
from tests.integration.gate_world import EditableKnot

HERE = os.path.dirname(__file__)


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    for item in items:
        if str(item.path).startswith(HERE + os.sep):
            item.add_marker(pytest.mark.integration)


def _require_knot() -> None:
    if knot_installed():
        return
    message = "Knot DNS (knotd, kdig) is not installed: run tests/infra/install.sh as root"
    skip_or_fail(message)


def start_knot(run_dir: Path, zone_dir: Path) -> KnotServer:
    """A Knot of a test's own serving `zone_dir`: skipped (failed in CI) without Knot installed,
    failed, with Knot's log, when it does not start. The caller stops it."""
    _require_knot()
    try:
        return KnotServer.start(run_dir, zone_dir)
    except ServerError as exc:
        pytest.fail(str(exc), pytrace=False)


@pytest.fixture(scope="session")
def knot_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[KnotServer]:
    server = start_knot(tmp_path_factory.mktemp("knot"), ZONES)
    try:
        yield server
    finally:
        server.stop()


def _start_proxy(upstream: int, **options) -> DnsProxy:
    try:
        return DnsProxy.start(upstream, **options)
    except ServerError as exc:
        pytest.fail(str(exc), pytrace=False)


@pytest.fixture
def editable_knot(tmp_path) -> Iterator[EditableKnot]:
    """Knot over a private copy of the fixture zones that the test may edit (gate_world.py)."""
    _require_knot()
    knot = EditableKnot(tmp_path / "knot")
    try:
        yield knot
    finally:
        knot.stop()


@pytest.fixture(scope="session")
def drop_proxy(knot_server: KnotServer) -> Iterator[Endpoint]:
    """A DNS server address that never answers (UDP swallowed, TCP held open)."""
    proxy = _start_proxy(knot_server.port, drop=True)
    try:
        yield proxy
    finally:
        proxy.stop()


@pytest.fixture(scope="session")
def delay_proxy(knot_server: KnotServer) -> Iterator[Callable[[float], Endpoint]]:
    """`delay_proxy(50)` -> a proxy in front of Knot adding 50 ms to every answer (one per
    delay, shared by the session)."""
    proxies: dict[float, DnsProxy] = {}

    def get(delay_ms: float) -> Endpoint:
        if delay_ms not in proxies:
            proxies[delay_ms] = _start_proxy(knot_server.port, delay_ms=delay_ms)
        return proxies[delay_ms]

    try:
        yield get
    finally:
        for proxy in proxies.values():
            proxy.stop()


def _require_postfix() -> None:
    from tests.infra.postfix_tls import postfix_installed

    if postfix_installed() and os.geteuid() == 0:
        return
    message = "Postfix is not installed (tests/infra/install.sh) or the tests do not run as root"
    skip_or_fail(message)


@pytest.fixture(scope="session")
def tls_scenarios():
    """One Postfix with an smtpd per TLS scenario (tests/infra/postfix_tls.py): `.ports[name]`,
    `.hosts[name]` (the MX name its certificate is judged against), `.ca_file` (the test CA)."""
    import shutil
    import tempfile

    from tests.infra.postfix_tls import start_tls_scenarios

    _require_postfix()
    # Not under pytest's tmp dir: that is mode 0700, and Postfix's daemons run as `postfix`.
    run_dir = tempfile.mkdtemp(prefix="audit-postfix-tls-")
    os.chmod(run_dir, 0o755)
    try:
        scenarios = start_tls_scenarios(run_dir, owner_pid=os.getpid())
    except ServerError as exc:
        shutil.rmtree(run_dir, ignore_errors=True)
        pytest.fail(str(exc), pytrace=False)
    try:
        yield scenarios
    finally:
        scenarios.stop()
        shutil.rmtree(run_dir, ignore_errors=True)


@pytest.fixture(scope="session")
def odd_smtp():
    """`odd_smtp("421")` / `odd_smtp("stall")`: misbehaving SMTP servers (tests/infra/odd_smtp.py),
    one per mode, shared by the session."""
    from tests.infra.odd_smtp import OddSmtpServer

    servers: dict[str, OddSmtpServer] = {}

    def get(mode: str) -> OddSmtpServer:
        if mode not in servers:
            servers[mode] = OddSmtpServer.start(mode)
        return servers[mode]

    try:
        yield get
    finally:
        for server in servers.values():
            server.stop()


@pytest.fixture(scope="session")
def mail_system(tmp_path_factory: pytest.TempPathFactory):
    """The loopback mail system for the seed tests (tests/infra/mail_system.py): Knot, a sending
    Postfix with OpenDKIM signing, the seed MX (Postfix + policyd-spf, OpenDKIM, OpenDMARC) and
    Dovecot. A `MailSystem`: `.dns_server` ("127.0.0.1:PORT"), `.zone_dir`, `.ca_file`,
    `.submission_port` (signs), `.unsigned_port`, `.smtp_user`/`.smtp_password`, `.mx_port`,
    `.imap_port` (STARTTLS), `.imaps_port`, `.seeds` (`.address`, `.password`, `.folder`),
    `.authserv_id`, `.good_domain`, `.broken_domain`; daemon logs in `.log_dir`."""
    from tests.infra.mail_system import MailSystem, missing_tools

    missing = missing_tools()
    if missing or os.geteuid() != 0:
        message = (
            f"mail system programs missing ({', '.join(missing)}): run tests/infra/install.sh"
            if missing
            else "the mail system needs root (port 53, unshare, Postfix, Dovecot)"
        )
        skip_or_fail(message)
    try:
        system = MailSystem.start(tmp_path_factory.mktemp("mailsys"))
    except ServerError as exc:
        pytest.fail(str(exc), pytrace=False)
    try:
        yield system
    finally:
        system.stop()
